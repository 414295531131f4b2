//! Imports: which spreadsheet column fills which field of a form, and how a cell's value
//! becomes the field's value.
//!
//! An import template (`imports/<key>.json`) names the columns of a workbook: a header text
//! (plus `aliases`) for each field, an optional upsert `key` and an optional workflow
//! `action` fired on every record the import creates. Without a template, every importable
//! field of the form is a column whose header is the field's title or key. Headers match
//! whatever their spaces and full-width forms ([`normalise_header`]).
//!
//! The one thing to know: conversion only turns spreadsheet habits into the form's own
//! values (a date typed as `2026年1月5日` or an Excel serial, `是`/`否`, a choice's label
//! instead of its code). Whether the value is *valid* is decided afterwards by the form's
//! own rules, exactly as for a record sent to the API.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::error::{FieldError, PackError};
use crate::form::escape;
use crate::rules::{Catalogue, CatalogueOption};
use crate::workflow::WorkflowDef;

/// `imports/<key>.json`: an import template.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportDef {
    /// Name shown to users (`火灾救助申请批量导入`).
    pub label: String,
    /// Key of the form whose records the import creates.
    pub form: String,
    /// Name of the worksheet to read (default: the first one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// The columns, in the order a downloaded template shows them.
    pub columns: Vec<ColumnDef>,
    /// Fields that identify an existing record: a row whose key matches one updates it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key: Vec<String>,
    /// A transition fired on every record the import creates (`submit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// A date or date-time column saying when each case happened: a created record, and its
    /// `action`, happen at that moment (history, `set` effects, yearly numbers), not at the
    /// import's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// One column of an import template.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    /// The header text in the workbook's first row.
    pub header: String,
    /// The field the column fills (a top-level field of the form).
    pub field: String,
    /// Other header texts that mean the same column.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// A cell as read from a workbook; formulas arrive as their cached values.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Nothing.
    Empty,
    /// Text.
    Text(String),
    /// A number (also a date typed without a date format: an Excel serial).
    Number(f64),
    /// TRUE / FALSE.
    Bool(bool),
    /// A cell with a date format, as a date and time of day.
    DateTime(NaiveDateTime),
    /// An error value such as `#DIV/0!`.
    Error(String),
}

impl Cell {
    /// True when the cell holds nothing (or only spaces).
    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// The value as text, as a person reads it in the sheet.
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.trim().to_string(),
            Cell::Number(n) => number_text(*n),
            Cell::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
            Cell::DateTime(d) if d.time() == NaiveTime::MIN => d.format("%Y-%m-%d").to_string(),
            Cell::DateTime(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
            Cell::Error(e) => e.clone(),
        }
    }
}

/// A header (or a choice label) as compared: full-width ASCII forms and the ideographic
/// space turned into their ASCII forms, every space removed, letters in lower case. So
/// `身份证号`, ` 身份证 号 ` and `身份证号` (full-width spaces) are one header, and
/// `损失金额（元）` equals `损失金额(元)`.
pub fn normalise_header(s: &str) -> String {
    half_width(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `s` with full-width ASCII forms (U+FF01–U+FF5E) and the ideographic space (U+3000)
/// replaced by their ASCII forms; what NFKC does to them.
pub fn half_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c => c,
        })
        .collect()
}

/// The letter of a 0-based column index, as Excel shows it: 0 → A, 26 → AA.
pub fn column_letter(mut index: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// How a cell becomes a field's value.
#[derive(Debug, Clone)]
enum Kind {
    Text,
    Date,
    DateTime,
    Integer,
    Number,
    Boolean,
    /// One of a choice field's options: (label as compared, stored value) pairs.
    Choice(Options),
    /// Several options, separated by `、`, `,`, `;` or a line break.
    Choices(Options),
    /// A repeating section or group as JSON text, the way exports write it (only through a
    /// template that names the field).
    Json,
}

/// The options of a choice field, for turning labels into values.
#[derive(Debug, Clone)]
struct Options {
    /// Name of the list (the catalogue's label or the field's title).
    name: String,
    /// Every option as (path of labels from the root, value); enum options have one label.
    all: Vec<(Vec<String>, Value)>,
}

impl Options {
    fn from_enum(name: &str, values: &[Value]) -> Options {
        Options {
            name: name.to_string(),
            all: values
                .iter()
                .map(|v| {
                    let label = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (vec![label], v.clone())
                })
                .collect(),
        }
    }

    fn from_catalogue(c: &Catalogue) -> Options {
        fn walk(o: &[CatalogueOption], path: &[String], out: &mut Vec<(Vec<String>, Value)>) {
            for x in o {
                let mut p = path.to_vec();
                p.push(x.label.clone());
                out.push((p.clone(), Value::String(x.value.clone())));
                walk(&x.children, &p, out);
            }
        }
        let mut all = Vec::new();
        walk(&c.options, &[], &mut all);
        Options {
            name: c.label.clone(),
            all,
        }
    }

    /// The labels a drop-down offers: each option's label, or its path where the label
    /// alone is ambiguous (`上海市/浦东新区`).
    fn labels(&self) -> Vec<String> {
        let mut count: BTreeMap<String, usize> = BTreeMap::new();
        for (p, _) in &self.all {
            *count
                .entry(p.last().cloned().unwrap_or_default())
                .or_default() += 1;
        }
        self.all
            .iter()
            .map(|(p, _)| {
                let last = p.last().cloned().unwrap_or_default();
                if count[&last] > 1 {
                    p.join("/")
                } else {
                    last
                }
            })
            .collect()
    }

    /// The value of `text`: an option's value itself, its label, or its path of labels
    /// separated by `/`, `-`, `>` or spaces (needed when a label is ambiguous).
    fn find(&self, text: &str) -> Result<Value, (String, String)> {
        let want = normalise_header(text);
        if let Some((_, v)) = self.all.iter().find(|(_, v)| match v {
            Value::String(s) => normalise_header(s) == want,
            other => normalise_header(&other.to_string()) == want,
        }) {
            return Ok(v.clone());
        }
        let by_label: Vec<&Value> = self
            .all
            .iter()
            .filter(|(p, _)| p.last().is_some_and(|l| normalise_header(l) == want))
            .map(|(_, v)| v)
            .collect();
        match by_label.as_slice() {
            [one] => return Ok((*one).clone()),
            [] => {}
            _ => {
                return Err((
                    format!(
                        "「{text}」在{}中不唯一，请写出完整路径（如 上级/{text}）",
                        self.name
                    ),
                    format!(
                        "`{text}` is ambiguous in {}; write its path (parent/{text})",
                        self.name
                    ),
                ))
            }
        }
        let segs: Vec<String> = half_width(text)
            .split(['/', '-', '>', ' '])
            .map(normalise_header)
            .filter(|s| !s.is_empty())
            .collect();
        if segs.len() > 1 {
            let by_path: Vec<&Value> = self
                .all
                .iter()
                .filter(|(p, _)| {
                    p.len() >= segs.len()
                        && p[p.len() - segs.len()..]
                            .iter()
                            .map(|l| normalise_header(l))
                            .eq(segs.iter().cloned())
                })
                .map(|(_, v)| v)
                .collect();
            if let [one] = by_path.as_slice() {
                return Ok((*one).clone());
            }
        }
        Err((
            format!("「{text}」不在{}的选项中", self.name),
            format!("`{text}` is not an option of {}", self.name),
        ))
    }
}

/// One column an import reads.
#[derive(Debug, Clone)]
pub struct Column {
    /// The header a template shows.
    pub header: String,
    /// The field it fills.
    pub field: String,
    /// Every header text that means this column (header and aliases), normalised.
    matches: Vec<String>,
    kind: Kind,
}

/// What a downloaded template says about one column.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnHelp {
    /// The header.
    pub header: String,
    /// The field key.
    pub field: String,
    /// `是`, `否`, or `视情况` (an `x-required-if`).
    pub required: &'static str,
    /// What to write, in Chinese (`日期，如 2026-01-05、2026/1/5 或 2026年1月5日`).
    pub format: String,
    /// The options a drop-down offers (empty when the field is not a single choice).
    pub choices: Vec<String>,
    /// True for text typed as is (ID numbers, phone numbers): a template formats such a
    /// column as text, so Excel keeps every digit.
    pub text: bool,
}

/// An import of one form: its columns, key and action, ready to read rows.
#[derive(Debug, Clone)]
pub struct Importer {
    /// The columns, in template order.
    pub columns: Vec<Column>,
    /// Upsert key fields.
    pub key: Vec<String>,
    /// Transition fired on created records.
    pub action: Option<String>,
    /// The date or date-time field that says when a created record's case happened.
    pub at: Option<String>,
    /// Worksheet to read.
    pub sheet: Option<String>,
    schema: Value,
}

/// Why a top-level field cannot be a column, if it cannot.
fn not_importable(prop: &Value) -> Option<&'static str> {
    if prop.get("x-computed").is_some() {
        return Some("it is computed (x-computed)");
    }
    if prop.get("x-attachment").is_some() {
        return Some("it holds attachments, which are uploaded, not typed");
    }
    None
}

/// Whether a field is a group or a repeating section: its cell holds JSON text, so it is a
/// column only where a template names it (a default import leaves it out).
fn structured(prop: &Value) -> bool {
    match prop.get("type").and_then(Value::as_str) {
        Some("object") => true,
        Some("array") => {
            let items = prop.get("items");
            let choice = prop.get("x-options-from").is_some()
                || items.is_some_and(|i| i.get("enum").is_some());
            let strings = items
                .and_then(|i| i.get("type"))
                .and_then(Value::as_str)
                .is_none_or(|t| t == "string");
            !(choice && strings)
        }
        _ => false,
    }
}

fn kind_of(field: &str, prop: &Value, catalogues: &BTreeMap<String, Catalogue>) -> Kind {
    let title = prop.get("title").and_then(Value::as_str).unwrap_or(field);
    let options = |node: &Value| -> Option<Options> {
        if let Some(c) = node.get("x-options-from").and_then(Value::as_str) {
            return catalogues.get(c).map(Options::from_catalogue);
        }
        node.get("enum")
            .and_then(Value::as_array)
            .map(|e| Options::from_enum(title, e))
    };
    let ty = prop.get("type").and_then(Value::as_str).unwrap_or("string");
    if structured(prop) {
        return Kind::Json;
    }
    if ty == "array" {
        let from = if prop.get("x-options-from").is_some() {
            options(prop)
        } else {
            prop.get("items").and_then(options)
        };
        return from.map_or(Kind::Text, Kind::Choices);
    }
    if let Some(o) = options(prop) {
        return Kind::Choice(o);
    }
    match (ty, prop.get("format").and_then(Value::as_str)) {
        ("string", Some("date")) => Kind::Date,
        ("string", Some("date-time")) => Kind::DateTime,
        ("integer", _) => Kind::Integer,
        ("number", _) => Kind::Number,
        ("boolean", _) => Kind::Boolean,
        _ => Kind::Text,
    }
}

impl Importer {
    /// The importer of a form: from its template `def`, or (None) one column per
    /// importable field, headed by the field's title (its key matches too). `catalogues`
    /// are those stored with the form version.
    pub fn new(
        schema: &Value,
        def: Option<&ImportDef>,
        catalogues: &BTreeMap<String, Catalogue>,
    ) -> Importer {
        let props = schema.get("properties").and_then(Value::as_object);
        let column = |field: &str, header: &str, aliases: &[String]| -> Option<Column> {
            let prop = props?.get(field)?;
            let mut matches = vec![normalise_header(header)];
            matches.extend(aliases.iter().map(|a| normalise_header(a)));
            Some(Column {
                header: header.to_string(),
                field: field.to_string(),
                matches,
                kind: kind_of(field, prop, catalogues),
            })
        };
        let columns = match def {
            Some(d) => d
                .columns
                .iter()
                .filter_map(|c| column(&c.field, &c.header, &c.aliases))
                .collect(),
            None => props
                .into_iter()
                .flatten()
                .filter(|(_, p)| not_importable(p).is_none() && !structured(p))
                .filter_map(|(k, p)| {
                    let title = p.get("title").and_then(Value::as_str).unwrap_or(k);
                    column(k, title, std::slice::from_ref(k))
                })
                .collect(),
        };
        Importer {
            columns,
            key: def.map(|d| d.key.clone()).unwrap_or_default(),
            action: def.and_then(|d| d.action.clone()),
            at: def.and_then(|d| d.at.clone()),
            sheet: def.and_then(|d| d.sheet.clone()),
            schema: schema.clone(),
        }
    }

    /// Checks an import template against its form: every field a top-level field that can
    /// be typed into a cell, headers unique, key fields among the columns, the action a
    /// transition out of the workflow's initial state. Problems are reported against `file`.
    pub fn check(
        def: &ImportDef,
        schema: &Value,
        workflow: Option<&WorkflowDef>,
        file: &str,
    ) -> Vec<PackError> {
        let mut errs = Vec::new();
        let props = schema.get("properties").and_then(Value::as_object);
        if def.columns.is_empty() {
            errs.push(PackError::new(
                file,
                "/columns",
                "an import needs at least one column",
            ));
        }
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        let mut fields: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, c) in def.columns.iter().enumerate() {
            let at = format!("/columns/{i}");
            match props.and_then(|p| p.get(&c.field)) {
                None => errs.push(PackError::new(
                    file,
                    format!("{at}/field"),
                    format!("form `{}` has no field `{}`", def.form, c.field),
                )),
                Some(prop) => {
                    if let Some(why) = not_importable(prop) {
                        errs.push(PackError::new(
                            file,
                            format!("{at}/field"),
                            format!("`{}` cannot be imported: {why}", c.field),
                        ));
                    }
                }
            }
            if let Some(j) = fields.insert(&c.field, i) {
                errs.push(PackError::new(
                    file,
                    format!("{at}/field"),
                    format!("`{}` already has a column (/columns/{j})", c.field),
                ));
            }
            let texts = std::iter::once((format!("{at}/header"), &c.header)).chain(
                c.aliases
                    .iter()
                    .enumerate()
                    .map(|(j, a)| (format!("{at}/aliases/{j}"), a)),
            );
            for (ptr, text) in texts {
                let n = normalise_header(text);
                if n.is_empty() {
                    errs.push(PackError::new(file, ptr, "a header cannot be empty"));
                } else if let Some(first) = headers.get(&n) {
                    errs.push(PackError::new(
                        file,
                        ptr,
                        format!("header `{text}` is already used at {first}"),
                    ));
                } else {
                    headers.insert(n, ptr);
                }
            }
        }
        for (i, k) in def.key.iter().enumerate() {
            if !fields.contains_key(k.as_str()) {
                errs.push(PackError::new(
                    file,
                    format!("/key/{i}"),
                    format!("key field `{k}` is not a column of this import"),
                ));
            }
        }
        if let Some(at) = &def.at {
            let format = props
                .and_then(|p| p.get(at))
                .and_then(|p| p.get("format"))
                .and_then(Value::as_str);
            if !fields.contains_key(at.as_str()) {
                errs.push(PackError::new(
                    file,
                    "/at",
                    format!("`{at}` is not a column of this import"),
                ));
            } else if !matches!(format, Some("date" | "date-time")) {
                errs.push(PackError::new(
                    file,
                    "/at",
                    format!("`{at}` is not a date or date-time field"),
                ));
            }
        }
        if let (Some(action), Some(wf)) = (&def.action, workflow) {
            let leaves = wf
                .transitions
                .iter()
                .any(|t| t.action == *action && t.from.keys().contains(&wf.initial));
            if !leaves {
                errs.push(PackError::new(
                    file,
                    "/action",
                    format!(
                        "no transition `{action}` leaves the initial state `{}`",
                        wf.initial
                    ),
                ));
            }
        }
        errs
    }

    /// Finds each column's position in a header row. Headers that name no column are
    /// ignored (returned as the second value); a column given twice is an error.
    pub fn bind(&self, headers: &[String]) -> Result<(Binding, Vec<String>), Vec<FieldError>> {
        let mut at: Vec<Option<usize>> = vec![None; headers.len()];
        let mut ignored = Vec::new();
        let mut errs = Vec::new();
        let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
        for (i, h) in headers.iter().enumerate() {
            let n = normalise_header(h);
            if n.is_empty() {
                continue;
            }
            match self.columns.iter().position(|c| c.matches.contains(&n)) {
                Some(c) => {
                    if let Some(first) = seen.insert(c, i) {
                        errs.push(FieldError::new(
                            format!("/columns/{}", column_letter(i)),
                            "duplicate",
                            format!(
                                "第 {} 列「{h}」与第 {} 列重复，都对应「{}」",
                                column_letter(i),
                                column_letter(first),
                                self.columns[c].header
                            ),
                            format!(
                                "column {} `{h}` repeats column {}: both are `{}`",
                                column_letter(i),
                                column_letter(first),
                                self.columns[c].header
                            ),
                        ));
                    }
                    at[i] = Some(c);
                }
                None => ignored.push(h.trim().to_string()),
            }
        }
        if seen.is_empty() {
            let expected: Vec<&str> = self.columns.iter().map(|c| c.header.as_str()).collect();
            errs.push(FieldError::new(
                "/columns",
                "header",
                format!("第一行没有可识别的表头；应为：{}", expected.join("、")),
                format!(
                    "the first row has no known header; expected: {}",
                    expected.join(", ")
                ),
            ));
        }
        if errs.is_empty() {
            Ok((
                Binding {
                    at,
                    headers: headers.to_vec(),
                },
                ignored,
            ))
        } else {
            Err(errs)
        }
    }

    /// The record data of one row, or the cells that could not be converted.
    pub fn row(&self, b: &Binding, cells: &[Cell]) -> Result<Map<String, Value>, Vec<CellError>> {
        let mut data = Map::new();
        let mut errs = Vec::new();
        for (i, c) in b.at.iter().enumerate() {
            let Some(c) = c else { continue };
            let col = &self.columns[*c];
            let cell = cells.get(i).unwrap_or(&Cell::Empty);
            if cell.is_empty() {
                continue;
            }
            match convert(&col.kind, cell) {
                Ok(v) => {
                    data.insert(col.field.clone(), v);
                }
                Err((zh, en)) => errs.push(CellError {
                    column: i,
                    field: col.field.clone(),
                    message: zh,
                    message_en: en,
                }),
            }
        }
        if errs.is_empty() {
            Ok(data)
        } else {
            Err(errs)
        }
    }

    /// What a template's instructions say about each column.
    pub fn help(&self) -> Vec<ColumnHelp> {
        let required: BTreeSet<&str> = self
            .schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let props = self.schema.get("properties");
        self.columns
            .iter()
            .map(|c| {
                let prop = props.and_then(|p| p.get(&c.field)).unwrap_or(&Value::Null);
                let req = if required.contains(c.field.as_str()) {
                    "是"
                } else if prop.get("x-required-if").is_some() {
                    "视情况"
                } else {
                    "否"
                };
                let (format, choices) = describe(&c.kind, prop);
                ColumnHelp {
                    header: c.header.clone(),
                    field: c.field.clone(),
                    required: req,
                    format,
                    choices,
                    text: matches!(c.kind, Kind::Text),
                }
            })
            .collect()
    }
}

fn describe(kind: &Kind, prop: &Value) -> (String, Vec<String>) {
    let mut text = match kind {
        Kind::Date => {
            "日期，如 2026-01-05、2026/1/5 或 2026年1月5日（也可用 Excel 日期）".to_string()
        }
        Kind::DateTime => "日期时间，如 2026-01-05 10:30（北京时间）".to_string(),
        Kind::Integer => "整数".to_string(),
        Kind::Number => match prop.get("x-decimals").and_then(Value::as_u64) {
            Some(n) => format!("数字，最多 {n} 位小数"),
            None => "数字".to_string(),
        },
        Kind::Boolean => "是 / 否".to_string(),
        Kind::Choice(_) => "从下拉列表中选择".to_string(),
        Kind::Json => "JSON 文本，与导出文件中的写法相同".to_string(),
        Kind::Choices(o) => format!("可多选，用顿号（、）分隔；可选：{}", o.labels().join("、")),
        Kind::Text => match prop.get("format").and_then(Value::as_str) {
            Some("id_number") => "18 位居民身份证号码".to_string(),
            Some("mobile") => "11 位手机号码".to_string(),
            Some("bank_card") => "银行卡号".to_string(),
            Some("uscc") => "18 位统一社会信用代码".to_string(),
            Some("postal_code") => "6 位邮政编码".to_string(),
            Some("email") => "电子邮箱".to_string(),
            _ => match prop.get("maxLength").and_then(Value::as_u64) {
                Some(n) => format!("文本，最多 {n} 个字"),
                None => "文本".to_string(),
            },
        },
    };
    if prop
        .get("x-sensitive")
        .is_some_and(|v| v != &Value::Bool(false))
    {
        text.push_str("；敏感信息，加密保存");
    }
    let choices = match kind {
        Kind::Choice(o) => o.labels(),
        Kind::Boolean => vec!["是".to_string(), "否".to_string()],
        _ => Vec::new(),
    };
    (text, choices)
}

/// Where each column of a header row goes.
#[derive(Debug, Clone)]
pub struct Binding {
    /// For each position in the row, the index of its column (None: ignored).
    at: Vec<Option<usize>>,
    /// The header row as read.
    pub headers: Vec<String>,
}

impl Binding {
    /// The position (0-based) of the column filling `field`, if the sheet has one.
    pub fn position_of(&self, imp: &Importer, field: &str) -> Option<usize> {
        self.at
            .iter()
            .position(|c| c.is_some_and(|c| imp.columns[c].field == field))
    }
}

/// A cell whose value cannot become its field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    /// Position of the column (0-based).
    pub column: usize,
    /// The field.
    pub field: String,
    /// Why, in Chinese.
    pub message: String,
    /// Why, in English.
    pub message_en: String,
}

impl CellError {
    /// As a field error at the field's pointer, rule `convert`.
    pub fn to_field_error(&self) -> FieldError {
        FieldError::new(
            format!("/{}", escape(&self.field)),
            "convert",
            self.message.clone(),
            self.message_en.clone(),
        )
    }
}

type Why = (String, String);

fn convert(kind: &Kind, cell: &Cell) -> Result<Value, Why> {
    if let Cell::Error(e) = cell {
        return Err((
            format!("单元格是错误值 {e}"),
            format!("the cell holds the error value {e}"),
        ));
    }
    match kind {
        Kind::Text => Ok(Value::String(cell.text())),
        Kind::Json => serde_json::from_str::<Value>(&cell.text())
            .ok()
            .filter(|v| v.is_array() || v.is_object())
            .ok_or_else(|| {
                (
                    "应为 JSON 文本（与导出文件中的写法相同）".to_string(),
                    "should be JSON text, as exports write it".to_string(),
                )
            }),
        Kind::Date => date(cell).map(|d| Value::String(d.format("%Y-%m-%d").to_string())),
        Kind::DateTime => date_time(cell),
        Kind::Integer => {
            let n = number(cell)?;
            if n.fract() != 0.0 || n.abs() > 9.0e15 {
                return Err((
                    format!("「{}」不是整数", cell.text()),
                    format!("`{}` is not a whole number", cell.text()),
                ));
            }
            Ok(Value::Number(Number::from(n as i64)))
        }
        Kind::Number => {
            let n = number(cell)?;
            // Excel keeps 15 significant digits; what lies beyond is binary noise
            // (0.1 + 0.2 = 0.30000000000000004), not the user's value.
            let clean: f64 = format!("{n:.14e}").parse().unwrap_or(n);
            if clean.fract() == 0.0 && clean.abs() < 9.0e15 {
                return Ok(Value::Number(Number::from(clean as i64)));
            }
            Number::from_f64(clean).map(Value::Number).ok_or_else(|| {
                (
                    format!("「{}」不是数字", cell.text()),
                    format!("`{}` is not a number", cell.text()),
                )
            })
        }
        Kind::Boolean => match cell {
            Cell::Bool(b) => Ok(Value::Bool(*b)),
            Cell::Number(n) if *n == 1.0 || *n == 0.0 => Ok(Value::Bool(*n == 1.0)),
            _ => {
                let t = normalise_header(&cell.text());
                match t.as_str() {
                    "是" | "true" | "yes" | "y" | "1" | "√" | "✓" | "对" => {
                        Ok(Value::Bool(true))
                    }
                    "否" | "false" | "no" | "n" | "0" | "×" | "✗" | "错" => {
                        Ok(Value::Bool(false))
                    }
                    _ => Err((
                        format!("「{}」应为“是”或“否”", cell.text()),
                        format!("`{}` should be 是 (yes) or 否 (no)", cell.text()),
                    )),
                }
            }
        },
        Kind::Choice(o) => o.find(&cell.text()),
        Kind::Choices(o) => {
            let text = cell.text();
            let mut out = Vec::new();
            for part in text
                .split(['、', ',', '，', ';', '；', '\n'])
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                out.push(o.find(part)?);
            }
            Ok(Value::Array(out))
        }
    }
}

fn number(cell: &Cell) -> Result<f64, Why> {
    match cell {
        Cell::Number(n) => Ok(*n),
        Cell::Bool(_) | Cell::DateTime(_) | Cell::Empty | Cell::Error(_) => Err(not_a_number(cell)),
        Cell::Text(t) => {
            let cleaned: String = half_width(t)
                .chars()
                .filter(|c| !c.is_whitespace() && *c != ',')
                .collect();
            cleaned
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| not_a_number(cell))
        }
    }
}

fn not_a_number(cell: &Cell) -> Why {
    (
        format!("「{}」不是数字", cell.text()),
        format!("`{}` is not a number", cell.text()),
    )
}

/// An Excel serial date (1900 system) as a date and time. Serial 1 is 1900-01-01; Excel
/// counts a 29 February 1900 that never was, so serials from 61 on are one day later.
pub fn excel_serial(serial: f64) -> Option<NaiveDateTime> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let base = if serial < 61.0 {
        NaiveDate::from_ymd_opt(1899, 12, 31)?
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 30)?
    };
    let days = serial.trunc() as i64;
    let millis = (serial.fract() * 86_400_000.0).round() as i64;
    Some(base.and_time(NaiveTime::MIN) + Duration::days(days) + Duration::milliseconds(millis))
}

fn date(cell: &Cell) -> Result<NaiveDate, Why> {
    let bad = || {
        (
            format!("「{}」不是有效的日期（如 2026-01-05）", cell.text()),
            format!("`{}` is not a valid date (such as 2026-01-05)", cell.text()),
        )
    };
    match cell {
        Cell::DateTime(d) => Ok(d.date()),
        Cell::Number(n) => excel_serial(*n).map(|d| d.date()).ok_or_else(bad),
        Cell::Text(t) => parse_date(t).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// A date written as `2026-01-05`, `2026/1/5`, `2026.1.5`, `2026年1月5日` or `20260105`;
/// a time after it is ignored.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = half_width(text);
    let t = t.trim();
    let date_part = t.split(['T', ' ']).next().unwrap_or(t);
    if date_part.len() == 8 && date_part.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(date_part, "%Y%m%d").ok();
    }
    let parts: Vec<&str> = date_part
        .trim_end_matches('日')
        .split(['-', '/', '.', '年', '月'])
        .collect();
    let [y, m, d] = parts.as_slice() else {
        return None;
    };
    if y.len() != 4 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

fn date_time(cell: &Cell) -> Result<Value, Why> {
    let bad = || {
        (
            format!(
                "「{}」不是有效的日期时间（如 2026-01-05 10:30）",
                cell.text()
            ),
            format!(
                "`{}` is not a valid date and time (such as 2026-01-05 10:30)",
                cell.text()
            ),
        )
    };
    let local = match cell {
        Cell::DateTime(d) => *d,
        Cell::Number(n) => excel_serial(*n).ok_or_else(bad)?,
        Cell::Text(t) => {
            let t = half_width(t).trim().to_string();
            if chrono::DateTime::parse_from_rfc3339(&t).is_ok() {
                return Ok(Value::String(t));
            }
            let (d, rest) = t.split_once([' ', 'T']).unwrap_or((&t, ""));
            let day = parse_date(d).ok_or_else(bad)?;
            let time = match rest.trim() {
                "" => NaiveTime::MIN,
                r => NaiveTime::parse_from_str(r, "%H:%M:%S")
                    .or_else(|_| NaiveTime::parse_from_str(r, "%H:%M"))
                    .map_err(|_| bad())?,
            };
            day.and_time(time)
        }
        _ => return Err(bad()),
    };
    // Whole seconds: Excel's milliseconds would only be rounding noise.
    let local = local.with_nanosecond(0).unwrap_or(local);
    Ok(Value::String(format!(
        "{}+08:00",
        local.format("%Y-%m-%dT%H:%M:%S")
    )))
}

/// A number as text: whole numbers without a decimal point (a phone number typed as a
/// number reads `13812345678`), others as written.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        let clean: f64 = format!("{n:.14e}").parse().unwrap_or(n);
        clean.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "title": "姓名"},
            "born": {"type": "string", "title": "出生日期", "format": "date"},
            "at": {"type": "string", "title": "登记时间", "format": "date-time"},
            "count": {"type": "integer", "title": "人数"},
            "amount": {"type": "number", "title": "金额（元）", "x-decimals": 2},
            "ok": {"type": "boolean", "title": "同意"},
            "kind": {"type": "string", "title": "类别", "enum": ["甲", "乙"]},
            "region": {"type": "string", "title": "地区", "x-options-from": "regions"},
            "skills": {"type": "array", "title": "专长", "items": {"type": "string"}, "x-options-from": "skills"},
            "age": {"type": "integer", "x-computed": "1"},
            "members": {"type": "array", "items": {"type": "object", "properties": {}}}
        }})
    }

    fn catalogues() -> BTreeMap<String, Catalogue> {
        let regions: Catalogue = serde_json::from_value(json!({"label": "行政区划", "options": [
            {"value": "310000", "label": "上海市", "children": [{"value": "310115", "label": "浦东新区"}, {"value": "310101", "label": "城区"}]},
            {"value": "320000", "label": "江苏省", "children": [{"value": "320101", "label": "城区"}]}
        ]}))
        .unwrap();
        let skills: Catalogue = serde_json::from_value(json!({"label": "专长", "options": [
            {"value": "law", "label": "法律"}, {"value": "it", "label": "信息技术"}
        ]}))
        .unwrap();
        BTreeMap::from([("regions".into(), regions), ("skills".into(), skills)])
    }

    fn importer() -> Importer {
        Importer::new(&schema(), None, &catalogues())
    }

    fn one(header: &str, cell: Cell) -> Result<Map<String, Value>, Vec<CellError>> {
        let imp = importer();
        let (b, _) = imp.bind(&[header.to_string()]).unwrap();
        imp.row(&b, &[cell])
    }

    #[test]
    fn headers_match_whatever_their_spaces_and_full_width_forms() {
        assert_eq!(normalise_header(" 身份证　号 "), "身份证号");
        assert_eq!(
            normalise_header("金额（元）"),
            normalise_header("金额 (元)")
        );
        assert_eq!(normalise_header("ＡＢＣ１"), "abc1");
        let imp = importer();
        let (b, ignored) = imp
            .bind(&["　姓 名".into(), "序号".into(), "AMOUNT".into()])
            .unwrap();
        assert_eq!(ignored, ["序号"]);
        assert_eq!(b.position_of(&imp, "name"), Some(0));
        assert_eq!(b.position_of(&imp, "amount"), Some(2));
        // Computed fields and repeating sections are no columns.
        assert!(imp
            .columns
            .iter()
            .all(|c| c.field != "age" && c.field != "members"));
        let err = imp.bind(&["姓名".into(), "name".into()]).unwrap_err();
        assert_eq!(err[0].rule, "duplicate");
        assert!(err[0].message.contains("第 B 列"), "{}", err[0].message);
    }

    #[test]
    fn dates_come_from_serials_date_cells_and_chinese_text() {
        for (cell, want) in [
            (Cell::Number(46027.0), "2026-01-05"),
            (Cell::Text("2026/1/5".into()), "2026-01-05"),
            (Cell::Text("2026年1月5日".into()), "2026-01-05"),
            (Cell::Text("２０２６－０１－０５".into()), "2026-01-05"),
            (Cell::Text("20260105".into()), "2026-01-05"),
            (
                Cell::DateTime(
                    NaiveDate::from_ymd_opt(2026, 1, 5)
                        .unwrap()
                        .and_time(NaiveTime::MIN),
                ),
                "2026-01-05",
            ),
        ] {
            assert_eq!(
                one("出生日期", cell.clone()).unwrap()["born"],
                want,
                "{cell:?}"
            );
        }
        let err = one("出生日期", Cell::Text("2026-02-30".into())).unwrap_err();
        assert!(err[0].message.contains("不是有效的日期"));
        assert_eq!(
            one("登记时间", Cell::Number(46027.5)).unwrap()["at"],
            "2026-01-05T12:00:00+08:00"
        );
        assert_eq!(
            one("登记时间", Cell::Text("2026-01-05 09:30".into())).unwrap()["at"],
            "2026-01-05T09:30:00+08:00"
        );
        assert_eq!(
            excel_serial(1.0).unwrap().date(),
            NaiveDate::from_ymd_opt(1900, 1, 1).unwrap()
        );
    }

    #[test]
    fn numbers_booleans_and_choices_are_converted() {
        assert_eq!(
            one("人数", Cell::Text("1,200".into())).unwrap()["count"],
            1200
        );
        assert!(one("人数", Cell::Number(1.5)).is_err());
        assert_eq!(
            one("金额(元)", Cell::Number(0.1 + 0.2)).unwrap()["amount"],
            json!(0.3)
        );
        assert_eq!(
            one("金额(元)", Cell::Text("１２.５".into())).unwrap()["amount"],
            json!(12.5)
        );
        assert_eq!(one("同意", Cell::Text("是".into())).unwrap()["ok"], true);
        assert_eq!(
            one("同意", Cell::Text("FALSE".into())).unwrap()["ok"],
            false
        );
        assert!(one("同意", Cell::Text("也许".into())).is_err());
        assert_eq!(
            one("类别", Cell::Text(" 乙 ".into())).unwrap()["kind"],
            "乙"
        );
        assert!(one("类别", Cell::Text("丙".into())).is_err());
        assert_eq!(
            one("地区", Cell::Text("浦东新区".into())).unwrap()["region"],
            "310115"
        );
        assert_eq!(
            one("地区", Cell::Text("310115".into())).unwrap()["region"],
            "310115"
        );
        let amb = one("地区", Cell::Text("城区".into())).unwrap_err();
        assert!(amb[0].message.contains("不唯一"), "{}", amb[0].message);
        assert_eq!(
            one("地区", Cell::Text("江苏省/城区".into())).unwrap()["region"],
            "320101"
        );
        assert_eq!(
            one("专长", Cell::Text("法律、信息技术".into())).unwrap()["skills"],
            json!(["law", "it"])
        );
        assert_eq!(
            one("姓名", Cell::Number(13812345678.0)).unwrap()["name"],
            "13812345678"
        );
        let e = one("人数", Cell::Error("#DIV/0!".into())).unwrap_err();
        assert!(e[0].message.contains("#DIV/0!"));
    }

    #[test]
    fn a_template_is_checked_against_its_form() {
        let def: ImportDef = serde_json::from_value(json!({
            "label": "导入", "form": "f",
            "columns": [
                {"header": "姓名", "field": "name"},
                {"header": " 姓名", "field": "kind"},
                {"header": "年龄", "field": "age"},
                {"header": "成员", "field": "nope"}
            ],
            "key": ["born"], "action": "approve"
        }))
        .unwrap();
        let wf: WorkflowDef = serde_json::from_value(json!({
            "label": "w", "initial": "draft", "states": [{"key": "draft", "label": "草稿"}, {"key": "done", "label": "完成"}],
            "transitions": [{"action": "submit", "label": "提交", "from": ["draft"], "to": "done", "roles": ["r"]}]
        }))
        .unwrap();
        let errs = Importer::check(&def, &schema(), Some(&wf), "imports/x.json");
        let got: Vec<(String, String)> = errs.into_iter().map(|e| (e.pointer, e.reason)).collect();
        assert_eq!(
            got,
            [
                (
                    "/columns/1/header".into(),
                    "header ` 姓名` is already used at /columns/0/header".into()
                ),
                (
                    "/columns/2/field".into(),
                    "`age` cannot be imported: it is computed (x-computed)".into()
                ),
                (
                    "/columns/3/field".into(),
                    "form `f` has no field `nope`".into()
                ),
                (
                    "/key/0".into(),
                    "key field `born` is not a column of this import".into()
                ),
                (
                    "/action".into(),
                    "no transition `approve` leaves the initial state `draft`".into()
                ),
            ]
        );
    }

    #[test]
    fn help_says_what_each_column_takes() {
        let help = importer().help();
        let born = help.iter().find(|h| h.field == "born").unwrap();
        assert!(born.format.starts_with("日期"));
        assert_eq!(
            help.iter().find(|h| h.field == "name").unwrap().required,
            "是"
        );
        let region = help.iter().find(|h| h.field == "region").unwrap();
        assert_eq!(
            region.choices,
            ["上海市", "浦东新区", "上海市/城区", "江苏省", "江苏省/城区"]
        );
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(27), "AB");
    }
}
