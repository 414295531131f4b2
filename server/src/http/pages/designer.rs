//! The designer's pages for a tenant's admin: an index of the editable packs with their
//! forms, lists, workflows and roles, and one page per designer (forms, lists, workflows,
//! the roles matrix). Each designer page is a shell the designer's ES module
//! (`admin-ui/static/designer/<kind>.js`) fills from the designer API.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use form_runtime::pack::Pack;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{error_page, here, message_page, render, Signed};
use crate::http::error::ApiError;
use crate::http::extract::Actor;
use crate::state::AppState;
use crate::store::packs;

fn refused(actor: &Actor) -> Response {
    message_page(
        Some(actor),
        StatusCode::FORBIDDEN,
        &super::text("designer_admins_only"),
    )
}

/// What the index shows of one pack.
fn summary(p: &packs::InstalledPack) -> Value {
    let mut out = json!({
        "pack": p.pack_id, "name": p.name, "version": p.version,
        "editable": !p.files.0.is_empty(),
    });
    let Ok(pack) = Pack::load(&p.files) else {
        out["broken"] = json!(!p.files.0.is_empty());
        return out;
    };
    out["forms"] = pack
        .forms
        .iter()
        .map(|(k, f)| {
            json!({"key": k, "title": f.schema.get("title").and_then(Value::as_str).unwrap_or(k),
                   "workflow": f.workflow})
        })
        .collect();
    out["lists"] = pack
        .lists
        .iter()
        .map(|(k, l)| json!({"key": k, "label": l.label, "form": l.form}))
        .collect();
    out["workflows"] = pack
        .workflows
        .iter()
        .map(|(k, w)| {
            let forms: Vec<&String> = pack
                .forms
                .iter()
                .filter(|(_, f)| &f.workflow == k)
                .map(|(fk, _)| fk)
                .collect();
            json!({"key": k, "label": w.label, "forms": forms})
        })
        .collect();
    out["roles"] = pack
        .roles
        .iter()
        .map(|(k, r)| json!({"key": k, "label": r.label, "scope": r.scope}))
        .collect();
    out
}

/// Handles `GET /designer`: the packs a tenant's admin can edit, and what is in each.
pub async fn index(State(app): State<AppState>, Signed(actor): Signed, uri: Uri) -> Response {
    if !super::admin::is_admin(&actor) {
        return refused(&actor);
    }
    let tenant = actor.tenant().to_string();
    let found = async {
        let mut out = Vec::new();
        for (id, _) in packs::installed(&app.db, &tenant).await? {
            if let Some(p) = packs::installed_pack(&app.db, &tenant, &id).await? {
                out.push(summary(&p));
            }
        }
        Ok::<_, ApiError>(out)
    }
    .await;
    match found {
        Ok(packs) => render(Some(&actor), "designer.html", json!({ "packs": packs })),
        Err(e) => error_page(Some(&actor), e, &here(&uri)),
    }
}

/// Query of a designer page: `from=<pack>/<form>` starts a new form as a copy (表格复用).
#[derive(Debug, Deserialize, Default)]
pub struct DesignQuery {
    /// What to copy from.
    pub from: Option<String>,
}

const KINDS: &[&str] = &["forms", "lists", "workflows"];

async fn shell(
    app: &AppState,
    actor: &Actor,
    pack: &str,
    kind: &str,
    key: Option<&str>,
    from: Option<String>,
) -> Response {
    if !super::admin::is_admin(actor) {
        return refused(actor);
    }
    let installed = match packs::installed_pack(&app.db, actor.tenant(), pack).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return message_page(
                Some(actor),
                StatusCode::NOT_FOUND,
                &super::text("designer_no_pack"),
            )
        }
        Err(e) => return error_page(Some(actor), e.into(), "/designer"),
    };
    let module = match kind {
        "forms" => "form",
        "lists" => "list",
        "workflows" => "workflow",
        _ => "roles",
    };
    let exists = |k: &str| installed.files.0.contains_key(&format!("{kind}/{k}.json"));
    if let Some(k) = key {
        if !exists(k) {
            return message_page(
                Some(actor),
                StatusCode::NOT_FOUND,
                &super::text("designer_no_item"),
            );
        }
    }
    render(
        Some(actor),
        "designer_app.html",
        json!({
            "pack": pack, "pack_name": installed.name, "kind": kind, "module": module,
            "key": key.unwrap_or(""), "from": from.unwrap_or_default(),
        }),
    )
}

/// Handles `GET /designer/{pack}/{kind}`: a new form, list or workflow (`roles`: the matrix).
pub async fn new_item(
    State(app): State<AppState>,
    Signed(actor): Signed,
    Path((pack, kind)): Path<(String, String)>,
    Query(q): Query<DesignQuery>,
) -> Response {
    if kind != "roles" && !KINDS.contains(&kind.as_str()) {
        return message_page(
            Some(&actor),
            StatusCode::NOT_FOUND,
            &super::text("not_found"),
        );
    }
    shell(&app, &actor, &pack, &kind, None, q.from).await
}

/// Handles `GET /designer/{pack}/{kind}/{key}`: edit a form, list or workflow.
pub async fn edit_item(
    State(app): State<AppState>,
    Signed(actor): Signed,
    Path((pack, kind, key)): Path<(String, String, String)>,
) -> Response {
    if !KINDS.contains(&kind.as_str()) {
        return message_page(
            Some(&actor),
            StatusCode::NOT_FOUND,
            &super::text("not_found"),
        );
    }
    shell(&app, &actor, &pack, &kind, Some(&key), None).await
}
