//! Documents: printable HTML (certificates, receipts, notices) rendered from a record with a
//! minijinja template that the pack ships.
//!
//! A document is `documents/<key>.json` (what it is, for which form, in which states) plus the
//! template it names, `documents/<template>.html.j2`. Templates are rendered with HTML
//! auto-escaping, so a value typed into a form can never inject markup into a document.

use std::collections::BTreeMap;

use minijinja::{AutoEscape, Environment};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::PackError;

/// `documents/<key>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentDef {
    /// Title of the document (`签收单`).
    pub label: String,
    /// Key of the form whose records it prints.
    pub form: String,
    /// File name of the template in `documents/` (`receipt.html.j2`).
    pub template: String,
    /// States in which the document is available; empty means any state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
}

/// A document with its template source, as stored with a form version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The definition.
    #[serde(flatten)]
    pub def: DocumentDef,
    /// The template text.
    pub source: String,
}

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_fuel(Some(500_000));
    // A document prints records at every stage: what a record does not have yet (an
    // opinion of a step not taken, `entered.city_approved.comment`) prints as nothing.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    env
}

impl Document {
    /// Checks that the template compiles; problems point at `file`.
    pub fn check(&self, file: &str) -> Result<(), PackError> {
        env()
            .template_from_str(&self.source)
            .map(|_| ())
            .map_err(|e| {
                let line = e.line().map(|l| format!(" (line {l})")).unwrap_or_default();
                PackError::new(
                    file,
                    "",
                    format!(
                        "template does not compile{line}: {}",
                        e.detail().unwrap_or(&e.to_string())
                    ),
                )
            })
    }

    /// Whether the document can be printed for a record in `state`.
    pub fn available_in(&self, state: &str) -> bool {
        self.def.states.is_empty() || self.def.states.iter().any(|s| s == state)
    }

    /// Renders the document with `context` (the record as its reader may see it).
    pub fn render(&self, context: &Value) -> Result<String, String> {
        let env = env();
        let tmpl = env
            .template_from_str(&self.source)
            .map_err(|e| e.to_string())?;
        tmpl.render(minijinja::value::Value::from(minijinja::value::Serde(
            context,
        )))
        .map_err(|e| e.to_string())
    }
}

/// Reads `documents/*.json` and their templates from a pack's files. `states_of(form)` gives
/// the states of a form's workflow (None inside when its workflow did not load, so states
/// are not checked), or None when the pack has no such form.
pub fn load(
    files: &BTreeMap<String, Vec<u8>>,
    states_of: &dyn Fn(&str) -> Option<Option<Vec<String>>>,
    errs: &mut Vec<PackError>,
) -> BTreeMap<String, Document> {
    let mut out = BTreeMap::new();
    for (path, bytes) in files.range("documents/".to_string()..) {
        let Some(name) = path.strip_prefix("documents/") else {
            break;
        };
        let Some(key) = name.strip_suffix(".json") else {
            if !name.ends_with(".html.j2") {
                errs.push(PackError::new(
                    path,
                    "",
                    "expected documents/<key>.json or a .html.j2 template",
                ));
            }
            continue;
        };
        if !crate::key::is_key(key) {
            errs.push(PackError::new(
                path,
                "",
                format!("file name `{key}` must be a snake_case key (a-z, 0-9, _)"),
            ));
            continue;
        }
        let def: DocumentDef = match serde_json::from_slice(bytes) {
            Ok(d) => d,
            Err(e) => {
                errs.push(PackError::new(
                    path,
                    "",
                    format!("not a document definition: {e}"),
                ));
                continue;
            }
        };
        let Some(states) = states_of(&def.form) else {
            errs.push(PackError::new(
                path,
                "/form",
                format!("form `{}` is not defined in forms/", def.form),
            ));
            continue;
        };
        for (i, s) in def.states.iter().enumerate() {
            if states.as_ref().is_some_and(|states| !states.contains(s)) {
                errs.push(PackError::new(
                    path,
                    format!("/states/{i}"),
                    format!("state `{s}` is not a state of the form's workflow"),
                ));
            }
        }
        let tpath = format!("documents/{}", def.template);
        let Some(source) = files
            .get(&tpath)
            .and_then(|b| String::from_utf8(b.clone()).ok())
        else {
            errs.push(PackError::new(
                path,
                "/template",
                format!("template {tpath} is missing (or not UTF-8)"),
            ));
            continue;
        };
        let doc = Document { def, source };
        match doc.check(&tpath) {
            Ok(()) => {
                out.insert(key.to_string(), doc);
            }
            Err(e) => errs.push(e),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(source: &str) -> Document {
        Document {
            def: DocumentDef {
                label: "签收单".into(),
                form: "f".into(),
                template: "t.html.j2".into(),
                states: vec!["signed".into()],
            },
            source: source.into(),
        }
    }

    #[test]
    fn values_are_escaped_in_documents() {
        let d = doc("<p>{{ data.applicant_name }}</p>");
        let html = d
            .render(&json!({"data": {"applicant_name": "<script>alert(1)</script>张三"}}))
            .unwrap();
        assert_eq!(
            html,
            "<p>&lt;script&gt;alert(1)&lt;&#x2f;script&gt;张三</p>"
        );
    }

    #[test]
    fn broken_templates_and_states_are_reported() {
        assert!(doc("{% if %}").check("documents/t.html.j2").is_err());
        let d = doc("x");
        assert!(d.available_in("signed") && !d.available_in("draft"));
    }
}
