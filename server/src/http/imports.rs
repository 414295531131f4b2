//! Imports over HTTP: the upload of a workbook, the importer's error workbook and the empty
//! template; the import itself is [`crate::change::imports`].

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use form_runtime::import::Importer;
use serde::Deserialize;
use serde_json::json;

use super::attachments;
use super::error::{ApiError, ApiResult};
use super::extract::Actor;
use crate::change::imports::{
    import_workbook, importable, target, template_of, too_large, ImportQuery, Progress, Verdict,
    XLSX,
};
use crate::crypto::import_aad;
use crate::spreadsheet::{self, MAX_FILE_BYTES};
use crate::state::AppState;
use crate::store::{audit, imports};

/// Query of `GET /api/v1/forms/{form}/import-template.xlsx`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateQuery {
    template: Option<String>,
}

/// Handles `POST /api/v1/forms/{form}/imports`: the body is the workbook.
pub async fn import_records(
    State(app): State<AppState>,
    actor: Actor,
    Path(form_key): Path<String>,
    query: Result<Query<ImportQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let Query(q) = query?;
    let target = target(&app, &actor, &form_key, q.template.as_deref()).await?;
    let bytes = attachments::read_limited(body, &headers, MAX_FILE_BYTES)
        .await?
        .ok_or_else(too_large)?;
    let outcome = import_workbook(&app, &actor, target, q, bytes, &Progress::default()).await?;
    Ok((status(outcome.verdict), Json(outcome.body)).into_response())
}

/// The answer's status: 200 for a dry run, 201 when written, 422 when refused.
pub fn status(v: Verdict) -> StatusCode {
    match v {
        Verdict::Checked => StatusCode::OK,
        Verdict::Written => StatusCode::CREATED,
        Verdict::Refused => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn xlsx_response(bytes: Vec<u8>, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, XLSX.to_string()),
            (header::CONTENT_DISPOSITION, attachments::disposition(name)),
        ],
        bytes,
    )
        .into_response()
}

/// Handles `GET /api/v1/imports/{id}/errors.xlsx`: the importer's own error workbook.
pub async fn error_workbook(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let tenant = actor.tenant();
    let not_found = || ApiError::NotFound("没有这次导入的错误行".into());
    let sealed = imports::errors_xlsx(&app.db, tenant, &id, &actor.user.user_id)
        .await?
        .flatten()
        .ok_or_else(not_found)?;
    let keys = app.keys.tenant(&app.db, tenant).await?;
    let text = keys
        .open(&import_aad(tenant, &id), &sealed)
        .map_err(|e| anyhow::anyhow!("error workbook of import {id} does not open: {e}"))?;
    let bytes = BASE64.decode(text).map_err(anyhow::Error::from)?;
    let mut tx = app.db.begin().await?;
    audit::append(
        &mut tx,
        tenant,
        Some(&actor.user.user_id),
        "import.errors_download",
        &id,
        &json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(xlsx_response(bytes, &format!("导入错误-{id}.xlsx")))
}

/// Handles `GET /api/v1/forms/{form}/import-template.xlsx`: an empty workbook to fill in.
pub async fn import_template(
    State(app): State<AppState>,
    actor: Actor,
    Path(form_key): Path<String>,
    query: Result<Query<TemplateQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = query?;
    let (version, form) = importable(&app, &actor, &form_key).await?;
    let def = template_of(&app, &actor, &form.key, q.template.as_deref()).await?;
    let cats = crate::change::data::catalogues(&app, actor.tenant(), &form.key, version).await?;
    let importer = Importer::new(&form.schema, def.as_ref(), &cats);
    let initial = &form.workflow.def.initial;
    let writable = form
        .workflow
        .edit_rule(initial, &actor.roles)
        .and_then(|r| r.fields.clone());
    let hidden = form.workflow.hidden(initial, &actor.roles);
    // The template's `at` column is kept even where the importer may not write its field:
    // it says when the case happened, and the action's own effect stamps the field.
    let at = def.as_ref().and_then(|d| d.at.clone());
    let help: Vec<_> = importer
        .help()
        .into_iter()
        .filter(|h| {
            at.as_deref() == Some(h.field.as_str())
                || (writable.as_ref().is_none_or(|w| w.contains(&h.field))
                    && !hidden.contains(&h.field))
        })
        .collect();
    let sheet = def
        .as_ref()
        .and_then(|d| d.sheet.clone())
        .unwrap_or_else(|| form.title.clone());
    let bytes = tokio::task::spawn_blocking(move || spreadsheet::template(&sheet, &help))
        .await
        .map_err(anyhow::Error::from)?
        .map_err(anyhow::Error::from)?;
    let name = def.map_or_else(|| form.title.clone(), |d| d.label);
    Ok(xlsx_response(bytes, &format!("{name}-导入模板.xlsx")))
}
