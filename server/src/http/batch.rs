//! Batch transitions: one action on many selected records, all or nothing.
//!
//! Every record is checked on its own (visibility, state, role, org relation, guards, data)
//! and reported separately; only when every one passes are they all written, in one
//! transaction. One refusal changes none.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::{Actor, Body};
use super::records::{prepare_transition, visible, write, TransitionRequest};
use crate::startup::AppState;
use crate::store::now;

/// Most records one batch may change.
pub const MAX_BATCH: usize = 500;

/// Body of `POST /api/v1/batch/transitions/{action}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The records to act on.
    ids: Vec<String>,
    /// Comment for every record (required where the transition says so).
    comment: Option<String>,
    /// Values of the transition's fields, the same for every record.
    data: Option<Value>,
}

/// Handles `POST /api/v1/batch/transitions/{action}`.
pub async fn batch_transition(
    State(app): State<AppState>,
    actor: Actor,
    Path(action): Path<String>,
    Body(req): Body<BatchRequest>,
) -> ApiResult<Response> {
    let mut seen = std::collections::HashSet::new();
    if req.ids.is_empty()
        || req.ids.len() > MAX_BATCH
        || !req.ids.iter().all(|id| seen.insert(id.as_str()))
    {
        return Err(ApiError::Invalid(vec![form_runtime::FieldError::new(
            "/ids",
            "items",
            format!("请选择 1 到 {MAX_BATCH} 条不重复的记录"),
            format!("select 1 to {MAX_BATCH} distinct records"),
        )]));
    }
    let mut ready = Vec::new();
    let mut results = Vec::new();
    let mut refused = 0;
    for id in &req.ids {
        let one = async {
            let (row, form, _) = visible(&app, &actor, id).await?;
            let t = TransitionRequest::new(req.comment.clone(), req.data.clone());
            let prepared = prepare_transition(&app, &actor, &form, row, &action, t).await?;
            Ok::<_, ApiError>((form, prepared))
        };
        match one.await {
            Ok(p) => {
                results.push(json!({"id": id, "ok": true}));
                ready.push(p);
            }
            Err(e @ ApiError::Internal(_)) => return Err(e),
            Err(e) => {
                refused += 1;
                results.push(json!({"id": id, "ok": false, "error": e.body()}));
            }
        }
    }
    if refused > 0 {
        let body = json!({
            "error": {"code": "batch_refused", "message": format!("{refused} 条记录不能执行，所有记录均未变更"), "fields": []},
            "results": results,
        });
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }
    let at = now();
    let mut tx = app.db.begin().await?;
    let mut done = Vec::new();
    for (form, prepared) in ready {
        let r = write(&mut tx, &actor, &form, prepared, &at).await?;
        done.push(json!({"id": r.id, "ok": true, "state": r.state, "version": r.version}));
    }
    tx.commit().await?;
    Ok(Json(json!({"changed": done.len(), "results": done})).into_response())
}
