//! Lists: saved views over one form's records: columns, allowed filters, default sort.
//!
//! A request (`filter[district]=浦东新区&sort=-loss_amount&page=2`) is parsed against the
//! list definition into a [`ListQuery`]; only declared filters and sortable columns are
//! accepted, so a list never runs a query its indexes were not built for. A filter on a
//! sensitive field (`x-sensitive`) compares the field's blind index, never its value, and
//! such a field cannot be sorted.
//!
//! Filters take an operator after the field (`filter[requested_amount][gte]=5000`); which
//! operators a field takes follows from its kind (see [`Op`]), and every value is bound, never
//! written into the SQL text. `filter[org]` narrows to an org unit's subtree and is AND-ed
//! with the scope predicate, so it can only ever narrow what the user sees.
//!
//! A list may be grouped (`group`) by a field with few distinct values: the rows are ordered
//! by that field first, and one more query, over exactly the same `from … where` as the page,
//! counts the records of each group.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, PackError, Result};
use crate::form::{Field, FieldKind};
use crate::scope::Scope;
use crate::sensitive::sensitive_fields;
use crate::sql::{json_number_expr, json_scalar_text_expr, json_text_expr, Dialect, Sql};

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 500;

/// Columns every record has, usable in columns, filters and sort.
pub const SYSTEM_FIELDS: &[&str] = &["state", "created_at", "updated_at"];

/// The filter-only system field: the record's org unit and every unit below it.
pub const ORG_FILTER: &str = "org";

/// Most values one `filter[f][in]` may list.
pub const MAX_IN_VALUES: usize = 100;

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
    /// String fields the keyword search `q=` looks in (case-insensitive "contains").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    /// Default sort: field keys, `-` in front for descending. Default `["-created_at"]`.
    #[serde(default = "default_sort")]
    pub sort: Vec<String>,
    /// Field whose value groups the rows (a text, choice, whole-number, yes/no or date field,
    /// or `state`): rows are ordered by it first and each group is headed with its count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
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
    /// The `state` column.
    State,
    /// `created_at` / `updated_at`: stored as `%Y-%m-%dT%H:%M:%S%.6fZ` text.
    Time,
    Text,
    /// A string with `format: date` (`2026-10-08`): ISO text, compared in text order.
    Date,
    /// A string with `format: date-time`.
    DateTime,
    Number,
    Bool,
    /// Stored sealed: compared by blind index (`data->'f'->>'bi'`), never sorted.
    Sensitive,
    /// `filter[org]`: the `org_path` column, as a subtree.
    Org,
}

impl Kind {
    /// The operators a filter on this kind takes.
    fn allows(self, op: Op) -> bool {
        use Op::*;
        match self {
            Kind::State => matches!(op, Eq | In),
            Kind::Time | Kind::DateTime => matches!(op, Eq | Gt | Gte | Lt | Lte),
            Kind::Date | Kind::Number => matches!(op, Eq | In | Gt | Gte | Lt | Lte),
            Kind::Text => matches!(op, Eq | In | Contains),
            Kind::Bool | Kind::Sensitive | Kind::Org => op == Eq,
        }
    }
}

/// A filter's comparison: `filter[f]=v` is [`Op::Eq`], `filter[f][gte]=v` is [`Op::Gte`].
///
/// | kind | operators |
/// |---|---|
/// | string | `eq`, `in`, `contains` |
/// | date string (`format: date`), number | `eq`, `in`, `gt`, `gte`, `lt`, `lte` |
/// | date-time string, `created_at`, `updated_at` | `eq`, `gt`, `gte`, `lt`, `lte` |
/// | `state` | `eq`, `in` |
/// | boolean, sensitive, `org` | `eq` only |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal (`filter[f]=v`).
    Eq,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// One of a comma-separated list.
    In,
    /// Contains the text, ignoring letter case; `%` and `_` match themselves.
    Contains,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "in" => Op::In,
            "contains" => Op::Contains,
            _ => return None,
        })
    }

    fn sql(self) -> &'static str {
        match self {
            Op::Eq => " = ",
            Op::Gt => " > ",
            Op::Gte => " >= ",
            Op::Lt => " < ",
            Op::Lte => " <= ",
            Op::In => " in ",
            Op::Contains => " like ",
        }
    }
}

/// One filter of a request: `field op values` (one value except for [`Op::In`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// Field key.
    pub field: String,
    /// The comparison.
    pub op: Op,
    /// The values as checked; for a sensitive field the server swaps them for blind indexes.
    pub values: Vec<String>,
}

/// A list checked against its form.
#[derive(Debug, Clone)]
pub struct CompiledList {
    /// The list's key.
    pub key: String,
    /// Its definition.
    pub def: ListDef,
    kinds: BTreeMap<String, Kind>,
    /// The workflow's state keys in the order the workflow declares them: sorting or
    /// grouping by `state` follows this order (empty: by key).
    state_order: Vec<String>,
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
    /// Field filters, all AND-ed.
    pub filters: Vec<Filter>,
    /// `filter[org]` as asked (a unit code or path); the server replaces it with the unit's
    /// path before the query runs.
    pub org: Option<String>,
    /// The keyword of `q=`, searched in the list's `search` fields.
    pub search: Option<String>,
    /// Sort keys, most significant first.
    pub sort: Vec<SortKey>,
    /// 1-based page number.
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
    /// Search fields the reader does not see: the keyword is not looked for in them.
    pub unsearchable: Vec<String>,
    /// The field the rows are grouped by: the list's `group`, unless the server drops it for
    /// a reader who may not see that field.
    pub group: Option<String>,
}

impl CompiledList {
    /// Checks a list against the fields of its form; problems point into `file`. Without the
    /// schema every string is plain text (no date ranges, no sensitive fields): the server
    /// and pack check use [`CompiledList::check_form`].
    pub fn check(
        key: &str,
        def: ListDef,
        fields: &BTreeMap<String, Field>,
        file: &str,
    ) -> std::result::Result<Self, Vec<PackError>> {
        let mut errs = Vec::new();
        let mut kinds = BTreeMap::new();
        kinds.insert(ORG_FILTER.to_string(), Kind::Org);
        kinds.insert("state".to_string(), Kind::State);
        kinds.insert("created_at".to_string(), Kind::Time);
        kinds.insert("updated_at".to_string(), Kind::Time);
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
        for (i, f) in def.search.iter().enumerate() {
            if !fields.get(f).is_some_and(|f| f.kind == FieldKind::String) {
                errs.push(PackError::new(
                    file,
                    format!("/search/{i}"),
                    format!(
                        "`{f}` is not a string field of `{}`: keyword search looks only in text",
                        def.form
                    ),
                ));
            }
        }
        for (i, s) in def.sort.iter().enumerate() {
            let f = s.trim_start_matches('-');
            if !kinds.contains_key(f) || kinds.get(f) == Some(&Kind::Org) {
                errs.push(PackError::new(
                    file,
                    format!("/sort/{i}"),
                    format!("`{s}` is not a field of `{}` that can be sorted", def.form),
                ));
            }
        }
        if let Some(g) = &def.group {
            let groupable = match kinds.get(g) {
                Some(Kind::State | Kind::Text | Kind::Bool) => true,
                Some(Kind::Number) => fields.get(g).is_some_and(|f| f.kind == FieldKind::Integer),
                _ => false,
            };
            if !groupable {
                errs.push(PackError::new(
                    file,
                    "/group",
                    format!(
                        "`{g}` is not a field of `{}` that can group a list: use a text, choice, whole-number, yes/no or date field, or `state`",
                        def.form
                    ),
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
                state_order: Vec::new(),
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
        if let Some(g) = &def.group {
            let format = schema
                .pointer(&format!("/properties/{g}/format"))
                .and_then(serde_json::Value::as_str);
            if sensitive.contains(g) {
                errs.push(PackError::new(
                    file,
                    "/group",
                    format!("`{g}` is sensitive (x-sensitive): it is stored encrypted and cannot group a list"),
                ));
            } else if format == Some("date-time") {
                errs.push(PackError::new(
                    file,
                    "/group",
                    format!("`{g}` is a date-time, nearly one per record: it cannot group a list (a date field can)"),
                ));
            }
        }
        for (i, f) in def.search.iter().enumerate() {
            if sensitive.contains(f) {
                errs.push(PackError::new(
                    file,
                    format!("/search/{i}"),
                    format!("`{f}` is sensitive (x-sensitive): it is stored encrypted and cannot be searched"),
                ));
            }
        }
        match Self::check(key, def, fields, file) {
            Ok(mut list) if errs.is_empty() => {
                for (f, k) in list.kinds.iter_mut() {
                    if *k != Kind::Text {
                        continue;
                    }
                    match schema
                        .pointer(&format!("/properties/{f}/format"))
                        .and_then(serde_json::Value::as_str)
                    {
                        Some("date") => *k = Kind::Date,
                        Some("date-time") => *k = Kind::DateTime,
                        _ => {}
                    }
                }
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

    /// Fields a user may sort by: the columns, the group field (which orders the groups),
    /// plus the default sort keys; never a sensitive field, whose stored form sorts by nothing
    /// meaningful.
    fn sortable(&self, field: &str) -> bool {
        self.kinds
            .get(field)
            .is_some_and(|k| !matches!(k, Kind::Sensitive | Kind::Org))
            && (self.def.columns.iter().any(|c| c.field == field)
                || self.def.group.as_deref() == Some(field)
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
            org: None,
            search: None,
            sort: Vec::new(),
            page: 1,
            page_size: self.def.page_size,
            unsearchable: Vec::new(),
            group: self.def.group.clone(),
        };
        let mut sort_param = None;
        for (k, v) in pairs {
            if let Some(rest) = k.strip_prefix("filter[") {
                match self.parse_filter(k, rest, v) {
                    Ok(ParsedFilter::Org(unit)) => q.org = Some(unit),
                    Ok(ParsedFilter::Field(f)) => q.filters.push(f),
                    Err(e) => errs.push(e),
                }
            } else {
                match k.as_str() {
                    "sort" => sort_param = Some(v.clone()),
                    "q" if self.def.search.is_empty() => errs.push(bad(
                        k,
                        "此列表不支持关键字搜索".into(),
                        "this list has no keyword search".into(),
                    )),
                    "q" => {
                        let t = v.trim();
                        q.search = (!t.is_empty()).then(|| t.to_string());
                    }
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

    /// Parses one `filter[…]` parameter; `rest` is what follows `filter[`.
    fn parse_filter(
        &self,
        param: &str,
        rest: &str,
        value: &str,
    ) -> std::result::Result<ParsedFilter, FieldError> {
        let (field, op) = match rest.split_once(']') {
            Some((f, "")) => (f, Some(Op::Eq)),
            Some((f, tail)) => (
                f,
                tail.strip_prefix('[')
                    .and_then(|t| t.strip_suffix(']'))
                    .and_then(Op::parse),
            ),
            None => (rest, None),
        };
        let Some(op) = op else {
            return Err(bad(
                param,
                format!("未知的筛选方式「{param}」"),
                format!("`{param}` is not a filter: use filter[field] or filter[field][gt|gte|lt|lte|in|contains]"),
            ));
        };
        let kind = match self.kinds.get(field) {
            Some(k) if self.def.filters.iter().any(|f| f == field) => *k,
            _ => {
                return Err(bad(
                    param,
                    format!("不能按「{field}」筛选"),
                    format!("this list cannot be filtered by `{field}`"),
                ))
            }
        };
        if !kind.allows(op) {
            return Err(bad(
                param,
                format!("「{field}」不支持此筛选方式"),
                format!("`{field}` cannot be filtered with this operator"),
            ));
        }
        if kind == Kind::Org {
            return match value.trim() {
                "" => Err(bad(param, "请指定机构".into(), "name an org unit".into())),
                v => Ok(ParsedFilter::Org(v.to_string())),
            };
        }
        let values: Vec<String> = if op == Op::In {
            value
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect()
        } else {
            vec![value.to_string()]
        };
        if values.is_empty() || values.len() > MAX_IN_VALUES {
            return Err(bad(
                param,
                format!("应列出 1 到 {MAX_IN_VALUES} 个值"),
                format!("list 1 to {MAX_IN_VALUES} values"),
            ));
        }
        if op == Op::Contains && value.is_empty() {
            return Err(bad(
                param,
                "搜索内容不能为空".into(),
                "the text to look for is empty".into(),
            ));
        }
        for v in &values {
            check_value(kind, v).map_err(|(zh, en)| bad(param, zh, en))?;
        }
        Ok(ParsedFilter::Field(Filter {
            field: field.to_string(),
            op,
            values,
        }))
    }

    /// Appends ` and <filters>` for `q` to a statement whose `where` clause is already open:
    /// the field filters, `filter[org]` as an `org_path` subtree (never wider than the scope
    /// the statement already holds, as both must pass) and the keyword search.
    pub fn push_filters(&self, q: &ListQuery, sql: &mut Sql) {
        for f in &q.filters {
            let Some(kind) = self.kinds.get(&f.field).copied() else {
                continue;
            };
            sql.push(" and ");
            let expr = self.expr(&f.field, sql.dialect);
            match f.op {
                Op::In => {
                    sql.push(&expr).push(" in (");
                    for (i, v) in f.values.iter().enumerate() {
                        if i > 0 {
                            sql.push(", ");
                        }
                        bind_value(sql, kind, v);
                    }
                    sql.push(")");
                }
                Op::Contains => {
                    let v = f.values.first().map_or("", String::as_str);
                    push_contains(sql, &expr, v);
                }
                op => {
                    let v = f.values.first().map_or("", String::as_str);
                    push_compare(sql, kind, &expr, op, v);
                }
            }
        }
        if let Some(path) = &q.org {
            sql.push(" and ");
            Scope::OrgTree.predicate(sql, "", path);
        }
        if let Some(text) = &q.search {
            sql.push(" and (");
            let fields = self
                .def
                .search
                .iter()
                .filter(|f| !q.unsearchable.contains(f));
            let mut any = false;
            for f in fields {
                if any {
                    sql.push(" or ");
                }
                push_contains(sql, &json_text_expr(f), text);
                any = true;
            }
            if !any {
                sql.push("1 = 0");
            }
            sql.push(")");
        }
    }

    /// The list with its form's workflow states, in the workflow's order: rows sorted or
    /// grouped by `state` then come in the flow's order (草稿, 已提交, …, 已发放) rather than
    /// by state key.
    pub fn in_flow_order(mut self, states: impl IntoIterator<Item = String>) -> Self {
        self.state_order = states
            .into_iter()
            .filter(|s| crate::key::is_key(s))
            .collect();
        self
    }

    /// The SQL expression rows are ordered by for `field`: for `state` with known states,
    /// the state's position in the workflow (`case state when 'draft' then 0 … end`, the
    /// same text in both dialects, so an expression index matches it); otherwise what a
    /// filter compares.
    fn order_expr(&self, field: &str, dialect: Dialect) -> String {
        if self.kinds.get(field) == Some(&Kind::State) && !self.state_order.is_empty() {
            let mut e = String::from("(case state");
            for (i, s) in self.state_order.iter().enumerate() {
                e.push_str(&format!(" when '{s}' then {i}"));
            }
            e.push_str(&format!(" else {} end)", self.state_order.len()));
            return e;
        }
        self.expr(field, dialect)
    }

    /// The SQL expression a filter or sort on `field` compares.
    fn expr(&self, field: &str, dialect: Dialect) -> String {
        match self.kinds.get(field) {
            Some(Kind::State | Kind::Time) => field.to_string(),
            Some(Kind::Org) => "org_path".to_string(),
            Some(Kind::Number) => json_number_expr(dialect, field),
            Some(Kind::Sensitive) => blind_index_expr(field),
            _ => json_text_expr(field),
        }
    }

    /// The `order by` list for `q`, ending with the record id so pages never overlap. A
    /// grouped list is ordered by its group field first.
    pub fn order_by(&self, q: &ListQuery, dialect: Dialect) -> String {
        let mut parts: Vec<String> = self.group_order(q, dialect).into_iter().collect();
        parts.extend(q.sort.iter().map(|s| {
            let expr = self.order_expr(&s.field, dialect);
            format!("{expr} {}", if s.desc { "desc" } else { "asc" })
        }));
        parts.push("record_id desc".into());
        parts.join(", ")
    }

    /// `<group field> asc|desc nulls last`: groups in the field's order, reversed when the
    /// request sorts by the field descending, records without a value last.
    fn group_order(&self, q: &ListQuery, dialect: Dialect) -> Option<String> {
        let g = q.group.as_deref()?;
        let desc = q.sort.iter().any(|s| s.field == g && s.desc);
        let dir = if desc { "desc" } else { "asc" };
        Some(format!("{} {dir} nulls last", self.order_expr(g, dialect)))
    }

    /// The statement counting the records of each group of `q`, around `from_where`, the
    /// `from records where …` text of the list's own query (scope and filters, with its bound
    /// parameters): rows `g` (the value as [`CompiledList::group_key`] gives it, NULL for
    /// records without one) and `n`, in the order the groups come on the pages. None when `q`
    /// is not grouped.
    pub fn group_count_sql(
        &self,
        q: &ListQuery,
        dialect: Dialect,
        from_where: &str,
    ) -> Option<String> {
        let g = q.group.as_deref()?;
        let value = match self.kinds.get(g) {
            Some(Kind::State) => g.to_string(),
            _ => json_scalar_text_expr(dialect, g),
        };
        let order = self.group_order(q, dialect)?;
        let expr = self.order_expr(g, dialect);
        Some(format!(
            "select {value} as g, count(*) as n{from_where} group by {value}, {expr} order by {order}"
        ))
    }

    /// The value a record groups under by `field`: the state key, or the field's value as text
    /// (`浦东新区`, `3`, `true`); None when the record has none.
    pub fn group_key(field: &str, state: &str, data: &serde_json::Value) -> Option<String> {
        use serde_json::Value;
        if field == "state" {
            return Some(state.to_string());
        }
        match data.get(field)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// Expressions worth an index for this list: each filter, the group field and the first
    /// sort key, each led by `tenant_id, form_key` as every list query is, and ending with
    /// `org_path` so the data scope is checked inside the index. Ranges and `in` use the same indexes as equality.
    /// `filter[org]` needs none of its own (the scope's `org_path` already ends each one), and
    /// the keyword search and `contains` get none: `like '%text%'` cannot use a B-tree index.
    pub fn index_expressions(&self, dialect: Dialect) -> Vec<String> {
        let expr = |f: &str| self.expr(f, dialect);
        let lead_sort = self.def.sort.first().map(|s| {
            let f = s.trim_start_matches('-');
            self.order_expr(f, dialect)
        });
        let mut out = Vec::new();
        let group = self.def.group.iter().map(|g| self.order_expr(g, dialect));
        for e in self
            .def
            .filters
            .iter()
            .filter(|f| self.kinds.get(f.as_str()) != Some(&Kind::Org))
            .map(|f| expr(f))
            .chain(group)
        {
            let mut cols = vec!["tenant_id".to_string(), "form_key".to_string(), e];
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

/// What one `filter[…]` parameter asks for.
enum ParsedFilter {
    Field(Filter),
    Org(String),
}

/// Checks one filter value against the kind: numbers parse, booleans are `true`/`false`,
/// dates are ISO dates, date-times ISO date-times or dates.
fn check_value(kind: Kind, v: &str) -> std::result::Result<(), (String, String)> {
    let ok = match kind {
        Kind::Number => v.trim().parse::<f64>().is_ok_and(f64::is_finite),
        Kind::Bool => matches!(v, "true" | "false"),
        Kind::Date => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok(),
        Kind::Time | Kind::DateTime => {
            chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok()
                || chrono::DateTime::parse_from_rfc3339(v).is_ok()
        }
        _ => true,
    };
    if ok {
        return Ok(());
    }
    Err(match kind {
        Kind::Number => (format!("「{v}」不是数字"), format!("`{v}` is not a number")),
        Kind::Bool => (
            format!("「{v}」应为 true 或 false"),
            format!("`{v}` must be true or false"),
        ),
        Kind::Date => (
            format!("「{v}」不是日期（如 2026-10-08）"),
            format!("`{v}` is not a date like 2026-10-08"),
        ),
        _ => (
            format!("「{v}」不是日期或时间（如 2026-10-08 或 2026-10-08T09:30:00+08:00）"),
            format!("`{v}` is not a date or a date-time like 2026-10-08T09:30:00+08:00"),
        ),
    })
}

/// Binds one checked value as `kind` compares it. `created_at`/`updated_at` values are
/// written the way the store writes times, so text order is time order.
fn bind_value(sql: &mut Sql, kind: Kind, v: &str) {
    match kind {
        Kind::Number => {
            let n = v.trim().parse::<f64>().unwrap_or(f64::NAN);
            sql.bind_number(n);
        }
        Kind::Bool => {
            sql.bind_bool(v == "true");
        }
        Kind::Time => {
            sql.bind_text(stored_time(v));
        }
        _ => {
            sql.bind_text(v);
        }
    }
}

/// A checked date-time value as the store writes times (`%Y-%m-%dT%H:%M:%S%.6fZ`); a bare
/// date stays a date, which sorts before every time of that day.
fn stored_time(v: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(v) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string(),
        Err(_) => v.to_string(),
    }
}

/// `expr op $n`. On a date-time column a bare date means the whole day: `eq` is the day,
/// `lte` runs to its end, `gt` starts after it.
fn push_compare(sql: &mut Sql, kind: Kind, expr: &str, op: Op, v: &str) {
    let next_day = match kind {
        Kind::Time | Kind::DateTime => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.succ_opt())
            .map(|d| d.format("%Y-%m-%d").to_string()),
        _ => None,
    };
    match (op, next_day) {
        (Op::Eq, Some(next)) => {
            sql.push("(").push(expr).push(" >= ").bind_text(v);
            sql.push(" and ").push(expr).push(" < ").bind_text(next);
            sql.push(")");
        }
        (Op::Lte, Some(next)) => {
            sql.push(expr).push(" < ").bind_text(next);
        }
        (Op::Gt, Some(next)) => {
            sql.push(expr).push(" >= ").bind_text(next);
        }
        (op, _) => {
            sql.push(expr).push(op.sql());
            bind_value(sql, kind, v);
        }
    }
}

/// `lower(expr) like lower($n) escape '\'` with `%`, `_` and `\` in the text escaped, so the
/// text matches literally, anywhere in the value, ignoring letter case; the same in both
/// dialects.
fn push_contains(sql: &mut Sql, expr: &str, text: &str) {
    sql.push("lower(").push(expr).push(") like lower(");
    sql.bind_text(contains_pattern(text));
    sql.push(") escape '\\'");
}

/// `%text%` with the text's own `%`, `_` and `\` escaped by `\`.
fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
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

    fn fields_of(spec: &[(&str, FieldKind)]) -> BTreeMap<String, Field> {
        spec.iter()
            .map(|(k, kind)| {
                let f = Field {
                    key: k.to_string(),
                    label: k.to_string(),
                    kind: *kind,
                };
                (k.to_string(), f)
            })
            .collect()
    }

    /// A fire-relief-like list with a date, a date-time, a sensitive field and a search.
    fn operators_list() -> CompiledList {
        let fields = fields_of(&[
            ("applicant_name", FieldKind::String),
            ("address", FieldKind::String),
            ("fire_date", FieldKind::String),
            ("reviewed_at", FieldKind::String),
            ("id_number", FieldKind::String),
            ("amount", FieldKind::Number),
            ("urgent", FieldKind::Boolean),
        ]);
        let schema = json!({"type": "object", "properties": {
            "fire_date": {"type": "string", "format": "date"},
            "reviewed_at": {"type": "string", "format": "date-time"},
            "id_number": {"type": "string", "x-sensitive": true},
        }});
        let def = json!({"label": "l", "form": "f", "columns": [{"field": "applicant_name"}],
            "filters": ["applicant_name", "fire_date", "reviewed_at", "id_number", "amount", "urgent",
                        "state", "created_at", "updated_at", "org"],
            "search": ["applicant_name", "address"]});
        CompiledList::check_form(
            "l",
            serde_json::from_value(def).unwrap(),
            &fields,
            &schema,
            "lists/l.json",
        )
        .unwrap()
    }

    fn compile(l: &CompiledList, p: &[(&str, &str)], dialect: Dialect) -> Sql {
        let q = l.parse_query(&pairs(p)).unwrap();
        let mut sql = Sql::new(dialect);
        l.push_filters(&q, &mut sql);
        sql
    }

    #[test]
    fn range_in_and_contains_compile_to_bound_sql_on_both_dialects() {
        let l = operators_list();
        let p = [
            ("filter[amount][gte]", "5000"),
            ("filter[amount][lt]", "20000.5"),
            ("filter[fire_date][gte]", "2026-10-01"),
            ("filter[fire_date][lte]", "2026-10-31"),
            ("filter[state][in]", "submitted, district_approved"),
            ("filter[applicant_name][contains]", "50%_a\\b"),
        ];
        let pg = compile(&l, &p, Dialect::Postgres);
        assert_eq!(
            pg.text,
            [
                " and ((data->>'amount')::numeric) >= cast($1 as numeric)",
                " and ((data->>'amount')::numeric) < cast($2 as numeric)",
                " and (data->>'fire_date') >= $3 and (data->>'fire_date') <= $4",
                " and state in ($5, $6)",
                " and lower((data->>'applicant_name')) like lower($7) escape '\\'",
            ]
            .concat()
        );
        assert_eq!(pg.params[6], SqlValue::Text("%50\\%\\_a\\\\b%".into()));
        let lite = compile(&l, &p, Dialect::Sqlite);
        assert!(lite
            .text
            .starts_with(" and (data->>'amount') >= $1 and (data->>'amount') < $2"));
        assert_eq!(
            &lite.params[..2],
            [SqlValue::Float(5000.0), SqlValue::Float(20000.5)]
        );
        assert_eq!(lite.params[4], SqlValue::Text("submitted".into()));
        assert_eq!(lite.params[5], SqlValue::Text("district_approved".into()));
    }

    #[test]
    fn a_bare_date_on_a_time_column_means_the_whole_day() {
        let l = operators_list();
        let sql = compile(
            &l,
            &[
                ("filter[created_at]", "2026-10-08"),
                ("filter[created_at][lte]", "2026-10-31"),
                ("filter[updated_at][gte]", "2026-10-08T09:30:00+08:00"),
            ],
            Dialect::Sqlite,
        );
        assert_eq!(
            sql.text,
            " and (created_at >= $1 and created_at < $2) and created_at < $3 and updated_at >= $4"
        );
        assert_eq!(
            sql.params,
            [
                SqlValue::Text("2026-10-08".into()),
                SqlValue::Text("2026-10-09".into()),
                SqlValue::Text("2026-11-01".into()),
                SqlValue::Text("2026-10-08T01:30:00.000000Z".into()),
            ]
        );
        let dt = compile(
            &l,
            &[("filter[reviewed_at][gt]", "2026-10-08")],
            Dialect::Postgres,
        );
        assert_eq!(dt.text, " and (data->>'reviewed_at') >= $1");
        assert_eq!(dt.params, [SqlValue::Text("2026-10-09".into())]);
    }

    #[test]
    fn org_filter_and_keyword_search_are_anded_after_the_scope() {
        let l = operators_list();
        let mut q = l
            .parse_query(&pairs(&[("filter[org]", "pudong"), ("q", " 花木 ")]))
            .unwrap();
        assert_eq!(q.org.as_deref(), Some("pudong"));
        q.org = Some("/shrc/pudong/".into());
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let mut sql = Sql::new(dialect);
            Scope::Org.predicate(&mut sql, "u", "/shrc/huangpu/");
            l.push_filters(&q, &mut sql);
            assert_eq!(
                sql.text,
                "org_path = $1 and (org_path >= $2 and org_path < $3) and \
                 (lower((data->>'applicant_name')) like lower($4) escape '\\' or \
                 lower((data->>'address')) like lower($5) escape '\\')"
            );
            assert_eq!(sql.params[3], SqlValue::Text("%花木%".into()));
        }
        // Neither org nor the search needs an index of its own.
        assert!(l
            .index_expressions(Dialect::Postgres)
            .iter()
            .all(|e| !e.contains("like") && !e.contains("org_path, org_path")));
    }

    #[test]
    fn operators_that_do_not_fit_the_kind_and_bad_values_are_refused() {
        let l = operators_list();
        let Err(Error::Invalid(errs)) = l.parse_query(&pairs(&[
            ("filter[urgent][gte]", "true"),
            ("filter[id_number][contains]", "1101"),
            ("filter[amount][contains]", "5"),
            ("filter[state][gt]", "a"),
            ("filter[amount][gte]", "lots"),
            ("filter[fire_date][lt]", "10/08/2026"),
            ("filter[created_at][gte]", "yesterday"),
            ("filter[fire_date][between]", "x"),
            ("filter[nope]", "x"),
            ("filter[amount][in]", ","),
            ("filter[applicant_name][contains]", ""),
            ("filter[org][in]", "a,b"),
        ])) else {
            panic!("expected errors");
        };
        let ptrs: Vec<_> = errs.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            ptrs,
            [
                "/query/filter[urgent][gte]",
                "/query/filter[id_number][contains]",
                "/query/filter[amount][contains]",
                "/query/filter[state][gt]",
                "/query/filter[amount][gte]",
                "/query/filter[fire_date][lt]",
                "/query/filter[created_at][gte]",
                "/query/filter[fire_date][between]",
                "/query/filter[nope]",
                "/query/filter[amount][in]",
                "/query/filter[applicant_name][contains]",
                "/query/filter[org][in]",
            ]
        );
        // A list without `search` refuses `q`.
        assert!(list().parse_query(&pairs(&[("q", "x")])).is_err());
    }

    #[test]
    fn search_names_only_plain_string_fields() {
        let fields = fields_of(&[("name", FieldKind::String), ("n", FieldKind::Number)]);
        let schema = json!({"type": "object", "properties": {"name": {"type": "string", "x-sensitive": true}}});
        let def = json!({"label": "l", "form": "f", "columns": [{"field": "n"}], "search": ["n", "name", "state"]});
        let errs = CompiledList::check_form(
            "l",
            serde_json::from_value(def).unwrap(),
            &fields,
            &schema,
            "lists/l.json",
        )
        .unwrap_err();
        let ptrs: Vec<_> = errs.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(ptrs, ["/search/0", "/search/2", "/search/1"]);
    }

    /// A fire-relief-like form with one field of every kind a group might name.
    fn group_fields() -> (BTreeMap<String, Field>, serde_json::Value) {
        let fields = fields_of(&[
            ("district", FieldKind::String),
            ("household_size", FieldKind::Integer),
            ("promise", FieldKind::Boolean),
            ("fire_date", FieldKind::String),
            ("submitted_at", FieldKind::String),
            ("id_number", FieldKind::String),
            ("loss_amount", FieldKind::Number),
            ("members", FieldKind::Array),
        ]);
        let schema = json!({"type": "object", "properties": {
            "district": {"type": "string", "enum": ["黄浦区", "浦东新区"]},
            "fire_date": {"type": "string", "format": "date"},
            "submitted_at": {"type": "string", "format": "date-time"},
            "id_number": {"type": "string", "x-sensitive": true},
        }});
        (fields, schema)
    }

    fn grouped(group: &str) -> std::result::Result<CompiledList, Vec<PackError>> {
        let (fields, schema) = group_fields();
        let def = json!({"label": "l", "form": "f", "columns": [{"field": "district"}],
            "filters": ["district", "state"], "sort": ["-created_at"], "group": group});
        CompiledList::check_form(
            "l",
            serde_json::from_value(def).unwrap(),
            &fields,
            &schema,
            "lists/l.json",
        )
    }

    #[test]
    fn group_takes_text_choice_whole_number_yes_no_date_and_state() {
        for g in [
            "district",
            "household_size",
            "promise",
            "fire_date",
            "state",
        ] {
            assert!(grouped(g).is_ok(), "`{g}` groups a list");
        }
    }

    #[test]
    fn group_on_a_field_that_cannot_group_is_a_pack_error_at_group() {
        for (g, why) in [
            ("nope", "is not a field of `f` that can group a list"),
            ("members", "is not a field of `f` that can group a list"),
            ("loss_amount", "is not a field of `f` that can group a list"),
            ("created_at", "is not a field of `f` that can group a list"),
            ("org", "is not a field of `f` that can group a list"),
            ("id_number", "is sensitive (x-sensitive)"),
            ("submitted_at", "is a date-time"),
        ] {
            let errs = grouped(g).unwrap_err();
            assert_eq!(errs.len(), 1, "{g}: {errs:?}");
            assert_eq!(
                (errs[0].file.as_str(), errs[0].pointer.as_str()),
                ("lists/l.json", "/group")
            );
            assert!(errs[0].reason.contains(why), "{g}: {}", errs[0].reason);
        }
    }

    #[test]
    fn a_grouped_list_orders_by_the_group_first_and_counts_over_the_same_filters() {
        let l = grouped("household_size").unwrap();
        let q = l
            .parse_query(&pairs(&[("filter[district]", "浦东新区")]))
            .unwrap();
        assert_eq!(q.group.as_deref(), Some("household_size"));
        assert_eq!(
            l.order_by(&q, Dialect::Postgres),
            "((data->>'household_size')::numeric) asc nulls last, created_at desc, record_id desc"
        );
        let mut from = Sql::new(Dialect::Postgres);
        from.push(" from records where tenant_id = ").bind_text("t");
        l.push_filters(&q, &mut from);
        assert_eq!(
            l.group_count_sql(&q, Dialect::Postgres, &from.text).unwrap(),
            "select (data->>'household_size') as g, count(*) as n from records where tenant_id = $1 \
             and (data->>'district') = $2 group by (data->>'household_size'), \
             ((data->>'household_size')::numeric) order by ((data->>'household_size')::numeric) asc nulls last"
        );
        // On SQLite numbers and booleans come back as the text serde_json writes.
        let lite = l
            .group_count_sql(&q, Dialect::Sqlite, " from records")
            .unwrap();
        assert!(
            lite.starts_with("select (case json_type(data, '$.household_size')"),
            "{lite}"
        );

        // Sorting by the group field descending reverses the groups; an ungrouped query
        // counts nothing.
        let q = l
            .parse_query(&pairs(&[("sort", "-household_size")]))
            .unwrap();
        assert!(l.order_by(&q, Dialect::Sqlite).starts_with(
            "(data->>'household_size') desc nulls last, (data->>'household_size') desc"
        ));
        let plain = list();
        let q = plain.parse_query(&[]).unwrap();
        assert!(plain.group_count_sql(&q, Dialect::Sqlite, "").is_none());
        assert!(!plain.order_by(&q, Dialect::Sqlite).contains("nulls"));
    }

    #[test]
    fn groups_by_state_follow_the_workflow_order_and_the_index_matches() {
        let states = [
            "draft",
            "submitted",
            "city_approved",
            "allocated",
            "refused",
        ];
        let l = grouped("state")
            .unwrap()
            .in_flow_order(states.iter().map(|s| s.to_string()));
        let q = l.parse_query(&[]).unwrap();
        let case = "(case state when 'draft' then 0 when 'submitted' then 1 \
                    when 'city_approved' then 2 when 'allocated' then 3 when 'refused' then 4 else 5 end)";
        assert_eq!(
            l.order_by(&q, Dialect::Sqlite),
            format!("{case} asc nulls last, created_at desc, record_id desc")
        );
        let count = l
            .group_count_sql(&q, Dialect::Postgres, " from records")
            .unwrap();
        assert_eq!(
            count,
            format!("select state as g, count(*) as n from records group by state, {case} order by {case} asc nulls last")
        );
        // The same expression is indexed, so the grouped page reads the index in order; the
        // state filter keeps its plain index.
        let idx = l.index_expressions(Dialect::Sqlite);
        assert!(
            idx.contains(&format!(
                "tenant_id, form_key, {case}, created_at, org_path"
            )),
            "{idx:?}"
        );
        assert!(
            idx.contains(&"tenant_id, form_key, state, created_at, org_path".to_string()),
            "{idx:?}"
        );
        // Sorting by state descending reverses the flow.
        let q = l.parse_query(&pairs(&[("sort", "-state")])).unwrap();
        assert!(l
            .order_by(&q, Dialect::Postgres)
            .starts_with(&format!("{case} desc nulls last, {case} desc")));
    }

    #[test]
    fn the_group_field_is_indexed_and_each_record_has_its_group_key() {
        let l = grouped("state").unwrap();
        assert!(l
            .index_expressions(Dialect::Postgres)
            .contains(&"tenant_id, form_key, state, created_at, org_path".to_string()));
        let data =
            json!({"district": "浦东新区", "household_size": 3, "promise": true, "members": []});
        let key = |f: &str| CompiledList::group_key(f, "submitted", &data);
        assert_eq!(key("state").as_deref(), Some("submitted"));
        assert_eq!(key("district").as_deref(), Some("浦东新区"));
        assert_eq!(key("household_size").as_deref(), Some("3"));
        assert_eq!(key("promise").as_deref(), Some("true"));
        assert_eq!(key("fire_date"), None);
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
