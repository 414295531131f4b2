//! Records: create, read, edit with optimistic locking, fire transitions, read history — the
//! commands, and the steps (prepare, then write in the caller's transaction) that batches,
//! imports, timers and demo data compose.

use std::collections::BTreeMap;

use chrono::Datelike;
use form_runtime::form::{escape, CompiledForm};
use form_runtime::sensitive::{keep_masked, redact, SensitivePath};
use form_runtime::workflow::{Facts, NumberEffect};
use form_runtime::FieldError;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::context::{untouched_since_owner, Actor};
use super::error::{Error, Result};
use super::views::RecordView;
use super::{attachments, data, effects, sensitive};
use crate::state::AppState;
use crate::store::records::{self, NewEvent, RecordRow, Viewer};
use crate::store::{audit, new_id, now, Tx};

/// Body of `POST /api/v1/forms/{form}/records`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The form data.
    #[serde(default)]
    pub data: Value,
    /// A transition to fire right after creating, e.g. `submit`; absent keeps a draft.
    pub action: Option<String>,
    /// Comment for that transition.
    pub comment: Option<String>,
}

/// Body of `PATCH /api/v1/records/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchRequest {
    /// The row version the client read; a stale one is refused with 409.
    pub version: i64,
    /// JSON merge patch (RFC 7396) of the data.
    pub data: Value,
}

/// Body of `POST /api/v1/records/{id}/transitions/{action}`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// Reason or opinion.
    pub comment: Option<String>,
    /// Values of the fields the transition lets its actor set.
    #[serde(default)]
    pub data: Option<Value>,
    /// Row version the client read; when given, a stale one is refused with 409.
    pub version: Option<i64>,
    /// When the step happened, for history loaded in-process (demo data): `now()` and
    /// `today()` of its effects and guards read this moment. Never read from a request.
    #[serde(skip)]
    at: Option<chrono::DateTime<chrono::Utc>>,
}

impl TransitionRequest {
    /// A request with a comment and data and no row version (batches).
    pub fn new(comment: Option<String>, data: Option<Value>) -> Self {
        TransitionRequest {
            comment,
            data,
            version: None,
            at: None,
        }
    }

    /// The same request, as a step that happened at `at` (history, not now).
    pub fn happened_at(mut self, at: chrono::DateTime<chrono::Utc>) -> Self {
        self.at = Some(at);
        self
    }
}

/// The clock of a change: the actor's now, or the moment a step of history happened.
fn clock_of(
    actor: &Actor,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> form_runtime::clock::Clock {
    at.map_or_else(
        || actor.clock(),
        |t| form_runtime::clock::Clock::at(t, actor.zone()),
    )
}

/// The record as `actor` reads it — sensitive values masked unless their role may unmask —
/// with the pointers of the sensitive values it shows in clear (for [`sensitive::audit_unmask`]).
pub async fn view(
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    r: &RecordRow,
) -> Result<(RecordView, Vec<String>)> {
    let reading = reading(app, actor, form, r).await;
    let unmasked = reading.unmasked.clone();
    Ok((view_of(app, actor, form, r, reading).await?, unmasked))
}

/// The data of `r` as `actor` reads it: fields hidden in its state dropped, sensitive values
/// masked unless their role may unmask.
async fn reading(
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    r: &RecordRow,
) -> sensitive::Reading {
    let mut data = r.data.clone();
    form.workflow
        .strip_hidden(&r.state, &actor.roles, &mut data);
    sensitive::for_reader(app, actor, form, data).await
}

/// The answer of a change: commits `tx` with the `record.unmask` entry of the clear values
/// the answer shows queued in it (no transaction of its own; a change not committed shows
/// and audits nothing), then answers the record as `actor` reads it.
async fn commit_and_answer(
    mut tx: Tx,
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    r: &RecordRow,
) -> Result<RecordView> {
    let reading = reading(app, actor, form, r).await;
    sensitive::audit_shown(&mut tx, actor, &r.id, &reading.unmasked).await?;
    tx.commit().await?;
    view_of(app, actor, form, r, reading).await
}

/// The record as [`view`] answers it, from its `reading`.
async fn view_of(
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    r: &RecordRow,
    reading: sensitive::Reading,
) -> Result<RecordView> {
    let actions = actor.actions(app, form, r).await?;
    let editable = form.workflow.edit_rule(&r.state, &actor.roles).is_some()
        && actor.may(app, &form.key, "update").await;
    let summary = form_runtime::display::summarise(form, &reading.data, actor.zone());
    Ok(RecordView {
        id: r.id.clone(),
        form: r.form_key.clone(),
        form_version: r.form_version,
        state: r.state.clone(),
        state_label: form.workflow.state_label(&r.state).to_string(),
        summary: summary.line,
        number: summary.number,
        data: reading.data,
        version: r.version,
        actions,
        editable,
        owner_id: r.owner_id.clone(),
        org_path: r.org_path.clone(),
        created_at: r.created_at.clone(),
        updated_at: r.updated_at.clone(),
        created_at_text: people(&r.created_at, actor.zone()),
        updated_at_text: people(&r.updated_at, actor.zone()),
    })
}

/// A stored moment as the reader reads it (`2026-12-07 06:41`, the tenant's zone): the
/// display field beside each ISO time of an answer.
pub(crate) fn people(at: &str, zone: chrono_tz::Tz) -> String {
    form_runtime::clock::people_or_same(at, zone)
}

/// The answer of a single-record request: the record as `actor` reads it; clear sensitive
/// values shown are audited.
async fn answer(
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    r: &RecordRow,
) -> Result<RecordView> {
    let (v, unmasked) = view(app, actor, form, r).await?;
    sensitive::audit_unmask(app, actor, &[(r.id.clone(), unmasked)], "record").await?;
    Ok(v)
}

fn object(data: Value) -> Result<Map<String, Value>> {
    match data {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => Err(Error::Invalid(vec![FieldError::new(
            "",
            "type",
            "数据应为对象",
            "data must be a JSON object",
        )])),
    }
}

/// Refuses keys outside `allowed` (None = any field of the form) and keys the actor does not
/// see in the record's state.
fn check_writable(
    keys: impl Iterator<Item = String>,
    allowed: Option<&[String]>,
    form: &CompiledForm,
    hidden: &std::collections::BTreeSet<String>,
) -> Result<()> {
    let errs: Vec<FieldError> = keys
        .filter(|k| {
            form.fields.contains_key(k)
                && !form.rules.is_computed(k)
                && (!allowed.is_none_or(|a| a.contains(k)) || hidden.contains(k))
        })
        .map(|k| {
            let label = form.label(&k).to_string();
            FieldError::new(
                format!("/{}", escape(&k)),
                "readOnly",
                format!("{label}在当前环节不可修改"),
                format!("{label} cannot be changed at this step"),
            )
        })
        .collect();
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errs))
    }
}

/// `{field: [old, new]}` for every top-level field that changed. Sensitive values show as
/// `***`: the history says that they changed, never what they are.
fn diff(old: &Value, new: &Value, sensitive: &[SensitivePath]) -> Value {
    let empty = Map::new();
    let (o, n) = (
        old.as_object().unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
    );
    let (ro, rn) = (redact(sensitive, old), redact(sensitive, new));
    let mut out = BTreeMap::new();
    for k in o.keys().chain(n.keys()) {
        if o.get(k) != n.get(k) {
            let (a, b) = (ro.get(k), rn.get(k));
            out.insert(k.clone(), json!([a, b]));
        }
    }
    json!(out)
}

/// RFC 7396 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// Finds a record the actor may see, with its form at the record's version.
pub(crate) async fn visible(
    app: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<(RecordRow, std::sync::Arc<CompiledForm>, Viewer)> {
    let form_key = records::form_of(&app.db, actor.tenant(), id)
        .await?
        .ok_or_else(Error::no_record)?;
    let viewer = actor
        .viewer(app, &form_key)
        .await?
        .ok_or_else(Error::no_record)?;
    let mut row = records::fetch(&app.db, actor.tenant(), id, &viewer)
        .await?
        .ok_or_else(Error::no_record)?;
    let form = app
        .catalog
        .form(
            &app.db,
            actor.tenant(),
            &row.form_key,
            Some(row.form_version),
        )
        .await?
        .ok_or_else(Error::no_record)?;
    row.data = sensitive::open(app, actor.tenant(), &form, &row.id, row.data).await?;
    Ok((row, form, viewer))
}

/// Creates a record of the latest version of `form_key`, firing `req.action` at once when
/// asked (`POST /api/v1/forms/{form}/records`): the record as `actor` reads it.
pub async fn create(
    app: &AppState,
    actor: &Actor,
    form_key: &str,
    req: CreateRequest,
) -> Result<RecordView> {
    let (form_version, form) = app
        .catalog
        .versioned(&app.db, actor.tenant(), form_key, None)
        .await?
        .ok_or_else(|| Error::NotFound("表单不存在".into()))?;
    let new = NewRecord {
        data: req.data,
        action: req.action.as_deref(),
        comment: req.comment.as_deref(),
        at: None,
    };
    let prepared = prepare_create(app, actor, &form, form_version, new, None).await?;
    let mut tx = app.db.begin().await?;
    let record = write_create(&mut tx, app, actor, &form, prepared, &now()).await?;
    commit_and_answer(tx, app, actor, &form, &record).await
}

/// What a client (or an import row) asks to create.
pub(crate) struct NewRecord<'a> {
    /// The data, a JSON object.
    pub data: Value,
    /// A transition to fire at once (`submit`).
    pub action: Option<&'a str>,
    /// Its comment.
    pub comment: Option<&'a str>,
    /// When it was filed, for history loaded in-process (demo data); None: now.
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A new record that passed every check and is ready to be written.
pub(crate) struct PreparedCreate {
    record: RecordRow,
    sealed: Value,
    plan: Option<form_runtime::workflow::TransitionPlan>,
    outward: std::sync::Arc<effects::Outward>,
}

/// A prepared change whose JSON values ([`Compact::values`]) are held as text until it is
/// written: an import keeps up to 200,000 prepared rows before writing any, and a parsed
/// `Value` takes several times the memory of its text.
pub(crate) struct Packed<T> {
    inner: T,
    texts: Vec<Box<str>>,
}

/// A prepared change with JSON values to hold as text.
pub(crate) trait Compact: Sized {
    /// Its JSON values, always the same ones in the same order.
    fn values(&mut self) -> Vec<&mut Value>;

    /// Holds the values as text.
    fn pack(mut self) -> Packed<Self> {
        let texts = self
            .values()
            .into_iter()
            .map(|v| std::mem::take(v).to_string().into_boxed_str())
            .collect();
        Packed { inner: self, texts }
    }
}

impl<T: Compact> Packed<T> {
    /// The change with its values parsed back.
    pub(crate) fn unpack(self) -> Result<T> {
        let Packed { mut inner, texts } = self;
        for (v, text) in inner.values().into_iter().zip(texts.iter()) {
            *v = serde_json::from_str(text).map_err(anyhow::Error::from)?;
        }
        Ok(inner)
    }
}

impl Compact for PreparedCreate {
    fn values(&mut self) -> Vec<&mut Value> {
        vec![&mut self.record.data, &mut self.sealed]
    }
}

impl Compact for Prepared {
    fn values(&mut self) -> Vec<&mut Value> {
        let mut v = vec![&mut self.row.data, &mut self.data, &mut self.sealed];
        v.extend(self.changes.as_mut());
        v
    }
}

/// Checks a new record as `POST /forms/{form}/records` does — the actor may create, writes
/// only the fields the initial state lets them, the data is accepted in the state it ends
/// in, the action (if any) is theirs to fire — and seals its sensitive values. Nothing is
/// written.
pub(crate) async fn prepare_create(
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    form_version: i64,
    new: NewRecord<'_>,
    cache: Option<&effects::Outwards>,
) -> Result<PreparedCreate> {
    let tenant = actor.tenant();
    let initial = form.workflow.def.initial.clone();
    let rule = form.workflow.edit_rule(&initial, &actor.roles);
    if !actor.may(app, &form.key, "create").await || rule.is_none() {
        return Err(Error::Forbidden("你的角色不能填报此表单".into()));
    }
    let data = object(new.data)?;
    check_writable(
        data.keys().cloned(),
        rule.and_then(|r| r.fields.as_deref()),
        form,
        &form.workflow.hidden(&initial, &actor.roles),
    )?;
    let data = Value::Object(data);

    let plan = match new.action {
        None => None,
        Some(action) => {
            // A new record is the actor's own, filed in their unit.
            let facts = Facts {
                org_path: &actor.user.org_path,
                owner: true,
                untouched_since_owner: true,
            };
            let plan =
                form.workflow
                    .plan_for(&initial, action, &actor.party(), &facts, new.comment)?;
            if !actor.may(app, &form.key, action).await {
                return Err(Error::Forbidden(format!("你的角色不能执行「{action}」")));
            }
            Some(plan)
        }
    };
    let state = plan.as_ref().map_or(initial.clone(), |p| p.to.clone());
    let mut data = data;
    if let Some(p) = &plan {
        form.workflow
            .apply_set_effects(&p.from, &p.action, &mut data, &clock_of(actor, new.at))?;
    }
    let data = data::accept(app, actor, form, &state, data, None).await?;
    if let Some(p) = &plan {
        form.workflow.check_transition(
            &p.from,
            &p.action,
            &actor.roles,
            &data,
            &clock_of(actor, new.at),
        )?;
    }
    let at = now();
    let record = RecordRow {
        id: new_id(),
        form_key: form.key.clone(),
        form_version,
        state,
        data,
        owner_id: actor.user.user_id.clone(),
        org_path: actor.user.org_path.clone(),
        version: 1,
        created_at: at.clone(),
        updated_at: at,
    };
    // Sealed before the transaction: a tenant's first seal creates its keys in one of its own.
    let sealed = sensitive::seal(app, tenant, form, &record.id, record.data.clone()).await?;
    let outward = effects::outward(
        cache,
        app,
        tenant,
        form,
        form_version,
        plan.as_ref().map(|p| (p.from.as_str(), p.action.as_str())),
    )
    .await?;
    Ok(PreparedCreate {
        record,
        sealed,
        plan,
        outward,
    })
}

/// Writes a prepared new record in the caller's transaction: numbers, the record, its
/// unique rules, timers, attachments, its events, the audit entry and its effects. Returns
/// the record in clear.
pub(crate) async fn write_create(
    tx: &mut Tx,
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    p: PreparedCreate,
    at: &str,
) -> Result<RecordRow> {
    let tenant = actor.tenant();
    let PreparedCreate {
        mut record,
        sealed,
        plan,
        outward,
    } = p;
    let initial = form.workflow.def.initial.clone();
    let state = record.state.clone();
    record.created_at = at.to_string();
    record.updated_at = at.to_string();
    let mut stored = RecordRow {
        data: sealed,
        ..record.clone()
    };
    let uid = actor.user.user_id.as_str();
    // Eligibility first: the numbering counter below is locked until commit, so whatever
    // runs after it holds up every other writer of the tenant.
    if let Some(p) = &plan {
        let t = (p.from.as_str(), p.action.as_str());
        check_unique(
            tx,
            tenant,
            form,
            &record.id,
            at,
            t,
            &record.data,
            &stored.data,
        )
        .await?;
        let numbers: Vec<NumberEffect> = form
            .workflow
            .number_effects(&p.from, &p.action, &form.key)
            .into_iter()
            .cloned()
            .collect();
        let year = year_of(at, actor.zone());
        take_numbers(
            &app.db,
            tx,
            tenant,
            year,
            &numbers,
            &mut record.data,
            &mut stored.data,
        )
        .await?;
    }
    records::insert(tx, tenant, &stored).await?;
    crate::timers::start(tx, tenant, &record.id, &form.workflow, &state, at).await?;
    attachments::link(tx, tenant, form, &record.id, &record.data).await?;
    let created = NewEvent {
        kind: "create",
        action: None,
        from_state: None,
        to_state: Some(&initial),
        actor_id: uid,
        comment: None,
        changes: None,
        at,
    };
    // A new record's history starts here: its events are numbers 1 and 2.
    records::insert_event(tx, tenant, &record.id, 1, &created).await?;
    if let Some(p) = &plan {
        let ev = NewEvent {
            kind: "transition",
            action: Some(&p.action),
            from_state: Some(&p.from),
            to_state: Some(&p.to),
            actor_id: uid,
            comment: p.comment.as_deref(),
            changes: None,
            at,
        };
        records::insert_event(tx, tenant, &record.id, 2, &ev).await?;
    }
    audit::append(
        tx,
        tenant,
        Some(uid),
        "record.create",
        &record.id,
        &json!({"form": form.key, "state": state}),
    )
    .await?;
    let happened = effects::Happened {
        tenant,
        actor_id: uid,
        actor_name: &actor.user.display_name,
        form,
        record: &record,
        event: "record.created",
        transition: plan.as_ref().map(|p| (p.from.as_str(), p.action.as_str())),
        run_effects: true,
        at,
        zone: actor.zone(),
        comment: None,
    };
    effects::apply(tx, app, &outward, &happened).await?;
    Ok(record)
}

/// One record as `actor` reads it (`GET /api/v1/records/{id}`); the clear sensitive values
/// it shows are audited.
pub async fn get(app: &AppState, actor: &Actor, id: &str) -> Result<RecordView> {
    let (row, form, _) = visible(app, actor, id).await?;
    answer(app, actor, &form, &row).await
}

/// Edits a record (`PATCH /api/v1/records/{id}`): the record as `actor` reads it after.
pub async fn patch(
    app: &AppState,
    actor: &Actor,
    id: &str,
    req: PatchRequest,
) -> Result<RecordView> {
    let (row, form, _) = visible(app, actor, id).await?;
    let prepared = prepare_patch(app, actor, &form, row, Some(req.version), req.data, None).await?;
    let at = now();
    let mut tx = app.db.begin().await?;
    let updated = write(&mut tx, app, actor, &form, prepared, &at).await?;
    commit_and_answer(tx, app, actor, &form, &updated).await
}

/// Checks an edit as `PATCH /records/{id}` does — the record's state lets the actor edit,
/// they hold `update`, the row version (when given) is the one read, only the fields they
/// may change — and prepares it. Nothing is written.
pub(crate) async fn prepare_patch(
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    row: RecordRow,
    version: Option<i64>,
    patch: Value,
    cache: Option<&effects::Outwards>,
) -> Result<Prepared> {
    let rule = form.workflow.edit_rule(&row.state, &actor.roles);
    let unlocked = unlocked_fields(app, actor, form, &row).await?;
    if rule.is_none() || !actor.may(app, &form.key, "update").await {
        return Err(Error::Forbidden(format!(
            "记录处于「{}」，你不能修改",
            form.workflow.state_label(&row.state)
        )));
    }
    if version.is_some_and(|v| v != row.version) {
        return Err(stale());
    }
    let state = row.state.clone();
    let change = Change {
        patch,
        allowed: unlocked
            .as_deref()
            .or(rule.and_then(|r| r.fields.as_deref())),
        to_state: &state,
        action: None,
        comment: None,
        vote: None,
        waived: None,
        clock: actor.clock(),
        cache,
    };
    prepare(app, actor, form, row, change).await
}

/// One change to an existing record: a merge patch limited to `allowed` fields (None: any),
/// and the state it ends in; `action` is set when a transition makes the change.
struct Change<'a> {
    patch: Value,
    allowed: Option<&'a [String]>,
    to_state: &'a str,
    action: Option<&'a str>,
    comment: Option<&'a str>,
    /// A countersign vote that does not yet complete the transition: the member voting.
    vote: Option<String>,
    /// A separation of duties the record's unit is exempt from, which this actor would
    /// otherwise break: the earlier actions they fired (audited with the change).
    waived: Option<Vec<String>>,
    /// When the change happens, in the tenant's zone.
    clock: form_runtime::clock::Clock,
    /// Effect contexts shared by the changes of one request.
    cache: Option<&'a effects::Outwards>,
}

/// A change that passed every check and is ready to be written.
pub(crate) struct Prepared {
    row: RecordRow,
    data: Value,
    sealed: Value,
    changes: Option<Value>,
    to_state: String,
    action: Option<String>,
    comment: Option<String>,
    numbers: Vec<NumberEffect>,
    vote: Option<String>,
    waived: Option<Vec<String>>,
    outward: std::sync::Arc<effects::Outward>,
}

/// Checks a change and works out what to write: the patch within the allowed fields, the
/// data accepted by the form in the target state, the transition's own demands, the sealed
/// form of the data. Nothing is written.
async fn prepare(
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    row: RecordRow,
    c: Change<'_>,
) -> Result<Prepared> {
    let patch = object(c.patch)?;
    let hidden = form.workflow.hidden(&row.state, &actor.roles);
    check_writable(patch.keys().cloned(), c.allowed, form, &hidden)?;
    let mut data = row.data.clone();
    merge_patch(&mut data, &Value::Object(patch));
    let paths = sensitive::paths(form);
    keep_masked(&paths, &row.data, &mut data);
    if let Some(action) = c.action.filter(|_| c.vote.is_none()) {
        form.workflow
            .apply_set_effects(&row.state, action, &mut data, &c.clock)?;
    }
    let data = data::accept(app, actor, form, c.to_state, data, Some(&row.id)).await?;
    let numbers: Vec<NumberEffect> = c
        .action
        .filter(|_| c.vote.is_none())
        .map(|a| {
            form.workflow
                .number_effects(&row.state, a, &form.key)
                .into_iter()
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if let Some(action) = c.action {
        form.workflow
            .check_transition(&row.state, action, &actor.roles, &data, &c.clock)?;
    }
    let changes = diff(&row.data, &data, &paths);
    let changes = (!changes.as_object().is_some_and(Map::is_empty)).then_some(changes);
    let sealed = sensitive::seal(app, actor.tenant(), form, &row.id, data.clone()).await?;
    let fired = c.action.filter(|_| c.vote.is_none());
    let outward = effects::outward(
        c.cache,
        app,
        actor.tenant(),
        form,
        row.form_version,
        fired.map(|a| (row.state.as_str(), a)),
    )
    .await?;
    Ok(Prepared {
        row,
        data,
        sealed,
        changes,
        to_state: c.to_state.to_string(),
        action: c.action.map(str::to_string),
        comment: c.comment.map(str::to_string),
        numbers,
        vote: c.vote,
        waived: c.waived,
        outward,
    })
}

/// Writes a prepared change in the caller's transaction: the record (if its row version is
/// still the one read), attachments, its event and the audit entry.
pub(crate) async fn write(
    tx: &mut Tx,
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    p: Prepared,
    at: &str,
) -> Result<RecordRow> {
    let tenant = actor.tenant();
    let uid = actor.user.user_id.as_str();
    let Prepared {
        row,
        mut data,
        mut sealed,
        changes,
        to_state,
        action,
        comment,
        numbers,
        vote,
        waived,
        outward,
    } = p;
    let changes = match &vote {
        Some(member) => Some(json!({"vote": member})),
        None => changes,
    };
    // Eligibility before the numbering counter, which stays locked until commit.
    if let (Some(a), None) = (&action, &vote) {
        check_unique(
            tx,
            tenant,
            form,
            &row.id,
            &row.created_at,
            (&row.state, a),
            &data,
            &sealed,
        )
        .await?;
    }
    take_numbers(
        &app.db,
        tx,
        tenant,
        year_of(at, actor.zone()),
        &numbers,
        &mut data,
        &mut sealed,
    )
    .await?;
    let w = records::RecordWrite {
        state: &to_state,
        form_version: row.form_version,
        data: &sealed,
        at,
    };
    if !records::update(tx, tenant, &row.id, row.version, &w).await? {
        return Err(stale());
    }
    attachments::link(tx, tenant, form, &row.id, &data).await?;
    let ev = NewEvent {
        kind: match (&action, &vote) {
            (Some(_), Some(_)) => "vote",
            (Some(_), None) => "transition",
            (None, _) => "update",
        },
        action: action.as_deref(),
        from_state: Some(&row.state),
        to_state: Some(&to_state),
        actor_id: uid,
        comment: comment.as_deref(),
        changes: changes.as_ref(),
        at,
    };
    records::add_event(tx, tenant, &row.id, &ev).await?;
    if action.is_some() && vote.is_none() {
        crate::timers::enter(tx, tenant, &row.id, &form.workflow, &to_state, at).await?;
    }
    let what = action.as_deref().map_or_else(
        || "record.update".to_string(),
        |a| format!("record.transition.{a}"),
    );
    let fields: Vec<&String> = changes
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|m| m.keys())
        .collect();
    let mut detail = json!({"from": row.state, "to": to_state, "fields": fields});
    if let Some(earlier) = &waived {
        // One person did both steps where the pack allows it: said in the entry itself.
        detail["separation_waived"] = json!(earlier);
    }
    audit::append(tx, tenant, Some(uid), &what, &row.id, &detail).await?;
    let from = row.state.clone();
    let updated = RecordRow {
        data,
        state: to_state,
        version: row.version + 1,
        updated_at: at.to_string(),
        ..row
    };
    if vote.is_none() {
        let happened = effects::Happened {
            tenant,
            actor_id: uid,
            actor_name: &actor.user.display_name,
            form,
            record: &updated,
            event: if action.is_some() {
                "record.transition"
            } else {
                "record.updated"
            },
            transition: action.as_deref().map(|a| (from.as_str(), a)),
            run_effects: true,
            at,
            zone: actor.zone(),
            comment: comment.as_deref(),
        };
        effects::apply(tx, app, &outward, &happened).await?;
    }
    Ok(updated)
}

/// Refuses the transition `(from, action)` when another record already has the values a
/// `unique` rule forbids repeating. `stored` is the data as written (sensitive values carry
/// their blind index), `clear` the data in clear.
#[allow(clippy::too_many_arguments)]
async fn check_unique(
    tx: &mut Tx,
    tenant: &str,
    form: &CompiledForm,
    record_id: &str,
    created_at: &str,
    transition: (&str, &str),
    clear: &Value,
    stored: &Value,
) -> Result<()> {
    let Some(t) = form.workflow.transition(transition.0, transition.1) else {
        return Ok(());
    };
    for rule in &t.unique {
        let mut equal = Vec::new();
        for f in &rule.fields {
            match stored.get(f) {
                Some(Value::Object(o)) => match o.get("bi").and_then(Value::as_str) {
                    Some(bi) => equal.push((format!("(data->'{f}'->>'bi')"), bi.to_string())),
                    None => break,
                },
                Some(Value::String(v)) if !v.trim().is_empty() => {
                    equal.push((form_runtime::sql::json_text_expr(f), v.clone()))
                }
                _ => break,
            }
        }
        if equal.len() != rule.fields.len() {
            continue; // a value is missing: nothing to compare
        }
        let year = match rule.year.as_deref() {
            None => None,
            Some("created_at") => Some((
                "created_at".to_string(),
                created_at.chars().take(4).collect(),
            )),
            Some(f) => match clear.get(f).and_then(Value::as_str) {
                Some(v) if v.len() >= 4 => {
                    Some((form_runtime::sql::json_text_expr(f), v[..4].to_string()))
                }
                _ => continue,
            },
        };
        let states = rule.counted_states(&form.workflow.def);
        if records::duplicate_exists(tx, tenant, &form.key, record_id, &equal, &states, year)
            .await?
        {
            let (zh, en) = rule.texts();
            let ptr = format!("/{}", escape(&rule.fields[0]));
            return Err(Error::Invalid(vec![FieldError::new(ptr, "unique", zh, en)]));
        }
    }
    Ok(())
}

/// The calendar year, in the tenant's zone, of the change made at `at` (RFC 3339): what a
/// yearly number restarts on. 31 December 17:00 UTC is already next year in Shanghai.
fn year_of(at: &str, zone: chrono_tz::Tz) -> i32 {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| t.with_timezone(&zone).year())
        .unwrap_or_else(|_| form_runtime::clock::Clock::system(zone).year())
}

/// Gives every numbering effect whose field is still empty the next number of its sequence,
/// in the clear data and the stored data alike (numbers are never sensitive).
async fn take_numbers(
    db: &crate::store::Db,
    tx: &mut Tx,
    tenant: &str,
    year: i32,
    numbers: &[NumberEffect],
    data: &mut Value,
    stored: &mut Value,
) -> Result<()> {
    for n in numbers {
        if data.get(&n.field).is_some_and(|v| !v.is_null()) {
            continue;
        }
        let period = if n.yearly() {
            year.to_string()
        } else {
            String::new()
        };
        let value = records::next_number(db, tx, tenant, &n.sequence, &period, n.gapless).await?;
        let text = Value::String(n.render(value, year));
        for d in [&mut *data, &mut *stored] {
            if let Some(obj) = d.as_object_mut() {
                obj.insert(n.field.clone(), text.clone());
            }
        }
    }
    Ok(())
}

/// After a return that unlocks named fields (指定字段退回), only those may be edited while the
/// record stays in the state the return put it in.
async fn unlocked_fields(
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    row: &RecordRow,
) -> Result<Option<Vec<String>>> {
    if form
        .workflow
        .def
        .transitions
        .iter()
        .all(|t| t.unlock.is_empty())
    {
        return Ok(None);
    }
    let last = records::last_transition(&app.db, actor.tenant(), &row.id).await?;
    Ok(last
        .filter(|(_, _, to)| *to == row.state)
        .and_then(|(from, action, _)| form.workflow.transition(&from, &action))
        .filter(|t| !t.unlock.is_empty())
        .map(|t| t.unlock.clone()))
}

pub(crate) fn stale() -> Error {
    Error::Conflict {
        code: "stale_version",
        message: "记录已被他人修改，请刷新后重试".into(),
    }
}

/// Fires `action` on a record (`POST /api/v1/records/{id}/transitions/{action}`): the record
/// as `actor` reads it after.
pub async fn transition(
    app: &AppState,
    actor: &Actor,
    id: &str,
    action: &str,
    req: TransitionRequest,
) -> Result<RecordView> {
    let (row, form, _) = visible(app, actor, id).await?;
    let prepared = prepare_transition(app, actor, &form, row, action, req, None).await?;
    let at = now();
    let mut tx = app.db.begin().await?;
    let updated = write(&mut tx, app, actor, &form, prepared, &at).await?;
    commit_and_answer(tx, app, actor, &form, &updated).await
}

/// Checks that `actor` may fire `action` on `row` now (state, roles, org relation, recall
/// window, permission, row version) and prepares the change it makes.
pub(crate) async fn prepare_transition(
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    row: RecordRow,
    action: &str,
    req: TransitionRequest,
    cache: Option<&effects::Outwards>,
) -> Result<Prepared> {
    if req.version.is_some_and(|v| v != row.version) {
        return Err(stale());
    }
    let owner = row.owner_id == actor.user.user_id;
    let transition = form.workflow.transition(&row.state, action);
    let recall = transition.is_some_and(|t| t.recall);
    let facts = Facts {
        org_path: &row.org_path,
        owner,
        untouched_since_owner: owner && recall && untouched_since_owner(app, actor, &row).await?,
    };
    let plan = form.workflow.plan_for(
        &row.state,
        action,
        &actor.party(),
        &facts,
        req.comment.as_deref(),
    )?;
    if !actor.may(app, &form.key, action).await {
        return Err(Error::Forbidden(format!("你的角色不能执行「{action}」")));
    }
    let allowed = transition.map(|t| t.fields.clone()).unwrap_or_default();
    // A countersign completes only with its last needed vote; earlier votes keep the state.
    let mut vote = None;
    if let Some(cs) = transition.and_then(|t| t.countersign.as_ref()) {
        let member = cs
            .member_for(&actor.party())
            .ok_or_else(|| Error::Forbidden(format!("你不是「{action}」会签的成员")))?;
        let votes = records::votes(&app.db, actor.tenant(), &row.id, action).await?;
        if votes.contains(&member) {
            return Err(Error::Conflict {
                code: "already_voted",
                message: format!("「{member}」已经会签过"),
            });
        }
        if votes.len() + 1 < cs.needed() {
            vote = Some(member);
        }
    }
    let mut waived = None;
    if let Some(sep) = transition.and_then(|t| t.separate.as_ref()) {
        if records::fired_any(
            &app.db,
            actor.tenant(),
            &row.id,
            &actor.user.user_id,
            &sep.from,
        )
        .await?
        {
            if !sep.waived(&row.org_path) {
                return Err(Error::Forbidden(separation_message(
                    form, transition, sep, &row.state,
                )));
            }
            waived = Some(sep.from.clone());
        }
    }
    let to_state = if vote.is_some() {
        row.state.clone()
    } else {
        plan.to.clone()
    };
    let change = Change {
        patch: req.data.unwrap_or(Value::Null),
        allowed: Some(&allowed),
        to_state: &to_state,
        action: Some(&plan.action),
        comment: plan.comment.as_deref(),
        vote,
        waived,
        clock: clock_of(actor, req.at),
        cache,
    };
    prepare(app, actor, form, row, change).await
}

/// What a user excluded by a separation of duties is told: the pack's message, or which step
/// they did and that another person must do this one.
fn separation_message(
    form: &CompiledForm,
    transition: Option<&form_runtime::workflow::TransitionDef>,
    sep: &form_runtime::workflow::Separation,
    state: &str,
) -> String {
    use form_runtime::rules::Message;
    match &sep.message {
        Some(Message::Same(m)) => m.clone(),
        Some(Message::Both { zh, .. }) => zh.clone(),
        None => {
            let label = |a: &str| {
                form.workflow
                    .def
                    .transitions
                    .iter()
                    .find(|t| t.action == a)
                    .map_or_else(|| a.to_string(), |t| t.label.clone())
            };
            let earlier: Vec<String> = sep
                .from
                .iter()
                .map(|a| format!("「{}」", label(a)))
                .collect();
            format!(
                "你已在此记录上执行过{}，「{}」须由另一人办理（记录处于「{}」）",
                earlier.join("或"),
                transition.map_or("", |t| t.label.as_str()),
                form.workflow.state_label(state)
            )
        }
    }
}

/// A record's history as `actor` may read it (`GET /api/v1/records/{id}/events`).
pub async fn events(app: &AppState, actor: &Actor, id: &str) -> Result<Value> {
    let (_, form, _) = visible(app, actor, id).await?;
    history(app, actor, &form, id).await
}

/// The history of a record `actor` has just read (with [`get`]) under `form`, its own
/// version: not read again to check that they may.
pub async fn history(
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    id: &str,
) -> Result<Value> {
    let events = records::events(&app.db, actor.tenant(), id).await?;
    // History never shows a value the reader does not see in some state.
    let hidden = form.workflow.hidden_somewhere(&actor.roles);
    let items: Vec<Value> = events
        .into_iter()
        .map(|mut e| {
            if let Some(Value::Object(m)) = e.changes.as_mut() {
                m.retain(|k, _| !hidden.contains(k));
            }
            let label = e.action.as_deref().and_then(|a| e.from_state.as_deref().and_then(|f| form.workflow.transition(f, a))).map(|t| t.label.clone());
            json!({
                "seq": e.seq,
                "kind": e.kind,
                "action": e.action,
                "action_label": label,
                "from": e.from_state,
                "to": e.to_state,
                "to_label": e.to_state.as_deref().map(|s| form.workflow.state_label(s).to_string()),
                "actor": {"id": e.actor_id, "username": e.actor_username, "display_name": e.actor_name},
                "comment": e.comment,
                "changes": e.changes,
                "at": e.created_at,
                "at_text": people(&e.created_at, actor.zone()),
            })
        })
        .collect();
    Ok(json!({"items": items}))
}
