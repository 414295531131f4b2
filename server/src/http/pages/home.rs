//! The home page (forms to fill, the inbox's first items, the user's recent records) and
//! the inbox (待办) page.

use axum::extract::{Query, State};
use axum::http::Uri;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{error_page, here, render, Signed};
use crate::http::error::ApiResult;
use crate::http::extract::Actor;
use crate::state::AppState;
use crate::store::{packs, records};

/// Query of `GET /inbox`.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    page: Option<u32>,
}

/// A record in one line: its form, state and its summary (the form's `x-summary`, made by
/// the API's view from the data its reader sees).
pub(super) fn summary(item: &Value, zone: chrono_tz::Tz) -> Value {
    json!({
        "id": item["id"], "form_title": item["form_title"], "state": item["state"],
        "state_label": item["state_label"], "summary": item["summary"],
        "updated_at": short_time(item["updated_at"].as_str().unwrap_or(""), zone),
        "actions": item["actions"],
    })
}

/// A stored moment as people read it in the tenant's zone: `2026-11-25T21:07:49.123Z` →
/// `2026-11-26 05:07` in Shanghai.
pub(super) fn short_time(at: &str, zone: chrono_tz::Tz) -> String {
    form_runtime::clock::people_or_same(at, zone)
}

async fn inbox_page(app: &AppState, actor: &Actor, page: u32, size: u32) -> ApiResult<Value> {
    let paging = serde_json::from_value(json!({"page": page, "page_size": size}))
        .map_err(anyhow::Error::from)?;
    let Json(v) =
        crate::http::lists::inbox(State(app.clone()), actor.clone(), Ok(Query(paging))).await?;
    Ok(v)
}

/// Handles `GET /`.
pub async fn home(State(app): State<AppState>, Signed(actor): Signed, uri: Uri) -> Response {
    match home_context(&app, &actor).await {
        Ok(ctx) => render(Some(&actor), "home.html", ctx),
        Err(e) => error_page(Some(&actor), e, &here(&uri)),
    }
}

async fn home_context(app: &AppState, actor: &Actor) -> ApiResult<Value> {
    let Json(forms) = crate::http::forms::list_forms(State(app.clone()), actor.clone()).await?;
    let mut fill = Vec::new();
    let mut lists = Vec::new();
    for f in forms["items"].as_array().into_iter().flatten() {
        let key = f["key"].as_str().unwrap_or("");
        let perms: Vec<&str> = f["permissions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if perms.contains(&"create") {
            fill.push(json!({"key": key, "title": f["title"]}));
        }
        if perms.contains(&"read") {
            for l in packs::lists_of_form(&app.db, actor.tenant(), key).await? {
                if let Some((list, _)) = app.catalog.list(&app.db, actor.tenant(), &l).await? {
                    lists
                        .push(json!({"key": l, "label": list.def.label, "form_title": f["title"]}));
                }
            }
        }
    }
    let Json(dashboards) =
        crate::http::dashboards::list_dashboards(State(app.clone()), actor.clone()).await?;
    let inbox = inbox_page(app, actor, 1, 5).await?;
    let waiting: Vec<Value> = inbox["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| summary(i, actor.zone()))
        .collect();
    let mut recent = Vec::new();
    for r in records::recent_of_owner(&app.db, actor.tenant(), &actor.user.user_id, 8).await? {
        if actor.viewer(app, &r.form_key).await?.is_none() {
            continue;
        }
        let Some(form) = app
            .catalog
            .form(&app.db, actor.tenant(), &r.form_key, Some(r.form_version))
            .await?
        else {
            continue;
        };
        let mut r = r;
        r.data = crate::change::sensitive::open(app, actor.tenant(), &form, &r.id, r.data).await?;
        let (v, _) = crate::change::records::view(app, actor, &form, &r).await?;
        let mut v = serde_json::to_value(v).map_err(anyhow::Error::from)?;
        v["form_title"] = json!(form.title);
        // A summary never shows a sensitive value in clear, so nothing is unmasked here.
        strip_clear_sensitive(&form, &mut v);
        recent.push(summary(&v, actor.zone()));
    }
    Ok(json!({
        "fill": fill, "lists": lists, "inbox": waiting, "inbox_total": inbox["total"],
        "recent": recent, "dashboards": dashboards["items"],
    }))
}

/// Removes sensitive values from a view's data (shown in lines that are not audited).
pub(super) fn strip_clear_sensitive(form: &form_runtime::form::CompiledForm, v: &mut Value) {
    if let Some(data) = v["data"].as_object_mut() {
        for p in crate::change::sensitive::paths(form) {
            if let Some(top) = p.top_level() {
                data.remove(top);
            }
        }
    }
}

/// Handles `GET /inbox`.
pub async fn inbox(
    State(app): State<AppState>,
    Signed(actor): Signed,
    Query(q): Query<PageQuery>,
    uri: Uri,
) -> Response {
    let page = q.page.unwrap_or(1).max(1);
    match inbox_page(&app, &actor, page, 20).await {
        Ok(v) => {
            let items: Vec<Value> = v["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| summary(i, actor.zone()))
                .collect();
            let total = v["total"].as_u64().unwrap_or(0);
            let pages = total.div_ceil(20).max(1);
            render(
                Some(&actor),
                "inbox.html",
                json!({"items": items, "total": total, "page": page, "pages": pages}),
            )
        }
        Err(e) => error_page(Some(&actor), e, &here(&uri)),
    }
}
