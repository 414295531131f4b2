//! Sensitive fields (`x-sensitive`): the values of a record that are personal data.
//!
//! A field marked `"x-sensitive": true` (or `{"mask": "id_number"}`) is encrypted at rest,
//! shown masked (`110105********002X`) to readers whose role lacks `unmask`, and found in
//! lists only by its exact value. The one thing to know: this module only says *which*
//! values are sensitive and *how they are masked*; sealing them needs keys, which are the
//! server's business. Every function here works on clear values.
//!
//! A field may be sensitive at the top level of the form (`id_number`), inside a group
//! (`contact/phone`) or inside the items of a repeating section (`members/*/id_number`).

use serde_json::Value;

use crate::error::PackError;
use crate::form::escape;

/// The keyword.
pub const KEYWORD: &str = "x-sensitive";

/// What a reader without `unmask` sees instead of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskKind {
    /// Resident ID number: the first 6 and last 4 characters stay (`110105********002X`).
    IdNumber,
    /// Mobile number: the first 3 and last 4 digits stay (`138****5678`).
    Mobile,
    /// Bank card: the last 4 digits stay (`***************0128`).
    BankCard,
    /// Person's name: the first character stays (`张*`, `欧阳**` → `欧**`).
    Name,
    /// Nothing stays: every character becomes `*`.
    All,
}

impl MaskKind {
    /// The kinds by the names a pack uses in `{"mask": "…"}`.
    pub const NAMES: &'static [(&'static str, MaskKind)] = &[
        ("id_number", MaskKind::IdNumber),
        ("mobile", MaskKind::Mobile),
        ("bank_card", MaskKind::BankCard),
        ("name", MaskKind::Name),
        ("all", MaskKind::All),
    ];

    /// The kind a pack names, if it is one.
    pub fn from_name(name: &str) -> Option<MaskKind> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
    }

    /// The default for `"x-sensitive": true`: from the field's `format`, else [`MaskKind::All`].
    pub fn for_format(format: Option<&str>) -> MaskKind {
        match format {
            Some("id_number") => MaskKind::IdNumber,
            Some("mobile") => MaskKind::Mobile,
            Some("bank_card") => MaskKind::BankCard,
            _ => MaskKind::All,
        }
    }
}

/// One step of a [`SensitivePath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A property of an object.
    Key(String),
    /// Every item of an array.
    Each,
}

/// Where sensitive values sit in a record, and how they are masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensitivePath {
    /// From the record's root: keys, and [`Segment::Each`] for the items of an array.
    pub segments: Vec<Segment>,
    /// How a value at this path is masked.
    pub mask: MaskKind,
}

impl SensitivePath {
    /// The field key when the path is a top-level field (the only ones lists can filter).
    pub fn top_level(&self) -> Option<&str> {
        match self.segments.as_slice() {
            [Segment::Key(k)] => Some(k),
            _ => None,
        }
    }

    /// The path as a pack author writes it: `id_number`, `members/*/id_number`.
    pub fn pattern(&self) -> String {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Key(k) => k.as_str(),
                Segment::Each => "*",
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Every sensitive path of a form schema, in schema order. Malformed `x-sensitive` values are
/// ignored here; [`check`] reports them.
pub fn sensitive_fields(schema: &Value) -> Vec<SensitivePath> {
    let mut out = Vec::new();
    walk(schema, &mut Vec::new(), "", &mut |path, _, prop| {
        if let Ok(Some(mask)) = parse(prop) {
            out.push(SensitivePath {
                segments: path.to_vec(),
                mask,
            });
        }
    });
    out
}

/// Problems with `x-sensitive` in a form schema, pointing into `file`: a malformed value, a
/// sensitive field that is not a string, or the keyword where no field is.
pub fn check(schema: &Value, file: &str) -> Vec<PackError> {
    let mut errs = Vec::new();
    let mut on_fields = Vec::new();
    walk(schema, &mut Vec::new(), "", &mut |_, ptr, prop| {
        if prop.get(KEYWORD).is_none() {
            return;
        }
        let at = format!("{ptr}/{KEYWORD}");
        on_fields.push(at.clone());
        match parse(prop) {
            Err(reason) => errs.push(PackError::new(file, at, reason)),
            Ok(Some(_)) if prop.get("type").and_then(Value::as_str) != Some("string") => {
                errs.push(PackError::new(
                    file,
                    at,
                    "a sensitive field must be a string (\"type\": \"string\"): only text is encrypted and masked",
                ))
            }
            Ok(_) => {}
        }
    });
    let mut everywhere = Vec::new();
    find_keyword(schema, "", &mut everywhere);
    // At the form's top level the form reports every unknown extension keyword already.
    let top = format!("/{KEYWORD}");
    for at in everywhere
        .into_iter()
        .filter(|p| !on_fields.contains(p) && *p != top)
    {
        errs.push(PackError::new(
            file,
            at,
            "x-sensitive is understood only on a field: a property of the form, of a group, or of a repeating section's items",
        ));
    }
    errs
}

/// The mask of `value`: what a reader without `unmask` sees. Works on characters, so Chinese
/// names are masked whole characters at a time; a value too short to keep anything is masked
/// entirely.
pub fn mask(kind: MaskKind, value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    let keep = |head: usize, tail: usize| -> String {
        if n <= head + tail {
            return "*".repeat(n);
        }
        let mut s: String = chars[..head].iter().collect();
        s.push_str(&"*".repeat(n - head - tail));
        s.extend(&chars[n - tail..]);
        s
    };
    match kind {
        MaskKind::IdNumber => keep(6, 4),
        MaskKind::Mobile => keep(3, 4),
        MaskKind::BankCard => keep(0, 4),
        MaskKind::Name if n <= 1 => "*".repeat(n),
        MaskKind::Name => keep(1, 0),
        MaskKind::All => "*".repeat(n),
    }
}

/// The form of a value that exact search compares: without whitespace, ASCII letters upper
/// case, so `11010519491231002x ` finds `11010519491231002X`.
pub fn normalise(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Calls `f(path, pointer, value)` for every non-null value of `data` at a sensitive path, in
/// the order of `paths`; `pointer` is the value's JSON pointer (`/members/0/id_number`).
/// Stops at the first error.
pub fn visit_mut<E>(
    paths: &[SensitivePath],
    data: &mut Value,
    mut f: impl FnMut(&SensitivePath, &str, &mut Value) -> Result<(), E>,
) -> Result<(), E> {
    for p in paths {
        visit_path(p, &p.segments, String::new(), data, &mut f)?;
    }
    Ok(())
}

fn visit_path<E>(
    path: &SensitivePath,
    rest: &[Segment],
    ptr: String,
    node: &mut Value,
    f: &mut impl FnMut(&SensitivePath, &str, &mut Value) -> Result<(), E>,
) -> Result<(), E> {
    match rest.split_first() {
        None if node.is_null() => Ok(()),
        None => f(path, &ptr, node),
        Some((Segment::Key(k), tail)) => match node.as_object_mut().and_then(|o| o.get_mut(k)) {
            Some(child) => visit_path(path, tail, format!("{ptr}/{}", escape(k)), child, f),
            None => Ok(()),
        },
        Some((Segment::Each, tail)) => match node.as_array_mut() {
            Some(items) => {
                for (i, child) in items.iter_mut().enumerate() {
                    visit_path(path, tail, format!("{ptr}/{i}"), child, f)?;
                }
                Ok(())
            }
            None => Ok(()),
        },
    }
}

/// A copy of `data` with every sensitive value replaced by `***`: what a record's history
/// may keep (it shows that a value changed, never the value).
pub fn redact(paths: &[SensitivePath], data: &Value) -> Value {
    let mut out = data.clone();
    let _ = visit_mut::<()>(paths, &mut out, |_, _, v| {
        *v = Value::String("***".into());
        Ok(())
    });
    out
}

/// Puts back the old value wherever `new` holds exactly the mask of `old` at the same place:
/// a client that shows masked values and sends the whole form back has not changed them.
pub fn keep_masked(paths: &[SensitivePath], old: &Value, new: &mut Value) {
    let _ = visit_mut::<()>(paths, new, |p, ptr, v| {
        if let (Some(sent), Some(Value::String(was))) = (v.as_str(), old.pointer(ptr)) {
            if sent != was && sent == mask(p.mask, was) {
                *v = Value::String(was.clone());
            }
        }
        Ok(())
    });
}

/// The mask an `x-sensitive` value asks for: `None` when the field is not sensitive.
fn parse(prop: &Value) -> Result<Option<MaskKind>, String> {
    let format = prop.get("format").and_then(Value::as_str);
    match prop.get(KEYWORD) {
        None | Some(Value::Bool(false)) => Ok(None),
        Some(Value::Bool(true)) => Ok(Some(MaskKind::for_format(format))),
        Some(Value::Object(o)) => {
            if let Some(k) = o.keys().find(|k| *k != "mask") {
                return Err(format!("unknown key `{k}` in x-sensitive; only \"mask\""));
            }
            match o.get("mask") {
                None => Ok(Some(MaskKind::for_format(format))),
                Some(Value::String(m)) => MaskKind::from_name(m)
                    .map(Some)
                    .ok_or_else(|| format!("unknown mask `{m}`; one of {}", mask_names())),
                Some(_) => Err(format!("mask must be one of {}", mask_names())),
            }
        }
        Some(_) => Err(format!(
            "x-sensitive must be true, false or {{\"mask\": …}} with a mask of {}",
            mask_names()
        )),
    }
}

fn mask_names() -> String {
    MaskKind::NAMES
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Visits every field schema reachable through `properties` (of the form, of groups, of the
/// items of arrays) with its record path and its pointer in the schema.
fn walk(
    node: &Value,
    path: &mut Vec<Segment>,
    ptr: &str,
    f: &mut impl FnMut(&[Segment], &str, &Value),
) {
    let Some(props) = node.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (key, prop) in props {
        let at = format!("{ptr}/properties/{}", escape(key));
        path.push(Segment::Key(key.clone()));
        f(path, &at, prop);
        walk(prop, path, &at, f);
        if let Some(items) = prop.get("items").filter(|i| i.is_object()) {
            path.push(Segment::Each);
            walk(items, path, &format!("{at}/items"), f);
            path.pop();
        }
        path.pop();
    }
}

/// Pointers of every `x-sensitive` key anywhere in `node`.
fn find_keyword(node: &Value, ptr: &str, out: &mut Vec<String>) {
    match node {
        Value::Object(o) => {
            for (k, v) in o {
                let at = format!("{ptr}/{}", escape(k));
                if k == KEYWORD {
                    out.push(at.clone());
                }
                find_keyword(v, &at, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                find_keyword(v, &format!("{ptr}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "x-sensitive": {"mask": "name"}},
                "id_number": {"type": "string", "format": "id_number", "x-sensitive": true},
                "phone": {"type": "string", "format": "mobile", "x-sensitive": {}},
                "note": {"type": "string", "x-sensitive": false},
                "contact": {"type": "object", "properties": {
                    "card": {"type": "string", "format": "bank_card", "x-sensitive": true}
                }},
                "members": {"type": "array", "items": {"type": "object", "properties": {
                    "id_number": {"type": "string", "format": "id_number", "x-sensitive": true},
                    "secret": {"type": "string", "x-sensitive": true}
                }}}
            }
        })
    }

    #[test]
    fn paths_and_default_masks_come_from_the_schema() {
        let mut got: Vec<(String, MaskKind, Option<String>)> = sensitive_fields(&schema())
            .iter()
            .map(|p| (p.pattern(), p.mask, p.top_level().map(str::to_string)))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let top = |k: &str| Some(k.to_string());
        assert_eq!(
            got,
            [
                ("contact/card".to_string(), MaskKind::BankCard, None),
                (
                    "id_number".to_string(),
                    MaskKind::IdNumber,
                    top("id_number")
                ),
                ("members/*/id_number".to_string(), MaskKind::IdNumber, None),
                ("members/*/secret".to_string(), MaskKind::All, None),
                ("name".to_string(), MaskKind::Name, top("name")),
                ("phone".to_string(), MaskKind::Mobile, top("phone")),
            ]
        );
    }

    #[test]
    fn masks_keep_what_each_kind_allows() {
        assert_eq!(
            mask(MaskKind::IdNumber, "11010519491231002X"),
            "110105********002X"
        );
        assert_eq!(mask(MaskKind::Mobile, "13812345678"), "138****5678");
        assert_eq!(
            mask(MaskKind::BankCard, "6222021234567890128"),
            "***************0128"
        );
        assert_eq!(mask(MaskKind::Name, "张三"), "张*");
        assert_eq!(mask(MaskKind::Name, "欧阳娜娜"), "欧***");
        assert_eq!(mask(MaskKind::Name, "张"), "*");
        assert_eq!(mask(MaskKind::All, "秘密"), "**");
        // Too short to keep anything: all of it is hidden, never shown.
        assert_eq!(mask(MaskKind::IdNumber, "1101051234"), "**********");
        assert_eq!(mask(MaskKind::BankCard, "0128"), "****");
        assert_eq!(mask(MaskKind::Mobile, ""), "");
    }

    #[test]
    fn visiting_reaches_nested_items_with_their_pointers() {
        let mut data = json!({
            "id_number": "11010519491231002X",
            "phone": null,
            "members": [{"id_number": "A"}, {"name": "x"}, {"id_number": "B", "secret": "s"}],
            "contact": {"card": "6222021234567890128"}
        });
        let mut seen = Vec::new();
        visit_mut::<()>(&sensitive_fields(&schema()), &mut data, |p, ptr, v| {
            seen.push((p.pattern(), ptr.to_string(), v.clone()));
            Ok(())
        })
        .unwrap();
        let mut ptrs: Vec<&str> = seen.iter().map(|(_, p, _)| p.as_str()).collect();
        ptrs.sort();
        assert_eq!(
            ptrs,
            [
                "/contact/card",
                "/id_number",
                "/members/0/id_number",
                "/members/2/id_number",
                "/members/2/secret"
            ]
        );
    }

    #[test]
    fn redacting_hides_every_sensitive_value_and_nothing_else() {
        let data = json!({"id_number": "11010519491231002X", "other": "keep", "members": [{"id_number": "A", "name": "n"}]});
        assert_eq!(
            redact(&sensitive_fields(&schema()), &data),
            json!({"id_number": "***", "other": "keep", "members": [{"id_number": "***", "name": "n"}]})
        );
    }

    #[test]
    fn a_mask_sent_back_keeps_the_old_value() {
        let paths = sensitive_fields(&schema());
        let old = json!({"id_number": "11010519491231002X", "phone": "13812345678"});
        let mut new = json!({"id_number": "110105********002X", "phone": "13900001111"});
        keep_masked(&paths, &old, &mut new);
        assert_eq!(
            new,
            json!({"id_number": "11010519491231002X", "phone": "13900001111"})
        );
    }

    #[test]
    fn normalising_ignores_spaces_and_letter_case() {
        assert_eq!(normalise(" 1101 0519491231002x "), "11010519491231002X");
    }

    #[test]
    fn bad_markings_are_pack_errors_with_pointers() {
        let schema = json!({
            "type": "object",
            "properties": {
                "a": {"type": "integer", "x-sensitive": true},
                "b": {"type": "string", "x-sensitive": {"mask": "nose"}},
                "c": {"type": "string", "x-sensitive": "yes"},
                "d": {"type": "string", "x-sensitive": {"mask": "all", "why": 1}},
                "e": {"type": "string", "x-sensitive": false},
                "f": {"type": "string", "x-sensitive": true},
                "g": {"type": "string", "anyOf": [{"x-sensitive": true}]}
            }
        });
        let errs = check(&schema, "forms/f.json");
        let mut ptrs: Vec<&str> = errs.iter().map(|e| e.pointer.as_str()).collect();
        ptrs.sort();
        assert_eq!(
            ptrs,
            [
                "/properties/a/x-sensitive",
                "/properties/b/x-sensitive",
                "/properties/c/x-sensitive",
                "/properties/d/x-sensitive",
                "/properties/g/anyOf/0/x-sensitive",
            ]
        );
        let b = errs
            .iter()
            .find(|e| e.pointer.starts_with("/properties/b/"));
        assert!(b.is_some_and(|e| e.reason.contains("nose")), "{errs:?}");
        assert!(check(&self::tests::schema(), "f").is_empty());
    }
}
