//! Roles: what each role of a tenant may do with which forms, and how far it sees.
//!
//! `roles.toml` grants form-level actions (`read`, `create`, `update`, `unmask`, `export`);
//! workflow actions are granted by the transitions that name the role. On install both become
//! Casbin policies in the tenant's domain (see [`crate::pack::Pack::policies`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::scope::Scope;

/// Actions a role may be granted on a form in `roles.toml`.
pub const FORM_ACTIONS: &[&str] = &[
    "read", "create", "update", "delete", "unmask", "export", "import", "design",
];

/// The `roles.toml` file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesFile {
    /// Roles by key.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleDef>,
}

/// One role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDef {
    /// Name shown to admins (`区红会审核员`).
    pub label: String,
    /// Which records the role sees.
    pub scope: Scope,
    /// Form key (or `*` for every form of the pack) → actions (or `*` for all of them).
    #[serde(default)]
    pub grants: BTreeMap<String, Vec<String>>,
}
