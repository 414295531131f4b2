//! The meaning of a Formwork schema pack, with no network and no database.
//!
//! A pack ([`pack`]) holds forms ([`form`]) validated with Chinese formats ([`formats`]),
//! workflows ([`workflow`]), lists ([`list`]) and roles ([`roles`]) with data scopes
//! ([`scope`]). Lists and scopes compile to SQL text for a named dialect ([`sql`]); running
//! it is the server's business.

pub mod attachment;
pub mod batch_rule;
pub mod clock;
pub mod dashboard;
pub mod demo;
pub mod display;
pub mod document;
pub mod error;
pub mod export;
pub mod expr;
pub mod form;
pub mod formats;
pub mod html;
pub mod import;
pub mod key;
pub mod list;
pub mod org;
pub mod pack;
pub mod roles;
pub mod rules;
pub mod scope;
pub mod sensitive;
pub mod sql;
pub mod statistics;
pub mod version;
pub mod workflow;

pub use error::{Error, FieldError, PackError};
