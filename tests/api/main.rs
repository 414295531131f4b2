//! Black-box tests of Formwork: the real server over HTTP, on SQLite by default and on
//! PostgreSQL when `TEST_DATABASE_URL` is set.

mod admin;
mod attachments;
mod audit;
mod coherence;
mod concurrency;
mod demo_data;
mod designer;
mod documents;
mod donation_registry;
mod exports;
mod flow;
mod form_language;
mod harness;
mod imports;
mod list_filters;
mod list_groups;
mod lists;
mod openapi;
mod pages;
mod people_and_duties;
mod recruitment;
mod red_cross_acceptance;
mod red_cross_projects;
mod roundtrip;
mod sensitive;
mod statistics;
mod tenancy;
mod validation;
mod versions;
mod workflow;
