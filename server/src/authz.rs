//! Authorisation: Casbin RBAC with domains, where the domain is the tenant.
//!
//! Policies (`p, role, tenant, form, action`) and role grants (`g, user, role, tenant`) live
//! in the `casbin_rule` table and are loaded into one in-memory enforcer at start and again
//! for a tenant whenever its revision moves (see `coherence`): on this server at once, on
//! every other server before its next request of that tenant, so changes take effect
//! everywhere without restart.
//! Data scope is not Casbin's business: it is a SQL predicate (see `store::records::Viewer`).

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi, RbacApi};
use sqlx::Row;
use std::collections::HashMap;

use tokio::sync::RwLock;

use crate::store::Db;

const MODEL: &str = r#"
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && (p.obj == "*" || r.obj == p.obj) && (p.act == "*" || r.act == p.act)
"#;

/// The enforcer shared by every request.
pub struct Authz {
    enforcer: RwLock<Enforcer>,
    /// (tenant, form) → the fields some role of the tenant may unmask one by one
    /// (`unmask:<field>` policies): a reader's clearance asks the enforcer about these
    /// fields only, so a pack without such grants costs no enforcer call.
    field_unmasks: std::sync::RwLock<HashMap<(String, String), Vec<String>>>,
}

impl Authz {
    /// Builds the enforcer and loads every tenant's policies.
    pub async fn load(db: &Db) -> anyhow::Result<Authz> {
        let model = DefaultModel::from_str(MODEL).await?;
        let enforcer = Enforcer::new(model, MemoryAdapter::default()).await?;
        let authz = Authz {
            enforcer: RwLock::new(enforcer),
            field_unmasks: std::sync::RwLock::new(HashMap::new()),
        };
        authz.reload(db, None).await?;
        Ok(authz)
    }

    /// Reloads the policies of one tenant (or of all when `tenant` is None) from the database.
    pub async fn reload(&self, db: &Db, tenant: Option<&str>) -> anyhow::Result<()> {
        let rows = match tenant {
            Some(t) => {
                sqlx::query("select ptype, v0, v1, v2, v3 from casbin_rule where tenant_id = $1")
                    .bind(t)
                    .fetch_all(db.pool())
                    .await?
            }
            None => {
                sqlx::query("select ptype, v0, v1, v2, v3 from casbin_rule")
                    .fetch_all(db.pool())
                    .await?
            }
        };
        let (mut p, mut g) = (Vec::new(), Vec::new());
        for r in rows {
            let ptype: String = r.try_get("ptype")?;
            let v: Vec<String> = ["v0", "v1", "v2", "v3"]
                .iter()
                .map(|c| r.try_get::<String, _>(*c))
                .collect::<Result<_, _>>()?;
            match ptype.as_str() {
                "p" => p.push(v),
                "g" => g.push(v[..3].to_vec()),
                _ => {}
            }
        }
        let mut fields: HashMap<(String, String), Vec<String>> = HashMap::new();
        for v in &p {
            if let Some(f) = v[3].strip_prefix("unmask:") {
                let e = fields.entry((v[1].clone(), v[2].clone())).or_default();
                if !e.iter().any(|x| x == f) {
                    e.push(f.to_string());
                }
            }
        }
        let mut e = self.enforcer.write().await;
        {
            let mut known = self
                .field_unmasks
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match tenant {
                Some(t) => known.retain(|(tenant, _), _| tenant != t),
                None => known.clear(),
            }
            known.extend(fields);
        }
        match tenant {
            Some(t) => {
                e.remove_filtered_policy(1, vec![t.to_string()]).await?;
                e.remove_filtered_grouping_policy(2, vec![t.to_string()])
                    .await?;
            }
            None => e.clear_policy().await?,
        }
        if !p.is_empty() {
            e.add_policies(p).await?;
        }
        if !g.is_empty() {
            e.add_grouping_policies(g).await?;
        }
        Ok(())
    }

    /// Whether `subject` (a user id or a role key) may do `action` on `object` in `tenant`.
    pub async fn allowed(&self, subject: &str, tenant: &str, object: &str, action: &str) -> bool {
        let e = self.enforcer.read().await;
        e.enforce((subject, tenant, object, action))
            .unwrap_or(false)
    }

    /// Fields of `form` that some role of `tenant` may unmask one by one (`unmask:<field>`).
    pub fn field_unmasks(&self, tenant: &str, form: &str) -> Vec<String> {
        self.field_unmasks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(tenant.to_string(), form.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    /// The roles a user holds in a tenant.
    pub async fn roles(&self, user_id: &str, tenant: &str) -> Vec<String> {
        let e = self.enforcer.read().await;
        let mut roles = e.get_roles_for_user(user_id, Some(tenant));
        roles.sort();
        roles
    }
}
