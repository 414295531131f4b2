//! The designer's API. A tenant's `admin` edits the files of a pack installed in the tenant:
//! the designer pages send the changed files as a draft, the server merges them over the
//! files last installed and checks the result with every rule of `formwork pack check`;
//! publishing installs it exactly as `formwork pack install` would (a changed form becomes a
//! new version, lists and roles are rewritten, policies reloaded at once). So whatever the
//! designer saves is a pack that passes the check, and an exported pack is the same files.
//!
//! A draft names the revision of the pack it was opened at; publishing over a pack that was
//! installed again since is refused (`409 pack_changed`), never silently overwritten.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use form_runtime::form::CompiledForm;
use form_runtime::pack::{Pack, PackFiles};
use form_runtime::roles::RolesFile;
use form_runtime::PackError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::{Actor, Body};
use crate::state::AppState;
use crate::store::tenants::ADMIN_ROLE;
use crate::store::{audit, packs};

/// The designer is for the tenant's administrators.
fn designer(actor: &Actor) -> ApiResult<()> {
    if actor.roles.iter().any(|r| r == ADMIN_ROLE) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("只有本单位管理员可以使用设计器".into()))
    }
}

async fn load(app: &AppState, actor: &Actor, pack: &str) -> ApiResult<packs::InstalledPack> {
    designer(actor)?;
    let installed = packs::installed_pack(&app.db, actor.tenant(), pack)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("本单位没有安装表单包 {pack}")))?;
    if installed.files.0.is_empty() {
        return Err(ApiError::Conflict {
            code: "pack_files_missing",
            message: format!(
                "表单包 {pack} 安装于设计器之前，未保存其文件；请重新安装一次后再编辑"
            ),
        });
    }
    Ok(installed)
}

/// Handles `GET /api/v1/designer/packs`: the packs the designer can edit.
pub async fn list_packs(State(app): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    designer(&actor)?;
    let mut items = Vec::new();
    for (id, _) in packs::installed(&app.db, actor.tenant()).await? {
        if let Some(p) = packs::installed_pack(&app.db, actor.tenant(), &id).await? {
            items.push(json!({
                "pack": p.pack_id, "name": p.name, "version": p.version,
                "revision": p.revision, "editable": !p.files.0.is_empty(),
            }));
        }
    }
    Ok(Json(json!({ "items": items })))
}

/// Handles `GET /api/v1/designer/packs/{pack}`: the pack's files as text, `roles.toml` also
/// as JSON, and the published version of each form.
pub async fn get_pack(
    State(app): State<AppState>,
    actor: Actor,
    Path(pack): Path<String>,
) -> ApiResult<Json<Value>> {
    let p = load(&app, &actor, &pack).await?;
    let files: BTreeMap<&String, String> = p
        .files
        .0
        .iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(v).into_owned()))
        .collect();
    let roles: Value = files
        .get(&"roles.toml".to_string())
        .and_then(|t| toml::from_str::<RolesFile>(t).ok())
        .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    let versions: BTreeMap<String, i64> = packs::forms(&app.db, actor.tenant())
        .await?
        .into_iter()
        .map(|(k, _, v)| (k, v))
        .collect();
    Ok(Json(json!({
        "pack": p.pack_id, "name": p.name, "version": p.version, "revision": p.revision,
        "files": files, "roles": roles, "versions": versions,
        "scopes": ["own", "org", "org_tree", "tenant"],
        "form_actions": form_runtime::roles::FORM_ACTIONS,
    })))
}

/// A designer's draft: the files it changed, on top of the revision it opened.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    /// The pack revision the draft was made from.
    pub revision: i64,
    /// Changed or new files by path. A JSON file may be given as the JSON value itself;
    /// `roles.toml` may be given as the JSON of its roles (`{"roles": {…}}`); any file as text.
    #[serde(default)]
    pub files: BTreeMap<String, Value>,
    /// Paths of files to remove.
    #[serde(default)]
    pub delete: Vec<String>,
    /// A form key: also answer with that form's generated page (the designer's preview).
    #[serde(default)]
    pub preview: Option<String>,
}

/// The draft's files merged over the installed ones, with problems found while merging.
fn merge(base: &PackFiles, draft: &Draft) -> (PackFiles, Vec<PackError>) {
    let mut files = base.0.clone();
    let mut problems = Vec::new();
    for path in &draft.delete {
        files.remove(path);
    }
    for (path, value) in &draft.files {
        if !safe_path(path) {
            problems.push(PackError::new(
                path,
                "",
                "not a path inside the pack: use `/`-separated names without `..`, `.` or empty parts",
            ));
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            v if path == "roles.toml" => {
                let old = files
                    .get(path)
                    .map(|b| String::from_utf8_lossy(b).into_owned());
                match serde_json::from_value::<RolesFile>(v.clone())
                    .map_err(|e| e.to_string())
                    .map(|r| edit_roles(old.as_deref(), &r))
                {
                    Ok(t) => t,
                    Err(e) => {
                        problems.push(PackError::new(path, "", e));
                        continue;
                    }
                }
            }
            v => serde_json::to_string_pretty(v).unwrap_or_default() + "\n",
        };
        files.insert(path.clone(), text.into_bytes());
    }
    (PackFiles(files), problems)
}

/// `roles.toml` with `roles` written into `old` in place: comments, the order of roles and
/// grants, and the style of each role's grants (inline or a `[roles.x.grants]` table) stay,
/// so the diff shows only what changed. A file that does not parse is written anew.
fn edit_roles(old: Option<&str>, roles: &RolesFile) -> String {
    use toml_edit::{Array, DocumentMut, Item, Table, Value as Toml};
    let mut doc: DocumentMut = old.and_then(|t| t.parse().ok()).unwrap_or_default();
    if !doc.get("roles").is_some_and(Item::is_table_like) {
        let mut t = Table::new();
        t.set_implicit(true);
        doc.insert("roles", Item::Table(t));
    }
    let Some(all) = doc["roles"].as_table_like_mut() else {
        return String::new();
    };
    let gone: Vec<String> = all
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| !roles.roles.contains_key(k))
        .collect();
    // The file's opening comments sit before its first role: they move to the next one when
    // that role goes.
    let first = |all: &dyn toml_edit::TableLike| {
        all.iter()
            .filter_map(|(k, v)| Some((v.as_table()?.position()?, k.to_string())))
            .min()
            .map(|(_, k)| k)
    };
    let opening = first(&*all).and_then(|k| {
        let t = all.get(&k)?.as_table()?;
        Some((k, t.decor().prefix()?.as_str()?.to_string()))
    });
    for k in gone {
        all.remove(&k);
    }
    if let Some((_, text)) = opening.filter(|(k, _)| !all.contains_key(k)) {
        if let Some(t) = first(&*all).and_then(|k| all.get_mut(&k)?.as_table_mut()) {
            let own = t
                .decor()
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or("")
                .trim_start_matches('\n')
                .to_string();
            t.decor_mut().set_prefix(format!("{text}{own}"));
        }
    }
    /// Sets `key` to `value` unless it already holds it (so its formatting stays).
    fn set(t: &mut dyn toml_edit::TableLike, key: &str, value: Toml) {
        let same = t
            .get(key)
            .and_then(Item::as_value)
            .is_some_and(|v| v.to_string().trim() == value.to_string().trim());
        if !same {
            t.insert(key, Item::Value(value));
        }
    }
    for (key, def) in &roles.roles {
        if !all.contains_key(key) {
            all.insert(key, Item::Table(Table::new()));
        }
        let Some(role) = all.get_mut(key).and_then(Item::as_table_like_mut) else {
            continue;
        };
        set(role, "label", Toml::from(def.label.as_str()));
        let scope = serde_json::to_value(def.scope)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        set(role, "scope", Toml::from(scope.as_str()));
        if def.grants.is_empty() {
            role.remove("grants");
            continue;
        }
        if !role.contains_key("grants") {
            role.insert("grants", Item::Table(Table::new()));
        }
        let Some(grants) = role.get_mut("grants").and_then(Item::as_table_like_mut) else {
            continue;
        };
        let gone: Vec<String> = grants
            .iter()
            .map(|(k, _)| k.to_string())
            .filter(|k| !def.grants.contains_key(k))
            .collect();
        for k in gone {
            grants.remove(&k);
        }
        for (form, actions) in &def.grants {
            let list: Array = actions.iter().map(String::as_str).collect();
            set(grants, form, Toml::Array(list));
        }
    }
    doc.to_string()
}

/// Whether a draft's path stays inside the pack directory: relative, `/`-separated, no
/// `..`, `.`, empty parts or backslashes (an exported zip must not write outside its folder).
fn safe_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 300
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// `0.1.7` → `0.1.8`; anything else gets `.1` appended.
fn next_version(v: &str) -> String {
    match v.rsplit_once('.') {
        Some((head, last)) if last.parse::<u64>().is_ok() => {
            format!("{head}.{}", last.parse::<u64>().unwrap_or(0) + 1)
        }
        _ => format!("{v}.1"),
    }
}

/// `pack.toml` with its `version` line moved to the next version (comments stay).
fn bump_manifest(text: &str, version: &str) -> String {
    let next = next_version(version);
    let mut done = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if !done && t.starts_with("version") && t.contains(&format!("\"{version}\"")) {
                done = true;
                l.replacen(&format!("\"{version}\""), &format!("\"{next}\""), 1)
            } else {
                l.to_string()
            }
        })
        .collect();
    lines.join("\n") + "\n"
}

/// What a draft changes: each file with a line diff, and each form that gets a new version
/// with its field differences.
async fn changes(
    app: &AppState,
    tenant: &str,
    base: &PackFiles,
    next: &PackFiles,
    pack: Option<&Pack>,
) -> ApiResult<Value> {
    let mut files = Vec::new();
    let paths: BTreeSet<&String> = base.0.keys().chain(next.0.keys()).collect();
    for path in paths {
        let old = base.0.get(path).map(|b| String::from_utf8_lossy(b));
        let new = next.0.get(path).map(|b| String::from_utf8_lossy(b));
        if old == new {
            continue;
        }
        let status = match (&old, &new) {
            (None, _) => "added",
            (_, None) => "deleted",
            _ => "changed",
        };
        let diff = similar::TextDiff::from_lines(
            old.as_deref().unwrap_or(""),
            new.as_deref().unwrap_or(""),
        );
        let lines: Vec<Value> = diff
            .grouped_ops(2)
            .iter()
            .flatten()
            .flat_map(|op| diff.iter_changes(op))
            .map(|c| {
                let sign = match c.tag() {
                    similar::ChangeTag::Delete => "-",
                    similar::ChangeTag::Insert => "+",
                    similar::ChangeTag::Equal => " ",
                };
                json!([sign, c.value().trim_end_matches('\n')])
            })
            .collect();
        files.push(json!({"path": path, "status": status, "lines": lines}));
    }
    let mut forms = Vec::new();
    if let Some(pack) = pack {
        for key in pack.forms.keys() {
            let Some(def) = packs::form_definition(pack, key) else {
                continue;
            };
            let latest = packs::form_version(&app.db, tenant, key, None).await?;
            match latest {
                Some((v, old)) if old != def => forms.push(json!({
                    "form": key, "from": v, "to": v + 1,
                    "diff": form_runtime::version::diff(&old, &def),
                })),
                Some(_) => {}
                None => forms.push(json!({"form": key, "from": null, "to": 1})),
            }
        }
    }
    Ok(json!({"files": files, "forms": forms}))
}

fn problems_json(problems: &[PackError]) -> Vec<Value> {
    problems
        .iter()
        .map(|p| json!({"file": p.file, "pointer": p.pointer, "reason": p.reason}))
        .collect()
}

/// The generated page of one form of the draft, as the end user would see it (empty).
fn preview(files: &PackFiles, pack: Option<&Pack>, form: &str, english: bool) -> Option<String> {
    let schema: Value = serde_json::from_slice(files.0.get(&format!("forms/{form}.json"))?).ok()?;
    CompiledForm::fields_of(&schema, "").ok()?;
    let catalogues = pack.map(|p| p.catalogues_of(form)).unwrap_or_default();
    let view = form_runtime::html::View {
        form_key: form,
        schema: &schema,
        catalogues: &catalogues,
        data: &json!({}),
        errors: &[],
        english,
        hidden: &BTreeSet::new(),
        writable: None,
        references: &BTreeMap::new(),
        // An empty form shows no times.
        zone: form_runtime::clock::DEFAULT_ZONE,
    };
    Some(form_runtime::html::form_fields(&view))
}

/// Handles `POST /api/v1/designer/packs/{pack}/check`: merges the draft, checks it, and
/// answers what publishing it would change (always 200; `problems` empty means it may be
/// published).
pub async fn check(
    State(app): State<AppState>,
    actor: Actor,
    Path(pack_id): Path<String>,
    Body(draft): Body<Draft>,
) -> ApiResult<Json<Value>> {
    let installed = load(&app, &actor, &pack_id).await?;
    let (files, mut problems) = merge(&installed.files, &draft);
    let pack = match Pack::load(&files) {
        Ok(p) => Some(p),
        Err(e) => {
            problems.extend(e);
            None
        }
    };
    let changes = changes(
        &app,
        actor.tenant(),
        &installed.files,
        &files,
        pack.as_ref(),
    )
    .await?;
    let html = draft
        .preview
        .as_deref()
        .and_then(|f| preview(&files, pack.as_ref(), f, super::lang::is_english()));
    Ok(Json(json!({
        "revision": installed.revision,
        "stale": installed.revision != draft.revision,
        "problems": problems_json(&problems),
        "changes": changes,
        "preview": html,
    })))
}

/// Handles `POST /api/v1/designer/packs/{pack}/publish`: installs the draft as the pack's
/// next version. `201` with what was published; `409 pack_changed` when the pack was
/// installed again since the draft's revision; `422 pack_invalid` with every problem.
pub async fn publish(
    State(app): State<AppState>,
    actor: Actor,
    Path(pack_id): Path<String>,
    Body(draft): Body<Draft>,
) -> ApiResult<Response> {
    let installed = load(&app, &actor, &pack_id).await?;
    if installed.revision != draft.revision {
        return Err(ApiError::Conflict {
            code: "pack_changed",
            message: "表单包已被他人修改并发布，请刷新后重新修改".into(),
        });
    }
    let (mut files, mut problems) = merge(&installed.files, &draft);
    if !problems.is_empty() {
        return Ok(invalid(&problems));
    }
    if files == installed.files {
        return Err(ApiError::Conflict {
            code: "nothing_changed",
            message: "没有要发布的修改".into(),
        });
    }
    if let Some(manifest) = files.0.get("pack.toml") {
        let text = bump_manifest(&String::from_utf8_lossy(manifest), &installed.version);
        files.0.insert("pack.toml".into(), text.into_bytes());
    }
    let pack = match Pack::load(&files) {
        Ok(p) => p,
        Err(e) => {
            problems.extend(e);
            return Ok(invalid(&problems));
        }
    };
    if pack.manifest.id != pack_id {
        return Ok(invalid(&[PackError::new(
            "pack.toml",
            "/id",
            format!("a pack's id cannot change in the designer (it is `{pack_id}`)"),
        )]));
    }
    let tenant = actor.tenant();
    let mut tx = app.db.begin().await?;
    let report = packs::install(&mut tx, tenant, &pack, Some(&actor.user.user_id)).await?;
    let changed: Vec<&String> = files
        .0
        .iter()
        .filter(|(k, v)| installed.files.0.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .chain(
            installed
                .files
                .0
                .keys()
                .filter(|k| !files.0.contains_key(*k)),
        )
        .collect();
    audit::append(
        &mut tx,
        tenant,
        Some(&actor.user.user_id),
        "pack.design",
        &pack_id,
        &json!({"version": pack.manifest.version, "files": changed}),
    )
    .await?;
    tx.commit().await?;
    crate::coherence::refresh(&app, tenant).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "pack": pack_id, "version": pack.manifest.version,
            "revision": installed.revision + 1, "installed": report,
        })),
    )
        .into_response())
}

fn invalid(problems: &[PackError]) -> Response {
    let body = json!({
        "error": {"code": "pack_invalid", "message": format!("表单包有 {} 处问题，未发布", problems.len()), "fields": []},
        "problems": problems_json(problems),
    });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// Handles `GET /api/v1/designer/packs/{pack}/export`: the pack's files as installed, as a
/// zip of the pack directory (`<pack>/pack.toml`, `<pack>/forms/…`), ready for
/// `formwork pack check`, `formwork pack install` or the pack upload.
pub async fn export(
    State(app): State<AppState>,
    actor: Actor,
    Path(pack_id): Path<String>,
) -> ApiResult<Response> {
    let installed = load(&app, &actor, &pack_id).await?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    // Only paths inside the folder: whoever unzips the export must not write outside it.
    for (path, bytes) in installed.files.0.iter().filter(|(p, _)| safe_path(p)) {
        zip.start_file(format!("{pack_id}/{path}"), options)
            .map_err(anyhow::Error::from)?;
        zip.write_all(bytes).map_err(anyhow::Error::from)?;
    }
    let bytes = zip.finish().map_err(anyhow::Error::from)?.into_inner();
    let name = format!("{pack_id}-{}.zip", installed.version);
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                super::attachments::disposition(&name),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_edited_in_place() {
        let old = "# Roles\n\n[roles.staff]\nlabel = \"经办人\"\nscope = \"org_tree\"\n\n# the city\n[roles.city]\nlabel = \"市\"\nscope = \"tenant\"\n\n[roles.city.grants]\nloan = [\"read\"]\nfund = [\"read\", \"export\"]\n";
        let mut roles: RolesFile = toml::from_str(old).unwrap();
        let city = roles.roles.get_mut("city").unwrap();
        city.grants
            .insert("loan".into(), vec!["read".into(), "unmask".into()]);
        roles.roles.remove("staff");
        let text = edit_roles(Some(old), &roles);
        assert_eq!(
            text,
            "# Roles\n\n# the city\n[roles.city]\nlabel = \"市\"\nscope = \"tenant\"\n\n[roles.city.grants]\nloan = [\"read\", \"unmask\"]\nfund = [\"read\", \"export\"]\n"
        );
        let back: RolesFile = toml::from_str(&text).unwrap();
        assert_eq!(back.roles["city"].grants["loan"], ["read", "unmask"]);
    }

    #[test]
    fn draft_paths_stay_inside_the_pack() {
        assert!(safe_path("forms/loan.json"));
        assert!(safe_path("examples/notes/a.md"));
        for bad in [
            "",
            "/etc/passwd",
            "examples/../../x",
            "forms//a.json",
            "a\\b",
            "./pack.toml",
        ] {
            assert!(!safe_path(bad), "{bad}");
        }
    }

    #[test]
    fn versions_move_by_one_patch() {
        assert_eq!(next_version("0.1.9"), "0.1.10");
        assert_eq!(next_version("2"), "2.1");
        assert_eq!(next_version("1.0-beta"), "1.0-beta.1");
    }

    #[test]
    fn the_manifest_keeps_its_comments() {
        let text = "# Red Cross\nid = \"rc\"\nversion = \"0.1.0\" # bumped by the designer\n";
        assert_eq!(
            bump_manifest(text, "0.1.0"),
            "# Red Cross\nid = \"rc\"\nversion = \"0.1.1\" # bumped by the designer\n"
        );
    }
}
