//! Form pages: the fields of a form as HTML, a record as a read-only sheet, and the posted
//! form fields read back into record data.
//!
//! The one thing to know: every input is **named by the JSON pointer of its value**
//! (`/applicant_name`, `/members/0/name`), so the error of a pointer lands under its input,
//! the server's answers address inputs directly, and [`parse`] needs nothing but the schema
//! to rebuild typed data from the posted pairs. What the page draws follows the field kinds
//! and the `x-ui` hints of the form language (`docs/pack-format.md` 4.9); the server still
//! applies every rule on save, so nothing here is a check.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::expr::Expr;
use crate::form::escape as escape_segment;
use crate::rules::{Catalogue, CatalogueOption, FormUi, Section, UiHints, Widget};
use crate::FieldError;

mod fields;
mod parse;
mod sheet;

pub use fields::{form_fields, unplaced_errors};
pub use parse::{editable_fields, parse};
pub use sheet::sheet;

/// What a form page shows.
pub struct View<'a> {
    /// The form's key, for attachment upload URLs.
    pub form_key: &'a str,
    /// The form's JSON schema (`CompiledForm::schema`).
    pub schema: &'a Value,
    /// The catalogues of `x-options-from`: labels of codes, and the tree of regions.
    pub catalogues: &'a BTreeMap<String, Catalogue>,
    /// Current values, a JSON object (may be `{}`).
    pub data: &'a Value,
    /// Errors to show, each under the field its pointer addresses.
    pub errors: &'a [FieldError],
    /// Built-in words and error messages in English instead of Chinese.
    pub english: bool,
    /// Top-level field keys not shown at all.
    pub hidden: &'a BTreeSet<String>,
    /// Top-level keys the user may edit; `None` = every field. Others are shown read-only.
    pub writable: Option<&'a BTreeSet<String>>,
    /// Choices of each `x-ref` field: (record id, label).
    pub references: &'a BTreeMap<String, Vec<(String, String)>>,
    /// The tenant's zone: date-times are shown and entered as wall-clock time in it.
    pub zone: chrono_tz::Tz,
}

impl View<'_> {
    fn words(&self) -> &'static Words {
        if self.english {
            &EN
        } else {
            &ZH
        }
    }

    fn may_write(&self, key: &str) -> bool {
        self.writable.is_none_or(|w| w.contains(key))
    }
}

/// The page's own words, in the reader's language.
struct Words {
    add_row: &'static str,
    remove: &'static str,
    remove_row: &'static str,
    choose: &'static str,
    yes: &'static str,
    no: &'static str,
    file: &'static str,
    keep: &'static str,
    list_separator: &'static str,
}

const ZH: Words = Words {
    add_row: "添加一行",
    remove: "删除",
    remove_row: "删除此行",
    choose: "请选择",
    yes: "是",
    no: "否",
    file: "附件 {}",
    keep: "保留",
    list_separator: "、",
};

const EN: Words = Words {
    add_row: "Add row",
    remove: "Remove",
    remove_row: "Remove this row",
    choose: "Choose",
    yes: "Yes",
    no: "No",
    file: "File {}",
    keep: "Keep",
    list_separator: ", ",
};

impl Words {
    fn numbered(template: &str, n: usize) -> String {
        template.replace("{}", &n.to_string())
    }
}

/// How a field is drawn and read back. Decided by the schema alone (not by catalogues), so
/// [`parse`] reads a field the way the page drew it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One line of text.
    Text,
    /// Several lines of text.
    Textarea,
    /// Rich text, sanitised HTML.
    Richtext,
    /// A whole number.
    Integer,
    /// A decimal, with at most `decimals` places when the field says so.
    Number { decimals: Option<u32> },
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339, entered in China time.
    DateTime,
    /// One of an `enum` or a catalogue (a tree of regions too).
    Choice { radio: bool },
    /// Several of an `enum` or a catalogue.
    Multi,
    /// Yes or no.
    Switch,
    /// A box that must be ticked (`const: true`).
    Agreement,
    /// The id of another form's record.
    Reference,
    /// Uploaded files: ids (`many`) or one id.
    Attachment { many: bool },
    /// An array of plain values, one per line.
    Lines,
    /// A repeating section: an array of objects.
    Repeat,
    /// A group of sub-fields.
    Group,
    /// Anything else, edited as JSON text so nothing is lost.
    Json,
}

/// One property of a form (or of a row, or of a group) and how to draw it.
struct Field<'s> {
    key: &'s str,
    node: &'s Value,
    title: &'s str,
    ui: UiHints,
    kind: Kind,
}

impl<'s> Field<'s> {
    fn new(key: &'s str, node: &'s Value) -> Field<'s> {
        // A malformed x-ui is refused by pack check; a page just ignores it.
        let ui: UiHints = node
            .get("x-ui")
            .and_then(|u| serde_json::from_value(u.clone()).ok())
            .unwrap_or_default();
        let kind = kind_of(node, ui.widget);
        Field {
            key,
            node,
            title: node.get("title").and_then(Value::as_str).unwrap_or(key),
            ui,
            kind,
        }
    }

    fn str_of(&self, keyword: &str) -> Option<&'s str> {
        self.node.get(keyword).and_then(Value::as_str)
    }

    fn computed(&self) -> bool {
        self.node.get("x-computed").is_some()
    }

    fn visible_if(&self) -> Option<&'s str> {
        self.str_of("x-visible-if")
    }

    fn description(&self) -> Option<&'s str> {
        self.str_of("description")
    }

    /// Help under the field: `x-ui.help`, else the description (which an agreement shows
    /// as its text instead).
    fn help(&self) -> Option<&str> {
        match self.kind {
            Kind::Agreement => self.ui.help.as_deref(),
            _ => self.ui.help.as_deref().or(self.description()),
        }
    }

    /// The schema of one row of a repeating section, or of one value of an array.
    fn items(&self) -> &'s Value {
        self.node.get("items").unwrap_or(&Value::Null)
    }

    /// The fields of a repeating section's rows. A row is a line of cells, so text is one
    /// line there unless its widget asks for more.
    fn row_fields(&self) -> Vec<Field<'s>> {
        let mut fields = fields_of(self.items());
        for f in &mut fields {
            if f.kind == Kind::Textarea && f.ui.widget.is_none() {
                f.kind = Kind::Text;
            }
        }
        fields
    }

    /// The type of the value, or of each element of an array.
    fn scalar_type(&self) -> &'s str {
        let node = match self.kind {
            Kind::Multi | Kind::Lines => self.items(),
            _ => self.node,
        };
        node.get("type").and_then(Value::as_str).unwrap_or("string")
    }
}

fn kind_of(node: &Value, widget: Option<Widget>) -> Kind {
    let ty = node.get("type").and_then(Value::as_str).unwrap_or("string");
    let items = node.get("items").unwrap_or(&Value::Null);
    let scalar_choices = node.get("enum").is_some() || node.get("x-options-from").is_some();
    let array_choices = ty == "array"
        && (node.get("x-options-from").is_some()
            || items.get("enum").is_some()
            || items.get("x-options-from").is_some());
    let single_choice = |w: Option<Widget>| -> Kind {
        match w {
            Some(Widget::Radio) if scalar_choices => Kind::Choice { radio: true },
            _ => Kind::Choice { radio: false },
        }
    };
    if node.get(crate::attachment::KEYWORD).is_some() && matches!(ty, "array" | "string") {
        return Kind::Attachment {
            many: ty == "array",
        };
    }
    // Pack check allows 0 to 10 places; anything else is ignored here rather than trusted.
    let decimals = node
        .get("x-decimals")
        .and_then(Value::as_u64)
        .filter(|d| *d <= 10)
        .and_then(|d| u32::try_from(d).ok());
    // The page widget, when it fits the field's type; otherwise the default below.
    let chosen = match (widget, ty) {
        (Some(Widget::Text), "string") => Some(Kind::Text),
        (Some(Widget::Textarea), "string") => Some(Kind::Textarea),
        (Some(Widget::Richtext), "string") => Some(Kind::Richtext),
        (Some(Widget::Integer | Widget::Amount), "integer") => Some(Kind::Integer),
        (Some(Widget::Integer), "number") => Some(Kind::Number { decimals: Some(0) }),
        (Some(Widget::Amount), "number") => Some(Kind::Number {
            decimals: decimals.or(Some(2)),
        }),
        (Some(Widget::Date), "string") => Some(Kind::Date),
        (Some(Widget::Datetime), "string") => Some(Kind::DateTime),
        (Some(w @ (Widget::Select | Widget::Radio | Widget::Region)), t)
            if scalar_choices && t != "array" =>
        {
            Some(single_choice(Some(w)))
        }
        (Some(Widget::Checkboxes), "array") if array_choices => Some(Kind::Multi),
        (Some(Widget::Switch), "boolean") => Some(Kind::Switch),
        (Some(Widget::Agreement), "boolean") => Some(Kind::Agreement),
        (Some(Widget::Reference), "string") => Some(Kind::Reference),
        _ => None,
    };
    if let Some(k) = chosen {
        return k;
    }
    match ty {
        "array" if items.get("type").and_then(Value::as_str) == Some("object") => Kind::Repeat,
        "array" if array_choices => Kind::Multi,
        "array"
            if matches!(
                items.get("type").and_then(Value::as_str),
                None | Some("string" | "integer" | "number")
            ) =>
        {
            Kind::Lines
        }
        "array" => Kind::Json,
        "object" => Kind::Group,
        _ if node.get("x-ref").is_some() => Kind::Reference,
        _ if scalar_choices => single_choice(widget),
        "boolean" if node.get("const") == Some(&Value::Bool(true)) => Kind::Agreement,
        "boolean" => Kind::Switch,
        "integer" => Kind::Integer,
        "number" => Kind::Number { decimals },
        "string" => string_kind(node),
        _ => Kind::Json,
    }
}

/// Text without a widget: a date, a line, or — without a short `maxLength` — several lines
/// (the "long text" of the field kinds table).
fn string_kind(node: &Value) -> Kind {
    match node.get("format").and_then(Value::as_str) {
        Some("date") => return Kind::Date,
        Some("date-time") => return Kind::DateTime,
        Some(_) => return Kind::Text,
        None => {}
    }
    if node.get("x-sanitize").and_then(Value::as_str) == Some("html") {
        return Kind::Richtext;
    }
    if node.get("pattern").is_some() {
        return Kind::Text;
    }
    match node.get("maxLength").and_then(Value::as_u64) {
        Some(n) if n <= LONGEST_LINE => Kind::Text,
        _ => Kind::Textarea,
    }
}

/// Text allowed to be longer than this gets several lines.
const LONGEST_LINE: u64 = 200;

/// The properties of an object schema, in the order of the file.
fn fields_of(node: &Value) -> Vec<Field<'_>> {
    node.get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| Field::new(k, v))
        .collect()
}

/// The `required` keys of an object schema.
fn required_of(node: &Value) -> BTreeSet<&str> {
    node.get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// The form's fields grouped into its sections: fields without a (declared) section first,
/// then each section in declared order; within a group by `x-ui.order`, else position.
fn layout(schema: &Value) -> Vec<(Option<Section>, Vec<Field<'_>>)> {
    let ui: FormUi = schema
        .get("x-ui")
        .and_then(|u| serde_json::from_value(u.clone()).ok())
        .unwrap_or_default();
    let mut groups: Vec<(Option<Section>, Vec<Field<'_>>)> = vec![(None, Vec::new())];
    groups.extend(ui.sections.into_iter().map(|s| (Some(s), Vec::new())));
    for f in fields_of(schema) {
        let at =
            f.ui.section
                .as_deref()
                .and_then(|key| {
                    groups
                        .iter()
                        .position(|(s, _)| s.as_ref().is_some_and(|s| s.key == key))
                })
                .unwrap_or(0);
        groups[at].1.push(f);
    }
    for (_, fields) in &mut groups {
        let mut keyed: Vec<(i64, Field<'_>)> = fields
            .drain(..)
            .enumerate()
            .map(|(i, f)| (f.ui.order.unwrap_or(i as i64 + 1), f))
            .collect();
        keyed.sort_by_key(|(order, _)| *order);
        fields.extend(keyed.into_iter().map(|(_, f)| f));
    }
    groups
}

/// One option of a choice, flattened out of a catalogue tree.
struct Choice {
    value: String,
    label: String,
    /// Labels from the top of the tree down to this option, for a sheet.
    path: String,
    depth: usize,
}

/// The options of a choice field (for an array, of each element).
fn choices(f: &Field<'_>, catalogues: &BTreeMap<String, Catalogue>) -> Vec<Choice> {
    let from = |node: &Value| -> Option<Vec<Choice>> {
        if let Some(c) = node.get("x-options-from").and_then(Value::as_str) {
            let mut out = Vec::new();
            flatten(
                catalogues.get(c).map_or(&[][..], |c| &c.options),
                "",
                0,
                &mut out,
            );
            return Some(out);
        }
        node.get("enum").and_then(Value::as_array).map(|e| {
            e.iter()
                .map(|v| {
                    let text = text_of(v);
                    Choice {
                        value: text.clone(),
                        label: text.clone(),
                        path: text,
                        depth: 0,
                    }
                })
                .collect()
        })
    };
    let own = from(f.node);
    match f.kind {
        Kind::Multi => own.or_else(|| from(f.items())).unwrap_or_default(),
        _ => own.unwrap_or_default(),
    }
}

fn flatten(options: &[CatalogueOption], above: &str, depth: usize, out: &mut Vec<Choice>) {
    for o in options {
        let path = if above.is_empty() {
            o.label.clone()
        } else {
            format!("{above} / {}", o.label)
        };
        out.push(Choice {
            value: o.value.clone(),
            label: o.label.clone(),
            path: path.clone(),
            depth,
        });
        flatten(&o.children, &path, depth + 1, out);
    }
}

/// Whether a field with `x-visible-if` shows for these variables (the record, or a row with
/// `record`). An expression that cannot be judged shows the field: the server decides.
fn shown(f: &Field<'_>, vars: &Value) -> bool {
    let Some(src) = f.visible_if() else {
        return true;
    };
    Expr::compile(src)
        .and_then(|x| x.test(vars))
        .unwrap_or(true)
}

/// The variables a row's expressions see: its fields and the whole `record`.
fn row_vars(row: Option<&Value>, record: &Value) -> Value {
    let mut vars = row.and_then(Value::as_object).cloned().unwrap_or_default();
    vars.insert("record".into(), record.clone());
    Value::Object(vars)
}

/// A value as the text of an input.
fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// The pointer of `key` inside the value at `parent`.
fn child(parent: &str, key: &str) -> String {
    format!("{parent}/{}", escape_segment(key))
}

/// An HTML id for a pointer, unique per pointer: letters, digits and `_` stay, `/` becomes
/// `-`, anything else `.hex.` (`/members/0/name` → `f-members-0-name`). Ids of a field's
/// parts add a `--` suffix (`f-name--help`), which no pointer's id has.
fn id_of(pointer: &str) -> String {
    let mut id = String::from("f");
    for c in pointer.chars() {
        match c {
            '/' => id.push('-'),
            c if c.is_ascii_alphanumeric() || c == '_' => id.push(c),
            c => id.push_str(&format!(".{:x}.", c as u32)),
        }
    }
    id
}

/// Text made safe for HTML content and quoted attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A URL path segment: unreserved characters stay, every other byte is percent-encoded.
fn url_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where an attachment is downloaded.
fn attachment_url(id: &str) -> String {
    format!("/api/v1/attachments/{}", url_segment(id))
}

/// An RFC 3339 time as wall-clock time in `zone`.
fn local_time(s: &str, zone: chrono_tz::Tz) -> Option<chrono::NaiveDateTime> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&zone).naive_local())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_unique_per_pointer_and_keep_plain_keys_readable() {
        assert_eq!(id_of("/members/0/name"), "f-members-0-name");
        assert_eq!(id_of("/members/__i__/name"), "f-members-__i__-name");
        assert_ne!(id_of("/a-b"), id_of("/a/b"));
        assert_ne!(id_of("/a.2d.b"), id_of("/a-b"));
        assert!(!id_of("/名 字").contains(' '));
    }

    #[test]
    fn escape_covers_text_and_attributes() {
        assert_eq!(
            esc(r#""><script>alert('x')</script>&"#),
            "&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        );
    }

    #[test]
    fn widget_overrides_the_default_only_when_it_fits_the_type() {
        let k = |node: Value| {
            let ui: UiHints = node
                .get("x-ui")
                .and_then(|u| serde_json::from_value(u.clone()).ok())
                .unwrap_or_default();
            kind_of(&node, ui.widget)
        };
        assert_eq!(k(json!({"type": "string", "maxLength": 50})), Kind::Text);
        assert_eq!(k(json!({"type": "string"})), Kind::Textarea);
        assert_eq!(
            k(json!({"type": "string", "maxLength": 50, "x-ui": {"widget": "textarea"}})),
            Kind::Textarea
        );
        assert_eq!(
            k(json!({"type": "integer", "x-ui": {"widget": "date"}})),
            Kind::Integer
        );
        assert_eq!(
            k(json!({"type": "string", "enum": ["a"], "x-ui": {"widget": "radio"}})),
            Kind::Choice { radio: true }
        );
        assert_eq!(
            k(json!({"type": "number", "x-ui": {"widget": "amount"}})),
            Kind::Number { decimals: Some(2) }
        );
        assert_eq!(
            k(json!({"type": "array", "items": {"type": "string", "enum": ["a"]}})),
            Kind::Multi
        );
        assert_eq!(
            k(json!({"type": "array", "items": {"type": "array"}})),
            Kind::Json
        );
    }

    #[test]
    fn layout_puts_unsectioned_fields_first_and_honours_order() {
        let schema = json!({
            "type": "object",
            "x-ui": {"sections": [{"key": "s", "label": "S"}]},
            "properties": {
                "a": {"type": "string", "x-ui": {"section": "s"}},
                "b": {"type": "string", "x-ui": {"section": "s", "order": 0}},
                "c": {"type": "string"}
            }
        });
        let l = layout(&schema);
        let keys: Vec<Vec<&str>> = l
            .iter()
            .map(|(_, f)| f.iter().map(|f| f.key).collect())
            .collect();
        assert_eq!(keys, vec![vec!["c"], vec!["b", "a"]]);
    }
}
