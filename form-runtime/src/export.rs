//! Export templates (`exports/<key>.json`): which columns a spreadsheet of a form's records
//! has, under which (possibly merged, multi-level) headers, with which number formats and
//! widths, a title row, a totals row and one sheet per group.
//!
//! Everything here is pure: [`ExportTemplate`] turns a record into cells; the server streams
//! the rows into `rust_xlsxwriter` or CSV.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::PackError;
use crate::expr::Expr;
use crate::form::{Field, FieldKind};

/// Columns every record has besides its data.
pub const SYSTEM_COLUMNS: &[(&str, &str)] = &[
    ("id", "记录编号"),
    ("state", "状态"),
    ("created_at", "创建时间"),
    ("updated_at", "更新时间"),
];

/// `exports/<key>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportDef {
    /// Name users pick it by (`火灾救助台账`).
    pub label: String,
    /// The form whose records it lays out.
    pub form: String,
    /// A title row above the headers, merged across every column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The columns, left to right; a column with `columns` is a header over its children.
    pub columns: Vec<ColumnDef>,
    /// Label of a totals row at the bottom (columns with `total`); absent: no totals row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// One sheet per value of this field (e.g. per district), in order of the values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet_per: Option<String>,
    /// Keep the header rows in view while scrolling; default true.
    #[serde(default = "yes")]
    pub freeze: bool,
}

fn yes() -> bool {
    true
}

/// One column, or a group header over columns.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    /// A field of the form, or a system column (`id`, `state`, `created_at`, `updated_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// An expression over the record's fields instead of a field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// Header text; default the field's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Columns under this header (a merged group header).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ColumnDef>,
    /// Excel number format, e.g. `#,##0.00` or `yyyy-mm-dd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Width in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    /// What the totals row shows under this column: `sum`, `count`, `avg`, `min` or `max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Total>,
}

/// A totals-row aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Total {
    /// Sum of the numbers.
    Sum,
    /// Count of non-empty cells.
    Count,
    /// Average of the numbers.
    Avg,
    /// Smallest number.
    Min,
    /// Largest number.
    Max,
}

/// What a leaf column shows.
#[derive(Debug)]
pub enum Source {
    /// A data field, with its kind.
    Field(String, FieldKind, Option<String>),
    /// A system column.
    System(String),
    /// An expression.
    Expr(Expr),
}

/// A column that holds values.
#[derive(Debug)]
pub struct Leaf {
    /// Where its values come from.
    pub source: Source,
    /// Header text.
    pub header: String,
    /// Number format.
    pub format: Option<String>,
    /// Width.
    pub width: Option<f64>,
    /// Totals-row aggregate.
    pub total: Option<Total>,
}

/// One header cell, possibly merged over several rows and columns (0-based, inclusive).
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderCell {
    /// Text.
    pub text: String,
    /// First row (0 = the first header row).
    pub row: u32,
    /// Last row.
    pub last_row: u32,
    /// First column.
    pub col: u16,
    /// Last column.
    pub last_col: u16,
}

/// A cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Nothing.
    Empty,
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
    /// A date (`YYYY-MM-DD`).
    Date(chrono::NaiveDate),
    /// A date-time, wall-clock time in the reader's zone.
    DateTime(chrono::NaiveDateTime),
    /// Yes or no.
    Bool(bool),
}

impl Cell {
    /// The cell as CSV text.
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Number(n) => {
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    format!("{}", *n as i64)
                } else {
                    n.to_string()
                }
            }
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
            Cell::DateTime(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            Cell::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        }
    }

    /// The number in it, for totals.
    pub fn number(&self) -> Option<f64> {
        match self {
            Cell::Number(n) => Some(*n),
            _ => None,
        }
    }
}

/// A checked template.
#[derive(Debug)]
pub struct ExportTemplate {
    /// Its key (`list` for a list's default layout, `custom` for ad hoc columns).
    pub key: String,
    /// Its definition.
    pub def: ExportDef,
    /// The value columns, left to right.
    pub leaves: Vec<Leaf>,
    /// Header cells, with merges.
    pub headers: Vec<HeaderCell>,
    /// How many header rows.
    pub header_rows: u32,
}

/// What a record offers a template: its data (already masked for the reader) and system
/// columns.
pub struct Row<'a> {
    /// The data.
    pub data: &'a Value,
    /// System columns by name (`state` holds the state's label).
    pub system: &'a BTreeMap<&'static str, String>,
    /// The reader's zone: date-times are written as its wall-clock time.
    pub zone: chrono_tz::Tz,
}

impl ExportTemplate {
    /// Checks a template against the form's fields; problems point into `file`.
    pub fn check(
        key: &str,
        def: ExportDef,
        fields: &BTreeMap<String, Field>,
        schema: &Value,
        file: &str,
    ) -> Result<ExportTemplate, Vec<PackError>> {
        let mut errs = Vec::new();
        let mut leaves = Vec::new();
        let depth = def.columns.iter().map(depth).max().unwrap_or(0);
        let mut headers = Vec::new();
        if def.columns.is_empty() {
            errs.push(PackError::new(
                file,
                "/columns",
                "an export needs at least one column",
            ));
        }
        let ctx = Ctx {
            depth,
            fields,
            schema,
            file,
        };
        walk(
            &ctx,
            &def.columns,
            "/columns",
            0,
            &mut leaves,
            &mut headers,
            &mut errs,
        );
        if leaves.len() > 16_000 {
            errs.push(PackError::new(
                file,
                "/columns",
                "Excel sheets hold at most 16,384 columns",
            ));
        }
        if let Some(f) = &def.sheet_per {
            if !fields.contains_key(f) && f != "state" {
                errs.push(PackError::new(
                    file,
                    "/sheet_per",
                    format!("unknown field `{f}`"),
                ));
            }
        }
        if errs.is_empty() {
            Ok(ExportTemplate {
                key: key.to_string(),
                def,
                leaves,
                headers,
                header_rows: depth as u32,
            })
        } else {
            Err(errs)
        }
    }

    /// A template of plain columns (a list's columns, or columns a user picked).
    pub fn plain(
        key: &str,
        label: &str,
        form: &str,
        columns: &[String],
        fields: &BTreeMap<String, Field>,
        schema: &Value,
    ) -> Result<ExportTemplate, Vec<PackError>> {
        let def = ExportDef {
            label: label.to_string(),
            form: form.to_string(),
            title: None,
            columns: columns
                .iter()
                .map(|c| ColumnDef {
                    field: Some(c.clone()),
                    expr: None,
                    header: None,
                    columns: Vec::new(),
                    format: None,
                    width: None,
                    total: None,
                })
                .collect(),
            footer: None,
            sheet_per: None,
            freeze: true,
        };
        ExportTemplate::check(key, def, fields, schema, "columns")
    }

    /// The fields whose values the template reads (for masking and opening).
    pub fn fields(&self) -> Vec<&str> {
        self.leaves
            .iter()
            .filter_map(|l| match &l.source {
                Source::Field(f, _, _) => Some(f.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Whether a column computes from the whole record (then every field is opened).
    pub fn has_expressions(&self) -> bool {
        self.leaves
            .iter()
            .any(|l| matches!(l.source, Source::Expr(_)))
    }

    /// The cells of one record.
    pub fn cells(&self, row: &Row<'_>) -> Vec<Cell> {
        self.leaves.iter().map(|l| cell(l, row)).collect()
    }

    /// The sheet a record goes to when the template has `sheet_per`.
    pub fn sheet_of(&self, row: &Row<'_>) -> Option<String> {
        let f = self.def.sheet_per.as_ref()?;
        let v = if f == "state" {
            row.system.get("state").cloned()
        } else {
            row.data.get(f).and_then(scalar_text)
        };
        Some(v.unwrap_or_else(|| "（空）".into()))
    }
}

/// Totals of one sheet, updated row by row.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    sums: Vec<f64>,
    counts: Vec<u64>,
    numbers: Vec<u64>,
    mins: Vec<Option<f64>>,
    maxs: Vec<Option<f64>>,
}

impl Totals {
    /// Adds a row's cells.
    pub fn add(&mut self, cells: &[Cell]) {
        let n = cells.len();
        if self.sums.len() < n {
            self.sums.resize(n, 0.0);
            self.counts.resize(n, 0);
            self.numbers.resize(n, 0);
            self.mins.resize(n, None);
            self.maxs.resize(n, None);
        }
        for (i, c) in cells.iter().enumerate() {
            if *c != Cell::Empty {
                self.counts[i] += 1;
            }
            if let Some(x) = c.number() {
                self.sums[i] += x;
                self.numbers[i] += 1;
                self.mins[i] = Some(self.mins[i].map_or(x, |m| m.min(x)));
                self.maxs[i] = Some(self.maxs[i].map_or(x, |m| m.max(x)));
            }
        }
    }

    /// The totals row's value under column `i`.
    pub fn value(&self, i: usize, t: Total) -> Cell {
        let get = |v: &Vec<Option<f64>>| v.get(i).copied().flatten();
        let x = match t {
            Total::Sum => self.sums.get(i).copied(),
            Total::Count => self.counts.get(i).map(|c| *c as f64),
            Total::Avg => match self.numbers.get(i) {
                Some(n) if *n > 0 => Some(self.sums[i] / *n as f64),
                _ => None,
            },
            Total::Min => get(&self.mins),
            Total::Max => get(&self.maxs),
        };
        x.map_or(Cell::Empty, |x| Cell::Number((x * 1e6).round() / 1e6))
    }
}

fn depth(c: &ColumnDef) -> usize {
    1 + c.columns.iter().map(depth).max().unwrap_or(0)
}

/// What every level of [`walk`] needs.
struct Ctx<'a> {
    depth: usize,
    fields: &'a BTreeMap<String, Field>,
    schema: &'a Value,
    file: &'a str,
}

fn walk(
    ctx: &Ctx<'_>,
    cols: &[ColumnDef],
    ptr: &str,
    row: usize,
    leaves: &mut Vec<Leaf>,
    headers: &mut Vec<HeaderCell>,
    errs: &mut Vec<PackError>,
) {
    let (depth, fields, file) = (ctx.depth, ctx.fields, ctx.file);
    for (i, c) in cols.iter().enumerate() {
        let at = format!("{ptr}/{i}");
        let first = leaves.len();
        if !c.columns.is_empty() {
            if c.field.is_some() || c.expr.is_some() {
                errs.push(PackError::new(
                    file,
                    &at,
                    "a group header has `columns`, not `field` or `expr`",
                ));
            }
            let Some(text) = c.header.clone() else {
                errs.push(PackError::new(
                    file,
                    format!("{at}/header"),
                    "a group header needs `header`",
                ));
                continue;
            };
            walk(
                ctx,
                &c.columns,
                &format!("{at}/columns"),
                row + 1,
                leaves,
                headers,
                errs,
            );
            if leaves.len() > first {
                headers.push(HeaderCell {
                    text,
                    row: row as u32,
                    last_row: row as u32,
                    col: first as u16,
                    last_col: (leaves.len() - 1) as u16,
                });
            }
            continue;
        }
        let (source, title) = match (&c.field, &c.expr) {
            (Some(f), None) => match fields.get(f) {
                Some(field) => {
                    let format = ctx.schema["properties"][f]["format"]
                        .as_str()
                        .map(str::to_string);
                    (
                        Source::Field(f.clone(), field.kind, format),
                        field.label.clone(),
                    )
                }
                None => match SYSTEM_COLUMNS.iter().find(|(k, _)| k == f) {
                    Some((k, label)) => (Source::System(k.to_string()), label.to_string()),
                    None => {
                        errs.push(PackError::new(
                            file,
                            format!("{at}/field"),
                            format!("unknown field `{f}`"),
                        ));
                        continue;
                    }
                },
            },
            (None, Some(x)) => match Expr::compile(x) {
                Ok(e) => (Source::Expr(e), String::new()),
                Err(e) => {
                    errs.push(PackError::new(
                        file,
                        format!("{at}/expr"),
                        format!("invalid expression: {e}"),
                    ));
                    continue;
                }
            },
            _ => {
                errs.push(PackError::new(
                    file,
                    &at,
                    "a column has exactly one of `field`, `expr` or `columns`",
                ));
                continue;
            }
        };
        let header = c.header.clone().unwrap_or(title);
        if header.is_empty() {
            errs.push(PackError::new(
                file,
                format!("{at}/header"),
                "an expression column needs `header`",
            ));
        }
        if c.width.is_some_and(|w| !(0.0..=255.0).contains(&w)) {
            errs.push(PackError::new(
                file,
                format!("{at}/width"),
                "width must be between 0 and 255",
            ));
        }
        let col = leaves.len() as u16;
        headers.push(HeaderCell {
            text: header.clone(),
            row: row as u32,
            last_row: (depth - 1) as u32,
            col,
            last_col: col,
        });
        leaves.push(Leaf {
            source,
            header,
            format: c.format.clone(),
            width: c.width,
            total: c.total,
        });
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "是" } else { "否" }.into()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

fn cell(l: &Leaf, row: &Row<'_>) -> Cell {
    match &l.source {
        Source::System(k) => match row.system.get(k.as_str()) {
            Some(v) if k == "created_at" || k == "updated_at" => datetime_cell(v, row.zone),
            Some(v) => Cell::Text(v.clone()),
            None => Cell::Empty,
        },
        Source::Expr(x) => match x.eval(row.data) {
            Ok(v) => value_cell(&v, None, row.zone),
            Err(_) => Cell::Empty,
        },
        Source::Field(f, kind, format) => match row.data.get(f) {
            None | Some(Value::Null) => Cell::Empty,
            Some(v) => match kind {
                FieldKind::Array | FieldKind::Object => Cell::Text(v.to_string()),
                _ => value_cell(v, format.as_deref(), row.zone),
            },
        },
    }
}

fn value_cell(v: &Value, format: Option<&str>, zone: chrono_tz::Tz) -> Cell {
    match v {
        Value::Null => Cell::Empty,
        Value::Bool(b) => Cell::Bool(*b),
        Value::Number(n) => n.as_f64().map_or(Cell::Empty, Cell::Number),
        Value::String(s) => match format {
            Some("date") => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_or_else(|_| Cell::Text(s.clone()), Cell::Date),
            Some("date-time") => datetime_cell(s, zone),
            _ => Cell::Text(s.clone()),
        },
        other => Cell::Text(other.to_string()),
    }
}

/// An RFC 3339 time as wall-clock time in the reader's zone, as Excel has no time zones.
fn datetime_cell(s: &str, zone: chrono_tz::Tz) -> Cell {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => Cell::DateTime(t.with_timezone(&zone).naive_local()),
        Err(_) => Cell::Text(s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "name": {"type": "string", "title": "姓名"},
            "amount": {"type": "number", "title": "金额"},
            "approved": {"type": "number", "title": "核定"},
            "fire_date": {"type": "string", "format": "date", "title": "日期"},
            "members": {"type": "array", "title": "成员", "items": {"type": "object"}}
        }})
    }

    fn fields() -> BTreeMap<String, Field> {
        crate::form::CompiledForm::fields_of(&schema(), "f").unwrap()
    }

    #[test]
    fn group_headers_merge_over_their_columns_and_leaves_span_down() {
        let def: ExportDef = serde_json::from_value(json!({
            "label": "台账", "form": "f", "title": "标题", "footer": "合计",
            "columns": [
                {"field": "name"},
                {"header": "金额（元）", "columns": [
                    {"field": "amount", "format": "#,##0.00", "total": "sum"},
                    {"expr": "amount - approved", "header": "差额", "total": "sum"}
                ]},
                {"field": "state"}
            ]
        }))
        .unwrap();
        let t = ExportTemplate::check("k", def, &fields(), &schema(), "exports/k.json").unwrap();
        assert_eq!(t.header_rows, 2);
        let texts: Vec<(&str, u32, u32, u16, u16)> = t
            .headers
            .iter()
            .map(|h| (h.text.as_str(), h.row, h.last_row, h.col, h.last_col))
            .collect();
        assert_eq!(
            texts,
            [
                ("姓名", 0, 1, 0, 0),
                ("金额", 1, 1, 1, 1),
                ("差额", 1, 1, 2, 2),
                ("金额（元）", 0, 0, 1, 2),
                ("状态", 0, 1, 3, 3)
            ]
        );
        let system = BTreeMap::from([("state", "已提交".to_string())]);
        let data = json!({"name": "张三", "amount": 100.5, "approved": 80});
        let cells = t.cells(&Row {
            data: &data,
            system: &system,
            zone: crate::clock::DEFAULT_ZONE,
        });
        assert_eq!(
            cells,
            [
                Cell::Text("张三".into()),
                Cell::Number(100.5),
                Cell::Number(20.5),
                Cell::Text("已提交".into())
            ]
        );
        let mut totals = Totals::default();
        totals.add(&cells);
        totals.add(&t.cells(&Row {
            data: &json!({"amount": 1}),
            system: &system,
            zone: crate::clock::DEFAULT_ZONE,
        }));
        assert_eq!(totals.value(1, Total::Sum), Cell::Number(101.5));
        assert_eq!(totals.value(0, Total::Count), Cell::Number(1.0));
    }

    #[test]
    fn dates_arrays_and_times_become_typed_cells() {
        let t = ExportTemplate::plain(
            "c",
            "c",
            "f",
            &["fire_date".into(), "members".into(), "created_at".into()],
            &fields(),
            &schema(),
        )
        .unwrap();
        let system = BTreeMap::from([("created_at", "2026-01-01T16:30:00Z".to_string())]);
        let data = json!({"fire_date": "2026-10-08", "members": [{"name": "李四"}]});
        let cells = t.cells(&Row {
            data: &data,
            system: &system,
            zone: crate::clock::DEFAULT_ZONE,
        });
        assert_eq!(
            cells[0],
            Cell::Date(chrono::NaiveDate::from_ymd_opt(2026, 10, 8).unwrap())
        );
        assert_eq!(cells[1], Cell::Text("[{\"name\":\"李四\"}]".into()));
        assert_eq!(cells[2].text(), "2026-01-02 00:30:00");
    }

    #[test]
    fn check_points_at_unknown_fields_bad_expressions_and_bad_groups() {
        let def: ExportDef = serde_json::from_value(json!({
            "label": "l", "form": "f", "sheet_per": "nowhere",
            "columns": [{"field": "nope"}, {"expr": "amount +", "header": "x"}, {"columns": [{"field": "name"}]}, {"field": "name", "expr": "1"}]
        }))
        .unwrap();
        let errs =
            ExportTemplate::check("k", def, &fields(), &schema(), "exports/k.json").unwrap_err();
        let ptrs: Vec<&str> = errs.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            ptrs,
            [
                "/columns/0/field",
                "/columns/1/expr",
                "/columns/2/header",
                "/columns/3",
                "/sheet_per"
            ]
        );
    }
}
