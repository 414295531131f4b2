//! Statistics definitions and the grouped query that fills them.
//!
//! The query reads the same rows a list of the form would: tenant, form, the viewer's data
//! scope and the request's list-style filters, all in SQL.

use std::collections::HashMap;

use form_runtime::list::ListQuery;
use form_runtime::sql::Sql;
use form_runtime::statistics::{CompiledStatistic, Partial, RawRow, StatisticDef};
use sqlx::Row;

use super::packs::STATISTICS;
use super::records::Viewer;
use super::{bind_all, Db};

/// Every statistic of the tenant as (key, definition), by key.
pub async fn all(db: &Db, tenant: &str) -> anyhow::Result<Vec<(String, StatisticDef)>> {
    STATISTICS.all(db, tenant, None).await
}

/// One statistic's definition.
pub async fn definition(db: &Db, tenant: &str, key: &str) -> anyhow::Result<Option<StatisticDef>> {
    STATISTICS.one(db, tenant, key).await
}

/// Runs the grouped query of `stat` over the records `viewer` sees, narrowed by `q`'s
/// filters, and returns one partial row per group. `today` dates age bands.
pub async fn run(
    db: &Db,
    tenant: &str,
    stat: &CompiledStatistic,
    q: &ListQuery,
    viewer: &Viewer,
    today: (i32, u32, u32),
) -> anyhow::Result<Vec<RawRow>> {
    let mut sql = Sql::new(db.dialect());
    sql.push("select ")
        .push(&stat.select_list(db.dialect(), today))
        .push(" from records where tenant_id = ")
        .bind_text(tenant)
        .push(" and form_key = ")
        .bind_text(&stat.def.form)
        .push(" and ");
    viewer
        .scope
        .predicate(&mut sql, &viewer.user_id, &viewer.org_path);
    stat.filters.push_filters(q, &mut sql);
    sql.push(" group by ").push(&stat.group_by());
    let rows = bind_all(sqlx::query(&sql.text), &sql.params)
        .fetch_all(db.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut keys = Vec::with_capacity(stat.dimensions.len());
        for i in 0..stat.dimensions.len() {
            keys.push(r.try_get::<Option<String>, _>(format!("d{i}").as_str())?);
        }
        let mut partials = Vec::with_capacity(stat.def.measures.len());
        for i in 0..stat.def.measures.len() {
            let mut p = Partial {
                n: r.try_get(format!("m{i}_n").as_str())?,
                ..Partial::default()
            };
            if stat.measure_has_field(i) {
                p.sum = r.try_get(format!("m{i}_sum").as_str())?;
                p.min = r.try_get(format!("m{i}_min").as_str())?;
                p.max = r.try_get(format!("m{i}_max").as_str())?;
            }
            partials.push(p);
        }
        out.push(RawRow { keys, partials });
    }
    Ok(out)
}

/// Names of the tenant's org units by materialised path.
pub async fn org_names(db: &Db, tenant: &str) -> anyhow::Result<HashMap<String, String>> {
    let rows = sqlx::query("select path, name from org_units where tenant_id = $1")
        .bind(tenant)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("path")?, r.try_get("name")?)))
        .collect()
}
