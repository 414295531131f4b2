//! What a change does beyond the record's own data, in the change's own transaction: the
//! `create`, `document` and `notify` effects of a transition, the in-app tasks users gain
//! when a record enters a state they can act in, and the deliveries to the tenant's webhooks.
//! If any of it fails, the change fails and nothing is written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use form_runtime::document::Document;
use form_runtime::expr::Expr;
use form_runtime::form::{CompiledForm, Completeness};
use form_runtime::sensitive::{mask, MaskKind};
use form_runtime::workflow::{Channel, CreateEffect, Effect, Facts, NotifyEffect, Party};
use form_runtime::FieldError;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::error::{Error, Result};
use super::sensitive;
use crate::crypto::TenantKeys;
use crate::state::AppState;
use crate::store::notify::{self, KeptDocument, NewNotification, Webhook};
use crate::store::records::{self, NewEvent, RecordRow};
use crate::store::tenants::RoleInfo;
use crate::store::{audit, new_id, Tx};

/// Events a webhook can follow.
pub const EVENTS: &[&str] = &["record.created", "record.updated", "record.transition"];

/// What the effects of a change need that must be read before its transaction starts.
pub struct Outward {
    keys: Option<Arc<TenantKeys>>,
    targets: HashMap<String, (i64, Arc<CompiledForm>)>,
    documents: BTreeMap<String, Document>,
    roles: Arc<BTreeMap<String, RoleInfo>>,
    webhooks: Arc<Vec<Webhook>>,
    /// Holders of each role as first read in a transaction, kept for the next change in it
    /// (an import writes thousands of records with one `Outward`).
    holders: std::sync::Mutex<HashMap<String, Arc<Vec<notify::Holder>>>>,
}

/// Context key of an [`Outward`]: form, version and transition (from, action).
type OutwardKey = (String, i64, Option<(String, String)>);

/// [`Outward`]s read once and shared by many changes of one request (an import's rows).
#[derive(Default)]
pub struct Outwards(tokio::sync::Mutex<HashMap<OutwardKey, Arc<Outward>>>);

/// The [`Outward`] of a change: from `cache` when it holds one for the same form, version
/// and transition, else read (and kept in `cache`).
pub async fn outward(
    cache: Option<&Outwards>,
    app: &AppState,
    tenant: &str,
    form: &CompiledForm,
    form_version: i64,
    transition: Option<(&str, &str)>,
) -> Result<Arc<Outward>> {
    let Some(cache) = cache else {
        return Ok(Arc::new(
            Outward::load(app, tenant, form, form_version, transition).await?,
        ));
    };
    let key = (
        form.key.clone(),
        form_version,
        transition.map(|(f, a)| (f.to_string(), a.to_string())),
    );
    let mut kept = cache.0.lock().await;
    if let Some(o) = kept.get(&key) {
        return Ok(o.clone());
    }
    let o = Arc::new(Outward::load(app, tenant, form, form_version, transition).await?);
    kept.insert(key, o.clone());
    Ok(o)
}

impl Outward {
    /// Reads what the change of a record of `form` (at `form_version`) needs: for a
    /// transition (`from`, `action`) with effects, the forms it creates records of, its
    /// documents and the tenant's keys; always the roles and webhooks. Without a transition
    /// (or without effects) it reads no keys, so it may run inside a transaction.
    pub async fn load(
        app: &AppState,
        tenant: &str,
        form: &CompiledForm,
        form_version: i64,
        transition: Option<(&str, &str)>,
    ) -> Result<Outward> {
        let effects = transition
            .map(|(from, action)| form.workflow.outward_effects(from, action))
            .unwrap_or_default();
        let mut out = Outward {
            keys: None,
            targets: HashMap::new(),
            documents: BTreeMap::new(),
            roles: app.catalog.roles(&app.db, tenant).await?,
            webhooks: app.catalog.webhooks(&app.db, tenant).await?,
            holders: std::sync::Mutex::new(HashMap::new()),
        };
        let mut need_keys = false;
        for e in effects {
            match e {
                Effect::Create(c) if !out.targets.contains_key(&c.form) => {
                    let target = app
                        .catalog
                        .versioned(&app.db, tenant, &c.form, None)
                        .await?
                        .ok_or_else(|| {
                            anyhow::anyhow!("form {} of a create effect is not installed", c.form)
                        })?;
                    need_keys |= !sensitive::paths(&target.1).is_empty();
                    out.targets.insert(c.form.clone(), target);
                }
                Effect::Document(_) if out.documents.is_empty() => {
                    out.documents =
                        super::documents::documents(app, tenant, &form.key, form_version).await?;
                }
                Effect::Notify(n) if n.channel == Channel::Sms => need_keys = true,
                _ => {}
            }
        }
        if need_keys {
            out.keys = Some(app.keys.tenant(&app.db, tenant).await?);
        }
        Ok(out)
    }

    /// Unlocked holders of `role`, as the server's catalog has them the first time asked
    /// and the same for every later change with this `Outward`.
    async fn holders(
        &self,
        tx: &mut Tx,
        app: &AppState,
        tenant: &str,
        role: &str,
    ) -> sqlx::Result<Arc<Vec<notify::Holder>>> {
        if let Some(h) = self.kept_holders(role) {
            return Ok(h);
        }
        let found = app.catalog.holders(tx, tenant, role).await?;
        if let Ok(mut kept) = self.holders.lock() {
            kept.insert(role.to_string(), found.clone());
        }
        Ok(found)
    }

    fn kept_holders(&self, role: &str) -> Option<Arc<Vec<notify::Holder>>> {
        self.holders.lock().ok()?.get(role).cloned()
    }
}

/// A change as its effects see it.
pub struct Happened<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Who made it (`system` for a timer).
    pub actor_id: &'a str,
    /// Their name, for documents.
    pub actor_name: &'a str,
    /// The record's form (at the record's version).
    pub form: &'a CompiledForm,
    /// The record after the change, with clear data.
    pub record: &'a RecordRow,
    /// `record.created`, `record.updated` or `record.transition`.
    pub event: &'static str,
    /// For a transition: the state it left and the action.
    pub transition: Option<(&'a str, &'a str)>,
    /// Whether the transition's own effects run (not for timers).
    pub run_effects: bool,
    /// When.
    pub at: &'a str,
    /// The tenant's zone, for what the change prints and sends.
    pub zone: chrono_tz::Tz,
    /// The comment given with the transition (a refusal's reason), if any.
    pub comment: Option<&'a str>,
}

/// Runs everything a change causes, in its transaction.
pub async fn apply(tx: &mut Tx, app: &AppState, out: &Outward, h: &Happened<'_>) -> Result<()> {
    if let (Some((from, action)), true) = (h.transition, h.run_effects) {
        for e in h.form.workflow.outward_effects(from, action) {
            match e {
                Effect::Create(c) => create(tx, out, h, action, c).await?,
                Effect::Document(key) => document(tx, out, h, action, key).await?,
                Effect::Notify(n) => message(tx, app, out, h, n).await?,
                Effect::Set(_) | Effect::Number(_) => {}
            }
        }
    }
    if h.event != "record.updated" {
        tasks(tx, app, out, h).await?;
    }
    webhooks(tx, out, h).await
}

/// The record's data without sensitive values (masked) and without fields some role may not
/// see: what leaves the record's own pages (kept documents, webhooks, in-app texts).
fn shareable(form: &CompiledForm, state: &str, data: &Value) -> Value {
    let paths = sensitive::paths(form);
    let mut data = sensitive::reading(&paths, &sensitive::Clear::NONE, data.clone()).data;
    let restricted: BTreeSet<String> = form
        .workflow
        .def
        .fields
        .iter()
        .chain(
            form.workflow
                .state(state)
                .map(|s| &s.fields)
                .into_iter()
                .flatten(),
        )
        .filter(|(_, a)| a.visible.is_some())
        .map(|(k, _)| k.clone())
        .collect();
    if let Some(m) = data.as_object_mut() {
        m.retain(|k, _| !restricted.contains(k));
    }
    data
}

async fn create(
    tx: &mut Tx,
    out: &Outward,
    h: &Happened<'_>,
    action: &str,
    c: &CreateEffect,
) -> Result<()> {
    let (version, target) = out
        .targets
        .get(&c.form)
        .ok_or_else(|| anyhow::anyhow!("form {} was not loaded", c.form))?;
    let mut data = Map::new();
    for (field, x) in &c.data {
        let v = Expr::compile(x)
            .and_then(|x| x.eval(&h.record.data))
            .map_err(|e| {
                Error::Invalid(vec![FieldError::new(
                    format!("/effects/create/{}/{field}", c.form),
                    "effect",
                    format!("生成「{}」记录时无法计算「{field}」：{e}", target.title),
                    format!("cannot compute `{field}` of the new {} record: {e}", c.form),
                )])
            })?;
        if !v.is_null() {
            data.insert(field.clone(), v);
        }
    }
    if let Some(link) = &c.link {
        data.insert(link.clone(), json!(h.record.id));
    }
    let initial = target.workflow.def.initial.clone();
    let complete = target.workflow.state(&initial).is_none_or(|s| s.complete);
    let c_level = if complete {
        Completeness::Complete
    } else {
        Completeness::Draft
    };
    let data = target
        .accept(Value::Object(data), c_level)
        .map_err(|errs| {
            Error::Invalid(
                errs.into_iter()
                    .map(|e| {
                        FieldError::new(
                            format!("/effects/create/{}{}", c.form, e.pointer),
                            &e.rule,
                            format!("生成的「{}」记录：{}", target.title, e.message),
                            format!("the new {} record: {}", c.form, e.message_en),
                        )
                    })
                    .collect(),
            )
        })?;
    let id = new_id();
    let paths = sensitive::paths(target);
    let stored = match (&out.keys, paths.is_empty()) {
        (_, true) => data.clone(),
        (Some(k), false) => sensitive::seal_with(k, &paths, h.tenant, &target.key, &id, data)?,
        (None, false) => return Err(anyhow::anyhow!("tenant keys were not loaded").into()),
    };
    let row = RecordRow {
        id: id.clone(),
        form_key: target.key.clone(),
        form_version: *version,
        state: initial.clone(),
        data: stored,
        owner_id: h.record.owner_id.clone(),
        org_path: h.record.org_path.clone(),
        version: 1,
        created_at: h.at.to_string(),
        updated_at: h.at.to_string(),
    };
    records::insert(tx, h.tenant, &row).await?;
    crate::timers::enter(tx, h.tenant, &id, &target.workflow, &initial, h.at).await?;
    let label = h
        .form
        .workflow
        .def
        .transitions
        .iter()
        .find(|t| t.action == action)
        .map_or(action, |t| t.label.as_str());
    let comment = format!(
        "由「{}」记录 {} 的「{label}」生成",
        h.form.title, h.record.id
    );
    let ev = NewEvent {
        kind: "create",
        action: None,
        from_state: None,
        to_state: Some(&initial),
        actor_id: h.actor_id,
        comment: Some(&comment),
        changes: None,
        at: h.at,
    };
    records::add_event(tx, h.tenant, &id, &ev).await?;
    audit::append(
        tx,
        h.tenant,
        Some(h.actor_id),
        "record.create",
        &id,
        &json!({"form": target.key, "state": initial, "source": h.record.id, "action": action}),
    )
    .await?;
    Ok(())
}

async fn document(
    tx: &mut Tx,
    out: &Outward,
    h: &Happened<'_>,
    action: &str,
    key: &str,
) -> Result<()> {
    let Some(doc) = out.documents.get(key) else {
        // The document prints another form that shares this workflow.
        return Ok(());
    };
    if doc.def.form != h.record.form_key {
        return Ok(());
    }
    let data = shareable(h.form, &h.record.state, &h.record.data);
    let events = crate::store::records::events_in(tx, h.tenant, &h.record.id).await?;
    let context = super::documents::context(
        h.form,
        h.record,
        data,
        &super::documents::Printing {
            by: h.actor_name,
            at: h.at,
            zone: h.zone,
            events: &events,
        },
    );
    let html = doc
        .render(&context)
        .map_err(|e| anyhow::anyhow!("document {key} failed to render: {e}"))?;
    let kept = KeptDocument {
        id: new_id(),
        key: key.to_string(),
        label: doc.def.label.clone(),
        action: action.to_string(),
        sha256: hex::encode(Sha256::digest(html.as_bytes())),
        created_by: h.actor_id.to_string(),
        created_at: h.at.to_string(),
        html,
    };
    notify::keep_document(tx, h.tenant, &h.record.id, &kept).await?;
    audit::append(
        tx,
        h.tenant,
        Some(h.actor_id),
        "record.document.kept",
        &h.record.id,
        &json!({"document": key, "sha256": kept.sha256}),
    )
    .await?;
    Ok(())
}

/// Whether a holder of `role` (with `user_id`, unit `path`) sees the record.
async fn sees(
    app: &AppState,
    out: &Outward,
    h: &Happened<'_>,
    role: &str,
    user_id: &str,
    path: &str,
) -> bool {
    let Some(info) = out.roles.get(role) else {
        return false;
    };
    info.scope
        .covers(user_id, path, &h.record.owner_id, &h.record.org_path)
        && app.authz.allowed(role, h.tenant, &h.form.key, "read").await
}

async fn message(
    tx: &mut Tx,
    app: &AppState,
    out: &Outward,
    h: &Happened<'_>,
    n: &NotifyEffect,
) -> Result<()> {
    let render = |data: &Value| {
        let mut ctx = data.clone();
        if let Some(m) = ctx.as_object_mut() {
            m.entry("state_label")
                .or_insert_with(|| json!(h.form.workflow.state_label(&h.record.state)));
            m.entry("form_title").or_insert_with(|| json!(h.form.title));
            let summary = form_runtime::display::summarise(h.form, data, h.zone).line;
            m.entry("summary").or_insert_with(|| json!(summary));
            m.entry("comment")
                .or_insert_with(|| json!(h.comment.unwrap_or_default()));
        }
        n.render(&ctx)
            .map_err(|e| anyhow::anyhow!("notify text failed to render: {e}"))
    };
    match n.channel {
        Channel::App => {
            let text = render(&shareable(h.form, &h.record.state, &h.record.data))?;
            let title = n.title.clone().unwrap_or_else(|| h.form.title.clone());
            let mut users = Vec::new();
            if n.to == "owner" {
                users.push(h.record.owner_id.clone());
            } else {
                for u in out.holders(tx, app, h.tenant, &n.to).await?.iter() {
                    if sees(app, out, h, &n.to, &u.user_id, &u.org_path).await {
                        users.push(u.user_id.clone());
                    }
                }
            }
            let items: Vec<NewNotification> = users
                .iter()
                .map(|u| NewNotification {
                    user_id: u,
                    kind: "message",
                    title: &title,
                    body: &text,
                    record_id: Some(&h.record.id),
                })
                .collect();
            notify::notify(tx, h.tenant, &items, h.at).await?;
        }
        Channel::Sms => {
            let to = Expr::compile(&n.to)
                .and_then(|x| x.eval(&h.record.data))
                .map_err(|e| anyhow::anyhow!("notify `to` failed: {e}"))?;
            let Some(phone) = to.as_str().map(str::trim).filter(|p| !p.is_empty()) else {
                return Ok(()); // no number on the record: nothing to send
            };
            let text = render(&h.record.data)?;
            let keys = out
                .keys
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("tenant keys were not loaded"))?;
            let id = new_id();
            let payload = json!({"to": phone, "text": text}).to_string();
            let sealed = keys.seal(&outbox_aad(h.tenant, &id), &payload);
            let target = mask(MaskKind::Mobile, phone);
            notify::enqueue(
                tx,
                h.tenant,
                &id,
                "sms",
                &target,
                &sealed,
                Some(&h.record.id),
                h.at,
            )
            .await?;
        }
    }
    Ok(())
}

/// What an SMS payload is sealed to: its tenant and message id.
pub fn outbox_aad(tenant: &str, id: &str) -> Vec<u8> {
    format!("formwork/outbox/v1\u{0}{tenant}\u{0}{id}").into_bytes()
}

/// In-app tasks: every user (but the actor) who can now act on the record gets one message
/// naming the actions.
async fn tasks(tx: &mut Tx, app: &AppState, out: &Outward, h: &Happened<'_>) -> Result<()> {
    let state = &h.record.state;
    let candidates: Vec<_> = h
        .form
        .workflow
        .def
        .transitions
        .iter()
        .filter(|t| t.is_task() && t.from.keys().iter().any(|f| f == state))
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    // user → (unit path, roles held among the candidates' roles)
    let mut people: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    let roles: BTreeSet<&String> = candidates.iter().flat_map(|t| &t.roles).collect();
    for role in roles {
        for u in out.holders(tx, app, h.tenant, role).await?.iter() {
            if u.user_id == h.actor_id {
                continue;
            }
            let e = people
                .entry(u.user_id.clone())
                .or_insert_with(|| (u.org_path.clone(), Vec::new()));
            e.1.push(role.clone());
        }
    }
    let mut items = Vec::new();
    for (user, (path, held)) in &people {
        let mut visible = false;
        for r in held {
            visible |= sees(app, out, h, r, user, path).await;
        }
        if !visible {
            continue;
        }
        let party = Party {
            roles: held,
            org_path: path,
        };
        let facts = Facts {
            org_path: &h.record.org_path,
            owner: *user == h.record.owner_id,
            untouched_since_owner: false,
        };
        let mut labels = Vec::new();
        for t in &candidates {
            if !t.allows(&party, &facts) || labels.contains(&t.label) {
                continue;
            }
            let mut permitted = false;
            for r in held.iter().filter(|r| t.roles.contains(r)) {
                permitted |= app.authz.allowed(r, h.tenant, &h.form.key, &t.action).await;
            }
            if permitted {
                labels.push(t.label.clone());
            }
        }
        if !labels.is_empty() {
            items.push((user.clone(), labels.join("、")));
        }
    }
    let title = format!("待办：{}", h.form.title);
    // The record as people know it (its summary), never its id.
    let shared = shareable(h.form, &h.record.state, &h.record.data);
    let named = form_runtime::display::summarise(h.form, &shared, h.zone).line;
    let named = if named.is_empty() {
        h.record.id.clone()
    } else {
        named
    };
    let bodies: Vec<String> = items
        .iter()
        .map(|(_, actions)| {
            format!(
                "「{named}」进入「{}」，可执行：{actions}",
                h.form.workflow.state_label(state)
            )
        })
        .collect();
    let rows: Vec<NewNotification> = items
        .iter()
        .zip(&bodies)
        .map(|((user, _), body)| NewNotification {
            user_id: user,
            kind: "task",
            title: &title,
            body,
            record_id: Some(&h.record.id),
        })
        .collect();
    notify::notify(tx, h.tenant, &rows, h.at).await?;
    Ok(())
}

/// One outbox delivery per webhook that follows this event and form.
async fn webhooks(tx: &mut Tx, out: &Outward, h: &Happened<'_>) -> Result<()> {
    let hooks: Vec<&Webhook> = out
        .webhooks
        .iter()
        .filter(|w| w.events.is_empty() || w.events.iter().any(|e| e == h.event))
        .filter(|w| w.forms.is_empty() || w.forms.contains(&h.record.form_key))
        .collect();
    if hooks.is_empty() {
        return Ok(());
    }
    let data = shareable(h.form, &h.record.state, &h.record.data);
    for w in hooks {
        let id = new_id();
        let body = json!({
            "id": id,
            "event": h.event,
            "tenant": h.tenant,
            "at": h.at,
            "actor_id": h.actor_id,
            "record": {
                "id": h.record.id, "form": h.record.form_key, "form_version": h.record.form_version,
                "state": h.record.state, "version": h.record.version, "data": data,
            },
            "from": h.transition.map(|t| t.0),
            "action": h.transition.map(|t| t.1),
        });
        notify::enqueue(
            tx,
            h.tenant,
            &id,
            "webhook",
            &w.id,
            &body.to_string(),
            Some(&h.record.id),
            h.at,
        )
        .await?;
    }
    Ok(())
}
