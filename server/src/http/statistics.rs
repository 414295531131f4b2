//! Statistics: grouped counts and sums over one form, seen through the same data scope and
//! filters as its lists, each row with the list query that drills down to its records.

use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::Datelike;
use form_runtime::form::CompiledForm;
use form_runtime::statistics::{CompiledStatistic, Dimension, StatisticDef};
use form_runtime::FieldError;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::Actor;
use crate::change::sensitive;
use crate::state::AppState;
use crate::store::statistics as store;

/// Handles `GET /api/v1/statistics`: the statistics whose form the user may read.
pub async fn list_statistics(State(app): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    let mut items = Vec::new();
    for (key, def) in store::all(&app.db, actor.tenant()).await? {
        if actor.viewer(&app, &def.form).await?.is_some() {
            items.push(json!({"key": key, "label": def.label, "form": def.form}));
        }
    }
    Ok(Json(json!({ "items": items })))
}

/// Handles `GET /api/v1/statistics/{key}`.
pub async fn get_statistic(
    State(app): State<AppState>,
    actor: Actor,
    Path(key): Path<String>,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(pairs) = query?;
    let def = store::definition(&app.db, actor.tenant(), &key)
        .await?
        .ok_or_else(|| ApiError::NotFound("统计不存在".into()))?;
    compute(&app, &actor, &key, def, pairs).await.map(Json)
}

/// A statistic computed for `actor` over the records they see, narrowed by `pairs`
/// (`filter[…]` parameters): the answer of `GET /api/v1/statistics/{key}`. Dashboards call it
/// with a tile's view of the definition (one dimension) and filters.
pub async fn compute(
    app: &AppState,
    actor: &Actor,
    key: &str,
    def: StatisticDef,
    pairs: Vec<(String, String)>,
) -> ApiResult<Value> {
    let tenant = actor.tenant();
    let not_found = || ApiError::NotFound("统计不存在".into());
    let form = app
        .catalog
        .form(&app.db, tenant, &def.form, None)
        .await?
        .ok_or_else(not_found)?;
    let viewer = actor
        .viewer(app, &def.form)
        .await?
        .ok_or_else(|| ApiError::Forbidden("你没有查看此统计的权限".into()))?;
    // A statistic over a field the actor does not see would tell its values (a cell of one
    // record is that record's value): it is refused as a whole.
    let hidden = form.workflow.hidden_somewhere(&actor.roles);
    let used = def
        .dimensions
        .iter()
        .filter_map(|d| d.field.as_ref())
        .chain(def.measures.iter().filter_map(|m| m.field.as_ref()))
        .chain(def.filters.iter());
    if let Some(f) = used.into_iter().find(|f| hidden.contains(*f)) {
        return Err(ApiError::Forbidden(format!(
            "此统计使用了你无权查看的字段「{}」",
            form.label(f)
        )));
    }
    let stat = CompiledStatistic::check(key, def, &form.fields, &form.schema, "")
        .map_err(|e| anyhow::anyhow!("stored statistic {key} is invalid: {e:?}"))?;
    let others: Vec<FieldError> = pairs
        .iter()
        .filter(|(k, _)| !k.starts_with("filter["))
        .map(|(k, _)| {
            FieldError::new(
                format!("/query/{k}"),
                "query",
                format!("未知参数「{k}」"),
                format!("unknown parameter `{k}`: a statistic takes only filter[field]"),
            )
        })
        .collect();
    if !others.is_empty() {
        return Err(ApiError::Invalid(others));
    }
    let mut q = stat.filters.parse_query(&pairs)?;
    sensitive::blind_filters(app, tenant, &stat.filters, &mut q).await?;
    let today = chrono::Local::now().date_naive();
    let raw = store::run(
        &app.db,
        tenant,
        &stat,
        &q,
        &viewer,
        (today.year(), today.month(), today.day()),
    )
    .await?;
    let table = stat.tabulate(raw);
    let orgs = if stat
        .dimensions
        .iter()
        .any(|d| matches!(d, Dimension::Org(_)))
    {
        store::org_names(&app.db, tenant).await?
    } else {
        Default::default()
    };
    let rows: Vec<Value> = table
        .rows
        .into_iter()
        .map(|r| {
            let labels: Vec<String> = r
                .keys
                .iter()
                .zip(&r.labels)
                .zip(&stat.dimensions)
                .map(|((k, l), d)| match (d, k) {
                    (Dimension::State, Some(k)) => form.workflow.state_label(k).to_string(),
                    (Dimension::Org(_), Some(k)) => orgs.get(k).cloned().unwrap_or_else(|| l.clone()),
                    _ => l.clone(),
                })
                .collect();
            json!({"keys": r.keys, "labels": labels, "values": r.values, "drill": r.drill_query(&pairs)})
        })
        .collect();
    Ok(json!({
        "definition": {"key": stat.key, "label": stat.def.label, "form": stat.def.form, "filters": stat.def.filters},
        "columns": columns(&stat.def, &form),
        "rows": rows,
        "totals": table.totals,
    }))
}

/// Headings: one per dimension, then one per measure.
fn columns(def: &StatisticDef, form: &CompiledForm) -> Value {
    let dims: Vec<Value> = def
        .dimensions
        .iter()
        .map(|d| {
            let label = d
                .label
                .clone()
                .unwrap_or_else(|| match (&d.field, d.by.as_deref()) {
                    (Some(f), _) => form.label(f).to_string(),
                    (None, Some("state")) => "状态".into(),
                    _ => "机构".into(),
                });
            json!({"field": d.field, "by": d.by, "label": label})
        })
        .collect();
    let measures: Vec<Value> = def
        .measures
        .iter()
        .map(|m| {
            let label = m.label.clone().unwrap_or_else(|| match &m.field {
                Some(f) => form.label(f).to_string(),
                None => "数量".into(),
            });
            json!({"op": m.op, "field": m.field, "label": label})
        })
        .collect();
    json!({"dimensions": dims, "measures": measures})
}
