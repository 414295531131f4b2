//! Batch transitions: one action on many selected records, all or nothing.
//!
//! Every record is checked on its own (visibility, state, role, org relation, guards, data)
//! and reported separately; only when every one passes are they all written, in one
//! transaction. One refusal changes none.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::{Actor, Body};
use crate::change::records::{prepare_transition, visible, write, TransitionRequest};
use crate::change::sensitive;
use crate::state::AppState;
use crate::store::{now, packs, records};
use form_runtime::batch_rule::{BatchRule, Selection};
use sha2::{Digest, Sha256};

/// Most records one batch may change.
pub const MAX_BATCH: usize = 500;

/// Body of `POST /api/v1/batch/transitions/{action}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The records to act on.
    ids: Vec<String>,
    /// Comment for every record (required where the transition says so).
    comment: Option<String>,
    /// Values of the transition's fields, the same for every record.
    data: Option<Value>,
}

/// Handles `POST /api/v1/batch/transitions/{action}`.
pub async fn batch_transition(
    State(app): State<AppState>,
    actor: Actor,
    Path(action): Path<String>,
    Body(req): Body<BatchRequest>,
) -> ApiResult<Response> {
    let mut seen = std::collections::HashSet::new();
    if req.ids.is_empty()
        || req.ids.len() > MAX_BATCH
        || !req.ids.iter().all(|id| seen.insert(id.as_str()))
    {
        return Err(ApiError::Invalid(vec![form_runtime::FieldError::new(
            "/ids",
            "items",
            format!("请选择 1 到 {MAX_BATCH} 条不重复的记录"),
            format!("select 1 to {MAX_BATCH} distinct records"),
        )]));
    }
    let items: Vec<(String, String)> = req
        .ids
        .iter()
        .map(|id| (id.clone(), action.clone()))
        .collect();
    run_all(&app, &actor, &items, req.comment, req.data, None).await
}

/// Checks every (record, action) on its own and, only when all pass, writes them all in one
/// transaction (with `audit`, an entry for the whole batch). A refusal answers 422 with each
/// record's result; nothing changes.
async fn run_all(
    app: &AppState,
    actor: &Actor,
    items: &[(String, String)],
    comment: Option<String>,
    data: Option<Value>,
    audit: Option<(&str, &str, Value)>,
) -> ApiResult<Response> {
    let mut ready = Vec::new();
    let mut results = Vec::new();
    let mut refused = 0;
    let outwards = crate::change::effects::Outwards::default();
    for (id, action) in items {
        // A report names each record as people know it (its x-summary), not by its id alone.
        let mut summary = Value::Null;
        let one = async {
            let (row, form, _) = visible(app, actor, id).await?;
            let mut shown = row.data.clone();
            form.workflow
                .strip_hidden(&row.state, &actor.roles, &mut shown);
            summary = json!(form_runtime::display::summarise(&form, &shown, actor.zone()).line);
            let t = TransitionRequest::new(comment.clone(), data.clone());
            let prepared =
                prepare_transition(app, actor, &form, row, action, t, Some(&outwards)).await?;
            Ok::<_, ApiError>((form, prepared))
        };
        let outcome = one.await;
        match outcome {
            Ok(p) => {
                results.push(json!({"id": id, "summary": summary, "action": action, "ok": true}));
                ready.push(p);
            }
            Err(e @ ApiError::Internal(_)) => return Err(e),
            Err(e) => {
                refused += 1;
                results.push(json!({"id": id, "summary": summary, "action": action, "ok": false, "error": e.body()}));
            }
        }
    }
    if refused > 0 {
        let body = json!({
            "error": {"code": "batch_refused", "message": format!("{refused} 条记录不能执行，所有记录均未变更"), "fields": []},
            "results": results,
        });
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }
    let at = now();
    let mut tx = app.db.begin().await?;
    let mut done = Vec::new();
    for (form, prepared) in ready {
        let r = write(&mut tx, app, actor, &form, prepared, &at).await?;
        let mut shown = r.data.clone();
        form.workflow
            .strip_hidden(&r.state, &actor.roles, &mut shown);
        let summary = form_runtime::display::summarise(&form, &shown, actor.zone()).line;
        done.push(json!({"id": r.id, "summary": summary, "ok": true, "state": r.state, "version": r.version}));
    }
    if let Some((what, object, detail)) = &audit {
        let uid = Some(actor.user.user_id.as_str());
        crate::store::audit::append(&mut tx, actor.tenant(), uid, what, object, detail).await?;
    }
    tx.commit().await?;
    Ok(Json(json!({"changed": done.len(), "results": done})).into_response())
}

/// Most records a batch rule ranks.
pub const MAX_RULE_RECORDS: i64 = 20_000;

/// A rule the actor may run: they hold the permission for its action (and for `others`).
async fn runnable(
    app: &AppState,
    actor: &Actor,
    key: &str,
) -> ApiResult<(BatchRule, std::sync::Arc<form_runtime::form::CompiledForm>)> {
    let not_found = || ApiError::NotFound("没有这个批量规则".into());
    let def = packs::batch_rules(&app.db, actor.tenant())
        .await?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, d)| d)
        .ok_or_else(not_found)?;
    let form = app
        .catalog
        .form(&app.db, actor.tenant(), &def.form, None)
        .await?
        .ok_or_else(not_found)?;
    if !may_run(app, actor, &form, &def).await {
        return Err(ApiError::Forbidden(format!(
            "你不能执行批量规则「{}」",
            def.label
        )));
    }
    let fields = form.fields.keys().cloned().collect();
    let rule = BatchRule::check(key, def, &fields, &form.workflow, "")
        .map_err(|e| anyhow::anyhow!("stored batch rule {key} is invalid: {e:?}"))?;
    Ok((rule, form))
}

async fn may_run(
    app: &AppState,
    actor: &Actor,
    form: &form_runtime::form::CompiledForm,
    def: &form_runtime::batch_rule::BatchRuleDef,
) -> bool {
    for a in std::iter::once(&def.action).chain(def.others.iter()) {
        let held = def.states.iter().any(|s| {
            form.workflow
                .transition(s, a)
                .is_some_and(|t| t.roles.iter().any(|r| actor.roles.contains(r)))
        });
        if !held || !actor.may(app, &form.key, a).await {
            return false;
        }
    }
    true
}

/// Handles `GET /api/v1/batch-rules`: the rules the user may run.
pub async fn list_rules(State(app): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    let mut items = Vec::new();
    for (key, def) in packs::batch_rules(&app.db, actor.tenant()).await? {
        let Some(form) = app
            .catalog
            .form(&app.db, actor.tenant(), &def.form, None)
            .await?
        else {
            continue;
        };
        if may_run(&app, &actor, &form, &def).await {
            items.push(json!({
                "key": key, "label": def.label, "form": def.form, "states": def.states,
                "action": def.action, "others": def.others,
            }));
        }
    }
    Ok(Json(json!({ "items": items })))
}

/// The rule's selection over the records the actor sees, with the digest a run must quote.
async fn selection(
    app: &AppState,
    actor: &Actor,
    rule: &BatchRule,
    form: &form_runtime::form::CompiledForm,
) -> ApiResult<(Selection, String, Value)> {
    let viewer = actor
        .viewer(app, &form.key)
        .await?
        .ok_or_else(|| ApiError::Forbidden("你没有查看此表单的权限".into()))?;
    let rows = records::in_states(
        &app.db,
        actor.tenant(),
        &form.key,
        &rule.def.states,
        &viewer,
        MAX_RULE_RECORDS + 1,
    )
    .await?;
    if rows.len() as i64 > MAX_RULE_RECORDS {
        return Err(ApiError::Invalid(vec![form_runtime::FieldError::new(
            "",
            "maxItems",
            format!("参与排序的记录超过 {MAX_RULE_RECORDS} 条，请分批处理"),
            format!("more than {MAX_RULE_RECORDS} records take part; split the work"),
        )]));
    }
    let mut input = Vec::with_capacity(rows.len());
    let mut versions = std::collections::HashMap::new();
    for r in rows {
        // Ranks may use sensitive values (an age from an ID number): rank on clear data.
        let data = sensitive::open(app, actor.tenant(), form, &r.id, r.data).await?;
        versions.insert(r.id.clone(), r.version);
        input.push((r.id, r.state, data));
    }
    let sel = rule
        .select(&input)
        .map_err(|e| anyhow::anyhow!("batch rule {} failed: {e}", rule.key))?;
    let mut basis: Vec<(&str, i64, bool)> = sel
        .items
        .iter()
        .map(|i| {
            (
                i.id.as_str(),
                versions.get(&i.id).copied().unwrap_or(0),
                i.selected,
            )
        })
        .collect();
    basis.sort();
    let digest = hex::encode(Sha256::digest(json!(basis).to_string().as_bytes()));
    let labels: std::collections::HashMap<&str, &Value> =
        input.iter().map(|(id, _, d)| (id.as_str(), d)).collect();
    // A readable name for each row: the form's first plain text field the actor may see.
    let name_field = form
        .fields
        .iter()
        .find(|(k, f)| {
            f.kind == form_runtime::form::FieldKind::String
                && !sensitive::paths(form)
                    .iter()
                    .any(|p| p.top_level() == Some(k.as_str()))
        })
        .map(|(k, _)| k.clone());
    let items: Vec<Value> = sel
        .items
        .iter()
        .map(|i| {
            let name = name_field
                .as_ref()
                .and_then(|f| labels.get(i.id.as_str()).and_then(|d| d.get(f)))
                .cloned()
                .unwrap_or(Value::Null);
            json!({"id": i.id, "name": name, "partition": i.partition, "rank": i.rank, "keys": i.keys, "selected": i.selected})
        })
        .collect();
    Ok((sel, digest, json!(items)))
}

/// Handles `POST /api/v1/batch-rules/{key}/preview`: who the rule would take, nothing written.
pub async fn preview_rule(
    State(app): State<AppState>,
    actor: Actor,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    let (rule, form) = runnable(&app, &actor, &key).await?;
    let (sel, digest, items) = selection(&app, &actor, &rule, &form).await?;
    Ok(Json(preview_body(&rule, &sel, &digest, items)))
}

fn preview_body(rule: &BatchRule, sel: &Selection, digest: &str, items: Value) -> Value {
    let taken = sel.items.iter().filter(|i| i.selected).count();
    json!({
        "rule": {"key": rule.key, "label": rule.def.label, "form": rule.def.form, "partition": rule.def.partition,
                 "action": rule.def.action, "others": rule.def.others},
        "partitions": sel.partitions,
        "items": items,
        "selected": taken,
        "others": sel.items.len() - taken,
        "digest": digest,
    })
}

/// Body of `POST /api/v1/batch-rules/{key}/run`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The `digest` of the preview the user confirmed.
    digest: String,
    /// Comment for every transition.
    comment: Option<String>,
}

/// Handles `POST /api/v1/batch-rules/{key}/run`: fires the rule's transitions exactly as the
/// confirmed preview showed, all or nothing; 409 with a fresh preview when anything changed.
pub async fn run_rule(
    State(app): State<AppState>,
    actor: Actor,
    Path(key): Path<String>,
    Body(req): Body<RunRequest>,
) -> ApiResult<Response> {
    let (rule, form) = runnable(&app, &actor, &key).await?;
    let (sel, digest, items) = selection(&app, &actor, &rule, &form).await?;
    if digest != req.digest {
        let body = json!({
            "error": {"code": "selection_changed", "message": "记录在预览后有变化，请重新预览确认", "fields": []},
            "preview": preview_body(&rule, &sel, &digest, items),
        });
        return Ok((StatusCode::CONFLICT, Json(body)).into_response());
    }
    let work: Vec<(String, String)> = sel
        .items
        .iter()
        .filter_map(|i| {
            if i.selected {
                Some((i.id.clone(), rule.def.action.clone()))
            } else {
                rule.def.others.clone().map(|o| (i.id.clone(), o))
            }
        })
        .collect();
    if work.is_empty() {
        return Ok(Json(json!({"changed": 0, "results": []})).into_response());
    }
    let entry = json!({"digest": digest, "records": work.len()});
    let audit = Some(("batch_rule.run", rule.key.as_str(), entry));
    run_all(&app, &actor, &work, req.comment, None, audit).await
}
