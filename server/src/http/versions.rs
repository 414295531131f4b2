//! Form versions: the history, the difference between two versions, and moving a draft
//! forward to the latest version with a report of what did not fit.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::Actor;
use crate::change::sensitive;
use crate::state::AppState;
use crate::store::records::{self, NewEvent, RecordRow};
use crate::store::{audit, now, packs};

async fn readable(app: &AppState, actor: &Actor, form: &str) -> ApiResult<()> {
    if actor.may(app, form, "read").await || actor.may(app, form, "create").await {
        Ok(())
    } else {
        Err(ApiError::NotFound("表单不存在".into()))
    }
}

/// Handles `GET /api/v1/forms/{form}/versions`.
pub async fn list_versions(
    State(app): State<AppState>,
    actor: Actor,
    Path(form): Path<String>,
) -> ApiResult<Json<Value>> {
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
    let (_, new) = packs::form_version(&app.db, actor.tenant(), &form, Some(version))
        .await?
        .ok_or_else(|| missing(version))?;
    let old = if from < 1 {
        json!({"schema": {"properties": {}}})
    } else {
        packs::form_version(&app.db, actor.tenant(), &form, Some(from))
            .await?
            .ok_or_else(|| missing(from))?
            .1
    };
    let diff = form_runtime::version::diff(&old, &new);
    Ok(Json(
        json!({"form": form, "from": from, "to": version, "diff": diff}),
    ))
}

/// Body of `POST /api/v1/records/{id}/upgrade`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRequest {
    /// Only report what would happen.
    #[serde(default)]
    dry_run: bool,
    /// Row version the client read; when given, a stale one is refused with 409.
    version: Option<i64>,
}

/// Handles `POST /api/v1/records/{id}/upgrade`: moves a draft to the form's latest version.
/// Values the new version does not accept are dropped and listed, with reasons; with
/// `dry_run` nothing is written.
pub async fn upgrade_record(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let req: UpgradeRequest = super::extract::optional_body(&body)?;
    let tenant = actor.tenant().to_string();
    let (row, old_form, _) = crate::change::records::visible(&app, &actor, &id).await?;
    if req.version.is_some_and(|v| v != row.version) {
        return Err(crate::change::records::stale());
    }
    let is_draft = old_form
        .workflow
        .state(&row.state)
        .is_some_and(|s| !s.complete);
    if !is_draft
        || old_form
            .workflow
            .edit_rule(&row.state, &actor.roles)
            .is_none()
        || !actor.may(&app, &row.form_key, "update").await
    {
        return Err(ApiError::Forbidden(
            "只有你能修改的草稿可以升级到新版本".into(),
        ));
    }
    let (latest, form) = app
        .catalog
        .versioned(&app.db, &tenant, &row.form_key, None)
        .await?
        .ok_or_else(ApiError::no_record)?;
    if latest <= row.form_version {
        return Err(ApiError::Conflict {
            code: "already_latest",
            message: format!("记录已是最新版本（第 {latest} 版）"),
        });
    }
    let (data, dropped) = form_runtime::version::fit(&row.data, &form);
    // Dropped sensitive values are named, never echoed; nor are those inside a dropped
    // repeating section or group (`members/*/id_number`).
    let paths = sensitive::paths(&old_form);
    let secret: Vec<String> = paths
        .iter()
        .filter_map(|p| p.top_level().map(str::to_string))
        .collect();
    let report: Vec<Value> = dropped
        .iter()
        .map(|d| {
            let value = if secret.contains(&d.field) {
                Value::Null
            } else {
                let one = json!({ d.field.as_str(): d.value });
                form_runtime::sensitive::redact(&paths, &one)[d.field.as_str()].clone()
            };
            json!({"field": d.field, "value": value, "reason": d.reason})
        })
        .collect();
    if req.dry_run {
        return Ok(Json(
            json!({"from_version": row.form_version, "to_version": latest, "dropped": report, "written": false}),
        ));
    }
    let at = now();
    let uid = actor.user.user_id.as_str();
    let sealed = sensitive::seal(&app, &tenant, &form, &row.id, data.clone()).await?;
    let mut tx = app.db.begin().await?;
    let write = records::RecordWrite {
        state: &row.state,
        form_version: latest,
        data: &sealed,
        at: &at,
    };
    if !records::update(&mut tx, &tenant, &row.id, row.version, &write).await? {
        return Err(crate::change::records::stale());
    }
    let fields: Vec<&str> = dropped.iter().map(|d| d.field.as_str()).collect();
    let changes = json!({"form_version": [row.form_version, latest], "dropped": fields});
    let ev = NewEvent {
        kind: "upgrade",
        action: None,
        from_state: Some(&row.state),
        to_state: Some(&row.state),
        actor_id: uid,
        comment: None,
        changes: Some(&changes),
        at: &at,
    };
    records::add_event(&mut tx, &tenant, &row.id, &ev).await?;
    audit::append(
        &mut tx,
        &tenant,
        Some(uid),
        "record.upgrade",
        &row.id,
        &changes,
    )
    .await?;
    tx.commit().await?;
    let from_version = row.form_version;
    let updated = RecordRow {
        data,
        form_version: latest,
        version: row.version + 1,
        updated_at: at,
        ..row
    };
    let (record, unmasked) = crate::change::records::view(&app, &actor, &form, &updated).await?;
    sensitive::audit_unmask(&app, &actor, &[(updated.id.clone(), unmasked)], "record").await?;
    Ok(Json(
        json!({"from_version": from_version, "to_version": latest, "dropped": report, "written": true, "record": record}),
    ))
}
