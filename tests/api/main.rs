//! Black-box tests of Formwork: the real server over HTTP, on SQLite by default and on
//! PostgreSQL when `TEST_DATABASE_URL` is set.

mod concurrency;
mod flow;
mod harness;
mod lists;
mod openapi;
mod tenancy;
mod validation;
mod versions;
