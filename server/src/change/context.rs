//! Who is asking, resolved once per request: the user of one tenant, their unit and roles,
//! and what they may do with a form. The HTTP layer builds it from a session or token
//! (`http::extract`); operator commands, demo data and the bench build it by login name.

use form_runtime::form::CompiledForm;
use form_runtime::scope::Scope;
use form_runtime::workflow::{Facts, Party};

use super::error::Result;
use crate::state::AppState;
use crate::store::records::{RecordRow, Viewer};
use crate::store::users::{self, SessionUser};

/// A signed-in user and the roles they hold in their tenant.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user.
    pub user: SessionUser,
    /// Role keys.
    pub roles: Vec<String>,
    /// Hash of the token used, for logout.
    pub token_hash: String,
    /// What the user may read in clear, per form, worked out once per request (a list or an
    /// inbox asks for every row).
    pub clearances: Clearances,
}

/// A request's memo of [`crate::change::sensitive::Clear`] per form.
#[derive(Clone, Default, Debug)]
pub struct Clearances(
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, super::sensitive::Clear>>>,
);

impl Actor {
    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.user.tenant
    }

    /// The clearance of `form` worked out earlier in this request.
    pub fn cleared(&self, form: &str) -> Option<super::sensitive::Clear> {
        self.clearances
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(form)
            .cloned()
    }

    /// Keeps the clearance of `form` for the rest of this request.
    pub fn remember_clearance(&self, form: &str, clear: &super::sensitive::Clear) {
        self.clearances
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(form.to_string(), clear.clone());
    }

    /// The zone the user reads times in (the tenant's).
    pub fn zone(&self) -> chrono_tz::Tz {
        self.user.zone
    }

    /// The clock of a change the user makes now: this moment, in the tenant's zone.
    pub fn clock(&self) -> form_runtime::clock::Clock {
        form_runtime::clock::Clock::system(self.user.zone)
    }

    /// Whether the user may do `action` on `form` (Casbin).
    pub async fn may(&self, app: &AppState, form: &str, action: &str) -> bool {
        app.authz
            .allowed(&self.user.user_id, self.tenant(), form, action)
            .await
    }

    /// How the user sees `form`: the widest scope of the roles that may read it, or None.
    pub async fn viewer(&self, app: &AppState, form: &str) -> Result<Option<Viewer>> {
        let roles = app.catalog.roles(&app.db, self.tenant()).await?;
        let mut best: Option<Scope> = None;
        for r in &self.roles {
            if let Some(info) = roles.get(r) {
                if app.authz.allowed(r, self.tenant(), form, "read").await {
                    best = best.max(Some(info.scope));
                }
            }
        }
        Ok(best.map(|scope| Viewer {
            user_id: self.user.user_id.clone(),
            org_path: self.user.org_path.clone(),
            scope,
        }))
    }

    /// Workflow actions the user may fire on a record of `form` in `state`.
    pub async fn actions(
        &self,
        app: &AppState,
        form: &CompiledForm,
        record: &RecordRow,
    ) -> Result<Vec<String>> {
        let party = self.party();
        let mut facts = Facts {
            org_path: &record.org_path,
            owner: record.owner_id == self.user.user_id,
            untouched_since_owner: false,
        };
        let candidates = form.workflow.available(&record.state, &self.roles);
        // Only a recall needs the record's history; read it only then.
        if facts.owner && candidates.iter().any(|t| t.recall) {
            facts.untouched_since_owner = untouched_since_owner(app, self, record).await?;
        }
        let mut out: Vec<String> = Vec::new();
        for t in form.workflow.available_for(&record.state, &party, &facts) {
            if out.contains(&t.action) || !self.may(app, &form.key, &t.action).await {
                continue;
            }
            // A countersign member who has voted waits for the others.
            if let Some(cs) = &t.countersign {
                let Some(member) = cs.member_for(&party) else {
                    continue;
                };
                let votes =
                    crate::store::records::votes(&app.db, self.tenant(), &record.id, &t.action)
                        .await?;
                if votes.contains(&member) {
                    continue;
                }
            }
            // Separation of duties: who fired an earlier step may not fire this one.
            if let Some(sep) = t.separate.as_ref().filter(|s| !s.waived(&record.org_path)) {
                if crate::store::records::fired_any(
                    &app.db,
                    self.tenant(),
                    &record.id,
                    &self.user.user_id,
                    &sep.from,
                )
                .await?
                {
                    continue;
                }
            }
            out.push(t.action.clone());
        }
        Ok(out)
    }

    /// An unlocked user of `tenant` by login name, with their roles: how operator commands
    /// and the benchmark act as a user without a session.
    pub async fn of_username(
        app: &AppState,
        tenant: &str,
        username: &str,
    ) -> anyhow::Result<Option<Actor>> {
        let Some(user) = users::by_username(&app.db, tenant, username).await? else {
            return Ok(None);
        };
        crate::coherence::keep_current(app, tenant, user.revision).await?;
        let roles = app.authz.roles(&user.user_id, tenant).await;
        Ok(Some(Actor {
            user,
            roles,
            token_hash: String::new(),
            clearances: Default::default(),
        }))
    }

    /// The actor as the workflow sees it.
    pub fn party(&self) -> Party<'_> {
        Party {
            roles: &self.roles,
            org_path: &self.user.org_path,
        }
    }
}

/// Whether the newest event of the record is the owner's own transition: nobody else has
/// acted since, so the owner may still recall it.
pub async fn untouched_since_owner(
    app: &AppState,
    actor: &Actor,
    record: &RecordRow,
) -> Result<bool> {
    let last = crate::store::records::last_event(&app.db, actor.tenant(), &record.id).await?;
    Ok(last.is_some_and(|(kind, who)| kind == "transition" && who == record.owner_id))
}
