//! Statistics pages: the pack's statistics and dashboards a user may read, one statistic as
//! a table with totals, a chart drawn in the browser (`chart.js`, SVG, no CDN) and each row
//! linked to the records behind it in a list of the same form, and one dashboard as headline
//! figures and charts.

use axum::extract::{Path, RawQuery, State};
use axum::http::Uri;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

use super::{error_page, here, render, Signed};
use crate::http::error::ApiResult;
use crate::http::extract::Actor;
use crate::state::AppState;
use crate::store::packs;

/// Handles `GET /statistics`.
pub async fn index(State(app): State<AppState>, Signed(actor): Signed, uri: Uri) -> Response {
    let dashboards =
        crate::http::dashboards::list_dashboards(State(app.clone()), actor.clone()).await;
    match (
        crate::http::statistics::list_statistics(State(app), actor.clone()).await,
        dashboards,
    ) {
        (Ok(Json(v)), Ok(Json(d))) => render(
            Some(&actor),
            "statistics.html",
            json!({"items": v["items"], "dashboards": d["items"]}),
        ),
        (Err(e), _) | (_, Err(e)) => error_page(Some(&actor), e, &here(&uri)),
    }
}

/// Handles `GET /dashboards/{key}`.
pub async fn dashboard(
    State(app): State<AppState>,
    Signed(actor): Signed,
    Path(key): Path<String>,
    uri: Uri,
) -> Response {
    match crate::http::dashboards::get_dashboard(State(app), actor.clone(), Path(key)).await {
        Ok(Json(mut v)) => {
            for tile in v["tiles"].as_array_mut().into_iter().flatten() {
                if let Some(value) = tile.get("value") {
                    tile["shown"] = json!(grouped(&number(value)));
                }
                if let Some(rows) = tile.get("rows").and_then(Value::as_array).cloned() {
                    let chart = json!({
                        "labels": rows.iter().map(|r| r["label"].clone()).collect::<Vec<_>>(),
                        "measures": [tile["measure"].clone()],
                        "values": rows.iter().map(|r| json!([r["value"].clone()])).collect::<Vec<_>>(),
                    });
                    tile["chart"] = json!(script_json(&chart));
                    let shown: Vec<Value> = rows
                        .iter()
                        .map(|r| json!({"label": r["label"], "value": number(&r["value"])}))
                        .collect();
                    tile["table"] = json!(shown);
                }
            }
            render(Some(&actor), "dashboard.html", v)
        }
        Err(e) => error_page(Some(&actor), e, &here(&uri)),
    }
}

/// A shown number with thousands separated (`3,093,783.34`), as a headline reads best.
fn grouped(shown: &str) -> String {
    let (int, frac) = shown.split_once('.').unwrap_or((shown, ""));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{out}")
    } else {
        format!("{sign}{out}.{frac}")
    }
}

/// JSON to put inside a `<script>` element: no "</script>" (or "<!--") from a label may end
/// the element.
fn script_json(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Handles `GET /statistics/{key}`: the query string is the API's filters.
pub async fn statistic(
    State(app): State<AppState>,
    Signed(actor): Signed,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
    uri: Uri,
) -> Response {
    let mut pairs = super::filled(raw);
    pairs.retain(|(k, _)| k.starts_with("filter["));
    match context(&app, &actor, &key, pairs).await {
        Ok(ctx) => render(Some(&actor), "statistic.html", ctx),
        Err(e) => error_page(Some(&actor), e, &here(&uri)),
    }
}

async fn context(
    app: &AppState,
    actor: &Actor,
    key: &str,
    pairs: Vec<(String, String)>,
) -> ApiResult<Value> {
    let Json(v) = crate::http::statistics::get_statistic(
        State(app.clone()),
        actor.clone(),
        Path(key.to_string()),
        Ok(axum::extract::Query(pairs.clone())),
    )
    .await?;
    let form = v["definition"]["form"].as_str().unwrap_or("").to_string();
    // The lists of the form, with the filters each declares, for drilling down.
    let mut lists = Vec::new();
    for l in packs::lists_of_form(&app.db, actor.tenant(), &form).await? {
        if let Some((list, _)) = app.catalog.list(&app.db, actor.tenant(), &l).await? {
            lists.push((l, list.def.filters.clone()));
        }
    }
    let drill_to = |query: &str| {
        let wanted: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
            .filter_map(|(k, _)| {
                k.strip_prefix("filter[")
                    .and_then(|r| r.split(']').next())
                    .map(str::to_string)
            })
            .collect();
        lists
            .iter()
            .find(|(_, filters)| wanted.iter().all(|w| filters.contains(w)))
            .map(|(l, _)| format!("/lists/{l}?{query}"))
    };
    let rows: Vec<Value> = v["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let values: Vec<String> = r["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(number)
                .collect();
            json!({"labels": r["labels"], "values": values, "raw": r["values"],
                   "drill": drill_to(r["drill"].as_str().unwrap_or(""))})
        })
        .collect();
    let totals: Vec<String> = v["totals"]
        .as_array()
        .into_iter()
        .flatten()
        .map(number)
        .collect();
    let chart = json!({
        "labels": v["rows"].as_array().into_iter().flatten()
            .map(|r| r["labels"].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(" · "))
            .collect::<Vec<_>>(),
        "measures": v["columns"]["measures"].as_array().into_iter().flatten().map(|m| m["label"].clone()).collect::<Vec<_>>(),
        "values": v["rows"].as_array().into_iter().flatten().map(|r| r["values"].clone()).collect::<Vec<_>>(),
    });
    let filters: Vec<Value> = pairs
        .iter()
        .map(|(k, val)| json!({"name": k, "value": val}))
        .collect();
    Ok(json!({
        "definition": v["definition"], "columns": v["columns"], "rows": rows, "totals": totals,
        "chart": script_json(&chart),
        "filters": filters,
    }))
}

/// A measure as shown: integers plainly, other numbers with two decimals, none as "—".
fn number(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
        None => "—".into(),
    }
}
