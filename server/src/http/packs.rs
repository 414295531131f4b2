//! Pack import for a tenant's admin: a pack directory uploaded as a `.zip`, checked with
//! every rule of `formwork pack check` and installed as `formwork pack install` installs it
//! (changed forms become new versions), or only checked with `dry_run=true`.

use std::io::Read;

use axum::body::Body as RawBody;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use form_runtime::pack::{Pack, PackFiles};
use form_runtime::FieldError;
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiResult};
use super::extract::Actor;
use crate::state::AppState;
use crate::store::tenants::ADMIN_ROLE;
use crate::store::{audit, packs};

/// Largest upload.
const MAX_ZIP_BYTES: u64 = 20 * 1024 * 1024;
/// Most files in a pack.
const MAX_FILES: usize = 2000;
/// Most bytes of all files once unpacked.
const MAX_UNPACKED: u64 = 64 * 1024 * 1024;

/// Query of `POST /api/v1/admin/packs`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PackQuery {
    /// Only check; install nothing.
    #[serde(default)]
    pub dry_run: bool,
}

fn refused(zh: String, en: String) -> ApiError {
    ApiError::Invalid(vec![FieldError::new("/file", "pack_file", zh, en)])
}

/// The files of a zipped pack directory. A zip of the folder itself (every path under one
/// top folder, no `pack.toml` at the top) is read as that folder. Paths that climb out
/// (`..`), absolute paths, too many files and too many bytes are refused.
pub fn files_of_zip(bytes: &[u8]) -> ApiResult<PackFiles> {
    let unreadable = |e: zip::result::ZipError| {
        refused(
            format!("不是有效的 zip 文件：{e}"),
            format!("not a readable zip file: {e}"),
        )
    };
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(unreadable)?;
    if zip.len() > MAX_FILES {
        return Err(refused(
            format!("压缩包内文件过多（{} 个，最多 {MAX_FILES} 个）", zip.len()),
            format!("too many files ({}, at most {MAX_FILES})", zip.len()),
        ));
    }
    let mut files = std::collections::BTreeMap::new();
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(unreadable)?;
        if f.is_dir() {
            continue;
        }
        let Some(path) = f.enclosed_name() else {
            let raw = f.name().map(|n| n.into_owned()).unwrap_or_default();
            return Err(refused(
                format!("压缩包内路径不安全：{raw}"),
                format!("unsafe path in the archive: {raw}"),
            ));
        };
        let name = path.to_string_lossy().replace('\\', "/");
        let mut content = Vec::new();
        let left = MAX_UNPACKED.saturating_sub(total);
        f.by_ref()
            .take(left + 1)
            .read_to_end(&mut content)
            .map_err(|e| {
                refused(
                    format!("无法读取 {name}：{e}"),
                    format!("cannot read {name}: {e}"),
                )
            })?;
        total += content.len() as u64;
        if total > MAX_UNPACKED {
            return Err(refused(
                format!("解压后超过 {} MB", MAX_UNPACKED / 1024 / 1024),
                format!("more than {} MB once unpacked", MAX_UNPACKED / 1024 / 1024),
            ));
        }
        files.insert(name, content);
    }
    // A zipped folder: strip the one top folder.
    if !files.contains_key("pack.toml") {
        let tops: std::collections::BTreeSet<&str> = files
            .keys()
            .filter_map(|k| k.split_once('/').map(|(t, _)| t))
            .collect();
        if tops.len() == 1 && files.keys().all(|k| k.contains('/')) {
            let top = format!("{}/", tops.into_iter().next().unwrap_or_default());
            files = files
                .into_iter()
                .map(|(k, v)| (k.strip_prefix(&top).unwrap_or(&k).to_string(), v))
                .collect();
        }
    }
    Ok(PackFiles(files))
}

/// Handles `POST /api/v1/admin/packs`: the body is the zip. 201 with what was installed,
/// 200 for a dry run, 422 `pack_invalid` with every problem as `{file, pointer, reason}`.
pub async fn import_pack(
    State(app): State<AppState>,
    actor: Actor,
    query: Result<Query<PackQuery>, QueryRejection>,
    headers: HeaderMap,
    body: RawBody,
) -> ApiResult<Response> {
    if !actor.roles.iter().any(|r| r == ADMIN_ROLE) {
        return Err(ApiError::Forbidden("只有本单位管理员可以导入表单包".into()));
    }
    let Query(q) = query?;
    let mb = MAX_ZIP_BYTES / 1024 / 1024;
    let bytes = super::attachments::read_limited(body, &headers, MAX_ZIP_BYTES)
        .await?
        .ok_or_else(|| {
            ApiError::TooLarge(FieldError::new(
                "/file",
                "max_size",
                format!("文件超过 {mb} MB"),
                format!("the file is larger than {mb} MB"),
            ))
        })?;
    let files = files_of_zip(&bytes)?;
    let pack = match Pack::load(&files) {
        Ok(p) => p,
        Err(problems) => {
            let body = json!({
                "error": {"code": "pack_invalid", "message": format!("表单包有 {} 处问题，未导入", problems.len()), "fields": []},
                "problems": problems.iter().map(|p| json!({"file": p.file, "pointer": p.pointer, "reason": p.reason})).collect::<Vec<_>>(),
            });
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
        }
    };
    let summary = json!({
        "pack": pack.manifest.id, "version": pack.manifest.version, "name": pack.manifest.name,
        "forms": pack.forms.len(), "workflows": pack.workflows.len(), "lists": pack.lists.len(),
        "statistics": pack.statistics.len(), "roles": pack.roles.len(),
    });
    if q.dry_run {
        return Ok((StatusCode::OK, Json(json!({"checked": summary}))).into_response());
    }
    let tenant = actor.tenant();
    let mut tx = app.db.begin().await?;
    let report = packs::install(&mut tx, tenant, &pack, Some(&actor.user.user_id)).await?;
    audit::append(
        &mut tx,
        tenant,
        Some(&actor.user.user_id),
        "pack.import",
        &pack.manifest.id,
        &json!({"version": pack.manifest.version, "via": "upload"}),
    )
    .await?;
    tx.commit().await?;
    crate::coherence::refresh(&app, tenant).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"checked": summary, "installed": report})),
    )
        .into_response())
}

/// Handles `GET /api/v1/admin/packs`: the packs installed in the tenant.
pub async fn installed(
    State(app): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<serde_json::Value>> {
    if !actor.roles.iter().any(|r| r == ADMIN_ROLE) {
        return Err(ApiError::Forbidden("只有本单位管理员可以管理表单包".into()));
    }
    let items: Vec<_> = packs::installed(&app.db, actor.tenant())
        .await?
        .into_iter()
        .map(|(id, version)| json!({"pack": id, "version": version}))
        .collect();
    Ok(Json(json!({"items": items})))
}
