//! Installing a pack into a tenant: form versions, lists, roles, policies and list indexes.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use form_runtime::list::CompiledList;
use form_runtime::pack::Pack;
use serde_json::{json, Value};
use sqlx::Row;

use super::{audit, now, tenants, Db, Tx};

/// What an install changed.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct InstallReport {
    /// Forms that got a new version: (form, version).
    pub published: Vec<(String, i64)>,
    /// Forms whose definition was unchanged.
    pub unchanged: Vec<String>,
    /// Lists written.
    pub lists: Vec<String>,
    /// Roles written.
    pub roles: Vec<String>,
    /// Policy lines granted.
    pub policies: usize,
}

/// The stored definition of a form version: its schema and a snapshot of its workflow.
pub fn form_definition(pack: &Pack, form: &str) -> Option<Value> {
    let src = pack.forms.get(form)?;
    let wf = pack.workflows.get(&src.workflow)?;
    Some(json!({
        "schema": src.schema,
        "workflow_key": src.workflow,
        "workflow": wf,
        "catalogues": pack.catalogues_of(form),
        "documents": pack.documents_of(form),
    }))
}

/// Installs or upgrades `pack` in `tenant`, in the caller's transaction.
pub async fn install(
    tx: &mut Tx,
    tenant: &str,
    pack: &Pack,
    actor: Option<&str>,
) -> anyhow::Result<InstallReport> {
    tx.cached_changed(tenant);
    let mut report = InstallReport::default();
    let at = now();
    let pack_id = &pack.manifest.id;
    sqlx::query(
        "insert into packs (tenant_id, pack_id, version, name, installed_at, revision) values ($1, $2, $3, $4, $5, 1) \
         on conflict (tenant_id, pack_id) do update set version = excluded.version, name = excluded.name, installed_at = excluded.installed_at, revision = packs.revision + 1",
    )
    .bind(tenant)
    .bind(pack_id)
    .bind(&pack.manifest.version)
    .bind(&pack.manifest.name)
    .bind(&at)
    .execute(tx.conn())
    .await?;

    sqlx::query("delete from pack_files where tenant_id = $1 and pack_id = $2")
        .bind(tenant)
        .bind(pack_id)
        .execute(tx.conn())
        .await?;
    for (path, bytes) in &pack.files.0 {
        sqlx::query(
            "insert into pack_files (tenant_id, pack_id, path, content) values ($1, $2, $3, $4)",
        )
        .bind(tenant)
        .bind(pack_id)
        .bind(path)
        .bind(String::from_utf8_lossy(bytes).as_ref())
        .execute(tx.conn())
        .await?;
    }

    for (key, role) in &pack.roles {
        tenants::upsert_role(tx, tenant, key, &role.label, role.scope, pack_id).await?;
        report.roles.push(key.clone());
    }

    for key in pack.forms.keys() {
        let Some(def) = form_definition(pack, key) else {
            continue;
        };
        let latest = sqlx::query("select version, definition from forms where tenant_id = $1 and form_key = $2 order by version desc limit 1")
            .bind(tenant)
            .bind(key)
            .fetch_optional(tx.conn())
            .await?;
        let (version, same) = match latest {
            Some(r) => {
                let v: i64 = r.try_get("version")?;
                let old: Value = serde_json::from_str(&r.try_get::<String, _>("definition")?)?;
                (v + 1, old == def)
            }
            None => (1, false),
        };
        if same {
            report.unchanged.push(key.clone());
            continue;
        }
        let title = def["schema"]["title"].as_str().unwrap_or(key).to_string();
        sqlx::query(
            "insert into forms (tenant_id, form_key, version, pack_id, title, definition, published_at) values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant)
        .bind(key)
        .bind(version)
        .bind(pack_id)
        .bind(&title)
        .bind(def.to_string())
        .bind(&at)
        .execute(tx.conn())
        .await?;
        report.published.push((key.clone(), version));
    }

    for (key, list) in &pack.lists {
        LISTS
            .upsert(tx, tenant, pack_id, key, &list.form, list)
            .await?;
        report.lists.push(key.clone());
        let fields =
            form_runtime::form::CompiledForm::fields_of(&pack.forms[&list.form].schema, "")
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let schema = &pack.forms[&list.form].schema;
        let states = pack
            .workflows
            .get(&pack.forms[&list.form].workflow)
            .map(|w| w.states.iter().map(|s| s.key.clone()).collect::<Vec<_>>())
            .unwrap_or_default();
        let compiled = CompiledList::check_form(key, list.clone(), &fields, schema, "")
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .in_flow_order(states);
        create_indexes(tx, &compiled).await?;
    }

    for (key, stat) in &pack.statistics {
        STATISTICS
            .upsert(tx, tenant, pack_id, key, &stat.form, stat)
            .await?;
    }
    for (key, d) in &pack.dashboards {
        DASHBOARDS.upsert(tx, tenant, pack_id, key, "", d).await?;
    }
    for (key, t) in &pack.exports {
        EXPORT_TEMPLATES
            .upsert(tx, tenant, pack_id, key, &t.form, t)
            .await?;
    }
    for (key, rule) in &pack.batches {
        BATCH_RULES
            .upsert(tx, tenant, pack_id, key, &rule.form, rule)
            .await?;
    }
    for (key, def) in &pack.imports {
        IMPORT_TEMPLATES
            .upsert(tx, tenant, pack_id, key, &def.form, def)
            .await?;
    }

    sqlx::query("delete from casbin_rule where tenant_id = $1 and ptype = 'p' and source = $2")
        .bind(tenant)
        .bind(pack_id)
        .execute(tx.conn())
        .await?;
    let policies = pack.policies();
    for p in &policies {
        sqlx::query(
            "insert into casbin_rule (tenant_id, ptype, v0, v1, v2, v3, source) values ($1, 'p', $2, $1, $3, $4, $5) on conflict do nothing",
        )
        .bind(tenant)
        .bind(&p.role)
        .bind(&p.object)
        .bind(&p.action)
        .bind(pack_id)
        .execute(tx.conn())
        .await?;
    }
    report.policies = policies.len();
    audit::append(
        tx,
        tenant,
        actor,
        "pack.install",
        pack_id,
        &json!({"version": pack.manifest.version, "report": report}),
    )
    .await?;
    Ok(report)
}

/// Creates the expression indexes a list's filters and sort need. Index names are derived
/// from the expression, so tenants that install the same pack share one index.
async fn create_indexes(tx: &mut Tx, list: &CompiledList) -> sqlx::Result<()> {
    let dialect = tx.dialect();
    for cols in list.index_expressions(dialect) {
        let mut h = DefaultHasher::new();
        cols.hash(&mut h);
        let name = format!("records_x{:016x}_idx", h.finish());
        let sql = format!("create index if not exists {name} on records ({cols})");
        sqlx::query(&sql).execute(tx.conn()).await?;
    }
    Ok(())
}

/// Ids of the packs installed in a tenant, with versions.
pub async fn installed(db: &Db, tenant: &str) -> sqlx::Result<Vec<(String, String)>> {
    let rows =
        sqlx::query("select pack_id, version from packs where tenant_id = $1 order by pack_id")
            .bind(tenant)
            .fetch_all(db.pool())
            .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("pack_id")?, r.try_get("version")?)))
        .collect()
}

/// An installed pack as the designer edits it: its files and the revision they are at.
#[derive(Debug, Clone)]
pub struct InstalledPack {
    /// Pack id.
    pub pack_id: String,
    /// Display name from `pack.toml`.
    pub name: String,
    /// Version from `pack.toml`.
    pub version: String,
    /// How many times the pack was installed in this tenant; every install adds one.
    pub revision: i64,
    /// The files as last installed.
    pub files: form_runtime::pack::PackFiles,
}

/// The files of an installed pack, or `None` when the tenant has no such pack.
pub async fn installed_pack(
    db: &Db,
    tenant: &str,
    pack_id: &str,
) -> anyhow::Result<Option<InstalledPack>> {
    let Some(row) = sqlx::query(
        "select name, version, revision from packs where tenant_id = $1 and pack_id = $2",
    )
    .bind(tenant)
    .bind(pack_id)
    .fetch_optional(db.pool())
    .await?
    else {
        return Ok(None);
    };
    let rows = sqlx::query(
        "select path, content from pack_files where tenant_id = $1 and pack_id = $2 order by path",
    )
    .bind(tenant)
    .bind(pack_id)
    .fetch_all(db.pool())
    .await?;
    let mut files = std::collections::BTreeMap::new();
    for r in &rows {
        files.insert(
            r.try_get::<String, _>("path")?,
            r.try_get::<String, _>("content")?.into_bytes(),
        );
    }
    Ok(Some(InstalledPack {
        pack_id: pack_id.to_string(),
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        revision: row.try_get("revision")?,
        files: form_runtime::pack::PackFiles(files),
    }))
}

/// The definition JSON of a form version (latest when `version` is None), with its version.
pub async fn form_version(
    db: &Db,
    tenant: &str,
    form: &str,
    version: Option<i64>,
) -> anyhow::Result<Option<(i64, Value)>> {
    let row = match version {
        Some(v) => sqlx::query("select version, definition from forms where tenant_id = $1 and form_key = $2 and version = $3")
            .bind(tenant)
            .bind(form)
            .bind(v)
            .fetch_optional(db.pool())
            .await?,
        None => sqlx::query("select version, definition from forms where tenant_id = $1 and form_key = $2 order by version desc limit 1")
            .bind(tenant)
            .bind(form)
            .fetch_optional(db.pool())
            .await?,
    };
    match row {
        None => Ok(None),
        Some(r) => Ok(Some((
            r.try_get("version")?,
            serde_json::from_str(&r.try_get::<String, _>("definition")?)?,
        ))),
    }
}

/// Keys of the tenant's forms (latest versions) with titles.
pub async fn forms(db: &Db, tenant: &str) -> sqlx::Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query(
        "select f.form_key, f.title, f.version from forms f \
         where f.tenant_id = $1 and f.version = (select max(version) from forms g where g.tenant_id = f.tenant_id and g.form_key = f.form_key) \
         order by f.form_key",
    )
    .bind(tenant)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("form_key")?,
                r.try_get("title")?,
                r.try_get("version")?,
            ))
        })
        .collect()
}

/// A list's definition JSON.
pub async fn list_definition(db: &Db, tenant: &str, list: &str) -> anyhow::Result<Option<Value>> {
    LISTS.one(db, tenant, list).await
}

/// Keys of the lists over a form.
pub async fn lists_of_form(db: &Db, tenant: &str, form: &str) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query(
        "select list_key from lists where tenant_id = $1 and form_key = $2 order by list_key",
    )
    .bind(tenant)
    .bind(form)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|r| r.try_get("list_key")).collect()
}

/// One published version of a form.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionInfo {
    /// Version number, from 1.
    pub version: i64,
    /// Pack that published it.
    pub pack_id: String,
    /// Form title in that version.
    pub title: String,
    /// When it was published.
    pub published_at: String,
}

/// Every version of a form, oldest first.
pub async fn versions(db: &Db, tenant: &str, form: &str) -> sqlx::Result<Vec<VersionInfo>> {
    let rows = sqlx::query(
        "select version, pack_id, title, published_at from forms where tenant_id = $1 and form_key = $2 order by version",
    )
    .bind(tenant)
    .bind(form)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(VersionInfo {
                version: r.try_get("version")?,
                pack_id: r.try_get("pack_id")?,
                title: r.try_get("title")?,
                published_at: r.try_get("published_at")?,
            })
        })
        .collect()
}

/// The tenant's batch rules as (key, definition), by key.
pub async fn batch_rules(
    db: &Db,
    tenant: &str,
) -> anyhow::Result<Vec<(String, form_runtime::batch_rule::BatchRuleDef)>> {
    BATCH_RULES.all(db, tenant, None).await
}

/// The tenant's export templates for `form` as (key, definition), by key.
pub async fn export_templates(
    db: &Db,
    tenant: &str,
    form: &str,
) -> anyhow::Result<Vec<(String, form_runtime::export::ExportDef)>> {
    EXPORT_TEMPLATES.all(db, tenant, Some(form)).await
}

/// A table holding one pack definition per tenant and key, with the form it is about: lists,
/// statistics, batch rules, export and import templates. A pack install writes them; the
/// server reads them by key or by form.
#[derive(Clone, Copy)]
pub struct DefinitionTable {
    table: &'static str,
    key: &'static str,
}

/// `lists/*.json`.
pub const LISTS: DefinitionTable = DefinitionTable {
    table: "lists",
    key: "list_key",
};
/// `statistics/*.json`.
pub const STATISTICS: DefinitionTable = DefinitionTable {
    table: "statistics",
    key: "stat_key",
};
/// `dashboards/*.json` (a dashboard spans statistics: its form is empty).
pub const DASHBOARDS: DefinitionTable = DefinitionTable {
    table: "dashboards",
    key: "dashboard_key",
};
/// `batches/*.json`.
pub const BATCH_RULES: DefinitionTable = DefinitionTable {
    table: "batch_rules",
    key: "rule_key",
};
/// `exports/*.json`.
pub const EXPORT_TEMPLATES: DefinitionTable = DefinitionTable {
    table: "export_templates",
    key: "template_key",
};
/// `imports/*.json`.
pub const IMPORT_TEMPLATES: DefinitionTable = DefinitionTable {
    table: "import_templates",
    key: "template_key",
};

impl DefinitionTable {
    /// Writes (or replaces) a pack's definition, in the install's transaction.
    pub async fn upsert(
        self,
        tx: &mut Tx,
        tenant: &str,
        pack_id: &str,
        key: &str,
        form: &str,
        def: &impl serde::Serialize,
    ) -> anyhow::Result<()> {
        let (table, col) = (self.table, self.key);
        sqlx::query(&format!(
            "insert into {table} (tenant_id, {col}, form_key, pack_id, definition) values ($1, $2, $3, $4, $5) \
             on conflict (tenant_id, {col}) do update set form_key = excluded.form_key, pack_id = excluded.pack_id, definition = excluded.definition"
        ))
        .bind(tenant)
        .bind(key)
        .bind(form)
        .bind(pack_id)
        .bind(serde_json::to_string(def)?)
        .execute(tx.conn())
        .await?;
        Ok(())
    }

    /// The definition with this key, if the tenant has one.
    pub async fn one<T: serde::de::DeserializeOwned>(
        self,
        db: &Db,
        tenant: &str,
        key: &str,
    ) -> anyhow::Result<Option<T>> {
        let (table, col) = (self.table, self.key);
        let row = sqlx::query(&format!(
            "select definition from {table} where tenant_id = $1 and {col} = $2"
        ))
        .bind(tenant)
        .bind(key)
        .fetch_optional(db.pool())
        .await?;
        row.map(|r| {
            Ok(serde_json::from_str(
                &r.try_get::<String, _>("definition")?,
            )?)
        })
        .transpose()
    }

    /// Every definition of the tenant (of one form, when given) as (key, definition), by key.
    pub async fn all<T: serde::de::DeserializeOwned>(
        self,
        db: &Db,
        tenant: &str,
        form: Option<&str>,
    ) -> anyhow::Result<Vec<(String, T)>> {
        let (table, col) = (self.table, self.key);
        let rows = sqlx::query(&format!(
            "select {col} as k, definition from {table} where tenant_id = $1 and ($2 = '' or form_key = $2) order by {col}"
        ))
        .bind(tenant)
        .bind(form.unwrap_or(""))
        .fetch_all(db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("k")?,
                    serde_json::from_str(&r.try_get::<String, _>("definition")?)?,
                ))
            })
            .collect()
    }
}
