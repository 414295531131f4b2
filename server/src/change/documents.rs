//! The printable documents of a record's form, and the context a document template renders
//! from: the record as its reader may see it, its history and who prints it.

use std::collections::BTreeMap;

use form_runtime::document::Document;
use form_runtime::form::CompiledForm;
use form_runtime::{clock, display};
use serde_json::{json, Value};

use super::error::Result;
use crate::state::AppState;
use crate::store::packs;
use crate::store::records::{EventRow, RecordRow};

/// The documents stored with a form version.
pub(crate) async fn documents(
    app: &AppState,
    tenant: &str,
    form: &str,
    version: i64,
) -> Result<BTreeMap<String, Document>> {
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
