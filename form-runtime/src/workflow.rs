//! Workflows: the state machine that moves a record from draft to its end.
//!
//! `plan()` is the only way a state changes: it checks the current state, the actor's roles and
//! the transition's required input, and answers with a [`TransitionPlan`] the store applies.
//! One workflow may serve many forms (the six relief projects share one).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, PackError, Result};
use crate::key::is_key;
use crate::org::OrgRule;
use crate::rules::Message;

/// A workflow file (`workflows/<key>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDef {
    /// Human-readable name, e.g. `救助审批流程`.
    pub label: String,
    /// Key of the state every new record starts in.
    pub initial: String,
    /// The states, in display order.
    pub states: Vec<StateDef>,
    /// The transitions between states.
    pub transitions: Vec<TransitionDef>,
    /// Field access in every state (a state's own `fields` entry for a field replaces this
    /// one): who sees a field and who must fill it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, FieldAccess>,
}

/// Who sees a field and who must fill it, in one state or in all of them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldAccess {
    /// Roles that see the field; absent means everyone who sees the record. Users without
    /// one of these roles get records without the field, cannot filter, sort or search by
    /// it, and cannot write it. The built-in `admin` always sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible: Option<Vec<String>>,
    /// Roles that must fill the field before they fire any transition out of the state
    /// (e.g. the reviewer's opinion).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
}

impl FieldAccess {
    /// Whether someone holding `roles` sees the field.
    pub fn visible_to(&self, roles: &[String]) -> bool {
        self.visible.as_ref().is_none_or(|v| {
            roles
                .iter()
                .any(|r| r == crate::pack::BUILTIN_ADMIN || v.contains(r))
        })
    }
}

/// One state of a workflow.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDef {
    /// Key of the state (`submitted`), stored in the record's `state` column.
    pub key: String,
    /// Label shown to users (`待区红会审核`).
    pub label: String,
    /// Who may edit the record's data while it is in this state; absent means nobody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit: Option<EditRule>,
    /// Whether the record's data must be complete (all `required` fields present) in this
    /// state. The initial draft state is the usual exception; default `true`.
    #[serde(default = "yes")]
    pub complete: bool,
    /// A deadline: when the record has been in this state this long, `action` fires by
    /// itself (e.g. close overdue applications).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<Timer>,
    /// Field access in this state, replacing the workflow's entry for the same field.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, FieldAccess>,
}

fn yes() -> bool {
    true
}

/// A state's deadline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timer {
    /// How long after entering the state: `30d`, `12h`, `45m` or `10s`.
    pub after: String,
    /// The transition (leaving this state) that fires when the time is up.
    pub action: String,
}

impl Timer {
    /// The delay in seconds, or None when `after` is not a number followed by d, h, m or s.
    pub fn seconds(&self) -> Option<i64> {
        let s = self.after.trim();
        let unit = s.chars().last()?;
        let n: i64 = s[..s.len() - unit.len_utf8()]
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)?;
        let mult = match unit {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        n.checked_mul(mult)
    }
}

/// Who may edit data in a state, and which fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditRule {
    /// Roles that may edit.
    pub roles: Vec<String>,
    /// Fields they may change; absent means every field of the form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

/// A transition: `action` moves a record from one of `from` to `to`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionDef {
    /// Key of the action (`approve`); the same key may leave several states.
    pub action: String,
    /// Button label (`区审通过`).
    pub label: String,
    /// State or states the transition leaves.
    pub from: OneOrMany,
    /// State the record enters.
    pub to: String,
    /// Roles that may fire it.
    pub roles: Vec<String>,
    /// Whether a non-empty comment (the reason) is required.
    #[serde(default)]
    pub comment_required: bool,
    /// Fields the actor may set together with this transition (e.g. `approved_amount`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Fields that must have a value once the transition's data is applied (e.g. the
    /// reviewer's opinion).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    /// How the actor's org unit must relate to the record's (default: any unit in scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<OrgRule>,
    /// Rules the record must meet to fire the transition, each with its own message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guards: Vec<Guard>,
    /// Return for correction (指定字段退回): in the state it enters, only these fields may be
    /// edited until the next transition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unlock: Vec<String>,
    /// A recall (撤回): only the record's owner may fire it, and only while nobody else has
    /// acted since the owner's last transition.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recall: bool,
    /// `false`: an action that may be taken some day but is nobody's task (撤销 or 变更 of a
    /// valid registration): it puts no record in an inbox and sends no task message.
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub task: bool,
    /// What happens to the record as it enters the new state, in the same transaction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effects: Vec<Effect>,
    /// A countersign (会签): the transition completes only after enough members have voted;
    /// each vote before that is recorded and leaves the state as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub countersign: Option<Countersign>,
    /// Eligibility across records: no other record of the form may have the same values
    /// (e.g. one application per ID number per year), each rule with its own message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique: Vec<UniqueRule>,
    /// Separation of duties (the maker is not the checker): who fired one of these actions
    /// on a record may not fire this one on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separate: Option<Separation>,
}

/// Separation of duties on a transition: `from` names earlier actions whose actor may not
/// fire this one on the same record, unless the record belongs to a unit that works with one
/// person for both (`waived_in`), and then the firing is audited as waived.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Separation {
    /// Actions of the workflow; who fired any of them on the record is excluded.
    pub from: Vec<String>,
    /// Unit codes whose records (the unit and every unit below it) are exempt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waived_in: Vec<String>,
    /// What the excluded user is told; default 「…须由另一人办理」.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
}

impl Separation {
    /// Whether a record filed under `org_path` (`/shrc/minhang/`) is exempt.
    pub fn waived(&self, org_path: &str) -> bool {
        org_path
            .split('/')
            .any(|unit| !unit.is_empty() && self.waived_in.iter().any(|w| w == unit))
    }
}

fn is_yes(b: &bool) -> bool {
    *b
}

/// At most one record with these values: checked in the transition's transaction against
/// the other records of the form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniqueRule {
    /// Text fields whose values together must not repeat (sensitive ones compare by their
    /// blind index).
    pub fields: Vec<String>,
    /// Only records of the same calendar year of this date field (or `created_at`) count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<String>,
    /// States whose records count; default every state but the initial one (drafts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub among: Vec<String>,
    /// What the user is told.
    pub message: Message,
}

/// Who must sign, and how many of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Countersign {
    /// Members are roles: one vote per role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Members are org units, by code: one vote per unit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<String>,
    /// Votes needed (k of n); default all members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needed: Option<usize>,
}

impl Countersign {
    /// The member an actor votes as, if any.
    pub fn member_for(&self, party: &Party<'_>) -> Option<String> {
        if !self.roles.is_empty() {
            return self.roles.iter().find(|r| party.roles.contains(r)).cloned();
        }
        let unit = crate::org::unit_of(party.org_path);
        self.units.iter().find(|u| *u == unit).cloned()
    }

    /// Votes needed to complete.
    pub fn needed(&self) -> usize {
        self.needed
            .unwrap_or(self.roles.len().max(self.units.len()))
    }
}

/// An effect of a transition.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Effect {
    /// `{"set": {"field": "<expression>"}}`: fields set from expressions over the record
    /// (`now()`, `today()`, other fields), whatever the client sent.
    Set(std::collections::BTreeMap<String, String>),
    /// `{"number": {"field": "app_no", "sequence": "fire_relief", "format": "HZ-{year}-{n:06}"}}`:
    /// the next number of a tenant-wide sequence, once; `{year}` restarts it every year.
    Number(NumberEffect),
    /// `{"create": {"form": "interview", "link": "application", "data": {...}}}`: a record
    /// of another form of the pack, filled from expressions over this record.
    Create(CreateEffect),
    /// `{"document": "notice"}`: the document rendered for the record in its new state and
    /// kept with the record.
    Document(String),
    /// `{"notify": {"channel": "sms", "to": "phone", "text": "…"}}`: a message queued for
    /// the app inbox of users or for an SMS gateway.
    Notify(NotifyEffect),
}

/// A `create` effect.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEffect {
    /// Key of the form of the new record.
    pub form: String,
    /// Field of the new record that receives this record's id (an `x-ref` back to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Fields of the new record → expressions over this record.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

/// Where a `notify` effect sends its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The in-app inbox of users (`to`: `owner` or a role key).
    App,
    /// A text message through the SMS gateway (`to`: an expression giving the number).
    Sms,
}

/// A `notify` effect.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyEffect {
    /// `app` or `sms`.
    pub channel: Channel,
    /// For `app`: `owner` (the record's filer) or a role key (its holders who see the
    /// record); for `sms`: an expression over the record giving the phone number.
    pub to: String,
    /// Title of an in-app message (default: the form's title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The message: a template over the record's fields (`{{ app_no }}`).
    pub text: String,
}

impl NotifyEffect {
    /// The message text for a record (its fields by name, plus `state_label`).
    pub fn render(&self, context: &serde_json::Value) -> std::result::Result<String, String> {
        let mut env = minijinja::Environment::new();
        env.set_fuel(Some(100_000));
        env.render_str(
            &self.text,
            minijinja::value::Value::from(minijinja::value::Serde(context)),
        )
        .map_err(|e| e.to_string())
    }
}

/// A numbering effect.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberEffect {
    /// The field that receives the number (left alone when it already has one).
    pub field: String,
    /// Name of the sequence; forms may share one.
    pub sequence: String,
    /// Text with `{n}`, `{n:06}` (zero-padded) and optionally `{year}`.
    pub format: String,
    /// Only records of this form are numbered by the effect: a workflow shared by several
    /// forms gives each its own sequence and prefix. Default: every form of the workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    /// Consecutive numbers with no gap: the counter is taken inside the change's transaction,
    /// so a change that fails gives its number back — and every numbered change of the
    /// tenant's sequence waits for the one before it to commit. Without it (the default) a
    /// number is taken from the counter at once and a failed change leaves a gap, so
    /// numbered changes run side by side.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gapless: bool,
}

impl NumberEffect {
    /// Whether the sequence restarts every year (the format shows the year).
    pub fn yearly(&self) -> bool {
        self.format.contains("{year}")
    }

    /// The number's text for sequence value `n` in `year`.
    pub fn render(&self, n: i64, year: i32) -> String {
        let mut out = self.format.replace("{year}", &year.to_string());
        if let Some(start) = out.find("{n:") {
            if let Some(len) = out[start..].find('}') {
                let width: usize = out[start + 3..start + len]
                    .trim_start_matches('0')
                    .parse()
                    .unwrap_or(0);
                out.replace_range(start..start + len + 1, &format!("{n:0width$}"));
            }
        }
        out.replace("{n}", &n.to_string())
    }
}

/// A rule a transition checks: an expression over the record that must be true.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    /// Expression over the record's fields (and `today()`), e.g. `today() <= '2026-12-31'`.
    pub rule: String,
    /// What the user is told when it is false.
    pub message: Message,
}

/// What the actor is, for the transitions that depend on it.
#[derive(Debug, Clone, Copy)]
pub struct Party<'a> {
    /// Roles held.
    pub roles: &'a [String],
    /// Materialised path of the actor's org unit.
    pub org_path: &'a str,
}

/// What a transition needs to know about the record besides its state.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Materialised path of the unit the record was filed in.
    pub org_path: &'a str,
    /// Whether the actor created the record.
    pub owner: bool,
    /// Whether the last thing that happened to the record was a transition by its owner
    /// (nobody else has acted since): the window in which a recall is allowed.
    pub untouched_since_owner: bool,
}

impl UniqueRule {
    /// The states whose records count.
    pub fn counted_states(&self, workflow: &WorkflowDef) -> Vec<String> {
        if self.among.is_empty() {
            workflow
                .states
                .iter()
                .filter(|s| s.key != workflow.initial)
                .map(|s| s.key.clone())
                .collect()
        } else {
            self.among.clone()
        }
    }

    /// The message in both languages.
    pub fn texts(&self) -> (String, String) {
        match &self.message {
            Message::Same(m) => (m.clone(), m.clone()),
            Message::Both { zh, en } => (zh.clone(), en.clone()),
        }
    }
}

impl TransitionDef {
    /// Whether `party` may fire this transition on a record with these facts (roles, org
    /// relation, recall window).
    pub fn allows(&self, party: &Party<'_>, facts: &Facts<'_>) -> bool {
        self.roles.iter().any(|r| party.roles.contains(r))
            && self
                .org
                .as_ref()
                .is_none_or(|o| o.allows(party.org_path, facts.org_path))
            && (!self.recall || (facts.owner && facts.untouched_since_owner))
    }

    /// Whether the records it can leave are tasks of its roles (inbox, task messages): not
    /// for a recall, nor for a transition marked `"task": false`.
    pub fn is_task(&self) -> bool {
        self.task && !self.recall
    }
}

/// A single state key or a list of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One state.
    One(String),
    /// Several states.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The state keys, whichever way they were written.
    pub fn keys(&self) -> &[String] {
        match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        }
    }
}

/// When a record in a state is a task for someone: their org relation to it, and for a
/// countersign, that their member has not voted yet.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxRule {
    /// The transition's org rule (None: any record in scope).
    pub org: Option<OrgRule>,
    /// For a countersign: (action, member) whose vote must not be in yet.
    pub unvoted: Option<(String, String)>,
    /// For a separation of duties: the earlier actions the user must not have fired on
    /// the record, and the units whose records are exempt.
    pub separate: Option<(Vec<String>, Vec<String>)>,
}

/// What firing a transition will do, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionPlan {
    /// The action fired.
    pub action: String,
    /// State before.
    pub from: String,
    /// State after.
    pub to: String,
    /// The trimmed comment, if one was given.
    pub comment: Option<String>,
    /// Fields the record's filer may edit in the new state (empty: as the state says).
    pub unlock: Vec<String>,
}

/// A checked workflow.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// The workflow's key.
    pub key: String,
    /// Its definition.
    pub def: WorkflowDef,
}

impl Workflow {
    /// Checks a definition against the roles of its pack and the fields of the forms that use
    /// it. Every problem is reported with a pointer into `file`.
    pub fn check(
        key: &str,
        def: WorkflowDef,
        file: &str,
        roles: &BTreeSet<String>,
        fields: &BTreeSet<String>,
    ) -> std::result::Result<Workflow, Vec<PackError>> {
        let mut errs = Vec::new();
        let mut err = |p: String, r: String| errs.push(PackError::new(file, p, r));
        let mut states = BTreeSet::new();
        for (i, s) in def.states.iter().enumerate() {
            if !is_key(&s.key) {
                err(
                    format!("/states/{i}/key"),
                    format!("`{}` is not a valid key (a-z, 0-9, _)", s.key),
                );
            }
            if !states.insert(s.key.as_str()) {
                err(
                    format!("/states/{i}/key"),
                    format!("state `{}` is defined twice", s.key),
                );
            }
            if let Some(t) = &s.timer {
                if t.seconds().is_none() {
                    err(
                        format!("/states/{i}/timer/after"),
                        format!(
                            "`{}` is not a duration such as 30d, 12h, 45m or 10s",
                            t.after
                        ),
                    );
                }
                let leaves = def
                    .transitions
                    .iter()
                    .any(|tr| tr.action == t.action && tr.from.keys().contains(&s.key));
                if !leaves {
                    err(
                        format!("/states/{i}/timer/action"),
                        format!("no transition `{}` leaves state `{}`", t.action, s.key),
                    );
                }
            }
            check_access(
                &s.fields,
                roles,
                fields,
                &format!("/states/{i}/fields"),
                &mut err,
            );
            if let Some(edit) = &s.edit {
                check_roles(
                    &edit.roles,
                    roles,
                    &format!("/states/{i}/edit/roles"),
                    &mut err,
                );
                for (j, f) in edit.fields.iter().flatten().enumerate() {
                    if !fields.contains(f) {
                        err(
                            format!("/states/{i}/edit/fields/{j}"),
                            format!("unknown field `{f}`"),
                        );
                    }
                }
            }
        }
        check_access(&def.fields, roles, fields, "/fields", &mut err);
        if !states.contains(def.initial.as_str()) {
            err(
                "/initial".into(),
                format!("initial state `{}` is not among the states", def.initial),
            );
        }
        let mut seen = BTreeMap::new();
        for (i, t) in def.transitions.iter().enumerate() {
            if !is_key(&t.action) {
                err(
                    format!("/transitions/{i}/action"),
                    format!("`{}` is not a valid key", t.action),
                );
            }
            for (j, f) in t.from.keys().iter().enumerate() {
                let ptr = match t.from {
                    OneOrMany::One(_) => format!("/transitions/{i}/from"),
                    OneOrMany::Many(_) => format!("/transitions/{i}/from/{j}"),
                };
                if !states.contains(f.as_str()) {
                    err(ptr, format!("\"from\" names unknown state `{f}`"));
                } else if let Some(first) = seen.insert((f.clone(), t.action.clone()), i) {
                    err(
                        ptr,
                        format!(
                            "action `{}` already leaves state `{f}` in transition {first}",
                            t.action
                        ),
                    );
                }
            }
            if !states.contains(t.to.as_str()) {
                err(
                    format!("/transitions/{i}/to"),
                    format!("\"to\" names unknown state `{}`", t.to),
                );
            }
            if t.roles.is_empty() {
                err(
                    format!("/transitions/{i}/roles"),
                    "a transition needs at least one role".into(),
                );
            }
            check_roles(
                &t.roles,
                roles,
                &format!("/transitions/{i}/roles"),
                &mut err,
            );
            for (j, f) in t.fields.iter().enumerate() {
                if !fields.contains(f) {
                    err(
                        format!("/transitions/{i}/fields/{j}"),
                        format!("unknown field `{f}`"),
                    );
                }
            }
            for (kw, list) in [("required", &t.required), ("unlock", &t.unlock)] {
                for (j, f) in list.iter().enumerate() {
                    if !fields.contains(f) {
                        err(
                            format!("/transitions/{i}/{kw}/{j}"),
                            format!("unknown field `{f}`"),
                        );
                    }
                }
            }
            if let Some(cs) = &t.countersign {
                let n = cs.roles.len() + cs.units.len();
                if cs.roles.is_empty() == cs.units.is_empty() {
                    err(
                        format!("/transitions/{i}/countersign"),
                        "a countersign names either roles or units".into(),
                    );
                } else if cs.needed.is_some_and(|k| k == 0 || k > n) {
                    err(
                        format!("/transitions/{i}/countersign/needed"),
                        format!("needed must be between 1 and {n}"),
                    );
                }
                check_roles(
                    &cs.roles,
                    roles,
                    &format!("/transitions/{i}/countersign/roles"),
                    &mut err,
                );
            }
            for (j, e) in t.effects.iter().enumerate() {
                let (kw, targets): (&str, Vec<&String>) = match e {
                    Effect::Set(m) => ("set", m.keys().collect()),
                    Effect::Number(n) => ("number", vec![&n.field]),
                    // Checked by the pack, which knows its forms and documents.
                    Effect::Create(_) | Effect::Document(_) => ("", vec![]),
                    Effect::Notify(_) => ("notify", vec![]),
                };
                for f in targets {
                    if !fields.contains(f) {
                        err(
                            format!("/transitions/{i}/effects/{j}/{kw}"),
                            format!("unknown field `{f}`"),
                        );
                    }
                }
                match e {
                    Effect::Set(m) => {
                        for (f, x) in m {
                            if let Err(e) = crate::expr::Expr::compile(x) {
                                err(
                                    format!("/transitions/{i}/effects/{j}/set/{f}"),
                                    format!("invalid expression: {e}"),
                                );
                            }
                        }
                    }
                    Effect::Number(n) if !n.format.contains("{n") => {
                        err(
                            format!("/transitions/{i}/effects/{j}/number/format"),
                            "the format needs {n} or {n:06}".into(),
                        );
                    }
                    Effect::Number(_) | Effect::Create(_) | Effect::Document(_) => {}
                    Effect::Notify(n) => {
                        let env = minijinja::Environment::new();
                        if let Err(e) = env.template_from_str(&n.text) {
                            err(
                                format!("/transitions/{i}/effects/{j}/notify/text"),
                                format!("invalid template: {e}"),
                            );
                        }
                        match n.channel {
                            Channel::Sms => {
                                if let Err(e) = crate::expr::Expr::compile(&n.to) {
                                    err(
                                        format!("/transitions/{i}/effects/{j}/notify/to"),
                                        format!("invalid expression: {e}"),
                                    );
                                }
                            }
                            Channel::App => {
                                if n.to != "owner" && !roles.contains(&n.to) {
                                    err(
                                        format!("/transitions/{i}/effects/{j}/notify/to"),
                                        format!(
                                            "`{}` is neither `owner` nor a role of roles.toml",
                                            n.to
                                        ),
                                    );
                                }
                            }
                        }
                    }
                }
            }
            for (j, u) in t.unique.iter().enumerate() {
                let at = format!("/transitions/{i}/unique/{j}");
                if u.fields.is_empty() {
                    err(format!("{at}/fields"), "name at least one field".into());
                }
                for (k, f) in u.fields.iter().enumerate() {
                    if !fields.contains(f) {
                        err(format!("{at}/fields/{k}"), format!("unknown field `{f}`"));
                    }
                }
                if let Some(y) = &u.year {
                    if y != "created_at" && !fields.contains(y) {
                        err(format!("{at}/year"), format!("unknown field `{y}`"));
                    }
                }
                for (k, st) in u.among.iter().enumerate() {
                    if !def.states.iter().any(|x| &x.key == st) {
                        err(format!("{at}/among/{k}"), format!("unknown state `{st}`"));
                    }
                }
            }
            if let Some(sep) = &t.separate {
                let at = format!("/transitions/{i}/separate");
                if sep.from.is_empty() {
                    err(
                        format!("{at}/from"),
                        "name the earlier actions whose actor is excluded".into(),
                    );
                }
                for (k, a) in sep.from.iter().enumerate() {
                    if !def.transitions.iter().any(|x| &x.action == a) {
                        err(format!("{at}/from/{k}"), format!("unknown action `{a}`"));
                    }
                }
                for (k, u) in sep.waived_in.iter().enumerate() {
                    let code = !u.is_empty()
                        && u.chars().all(|c| {
                            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
                        });
                    if !code {
                        err(
                            format!("{at}/waived_in/{k}"),
                            format!("`{u}` is not a unit code (a-z, 0-9, -, _)"),
                        );
                    }
                }
            }
            for (j, g) in t.guards.iter().enumerate() {
                if let Err(e) = crate::expr::Expr::compile(&g.rule) {
                    err(
                        format!("/transitions/{i}/guards/{j}/rule"),
                        format!("invalid expression: {e}"),
                    );
                }
            }
        }
        if errs.is_empty() {
            Ok(Workflow {
                key: key.to_string(),
                def,
            })
        } else {
            Err(errs)
        }
    }

    /// The state with this key.
    pub fn state(&self, key: &str) -> Option<&StateDef> {
        self.def.states.iter().find(|s| s.key == key)
    }

    /// Label of a state, or its key when the state is unknown.
    pub fn state_label<'a>(&'a self, key: &'a str) -> &'a str {
        self.state(key).map_or(key, |s| s.label.as_str())
    }

    /// Transitions leaving `state` that someone holding `roles` may fire.
    pub fn available<'a>(&'a self, state: &str, roles: &[String]) -> Vec<&'a TransitionDef> {
        self.def
            .transitions
            .iter()
            .filter(|t| t.from.keys().iter().any(|f| f == state))
            .filter(|t| t.roles.iter().any(|r| roles.contains(r)))
            .collect()
    }

    /// States in which someone holding `roles` has at least one transition: their inbox.
    pub fn actionable_states(&self, roles: &[String]) -> BTreeSet<String> {
        self.def
            .transitions
            .iter()
            .filter(|t| t.roles.iter().any(|r| roles.contains(r)))
            .flat_map(|t| t.from.keys().iter().cloned())
            .collect()
    }

    /// The edit rule that applies to someone holding `roles` in `state`, if any.
    pub fn edit_rule(&self, state: &str, roles: &[String]) -> Option<&EditRule> {
        self.state(state)?
            .edit
            .as_ref()
            .filter(|e| e.roles.iter().any(|r| roles.contains(r)))
    }

    /// How a field is accessed in `state`: the state's own entry, else the workflow's.
    pub fn field_access(&self, state: &str, field: &str) -> Option<&FieldAccess> {
        self.state(state)
            .and_then(|s| s.fields.get(field))
            .or_else(|| self.def.fields.get(field))
    }

    /// Fields with an access entry in `state`: the workflow's and the state's own.
    fn access_names(&self, state: &str) -> BTreeSet<&String> {
        let mut names: BTreeSet<&String> = self.def.fields.keys().collect();
        if let Some(s) = self.state(state) {
            names.extend(s.fields.keys());
        }
        names
    }

    /// Fields someone holding `roles` does not see in `state`.
    pub fn hidden(&self, state: &str, roles: &[String]) -> BTreeSet<String> {
        self.access_names(state)
            .into_iter()
            .filter(|f| {
                self.field_access(state, f)
                    .is_some_and(|a| !a.visible_to(roles))
            })
            .cloned()
            .collect()
    }

    /// Removes from `data` the fields someone holding `roles` does not see in `state`.
    pub fn strip_hidden(&self, state: &str, roles: &[String], data: &mut serde_json::Value) {
        if self.def.fields.is_empty() && self.state(state).is_none_or(|s| s.fields.is_empty()) {
            return;
        }
        if let Some(obj) = data.as_object_mut() {
            for f in self.hidden(state, roles) {
                obj.remove(&f);
            }
        }
    }

    /// Fields someone holding `roles` does not see in at least one state: they may not
    /// filter, sort or search by them, and history does not show them their values.
    pub fn hidden_somewhere(&self, roles: &[String]) -> BTreeSet<String> {
        self.def
            .states
            .iter()
            .flat_map(|s| self.hidden(&s.key, roles))
            .collect()
    }

    /// Fields someone holding `roles` must fill before leaving `state`.
    pub fn required_in(&self, state: &str, roles: &[String]) -> Vec<String> {
        self.access_names(state)
            .into_iter()
            .filter(|f| {
                self.field_access(state, f)
                    .is_some_and(|a| a.required.iter().any(|r| roles.contains(r)))
            })
            .cloned()
            .collect()
    }

    /// Checks that `action` may fire from `state` for someone holding `roles`, with `comment`.
    pub fn plan(
        &self,
        state: &str,
        action: &str,
        roles: &[String],
        comment: Option<&str>,
    ) -> Result<TransitionPlan> {
        let transition = self
            .def
            .transitions
            .iter()
            .find(|t| t.action == action && t.from.keys().iter().any(|f| f == state))
            .ok_or_else(|| Error::TransitionNotAvailable {
                state: state.into(),
                action: action.into(),
            })?;
        if !transition.roles.iter().any(|r| roles.contains(r)) {
            return Err(Error::TransitionForbidden {
                action: action.into(),
                roles: transition.roles.clone(),
            });
        }
        let comment = comment
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        if transition.comment_required && comment.is_none() {
            return Err(Error::Invalid(vec![FieldError::new(
                "/comment",
                "required",
                format!("「{}」需要填写理由", transition.label),
                format!("`{action}` requires a comment giving the reason"),
            )]));
        }
        Ok(TransitionPlan {
            action: action.into(),
            from: state.into(),
            to: transition.to.clone(),
            comment,
            unlock: transition.unlock.clone(),
        })
    }

    /// Like [`Workflow::plan`], for a real actor and record: the transition must also allow
    /// the actor's org relation to the record and, for a recall, its ownership and timing.
    pub fn plan_for(
        &self,
        state: &str,
        action: &str,
        party: &Party<'_>,
        facts: &Facts<'_>,
        comment: Option<&str>,
    ) -> Result<TransitionPlan> {
        let plan = self.plan(state, action, party.roles, comment)?;
        match self.transition(state, action) {
            Some(t) if t.allows(party, facts) => Ok(plan),
            Some(t) => Err(Error::TransitionForbidden {
                action: action.into(),
                roles: t.roles.clone(),
            }),
            None => Err(Error::TransitionNotAvailable {
                state: state.into(),
                action: action.into(),
            }),
        }
    }

    /// Transitions leaving `state` that `party` may fire on a record with these facts.
    pub fn available_for<'a>(
        &'a self,
        state: &str,
        party: &Party<'_>,
        facts: &Facts<'_>,
    ) -> Vec<&'a TransitionDef> {
        self.available(state, party.roles)
            .into_iter()
            .filter(|t| t.allows(party, facts))
            .collect()
    }

    /// For the inbox: each state where `party` holds a task (not a recall, not `"task": false`),
    /// with the rule of each such transition. `permitted` says which actions the actor's
    /// permissions allow.
    pub fn inbox_rules(
        &self,
        party: &Party<'_>,
        permitted: &dyn Fn(&str) -> bool,
    ) -> Vec<(String, Vec<InboxRule>)> {
        let mut out: Vec<(String, Vec<InboxRule>)> = Vec::new();
        for t in self.def.transitions.iter().filter(|t| {
            t.is_task() && t.roles.iter().any(|r| party.roles.contains(r)) && permitted(&t.action)
        }) {
            // A countersign member whose vote is in waits for the others: not a task.
            let unvoted = match &t.countersign {
                None => None,
                Some(cs) => match cs.member_for(party) {
                    Some(m) => Some((t.action.clone(), m)),
                    None => continue,
                },
            };
            let rule = InboxRule {
                org: t.org.clone(),
                unvoted,
                separate: t
                    .separate
                    .as_ref()
                    .map(|s| (s.from.clone(), s.waived_in.clone())),
            };
            for f in t.from.keys() {
                match out.iter_mut().find(|(s, _)| s == f) {
                    Some((_, rules)) => rules.push(rule.clone()),
                    None => out.push((f.clone(), vec![rule.clone()])),
                }
            }
        }
        out
    }

    /// Applies the `set` effects of a transition to the record's data (numbers are taken by
    /// the store, in the transaction).
    pub fn apply_set_effects(
        &self,
        from: &str,
        action: &str,
        data: &mut serde_json::Value,
        clock: &crate::clock::Clock,
    ) -> Result<()> {
        let Some(t) = self.transition(from, action) else {
            return Ok(());
        };
        for e in &t.effects {
            if let Effect::Set(m) = e {
                for (f, x) in m {
                    let v = crate::expr::Expr::compile(x)
                        .and_then(|x| x.eval_at(data, clock))
                        .map_err(|e| {
                            Error::Invalid(vec![FieldError::new(
                                format!("/{}", crate::form::escape(f)),
                                "effect",
                                format!("无法计算：{e}"),
                                format!("cannot compute: {e}"),
                            )])
                        })?;
                    if let Some(obj) = data.as_object_mut() {
                        if v.is_null() {
                            obj.remove(f);
                        } else {
                            obj.insert(f.clone(), v);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The effects of a transition that act beyond the record's own data (`create`,
    /// `document`, `notify`), in order.
    pub fn outward_effects(&self, from: &str, action: &str) -> Vec<&Effect> {
        self.transition(from, action)
            .map(|t| {
                t.effects
                    .iter()
                    .filter(|e| {
                        matches!(
                            e,
                            Effect::Create(_) | Effect::Document(_) | Effect::Notify(_)
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The numbering effects of a transition that number records of `form` (those without
    /// a `form` of their own and those naming it).
    pub fn number_effects(&self, from: &str, action: &str, form: &str) -> Vec<&NumberEffect> {
        self.transition(from, action)
            .map(|t| {
                t.effects
                    .iter()
                    .filter_map(|e| match e {
                        Effect::Number(n) if n.form.as_deref().is_none_or(|f| f == form) => Some(n),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Checks what a transition demands of the record once its data is applied: its
    /// required fields, the fields the state requires of the actor's `roles`, and its guards. Errors carry the pack's messages.
    pub fn check_transition(
        &self,
        from: &str,
        action: &str,
        roles: &[String],
        data: &serde_json::Value,
        clock: &crate::clock::Clock,
    ) -> Result<()> {
        let Some(t) = self.transition(from, action) else {
            return Ok(());
        };
        let mut errs = Vec::new();
        let mut required = t.required.clone();
        for f in self.required_in(from, roles) {
            if !required.contains(&f) {
                required.push(f);
            }
        }
        for f in &required {
            let missing = match data.get(f) {
                None | Some(serde_json::Value::Null) => true,
                Some(serde_json::Value::String(s)) => s.trim().is_empty(),
                Some(serde_json::Value::Array(a)) => a.is_empty(),
                _ => false,
            };
            if missing {
                errs.push(FieldError::new(
                    format!("/{}", crate::form::escape(f)),
                    "required",
                    format!("「{}」时必须填写此项", t.label),
                    format!("required to {action}"),
                ));
            }
        }
        for g in &t.guards {
            let holds = crate::expr::Expr::compile(&g.rule)
                .and_then(|x| x.test_at(data, clock))
                .unwrap_or(false);
            if !holds {
                let (zh, en) = match &g.message {
                    Message::Same(m) => (m.clone(), m.clone()),
                    Message::Both { zh, en } => (zh.clone(), en.clone()),
                };
                errs.push(FieldError::new("", "guard", zh, en));
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(errs))
        }
    }

    /// The transition definition behind a plan.
    pub fn transition(&self, from: &str, action: &str) -> Option<&TransitionDef> {
        self.def
            .transitions
            .iter()
            .find(|t| t.action == action && t.from.keys().iter().any(|f| f == from))
    }
}

fn check_access(
    access: &BTreeMap<String, FieldAccess>,
    roles: &BTreeSet<String>,
    fields: &BTreeSet<String>,
    ptr: &str,
    err: &mut impl FnMut(String, String),
) {
    for (f, a) in access {
        let at = format!("{ptr}/{}", crate::form::escape(f));
        if !fields.contains(f) {
            err(at.clone(), format!("unknown field `{f}`"));
        }
        if let Some(v) = &a.visible {
            check_roles(v, roles, &format!("{at}/visible"), err);
        }
        check_roles(&a.required, roles, &format!("{at}/required"), err);
    }
}

fn check_roles(
    used: &[String],
    defined: &BTreeSet<String>,
    ptr: &str,
    err: &mut impl FnMut(String, String),
) {
    for (j, r) in used.iter().enumerate() {
        if !defined.contains(r) {
            err(
                format!("{ptr}/{j}"),
                format!("role `{r}` is not defined in roles.toml"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn relief() -> Workflow {
        let def: WorkflowDef = serde_json::from_value(json!({
            "label": "relief",
            "initial": "draft",
            "states": [
                {"key": "draft", "label": "草稿", "complete": false, "edit": {"roles": ["staff"]}},
                {"key": "submitted", "label": "待审核"},
                {"key": "approved", "label": "通过"}
            ],
            "transitions": [
                {"action": "submit", "label": "提交", "from": "draft", "to": "submitted", "roles": ["staff"]},
                {"action": "approve", "label": "通过", "from": "submitted", "to": "approved", "roles": ["reviewer"]},
                {"action": "reject", "label": "退回", "from": ["submitted"], "to": "draft", "roles": ["reviewer"], "comment_required": true}
            ]
        }))
        .unwrap();
        let roles = ["staff", "reviewer"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        Workflow::check(
            "relief",
            def,
            "workflows/relief.json",
            &roles,
            &BTreeSet::new(),
        )
        .unwrap()
    }

    fn roles(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_transitions_of_held_roles_are_available() {
        let wf = relief();
        let acts: Vec<_> = wf
            .available("submitted", &roles(&["reviewer"]))
            .iter()
            .map(|t| t.action.clone())
            .collect();
        assert_eq!(acts, ["approve", "reject"]);
        assert!(wf.available("submitted", &roles(&["staff"])).is_empty());
    }

    #[test]
    fn reject_without_reason_names_the_comment() {
        let wf = relief();
        match wf.plan("submitted", "reject", &roles(&["reviewer"]), Some("  ")) {
            Err(Error::Invalid(f)) => assert_eq!(f[0].pointer, "/comment"),
            other => panic!("{other:?}"),
        }
        let plan = wf
            .plan(
                "submitted",
                "reject",
                &roles(&["reviewer"]),
                Some(" 材料不全 "),
            )
            .unwrap();
        assert_eq!(
            (plan.to.as_str(), plan.comment.as_deref()),
            ("draft", Some("材料不全"))
        );
    }

    #[test]
    fn action_from_wrong_state_or_without_role_is_refused() {
        let wf = relief();
        assert!(matches!(
            wf.plan("draft", "approve", &roles(&["reviewer"]), None),
            Err(Error::TransitionNotAvailable { .. })
        ));
        assert!(matches!(
            wf.plan("submitted", "approve", &roles(&["staff"]), None),
            Err(Error::TransitionForbidden { .. })
        ));
    }

    #[test]
    fn a_transition_that_is_no_task_puts_nothing_in_the_inbox() {
        let def: WorkflowDef = serde_json::from_value(json!({
            "label": "registry", "initial": "registered",
            "states": [{"key": "registered", "label": "已登记"}, {"key": "revoked", "label": "已撤销"}],
            "transitions": [{"action": "revoke", "label": "撤销", "from": "registered", "to": "revoked",
                             "roles": ["staff"], "task": false}]
        }))
        .unwrap();
        assert!(!def.transitions[0].is_task());
        let wf = Workflow::check(
            "registry",
            def,
            "workflows/registry.json",
            &["staff".to_string()].into_iter().collect(),
            &BTreeSet::new(),
        )
        .unwrap();
        let staff = roles(&["staff"]);
        let party = Party {
            roles: &staff,
            org_path: "/root/",
        };
        assert!(wf.inbox_rules(&party, &|_| true).is_empty());
        // Still an action: available, and written back as it was read.
        assert_eq!(wf.available("registered", &staff).len(), 1);
        let back = serde_json::to_value(&wf.def.transitions[0]).unwrap();
        assert_eq!(back["task"], json!(false));
        let reviewer = roles(&["reviewer"]);
        let party = Party {
            roles: &reviewer,
            org_path: "/root/",
        };
        let states: Vec<String> = relief()
            .inbox_rules(&party, &|_| true)
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(states, ["submitted"], "a task by default");
        assert!(serde_json::to_value(&relief().def.transitions[0])
            .unwrap()
            .get("task")
            .is_none());
    }

    #[test]
    fn unknown_state_and_role_are_reported_with_pointers() {
        let def: WorkflowDef = serde_json::from_value(json!({
            "label": "x", "initial": "draft",
            "states": [{"key": "draft", "label": "d"}],
            "transitions": [{"action": "go", "label": "go", "from": "draft", "to": "paid", "roles": ["ghost"]}]
        }))
        .unwrap();
        let errs = Workflow::check(
            "x",
            def,
            "workflows/x.json",
            &BTreeSet::new(),
            &BTreeSet::new(),
        )
        .unwrap_err();
        let ptrs: Vec<_> = errs.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(ptrs, ["/transitions/0/to", "/transitions/0/roles/0"]);
        assert!(errs[0].reason.contains("paid"));
    }
}

#[cfg(test)]
mod number_tests {
    use super::NumberEffect;

    #[test]
    fn numbers_render_with_padding_and_year() {
        let n = NumberEffect {
            field: "app_no".into(),
            sequence: "s".into(),
            format: "HZ-{year}-{n:06}".into(),
            form: None,
            gapless: false,
        };
        assert_eq!(n.render(123, 2026), "HZ-2026-000123");
        assert!(n.yearly());
        let plain = NumberEffect {
            field: "f".into(),
            sequence: "s".into(),
            format: "No.{n}".into(),
            form: None,
            gapless: true,
        };
        assert_eq!(plain.render(7, 2026), "No.7");
        assert!(!plain.yearly());
    }

    #[test]
    fn a_number_effect_with_a_form_numbers_only_that_forms_records() {
        let wf: super::WorkflowDef = serde_json::from_value(serde_json::json!({
            "label": "w", "initial": "draft",
            "states": [{"key": "draft", "label": "草稿"}, {"key": "submitted", "label": "已提交"}],
            "transitions": [{"action": "submit", "label": "提交", "from": "draft", "to": "submitted", "roles": ["r"],
                "effects": [
                    {"number": {"field": "app_no", "sequence": "a", "format": "A-{n}", "form": "a"}},
                    {"number": {"field": "app_no", "sequence": "b", "format": "B-{n}", "form": "b"}},
                    {"number": {"field": "serial", "sequence": "all", "format": "{n}"}}
                ]}]
        }))
        .expect("workflow");
        let w = super::Workflow {
            key: "w".into(),
            def: wf,
        };
        let seqs = |form: &str| -> Vec<String> {
            w.number_effects("draft", "submit", form)
                .iter()
                .map(|n| n.sequence.clone())
                .collect()
        };
        assert_eq!(seqs("a"), ["a", "all"]);
        assert_eq!(seqs("b"), ["b", "all"]);
        assert_eq!(seqs("c"), ["all"]);
    }
}

#[cfg(test)]
mod timer_tests {
    use super::Timer;

    #[test]
    fn durations_read_as_seconds() {
        let t = |a: &str| {
            Timer {
                after: a.into(),
                action: "x".into(),
            }
            .seconds()
        };
        assert_eq!(
            (t("30d"), t("12h"), t("45m"), t("10s")),
            (Some(2_592_000), Some(43_200), Some(2_700), Some(10))
        );
        assert_eq!(
            (t("0d"), t("d"), t("3w"), t("-1h"), t("时")),
            (None, None, None, None, None)
        );
    }
}
