//! The record page: the data as a sheet, the state, the timeline of events, the documents
//! to print and the actions the user holds, each a button (with a comment box where the
//! transition asks for one) that posts to the API's transition.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use form_runtime::html;
use form_runtime::FieldError;
use serde_json::{json, Value};

use super::home::short_time;
use super::{error_page, field, here, render_status, Posted, Signed};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Actor;
use crate::http::lang;
use crate::state::AppState;

/// Handles `GET /records/{id}`.
pub async fn record(
    State(app): State<AppState>,
    Signed(actor): Signed,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    match context(&app, &actor, &id, None).await {
        Ok(mut ctx) => render_status(Some(&actor), StatusCode::OK, "record.html", &mut ctx),
        Err(e) => error_page(Some(&actor), e, &here(&uri)),
    }
}

/// A refused action: which, its message and field errors, and the values the user posted.
struct Refusal {
    action: String,
    message: String,
    fields: Vec<FieldError>,
    posted: Value,
}

/// What the record page shows, after a refused action when `refusal` says so.
async fn context(
    app: &AppState,
    actor: &Actor,
    id: &str,
    refusal: Option<Refusal>,
) -> ApiResult<Value> {
    let r = crate::change::records::get(app, actor, id).await?;
    let version = r.form_version;
    let form = app
        .catalog
        .form(&app.db, actor.tenant(), &r.form, Some(version))
        .await?
        .ok_or_else(ApiError::no_record)?;
    let catalogues =
        crate::http::forms::catalogues(app, actor.tenant(), &form.key, version).await?;
    let state = r.state.as_str();
    let hidden = form.workflow.hidden(state, &actor.roles);
    let references = BTreeMap::new();
    let sheet = html::sheet(&html::View {
        form_key: &form.key,
        schema: &form.schema,
        catalogues: &catalogues,
        data: &r.data,
        errors: &[],
        english: lang::is_english(),
        hidden: &hidden,
        writable: Some(&BTreeSet::new()),
        references: &references,
        zone: actor.zone(),
    });
    // The record was read (and its visibility checked) above: its history only.
    let events = crate::change::records::history(app, actor, &form, id).await?;
    let timeline: Vec<Value> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            json!({
                "kind": e["kind"], "action": e["action_label"].as_str().or(e["action"].as_str()),
                "to": e["to_label"], "who": e["actor"]["display_name"].as_str().or(e["actor"]["username"].as_str()),
                "comment": e["comment"], "at": short_time(e["at"].as_str().unwrap_or(""), actor.zone()),
            })
        })
        .collect();
    let Json(docs) = crate::http::documents::list_documents(
        State(app.clone()),
        actor.clone(),
        Path(id.to_string()),
    )
    .await?;
    let documents: Vec<&Value> = docs["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["available"] == true)
        .collect();
    let english = lang::is_english();
    let (error, errors, refused, posted) = match &refusal {
        Some(r) => (
            Some(r.message.clone()),
            r.fields.clone(),
            Some(r.action.as_str()),
            Some(r.posted.clone()),
        ),
        None => (None, Vec::new(), None, None),
    };
    let actions: Vec<Value> = r
        .actions
        .iter()
        .map(String::as_str)
        .map(|a| {
            let t = form
                .workflow
                .def
                .transitions
                .iter()
                .find(|t| t.action == a && t.from.keys().iter().any(|f| f == state));
            // The fields the actor fills with the action (the city's approved amount, the
            // allocation's date and voucher), drawn like the form page's, with this
            // action's refusal beside them.
            let own_errors: &[FieldError] = if refused == Some(a) { &errors } else { &[] };
            let fields_html = t.filter(|t| !t.fields.is_empty()).map(|t| {
                let mine: BTreeSet<String> = t.fields.iter().cloned().collect();
                let mut others: BTreeSet<String> = form
                    .field_keys()
                    .into_iter()
                    .filter(|k| !mine.contains(k))
                    .collect();
                others.extend(hidden.iter().cloned());
                let data = match (refused == Some(a), &posted) {
                    (true, Some(p)) => p.clone(),
                    _ => r.data.clone(),
                };
                html::form_fields(&html::View {
                    form_key: &form.key,
                    schema: &form.schema,
                    catalogues: &catalogues,
                    data: &data,
                    errors: own_errors,
                    english,
                    hidden: &others,
                    writable: Some(&mine),
                    references: &references,
                    zone: actor.zone(),
                })
            });
            let comment_error = own_errors
                .iter()
                .find(|e| e.pointer == "/comment")
                .map(|e| {
                    if english {
                        e.message_en.clone()
                    } else {
                        e.message.clone()
                    }
                });
            json!({
                "action": a,
                "label": t.map_or(a.to_string(), |t| t.label.clone()),
                "comment_required": t.is_some_and(|t| t.comment_required),
                "comment_error": comment_error,
                "fields": fields_html,
            })
        })
        .collect();
    let placed: BTreeSet<String> = refused
        .and_then(|a| {
            form.workflow
                .def
                .transitions
                .iter()
                .find(|t| t.action == a && t.from.keys().iter().any(|f| f == state))
        })
        .map(|t| t.fields.iter().map(|f| format!("/{f}")).collect())
        .unwrap_or_default();
    let other_errors: Vec<String> = errors
        .iter()
        .filter(|e| e.pointer != "/comment")
        .filter(|e| {
            !placed
                .iter()
                .any(|p| e.pointer == *p || e.pointer.starts_with(&format!("{p}/")))
        })
        .map(|e| {
            let m = if english { &e.message_en } else { &e.message };
            match e.pointer.strip_prefix('/') {
                Some(f) if !f.is_empty() => {
                    format!("{}：{m}", form.label(f.split('/').next().unwrap_or(f)))
                }
                _ => m.clone(),
            }
        })
        .collect();
    Ok(json!({
        "record": {"id": r.id, "version": r.version, "state": r.state, "state_label": r.state_label,
                   "editable": r.editable, "created_at": short_time(&r.created_at, actor.zone()),
                   "updated_at": short_time(&r.updated_at, actor.zone())},
        "form_title": form.title, "form_key": form.key,
        "sheet": sheet, "timeline": timeline, "documents": documents, "actions": actions,
        "error": error, "errors": other_errors,
    }))
}

/// Handles `POST /records/{id}/actions/{action}`: the API's transition, then back to the
/// record (or the page again with the refusal).
pub async fn act(
    State(app): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    uri: Uri,
    Posted { actor, pairs }: Posted,
) -> Response {
    let comment = field(&pairs, "comment")
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let version = field(&pairs, "version").and_then(|v| v.parse::<i64>().ok());
    let data = match transition_fields(&app, &actor, &id, &action).await {
        Ok(Some((schema, fields))) => {
            Some(html::parse(&schema, &pairs, Some(&fields), actor.zone()))
        }
        Ok(None) => None,
        Err(e) => return error_page(Some(&actor), e, &here(&uri)),
    };
    let mut request = json!({"comment": comment, "version": version});
    if let Some(d) = data
        .as_ref()
        .filter(|d| d.as_object().is_some_and(|m| !m.is_empty()))
    {
        request["data"] = d.clone();
    }
    let answer = match serde_json::from_value(request) {
        Ok(req) => crate::change::records::transition(&app, &actor, &id, &action, req).await,
        Err(e) => Err(ApiError::BadRequest(e.to_string())),
    };
    match answer {
        Ok(_) => Redirect::to(&format!("/records/{id}")).into_response(),
        Err(e @ (ApiError::Invalid(_) | ApiError::Conflict { .. } | ApiError::Forbidden(_))) => {
            let status = e.status();
            let message = e.body()["message"].as_str().unwrap_or("").to_string();
            let fields = match e {
                ApiError::Invalid(f) => f,
                _ => Vec::new(),
            };
            let refusal = Refusal {
                action,
                message,
                fields,
                posted: data.unwrap_or(Value::Null),
            };
            match context(&app, &actor, &id, Some(refusal)).await {
                Ok(mut ctx) => render_status(Some(&actor), status, "record.html", &mut ctx),
                Err(e) => error_page(Some(&actor), e, &here(&uri)),
            }
        }
        Err(e) => error_page(Some(&actor), e, &here(&uri)),
    }
}

/// The schema of the record's form and the fields `action` lets the actor fill from the
/// record's current state, or None when it takes none (or the record is not visible: the
/// transition itself then answers).
async fn transition_fields(
    app: &AppState,
    actor: &Actor,
    id: &str,
    action: &str,
) -> ApiResult<Option<(Value, BTreeSet<String>)>> {
    let Ok(r) = crate::change::records::get(app, actor, id).await else {
        return Ok(None);
    };
    let Some(form) = app
        .catalog
        .form(&app.db, actor.tenant(), &r.form, Some(r.form_version))
        .await?
    else {
        return Ok(None);
    };
    let state = r.state.as_str();
    Ok(form
        .workflow
        .def
        .transitions
        .iter()
        .find(|t| t.action == action && t.from.keys().iter().any(|f| f == state))
        .filter(|t| !t.fields.is_empty())
        .map(|t| (form.schema.clone(), t.fields.iter().cloned().collect())))
}
