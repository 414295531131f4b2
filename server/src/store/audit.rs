//! The audit log: append-only, one hash chain per tenant.
//!
//! Each entry's hash is SM3 over the previous hash and the entry's content, so deleting or
//! editing an entry breaks every later link; [`verify`] walks the chain. Appends lock the
//! tenant's head row, which orders them.

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

/// Appends one entry in the caller's transaction.
pub async fn append(
    tx: &mut Tx,
    tenant: &str,
    actor: Option<&str>,
    action: &str,
    object: &str,
    detail: &Value,
) -> sqlx::Result<()> {
    append_many(tx, tenant, actor, action, &[(object, detail.clone())]).await
}

/// Appends one entry per `(object, detail)`, all by `actor` doing `action`, in the caller's
/// transaction: the head is read and moved once, and the entries go in a few statements.
pub async fn append_many(
    tx: &mut Tx,
    tenant: &str,
    actor: Option<&str>,
    action: &str,
    entries: &[(&str, Value)],
) -> sqlx::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let lock = if tx.dialect() == Dialect::Postgres {
        " for update"
    } else {
        ""
    };
    let head = sqlx::query(&format!(
        "select seq, hash from audit_heads where tenant_id = $1{lock}"
    ))
    .bind(tenant)
    .fetch_one(tx.conn())
    .await?;
    let mut seq: i64 = head.try_get("seq")?;
    let mut hash: String = head.try_get("hash")?;
    let at = now();
    // 100 rows of 9 parameters stay far below either database's parameter limit.
    for chunk in entries.chunks(100) {
        let mut sql = String::from(
            "insert into audit_log (tenant_id, seq, actor_id, action, object, detail, created_at, prev_hash, hash) values ",
        );
        let mut rows = Vec::with_capacity(chunk.len());
        for (i, (object, detail)) in chunk.iter().enumerate() {
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
            let detail = detail.to_string();
            let prev = std::mem::take(&mut hash);
            hash = link_hash(&prev, seq, actor, action, object, &detail, &at);
            rows.push((seq, *object, detail, prev, hash.clone()));
        }
        let mut q = sqlx::query(&sql);
        for (seq, object, detail, prev, h) in rows {
            q = q
                .bind(tenant)
                .bind(seq)
                .bind(actor)
                .bind(action)
                .bind(object)
                .bind(detail)
                .bind(at.clone())
                .bind(prev)
                .bind(h);
        }
        q.execute(tx.conn()).await?;
    }
    sqlx::query("update audit_heads set seq = $2, hash = $3 where tenant_id = $1")
        .bind(tenant)
        .bind(seq)
        .bind(&hash)
        .execute(tx.conn())
        .await?;
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
