//! Typed views: what a command answers, serialised as it is by the API and rendered by the
//! pages from the same struct.

use serde::Serialize;
use serde_json::Value;

/// One record as a reader sees it: data with hidden fields left out and sensitive values
/// masked unless their role may unmask, and what they may do with it now.
#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    /// The record's id.
    pub id: String,
    /// Its form.
    pub form: String,
    /// The form version it was written with.
    pub form_version: i64,
    /// Its workflow state.
    pub state: String,
    /// The state's label.
    pub state_label: String,
    /// The record in one line (`HZ-2026-000001 · 王小明 · …`).
    pub summary: String,
    /// Its number (申请编号), when it has one.
    pub number: Option<String>,
    /// The data as the reader may read it.
    pub data: Value,
    /// The row version an edit must name.
    pub version: i64,
    /// Workflow actions the reader may fire now.
    pub actions: Vec<String>,
    /// Whether the reader may edit it now.
    pub editable: bool,
    /// Who created it.
    pub owner_id: String,
    /// The org path it belongs to.
    pub org_path: String,
    /// When it was created (ISO 8601, UTC).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// `created_at` in the tenant's zone, for people (`2026-12-07 14:41`).
    pub created_at_text: String,
    /// `updated_at` likewise.
    pub updated_at_text: String,
}
