//! Form versions: the history, the difference between two versions, and moving a draft
//! forward to the latest version with a report of what did not fit.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::Actor;
use crate::startup::AppState;
use crate::store::packs;

async fn readable(app: &AppState, actor: &Actor, form: &str) -> ApiResult<()> {
    if actor.may(app, form, "read").await || actor.may(app, form, "create").await {
        Ok(())
    } else {
        Err(ApiError::NotFound("表单不存在".into()))
    }
}

/// Handles `GET /api/v1/forms/{form}/versions`.
pub async fn list_versions(State(app): State<AppState>, actor: Actor, Path(form): Path<String>) -> ApiResult<Json<Value>> {
    readable(&app, &actor, &form).await?;
    let items = packs::versions(&app.db, actor.tenant(), &form).await?;
    if items.is_empty() {
        return Err(ApiError::NotFound("表单不存在".into()));
    }
    Ok(Json(json!({"form": form, "items": items})))
}

/// Query of the diff endpoint.
#[derive(Deserialize)]
pub struct DiffQuery {
    /// The older version; default the one before.
    from: Option<i64>,
}

/// Handles `GET /api/v1/forms/{form}/versions/{version}/diff`.
pub async fn version_diff(
    State(app): State<AppState>,
    actor: Actor,
    Path((form, version)): Path<(String, i64)>,
    query: Result<Query<DiffQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query?;
    readable(&app, &actor, &form).await?;
    let from = q.from.unwrap_or(version - 1);
    let missing = |v: i64| ApiError::NotFound(format!("表单「{form}」没有第 {v} 版"));
    let (_, new) = packs::form_version(&app.db, actor.tenant(), &form, Some(version)).await?.ok_or_else(|| missing(version))?;
    let old = if from < 1 {
        json!({"schema": {"properties": {}}})
    } else {
        packs::form_version(&app.db, actor.tenant(), &form, Some(from)).await?.ok_or_else(|| missing(from))?.1
    };
    let diff = form_runtime::version::diff(&old, &new);
    Ok(Json(json!({"form": form, "from": from, "to": version, "diff": diff})))
}
