//! Imports from Excel: each row of a workbook becomes a record of a form, checked exactly as
//! `POST /forms/{form}/records` checks one — or, when the import template's `key` finds an
//! existing record, as `PATCH /records/{id}` checks an edit — and all rows are written in
//! one transaction with their events and audit entries. One rejected row imports nothing
//! unless the client asks for `mode=valid_only`.
//!
//! Every request is kept (`imports` table) with its report; the rejected rows go into an
//! error workbook, sealed with the tenant's key, that only the importer can download.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use form_runtime::form::{escape, CompiledForm};
use form_runtime::import::{column_letter, Binding, ImportDef, Importer};
use form_runtime::sensitive::normalise;
use form_runtime::FieldError;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::context::Actor;
use super::error::{Error as ApiError, Result as ApiResult};
use super::sensitive;
use crate::change::records::{
    prepare_create, prepare_patch, visible, write, write_create, Compact, NewRecord, Packed,
    Prepared, PreparedCreate,
};
use crate::crypto::import_aad;
use crate::spreadsheet::{self, Sheet, MAX_FILE_BYTES};
use crate::state::AppState;
use crate::store::{audit, imports, new_id, now};

/// Most row errors an answer lists; the error workbook has them all.
pub const MAX_REPORTED_ERRORS: usize = 1000;
/// How often a `valid_only` import starts its transaction again after a row failed only
/// while being written (a `unique` rule met by another row of the same file).
const MAX_WRITE_RETRIES: usize = 20;

pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What to do with valid rows when some are rejected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One rejected row imports nothing.
    #[default]
    All,
    /// The valid rows are imported, the rejected ones reported.
    ValidOnly,
}

impl Mode {
    fn key(self) -> &'static str {
        match self {
            Mode::All => "all",
            Mode::ValidOnly => "valid_only",
        }
    }
}

/// Query of `POST /api/v1/forms/{form}/imports`, and the options of `formwork import`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Key of an import template of the form (`imports/<key>.json`).
    pub template: Option<String>,
    /// `all` (default) or `valid_only`.
    #[serde(default)]
    pub mode: Mode,
    /// Only check and report; nothing is written.
    #[serde(default)]
    pub dry_run: bool,
}

/// How far an import has come, for a progress bar: rows read from the sheet (0 while it is
/// being read), rows checked and rows written so far. A `valid_only` import that starts its
/// transaction again counts its rows again.
#[derive(Debug, Default)]
pub struct Progress {
    /// Data rows of the sheet, once read.
    pub rows: AtomicU64,
    /// Rows checked in the current pass.
    pub checked: AtomicU64,
    /// Rows to write in the current transaction (0 while checking).
    pub to_write: AtomicU64,
    /// Rows written in the current transaction.
    pub written: AtomicU64,
}

/// How an import ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A dry run: checked, nothing written.
    Checked,
    /// Rows were written.
    Written,
    /// Refused: nothing written.
    Refused,
}

/// What an import answered: how it ended, the body (the report, or the refusal with the
/// report in it) and the error workbook of the rejected rows, when any was.
pub struct Outcome {
    /// Checked, written or refused.
    pub verdict: Verdict,
    /// As the API answers it.
    pub body: Value,
    /// The `.xlsx` of rejected rows with a reason column.
    pub errors_xlsx: Option<Vec<u8>>,
}

impl Outcome {
    /// The report, wherever it is in the body.
    pub fn report(&self) -> &Value {
        if self.body.get("report").is_some() {
            &self.body["report"]
        } else {
            &self.body
        }
    }
}

/// The form, version and template an import writes with, once the user may.
pub struct Target {
    version: i64,
    form: Arc<CompiledForm>,
    def: Option<ImportDef>,
}

/// One problem of one row, where a person finds it in the sheet.
#[derive(Debug, Clone, serde::Serialize)]
struct RowError {
    row: u32,
    column: Option<String>,
    header: Option<String>,
    field: Option<String>,
    pointer: String,
    rule: String,
    message: String,
    message_en: String,
}

/// A row ready to be written, its data held as text until then.
enum Ready {
    /// A new record, and when its case happened (None: now).
    Create(
        Packed<PreparedCreate>,
        Option<chrono::DateTime<chrono::Utc>>,
    ),
    Update(Packed<Prepared>, Arc<CompiledForm>),
}

/// What the checks of every row gave.
struct Checked {
    ready: Vec<(usize, Ready)>,
    rejected: BTreeMap<usize, Vec<RowError>>,
}

/// Everything an import works with once the request is understood.
struct Job<'a> {
    app: &'a AppState,
    actor: &'a Actor,
    form: Arc<CompiledForm>,
    version: i64,
    importer: Importer,
    binding: Binding,
    sheet: Sheet,
    progress: &'a Progress,
    /// Effect contexts (webhooks, roles, role holders), read once for all rows.
    outwards: crate::change::effects::Outwards,
}

/// The form (latest version), refusing users without `import`, `create` and an edit rule
/// in the initial state.
pub(crate) async fn importable(
    app: &AppState,
    actor: &Actor,
    form_key: &str,
) -> ApiResult<(i64, Arc<CompiledForm>)> {
    let (version, form) = app
        .catalog
        .versioned(&app.db, actor.tenant(), form_key, None)
        .await?
        .ok_or_else(|| ApiError::NotFound("表单不存在".into()))?;
    let initial = &form.workflow.def.initial;
    if !actor.may(app, &form.key, "import").await
        || !actor.may(app, &form.key, "create").await
        || form.workflow.edit_rule(initial, &actor.roles).is_none()
    {
        return Err(ApiError::Forbidden("你的角色不能导入此表单".into()));
    }
    Ok((version, form))
}

/// The import template `key` of `form`, or 404.
pub(crate) async fn template_of(
    app: &AppState,
    actor: &Actor,
    form: &str,
    key: Option<&str>,
) -> ApiResult<Option<ImportDef>> {
    let Some(key) = key else { return Ok(None) };
    match imports::template(&app.db, actor.tenant(), key).await? {
        Some(def) if def.form == form => Ok(Some(def)),
        _ => Err(ApiError::NotFound("没有这个导入模板".into())),
    }
}

pub(crate) fn file_error(rule: &str, zh: impl Into<String>, en: impl Into<String>) -> FieldError {
    FieldError::new("/file", rule, zh, en)
}

/// The refusal of a file above [`MAX_FILE_BYTES`].
pub fn too_large() -> ApiError {
    let mb = MAX_FILE_BYTES / 1024 / 1024;
    ApiError::TooLarge(file_error(
        "max_size",
        format!("文件超过 {mb} MB，请分批导入"),
        format!("the file is larger than {mb} MB; import it in parts"),
    ))
}

/// What `actor` imports into with `template`: refuses users without `import`, `create`, an
/// edit rule in the initial state or the template's action, and unknown templates.
pub async fn target(
    app: &AppState,
    actor: &Actor,
    form_key: &str,
    template: Option<&str>,
) -> ApiResult<Target> {
    let (version, form) = importable(app, actor, form_key).await?;
    let def = template_of(app, actor, &form.key, template).await?;
    if let Some(action) = def.as_ref().and_then(|d| d.action.as_deref()) {
        if !actor.may(app, &form.key, action).await {
            return Err(ApiError::Forbidden(format!("你的角色不能执行「{action}」")));
        }
    }
    Ok(Target { version, form, def })
}

/// Imports the workbook `bytes` into `target` as `actor`: the whole import of the API and of
/// `formwork import`, counting its way through `progress`. Refusals of the file itself
/// (unreadable, hostile, unknown headers) are errors; row errors are in the outcome.
pub async fn import_workbook(
    app: &AppState,
    actor: &Actor,
    target: Target,
    q: ImportQuery,
    bytes: Vec<u8>,
    progress: &Progress,
) -> ApiResult<Outcome> {
    let Target { version, form, def } = target;
    let sheet_name = def.as_ref().and_then(|d| d.sheet.clone());
    let sheet =
        tokio::task::spawn_blocking(move || spreadsheet::read(&bytes, sheet_name.as_deref()))
            .await
            .map_err(anyhow::Error::from)?
            .map_err(|r| ApiError::Invalid(vec![file_error(r.rule, r.message, r.message_en)]))?;
    progress
        .rows
        .store(sheet.rows.len() as u64, Ordering::Relaxed);
    let cats = super::data::catalogues(app, actor.tenant(), &form.key, version).await?;
    let importer = Importer::new(&form.schema, def.as_ref(), &cats);
    let (binding, ignored) = importer.bind(&sheet.headers).map_err(ApiError::Invalid)?;
    let job = Job {
        app,
        actor,
        form,
        version,
        importer,
        binding,
        sheet,
        progress,
        outwards: Default::default(),
    };
    run(&job, q, ignored).await
}

/// Checks the rows, writes them (unless refused or a dry run), keeps the request and
/// answers its report.
async fn run(job: &Job<'_>, q: ImportQuery, ignored: Vec<String>) -> ApiResult<Outcome> {
    let id = new_id();
    let mut excluded: BTreeMap<usize, Vec<RowError>> = BTreeMap::new();
    let mut attempts = 0;
    loop {
        let mut checked = check_rows(job, &excluded).await?;
        checked.rejected.extend(excluded.clone());
        let rejected = checked.rejected.len();
        let refuse = checked.ready.is_empty() || (rejected > 0 && q.mode == Mode::All);
        if q.dry_run || refuse {
            let report = report(
                job,
                &id,
                &q,
                &checked.rejected,
                checked.ready.len(),
                (0, 0),
                false,
                &ignored,
            );
            let errors = errors_workbook(job, &checked.rejected)?;
            let sealed = seal_errors(job, &id, errors.as_deref()).await?;
            let mut tx = job.app.db.begin().await?;
            keep(&mut tx, job, &id, &q, false, &report, sealed.as_deref()).await?;
            tx.commit().await?;
            if q.dry_run {
                return Ok(Outcome {
                    verdict: Verdict::Checked,
                    body: report,
                    errors_xlsx: errors,
                });
            }
            let message = if checked.ready.is_empty() {
                "没有可导入的行，所有行均未导入".to_string()
            } else {
                format!("{rejected} 行有错误，所有行均未导入")
            };
            return Ok(refused(message, report, errors));
        }
        let accepted = checked.ready.len();
        let at = now();
        let mut tx = job.app.db.begin().await?;
        let mut counts = (0, 0);
        let mut failed = None;
        job.progress.written.store(0, Ordering::Relaxed);
        job.progress
            .to_write
            .store(checked.ready.len() as u64, Ordering::Relaxed);
        for (i, ready) in checked.ready {
            let written = match ready {
                Ready::Create(p, when) => {
                    let at = when.map_or_else(|| at.clone(), crate::store::stamp);
                    write_create(&mut tx, job.app, job.actor, &job.form, p.unpack()?, &at)
                        .await
                        .map(|_| (1, 0))
                }
                Ready::Update(p, form) => {
                    write(&mut tx, job.app, job.actor, &form, p.unpack()?, &at)
                        .await
                        .map(|_| (0, 1))
                }
            };
            match written {
                Ok((c, u)) => {
                    counts = (counts.0 + c, counts.1 + u);
                    job.progress.written.fetch_add(1, Ordering::Relaxed);
                }
                Err(e @ ApiError::Internal(_)) => return Err(e),
                Err(e) => {
                    failed = Some((i, e));
                    break;
                }
            }
        }
        if let Some((i, e)) = failed {
            // Rolled back: the row is rejected and, for valid_only, the rest tried again.
            drop(tx);
            excluded.insert(i, row_errors(job, i, &e));
            attempts += 1;
            if q.mode == Mode::All || attempts > MAX_WRITE_RETRIES {
                let mut all = checked.rejected;
                all.extend(excluded.clone());
                let report = report(job, &id, &q, &all, 0, (0, 0), false, &ignored);
                let errors = errors_workbook(job, &all)?;
                let sealed = seal_errors(job, &id, errors.as_deref()).await?;
                let mut tx = job.app.db.begin().await?;
                keep(&mut tx, job, &id, &q, false, &report, sealed.as_deref()).await?;
                tx.commit().await?;
                let message = format!("{} 行有错误，所有行均未导入", all.len());
                return Ok(refused(message, report, errors));
            }
            continue;
        }
        let report = report(
            job,
            &id,
            &q,
            &checked.rejected,
            accepted,
            counts,
            true,
            &ignored,
        );
        let errors = errors_workbook(job, &checked.rejected)?;
        let sealed = seal_errors(job, &id, errors.as_deref()).await?;
        let uid = job.actor.user.user_id.as_str();
        let detail = json!({
            "form": job.form.key, "template": q.template, "mode": q.mode.key(), "rows": job.sheet.rows.len(),
            "created": counts.0, "updated": counts.1, "rejected": checked.rejected.len(),
        });
        audit::append(
            &mut tx,
            job.actor.tenant(),
            Some(uid),
            "import.run",
            &id,
            &detail,
        )
        .await?;
        keep(&mut tx, job, &id, &q, true, &report, sealed.as_deref()).await?;
        tx.commit().await?;
        return Ok(Outcome {
            verdict: Verdict::Written,
            body: report,
            errors_xlsx: errors,
        });
    }
}

/// The answer of a refused import: nothing was written.
fn refused(message: String, report: Value, errors: Option<Vec<u8>>) -> Outcome {
    Outcome {
        verdict: Verdict::Refused,
        body: json!({
            "error": {"code": "import_refused", "message": message, "fields": []},
            "report": report,
        }),
        errors_xlsx: errors,
    }
}

/// Rows converted and looked up together: one query finds the records of their keys.
const LOOKUP_CHUNK: usize = 500;

/// What the checks share: the form's sensitive top-level fields, the tenant's keys when
/// the import key is sensitive, and the keys met so far in the file.
struct KeyContext<'k> {
    sensitive: Vec<String>,
    keys: Option<&'k crate::crypto::TenantKeys>,
    seen: HashSet<Vec<String>>,
}

/// A row's import key: its normalised values (to find repeats in the file) and the
/// (expression, value) pairs that find its record.
struct RowKey {
    values: Vec<String>,
    equal: Vec<(String, String)>,
}

/// Checks every row not in `skip` exactly as its API request would be checked.
async fn check_rows(job: &Job<'_>, skip: &BTreeMap<usize, Vec<RowError>>) -> ApiResult<Checked> {
    let mut checked = Checked {
        ready: Vec::new(),
        rejected: BTreeMap::new(),
    };
    let sensitive: Vec<String> = sensitive::paths(&job.form)
        .iter()
        .filter_map(|p| p.top_level().map(str::to_string))
        .collect();
    let tenant = job.actor.tenant();
    let tenant_keys = if job.importer.key.iter().any(|k| sensitive.contains(k)) {
        Some(job.app.keys.tenant(&job.app.db, tenant).await?)
    } else {
        None
    };
    let mut ctx = KeyContext {
        sensitive,
        keys: tenant_keys.as_deref(),
        seen: HashSet::new(),
    };
    job.progress.checked.store(0, Ordering::Relaxed);
    job.progress.to_write.store(0, Ordering::Relaxed);
    let rows = &job.sheet.rows;
    for start in (0..rows.len()).step_by(LOOKUP_CHUNK) {
        let mut batch = Vec::new();
        for (i, (_, cells)) in rows
            .iter()
            .enumerate()
            .skip(start)
            .take(LOOKUP_CHUNK)
            .filter(|(i, _)| !skip.contains_key(i))
        {
            match job.importer.row(&job.binding, cells) {
                Ok(d) => batch.push((i, d)),
                Err(errs) => {
                    let fe: Vec<FieldError> = errs.iter().map(|e| e.to_field_error()).collect();
                    checked.rejected.insert(i, located(job, i, &fe));
                }
            }
        }
        let found = look_up(job, &batch, &ctx).await?;
        for (i, data) in batch {
            match check_row(job, data, &mut ctx, found.as_ref()).await {
                Ok(r) => checked.ready.push((i, r)),
                Err(e @ ApiError::Internal(_)) => return Err(e),
                Err(e) => {
                    checked.rejected.insert(i, row_errors(job, i, &e));
                }
            }
        }
        let done = (start + LOOKUP_CHUNK).min(rows.len());
        job.progress.checked.store(done as u64, Ordering::Relaxed);
    }
    Ok(checked)
}

/// The key of a row, or why it has none.
fn row_key(job: &Job<'_>, data: &Map<String, Value>, ctx: &KeyContext<'_>) -> ApiResult<RowKey> {
    let mut values = Vec::new();
    let mut equal = Vec::new();
    for k in &job.importer.key {
        let text = match data.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => {
                let label = job.form.label(k);
                return Err(invalid(
                    k,
                    "key",
                    format!("{label}为必填项（用于识别已有记录）"),
                    format!("{label} is required (it identifies existing records)"),
                ));
            }
            Some(v) => v.to_string(),
        };
        values.push(normalise(&text));
        match (ctx.sensitive.contains(k), ctx.keys) {
            (true, Some(keys)) => equal.push((
                format!("(data->'{k}'->>'bi')"),
                keys.blind_index(k, &normalise(&text)),
            )),
            _ => equal.push((form_runtime::sql::json_text_expr(k), text)),
        }
    }
    Ok(RowKey { values, equal })
}

/// For a one-field key, the records whose key is one of the batch's, by key value (the
/// value as bound: text, or blind index), in one query; None for a key of several fields
/// (each row looks its record up alone) or no key.
async fn look_up(
    job: &Job<'_>,
    batch: &[(usize, Map<String, Value>)],
    ctx: &KeyContext<'_>,
) -> ApiResult<Option<HashMap<String, Vec<String>>>> {
    if job.importer.key.len() != 1 {
        return Ok(None);
    }
    let mut expr = None;
    let mut values = Vec::new();
    for (_, data) in batch {
        if let Ok(RowKey { mut equal, .. }) = row_key(job, data, ctx) {
            if let Some((e, v)) = equal.pop() {
                expr.get_or_insert(e);
                values.push(v);
            }
        }
    }
    let Some(expr) = expr else {
        return Ok(Some(HashMap::new()));
    };
    values.sort_unstable();
    values.dedup();
    let found = imports::find_by_keys(
        &job.app.db,
        job.actor.tenant(),
        &job.form.key,
        &expr,
        &values,
    )
    .await?;
    Ok(Some(found))
}

/// One row: a new record, or (when the key finds one) an edit of an existing record.
/// `found` holds the batch's look-up for a one-field key.
async fn check_row(
    job: &Job<'_>,
    mut data: Map<String, Value>,
    ctx: &mut KeyContext<'_>,
    found: Option<&HashMap<String, Vec<String>>>,
) -> ApiResult<Ready> {
    let imp = &job.importer;
    if !imp.key.is_empty() {
        let RowKey { values, equal } = row_key(job, &data, ctx)?;
        if !ctx.seen.insert(values) {
            let label = job.form.label(&imp.key[0]);
            return Err(invalid(
                &imp.key[0],
                "key",
                format!("{label}与文件中前面的行重复"),
                format!("{label} repeats an earlier row of the file"),
            ));
        }
        let found = match (found, equal.as_slice()) {
            (Some(map), [(_, value)]) => map.get(value).cloned().unwrap_or_default(),
            _ => {
                imports::find_by_key(&job.app.db, job.actor.tenant(), &job.form.key, &equal, 2)
                    .await?
            }
        };
        match found.as_slice() {
            [] => {}
            [id] => {
                let label = job.form.label(&imp.key[0]);
                let (row, form, _) =
                    visible(job.app, job.actor, id).await.map_err(|e| match e {
                        ApiError::NotFound(_) => invalid(
                            &imp.key[0],
                            "key",
                            format!("已有相同{label}的记录，但你无权查看或修改"),
                            format!(
                                "a record with this {label} exists that you may not see or edit"
                            ),
                        ),
                        e => e,
                    })?;
                let p = prepare_patch(
                    job.app,
                    job.actor,
                    &form,
                    row,
                    None,
                    Value::Object(data),
                    Some(&job.outwards),
                )
                .await?;
                return Ok(Ready::Update(p.pack(), form));
            }
            _ => {
                let label = job.form.label(&imp.key[0]);
                return Err(invalid(
                    &imp.key[0],
                    "key",
                    format!("有多条相同{label}的记录，无法确定更新哪一条"),
                    format!("several records have this {label}; which to update is unclear"),
                ));
            }
        }
    }
    let when = match &imp.at {
        Some(field) => {
            let when = happened_at(job, field, &data)?;
            // The moment is not itself written where the importer may not write the field:
            // the action's `set` effect stamps it (提交时间 = now() at that moment).
            let wf = &job.form.workflow;
            let writable = wf
                .edit_rule(&wf.def.initial, &job.actor.roles)
                .and_then(|r| r.fields.as_ref())
                .is_none_or(|f| f.contains(field));
            if !writable {
                data.remove(field);
            }
            when
        }
        None => None,
    };
    let new = NewRecord {
        data: Value::Object(data),
        action: imp.action.as_deref(),
        comment: None,
        at: when,
    };
    let p = prepare_create(
        job.app,
        job.actor,
        &job.form,
        job.version,
        new,
        Some(&job.outwards),
    )
    .await?;
    Ok(Ready::Create(p.pack(), when))
}

/// When the row's case happened, from the template's `at` field: a date-time as written, a
/// date at midnight in the tenant's zone; never later than now.
fn happened_at(
    job: &Job<'_>,
    field: &str,
    data: &Map<String, Value>,
) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    let Some(text) = data.get(field).and_then(Value::as_str) else {
        return Ok(None);
    };
    let label = job.form.label(field);
    let when = match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&chrono::Utc),
        Err(_) => {
            let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                invalid(
                    field,
                    "format",
                    format!("「{label}」不是日期或时间：{text}"),
                    format!("{label} is not a date or time: {text}"),
                )
            })?;
            let midnight = day.and_hms_opt(0, 0, 0).expect("midnight");
            match midnight.and_local_timezone(job.actor.zone()).earliest() {
                Some(t) => t.with_timezone(&chrono::Utc),
                None => midnight.and_utc(),
            }
        }
    };
    if when > chrono::Utc::now() {
        return Err(invalid(
            field,
            "at",
            format!("「{label}」是案件发生的时间，不能晚于现在"),
            format!("{label} is when the case happened and cannot be in the future"),
        ));
    }
    Ok(Some(when))
}

fn invalid(field: &str, rule: &str, zh: String, en: String) -> ApiError {
    ApiError::Invalid(vec![FieldError::new(
        format!("/{}", escape(field)),
        rule,
        zh,
        en,
    )])
}

/// A refusal of row `i` as row errors.
fn row_errors(job: &Job<'_>, i: usize, e: &ApiError) -> Vec<RowError> {
    match e {
        ApiError::Invalid(f) => located(job, i, f),
        other => {
            let body = other.body();
            let code = body["code"].as_str().unwrap_or("invalid").to_string();
            let msg = other.to_string();
            vec![RowError {
                row: job.sheet.rows[i].0,
                column: None,
                header: None,
                field: None,
                pointer: String::new(),
                rule: code,
                message_en: msg.clone(),
                message: msg,
            }]
        }
    }
}

/// Field errors of row `i` with the column each one is in.
fn located(job: &Job<'_>, i: usize, errs: &[FieldError]) -> Vec<RowError> {
    let row = job.sheet.rows[i].0;
    errs.iter()
        .map(|f| {
            let field = f
                .pointer
                .split('/')
                .nth(1)
                .map(|s| s.replace("~1", "/").replace("~0", "~"))
                .filter(|s| !s.is_empty());
            let at = field
                .as_deref()
                .and_then(|k| job.binding.position_of(&job.importer, k));
            RowError {
                row,
                column: at.map(column_letter),
                header: at
                    .and_then(|c| job.sheet.headers.get(c).cloned())
                    .or_else(|| field.as_deref().map(|k| job.form.label(k).to_string())),
                field,
                pointer: f.pointer.clone(),
                rule: f.rule.clone(),
                message: f.message.clone(),
                message_en: f.message_en.clone(),
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn report(
    job: &Job<'_>,
    id: &str,
    q: &ImportQuery,
    rejected: &BTreeMap<usize, Vec<RowError>>,
    accepted: usize,
    (created, updated): (usize, usize),
    imported: bool,
    ignored: &[String],
) -> Value {
    let errors: Vec<&RowError> = rejected.values().flatten().collect();
    json!({
        "id": id,
        "form": job.form.key,
        "template": q.template,
        "mode": q.mode.key(),
        "dry_run": q.dry_run,
        "imported": imported,
        "sheet": job.sheet.name,
        "rows": job.sheet.rows.len(),
        "accepted": accepted,
        "rejected": rejected.len(),
        "created": created,
        "updated": updated,
        "ignored_columns": ignored,
        "errors": errors.iter().take(MAX_REPORTED_ERRORS).collect::<Vec<_>>(),
        "errors_truncated": errors.len() > MAX_REPORTED_ERRORS,
        "errors_url": (!rejected.is_empty()).then(|| format!("/api/v1/imports/{id}/errors.xlsx")),
    })
}

/// The error workbook of the rejected rows; None when none was.
fn errors_workbook(
    job: &Job<'_>,
    rejected: &BTreeMap<usize, Vec<RowError>>,
) -> ApiResult<Option<Vec<u8>>> {
    if rejected.is_empty() {
        return Ok(None);
    }
    let rows: Vec<(usize, String)> = rejected
        .iter()
        .map(|(i, errs)| {
            let reasons: Vec<String> = errs
                .iter()
                .map(|e| match (&e.column, &e.header) {
                    (Some(c), Some(h)) => format!("{c}列「{h}」：{}", e.message),
                    (None, Some(h)) => format!("「{h}」：{}", e.message),
                    _ => e.message.clone(),
                })
                .collect();
            (*i, reasons.join("；"))
        })
        .collect();
    let bytes = spreadsheet::error_workbook(&job.sheet, &rows).map_err(anyhow::Error::from)?;
    Ok(Some(bytes))
}

/// The error workbook sealed with the tenant's key for keeping with import `id`.
async fn seal_errors(job: &Job<'_>, id: &str, errors: Option<&[u8]>) -> ApiResult<Option<String>> {
    let Some(bytes) = errors else { return Ok(None) };
    let keys = job.app.keys.tenant(&job.app.db, job.actor.tenant()).await?;
    Ok(Some(keys.seal(
        &import_aad(job.actor.tenant(), id),
        &BASE64.encode(bytes),
    )))
}

#[allow(clippy::too_many_arguments)]
async fn keep(
    tx: &mut crate::store::Tx,
    job: &Job<'_>,
    id: &str,
    q: &ImportQuery,
    imported: bool,
    report: &Value,
    errors: Option<&str>,
) -> ApiResult<()> {
    let at = now();
    let row = imports::ImportRow {
        id,
        form: &job.form.key,
        template: q.template.as_deref(),
        user_id: &job.actor.user.user_id,
        mode: q.mode.key(),
        dry_run: q.dry_run,
        imported,
        report,
        errors_xlsx: errors,
        at: &at,
    };
    imports::insert(tx, job.actor.tenant(), &row).await?;
    Ok(())
}
