//! Who is asking: the session or bearer token resolved to a user of one tenant.
//!
//! A token reads `<tenant>.<secret>`; only its SHA-256 is stored. The tenant comes from the
//! token and nowhere else, so a request can never reach another tenant's rows.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use form_runtime::form::CompiledForm;
use form_runtime::scope::Scope;
use form_runtime::workflow::{Facts, Party};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::error::{ApiError, ApiResult};
use crate::startup::AppState;
use crate::store::records::{RecordRow, Viewer};
use crate::store::users::{self, SessionUser};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "formwork_session";

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

/// A request's memo of [`crate::http::sensitive::Clear`] per form.
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
    pub async fn viewer(&self, app: &AppState, form: &str) -> ApiResult<Option<Viewer>> {
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
    ) -> ApiResult<Vec<String>> {
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

/// SHA-256 of a token, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn token_of(parts: &Parts) -> Option<String> {
    if let Some(h) = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return h.strip_prefix("Bearer ").map(|t| t.trim().to_string());
    }
    let cookies = parts.headers.get_all(axum::http::header::COOKIE);
    cookies
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = token_of(parts).ok_or(ApiError::Unauthorized)?;
        let (tenant, _) = token.split_once('.').ok_or(ApiError::Unauthorized)?;
        if !form_runtime::key::is_code(tenant) {
            return Err(ApiError::Unauthorized);
        }
        let hash = token_hash(&token);
        let user = users::session_user(&app.db, tenant, &hash)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        // Grants changed on any server since this one loaded them are applied first.
        crate::coherence::keep_current(app, tenant, user.revision).await?;
        let roles = app.authz.roles(&user.user_id, tenant).await;
        Ok(Actor {
            user,
            roles,
            token_hash: hash,
            clearances: Default::default(),
        })
    }
}

/// JSON body whose rejection is an [`ApiError`] with a readable message.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Body(v))
    }
}

/// Whether the newest event of the record is the owner's own transition: nobody else has
/// acted since, so the owner may still recall it.
pub async fn untouched_since_owner(
    app: &AppState,
    actor: &Actor,
    record: &RecordRow,
) -> ApiResult<bool> {
    let last = crate::store::records::last_event(&app.db, actor.tenant(), &record.id).await?;
    Ok(last.is_some_and(|(kind, who)| kind == "transition" && who == record.owner_id))
}

/// A JSON body that may be left out: an empty body reads as `T::default()`.
pub fn optional_body<T: DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("请求体不是有效的 JSON：{e}")))
}
