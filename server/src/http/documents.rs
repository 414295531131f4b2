//! Printable documents of a record: the pack's templates rendered as HTML, with the record as
//! its reader may see it (sensitive values masked unless the role may unmask).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use form_runtime::document::Document;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::Actor;
use super::records::visible;
use super::sensitive;
use crate::startup::AppState;
use crate::store::{audit, packs};

/// The documents stored with a form version.
async fn documents(
    app: &AppState,
    tenant: &str,
    form: &str,
    version: i64,
) -> ApiResult<BTreeMap<String, Document>> {
    let def = packs::form_version(&app.db, tenant, form, Some(version))
        .await?
        .map(|(_, d)| d)
        .unwrap_or(Value::Null);
    match def.get("documents") {
        Some(d) => Ok(serde_json::from_value(d.clone()).map_err(anyhow::Error::from)?),
        None => Ok(BTreeMap::new()),
    }
}

/// Handles `GET /api/v1/records/{id}/documents`.
pub async fn list_documents(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (row, _, _) = visible(&app, &actor, &id).await?;
    let docs = documents(&app, actor.tenant(), &row.form_key, row.form_version).await?;
    let items: Vec<Value> = docs
        .iter()
        .map(|(k, d)| json!({"key": k, "label": d.def.label, "available": d.available_in(&row.state)}))
        .collect();
    Ok(Json(json!({"items": items})))
}

/// Handles `GET /api/v1/records/{id}/documents/{doc}`: the document as printable HTML.
pub async fn render_document(
    State(app): State<AppState>,
    actor: Actor,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (row, form, _) = visible(&app, &actor, &id).await?;
    let docs = documents(&app, actor.tenant(), &row.form_key, row.form_version).await?;
    let doc = docs
        .get(&key)
        .ok_or_else(|| ApiError::NotFound("没有这个文书".into()))?;
    if !doc.available_in(&row.state) {
        return Err(ApiError::Conflict {
            code: "document_not_available",
            message: format!(
                "记录处于「{}」，不能打印「{}」",
                form.workflow.state_label(&row.state),
                doc.def.label
            ),
        });
    }
    let reading = sensitive::for_reader(&app, &actor, &form, row.data.clone()).await;
    let labels: serde_json::Map<String, Value> = form
        .fields
        .iter()
        .map(|(k, f)| (k.clone(), json!(f.label)))
        .collect();
    let context = json!({
        "record": {"id": row.id, "state": row.state, "state_label": form.workflow.state_label(&row.state),
                   "form_version": row.form_version, "created_at": row.created_at, "updated_at": row.updated_at},
        "form": {"key": form.key, "title": form.title},
        "data": reading.data,
        "labels": labels,
        "printed_by": actor.user.display_name,
        "printed_at": crate::store::now(),
    });
    let html = doc
        .render(&context)
        .map_err(|e| anyhow::anyhow!("document {key} failed to render: {e}"))?;
    sensitive::audit_unmask(
        &app,
        &actor,
        &[(row.id.clone(), reading.unmasked)],
        &format!("document:{key}"),
    )
    .await?;
    let mut tx = app.db.begin().await?;
    audit::append(
        &mut tx,
        actor.tenant(),
        Some(&actor.user.user_id),
        "record.document",
        &row.id,
        &json!({"document": key}),
    )
    .await?;
    tx.commit().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response())
}
