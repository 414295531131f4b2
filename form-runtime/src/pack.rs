//! Schema packs: a directory of definitions that together make an agency's application.
//!
//! ```text
//! pack.toml            id, name, version, description
//! forms/<key>.json     JSON Schema + x- keywords; `x-workflow` names the workflow
//! workflows/<key>.json states and transitions
//! lists/<key>.json     list views
//! statistics/<key>.json grouped counts and sums over one form
//! documents/<key>.json printable documents and their templates
//! batches/<key>.json   batch rules: rank records and fire a transition for the top
//! exports/<key>.json   export templates: spreadsheet layouts of a form's records
//! imports/<key>.json   import templates: workbook columns → fields, upsert key, action
//! catalogues/<key>.json option lists and trees
//! dashboards/<key>.json headline figures and charts of the statistics
//! demo/<form>.json     demo data: how many records of the form to generate, and how
//! roles.toml           roles, data scopes, grants
//! ```
//!
//! [`Pack::load`] checks everything and reports *every* problem at once, each with the file,
//! the JSON pointer and the reason; a pack that loads is consistent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::PackError;
use crate::form::CompiledForm;
use crate::key::{is_code, is_key};
use crate::list::{CompiledList, ListDef};
use crate::roles::{RoleDef, RolesFile, FORM_ACTIONS};
use crate::rules::Catalogue;
use crate::statistics::{CompiledStatistic, StatisticDef};
use crate::workflow::{Workflow, WorkflowDef};

/// The role every tenant has; packs may not define it.
pub const BUILTIN_ADMIN: &str = "admin";

/// `pack.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Pack id (`red-cross`): lowercase letters, digits, `-` and `_`.
    pub id: String,
    /// Display name (`上海市红十字会`).
    pub name: String,
    /// Version of the pack, e.g. `0.1.0`; installing a different version upgrades.
    pub version: String,
    /// One paragraph on what the pack is for.
    #[serde(default)]
    pub description: String,
}

/// The files of a pack, by path relative to the pack directory (`forms/fire_relief.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackFiles(pub BTreeMap<String, Vec<u8>>);

impl PackFiles {
    /// Reads every file under `dir`.
    pub fn from_dir(dir: &Path) -> std::io::Result<PackFiles> {
        let mut files = BTreeMap::new();
        read_dir(dir, dir, &mut files)?;
        Ok(PackFiles(files))
    }
}

fn read_dir(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            read_dir(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.insert(rel, std::fs::read(&path)?);
        }
    }
    Ok(())
}

/// A form as a pack defines it: schema plus the key of its workflow.
#[derive(Debug, Clone)]
pub struct FormSource {
    /// The JSON Schema with its `x-` keywords.
    pub schema: Value,
    /// Key of the workflow (`x-workflow`).
    pub workflow: String,
}

/// A pack that passed every check.
#[derive(Debug, Clone)]
pub struct Pack {
    /// `pack.toml`.
    pub manifest: Manifest,
    /// Forms by key.
    pub forms: BTreeMap<String, FormSource>,
    /// Workflows by key.
    pub workflows: BTreeMap<String, WorkflowDef>,
    /// Lists by key.
    pub lists: BTreeMap<String, ListDef>,
    /// Statistics by key.
    pub statistics: BTreeMap<String, StatisticDef>,
    /// Roles by key.
    pub roles: BTreeMap<String, RoleDef>,
    /// Catalogues (option lists and trees, e.g. regions) by key.
    pub catalogues: BTreeMap<String, Catalogue>,
    /// Printable documents by key.
    pub documents: BTreeMap<String, crate::document::Document>,
    /// Batch rules (批量规则) by key.
    pub batches: BTreeMap<String, crate::batch_rule::BatchRuleDef>,
    /// Export templates by key.
    pub exports: BTreeMap<String, crate::export::ExportDef>,
    /// Import templates (导入模板) by key.
    pub imports: BTreeMap<String, crate::import::ImportDef>,
    /// Dashboards (数据看板) by key.
    pub dashboards: BTreeMap<String, crate::dashboard::DashboardDef>,
    /// Demo data (演示数据) by form key.
    pub demos: BTreeMap<String, crate::demo::DemoDef>,
    /// The files it was loaded from, kept so an installed pack can be exported and edited.
    pub files: PackFiles,
}

/// One Casbin policy line a pack grants: role may do `action` on `object` (a form key or `*`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Policy {
    /// Role key.
    pub role: String,
    /// Form key or `*`.
    pub object: String,
    /// Action key or `*`.
    pub action: String,
}

impl Pack {
    /// Reads and checks a pack directory.
    pub fn load_dir(dir: &Path) -> Result<Pack, Vec<PackError>> {
        let files = PackFiles::from_dir(dir).map_err(|e| {
            vec![PackError::new(
                dir.display().to_string(),
                "",
                format!("cannot read the pack: {e}"),
            )]
        })?;
        Pack::load(&files)
    }

    /// Checks a pack's files and returns the pack, or every problem found.
    pub fn load(files: &PackFiles) -> Result<Pack, Vec<PackError>> {
        let mut errs = Vec::new();
        let manifest: Option<Manifest> = match files.0.get("pack.toml") {
            None => {
                errs.push(PackError::new(
                    "pack.toml",
                    "",
                    "missing: every pack needs a pack.toml",
                ));
                None
            }
            Some(b) => parse_toml("pack.toml", b, &mut errs),
        };
        if let Some(m) = &manifest {
            if !is_code(&m.id) {
                errs.push(PackError::new(
                    "pack.toml",
                    "/id",
                    format!("`{}` is not a valid pack id (a-z, 0-9, -, _)", m.id),
                ));
            }
        }
        let roles: BTreeMap<String, RoleDef> = match files.0.get("roles.toml") {
            None => {
                errs.push(PackError::new(
                    "roles.toml",
                    "",
                    "missing: every pack needs a roles.toml",
                ));
                BTreeMap::new()
            }
            Some(b) => parse_toml::<RolesFile>("roles.toml", b, &mut errs)
                .map(|r| r.roles)
                .unwrap_or_default(),
        };
        let mut catalogues = BTreeMap::new();
        for (key, file, bytes) in entries(files, "catalogues/", ".json", &mut errs) {
            if let Some(c) = parse_json::<Catalogue>(&file, bytes, &mut errs) {
                catalogues.insert(key, c);
            }
        }
        let role_keys: BTreeSet<String> = roles.keys().cloned().collect();

        let mut forms = BTreeMap::new();
        let mut form_fields = BTreeMap::new();
        for (key, file, bytes) in entries(files, "forms/", ".json", &mut errs) {
            let Some(schema) = parse_json::<Value>(&file, bytes, &mut errs) else {
                continue;
            };
            match CompiledForm::fields_of(&schema, &file) {
                Ok(fields) => {
                    form_fields.insert(key.clone(), fields);
                }
                Err(e) => errs.extend(e),
            }
            if let Err(e) = crate::attachment::attachment_fields(&schema, &file) {
                errs.extend(e);
            }
            errs.extend(crate::sensitive::check(&schema, &file));
            match schema.get("x-workflow").and_then(Value::as_str) {
                Some(wf) => {
                    forms.insert(
                        key,
                        (
                            file,
                            FormSource {
                                workflow: wf.to_string(),
                                schema,
                            },
                        ),
                    );
                }
                None => errs.push(PackError::new(
                    &file,
                    "/x-workflow",
                    "a form must name its workflow in \"x-workflow\"",
                )),
            }
        }

        let mut workflows = BTreeMap::new();
        // Every parsed definition, also those with problems: what names other parts of the
        // pack is checked even then, so one run reports everything.
        let mut parsed_workflows = BTreeMap::new();
        for (key, file, bytes) in entries(files, "workflows/", ".json", &mut errs) {
            let Some(def) = parse_json::<WorkflowDef>(&file, bytes, &mut errs) else {
                continue;
            };
            parsed_workflows.insert(key.clone(), def.clone());
            // Fields a workflow may name are those of every form that uses it.
            let users: Vec<&String> = forms
                .iter()
                .filter(|(_, (_, f))| f.workflow == key)
                .map(|(k, _)| k)
                .collect();
            let fields: BTreeSet<String> = users
                .iter()
                .filter_map(|k| form_fields.get(*k))
                .flat_map(|f| f.keys().cloned())
                .collect();
            match Workflow::check(&key, def, &file, &role_keys, &fields) {
                Ok(wf) => {
                    workflows.insert(key, Arc::new(wf));
                }
                Err(e) => errs.extend(e),
            }
        }

        for (key, (file, form)) in &forms {
            match workflows.get(&form.workflow) {
                Some(wf) => {
                    if let Err(e) = CompiledForm::compile_with(
                        key,
                        form.schema.clone(),
                        wf.clone(),
                        &catalogues,
                        file,
                    ) {
                        errs.extend(e);
                    }
                }
                None if files
                    .0
                    .contains_key(&format!("workflows/{}.json", form.workflow)) => {} // reported already
                None => errs.push(PackError::new(
                    file,
                    "/x-workflow",
                    format!("workflow `{}` is not defined in workflows/", form.workflow),
                )),
            }
        }

        // A reference names a form of this pack, and a label field it has that is not
        // sensitive (a list shows the label to everyone who sees the referencing record).
        for (file, form) in forms.values() {
            for (field, prop) in form
                .schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let Some(r) = prop.get("x-ref") else { continue };
                let ptr = format!("/properties/{}/x-ref", crate::form::escape(field));
                let Some(target) = r.get("form").and_then(Value::as_str) else {
                    continue;
                };
                match forms.get(target) {
                    None => errs.push(PackError::new(
                        file,
                        format!("{ptr}/form"),
                        format!("form `{target}` is not defined in forms/"),
                    )),
                    Some((_, t)) => {
                        if let Some(label) = r.get("label").and_then(Value::as_str) {
                            match t.schema.get("properties").and_then(|p| p.get(label)) {
                                None => errs.push(PackError::new(file, format!("{ptr}/label"), format!("form `{target}` has no field `{label}`"))),
                                Some(lp) if lp.get("x-sensitive").is_some_and(|v| v != &Value::Bool(false)) => errs.push(PackError::new(
                                    file,
                                    format!("{ptr}/label"),
                                    format!("`{label}` of `{target}` is sensitive and cannot be shown as a reference's label"),
                                )),
                                Some(_) => {}
                            }
                        }
                    }
                }
            }
        }

        let mut lists = BTreeMap::new();
        for (key, file, bytes) in entries(files, "lists/", ".json", &mut errs) {
            let Some(def) = parse_json::<ListDef>(&file, bytes, &mut errs) else {
                continue;
            };
            match form_fields.get(&def.form) {
                None => errs.push(PackError::new(
                    &file,
                    "/form",
                    format!("form `{}` is not defined in forms/", def.form),
                )),
                Some(fields) => match CompiledList::check_form(
                    &key,
                    def.clone(),
                    fields,
                    forms
                        .get(&def.form)
                        .map_or(&Value::Null, |(_, f)| &f.schema),
                    &file,
                ) {
                    Ok(l) => {
                        lists.insert(key, l.def);
                    }
                    Err(e) => errs.extend(e),
                },
            }
        }

        let mut statistics = BTreeMap::new();
        for (key, file, bytes) in entries(files, "statistics/", ".json", &mut errs) {
            let Some(def) = parse_json::<StatisticDef>(&file, bytes, &mut errs) else {
                continue;
            };
            match (form_fields.get(&def.form), forms.get(&def.form)) {
                (Some(fields), Some((_, form))) => {
                    match CompiledStatistic::check(&key, def, fields, &form.schema, &file) {
                        Ok(s) => {
                            statistics.insert(key, s.def);
                        }
                        Err(e) => errs.extend(e),
                    }
                }
                _ => errs.push(PackError::new(
                    &file,
                    "/form",
                    format!("form `{}` is not defined in forms/", def.form),
                )),
            }
        }

        let mut batches = BTreeMap::new();
        for (key, file, bytes) in entries(files, "batches/", ".json", &mut errs) {
            let Some(def) = parse_json::<crate::batch_rule::BatchRuleDef>(&file, bytes, &mut errs)
            else {
                continue;
            };
            let found = forms
                .get(&def.form)
                .and_then(|(_, f)| workflows.get(&f.workflow))
                .zip(form_fields.get(&def.form));
            match found {
                Some((wf, fields)) => {
                    let fields: BTreeSet<String> = fields.keys().cloned().collect();
                    match crate::batch_rule::BatchRule::check(&key, def, &fields, wf, &file) {
                        Ok(r) => {
                            batches.insert(key, r.def);
                        }
                        Err(e) => errs.extend(e),
                    }
                }
                None if forms.contains_key(&def.form) => {} // its workflow is reported already
                None => errs.push(PackError::new(
                    &file,
                    "/form",
                    format!("form `{}` is not defined in forms/", def.form),
                )),
            }
        }

        let mut exports = BTreeMap::new();
        for (key, file, bytes) in entries(files, "exports/", ".json", &mut errs) {
            let Some(def) = parse_json::<crate::export::ExportDef>(&file, bytes, &mut errs) else {
                continue;
            };
            match (form_fields.get(&def.form), forms.get(&def.form)) {
                (Some(fields), Some((_, form))) => {
                    match crate::export::ExportTemplate::check(
                        &key,
                        def,
                        fields,
                        &form.schema,
                        &file,
                    ) {
                        Ok(t) => {
                            exports.insert(key, t.def);
                        }
                        Err(e) => errs.extend(e),
                    }
                }
                _ => errs.push(PackError::new(
                    &file,
                    "/form",
                    format!("form `{}` is not defined in forms/", def.form),
                )),
            }
        }

        let mut imports = BTreeMap::new();
        for (key, file, bytes) in entries(files, "imports/", ".json", &mut errs) {
            let Some(def) = parse_json::<crate::import::ImportDef>(&file, bytes, &mut errs) else {
                continue;
            };
            match forms.get(&def.form) {
                Some((_, form)) => {
                    let wf = parsed_workflows.get(&form.workflow);
                    let found = crate::import::Importer::check(&def, &form.schema, wf, &file);
                    if found.is_empty() {
                        imports.insert(key, def);
                    } else {
                        errs.extend(found);
                    }
                }
                None => errs.push(PackError::new(
                    &file,
                    "/form",
                    format!("form `{}` is not defined in forms/", def.form),
                )),
            }
        }

        let mut dashboards = BTreeMap::new();
        let stat_forms: BTreeMap<String, crate::dashboard::StatisticForm<'_>> = statistics
            .iter()
            .filter_map(|(k, def): (&String, &StatisticDef)| {
                let fields = form_fields.get(&def.form)?;
                let (_, src) = forms.get(&def.form)?;
                Some((
                    k.clone(),
                    crate::dashboard::StatisticForm {
                        def,
                        fields,
                        schema: &src.schema,
                    },
                ))
            })
            .collect();
        for (key, file, bytes) in entries(files, "dashboards/", ".json", &mut errs) {
            let Some(def) = parse_json::<crate::dashboard::DashboardDef>(&file, bytes, &mut errs)
            else {
                continue;
            };
            let found = crate::dashboard::check(&def, &stat_forms, &file);
            if found.is_empty() {
                dashboards.insert(key, def);
            } else {
                errs.extend(found);
            }
        }
        drop(stat_forms);

        let mut demos = BTreeMap::new();
        for (key, file, bytes) in entries(files, "demo/", ".json", &mut errs) {
            let Some(def) = parse_json::<crate::demo::DemoDef>(&file, bytes, &mut errs) else {
                continue;
            };
            let Some((_, form)) = forms.get(&key) else {
                errs.push(PackError::new(
                    &file,
                    "",
                    format!("form `{key}` is not defined in forms/: a demo file is named after its form"),
                ));
                continue;
            };
            let Some(wf) = workflows.get(&form.workflow) else {
                continue; // the form's workflow is reported
            };
            if let Some(m) = &def.made_from {
                let source = forms
                    .get(&m.form)
                    .and_then(|(_, f)| workflows.get(&f.workflow));
                let defined = files.0.contains_key(&format!("forms/{}.json", m.form));
                match source {
                    // A form that is there but does not compile is reported at its own file.
                    None if defined => {}
                    None => errs.push(PackError::new(
                        &file,
                        "/made_from/form",
                        format!("form `{}` is not defined in forms/", m.form),
                    )),
                    Some(swf) => {
                        let makes = swf.def.transitions.iter().any(|t| {
                            t.action == m.action
                                && t.effects.iter().any(|e| {
                                    matches!(e, crate::workflow::Effect::Create(c) if c.form == key)
                                })
                        });
                        if !makes {
                            errs.push(PackError::new(
                                &file,
                                "/made_from/action",
                                format!(
                                    "no transition `{}` of form `{}` has a `create` effect that makes `{key}`",
                                    m.action, m.form
                                ),
                            ));
                        }
                    }
                }
            }
            match crate::demo::CompiledDemo::check(
                &key,
                def,
                &form.schema,
                &wf.def,
                &role_keys,
                &file,
            ) {
                Ok(d) => {
                    demos.insert(key, d.def);
                }
                Err(e) => errs.extend(e),
            }
        }

        for (rk, role) in &roles {
            if rk == BUILTIN_ADMIN {
                errs.push(PackError::new(
                    "roles.toml",
                    format!("/roles/{rk}"),
                    "`admin` is built into every tenant; a pack cannot redefine it",
                ));
            }
            if !is_key(rk) {
                errs.push(PackError::new(
                    "roles.toml",
                    format!("/roles/{rk}"),
                    format!("role key `{rk}` must be snake_case"),
                ));
            }
            for (form, actions) in &role.grants {
                let ptr = format!("/roles/{rk}/grants/{form}");
                if form != "*" && !forms.contains_key(form) {
                    errs.push(PackError::new(
                        "roles.toml",
                        &ptr,
                        format!("form `{form}` is not defined in forms/"),
                    ));
                }
                for (i, a) in actions.iter().enumerate() {
                    if let Some(field) = a.strip_prefix("unmask:") {
                        // A per-field unmask: the field must hold sensitive values.
                        let sensitive = forms.get(form).is_some_and(|(_, f)| {
                            crate::sensitive::sensitive_fields(&f.schema).iter().any(|p| {
                                matches!(p.segments.first(), Some(crate::sensitive::Segment::Key(k)) if k == field)
                            })
                        });
                        if form == "*" || !sensitive {
                            errs.push(PackError::new(
                                "roles.toml",
                                format!("{ptr}/{i}"),
                                format!("`{a}`: `{field}` is not a field of `{form}` that holds sensitive (x-sensitive) values; unmask:<field> opens one such field"),
                            ));
                        }
                        continue;
                    }
                    if a != "*" && !FORM_ACTIONS.contains(&a.as_str()) {
                        errs.push(PackError::new(
                            "roles.toml",
                            format!("{ptr}/{i}"),
                            format!("unknown action `{a}`; one of {FORM_ACTIONS:?}, unmask:<field> or *"),
                        ));
                    }
                }
            }
        }

        let states_of = |form: &str| -> Option<Option<Vec<String>>> {
            let (_, src) = forms.get(form)?;
            Some(
                workflows
                    .get(&src.workflow)
                    .map(|wf| wf.def.states.iter().map(|s| s.key.clone()).collect()),
            )
        };
        let documents = crate::document::load(&files.0, &states_of, &mut errs);
        check_outward_effects(
            files,
            &parsed_workflows,
            &forms,
            &form_fields,
            &documents,
            &mut errs,
        );

        for (path, _) in files.0.iter() {
            let known = ["pack.toml", "roles.toml", "README.md"].contains(&path.as_str())
                || path.starts_with("documents/")
                || [
                    "forms/",
                    "workflows/",
                    "lists/",
                    "statistics/",
                    "catalogues/",
                    "batches/",
                    "exports/",
                    "imports/",
                    "dashboards/",
                    "demo/",
                ]
                .iter()
                .any(|d| path.starts_with(d))
                || path.starts_with("examples/");
            if !known {
                errs.push(PackError::new(
                    path,
                    "",
                    "unexpected file: not part of the pack format",
                ));
            }
        }

        match manifest {
            Some(manifest) if errs.is_empty() => Ok(Pack {
                manifest,
                forms: forms.into_iter().map(|(k, (_, f))| (k, f)).collect(),
                workflows: workflows
                    .into_iter()
                    .map(|(k, w)| (k, w.def.clone()))
                    .collect(),
                lists,
                statistics,
                roles,
                catalogues,
                documents,
                batches,
                exports,
                imports,
                dashboards,
                demos,
                files: files.clone(),
            }),
            _ => Err(errs),
        }
    }

    /// The catalogues a form's fields take options from, to be stored with the form version.
    pub fn catalogues_of(&self, form: &str) -> BTreeMap<String, Catalogue> {
        let mut used = BTreeMap::new();
        let Some(src) = self.forms.get(form) else {
            return used;
        };
        let mut stack = vec![&src.schema];
        while let Some(node) = stack.pop() {
            if let Some(c) = node.get("x-options-from").and_then(Value::as_str) {
                if let Some(cat) = self.catalogues.get(c) {
                    used.insert(c.to_string(), cat.clone());
                }
            }
            match node {
                Value::Object(m) => stack.extend(m.values()),
                Value::Array(a) => stack.extend(a.iter()),
                _ => {}
            }
        }
        used
    }

    /// The documents printed from a form's records, to be stored with the form version.
    pub fn documents_of(&self, form: &str) -> BTreeMap<String, crate::document::Document> {
        self.documents
            .iter()
            .filter(|(_, d)| d.def.form == form)
            .map(|(k, d)| (k.clone(), d.clone()))
            .collect()
    }

    /// The Casbin policies this pack grants: `roles.toml` grants plus every transition's roles
    /// on every form that uses the workflow.
    pub fn policies(&self) -> Vec<Policy> {
        let mut out = BTreeSet::new();
        for (role, def) in &self.roles {
            for (form, actions) in &def.grants {
                // `*` means every form of *this* pack; expanded here so it cannot reach the
                // forms of other packs installed in the same tenant.
                let forms: Vec<&String> = if form == "*" {
                    self.forms.keys().collect()
                } else {
                    vec![form]
                };
                for f in forms {
                    for a in actions {
                        out.insert(Policy {
                            role: role.clone(),
                            object: f.clone(),
                            action: a.clone(),
                        });
                    }
                }
            }
        }
        for (form, src) in &self.forms {
            for t in self
                .workflows
                .get(&src.workflow)
                .map(|w| w.transitions.as_slice())
                .unwrap_or_default()
            {
                for role in &t.roles {
                    out.insert(Policy {
                        role: role.clone(),
                        object: form.clone(),
                        action: t.action.clone(),
                    });
                }
            }
        }
        out.into_iter().collect()
    }
}

/// Files under `dir` with `ext`, as (key, path, bytes); a stem that is not a key is an error.
/// `create` and `document` effects name other parts of the pack: a form (and its fields), a
/// document of every form that uses the workflow.
fn check_outward_effects(
    files: &PackFiles,
    workflows: &BTreeMap<String, WorkflowDef>,
    forms: &BTreeMap<String, (String, FormSource)>,
    form_fields: &BTreeMap<String, BTreeMap<String, crate::form::Field>>,
    documents: &BTreeMap<String, crate::document::Document>,
    errs: &mut Vec<PackError>,
) {
    use crate::workflow::Effect;
    // A sequence is gapless or not, whichever effects take from it: the first effect (in
    // workflow and transition order) that names it says which.
    let mut gapless_of: BTreeMap<&str, (bool, String)> = BTreeMap::new();
    for (wk, wf) in workflows {
        let file = format!("workflows/{wk}.json");
        if !files.0.contains_key(&file) {
            continue;
        }
        for (i, t) in wf.transitions.iter().enumerate() {
            for (j, e) in t.effects.iter().enumerate() {
                let Effect::Number(n) = e else { continue };
                let here = format!("{file} /transitions/{i}/effects/{j}");
                match gapless_of.get(n.sequence.as_str()) {
                    None => {
                        gapless_of.insert(&n.sequence, (n.gapless, here));
                    }
                    Some((g, first)) if *g != n.gapless => errs.push(PackError::new(
                        &file,
                        format!("/transitions/{i}/effects/{j}/number/gapless"),
                        format!(
                            "sequence `{}` is {} at {first} and {} here: every effect of one sequence must say the same",
                            n.sequence,
                            if *g { "gapless" } else { "not gapless" },
                            if n.gapless { "gapless" } else { "not gapless" },
                        ),
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    for (wk, wf) in workflows {
        let file = format!("workflows/{wk}.json");
        if !files.0.contains_key(&file) {
            continue;
        }
        let users: Vec<&String> = forms
            .iter()
            .filter(|(_, (_, f))| &f.workflow == wk)
            .map(|(k, _)| k)
            .collect();
        for (i, t) in wf.transitions.iter().enumerate() {
            for (j, e) in t.effects.iter().enumerate() {
                let at = format!("/transitions/{i}/effects/{j}");
                match e {
                    Effect::Create(c) => {
                        let Some(fields) = form_fields.get(&c.form) else {
                            errs.push(PackError::new(
                                &file,
                                format!("{at}/create/form"),
                                format!("form `{}` is not defined in forms/", c.form),
                            ));
                            continue;
                        };
                        if let Some(l) = &c.link {
                            if !fields.contains_key(l) {
                                errs.push(PackError::new(
                                    &file,
                                    format!("{at}/create/link"),
                                    format!("form `{}` has no field `{l}`", c.form),
                                ));
                            }
                        }
                        for (f, x) in &c.data {
                            let ptr = format!("{at}/create/data/{}", crate::form::escape(f));
                            if !fields.contains_key(f) {
                                errs.push(PackError::new(
                                    &file,
                                    &ptr,
                                    format!("form `{}` has no field `{f}`", c.form),
                                ));
                            }
                            if let Err(e) = crate::expr::Expr::compile(x) {
                                errs.push(PackError::new(
                                    &file,
                                    &ptr,
                                    format!("invalid expression: {e}"),
                                ));
                            }
                        }
                    }
                    Effect::Number(n) => match &n.form {
                        Some(f) if !users.contains(&f) => errs.push(PackError::new(
                            &file,
                            format!("{at}/number/form"),
                            format!("form `{f}` does not use this workflow"),
                        )),
                        _ => {}
                    },
                    Effect::Document(d) => match documents.get(d) {
                        None => errs.push(PackError::new(
                            &file,
                            format!("{at}/document"),
                            format!("document `{d}` is not defined in documents/"),
                        )),
                        Some(doc) if !users.contains(&&doc.def.form) => errs.push(PackError::new(
                            &file,
                            format!("{at}/document"),
                            format!(
                                "document `{d}` prints form `{}`, which does not use this workflow",
                                doc.def.form
                            ),
                        )),
                        Some(_) => {}
                    },
                    _ => {}
                }
            }
        }
    }
}

fn entries<'a>(
    files: &'a PackFiles,
    dir: &str,
    ext: &str,
    errs: &mut Vec<PackError>,
) -> Vec<(String, String, &'a [u8])> {
    let mut out = Vec::new();
    for (path, bytes) in files.0.range(dir.to_string()..) {
        let Some(name) = path.strip_prefix(dir) else {
            break;
        };
        match name.strip_suffix(ext) {
            Some(stem) if is_key(stem) => {
                out.push((stem.to_string(), path.clone(), bytes.as_slice()))
            }
            Some(stem) => errs.push(PackError::new(
                path,
                "",
                format!("file name `{stem}` must be a snake_case key (a-z, 0-9, _)"),
            )),
            None => errs.push(PackError::new(path, "", format!("expected a {ext} file"))),
        }
    }
    out
}

fn parse_json<T: DeserializeOwned>(
    file: &str,
    bytes: &[u8],
    errs: &mut Vec<PackError>,
) -> Option<T> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(de) {
        Ok(v) => Some(v),
        Err(e) => {
            let pointer = pointer_of(e.path());
            let inner = e.into_inner();
            let reason = if inner.is_syntax() || inner.is_eof() {
                format!("not valid JSON: {inner}")
            } else {
                inner.to_string()
            };
            errs.push(PackError::new(file, pointer, reason));
            None
        }
    }
}

fn parse_toml<T: DeserializeOwned>(
    file: &str,
    bytes: &[u8],
    errs: &mut Vec<PackError>,
) -> Option<T> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            errs.push(PackError::new(file, "", format!("not UTF-8 text: {e}")));
            return None;
        }
    };
    let de = toml::Deserializer::new(text);
    match serde_path_to_error::deserialize(de) {
        Ok(v) => Some(v),
        Err(e) => {
            let pointer = pointer_of(e.path());
            errs.push(PackError::new(
                file,
                pointer,
                e.into_inner().message().to_string(),
            ));
            None
        }
    }
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => out.push_str(&format!("/{}", crate::form::escape(key))),
            Segment::Enum { variant } => {
                out.push_str(&format!("/{}", crate::form::escape(variant)))
            }
            Segment::Unknown => {}
        }
    }
    out
}
