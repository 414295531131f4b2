//! The state every request, command and background task shares: the database, the policy
//! enforcer, the compiled definitions and the keys. Built by [`crate::startup::state`].

use std::path::PathBuf;
use std::sync::Arc;

use crate::authz::Authz;
use crate::catalog::Catalog;
use crate::coherence::Revisions;
use crate::crypto::Keyring;
use crate::storage::Storage;
use crate::store::Db;

/// Shared state of every request.
pub struct Inner {
    /// The database.
    pub db: Db,
    /// Casbin enforcer.
    pub authz: Authz,
    /// Compiled forms and lists.
    pub catalog: Catalog,
    /// Session lifetime in hours.
    pub session_hours: i64,
    /// Where attachment files are kept.
    pub storage: Arc<dyn Storage>,
    /// Keys of sensitive fields.
    pub keys: Keyring,
    /// The data directory (export files live under `exports/`).
    pub data_dir: PathBuf,
    /// The tenant revisions the caches above hold (`crate::coherence`).
    pub revisions: Revisions,
}

/// Cheap-to-clone handle on the shared state.
pub type AppState = Arc<Inner>;
