//! Export endpoints: a list (its filters, sort, keyword and the reader's scope) as `.xlsx` or
//! CSV, laid out by the list's columns, a pack template or columns the user picks. Up to
//! [`DIRECT_LIMIT`] rows answer at once; more become a background job with progress, which
//! its owner can cancel and whose file is kept for [`KEEP_HOURS`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use form_runtime::FieldError;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::Actor;
use crate::change::exports::file_name;
pub use crate::change::exports::{plan, DIRECT_LIMIT, KEEP_HOURS};
use crate::export::{self, ExportPlan, FileFormat, Progress};
use crate::state::AppState;
use crate::store::exports::{self as jobs, ExportJob, Outcome};
use crate::store::{audit, new_id, now, packs, records, stamp};

/// Handles `GET /api/v1/lists/{list}/export`.
pub async fn export_list(
    State(app): State<AppState>,
    actor: Actor,
    Path(key): Path<String>,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(pairs) = query?;
    let background = pairs.iter().any(|(k, v)| k == "background" && v == "true");
    let (plan, described) = plan(&app, &actor, &key, pairs.clone()).await?;
    let total = records::list_count(
        &app.db,
        actor.tenant(),
        &plan.list,
        &plan.query,
        &plan.viewer,
    )
    .await?;
    let label = plan.template.def.label.clone();
    let format = plan.format;
    let dir = export::dir(&app.data_dir, actor.tenant());
    std::fs::create_dir_all(&dir).map_err(anyhow::Error::from)?;
    let at = now();
    let detail = json!({"list": key, "template": plan.template.key, "format": format.ext(), "rows": total, "clear": plan.clear, "query": described});

    if total > DIRECT_LIMIT || background {
        let id = new_id();
        let job = ExportJob {
            id: id.clone(),
            user_id: actor.user.user_id.clone(),
            list: key.clone(),
            format: format.ext().into(),
            query: url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs.iter())
                .finish(),
            status: "running".into(),
            rows_total: total,
            rows_done: 0,
            file_name: None,
            file_size: None,
            error: None,
            created_at: at.clone(),
            finished_at: None,
            expires_at: None,
        };
        let mut tx = app.db.begin().await?;
        jobs::create(&mut tx, actor.tenant(), &job).await?;
        audit::append(
            &mut tx,
            actor.tenant(),
            Some(&actor.user.user_id),
            "list.export",
            &id,
            &detail,
        )
        .await?;
        tx.commit().await?;
        tokio::spawn(run_job(
            app.clone(),
            actor.tenant().to_string(),
            id.clone(),
            plan,
            dir.join(format!("{id}.{}", format.ext())),
        ));
        let mut v = json!(job);
        v["status_url"] = json!(format!("/api/v1/export-jobs/{id}"));
        return Ok((
            StatusCode::ACCEPTED,
            [(header::LOCATION, format!("/api/v1/export-jobs/{id}"))],
            Json(v),
        )
            .into_response());
    }

    let tmp = dir.join(format!("direct-{}.{}", new_id(), format.ext()));
    let rows = export::write(&app, plan, &tmp, Arc::new(Progress::default())).await?;
    let bytes = tokio::fs::read(&tmp).await.map_err(anyhow::Error::from)?;
    let _ = tokio::fs::remove_file(&tmp).await;
    let mut tx = app.db.begin().await?;
    let mut detail = detail;
    detail["rows"] = json!(rows);
    audit::append(
        &mut tx,
        actor.tenant(),
        Some(&actor.user.user_id),
        "list.export",
        &key,
        &detail,
    )
    .await?;
    tx.commit().await?;
    let name = file_name(&label, &at, format);
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                super::attachments::disposition(&name),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// Runs a job to its end, storing progress every second and stopping when cancelled.
async fn run_job(
    app: AppState,
    tenant: String,
    id: String,
    plan: ExportPlan,
    path: std::path::PathBuf,
) {
    let progress = Arc::new(Progress::default());
    let watcher = {
        let (app, tenant, id, progress) =
            (app.clone(), tenant.clone(), id.clone(), progress.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                let done = progress.rows.load(Ordering::Relaxed) as i64;
                match jobs::beat(&app.db, &tenant, &id, done, &now()).await {
                    Ok(s) if s == "cancelling" => progress.cancel.store(true, Ordering::Relaxed),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = ?e, job = %id, "cannot store export progress"),
                }
            }
        })
    };
    let result = export::write(&app, plan, &path, progress.clone()).await;
    watcher.abort();
    let at = now();
    let expires = stamp(chrono::Utc::now() + chrono::Duration::hours(KEEP_HOURS));
    let rows = progress.rows.load(Ordering::Relaxed) as i64;
    let size = std::fs::metadata(&path)
        .map(|m| m.len() as i64)
        .unwrap_or(0);
    let stored = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let outcome = match &result {
        Ok(n) => Outcome {
            status: "done",
            rows: *n as i64,
            file: Some((&stored, size)),
            error: None,
            at: &at,
            expires_at: Some(&expires),
        },
        Err(_) if progress.cancel.load(Ordering::Relaxed) => Outcome {
            status: "cancelled",
            rows,
            file: None,
            error: None,
            at: &at,
            expires_at: None,
        },
        Err(_) => Outcome {
            status: "failed",
            rows,
            file: None,
            error: Some("导出失败 / the export failed"),
            at: &at,
            expires_at: None,
        },
    };
    if let Err(e) = &result {
        if !progress.cancel.load(Ordering::Relaxed) {
            tracing::error!(error = ?e, job = %id, "export failed");
        }
    }
    if let Err(e) = jobs::finish(&app.db, &tenant, &id, &outcome).await {
        tracing::error!(error = ?e, job = %id, "cannot record the end of an export");
    }
}

async fn own_job(app: &AppState, actor: &Actor, id: &str) -> ApiResult<ExportJob> {
    jobs::get(&app.db, actor.tenant(), id)
        .await?
        .filter(|j| j.user_id == actor.user.user_id)
        .ok_or_else(|| ApiError::NotFound("没有这个导出任务".into()))
}

fn job_json(j: &ExportJob) -> Value {
    let mut v = json!(j);
    if j.status == "done" {
        v["file_url"] = json!(format!("/api/v1/export-jobs/{}/file", j.id));
    }
    v
}

/// Handles `GET /api/v1/export-jobs`: the user's own export jobs, newest first.
pub async fn list_jobs(State(app): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    let items: Vec<Value> = jobs::of_user(&app.db, actor.tenant(), &actor.user.user_id)
        .await?
        .iter()
        .map(job_json)
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// Handles `GET /api/v1/export-jobs/{id}`: status and progress.
pub async fn get_job(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(job_json(&own_job(&app, &actor, &id).await?)))
}

/// Handles `GET /api/v1/export-jobs/{id}/file`: the finished file.
pub async fn job_file(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let j = own_job(&app, &actor, &id).await?;
    let (Some(stored), "done") = (&j.file_name, j.status.as_str()) else {
        return Err(ApiError::Conflict {
            code: "export_not_ready",
            message: format!("导出任务状态为「{}」，没有可下载的文件", j.status),
        });
    };
    let format = FileFormat::parse(&j.format).unwrap_or(FileFormat::Xlsx);
    let path = export::dir(&app.data_dir, actor.tenant()).join(stored);
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| ApiError::NotFound("文件已过期".into()))?;
    let stream = tokio_util::io::ReaderStream::new(file);
    let label = j.list.clone();
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                super::attachments::disposition(&file_name(&label, &j.created_at, format)),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// Handles `DELETE /api/v1/export-jobs/{id}`: cancels a running job, or deletes a finished
/// job's file.
pub async fn delete_job(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let j = own_job(&app, &actor, &id).await?;
    match j.status.as_str() {
        "running" => {
            jobs::cancel(&app.db, actor.tenant(), &id).await?;
        }
        "done" => {
            if let Some(f) = &j.file_name {
                let _ = tokio::fs::remove_file(export::dir(&app.data_dir, actor.tenant()).join(f))
                    .await;
            }
            jobs::expire(&app.db, actor.tenant(), &id).await?;
        }
        _ => {}
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Handles `GET /api/v1/lists/{list}/export-templates`: the layouts a list can be exported
/// with — its own columns, and the pack's templates for its form.
pub async fn list_templates(
    State(app): State<AppState>,
    actor: Actor,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    let (list, form) = app
        .catalog
        .list(&app.db, actor.tenant(), &key)
        .await?
        .ok_or_else(|| ApiError::NotFound("列表不存在".into()))?;
    if actor.viewer(&app, &list.def.form).await?.is_none() {
        return Err(ApiError::Forbidden("你没有查看此列表的权限".into()));
    }
    let mut items = vec![
        json!({"key": null, "label": format!("{}（列表列）", list.def.label), "kind": "list"}),
    ];
    for (k, d) in packs::export_templates(&app.db, actor.tenant(), &list.def.form).await? {
        items.push(json!({"key": k, "label": d.label, "sheet_per": d.sheet_per, "kind": "pack"}));
    }
    for p in jobs::personal_of(&app.db, actor.tenant(), &actor.user.user_id, &key).await? {
        items.push(json!({"key": format!("mine:{}", p.id), "label": p.name, "columns": p.columns, "kind": "personal"}));
    }
    let hidden = form.workflow.hidden_somewhere(&actor.roles);
    let columns: Vec<Value> = form
        .fields
        .iter()
        .filter(|(k, _)| !hidden.contains(*k))
        .map(|(k, f)| json!({"field": k, "label": f.label}))
        .collect();
    Ok(Json(
        json!({"items": items, "columns": columns, "direct_limit": DIRECT_LIMIT}),
    ))
}

/// Body of `POST /api/v1/lists/{list}/export-templates`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPersonal {
    /// Its name (1–50 characters).
    name: String,
    /// The fields, in order.
    columns: Vec<String>,
}

/// Handles `POST /api/v1/lists/{list}/export-templates`: saves the user's own column choice
/// (自定义导出模版), usable as `template=mine:<id>`.
pub async fn save_personal(
    State(app): State<AppState>,
    actor: Actor,
    Path(key): Path<String>,
    super::extract::Body(req): super::extract::Body<NewPersonal>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (list, form) = app
        .catalog
        .list(&app.db, actor.tenant(), &key)
        .await?
        .ok_or_else(|| ApiError::NotFound("列表不存在".into()))?;
    if actor.viewer(&app, &list.def.form).await?.is_none()
        || !actor.may(&app, &list.def.form, "export").await
    {
        return Err(ApiError::Forbidden("你的角色不能导出此表单的数据".into()));
    }
    let name = req.name.trim().to_string();
    let mut errs = Vec::new();
    if name.is_empty() || name.chars().count() > 50 {
        errs.push(FieldError::new(
            "/name",
            "length",
            "名称应为 1 到 50 个字",
            "the name must be 1 to 50 characters",
        ));
    }
    if req.columns.is_empty() || req.columns.len() > 200 {
        errs.push(FieldError::new(
            "/columns",
            "items",
            "请选择 1 到 200 列",
            "pick 1 to 200 columns",
        ));
    }
    let hidden = form.workflow.hidden_somewhere(&actor.roles);
    for (i, c) in req.columns.iter().enumerate() {
        let known = form.fields.contains_key(c)
            || form_runtime::export::SYSTEM_COLUMNS
                .iter()
                .any(|(k, _)| k == c);
        if !known || hidden.contains(c) {
            errs.push(FieldError::new(
                format!("/columns/{i}"),
                "enum",
                format!("没有可导出的列「{c}」"),
                format!("`{c}` is not a column you can export"),
            ));
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::Invalid(errs));
    }
    let p = jobs::Personal {
        id: new_id(),
        list: key,
        name,
        columns: req.columns,
        created_at: now(),
    };
    let mut tx = app.db.begin().await?;
    if !jobs::save_personal(&mut tx, actor.tenant(), &actor.user.user_id, &p).await? {
        return Err(ApiError::Conflict {
            code: "name_taken",
            message: format!("你已有名为「{}」的导出模板", p.name),
        });
    }
    tx.commit().await?;
    let mut v = json!(p);
    v["key"] = json!(format!("mine:{}", p.id));
    Ok((StatusCode::CREATED, Json(v)))
}

/// Handles `DELETE /api/v1/lists/{list}/export-templates/{id}`: deletes one of the user's
/// own templates.
pub async fn delete_personal(
    State(app): State<AppState>,
    actor: Actor,
    Path((_list, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mut tx = app.db.begin().await?;
    if !jobs::delete_personal(&mut tx, actor.tenant(), &actor.user.user_id, &id).await? {
        return Err(ApiError::NotFound("没有这个个人导出模板".into()));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
