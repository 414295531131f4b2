//! One truth across servers: what a server caches of a tenant is never older than the
//! tenant's revision it has seen.
//!
//! Each server keeps, per process, the tenant's grants and policies (the Casbin enforcer)
//! and its catalog (latest form versions, lists, roles, role holders, webhooks). Every
//! change to any of them raises the tenant's `revision` in the change's own transaction
//! ([`crate::store::Tx::cached_changed`]). Three things keep the copies in step:
//!
//! 1. **On the request path.** The session lookup that resolves every request reads the
//!    tenant's revision in the same query. A server whose copy is older reloads the tenant
//!    before it answers, so a request never runs on grants older than the last change that
//!    committed before the request arrived, whichever server made it.
//! 2. **Announcements.** On PostgreSQL the change's commit announces the tenant on
//!    [`crate::store::CHANGES_CHANNEL`] (`NOTIFY`); every server listens and reloads within
//!    milliseconds, so background work (timers, the webhook sender) follows too.
//! 3. **A periodic check** of every tenant's revision (default once a second), the safety
//!    net for a lost listening connection and the only mechanism on SQLite.
//!
//! A reload reads the revision first and the definitions after, so the revision recorded as
//! applied is never newer than what was loaded.

use std::collections::HashMap;
use std::time::Duration;

use crate::state::Inner;
use form_runtime::sql::Dialect;

use crate::store::{tenants, CHANGES_CHANNEL};

/// The revision of each tenant this server's caches hold.
#[derive(Default)]
pub struct Revisions {
    applied: std::sync::Mutex<HashMap<String, i64>>,
    /// One reload at a time: two reloads of a tenant that interleave could otherwise apply
    /// the older reading last.
    reloading: tokio::sync::Mutex<()>,
}

impl Revisions {
    /// Every tenant's revision, read before the caches are first loaded.
    pub async fn read(db: &crate::store::Db) -> anyhow::Result<Revisions> {
        let r = Revisions::default();
        let read = tenants::revisions(db).await?;
        r.lock().extend(read);
        Ok(r)
    }

    /// The revision this server holds of `tenant`, if it has loaded it.
    pub fn applied(&self, tenant: &str) -> Option<i64> {
        self.lock().get(tenant).copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.applied
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Makes this server's copy of `tenant` at least as new as revision `seen`: at once when it
/// is, else after reloading the tenant's grants, policies and catalog.
pub async fn keep_current(app: &Inner, tenant: &str, seen: i64) -> anyhow::Result<()> {
    if app.revisions.applied(tenant).is_some_and(|a| a >= seen) {
        return Ok(());
    }
    reload(app, tenant, seen).await
}

/// Brings `tenant` up to its current revision: after a change this server made itself, or
/// one another server announced.
pub async fn refresh(app: &Inner, tenant: &str) -> anyhow::Result<()> {
    match tenants::revision(&app.db, tenant).await? {
        Some(r) => keep_current(app, tenant, r).await,
        None => Ok(()),
    }
}

async fn reload(app: &Inner, tenant: &str, seen: i64) -> anyhow::Result<()> {
    let _one = app.revisions.reloading.lock().await;
    // Another request may have reloaded while this one waited.
    if app.revisions.applied(tenant).is_some_and(|a| a >= seen) {
        return Ok(());
    }
    let Some(revision) = tenants::revision(&app.db, tenant).await? else {
        return Ok(());
    };
    app.catalog.invalidate(tenant);
    app.authz.reload(&app.db, Some(tenant)).await?;
    let mut applied = app.revisions.lock();
    let e = applied.entry(tenant.to_string()).or_insert(revision);
    *e = (*e).max(revision);
    tracing::debug!(tenant, revision, "reloaded the tenant's definitions");
    Ok(())
}

/// Compares every tenant's revision with this server's copy and reloads the older ones.
pub async fn check_all(app: &Inner) -> anyhow::Result<()> {
    for (tenant, revision) in tenants::revisions(&app.db).await? {
        keep_current(app, &tenant, revision).await?;
    }
    Ok(())
}

/// Keeps this server in step with the others until aborted: listens for announcements on
/// PostgreSQL and checks every revision each `interval`.
pub async fn run(app: crate::state::AppState, interval: Duration) {
    let listener =
        (app.db.dialect() == Dialect::Postgres).then(|| tokio::spawn(listen(app.clone())));
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = check_all(&app).await {
            tracing::warn!(error = %e, "checking the tenants' revisions failed");
        }
        if listener.as_ref().is_some_and(|l| l.is_finished()) {
            tracing::warn!("the change listener stopped; relying on the periodic check");
        }
    }
}

/// Listens on [`CHANGES_CHANNEL`] and reloads each announced tenant; reconnects after a
/// lost connection, checking every tenant once it is back (announcements sent meanwhile
/// were lost with it).
async fn listen(app: crate::state::AppState) {
    loop {
        match sqlx::postgres::PgListener::connect(app.db.url()).await {
            Ok(mut l) => {
                if let Err(e) = l.listen(CHANGES_CHANNEL).await {
                    tracing::warn!(error = %e, "cannot listen for other servers' changes");
                } else {
                    if let Err(e) = check_all(&app).await {
                        tracing::warn!(error = %e, "checking the tenants' revisions failed");
                    }
                    loop {
                        match l.try_recv().await {
                            Ok(Some(n)) => {
                                if let Err(e) = refresh(&app, n.payload()).await {
                                    tracing::warn!(tenant = n.payload(), error = %e, "reloading an announced tenant failed");
                                }
                            }
                            // The connection was lost and is re-established by the next
                            // call; what was announced meanwhile is lost.
                            Ok(None) => {
                                if let Err(e) = check_all(&app).await {
                                    tracing::warn!(error = %e, "checking the tenants' revisions failed");
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "the change listener failed");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot connect the change listener"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
