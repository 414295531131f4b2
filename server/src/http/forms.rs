//! Forms a user may use, and one form's schema, workflow and the user's permissions on it.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::Actor;
use crate::state::AppState;
use crate::store::packs;

/// Form-level actions reported to clients.
const FORM_ACTIONS: &[&str] = &["read", "create", "update", "export", "unmask"];

async fn permissions(app: &AppState, actor: &Actor, form: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    for a in FORM_ACTIONS {
        if actor.may(app, form, a).await {
            out.push(*a);
        }
    }
    out
}

pub use crate::change::data::catalogues;

/// Handles `GET /api/v1/forms`.
pub async fn list_forms(State(app): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    let mut items = Vec::new();
    for (key, title, version) in packs::forms(&app.db, actor.tenant()).await? {
        let perms = permissions(&app, &actor, &key).await;
        if perms.contains(&"read") || perms.contains(&"create") {
            items.push(
                json!({"key": key, "title": title, "version": version, "permissions": perms}),
            );
        }
    }
    Ok(Json(json!({"items": items})))
}

/// Handles `GET /api/v1/forms/{form}`.
pub async fn get_form(
    State(app): State<AppState>,
    actor: Actor,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    let not_found = || ApiError::NotFound("表单不存在".into());
    let (version, form) = app
        .catalog
        .versioned(&app.db, actor.tenant(), &key, None)
        .await?
        .ok_or_else(not_found)?;
    let perms = permissions(&app, &actor, &key).await;
    if !perms.contains(&"read") && !perms.contains(&"create") {
        return Err(not_found());
    }
    let mut actions: Vec<String> = perms.iter().map(|p| p.to_string()).collect();
    for t in &form.workflow.def.transitions {
        if t.roles.iter().any(|r| actor.roles.contains(r))
            && !actions.contains(&t.action)
            && actor.may(&app, &key, &t.action).await
        {
            actions.push(t.action.clone());
        }
    }
    Ok(Json(json!({
        "key": form.key,
        "title": form.title,
        "version": version,
        "schema": form.schema,
        "workflow": {"key": form.workflow.key, "label": form.workflow.def.label, "initial": form.workflow.def.initial,
                     "states": form.workflow.def.states, "transitions": form.workflow.def.transitions},
        "permissions": perms,
        "actions": actions,
        "lists": packs::lists_of_form(&app.db, actor.tenant(), &key).await?,
    })))
}
