//! In-app notifications, the outbox that other systems (an SMS gateway) work through, and
//! the tenant's webhook targets.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use form_runtime::FieldError;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::{Actor, Body};
use crate::change::effects::{outbox_aad, EVENTS};
use crate::crypto::webhook_aad;
use crate::state::AppState;
use crate::store::notify::{self, Webhook};
use crate::store::tenants::ADMIN_ROLE;
use crate::store::{audit, new_id, now, packs, stamp};

/// Query of `GET /api/v1/notifications`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationQuery {
    unread: Option<bool>,
    page: Option<u32>,
    page_size: Option<u32>,
}

fn paging(page: Option<u32>, size: Option<u32>) -> (u32, u32) {
    (
        page.unwrap_or(1).max(1),
        size.unwrap_or(20)
            .clamp(1, form_runtime::list::MAX_PAGE_SIZE),
    )
}

/// Handles `GET /api/v1/notifications`: the user's messages, newest first, with the unread
/// count.
pub async fn list_notifications(
    State(app): State<AppState>,
    actor: Actor,
    query: Result<Query<NotificationQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query?;
    let (page, page_size) = paging(q.page, q.page_size);
    let (items, total, unread) = notify::notifications(
        &app.db,
        actor.tenant(),
        &actor.user.user_id,
        q.unread.unwrap_or(false),
        page,
        page_size,
    )
    .await?;
    Ok(Json(json!({
        "items": items, "total": total, "unread": unread, "page": page, "page_size": page_size,
    })))
}

/// Handles `POST /api/v1/notifications/{id}/read`.
pub async fn read_notification(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (tenant, user) = (actor.tenant(), actor.user.user_id.as_str());
    if !notify::has_notification(&app.db, tenant, user, &id).await? {
        return Err(ApiError::NotFound("没有这条消息".into()));
    }
    let mut tx = app.db.begin().await?;
    let changed = notify::mark_read(&mut tx, tenant, user, Some(&id), &now()).await?;
    tx.commit().await?;
    Ok(Json(json!({ "changed": changed })))
}

/// Handles `POST /api/v1/notifications/read-all`.
pub async fn read_all(State(app): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    let mut tx = app.db.begin().await?;
    let changed =
        notify::mark_read(&mut tx, actor.tenant(), &actor.user.user_id, None, &now()).await?;
    tx.commit().await?;
    Ok(Json(json!({ "changed": changed })))
}

fn admin(actor: &Actor) -> ApiResult<()> {
    if actor.roles.iter().any(|r| r == ADMIN_ROLE) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "只有本单位管理员可以管理消息投递".into(),
        ))
    }
}

/// Query of `GET /api/v1/outbox`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    channel: Option<String>,
    status: Option<String>,
    page: Option<u32>,
    page_size: Option<u32>,
}

const CHANNELS: &[&str] = &["sms", "webhook"];
const STATUSES: &[&str] = &["pending", "sending", "sent", "dead"];

fn check_one_of(ptr: &str, value: Option<&str>, allowed: &[&str]) -> ApiResult<()> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(ApiError::Invalid(vec![FieldError::new(
            ptr,
            "enum",
            format!("应为 {} 之一", allowed.join("、")),
            format!("must be one of {}", allowed.join(", ")),
        )])),
        _ => Ok(()),
    }
}

/// Handles `GET /api/v1/outbox`: the tenant's deliveries (admin), payloads left out.
pub async fn list_outbox(
    State(app): State<AppState>,
    actor: Actor,
    query: Result<Query<OutboxQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    admin(&actor)?;
    let Query(q) = query?;
    check_one_of("/query/channel", q.channel.as_deref(), CHANNELS)?;
    check_one_of("/query/status", q.status.as_deref(), STATUSES)?;
    let (page, page_size) = paging(q.page, q.page_size);
    let (items, total) = notify::outbox(
        &app.db,
        actor.tenant(),
        q.channel.as_deref(),
        q.status.as_deref(),
        page,
        page_size,
    )
    .await?;
    let items: Vec<Value> = items
        .iter()
        .map(|m| {
            let mut v = json!(m);
            v["target"] = json!(m.target);
            v
        })
        .collect();
    Ok(Json(
        json!({"items": items, "total": total, "page": page, "page_size": page_size}),
    ))
}

/// Body of `POST /api/v1/outbox/claim`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// Only `sms`: webhooks are sent by the server itself.
    channel: String,
    /// At most this many (default 50, at most 500).
    limit: Option<u32>,
    /// How long the claim lasts before the messages may be claimed again (default 300 s).
    lease_secs: Option<u32>,
}

/// Handles `POST /api/v1/outbox/claim`: an SMS gateway takes due messages, in clear, for a
/// lease; it reports each one's result with `POST /api/v1/outbox/{id}/result`.
pub async fn claim(
    State(app): State<AppState>,
    actor: Actor,
    Body(req): Body<ClaimRequest>,
) -> ApiResult<Json<Value>> {
    admin(&actor)?;
    check_one_of("/channel", Some(&req.channel), &["sms"])?;
    let tenant = actor.tenant();
    let keys = app.keys.tenant(&app.db, tenant).await?;
    let limit = i64::from(req.limit.unwrap_or(50).clamp(1, 500));
    let lease = chrono::Duration::seconds(i64::from(req.lease_secs.unwrap_or(300).clamp(10, 3600)));
    let at = chrono::Utc::now();
    let claimed = notify::claim(
        &app.db,
        Some(tenant),
        &req.channel,
        &stamp(at),
        &stamp(at + lease),
        limit,
    )
    .await?;
    let mut items = Vec::new();
    for m in &claimed {
        let clear = keys
            .open(&outbox_aad(tenant, &m.id), &m.payload)
            .map_err(|_| anyhow::anyhow!("outbox message {} does not open", m.id))?;
        let payload: Value = serde_json::from_str(&clear).map_err(anyhow::Error::from)?;
        items.push(json!({
            "id": m.id, "to": payload["to"], "text": payload["text"], "attempts": m.attempts,
            "record_id": m.record_id, "lease_until": stamp(at + lease),
        }));
    }
    let mut tx = app.db.begin().await?;
    let ids: Vec<(&str, Value)> = claimed
        .iter()
        .map(|m| (m.id.as_str(), json!({"channel": m.channel})))
        .collect();
    audit::append_many(
        &mut tx,
        tenant,
        Some(&actor.user.user_id),
        "outbox.claim",
        &ids,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({ "items": items })))
}

/// Body of `POST /api/v1/outbox/{id}/result`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultRequest {
    /// Whether the message went out.
    delivered: bool,
    /// Why not.
    error: Option<String>,
}

/// Handles `POST /api/v1/outbox/{id}/result`: delivered, or failed (retried later with a
/// growing delay, until it is dead).
pub async fn report(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    Body(req): Body<ResultRequest>,
) -> ApiResult<Json<Value>> {
    admin(&actor)?;
    let tenant = actor.tenant();
    let m = notify::outbox_message(&app.db, tenant, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound("没有这条投递".into()))?;
    let at = chrono::Utc::now();
    let stamp = crate::store::stamp(at);
    let error = req
        .error
        .unwrap_or_else(|| "the gateway reported a failure".into());
    let next = crate::outbox::next_attempt(m.attempts, std::time::Duration::from_secs(60), at);
    let mut tx = app.db.begin().await?;
    let outcome = if req.delivered {
        Ok(stamp.as_str())
    } else {
        Err((error.as_str(), next.as_deref()))
    };
    if !notify::finish(&mut tx, tenant, &id, outcome).await? {
        return Err(ApiError::Conflict {
            code: "not_claimed",
            message: format!("这条投递现在是「{}」，不在发送中", m.status),
        });
    }
    tx.commit().await?;
    let m = notify::outbox_message(&app.db, tenant, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound("没有这条投递".into()))?;
    Ok(Json(json!(m)))
}

/// Body of `POST /api/v1/webhooks`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// `https://…` (or `http://…`) address that receives POSTs.
    url: String,
    /// Events to receive; empty or absent: all.
    #[serde(default)]
    events: Vec<String>,
    /// Forms to follow; empty or absent: all.
    #[serde(default)]
    forms: Vec<String>,
}

/// Handles `GET /api/v1/webhooks` (admin).
pub async fn list_webhooks(State(app): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    admin(&actor)?;
    let items = notify::webhooks(&app.db, actor.tenant()).await?;
    Ok(Json(json!({ "items": items })))
}

/// Handles `POST /api/v1/webhooks` (admin): answers the signing secret, this once.
pub async fn add_webhook(
    State(app): State<AppState>,
    actor: Actor,
    Body(req): Body<NewWebhook>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    admin(&actor)?;
    let tenant = actor.tenant();
    let mut errs = Vec::new();
    match url::Url::parse(&req.url) {
        Ok(u) if ["http", "https"].contains(&u.scheme()) && u.host().is_some() => {}
        _ => errs.push(FieldError::new(
            "/url",
            "format",
            "应为 http:// 或 https:// 开头的地址",
            "must be an http:// or https:// address",
        )),
    }
    for (i, e) in req.events.iter().enumerate() {
        if !EVENTS.contains(&e.as_str()) {
            errs.push(FieldError::new(
                format!("/events/{i}"),
                "enum",
                format!("未知事件「{e}」，应为 {} 之一", EVENTS.join("、")),
                format!("unknown event `{e}`; one of {}", EVENTS.join(", ")),
            ));
        }
    }
    let forms: Vec<String> = packs::forms(&app.db, tenant)
        .await?
        .into_iter()
        .map(|(k, _, _)| k)
        .collect();
    for (i, f) in req.forms.iter().enumerate() {
        if !forms.contains(f) {
            errs.push(FieldError::new(
                format!("/forms/{i}"),
                "enum",
                format!("没有表单「{f}」"),
                format!("there is no form `{f}`"),
            ));
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::Invalid(errs));
    }
    let keys = app.keys.tenant(&app.db, tenant).await?;
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let secret = hex::encode(raw);
    let id = new_id();
    let hook = Webhook {
        secret: keys.seal(&webhook_aad(tenant, &id), &secret),
        id,
        url: req.url,
        events: req.events,
        forms: req.forms,
        created_at: now(),
    };
    let mut tx = app.db.begin().await?;
    notify::add_webhook(&mut tx, tenant, &hook).await?;
    audit::append(
        &mut tx,
        tenant,
        Some(&actor.user.user_id),
        "webhook.add",
        &hook.id,
        &json!({"url": hook.url, "events": hook.events, "forms": hook.forms}),
    )
    .await?;
    tx.commit().await?;
    let mut v = json!(hook);
    v["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(v)))
}

/// Handles `DELETE /api/v1/webhooks/{id}` (admin).
pub async fn remove_webhook(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin(&actor)?;
    let tenant = actor.tenant();
    let mut tx = app.db.begin().await?;
    if !notify::remove_webhook(&mut tx, tenant, &id).await? {
        return Err(ApiError::NotFound("没有这个 webhook".into()));
    }
    audit::append(
        &mut tx,
        tenant,
        Some(&actor.user.user_id),
        "webhook.remove",
        &id,
        &json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
