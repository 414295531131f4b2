//! The one error type of the HTTP layer, mapped to status codes in one place.
//!
//! Bodies are `{"error": {"code", "message", "fields": [{"pointer", "rule", "message"}]}}`.
//! Internal errors are logged with their cause chain and answered with an opaque 500: no SQL
//! or file path ever reaches a client.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use form_runtime::FieldError;
use serde_json::json;

use super::lang;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid session or token.
    #[error("请先登录")]
    Unauthorized,
    /// Authenticated, but the role does not allow it.
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
    /// The request body or query cannot be read at all.
    #[error("{0}")]
    BadRequest(String),
    /// Input breaks the rules; every failing field is named.
    #[error("提交的数据有 {} 处错误", .0.len())]
    Invalid(Vec<FieldError>),
    /// An upload is larger than its field allows (413); the field is named.
    #[error("{}", .0.message)]
    TooLarge(FieldError),
    /// An upload's content is not a type its field allows (415); the field is named.
    #[error("{}", .0.message)]
    UnsupportedType(FieldError),
    /// A bug or an outage.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::UnsupportedType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type")
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    /// A 404 for a record.
    pub fn no_record() -> Self {
        ApiError::NotFound("记录不存在".into())
    }
}

impl ApiError {
    /// The `{"code", "message", "fields"}` object of this error, in the request's language.
    pub fn body(&self) -> serde_json::Value {
        let (_, code) = self.parts();
        let english = lang::is_english();
        let mut fields = match self {
            ApiError::Invalid(f) => f.clone(),
            ApiError::TooLarge(f) | ApiError::UnsupportedType(f) => vec![f.clone()],
            _ => Vec::new(),
        };
        if english {
            for f in &mut fields {
                f.message = std::mem::take(&mut f.message_en);
            }
        }
        let message = match (self, english) {
            (ApiError::Unauthorized, true) => "please log in".to_string(),
            (ApiError::Invalid(f), true) => format!("{} value(s) are invalid", f.len()),
            _ => self.to_string(),
        };
        json!({"code": code, "message": message, "fields": fields})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, _) = self.parts();
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = ?e, "request failed");
        }
        let body = json!({"error": self.body()});
        let mut res = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}

impl From<form_runtime::Error> for ApiError {
    fn from(e: form_runtime::Error) -> Self {
        use form_runtime::Error as E;
        match e {
            E::Invalid(fields) => ApiError::Invalid(fields),
            E::TransitionNotAvailable { state, action } => ApiError::Conflict {
                code: "transition_not_available",
                message: format!("当前状态（{state}）下不能执行「{action}」"),
            },
            E::TransitionForbidden { action, .. } => {
                ApiError::Forbidden(format!("你的角色不能执行「{action}」"))
            }
            E::PackInvalid(errs) => ApiError::Internal(anyhow::anyhow!("pack invalid: {errs:?}")),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::BadRequest(format!("请求体不是有效的 JSON：{}", e.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::BadRequest(format!("查询参数无效：{}", e.body_text()))
    }
}
