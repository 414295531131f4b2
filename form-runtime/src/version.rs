//! Form versions: what changed between two versions, and moving a draft to a newer one.
//!
//! Published versions never change. A record stays on its version until it is explicitly
//! moved; [`fit`] says which values would not survive the move, so nothing is lost silently.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::form::{CompiledForm, Completeness};

/// Differences between two versions of a form.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FormDiff {
    /// Fields only the newer version has.
    pub added: Vec<String>,
    /// Fields only the older version has.
    pub removed: Vec<String>,
    /// Fields whose definition changed: `(field, old, new)`.
    pub changed: Vec<FieldChange>,
    /// Top-level `required` before and after, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<(Vec<String>, Vec<String>)>,
    /// Whether anything outside the fields changed (title, workflow, layout, …).
    pub other_changes: Vec<String>,
}

/// One changed field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// Field key.
    pub field: String,
    /// Definition in the older version.
    pub from: Value,
    /// Definition in the newer version.
    pub to: Value,
}

/// Compares two stored form definitions (`{schema, workflow, …}`) or two bare schemas.
pub fn diff(old: &Value, new: &Value) -> FormDiff {
    let schema = |d: &Value| d.get("schema").cloned().unwrap_or_else(|| d.clone());
    let (os, ns) = (schema(old), schema(new));
    let empty = Map::new();
    let props = |s: &Value| {
        s.get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(|| empty.clone())
    };
    let (op, np) = (props(&os), props(&ns));
    let mut out = FormDiff::default();
    for (k, v) in &np {
        match op.get(k) {
            None => out.added.push(k.clone()),
            Some(o) if o != v => out.changed.push(FieldChange {
                field: k.clone(),
                from: o.clone(),
                to: v.clone(),
            }),
            Some(_) => {}
        }
    }
    out.removed = op
        .keys()
        .filter(|k| !np.contains_key(*k))
        .cloned()
        .collect();
    let req = |s: &Value| -> Vec<String> {
        s.get("required")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    if req(&os) != req(&ns) {
        out.required = Some((req(&os), req(&ns)));
    }
    for key in ["title", "x-ui", "x-workflow", "additionalProperties"] {
        if os.get(key) != ns.get(key) {
            out.other_changes.push(key.to_string());
        }
    }
    for key in ["workflow", "catalogues"] {
        if old.get(key).is_some() && old.get(key) != new.get(key) {
            out.other_changes.push(key.to_string());
        }
    }
    out
}

/// A value that did not survive a move to a newer version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dropped {
    /// The field.
    pub field: String,
    /// Its value before the move.
    pub value: Value,
    /// Why it was dropped (the newer version's message).
    pub reason: String,
}

/// Fits draft data to `form` (a newer version): fields it does not know are dropped, and so
/// are fields whose values break its rules. Returns the data the draft keeps and what was
/// dropped, with reasons. Missing required values are fine: the record is still a draft.
pub fn fit(data: &Value, form: &CompiledForm) -> (Value, Vec<Dropped>) {
    let mut kept = data.as_object().cloned().unwrap_or_default();
    let mut dropped = Vec::new();
    for k in kept.keys().cloned().collect::<Vec<_>>() {
        if !form.fields.contains_key(&k) {
            if let Some(v) = kept.remove(&k) {
                dropped.push(Dropped {
                    field: k,
                    value: v,
                    reason: "新版本没有此字段 / the new version has no such field".into(),
                });
            }
        }
    }
    // Each pass drops the fields the new version reports; computed values may depend on
    // what was dropped, so repeat until the data is accepted (bounded by the field count).
    for _ in 0..=form.fields.len() {
        match form.accept(Value::Object(kept.clone()), Completeness::Draft) {
            Ok(v) => return (v, dropped),
            Err(errs) => {
                let mut progressed = false;
                for e in errs {
                    let field = e
                        .pointer
                        .split('/')
                        .nth(1)
                        .unwrap_or("")
                        .replace("~1", "/")
                        .replace("~0", "~");
                    if let Some(v) = kept.remove(&field) {
                        dropped.push(Dropped {
                            field,
                            value: v,
                            reason: format!("{} / {}", e.message, e.message_en),
                        });
                        progressed = true;
                    }
                }
                if !progressed {
                    break;
                }
            }
        }
    }
    (Value::Object(kept), dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{Workflow, WorkflowDef};
    use serde_json::json;
    use std::sync::Arc;

    fn form(schema: Value) -> CompiledForm {
        let wf: WorkflowDef = serde_json::from_value(json!({"label": "w", "initial": "draft", "states": [{"key": "draft", "label": "d", "complete": false}], "transitions": []})).unwrap();
        CompiledForm::compile(
            "f",
            schema,
            Arc::new(Workflow {
                key: "w".into(),
                def: wf,
            }),
            "f",
        )
        .unwrap()
    }

    #[test]
    fn diff_names_added_removed_and_changed_fields() {
        let old = json!({"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}});
        let new = json!({"type": "object", "required": ["a", "c"], "properties": {"a": {"type": "string", "maxLength": 5}, "c": {"type": "string"}}});
        let d = diff(&old, &new);
        assert_eq!(
            (d.added, d.removed),
            (vec!["c".to_string()], vec!["b".to_string()])
        );
        assert_eq!(d.changed[0].field, "a");
        assert_eq!(
            d.required,
            Some((vec!["a".into()], vec!["a".into(), "c".into()]))
        );
    }

    #[test]
    fn fitting_a_draft_drops_unknown_and_no_longer_valid_values_with_reasons() {
        let new = form(
            json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 3}, "n": {"type": "integer"}}}),
        );
        let (kept, dropped) = fit(&json!({"name": "太长的名字", "n": 2, "gone": true}), &new);
        assert_eq!(kept, json!({"n": 2}));
        let fields: Vec<&str> = dropped.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["gone", "name"]);
        assert_eq!(dropped[1].value, json!("太长的名字"));
    }
}
