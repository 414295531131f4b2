//! Records over HTTP: each handler reads its request and answers what the change layer's
//! command ([`crate::change::records`]) returns.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;

use super::error::ApiResult;
use super::extract::{optional_body, Actor, Body};
use crate::change::records::{self, CreateRequest, PatchRequest, TransitionRequest};
use crate::change::views::RecordView;
use crate::state::AppState;

/// Handles `POST /api/v1/forms/{form}/records`.
pub async fn create_record(
    State(app): State<AppState>,
    actor: Actor,
    Path(form_key): Path<String>,
    Body(req): Body<CreateRequest>,
) -> ApiResult<(StatusCode, Json<RecordView>)> {
    let created = records::create(&app, &actor, &form_key, req).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Handles `GET /api/v1/records/{id}`.
pub async fn get_record(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<RecordView>> {
    Ok(Json(records::get(&app, &actor, &id).await?))
}

/// Handles `PATCH /api/v1/records/{id}`.
pub async fn patch_record(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    Body(req): Body<PatchRequest>,
) -> ApiResult<Json<RecordView>> {
    Ok(Json(records::patch(&app, &actor, &id, req).await?))
}

/// Handles `POST /api/v1/records/{id}/transitions/{action}`.
pub async fn fire_transition(
    State(app): State<AppState>,
    actor: Actor,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<RecordView>> {
    // The body is optional: an approval needs no comment.
    let req: TransitionRequest = optional_body(&body)?;
    Ok(Json(
        records::transition(&app, &actor, &id, &action, req).await?,
    ))
}

/// Handles `GET /api/v1/records/{id}/events`.
pub async fn record_events(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(records::events(&app, &actor, &id).await?))
}
