//! Lists (saved views with filters, sort and paging) and the inbox of waiting records.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Path, Query, State};
use axum::Json;
use form_runtime::form::{CompiledForm, FieldKind};
use form_runtime::list::CompiledList;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::Actor;
pub use crate::change::lists::list_query;
use crate::change::sensitive;
use crate::state::AppState;
use crate::store::packs;
use crate::store::records::{self, InboxPart, RecordRow};

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
    let q = list_query(&app, &actor, &list, &pairs).await?;
    let (rows, total) = records::list(&app.db, actor.tenant(), &list, &q, &viewer).await?;
    let group = match q.group.as_deref() {
        Some(g) => {
            let counts = records::list_groups(&app.db, actor.tenant(), &list, &q, &viewer).await?;
            let counts: Vec<Value> = counts
                .iter()
                .map(|(v, n)| json!({"value": v, "label": group_label(&form, g, v.as_deref()), "count": n}))
                .collect();
            json!({"field": g, "label": field_label(&list, &form, g), "counts": counts})
        }
        None => Value::Null,
    };
    let columns: Vec<Value> = list
        .def
        .columns
        .iter()
        .map(|c| json!({"field": c.field, "label": c.label.clone().unwrap_or_else(|| form.label(&c.field).to_string())}))
        .collect();
    // What the reader may not see depends on the state alone: once per state of the page.
    let mut hidden: HashMap<&str, BTreeSet<String>> = HashMap::new();
    for r in &rows {
        if !hidden.contains_key(r.state.as_str()) {
            hidden.insert(&r.state, form.workflow.hidden(&r.state, &actor.roles));
        }
    }
    let readings = readings(&app, &actor, &list, &hidden, &rows).await?;
    let refs = ref_labels(&app, &actor, &list, &form, &rows).await?;
    let mut items = Vec::with_capacity(rows.len());
    let mut shown = Vec::with_capacity(rows.len());
    for (r, reading) in rows.iter().zip(readings) {
        shown.push((r.id.clone(), reading.unmasked));
        let summary = form_runtime::display::summarise(&form, &reading.data, actor.zone()).line;
        let mut item = json!({
            "id": r.id, "form": r.form_key, "state": r.state, "state_label": form.workflow.state_label(&r.state),
            "summary": summary, "version": r.version, "data": reading.data,
            "created_at": r.created_at, "updated_at": r.updated_at,
            "created_at_text": crate::change::records::people(&r.created_at, actor.zone()),
            "updated_at_text": crate::change::records::people(&r.updated_at, actor.zone()),
        });
        if let Some(g) = q.group.as_deref() {
            item["group"] = json!(CompiledList::group_key(g, &r.state, &r.data));
        }
        if !refs.is_empty() {
            let mut shown_refs = row_refs(&refs, r);
            if let Some(m) = shown_refs.as_object_mut() {
                for f in hidden.get(r.state.as_str()).into_iter().flatten() {
                    m.remove(f);
                }
            }
            item["refs"] = shown_refs;
        }
        items.push(item);
    }
    sensitive::audit_unmask(&app, &actor, &shown, &format!("list:{}", list.key)).await?;
    let mut out = json!({
        "list": {"key": list.key, "label": list.def.label, "form": list.def.form, "columns": columns, "filters": list.def.filters, "search": list.def.search},
        "items": items, "total": total, "page": q.page, "page_size": q.page_size,
    });
    if !group.is_null() {
        out["group"] = group;
    }
    Ok(Json(out))
}

/// The group field's name in headers: its column's label, else the field's title.
fn field_label(list: &CompiledList, form: &CompiledForm, field: &str) -> String {
    let column = list.def.columns.iter().find(|c| c.field == field);
    match column.and_then(|c| c.label.clone()) {
        Some(l) => l,
        None if field == "state" && super::lang::is_english() => "State".into(),
        None if field == "state" => "状态".into(),
        None => form.label(field).to_string(),
    }
}

/// How a group's value reads in its header: a state by its label, a choice by its title, a
/// yes/no field as yes or no, anything else as itself; records without a value as "(blank)".
fn group_label(form: &CompiledForm, field: &str, value: Option<&str>) -> String {
    let english = super::lang::is_english();
    let Some(v) = value else {
        return if english { "(blank)" } else { "（未填）" }.into();
    };
    if field == "state" {
        return form.workflow.state_label(v).to_string();
    }
    if form
        .fields
        .get(field)
        .is_some_and(|f| f.kind == FieldKind::Boolean)
    {
        let yes = v == "true";
        return match (yes, english) {
            (true, false) => "是",
            (false, false) => "否",
            (true, true) => "Yes",
            (false, true) => "No",
        }
        .into();
    }
    form.choice_label(field, v).unwrap_or(v).to_string()
}

/// The list's columns of each row as `actor` may read them: sensitive values opened with the
/// row's own form version, then masked unless the actor may unmask. Only shown values are
/// opened.
async fn readings(
    app: &AppState,
    actor: &Actor,
    list: &CompiledList,
    hidden: &HashMap<&str, BTreeSet<String>>,
    rows: &[RecordRow],
) -> ApiResult<Vec<sensitive::Reading>> {
    let tenant = actor.tenant();
    let mut keys = None;
    // Rows of one page mostly share a form version: work out its paths once.
    let mut versions = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        if let std::collections::hash_map::Entry::Vacant(slot) = versions.entry(r.form_version) {
            let own = app
                .catalog
                .form(&app.db, tenant, &r.form_key, Some(r.form_version))
                .await?
                .ok_or_else(|| {
                    anyhow::anyhow!("record {} has no form version {}", r.id, r.form_version)
                })?;
            let paths = sensitive::paths(&own);
            let clear = if paths.is_empty() {
                sensitive::Clear::NONE
            } else {
                sensitive::clearance(app, actor, &list.def.form, &paths).await
            };
            slot.insert((paths, clear));
        }
        let (paths, clear) = versions
            .get(&r.form_version)
            .map_or((&[][..], &NOTHING_CLEAR), |(p, c)| (p.as_slice(), c));
        let hidden = hidden.get(r.state.as_str());
        let values: serde_json::Map<String, Value> = list
            .def
            .columns
            .iter()
            .filter(|c| !hidden.is_some_and(|h| h.contains(&c.field)))
            .filter_map(|c| r.data.get(&c.field).map(|v| (c.field.clone(), v.clone())))
            .collect();
        let mut values = Value::Object(values);
        if !paths.is_empty() {
            if keys.is_none() {
                keys = Some(app.keys.tenant(&app.db, tenant).await?);
            }
            if let Some(k) = &keys {
                values = sensitive::open_with(k, paths, tenant, &r.form_key, &r.id, values)?;
            }
        }
        out.push(sensitive::reading(paths, clear, values));
    }
    Ok(out)
}

static NOTHING_CLEAR: sensitive::Clear = sensitive::Clear::NONE;

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
        let mut allowed = std::collections::HashSet::new();
        for t in &form.workflow.def.transitions {
            if actor.may(&app, &key, &t.action).await {
                allowed.insert(t.action.clone());
            }
        }
        let states = form
            .workflow
            .inbox_rules(&actor.party(), &|a| allowed.contains(a));
        parts.push(InboxPart {
            form: key.clone(),
            states,
            viewer,
        });
        forms.insert(key, form);
    }
    let (rows, total) = records::inbox(&app.db, actor.tenant(), &parts, page, page_size).await?;
    let mut items = Vec::new();
    let mut shown = Vec::new();
    for mut r in rows {
        // A record keeps its own form version; its workflow decides its actions.
        let form = match app
            .catalog
            .form(&app.db, actor.tenant(), &r.form_key, Some(r.form_version))
            .await?
        {
            Some(f) => f,
            None => continue,
        };
        r.data = sensitive::open(&app, actor.tenant(), &form, &r.id, r.data).await?;
        let (v, unmasked) = crate::change::records::view(&app, &actor, &form, &r).await?;
        let mut v = serde_json::to_value(v).map_err(anyhow::Error::from)?;
        v["form_title"] = json!(forms
            .get(&r.form_key)
            .map_or(form.title.clone(), |f| f.title.clone()));
        items.push(v);
        shown.push((r.id, unmasked));
    }
    sensitive::audit_unmask(&app, &actor, &shown, "inbox").await?;
    Ok(Json(
        json!({"items": items, "total": total, "page": page, "page_size": page_size}),
    ))
}

/// For each reference column of the list: referenced id → the label field's value, read in
/// one query per column and only from records the actor may see (others show no label).
async fn ref_labels(
    app: &AppState,
    actor: &Actor,
    list: &CompiledList,
    form: &CompiledForm,
    rows: &[RecordRow],
) -> ApiResult<HashMap<String, HashMap<String, Value>>> {
    let mut out = HashMap::new();
    for c in &list.def.columns {
        let Some(rule) = form.rules.refs.get(&c.field) else {
            continue;
        };
        let Some(label) = rule.label.as_deref() else {
            continue;
        };
        let Some(viewer) = actor.viewer(app, &rule.form).await? else {
            continue;
        };
        let ids: Vec<String> = rows
            .iter()
            .filter_map(|r| {
                r.data
                    .get(&c.field)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        let found = records::fetch_many(&app.db, actor.tenant(), &rule.form, &ids, &viewer).await?;
        let labels = found
            .into_iter()
            .map(|r| (r.id, r.data.get(label).cloned().unwrap_or(Value::Null)))
            .collect();
        out.insert(c.field.clone(), labels);
    }
    Ok(out)
}

fn row_refs(refs: &HashMap<String, HashMap<String, Value>>, r: &RecordRow) -> Value {
    let mut m = serde_json::Map::new();
    for (field, labels) in refs {
        if let Some(id) = r.data.get(field).and_then(Value::as_str) {
            m.insert(
                field.clone(),
                json!({"id": id, "label": labels.get(id).cloned().unwrap_or(Value::Null)}),
            );
        }
    }
    Value::Object(m)
}
