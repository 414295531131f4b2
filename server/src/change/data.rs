//! Record data on its way in: every check and transformation between what a client sent and
//! what is stored, in one place so that create, edit and transition cannot drift apart.

use form_runtime::form::{escape, CompiledForm, Completeness};
use form_runtime::FieldError;
use serde_json::Value;

use super::context::Actor;
use super::error::{Error, Result};
use crate::state::AppState;
use crate::store::records;

/// Checks and completes data that is about to be stored in `state`: the runtime sanitises,
/// computes, drops hidden fields and validates at the completeness the state demands; then
/// every reference must name a record of its form that the actor can see. Returns the data
/// to store.
pub async fn accept(
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    state: &str,
    data: Value,
    record_id: Option<&str>,
) -> Result<Value> {
    let complete = form.workflow.state(state).is_none_or(|s| s.complete);
    let c = if complete {
        Completeness::Complete
    } else {
        Completeness::Draft
    };
    let data = form.accept(data, c).map_err(Error::Invalid)?;
    check_refs(app, actor, form, &data).await?;
    super::attachments::check_fields(app, actor, form, &data, record_id).await?;
    Ok(data)
}

/// A reference is valid when it names a record of the referenced form, in this tenant, that
/// the actor may read; anything else looks the same to the client (no existence leak).
async fn check_refs(
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    data: &Value,
) -> Result<()> {
    let mut errs = Vec::new();
    for (field, rule) in &form.rules.refs {
        let Some(id) = data.get(field).and_then(Value::as_str) else {
            continue;
        };
        let viewer = actor.viewer(app, &rule.form).await?;
        let found = match viewer {
            Some(v) => records::fetch(&app.db, actor.tenant(), id, &v)
                .await?
                .is_some_and(|r| r.form_key == rule.form),
            None => false,
        };
        if !found {
            let label = form.label(field).to_string();
            errs.push(FieldError::new(
                format!("/{}", escape(field)),
                "ref",
                format!("{label}引用的记录不存在或你无权查看"),
                format!("{label} refers to a record that does not exist or that you cannot see"),
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errs))
    }
}

/// The catalogues stored with a form version (labels for codes).
pub async fn catalogues(
    app: &AppState,
    tenant: &str,
    form: &str,
    version: i64,
) -> Result<std::collections::BTreeMap<String, form_runtime::rules::Catalogue>> {
    let def = crate::store::packs::form_version(&app.db, tenant, form, Some(version))
        .await?
        .map(|(_, d)| d)
        .unwrap_or_default();
    match def.get("catalogues") {
        Some(c) => Ok(serde_json::from_value(c.clone()).map_err(anyhow::Error::from)?),
        None => Ok(Default::default()),
    }
}
