//! Demo data and the packs shipped in the binary.
//!
//! `seed/demo.toml` describes the demo tenants (org trees, users, roles, packs); the packs
//! of `schema-packs/` are embedded so that `formwork serve` works from any directory.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use form_runtime::pack::{Pack, PackFiles};
use include_dir::{include_dir, Dir};
use serde::Deserialize;

use crate::store::{packs, tenants, users, Db};

static PACKS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../schema-packs");
const DEMO: &str = include_str!("../../seed/demo.toml");

/// The files of a pack shipped in the binary.
pub fn builtin_pack(id: &str) -> Option<PackFiles> {
    let dir = PACKS.get_dir(id)?;
    let mut files = BTreeMap::new();
    collect(dir, dir.path(), &mut files);
    Some(PackFiles(files))
}

fn collect(dir: &Dir<'static>, root: &std::path::Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for f in dir.files() {
        if let Ok(rel) = f.path().strip_prefix(root) {
            out.insert(
                rel.to_string_lossy().replace('\\', "/"),
                f.contents().to_vec(),
            );
        }
    }
    for d in dir.dirs() {
        collect(d, root, out);
    }
}

/// Ids of the packs shipped in the binary.
pub fn builtin_pack_ids() -> Vec<String> {
    PACKS
        .dirs()
        .filter_map(|d| {
            d.path()
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoFile {
    tenants: Vec<DemoTenant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoTenant {
    key: String,
    name: String,
    #[serde(default)]
    packs: Vec<String>,
    units: Vec<DemoUnit>,
    users: Vec<DemoUser>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoUnit {
    code: String,
    name: String,
    parent: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoUser {
    username: String,
    name: String,
    unit: String,
    roles: Vec<String>,
}

/// The demo tenants and logins that were created.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// The password every demo user got.
    pub password: String,
    /// (tenant, username, display name, roles).
    pub logins: Vec<(String, String, String, Vec<String>)>,
    /// The tenants created.
    pub tenants: Vec<String>,
}

/// Creates the demo tenants of `seed/demo.toml`, each in one transaction.
pub async fn demo(db: &Db, password: &str) -> anyhow::Result<DemoReport> {
    let file: DemoFile = toml::from_str(DEMO).context("seed/demo.toml is invalid")?;
    let hash = crate::password::hash(password.to_string()).await?;
    let mut report = DemoReport {
        password: password.to_string(),
        logins: Vec::new(),
        tenants: Vec::new(),
    };
    for t in file.tenants {
        let mut tx = db.begin().await?;
        let Some((root, rest)) = t.units.split_first() else {
            bail!("tenant {} has no org units", t.key)
        };
        tenants::create(&mut tx, &t.key, &t.name, &root.code, &root.name).await?;
        for u in rest {
            tenants::add_unit(
                &mut tx,
                &t.key,
                &u.code,
                &u.name,
                Some(u.parent.as_deref().unwrap_or(&root.code)),
            )
            .await?;
        }
        for id in &t.packs {
            let files = builtin_pack(id).with_context(|| format!("pack {id} is not shipped"))?;
            let pack =
                Pack::load(&files).map_err(|e| anyhow::anyhow!("pack {id} is invalid: {e:?}"))?;
            packs::install(&mut tx, &t.key, &pack, None).await?;
        }
        for u in &t.users {
            let id = users::create(&mut tx, &t.key, &u.username, &u.name, &hash, &u.unit).await?;
            for r in &u.roles {
                users::grant_role(&mut tx, &t.key, &id, r).await?;
            }
            report.logins.push((
                t.key.clone(),
                u.username.clone(),
                u.name.clone(),
                u.roles.clone(),
            ));
        }
        tx.commit().await?;
        report.tenants.push(t.key.clone());
    }
    Ok(report)
}
