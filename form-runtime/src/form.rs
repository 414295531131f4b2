//! Forms: a JSON Schema (draft 2020-12) plus `x-` keywords, compiled once into a validator.
//!
//! A [`CompiledForm`] is immutable: publishing a change makes a new version, and a record is
//! always validated against the version it was written with.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use crate::error::{FieldError, PackError};
use crate::formats::FORMATS;
use crate::key::is_key;
use crate::rules::{Catalogue, Rules};
use crate::workflow::Workflow;

/// The JSON type of a top-level field, which decides how lists filter and sort it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// Text, dates (ISO 8601 text sorts chronologically) and codes.
    String,
    /// Decimal number.
    Number,
    /// Whole number.
    Integer,
    /// true / false.
    Boolean,
    /// Repeating section or multi-choice.
    Array,
    /// Nested group.
    Object,
}

impl FieldKind {
    /// True for kinds compared as numbers.
    pub fn is_numeric(self) -> bool {
        matches!(self, FieldKind::Number | FieldKind::Integer)
    }
}

/// One top-level field of a form.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Field {
    /// The field's key.
    pub key: String,
    /// Its label (`title` in the schema).
    pub label: String,
    /// Its JSON type.
    pub kind: FieldKind,
}

/// How complete the data must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    /// A draft: types and formats must hold, but required fields may be missing.
    Draft,
    /// Everything, including `required`.
    Complete,
}

/// A form version ready to validate records.
pub struct CompiledForm {
    /// The form's key (file stem).
    pub key: String,
    /// The form's title.
    pub title: String,
    /// The schema as written.
    pub schema: Value,
    /// The workflow the form follows.
    pub workflow: Arc<Workflow>,
    /// Top-level fields, by key.
    pub fields: BTreeMap<String, Field>,
    /// The `x-` rules of its properties.
    pub rules: Rules,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for CompiledForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledForm")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Extension keywords a form schema may carry at its top level.
const FORM_EXTENSIONS: &[&str] = &["x-workflow", "x-ui", "x-summary"];

impl CompiledForm {
    /// Reads the top-level fields of a form schema, reporting problems against `file`.
    pub fn fields_of(
        schema: &Value,
        file: &str,
    ) -> Result<BTreeMap<String, Field>, Vec<PackError>> {
        let mut errs = Vec::new();
        if schema.get("type") != Some(&Value::String("object".into())) {
            errs.push(PackError::new(
                file,
                "/type",
                "a form schema must have \"type\": \"object\"",
            ));
        }
        let mut fields = BTreeMap::new();
        match schema.get("properties").and_then(Value::as_object) {
            None => errs.push(PackError::new(
                file,
                "/properties",
                "a form needs an object of properties",
            )),
            Some(props) => {
                for (key, prop) in props {
                    let ptr = format!("/properties/{}", escape(key));
                    if !is_key(key) {
                        errs.push(PackError::new(
                            file,
                            &ptr,
                            format!("field key `{key}` must be snake_case (a-z, 0-9, _)"),
                        ));
                        continue;
                    }
                    if crate::expr::FUNCTIONS.contains(&key.as_str()) {
                        errs.push(PackError::new(
                            file,
                            &ptr,
                            format!(
                                "field key `{key}` is the name of the expression function {key}(), which it would hide: choose another key (`{key}_value`)"
                            ),
                        ));
                        continue;
                    }
                    let kind = match prop.get("type").and_then(Value::as_str) {
                        Some("string") => FieldKind::String,
                        Some("number") => FieldKind::Number,
                        Some("integer") => FieldKind::Integer,
                        Some("boolean") => FieldKind::Boolean,
                        Some("array") => FieldKind::Array,
                        Some("object") => FieldKind::Object,
                        _ => {
                            errs.push(PackError::new(
                                file,
                                format!("{ptr}/type"),
                                "each field needs a single JSON type",
                            ));
                            continue;
                        }
                    };
                    let label = prop
                        .get("title")
                        .and_then(Value::as_str)
                        .unwrap_or(key)
                        .to_string();
                    fields.insert(
                        key.clone(),
                        Field {
                            key: key.clone(),
                            label,
                            kind,
                        },
                    );
                }
            }
        }
        if let Some(Value::Array(req)) = schema.get("required") {
            for (i, r) in req.iter().enumerate() {
                if !r.as_str().is_some_and(|r| fields.contains_key(r)) {
                    errs.push(PackError::new(
                        file,
                        format!("/required/{i}"),
                        format!("required names unknown field {r}"),
                    ));
                }
            }
        }
        if let Some(obj) = schema.as_object() {
            for k in obj
                .keys()
                .filter(|k| k.starts_with("x-") && !FORM_EXTENSIONS.contains(&k.as_str()))
            {
                errs.push(PackError::new(
                    file,
                    format!("/{}", escape(k)),
                    format!("unknown extension keyword `{k}`"),
                ));
            }
        }
        errs.extend(crate::display::check_summary(schema, file));
        if errs.is_empty() {
            Ok(fields)
        } else {
            Err(errs)
        }
    }

    /// Compiles a form schema with its workflow. `file` is used in error reports.
    pub fn compile(
        key: &str,
        schema: Value,
        workflow: Arc<Workflow>,
        file: &str,
    ) -> Result<CompiledForm, Vec<PackError>> {
        Self::compile_with(key, schema, workflow, &BTreeMap::new(), file)
    }

    /// Compiles a form schema with its workflow and the catalogues its options come from.
    pub fn compile_with(
        key: &str,
        schema: Value,
        workflow: Arc<Workflow>,
        catalogues: &BTreeMap<String, Catalogue>,
        file: &str,
    ) -> Result<CompiledForm, Vec<PackError>> {
        let fields = Self::fields_of(&schema, file)?;
        // An unknown format name is a typo, not an annotation: refuse it.
        let mut opts = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .should_ignore_unknown_formats(false);
        for (name, check) in FORMATS {
            opts = opts.with_format(*name, *check);
        }
        // While compiling, the schema is the instance being checked: the error's instance
        // path is the place in the pack's file.
        let validator = opts.build(&schema).map_err(|e| {
            vec![PackError::new(
                file,
                e.instance_path().as_str(),
                format!("not a valid JSON Schema: {e}"),
            )]
        })?;
        let rules = Rules::compile(&schema, catalogues, file)?;
        let title = schema
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_string();
        Ok(CompiledForm {
            key: key.to_string(),
            title,
            schema,
            workflow,
            fields,
            rules,
            validator,
        })
    }

    /// Takes data on its way to being stored: rich text sanitised, computed values
    /// recomputed (whatever the client sent), hidden fields dropped, then everything checked.
    /// Returns the data to store, or every failing value by JSON pointer.
    pub fn accept(
        &self,
        data: Value,
        completeness: Completeness,
    ) -> Result<Value, Vec<FieldError>> {
        let (data, hidden) = self.rules.transform(data).map_err(|mut e| {
            self.rules.override_messages(&mut e);
            e
        })?;
        let mut errs: Vec<FieldError> = self
            .validator
            .iter_errors(&data)
            .filter_map(|e| field_error(&self.schema, &e, completeness))
            .filter(|e| !(e.rule == "required" && hidden.contains(&e.pointer)))
            .collect();
        errs.extend(
            self.rules
                .check(&data, completeness == Completeness::Complete),
        );
        errs.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        errs.dedup_by(|a, b| a.pointer == b.pointer && a.rule == b.rule);
        self.rules.override_messages(&mut errs);
        if errs.is_empty() {
            Ok(data)
        } else {
            Err(errs)
        }
    }

    /// Validates record data; every failing value is reported with its JSON pointer.
    pub fn validate(
        &self,
        data: &Value,
        completeness: Completeness,
    ) -> Result<(), Vec<FieldError>> {
        let mut errs: Vec<FieldError> = self
            .validator
            .iter_errors(data)
            .filter_map(|e| field_error(&self.schema, &e, completeness))
            .collect();
        errs.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        errs.dedup_by(|a, b| a.pointer == b.pointer && a.rule == b.rule);
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }

    /// Label of a field, or its key when the form has no such field.
    pub fn label<'a>(&'a self, key: &'a str) -> &'a str {
        self.fields.get(key).map_or(key, |f| f.label.as_str())
    }

    /// The title of a choice value where the schema gives titles (`oneOf` of `const` and
    /// `title`); None for plain enums, whose values are their own labels.
    pub fn choice_label(&self, field: &str, value: &str) -> Option<&str> {
        self.schema["properties"][field]["oneOf"]
            .as_array()?
            .iter()
            .find(|o| o["const"].as_str() == Some(value))
            .and_then(|o| o["title"].as_str())
    }

    /// Keys of all top-level fields.
    pub fn field_keys(&self) -> BTreeSet<String> {
        self.fields.keys().cloned().collect()
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn field_error(
    schema: &Value,
    e: &jsonschema::ValidationError<'_>,
    completeness: Completeness,
) -> Option<FieldError> {
    use jsonschema::error::ValidationErrorKind as K;
    let at = e.instance_path().as_str().to_string();
    let label = title_at(schema, &at);
    let (pointer, rule, zh, en) = match e.kind() {
        K::Required { property } => {
            if completeness == Completeness::Draft {
                return None;
            }
            let name = property.as_str().unwrap_or_default();
            let ptr = format!("{at}/{}", escape(name));
            let label = title_at(schema, &ptr);
            (
                ptr,
                "required",
                format!("{label}为必填项"),
                format!("{label} is required"),
            )
        }
        K::Type { kind } => {
            let want = match kind {
                jsonschema::error::TypeKind::Single(t) => t.to_string(),
                jsonschema::error::TypeKind::Multiple(ts) => format!("{ts:?}"),
            };
            (
                at,
                "type",
                format!("{label}的类型应为 {want}"),
                format!("{label} must be of type {want}"),
            )
        }
        K::Format { format } => {
            let (zh, en) = format_message(format);
            (
                at,
                "format",
                format!("{label}{zh}"),
                format!("{label}: {en}"),
            )
        }
        K::Constant { expected_value } if **expected_value == Value::Bool(true) => (
            at,
            "const",
            format!("请阅读并勾选「{label}」"),
            format!("{label} must be accepted"),
        ),
        K::Constant { expected_value } => (
            at,
            "const",
            format!("{label}必须为 {expected_value}"),
            format!("{label} must be {expected_value}"),
        ),
        K::Enum { .. } => (
            at,
            "enum",
            format!("{label}不在可选范围内"),
            format!("{label} is not one of the allowed options"),
        ),
        K::Minimum { limit } | K::ExclusiveMinimum { limit } => (
            at,
            "minimum",
            format!("{label}不能小于 {limit}"),
            format!("{label} must be at least {limit}"),
        ),
        K::Maximum { limit } | K::ExclusiveMaximum { limit } => (
            at,
            "maximum",
            format!("{label}不能大于 {limit}"),
            format!("{label} must be at most {limit}"),
        ),
        K::MinLength { limit } => (
            at,
            "minLength",
            format!("{label}至少 {limit} 个字符"),
            format!("{label} needs at least {limit} characters"),
        ),
        K::MaxLength { limit } => (
            at,
            "maxLength",
            format!("{label}最多 {limit} 个字符"),
            format!("{label} allows at most {limit} characters"),
        ),
        K::MinItems { limit } => (
            at,
            "minItems",
            format!("{label}至少 {limit} 行"),
            format!("{label} needs at least {limit} rows"),
        ),
        K::MaxItems { limit } => (
            at,
            "maxItems",
            format!("{label}最多 {limit} 行"),
            format!("{label} allows at most {limit} rows"),
        ),
        K::Pattern { .. } => (
            at,
            "pattern",
            format!("{label}格式不正确"),
            format!("{label} has the wrong form"),
        ),
        K::MultipleOf { .. } => (
            at,
            "multipleOf",
            format!("{label}的精度不正确"),
            format!("{label} has too many decimals"),
        ),
        K::AdditionalProperties { unexpected } => {
            let names = unexpected.join(", ");
            (
                at,
                "additionalProperties",
                format!("表单中没有字段：{names}"),
                format!("the form has no field(s): {names}"),
            )
        }
        _ => (
            at,
            "invalid",
            format!("{label}无效：{e}"),
            format!("{label} is invalid: {e}"),
        ),
    };
    Some(FieldError::new(pointer, rule, zh, en))
}

fn format_message(format: &str) -> (&'static str, &'static str) {
    match format {
        "id_number" => (
            "不是有效的居民身份证号码（校验位或出生日期不符）",
            "not a valid resident ID number (GB 11643 checksum or birth date)",
        ),
        "mobile" => ("不是有效的手机号码", "not a valid mobile number"),
        "uscc" => (
            "不是有效的统一社会信用代码",
            "not a valid unified social credit code (GB 32100)",
        ),
        "bank_card" => (
            "不是有效的银行卡号",
            "not a valid bank card number (Luhn check)",
        ),
        "postal_code" => ("不是有效的邮政编码", "not a valid postal code"),
        "date" => (
            "不是有效的日期（YYYY-MM-DD）",
            "not a valid date (YYYY-MM-DD)",
        ),
        "date-time" => ("不是有效的日期时间", "not a valid date-time"),
        "email" => ("不是有效的电子邮箱", "not a valid e-mail address"),
        _ => ("格式不正确", "has the wrong format"),
    }
}

/// The `title` of the schema node describing the value at `pointer`, or the last segment.
fn title_at(schema: &Value, pointer: &str) -> String {
    let mut node = Some(schema);
    let mut last = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        node = node.and_then(|n| {
            if seg.parse::<usize>().is_ok() && n.get("items").is_some() {
                n.get("items")
            } else {
                n.get("properties").and_then(|p| p.get(&seg))
            }
        });
        last = seg;
    }
    node.and_then(|n| n.get("title"))
        .and_then(Value::as_str)
        .map_or(last, str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::WorkflowDef;
    use serde_json::json;

    fn form() -> CompiledForm {
        let wf: WorkflowDef = serde_json::from_value(json!({
            "label": "w", "initial": "draft", "states": [{"key": "draft", "label": "草稿"}], "transitions": []
        }))
        .unwrap();
        let wf = Workflow::check("w", wf, "w", &BTreeSet::new(), &BTreeSet::new()).unwrap();
        let schema = json!({
            "type": "object", "title": "t", "x-workflow": "w", "additionalProperties": false,
            "required": ["name", "id_number"],
            "properties": {
                "name": {"type": "string", "title": "姓名"},
                "id_number": {"type": "string", "title": "身份证号", "format": "id_number"},
                "amount": {"type": "number", "minimum": 0},
                "members": {"type": "array", "title": "家庭成员", "items": {
                    "type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string", "title": "成员姓名"}, "id_number": {"type": "string", "format": "id_number"}}
                }}
            }
        });
        CompiledForm::compile("t", schema, Arc::new(wf), "forms/t.json").unwrap()
    }

    #[test]
    fn every_failing_field_is_named_by_pointer() {
        let f = form();
        let errs = f
            .validate(&json!({"id_number": "110105194912310021", "amount": "many", "members": [{"name": "a"}, {"id_number": "123"}]}), Completeness::Complete)
            .unwrap_err();
        let got: Vec<_> = errs
            .iter()
            .map(|e| (e.pointer.as_str(), e.rule.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("/amount", "type"),
                ("/id_number", "format"),
                ("/members/1/id_number", "format"),
                ("/members/1/name", "required"),
                ("/name", "required")
            ]
        );
        assert_eq!(errs[4].message, "姓名为必填项");
    }

    #[test]
    fn a_field_may_not_hide_an_expression_function() {
        let schema = json!({"type": "object", "properties": {
            "age": {"type": "integer", "x-computed": "age(id_number)"},
            "id_number": {"type": "string"}
        }});
        let errs = CompiledForm::fields_of(&schema, "forms/t.json").unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].pointer, "/properties/age");
        assert!(
            errs[0].reason.contains("expression function age()"),
            "{}",
            errs[0].reason
        );
    }

    #[test]
    fn drafts_may_miss_required_fields_but_not_break_formats() {
        let f = form();
        assert!(f
            .validate(&json!({"name": "张三"}), Completeness::Draft)
            .is_ok());
        let errs = f
            .validate(&json!({"id_number": "1"}), Completeness::Draft)
            .unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].pointer, "/id_number");
    }

    #[test]
    fn schema_mistakes_and_unknown_formats_are_pack_errors_in_the_file() {
        let wf = form().workflow.clone();
        let bad_minimum =
            json!({"type": "object", "properties": {"n": {"type": "number", "minimum": "1"}}});
        let errs = CompiledForm::compile("t", bad_minimum, wf.clone(), "forms/t.json").unwrap_err();
        assert_eq!(errs[0].pointer, "/properties/n/minimum");
        let typo =
            json!({"type": "object", "properties": {"p": {"type": "string", "format": "moblie"}}});
        let errs = CompiledForm::compile("t", typo, wf, "forms/t.json").unwrap_err();
        assert!(errs[0].reason.contains("moblie"), "{errs:?}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let errs = form()
            .validate(
                &json!({"name": "x", "id_number": "11010519491231002X", "hack": 1}),
                Completeness::Complete,
            )
            .unwrap_err();
        assert_eq!(errs[0].rule, "additionalProperties");
    }
}
