//! Lists (saved views with filters, sort and paging) and the inbox of waiting records.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::Actor;
use crate::startup::AppState;
use crate::store::packs;
use crate::store::records::{self, InboxPart};

/// Handles `GET /api/v1/lists/{list}`.
pub async fn get_list(
    State(app): State<AppState>,
    actor: Actor,
    Path(key): Path<String>,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(pairs) = query?;
    let (list, form) = app
        .catalog
        .list(&app.db, actor.tenant(), &key)
        .await?
        .ok_or_else(|| ApiError::NotFound("列表不存在".into()))?;
    let viewer = actor
        .viewer(&app, &list.def.form)
        .await?
        .ok_or_else(|| ApiError::Forbidden("你没有查看此列表的权限".into()))?;
    let q = list.parse_query(&pairs)?;
    let (rows, total) = records::list(&app.db, actor.tenant(), &list, &q, &viewer).await?;
    let columns: Vec<Value> = list
        .def
        .columns
        .iter()
        .map(|c| json!({"field": c.field, "label": c.label.clone().unwrap_or_else(|| form.label(&c.field).to_string())}))
        .collect();
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let values: serde_json::Map<String, Value> =
                list.def.columns.iter().filter_map(|c| r.data.get(&c.field).map(|v| (c.field.clone(), v.clone()))).collect();
            json!({
                "id": r.id, "form": r.form_key, "state": r.state, "state_label": form.workflow.state_label(&r.state),
                "version": r.version, "data": values, "created_at": r.created_at, "updated_at": r.updated_at,
            })
        })
        .collect();
    Ok(Json(json!({
        "list": {"key": list.key, "label": list.def.label, "form": list.def.form, "columns": columns, "filters": list.def.filters},
        "items": items, "total": total, "page": q.page, "page_size": q.page_size,
    })))
}

/// Query of `GET /api/v1/inbox`.
#[derive(Deserialize)]
pub struct Paging {
    page: Option<u32>,
    page_size: Option<u32>,
}

/// Handles `GET /api/v1/inbox`.
pub async fn inbox(
    State(app): State<AppState>,
    actor: Actor,
    query: Result<Query<Paging>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(paging) = query?;
    let page = paging.page.unwrap_or(1).max(1);
    let page_size = paging
        .page_size
        .unwrap_or(20)
        .clamp(1, form_runtime::list::MAX_PAGE_SIZE);
    let mut parts = Vec::new();
    let mut forms = std::collections::HashMap::new();
    for (key, _, _) in packs::forms(&app.db, actor.tenant()).await? {
        let Some(viewer) = actor.viewer(&app, &key).await? else {
            continue;
        };
        let Some(form) = app
            .catalog
            .form(&app.db, actor.tenant(), &key, None)
            .await?
        else {
            continue;
        };
        let mut states = Vec::new();
        for s in form.workflow.actionable_states(&actor.roles) {
            if !actor.actions(&app, &form, &s).await.is_empty() {
                states.push(s);
            }
        }
        parts.push(InboxPart {
            form: key.clone(),
            states,
            viewer,
        });
        forms.insert(key, form);
    }
    let (rows, total) = records::inbox(&app.db, actor.tenant(), &parts, page, page_size).await?;
    let mut items = Vec::new();
    for r in &rows {
        // A record keeps its own form version; its workflow decides its actions.
        let form = match app
            .catalog
            .form(&app.db, actor.tenant(), &r.form_key, Some(r.form_version))
            .await?
        {
            Some(f) => f,
            None => continue,
        };
        let mut v = super::records::view(&app, &actor, &form, r).await;
        v["form_title"] = json!(forms
            .get(&r.form_key)
            .map_or(form.title.clone(), |f| f.title.clone()));
        items.push(v);
    }
    Ok(Json(
        json!({"items": items, "total": total, "page": page, "page_size": page_size}),
    ))
}
