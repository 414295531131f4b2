//! The generated form pages: a new record of any pack form, and editing a record, drawn by
//! `form_runtime::html` from the form's schema for what the user may write in the state.
//! Plain fields work without JavaScript (the page posts and comes back with the server's
//! errors next to their fields); `form.js` adds rows, uploads attachments with progress and
//! asks `/forms/{form}/evaluate` for computed values and conditions as the user types.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use form_runtime::form::CompiledForm;
use form_runtime::html;
use form_runtime::FieldError;
use serde_json::{json, Map, Value};

use super::{error_page, field, here, render_status, Posted, Signed};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Actor;
use crate::http::lang;
use crate::state::AppState;

/// What the form is drawn for: the form, its version, the record's state and, for an edit,
/// the record's id and row version.
struct Target {
    form: Arc<CompiledForm>,
    version: i64,
    state: String,
    record: Option<(String, i64)>,
}

/// The fields the actor may write in the target's state (None: every field).
fn writable(actor: &Actor, t: &Target, unlocked: Option<Vec<String>>) -> Option<BTreeSet<String>> {
    if let Some(u) = unlocked {
        return Some(u.into_iter().collect());
    }
    t.form
        .workflow
        .edit_rule(&t.state, &actor.roles)
        .and_then(|r| r.fields.clone())
        .map(|f| f.into_iter().collect())
}

/// Renders the form page with `data` and `errors`.
async fn page(
    app: &AppState,
    actor: &Actor,
    t: &Target,
    data: &Value,
    errors: Vec<FieldError>,
    status: StatusCode,
) -> ApiResult<Response> {
    let catalogues =
        crate::http::forms::catalogues(app, actor.tenant(), &t.form.key, t.version).await?;
    // A refused save shows the values the server computes from the input (the live page
    // showed them before the post), not empty totals.
    let computed = match errors.is_empty() {
        true => None,
        false => t.form.rules.transform(data.clone()).ok().map(|(d, _)| d),
    };
    let data = computed.as_ref().unwrap_or(data);
    let writable = writable(actor, t, None);
    // Besides the fields the user may not see here, a form leaves out the empty ones they
    // may not fill (later steps' fields); computed values stay, they follow the input.
    let mut hidden = t.form.workflow.hidden(&t.state, &actor.roles);
    if let Some(w) = &writable {
        for key in t.form.field_keys() {
            let empty = data.get(&key).is_none_or(Value::is_null);
            if empty && !w.contains(&key) && !t.form.rules.is_computed(&key) {
                hidden.insert(key);
            }
        }
    }
    let references = BTreeMap::new();
    let english = lang::is_english();
    let view = html::View {
        form_key: &t.form.key,
        schema: &t.form.schema,
        catalogues: &catalogues,
        data,
        errors: &errors,
        english,
        hidden: &hidden,
        writable: writable.as_ref(),
        references: &references,
        zone: actor.zone(),
    };
    let fields = html::form_fields(&view);
    let unplaced: Vec<String> = html::unplaced_errors(&view, &errors)
        .into_iter()
        .map(|e| {
            if english {
                e.message_en.clone()
            } else {
                e.message.clone()
            }
        })
        .collect();
    // The transitions the user may fire from here besides saving.
    let actions: Vec<Value> = match &t.record {
        None => t
            .form
            .workflow
            .available(&t.state, &actor.roles)
            .into_iter()
            .filter(|tr| !tr.recall && tr.countersign.is_none())
            .map(|tr| json!({"action": tr.action, "label": tr.label}))
            .collect(),
        Some(_) => Vec::new(),
    };
    let mut ctx = json!({
        "form_key": t.form.key, "form_title": t.form.title, "fields": fields,
        "errors": unplaced, "has_errors": !errors.is_empty(), "actions": actions,
        "record": t.record.as_ref().map(|(id, v)| json!({"id": id, "version": v})),
        "action_url": match &t.record { Some((id, _)) => format!("/records/{id}/edit"), None => format!("/forms/{}/new", t.form.key) },
    });
    Ok(render_status(Some(actor), status, "form.html", &mut ctx))
}

/// The form a new record is drawn with, or why the user may not create one.
async fn new_target(app: &AppState, actor: &Actor, key: &str) -> ApiResult<Target> {
    let (version, form) = app
        .catalog
        .versioned(&app.db, actor.tenant(), key, None)
        .await?
        .ok_or_else(|| ApiError::NotFound("表单不存在".into()))?;
    let initial = form.workflow.def.initial.clone();
    if !actor.may(app, &form.key, "create").await
        || form.workflow.edit_rule(&initial, &actor.roles).is_none()
    {
        return Err(ApiError::Forbidden("你的角色不能填报此表单".into()));
    }
    Ok(Target {
        form,
        version,
        state: initial,
        record: None,
    })
}

/// Handles `GET /forms/{form}/new`.
pub async fn new(
    State(app): State<AppState>,
    Signed(actor): Signed,
    Path(key): Path<String>,
    uri: Uri,
) -> Response {
    let shown = async {
        let t = new_target(&app, &actor, &key).await?;
        page(&app, &actor, &t, &json!({}), Vec::new(), StatusCode::OK).await
    };
    shown
        .await
        .unwrap_or_else(|e| error_page(Some(&actor), e, &here(&uri)))
}

/// Handles `POST /forms/{form}/new`: the API's create (with the chosen action, or a draft).
pub async fn create(
    State(app): State<AppState>,
    Path(key): Path<String>,
    uri: Uri,
    Posted { actor, pairs }: Posted,
) -> Response {
    let done = async {
        let t = new_target(&app, &actor, &key).await?;
        let data = html::parse(
            &t.form.schema,
            &pairs,
            writable(&actor, &t, None).as_ref(),
            actor.zone(),
        );
        let action = field(&pairs, "_action").filter(|a| *a != "save");
        let request = serde_json::from_value(json!({"data": data, "action": action}))
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let created = crate::change::records::create(&app, &actor, &key, request).await;
        match created {
            Ok(r) => Ok(Redirect::to(&format!("/records/{}", r.id)).into_response()),
            Err(ApiError::Invalid(errors)) => {
                page(
                    &app,
                    &actor,
                    &t,
                    &data,
                    errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            Err(e) => Err(e),
        }
    };
    done.await
        .unwrap_or_else(|e| error_page(Some(&actor), e, &here(&uri)))
}

/// The record as its edit form shows it, or why the user may not edit it.
async fn edit_target(app: &AppState, actor: &Actor, id: &str) -> ApiResult<(Target, Value)> {
    let r = crate::change::records::get(app, actor, id).await?;
    if !r.editable {
        return Err(ApiError::Forbidden(format!(
            "记录处于「{}」，你不能修改",
            r.state_label
        )));
    }
    let version = r.form_version;
    let form = app
        .catalog
        .form(&app.db, actor.tenant(), &r.form, Some(version))
        .await?
        .ok_or_else(ApiError::no_record)?;
    let t = Target {
        form,
        version,
        state: r.state.clone(),
        record: Some((id.to_string(), r.version)),
    };
    Ok((t, r.data))
}

/// Handles `GET /records/{id}/edit`.
pub async fn edit(
    State(app): State<AppState>,
    Signed(actor): Signed,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    let shown = async {
        let (t, data) = edit_target(&app, &actor, &id).await?;
        page(&app, &actor, &t, &data, Vec::new(), StatusCode::OK).await
    };
    shown
        .await
        .unwrap_or_else(|e| error_page(Some(&actor), e, &here(&uri)))
}

/// Handles `POST /records/{id}/edit`: the API's PATCH with the posted fields; a writable
/// field left empty is cleared.
pub async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    Posted { actor, pairs }: Posted,
) -> Response {
    let done = async {
        let (t, _) = edit_target(&app, &actor, &id).await?;
        let writable = writable(&actor, &t, None);
        let mut data = html::parse(&t.form.schema, &pairs, writable.as_ref(), actor.zone());
        clear_emptied(&t, &actor, writable.as_ref(), &mut data);
        let version = field(&pairs, "version")
            .and_then(|v| v.parse::<i64>().ok())
            .or(t.record.as_ref().map(|(_, v)| *v));
        let request = serde_json::from_value(json!({"version": version, "data": data}))
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let patched = crate::change::records::patch(&app, &actor, &id, request).await;
        match patched {
            Ok(_) => Ok(Redirect::to(&format!("/records/{id}")).into_response()),
            Err(ApiError::Invalid(errors)) => {
                let shown = Value::Object(data.as_object().cloned().unwrap_or_default());
                page(
                    &app,
                    &actor,
                    &t,
                    &shown,
                    errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            Err(e) => Err(e),
        }
    };
    done.await
        .unwrap_or_else(|e| error_page(Some(&actor), e, &here(&uri)))
}

/// A merge patch leaves absent fields alone: the fields the page lets the user edit that
/// the post left out were emptied by the user, so they become null (cleared).
fn clear_emptied(t: &Target, actor: &Actor, writable: Option<&BTreeSet<String>>, data: &mut Value) {
    let hidden = t.form.workflow.hidden(&t.state, &actor.roles);
    let Some(obj) = data.as_object_mut() else {
        return;
    };
    for key in html::editable_fields(&t.form.schema, writable) {
        if !hidden.contains(&key) && !obj.contains_key(&key) {
            obj.insert(key, Value::Null);
        }
    }
}

/// Handles `POST /forms/{form}/evaluate`: what the server would compute from the posted
/// fields — computed values and which conditional fields are hidden — without saving or
/// reporting errors (a form being typed is incomplete).
pub async fn evaluate(
    State(app): State<AppState>,
    Path(key): Path<String>,
    Posted { actor, pairs }: Posted,
) -> Response {
    let found = app
        .catalog
        .versioned(&app.db, actor.tenant(), &key, None)
        .await;
    let Ok(Some((_, form))) = found else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"computed": {}, "hidden": []})),
        )
            .into_response();
    };
    let data = html::parse(&form.schema, &pairs, None, actor.zone());
    match form.rules.transform(data) {
        Ok((data, hidden)) => {
            let mut computed = Map::new();
            computed_values(&form.schema, &data, &mut computed);
            Json(json!({"computed": computed, "hidden": hidden, "errors": []})).into_response()
        }
        Err(errors) => {
            Json(json!({"computed": {}, "hidden": [], "errors": errors})).into_response()
        }
    }
}

/// Pointer → display text of every computed value in `data` (top level and rows).
fn computed_values(schema: &Value, data: &Value, out: &mut Map<String, Value>) {
    let text = |v: &Value| match v {
        Value::Null => json!(""),
        Value::String(s) => json!(s),
        other => json!(other.to_string()),
    };
    for (k, node) in schema["properties"].as_object().into_iter().flatten() {
        let ptr = format!("/{}", form_runtime::form::escape(k));
        if node.get("x-computed").is_some() {
            out.insert(ptr.clone(), text(&data[k]));
        }
        let Some(row_props) = node["items"]["properties"].as_object() else {
            continue;
        };
        for (i, row) in data[k].as_array().into_iter().flatten().enumerate() {
            for (rk, rnode) in row_props {
                if rnode.get("x-computed").is_some() {
                    let p = format!("{ptr}/{i}/{}", form_runtime::form::escape(rk));
                    out.insert(p, text(&row[rk]));
                }
            }
        }
    }
}
