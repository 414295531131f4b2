//! What a change can fail with, in the words of the domain: who may not, what does not exist,
//! which fields break which rule, what changed meanwhile. `http::error` maps each kind to its
//! answer (status and body); the CLI, imports and demo data read it as it is.

use form_runtime::FieldError;

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No valid session or token: nobody is asking.
    #[error("请先登录")]
    Unauthorized,
    /// Known, but their roles do not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing, or not visible to this user (the two look the same on purpose).
    #[error("{0}")]
    NotFound(String),
    /// The record changed since it was read, or the action does not fit its state.
    #[error("{message}")]
    Conflict {
        /// Machine-readable code.
        code: &'static str,
        /// What happened.
        message: String,
    },
    /// The input cannot be read at all (not JSON, not the expected shape).
    #[error("{0}")]
    BadRequest(String),
    /// Input breaks the rules; every failing field is named.
    #[error("提交的数据有 {} 处错误", .0.len())]
    Invalid(Vec<FieldError>),
    /// An upload is larger than its field allows; the field is named.
    #[error("{}", .0.message)]
    TooLarge(FieldError),
    /// An upload's content is not a type its field allows; the field is named.
    #[error("{}", .0.message)]
    UnsupportedType(FieldError),
    /// A bug or an outage.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// Result of a command.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// No such record (or not one the actor may see).
    pub fn no_record() -> Self {
        Error::NotFound("记录不存在".into())
    }
}

impl From<form_runtime::Error> for Error {
    fn from(e: form_runtime::Error) -> Self {
        use form_runtime::Error as E;
        match e {
            E::Invalid(fields) => Error::Invalid(fields),
            E::TransitionNotAvailable { state, action } => Error::Conflict {
                code: "transition_not_available",
                message: format!("当前状态（{state}）下不能执行「{action}」"),
            },
            E::TransitionForbidden { action, .. } => {
                Error::Forbidden(format!("你的角色不能执行「{action}」"))
            }
            E::PackInvalid(errs) => Error::Internal(anyhow::anyhow!("pack invalid: {errs:?}")),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Internal(e.into())
    }
}
