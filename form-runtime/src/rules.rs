//! Field rules beyond JSON Schema: the `x-` keywords on a form's properties.
//!
//! | keyword | meaning |
//! |---|---|
//! | `x-computed` | expression whose value replaces whatever the client sent |
//! | `x-visible-if` | expression; when false the field is hidden: its value is dropped and it is not required |
//! | `x-required-if` | expression; when true the field is required |
//! | `x-decimals` | at most this many decimal places (amounts: 2), checked on the number's exact text |
//! | `x-options-from` | the value (or each value of an array) must be one in a pack catalogue |
//! | `x-sanitize` | `"html"`: rich text is cleaned of scripts and unsafe markup before it is stored |
//! | `x-ref` | the value is the id of a record of another form in the same tenant |
//! | `x-messages` | per-rule message overrides for this field |
//! | `x-ui` | layout hints for pages; never affects validation |
//!
//! [`Rules::prepare`] applies them in a fixed order — sanitise, compute, hide, validate,
//! require, check decimals and options, override messages — so the stored data never holds a
//! forged computed value or a hidden field's leftovers.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{FieldError, PackError};
use crate::expr::Expr;
use crate::form::escape;

/// Property-level extension keywords handled elsewhere in the runtime or the server.
const OTHER_KEYWORDS: &[&str] = &["x-sensitive", "x-attachment"];

/// Where a rule applies: a top-level field, or a field of every row of a repeating section.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FieldPath {
    /// `/field`.
    Top(String),
    /// `/section/<row>/field`.
    Row(String, String),
}

impl FieldPath {
    /// The pointer to the schema node of this field.
    pub fn schema_pointer(&self) -> String {
        match self {
            FieldPath::Top(f) => format!("/properties/{}", escape(f)),
            FieldPath::Row(s, f) => {
                format!("/properties/{}/items/properties/{}", escape(s), escape(f))
            }
        }
    }

    /// Whether a data pointer (`/members/2/id_number`) addresses this field.
    pub fn matches(&self, pointer: &str) -> bool {
        let segs: Vec<&str> = pointer.split('/').skip(1).collect();
        match self {
            FieldPath::Top(f) => segs.len() == 1 && segs[0] == escape(f),
            FieldPath::Row(s, f) => {
                segs.len() == 3
                    && segs[0] == escape(s)
                    && segs[1].parse::<usize>().is_ok()
                    && segs[2] == escape(f)
            }
        }
    }
}

/// Layout hints (`x-ui`) of a field.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiHints {
    /// Key of the section (declared in the form's top-level `x-ui.sections`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// Position within the section; lower first (default: the order in the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
    /// Width in grid columns, 1 to 4 (default 1; a section has `columns` of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<u8>,
    /// Placeholder text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// Help text under the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Shown but not editable on the page.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub readonly: bool,
    /// Not shown on the page.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
    /// How to draw the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widget: Option<Widget>,
    /// A yes/no field's words for true and false (`["相符", "不符"]`); default 是/否.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yes_no: Option<[String; 2]>,
}

/// Ways a page draws a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Widget {
    /// One line of text.
    Text,
    /// Several lines of text.
    Textarea,
    /// Sanitised rich text.
    Richtext,
    /// Whole number.
    Integer,
    /// Money, two decimals.
    Amount,
    /// Date picker.
    Date,
    /// Date and time picker.
    Datetime,
    /// Drop-down list.
    Select,
    /// Radio buttons.
    Radio,
    /// Check boxes (multiple choice).
    Checkboxes,
    /// Yes/no switch.
    Switch,
    /// Province/city/district cascade.
    Region,
    /// "I have read the notice" box that must be ticked.
    Agreement,
    /// File upload.
    Attachment,
    /// Picker of a record of another form.
    Reference,
}

/// The form's top-level `x-ui`: its sections.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormUi {
    /// Sections in display order.
    #[serde(default)]
    pub sections: Vec<Section>,
}

/// A section of a form page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// Key fields name in `x-ui.section`.
    pub key: String,
    /// Heading.
    pub label: String,
    /// Grid columns on a wide screen (1 to 4; phones always show one).
    #[serde(default = "one")]
    pub columns: u8,
}

fn one() -> u8 {
    1
}

/// A reference to another form's records (`x-ref`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RefRule {
    /// Key of the referenced form (in the same tenant).
    pub form: String,
    /// Field of the referenced record that lists and pages show for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A message override: one text for both languages, or `{zh, en}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Message {
    /// The same text for every language.
    Same(String),
    /// Per language.
    Both {
        /// Simplified Chinese.
        zh: String,
        /// English.
        en: String,
    },
}

/// One option of a catalogue, possibly with children (province → city → district).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueOption {
    /// Stored value (a code).
    pub value: String,
    /// Shown label.
    pub label: String,
    /// Options below this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<CatalogueOption>,
}

/// A catalogue file (`catalogues/<key>.json`): a named list or tree of options.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// Name of the catalogue.
    pub label: String,
    /// The options.
    pub options: Vec<CatalogueOption>,
}

impl Catalogue {
    /// Every value at any depth.
    pub fn values(&self) -> BTreeSet<String> {
        fn walk(o: &[CatalogueOption], out: &mut BTreeSet<String>) {
            for x in o {
                out.insert(x.value.clone());
                walk(&x.children, out);
            }
        }
        let mut out = BTreeSet::new();
        walk(&self.options, &mut out);
        out
    }
}

/// The compiled rules of one form.
#[derive(Debug, Default)]
pub struct Rules {
    computed: Vec<(FieldPath, Expr, Option<u32>)>,
    visible_if: Vec<(FieldPath, Expr)>,
    required_if: Vec<(FieldPath, Expr)>,
    decimals: Vec<(FieldPath, u32)>,
    options: Vec<(FieldPath, String, BTreeSet<String>)>,
    sanitize: Vec<FieldPath>,
    messages: Vec<(FieldPath, BTreeMap<String, Message>)>,
    /// Reference fields (top level) and what they point at.
    pub refs: BTreeMap<String, RefRule>,
}

/// A field's parsed extension keywords, before the form is put together.
struct Ext<'a> {
    path: FieldPath,
    node: &'a Value,
}

fn fields_with_ext(schema: &Value) -> Vec<Ext<'_>> {
    let mut out = Vec::new();
    for (k, node) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        out.push(Ext {
            path: FieldPath::Top(k.clone()),
            node,
        });
        if let Some(items) = node
            .get("items")
            .and_then(|i| i.get("properties"))
            .and_then(Value::as_object)
        {
            for (rk, rnode) in items {
                out.push(Ext {
                    path: FieldPath::Row(k.clone(), rk.clone()),
                    node: rnode,
                });
            }
        }
    }
    out
}

impl Rules {
    /// Compiles the `x-` keywords of `schema`'s properties. `catalogues` are the pack's;
    /// problems are reported against `file`.
    pub fn compile(
        schema: &Value,
        catalogues: &BTreeMap<String, Catalogue>,
        file: &str,
    ) -> Result<Rules, Vec<PackError>> {
        let mut rules = Rules::default();
        let mut errs = Vec::new();
        let top: BTreeSet<String> = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let sections: BTreeSet<String> = match schema.get("x-ui") {
            None => BTreeSet::new(),
            Some(ui) => match serde_json::from_value::<FormUi>(ui.clone()) {
                Ok(ui) => {
                    for (i, s) in ui.sections.iter().enumerate() {
                        if !(1..=4).contains(&s.columns) {
                            errs.push(PackError::new(
                                file,
                                format!("/x-ui/sections/{i}/columns"),
                                "columns must be 1 to 4",
                            ));
                        }
                    }
                    ui.sections.into_iter().map(|s| s.key).collect()
                }
                Err(e) => {
                    errs.push(PackError::new(file, "/x-ui", format!("invalid x-ui: {e}")));
                    BTreeSet::new()
                }
            },
        };
        for Ext { path, node } in fields_with_ext(schema) {
            let at = path.schema_pointer();
            let Some(obj) = node.as_object() else {
                continue;
            };
            // Variables an expression at this path may read.
            let vars: BTreeSet<String> = match &path {
                FieldPath::Top(_) => top.clone(),
                FieldPath::Row(s, _) => {
                    let mut v: BTreeSet<String> = schema["properties"][s]["items"]["properties"]
                        .as_object()
                        .map(|p| p.keys().cloned().collect())
                        .unwrap_or_default();
                    v.insert("record".into());
                    v
                }
            };
            let expr = |kw: &str, errs: &mut Vec<PackError>| -> Option<Expr> {
                let src = obj.get(kw)?;
                let Some(src) = src.as_str() else {
                    errs.push(PackError::new(
                        file,
                        format!("{at}/{kw}"),
                        "an expression must be a string",
                    ));
                    return None;
                };
                match Expr::compile(src) {
                    Err(e) => {
                        errs.push(PackError::new(
                            file,
                            format!("{at}/{kw}"),
                            format!("invalid expression: {e}"),
                        ));
                        None
                    }
                    Ok(x) => {
                        let unknown: Vec<String> = x
                            .variables()
                            .into_iter()
                            .filter(|v| !vars.contains(v))
                            .collect();
                        if unknown.is_empty() {
                            Some(x)
                        } else {
                            errs.push(PackError::new(
                                file,
                                format!("{at}/{kw}"),
                                format!(
                                    "expression reads unknown field(s): {}",
                                    unknown.join(", ")
                                ),
                            ));
                            None
                        }
                    }
                }
            };
            let decimals = match obj.get("x-decimals") {
                None => None,
                Some(d) => match d.as_u64().filter(|d| *d <= 10) {
                    Some(d) => Some(d as u32),
                    None => {
                        errs.push(PackError::new(
                            file,
                            format!("{at}/x-decimals"),
                            "x-decimals must be a whole number from 0 to 10",
                        ));
                        None
                    }
                },
            };
            if let Some(x) = expr("x-computed", &mut errs) {
                rules.computed.push((path.clone(), x, decimals));
            }
            if let Some(x) = expr("x-visible-if", &mut errs) {
                rules.visible_if.push((path.clone(), x));
            }
            if let Some(x) = expr("x-required-if", &mut errs) {
                rules.required_if.push((path.clone(), x));
            }
            if let Some(d) = decimals {
                rules.decimals.push((path.clone(), d));
            }
            if let Some(c) = obj.get("x-options-from") {
                match c
                    .as_str()
                    .and_then(|c| catalogues.get(c).map(|cat| (c, cat)))
                {
                    Some((c, cat)) => {
                        rules
                            .options
                            .push((path.clone(), c.to_string(), cat.values()))
                    }
                    None => errs.push(PackError::new(
                        file,
                        format!("{at}/x-options-from"),
                        format!("{c} is not a catalogue in catalogues/"),
                    )),
                }
            }
            match obj.get("x-sanitize") {
                None => {}
                Some(Value::String(s)) if s == "html" => rules.sanitize.push(path.clone()),
                Some(_) => errs.push(PackError::new(
                    file,
                    format!("{at}/x-sanitize"),
                    "x-sanitize must be \"html\"",
                )),
            }
            if let Some(m) = obj.get("x-messages") {
                match serde_json::from_value::<BTreeMap<String, Message>>(m.clone()) {
                    Ok(m) => rules.messages.push((path.clone(), m)),
                    Err(e) => errs.push(PackError::new(
                        file,
                        format!("{at}/x-messages"),
                        format!("x-messages maps a rule to a text or {{zh, en}}: {e}"),
                    )),
                }
            }
            if let Some(r) = obj.get("x-ref") {
                match (serde_json::from_value::<RefRule>(r.clone()), &path) {
                    (Ok(rule), FieldPath::Top(f))
                        if obj.get("type") == Some(&Value::String("string".into())) =>
                    {
                        rules.refs.insert(f.clone(), rule);
                    }
                    (Ok(_), _) => errs.push(PackError::new(
                        file,
                        format!("{at}/x-ref"),
                        "a reference is a top-level string field (the record id)",
                    )),
                    (Err(e), _) => errs.push(PackError::new(
                        file,
                        format!("{at}/x-ref"),
                        format!("x-ref is {{form, label}}: {e}"),
                    )),
                }
            }
            if let Some(ui) = obj.get("x-ui") {
                match serde_json::from_value::<UiHints>(ui.clone()) {
                    Ok(h) => {
                        if let Some(s) = h.section.filter(|s| !sections.contains(s)) {
                            errs.push(PackError::new(
                                file,
                                format!("{at}/x-ui/section"),
                                format!(
                                    "section `{s}` is not declared in the form's x-ui.sections"
                                ),
                            ));
                        }
                        if h.columns.is_some_and(|c| !(1..=4).contains(&c)) {
                            errs.push(PackError::new(
                                file,
                                format!("{at}/x-ui/columns"),
                                "columns must be 1 to 4",
                            ));
                        }
                        if let Some(words) = &h.yes_no {
                            if obj.get("type").and_then(Value::as_str) != Some("boolean") {
                                errs.push(PackError::new(
                                    file,
                                    format!("{at}/x-ui/yes_no"),
                                    "yes_no names the words of a yes/no (boolean) field",
                                ));
                            } else if words.iter().any(|w| w.trim().is_empty())
                                || words[0] == words[1]
                            {
                                errs.push(PackError::new(
                                    file,
                                    format!("{at}/x-ui/yes_no"),
                                    "yes_no is two different, non-empty words: [true, false], e.g. [\"相符\", \"不符\"]",
                                ));
                            }
                        }
                    }
                    Err(e) => errs.push(PackError::new(
                        file,
                        format!("{at}/x-ui"),
                        format!("invalid x-ui: {e}"),
                    )),
                }
            }
            for k in obj.keys().filter(|k| k.starts_with("x-")) {
                let known = [
                    "x-computed",
                    "x-visible-if",
                    "x-required-if",
                    "x-decimals",
                    "x-options-from",
                    "x-sanitize",
                    "x-messages",
                    "x-ref",
                    "x-ui",
                ];
                if !known.contains(&k.as_str()) && !OTHER_KEYWORDS.contains(&k.as_str()) {
                    errs.push(PackError::new(
                        file,
                        format!("{at}/{}", escape(k)),
                        format!("unknown extension keyword `{k}`"),
                    ));
                }
            }
        }
        if errs.is_empty() {
            Ok(rules)
        } else {
            Err(errs)
        }
    }

    /// Whether the field is computed (its submitted value is always replaced).
    pub fn is_computed(&self, field: &str) -> bool {
        self.computed
            .iter()
            .any(|(p, _, _)| *p == FieldPath::Top(field.to_string()))
    }

    /// Sanitises rich text, computes values and drops hidden fields. Returns the data and
    /// the pointers of hidden fields (which must not be reported as missing).
    pub fn transform(&self, mut data: Value) -> Result<(Value, BTreeSet<String>), Vec<FieldError>> {
        let mut errs = Vec::new();
        for path in &self.sanitize {
            for_each_value(&mut data, path, |v, _| {
                if let Value::String(s) = v {
                    *s = ammonia::clean(s);
                }
            });
        }
        // Rows first: a top-level total may sum a row's computed subtotal.
        let (rows, tops): (Vec<_>, Vec<_>) = self
            .computed
            .iter()
            .partition(|(p, _, _)| matches!(p, FieldPath::Row(..)));
        for (path, x, decimals) in rows.into_iter().chain(tops) {
            let record = data.clone();
            let mut failed = Vec::new();
            let field = field_of(path);
            for_each_slot(&mut data, path, &record, |slot, vars, ptr| {
                match x.eval(vars) {
                    Ok(v) => put(slot, field, round(v, *decimals)),
                    Err(e) => failed.push(FieldError::new(
                        ptr,
                        "computed",
                        format!("无法计算：{e}"),
                        format!("cannot compute: {e}"),
                    )),
                }
            });
            errs.extend(failed);
        }
        let mut hidden = BTreeSet::new();
        for (path, x) in &self.visible_if {
            let record = data.clone();
            let mut failed = Vec::new();
            let field = field_of(path);
            for_each_slot(&mut data, path, &record, |slot, vars, ptr| {
                match x.test(vars) {
                    Ok(true) => {}
                    Ok(false) => {
                        put(slot, field, Value::Null);
                        hidden.insert(ptr.to_string());
                    }
                    Err(e) => failed.push(FieldError::new(
                        ptr,
                        "condition",
                        format!("条件无法判断：{e}"),
                        format!("condition failed: {e}"),
                    )),
                }
            });
            errs.extend(failed);
        }
        if errs.is_empty() {
            Ok((data, hidden))
        } else {
            Err(errs)
        }
    }

    /// Checks what JSON Schema cannot: conditional requirement, decimals and catalogue
    /// options. `complete` is false for drafts, which may miss required values.
    pub fn check(&self, data: &Value, complete: bool) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if complete {
            for (path, x) in &self.required_if {
                let mut data = data.clone();
                let record = data.clone();
                for_each_slot(&mut data, path, &record, |slot, vars, ptr| {
                    let missing = match slot.get(field_of(path)) {
                        None | Some(Value::Null) => true,
                        Some(Value::String(s)) => s.trim().is_empty(),
                        Some(Value::Array(a)) => a.is_empty(),
                        _ => false,
                    };
                    if missing && x.test(vars).unwrap_or(false) {
                        errs.push(FieldError::new(
                            ptr,
                            "required",
                            "此项为必填项",
                            "this field is required",
                        ));
                    }
                });
            }
        }
        let mut data = data.clone();
        for (path, places) in &self.decimals {
            for_each_value(&mut data, path, |v, ptr| {
                if let Value::Number(n) = v {
                    let text = n.to_string();
                    let frac = text.split_once('.').map_or(0, |(_, f)| {
                        f.trim_end_matches(|c: char| !c.is_ascii_digit()).len()
                    });
                    if frac > *places as usize || text.contains(['e', 'E']) {
                        errs.push(FieldError::new(
                            ptr,
                            "decimals",
                            format!("最多 {places} 位小数"),
                            format!("at most {places} decimal places"),
                        ));
                    }
                }
            });
        }
        for (path, catalogue, values) in &self.options {
            for_each_value(&mut data, path, |v, ptr| {
                let bad: Vec<String> = match v {
                    Value::String(s) if !values.contains(s.as_str()) => vec![s.clone()],
                    Value::Array(a) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|s| !values.contains(*s))
                        .map(str::to_string)
                        .collect(),
                    _ => Vec::new(),
                };
                for b in bad {
                    errs.push(FieldError::new(
                        ptr,
                        "options",
                        format!("「{b}」不在{catalogue}的选项中"),
                        format!("`{b}` is not an option of {catalogue}"),
                    ));
                }
            });
        }
        errs
    }

    /// Replaces messages the pack overrides for the field and rule of each error.
    pub fn override_messages(&self, errs: &mut [FieldError]) {
        for e in errs.iter_mut() {
            let Some(m) = self
                .messages
                .iter()
                .find(|(p, _)| p.matches(&e.pointer))
                .and_then(|(_, m)| m.get(&e.rule).or_else(|| m.get("*")))
            else {
                continue;
            };
            match m {
                Message::Same(s) => {
                    e.message = s.clone();
                    e.message_en = s.clone();
                }
                Message::Both { zh, en } => {
                    e.message = zh.clone();
                    e.message_en = en.clone();
                }
            }
        }
    }
}

fn field_of(path: &FieldPath) -> &str {
    match path {
        FieldPath::Top(f) | FieldPath::Row(_, f) => f,
    }
}

/// Sets `field` in `slot`, or removes it for null.
fn put(slot: &mut Map<String, Value>, field: &str, v: Value) {
    if v.is_null() {
        slot.remove(field);
    } else {
        slot.insert(field.to_string(), v);
    }
}

/// Rounds a computed number to `decimals` places, exactly.
fn round(v: Value, decimals: Option<u32>) -> Value {
    match (v, decimals) {
        (Value::Number(n), Some(d)) => {
            let text = n.to_string();
            match rust_decimal::Decimal::from_str_exact(&text)
                .or_else(|_| rust_decimal::Decimal::from_scientific(&text))
            {
                Ok(x) => {
                    let r = x
                        .round_dp_with_strategy(
                            d,
                            rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                        )
                        .normalize();
                    serde_json::from_str(&r.to_string()).unwrap_or(Value::Number(n))
                }
                Err(_) => Value::Number(n),
            }
        }
        (v, _) => v,
    }
}

/// Calls `f(object holding the field, variables, pointer)` for the field at `path`: once for a
/// top-level field, once per row for a row field.
fn for_each_slot(
    data: &mut Value,
    path: &FieldPath,
    record: &Value,
    mut f: impl FnMut(&mut Map<String, Value>, &Value, &str),
) {
    match path {
        FieldPath::Top(field) => {
            if let Value::Object(obj) = data {
                let vars = Value::Object(obj.clone());
                let ptr = format!("/{}", escape(field));
                f(obj, &vars, &ptr);
            }
        }
        FieldPath::Row(section, field) => {
            if let Some(Value::Array(rows)) = data.get_mut(section) {
                for (i, row) in rows.iter_mut().enumerate() {
                    if let Value::Object(obj) = row {
                        let mut vars = obj.clone();
                        vars.insert("record".into(), record.clone());
                        let ptr = format!("/{}/{i}/{}", escape(section), escape(field));
                        f(obj, &Value::Object(vars), &ptr);
                    }
                }
            }
        }
    }
}

/// Calls `f(value, pointer)` for every present value of the field at `path`.
fn for_each_value(data: &mut Value, path: &FieldPath, mut f: impl FnMut(&mut Value, &str)) {
    let field = field_of(path).to_string();
    let record = Value::Null;
    for_each_slot(data, path, &record, |slot, _, ptr| {
        if let Some(v) = slot.get_mut(&field) {
            f(v, ptr);
        }
    });
}
