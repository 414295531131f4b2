//! Lists: saved views over one form's records: columns, allowed filters, default sort.
//!
//! A request (`filter[district]=浦东新区&sort=-loss_amount&page=2`) is parsed against the
//! list definition into a [`ListQuery`]; only declared filters and sortable columns are
//! accepted, so a list never runs a query its indexes were not built for. A filter on a
//! sensitive field (`x-sensitive`) compares the field's blind index, never its value, and
//! such a field cannot be sorted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, PackError, Result};
use crate::form::{Field, FieldKind};
use crate::sensitive::sensitive_fields;
use crate::sql::{json_number_expr, json_text_expr, Dialect, Sql};

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 500;

/// Columns every record has, usable in columns, filters and sort.
pub const SYSTEM_FIELDS: &[&str] = &["state", "created_at", "updated_at"];

/// A list file (`lists/<key>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListDef {
    /// Title of the list page.
    pub label: String,
    /// Key of the form whose records it shows.
    pub form: String,
    /// Columns in display order.
    pub columns: Vec<ColumnDef>,
    /// Fields a user may filter on with `filter[field]=value`.
    #[serde(default)]
    pub filters: Vec<String>,
    /// Default sort: field keys, `-` in front for descending. Default `["-created_at"]`.
    #[serde(default = "default_sort")]
    pub sort: Vec<String>,
    /// Rows per page when the request does not say. Default 20, at most 500.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

fn default_sort() -> Vec<String> {
    vec!["-created_at".into()]
}

fn default_page_size() -> u32 {
    20
}

/// One column of a list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    /// A field key of the form, or a system field (`state`, `created_at`, `updated_at`).
    pub field: String,
    /// Column heading; defaults to the field's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// How a field is compared in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    System,
    Text,
    Number,
    Bool,
    /// Stored sealed: compared by blind index (`data->'f'->>'bi'`), never sorted.
    Sensitive,
}

/// A list checked against its form.
#[derive(Debug, Clone)]
pub struct CompiledList {
    /// The list's key.
    pub key: String,
    /// Its definition.
    pub def: ListDef,
    kinds: BTreeMap<String, Kind>,
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// Field key.
    pub field: String,
    /// Descending when true.
    pub desc: bool,
}

/// A parsed list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Field → value equality filters.
    pub filters: Vec<(String, String)>,
    /// Sort keys, most significant first.
    pub sort: Vec<SortKey>,
    /// 1-based page number.
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
}

impl CompiledList {
    /// Checks a list against the fields of its form; problems point into `file`.
    pub fn check(
        key: &str,
        def: ListDef,
        fields: &BTreeMap<String, Field>,
        file: &str,
    ) -> std::result::Result<Self, Vec<PackError>> {
        let mut errs = Vec::new();
        let mut kinds = BTreeMap::new();
        for s in SYSTEM_FIELDS {
            kinds.insert(s.to_string(), Kind::System);
        }
        for f in fields.values() {
            let kind = match f.kind {
                k if k.is_numeric() => Kind::Number,
                FieldKind::String => Kind::Text,
                FieldKind::Boolean => Kind::Bool,
                _ => continue, // arrays and objects are shown, not filtered or sorted
            };
            kinds.insert(f.key.clone(), kind);
        }
        for (i, c) in def.columns.iter().enumerate() {
            if !fields.contains_key(&c.field) && !SYSTEM_FIELDS.contains(&c.field.as_str()) {
                errs.push(PackError::new(
                    file,
                    format!("/columns/{i}/field"),
                    format!("form `{}` has no field `{}`", def.form, c.field),
                ));
            }
        }
        for (i, f) in def.filters.iter().enumerate() {
            if !kinds.contains_key(f) {
                errs.push(PackError::new(
                    file,
                    format!("/filters/{i}"),
                    format!(
                        "`{f}` is not a field of `{}` that can be filtered",
                        def.form
                    ),
                ));
            }
        }
        for (i, s) in def.sort.iter().enumerate() {
            if !kinds.contains_key(s.trim_start_matches('-')) {
                errs.push(PackError::new(
                    file,
                    format!("/sort/{i}"),
                    format!("`{s}` is not a field of `{}` that can be sorted", def.form),
                ));
            }
        }
        if def.page_size == 0 || def.page_size > MAX_PAGE_SIZE {
            errs.push(PackError::new(
                file,
                "/page_size",
                format!("page_size must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        if errs.is_empty() {
            Ok(CompiledList {
                key: key.to_string(),
                def,
                kinds,
            })
        } else {
            Err(errs)
        }
    }

    /// Checks a list against its form's fields and schema: like [`CompiledList::check`], and
    /// filters on the form's top-level sensitive fields compare blind indexes; the default
    /// sort may not name a sensitive field.
    pub fn check_form(
        key: &str,
        def: ListDef,
        fields: &BTreeMap<String, Field>,
        schema: &serde_json::Value,
        file: &str,
    ) -> std::result::Result<Self, Vec<PackError>> {
        let sensitive: Vec<String> = sensitive_fields(schema)
            .iter()
            .filter_map(|p| p.top_level().map(str::to_string))
            .collect();
        let mut errs: Vec<PackError> = def
            .sort
            .iter()
            .enumerate()
            .filter(|(_, s)| sensitive.iter().any(|f| f == s.trim_start_matches('-')))
            .map(|(i, s)| {
                PackError::new(
                    file,
                    format!("/sort/{i}"),
                    format!(
                        "`{}` is sensitive (x-sensitive): it is stored encrypted and cannot be sorted",
                        s.trim_start_matches('-')
                    ),
                )
            })
            .collect();
        match Self::check(key, def, fields, file) {
            Ok(mut list) if errs.is_empty() => {
                for f in sensitive {
                    if let Some(k) = list.kinds.get_mut(&f) {
                        *k = Kind::Sensitive;
                    }
                }
                Ok(list)
            }
            Ok(_) => Err(errs),
            Err(mut e) => {
                e.append(&mut errs);
                Err(e)
            }
        }
    }

    /// Whether filters on `field` compare a blind index: the caller passes the value's
    /// blind index, not the value, as the filter value.
    pub fn is_sensitive(&self, field: &str) -> bool {
        self.kinds.get(field) == Some(&Kind::Sensitive)
    }

    /// Fields a user may sort by: the columns, plus the default sort keys; never a sensitive
    /// field, whose stored form sorts by nothing meaningful.
    fn sortable(&self, field: &str) -> bool {
        self.kinds.get(field).is_some_and(|k| *k != Kind::Sensitive)
            && (self.def.columns.iter().any(|c| c.field == field)
                || self
                    .def
                    .sort
                    .iter()
                    .any(|s| s.trim_start_matches('-') == field))
    }

    /// Parses query-string pairs (`filter[x]`, `sort`, `page`, `page_size`) into a query.
    /// Unknown parameters are refused so a typo does not silently show everything.
    pub fn parse_query(&self, pairs: &[(String, String)]) -> Result<ListQuery> {
        let mut errs = Vec::new();
        let mut q = ListQuery {
            filters: Vec::new(),
            sort: Vec::new(),
            page: 1,
            page_size: self.def.page_size,
        };
        let mut sort_param = None;
        for (k, v) in pairs {
            if let Some(field) = k.strip_prefix("filter[").and_then(|r| r.strip_suffix(']')) {
                if !self.def.filters.iter().any(|f| f == field) {
                    errs.push(bad(
                        k,
                        format!("不能按「{field}」筛选"),
                        format!("this list cannot be filtered by `{field}`"),
                    ));
                } else if self.kinds.get(field) == Some(&Kind::Number)
                    && v.trim().parse::<f64>().is_err()
                {
                    errs.push(bad(
                        k,
                        format!("「{v}」不是数字"),
                        format!("`{v}` is not a number"),
                    ));
                } else if self.kinds.get(field) == Some(&Kind::Bool)
                    && !matches!(v.as_str(), "true" | "false")
                {
                    errs.push(bad(
                        k,
                        format!("「{v}」应为 true 或 false"),
                        format!("`{v}` must be true or false"),
                    ));
                } else {
                    q.filters.push((field.to_string(), v.clone()));
                }
            } else {
                match k.as_str() {
                    "sort" => sort_param = Some(v.clone()),
                    "page" => match v.parse::<u32>() {
                        Ok(p) if p >= 1 => q.page = p,
                        _ => errs.push(bad(
                            k,
                            "页码应为正整数".into(),
                            "page must be a positive whole number".into(),
                        )),
                    },
                    "page_size" => match v.parse::<u32>() {
                        Ok(p) if (1..=MAX_PAGE_SIZE).contains(&p) => q.page_size = p,
                        _ => errs.push(bad(
                            k,
                            format!("每页条数应在 1 到 {MAX_PAGE_SIZE} 之间"),
                            format!("page_size must be between 1 and {MAX_PAGE_SIZE}"),
                        )),
                    },
                    _ => errs.push(bad(
                        k,
                        format!("未知参数「{k}」"),
                        format!("unknown parameter `{k}`"),
                    )),
                }
            }
        }
        let sort: Vec<String> = match sort_param {
            Some(s) => s
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            None => self.def.sort.clone(),
        };
        for s in sort {
            let (field, desc) = match s.strip_prefix('-') {
                Some(f) => (f.to_string(), true),
                None => (s.clone(), false),
            };
            if self.sortable(&field) {
                q.sort.push(SortKey { field, desc });
            } else {
                errs.push(bad(
                    "sort",
                    format!("不能按「{field}」排序"),
                    format!("this list cannot be sorted by `{field}`"),
                ));
            }
        }
        if errs.is_empty() {
            Ok(q)
        } else {
            Err(Error::Invalid(errs))
        }
    }

    /// Appends ` and <filters>` for `q` to a statement whose `where` clause is already open.
    pub fn push_filters(&self, q: &ListQuery, sql: &mut Sql) {
        for (field, value) in &q.filters {
            sql.push(" and ");
            match self.kinds.get(field) {
                Some(Kind::System) => {
                    sql.push(field).push(" = ").bind_text(value.clone());
                }
                Some(Kind::Number) => {
                    let n = value.trim().parse::<f64>().unwrap_or(f64::NAN);
                    sql.json_number(field).push(" = ").bind_number(n);
                }
                Some(Kind::Bool) => {
                    sql.json_text(field).push(" = ").bind_bool(value == "true");
                }
                Some(Kind::Sensitive) => {
                    sql.push(&blind_index_expr(field))
                        .push(" = ")
                        .bind_text(value.clone());
                }
                _ => {
                    sql.json_text(field).push(" = ").bind_text(value.clone());
                }
            }
        }
    }

    /// The `order by` list for `q`, ending with the record id so pages never overlap.
    pub fn order_by(&self, q: &ListQuery, dialect: Dialect) -> String {
        let mut parts: Vec<String> = q
            .sort
            .iter()
            .map(|s| {
                let expr = match self.kinds.get(&s.field) {
                    Some(Kind::System) => s.field.clone(),
                    Some(Kind::Number) => json_number_expr(dialect, &s.field),
                    _ => json_text_expr(&s.field),
                };
                format!("{expr} {}", if s.desc { "desc" } else { "asc" })
            })
            .collect();
        parts.push("record_id desc".into());
        parts.join(", ")
    }

    /// Expressions worth an index for this list: each filter and the first sort key, each led
    /// by `tenant_id, form_key` as every list query is, and ending with `org_path` so the data
    /// scope is checked inside the index.
    pub fn index_expressions(&self, dialect: Dialect) -> Vec<String> {
        let expr = |f: &str| match self.kinds.get(f) {
            Some(Kind::System) => f.to_string(),
            Some(Kind::Number) => json_number_expr(dialect, f),
            Some(Kind::Sensitive) => blind_index_expr(f),
            _ => json_text_expr(f),
        };
        let lead_sort = self.def.sort.first().map(|s| {
            let f = s.trim_start_matches('-');
            expr(f)
        });
        let mut out = Vec::new();
        for f in &self.def.filters {
            let mut cols = vec!["tenant_id".to_string(), "form_key".to_string(), expr(f)];
            cols.extend(lead_sort.clone());
            cols.push("org_path".into());
            out.push(cols.join(", "));
        }
        if let Some(s) = lead_sort {
            out.push(format!("tenant_id, form_key, {s}, org_path"));
        }
        out.sort();
        out.dedup();
        out
    }
}

/// `(data->'key'->>'bi')`: the blind index of a sealed field, the same text in both dialects
/// so the expression index matches the query. `key` must be a checked key.
fn blind_index_expr(key: &str) -> String {
    debug_assert!(crate::key::is_key(key));
    format!("(data->'{key}'->>'bi')")
}

fn bad(param: &str, zh: String, en: String) -> FieldError {
    FieldError::new(format!("/query/{param}"), "query", zh, en)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::SqlValue;
    use serde_json::json;

    fn list() -> CompiledList {
        let mut fields = BTreeMap::new();
        for (k, kind) in [
            ("district", FieldKind::String),
            ("loss_amount", FieldKind::Number),
            ("members", FieldKind::Array),
        ] {
            fields.insert(
                k.to_string(),
                Field {
                    key: k.into(),
                    label: k.into(),
                    kind,
                },
            );
        }
        let def: ListDef = serde_json::from_value(json!({
            "label": "l", "form": "f",
            "columns": [{"field": "district"}, {"field": "loss_amount"}, {"field": "state"}],
            "filters": ["district", "state", "loss_amount"]
        }))
        .unwrap();
        CompiledList::check("l", def, &fields, "lists/l.json").unwrap()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn filters_and_sort_compile_to_bound_sql() {
        let l = list();
        let q = l
            .parse_query(&pairs(&[
                ("filter[district]", "浦东新区"),
                ("sort", "-loss_amount"),
                ("page_size", "50"),
            ]))
            .unwrap();
        let mut sql = Sql::new(Dialect::Postgres);
        l.push_filters(&q, &mut sql);
        assert_eq!(sql.text, " and (data->>'district') = $1");
        assert_eq!(
            l.order_by(&q, Dialect::Postgres),
            "((data->>'loss_amount')::numeric) desc, record_id desc"
        );
        assert_eq!(q.page_size, 50);
    }

    #[test]
    fn undeclared_filter_sort_and_oversized_page_are_refused() {
        let l = list();
        let Err(Error::Invalid(errs)) = l.parse_query(&pairs(&[
            ("filter[members]", "x"),
            ("sort", "members"),
            ("page_size", "501"),
            ("filter[loss_amount]", "lots"),
        ])) else {
            panic!("expected errors");
        };
        let ptrs: Vec<_> = errs.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            ptrs,
            [
                "/query/filter[members]",
                "/query/page_size",
                "/query/filter[loss_amount]",
                "/query/sort"
            ]
        );
    }

    #[test]
    fn boolean_filters_bind_what_each_dialect_reads_from_json() {
        let mut fields = BTreeMap::new();
        fields.insert(
            "urgent".to_string(),
            Field {
                key: "urgent".into(),
                label: "urgent".into(),
                kind: FieldKind::Boolean,
            },
        );
        let def: ListDef = serde_json::from_value(json!({"label": "l", "form": "f", "columns": [{"field": "urgent"}], "filters": ["urgent"]})).unwrap();
        let l = CompiledList::check("l", def, &fields, "lists/l.json").unwrap();
        let q = l
            .parse_query(&pairs(&[("filter[urgent]", "true")]))
            .unwrap();
        for (dialect, want) in [
            (Dialect::Sqlite, SqlValue::Int(1)),
            (Dialect::Postgres, SqlValue::Text("true".into())),
        ] {
            let mut sql = Sql::new(dialect);
            l.push_filters(&q, &mut sql);
            assert_eq!(sql.params, [want]);
        }
        assert!(l.parse_query(&pairs(&[("filter[urgent]", "yes")])).is_err());
    }

    #[test]
    fn sensitive_filters_compare_the_blind_index_and_cannot_sort() {
        let mut fields = BTreeMap::new();
        for k in ["id_number", "district"] {
            fields.insert(
                k.to_string(),
                Field {
                    key: k.into(),
                    label: k.into(),
                    kind: FieldKind::String,
                },
            );
        }
        let schema = json!({"type": "object", "properties": {
            "id_number": {"type": "string", "format": "id_number", "x-sensitive": true},
            "district": {"type": "string"}
        }});
        let def = json!({"label": "l", "form": "f", "columns": [{"field": "id_number"}, {"field": "district"}], "filters": ["id_number", "district"]});
        let l = CompiledList::check_form(
            "l",
            serde_json::from_value(def.clone()).unwrap(),
            &fields,
            &schema,
            "lists/l.json",
        )
        .unwrap();
        assert!(l.is_sensitive("id_number") && !l.is_sensitive("district"));
        let q = l
            .parse_query(&pairs(&[("filter[id_number]", "ab12")]))
            .unwrap();
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let mut sql = Sql::new(dialect);
            l.push_filters(&q, &mut sql);
            assert_eq!(sql.text, " and (data->'id_number'->>'bi') = $1");
            assert!(l
                .index_expressions(dialect)
                .iter()
                .any(|e| e.contains("(data->'id_number'->>'bi')")));
        }
        assert!(l.parse_query(&pairs(&[("sort", "id_number")])).is_err());

        let mut bad = def;
        bad["sort"] = json!(["district", "-id_number"]);
        let errs = CompiledList::check_form(
            "l",
            serde_json::from_value(bad).unwrap(),
            &fields,
            &schema,
            "lists/l.json",
        )
        .unwrap_err();
        assert_eq!(errs[0].pointer, "/sort/1");
    }

    #[test]
    fn unknown_column_is_a_pack_error() {
        let def: ListDef = serde_json::from_value(
            json!({"label": "l", "form": "f", "columns": [{"field": "nope"}]}),
        )
        .unwrap();
        let errs = CompiledList::check("l", def, &BTreeMap::new(), "lists/l.json").unwrap_err();
        assert_eq!(errs[0].pointer, "/columns/0/field");
    }
}
