//! Export jobs: large exports running in the background, their progress and their files.

use serde::Serialize;
use sqlx::Row;

use super::{Db, Tx};

/// A job as its owner sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ExportJob {
    /// Its id.
    pub id: String,
    /// Who started it.
    #[serde(skip)]
    pub user_id: String,
    /// The list exported.
    pub list: String,
    /// `xlsx` or `csv`.
    pub format: String,
    /// The request's query (filters, sort, template, columns).
    pub query: String,
    /// `running`, `cancelling`, `done`, `failed`, `cancelled` or `expired`.
    pub status: String,
    /// Rows the export selects.
    pub rows_total: i64,
    /// Rows written so far.
    pub rows_done: i64,
    /// File name of the finished file.
    pub file_name: Option<String>,
    /// Its size in bytes.
    pub file_size: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// Started at.
    pub created_at: String,
    /// Finished at.
    pub finished_at: Option<String>,
    /// When the file is deleted.
    pub expires_at: Option<String>,
}

const COLUMNS: &str = "job_id, user_id, list_key, format, query, status, rows_total, rows_done, file_name, file_size, error, created_at, finished_at, expires_at";

fn job(r: &sqlx::any::AnyRow) -> sqlx::Result<ExportJob> {
    Ok(ExportJob {
        id: r.try_get("job_id")?,
        user_id: r.try_get("user_id")?,
        list: r.try_get("list_key")?,
        format: r.try_get("format")?,
        query: r.try_get("query")?,
        status: r.try_get("status")?,
        rows_total: r.try_get("rows_total")?,
        rows_done: r.try_get("rows_done")?,
        file_name: r.try_get("file_name")?,
        file_size: r.try_get("file_size")?,
        error: r.try_get("error")?,
        created_at: r.try_get("created_at")?,
        finished_at: r.try_get("finished_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

/// Records a new running job.
pub async fn create(tx: &mut Tx, tenant: &str, j: &ExportJob) -> sqlx::Result<()> {
    sqlx::query(
        "insert into export_jobs (tenant_id, job_id, user_id, list_key, format, query, status, rows_total, rows_done, created_at, heartbeat_at) \
         values ($1, $2, $3, $4, $5, $6, 'running', $7, 0, $8, $8)",
    )
    .bind(tenant)
    .bind(&j.id)
    .bind(&j.user_id)
    .bind(&j.list)
    .bind(&j.format)
    .bind(&j.query)
    .bind(j.rows_total)
    .bind(&j.created_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// One job of the tenant.
pub async fn get(db: &Db, tenant: &str, id: &str) -> sqlx::Result<Option<ExportJob>> {
    let r = sqlx::query(&format!(
        "select {COLUMNS} from export_jobs where tenant_id = $1 and job_id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    r.as_ref().map(job).transpose()
}

/// A user's jobs, newest first (at most 50).
pub async fn of_user(db: &Db, tenant: &str, user_id: &str) -> sqlx::Result<Vec<ExportJob>> {
    let rows = sqlx::query(&format!(
        "select {COLUMNS} from export_jobs where tenant_id = $1 and user_id = $2 order by created_at desc, job_id desc limit 50"
    ))
    .bind(tenant)
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(job).collect()
}

/// Stores progress and the heartbeat of a running job; answers its status (a user may have
/// asked to cancel it meanwhile).
pub async fn beat(db: &Db, tenant: &str, id: &str, rows: i64, at: &str) -> sqlx::Result<String> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "update export_jobs set rows_done = $3, heartbeat_at = $4 where tenant_id = $1 and job_id = $2",
    )
    .bind(tenant)
    .bind(id)
    .bind(rows)
    .bind(at)
    .execute(tx.conn())
    .await?;
    let status: String =
        sqlx::query("select status from export_jobs where tenant_id = $1 and job_id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_one(tx.conn())
            .await?
            .try_get("status")?;
    tx.commit().await?;
    Ok(status)
}

/// How a job ended.
pub struct Outcome<'a> {
    /// `done`, `failed` or `cancelled`.
    pub status: &'a str,
    /// Rows written.
    pub rows: i64,
    /// The file, when done.
    pub file: Option<(&'a str, i64)>,
    /// Why it failed.
    pub error: Option<&'a str>,
    /// When it ended.
    pub at: &'a str,
    /// When its file is deleted.
    pub expires_at: Option<&'a str>,
}

/// Records how a job ended.
pub async fn finish(db: &Db, tenant: &str, id: &str, o: &Outcome<'_>) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "update export_jobs set status = $3, rows_done = $4, file_name = $5, file_size = $6, error = $7, finished_at = $8, heartbeat_at = $8, expires_at = $9 \
         where tenant_id = $1 and job_id = $2",
    )
    .bind(tenant)
    .bind(id)
    .bind(o.status)
    .bind(o.rows)
    .bind(o.file.map(|f| f.0))
    .bind(o.file.map(|f| f.1))
    .bind(o.error)
    .bind(o.at)
    .bind(o.expires_at)
    .execute(tx.conn())
    .await?;
    tx.commit().await
}

/// Asks a running job to stop; false when it is not running.
pub async fn cancel(db: &Db, tenant: &str, id: &str) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let n = sqlx::query(
        "update export_jobs set status = 'cancelling' where tenant_id = $1 and job_id = $2 and status = 'running'",
    )
    .bind(tenant)
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n == 1)
}

/// Marks a finished job's file gone (expired, or deleted by its owner).
pub async fn expire(db: &Db, tenant: &str, id: &str) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "update export_jobs set status = 'expired', file_name = null where tenant_id = $1 and job_id = $2",
    )
    .bind(tenant)
    .bind(id)
    .execute(tx.conn())
    .await?;
    tx.commit().await
}

/// Finished jobs whose files are due for deletion, across tenants: (tenant, job, file).
pub async fn due_for_deletion(db: &Db, now: &str) -> sqlx::Result<Vec<(String, String, String)>> {
    let rows = sqlx::query(
        "select tenant_id, job_id, file_name from export_jobs where status = 'done' and expires_at <= $1 and file_name is not null limit 100",
    )
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("tenant_id")?,
                r.try_get("job_id")?,
                r.try_get("file_name")?,
            ))
        })
        .collect()
}

/// Marks running jobs whose server stopped beating before `stale` as failed.
pub async fn fail_abandoned(db: &Db, stale: &str, now: &str) -> sqlx::Result<u64> {
    let mut tx = db.begin().await?;
    let n = sqlx::query(
        "update export_jobs set status = 'failed', error = 'the server running the export stopped', finished_at = $2 \
         where status in ('running', 'cancelling') and heartbeat_at < $1",
    )
    .bind(stale)
    .bind(now)
    .execute(tx.conn())
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n)
}

/// A user's own export columns for a list.
#[derive(Debug, Clone, Serialize)]
pub struct Personal {
    /// Its id (`template=mine:<id>`).
    pub id: String,
    /// The list.
    pub list: String,
    /// Its name.
    pub name: String,
    /// The fields, in order.
    pub columns: Vec<String>,
    /// Saved at.
    pub created_at: String,
}

fn personal(r: &sqlx::any::AnyRow) -> anyhow::Result<Personal> {
    Ok(Personal {
        id: r.try_get("template_id")?,
        list: r.try_get("list_key")?,
        name: r.try_get("name")?,
        columns: serde_json::from_str(&r.try_get::<String, _>("columns")?)?,
        created_at: r.try_get("created_at")?,
    })
}

/// Saves a user's template; false when they already have one of that name for the list.
pub async fn save_personal(
    tx: &mut Tx,
    tenant: &str,
    user_id: &str,
    p: &Personal,
) -> anyhow::Result<bool> {
    let n = sqlx::query(
        "insert into personal_export_templates (tenant_id, template_id, user_id, list_key, name, columns, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (tenant_id, user_id, list_key, name) do nothing",
    )
    .bind(tenant)
    .bind(&p.id)
    .bind(user_id)
    .bind(&p.list)
    .bind(&p.name)
    .bind(serde_json::to_string(&p.columns)?)
    .bind(&p.created_at)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A user's templates for a list, by name.
pub async fn personal_of(
    db: &Db,
    tenant: &str,
    user_id: &str,
    list: &str,
) -> anyhow::Result<Vec<Personal>> {
    let rows = sqlx::query(
        "select template_id, list_key, name, columns, created_at from personal_export_templates \
         where tenant_id = $1 and user_id = $2 and list_key = $3 order by name",
    )
    .bind(tenant)
    .bind(user_id)
    .bind(list)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(personal).collect()
}

/// Deletes one of a user's templates; false when they have none with that id.
pub async fn delete_personal(
    tx: &mut Tx,
    tenant: &str,
    user_id: &str,
    id: &str,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "delete from personal_export_templates where tenant_id = $1 and user_id = $2 and template_id = $3",
    )
    .bind(tenant)
    .bind(user_id)
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}
