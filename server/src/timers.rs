//! The timer job: fires the `timer` of workflow states when they fall due.
//!
//! Every server runs it. A due timer is claimed with a conditional update inside the same
//! transaction as its transition, so it fires exactly once even with several servers on one
//! database; a failure rolls the claim back and the next round tries again.

use std::time::Duration;

use form_runtime::workflow::Workflow;
use serde_json::json;

use crate::change::effects;
use crate::state::AppState;
use crate::store::records::{self, NewEvent, RecordWrite};
use crate::store::{audit, now, Tx};
use form_runtime::sensitive::redact;

/// The actor id written for what the system does by itself.
pub const SYSTEM: &str = "system";

/// The due time of `state`'s timer for a record entering it at `at`, if the state has one.
pub fn schedule(workflow: &Workflow, state: &str, at: &str) -> Option<(String, String)> {
    let t = workflow.state(state)?.timer.as_ref()?;
    let entered = chrono::DateTime::parse_from_rfc3339(at).ok()?;
    let due = entered + chrono::Duration::seconds(t.seconds()?);
    Some((
        t.action.clone(),
        crate::store::stamp(due.with_timezone(&chrono::Utc)),
    ))
}

/// Replaces a record's timer for the state it enters at `at`.
pub async fn enter(
    tx: &mut Tx,
    tenant: &str,
    record_id: &str,
    workflow: &Workflow,
    state: &str,
    at: &str,
) -> sqlx::Result<()> {
    let due = schedule(workflow, state, at);
    let timer = due.as_ref().map(|(a, d)| (state, a.as_str(), d.as_str()));
    records::set_timer(tx, tenant, record_id, timer).await
}

/// Sets the timer of a record created at `at` in `state` (it has none to replace).
pub async fn start(
    tx: &mut Tx,
    tenant: &str,
    record_id: &str,
    workflow: &Workflow,
    state: &str,
    at: &str,
) -> sqlx::Result<()> {
    let due = schedule(workflow, state, at);
    let timer = due.as_ref().map(|(a, d)| (state, a.as_str(), d.as_str()));
    records::add_timer(tx, tenant, record_id, timer).await
}

/// Runs the job every `every` until the process ends.
pub async fn run(app: AppState, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = fire_due(&app).await {
            tracing::warn!(error = ?e, "timer round failed; retrying next round");
        }
        if let Err(e) = crate::change::exports::sweep(&app).await {
            tracing::warn!(error = ?e, "export clean-up failed; retrying next round");
        }
    }
}

/// Fires every timer due now; returns how many this process fired.
pub async fn fire_due(app: &AppState) -> anyhow::Result<usize> {
    let at = now();
    let mut fired = 0;
    for (tenant, record_id, state, action) in records::due_timers(&app.db, &at, 100).await? {
        let mut tx = app.db.begin().await?;
        if !records::claim_timer(&mut tx, &tenant, &record_id, &state, &at).await? {
            continue; // another server took it
        }
        let Some(row) = records::fetch_any(&mut tx, &tenant, &record_id).await? else {
            continue;
        };
        let Some(form) = app
            .catalog
            .form(&app.db, &tenant, &row.form_key, Some(row.form_version))
            .await?
        else {
            continue;
        };
        let Some(t) = form
            .workflow
            .transition(&state, &action)
            .filter(|_| row.state == state)
        else {
            // The record left the state by other means: the claim stands, nothing fires.
            tx.commit().await?;
            continue;
        };
        let to = t.to.clone();
        let w = RecordWrite {
            state: &to,
            form_version: row.form_version,
            data: &row.data,
            at: &at,
        };
        if !records::update(&mut tx, &tenant, &row.id, row.version, &w).await? {
            continue; // changed meanwhile; the claim rolls back and the next round retries
        }
        let ev = NewEvent {
            kind: "transition",
            action: Some(&action),
            from_state: Some(&state),
            to_state: Some(&to),
            actor_id: SYSTEM,
            comment: Some("到期自动执行 / fired by its deadline"),
            changes: None,
            at: &at,
        };
        records::add_event(&mut tx, &tenant, &row.id, &ev).await?;
        audit::append(
            &mut tx,
            &tenant,
            None,
            &format!("record.timer.{action}"),
            &row.id,
            &json!({"from": state, "to": to}),
        )
        .await?;
        enter(&mut tx, &tenant, &row.id, &form.workflow, &to, &at).await?;
        // Tasks and webhooks as for any transition; the state's own effects do not run. The
        // stored data is sealed: sensitive values leave as `***`.
        let outward = effects::Outward::load(app, &tenant, &form, row.form_version, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let moved = records::RecordRow {
            data: redact(&crate::change::sensitive::paths(&form), &row.data),
            state: to.clone(),
            version: row.version + 1,
            updated_at: at.clone(),
            ..row.clone()
        };
        let zone = crate::store::tenants::time_zone(&mut tx, &tenant).await?;
        let happened = effects::Happened {
            tenant: &tenant,
            actor_id: SYSTEM,
            actor_name: "系统",
            form: &form,
            record: &moved,
            event: "record.transition",
            transition: Some((&state, &action)),
            run_effects: false,
            at: &at,
            zone,
            comment: None,
        };
        effects::apply(&mut tx, app, &outward, &happened)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        tx.commit().await?;
        fired += 1;
    }
    Ok(fired)
}
