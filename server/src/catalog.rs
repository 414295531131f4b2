//! The catalog: compiled forms, lists, roles, role holders and webhooks of every tenant,
//! cached in memory.
//!
//! A form version never changes once published, so `(tenant, form, version)` entries are
//! kept for good. Which version is *latest*, the lists, the roles, who holds them and the
//! webhooks can change; those entries are dropped for the tenant by [`Catalog::invalidate`]
//! whenever the tenant's revision moves, on this server or another (`crate::coherence`).
//!
//! A read that raced an invalidation does not put its older answer back: every entry is
//! kept only when no invalidation happened between its read and its insert.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use form_runtime::form::CompiledForm;
use form_runtime::list::{CompiledList, ListDef};
use form_runtime::rules::Catalogue;
use form_runtime::workflow::{Workflow, WorkflowDef};
use serde_json::Value;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::notify::{self, Holder, Webhook};
use crate::store::tenants::RoleInfo;
use crate::store::{packs, tenants, Db};

type FormKey = (String, String, i64);
/// (tenant, role) → its unlocked holders.
type HoldersByRole = HashMap<(String, String), Arc<Vec<Holder>>>;

/// Compiled pack definitions per tenant.
#[derive(Default)]
pub struct Catalog {
    forms: RwLock<HashMap<FormKey, Arc<CompiledForm>>>,
    latest: RwLock<HashMap<(String, String), i64>>,
    lists: RwLock<HashMap<(String, String), Arc<CompiledList>>>,
    roles: RwLock<HashMap<String, Arc<BTreeMap<String, RoleInfo>>>>,
    holders: RwLock<HoldersByRole>,
    webhooks: RwLock<HashMap<String, Arc<Vec<Webhook>>>>,
    /// Raised by every invalidation; an entry read before a raise is not kept.
    epoch: AtomicU64,
}

impl Catalog {
    /// A form at a version (latest when `version` is None), or None if the tenant has no such form.
    pub async fn form(
        &self,
        db: &Db,
        tenant: &str,
        form: &str,
        version: Option<i64>,
    ) -> anyhow::Result<Option<Arc<CompiledForm>>> {
        Ok(self
            .versioned(db, tenant, form, version)
            .await?
            .map(|(_, f)| f))
    }

    /// Like [`Catalog::form`], with the version that was found; new records take this one.
    pub async fn versioned(
        &self,
        db: &Db,
        tenant: &str,
        form: &str,
        version: Option<i64>,
    ) -> anyhow::Result<Option<(i64, Arc<CompiledForm>)>> {
        let version = match version {
            Some(v) => Some(v),
            None => read(&self.latest)
                .get(&(tenant.to_string(), form.to_string()))
                .copied(),
        };
        if let Some(v) = version {
            if let Some(f) = read(&self.forms).get(&(tenant.to_string(), form.to_string(), v)) {
                return Ok(Some((v, f.clone())));
            }
        }
        let epoch = self.epoch();
        let Some((v, def)) = packs::form_version(db, tenant, form, version).await? else {
            return Ok(None);
        };
        let compiled = Arc::new(
            compile(form, def)
                .with_context(|| format!("stored form {form} v{v} does not compile"))?,
        );
        write(&self.forms).insert((tenant.to_string(), form.to_string(), v), compiled.clone());
        if version.is_none() {
            self.keep(
                epoch,
                &self.latest,
                (tenant.to_string(), form.to_string()),
                v,
            );
        }
        Ok(Some((v, compiled)))
    }

    /// A list with the latest version of its form.
    pub async fn list(
        &self,
        db: &Db,
        tenant: &str,
        list: &str,
    ) -> anyhow::Result<Option<(Arc<CompiledList>, Arc<CompiledForm>)>> {
        let cached = read(&self.lists)
            .get(&(tenant.to_string(), list.to_string()))
            .cloned();
        let compiled = match cached {
            Some(c) => c,
            None => {
                let epoch = self.epoch();
                let Some(def) = packs::list_definition(db, tenant, list).await? else {
                    return Ok(None);
                };
                let def: ListDef = serde_json::from_value(def)?;
                let Some(form) = self.form(db, tenant, &def.form, None).await? else {
                    return Ok(None);
                };
                let c = CompiledList::check_form(list, def, &form.fields, &form.schema, "")
                    .map_err(|e| anyhow::anyhow!("stored list {list} is invalid: {e:?}"))?
                    .in_flow_order(form.workflow.def.states.iter().map(|s| s.key.clone()));
                let c = Arc::new(c);
                self.keep(
                    epoch,
                    &self.lists,
                    (tenant.to_string(), list.to_string()),
                    c.clone(),
                );
                c
            }
        };
        let Some(form) = self.form(db, tenant, &compiled.def.form, None).await? else {
            return Ok(None);
        };
        Ok(Some((compiled, form)))
    }

    /// The tenant's roles.
    pub async fn roles(
        &self,
        db: &Db,
        tenant: &str,
    ) -> anyhow::Result<Arc<BTreeMap<String, RoleInfo>>> {
        if let Some(r) = read(&self.roles).get(tenant) {
            return Ok(r.clone());
        }
        let epoch = self.epoch();
        let roles = Arc::new(tenants::roles(db, tenant).await?);
        self.keep(epoch, &self.roles, tenant.to_string(), roles.clone());
        Ok(roles)
    }

    /// The unlocked users holding `role` in the tenant, with their units; read in `tx` (a
    /// change asks while it holds its connection) when not cached.
    pub async fn holders(
        &self,
        tx: &mut crate::store::Tx,
        tenant: &str,
        role: &str,
    ) -> sqlx::Result<Arc<Vec<Holder>>> {
        let key = (tenant.to_string(), role.to_string());
        if let Some(h) = read(&self.holders).get(&key) {
            return Ok(h.clone());
        }
        let epoch = self.epoch();
        let found = Arc::new(notify::holders(tx, tenant, role).await?);
        self.keep(epoch, &self.holders, key, found.clone());
        Ok(found)
    }

    /// The tenant's active webhooks, oldest first.
    pub async fn webhooks(&self, db: &Db, tenant: &str) -> anyhow::Result<Arc<Vec<Webhook>>> {
        if let Some(w) = read(&self.webhooks).get(tenant) {
            return Ok(w.clone());
        }
        let epoch = self.epoch();
        let found = Arc::new(notify::webhooks(db, tenant).await?);
        self.keep(epoch, &self.webhooks, tenant.to_string(), found.clone());
        Ok(found)
    }

    /// Forgets what may have changed for a tenant: the latest form versions, lists, roles,
    /// role holders and webhooks.
    pub fn invalidate(&self, tenant: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        write(&self.latest).retain(|(t, _), _| t != tenant);
        write(&self.lists).retain(|(t, _), _| t != tenant);
        write(&self.roles).remove(tenant);
        write(&self.holders).retain(|(t, _), _| t != tenant);
        write(&self.webhooks).remove(tenant);
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Keeps `value` under `key` unless an invalidation happened since `epoch` was read (the
    /// value may then be older than what the invalidation announced). Checked under the
    /// map's write lock, which [`Catalog::invalidate`] also takes after raising the epoch.
    fn keep<K: std::hash::Hash + Eq, V>(
        &self,
        epoch: u64,
        map: &RwLock<HashMap<K, V>>,
        key: K,
        value: V,
    ) {
        let mut m = write(map);
        if self.epoch() == epoch {
            m.insert(key, value);
        }
    }
}

/// Compiles a stored form definition (`{schema, workflow_key, workflow}`).
pub fn compile(form: &str, def: Value) -> anyhow::Result<CompiledForm> {
    let wf_key = def["workflow_key"].as_str().unwrap_or_default().to_string();
    let wf: WorkflowDef = serde_json::from_value(def["workflow"].clone())?;
    // The workflow was checked against its pack on install; store it as it is.
    let workflow = Arc::new(Workflow {
        key: wf_key,
        def: wf,
    });
    let schema = def["schema"].clone();
    let catalogues: BTreeMap<String, Catalogue> = match def.get("catalogues") {
        Some(c) => serde_json::from_value(c.clone())?,
        None => BTreeMap::new(),
    };
    CompiledForm::compile_with(form, schema, workflow, &catalogues, form)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
