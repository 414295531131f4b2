//! Printable documents of a record: the pack's templates rendered as HTML, with the record as
//! its reader may see it (sensitive values masked unless the role may unmask).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::Actor;
use crate::change::documents::{context, documents, Printing};
use crate::change::records::visible;
use crate::change::sensitive;
use crate::state::AppState;
use crate::store::{audit, notify};

/// Handles `GET /api/v1/records/{id}/kept-documents`: the documents transitions rendered and
/// kept with the record, oldest first.
pub async fn list_kept(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (row, _, _) = visible(&app, &actor, &id).await?;
    let items = notify::kept_documents(&app.db, actor.tenant(), &row.id, None).await?;
    Ok(Json(json!({ "items": items })))
}

/// Handles `GET /api/v1/records/{id}/kept-documents/{doc}`: one kept document's HTML, as it
/// was rendered.
pub async fn get_kept(
    State(app): State<AppState>,
    actor: Actor,
    Path((id, doc)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (row, _, _) = visible(&app, &actor, &id).await?;
    let found = notify::kept_documents(&app.db, actor.tenant(), &row.id, Some(&doc)).await?;
    let d = found
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound("没有这份留存文书".into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        d.html,
    )
        .into_response())
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
    let mut data = row.data.clone();
    form.workflow
        .strip_hidden(&row.state, &actor.roles, &mut data);
    let reading = sensitive::for_reader(&app, &actor, &form, data).await;
    let events = crate::store::records::events(&app.db, actor.tenant(), &row.id).await?;
    let context = context(
        &form,
        &row,
        reading.data,
        &Printing {
            by: &actor.user.display_name,
            at: &crate::store::now(),
            zone: actor.zone(),
            events: &events,
        },
    );
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
