//! Values as people read them, and a record in one line.
//!
//! Stored values are for machines: RFC 3339 moments in UTC, `true`/`false`, choice codes,
//! bare numbers. What a person reads — on a card, in an inbox row, in a notification, in a
//! printed document — is the value in the tenant's zone, the pack's words for yes and no,
//! the choice's title and an amount with its places and thousands separators. A form says
//! how one of its records is summarised with `x-summary`:
//!
//! ```json
//! "x-summary": {"number": "app_no", "title": "applicant_name",
//!               "fields": [{"field": "requested_amount", "label": "申请金额"}, "district"]}
//! ```
//!
//! gives `ZX-2026-000038 · 高秀英 · 申请金额 ¥10,000.00 · 浦东新区`. A field in `fields` is
//! shown with its label unless it is a choice (its value names itself) or the entry says
//! `"label": ""`.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use crate::form::CompiledForm;
use crate::PackError;

/// How many fields a summary may show besides its number and title: a card holds one line.
pub const MAX_SUMMARY_FIELDS: usize = 4;

/// A form's `x-summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryDef {
    /// The field holding the record's number (申请编号), shown first.
    #[serde(default)]
    pub number: Option<String>,
    /// The field that names the record (the applicant), shown next.
    #[serde(default)]
    pub title: Option<String>,
    /// A few more fields, labelled and formatted.
    #[serde(default)]
    pub fields: Vec<SummaryField>,
}

/// One field of a summary: its key, or `{"field", "label"}` to name it otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SummaryField {
    /// Just the key: labelled with the field's title (choices unlabelled).
    Key(String),
    /// The key and the label to show (`""`: none).
    Labelled {
        /// The field.
        field: String,
        /// What it is called in the summary.
        label: String,
    },
}

impl SummaryField {
    /// The field's key.
    pub fn field(&self) -> &str {
        match self {
            SummaryField::Key(k) | SummaryField::Labelled { field: k, .. } => k,
        }
    }
}

/// A record as one line: what a card, an inbox row, a notification or a batch report shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The record's number, when it has one.
    pub number: Option<String>,
    /// What names it.
    pub title: Option<String>,
    /// The further fields as `(label, text)`; the label may be empty.
    pub fields: Vec<(String, String)>,
    /// All of it joined: `ZX-2026-000038 · 高秀英 · 申请金额 ¥10,000.00 · 浦东新区`.
    pub line: String,
}

/// Checks a form's `x-summary` against its schema; problems point into `file`.
pub fn check_summary(schema: &Value, file: &str) -> Vec<PackError> {
    let Some(raw) = schema.get("x-summary") else {
        return Vec::new();
    };
    let def: SummaryDef = match serde_json::from_value(raw.clone()) {
        Ok(d) => d,
        Err(e) => {
            return vec![PackError::new(
                file,
                "/x-summary",
                format!("x-summary is {{\"number\", \"title\", \"fields\"}}: {e}"),
            )]
        }
    };
    let props = &schema["properties"];
    let mut errs = Vec::new();
    let mut field = |key: &str, ptr: String| {
        match props.get(key) {
        None => errs.push(PackError::new(
            file,
            ptr,
            format!("the form has no field `{key}`"),
        )),
        Some(p) if p.get("x-sensitive").is_some_and(|v| v != &Value::Bool(false)) => {
            errs.push(PackError::new(
                file,
                ptr,
                format!("`{key}` is sensitive (x-sensitive): a summary is shown to everyone who sees the record, so it cannot show it"),
            ))
        }
        Some(p) if matches!(p.get("type").and_then(Value::as_str), Some("array" | "object")) => errs
            .push(PackError::new(
                file,
                ptr,
                format!("`{key}` holds rows or a group: a summary shows single values"),
            )),
        Some(_) => {}
    }
    };
    if let Some(n) = &def.number {
        field(n, "/x-summary/number".into());
    }
    if let Some(t) = &def.title {
        field(t, "/x-summary/title".into());
    }
    for (i, f) in def.fields.iter().enumerate() {
        field(f.field(), format!("/x-summary/fields/{i}"));
    }
    if def.fields.len() > MAX_SUMMARY_FIELDS {
        errs.push(PackError::new(
            file,
            "/x-summary/fields",
            format!(
                "a summary shows at most {MAX_SUMMARY_FIELDS} fields besides its number and title ({} given): it must fit on one line",
                def.fields.len()
            ),
        ));
    }
    errs
}

/// The record summarised as its form's `x-summary` says; without one, its first three short
/// text values (the old card), each labelled.
pub fn summarise(form: &CompiledForm, data: &Value, zone: Tz) -> Summary {
    let def: SummaryDef = form
        .schema
        .get("x-summary")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .unwrap_or_default();
    let text = |key: &str| -> Option<String> {
        let t = field_text(form, key, data.get(key)?, zone);
        (!t.is_empty()).then_some(t)
    };
    let mut out = Summary {
        number: def.number.as_deref().and_then(text),
        title: def.title.as_deref().and_then(text),
        ..Summary::default()
    };
    let entries: Vec<SummaryField> = if def == SummaryDef::default() {
        fallback_fields(form, data)
    } else {
        def.fields.clone()
    };
    for f in &entries {
        let key = f.field();
        let Some(v) = data.get(key) else { continue };
        let prop = &form.schema["properties"][key];
        let mut t = field_text(form, key, v, zone);
        if t.is_empty() {
            continue;
        }
        if prop["x-ui"]["widget"] == "amount" && v.is_number() {
            t = format!("¥{t}");
        }
        let label = match f {
            SummaryField::Labelled { label, .. } => label.clone(),
            SummaryField::Key(_) if is_choice(prop) => String::new(),
            SummaryField::Key(_) => bare_label(prop["title"].as_str().unwrap_or(key)),
        };
        out.fields.push((label, t));
    }
    let mut parts: Vec<String> = out.number.iter().chain(&out.title).cloned().collect();
    parts.extend(out.fields.iter().map(|(l, t)| {
        if l.is_empty() {
            t.clone()
        } else {
            format!("{l} {t}")
        }
    }));
    out.line = parts.join(" · ");
    out
}

/// Without `x-summary`: the first three top-level fields with a short single value.
fn fallback_fields(form: &CompiledForm, data: &Value) -> Vec<SummaryField> {
    let Some(props) = form.schema["properties"].as_object() else {
        return Vec::new();
    };
    props
        .iter()
        .filter(|(k, p)| {
            p.get("x-sensitive")
                .is_none_or(|v| v == &Value::Bool(false))
                && match data.get(k.as_str()) {
                    Some(Value::String(s)) => !s.is_empty() && s.chars().count() <= 40,
                    Some(Value::Number(_)) => true,
                    _ => false,
                }
        })
        .take(3)
        .map(|(k, _)| SummaryField::Key(k.clone()))
        .collect()
}

fn is_choice(prop: &Value) -> bool {
    prop.get("enum").is_some()
        || prop.get("oneOf").is_some()
        || prop.get("x-options-from").is_some()
}

/// A field's title without the unit in brackets: `申请金额（元）` → `申请金额`.
fn bare_label(title: &str) -> String {
    let t = title.trim();
    for (open, close) in [('（', '）'), ('(', ')')] {
        if let Some(stripped) = t.strip_suffix(close) {
            if let Some(i) = stripped.rfind(open) {
                if i > 0 {
                    return stripped[..i].trim_end().to_string();
                }
            }
        }
    }
    t.to_string()
}

/// One top-level field's value as people read it: a choice by its title, yes/no in the
/// field's words (`x-ui.yes_no`, default 是/否), an amount with its places and thousands
/// separators (`10,000.00`), a date-time on the tenant's wall clock (`2026-12-07 06:41`),
/// several values joined with 、. Rows and groups give the empty text.
pub fn field_text(form: &CompiledForm, key: &str, v: &Value, zone: Tz) -> String {
    let prop = &form.schema["properties"][key];
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => yes_no(prop, *b),
        Value::Number(n) => number_text(prop, n),
        Value::String(s) if prop["format"] == "date-time" => {
            crate::clock::people_exact(s, zone).unwrap_or_else(|| s.clone())
        }
        Value::String(s) => form.choice_label(key, s).unwrap_or(s).to_string(),
        Value::Array(items) => items
            .iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(item_label(&prop["items"], s).unwrap_or(s).to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("、"),
        Value::Object(_) => String::new(),
    }
}

fn item_label<'a>(items: &'a Value, code: &str) -> Option<&'a str> {
    items["oneOf"]
        .as_array()?
        .iter()
        .find(|o| o["const"].as_str() == Some(code))
        .and_then(|o| o["title"].as_str())
}

/// `true`/`false` in the field's words: `x-ui.yes_no` (`["相符", "不符"]`), default 是/否.
pub fn yes_no(prop: &Value, b: bool) -> String {
    let words = prop["x-ui"]["yes_no"].as_array();
    let word = |i: usize, default: &str| {
        words
            .and_then(|w| w.get(i))
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    if b {
        word(0, "是")
    } else {
        word(1, "否")
    }
}

/// A number as people read it: with `x-decimals` its places and thousands separators
/// (`12,000.00`); otherwise as written.
pub fn number_text(prop: &Value, n: &Number) -> String {
    match prop["x-decimals"].as_u64() {
        Some(places) => grouped(n, places as usize),
        None => n.to_string(),
    }
}

/// `n` with `places` decimals (padded, never rounded away) and `,` every three digits.
pub fn grouped(n: &Number, places: usize) -> String {
    let text = n.to_string();
    if text.contains(['e', 'E']) {
        return text;
    }
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    let frac = if frac.len() >= places {
        frac.to_string()
    } else {
        format!("{frac:0<places$}")
    };
    if frac.is_empty() {
        format!("{sign}{out}")
    } else {
        format!("{sign}{out}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::DEFAULT_ZONE;
    use serde_json::json;

    #[test]
    fn amounts_get_their_places_and_thousands() {
        let n = |s: &str| serde_json::from_str::<Number>(s).unwrap();
        assert_eq!(grouped(&n("10000"), 2), "10,000.00");
        assert_eq!(grouped(&n("131765.31"), 2), "131,765.31");
        assert_eq!(grouped(&n("605.5"), 2), "605.50");
        assert_eq!(grouped(&n("-1234567"), 0), "-1,234,567");
        assert_eq!(grouped(&n("0.125"), 2), "0.125", "never rounded away");
    }

    #[test]
    fn labels_lose_their_unit() {
        assert_eq!(bare_label("申请金额（元）"), "申请金额");
        assert_eq!(bare_label("Amount (CNY)"), "Amount");
        assert_eq!(bare_label("（元）"), "（元）");
        assert_eq!(bare_label("所属区"), "所属区");
    }

    #[test]
    fn yes_and_no_are_the_fields_words() {
        let own = json!({"type": "boolean", "x-ui": {"yes_no": ["相符", "不符"]}});
        assert_eq!(yes_no(&own, false), "不符");
        assert_eq!(yes_no(&own, true), "相符");
        assert_eq!(yes_no(&json!({"type": "boolean"}), false), "否");
        let _ = DEFAULT_ZONE;
    }
}
