//! Demo data: the records a pack's `demo/<form>.json` asks for, made as real users would
//! make them.
//!
//! Every record is created by one of the tenant's users holding a filer role, then walked to
//! its final state by firing the workflow's transitions as users who may fire them (role,
//! org relation, data scope), each step through the same prepare/write functions and in its
//! own transaction as the API — so validation, numbering, histories, audit entries and
//! effects are all real. Only the step's time is the generator's: histories spread over the
//! months the file names.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use anyhow::{anyhow, bail, Context};
use form_runtime::demo::{CompiledDemo, Step};
use form_runtime::pack::Pack;
use form_runtime::workflow::Facts;
use serde_json::{Map, Value};

use crate::change::records::{self, NewRecord, TransitionRequest};
use crate::change::Actor;
use crate::change::Error as ApiError;
use crate::state::AppState;
use crate::store::{notify, packs, stamp, tenants, users};

/// Records generated per form.
pub type Generated = Vec<(String, usize)>;

/// Generates the demo data of every pack installed in `tenant` (only `pack`, when given),
/// printing a progress line on standard error.
pub async fn generate(
    app: &AppState,
    tenant: &str,
    pack: Option<&str>,
) -> anyhow::Result<Generated> {
    let mut out = Vec::new();
    let installed = packs::installed(&app.db, tenant).await?;
    if let Some(p) = pack {
        if !installed.iter().any(|(id, _)| id == p) {
            bail!("pack {p} is not installed in tenant {tenant}");
        }
    }
    for (id, _) in installed
        .iter()
        .filter(|(id, _)| pack.is_none_or(|p| p == id))
    {
        let files = packs::installed_pack(&app.db, tenant, id)
            .await?
            .with_context(|| format!("pack {id} has no files"))?
            .files;
        let pack =
            Pack::load(&files).map_err(|e| anyhow!("installed pack {id} is invalid: {e:?}"))?;
        // Records made from other records come after those they are made from.
        let mut order: Vec<_> = pack.demos.iter().collect();
        order.sort_by_key(|(_, def)| def.made_from.is_some());
        for (form, def) in order {
            let n = generate_form(app, tenant, &pack, form, def.clone()).await?;
            out.push((form.clone(), n));
        }
    }
    Ok(out)
}

fn refused(what: String, e: ApiError) -> anyhow::Error {
    match e {
        ApiError::Internal(e) => e.context(what),
        e => anyhow!("{what}: {}", e.body()),
    }
}

/// A user who may act, with the names of their unit and the units above it.
struct Person {
    actor: Actor,
    org_names: Vec<String>,
}

async fn generate_form(
    app: &AppState,
    tenant: &str,
    pack: &Pack,
    form_key: &str,
    def: form_runtime::demo::DemoDef,
) -> anyhow::Result<usize> {
    let src = &pack.forms[form_key];
    let wf_def = &pack.workflows[&src.workflow];
    let roles = pack.roles.keys().cloned().collect();
    let file = format!("demo/{form_key}.json");
    let demo = CompiledDemo::check(form_key, def, &src.schema, wf_def, &roles, &file)
        .map_err(|e| anyhow!("{e:?}"))?;
    let (version, form) = app
        .catalog
        .versioned(&app.db, tenant, form_key, None)
        .await?
        .with_context(|| format!("form {form_key} is not published in {tenant}"))?;
    let wf = &form.workflow;

    // Everyone of the tenant, as the workflow and the data scope see them.
    let names: BTreeMap<String, String> = tenants::units(&app.db, tenant)
        .await?
        .into_iter()
        .map(|u| (u.path, u.name))
        .collect();
    let (rows, _) = users::list(&app.db, tenant, "", 100_000, 0).await?;
    let mut people = Vec::new();
    for u in rows.iter().filter(|u| !u.locked) {
        let Some(actor) = Actor::of_username(app, tenant, &u.username).await? else {
            continue;
        };
        if actor.viewer(app, form_key).await?.is_none() {
            continue;
        }
        // The unit's path and every path above it, longest first.
        let mut org_names = Vec::new();
        let mut path = actor.user.org_path.trim_end_matches('/').to_string();
        while !path.is_empty() {
            if let Some(n) = names.get(&format!("{path}/")) {
                org_names.push(n.clone());
            }
            path = path
                .rsplit_once('/')
                .map(|(a, _)| a.to_string())
                .unwrap_or_default();
        }
        people.push(Person { actor, org_names });
    }
    let initial = wf.def.initial.clone();
    let mut filers = Vec::new();
    for (i, p) in people.iter().enumerate() {
        if p.actor.roles.iter().any(|r| demo.def.filers.contains(r))
            && wf.edit_rule(&initial, &p.actor.roles).is_some()
            // A record made from another is created by the making action's effect.
            && (demo.def.made_from.is_some() || p.actor.may(app, form_key, "create").await)
        {
            filers.push(i);
        }
    }
    if filers.is_empty() {
        bail!(
            "{file}: no user of tenant {tenant} holds a filer role ({}) that may create {form_key}",
            demo.def.filers.join(", ")
        );
    }

    let now = chrono::Utc::now();
    let total = demo.def.count;
    let tty = std::io::stderr().is_terminal();
    let mut sources = match &demo.def.made_from {
        Some(m) => Some(Sources::load(app, tenant, m, &people, &filers).await?),
        None => None,
    };
    for i in 0..total {
        let mut rec = demo.record(i, now);
        // The filer: the first, from a random start, whose record every step can reach (and
        // who has a record left to make it from).
        let mut chosen = None;
        for k in 0..filers.len() {
            let f = filers[(rec.pick as usize + k) % filers.len()];
            if sources
                .as_ref()
                .is_some_and(|s| s.find(f, rec.times[0]).is_none())
            {
                continue;
            }
            if let Some(actors) =
                actors_for(app, form_key, wf, &people, f, &rec.steps, rec.pick).await?
            {
                chosen = Some((f, actors));
                break;
            }
        }
        if chosen.is_none() {
            if let (Some(m), Some(_)) = (&demo.def.made_from, &sources) {
                bail!(
                    "{file}: record {i}: no filer has a `{}` record left to make it from by `{}` ({total} asked for)",
                    m.form,
                    m.action
                );
            }
        }
        let Some((f, actors)) = chosen else {
            bail!(
                "{file}: no user of tenant {tenant} can take a record filed by a filer to `{}` ({})",
                rec.state,
                rec.steps.iter().map(|(_, a)| a.as_str()).collect::<Vec<_>>().join(" → ")
            );
        };
        let filer = &people[f];
        let step = Step {
            at: rec.times[0],
            org_names: &filer.org_names,
        };
        let allowed = wf
            .edit_rule(&initial, &filer.actor.roles)
            .and_then(|r| r.fields.clone());
        let fields = demo.creation_fields(allowed.as_deref());
        let what = || format!("{file}: record {i}");
        let mut row = match (&demo.def.made_from, sources.as_mut()) {
            (Some(m), Some(src)) => {
                let source = src.take(f, rec.times[0]);
                let made = make_from(app, &filer.actor, m, form_key, &source, rec.times[0])
                    .await
                    .map_err(|e| refused(what(), e))?;
                // The filer then fills in what the file did not give.
                let current = made.data.as_object().cloned().unwrap_or_default();
                let mut values = demo.values(&mut rec.rng, &fields, &current, &step);
                values.retain(|k, _| current.get(k).is_none_or(Value::is_null));
                let prepared = records::prepare_patch(
                    app,
                    &filer.actor,
                    &form,
                    made,
                    None,
                    Value::Object(values),
                    None,
                )
                .await
                .map_err(|e| refused(what(), e))?;
                let mut tx = app.db.begin().await?;
                let row = records::write(
                    &mut tx,
                    app,
                    &filer.actor,
                    &form,
                    prepared,
                    &stamp(rec.times[0]),
                )
                .await
                .map_err(|e| refused(what(), e))?;
                tx.commit().await?;
                row
            }
            _ => {
                let data = demo.values(&mut rec.rng, &fields, &Map::new(), &step);
                let new = NewRecord {
                    data: Value::Object(data),
                    action: None,
                    comment: None,
                    at: Some(rec.times[0]),
                };
                let prepared =
                    records::prepare_create(app, &filer.actor, &form, version, new, None)
                        .await
                        .map_err(|e| refused(what(), e))?;
                let mut tx = app.db.begin().await?;
                let row = records::write_create(
                    &mut tx,
                    app,
                    &filer.actor,
                    &form,
                    prepared,
                    &stamp(rec.times[0]),
                )
                .await
                .map_err(|e| refused(what(), e))?;
                tx.commit().await?;
                row
            }
        };
        notify::drop_queued(&app.db, tenant, &row.id).await?;

        // A record made from another belongs to that record's owner, who may not be the filer:
        // the steps are then taken as for a record of theirs.
        let actors = match people
            .iter()
            .position(|p| p.actor.user.user_id == row.owner_id)
        {
            Some(o) if o != f => actors_for(app, form_key, wf, &people, o, &rec.steps, rec.pick)
                .await?
                .with_context(|| {
                    format!(
                        "{file}: record {i}: nobody can take a record of its owner to `{}`",
                        rec.state
                    )
                })?,
            _ => actors,
        };
        for (k, ((from, action), who)) in rec.steps.iter().zip(&actors).enumerate() {
            let Some(t) = wf.transition(from, action) else {
                bail!("{file}: no transition {action} from {from}");
            };
            let step = Step {
                at: rec.times[k + 1],
                org_names: &filer.org_names,
            };
            let fields = demo.transition_fields(t);
            let current = row.data.as_object().cloned().unwrap_or_default();
            let values = demo.values(&mut rec.rng, &fields, &current, &step);
            let comment = t.comment_required.then(|| demo.comment(&mut rec.rng));
            let req = TransitionRequest::new(
                comment,
                (!values.is_empty()).then_some(Value::Object(values)),
            )
            .happened_at(rec.times[k + 1]);
            let actor = &people[*who].actor;
            let what = || format!("{file}: record {i}, {action} from {from}");
            let prepared = records::prepare_transition(app, actor, &form, row, action, req, None)
                .await
                .map_err(|e| refused(what(), e))?;
            let mut tx = app.db.begin().await?;
            row = records::write(
                &mut tx,
                app,
                actor,
                &form,
                prepared,
                &stamp(rec.times[k + 1]),
            )
            .await
            .map_err(|e| refused(what(), e))?;
            tx.commit().await?;
            // Generated phone numbers may be somebody's: a demo record's SMS and webhook
            // deliveries are dropped, never sent.
            notify::drop_queued(&app.db, tenant, &row.id).await?;
        }
        if tty && (i % 10 == 9 || i + 1 == total) {
            eprint!("\rdemo data: {tenant} {form_key} {}/{total}", i + 1);
        }
    }
    if tty {
        eprintln!();
    } else {
        eprintln!("demo data: {tenant} {form_key} {total}/{total}");
    }
    Ok(total)
}

/// The records a demo file's records are made from: per filer, those they see in a state the
/// making action leaves, each used once.
struct Sources {
    /// Per filer: the records' ids with the time of their last change.
    by_filer: BTreeMap<usize, Vec<(String, chrono::DateTime<chrono::Utc>)>>,
    used: std::collections::HashSet<String>,
}

impl Sources {
    async fn load(
        app: &AppState,
        tenant: &str,
        m: &form_runtime::demo::MadeFrom,
        people: &[Person],
        filers: &[usize],
    ) -> anyhow::Result<Sources> {
        let (_, source) = app
            .catalog
            .versioned(&app.db, tenant, &m.form, None)
            .await?
            .with_context(|| format!("form {} is not published in {tenant}", m.form))?;
        let states: Vec<String> = source
            .workflow
            .def
            .transitions
            .iter()
            .filter(|t| t.action == m.action)
            .flat_map(|t| t.from.keys().iter().cloned())
            .collect();
        let mut by_filer = BTreeMap::new();
        for &f in filers {
            let actor = &people[f].actor;
            let Some(viewer) = actor.viewer(app, &m.form).await? else {
                continue;
            };
            let rows = crate::store::records::in_states(
                &app.db, tenant, &m.form, &states, &viewer, 100_000,
            )
            .await?;
            let seen = rows
                .into_iter()
                .filter_map(|r| {
                    let at = chrono::DateTime::parse_from_rfc3339(&r.updated_at).ok()?;
                    Some((r.id, at.with_timezone(&chrono::Utc)))
                })
                .collect();
            by_filer.insert(f, seen);
        }
        Ok(Sources {
            by_filer,
            used: Default::default(),
        })
    }

    /// A record the filer sees, not yet used, that was as it is now before `at` (a record is
    /// never made from one registered later); taken when `take`.
    fn find(&self, filer: usize, at: chrono::DateTime<chrono::Utc>) -> Option<&str> {
        self.by_filer
            .get(&filer)?
            .iter()
            .find(|(id, t)| *t < at && !self.used.contains(id))
            .map(|(id, _)| id.as_str())
    }

    fn take(&mut self, filer: usize, at: chrono::DateTime<chrono::Utc>) -> String {
        let id = self.find(filer, at).unwrap_or_default().to_string();
        self.used.insert(id.clone());
        id
    }
}

/// Makes a record of `form` from record `source` as a person would: fires the action whose
/// `create` effect makes it, at `at`, and returns the record it made (clear data).
async fn make_from(
    app: &AppState,
    actor: &Actor,
    m: &form_runtime::demo::MadeFrom,
    form: &str,
    source: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<crate::store::records::RecordRow, ApiError> {
    let (src_row, src_form, _) = records::visible(app, actor, source).await?;
    let req = TransitionRequest::new(None, None).happened_at(at);
    let prepared =
        records::prepare_transition(app, actor, &src_form, src_row, &m.action, req, None).await?;
    let when = stamp(at);
    let mut tx = app.db.begin().await?;
    records::write(&mut tx, app, actor, &src_form, prepared, &when).await?;
    tx.commit().await?;
    notify::drop_queued(&app.db, actor.tenant(), source).await?;
    let made = crate::store::records::created_at(&app.db, actor.tenant(), form, &when)
        .await?
        .into_iter()
        .find(|r| {
            r.data
                .as_object()
                .is_some_and(|d| d.values().any(|v| v == source))
        })
        .ok_or_else(|| anyhow!("`{}` on {source} made no {form} record", m.action))?;
    let (row, _, _) = records::visible(app, actor, &made.id).await?;
    Ok(row)
}

/// For each step of a record filed by `people[filer]`, a user who may fire it — the filer
/// when they may, else one of the others who may, chosen by `pick` — or None when some step
/// has nobody.
async fn actors_for(
    app: &AppState,
    form: &str,
    wf: &form_runtime::workflow::Workflow,
    people: &[Person],
    filer: usize,
    steps: &[(String, String)],
    pick: u64,
) -> anyhow::Result<Option<Vec<usize>>> {
    let owner = &people[filer].actor;
    let mut out: Vec<usize> = Vec::new();
    for (k, (from, action)) in steps.iter().enumerate() {
        // Separation of duties: whoever took an earlier step it names may not take this one.
        let excluded: Vec<usize> = match wf
            .transition(from, action)
            .and_then(|t| t.separate.as_ref())
            .filter(|s| !s.waived(&owner.user.org_path))
        {
            Some(sep) => steps[..k]
                .iter()
                .zip(&out)
                .filter(|((_, a), _)| sep.from.contains(a))
                .map(|(_, who)| *who)
                .collect(),
            None => Vec::new(),
        };
        let mut able = Vec::new();
        for (i, p) in people.iter().enumerate() {
            if excluded.contains(&i) {
                continue;
            }
            let facts = Facts {
                org_path: &owner.user.org_path,
                owner: i == filer,
                untouched_since_owner: false,
            };
            if wf
                .plan_for(from, action, &p.actor.party(), &facts, Some("-"))
                .is_err()
            {
                continue;
            }
            let sees = match p.actor.viewer(app, form).await? {
                Some(v) => v.scope.covers(
                    &v.user_id,
                    &v.org_path,
                    &owner.user.user_id,
                    &owner.user.org_path,
                ),
                None => false,
            };
            if sees && p.actor.may(app, form, action).await {
                able.push(i);
            }
        }
        if able.is_empty() {
            return Ok(None);
        }
        out.push(if able.contains(&filer) {
            filer
        } else {
            able[(pick as usize / 7) % able.len()]
        });
    }
    Ok(Some(out))
}
