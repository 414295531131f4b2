//! Imports: the import templates a pack installs, the records an import row's key finds, and
//! the kept result of every import request (its report and error workbook).

use std::collections::HashMap;

use form_runtime::import::ImportDef;
use form_runtime::sql::Sql;
use serde_json::Value;
use sqlx::Row;

use super::{bind_all, Db, Tx};

/// The tenant's import template `key`, if it has one.
pub async fn template(db: &Db, tenant: &str, key: &str) -> anyhow::Result<Option<ImportDef>> {
    super::packs::IMPORT_TEMPLATES.one(db, tenant, key).await
}

/// Ids of the records of `form` whose fields equal the values in `equal`
/// (`(expression, value)`, as [`super::records::duplicate_exists`] takes them), whoever may
/// see them; at most `limit`.
pub async fn find_by_key(
    db: &Db,
    tenant: &str,
    form: &str,
    equal: &[(String, String)],
    limit: i64,
) -> anyhow::Result<Vec<String>> {
    let mut sql = Sql::new(db.dialect());
    sql.push("select record_id from records where tenant_id = ")
        .bind_text(tenant)
        .push(" and form_key = ")
        .bind_text(form);
    for (expr, value) in equal {
        sql.push(&format!(" and {expr} = "))
            .bind_text(value.clone());
    }
    // No order: the caller only needs to know none, one or several.
    sql.push(&format!(" limit {limit}"));
    // Unprepared: PostgreSQL plans each look-up for its own value. A kept statement falls
    // back to a generic plan that, where one value is common (a placeholder ID number in
    // old data), scans the table for every row of an import.
    let rows = bind_all(sqlx::query(&sql.text), &sql.params)
        .persistent(false)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(|r| Ok(r.try_get("record_id")?)).collect()
}

/// The records of `form` whose `expr` (a key expression as [`find_by_key`] takes it) is one
/// of `values`, by value; whoever may see them. One query per call: the caller passes a
/// few hundred values at a time.
pub async fn find_by_keys(
    db: &Db,
    tenant: &str,
    form: &str,
    expr: &str,
    values: &[String],
) -> anyhow::Result<HashMap<String, Vec<String>>> {
    let mut found: HashMap<String, Vec<String>> = HashMap::new();
    if values.is_empty() {
        return Ok(found);
    }
    let mut sql = Sql::new(db.dialect());
    sql.push(&format!(
        "select record_id, {expr} as k from records where tenant_id = "
    ))
    .bind_text(tenant)
    .push(" and form_key = ")
    .bind_text(form)
    .push(&format!(" and {expr} in ("));
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind_text(v.clone());
    }
    sql.push(")");
    // Unprepared, as in find_by_key: planned for these values.
    let rows = bind_all(sqlx::query(&sql.text), &sql.params)
        .persistent(false)
        .fetch_all(db.pool())
        .await?;
    for r in &rows {
        let key: String = r.try_get("k")?;
        found.entry(key).or_default().push(r.try_get("record_id")?);
    }
    Ok(found)
}

/// One import request as kept.
pub struct ImportRow<'a> {
    /// Its id.
    pub id: &'a str,
    /// The form imported into.
    pub form: &'a str,
    /// The import template used, if any.
    pub template: Option<&'a str>,
    /// Who imported.
    pub user_id: &'a str,
    /// `all` or `valid_only`.
    pub mode: &'a str,
    /// Only checked, nothing written.
    pub dry_run: bool,
    /// Whether records were written.
    pub imported: bool,
    /// The report as answered.
    pub report: &'a Value,
    /// The error workbook, sealed (None when no row was rejected).
    pub errors_xlsx: Option<&'a str>,
    /// When.
    pub at: &'a str,
}

/// Keeps an import request, in the caller's transaction (the import's own when it wrote
/// records, so the two stand or fall together).
pub async fn insert(tx: &mut Tx, tenant: &str, r: &ImportRow<'_>) -> anyhow::Result<()> {
    sqlx::query(
        "insert into imports (tenant_id, import_id, form_key, template_key, user_id, mode, dry_run, imported, report, errors_xlsx, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(tenant)
    .bind(r.id)
    .bind(r.form)
    .bind(r.template)
    .bind(r.user_id)
    .bind(r.mode)
    .bind(i64::from(r.dry_run))
    .bind(i64::from(r.imported))
    .bind(r.report.to_string())
    .bind(r.errors_xlsx)
    .bind(r.at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The sealed error workbook of an import made by `user_id`: None when there is no such
/// import of theirs; Some(None) when it rejected no row.
pub async fn errors_xlsx(
    db: &Db,
    tenant: &str,
    id: &str,
    user_id: &str,
) -> anyhow::Result<Option<Option<String>>> {
    let row = sqlx::query(
        "select errors_xlsx from imports where tenant_id = $1 and import_id = $2 and user_id = $3",
    )
    .bind(tenant)
    .bind(id)
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(match row {
        None => None,
        Some(r) => Some(r.try_get::<Option<String>, _>("errors_xlsx")?),
    })
}
