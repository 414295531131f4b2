//! Attachments over HTTP: upload for a form field, download, metadata, delete; and the checks
//! that tie attachment ids in record data to the files behind them.
//!
//! An attachment belongs to one tenant and is served only after a permission check: while it
//! belongs to no record, only its uploader sees it; once a record is saved with its id, it is
//! visible exactly to those who may read that record. Anyone else gets the same 404 as for
//! an id that does not exist. What a field accepts (size, count, content type) is the
//! runtime's [`form_runtime::attachment`]; the bytes are kept by [`crate::storage`].

use std::future::poll_fn;
use std::pin::Pin;

use axum::body::{Body, HttpBody};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use form_runtime::attachment::{AttachmentRule, Refusal};
use form_runtime::form::CompiledForm;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::error::{ApiError, ApiResult};
use super::extract::Actor;
use crate::change::attachments::rules_of;
use crate::state::AppState;
use crate::storage::AttachmentId;
use crate::store::attachments::{self, AttachmentRow};
use crate::store::{audit, now};

/// Longest file name kept, in characters.
const MAX_NAME_CHARS: usize = 200;

/// Handles `POST /api/v1/forms/{form}/fields/{field}/attachments`: the body is the file.
pub async fn upload(
    State(app): State<AppState>,
    actor: Actor,
    Path((form_key, field)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (form, rule) = attachment_field(&app, &actor, &form_key, &field).await?;
    if !actor.may(&app, &form.key, "create").await && !actor.may(&app, &form.key, "update").await {
        return Err(ApiError::Forbidden("你的角色不能为此表单上传附件".into()));
    }
    let refused = |r: Refusal| {
        let e = r.field_error(&field, form.label(&field));
        match r {
            Refusal::TooLarge { .. } => ApiError::TooLarge(e),
            Refusal::WrongType { .. } => ApiError::UnsupportedType(e),
        }
    };
    let too_large = Refusal::TooLarge {
        max_size: rule.max_size,
    };
    let bytes = read_limited(body, &headers, rule.max_size)
        .await?
        .ok_or_else(|| refused(too_large))?;
    let content_type = rule.accept(&bytes).map_err(refused)?;
    let id = AttachmentId::new();
    let row = AttachmentRow {
        id: id.to_string(),
        form_key: form.key.clone(),
        field: field.clone(),
        record_id: None,
        file_name: file_name(query.as_deref(), &headers),
        size: i64::try_from(bytes.len()).map_err(anyhow::Error::from)?,
        content_type,
        sha256: hex::encode(Sha256::digest(&bytes)),
        uploaded_by: actor.user.user_id.clone(),
        created_at: now(),
    };
    save(&app, actor.tenant(), id, &bytes, &row).await?;
    Ok((StatusCode::CREATED, Json(meta(&row))))
}

/// Handles `GET /api/v1/attachments/{id}`: the file, checked against its SHA-256.
pub async fn download(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (id, row) = readable(&app, &actor, &id).await?;
    let bytes = app
        .storage
        .get(actor.tenant(), id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("attachment {id} of {} has no file", actor.tenant()))?;
    if hex::encode(Sha256::digest(&bytes)) != row.sha256 {
        return Err(anyhow::anyhow!(
            "attachment {id} of {} fails its SHA-256 check",
            actor.tenant()
        )
        .into());
    }
    let h = |v: &str| HeaderValue::from_str(v).map_err(anyhow::Error::from);
    let headers: [(HeaderName, HeaderValue); 5] = [
        (header::CONTENT_TYPE, h(&row.content_type)?),
        (
            header::CONTENT_DISPOSITION,
            h(&disposition(&row.file_name))?,
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        ),
        // Even if a browser opened it inline, an uploaded HTML or SVG could run nothing.
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        ),
    ];
    Ok((headers, bytes).into_response())
}

/// Handles `GET /api/v1/attachments/{id}/meta`.
pub async fn get_meta(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (_, row) = readable(&app, &actor, &id).await?;
    Ok(Json(meta(&row)))
}

/// Handles `DELETE /api/v1/attachments/{id}`: only the uploader, only before a record holds it.
pub async fn delete(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let (id, row) = readable(&app, &actor, &id).await?;
    let tenant = actor.tenant();
    let uid = actor.user.user_id.as_str();
    let mut tx = app.db.begin().await?;
    if row.record_id.is_some()
        || !attachments::delete_unattached(&mut tx, tenant, &row.id, uid).await?
    {
        return Err(ApiError::Conflict {
            code: "attachment_attached",
            message: "附件已属于一条记录，不能删除".into(),
        });
    }
    let detail = json!({"form": row.form_key, "field": row.field, "name": row.file_name});
    audit::append(
        &mut tx,
        tenant,
        Some(uid),
        "attachment.delete",
        &row.id,
        &detail,
    )
    .await?;
    tx.commit().await?;
    // The row is gone, so nothing points at the file any more; a failure here only leaves an
    // orphan file behind, which is logged for the operator.
    if let Err(e) = app.storage.delete(tenant, id).await {
        tracing::warn!(error = ?e, attachment = %id, "attachment file not removed");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The latest version of a form and the rule of one of its attachment fields.
async fn attachment_field(
    app: &AppState,
    actor: &Actor,
    form_key: &str,
    field: &str,
) -> ApiResult<(std::sync::Arc<CompiledForm>, AttachmentRule)> {
    let form = app
        .catalog
        .form(&app.db, actor.tenant(), form_key, None)
        .await?
        .ok_or_else(|| ApiError::NotFound("表单不存在".into()))?;
    let rule = rules_of(&form)?
        .remove(field)
        .ok_or_else(|| ApiError::NotFound("表单没有这个附件字段".into()))?;
    Ok((form, rule))
}

/// Finds an attachment the actor may see: their own unattached upload, or one that belongs
/// to a record they may read. Everything else is the same 404.
async fn readable(
    app: &AppState,
    actor: &Actor,
    raw: &str,
) -> ApiResult<(AttachmentId, AttachmentRow)> {
    let not_found = || ApiError::NotFound("附件不存在".into());
    let id = AttachmentId::parse(raw).ok_or_else(not_found)?;
    let row = attachments::get(&app.db, actor.tenant(), &id.to_string())
        .await?
        .ok_or_else(not_found)?;
    match &row.record_id {
        None if row.uploaded_by == actor.user.user_id => Ok((id, row)),
        None => Err(not_found()),
        Some(rid) => match crate::change::records::visible(app, actor, rid).await {
            Ok(_) => Ok((id, row)),
            Err(ApiError::NotFound(_)) => Err(not_found()),
            Err(e) => Err(e),
        },
    }
}

/// Stores the file, then its row and audit entry; if the row cannot be written, the file is
/// removed again, so a refused or failed upload leaves nothing behind.
async fn save(
    app: &AppState,
    tenant: &str,
    id: AttachmentId,
    bytes: &[u8],
    row: &AttachmentRow,
) -> ApiResult<()> {
    app.storage.put(tenant, id, bytes).await?;
    let written: ApiResult<()> = async {
        let mut tx = app.db.begin().await?;
        attachments::insert(&mut tx, tenant, row).await?;
        let detail = json!({"form": row.form_key, "field": row.field, "name": row.file_name,
            "size": row.size, "content_type": row.content_type, "sha256": row.sha256});
        audit::append(
            &mut tx,
            tenant,
            Some(&row.uploaded_by),
            "attachment.upload",
            &row.id,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    if written.is_err() {
        if let Err(e) = app.storage.delete(tenant, id).await {
            tracing::warn!(error = ?e, attachment = %id, "file of a failed upload not removed");
        }
    }
    written
}

/// The body, or None as soon as it is known to be larger than `max` (from its
/// Content-Length, or while reading): an oversized file is never held whole.
pub(super) async fn read_limited(
    mut body: Body,
    headers: &HeaderMap,
    max: u64,
) -> ApiResult<Option<Vec<u8>>> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Ok(None);
    }
    let mut buf = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| ApiError::BadRequest(format!("上传中断：{e}")))?;
        if let Ok(data) = frame.into_data() {
            if (buf.len() + data.len()) as u64 > max {
                return Ok(None);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Some(buf))
}

/// The file name from `?name=`, `X-File-Name` (percent-encoded UTF-8) or
/// `Content-Disposition`, made safe: no folders, no control characters, bounded length.
fn file_name(query: Option<&str>, headers: &HeaderMap) -> String {
    let from_query = query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.into_owned())
    });
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let from_header =
        || header("x-file-name").map(|v| percent_decode_str(v).decode_utf8_lossy().into_owned());
    let from_disposition = || header("content-disposition").and_then(disposition_name);
    let raw = from_query
        .or_else(from_header)
        .or_else(from_disposition)
        .unwrap_or_default();
    sanitise(&raw)
}

/// The file name of a `Content-Disposition` value: `filename*=UTF-8''…` before `filename=`.
fn disposition_name(v: &str) -> Option<String> {
    let params: Vec<(&str, &str)> = v
        .split(';')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let extended = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("filename*"));
    if let Some((_, v)) = extended {
        let (charset, rest) = v.split_once('\'')?;
        let (_, encoded) = rest.split_once('\'')?;
        if charset.eq_ignore_ascii_case("utf-8") {
            return Some(percent_decode_str(encoded).decode_utf8_lossy().into_owned());
        }
    }
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("filename"))
        .map(|(_, v)| v.trim_matches('"').to_string())
}

/// The last path segment, without control characters, trimmed and bounded; `attachment` if
/// nothing is left.
fn sanitise(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let clean = clean.trim().trim_start_matches('.').trim();
    if clean.is_empty() {
        "attachment".to_string()
    } else {
        clean.to_string()
    }
}

/// Characters RFC 8187 lets stand unencoded in `filename*`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment; filename="ascii fallback"; filename*=UTF-8''…`: always a download, never
/// shown inline. Every file the API hands out (attachments, exports, import workbooks) is
/// named this way.
pub(super) fn disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        utf8_percent_encode(name, ATTR_CHAR)
    )
}

/// An attachment as clients read it.
fn meta(a: &AttachmentRow) -> Value {
    json!({
        "id": a.id,
        "name": a.file_name,
        "size": a.size,
        "content_type": a.content_type,
        "sha256": a.sha256,
        "form": a.form_key,
        "field": a.field,
        "record_id": a.record_id,
        "uploaded_by": a.uploaded_by,
        "created_at": a.created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_folders_and_control_characters() {
        assert_eq!(sanitise("../../etc/passwd"), "passwd");
        assert_eq!(sanitise("C:\\Users\\张三\\火灾证明.pdf"), "火灾证明.pdf");
        assert_eq!(sanitise("a\u{0}b\nc.png"), "abc.png");
        assert_eq!(sanitise(".."), "attachment");
        assert_eq!(sanitise(""), "attachment");
        assert_eq!(sanitise(&"长".repeat(300)).chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn names_come_from_query_header_or_disposition() {
        let mut h = HeaderMap::new();
        h.insert(
            "content-disposition",
            HeaderValue::from_static(
                "attachment; filename=\"a.pdf\"; filename*=UTF-8''%E8%AF%81%E6%98%8E.pdf",
            ),
        );
        assert_eq!(file_name(None, &h), "证明.pdf");
        h.insert(
            "x-file-name",
            HeaderValue::from_static("%E7%85%A7%E7%89%87.png"),
        );
        assert_eq!(file_name(None, &h), "照片.png");
        assert_eq!(file_name(Some("name=%E5%9B%BE.jpg"), &h), "图.jpg");
        assert_eq!(
            disposition_name("form-data; name=\"f\"; filename=\"x.pdf\""),
            Some("x.pdf".into())
        );
    }

    #[test]
    fn downloads_are_attachments_with_an_encoded_name() {
        assert_eq!(
            disposition("火灾 证明.pdf"),
            "attachment; filename=\"__ __.pdf\"; filename*=UTF-8''%E7%81%AB%E7%81%BE%20%E8%AF%81%E6%98%8E.pdf"
        );
        assert_eq!(
            disposition("a\"b.pdf"),
            "attachment; filename=\"a_b.pdf\"; filename*=UTF-8''a%22b.pdf"
        );
    }
}
