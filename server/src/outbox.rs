//! The webhook sender: delivers the outbox's webhook messages, signed, with retries.
//!
//! Every server runs it. A message is claimed with a lease before it is sent, so two servers
//! never send it at the same time; a server that dies mid-send leaves the lease to run out
//! and another sends it again. Delivery is therefore at least once: receivers recognise a
//! repeat by the `X-Formwork-Delivery` id. A failed attempt (no answer, or not 2xx) is
//! retried after `base × 2^(attempt-1)`, at most six hours apart, up to [`MAX_ATTEMPTS`];
//! then the message is `dead` and shows so in the outbox.

use std::time::Duration;

use crate::crypto::{webhook_aad, webhook_signature};
use crate::state::AppState;
use crate::store::{notify, stamp};

/// Attempts before a message is given up.
pub const MAX_ATTEMPTS: i64 = 8;

/// How long a claim lasts before another server may take the message again.
pub const LEASE_SECS: i64 = 60;

/// When the attempt after `attempts` failed ones is due, or None when they are used up.
pub fn next_attempt(
    attempts: i64,
    base: Duration,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<String> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let factor = 1u32 << (attempts.clamp(1, 20) - 1);
    let wait = base
        .saturating_mul(factor)
        .min(Duration::from_secs(6 * 3600));
    let at = now + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::hours(6));
    Some(stamp(at))
}

/// Runs the sender every `every` until the process ends.
pub async fn run(app: AppState, every: Duration, retry_base: Duration) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = ?e, "cannot build the webhook client; webhooks stay queued");
            return;
        }
    };
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = deliver_due(&app, &client, retry_base).await {
            tracing::warn!(error = ?e, "webhook round failed; retrying next round");
        }
    }
}

/// Sends every webhook message due now; returns how many were delivered.
pub async fn deliver_due(
    app: &AppState,
    client: &reqwest::Client,
    retry_base: Duration,
) -> anyhow::Result<usize> {
    let now = chrono::Utc::now();
    let lease = stamp(now + chrono::Duration::seconds(LEASE_SECS));
    let claimed = notify::claim(&app.db, None, "webhook", &stamp(now), &lease, 50).await?;
    let mut delivered = 0;
    for m in claimed {
        let outcome = send(app, client, &m).await;
        let finished = chrono::Utc::now();
        let mut tx = app.db.begin().await?;
        match &outcome {
            Ok(()) => {
                notify::finish(&mut tx, &m.tenant, &m.id, Ok(&stamp(finished))).await?;
                delivered += 1;
            }
            Err(e) => {
                let next = next_attempt(m.attempts, retry_base, finished);
                tracing::info!(message = %m.id, attempts = m.attempts, error = %e, "webhook delivery failed");
                notify::finish(&mut tx, &m.tenant, &m.id, Err((e, next.as_deref()))).await?;
            }
        }
        tx.commit().await?;
    }
    Ok(delivered)
}

async fn send(
    app: &AppState,
    client: &reqwest::Client,
    m: &notify::OutboxRow,
) -> Result<(), String> {
    let hook = notify::webhook(&app.db, &m.tenant, &m.target)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "the webhook was removed".to_string())?;
    let keys = app
        .keys
        .tenant(&app.db, &m.tenant)
        .await
        .map_err(|e| e.to_string())?;
    let secret = keys
        .open(&webhook_aad(&m.tenant, &hook.id), &hook.secret)
        .map_err(|_| "the webhook secret does not open".to_string())?;
    let event = serde_json::from_str::<serde_json::Value>(&m.payload)
        .ok()
        .and_then(|v| v.get("event").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_default();
    let ts = chrono::Utc::now().timestamp();
    let resp = client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("x-formwork-delivery", &m.id)
        .header("x-formwork-event", event)
        .header(
            "x-formwork-signature",
            webhook_signature(&secret, ts, &m.payload),
        )
        .body(m.payload.clone())
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("answered {}", resp.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_stop() {
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let base = Duration::from_secs(10);
        assert_eq!(
            next_attempt(1, base, t0).unwrap(),
            "2026-01-01T00:00:10.000000Z"
        );
        assert_eq!(
            next_attempt(3, base, t0).unwrap(),
            "2026-01-01T00:00:40.000000Z"
        );
        // Capped at six hours apart.
        assert_eq!(
            next_attempt(7, Duration::from_secs(3600), t0).unwrap(),
            "2026-01-01T06:00:00.000000Z"
        );
        assert_eq!(next_attempt(MAX_ATTEMPTS, base, t0), None);
    }
}
