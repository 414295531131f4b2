//! In-app notifications, the outbox of deliveries to other systems, webhook targets and the
//! documents kept with records.
//!
//! Rows that a change causes (a message, a delivery, a kept document) are written in the
//! transaction of that change: either both are stored or neither.

use serde::Serialize;
use sqlx::Row;

use super::{new_id, Db, Tx};

/// An in-app message.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// Its id.
    pub id: String,
    /// `task` (the user can act on a record now) or `message` (a pack's `notify` effect).
    pub kind: String,
    /// Heading.
    pub title: String,
    /// Text.
    pub body: String,
    /// The record it is about.
    pub record_id: Option<String>,
    /// When it was written.
    pub created_at: String,
    /// When the user marked it read.
    pub read_at: Option<String>,
}

/// A message to write.
pub struct NewNotification<'a> {
    /// Recipient.
    pub user_id: &'a str,
    /// `task` or `message`.
    pub kind: &'a str,
    /// Heading.
    pub title: &'a str,
    /// Text.
    pub body: &'a str,
    /// The record it is about.
    pub record_id: Option<&'a str>,
}

/// Writes in-app messages.
pub async fn notify(
    tx: &mut Tx,
    tenant: &str,
    items: &[NewNotification<'_>],
    at: &str,
) -> sqlx::Result<()> {
    for n in items {
        sqlx::query(
            "insert into notifications (tenant_id, notification_id, user_id, kind, title, body, record_id, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tenant)
        .bind(new_id())
        .bind(n.user_id)
        .bind(n.kind)
        .bind(n.title)
        .bind(n.body)
        .bind(n.record_id)
        .bind(at)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// A page of a user's messages, newest first, with the total and the unread count.
pub async fn notifications(
    db: &Db,
    tenant: &str,
    user_id: &str,
    unread_only: bool,
    page: u32,
    page_size: u32,
) -> anyhow::Result<(Vec<Notification>, i64, i64)> {
    let filter = if unread_only {
        " and read_at is null"
    } else {
        ""
    };
    let rows = sqlx::query(&format!(
        "select notification_id, kind, title, body, record_id, created_at, read_at from notifications \
         where tenant_id = $1 and user_id = $2{filter} order by created_at desc, notification_id desc limit $3 offset $4"
    ))
    .bind(tenant)
    .bind(user_id)
    .bind(i64::from(page_size))
    .bind(i64::from(page.saturating_sub(1)) * i64::from(page_size))
    .fetch_all(db.pool())
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(Notification {
                id: r.try_get("notification_id")?,
                kind: r.try_get("kind")?,
                title: r.try_get("title")?,
                body: r.try_get("body")?,
                record_id: r.try_get("record_id")?,
                created_at: r.try_get("created_at")?,
                read_at: r.try_get("read_at")?,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
    let counts = sqlx::query(
        "select count(*) as total, coalesce(sum(case when read_at is null then 1 else 0 end), 0) as unread \
         from notifications where tenant_id = $1 and user_id = $2",
    )
    .bind(tenant)
    .bind(user_id)
    .fetch_one(db.pool())
    .await?;
    let total: i64 = counts.try_get("total")?;
    let unread: i64 = counts.try_get("unread")?;
    let total = if unread_only { unread } else { total };
    Ok((items, total, unread))
}

/// Marks one of the user's messages (or all of them, with `id` None) read; returns how many
/// changed.
pub async fn mark_read(
    tx: &mut Tx,
    tenant: &str,
    user_id: &str,
    id: Option<&str>,
    at: &str,
) -> sqlx::Result<u64> {
    let r = match id {
        Some(id) => sqlx::query(
            "update notifications set read_at = $4 where tenant_id = $1 and user_id = $2 and notification_id = $3 and read_at is null",
        )
        .bind(tenant)
        .bind(user_id)
        .bind(id)
        .bind(at)
        .execute(tx.conn())
        .await?,
        None => sqlx::query(
            "update notifications set read_at = $3 where tenant_id = $1 and user_id = $2 and read_at is null",
        )
        .bind(tenant)
        .bind(user_id)
        .bind(at)
        .execute(tx.conn())
        .await?,
    };
    Ok(r.rows_affected())
}

/// Whether the user has a message with this id.
pub async fn has_notification(
    db: &Db,
    tenant: &str,
    user_id: &str,
    id: &str,
) -> sqlx::Result<bool> {
    let row = sqlx::query(
        "select 1 as one from notifications where tenant_id = $1 and user_id = $2 and notification_id = $3",
    )
    .bind(tenant)
    .bind(user_id)
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.is_some())
}

/// A user who holds `role` in the tenant, with their org unit's path.
#[derive(Debug, Clone)]
pub struct Holder {
    /// User id.
    pub user_id: String,
    /// Materialised path of their unit.
    pub org_path: String,
}

/// Unlocked users holding `role` (servers cache them: `crate::catalog::Catalog::holders`).
pub async fn holders(tx: &mut Tx, tenant: &str, role: &str) -> sqlx::Result<Vec<Holder>> {
    let rows = sqlx::query(
        "select u.user_id, o.path from casbin_rule c \
         join users u on u.tenant_id = c.tenant_id and u.user_id = c.v0 \
         join org_units o on o.tenant_id = u.tenant_id and o.unit_id = u.unit_id \
         where c.tenant_id = $1 and c.ptype = 'g' and c.v1 = $2 and c.v2 = $1 and u.locked = 0 \
         order by u.user_id",
    )
    .bind(tenant)
    .bind(role)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Holder {
                user_id: r.try_get("user_id")?,
                org_path: r.try_get("path")?,
            })
        })
        .collect()
}

/// An outbox row.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    /// Tenant.
    #[serde(skip)]
    pub tenant: String,
    /// Message id: a receiver uses it to recognise a repeated delivery.
    pub id: String,
    /// `sms` or `webhook`.
    pub channel: String,
    /// Phone number (sealed for SMS) or webhook id.
    #[serde(skip)]
    pub target: String,
    /// The message (sealed for SMS).
    #[serde(skip)]
    pub payload: String,
    /// The record it is about.
    pub record_id: Option<String>,
    /// `pending`, `sending`, `sent` or `dead`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Earliest time of the next attempt.
    pub next_attempt_at: String,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Written at.
    pub created_at: String,
    /// Delivered at.
    pub sent_at: Option<String>,
}

const OUTBOX_COLUMNS: &str = "tenant_id, message_id, channel, target, payload, record_id, status, attempts, next_attempt_at, last_error, created_at, sent_at";

fn outbox_row(r: &sqlx::any::AnyRow) -> sqlx::Result<OutboxRow> {
    Ok(OutboxRow {
        tenant: r.try_get("tenant_id")?,
        id: r.try_get("message_id")?,
        channel: r.try_get("channel")?,
        target: r.try_get("target")?,
        payload: r.try_get("payload")?,
        record_id: r.try_get("record_id")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        sent_at: r.try_get("sent_at")?,
    })
}

/// Drops the messages still queued for `record`: demo records text and call nobody.
pub async fn drop_queued(db: &Db, tenant: &str, record: &str) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "delete from outbox where tenant_id = $1 and record_id = $2 and status = 'pending'",
    )
    .bind(tenant)
    .bind(record)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}

/// Queues a delivery with a caller-chosen id (SMS payloads are sealed bound to it).
#[allow(clippy::too_many_arguments)]
pub async fn enqueue(
    tx: &mut Tx,
    tenant: &str,
    id: &str,
    channel: &str,
    target: &str,
    payload: &str,
    record_id: Option<&str>,
    at: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into outbox (tenant_id, message_id, channel, target, payload, record_id, status, attempts, next_attempt_at, created_at) \
         values ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)",
    )
    .bind(tenant)
    .bind(id)
    .bind(channel)
    .bind(target)
    .bind(payload)
    .bind(record_id)
    .bind(at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Claims up to `limit` due deliveries of `channel` (of one tenant, or of all with None) for
/// `lease_until`: each is taken with a conditional update, so two claimers never get the same
/// row. Every claim counts as an attempt.
pub async fn claim(
    db: &Db,
    tenant: Option<&str>,
    channel: &str,
    now: &str,
    lease_until: &str,
    limit: i64,
) -> sqlx::Result<Vec<OutboxRow>> {
    let due = "channel = $1 and status in ('pending', 'sending') and next_attempt_at <= $2 \
               and (claimed_until is null or claimed_until <= $2)";
    let candidates = match tenant {
        Some(t) => {
            sqlx::query(&format!(
                "select {OUTBOX_COLUMNS} from outbox where {due} and tenant_id = $4 order by next_attempt_at limit $3"
            ))
            .bind(channel)
            .bind(now)
            .bind(limit)
            .bind(t)
            .fetch_all(db.pool())
            .await?
        }
        None => {
            sqlx::query(&format!(
                "select {OUTBOX_COLUMNS} from outbox where {due} order by next_attempt_at limit $3"
            ))
            .bind(channel)
            .bind(now)
            .bind(limit)
            .fetch_all(db.pool())
            .await?
        }
    };
    let mut out = Vec::new();
    for r in &candidates {
        let mut row = outbox_row(r)?;
        let mut tx = db.begin().await?;
        let taken = sqlx::query(
            "update outbox set status = 'sending', claimed_until = $4, attempts = attempts + 1 \
             where tenant_id = $1 and message_id = $2 and attempts = $3 and status in ('pending', 'sending') \
             and (claimed_until is null or claimed_until <= $5)",
        )
        .bind(&row.tenant)
        .bind(&row.id)
        .bind(row.attempts)
        .bind(lease_until)
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        if taken {
            row.status = "sending".into();
            row.attempts += 1;
            out.push(row);
        }
    }
    Ok(out)
}

/// Records the outcome of a claimed attempt: delivered, or failed with the time of the next
/// attempt (None: no more attempts, the message is dead). False when the row was not in
/// `sending` (an unknown id, or a result reported twice).
pub async fn finish(
    tx: &mut Tx,
    tenant: &str,
    id: &str,
    outcome: Result<&str, (&str, Option<&str>)>,
) -> sqlx::Result<bool> {
    let r = match outcome {
        Ok(at) => sqlx::query(
            "update outbox set status = 'sent', sent_at = $3, claimed_until = null, last_error = null \
             where tenant_id = $1 and message_id = $2 and status = 'sending'",
        )
        .bind(tenant)
        .bind(id)
        .bind(at)
        .execute(tx.conn())
        .await?,
        Err((error, next)) => sqlx::query(
            "update outbox set status = $3, next_attempt_at = coalesce($4, next_attempt_at), claimed_until = null, last_error = $5 \
             where tenant_id = $1 and message_id = $2 and status = 'sending'",
        )
        .bind(tenant)
        .bind(id)
        .bind(if next.is_some() { "pending" } else { "dead" })
        .bind(next)
        .bind(error)
        .execute(tx.conn())
        .await?,
    };
    Ok(r.rows_affected() == 1)
}

/// One delivery of a tenant.
pub async fn outbox_message(db: &Db, tenant: &str, id: &str) -> sqlx::Result<Option<OutboxRow>> {
    let r = sqlx::query(&format!(
        "select {OUTBOX_COLUMNS} from outbox where tenant_id = $1 and message_id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    r.as_ref().map(outbox_row).transpose()
}

/// A page of a tenant's deliveries, newest first, optionally of one channel and status.
pub async fn outbox(
    db: &Db,
    tenant: &str,
    channel: Option<&str>,
    status: Option<&str>,
    page: u32,
    page_size: u32,
) -> sqlx::Result<(Vec<OutboxRow>, i64)> {
    let cond = "tenant_id = $1 and ($2 = '' or channel = $2) and ($3 = '' or status = $3)";
    let rows = sqlx::query(&format!(
        "select {OUTBOX_COLUMNS} from outbox where {cond} order by created_at desc, message_id desc limit $4 offset $5"
    ))
    .bind(tenant)
    .bind(channel.unwrap_or(""))
    .bind(status.unwrap_or(""))
    .bind(i64::from(page_size))
    .bind(i64::from(page.saturating_sub(1)) * i64::from(page_size))
    .fetch_all(db.pool())
    .await?;
    let total: i64 = sqlx::query(&format!("select count(*) as n from outbox where {cond}"))
        .bind(tenant)
        .bind(channel.unwrap_or(""))
        .bind(status.unwrap_or(""))
        .fetch_one(db.pool())
        .await?
        .try_get("n")?;
    Ok((
        rows.iter().map(outbox_row).collect::<sqlx::Result<_>>()?,
        total,
    ))
}

/// A webhook target.
#[derive(Debug, Clone, Serialize)]
pub struct Webhook {
    /// Its id.
    pub id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The signing secret, sealed with the tenant's data key.
    #[serde(skip)]
    pub secret: String,
    /// Events it receives (`record.created`, `record.transition`); empty: all.
    pub events: Vec<String>,
    /// Forms whose records it follows; empty: all.
    pub forms: Vec<String>,
    /// Created at.
    pub created_at: String,
}

/// Adds a webhook.
pub async fn add_webhook(tx: &mut Tx, tenant: &str, w: &Webhook) -> anyhow::Result<()> {
    tx.cached_changed(tenant);
    sqlx::query(
        "insert into webhooks (tenant_id, webhook_id, url, secret, events, forms, active, created_at) values ($1, $2, $3, $4, $5, $6, 1, $7)",
    )
    .bind(tenant)
    .bind(&w.id)
    .bind(&w.url)
    .bind(&w.secret)
    .bind(serde_json::to_string(&w.events)?)
    .bind(serde_json::to_string(&w.forms)?)
    .bind(&w.created_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Removes a webhook (its queued deliveries die with the next attempt); false when unknown.
pub async fn remove_webhook(tx: &mut Tx, tenant: &str, id: &str) -> sqlx::Result<bool> {
    tx.cached_changed(tenant);
    let r = sqlx::query("delete from webhooks where tenant_id = $1 and webhook_id = $2")
        .bind(tenant)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(r.rows_affected() == 1)
}

fn webhook_row(r: &sqlx::any::AnyRow) -> anyhow::Result<Webhook> {
    Ok(Webhook {
        id: r.try_get("webhook_id")?,
        url: r.try_get("url")?,
        secret: r.try_get("secret")?,
        events: serde_json::from_str(&r.try_get::<String, _>("events")?)?,
        forms: serde_json::from_str(&r.try_get::<String, _>("forms")?)?,
        created_at: r.try_get("created_at")?,
    })
}

/// The tenant's webhooks, oldest first; read in the caller's transaction when given.
pub async fn webhooks(db: &Db, tenant: &str) -> anyhow::Result<Vec<Webhook>> {
    let rows = sqlx::query(
        "select webhook_id, url, secret, events, forms, created_at from webhooks where tenant_id = $1 and active = 1 order by created_at, webhook_id",
    )
    .bind(tenant)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(webhook_row).collect()
}

/// The tenant's webhooks, read in a transaction.
pub async fn webhooks_in(tx: &mut Tx, tenant: &str) -> anyhow::Result<Vec<Webhook>> {
    let rows = sqlx::query(
        "select webhook_id, url, secret, events, forms, created_at from webhooks where tenant_id = $1 and active = 1 order by created_at, webhook_id",
    )
    .bind(tenant)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(webhook_row).collect()
}

/// One webhook.
pub async fn webhook(db: &Db, tenant: &str, id: &str) -> anyhow::Result<Option<Webhook>> {
    let row = sqlx::query(
        "select webhook_id, url, secret, events, forms, created_at from webhooks where tenant_id = $1 and webhook_id = $2 and active = 1",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(webhook_row).transpose()
}

/// A document kept with a record.
#[derive(Debug, Clone, Serialize)]
pub struct KeptDocument {
    /// Its id.
    pub id: String,
    /// The document's key in the pack.
    pub key: String,
    /// Its title.
    pub label: String,
    /// The transition that rendered it.
    pub action: String,
    /// SHA-256 of the HTML, hex.
    pub sha256: String,
    /// Who fired the transition.
    pub created_by: String,
    /// When.
    pub created_at: String,
    /// The HTML (left out of listings).
    #[serde(skip)]
    pub html: String,
}

/// Keeps a rendered document with its record.
pub async fn keep_document(
    tx: &mut Tx,
    tenant: &str,
    record_id: &str,
    d: &KeptDocument,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into record_documents (tenant_id, document_id, record_id, doc_key, label, action, html, sha256, created_by, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(tenant)
    .bind(&d.id)
    .bind(record_id)
    .bind(&d.key)
    .bind(&d.label)
    .bind(&d.action)
    .bind(&d.html)
    .bind(&d.sha256)
    .bind(&d.created_by)
    .bind(&d.created_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The documents kept with a record, oldest first (with their HTML when `html`).
pub async fn kept_documents(
    db: &Db,
    tenant: &str,
    record_id: &str,
    id: Option<&str>,
) -> sqlx::Result<Vec<KeptDocument>> {
    let rows = sqlx::query(
        "select document_id, doc_key, label, action, html, sha256, created_by, created_at from record_documents \
         where tenant_id = $1 and record_id = $2 and ($3 = '' or document_id = $3) order by created_at, document_id",
    )
    .bind(tenant)
    .bind(record_id)
    .bind(id.unwrap_or(""))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(KeptDocument {
                id: r.try_get("document_id")?,
                key: r.try_get("doc_key")?,
                label: r.try_get("label")?,
                action: r.try_get("action")?,
                sha256: r.try_get("sha256")?,
                created_by: r.try_get("created_by")?,
                created_at: r.try_get("created_at")?,
                html: r.try_get("html")?,
            })
        })
        .collect()
}
