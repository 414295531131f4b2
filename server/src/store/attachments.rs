//! Attachment rows: what was uploaded, by whom, for which form field, and — once a record
//! is saved with its id — which record it belongs to.
//!
//! A row is written only after its file is complete in [`crate::storage`]. `record_id` goes
//! from null to a record exactly once ([`link`]), in that record's write transaction; an
//! attachment is deleted only while it is still unattached ([`delete_unattached`]).

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{Db, Tx};

/// One attachment as stored.
#[derive(Debug, Clone)]
pub struct AttachmentRow {
    /// Attachment id (a UUID).
    pub id: String,
    /// The form it was uploaded for.
    pub form_key: String,
    /// The attachment field of that form.
    pub field: String,
    /// The record it belongs to; None until a record is saved with it.
    pub record_id: Option<String>,
    /// File name as the uploader gave it (sanitised).
    pub file_name: String,
    /// Size in bytes.
    pub size: i64,
    /// MIME type detected from the content.
    pub content_type: String,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// User id of the uploader.
    pub uploaded_by: String,
    /// When (ISO 8601 UTC).
    pub created_at: String,
}

const COLUMNS: &str = "attachment_id, form_key, field, record_id, file_name, size, content_type, sha256, uploaded_by, created_at";

fn row_to_attachment(r: &AnyRow) -> sqlx::Result<AttachmentRow> {
    Ok(AttachmentRow {
        id: r.try_get("attachment_id")?,
        form_key: r.try_get("form_key")?,
        field: r.try_get("field")?,
        record_id: r.try_get("record_id")?,
        file_name: r.try_get("file_name")?,
        size: r.try_get("size")?,
        content_type: r.try_get("content_type")?,
        sha256: r.try_get("sha256")?,
        uploaded_by: r.try_get("uploaded_by")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Inserts a new, unattached attachment.
pub async fn insert(tx: &mut Tx, tenant: &str, a: &AttachmentRow) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "insert into attachments (tenant_id, {COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(tenant)
    .bind(&a.id)
    .bind(&a.form_key)
    .bind(&a.field)
    .bind(a.record_id.as_deref())
    .bind(&a.file_name)
    .bind(a.size)
    .bind(&a.content_type)
    .bind(&a.sha256)
    .bind(&a.uploaded_by)
    .bind(&a.created_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// One attachment of the tenant, whoever uploaded it; the caller decides who may see it.
pub async fn get(db: &Db, tenant: &str, id: &str) -> sqlx::Result<Option<AttachmentRow>> {
    let row = sqlx::query(&format!(
        "select {COLUMNS} from attachments where tenant_id = $1 and attachment_id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(row_to_attachment).transpose()
}

/// Makes the attachment belong to `record_id`. True when it now does; false when it is gone
/// or already belongs to another record (a concurrent writer claimed it first).
pub async fn link(tx: &mut Tx, tenant: &str, id: &str, record_id: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update attachments set record_id = $1 \
         where tenant_id = $2 and attachment_id = $3 and (record_id is null or record_id = $4)",
    )
    .bind(record_id)
    .bind(tenant)
    .bind(id)
    .bind(record_id)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the row of an attachment that belongs to no record yet and was uploaded by
/// `user_id`; false when there is no such row.
pub async fn delete_unattached(
    tx: &mut Tx,
    tenant: &str,
    id: &str,
    user_id: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "delete from attachments \
         where tenant_id = $1 and attachment_id = $2 and record_id is null and uploaded_by = $3",
    )
    .bind(tenant)
    .bind(id)
    .bind(user_id)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}
