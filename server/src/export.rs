//! Exports: a list's records, in the reader's scope and with their filters, laid out by an
//! export template and written as `.xlsx` (rust_xlsxwriter in constant-memory mode) or CSV.
//!
//! Rows flow from the database cursor through a bounded channel to the writer, which runs on
//! a blocking thread and keeps one row in memory: memory does not grow with the row count.
//! Small exports are answered directly; larger ones run as jobs (see [`crate::change::exports`]).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use form_runtime::export::{Cell, ExportTemplate, Row, Totals};
use form_runtime::form::CompiledForm;
use form_runtime::list::{CompiledList, ListQuery};
use rust_xlsxwriter::{ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet};
use serde_json::Value;

use crate::change::sensitive;
use crate::state::AppState;
use crate::store::records::{self, RecordRow, Viewer};

/// Excel's row limit per sheet; an export that overflows continues on a new sheet.
const EXCEL_MAX_ROWS: u32 = 1_048_576;

/// The file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Office Open XML workbook.
    Xlsx,
    /// Comma-separated UTF-8 text with a byte-order mark (Excel opens it as UTF-8).
    Csv,
}

impl FileFormat {
    /// Parses `xlsx` or `csv`.
    pub fn parse(s: &str) -> Option<FileFormat> {
        match s {
            "xlsx" => Some(FileFormat::Xlsx),
            "csv" => Some(FileFormat::Csv),
            _ => None,
        }
    }

    /// The file name extension.
    pub fn ext(self) -> &'static str {
        match self {
            FileFormat::Xlsx => "xlsx",
            FileFormat::Csv => "csv",
        }
    }

    /// The content type.
    pub fn content_type(self) -> &'static str {
        match self {
            FileFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            FileFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// Everything an export needs, checked.
pub struct ExportPlan {
    /// Tenant.
    pub tenant: String,
    /// The reader's roles (hidden fields).
    pub roles: Vec<String>,
    /// The list whose filters and order apply.
    pub list: Arc<CompiledList>,
    /// The form at its latest version (labels of states).
    pub form: Arc<CompiledForm>,
    /// The layout.
    pub template: Arc<ExportTemplate>,
    /// Filters and sort.
    pub query: ListQuery,
    /// The reader's scope.
    pub viewer: Viewer,
    /// Which sensitive values are exported in clear (what the reader may unmask).
    pub clear: crate::change::sensitive::Clear,
    /// xlsx or csv.
    pub format: FileFormat,
    /// The reader's zone: date-time cells hold its wall-clock time (Excel has no zones).
    pub zone: chrono_tz::Tz,
}

/// Progress shared between the export and whoever watches it.
#[derive(Default)]
pub struct Progress {
    /// Rows written so far.
    pub rows: AtomicU64,
    /// Set to stop the export at the next row.
    pub cancel: AtomicBool,
}

/// A prepared row: data as the reader may see it, and the system columns.
struct Prepared {
    data: Value,
    system: BTreeMap<&'static str, String>,
}

/// Writes the export to `path`; returns the number of rows. A cancelled export is an error
/// (`cancelled`), and leaves no file.
pub async fn write(
    app: &AppState,
    plan: ExportPlan,
    path: &Path,
    progress: Arc<Progress>,
) -> anyhow::Result<u64> {
    let (row_tx, mut row_rx) = tokio::sync::mpsc::channel::<RecordRow>(512);
    let (cell_tx, cell_rx) = std::sync::mpsc::sync_channel::<Prepared>(512);
    let plan = Arc::new(plan);

    // 1. The database cursor.
    let reader = {
        let (app, plan) = (app.clone(), plan.clone());
        tokio::spawn(async move {
            records::list_stream(
                &app.db,
                &plan.tenant,
                &plan.list,
                &plan.query,
                &plan.viewer,
                row_tx,
            )
            .await
        })
    };
    // 2. The writer, on a blocking thread.
    let writer = {
        let (plan, path, progress) = (plan.clone(), path.to_path_buf(), progress.clone());
        tokio::task::spawn_blocking(move || match plan.format {
            FileFormat::Xlsx => write_xlsx(&plan, &path, cell_rx, &progress),
            FileFormat::Csv => write_csv(&plan, &path, cell_rx, &progress),
        })
    };
    // 3. In between: open sensitive values, drop hidden fields, mask.
    let keys = app.keys.tenant(&app.db, &plan.tenant).await?;
    let mut paths = HashMap::new();
    let wanted: Option<Vec<String>> = (!plan.template.has_expressions()).then(|| {
        let mut f: Vec<String> = plan
            .template
            .fields()
            .into_iter()
            .map(str::to_string)
            .collect();
        if let Some(s) = &plan.template.def.sheet_per {
            f.push(s.clone());
        }
        f
    });
    let mut failed = None;
    while let Some(r) = row_rx.recv().await {
        if progress.cancel.load(Ordering::Relaxed) {
            break;
        }
        let p = match prepare(app, &plan, &keys, &mut paths, wanted.as_deref(), r).await {
            Ok(p) => p,
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        if cell_tx.send(p).is_err() {
            break; // the writer stopped: its error tells why
        }
    }
    drop(cell_tx);
    drop(row_rx);
    let written = writer.await.context("the export writer panicked")?;
    let read = reader.await.context("the export reader panicked")?;
    if let Some(e) = failed {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    if progress.cancel.load(Ordering::Relaxed) {
        let _ = std::fs::remove_file(path);
        anyhow::bail!("cancelled");
    }
    read?;
    match written {
        Ok(n) => Ok(n),
        Err(e) => {
            let _ = std::fs::remove_file(path);
            Err(e)
        }
    }
}

async fn prepare(
    app: &AppState,
    plan: &ExportPlan,
    keys: &crate::crypto::TenantKeys,
    paths: &mut HashMap<i64, Vec<form_runtime::sensitive::SensitivePath>>,
    wanted: Option<&[String]>,
    r: RecordRow,
) -> anyhow::Result<Prepared> {
    if let std::collections::hash_map::Entry::Vacant(slot) = paths.entry(r.form_version) {
        let own = app
            .catalog
            .form(&app.db, &plan.tenant, &r.form_key, Some(r.form_version))
            .await?
            .ok_or_else(|| {
                anyhow::anyhow!("record {} has no form version {}", r.id, r.form_version)
            })?;
        slot.insert(sensitive::paths(&own));
    }
    let p = paths.get(&r.form_version).map_or(&[][..], Vec::as_slice);
    let mut data = match wanted {
        Some(fields) => Value::Object(
            fields
                .iter()
                .filter_map(|f| r.data.get(f).map(|v| (f.clone(), v.clone())))
                .collect(),
        ),
        None => r.data,
    };
    plan.form
        .workflow
        .strip_hidden(&r.state, &plan.roles, &mut data);
    if !p.is_empty() {
        data = sensitive::open_with(keys, p, &plan.tenant, &r.form_key, &r.id, data)
            .map_err(|e| anyhow::anyhow!("record {}: {e:?}", r.id))?;
    }
    let data = sensitive::reading(p, &plan.clear, data).data;
    let system = BTreeMap::from([
        ("id", r.id),
        (
            "state",
            plan.form.workflow.state_label(&r.state).to_string(),
        ),
        ("created_at", r.created_at),
        ("updated_at", r.updated_at),
    ]);
    Ok(Prepared { data, system })
}

/// One sheet being written.
struct Sheet {
    index: usize,
    next_row: u32,
    totals: Totals,
}

fn write_xlsx(
    plan: &ExportPlan,
    path: &Path,
    rows: std::sync::mpsc::Receiver<Prepared>,
    progress: &Progress,
) -> anyhow::Result<u64> {
    let t = &plan.template;
    let mut wb = Workbook::new();
    if let Some(dir) = path.parent() {
        wb.set_tempdir(dir)?;
    }
    let header = Format::new()
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_text_wrap()
        .set_border(FormatBorder::Thin)
        .set_background_color("#DDEBF7");
    let title = Format::new()
        .set_bold()
        .set_font_size(14)
        .set_align(FormatAlign::Center);
    let bold = Format::new().set_bold();
    let formats: Vec<Option<Format>> = t
        .leaves
        .iter()
        .map(|l| l.format.as_ref().map(|f| Format::new().set_num_format(f)))
        .collect();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let datetime = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let top = u32::from(t.def.title.is_some());
    let first_data = top + t.header_rows;

    let mut sheets: Vec<Sheet> = Vec::new();
    let mut by_group: HashMap<String, usize> = HashMap::new();
    let mut names: Vec<String> = Vec::new();
    let mut count = 0u64;

    let new_sheet =
        |wb: &mut Workbook, name: &str, names: &mut Vec<String>| -> anyhow::Result<Sheet> {
            let index = names.len();
            let ws = wb.add_worksheet_with_constant_memory()?;
            let name = unique_sheet_name(name, names);
            ws.set_name(&name)?;
            names.push(name);
            write_head(ws, plan, &header, &title, top)?;
            Ok(Sheet {
                index,
                next_row: first_data,
                totals: Totals::default(),
            })
        };

    for p in rows {
        if progress.cancel.load(Ordering::Relaxed) {
            anyhow::bail!("cancelled");
        }
        let row = Row {
            data: &p.data,
            system: &p.system,
            zone: plan.zone,
        };
        let group = t
            .sheet_of(&row)
            .unwrap_or_else(|| plan.template.def.label.clone());
        let mut at = match by_group.get(&group) {
            Some(i) => *i,
            None => {
                let s = new_sheet(&mut wb, &group, &mut names)?;
                sheets.push(s);
                by_group.insert(group.clone(), sheets.len() - 1);
                sheets.len() - 1
            }
        };
        // A full sheet continues on a new one with the same headers.
        if sheets[at].next_row >= EXCEL_MAX_ROWS - 1 {
            let s = new_sheet(&mut wb, &format!("{group} (续)"), &mut names)?;
            sheets.push(s);
            at = sheets.len() - 1;
            by_group.insert(group, at);
        }
        let cells = t.cells(&row);
        let sheet = &mut sheets[at];
        let ws = wb.worksheet_from_index(sheet.index)?;
        for (c, cell) in cells.iter().enumerate() {
            let col = c as u16;
            let r = sheet.next_row;
            match cell {
                Cell::Empty => {}
                Cell::Text(s) => {
                    ws.write_string(r, col, s)?;
                }
                Cell::Number(n) => match &formats[c] {
                    Some(f) => {
                        ws.write_number_with_format(r, col, *n, f)?;
                    }
                    None => {
                        ws.write_number(r, col, *n)?;
                    }
                },
                Cell::Bool(b) => {
                    ws.write_string(r, col, if *b { "是" } else { "否" })?;
                }
                Cell::Date(d) => {
                    let x = excel_date(d)?;
                    ws.write_datetime_with_format(
                        r,
                        col,
                        &x,
                        formats[c].as_ref().unwrap_or(&date),
                    )?;
                }
                Cell::DateTime(dt) => {
                    use chrono::Timelike;
                    let x = excel_date(&dt.date())?.and_hms(
                        dt.hour() as u16,
                        dt.minute() as u8,
                        f64::from(dt.second()),
                    )?;
                    ws.write_datetime_with_format(
                        r,
                        col,
                        &x,
                        formats[c].as_ref().unwrap_or(&datetime),
                    )?;
                }
            }
        }
        sheet.totals.add(&cells);
        sheet.next_row += 1;
        count += 1;
        if count.is_multiple_of(256) {
            progress.rows.store(count, Ordering::Relaxed);
        }
    }
    if sheets.is_empty() {
        let s = new_sheet(&mut wb, &plan.template.def.label, &mut names)?;
        sheets.push(s);
    }
    if let Some(label) = &t.def.footer {
        for s in &sheets {
            let ws = wb.worksheet_from_index(s.index)?;
            ws.write_string_with_format(s.next_row, 0, label, &bold)?;
            for (i, l) in t.leaves.iter().enumerate() {
                if let (Some(total), true) = (l.total, i > 0) {
                    if let Cell::Number(n) = s.totals.value(i, total) {
                        let f = formats[i].clone().unwrap_or_default().set_bold();
                        ws.write_number_with_format(s.next_row, i as u16, n, &f)?;
                    }
                }
            }
        }
    }
    progress.rows.store(count, Ordering::Relaxed);
    wb.save(path)?;
    Ok(count)
}

fn excel_date(d: &chrono::NaiveDate) -> anyhow::Result<ExcelDateTime> {
    use chrono::Datelike;
    Ok(ExcelDateTime::from_ymd(
        d.year() as u16,
        d.month() as u8,
        d.day() as u8,
    )?)
}

/// Title, header rows with their merges, widths and frozen panes of a new sheet.
fn write_head(
    ws: &mut Worksheet,
    plan: &ExportPlan,
    header: &Format,
    title: &Format,
    top: u32,
) -> anyhow::Result<()> {
    let t = &plan.template;
    let last_col = (t.leaves.len().max(1) - 1) as u16;
    for (i, l) in t.leaves.iter().enumerate() {
        let w = l
            .width
            .unwrap_or_else(|| (display_width(&l.header) as f64 + 2.0).clamp(8.0, 40.0));
        ws.set_column_width(i as u16, w)?;
    }
    if let Some(text) = &t.def.title {
        if last_col > 0 {
            ws.merge_range(0, 0, 0, last_col, text, title)?;
        } else {
            ws.write_string_with_format(0, 0, text, title)?;
        }
    }
    let mut cells = t.headers.clone();
    cells.sort_by_key(|h| (h.row, h.col));
    for h in cells {
        let (r0, r1) = (top + h.row, top + h.last_row);
        if r0 == r1 && h.col == h.last_col {
            ws.write_string_with_format(r0, h.col, &h.text, header)?;
        } else {
            ws.merge_range(r0, h.col, r1, h.last_col, &h.text, header)?;
        }
    }
    if t.def.freeze {
        ws.set_freeze_panes(top + t.header_rows, 0)?;
    }
    Ok(())
}

/// Roughly how many Excel character widths a text takes (CJK characters take two).
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

/// A sheet name Excel accepts (≤ 31 characters, none of `[]:*?/\`), unique in the book.
fn unique_sheet_name(name: &str, taken: &[String]) -> String {
    let clean: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(28)
        .collect();
    let clean = if clean.trim().is_empty() {
        "Sheet".to_string()
    } else {
        clean
    };
    let mut candidate = clean.clone();
    let mut n = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&candidate)) {
        candidate = format!("{clean}{n}");
        n += 1;
    }
    candidate
}

fn write_csv(
    plan: &ExportPlan,
    path: &Path,
    rows: std::sync::mpsc::Receiver<Prepared>,
    progress: &Progress,
) -> anyhow::Result<u64> {
    let t = &plan.template;
    let file = std::fs::File::create(path)?;
    let mut w = std::io::BufWriter::new(file);
    w.write_all(b"\xEF\xBB\xBF")?;
    let headers: Vec<String> = t.leaves.iter().map(|l| l.header.clone()).collect();
    write_csv_line(&mut w, &headers)?;
    let mut totals = Totals::default();
    let mut count = 0u64;
    for p in rows {
        if progress.cancel.load(Ordering::Relaxed) {
            anyhow::bail!("cancelled");
        }
        let cells = t.cells(&Row {
            data: &p.data,
            system: &p.system,
            zone: plan.zone,
        });
        let line: Vec<String> = cells.iter().map(Cell::text).collect();
        write_csv_line(&mut w, &line)?;
        totals.add(&cells);
        count += 1;
        if count.is_multiple_of(256) {
            progress.rows.store(count, Ordering::Relaxed);
        }
    }
    if let Some(label) = &t.def.footer {
        let line: Vec<String> = t
            .leaves
            .iter()
            .enumerate()
            .map(|(i, l)| match (i, l.total) {
                (0, _) => label.clone(),
                (_, Some(total)) => totals.value(i, total).text(),
                _ => String::new(),
            })
            .collect();
        write_csv_line(&mut w, &line)?;
    }
    w.flush()?;
    progress.rows.store(count, Ordering::Relaxed);
    Ok(count)
}

/// One CSV line: fields quoted when needed; a text that a spreadsheet would take for a
/// formula (`=`, `+`, `-`, `@` first) is prefixed with `'` so it stays text.
fn write_csv_line(w: &mut impl Write, fields: &[String]) -> std::io::Result<()> {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        let risky =
            f.starts_with(['=', '+', '@']) || (f.starts_with('-') && f.parse::<f64>().is_err());
        let f = if risky { format!("'{f}") } else { f.clone() };
        if f.contains([',', '"', '\n', '\r']) {
            write!(w, "\"{}\"", f.replace('"', "\"\""))?;
        } else {
            w.write_all(f.as_bytes())?;
        }
    }
    w.write_all(b"\r\n")
}

/// Where export files live: `DATA_DIR/exports/<tenant>/`.
pub fn dir(data_dir: &Path, tenant: &str) -> PathBuf {
    data_dir.join("exports").join(tenant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let mut out = Vec::new();
        write_csv_line(
            &mut out,
            &[
                "a,b".into(),
                "=1+2".into(),
                "say \"hi\"".into(),
                "-5".into(),
                "-x".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a,b\",'=1+2,\"say \"\"hi\"\"\",-5,'-x\r\n"
        );
    }

    #[test]
    fn sheet_names_are_short_clean_and_unique() {
        let taken = vec!["浦东新区".to_string()];
        assert_eq!(unique_sheet_name("浦东新区", &taken), "浦东新区2");
        assert_eq!(unique_sheet_name("a/b:c", &[]), "a_b_c");
        assert_eq!(unique_sheet_name(&"长".repeat(40), &[]).chars().count(), 28);
    }
}
