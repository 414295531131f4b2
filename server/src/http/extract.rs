//! Who is asking: the session or bearer token resolved to a user of one tenant.
//!
//! A token reads `<tenant>.<secret>`; only its SHA-256 is stored. The tenant comes from the
//! token and nowhere else, so a request can never reach another tenant's rows.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::error::{ApiError, ApiResult};
pub use crate::change::context::{untouched_since_owner, Actor};
use crate::state::AppState;
use crate::store::users;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "formwork_session";

/// SHA-256 of a token, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn token_of(parts: &Parts) -> Option<String> {
    if let Some(h) = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return h.strip_prefix("Bearer ").map(|t| t.trim().to_string());
    }
    let cookies = parts.headers.get_all(axum::http::header::COOKIE);
    cookies
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = token_of(parts).ok_or(ApiError::Unauthorized)?;
        let (tenant, _) = token.split_once('.').ok_or(ApiError::Unauthorized)?;
        if !form_runtime::key::is_code(tenant) {
            return Err(ApiError::Unauthorized);
        }
        let hash = token_hash(&token);
        let user = users::session_user(&app.db, tenant, &hash)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        // Grants changed on any server since this one loaded them are applied first.
        crate::coherence::keep_current(app, tenant, user.revision).await?;
        let roles = app.authz.roles(&user.user_id, tenant).await;
        Ok(Actor {
            user,
            roles,
            token_hash: hash,
            clearances: Default::default(),
        })
    }
}

/// JSON body whose rejection is an [`ApiError`] with a readable message.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Body(v))
    }
}

/// A JSON body that may be left out: an empty body reads as `T::default()`.
pub fn optional_body<T: DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("请求体不是有效的 JSON：{e}")))
}
