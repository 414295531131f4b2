//! Planning an export (what the actor may export of a list, in which layout and format)
//! and sweeping expired export files; writing the file is [`crate::export`].

use form_runtime::export::ExportTemplate;
use form_runtime::FieldError;
use std::sync::Arc;

use super::context::Actor;
use super::error::{Error as ApiError, Result as ApiResult};
use super::lists::list_query;
use crate::export::{self, ExportPlan, FileFormat};
use crate::state::AppState;
use crate::store::exports as jobs;
use crate::store::{now, packs, stamp};

/// Most rows answered directly; a larger export becomes a job.
pub const DIRECT_LIMIT: i64 = 10_000;

/// How long a finished export's file is kept.
pub const KEEP_HOURS: i64 = 24;

/// Parameters of an export besides the list's own.
pub(crate) struct Wanted {
    format: FileFormat,
    template: Option<String>,
    columns: Option<Vec<String>>,
}

pub(crate) fn split(pairs: Vec<(String, String)>) -> ApiResult<(Wanted, Vec<(String, String)>)> {
    let mut w = Wanted {
        format: FileFormat::Xlsx,
        template: None,
        columns: None,
    };
    let mut rest = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "format" => {
                w.format = FileFormat::parse(&v).ok_or_else(|| {
                    ApiError::Invalid(vec![FieldError::new(
                        "/query/format",
                        "enum",
                        "格式应为 xlsx 或 csv",
                        "format must be xlsx or csv",
                    )])
                })?
            }
            "template" => w.template = Some(v),
            "columns" => {
                w.columns = Some(
                    v.split(',')
                        .map(|c| c.trim().to_string())
                        .filter(|c| !c.is_empty())
                        .collect(),
                )
            }
            // Read by the handler: it decides between a direct answer and a job.
            "background" => {}
            _ => rest.push((k, v)),
        }
    }
    Ok((w, rest))
}

/// Checks the request and works out the plan: permission, template, query, scope, masking.
pub async fn plan(
    app: &AppState,
    actor: &Actor,
    key: &str,
    pairs: Vec<(String, String)>,
) -> ApiResult<(ExportPlan, String)> {
    let (list, form) = app
        .catalog
        .list(&app.db, actor.tenant(), key)
        .await?
        .ok_or_else(|| ApiError::NotFound("列表不存在".into()))?;
    let viewer = actor
        .viewer(app, &list.def.form)
        .await?
        .ok_or_else(|| ApiError::Forbidden("你没有查看此列表的权限".into()))?;
    if !actor.may(app, &list.def.form, "export").await {
        return Err(ApiError::Forbidden("你的角色不能导出此表单的数据".into()));
    }
    let query_text = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish();
    let (mut wanted, rest) = split(pairs)?;
    // A user's own template is their saved column choice.
    if let Some(id) = wanted
        .template
        .as_deref()
        .and_then(|t| t.strip_prefix("mine:"))
    {
        let mine = jobs::personal_of(&app.db, actor.tenant(), &actor.user.user_id, key)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| {
                ApiError::Invalid(vec![FieldError::new(
                    "/query/template",
                    "query",
                    "没有这个个人导出模板",
                    "there is no such personal export template",
                )])
            })?;
        wanted.template = None;
        wanted.columns = Some(mine.columns);
    }
    let query = list_query(app, actor, &list, &rest).await?;
    let bad = |ptr: &str, zh: String, en: String| {
        ApiError::Invalid(vec![FieldError::new(ptr, "query", zh, en)])
    };
    let template = match (&wanted.template, &wanted.columns) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "/query/columns",
                "模板与自选列只能选一种".into(),
                "give either template or columns".into(),
            ))
        }
        (Some(t), None) => {
            let def = packs::export_templates(&app.db, actor.tenant(), &list.def.form)
                .await?
                .into_iter()
                .find(|(k, _)| k == t)
                .map(|(_, d)| d)
                .ok_or_else(|| {
                    bad(
                        "/query/template",
                        format!("没有导出模板「{t}」"),
                        format!("there is no export template `{t}` for this list"),
                    )
                })?;
            ExportTemplate::check(t, def, &form.fields, &form.schema, "")
                .map_err(|e| anyhow::anyhow!("stored export template {t} is invalid: {e:?}"))?
        }
        (None, Some(cols)) => {
            if cols.is_empty() || cols.len() > 200 {
                return Err(bad(
                    "/query/columns",
                    "请选择 1 到 200 列".into(),
                    "pick 1 to 200 columns".into(),
                ));
            }
            let hidden = form.workflow.hidden_somewhere(&actor.roles);
            if let Some(h) = cols.iter().find(|c| hidden.contains(*c)) {
                return Err(bad(
                    "/query/columns",
                    format!("你无权导出「{}」", form.label(h)),
                    format!("you may not export `{h}`"),
                ));
            }
            ExportTemplate::plain(
                "custom",
                &list.def.label,
                &list.def.form,
                cols,
                &form.fields,
                &form.schema,
            )
            .map_err(|errs| {
                let e = errs.first().map(|e| e.reason.clone()).unwrap_or_default();
                bad(
                    "/query/columns",
                    format!("列不正确：{e}"),
                    format!("bad columns: {e}"),
                )
            })?
        }
        (None, None) => {
            // The list's own columns, under the list's own headings.
            let cols: Vec<String> = list.def.columns.iter().map(|c| c.field.clone()).collect();
            let mut t = ExportTemplate::plain(
                "list",
                &list.def.label,
                &list.def.form,
                &cols,
                &form.fields,
                &form.schema,
            )
            .map_err(|e| anyhow::anyhow!("list {key} cannot be exported: {e:?}"))?;
            for (c, leaf) in list.def.columns.iter().zip(t.leaves.iter_mut()) {
                if let Some(l) = &c.label {
                    leaf.header = l.clone();
                }
            }
            for (c, h) in list.def.columns.iter().zip(t.headers.iter_mut()) {
                if let Some(l) = &c.label {
                    h.text = l.clone();
                }
            }
            t
        }
    };
    let clear = crate::change::sensitive::clearance(
        app,
        actor,
        &list.def.form,
        &crate::change::sensitive::paths(&form),
    )
    .await;
    let label = template.def.label.clone();
    let plan = ExportPlan {
        zone: actor.zone(),
        tenant: actor.tenant().to_string(),
        roles: actor.roles.clone(),
        list,
        form,
        template: Arc::new(template),
        query,
        viewer,
        clear,
        format: wanted.format,
    };
    Ok((plan, format!("{label}|{query_text}")))
}

pub(crate) fn file_name(label: &str, at: &str, format: FileFormat) -> String {
    let stamp: String = at.chars().filter(char::is_ascii_digit).take(14).collect();
    let safe: String = label
        .chars()
        .map(|c| if "\\/:*?\"<>|".contains(c) { '_' } else { c })
        .collect();
    format!("{safe}-{stamp}.{}", format.ext())
}

/// Deletes expired export files and fails jobs whose server stopped; run by the timer job.
pub async fn sweep(app: &AppState) -> anyhow::Result<()> {
    let at = now();
    for (tenant, id, file) in jobs::due_for_deletion(&app.db, &at).await? {
        let _ = tokio::fs::remove_file(export::dir(&app.data_dir, &tenant).join(&file)).await;
        jobs::expire(&app.db, &tenant, &id).await?;
    }
    let stale = stamp(chrono::Utc::now() - chrono::Duration::minutes(2));
    jobs::fail_abandoned(&app.db, &stale, &at).await?;
    Ok(())
}
