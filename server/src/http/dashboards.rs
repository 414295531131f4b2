//! Dashboards: each tile computed as its statistic, through the statistic's own code path and
//! the viewer's data scope — a district user's figures are their district's. Tiles over a
//! statistic the viewer may not read are left out; a dashboard with none left is refused.

use axum::extract::{Path, State};
use axum::Json;
use form_runtime::dashboard::{DashboardDef, TileKind};
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::Actor;
use crate::state::AppState;
use crate::store::packs::DASHBOARDS;
use crate::store::statistics as stats;

/// Whether `actor` may read at least one of the dashboard's statistics.
async fn readable(app: &AppState, actor: &Actor, def: &DashboardDef) -> ApiResult<bool> {
    for t in &def.tiles {
        if let Some(s) = stats::definition(&app.db, actor.tenant(), &t.statistic).await? {
            if actor.viewer(app, &s.form).await?.is_some() {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Handles `GET /api/v1/dashboards`: the dashboards with a tile the user may read.
pub async fn list_dashboards(State(app): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    let mut items = Vec::new();
    for (key, def) in DASHBOARDS
        .all::<DashboardDef>(&app.db, actor.tenant(), None)
        .await?
    {
        if readable(&app, &actor, &def).await? {
            items.push(json!({"key": key, "label": def.label, "description": def.description}));
        }
    }
    Ok(Json(json!({ "items": items })))
}

/// Handles `GET /api/v1/dashboards/{key}`.
pub async fn get_dashboard(
    State(app): State<AppState>,
    actor: Actor,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    let def: DashboardDef = DASHBOARDS
        .one(&app.db, actor.tenant(), &key)
        .await?
        .ok_or_else(|| ApiError::NotFound("看板不存在".into()))?;
    let mut tiles = Vec::new();
    for t in &def.tiles {
        let Some(stat) = stats::definition(&app.db, actor.tenant(), &t.statistic).await? else {
            continue; // the pack check saw it; a later install may have removed it
        };
        let pairs = t.query();
        let v = match super::statistics::compute(
            &app,
            &actor,
            &t.statistic,
            t.statistic_def(&stat),
            pairs.clone(),
        )
        .await
        {
            Ok(v) => v,
            Err(ApiError::Forbidden(_)) => continue,
            Err(e) => return Err(e),
        };
        let measure = &v["columns"]["measures"][t.measure];
        let label = t
            .label
            .clone()
            .unwrap_or_else(|| measure["label"].as_str().unwrap_or_default().to_string());
        let drill = t.drill.then(|| {
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish();
            if q.is_empty() {
                format!("/statistics/{}", t.statistic)
            } else {
                format!("/statistics/{}?{q}", t.statistic)
            }
        });
        let mut tile = json!({
            "kind": t.kind, "label": label, "statistic": t.statistic,
            "measure": measure["label"], "filter": t.filter, "drill": drill,
        });
        if t.kind == TileKind::Figure {
            tile["value"] = v["totals"][t.measure].clone();
        } else {
            let rows: Vec<Value> = v["rows"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    let labels: Vec<&str> = r["labels"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    json!({"keys": r["keys"], "label": labels.join(" · "), "value": r["values"][t.measure]})
                })
                .collect();
            tile["rows"] = json!(rows);
        }
        tiles.push(tile);
    }
    if tiles.is_empty() {
        return Err(ApiError::Forbidden("你没有查看此看板的权限".into()));
    }
    Ok(Json(json!({
        "key": key, "label": def.label, "description": def.description, "tiles": tiles,
    })))
}
