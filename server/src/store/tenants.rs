//! Tenants, their org trees and their roles.

use std::collections::BTreeMap;

use form_runtime::scope::Scope;
use serde_json::json;
use sqlx::Row;

use super::{audit, now, Db, Tx};

/// The role every tenant has: business admin, sees and may do everything in the tenant.
pub const ADMIN_ROLE: &str = "admin";

/// Creates a tenant with its root org unit, the built-in admin role and its audit chain.
pub async fn create(
    tx: &mut Tx,
    tenant: &str,
    name: &str,
    root_code: &str,
    root_name: &str,
) -> sqlx::Result<()> {
    tx.cached_changed(tenant);
    sqlx::query("insert into tenants (tenant_id, name, created_at) values ($1, $2, $3)")
        .bind(tenant)
        .bind(name)
        .bind(now())
        .execute(tx.conn())
        .await?;
    audit::start_chain(tx, tenant).await?;
    add_unit(tx, tenant, root_code, root_name, None).await?;
    upsert_role(
        tx,
        tenant,
        ADMIN_ROLE,
        "系统管理员",
        Scope::Tenant,
        "system",
    )
    .await?;
    sqlx::query("insert into casbin_rule (tenant_id, ptype, v0, v1, v2, v3, source) values ($1, 'p', $2, $1, '*', '*', 'system')")
        .bind(tenant)
        .bind(ADMIN_ROLE)
        .execute(tx.conn())
        .await?;
    audit::append(
        tx,
        tenant,
        None,
        "tenant.create",
        tenant,
        &json!({"name": name}),
    )
    .await
}

/// Every tenant's revision (raised by each change to what servers cache of it).
pub async fn revisions(db: &Db) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query("select tenant_id, revision from tenants")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("tenant_id")?, r.try_get("revision")?)))
        .collect()
}

/// A tenant's revision; None when there is no such tenant.
pub async fn revision(db: &Db, tenant: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query("select revision from tenants where tenant_id = $1")
        .bind(tenant)
        .fetch_optional(db.pool())
        .await?
        .map(|r| r.try_get("revision"))
        .transpose()
}

/// Whether a tenant exists.
pub async fn exists(db: &Db, tenant: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query("select 1 from tenants where tenant_id = $1")
        .bind(tenant)
        .fetch_optional(db.pool())
        .await?
        .is_some())
}

/// Whether any tenant exists (an empty database gets the demo on first start).
pub async fn any(db: &Db) -> sqlx::Result<bool> {
    Ok(sqlx::query("select 1 from tenants limit 1")
        .fetch_optional(db.pool())
        .await?
        .is_some())
}

/// The path of the tenant's org unit named by its code (`pudong`) or its path
/// (`/shrc/pudong/`); None when the tenant has no such unit.
pub async fn unit_path(db: &Db, tenant: &str, code_or_path: &str) -> sqlx::Result<Option<String>> {
    let row = sqlx::query(
        "select path from org_units where tenant_id = $1 and (unit_id = $2 or path = $3)",
    )
    .bind(tenant)
    .bind(code_or_path)
    .bind(code_or_path)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| r.try_get("path")).transpose()
}

/// Adds an org unit under `parent` (a unit code), or as a root when `parent` is None.
pub async fn add_unit(
    tx: &mut Tx,
    tenant: &str,
    code: &str,
    name: &str,
    parent: Option<&str>,
) -> sqlx::Result<String> {
    tx.cached_changed(tenant);
    let parent_path = match parent {
        None => "/".to_string(),
        Some(p) => sqlx::query("select path from org_units where tenant_id = $1 and unit_id = $2")
            .bind(tenant)
            .bind(p)
            .fetch_one(tx.conn())
            .await?
            .try_get("path")?,
    };
    let path = format!("{parent_path}{code}/");
    sqlx::query("insert into org_units (tenant_id, unit_id, parent_id, name, path, created_at) values ($1, $2, $3, $4, $5, $6)")
        .bind(tenant)
        .bind(code)
        .bind(parent)
        .bind(name)
        .bind(&path)
        .bind(now())
        .execute(tx.conn())
        .await?;
    Ok(path)
}

/// Renames an org unit; false when the tenant has no such unit. Its code and path, and so
/// every record's and user's place in the tree, stay as they are.
pub async fn rename_unit(tx: &mut Tx, tenant: &str, code: &str, name: &str) -> sqlx::Result<bool> {
    tx.cached_changed(tenant);
    let done = sqlx::query("update org_units set name = $3 where tenant_id = $1 and unit_id = $2")
        .bind(tenant)
        .bind(code)
        .bind(name)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Creates or relabels a role.
pub async fn upsert_role(
    tx: &mut Tx,
    tenant: &str,
    role: &str,
    label: &str,
    scope: Scope,
    source: &str,
) -> sqlx::Result<()> {
    tx.cached_changed(tenant);
    sqlx::query(
        "insert into roles (tenant_id, role_key, label, scope, source) values ($1, $2, $3, $4, $5) \
         on conflict (tenant_id, role_key) do update set label = excluded.label, scope = excluded.scope, source = excluded.source",
    )
    .bind(tenant)
    .bind(role)
    .bind(label)
    .bind(scope.as_str())
    .bind(source)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A role of a tenant.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoleInfo {
    /// Role key.
    pub key: String,
    /// Display name.
    pub label: String,
    /// Data scope.
    pub scope: Scope,
}

/// The tenant's roles by key.
pub async fn roles(db: &Db, tenant: &str) -> sqlx::Result<BTreeMap<String, RoleInfo>> {
    let rows = sqlx::query("select role_key, label, scope from roles where tenant_id = $1")
        .bind(tenant)
        .fetch_all(db.pool())
        .await?;
    let mut out = BTreeMap::new();
    for r in rows {
        let key: String = r.try_get("role_key")?;
        let scope = Scope::parse(&r.try_get::<String, _>("scope")?).unwrap_or(Scope::Own);
        out.insert(
            key.clone(),
            RoleInfo {
                key,
                label: r.try_get("label")?,
                scope,
            },
        );
    }
    Ok(out)
}

/// An org unit as the tenant's admin sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnitRow {
    /// Unit code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Parent's code (None for the root).
    pub parent: Option<String>,
    /// Materialised path.
    pub path: String,
    /// Users in the unit itself.
    pub users: i64,
}

/// The tenant's org units in tree order (by path).
pub async fn units(db: &Db, tenant: &str) -> sqlx::Result<Vec<UnitRow>> {
    let rows = sqlx::query(
        "select o.unit_id, o.name, o.parent_id, o.path, \
         (select count(*) from users u where u.tenant_id = o.tenant_id and u.unit_id = o.unit_id) as users \
         from org_units o where o.tenant_id = $1 order by o.path",
    )
    .bind(tenant)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(UnitRow {
                code: r.try_get("unit_id")?,
                name: r.try_get("name")?,
                parent: r.try_get("parent_id")?,
                path: r.try_get("path")?,
                users: r.try_get("users")?,
            })
        })
        .collect()
}

/// The zone a tenant's people read times in (`Asia/Shanghai` unless set otherwise).
pub async fn time_zone(tx: &mut Tx, tenant: &str) -> sqlx::Result<chrono_tz::Tz> {
    let name: Option<String> =
        sqlx::query_scalar("select time_zone from tenants where tenant_id = $1")
            .bind(tenant)
            .fetch_optional(tx.conn())
            .await?;
    Ok(name
        .and_then(|n| form_runtime::clock::zone(&n))
        .unwrap_or(form_runtime::clock::DEFAULT_ZONE))
}

/// Sets the zone a tenant's people read times in. The caller has checked `zone` is an IANA
/// zone name ([`form_runtime::clock::zone`]) and audits the change.
pub async fn set_time_zone(tx: &mut Tx, tenant: &str, zone: chrono_tz::Tz) -> sqlx::Result<bool> {
    tx.cached_changed(tenant);
    let done = sqlx::query("update tenants set time_zone = $1 where tenant_id = $2")
        .bind(zone.name())
        .bind(tenant)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}
