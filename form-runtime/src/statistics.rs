//! Statistics: one form's records grouped by one or two dimensions, with counts and sums.
//!
//! A definition (`statistics/<key>.json`) compiles to one `group by` query whose rows are
//! *partial* aggregates (count, sum, count of values, min, max); [`CompiledStatistic::tabulate`]
//! merges them into cells and totals. Merging in Rust is what lets an org-unit dimension cut
//! the materialised path to a depth without dialect-specific string functions, and lets the
//! totals come from the same rows as the cells, so they always agree.
//!
//! A sensitive field (`x-sensitive`) is stored sealed: SQL cannot read it, so it can be neither
//! a dimension nor a measure; count the records instead, or group by a non-sensitive computed
//! field (an age band over `applicant_age` rather than over the sealed ID number).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::PackError;
use crate::form::{Field, FieldKind};
use crate::list::{CompiledList, ListDef};
use crate::sensitive::sensitive_fields;
use crate::sql::{json_number_expr, json_text_expr, Dialect};

/// Most dimensions a statistic may have: a cross table, not a cube.
pub const MAX_DIMENSIONS: usize = 2;

/// Most bands an age or number band dimension may have.
pub const MAX_BANDS: usize = 20;

/// A statistics file (`statistics/<key>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatisticDef {
    /// Title of the statistic.
    pub label: String,
    /// Key of the form whose records it counts.
    pub form: String,
    /// One or two ways to group the records.
    pub dimensions: Vec<DimensionDef>,
    /// What each cell shows.
    pub measures: Vec<MeasureDef>,
    /// Fields a user may narrow the records by with `filter[field]=value`, as on a list.
    #[serde(default)]
    pub filters: Vec<String>,
}

/// One dimension: `{"field": "district"}`, `{"by": "state"}`, `{"by": "org", "level": 2}`,
/// `{"field": "fire_date", "by": "month"}`, `{"field": "applicant_age", "by": "band",
/// "bands": [18, 35, 60]}` or `{"field": "id_number", "by": "age_band", "bands": [...]}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DimensionDef {
    /// The field grouped by (not for `state` and `org`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// How: `state`, `org`, `year`, `month`, `band`, `age_band`; absent = the field's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// For `org`: depth of the org path kept (1 = the root unit, 2 = units under it, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<usize>,
    /// For `band` and `age_band`: increasing lower bounds of the bands after the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bands: Option<Vec<i64>>,
    /// Column heading; defaults to the field's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// An aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Number of records.
    Count,
    /// Sum of a number field.
    Sum,
    /// Average of a number field over the records that have it.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
}

/// One measure: `{"op": "sum", "field": "requested_amount"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureDef {
    /// The aggregate.
    pub op: Op,
    /// The number field (not for `count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Column heading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A dimension checked against the form.
#[derive(Debug, Clone, PartialEq)]
pub enum Dimension {
    /// A string or whole-number field's value.
    Field(String),
    /// The workflow state.
    State,
    /// The org unit path cut to `level` units.
    Org(usize),
    /// The first 4 (year) or 7 (month) characters of an ISO date field.
    Date {
        /// Field key.
        field: String,
        /// Month rather than year.
        month: bool,
    },
    /// A whole-number field in bands.
    Band {
        /// Field key.
        field: String,
        /// Lower bounds of the bands after the first.
        bands: Vec<i64>,
    },
    /// Age in years from characters 7-14 (birth date) of an ID number field, in bands.
    AgeBand {
        /// Field key.
        field: String,
        /// Lower bounds of the bands after the first.
        bands: Vec<i64>,
    },
}

/// A statistic checked against its form.
#[derive(Debug, Clone)]
pub struct CompiledStatistic {
    /// The statistic's key.
    pub key: String,
    /// Its definition.
    pub def: StatisticDef,
    /// Its dimensions.
    pub dimensions: Vec<Dimension>,
    /// The filters, checked and compiled as a list's are (no columns, no sort).
    pub filters: CompiledList,
}

/// One group as the query returns it: the key of each dimension and the partial aggregates.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    /// One key per dimension (band keys are the band's index).
    pub keys: Vec<Option<String>>,
    /// One partial per measure.
    pub partials: Vec<Partial>,
}

/// What the query reads for one measure of one group; partials of groups merge.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Partial {
    /// Rows (count) or rows with a value (the others).
    pub n: i64,
    /// Sum of the values.
    pub sum: Option<f64>,
    /// Smallest value.
    pub min: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
}

impl Partial {
    fn merge(&mut self, o: &Partial) {
        self.n += o.n;
        self.sum = add(self.sum, o.sum, |a, b| a + b);
        self.min = add(self.min, o.min, f64::min);
        self.max = add(self.max, o.max, f64::max);
    }

    fn value(&self, op: Op) -> Value {
        let n = |v: Option<f64>| v.map_or(Value::Null, number);
        match op {
            Op::Count => Value::from(self.n),
            Op::Sum => number(self.sum.unwrap_or(0.0)),
            Op::Avg if self.n > 0 => n(self.sum.map(|s| s / self.n as f64)),
            Op::Avg => Value::Null,
            Op::Min => n(self.min),
            Op::Max => n(self.max),
        }
    }
}

fn add(a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// A whole number as an integer, so counts of money read `1200`, not `1200.0`.
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

/// One cell row of the result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableRow {
    /// The dimension keys (null: records without a value).
    pub keys: Vec<Option<String>>,
    /// Human labels of the keys; the server replaces state and org keys with names.
    pub labels: Vec<String>,
    /// One value per measure.
    pub values: Vec<Value>,
    /// List filters selecting exactly this row's records, as `(parameter, value)` pairs, or
    /// None when a key cannot be written as a list filter (a record without a value, an
    /// age band).
    #[serde(skip)]
    pub drill: Option<Vec<(String, String)>>,
}

/// The merged result.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Rows ordered by their keys.
    pub rows: Vec<TableRow>,
    /// One value per measure over every counted record.
    pub totals: Vec<Value>,
}

impl CompiledStatistic {
    /// Checks a statistic against its form's fields and schema; problems point into `file`.
    pub fn check(
        key: &str,
        def: StatisticDef,
        fields: &BTreeMap<String, Field>,
        schema: &Value,
        file: &str,
    ) -> Result<Self, Vec<PackError>> {
        let mut errs = Vec::new();
        let sensitive: Vec<String> = sensitive_fields(schema)
            .iter()
            .filter_map(|p| p.top_level().map(str::to_string))
            .collect();
        let is_sensitive = |f: &str| sensitive.iter().any(|s| s == f);
        let format_of = |f: &str| {
            schema
                .get("properties")
                .and_then(|p| p.get(f))
                .and_then(|p| p.get("format"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        if def.dimensions.is_empty() || def.dimensions.len() > MAX_DIMENSIONS {
            errs.push(PackError::new(
                file,
                "/dimensions",
                format!("a statistic has 1 to {MAX_DIMENSIONS} dimensions"),
            ));
        }
        if def.measures.is_empty() {
            errs.push(PackError::new(
                file,
                "/measures",
                "a statistic needs at least one measure",
            ));
        }
        let mut dims = Vec::new();
        for (i, d) in def.dimensions.iter().enumerate() {
            let ptr = format!("/dimensions/{i}");
            let mut err =
                |p: &str, m: String| errs.push(PackError::new(file, format!("{ptr}{p}"), m));
            let field = match d.field.as_deref() {
                Some(f) => match fields.get(f) {
                    Some(_) if is_sensitive(f) && d.by.as_deref() == Some("age_band") => {
                        err("/field", format!("`{f}` is sensitive (x-sensitive): it is stored encrypted, so no age can be read from it in SQL; band a non-sensitive computed age field instead (`{{\"field\": \"applicant_age\", \"by\": \"band\", ...}}`)"));
                        None
                    }
                    Some(_) if is_sensitive(f) => {
                        err("/field", format!("`{f}` is sensitive (x-sensitive): it is stored encrypted and cannot be grouped by"));
                        None
                    }
                    Some(fd) => Some(fd),
                    None => {
                        err("/field", format!("form `{}` has no field `{f}`", def.form));
                        None
                    }
                },
                None => None,
            };
            let bands = |err: &mut dyn FnMut(&str, String)| match &d.bands {
                Some(b)
                    if !b.is_empty()
                        && b.len() <= MAX_BANDS
                        && b.windows(2).all(|w| w[0] < w[1]) =>
                {
                    Some(b.clone())
                }
                _ => {
                    err(
                        "/bands",
                        format!("bands must be 1 to {MAX_BANDS} increasing whole numbers"),
                    );
                    None
                }
            };
            let dim = match (d.by.as_deref(), d.field.as_deref()) {
                (Some("state"), None) => Some(Dimension::State),
                (Some("org"), None) => match d.level {
                    Some(l) if l >= 1 => Some(Dimension::Org(l)),
                    _ => {
                        err("/level", "an org dimension needs a level of 1 or more".into());
                        None
                    }
                },
                (Some("state" | "org"), Some(_)) => {
                    err("/field", "`state` and `org` dimensions take no field".into());
                    None
                }
                (None | Some("year" | "month" | "band" | "age_band"), None) => {
                    err("/field", "this dimension needs a field".into());
                    None
                }
                (None, Some(f)) => field.and_then(|fd| match fd.kind {
                    FieldKind::String | FieldKind::Integer => Some(Dimension::Field(f.into())),
                    _ => {
                        err("/field", format!("`{f}` is not a text or whole-number field; only those can be grouped by value"));
                        None
                    }
                }),
                (Some(by @ ("year" | "month")), Some(f)) => field.and_then(|fd| {
                    if fd.kind == FieldKind::String && matches!(format_of(f).as_str(), "date" | "date-time") {
                        Some(Dimension::Date { field: f.into(), month: by == "month" })
                    } else {
                        err("/field", format!("`{f}` is not a date field (format date or date-time)"));
                        None
                    }
                }),
                (Some("band"), Some(f)) => field.and_then(|fd| {
                    if fd.kind == FieldKind::Integer {
                        bands(&mut err).map(|bands| Dimension::Band { field: f.into(), bands })
                    } else {
                        err("/field", format!("`{f}` is not a whole-number field"));
                        None
                    }
                }),
                (Some("age_band"), Some(f)) => field.and_then(|fd| {
                    if fd.kind == FieldKind::String {
                        bands(&mut err).map(|bands| Dimension::AgeBand { field: f.into(), bands })
                    } else {
                        err("/field", format!("`{f}` is not a text field holding an ID number"));
                        None
                    }
                }),
                (Some(other), _) => {
                    err("/by", format!("unknown dimension `{other}`; one of state, org, year, month, band, age_band"));
                    None
                }
            };
            if d.level.is_some() && d.by.as_deref() != Some("org") {
                errs.push(PackError::new(
                    file,
                    format!("{ptr}/level"),
                    "only an org dimension takes a level",
                ));
            }
            if d.bands.is_some() && !matches!(d.by.as_deref(), Some("band" | "age_band")) {
                errs.push(PackError::new(
                    file,
                    format!("{ptr}/bands"),
                    "only a band or age_band dimension takes bands",
                ));
            }
            dims.extend(dim);
        }
        for (i, m) in def.measures.iter().enumerate() {
            let ptr = format!("/measures/{i}/field");
            match (m.op, m.field.as_deref()) {
                (Op::Count, None) => {}
                (Op::Count, Some(_)) => errs.push(PackError::new(file, ptr, "count counts records and takes no field")),
                (_, None) => errs.push(PackError::new(file, ptr, "this measure needs a number field")),
                (_, Some(f)) if is_sensitive(f) => errs.push(PackError::new(
                    file,
                    ptr,
                    format!("`{f}` is sensitive (x-sensitive): it is stored encrypted and only records can be counted"),
                )),
                (_, Some(f)) => match fields.get(f) {
                    None => errs.push(PackError::new(file, ptr, format!("form `{}` has no field `{f}`", def.form))),
                    Some(fd) if !fd.kind.is_numeric() => errs.push(PackError::new(
                        file,
                        ptr,
                        format!("`{f}` is not a number field and cannot be summed or averaged"),
                    )),
                    Some(_) => {}
                },
            }
        }
        // Built through serde so fields the list language gains keep their defaults.
        let list: Option<ListDef> = serde_json::from_value(serde_json::json!({
            "label": def.label, "form": def.form, "columns": [], "filters": def.filters,
        }))
        .map_err(|e| errs.push(PackError::new(file, "/filters", e.to_string())))
        .ok();
        let filters = match list.map(|l| CompiledList::check_form(key, l, fields, schema, file)) {
            Some(Ok(l)) => Some(l),
            Some(Err(e)) => {
                errs.extend(e);
                None
            }
            None => None,
        };
        match filters {
            Some(filters) if errs.is_empty() => Ok(CompiledStatistic {
                key: key.to_string(),
                def,
                dimensions: dims,
                filters,
            }),
            _ => Err(errs),
        }
    }

    /// The select list: `d0, d1` for the dimension keys, then `m{i}_n`, `m{i}_sum`,
    /// `m{i}_min`, `m{i}_max` for each measure. `today` (year, month, day) dates age bands.
    /// Only checked keys and numbers from the pack are written into the text.
    pub fn select_list(&self, dialect: Dialect, today: (i32, u32, u32)) -> String {
        let mut parts: Vec<String> = self
            .dimension_exprs(dialect, today)
            .into_iter()
            .enumerate()
            .map(|(i, e)| format!("{e} as d{i}"))
            .collect();
        let real = match dialect {
            Dialect::Sqlite => "real",
            Dialect::Postgres => "double precision",
        };
        for (i, m) in self.def.measures.iter().enumerate() {
            match m.field.as_deref() {
                None => parts.push(format!("count(*) as m{i}_n")),
                Some(f) => {
                    let x = json_number_expr(dialect, f);
                    parts.push(format!("count({x}) as m{i}_n"));
                    for agg in ["sum", "min", "max"] {
                        parts.push(format!("cast({agg}({x}) as {real}) as m{i}_{agg}"));
                    }
                }
            }
        }
        parts.join(", ")
    }

    /// The `group by` list: the dimension positions.
    pub fn group_by(&self) -> String {
        (1..=self.dimensions.len())
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether measure `i` reads a field (and so has sum, min and max columns).
    pub fn measure_has_field(&self, i: usize) -> bool {
        self.def.measures.get(i).is_some_and(|m| m.field.is_some())
    }

    /// One text expression per dimension.
    fn dimension_exprs(&self, dialect: Dialect, today: (i32, u32, u32)) -> Vec<String> {
        self.dimensions
            .iter()
            .map(|d| match d {
                Dimension::Field(f) => format!("cast({} as text)", json_text_expr(f)),
                Dimension::State => "state".into(),
                // Cut in `tabulate`: org paths are few, and cutting in SQL is not portable.
                Dimension::Org(_) => "org_path".into(),
                Dimension::Date { field, month } => {
                    format!("substr({}, 1, {})", json_text_expr(field), if *month { 7 } else { 4 })
                }
                Dimension::Band { field, bands } => band_case(&json_number_expr(dialect, field), bands),
                Dimension::AgeBand { field, bands } => {
                    let id = json_text_expr(field);
                    let (y, m, d) = today;
                    // Age = years since the birth year, less one before this year's birthday;
                    // birth date = characters 7-14 (YYYYMMDD) of the 18-character number.
                    let age = format!(
                        "({y} - cast(substr({id}, 7, 4) as integer) - case when substr({id}, 11, 4) > '{m:02}{d:02}' then 1 else 0 end)"
                    );
                    format!("case when length({id}) = 18 then {} end", band_case(&age, bands))
                }
            })
            .collect()
    }

    /// Merges the query's groups into rows (ordered by key) and totals.
    pub fn tabulate(&self, raw: Vec<RawRow>) -> Table {
        let n = self.def.measures.len();
        let mut groups: BTreeMap<Vec<Option<String>>, Vec<Partial>> = BTreeMap::new();
        let mut totals = vec![Partial::default(); n];
        for r in raw {
            let keys: Vec<Option<String>> = r
                .keys
                .into_iter()
                .zip(&self.dimensions)
                .map(|(k, d)| match d {
                    Dimension::Org(level) => k.map(|p| cut_path(&p, *level)),
                    _ => k,
                })
                .collect();
            let cell = groups
                .entry(keys)
                .or_insert_with(|| vec![Partial::default(); n]);
            for (i, p) in r.partials.iter().enumerate().take(n) {
                cell[i].merge(p);
                totals[i].merge(p);
            }
        }
        let ops: Vec<Op> = self.def.measures.iter().map(|m| m.op).collect();
        let rows = groups
            .into_iter()
            .map(|(keys, cell)| {
                let shown: Vec<Option<String>> = keys
                    .iter()
                    .zip(&self.dimensions)
                    .map(|(k, d)| k.as_ref().map(|k| show_key(d, k)))
                    .collect();
                let labels = shown
                    .iter()
                    .map(|k| k.clone().unwrap_or_else(|| "（空）".into()))
                    .collect();
                let drill = keys
                    .iter()
                    .zip(&self.dimensions)
                    .map(|(k, d)| k.as_ref().and_then(|k| drill_filters(d, k)))
                    .collect::<Option<Vec<_>>>()
                    .map(|v| v.concat());
                TableRow {
                    keys: shown,
                    labels,
                    values: cell.iter().zip(&ops).map(|(p, op)| p.value(*op)).collect(),
                    drill,
                }
            })
            .collect();
        Table {
            rows,
            totals: totals
                .iter()
                .zip(&ops)
                .map(|(p, op)| p.value(*op))
                .collect(),
        }
    }
}

/// `case when x < b1 then '00' when x < b2 then '01' … else 'nn' end`: the band index as
/// two-digit text, so keys sort in band order; null stays null.
fn band_case(x: &str, bands: &[i64]) -> String {
    let mut s = format!("case when {x} is null then null");
    for (i, b) in bands.iter().enumerate() {
        s.push_str(&format!(" when {x} < {b} then '{i:02}'"));
    }
    s.push_str(&format!(" else '{:02}' end", bands.len()));
    s
}

/// `/shrc/pudong/x/` cut to `level` units: `/shrc/pudong/` at level 2.
fn cut_path(path: &str, level: usize) -> String {
    let units: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .take(level)
        .collect();
    format!("/{}/", units.join("/"))
}

/// The bounds of band `i`: (lowest included, highest included), open ends as None.
fn band_bounds(bands: &[i64], i: usize) -> (Option<i64>, Option<i64>) {
    let lo = i.checked_sub(1).and_then(|j| bands.get(j)).copied();
    let hi = bands.get(i).map(|b| b - 1);
    (lo, hi)
}

/// The key as shown: a band's range (`18-34`, `-17`, `60-`), others unchanged.
fn show_key(d: &Dimension, key: &str) -> String {
    match d {
        Dimension::Band { bands, .. } | Dimension::AgeBand { bands, .. } => {
            let (lo, hi) = band_bounds(bands, key.parse().unwrap_or(0));
            format!(
                "{}-{}",
                lo.map_or(String::new(), |v| v.to_string()),
                hi.map_or(String::new(), |v| v.to_string())
            )
        }
        _ => key.to_string(),
    }
}

/// List filters selecting one key of a dimension. Years, months, bands and org units use the
/// list language's range and org filters (`filter[f][gte]=`, `filter[f][lte]=`,
/// `filter[org]=`). An age band has no list filter: ages are not stored, so it drills to
/// nothing (None: the caller gets `drill: null`); nor does a unit above an org dimension's
/// level (its row holds the records filed by the unit itself, the list filter its subtree).
fn drill_filters(d: &Dimension, key: &str) -> Option<Vec<(String, String)>> {
    Some(match d {
        Dimension::Field(f) => vec![(format!("filter[{f}]"), key.into())],
        Dimension::State => vec![("filter[state]".into(), key.into())],
        // A unit above the level holds only its own records here, but `filter[org]` would
        // take its whole subtree: no drill.
        Dimension::Org(level) if key.split('/').filter(|u| !u.is_empty()).count() < *level => {
            return None
        }
        Dimension::Org(_) => vec![("filter[org]".into(), key.into())],
        Dimension::Date { field, month } => {
            let (from, to) = if *month {
                let (y, m) = key.split_once('-').unwrap_or((key, "01"));
                let last = days_in_month(y.parse().unwrap_or(2000), m.parse().unwrap_or(1));
                (format!("{key}-01"), format!("{key}-{last:02}"))
            } else {
                (format!("{key}-01-01"), format!("{key}-12-31"))
            };
            vec![
                (format!("filter[{field}][gte]"), from),
                (format!("filter[{field}][lte]"), to),
            ]
        }
        Dimension::Band { field, bands } => {
            let (lo, hi) = band_bounds(bands, key.parse().unwrap_or(0));
            lo.map(|v| (format!("filter[{field}][gte]"), v.to_string()))
                .into_iter()
                .chain(hi.map(|v| (format!("filter[{field}][lte]"), v.to_string())))
                .collect()
        }
        Dimension::AgeBand { .. } => return None,
    })
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

impl TableRow {
    /// The drill-down as a list query string (`filter[district]=%E6%B5%A6...&filter[state]=submitted`),
    /// with `extra` (the request's own filters) first; None when it cannot be written.
    pub fn drill_query(&self, extra: &[(String, String)]) -> Option<String> {
        let own = self.drill.as_ref()?;
        Some(
            extra
                .iter()
                .chain(own)
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect::<Vec<_>>()
                .join("&"),
        )
    }
}

/// Percent-encodes a query component, keeping `[` and `]` readable.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'[' | b']' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields() -> BTreeMap<String, Field> {
        [
            ("district", FieldKind::String),
            ("fire_date", FieldKind::String),
            ("id_number", FieldKind::String),
            ("holder_id", FieldKind::String),
            ("applicant_age", FieldKind::Integer),
            ("requested_amount", FieldKind::Number),
        ]
        .into_iter()
        .map(|(k, kind)| {
            (
                k.to_string(),
                Field {
                    key: k.into(),
                    label: k.into(),
                    kind,
                },
            )
        })
        .collect()
    }

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "district": {"type": "string"},
            "fire_date": {"type": "string", "format": "date"},
            "id_number": {"type": "string", "format": "id_number", "x-sensitive": true},
            "holder_id": {"type": "string", "format": "id_number"},
            "applicant_age": {"type": "integer"},
            "requested_amount": {"type": "number"}
        }})
    }

    fn check(def: Value) -> Result<CompiledStatistic, Vec<PackError>> {
        let def: StatisticDef = serde_json::from_value(def).unwrap();
        CompiledStatistic::check("s", def, &fields(), &schema(), "statistics/s.json")
    }

    #[test]
    fn district_by_state_compiles_to_a_group_by() {
        let s = check(json!({"label": "l", "form": "f",
            "dimensions": [{"field": "district"}, {"by": "state"}],
            "measures": [{"op": "count"}, {"op": "sum", "field": "requested_amount"}]}))
        .unwrap();
        assert_eq!(
            s.select_list(Dialect::Postgres, (2026, 11, 25)),
            "cast((data->>'district') as text) as d0, state as d1, count(*) as m0_n, \
             count(((data->>'requested_amount')::numeric)) as m1_n, \
             cast(sum(((data->>'requested_amount')::numeric)) as double precision) as m1_sum, \
             cast(min(((data->>'requested_amount')::numeric)) as double precision) as m1_min, \
             cast(max(((data->>'requested_amount')::numeric)) as double precision) as m1_max"
        );
        assert_eq!(s.group_by(), "1, 2");
    }

    #[test]
    fn bad_definitions_point_at_the_problem() {
        let errs = check(json!({"label": "l", "form": "f",
            "dimensions": [{"field": "nope"}, {"field": "id_number", "by": "age_band", "bands": [18]}, {"by": "state"}],
            "measures": [{"op": "sum", "field": "district"}, {"op": "max", "field": "id_number"}, {"op": "count"}]}))
        .unwrap_err();
        let ptrs: Vec<_> = errs.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            ptrs,
            [
                "/dimensions",
                "/dimensions/0/field",
                "/dimensions/1/field",
                "/measures/0/field",
                "/measures/1/field"
            ]
        );
        assert!(errs[2].reason.contains("applicant_age"));
    }

    #[test]
    fn org_levels_merge_and_totals_agree() {
        let s = check(json!({"label": "l", "form": "f",
            "dimensions": [{"by": "org", "level": 2}],
            "measures": [{"op": "count"}, {"op": "avg", "field": "requested_amount"}]}))
        .unwrap();
        let p = |n, sum: f64| Partial {
            n,
            sum: Some(sum),
            min: Some(1.0),
            max: Some(sum),
        };
        let raw = vec![
            RawRow {
                keys: vec![Some("/shrc/".into())],
                partials: vec![p(1, 0.0), p(1, 0.0)],
            },
            RawRow {
                keys: vec![Some("/shrc/pudong/".into())],
                partials: vec![p(2, 0.0), p(2, 100.0)],
            },
            RawRow {
                keys: vec![Some("/shrc/pudong/huamu/".into())],
                partials: vec![p(1, 0.0), p(1, 50.0)],
            },
            RawRow {
                keys: vec![Some("/shrc/xuhui/".into())],
                partials: vec![p(1, 0.0), p(1, 30.0)],
            },
        ];
        let t = s.tabulate(raw);
        assert_eq!(t.rows.len(), 3);
        // The city's own records stay apart from its districts' and cannot drill: the list
        // filter would take the whole tree.
        assert_eq!(t.rows[0].keys, [Some("/shrc/".to_string())]);
        assert_eq!(t.rows[0].drill_query(&[]), None);
        assert_eq!(t.rows[1].keys, [Some("/shrc/pudong/".to_string())]);
        assert_eq!(t.rows[1].values, [json!(3), json!(50)]);
        assert_eq!(t.totals, [json!(5), json!(36)]);
        assert_eq!(
            t.rows[1].drill_query(&[]).unwrap(),
            "filter[org]=%2Fshrc%2Fpudong%2F"
        );
    }

    #[test]
    fn months_and_bands_drill_to_ranges() {
        let s = check(json!({"label": "l", "form": "f",
            "dimensions": [{"field": "fire_date", "by": "month"}, {"field": "applicant_age", "by": "band", "bands": [18, 60]}],
            "measures": [{"op": "count"}]}))
        .unwrap();
        let t = s.tabulate(vec![RawRow {
            keys: vec![Some("2024-02".into()), Some("01".into())],
            partials: vec![Partial {
                n: 1,
                ..Partial::default()
            }],
        }]);
        assert_eq!(
            t.rows[0].keys,
            [Some("2024-02".to_string()), Some("18-59".to_string())]
        );
        assert_eq!(
            t.rows[0].drill_query(&[("filter[state]".into(), "draft".into())]).unwrap(),
            "filter[state]=draft&filter[fire_date][gte]=2024-02-01&filter[fire_date][lte]=2024-02-29\
             &filter[applicant_age][gte]=18&filter[applicant_age][lte]=59"
        );
        assert!(s
            .select_list(Dialect::Sqlite, (2026, 1, 1))
            .contains("when (data->>'applicant_age') < 18 then '00'"));
    }

    #[test]
    fn age_bands_read_a_plain_id_number_against_today_and_do_not_drill() {
        let s = check(json!({"label": "l", "form": "f",
            "dimensions": [{"field": "holder_id", "by": "age_band", "bands": [18, 60]}],
            "measures": [{"op": "count"}]}))
        .unwrap();
        let sql = s.select_list(Dialect::Sqlite, (2026, 3, 5));
        assert!(
            sql.contains("(2026 - cast(substr((data->>'holder_id'), 7, 4) as integer) - case when substr((data->>'holder_id'), 11, 4) > '0305' then 1 else 0 end)"),
            "{sql}"
        );
        let t = s.tabulate(vec![RawRow {
            keys: vec![Some("02".into())],
            partials: vec![Partial {
                n: 3,
                ..Partial::default()
            }],
        }]);
        assert_eq!(t.rows[0].keys, [Some("60-".to_string())]);
        assert_eq!(t.rows[0].drill_query(&[]), None);
    }
}
