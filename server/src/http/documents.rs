//! Printable documents of a record: the pack's templates rendered as HTML, with the record as
//! its reader may see it (sensitive values masked unless the role may unmask).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use form_runtime::document::Document;
use form_runtime::form::CompiledForm;
use form_runtime::{clock, display};
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::Actor;
use super::records::visible;
use super::sensitive;
use crate::startup::AppState;
use crate::store::records::{EventRow, RecordRow};
use crate::store::{audit, notify, packs};

/// The documents stored with a form version.
pub(crate) async fn documents(
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

/// Who prints a document, when, and the history it is printed from.
pub(crate) struct Printing<'a> {
    /// The printer's display name.
    pub by: &'a str,
    /// When, as stored (RFC 3339, UTC).
    pub at: &'a str,
    /// The tenant's zone: every time the document shows is wall-clock time in it.
    pub zone: chrono_tz::Tz,
    /// The record's history, oldest first.
    pub events: &'a [EventRow],
}

/// What a document template sees: the record, its form, the data as given (already masked
/// and stripped for its reader), field labels, each field as people read it (`text`), the
/// record's history (`history`, and `entered.<state>`: who brought it into a state, when,
/// with what opinion), who printed it and when. Every time is the tenant's wall-clock time.
pub(crate) fn context(
    form: &CompiledForm,
    row: &RecordRow,
    data: Value,
    p: &Printing<'_>,
) -> Value {
    let labels: serde_json::Map<String, Value> = form
        .fields
        .iter()
        .map(|(k, f)| (k.clone(), json!(f.label)))
        .collect();
    let text: serde_json::Map<String, Value> = data
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), json!(display::field_text(form, k, v, p.zone))))
        .collect();
    let summary = display::summarise(form, &data, p.zone);
    let people = |at: &str| clock::people_or_same(at, p.zone);
    let mut entered = serde_json::Map::new();
    let history: Vec<Value> = p
        .events
        .iter()
        .map(|e| {
            let label = e
                .action
                .as_deref()
                .and_then(|a| {
                    e.from_state
                        .as_deref()
                        .and_then(|f| form.workflow.transition(f, a))
                })
                .map(|t| t.label.clone());
            let step = json!({
                "action": e.action, "action_label": label,
                "from": e.from_state, "to": e.to_state,
                "to_label": e.to_state.as_deref().map(|s| form.workflow.state_label(s)),
                "by": e.actor_name.clone().unwrap_or_default(),
                "comment": e.comment.clone().unwrap_or_default(),
                "at": people(&e.created_at),
            });
            if let Some(to) = &e.to_state {
                entered.insert(to.clone(), step.clone());
            }
            step
        })
        .collect();
    json!({
        "record": {"id": row.id, "number": summary.number, "title": summary.title, "summary": summary.line,
                   "state": row.state, "state_label": form.workflow.state_label(&row.state),
                   "form_version": row.form_version,
                   "created_at": people(&row.created_at), "updated_at": people(&row.updated_at)},
        "form": {"key": form.key, "title": form.title},
        "data": data,
        "text": text,
        "labels": labels,
        "history": history,
        "entered": entered,
        "printed_by": p.by,
        "printed_at": people(p.at),
    })
}

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
