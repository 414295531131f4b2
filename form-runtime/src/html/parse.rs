//! Posted form fields (`application/x-www-form-urlencoded` pairs named by JSON pointers)
//! read back into a record's data, typed by the schema.

use chrono_tz::Tz;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Number, Value};

use super::{fields_of, Field, Kind};
use crate::import::half_width;

/// The record's data from posted pairs, typed by the schema. Only the fields the page posts
/// are read: writable top-level fields (`None` = all) that are neither computed nor
/// `x-ui.readonly` nor `x-ui.hidden`. A field absent from the post, or posted empty, is
/// absent from the result (so merging the result leaves it as it was; see
/// [`editable_fields`] for replacing instead). A value that does not read as its type is
/// kept as the text, so validation reports the type at its pointer. Names that are not
/// pointers (`_csrf`, `_action`) and unknown fields are ignored.
pub fn parse(
    schema: &Value,
    pairs: &[(String, String)],
    writable: Option<&BTreeSet<String>>,
    zone: Tz,
) -> Value {
    let posted: Vec<(Vec<String>, &str)> = pairs
        .iter()
        .filter_map(|(name, value)| segments(name).map(|s| (s, value.as_str())))
        .collect();
    let mut data = Map::new();
    for f in fields_of(schema).iter().filter(|f| posts(f, writable)) {
        let mine: Vec<Entry<'_>> = posted
            .iter()
            .filter_map(|(segs, v)| match segs.split_first() {
                Some((first, rest)) if first == f.key => Some((rest, *v)),
                _ => None,
            })
            .collect();
        if let Some(v) = read(f, &mine, zone) {
            data.insert(f.key.to_string(), v);
        }
    }
    Value::Object(data)
}

/// The top-level fields a form page posts for this user: [`parse`] reads these and only
/// these. A server that wants an emptied field (a cleared text, unticked choices, a removed
/// last row) to be removed replaces these fields — minus those it hid from the page —
/// instead of merging, since an empty field is absent from what `parse` returns.
pub fn editable_fields(schema: &Value, writable: Option<&BTreeSet<String>>) -> BTreeSet<String> {
    fields_of(schema)
        .iter()
        .filter(|f| posts(f, writable))
        .map(|f| f.key.to_string())
        .collect()
}

fn posts(f: &Field<'_>, writable: Option<&BTreeSet<String>>) -> bool {
    writable.is_none_or(|w| w.contains(f.key)) && !f.computed() && !f.ui.readonly && !f.ui.hidden
}

/// A posted value with the rest of its pointer below the field being read.
type Entry<'p> = (&'p [String], &'p str);

/// The segments of a pointer name (`/members/0/name`), unescaped; None for other names.
fn segments(name: &str) -> Option<Vec<String>> {
    let rest = name.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

fn read(f: &Field<'_>, entries: &[Entry<'_>], zone: Tz) -> Option<Value> {
    let own: Vec<&str> = entries
        .iter()
        .filter(|(rest, _)| rest.is_empty())
        .map(|(_, v)| *v)
        .filter(|v| !v.trim().is_empty())
        .collect();
    let last = own.last().copied();
    match f.kind {
        Kind::Repeat => rows(f, entries, zone),
        Kind::Group => object(&fields_of(f.node), entries, zone),
        Kind::Multi | Kind::Attachment { many: true } => {
            let mut seen = BTreeSet::new();
            let values: Vec<Value> = own
                .iter()
                .filter(|v| seen.insert(v.trim()))
                .map(|v| scalar(f.kind, f.scalar_type(), v, zone))
                .collect();
            (!values.is_empty()).then_some(Value::Array(values))
        }
        Kind::Lines => {
            let values: Vec<Value> = last?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| scalar(f.kind, f.scalar_type(), l, zone))
                .collect();
            (!values.is_empty()).then_some(Value::Array(values))
        }
        Kind::Json => {
            let text = last?.trim();
            Some(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())))
        }
        _ => last.map(|v| scalar(f.kind, f.scalar_type(), v, zone)),
    }
}

/// A repeating section from `/<section>/<i>/<field>` in index order; rows with nothing in
/// them (the spare empty row a page offers) are dropped and the rest numbered densely.
fn rows(f: &Field<'_>, entries: &[Entry<'_>], zone: Tz) -> Option<Value> {
    let cols = f.row_fields();
    let mut by_row: BTreeMap<usize, Vec<Entry<'_>>> = BTreeMap::new();
    for (rest, v) in entries {
        if let Some((index, tail)) = rest.split_first() {
            // The template's `__i__` and anything else that is not an index is no row.
            if let Ok(i) = index.parse::<usize>() {
                by_row.entry(i).or_default().push((tail, *v));
            }
        }
    }
    let rows: Vec<Value> = by_row
        .values()
        .filter_map(|e| object(&cols, e, zone))
        .filter(|row| {
            row.as_object()
                .is_some_and(|r| r.values().any(|v| *v != Value::Bool(false)))
        })
        .collect();
    (!rows.is_empty()).then_some(Value::Array(rows))
}

/// An object of `fields` (a row or a group); None when none of them was filled in.
/// Computed fields are never read: the server computes them.
fn object(fields: &[Field<'_>], entries: &[Entry<'_>], zone: Tz) -> Option<Value> {
    let mut out = Map::new();
    for c in fields.iter().filter(|c| !c.computed()) {
        let mine: Vec<Entry<'_>> = entries
            .iter()
            .filter_map(|(segs, v)| match segs.split_first() {
                Some((first, rest)) if first == c.key => Some((rest, *v)),
                _ => None,
            })
            .collect();
        if let Some(v) = read(c, &mine, zone) {
            out.insert(c.key.to_string(), v);
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// One posted text as a value of JSON type `ty`.
fn scalar(kind: Kind, ty: &str, text: &str, zone: Tz) -> Value {
    match (kind, ty) {
        (Kind::Textarea | Kind::Richtext, _) => Value::String(text.replace("\r\n", "\n")),
        (_, "integer") => number(text, true),
        (_, "number") => number(text, false),
        (_, "boolean") => match text.trim() {
            "true" | "on" | "1" => Value::Bool(true),
            "false" | "off" | "0" => Value::Bool(false),
            other => Value::String(other.to_string()),
        },
        (Kind::DateTime, _) => Value::String(date_time(text.trim(), zone)),
        _ => Value::String(text.trim().to_string()),
    }
}

/// A number from what a person types: spaces around, full-width digits, thousands commas
/// (`1,234.5`) and a leading `+` are fine. The exact decimal text is kept (`12.30` stays
/// 12.3, `12.345` stays 12.345 for `x-decimals` to judge). Anything else stays text.
fn number(text: &str, integer: bool) -> Value {
    let raw = text.trim();
    let t = without_thousands(&half_width(raw));
    let t = t.strip_prefix('+').unwrap_or(&t);
    if integer {
        if let Ok(i) = t.parse::<i64>() {
            return Value::Number(i.into());
        }
    }
    if let Ok(n) = serde_json::from_str::<Number>(t) {
        return Value::Number(n);
    }
    // JSON refuses `007` and `.5`; a decimal reading gives their plain form.
    if t.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-'))
    {
        if let Some(n) = rust_decimal::Decimal::from_str_exact(t)
            .ok()
            .and_then(|d| serde_json::from_str::<Number>(&d.to_string()).ok())
        {
            return Value::Number(n);
        }
    }
    Value::String(raw.to_string())
}

/// `1,234,567.5` → `1234567.5`; commas anywhere but between groups of three stay, so the
/// text is refused rather than misread.
fn without_thousands(t: &str) -> String {
    if !t.contains(',') {
        return t.to_string();
    }
    let (whole, frac) = t.split_once('.').map_or((t, None), |(w, f)| (w, Some(f)));
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    let groups: Vec<&str> = digits.split(',').collect();
    let grouped = groups.iter().enumerate().all(|(i, g)| {
        g.chars().all(|c| c.is_ascii_digit())
            && (if i == 0 {
                (1..=3).contains(&g.len())
            } else {
                g.len() == 3
            })
    });
    if !grouped {
        return t.to_string();
    }
    let mut out = whole.replace(',', "");
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// A `datetime-local` value (`2026-11-25T10:00`), wall-clock time in the tenant's `zone`, as
/// RFC 3339 with the zone's offset; any other text is left for validation to judge. A time
/// the zone skips or repeats (a daylight-saving change) takes the earlier offset.
fn date_time(t: &str, zone: Tz) -> String {
    use chrono::TimeZone;
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|fmt| chrono::NaiveDateTime::parse_from_str(t, fmt).ok())
        .and_then(|dt| zone.from_local_datetime(&dt).earliest())
        .map_or_else(
            || t.to_string(),
            |dt| dt.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_read_as_people_type_them() {
        assert_eq!(number(" 1,234.5 ", false), json!(1234.5));
        assert_eq!(number("１２", true), json!(12));
        assert_eq!(number("+3", true), json!(3));
        assert_eq!(number("007", true), json!(7));
        assert_eq!(number(".5", false), json!(0.5));
        assert_eq!(number("12.30", false), json!(12.3));
        assert_eq!(number("1,23", false), json!("1,23"));
        assert_eq!(number("abc", true), json!("abc"));
        assert_eq!(number("1.5", true), json!(1.5));
    }

    #[test]
    fn local_times_are_read_in_the_tenants_zone() {
        let sh = crate::clock::DEFAULT_ZONE;
        assert_eq!(
            date_time("2026-11-25T10:00", sh),
            "2026-11-25T10:00:00+08:00"
        );
        assert_eq!(
            date_time("2026-11-25T10:00:05", sh),
            "2026-11-25T10:00:05+08:00"
        );
        assert_eq!(
            date_time("2026-11-25T10:00:00Z", sh),
            "2026-11-25T10:00:00Z"
        );
        let paris = crate::clock::zone("Europe/Paris").unwrap();
        assert_eq!(
            date_time("2026-07-01T10:00", paris),
            "2026-07-01T10:00:00+02:00"
        );
    }

    #[test]
    fn pointer_names_unescape_and_others_are_ignored() {
        assert_eq!(
            segments("/a~1b/0/c~0d"),
            Some(vec!["a/b".into(), "0".into(), "c~d".into()])
        );
        assert_eq!(segments("_csrf"), None);
    }
}
