//! The change layer: every command that creates or changes a record — create, edit,
//! transition, batch step, import row, timer firing, demo history — runs here, whoever asks
//! (the API, the pages, the CLI, imports, timers, demo data, the bench).
//!
//! It knows neither HTTP nor SQL text: it takes a request context ([`context::Actor`]) and a
//! command, asks the runtime (`form_runtime`) what the command means, has the store write it,
//! and answers typed results or an [`Error`] that `http::error` maps to its answer. See
//! `docs/architecture.md`.

pub mod attachments;
pub mod context;
pub mod data;
pub mod documents;
pub mod effects;
pub mod error;
pub mod exports;
pub mod imports;
pub mod lists;
pub mod records;
pub mod sensitive;
pub mod views;

pub use context::Actor;
pub use error::{Error, Result};
