//! The catalog: compiled forms, lists and roles of every tenant, cached in memory.
//!
//! A form version never changes once published, so `(tenant, form, version)` entries are
//! kept for good. Which version is *latest*, the lists and the roles can change on install;
//! those entries are dropped for the tenant by [`Catalog::invalidate`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use form_runtime::form::CompiledForm;
use form_runtime::list::{CompiledList, ListDef};
use form_runtime::rules::Catalogue;
use form_runtime::workflow::{Workflow, WorkflowDef};
use serde_json::Value;

use crate::store::tenants::RoleInfo;
use crate::store::{packs, tenants, Db};

type FormKey = (String, String, i64);

/// Compiled pack definitions per tenant.
#[derive(Default)]
pub struct Catalog {
    forms: RwLock<HashMap<FormKey, Arc<CompiledForm>>>,
    latest: RwLock<HashMap<(String, String), i64>>,
    lists: RwLock<HashMap<(String, String), Arc<CompiledList>>>,
    roles: RwLock<HashMap<String, Arc<BTreeMap<String, RoleInfo>>>>,
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
        let Some((v, def)) = packs::form_version(db, tenant, form, version).await? else {
            return Ok(None);
        };
        let compiled = Arc::new(
            compile(form, def)
                .with_context(|| format!("stored form {form} v{v} does not compile"))?,
        );
        write(&self.forms).insert((tenant.to_string(), form.to_string(), v), compiled.clone());
        if version.is_none() {
            write(&self.latest).insert((tenant.to_string(), form.to_string()), v);
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
                write(&self.lists).insert((tenant.to_string(), list.to_string()), c.clone());
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
        let roles = Arc::new(tenants::roles(db, tenant).await?);
        write(&self.roles).insert(tenant.to_string(), roles.clone());
        Ok(roles)
    }

    /// Forgets what may have changed for a tenant (after an install).
    pub fn invalidate(&self, tenant: &str) {
        write(&self.latest).retain(|(t, _), _| t != tenant);
        write(&self.lists).retain(|(t, _), _| t != tenant);
        write(&self.roles).remove(tenant);
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
