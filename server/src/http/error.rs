//! The change layer's error mapped to HTTP answers, in one place.
//!
//! Bodies are `{"error": {"code", "message", "fields": [{"pointer", "rule", "message"}]}}`.
//! Internal errors are logged with their cause chain and answered with an opaque 500: no SQL
//! or file path ever reaches a client.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::lang;

/// Everything a request can fail with: the change layer's error, answered here.
pub use crate::change::Error as ApiError;

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
