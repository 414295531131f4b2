//! Users, their role grants and their sessions.

use sqlx::Row;

use super::{new_id, now, Db, Tx};

/// What login needs to know about a user.
pub struct LoginRow {
    /// User id.
    pub user_id: String,
    /// Argon2id hash in PHC format.
    pub password_hash: String,
    /// Locked users cannot log in.
    pub locked: bool,
}

/// A signed-in user, as a session resolves to.
#[derive(Debug, Clone)]
pub struct SessionUser {
    /// Tenant.
    pub tenant: String,
    /// User id.
    pub user_id: String,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Org unit code.
    pub unit_id: String,
    /// Org unit name.
    pub unit_name: String,
    /// Materialised path of the org unit.
    pub org_path: String,
    /// The tenant's time zone: what the user reads times in, and what `now()` and `today()`
    /// of their changes mean.
    pub zone: chrono_tz::Tz,
    /// The tenant's revision when the user was read: what this server caches of the tenant
    /// must be at least this new before it answers (see `crate::coherence`).
    pub revision: i64,
}

/// A tenant's stored zone name as a zone; an unknown name (never written by Formwork, which
/// checks it) reads as the default zone rather than failing every request.
fn zone_of(name: &str) -> chrono_tz::Tz {
    form_runtime::clock::zone(name).unwrap_or(form_runtime::clock::DEFAULT_ZONE)
}

/// Creates a user in org unit `unit` and returns the new id.
pub async fn create(
    tx: &mut Tx,
    tenant: &str,
    username: &str,
    display_name: &str,
    password_hash: &str,
    unit: &str,
) -> sqlx::Result<String> {
    let id = new_id();
    sqlx::query(
        "insert into users (tenant_id, user_id, username, display_name, password_hash, unit_id, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant)
    .bind(&id)
    .bind(username)
    .bind(display_name)
    .bind(password_hash)
    .bind(unit)
    .bind(now())
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// Grants a role to a user (a Casbin grouping line in the tenant's domain).
pub async fn grant_role(tx: &mut Tx, tenant: &str, user_id: &str, role: &str) -> sqlx::Result<()> {
    tx.cached_changed(tenant);
    sqlx::query(
        "insert into casbin_rule (tenant_id, ptype, v0, v1, v2, v3, source) values ($1, 'g', $2, $3, $1, '', 'admin') \
         on conflict do nothing",
    )
    .bind(tenant)
    .bind(user_id)
    .bind(role)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Looks a user up by login name.
pub async fn for_login(db: &Db, tenant: &str, username: &str) -> sqlx::Result<Option<LoginRow>> {
    let row = sqlx::query(
        "select user_id, password_hash, locked from users where tenant_id = $1 and username = $2",
    )
    .bind(tenant)
    .bind(username)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok(LoginRow {
            user_id: r.try_get("user_id")?,
            password_hash: r.try_get("password_hash")?,
            locked: r.try_get::<i64, _>("locked")? != 0,
        })
    })
    .transpose()
}

/// Counts a failed login; returns how many in a row.
pub async fn count_failed_login(tx: &mut Tx, tenant: &str, user_id: &str) -> sqlx::Result<i64> {
    sqlx::query("update users set failed_logins = failed_logins + 1 where tenant_id = $1 and user_id = $2 returning failed_logins")
        .bind(tenant)
        .bind(user_id)
        .fetch_one(tx.conn())
        .await?
        .try_get("failed_logins")
}

/// Locks a user out.
pub async fn lock(tx: &mut Tx, tenant: &str, user_id: &str) -> sqlx::Result<()> {
    tx.cached_changed(tenant);
    sqlx::query("update users set locked = 1 where tenant_id = $1 and user_id = $2")
        .bind(tenant)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Stores a new session (only the token's hash), drops the user's expired sessions and resets
/// the failed-login count.
pub async fn create_session(
    tx: &mut Tx,
    tenant: &str,
    user_id: &str,
    token_hash: &str,
    expires_at: &str,
) -> sqlx::Result<()> {
    sqlx::query("insert into sessions (tenant_id, token_hash, user_id, created_at, expires_at) values ($1, $2, $3, $4, $5)")
        .bind(tenant)
        .bind(token_hash)
        .bind(user_id)
        .bind(now())
        .bind(expires_at)
        .execute(tx.conn())
        .await?;
    sqlx::query("delete from sessions where tenant_id = $1 and user_id = $2 and expires_at <= $3")
        .bind(tenant)
        .bind(user_id)
        .bind(now())
        .execute(tx.conn())
        .await?;
    sqlx::query("update users set failed_logins = 0 where tenant_id = $1 and user_id = $2")
        .bind(tenant)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Resolves a live session of an unlocked user.
pub async fn session_user(
    db: &Db,
    tenant: &str,
    token_hash: &str,
) -> sqlx::Result<Option<SessionUser>> {
    let row = sqlx::query(
        "select u.user_id, u.username, u.display_name, u.unit_id, o.name as unit_name, o.path, \
         t.time_zone, t.revision \
         from sessions s \
         join users u on u.tenant_id = s.tenant_id and u.user_id = s.user_id \
         join org_units o on o.tenant_id = u.tenant_id and o.unit_id = u.unit_id \
         join tenants t on t.tenant_id = u.tenant_id \
         where s.tenant_id = $1 and s.token_hash = $2 and s.expires_at > $3 and u.locked = 0",
    )
    .bind(tenant)
    .bind(token_hash)
    .bind(now())
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok(SessionUser {
            tenant: tenant.to_string(),
            user_id: r.try_get("user_id")?,
            username: r.try_get("username")?,
            display_name: r.try_get("display_name")?,
            unit_id: r.try_get("unit_id")?,
            unit_name: r.try_get("unit_name")?,
            org_path: r.try_get("path")?,
            zone: zone_of(&r.try_get::<String, _>("time_zone")?),
            revision: r.try_get("revision")?,
        })
    })
    .transpose()
}

/// An unlocked user by login name, as a session would resolve them (operator commands act
/// as a user this way).
pub async fn by_username(
    db: &Db,
    tenant: &str,
    username: &str,
) -> sqlx::Result<Option<SessionUser>> {
    let row = sqlx::query(
        "select u.user_id, u.username, u.display_name, u.unit_id, o.name as unit_name, o.path, \
         t.time_zone, t.revision \
         from users u join org_units o on o.tenant_id = u.tenant_id and o.unit_id = u.unit_id \
         join tenants t on t.tenant_id = u.tenant_id \
         where u.tenant_id = $1 and u.username = $2 and u.locked = 0",
    )
    .bind(tenant)
    .bind(username)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok(SessionUser {
            tenant: tenant.to_string(),
            user_id: r.try_get("user_id")?,
            username: r.try_get("username")?,
            display_name: r.try_get("display_name")?,
            unit_id: r.try_get("unit_id")?,
            unit_name: r.try_get("unit_name")?,
            org_path: r.try_get("path")?,
            zone: zone_of(&r.try_get::<String, _>("time_zone")?),
            revision: r.try_get("revision")?,
        })
    })
    .transpose()
}

/// Ends a session.
pub async fn delete_session(tx: &mut Tx, tenant: &str, token_hash: &str) -> sqlx::Result<()> {
    sqlx::query("delete from sessions where tenant_id = $1 and token_hash = $2")
        .bind(tenant)
        .bind(token_hash)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The user's stored password hash.
pub async fn password_hash(db: &Db, tenant: &str, user_id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query("select password_hash from users where tenant_id = $1 and user_id = $2")
        .bind(tenant)
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?
        .map(|r| r.try_get("password_hash"))
        .transpose()
}

/// Replaces a user's password hash and ends their sessions but `keep` (the one that changed
/// it), so a stolen session does not outlive the change.
pub async fn set_password(
    tx: &mut Tx,
    tenant: &str,
    user_id: &str,
    hash: &str,
    keep: &str,
) -> sqlx::Result<()> {
    sqlx::query("update users set password_hash = $3 where tenant_id = $1 and user_id = $2")
        .bind(tenant)
        .bind(user_id)
        .bind(hash)
        .execute(tx.conn())
        .await?;
    sqlx::query("delete from sessions where tenant_id = $1 and user_id = $2 and token_hash <> $3")
        .bind(tenant)
        .bind(user_id)
        .bind(keep)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// A user as the tenant's admin sees them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserRow {
    /// User id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Org unit code.
    pub unit: String,
    /// Org unit name.
    pub unit_name: String,
    /// Org unit path.
    pub path: String,
    /// Roles held in the tenant.
    pub roles: Vec<String>,
    /// Locked out.
    pub locked: bool,
    /// Created at.
    pub created_at: String,
}

/// The tenant's users whose username or name contains `q` (all when empty), by username;
/// one page and the total.
pub async fn list(
    db: &Db,
    tenant: &str,
    q: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<UserRow>, i64)> {
    let pattern = format!(
        "%{}%",
        q.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let filter = "u.tenant_id = $1 and ($2 = '' or u.username like $3 escape '\\' or u.display_name like $3 escape '\\')";
    let total: i64 = sqlx::query(&format!("select count(*) as n from users u where {filter}"))
        .bind(tenant)
        .bind(q)
        .bind(&pattern)
        .fetch_one(db.pool())
        .await?
        .try_get("n")?;
    let rows = sqlx::query(&format!(
        "select u.user_id, u.username, u.display_name, u.unit_id, o.name as unit_name, o.path, u.locked, u.created_at \
         from users u join org_units o on o.tenant_id = u.tenant_id and o.unit_id = u.unit_id \
         where {filter} order by u.username limit $4 offset $5"
    ))
    .bind(tenant)
    .bind(q)
    .bind(&pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: String = r.try_get("user_id")?;
        out.push(UserRow {
            roles: roles_of(db, tenant, &id).await?,
            id,
            username: r.try_get("username")?,
            display_name: r.try_get("display_name")?,
            unit: r.try_get("unit_id")?,
            unit_name: r.try_get("unit_name")?,
            path: r.try_get("path")?,
            locked: r.try_get::<i64, _>("locked")? != 0,
            created_at: r.try_get("created_at")?,
        });
    }
    Ok((out, total))
}

/// One user of the tenant, as [`list`] shows them.
pub async fn one(db: &Db, tenant: &str, user_id: &str) -> sqlx::Result<Option<UserRow>> {
    let row = sqlx::query("select username from users where tenant_id = $1 and user_id = $2")
        .bind(tenant)
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let username: String = row.try_get("username")?;
    let (found, _) = list(db, tenant, &username, 50, 0).await?;
    Ok(found.into_iter().find(|u| u.id == user_id))
}

/// The roles a user holds in the tenant (the Casbin grouping lines).
async fn roles_of(db: &Db, tenant: &str, user_id: &str) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query(
        "select v1 from casbin_rule where tenant_id = $1 and ptype = 'g' and v0 = $2 and v2 = $1 order by v1",
    )
    .bind(tenant)
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|r| r.try_get("v1")).collect()
}

/// Replaces the roles a user holds.
pub async fn set_roles(
    tx: &mut Tx,
    tenant: &str,
    user_id: &str,
    roles: &[String],
) -> sqlx::Result<()> {
    tx.cached_changed(tenant);
    sqlx::query(
        "delete from casbin_rule where tenant_id = $1 and ptype = 'g' and v0 = $2 and v2 = $1",
    )
    .bind(tenant)
    .bind(user_id)
    .execute(tx.conn())
    .await?;
    for r in roles {
        grant_role(tx, tenant, user_id, r).await?;
    }
    Ok(())
}

/// Moves a user to another org unit (a code the caller checked). Records they file from now
/// on belong to the new unit; records filed before stay with the unit that filed them.
pub async fn set_unit(tx: &mut Tx, tenant: &str, user_id: &str, unit: &str) -> sqlx::Result<()> {
    tx.cached_changed(tenant);
    sqlx::query("update users set unit_id = $3 where tenant_id = $1 and user_id = $2")
        .bind(tenant)
        .bind(user_id)
        .bind(unit)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Locks or unlocks a user; locking ends their sessions, unlocking clears the failed logins.
pub async fn set_locked(
    tx: &mut Tx,
    tenant: &str,
    user_id: &str,
    locked: bool,
) -> sqlx::Result<()> {
    tx.cached_changed(tenant);
    sqlx::query(
        "update users set locked = $3, failed_logins = 0 where tenant_id = $1 and user_id = $2",
    )
    .bind(tenant)
    .bind(user_id)
    .bind(i64::from(locked))
    .execute(tx.conn())
    .await?;
    if locked {
        end_sessions(tx, tenant, user_id).await?;
    }
    Ok(())
}

/// Ends every session of a user.
pub async fn end_sessions(tx: &mut Tx, tenant: &str, user_id: &str) -> sqlx::Result<()> {
    sqlx::query("delete from sessions where tenant_id = $1 and user_id = $2")
        .bind(tenant)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}
