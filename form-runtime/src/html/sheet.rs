//! A record as a read-only sheet, and the read-only display of one value that the form page
//! shows for fields the user may not change.

use chrono::Timelike;
use serde_json::{Number, Value};

use super::{
    attachment_url, choices, esc, fields_of, layout, local_time, row_vars, shown, text_of, Field,
    Kind, View, Words,
};

/// The record as a readable sheet: a `<dl class="fw-sheet">` per section (headed by the
/// section's label), choices by label, yes/no in words, repeating sections as tables,
/// attachments as download links. Sensitive values are shown as given: masking is the
/// server's business. Hidden fields and fields whose `x-visible-if` is false are left out.
pub fn sheet(view: &View) -> String {
    let mut out = String::new();
    for (section, fields) in layout(view.schema) {
        let pairs: String = fields
            .iter()
            .filter(|f| !view.hidden.contains(f.key) && !f.ui.hidden && shown(f, view.data))
            .map(|f| pair(view, f, view.data.get(f.key)))
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let list = format!("<dl class=\"fw-sheet\">{pairs}</dl>");
        out.push_str(&match section {
            Some(s) => format!(
                "<section class=\"fw-section\"><h2>{}</h2>{list}</section>",
                esc(&s.label)
            ),
            None => list,
        });
    }
    out
}

fn pair(view: &View, f: &Field<'_>, value: Option<&Value>) -> String {
    let wide = if matches!(f.kind, Kind::Repeat | Kind::Group | Kind::Richtext) {
        " fw-wide"
    } else {
        ""
    };
    format!(
        "<div class=\"fw-pair{wide}\"><dt>{}</dt><dd>{}</dd></div>",
        esc(f.title),
        display(view, f, value)
    )
}

/// A value as HTML for reading: structured kinds as tables, lists and links, the rest as
/// escaped [`plain`] text; an empty value as a dash.
pub(super) fn display(view: &View, f: &Field<'_>, value: Option<&Value>) -> String {
    let Some(v) = value.filter(|v| !is_empty(v)) else {
        return "<span class=\"fw-empty\">—</span>".into();
    };
    let words = view.words();
    match (f.kind, v) {
        (Kind::Repeat, Value::Array(rows)) => table(view, f, rows),
        (Kind::Group, Value::Object(_)) => {
            let pairs: String = fields_of(f.node)
                .iter()
                .filter(|g| !g.ui.hidden)
                .map(|g| pair(view, g, v.get(g.key)))
                .collect();
            format!("<dl class=\"fw-sheet\">{pairs}</dl>")
        }
        (Kind::Attachment { .. }, _) => {
            let ids: Vec<String> = match v {
                Value::Array(a) => a.iter().map(text_of).collect(),
                other => vec![text_of(other)],
            };
            let links: String = ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    format!(
                        "<li><a href=\"{}\">{}</a></li>",
                        esc(&attachment_url(id)),
                        esc(&Words::numbered(words.file, i + 1))
                    )
                })
                .collect();
            format!("<ul class=\"fw-attachments\">{links}</ul>")
        }
        (Kind::Richtext, Value::String(s)) => {
            format!("<div class=\"fw-rich\">{}</div>", ammonia::clean(s))
        }
        (Kind::Textarea | Kind::Json, _) => {
            format!("<span class=\"fw-text\">{}</span>", esc(&plain(view, f, v)))
        }
        _ => esc(&plain(view, f, v)),
    }
}

/// A value as one line of text: choices by label (a region with its province), references
/// by the label the server gave, booleans as 是/否, amounts with their decimals, times in
/// China time.
pub(super) fn plain(view: &View, f: &Field<'_>, v: &Value) -> String {
    let words = view.words();
    let label_of = |code: &Value| -> String {
        let code = text_of(code);
        choices(f, view.catalogues)
            .into_iter()
            .find(|c| c.value == code)
            .map_or(code, |c| c.path)
    };
    match (f.kind, v) {
        (_, Value::Null) => String::new(),
        (Kind::Choice { .. }, _) => label_of(v),
        (Kind::Multi, Value::Array(a)) => a
            .iter()
            .map(label_of)
            .collect::<Vec<_>>()
            .join(words.list_separator),
        (Kind::Lines, Value::Array(a)) => a
            .iter()
            .map(text_of)
            .collect::<Vec<_>>()
            .join(words.list_separator),
        (Kind::Reference, Value::String(id)) => view
            .references
            .get(f.key)
            .and_then(|r| r.iter().find(|(rid, _)| rid == id))
            .map_or_else(|| id.clone(), |(_, label)| label.clone()),
        (_, Value::Bool(b)) => match &f.ui.yes_no {
            Some([yes, no]) => if *b { yes } else { no }.clone(),
            None => if *b { words.yes } else { words.no }.to_string(),
        },
        (Kind::Number { decimals: Some(d) }, Value::Number(n)) => with_places(n, d),
        (Kind::DateTime, Value::String(s)) => local_time(s, view.zone).map_or_else(
            || s.clone(),
            |t| {
                t.format(if t.second() == 0 {
                    "%Y-%m-%d %H:%M"
                } else {
                    "%Y-%m-%d %H:%M:%S"
                })
                .to_string()
            },
        ),
        (Kind::Json, _) => v.to_string(),
        _ => text_of(v),
    }
}

/// A repeating section as a table, one column per row field.
fn table(view: &View, f: &Field<'_>, rows: &[Value]) -> String {
    let cols: Vec<Field<'_>> = f
        .row_fields()
        .into_iter()
        .filter(|c| !c.ui.hidden)
        .collect();
    let head: String = cols
        .iter()
        .map(|c| format!("<th scope=\"col\">{}</th>", esc(c.title)))
        .collect();
    let body: String = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let vars = row_vars(Some(row), view.data);
            let cells: String = cols
                .iter()
                .map(|c| {
                    let v = row.get(c.key).filter(|_| shown(c, &vars));
                    format!("<td>{}</td>", display(view, c, v))
                })
                .collect();
            format!("<tr><th scope=\"row\">{}</th>{cells}</tr>", i + 1)
        })
        .collect();
    format!(
        "<table class=\"fw-table\"><thead><tr><th scope=\"col\">#</th>{head}</tr></thead>\
         <tbody>{body}</tbody></table>"
    )
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// `0.5` with two places is `0.50`; a number with more places than asked is shown as it is.
fn with_places(n: &Number, places: u32) -> String {
    let text = n.to_string();
    let places = places as usize;
    if places == 0 || text.contains(['e', 'E']) {
        return text;
    }
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    if frac.len() >= places {
        return text;
    }
    format!("{whole}.{frac:0<places$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_show_their_places() {
        let n = |s: &str| serde_json::from_str::<Number>(s).unwrap();
        assert_eq!(with_places(&n("0.5"), 2), "0.50");
        assert_eq!(with_places(&n("12"), 2), "12.00");
        assert_eq!(with_places(&n("12.345"), 2), "12.345");
        assert_eq!(with_places(&n("7"), 0), "7");
    }
}
