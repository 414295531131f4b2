//! List pages: the list's columns over `GET /api/v1/lists/{list}` with its filters, keyword
//! search, sort and pages as form fields and links, and the Excel export of the same query.

use axum::extract::{Path, RawQuery, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use form_runtime::form::CompiledForm;
use serde_json::{json, Value};

use super::home::short_time;
use super::{error_page, field, here, render, Posted, Signed};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Actor, Body};
use crate::state::AppState;

/// Handles `GET /lists/{list}`: the query string is the API's (empty fields left out).
pub async fn list(
    State(app): State<AppState>,
    Signed(actor): Signed,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
    uri: Uri,
) -> Response {
    match context(&app, &actor, &key, super::filled(raw)).await {
        Ok(ctx) => render(Some(&actor), "list.html", ctx),
        Err(e) => error_page(Some(&actor), e, &here(&uri)),
    }
}

async fn context(
    app: &AppState,
    actor: &Actor,
    key: &str,
    pairs: Vec<(String, String)>,
) -> ApiResult<Value> {
    let (_, form) = app
        .catalog
        .list(&app.db, actor.tenant(), key)
        .await?
        .ok_or_else(|| crate::http::error::ApiError::NotFound("列表不存在".into()))?;
    let Json(v) = crate::http::lists::get_list(
        State(app.clone()),
        actor.clone(),
        Path(key.to_string()),
        Ok(axum::extract::Query(pairs.clone())),
    )
    .await?;
    let columns: Vec<Value> = v["list"]["columns"].as_array().cloned().unwrap_or_default();
    let groups = v["group"]["counts"].as_array().cloned().unwrap_or_default();
    let mut last_group: Option<&Value> = None;
    let rows: Vec<Value> = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            let cells: Vec<Value> = columns
                .iter()
                .map(|c| cell(&form, item, c["field"].as_str().unwrap_or(""), actor.zone()))
                .collect();
            let mut row = json!({"id": item["id"], "cells": cells, "state": item["state"]});
            // A header where the group changes, and atop every page.
            if let Some(g) = item.get("group").filter(|g| last_group != Some(*g)) {
                last_group = Some(g);
                if let Some(found) = groups.iter().find(|c| &c["value"] == g) {
                    row["group"] = json!({"label": found["label"], "count": found["count"]});
                }
            }
            row
        })
        .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or(String::new(), |(_, v)| v.clone())
    };
    let filters: Vec<Value> = v["list"]["filters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|f| filter_input(&form, f, &get))
        .collect();
    let total = v["total"].as_u64().unwrap_or(0);
    let page = v["page"].as_u64().unwrap_or(1);
    let size = v["page_size"].as_u64().unwrap_or(20).max(1);
    let pages = total.div_ceil(size).max(1);
    // The same query without the page, for page links and the export.
    let base: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != "page").cloned().collect();
    // The query without one parameter, with another (value) in its place.
    let with = |key: &str, value: String| {
        let mut q: Vec<(String, String)> = base.iter().filter(|(k, _)| k != key).cloned().collect();
        q.push((key.to_string(), value));
        query(&q)
    };
    let page_link = |n: u64| format!("?{}", with("page", n.to_string()));
    let sortable: Vec<Value> = columns
        .iter()
        .map(|c| {
            let f = c["field"].as_str().unwrap_or("");
            let current = get("sort");
            let next = if current == f {
                format!("-{f}")
            } else {
                f.to_string()
            };
            let href = format!("?{}", with("sort", next));
            let arrow = if current == f {
                "▲"
            } else if current == format!("-{f}") {
                "▼"
            } else {
                ""
            };
            json!({"label": c["label"], "href": href, "arrow": arrow})
        })
        .collect();
    let export = |format: &str| {
        let q: Vec<(String, String)> = base
            .iter()
            .filter(|(k, _)| k != "page_size")
            .cloned()
            .collect();
        let mut q = query(&q);
        q.push_str(if q.is_empty() { "format=" } else { "&format=" });
        q.push_str(format);
        format!("/api/v1/lists/{key}/export?{q}")
    };
    let Json(views) =
        crate::http::views::list_views(State(app.clone()), actor.clone(), Path(key.to_string()))
            .await?;
    let views: Vec<Value> = views["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| json!({"id": v["id"], "name": v["name"], "href": format!("?{}", v["query"].as_str().unwrap_or(""))}))
        .collect();
    // The actions this user may take on several records at once (each still checked per record).
    let mut batch: Vec<Value> = Vec::new();
    for t in &form.workflow.def.transitions {
        let mine = t.roles.iter().any(|r| actor.roles.contains(r));
        if mine
            && !t.recall
            && !batch.iter().any(|b| b["action"] == t.action.as_str())
            && actor.may(app, &form.key, &t.action).await
        {
            batch.push(json!({"action": t.action, "label": t.label}));
        }
    }
    let current = query(&base);
    Ok(json!({
        "key": key, "views": views, "batch": batch, "current_query": current,
        "list": v["list"], "form_title": form.title, "columns": sortable, "rows": rows,
        "group": v["group"],
        "filters": filters, "q": get("q"), "sort": get("sort"),
        "filtering": pairs.iter().any(|(k, _)| k == "q" || k.starts_with("filter[")),
        "total": total, "page": page, "pages": pages,
        "prev": (page > 1).then(|| page_link(page - 1)),
        "next": (page < pages).then(|| page_link(page + 1)),
        "export_xlsx": export("xlsx"),
        "export_csv": export("csv"),
    }))
}

/// Pairs as a query string, percent-encoded.
fn query(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// One cell as text: choices by label, booleans 是/否, references by their label, system
/// columns (state, times) readable.
fn cell(form: &CompiledForm, item: &Value, field: &str, zone: chrono_tz::Tz) -> Value {
    let v = match field {
        "state" => return item["state_label"].clone(),
        "created_at" | "updated_at" => {
            return json!(short_time(item[field].as_str().unwrap_or(""), zone))
        }
        _ => &item["data"][field],
    };
    if let Some(label) = item["refs"][field].as_str() {
        return json!(label);
    }
    match v {
        Value::Null => json!(""),
        Value::Bool(b) => match form.schema["properties"][field]["x-ui"]["yes_no"].as_array() {
            Some(_) => json!(form_runtime::display::yes_no(
                &form.schema["properties"][field],
                *b
            )),
            None => json!(if *b {
                super::text("yes")
            } else {
                super::text("no")
            }),
        },
        Value::String(s) if form.schema["properties"][field]["format"] == "date-time" => {
            json!(form_runtime::clock::people_exact(s, zone).unwrap_or_else(|| s.clone()))
        }
        Value::String(s) => json!(form.choice_label(field, s).unwrap_or(s)),
        Value::Number(n) => json!(n.to_string()),
        Value::Array(a) => json!(a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join("、")),
        Value::Object(_) => json!(""),
    }
}

/// The input(s) of one declared filter, by the field's kind: a choice is a drop-down, a
/// date or number a from–to pair, text a "contains" box, the state the workflow's states.
fn filter_input(form: &CompiledForm, f: &str, get: &dyn Fn(&str) -> String) -> Value {
    let label = match f {
        "state" => super::text("state"),
        "created_at" => super::text("created_at"),
        "updated_at" => super::text("updated_at"),
        "org" => super::text("org_unit"),
        _ => form.label(f).to_string(),
    };
    if f == "state" {
        let options: Vec<Value> = form
            .workflow
            .def
            .states
            .iter()
            .map(|s| json!({"value": s.key, "label": s.label}))
            .collect();
        let name = format!("filter[{f}]");
        return json!({"kind": "select", "label": label, "name": name, "value": get(&name), "options": options});
    }
    let p = &form.schema["properties"][f];
    let enum_values = p["enum"]
        .as_array()
        .or_else(|| p["items"]["enum"].as_array());
    if let Some(values) = enum_values {
        let options: Vec<Value> = values
            .iter()
            .filter_map(Value::as_str)
            .map(|v| json!({"value": v, "label": v}))
            .collect();
        let name = format!("filter[{f}]");
        return json!({"kind": "select", "label": label, "name": name, "value": get(&name), "options": options});
    }
    let format = p["format"].as_str().unwrap_or("");
    let ty = p["type"].as_str().unwrap_or("string");
    let range = |input: &str| {
        let (from, to) = (format!("filter[{f}][gte]"), format!("filter[{f}][lte]"));
        json!({"kind": "range", "input": input, "label": label,
               "from": from, "from_value": get(&from), "to": to, "to_value": get(&to)})
    };
    match (ty, format, f) {
        (_, _, "created_at" | "updated_at") | ("string", "date" | "date-time", _) => range("date"),
        ("number" | "integer", _, _) => range("number"),
        ("boolean", _, _) => {
            let name = format!("filter[{f}]");
            json!({"kind": "select", "label": label, "name": name, "value": get(&name), "options": [
                {"value": "true", "label": super::text("yes")}, {"value": "false", "label": super::text("no")}]})
        }
        _ if p.get("x-sensitive").is_some() || f == "org" => {
            let name = format!("filter[{f}]");
            json!({"kind": "text", "label": label, "name": name, "value": get(&name)})
        }
        _ => {
            let name = format!("filter[{f}][contains]");
            json!({"kind": "text", "label": label, "name": name, "value": get(&name)})
        }
    }
}

/// Handles `POST /lists/{list}/views`: saves the current query under a name.
pub async fn save_view(
    State(app): State<AppState>,
    Path(key): Path<String>,
    Posted { actor, pairs }: Posted,
) -> Response {
    let query = field(&pairs, "query").unwrap_or("").to_string();
    let new = serde_json::from_value(
        json!({"name": field(&pairs, "name").unwrap_or(""), "query": query}),
    );
    let saved = match new {
        Ok(new) => {
            crate::http::views::create_view(
                State(app),
                actor.clone(),
                Path(key.clone()),
                Ok(Json(new)),
            )
            .await
        }
        Err(e) => Err(ApiError::BadRequest(e.to_string())),
    };
    match saved {
        Ok(_) => Redirect::to(&format!("/lists/{key}?{query}")).into_response(),
        Err(e) => error_page(Some(&actor), e, &format!("/lists/{key}")),
    }
}

/// Handles `POST /lists/{list}/views/{id}/delete`.
pub async fn delete_view(
    State(app): State<AppState>,
    Path((key, id)): Path<(String, String)>,
    Posted { actor, .. }: Posted,
) -> Response {
    match crate::http::views::delete_view(State(app), actor.clone(), Path((key.clone(), id))).await
    {
        Ok(_) => Redirect::to(&format!("/lists/{key}")).into_response(),
        Err(e) => error_page(Some(&actor), e, &format!("/lists/{key}")),
    }
}

/// The form of a list, for labels; None when it is gone.
async fn app_form(
    app: &AppState,
    actor: &Actor,
    key: &str,
) -> Option<std::sync::Arc<CompiledForm>> {
    app.catalog
        .list(&app.db, actor.tenant(), key)
        .await
        .ok()
        .flatten()
        .map(|(_, f)| f)
}

/// Handles `POST /lists/{list}/batch`: the API's batch transition on the ticked records,
/// all or nothing; a refusal lists each record's reason.
pub async fn batch(
    State(app): State<AppState>,
    Path(key): Path<String>,
    Posted { actor, pairs }: Posted,
) -> Response {
    let ids: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "ids")
        .map(|(_, v)| v.as_str())
        .collect();
    let action = field(&pairs, "action").unwrap_or("").to_string();
    let comment = field(&pairs, "comment")
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let back = format!("/lists/{key}?{}", field(&pairs, "query").unwrap_or(""));
    let request = serde_json::from_value(json!({"ids": ids, "comment": comment}));
    let answer = match request {
        Ok(req) => {
            crate::http::batch::batch_transition(
                State(app.clone()),
                actor.clone(),
                Path(action),
                Body(req),
            )
            .await
        }
        Err(e) => Err(ApiError::BadRequest(e.to_string())),
    };
    match answer {
        Ok(r) if r.status().is_success() => Redirect::to(&back).into_response(),
        Ok(r) => {
            // 422 batch_refused: one line per record that could not.
            let status = r.status();
            let bytes = axum::body::to_bytes(r.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let english = crate::http::lang::is_english();
            let form = app_form(&app, &actor, &key).await;
            let label_of = |pointer: &str| {
                let f = pointer
                    .trim_start_matches('/')
                    .split('/')
                    .next()
                    .unwrap_or("");
                form.as_ref()
                    .map_or(f.to_string(), |form| form.label(f).to_string())
            };
            let reasons: Vec<String> = v["results"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|x| x["ok"] == false)
                .map(|x| {
                    let e = &x["error"];
                    let detail = e["fields"][0][if english { "message_en" } else { "message" }]
                        .as_str()
                        .or(e["fields"][0]["message"].as_str())
                        .unwrap_or("");
                    let field = e["fields"][0]["pointer"].as_str().map(label_of);
                    match field {
                        Some(f) if !f.is_empty() => {
                            format!("{}：「{f}」{detail}", x["id"].as_str().unwrap_or(""))
                        }
                        _ => format!(
                            "{}：{} {detail}",
                            x["id"].as_str().unwrap_or(""),
                            e["message"].as_str().unwrap_or("")
                        ),
                    }
                })
                .collect();
            let message = format!(
                "{} {}",
                v["error"]["message"].as_str().unwrap_or(""),
                reasons.join("；")
            );
            super::message_page_back(Some(&actor), status, &message, Some(&back))
        }
        Err(e) => error_page(Some(&actor), e, &back),
    }
}
