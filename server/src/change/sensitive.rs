//! Sensitive values (`x-sensitive`) between the store and the client.
//!
//! Handlers work on clear data; only the store holds sealed values. [`seal`] runs right before
//! a record is written, [`open`] right after it is read, and everything a client receives
//! passes [`for_reader`], which masks each sensitive value unless the reader's role holds
//! `unmask` — and then [`audit_unmask`] records who saw which clear values.
//!
//! A sealed value is `{"enc": "v1:…", "bi": "…"}`: the SM4-GCM ciphertext bound to tenant,
//! form, record and the value's JSON pointer, and (for top-level fields) the blind index that
//! exact search compares. Nested values (`members/*/id_number`) carry no blind index: no list
//! filters them, and an index would only tell which records share a value.

use anyhow::anyhow;
use form_runtime::form::CompiledForm;
use form_runtime::list::{CompiledList, ListQuery};
use form_runtime::sensitive::{mask, normalise, sensitive_fields, visit_mut, SensitivePath};
use serde_json::{json, Value};

use super::context::Actor;
use super::error::{Error, Result};
use crate::crypto::{value_aad, TenantKeys};
use crate::state::AppState;
use crate::store::audit;
use crate::store::Tx;

/// The sensitive paths of a form version.
pub fn paths(form: &CompiledForm) -> Vec<SensitivePath> {
    sensitive_fields(&form.schema)
}

/// Seals every sensitive value of `data`, the clear data of record `id`, for storing.
pub async fn seal(
    app: &AppState,
    tenant: &str,
    form: &CompiledForm,
    id: &str,
    data: Value,
) -> Result<Value> {
    let paths = paths(form);
    if paths.is_empty() {
        return Ok(data);
    }
    let keys = app.keys.tenant(&app.db, tenant).await?;
    seal_with(&keys, &paths, tenant, &form.key, id, data)
}

/// [`seal`] with the tenant's keys at hand (inside a transaction, where they cannot be
/// fetched).
pub fn seal_with(
    keys: &TenantKeys,
    paths: &[SensitivePath],
    tenant: &str,
    form_key: &str,
    id: &str,
    mut data: Value,
) -> Result<Value> {
    visit_mut(paths, &mut data, |p, ptr, v| {
        // Validation ran first and a pack check makes every sensitive field a string.
        let plain = v
            .as_str()
            .ok_or_else(|| anyhow!("sensitive value {ptr} of record {id} is not text"))?;
        let mut sealed = json!({"enc": keys.seal(&value_aad(tenant, form_key, id, ptr), plain)});
        if let Some(field) = p.top_level() {
            sealed["bi"] = Value::String(keys.blind_index(field, &normalise(plain)));
        }
        *v = sealed;
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(data)
}

/// Opens every sealed value of `data`, as read from the store for record `id`. A value that
/// does not open where it sits (moved, altered, or not sealed at all) is an error, never
/// shown.
pub async fn open(
    app: &AppState,
    tenant: &str,
    form: &CompiledForm,
    id: &str,
    data: Value,
) -> Result<Value> {
    let paths = paths(form);
    if paths.is_empty() {
        return Ok(data);
    }
    let keys = app.keys.tenant(&app.db, tenant).await?;
    open_with(&keys, &paths, tenant, &form.key, id, data)
}

/// [`open`] with the tenant's keys and the form's paths at hand: what a list does for each
/// of its rows.
pub fn open_with(
    keys: &TenantKeys,
    paths: &[SensitivePath],
    tenant: &str,
    form_key: &str,
    id: &str,
    mut data: Value,
) -> Result<Value> {
    visit_mut(paths, &mut data, |_, ptr, v| {
        let enc = v.get("enc").and_then(Value::as_str).ok_or_else(|| {
            anyhow!("record {id}: the value at {ptr} should be sealed and is not")
        })?;
        let plain = keys
            .open(&value_aad(tenant, form_key, id, ptr), enc)
            .map_err(|e| anyhow!("record {id}: the value at {ptr} does not open: {e}"))?;
        *v = Value::String(plain);
        Ok::<(), anyhow::Error>(())
    })
    .map_err(|e| {
        tracing::error!(record = id, error = %e, "sealed value refused");
        Error::Internal(e)
    })?;
    Ok(data)
}

/// Clear data as `actor` may see it.
pub struct Reading {
    /// The data, masked unless the actor may unmask.
    pub data: Value,
    /// Pointers of the sensitive values shown in clear: what [`audit_unmask`] records.
    pub unmasked: Vec<String>,
}

/// Masks every sensitive value of `data` unless the actor's role holds `unmask` on the form.
pub async fn for_reader(
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    data: Value,
) -> Reading {
    let paths = paths(form);
    if paths.is_empty() {
        return Reading {
            data,
            unmasked: Vec::new(),
        };
    }
    let clear = clearance(app, actor, &form.key, &paths).await;
    reading(&paths, &clear, data)
}

/// Which sensitive values a reader sees in clear.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Clear {
    /// Every one: the role may `unmask` the form.
    All(bool),
    /// Those under these top-level fields: the role holds `unmask:<field>` for each (the
    /// bank account for whoever pays by transfer). Empty: none.
    Fields(Vec<String>),
}

impl Clear {
    /// Nothing in clear.
    pub const NONE: Clear = Clear::Fields(Vec::new());

    /// Whether the value at `p` is shown in clear.
    pub fn shows(&self, p: &SensitivePath) -> bool {
        match self {
            Clear::All(all) => *all,
            Clear::Fields(f) => match p.segments.first() {
                Some(form_runtime::sensitive::Segment::Key(k)) => f.iter().any(|x| x == k),
                _ => false,
            },
        }
    }

    /// Whether anything is shown in clear.
    pub fn any(&self) -> bool {
        match self {
            Clear::All(all) => *all,
            Clear::Fields(f) => !f.is_empty(),
        }
    }
}

/// What `actor` may read in clear of `form`, whose sensitive values are at `paths`: all of
/// them with `unmask`, else the fields they hold `unmask:<field>` for.
pub async fn clearance(
    app: &AppState,
    actor: &Actor,
    form: &str,
    paths: &[SensitivePath],
) -> Clear {
    if let Some(known) = actor.cleared(form) {
        return known;
    }
    let clear = if actor.may(app, form, "unmask").await {
        Clear::All(true)
    } else {
        // Only fields some role may unmask one by one are worth asking about.
        let grantable = app.authz.field_unmasks(actor.tenant(), form);
        let mut fields: Vec<String> = Vec::new();
        for p in paths {
            if let Some(form_runtime::sensitive::Segment::Key(k)) = p.segments.first() {
                if grantable.contains(k)
                    && !fields.contains(k)
                    && actor.may(app, form, &format!("unmask:{k}")).await
                {
                    fields.push(k.clone());
                }
            }
        }
        Clear::Fields(fields)
    };
    actor.remember_clearance(form, &clear);
    clear
}

/// `data` with its values at `paths` masked, or shown in clear where `clear` says the reader
/// may: [`for_reader`] once the permission is known.
pub fn reading(paths: &[SensitivePath], clear: &Clear, mut data: Value) -> Reading {
    let mut unmasked = Vec::new();
    let _ = visit_mut::<()>(paths, &mut data, |p, ptr, v| {
        if clear.shows(p) {
            unmasked.push(ptr.to_string());
        } else {
            *v = Value::String(v.as_str().map_or_else(|| "***".into(), |s| mask(p.mask, s)));
        }
        Ok(())
    });
    Reading { data, unmasked }
}

/// Writes one `record.unmask` audit entry per record in `shown` whose clear sensitive values
/// the actor received: `(record id, pointers)`; `via` says where (`record`, `list:KEY`,
/// `inbox`). Nothing is written when nothing was shown in clear.
pub async fn audit_unmask(
    app: &AppState,
    actor: &Actor,
    shown: &[(String, Vec<String>)],
    via: &str,
) -> Result<()> {
    let entries: Vec<(&str, Value)> = shown
        .iter()
        .filter(|(_, fields)| !fields.is_empty())
        .map(|(id, fields)| (id.as_str(), json!({"fields": fields, "via": via})))
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    let mut tx = app.db.begin().await?;
    audit::append_many(
        &mut tx,
        actor.tenant(),
        Some(&actor.user.user_id),
        "record.unmask",
        &entries,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Queues in `tx` one `record.unmask` entry for the clear sensitive values of `record`
/// (`fields`, pointers) that `actor` is shown in the answer to a change; nothing when none.
pub async fn audit_shown(
    tx: &mut Tx,
    actor: &Actor,
    record: &str,
    fields: &[String],
) -> Result<()> {
    if fields.is_empty() {
        return Ok(());
    }
    audit::append(
        tx,
        actor.tenant(),
        Some(&actor.user.user_id),
        "record.unmask",
        record,
        &json!({"fields": fields, "via": "record"}),
    )
    .await?;
    Ok(())
}

/// Replaces the value of every filter on a sensitive field with its blind index, which is
/// what the list's SQL compares.
pub async fn blind_filters(
    app: &AppState,
    tenant: &str,
    list: &CompiledList,
    q: &mut ListQuery,
) -> Result<()> {
    if !q.filters.iter().any(|f| list.is_sensitive(&f.field)) {
        return Ok(());
    }
    let keys = app.keys.tenant(&app.db, tenant).await?;
    for f in q.filters.iter_mut().filter(|f| list.is_sensitive(&f.field)) {
        for value in f.values.iter_mut() {
            *value = keys.blind_index(&f.field, &normalise(value));
        }
    }
    Ok(())
}
