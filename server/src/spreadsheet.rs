//! Excel workbooks in and out: an uploaded `.xlsx` or `.xls` read into rows of cells, and the
//! workbooks the server hands out (the error workbook of an import, an empty import
//! template).
//!
//! The one thing to know: an upload is hostile until proven otherwise. It is recognised by
//! its magic bytes, never its name; an `.xlsx`'s zip directory is inspected and every entry
//! inflated into a counter (stopping at the declared size and the total limit) before the
//! workbook reader sees it; the sheet is streamed cell by cell and reading stops at the row,
//! column and cell limits. Formulas are read as the values Excel cached — never evaluated.

use std::io::{Cursor, Read};

use calamine::{DataRef, Reader, Xls, Xlsx};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use form_runtime::import::{Cell, ColumnHelp};
use rust_xlsxwriter::{DataValidation, Format, Formula, Workbook, XlsxError};

/// Largest workbook an import accepts, in bytes (the request body is cut off there).
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;
/// Most data rows (below the header row) an import reads.
pub const MAX_ROWS: usize = 200_000;
/// Most columns an import reads.
pub const MAX_COLUMNS: usize = 200;
/// Most non-empty cells an import reads: what bounds the memory of one import.
pub const MAX_CELLS: usize = 6_000_000;
/// Most bytes the parts of an `.xlsx` may inflate to, together.
pub const MAX_INFLATED_BYTES: u64 = 400 * 1024 * 1024;
/// Highest compression ratio of one part larger than [`RATIO_FLOOR`]; real sheets stay far
/// below it, a zip bomb far above.
pub const MAX_RATIO: u64 = 200;
/// Parts up to this size may have any ratio (an empty sheet compresses very well).
pub const RATIO_FLOOR: u64 = 1024 * 1024;
/// Most parts an `.xlsx` may have.
pub const MAX_ENTRIES: usize = 10_000;

const XLSX_MAGIC: &[u8] = b"PK\x03\x04";
const XLS_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Why a workbook was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Machine-readable reason: `not_a_workbook`, `zip_bomb`, `too_many_rows`,
    /// `too_many_columns`, `too_many_cells`, `no_sheet`, `unreadable`.
    pub rule: &'static str,
    /// In Chinese.
    pub message: String,
    /// In English.
    pub message_en: String,
}

fn refuse(rule: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Refusal {
    Refusal {
        rule,
        message: zh.into(),
        message_en: en.into(),
    }
}

/// One worksheet as read: the header row and the rows below it that hold anything.
#[derive(Debug, Clone)]
pub struct Sheet {
    /// The worksheet's name.
    pub name: String,
    /// The header row's cells as text.
    pub headers: Vec<String>,
    /// Data rows: (row number as Excel shows it, cells from column A).
    pub rows: Vec<(u32, Vec<Cell>)>,
}

/// Reads the worksheet `sheet` (default: the first) of an `.xlsx` or `.xls` file.
pub fn read(bytes: &[u8], sheet: Option<&str>) -> Result<Sheet, Refusal> {
    if bytes.starts_with(XLSX_MAGIC) {
        inspect_zip(bytes)?;
        let mut book = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
        let name = pick(book.sheet_names(), sheet)?;
        let mut cells = book.worksheet_cells_reader(&name).map_err(unreadable)?;
        let mut rows = Rows::default();
        while let Some(c) = cells.next_cell().map_err(unreadable)? {
            rows.push(c.get_position(), cell(c.get_value()))?;
        }
        rows.finish(name)
    } else if bytes.starts_with(XLS_MAGIC) {
        let mut book = Xls::new(Cursor::new(bytes)).map_err(unreadable)?;
        let name = pick(book.sheet_names(), sheet)?;
        // The .xls format itself stops at 65,536 rows and 256 columns; the limits below
        // apply as for .xlsx.
        let range = book.worksheet_range(&name).map_err(unreadable)?;
        let (r0, c0) = range.start().unwrap_or((0, 0));
        let mut rows = Rows::default();
        for (r, row) in range.rows().enumerate() {
            for (c, v) in row.iter().enumerate() {
                rows.push((r0 + r as u32, c0 + c as u32), cell_owned(v))?;
            }
        }
        rows.finish(name)
    } else {
        Err(refuse(
            "not_a_workbook",
            "文件不是 Excel 工作簿（.xlsx 或 .xls）",
            "the file is not an Excel workbook (.xlsx or .xls)",
        ))
    }
}

fn unreadable(e: impl std::fmt::Display) -> Refusal {
    refuse(
        "unreadable",
        format!("无法读取 Excel 工作簿：{e}"),
        format!("the Excel workbook cannot be read: {e}"),
    )
}

fn too_many_rows() -> Refusal {
    refuse(
        "too_many_rows",
        format!("数据超过 {MAX_ROWS} 行，请分批导入"),
        format!("more than {MAX_ROWS} data rows; import them in parts"),
    )
}

fn too_many_columns() -> Refusal {
    refuse(
        "too_many_columns",
        format!("表格超过 {MAX_COLUMNS} 列"),
        format!("more than {MAX_COLUMNS} columns"),
    )
}

fn pick(names: Vec<String>, want: Option<&str>) -> Result<String, Refusal> {
    match want {
        None => names.into_iter().next().ok_or_else(|| {
            refuse(
                "no_sheet",
                "工作簿中没有工作表",
                "the workbook has no worksheet",
            )
        }),
        Some(w) => names
            .iter()
            .find(|n| n.trim() == w.trim())
            .cloned()
            .ok_or_else(|| {
                refuse(
                    "no_sheet",
                    format!("工作簿中没有工作表「{w}」（有：{}）", names.join("、")),
                    format!(
                        "the workbook has no worksheet `{w}` (it has: {})",
                        names.join(", ")
                    ),
                )
            }),
    }
}

/// Refuses an `.xlsx` whose parts would inflate beyond the limits, before any is parsed:
/// the central directory's declared sizes and ratios first, then every part inflated into a
/// counter that stops at its declared size, so a lying directory cannot slip through.
fn inspect_zip(bytes: &[u8]) -> Result<(), Refusal> {
    let bomb = |zh: String, en: String| refuse("zip_bomb", zh, en);
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(unreadable)?;
    if zip.len() > MAX_ENTRIES {
        return Err(bomb(
            format!("压缩包内文件过多（{} 个）", zip.len()),
            format!("the archive holds too many parts ({})", zip.len()),
        ));
    }
    let mut declared = Vec::with_capacity(zip.len());
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).map_err(unreadable)?;
        let (size, packed) = (f.size(), f.compressed_size().max(1));
        total = total.saturating_add(size);
        if size > RATIO_FLOOR && size / packed > MAX_RATIO {
            let name = f.name().map(|n| n.into_owned()).unwrap_or_default();
            return Err(bomb(
                format!(
                    "文件「{}」压缩比异常（{}:1），疑似压缩炸弹，已拒绝",
                    name,
                    size / packed
                ),
                format!(
                    "part `{}` has a suspicious compression ratio ({}:1): refused as a zip bomb",
                    name,
                    size / packed
                ),
            ));
        }
        declared.push(size);
    }
    let limit = |total: u64| {
        bomb(
            format!(
                "解压后超过 {} MB，疑似压缩炸弹，已拒绝",
                MAX_INFLATED_BYTES / 1024 / 1024
            ),
            format!(
                "it inflates to more than {} MB: refused as a zip bomb ({total} bytes declared)",
                MAX_INFLATED_BYTES / 1024 / 1024
            ),
        )
    };
    if total > MAX_INFLATED_BYTES {
        return Err(limit(total));
    }
    let mut budget = MAX_INFLATED_BYTES;
    for (i, size) in declared.into_iter().enumerate() {
        let f = zip.by_index(i).map_err(unreadable)?;
        let cap = size.min(budget);
        let n = std::io::copy(&mut f.take(cap + 1), &mut std::io::sink()).map_err(unreadable)?;
        if n > size {
            return Err(bomb(
                "压缩包内文件的实际大小与声明不符，已拒绝".into(),
                "a part inflates to more than its declared size: refused".into(),
            ));
        }
        budget -= n.min(budget);
    }
    Ok(())
}

/// Collects streamed cells into rows, enforcing the limits as it goes.
#[derive(Default)]
struct Rows {
    rows: Vec<(u32, Vec<Cell>)>,
    cells: usize,
}

impl Rows {
    fn push(&mut self, (r, c): (u32, u32), value: Cell) -> Result<(), Refusal> {
        if value.is_empty() {
            return Ok(());
        }
        if c as usize >= MAX_COLUMNS {
            return Err(too_many_columns());
        }
        self.cells += 1;
        if self.cells > MAX_CELLS {
            return Err(refuse(
                "too_many_cells",
                format!("表格超过 {MAX_CELLS} 个非空单元格，请分批导入"),
                format!("more than {MAX_CELLS} non-empty cells; import them in parts"),
            ));
        }
        let number = r + 1;
        if self.rows.last().is_none_or(|(n, _)| *n != number) {
            // The header row plus MAX_ROWS data rows.
            if self.rows.len() > MAX_ROWS {
                return Err(too_many_rows());
            }
            self.rows.push((number, Vec::new()));
        }
        if let Some((_, row)) = self.rows.last_mut() {
            let c = c as usize;
            if row.len() <= c {
                row.resize(c + 1, Cell::Empty);
            }
            row[c] = value;
        }
        Ok(())
    }

    fn finish(mut self, name: String) -> Result<Sheet, Refusal> {
        // Rows stream in order in every sheet Excel writes; sort for those that do not.
        self.rows.sort_by_key(|(n, _)| *n);
        let mut rows = self.rows.into_iter();
        let headers = rows
            .next()
            .map(|(_, cells)| cells.iter().map(Cell::text).collect())
            .ok_or_else(|| refuse("no_rows", "工作表是空的", "the worksheet is empty"))?;
        Ok(Sheet {
            name,
            headers,
            rows: rows.collect(),
        })
    }
}

fn cell(v: &DataRef<'_>) -> Cell {
    match v {
        DataRef::Int(i) => Cell::Number(*i as f64),
        DataRef::Float(f) => Cell::Number(*f),
        DataRef::String(s) => Cell::Text(s.clone()),
        DataRef::SharedString(s) => Cell::Text((*s).to_string()),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(d) if d.is_datetime() => {
            let (y, m, dd, h, mi, s, _) = d.to_ymd_hms_milli();
            NaiveDate::from_ymd_opt(y.into(), m.into(), dd.into())
                .and_then(|day| {
                    NaiveTime::from_hms_opt(h.into(), mi.into(), s.into())
                        .map(|t| Cell::DateTime(NaiveDateTime::new(day, t)))
                })
                .unwrap_or(Cell::Number(d.as_f64()))
        }
        DataRef::DateTime(d) => Cell::Number(d.as_f64()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::Text(s.clone()),
        DataRef::Error(e) => Cell::Error(e.to_string()),
        DataRef::Empty => Cell::Empty,
    }
}

fn cell_owned(v: &calamine::Data) -> Cell {
    use calamine::Data;
    match v {
        Data::Int(i) => cell(&DataRef::Int(*i)),
        Data::Float(f) => cell(&DataRef::Float(*f)),
        Data::String(s) => Cell::Text(s.clone()),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(d) => cell(&DataRef::DateTime(*d)),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Error(e.to_string()),
        Data::Empty => Cell::Empty,
    }
}

/// A worksheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| !"[]:*?/\\".contains(*c))
        .take(31)
        .collect();
    if clean.trim().is_empty() {
        "Sheet1".into()
    } else {
        clean
    }
}

/// The Excel serial of a date and time (1900 system).
fn serial(d: &NaiveDateTime) -> f64 {
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)
        .unwrap_or_default()
        .and_time(NaiveTime::MIN);
    (*d - base).num_milliseconds() as f64 / 86_400_000.0
}

/// The error workbook: the header row, then each rejected row as it was read (values and
/// types kept), with its row number and the reasons in two more columns.
pub fn error_workbook(sheet: &Sheet, rejected: &[(usize, String)]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let ws = book.add_worksheet();
    ws.set_name(sheet_name(&format!("{}-错误行", sheet.name)))?;
    let width = sheet.headers.len().max(
        rejected
            .iter()
            .map(|(i, _)| sheet.rows[*i].1.len())
            .max()
            .unwrap_or(0),
    );
    for (c, h) in sheet.headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, h, &bold)?;
    }
    let (row_col, reason_col) = (width as u16, width as u16 + 1);
    ws.write_string_with_format(0, row_col, "原行号", &bold)?;
    ws.write_string_with_format(0, reason_col, "错误原因", &bold)?;
    ws.set_column_width(reason_col, 60)?;
    ws.set_freeze_panes(1, 0)?;
    for (n, (i, reason)) in rejected.iter().enumerate() {
        let r = n as u32 + 1;
        let (number, cells) = &sheet.rows[*i];
        for (c, v) in cells.iter().enumerate() {
            let c = c as u16;
            match v {
                Cell::Empty => {}
                Cell::Text(s) | Cell::Error(s) => {
                    ws.write_string(r, c, s)?;
                }
                Cell::Number(x) => {
                    ws.write_number(r, c, *x)?;
                }
                Cell::Bool(b) => {
                    ws.write_boolean(r, c, *b)?;
                }
                Cell::DateTime(d) => {
                    ws.write_number_with_format(r, c, serial(d), &date)?;
                }
            }
        }
        ws.write_number(r, row_col, f64::from(*number))?;
        ws.write_string(r, reason_col, reason)?;
    }
    book.save_to_buffer()
}

/// An empty import template: the data sheet with the header row (text columns formatted as
/// text, drop-downs for choices and yes/no), a hidden `选项` sheet the drop-downs read, and
/// the `说明` sheet that explains every column.
pub fn template(sheet: &str, columns: &[ColumnHelp]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let text = Format::new().set_num_format("@");
    let last_row = MAX_ROWS as u32;
    {
        let ws = book.add_worksheet();
        ws.set_name(sheet_name(sheet))?;
        let mut list_col = 0u16;
        for (c, col) in columns.iter().enumerate() {
            let c = c as u16;
            ws.write_string_with_format(0, c, &col.header, &bold)?;
            let chars = col.header.chars().count() as f64;
            ws.set_column_width(c, (chars * 2.2).clamp(10.0, 40.0))?;
            if col.text {
                ws.set_column_format(c, &text)?;
            }
            if !col.choices.is_empty() {
                let formula = format!(
                    "=选项!${}$1:${}${}",
                    form_runtime::import::column_letter(list_col.into()),
                    form_runtime::import::column_letter(list_col.into()),
                    col.choices.len()
                );
                let v = DataValidation::new()
                    .allow_list_formula(Formula::new(formula))
                    .set_error_title("输入值无效")?
                    .set_error_message(format!("请从下拉列表中选择「{}」", col.header))?;
                ws.add_data_validation(1, c, last_row, c, &v)?;
                list_col += 1;
            }
        }
        ws.set_freeze_panes(1, 0)?;
    }
    {
        let ws = book.add_worksheet();
        ws.set_name("说明")?;
        for (c, h) in ["列", "表头", "字段", "必填", "填写要求", "可选值"]
            .iter()
            .enumerate()
        {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        for (i, col) in columns.iter().enumerate() {
            let r = i as u32 + 1;
            ws.write_string(r, 0, form_runtime::import::column_letter(i))?;
            ws.write_string(r, 1, &col.header)?;
            ws.write_string(r, 2, &col.field)?;
            ws.write_string(r, 3, col.required)?;
            ws.write_string(r, 4, &col.format)?;
            ws.write_string(r, 5, col.choices.join("、"))?;
        }
        let notes = columns.len() as u32 + 2;
        ws.write_string(notes, 0, "第一行是表头，请勿修改；从第二行起每行一条记录。")?;
        ws.write_string(
            notes + 1,
            0,
            format!(
                "每次最多导入 {MAX_ROWS} 行、{MAX_COLUMNS} 列；公式按 Excel 保存的计算结果读取。"
            ),
        )?;
        ws.set_column_width(1, 24)?;
        ws.set_column_width(4, 48)?;
        ws.set_column_width(5, 40)?;
    }
    {
        let ws = book.add_worksheet();
        ws.set_name("选项")?;
        let lists = columns.iter().filter(|c| !c.choices.is_empty());
        for (list_col, col) in lists.enumerate() {
            for (r, choice) in col.choices.iter().enumerate() {
                ws.write_string(r as u32, list_col as u16, choice)?;
            }
        }
        ws.set_hidden(true);
    }
    book.save_to_buffer()
}
