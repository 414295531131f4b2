//! Attachment ids in record data on their way in: each must name a file of this tenant
//! uploaded for this form and field, and the record's write makes them its own.

use std::collections::BTreeMap;

use form_runtime::attachment::{attachment_fields, ids_in, AttachmentRule};
use form_runtime::form::CompiledForm;
use form_runtime::FieldError;
use serde_json::Value;

use super::context::Actor;
use super::error::{Error, Result};
use crate::state::AppState;
use crate::storage::AttachmentId;
use crate::store::{attachments, Tx};

/// Checks the attachment ids in record data that is about to be stored: each must be an
/// attachment of this tenant uploaded for this form and field, and either still unattached
/// and uploaded by the actor, or already part of `record_id`; each field within its count.
pub async fn check_fields(
    app: &AppState,
    actor: &Actor,
    form: &CompiledForm,
    data: &Value,
    record_id: Option<&str>,
) -> Result<()> {
    let rules = rules_of(form)?;
    let mut errs = Vec::new();
    for (field, rule) in &rules {
        let refs = match rule.references(field, data.get(field)) {
            Ok(refs) => refs,
            Err(e) => {
                errs.extend(e);
                continue;
            }
        };
        for r in refs {
            let row = match AttachmentId::parse(&r.id) {
                Some(id) => attachments::get(&app.db, actor.tenant(), &id.to_string()).await?,
                None => None,
            };
            let usable = row.as_ref().is_some_and(|a| match &a.record_id {
                None => a.uploaded_by == actor.user.user_id,
                Some(rid) => Some(rid.as_str()) == record_id,
            });
            let label = form.label(field);
            match row {
                Some(a) if usable && (a.form_key != form.key || &a.field != field) => {
                    errs.push(FieldError::new(
                        &r.pointer,
                        "attachment",
                        format!("这个附件是为其他字段上传的，不能用作「{label}」"),
                        format!("this attachment was uploaded for another field, not {label}"),
                    ))
                }
                _ if usable => {}
                _ => errs.push(FieldError::new(
                    &r.pointer,
                    "attachment",
                    "找不到这个附件，请重新上传",
                    "no such attachment; upload the file again",
                )),
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errs))
    }
}

/// Makes every attachment in the record's data belong to the record, in the record's write
/// transaction; refused if a concurrent writer claimed or deleted one since it was checked.
pub async fn link(
    tx: &mut Tx,
    tenant: &str,
    form: &CompiledForm,
    record_id: &str,
    data: &Value,
) -> Result<()> {
    for id in ids_in(&rules_of(form)?, data) {
        if !attachments::link(tx, tenant, &id, record_id).await? {
            return Err(Error::Conflict {
                code: "attachment_taken",
                message: "附件已被其他记录使用或已删除，请重新上传".into(),
            });
        }
    }
    Ok(())
}

/// The attachment fields of a stored form; its pack was checked on install, so a problem
/// here is a bug, not bad input.
pub(crate) fn rules_of(form: &CompiledForm) -> Result<BTreeMap<String, AttachmentRule>> {
    attachment_fields(&form.schema, "").map_err(|e| {
        anyhow::anyhow!("form {} has invalid attachment fields: {e:?}", form.key).into()
    })
}
