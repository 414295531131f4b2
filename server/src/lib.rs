//! The `formwork` server: HTTP API, store, authorisation, CLI.
//!
//! The meaning of packs lives in `form_runtime`; this crate serves and stores it.

pub mod authz;
pub mod bench;
pub mod catalog;
pub mod change;
pub mod cli;
pub mod coherence;
pub mod crypto;
pub mod demo;
pub mod export;
pub mod http;
pub mod outbox;
pub mod password;
pub mod seed;
pub mod spreadsheet;
pub mod startup;
pub mod state;
pub mod storage;
pub mod store;
pub mod timers;
