//! The fields of a form page: one control per field, named by the pointer of its value,
//! with its label, help and errors.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::sheet::{display, plain};
use super::{
    attachment_url, child, choices, esc, fields_of, id_of, layout, local_time, required_of,
    row_vars, shown, text_of, url_segment, Choice, Field, Kind, View, Words,
};
use crate::FieldError;

/// HTML of every field, grouped into the form's `x-ui.sections` (fields without a section
/// first), without the surrounding `<form>` or its buttons.
pub fn form_fields(view: &View) -> String {
    let targets = Page::new(view, BTreeMap::new()).render().1;
    let placed = place(&targets, view.errors);
    Page::new(view, placed).render().0
}

/// The errors [`form_fields`] shows under no field — the record itself (`""`), hidden
/// fields, pointers the page has no input for — so the page can list them at the top.
pub fn unplaced_errors<'e>(view: &View, errors: &'e [FieldError]) -> Vec<&'e FieldError> {
    let targets = Page::new(view, BTreeMap::new()).render().1;
    errors
        .iter()
        .filter(|e| target_of(&targets, &e.pointer).is_none())
        .collect()
}

/// The deepest pointer on the page that is `pointer` or holds it (`/members/1` holds
/// `/members/1/name`).
fn target_of<'t>(targets: &'t [String], pointer: &str) -> Option<&'t str> {
    targets
        .iter()
        .filter(|t| {
            pointer
                .strip_prefix(t.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        .max_by_key(|t| t.len())
        .map(String::as_str)
}

fn place<'e>(
    targets: &[String],
    errors: &'e [FieldError],
) -> BTreeMap<String, Vec<&'e FieldError>> {
    let mut placed: BTreeMap<String, Vec<&FieldError>> = BTreeMap::new();
    for e in errors {
        if let Some(t) = target_of(targets, &e.pointer) {
            placed.entry(t.to_string()).or_default().push(e);
        }
    }
    placed
}

/// Renders the page. Rendered twice: once to learn which pointers have a place on the page
/// (`targets`), once with each error placed at the deepest of them.
struct Page<'v, 'a> {
    view: &'v View<'a>,
    words: &'static Words,
    errors: BTreeMap<String, Vec<&'v FieldError>>,
    targets: Vec<String>,
    /// False inside a row `<template>`, whose pointers hold no errors.
    recording: bool,
}

/// Where a field stands.
struct At<'x> {
    /// The user may change it here.
    editable: bool,
    /// Named in its object's `required`.
    required: bool,
    /// The browser may insist on it (false in the spare empty row a page offers).
    insist: bool,
    /// A read-only row field whose value must be posted back so the row survives.
    carry: bool,
    /// What its `x-visible-if` sees.
    vars: &'x Value,
    /// Columns of the grid it sits in (1 in a row), the most it may span.
    cols: u8,
}

/// The pieces every field's markup shares.
struct Parts {
    id: String,
    /// `data-pointer`, `data-visible-if`, `hidden` and `--span` of the wrapper.
    wrapper: String,
    /// Label text with the required marker.
    label: String,
    /// The required marker alone (empty when not required).
    marker: &'static str,
    /// Help and error paragraphs.
    below: String,
    /// `aria-describedby` and `aria-invalid` of the control.
    aria: String,
    /// `aria-describedby` alone, for a fieldset or an output.
    described: String,
    /// ` aria-invalid="true"` when the field has errors.
    invalid: &'static str,
    /// ` required` when the browser should insist.
    required: &'static str,
    name: String,
}

impl<'v, 'a> Page<'v, 'a> {
    fn new(view: &'v View<'a>, errors: BTreeMap<String, Vec<&'v FieldError>>) -> Self {
        Page {
            view,
            words: view.words(),
            errors,
            targets: Vec::new(),
            recording: true,
        }
    }

    fn render(mut self) -> (String, Vec<String>) {
        let view = self.view;
        let required = required_of(view.schema);
        let mut out = String::new();
        for (section, fields) in layout(view.schema) {
            let cols = section.as_ref().map_or(1, |s| s.columns.clamp(1, 4));
            let mut inner = String::new();
            for f in &fields {
                if view.hidden.contains(f.key) || f.ui.hidden {
                    continue;
                }
                let at = At {
                    editable: view.may_write(f.key) && !f.ui.readonly && !f.computed(),
                    required: required.contains(f.key),
                    insist: true,
                    carry: false,
                    vars: view.data,
                    cols,
                };
                inner.push_str(&self.field(f, &child("", f.key), view.data.get(f.key), &at));
            }
            if inner.is_empty() {
                continue;
            }
            let grid = format!("<div class=\"fw-grid\" style=\"--cols:{cols}\">{inner}</div>");
            out.push_str(&match section {
                Some(s) => format!(
                    "<section class=\"fw-section\"><h2>{}</h2>{grid}</section>",
                    esc(&s.label)
                ),
                None => grid,
            });
        }
        (out, self.targets)
    }

    fn parts(&mut self, f: &Field<'_>, ptr: &str, at: &At<'_>) -> Parts {
        if self.recording {
            self.targets.push(ptr.to_string());
        }
        let id = id_of(ptr);
        let mut wrapper = format!(" data-pointer=\"{}\"", esc(ptr));
        if let Some(x) = f.visible_if() {
            wrapper.push_str(&format!(" data-visible-if=\"{}\"", esc(x)));
        }
        if !shown(f, at.vars) {
            wrapper.push_str(" hidden");
        }
        if let Some(span) = f.ui.columns.map(|c| c.min(at.cols)).filter(|c| *c > 1) {
            wrapper.push_str(&format!(" style=\"--span:{span}\""));
        }
        let marked = at.required && at.editable && f.kind != Kind::Switch;
        let marker = if marked { MARKER } else { "" };
        let label = esc(f.title) + marker;
        let mut described = Vec::new();
        let mut below = String::new();
        if let Some(h) = f.help() {
            described.push(format!("{id}--help"));
            below.push_str(&format!(
                "<p class=\"fw-help\" id=\"{id}--help\">{}</p>",
                esc(h)
            ));
        }
        let errors = self.errors.get(ptr).cloned().unwrap_or_default();
        for (n, e) in errors.iter().enumerate() {
            let message = if self.view.english {
                &e.message_en
            } else {
                &e.message
            };
            described.push(format!("{id}--error{n}"));
            below.push_str(&format!(
                "<p class=\"fw-error\" id=\"{id}--error{n}\">{}</p>",
                esc(message)
            ));
        }
        let described = if described.is_empty() {
            String::new()
        } else {
            format!(" aria-describedby=\"{}\"", described.join(" "))
        };
        let invalid = if errors.is_empty() {
            ""
        } else {
            " aria-invalid=\"true\""
        };
        let insist = marked && at.insist && f.visible_if().is_none();
        Parts {
            name: esc(ptr),
            id,
            wrapper,
            label,
            marker,
            below,
            aria: format!("{described}{invalid}"),
            described,
            invalid,
            required: if insist { " required" } else { "" },
        }
    }

    fn field(&mut self, f: &Field<'_>, ptr: &str, value: Option<&Value>, at: &At<'_>) -> String {
        let p = self.parts(f, ptr, at);
        if !at.editable {
            return self.read_only(f, ptr, value, at, &p);
        }
        match f.kind {
            Kind::Choice { radio: true } | Kind::Multi => self.options(f, value, &p),
            Kind::Switch | Kind::Agreement => self.check(f, value, &p),
            Kind::Attachment { many } => self.attachments(f, value, many, &p),
            Kind::Repeat => self.repeat(f, ptr, value, &p),
            Kind::Group => self.group(f, ptr, value, at, &p),
            _ => {
                let wide = if f.kind == Kind::Richtext && f.ui.columns.is_none() {
                    " fw-wide"
                } else {
                    ""
                };
                format!(
                    "<div class=\"fw-field{wide}\"{}><label class=\"fw-label\" for=\"{}\">{}</label>{}{}</div>",
                    p.wrapper,
                    p.id,
                    p.label,
                    self.control(f, value, &p),
                    p.below
                )
            }
        }
    }

    /// The one control of a single-input field.
    fn control(&self, f: &Field<'_>, value: Option<&Value>, p: &Parts) -> String {
        let text = value.map(text_of).unwrap_or_default();
        let common = format!(
            "class=\"fw-input\" id=\"{}\" name=\"{}\"{}{}",
            p.id, p.name, p.required, p.aria
        );
        let placeholder =
            f.ui.placeholder
                .as_deref()
                .map(|x| format!(" placeholder=\"{}\"", esc(x)))
                .unwrap_or_default();
        let max_length = f
            .node
            .get("maxLength")
            .and_then(Value::as_u64)
            .map(|n| format!(" maxlength=\"{n}\""))
            .unwrap_or_default();
        // A value a typed control cannot hold (text in a number field) is offered as text,
        // so the user sees it and saving never drops it silently.
        let as_text = || {
            format!(
                "<input {common} type=\"text\" value=\"{}\"{placeholder}>",
                esc(&text)
            )
        };
        match f.kind {
            Kind::Integer | Kind::Number { .. } => {
                if value.is_some_and(|v| !v.is_number()) {
                    return as_text();
                }
                let step = match f.kind {
                    Kind::Number { decimals: Some(0) } | Kind::Integer => "1".to_string(),
                    Kind::Number { decimals: Some(d) } => {
                        format!("0.{}1", "0".repeat(d as usize - 1))
                    }
                    _ => "any".to_string(),
                };
                let bound = |kw: &str, attr: &str| {
                    f.node
                        .get(kw)
                        .filter(|v| v.is_number())
                        .map(|v| format!(" {attr}=\"{}\"", esc(&text_of(v))))
                        .unwrap_or_default()
                };
                format!(
                    "<input {common} type=\"number\" inputmode=\"decimal\" step=\"{step}\"{}{} value=\"{}\"{placeholder}>",
                    bound("minimum", "min"),
                    bound("maximum", "max"),
                    esc(&text)
                )
            }
            Kind::Date => {
                if !text.is_empty() && chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").is_err()
                {
                    return as_text();
                }
                format!("<input {common} type=\"date\" value=\"{}\">", esc(&text))
            }
            Kind::DateTime => {
                let local = if text.is_empty() {
                    Some(String::new())
                } else {
                    local_time(&text, self.view.zone)
                        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
                };
                match local {
                    None => as_text(),
                    Some(local) => format!(
                        "<input {common} type=\"datetime-local\" step=\"1\" value=\"{}\">",
                        esc(&local)
                    ),
                }
            }
            Kind::Textarea | Kind::Richtext | Kind::Lines | Kind::Json => {
                let body = match (f.kind, value) {
                    (Kind::Lines, Some(Value::Array(a))) => {
                        a.iter().map(text_of).collect::<Vec<_>>().join("\n")
                    }
                    (Kind::Json, Some(v)) => {
                        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
                    }
                    _ => text,
                };
                let rich = if f.kind == Kind::Richtext {
                    " data-richtext"
                } else {
                    ""
                };
                // A parser drops one newline right after <textarea>; keep the text's own.
                let lead = if body.starts_with('\n') { "\n" } else { "" };
                format!(
                    "<textarea {common} rows=\"4\"{rich}{max_length}{placeholder}>{lead}{}</textarea>",
                    esc(&body)
                )
            }
            Kind::Choice { .. } => {
                let options = choices(f, self.view.catalogues);
                format!(
                    "<select {common}><option value=\"\">{}</option>{}</select>",
                    esc(self.words.choose),
                    select_options(&options, &text)
                )
            }
            Kind::Reference => match self.view.references.get(f.key) {
                None => as_text(),
                Some(refs) => {
                    let mut options: Vec<Choice> = refs
                        .iter()
                        .map(|(id, label)| Choice {
                            value: id.clone(),
                            label: label.clone(),
                            path: label.clone(),
                            depth: 0,
                        })
                        .collect();
                    if options.is_empty() && !text.is_empty() {
                        options.push(Choice {
                            value: text.clone(),
                            label: text.clone(),
                            path: text.clone(),
                            depth: 0,
                        });
                    }
                    format!(
                        "<select {common}><option value=\"\">{}</option>{}</select>",
                        esc(self.words.choose),
                        select_options(&options, &text)
                    )
                }
            },
            _ => format!(
                "<input {common} type=\"text\" value=\"{}\"{max_length}{placeholder}>",
                esc(&text)
            ),
        }
    }

    /// Radio buttons or check boxes, in a fieldset named by the field's label.
    fn options(&self, f: &Field<'_>, value: Option<&Value>, p: &Parts) -> String {
        let multi = f.kind == Kind::Multi;
        let chosen: BTreeSet<String> = match value {
            Some(Value::Array(a)) => a.iter().map(text_of).collect(),
            Some(v) => BTreeSet::from([text_of(v)]),
            None => BTreeSet::new(),
        };
        let mut options = choices(f, self.view.catalogues);
        for v in &chosen {
            if !options.iter().any(|o| &o.value == v) {
                options.push(Choice {
                    value: v.clone(),
                    label: v.clone(),
                    path: v.clone(),
                    depth: 0,
                });
            }
        }
        let (ty, required) = if multi {
            ("checkbox", "")
        } else {
            ("radio", p.required)
        };
        let invalid = p.invalid;
        let items: String = options
            .iter()
            .enumerate()
            .map(|(n, o)| {
                let checked = if chosen.contains(&o.value) {
                    " checked"
                } else {
                    ""
                };
                format!(
                    "<label class=\"fw-option\"><input type=\"{ty}\" id=\"{}--{n}\" name=\"{}\" value=\"{}\"{checked}{required}{invalid}> {}{}</label>",
                    p.id,
                    p.name,
                    esc(&o.value),
                    "\u{3000}".repeat(o.depth),
                    esc(&o.label)
                )
            })
            .collect();
        format!(
            "<fieldset class=\"fw-field fw-choices\" id=\"{}\"{}{}><legend class=\"fw-label\">{}</legend><div class=\"fw-options\">{items}</div>{}</fieldset>",
            p.id,
            p.wrapper,
            p.described,
            p.label,
            p.below
        )
    }

    /// A yes/no switch, or an agreement that must be ticked. The hidden `false` before the
    /// box is what an unticked box posts; a ticked one posts `true` after it, and the last
    /// value wins.
    fn check(&self, f: &Field<'_>, value: Option<&Value>, p: &Parts) -> String {
        let checked = if value == Some(&Value::Bool(true)) {
            " checked"
        } else {
            ""
        };
        let (class, role, text, title) = match (f.kind, f.description()) {
            (Kind::Agreement, Some(d)) => (
                " fw-agreement",
                "",
                esc(d) + p.marker,
                format!("<p class=\"fw-label\">{}</p>", esc(f.title)),
            ),
            (Kind::Agreement, None) => (" fw-agreement", "", p.label.clone(), String::new()),
            _ => (
                " fw-switch",
                " role=\"switch\"",
                p.label.clone(),
                String::new(),
            ),
        };
        format!(
            "<div class=\"fw-field fw-check{class}\"{}>{title}<input type=\"hidden\" name=\"{}\" value=\"false\"><input type=\"checkbox\"{role} id=\"{}\" name=\"{}\" value=\"true\"{checked}{}{}><label class=\"fw-label\" for=\"{}\">{text}</label>{}</div>",
            p.wrapper, p.name, p.id, p.name, p.required, p.aria, p.id, p.below
        )
    }

    /// The files a field holds, each a ticked box (untick to let go of it) labelled with its
    /// download link, and a file input the page's script uploads from.
    fn attachments(&self, f: &Field<'_>, value: Option<&Value>, many: bool, p: &Parts) -> String {
        let ids: Vec<String> = match value {
            Some(Value::Array(a)) => a.iter().map(text_of).collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(v) => vec![text_of(v)],
        };
        let files: String = ids
            .iter()
            .enumerate()
            .map(|(n, id)| {
                format!(
                    "<li><input type=\"checkbox\" id=\"{}--{n}\" name=\"{}\" value=\"{}\" checked><label for=\"{}--{n}\">{} <a href=\"{}\">{}</a></label></li>",
                    p.id,
                    p.name,
                    esc(id),
                    p.id,
                    esc(self.words.keep),
                    esc(&attachment_url(id)),
                    esc(&Words::numbered(self.words.file, n + 1))
                )
            })
            .collect();
        let accept: Vec<&str> = f
            .node
            .get(crate::attachment::KEYWORD)
            .and_then(|a| a.get("types"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let url = format!(
            "/api/v1/forms/{}/fields/{}/attachments",
            url_segment(self.view.form_key),
            url_segment(f.key)
        );
        format!(
            "<div class=\"fw-field fw-attachments\"{}><label class=\"fw-label\" for=\"{}\">{}</label><ul class=\"fw-files\">{files}</ul><input class=\"fw-input\" type=\"file\" id=\"{}\" data-upload-url=\"{}\" accept=\"{}\"{}{}>{}</div>",
            p.wrapper,
            p.id,
            p.label,
            p.id,
            esc(&url),
            esc(&accept.join(",")),
            if many { " multiple" } else { "" },
            p.aria,
            p.below
        )
    }

    /// A repeating section: its rows, each with a remove button, an add button, and a
    /// `<template>` of one empty row whose pointers hold `__i__` for the index. Without a
    /// script the page offers max(rows, minItems, 1) rows; the buttons stay hidden.
    fn repeat(&mut self, f: &Field<'_>, ptr: &str, value: Option<&Value>, p: &Parts) -> String {
        let all = f.row_fields();
        let cols: Vec<&Field<'_>> = all.iter().filter(|c| !c.ui.hidden).collect();
        let required = required_of(f.items());
        let rows = value
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let bound = |kw: &str| {
            f.node
                .get(kw)
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
        };
        let min = bound("minItems").unwrap_or(0);
        let max = bound("maxItems");
        let needed = rows.len().max(min);
        let head: String = cols
            .iter()
            .map(|c| {
                let mark = if required.contains(c.key) && !c.computed() && !c.ui.readonly {
                    "<span class=\"fw-required\">*</span>"
                } else {
                    ""
                };
                format!("<span>{}{mark}</span>", esc(c.title))
            })
            .collect();
        // A section that may be hidden is never insisted on by the browser: the server knows
        // whether it shows.
        let insist = f.visible_if().is_none();
        let mut body = String::new();
        for i in 0..needed.max(1) {
            body.push_str(&self.row(
                ptr,
                &i.to_string(),
                rows.get(i),
                &all,
                &required,
                insist && i < needed,
            ));
        }
        let recording = std::mem::replace(&mut self.recording, false);
        let template = self.row(ptr, "__i__", None, &all, &required, insist);
        self.recording = recording;
        let max_attr = max
            .map(|m| format!(" data-max=\"{m}\""))
            .unwrap_or_default();
        format!(
            "<fieldset class=\"fw-field fw-repeat fw-wide\" id=\"{}\"{} data-min=\"{min}\"{max_attr}{}><legend class=\"fw-label\">{}</legend>{}<div class=\"fw-rows\" style=\"--cells:{}\"><div class=\"fw-row-head\" aria-hidden=\"true\">{head}<span></span></div>{body}</div><template>{template}</template><button type=\"button\" class=\"fw-add\" hidden>{}</button></fieldset>",
            p.id,
            p.wrapper,
            p.described,
            p.label,
            p.below,
            cols.len(),
            esc(self.words.add_row)
        )
    }

    fn row(
        &mut self,
        section: &str,
        index: &str,
        row: Option<&Value>,
        cols: &[Field<'_>],
        required: &BTreeSet<&str>,
        insist: bool,
    ) -> String {
        let at_row = format!("{section}/{index}");
        if self.recording {
            self.targets.push(at_row.clone());
        }
        let id = id_of(&at_row);
        let errors: String = self
            .errors
            .get(&at_row)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(n, e)| {
                let message = if self.view.english {
                    &e.message_en
                } else {
                    &e.message
                };
                format!(
                    "<p class=\"fw-error\" id=\"{id}--error{n}\">{}</p>",
                    esc(message)
                )
            })
            .collect();
        let vars = row_vars(row, self.view.data);
        let mut cells = String::new();
        for c in cols {
            let value = row.and_then(|r| r.get(c.key));
            let at_cell = super::child(&at_row, c.key);
            if c.ui.hidden {
                // Not shown, but a posted row replaces the stored one: keep its value.
                if !c.computed() {
                    cells.push_str(&carry(&esc(&at_cell), c.kind, value));
                }
                continue;
            }
            let at = At {
                editable: !c.ui.readonly && !c.computed(),
                required: required.contains(c.key),
                insist,
                carry: !c.computed(),
                vars: &vars,
                cols: 1,
            };
            cells.push_str(&self.field(c, &at_cell, value, &at));
        }
        format!(
            "<div class=\"fw-row\" data-pointer=\"{}\">{errors}{cells}<button type=\"button\" class=\"fw-remove\" aria-label=\"{}\" hidden>{}</button></div>",
            esc(&at_row),
            esc(self.words.remove_row),
            esc(self.words.remove)
        )
    }

    /// A group of sub-fields (`"type": "object"`).
    fn group(
        &mut self,
        f: &Field<'_>,
        ptr: &str,
        value: Option<&Value>,
        at: &At<'_>,
        p: &Parts,
    ) -> String {
        let required = required_of(f.node);
        let mut inner = String::new();
        for g in fields_of(f.node).iter().filter(|g| !g.ui.hidden) {
            let sub = At {
                editable: !g.ui.readonly && !g.computed(),
                required: required.contains(g.key),
                insist: at.insist && f.visible_if().is_none(),
                carry: at.carry,
                vars: at.vars,
                cols: GROUP_COLUMNS,
            };
            inner.push_str(&self.field(
                g,
                &child(ptr, g.key),
                value.and_then(|v| v.get(g.key)),
                &sub,
            ));
        }
        format!(
            "<fieldset class=\"fw-field fw-group fw-wide\" id=\"{}\"{}{}><legend class=\"fw-label\">{}</legend><div class=\"fw-grid\" style=\"--cols:{GROUP_COLUMNS}\">{inner}</div>{}</fieldset>",
            p.id,
            p.wrapper,
            p.described,
            p.label,
            p.below
        )
    }

    /// A field the user may not change: its value as on the sheet, never posted — except
    /// in a row, whose value is carried in a hidden input because a posted row replaces
    /// the stored one. A computed value is an `<output>` the page's script updates.
    fn read_only(
        &self,
        f: &Field<'_>,
        ptr: &str,
        value: Option<&Value>,
        at: &At<'_>,
        p: &Parts,
    ) -> String {
        if f.computed() && !matches!(f.kind, Kind::Repeat | Kind::Group | Kind::Attachment { .. }) {
            let text = value.map(|v| plain(self.view, f, v)).unwrap_or_default();
            return format!(
                "<div class=\"fw-field fw-readonly\"{}><label class=\"fw-label\" for=\"{}\">{}</label><output class=\"fw-input fw-computed\" id=\"{}\" data-computed data-pointer=\"{}\"{}>{}</output>{}</div>",
                p.wrapper,
                p.id,
                p.label,
                p.id,
                esc(ptr),
                p.described,
                esc(&text),
                p.below
            );
        }
        let carried = if at.carry {
            carry(&p.name, f.kind, value)
        } else {
            String::new()
        };
        let wide = if matches!(f.kind, Kind::Repeat | Kind::Group | Kind::Richtext) {
            " fw-wide"
        } else {
            ""
        };
        format!(
            "<div class=\"fw-field fw-readonly{wide}\"{}><span class=\"fw-label\" id=\"{}--label\">{}</span><div class=\"fw-value\" id=\"{}\" role=\"group\" aria-labelledby=\"{}--label\"{}>{}</div>{carried}{}</div>",
            p.wrapper,
            p.id,
            esc(f.title),
            p.id,
            p.id,
            p.described,
            display(self.view, f, value),
            p.below
        )
    }
}

/// Hidden inputs that post a read-only value back unchanged, for the kinds `parse` reads
/// from plain values.
fn carry(name: &str, kind: Kind, value: Option<&Value>) -> String {
    let hidden = |v: &str| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            esc(v)
        )
    };
    match (kind, value) {
        (_, None | Some(Value::Null)) => String::new(),
        (Kind::Repeat | Kind::Group, _) => String::new(),
        (Kind::Multi | Kind::Attachment { many: true }, Some(Value::Array(a))) => {
            a.iter().map(|v| hidden(&text_of(v))).collect()
        }
        (Kind::Lines, Some(Value::Array(a))) => {
            hidden(&a.iter().map(text_of).collect::<Vec<_>>().join("\n"))
        }
        (_, Some(v)) => hidden(&text_of(v)),
    }
}

/// The `<option>`s of a select; a tree (a catalogue of regions) as one `<optgroup>` per top
/// option, holding that option itself and everything below it, indented.
fn select_options(options: &[Choice], selected: &str) -> String {
    let mut out = String::new();
    let mut known = false;
    let option = |o: &Choice, known: &mut bool| {
        let sel = if o.value == selected && !*known {
            *known = true;
            " selected"
        } else {
            ""
        };
        format!(
            "<option value=\"{}\"{sel}>{}{}</option>",
            esc(&o.value),
            "\u{3000}".repeat(o.depth),
            esc(&o.label)
        )
    };
    let tree = options.iter().any(|o| o.depth > 0);
    let mut i = 0;
    while i < options.len() {
        let top = &options[i];
        let end = options[i + 1..]
            .iter()
            .position(|o| o.depth == 0)
            .map_or(options.len(), |n| i + 1 + n);
        if tree && end > i + 1 {
            out.push_str(&format!("<optgroup label=\"{}\">", esc(&top.label)));
            for o in &options[i..end] {
                out.push_str(&option(o, &mut known));
            }
            out.push_str("</optgroup>");
        } else {
            for o in &options[i..end] {
                out.push_str(&option(o, &mut known));
            }
        }
        i = end;
    }
    if !known && !selected.is_empty() {
        // A stored value no longer among the options stays chosen rather than lost.
        out.insert_str(
            0,
            &format!(
                "<option value=\"{}\" selected>{}</option>",
                esc(selected),
                esc(selected)
            ),
        );
    }
    out
}

/// Grid columns of a group's sub-fields.
const GROUP_COLUMNS: u8 = 2;

/// The visible mark of a required field; the control's `required` tells assistive
/// technology.
const MARKER: &str = "<span class=\"fw-required\" aria-hidden=\"true\">*</span>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_goes_to_the_deepest_place_that_holds_it() {
        let targets: Vec<String> = ["/members", "/members/1", "/members/1/name", "/name"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            target_of(&targets, "/members/1/name"),
            Some("/members/1/name")
        );
        assert_eq!(target_of(&targets, "/members/1/age"), Some("/members/1"));
        assert_eq!(target_of(&targets, "/members/7/name"), Some("/members"));
        assert_eq!(target_of(&targets, "/names"), None);
        assert_eq!(target_of(&targets, ""), None);
    }
}
