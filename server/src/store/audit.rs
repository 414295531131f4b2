//! The audit log: append-only, one hash chain per tenant.
//!
//! Each entry's hash is SM3 over the previous hash and the entry's content, so deleting or
//! editing an entry breaks every later link; [`verify`] walks the chain. Entries are queued
//! in their transaction and written when it commits, under a lock on the tenant's head row,
//! which orders them.

use form_runtime::sql::Dialect;
use serde_json::Value;
use sm3::{Digest, Sm3};
use sqlx::Row;

use super::{now, Db, Tx};

/// Hash of the link before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Starts a tenant's chain; called when the tenant is created.
pub async fn start_chain(tx: &mut Tx, tenant: &str) -> sqlx::Result<()> {
    sqlx::query("insert into audit_heads (tenant_id, seq, hash) values ($1, 0, $2)")
        .bind(tenant)
        .bind(GENESIS)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Appends one entry in the caller's transaction. It is queued in the transaction and
/// written, with every other entry queued, when the transaction commits (see
/// [`Tx::commit`]): the tenant's head row is locked only for that moment, once per
/// transaction rather than once per entry.
pub async fn append(
    tx: &mut Tx,
    tenant: &str,
    actor: Option<&str>,
    action: &str,
    object: &str,
    detail: &Value,
) -> sqlx::Result<()> {
    tx.audit.push(Pending {
        tenant: tenant.to_string(),
        actor: actor.map(str::to_string),
        action: action.to_string(),
        object: object.to_string(),
        detail: detail.to_string(),
    });
    Ok(())
}

/// Appends one entry per `(object, detail)`, all by `actor` doing `action`, in the caller's
/// transaction (queued as [`append`] queues).
pub async fn append_many(
    tx: &mut Tx,
    tenant: &str,
    actor: Option<&str>,
    action: &str,
    entries: &[(&str, Value)],
) -> sqlx::Result<()> {
    for (object, detail) in entries {
        append(tx, tenant, actor, action, object, detail).await?;
    }
    Ok(())
}

/// An entry queued in a transaction, not yet in the chain.
#[derive(Debug)]
pub struct Pending {
    tenant: String,
    actor: Option<String>,
    action: String,
    object: String,
    detail: String,
}

/// Writes the entries queued in a transaction, tenant by tenant (in name order, so two
/// transactions lock heads in the same order), each tenant's in the order they were queued:
/// the head is read (and on PostgreSQL locked) and moved once, and the entries go in
/// multi-row inserts. Called by [`Tx::commit`] just before it commits.
pub(super) async fn flush(
    conn: &mut sqlx::AnyConnection,
    dialect: Dialect,
    pending: Vec<Pending>,
) -> sqlx::Result<()> {
    let mut tenants: Vec<&str> = pending.iter().map(|p| p.tenant.as_str()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    let lock = if dialect == Dialect::Postgres {
        " for update"
    } else {
        ""
    };
    let at = now();
    for tenant in tenants {
        let head = sqlx::query(&format!(
            "select seq, hash from audit_heads where tenant_id = $1{lock}"
        ))
        .bind(tenant)
        .fetch_one(&mut *conn)
        .await?;
        let mut seq: i64 = head.try_get("seq")?;
        let mut hash: String = head.try_get("hash")?;
        let entries: Vec<&Pending> = pending.iter().filter(|p| p.tenant == tenant).collect();
        // 100 rows of 9 parameters stay far below either database's parameter limit.
        for chunk in entries.chunks(100) {
            let mut sql = String::from(
                "insert into audit_log (tenant_id, seq, actor_id, action, object, detail, created_at, prev_hash, hash) values ",
            );
            let mut rows = Vec::with_capacity(chunk.len());
            for (i, e) in chunk.iter().enumerate() {
                let n = i * 9;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5,
                    n + 6,
                    n + 7,
                    n + 8,
                    n + 9
                ));
                seq += 1;
                let prev = std::mem::take(&mut hash);
                hash = link_hash(
                    &prev,
                    seq,
                    e.actor.as_deref(),
                    &e.action,
                    &e.object,
                    &e.detail,
                    &at,
                );
                rows.push((seq, *e, prev, hash.clone()));
            }
            let mut q = sqlx::query(&sql);
            for (seq, e, prev, h) in rows {
                q = q
                    .bind(tenant)
                    .bind(seq)
                    .bind(e.actor.as_deref())
                    .bind(e.action.as_str())
                    .bind(e.object.as_str())
                    .bind(e.detail.as_str())
                    .bind(at.clone())
                    .bind(prev)
                    .bind(h);
            }
            q.execute(&mut *conn).await?;
        }
        sqlx::query("update audit_heads set seq = $2, hash = $3 where tenant_id = $1")
            .bind(tenant)
            .bind(seq)
            .bind(&hash)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

fn link_hash(
    prev: &str,
    seq: i64,
    actor: Option<&str>,
    action: &str,
    object: &str,
    detail: &str,
    at: &str,
) -> String {
    let mut h = Sm3::new();
    for part in [
        prev,
        &seq.to_string(),
        actor.unwrap_or(""),
        action,
        object,
        detail,
        at,
    ] {
        // Length-prefix each part so no two different entries hash the same bytes.
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// One entry of the log, as read back.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    /// Position in the tenant's chain, from 1.
    pub seq: i64,
    /// Who did it (user id), if a user did.
    pub actor_id: Option<String>,
    /// What was done (`record.create`, `auth.login`, …).
    pub action: String,
    /// What it was done to.
    pub object: String,
    /// Details as JSON.
    pub detail: Value,
    /// When.
    pub created_at: String,
}

/// The tenant's entries, newest first.
pub async fn recent(db: &Db, tenant: &str, limit: i64) -> sqlx::Result<Vec<Entry>> {
    let rows = sqlx::query(
        "select seq, actor_id, action, object, detail, created_at from audit_log where tenant_id = $1 order by seq desc limit $2",
    )
    .bind(tenant)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Entry {
                seq: r.try_get("seq")?,
                actor_id: r.try_get("actor_id")?,
                action: r.try_get("action")?,
                object: r.try_get("object")?,
                detail: serde_json::from_str(&r.try_get::<String, _>("detail")?)
                    .unwrap_or(Value::Null),
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Walks a tenant's chain; returns the number of entries, or the first seq whose link fails.
pub async fn verify(db: &Db, tenant: &str) -> sqlx::Result<Result<i64, i64>> {
    let rows = sqlx::query(
        "select seq, actor_id, action, object, detail, created_at, prev_hash, hash from audit_log where tenant_id = $1 order by seq",
    )
    .bind(tenant)
    .fetch_all(db.pool())
    .await?;
    let mut prev = GENESIS.to_string();
    for (expect_seq, r) in (1..).zip(rows.iter()) {
        let seq: i64 = r.try_get("seq")?;
        let actor: Option<String> = r.try_get("actor_id")?;
        let hash: String = r.try_get("hash")?;
        let computed = link_hash(
            &prev,
            seq,
            actor.as_deref(),
            &r.try_get::<String, _>("action")?,
            &r.try_get::<String, _>("object")?,
            &r.try_get::<String, _>("detail")?,
            &r.try_get::<String, _>("created_at")?,
        );
        if seq != expect_seq || r.try_get::<String, _>("prev_hash")? != prev || computed != hash {
            return Ok(Err(seq));
        }
        prev = hash;
    }
    Ok(Ok(rows.len() as i64))
}
