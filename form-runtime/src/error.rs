//! What can be wrong with a pack or with input, in the words its user needs to fix it.
//!
//! Every error names *where* (a file and JSON pointer for packs, a JSON pointer into the
//! record for data) and *why*; nothing here mentions internals.

use serde::Serialize;

/// A problem with one value of a record, addressed by JSON pointer (`/members/2/id_number`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// JSON pointer into the submitted data (or `/comment` for a transition comment).
    pub pointer: String,
    /// Machine-readable rule that failed: `required`, `type`, `format`, `minimum`, …
    pub rule: String,
    /// Human-readable reason, in Simplified Chinese.
    pub message: String,
    /// The same reason in English.
    pub message_en: String,
}

impl FieldError {
    /// Builds a field error from its parts.
    pub fn new(
        pointer: impl Into<String>,
        rule: &str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        FieldError {
            pointer: pointer.into(),
            rule: rule.to_string(),
            message: zh.into(),
            message_en: en.into(),
        }
    }
}

/// A problem in a pack: the file, the JSON pointer inside it, and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackError {
    /// Path of the file inside the pack directory, e.g. `workflows/relief.json`.
    pub file: String,
    /// JSON pointer inside that file (empty for the whole file).
    pub pointer: String,
    /// Why the pack is wrong there.
    pub reason: String,
}

impl PackError {
    /// Builds a pack error from its parts.
    pub fn new(
        file: impl Into<String>,
        pointer: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        PackError {
            file: file.into(),
            pointer: pointer.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for PackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}#{}: {}", self.file, self.pointer, self.reason)
        }
    }
}

/// The runtime's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Record data (or a transition's input) breaks the form's rules.
    #[error("invalid input: {} field(s) failed", .0.len())]
    Invalid(Vec<FieldError>),
    /// The action does not leave the record's current state.
    #[error("action `{action}` is not possible in state `{state}`")]
    TransitionNotAvailable {
        /// Current state of the record.
        state: String,
        /// The action that was asked for.
        action: String,
    },
    /// The action exists in this state but the actor holds none of its roles.
    #[error("action `{action}` needs one of the roles {roles:?}")]
    TransitionForbidden {
        /// The action that was asked for.
        action: String,
        /// Roles that may fire it.
        roles: Vec<String>,
    },
    /// A pack failed its checks.
    #[error("pack is invalid: {} problem(s)", .0.len())]
    PackInvalid(Vec<PackError>),
}

/// Result with the runtime's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
