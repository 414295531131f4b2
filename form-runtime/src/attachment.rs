//! Attachments: the `x-attachment` keyword that makes a form field hold uploaded files.
//!
//! ```json
//! "certificates": {
//!   "type": "array", "title": "火灾证明材料", "items": {"type": "string"}, "maxItems": 5,
//!   "x-attachment": {"max_size": "10MB", "max_count": 5,
//!                    "types": ["application/pdf", "image/jpeg", "image/png"]}
//! }
//! ```
//!
//! The field's value is attachment ids (an array of them, or one id for a `string` field);
//! the files themselves are uploaded first and stored by the server. The one thing to know:
//! a file's type is decided by its **content** ([`detect`]), never by its name or by what the
//! client claims, and a file is accepted only when that type is one of the field's `types`
//! and its size is within `max_size`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::error::{FieldError, PackError};
use crate::form::escape;

/// The keyword, on a top-level property of a form schema.
pub const KEYWORD: &str = "x-attachment";

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// `max_size` when the pack gives none: 20MB.
pub const DEFAULT_MAX_SIZE: u64 = 20 * MIB;
/// The largest `max_size` a pack may set: files are held in memory while they are checked.
pub const MAX_MAX_SIZE: u64 = 100 * MIB;
/// `max_count` of an array field when the pack gives neither `max_count` nor `maxItems`.
pub const DEFAULT_MAX_COUNT: usize = 10;
/// Text types a field may list; text has no signature, so content that is UTF-8 text
/// without NUL bytes counts as text.
pub const TEXT_TYPES: &[&str] = &["text/plain", "text/csv"];

/// The rules of one attachment field, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentRule {
    /// Largest file, in bytes.
    pub max_size: u64,
    /// Most files the field may hold (1 for a `string` field).
    pub max_count: usize,
    /// MIME types the content may have.
    pub types: Vec<String>,
    /// True for an `array` field (many ids), false for a `string` field (one id).
    pub many: bool,
}

/// Why an uploaded file is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Larger than `max_size`.
    TooLarge {
        /// The field's limit in bytes.
        max_size: u64,
    },
    /// The content is not one of the field's types (`detected` is None when unrecognised).
    WrongType {
        /// What the content is.
        detected: Option<String>,
        /// What the field accepts.
        allowed: Vec<String>,
    },
}

impl Refusal {
    /// The refusal as an error on the field, for the client.
    pub fn field_error(&self, field: &str, label: &str) -> FieldError {
        let ptr = format!("/{}", escape(field));
        match self {
            Refusal::TooLarge { max_size } => {
                let max = format_size(*max_size);
                FieldError::new(
                    ptr,
                    "max_size",
                    format!("「{label}」的文件不能超过 {max}"),
                    format!("files for {label} may be at most {max}"),
                )
            }
            Refusal::WrongType { detected, allowed } => {
                let allowed = allowed.join(", ");
                let (zh, en) = match detected {
                    Some(t) => (
                        format!("文件内容是 {t}，「{label}」只接受 {allowed}"),
                        format!("the file's content is {t}; {label} accepts only {allowed}"),
                    ),
                    None => (
                        format!("无法识别文件内容的类型，「{label}」只接受 {allowed}"),
                        format!(
                            "the file's content is not recognised; {label} accepts only {allowed}"
                        ),
                    ),
                };
                FieldError::new(ptr, "types", zh, en)
            }
        }
    }
}

impl AttachmentRule {
    /// Whether `size` bytes are more than the field allows.
    pub fn too_large(&self, size: u64) -> bool {
        size > self.max_size
    }

    /// Decides on a whole file: the content type to store it with, or why it is refused.
    pub fn accept(&self, bytes: &[u8]) -> Result<String, Refusal> {
        if self.too_large(bytes.len() as u64) {
            return Err(Refusal::TooLarge {
                max_size: self.max_size,
            });
        }
        let detected = detect(bytes);
        let allowed = |t: &str| self.types.iter().any(|a| a == t);
        match detected {
            Some(t) if allowed(t) => Ok(t.to_string()),
            // Text has no signature: a field that lists any text type takes text content,
            // stored as the first text type it lists.
            Some("text/plain") => self
                .types
                .iter()
                .find(|a| TEXT_TYPES.contains(&a.as_str()))
                .cloned()
                .ok_or_else(|| self.wrong_type(detected)),
            _ => Err(self.wrong_type(detected)),
        }
    }

    fn wrong_type(&self, detected: Option<&str>) -> Refusal {
        Refusal::WrongType {
            detected: detected.map(str::to_string),
            allowed: self.types.clone(),
        }
    }

    /// The ids `value` (the field's value in a record) holds, each with its JSON pointer.
    /// Values of the wrong JSON type are left to schema validation; too many ids and an id
    /// given twice are errors here.
    pub fn references(
        &self,
        field: &str,
        value: Option<&Value>,
    ) -> Result<Vec<Reference>, Vec<FieldError>> {
        let ptr = format!("/{}", escape(field));
        let refs: Vec<Reference> = match value {
            Some(Value::String(id)) => vec![Reference {
                pointer: ptr.clone(),
                id: id.clone(),
            }],
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    v.as_str().map(|id| Reference {
                        pointer: format!("{ptr}/{i}"),
                        id: id.to_string(),
                    })
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut errs = Vec::new();
        if refs.len() > self.max_count {
            errs.push(FieldError::new(
                &ptr,
                "maxItems",
                format!("最多 {} 个附件", self.max_count),
                format!("at most {} attachments", self.max_count),
            ));
        }
        for (i, r) in refs.iter().enumerate() {
            if refs[..i].iter().any(|o| o.id == r.id) {
                errs.push(FieldError::new(
                    &r.pointer,
                    "uniqueItems",
                    "同一个附件不能出现两次",
                    "the same attachment appears twice",
                ));
            }
        }
        if errs.is_empty() {
            Ok(refs)
        } else {
            Err(errs)
        }
    }
}

/// One attachment id in a record's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Where it is (`/certificates/1`).
    pub pointer: String,
    /// The attachment id.
    pub id: String,
}

/// The type of a file by its content: a signature `infer` knows, or `text/plain` for UTF-8
/// text without NUL bytes; None when unrecognised (an empty file included).
pub fn detect(bytes: &[u8]) -> Option<&'static str> {
    if let Some(t) = infer::get(bytes) {
        return Some(t.mime_type());
    }
    let text = !bytes.is_empty() && !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok();
    text.then_some("text/plain")
}

/// Every attachment id in a record's data, over all attachment fields of `rules`.
pub fn ids_in(rules: &BTreeMap<String, AttachmentRule>, data: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (field, rule) in rules {
        if let Ok(refs) = rule.references(field, data.get(field)) {
            out.extend(refs.into_iter().map(|r| r.id));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The attachment fields of a form schema with their rules, or every problem with the
/// keyword, reported against `file`.
pub fn attachment_fields(
    schema: &Value,
    file: &str,
) -> Result<BTreeMap<String, AttachmentRule>, Vec<PackError>> {
    let mut errs = Vec::new();
    let mut rules = BTreeMap::new();
    misplaced(schema, "", file, &mut errs);
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (key, prop) in props {
            let Some(raw) = prop.get(KEYWORD) else {
                continue;
            };
            let ptr = format!("/properties/{}", escape(key));
            if let Some(rule) = field_rule(prop, raw, &ptr, file, &mut errs) {
                rules.insert(key.clone(), rule);
            }
        }
    }
    if errs.is_empty() {
        Ok(rules)
    } else {
        Err(errs)
    }
}

/// Reports `x-attachment` anywhere but on a top-level property: it would be ignored there.
fn misplaced(v: &Value, ptr: &str, file: &str, errs: &mut Vec<PackError>) {
    let Value::Object(m) = v else {
        if let Value::Array(items) = v {
            for (i, item) in items.iter().enumerate() {
                misplaced(item, &format!("{ptr}/{i}"), file, errs);
            }
        }
        return;
    };
    let top_level_field = ptr.starts_with("/properties/") && ptr.matches('/').count() == 2;
    if m.contains_key(KEYWORD) && !top_level_field {
        errs.push(PackError::new(
            file,
            format!("{ptr}/{KEYWORD}"),
            "only a top-level field of a form can hold attachments",
        ));
    }
    for (k, child) in m {
        if k != KEYWORD {
            misplaced(child, &format!("{ptr}/{}", escape(k)), file, errs);
        }
    }
}

fn field_rule(
    prop: &Value,
    raw: &Value,
    ptr: &str,
    file: &str,
    errs: &mut Vec<PackError>,
) -> Option<AttachmentRule> {
    let before = errs.len();
    let kw = format!("{ptr}/{KEYWORD}");
    let mut err = |p: String, reason: String| errs.push(PackError::new(file, p, reason));
    let Some(obj) = raw.as_object() else {
        err(
            kw,
            "must be an object: {\"max_size\", \"max_count\", \"types\"}".into(),
        );
        return None;
    };
    for k in obj.keys() {
        if !["max_size", "max_count", "types"].contains(&k.as_str()) {
            err(
                format!("{kw}/{}", escape(k)),
                format!("unknown key `{k}`: one of max_size, max_count, types"),
            );
        }
    }
    let many = match prop.get("type").and_then(Value::as_str) {
        Some("array") => {
            let item_type = prop.pointer("/items/type").and_then(Value::as_str);
            if prop.get("items").is_some() && item_type != Some("string") {
                err(
                    format!("{ptr}/items"),
                    "the items of an attachment field are attachment ids: {\"type\": \"string\"}"
                        .into(),
                );
            }
            Some(true)
        }
        Some("string") => Some(false),
        _ => {
            err(
                format!("{ptr}/type"),
                "an attachment field is an \"array\" of ids, or a \"string\" for one file".into(),
            );
            None
        }
    };
    let max_size = match obj.get("max_size") {
        None => DEFAULT_MAX_SIZE,
        Some(v) => {
            let size = match v {
                Value::String(s) => parse_size(s),
                Value::Number(n) => n.as_u64(),
                _ => None,
            };
            match size {
                Some(n) if n > 0 && n <= MAX_MAX_SIZE => n,
                Some(n) if n > MAX_MAX_SIZE => {
                    err(
                        format!("{kw}/max_size"),
                        format!(
                            "{v} is more than the largest allowed, {}",
                            format_size(MAX_MAX_SIZE)
                        ),
                    );
                    0
                }
                _ => {
                    err(
                        format!("{kw}/max_size"),
                        format!(
                            "{v} is not a size: a number of bytes or text like \"10MB\", \"512KB\""
                        ),
                    );
                    0
                }
            }
        }
    };
    let max_items = prop.get("maxItems").and_then(Value::as_u64);
    // With a wrong `type` (reported above), judge the count as for an array.
    let many = many.unwrap_or(true);
    let max_count = match obj.get("max_count") {
        None if !many => 1,
        None => max_items.map_or(DEFAULT_MAX_COUNT, |n| n as usize),
        Some(v) => match v.as_u64().filter(|n| *n >= 1) {
            Some(n) if !many && n != 1 => {
                err(
                    format!("{kw}/max_count"),
                    "a \"string\" field holds one file: max_count must be 1 (or use an array)"
                        .into(),
                );
                1
            }
            Some(n) => {
                if max_items.is_some_and(|m| m != n) {
                    err(
                        format!("{ptr}/maxItems"),
                        format!("maxItems must agree with x-attachment max_count ({n})"),
                    );
                }
                n as usize
            }
            None => {
                err(
                    format!("{kw}/max_count"),
                    format!("{v} is not a whole number of at least 1"),
                );
                1
            }
        },
    };
    let mut types = Vec::new();
    match obj.get("types") {
        None => err(
            format!("{kw}/types"),
            "missing: list the MIME types the field accepts, e.g. [\"application/pdf\", \"image/jpeg\"]"
                .into(),
        ),
        Some(Value::Array(list)) if list.is_empty() => err(
            format!("{kw}/types"),
            "an empty list would refuse every file; list at least one MIME type".into(),
        ),
        Some(Value::Array(list)) => {
            for (i, t) in list.iter().enumerate() {
                let p = format!("{kw}/types/{i}");
                match t.as_str() {
                    Some(t) if types.iter().any(|o| o == t) => {
                        err(p, format!("`{t}` is listed twice"))
                    }
                    Some(t) if TEXT_TYPES.contains(&t) || infer::is_mime_supported(t) => {
                        types.push(t.to_string())
                    }
                    Some(t) => err(
                        p,
                        format!("`{t}` cannot be recognised from a file's content; use a type such as application/pdf, image/jpeg, image/png, text/plain"),
                    ),
                    None => err(p, "must be a MIME type string".into()),
                }
            }
        }
        Some(_) => err(
            format!("{kw}/types"),
            "must be a list of MIME types".into(),
        ),
    }
    (errs.len() == before).then_some(AttachmentRule {
        max_size,
        max_count,
        types,
        many,
    })
}

/// Reads a size: bytes as digits (`1048576`), or a number with a unit: `B`, `KB`, `MB`, `GB`
/// (powers of 1024; `KiB`, `MiB`, `GiB` and `K`, `M`, `G` mean the same), any case, decimals
/// allowed (`1.5MB`). None when it is not a size.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let unit = unit.trim().to_ascii_uppercase();
    let factor = match unit.as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => KIB,
        "M" | "MB" | "MIB" => MIB,
        "G" | "GB" | "GIB" => GIB,
        _ => return None,
    };
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return None;
    }
    match num.split_once('.') {
        None => num.parse::<u64>().ok()?.checked_mul(factor),
        Some((whole, frac)) => {
            if frac.contains('.') || frac.len() > 6 {
                return None;
            }
            let scale = 10u64.pow(frac.len() as u32);
            let whole = whole.parse::<u64>().ok()?.checked_mul(factor)?;
            let frac = frac.parse::<u64>().ok()?.checked_mul(factor)? / scale;
            whole.checked_add(frac)
        }
    }
}

/// A size for people: `10MB`, `1.5MB`, `512KB`, `100B`.
pub fn format_size(n: u64) -> String {
    let (unit, div) = if n >= GIB {
        ("GB", GIB)
    } else if n >= MIB {
        ("MB", MIB)
    } else if n >= KIB {
        ("KB", KIB)
    } else {
        return format!("{n}B");
    };
    let tenths = (n * 10 + div / 2) / div;
    match (tenths / 10, tenths % 10) {
        (whole, 0) => format!("{whole}{unit}"),
        (whole, tenth) => format!("{whole}.{tenth}{unit}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R',
    ];
    const PDF: &[u8] =
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";

    fn form(field: Value) -> Value {
        json!({"type": "object", "properties": {"photos": field}})
    }

    fn rule_of(field: Value) -> Result<AttachmentRule, Vec<PackError>> {
        attachment_fields(&form(field), "forms/f.json").map(|mut m| m.remove("photos").unwrap())
    }

    fn pointers(errs: Vec<PackError>) -> Vec<String> {
        errs.into_iter().map(|e| e.pointer).collect()
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(parse_size("10MB"), Some(10_485_760));
        assert_eq!(parse_size("10 mb"), Some(10_485_760));
        assert_eq!(parse_size("512KB"), Some(524_288));
        assert_eq!(parse_size("1.5MiB"), Some(1_572_864));
        assert_eq!(parse_size("2G"), Some(2 * GIB));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("100B"), Some(100));
        for bad in [
            "",
            "MB",
            "ten MB",
            "10 TB",
            "1.",
            ".5MB",
            "1.2.3MB",
            "-1MB",
            "99999999999999999999GB",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(format_size(10_485_760), "10MB");
        assert_eq!(format_size(1_572_864), "1.5MB");
        assert_eq!(format_size(512), "512B");
    }

    #[test]
    fn array_and_string_fields_get_their_defaults() {
        let r = rule_of(json!({"type": "array", "items": {"type": "string"}, "x-attachment": {"types": ["image/png"]}})).unwrap();
        assert_eq!(
            (r.max_size, r.max_count, r.many),
            (DEFAULT_MAX_SIZE, DEFAULT_MAX_COUNT, true)
        );
        let r = rule_of(
            json!({"type": "array", "maxItems": 3, "x-attachment": {"types": ["image/png"]}}),
        )
        .unwrap();
        assert_eq!(r.max_count, 3, "maxItems stands in for max_count");
        let r = rule_of(json!({"type": "string", "x-attachment": {"max_size": 1000, "types": ["application/pdf"]}})).unwrap();
        assert_eq!((r.max_size, r.max_count, r.many), (1000, 1, false));
    }

    #[test]
    fn keyword_mistakes_point_at_the_value() {
        let errs = rule_of(json!({"type": "array", "items": {"type": "integer"}, "maxItems": 4,
            "x-attachment": {"max_size": "10 TB", "max_count": 5, "types": ["image/png", "application/x-made-up", 3, "image/png"], "colour": "red"}}))
        .unwrap_err();
        assert_eq!(
            pointers(errs),
            [
                "/properties/photos/x-attachment/colour",
                "/properties/photos/items",
                "/properties/photos/x-attachment/max_size",
                "/properties/photos/maxItems",
                "/properties/photos/x-attachment/types/1",
                "/properties/photos/x-attachment/types/2",
                "/properties/photos/x-attachment/types/3",
            ]
        );
        let errs =
            rule_of(json!({"type": "string", "x-attachment": {"max_count": 2, "types": []}}))
                .unwrap_err();
        assert_eq!(
            pointers(errs),
            [
                "/properties/photos/x-attachment/max_count",
                "/properties/photos/x-attachment/types"
            ]
        );
        let errs =
            rule_of(json!({"type": "number", "x-attachment": {"max_size": "200MB"}})).unwrap_err();
        assert_eq!(
            pointers(errs),
            [
                "/properties/photos/type",
                "/properties/photos/x-attachment/max_size",
                "/properties/photos/x-attachment/types",
            ]
        );
        let errs = rule_of(json!({"type": "number", "maxItems": 3,
            "x-attachment": {"max_count": 3, "types": ["image/png"]}}))
        .unwrap_err();
        assert_eq!(
            pointers(errs),
            ["/properties/photos/type"],
            "one mistake, one error"
        );
        let errs = rule_of(json!({"type": "string", "x-attachment": "pdf"})).unwrap_err();
        assert_eq!(pointers(errs), ["/properties/photos/x-attachment"]);
    }

    #[test]
    fn attachments_only_on_top_level_fields() {
        let schema = json!({"type": "object", "properties": {"members": {"type": "array", "items": {"type": "object",
            "properties": {"photo": {"type": "string", "x-attachment": {"types": ["image/png"]}}}}}}});
        let errs = attachment_fields(&schema, "forms/f.json").unwrap_err();
        assert_eq!(
            pointers(errs),
            ["/properties/members/items/properties/photo/x-attachment"]
        );
    }

    #[test]
    fn content_decides_the_type_not_the_name() {
        let r = rule_of(json!({"type": "array", "x-attachment": {"max_size": "1KB", "types": ["application/pdf", "image/png"]}})).unwrap();
        assert_eq!(r.accept(PNG).as_deref(), Ok("image/png"));
        assert_eq!(r.accept(PDF).as_deref(), Ok("application/pdf"));
        let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00rest-of-a-zip";
        assert_eq!(
            r.accept(zip),
            Err(Refusal::WrongType {
                detected: Some("application/zip".into()),
                allowed: vec!["application/pdf".into(), "image/png".into()]
            })
        );
        assert!(
            matches!(r.accept(b"just some text"), Err(Refusal::WrongType { detected: Some(t), .. }) if t == "text/plain")
        );
        assert!(matches!(
            r.accept(b""),
            Err(Refusal::WrongType { detected: None, .. })
        ));
        assert_eq!(
            r.accept(&[b'%'; 1025]),
            Err(Refusal::TooLarge { max_size: 1024 })
        );
        let e = Refusal::TooLarge { max_size: 10 * MIB }.field_error("photos", "照片");
        assert_eq!(
            (e.pointer.as_str(), e.rule.as_str()),
            ("/photos", "max_size")
        );
        assert!(e.message.contains("10MB"), "{}", e.message);
    }

    #[test]
    fn text_is_accepted_only_where_a_text_type_is_listed() {
        let csv =
            rule_of(json!({"type": "string", "x-attachment": {"types": ["text/csv"]}})).unwrap();
        assert_eq!(
            csv.accept("姓名,金额\n张三,100\n".as_bytes()).as_deref(),
            Ok("text/csv")
        );
        assert!(csv.accept(b"a\0b").is_err(), "NUL bytes are not text");
        assert!(
            csv.accept(&[0xff, 0xfe, 0x41]).is_err(),
            "text must be UTF-8"
        );
    }

    #[test]
    fn references_are_counted_and_unique() {
        let r = rule_of(
            json!({"type": "array", "x-attachment": {"max_count": 2, "types": ["image/png"]}}),
        )
        .unwrap();
        let refs = r.references("photos", Some(&json!(["a", "b"]))).unwrap();
        assert_eq!(
            refs[1],
            Reference {
                pointer: "/photos/1".into(),
                id: "b".into()
            }
        );
        let errs = r
            .references("photos", Some(&json!(["a", "b", "a"])))
            .unwrap_err();
        let got: Vec<(&str, &str)> = errs
            .iter()
            .map(|e| (e.pointer.as_str(), e.rule.as_str()))
            .collect();
        assert_eq!(got, [("/photos", "maxItems"), ("/photos/2", "uniqueItems")]);
        assert!(r.references("photos", None).unwrap().is_empty());
        let rules = BTreeMap::from([("photos".to_string(), r)]);
        assert_eq!(
            ids_in(&rules, &json!({"photos": ["b", "a"], "other": "c"})),
            ["a", "b"]
        );
    }
}
