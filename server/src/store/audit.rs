//! The audit log: append-only, one hash chain per tenant.
//!
//! Each entry's hash is SM3 over the previous hash, its position and its content, so
//! deleting, editing or moving an entry breaks every later link, and the tenant's head
//! (`audit_heads`) names the last link, so taking the newest entries away is noticed too;
//! [`verify`] walks the chain.
//!
//! Entries are queued in their change's transaction and inserted when it commits, without a
//! place in the chain and without any lock a concurrent writer needs. [`seal`], run by every
//! server a few times a second, chains the committed entries in the order they were written
//! (`id`) and moves the head; it holds the head for its pass, so two servers never seal an
//! entry twice. An entry unsealed past [`SEAL_BOUND`] is reported by [`verify`].

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

/// Writes the entries queued in a transaction in multi-row inserts, in the order they were
/// queued, without a place in the chain: nothing here locks anything a concurrent writer
/// needs. [`seal`] chains them once they are committed. Called by [`Tx::commit`] just before
/// it commits.
pub(super) async fn flush(
    conn: &mut sqlx::AnyConnection,
    pending: Vec<Pending>,
) -> sqlx::Result<()> {
    let at = now();
    // 100 rows of 6 parameters stay far below either database's parameter limit.
    for chunk in pending.chunks(100) {
        let mut sql = String::from(
            "insert into audit_log (tenant_id, actor_id, action, object, detail, created_at) values ",
        );
        for i in 0..chunk.len() {
            let n = i * 6;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6
            ));
        }
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q
                .bind(e.tenant.as_str())
                .bind(e.actor.as_deref())
                .bind(e.action.as_str())
                .bind(e.object.as_str())
                .bind(e.detail.as_str())
                .bind(at.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// How many entries one pass of [`seal`] chains per tenant at most.
const SEAL_BATCH: i64 = 2000;

/// Chains every committed, unsealed entry: per tenant, in `id` order, after the tenant's
/// head, and moves the head. Returns how many entries it sealed.
///
/// Any number of servers may run it at once: the head row is locked (PostgreSQL) or the
/// database's one writer held (SQLite) for the pass, and the unsealed entries are read only
/// after that, so an entry is sealed by exactly one pass. An entry written by a transaction
/// still open is not visible yet and is sealed by a later pass, after the entries of
/// transactions that committed before it.
pub async fn seal(db: &Db) -> sqlx::Result<i64> {
    let tenants: Vec<String> =
        sqlx::query("select distinct tenant_id from audit_log where seq is null")
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| r.try_get("tenant_id"))
            .collect::<Result<_, _>>()?;
    let mut sealed = 0;
    for tenant in tenants {
        loop {
            let n = seal_tenant(db, &tenant).await?;
            sealed += n;
            if n < SEAL_BATCH {
                break;
            }
        }
    }
    Ok(sealed)
}

async fn seal_tenant(db: &Db, tenant: &str) -> sqlx::Result<i64> {
    let mut tx = db.begin().await?;
    let lock = if tx.dialect() == Dialect::Postgres {
        " for update"
    } else {
        ""
    };
    let Some(head) = sqlx::query(&format!(
        "select seq, hash from audit_heads where tenant_id = $1{lock}"
    ))
    .bind(tenant)
    .fetch_optional(tx.conn())
    .await?
    else {
        return Ok(0);
    };
    let mut seq: i64 = head.try_get("seq")?;
    let mut hash: String = head.try_get("hash")?;
    let rows = sqlx::query(
        "select id, actor_id, action, object, detail, created_at from audit_log \
         where tenant_id = $1 and seq is null order by id limit $2",
    )
    .bind(tenant)
    .bind(SEAL_BATCH)
    .fetch_all(tx.conn())
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut links = Vec::with_capacity(rows.len());
    for r in &rows {
        seq += 1;
        let prev = std::mem::take(&mut hash);
        hash = link_hash(
            &prev,
            seq,
            r.try_get::<Option<String>, _>("actor_id")?.as_deref(),
            &r.try_get::<String, _>("action")?,
            &r.try_get::<String, _>("object")?,
            &r.try_get::<String, _>("detail")?,
            &r.try_get::<String, _>("created_at")?,
        );
        links.push((r.try_get::<i64, _>("id")?, seq, prev, hash.clone()));
    }
    // 100 rows of 4 parameters per statement, matched by id; `seq is null` keeps a sealed
    // entry from ever being sealed again.
    for chunk in links.chunks(100) {
        let mut sql = String::from("with v (id, seq, prev_hash, hash) as (values ");
        for i in 0..chunk.len() {
            let n = i * 4 + 1;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(cast(${} as bigint), cast(${} as bigint), ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4
            ));
        }
        sql.push_str(
            ") update audit_log set seq = v.seq, prev_hash = v.prev_hash, hash = v.hash from v \
             where audit_log.tenant_id = $1 and audit_log.id = v.id and audit_log.seq is null",
        );
        let mut q = sqlx::query(&sql).bind(tenant);
        for (id, seq, prev, h) in chunk {
            q = q.bind(*id).bind(*seq).bind(prev.as_str()).bind(h.as_str());
        }
        let done = q.execute(tx.conn()).await?;
        if done.rows_affected() != chunk.len() as u64 {
            // Someone sealed under us: impossible while the head is held; keep the chain
            // as it was rather than write a fork.
            return Err(sqlx::Error::Protocol(format!(
                "audit entries of {tenant} changed while being sealed"
            )));
        }
    }
    sqlx::query("update audit_heads set seq = $2, hash = $3 where tenant_id = $1")
        .bind(tenant)
        .bind(seq)
        .bind(&hash)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(links.len() as i64)
}

/// Seals entries every `interval` until aborted (every server runs it; see [`seal`]).
pub async fn run_sealer(db: Db, interval: std::time::Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = seal(&db).await {
            tracing::warn!(error = %e, "sealing audit entries failed");
        }
    }
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
    /// Position in the tenant's chain, from 1; None until the sealer has chained it.
    pub seq: Option<i64>,
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

/// The tenant's entries, newest first, sealed or not.
pub async fn recent(db: &Db, tenant: &str, limit: i64) -> sqlx::Result<Vec<Entry>> {
    let rows = sqlx::query(
        "select seq, actor_id, action, object, detail, created_at from audit_log where tenant_id = $1 order by id desc limit $2",
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

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Sealed entries that verified, from the first.
    pub sealed: i64,
    /// The first position whose entry is missing, edited, moved or added after the head,
    /// or whose entries past the head were taken away; None when the chain holds.
    pub broken_at: Option<i64>,
    /// Entries not sealed yet.
    pub unsealed: i64,
    /// Of those, entries written longer ago than the sealing bound: the sealer is not
    /// running, or failing.
    pub overdue: i64,
}

impl Verdict {
    /// Whether the chain holds and nothing waits past the bound.
    pub fn holds(&self) -> bool {
        self.broken_at.is_none() && self.overdue == 0
    }
}

/// How long an entry may stay unsealed: the sealer of every server runs four times a
/// second, so an entry past this bound means no sealer runs.
pub const SEAL_BOUND: std::time::Duration = std::time::Duration::from_secs(5);

/// Walks a tenant's sealed chain in order, checks every link and that the last entry is the
/// tenant's head (so taking the newest entries away is noticed too), and counts the entries
/// still waiting for the sealer.
pub async fn verify(db: &Db, tenant: &str) -> sqlx::Result<Verdict> {
    let head = sqlx::query("select seq, hash from audit_heads where tenant_id = $1")
        .bind(tenant)
        .fetch_optional(db.pool())
        .await?;
    let (head_seq, head_hash): (i64, String) = match &head {
        Some(h) => (h.try_get("seq")?, h.try_get("hash")?),
        None => (0, GENESIS.to_string()),
    };
    let rows = sqlx::query(
        "select seq, actor_id, action, object, detail, created_at, prev_hash, hash from audit_log where tenant_id = $1 and seq is not null order by seq",
    )
    .bind(tenant)
    .fetch_all(db.pool())
    .await?;
    let mut prev = GENESIS.to_string();
    let mut broken_at = None;
    let mut sealed = 0;
    for (expect_seq, r) in (1..).zip(rows.iter()) {
        let seq: i64 = r.try_get("seq")?;
        let actor: Option<String> = r.try_get("actor_id")?;
        let hash: Option<String> = r.try_get("hash")?;
        let computed = link_hash(
            &prev,
            seq,
            actor.as_deref(),
            &r.try_get::<String, _>("action")?,
            &r.try_get::<String, _>("object")?,
            &r.try_get::<String, _>("detail")?,
            &r.try_get::<String, _>("created_at")?,
        );
        if seq != expect_seq
            || r.try_get::<Option<String>, _>("prev_hash")?.as_deref() != Some(prev.as_str())
            || hash.as_deref() != Some(computed.as_str())
        {
            broken_at = Some(expect_seq);
            break;
        }
        sealed = seq;
        prev = computed;
    }
    if broken_at.is_none() && (sealed != head_seq || prev != head_hash) {
        broken_at = Some(sealed + 1);
    }
    let bound = chrono::Utc::now()
        - chrono::Duration::from_std(SEAL_BOUND).unwrap_or(chrono::Duration::seconds(5));
    let waiting = sqlx::query(
        "select count(*) as n, coalesce(sum(case when created_at < $2 then 1 else 0 end), 0) as overdue \
         from audit_log where tenant_id = $1 and seq is null",
    )
    .bind(tenant)
    .bind(super::stamp(bound))
    .fetch_one(db.pool())
    .await?;
    Ok(Verdict {
        sealed,
        broken_at,
        unsealed: waiting.try_get("n")?,
        overdue: waiting.try_get("overdue")?,
    })
}
