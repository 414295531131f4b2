//! Demo data (演示数据): `demo/<form>.json` says how many records of a form to generate, in
//! which final states, over which months, and how each field's values are made.
//!
//! This module decides *what* a demo record is: its final state and the workflow path that
//! reaches it, the times of its steps and the values written at each step. The server fires
//! the steps through the same code as the API, as real users; nothing here writes anything.
//! Everything follows from the seed, the record's index and the day it is generated, so a
//! test can recompute it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::PackError;
use crate::form::escape;
use crate::workflow::{TransitionDef, WorkflowDef};

/// Most records one demo file may ask for.
pub const MAX_COUNT: usize = 100_000;

/// A demo file (`demo/<form>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoDef {
    /// How many records.
    pub count: usize,
    /// Seed of the generator: the same seed gives the same records (on the same day).
    #[serde(default)]
    pub seed: u64,
    /// Records are created over the last this many months (default 12).
    #[serde(default = "twelve")]
    pub months: u32,
    /// Roles whose users file the records (create them), spread evenly over those users.
    pub filers: Vec<String>,
    /// Final states with their weights: `{"draft": 1, "disbursed": 4}`.
    pub states: BTreeMap<String, u32>,
    /// Named lists of values that `text` templates draw from.
    #[serde(default)]
    pub pools: BTreeMap<String, Vec<String>>,
    /// How fields get their values; fields not named here get a default from their schema
    /// when they are required, and stay empty otherwise.
    #[serde(default)]
    pub fields: BTreeMap<String, Generator>,
    /// Pool of the comments given where a transition requires one (default: 演示数据).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    /// Each record is made from a record of another form, by firing that form's transition
    /// whose `create` effect makes it (the year's application from the person's file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_from: Option<MadeFrom>,
}

/// Where the records of a demo file come from when people make them from other records.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MadeFrom {
    /// The form of the records they are made from (`spring_aid_beneficiary`).
    pub form: String,
    /// The action on those records whose `create` effect makes this form's record (`apply`).
    pub action: String,
}

fn twelve() -> u32 {
    12
}

/// How one field's value is made. Exactly one of `text`, `weights`, `min`/`max`, `of`,
/// `days_before`, `rows`, `from_org` and `value`; `empty` may go with any of them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generator {
    /// A template: `{pool}` draws from a pool, `{field}` is another field's value,
    /// `{pool/field}` draws from the pool named `pool/<the field's value>` (else `pool`),
    /// `{10-99}` a whole number in the range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Options with weights (the keys are the values; numbers and true/false for such fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<BTreeMap<String, u32>>,
    /// Smallest number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// A share of another number field: `{"of": "loss_amount", "ratio": [0.3, 0.8]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<String>,
    /// The share's range (default `[1, 1]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<[f64; 2]>,
    /// A date this many days (a range) before the step that writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_before: Option<[i64; 2]>,
    /// A repeating section with this many rows (a range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<[usize; 2]>,
    /// Generators of a repeating section's columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, Generator>>,
    /// The option whose text begins the name of the filer's unit or of a unit above it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_org: Option<bool>,
    /// A fixed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Chance (0–1) that the field is left empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty: Option<f64>,
}

impl Generator {
    fn kinds(&self) -> Vec<&'static str> {
        let mut k = Vec::new();
        let pairs = [
            ("text", self.text.is_some()),
            ("weights", self.weights.is_some()),
            ("min/max", self.min.is_some() || self.max.is_some()),
            ("of", self.of.is_some()),
            ("days_before", self.days_before.is_some()),
            ("rows", self.rows.is_some()),
            ("from_org", self.from_org.is_some()),
            ("value", self.value.is_some()),
        ];
        for (name, on) in pairs {
            if on {
                k.push(name);
            }
        }
        k
    }

    /// Names a template reads, in order.
    fn names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for piece in template(self.text.as_deref().unwrap_or_default()) {
            if let Piece::Name(n) = piece {
                out.push(n);
            }
        }
        out
    }
}

/// A piece of a `text` template.
enum Piece {
    Lit(String),
    Name(String),
    Range(i64, i64),
}

fn template(t: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push(Piece::Lit(rest[..open].to_string()));
        let inner = &rest[open + 1..open + close];
        let range = inner
            .split_once('-')
            .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
        out.push(match range {
            Some((a, b)) => Piece::Range(a, b),
            None => Piece::Name(inner.trim().to_string()),
        });
        rest = &rest[open + close + 1..];
    }
    out.push(Piece::Lit(rest.to_string()));
    out
}

/// A small deterministic random number generator (SplitMix64): demo data must come out the
/// same for the same seed on every machine, without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A whole number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % ((hi - lo) as u64 + 1)) as i64
    }

    /// An index below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// An index chosen by weight.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        if total == 0 {
            return 0;
        }
        let mut x = self.next_u64() % total;
        for (i, w) in weights.iter().enumerate() {
            if x < u64::from(*w) {
                return i;
            }
            x -= u64::from(*w);
        }
        weights.len() - 1
    }
}

/// A demo file checked against its form, workflow and roles.
#[derive(Debug, Clone)]
pub struct CompiledDemo {
    /// The form (the file's name).
    pub form: String,
    /// The definition.
    pub def: DemoDef,
    /// The form's JSON Schema.
    schema: Value,
    /// For each final state, the transitions `(from, action)` that reach it from the initial
    /// state, shortest first found.
    paths: BTreeMap<String, Vec<(String, String)>>,
    /// Fields in the order they can be generated (a field after those it reads).
    order: Vec<String>,
}

/// What one demo record will be: where it ends, the steps to get there and when each
/// happens. `times[0]` is the creation, `times[i]` the `i`-th step.
#[derive(Debug, Clone)]
pub struct DemoRecord {
    /// Index of the record (0-based).
    pub index: usize,
    /// Final state.
    pub state: String,
    /// Transitions as `(from, action)`.
    pub steps: Vec<(String, String)>,
    /// When the record is created and when each step happens, increasing, none in the future.
    pub times: Vec<DateTime<Utc>>,
    /// A random number the server uses to choose the filer and the actors.
    pub pick: u64,
    /// The record's own generator of values.
    pub rng: Rng,
}

/// What a step knows when it makes values: its time and the filer's units' names, from the
/// filer's own unit up to the root.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    /// When the step happens.
    pub at: DateTime<Utc>,
    /// Names of the filer's unit and the units above it.
    pub org_names: &'a [String],
}

/// China time: dates a user would write down.
fn china(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    let east8 =
        FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
    at.with_timezone(&east8)
}

impl CompiledDemo {
    /// Checks `def` (the file `file`) against the form's schema, its workflow and the roles.
    pub fn check(
        form: &str,
        def: DemoDef,
        schema: &Value,
        workflow: &WorkflowDef,
        roles: &BTreeSet<String>,
        file: &str,
    ) -> Result<CompiledDemo, Vec<PackError>> {
        let mut errs = Vec::new();
        let err = |errs: &mut Vec<PackError>, ptr: String, reason: String| {
            errs.push(PackError::new(file, ptr, reason))
        };
        if def.count == 0 || def.count > MAX_COUNT {
            err(
                &mut errs,
                "/count".into(),
                format!("count must be between 1 and {MAX_COUNT}"),
            );
        }
        if def.months == 0 || def.months > 120 {
            err(
                &mut errs,
                "/months".into(),
                "months must be between 1 and 120".into(),
            );
        }
        if def.filers.is_empty() {
            err(
                &mut errs,
                "/filers".into(),
                "name at least one role whose users file the records".into(),
            );
        }
        for (i, r) in def.filers.iter().enumerate() {
            if !roles.contains(r) {
                err(
                    &mut errs,
                    format!("/filers/{i}"),
                    format!("role `{r}` is not defined in roles.toml"),
                );
            }
        }
        // Shortest paths from the initial state, over the transitions in file order.
        let mut reach: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        reach.insert(workflow.initial.clone(), Vec::new());
        let mut queue = VecDeque::from([workflow.initial.clone()]);
        while let Some(s) = queue.pop_front() {
            let here = reach.get(&s).cloned().unwrap_or_default();
            for t in &workflow.transitions {
                if t.from.keys().contains(&s)
                    && !reach.contains_key(&t.to)
                    && t.countersign.is_none()
                {
                    let mut p = here.clone();
                    p.push((s.clone(), t.action.clone()));
                    reach.insert(t.to.clone(), p);
                    queue.push_back(t.to.clone());
                }
            }
        }
        let mut paths = BTreeMap::new();
        if def.states.values().all(|w| *w == 0) {
            err(
                &mut errs,
                "/states".into(),
                "give at least one state a weight above 0".into(),
            );
        }
        for s in def.states.keys() {
            let ptr = format!("/states/{}", escape(s));
            if !workflow.states.iter().any(|x| &x.key == s) {
                err(&mut errs, ptr, format!("the workflow has no state `{s}`"));
            } else if let Some(p) = reach.get(s) {
                paths.insert(s.clone(), p.clone());
            } else {
                err(
                    &mut errs,
                    ptr,
                    format!("no transitions lead from `{}` to `{s}`", workflow.initial),
                );
            }
        }
        for (p, values) in &def.pools {
            if values.is_empty() {
                err(
                    &mut errs,
                    format!("/pools/{}", escape(p)),
                    "a pool needs at least one value".into(),
                );
            }
        }
        if let Some(c) = &def.comments {
            if !def.pools.contains_key(c) {
                err(
                    &mut errs,
                    "/comments".into(),
                    format!("`{c}` is not a pool of this file"),
                );
            }
        }
        let props = schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        check_generators(&def.fields, &props, &def.pools, "/fields", file, &mut errs);
        for (f, g) in &def.fields {
            if let Some(p) = props.get(f) {
                if p.get("x-computed").is_some() {
                    err(
                        &mut errs,
                        format!("/fields/{}", escape(f)),
                        format!("`{f}` is computed (x-computed): the server computes it"),
                    );
                }
                if g.rows.is_some() && !is_section(p) {
                    err(
                        &mut errs,
                        format!("/fields/{}/rows", escape(f)),
                        format!("`{f}` is not a repeating section"),
                    );
                }
            }
        }
        // Generation order: a field after the fields its template or `of` reads.
        let mut order: Vec<String> = Vec::new();
        let mut left: Vec<&String> = def.fields.keys().collect();
        while !left.is_empty() {
            let ready: Vec<&String> = left
                .iter()
                .copied()
                .filter(|f| {
                    let g = &def.fields[*f];
                    let reads: Vec<String> = g
                        .names()
                        .into_iter()
                        .filter_map(|n| match n.split_once('/') {
                            Some((_, field)) => Some(field.to_string()),
                            None => (!def.pools.contains_key(&n)).then_some(n),
                        })
                        .chain(g.of.clone())
                        .collect();
                    reads
                        .iter()
                        .all(|r| order.contains(r) || !def.fields.contains_key(r) || r == *f)
                })
                .collect();
            if ready.is_empty() {
                for f in &left {
                    err(
                        &mut errs,
                        format!("/fields/{}", escape(f)),
                        "the generators of these fields read each other in a circle".into(),
                    );
                }
                break;
            }
            for f in ready {
                order.push(f.clone());
                left.retain(|x| *x != f);
            }
        }
        if errs.is_empty() {
            Ok(CompiledDemo {
                form: form.to_string(),
                def,
                schema: schema.clone(),
                paths,
                order,
            })
        } else {
            Err(errs)
        }
    }

    /// The plan of record `index`, with times ending no later than `now`.
    pub fn record(&self, index: usize, now: DateTime<Utc>) -> DemoRecord {
        let mut rng = Rng::new(self.def.seed ^ (index as u64).wrapping_mul(0xA24B_AED4_963E_E407));
        rng.next_u64();
        let states: Vec<(&String, u32)> = self.def.states.iter().map(|(k, w)| (k, *w)).collect();
        let weights: Vec<u32> = states.iter().map(|(_, w)| *w).collect();
        let state = states[rng.weighted(&weights)].0.clone();
        let steps = self.paths.get(&state).cloned().unwrap_or_default();
        let span = Duration::days(i64::from(self.def.months) * 365 / 12);
        let created = now - Duration::seconds((rng.unit() * span.num_seconds() as f64) as i64);
        let mut times = vec![created];
        for _ in &steps {
            let prev = *times.last().unwrap_or(&created);
            let gap = Duration::minutes(rng.range(2 * 60, 7 * 24 * 60));
            let next = if prev + gap < now {
                prev + gap
            } else {
                prev + Duration::seconds(
                    ((now - prev).num_seconds() as f64 * (0.2 + 0.6 * rng.unit())) as i64,
                )
            };
            times.push(next);
        }
        let pick = rng.next_u64();
        DemoRecord {
            index,
            state,
            steps,
            times,
            pick,
            rng,
        }
    }

    /// The fields written when a record is created: of `allowed` (the initial state's
    /// editable fields; None: every field), those with a generator, the form's required
    /// ones and those it may require (`x-required-if`: a value the form drops when the field
    /// is hidden).
    pub fn creation_fields(&self, allowed: Option<&[String]>) -> Vec<String> {
        let mut required: Vec<String> = self
            .schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        if let Some(props) = self.schema.get("properties").and_then(Value::as_object) {
            required.extend(
                props
                    .iter()
                    .filter(|(_, p)| p.get("x-required-if").is_some())
                    .map(|(k, _)| k.clone()),
            );
        }
        let all: Vec<String> = self
            .schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        self.pick(allowed.map_or(all, <[String]>::to_vec), &required)
    }

    /// The fields a transition writes: of its `fields`, those with a generator and its
    /// `required` ones.
    pub fn transition_fields(&self, t: &TransitionDef) -> Vec<String> {
        self.pick(t.fields.clone(), &t.required)
    }

    fn pick(&self, candidates: Vec<String>, required: &[String]) -> Vec<String> {
        let props = self.schema.get("properties").and_then(Value::as_object);
        // Generated fields first, in their order (a field after those it reads).
        let mut out: Vec<String> = self
            .order
            .iter()
            .filter(|f| candidates.contains(f))
            .cloned()
            .collect();
        for f in &candidates {
            let Some(p) = props.and_then(|p| p.get(f)) else {
                continue;
            };
            let made = p.get("x-computed").is_none()
                && p.get("x-attachment").is_none()
                && p.get("x-ref").is_none();
            if required.contains(f) && made && !out.contains(f) {
                out.push(f.clone());
            }
        }
        out
    }

    /// A comment for a transition that requires one.
    pub fn comment(&self, rng: &mut Rng) -> String {
        self.def
            .comments
            .as_ref()
            .and_then(|c| self.def.pools.get(c))
            .filter(|p| !p.is_empty())
            .map_or_else(|| "演示数据".to_string(), |p| p[rng.below(p.len())].clone())
    }

    /// Values of `fields` for one step, reading what the record already holds in `data`.
    pub fn values(
        &self,
        rng: &mut Rng,
        fields: &[String],
        data: &Map<String, Value>,
        step: &Step<'_>,
    ) -> Map<String, Value> {
        let props = self.schema.get("properties").and_then(Value::as_object);
        let mut known = data.clone();
        let mut out = Map::new();
        for f in fields {
            let Some(p) = props.and_then(|p| p.get(f)) else {
                continue;
            };
            let g = self.def.fields.get(f);
            if let Some(v) = self.value(rng, f, p, g, &known, step) {
                known.insert(f.clone(), v.clone());
                out.insert(f.clone(), v);
            }
        }
        out
    }

    fn value(
        &self,
        rng: &mut Rng,
        key: &str,
        prop: &Value,
        g: Option<&Generator>,
        data: &Map<String, Value>,
        step: &Step<'_>,
    ) -> Option<Value> {
        let Some(g) = g else {
            return default_value(rng, key, prop, step);
        };
        if g.empty.is_some_and(|e| rng.unit() < e) {
            return None;
        }
        let kind = prop.get("type").and_then(Value::as_str).unwrap_or("string");
        if let Some(v) = &g.value {
            return Some(v.clone());
        }
        if let Some(t) = &g.text {
            return Some(Value::String(self.render(rng, t, data)));
        }
        if let Some(w) = &g.weights {
            let keys: Vec<&String> = w.keys().collect();
            let weights: Vec<u32> = w.values().copied().collect();
            return Some(typed(kind, keys[rng.weighted(&weights)]));
        }
        if g.min.is_some() || g.max.is_some() {
            let lo = g.min.unwrap_or(0.0);
            let hi = g.max.unwrap_or(lo);
            return Some(number(rng, kind, prop, lo, hi));
        }
        if let (Some(of), true) = (&g.of, is_section(prop)) {
            return Some(copy_rows(rng, prop, data.get(of)?, g.ratio));
        }
        if let Some(of) = &g.of {
            let base = data.get(of).and_then(Value::as_f64)?;
            let [a, b] = g.ratio.unwrap_or([1.0, 1.0]);
            return Some(number(rng, kind, prop, base * a, base * b));
        }
        if let Some([a, b]) = g.days_before {
            let at = step.at - Duration::days(rng.range(a, b));
            return Some(Value::String(moment(prop, at)));
        }
        if let Some([a, b]) = g.rows {
            let n = rng.range(a as i64, b as i64).max(0) as usize;
            let item = prop.get("items").cloned().unwrap_or(Value::Null);
            let cols = g.fields.clone().unwrap_or_default();
            let rows = (0..n).map(|_| self.row(rng, &item, &cols, step)).collect();
            return Some(Value::Array(rows));
        }
        if g.from_org == Some(true) {
            let options: Vec<&str> = prop
                .get("enum")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let found = step
                .org_names
                .iter()
                .find_map(|name| options.iter().find(|o| name.starts_with(**o)));
            return match found {
                Some(o) => Some(Value::String(o.to_string())),
                None => default_value(rng, key, prop, step),
            };
        }
        default_value(rng, key, prop, step)
    }

    fn row(
        &self,
        rng: &mut Rng,
        item: &Value,
        cols: &BTreeMap<String, Generator>,
        step: &Step<'_>,
    ) -> Value {
        let mut row = Map::new();
        for (k, p) in item
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let v = match cols.get(k) {
                Some(g) => self.value(rng, k, p, Some(g), &row, step),
                None => default_value(rng, k, p, step),
            };
            if let Some(v) = v {
                row.insert(k.clone(), v);
            }
        }
        Value::Object(row)
    }

    fn render(&self, rng: &mut Rng, t: &str, data: &Map<String, Value>) -> String {
        let mut out = String::new();
        for piece in template(t) {
            match piece {
                Piece::Lit(s) => out.push_str(&s),
                Piece::Range(a, b) => out.push_str(&rng.range(a, b).to_string()),
                Piece::Name(n) if n.contains('/') => {
                    // `{pool/field}`: the pool named after the field's value, else `pool`.
                    let (pool, field) = n.split_once('/').unwrap_or((&n, ""));
                    let value = data.get(field).and_then(Value::as_str).unwrap_or_default();
                    let found = self
                        .def
                        .pools
                        .get(&format!("{pool}/{value}"))
                        .or_else(|| self.def.pools.get(pool))
                        .filter(|p| !p.is_empty());
                    if let Some(p) = found {
                        out.push_str(&p[rng.below(p.len())]);
                    }
                }
                Piece::Name(n) => match self.def.pools.get(&n) {
                    Some(pool) if !pool.is_empty() => out.push_str(&pool[rng.below(pool.len())]),
                    _ => match data.get(&n) {
                        Some(Value::String(s)) => out.push_str(s),
                        Some(Value::Null) | None => {}
                        Some(v) => out.push_str(&v.to_string()),
                    },
                },
            }
        }
        out
    }
}

fn is_section(p: &Value) -> bool {
    p.get("type").and_then(Value::as_str) == Some("array")
        && p.get("items")
            .and_then(|i| i.get("type"))
            .and_then(Value::as_str)
            == Some("object")
}

/// Checks generators against the properties they fill (the form's, or a section's columns).
fn check_generators(
    gens: &BTreeMap<String, Generator>,
    props: &Map<String, Value>,
    pools: &BTreeMap<String, Vec<String>>,
    at: &str,
    file: &str,
    errs: &mut Vec<PackError>,
) {
    for (f, g) in gens {
        let ptr = format!("{at}/{}", escape(f));
        let Some(p) = props.get(f) else {
            errs.push(PackError::new(
                file,
                &ptr,
                format!("the form has no field `{f}`"),
            ));
            continue;
        };
        let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
        let kinds = g.kinds();
        if kinds.len() != 1 {
            errs.push(PackError::new(
                file,
                &ptr,
                "a generator has exactly one of text, weights, min/max, of, days_before, rows, from_org or value",
            ));
            continue;
        }
        if let Some(e) = g.empty {
            if !(0.0..=1.0).contains(&e) {
                errs.push(PackError::new(
                    file,
                    format!("{ptr}/empty"),
                    "empty is a chance from 0 to 1",
                ));
            }
        }
        for n in g.names() {
            if let Some((pool, field)) = n.split_once('/') {
                let prefix = format!("{pool}/");
                if !props.contains_key(field)
                    || !pools.keys().any(|k| k == pool || k.starts_with(&prefix))
                {
                    errs.push(PackError::new(
                        file,
                        format!("{ptr}/text"),
                        format!("`{{{n}}}` needs a field `{field}` and pools `{pool}/<value>` or `{pool}`"),
                    ));
                }
            } else if !pools.contains_key(&n) && !props.contains_key(&n) {
                errs.push(PackError::new(
                    file,
                    format!("{ptr}/text"),
                    format!("`{{{n}}}` is neither a pool nor a field"),
                ));
            }
        }
        if let Some(w) = &g.weights {
            let options: Option<Vec<&Value>> = p
                .get("enum")
                .and_then(Value::as_array)
                .map(|a| a.iter().collect());
            for k in w.keys() {
                let v = typed(kind, k);
                let fits = match (&options, kind) {
                    (Some(o), _) => o.contains(&&v),
                    (None, "integer") => v.is_i64(),
                    (None, "number") => v.is_number(),
                    (None, "boolean") => v.is_boolean(),
                    (None, "string") => true,
                    _ => false,
                };
                if !fits {
                    errs.push(PackError::new(
                        file,
                        format!("{ptr}/weights/{}", escape(k)),
                        format!("`{k}` is not a value of `{f}`"),
                    ));
                }
            }
        }
        let numeric = kind == "number" || kind == "integer";
        if (g.min.is_some() || g.max.is_some()) && !numeric {
            errs.push(PackError::new(
                file,
                &ptr,
                format!("min/max fit a number field; `{f}` is {kind}"),
            ));
        }
        if let (Some(a), Some(b)) = (g.min, g.max) {
            if a > b {
                errs.push(PackError::new(
                    file,
                    format!("{ptr}/max"),
                    "max is below min",
                ));
            }
        }
        if let (Some(of), true) = (&g.of, is_section(p)) {
            if !props.get(of).is_some_and(is_section) {
                errs.push(PackError::new(
                    file,
                    format!("{ptr}/of"),
                    format!("`of` copies the rows of a repeating section; `{of}` is not one"),
                ));
            }
        } else if let Some(of) = &g.of {
            let base = props
                .get(of)
                .and_then(|p| p.get("type"))
                .and_then(Value::as_str);
            if !numeric || !matches!(base, Some("number" | "integer")) {
                errs.push(PackError::new(
                    file,
                    format!("{ptr}/of"),
                    format!("`of` makes a number from a number field; `{of}` is not one"),
                ));
            }
        }
        if let Some([a, b]) = g.ratio {
            if a > b || a < 0.0 {
                errs.push(PackError::new(
                    file,
                    format!("{ptr}/ratio"),
                    "a range is [low, high] with 0 <= low <= high",
                ));
            }
        }
        if let Some([a, b]) = g.days_before {
            let format = p.get("format").and_then(Value::as_str);
            if !matches!(format, Some("date" | "date-time")) {
                errs.push(PackError::new(
                    file,
                    format!("{ptr}/days_before"),
                    format!("`{f}` is not a date"),
                ));
            }
            if a > b || a < 0 {
                errs.push(PackError::new(
                    file,
                    format!("{ptr}/days_before"),
                    "a range is [low, high] with 0 <= low <= high",
                ));
            }
        }
        if let Some([a, b]) = g.rows {
            if a > b {
                errs.push(PackError::new(
                    file,
                    format!("{ptr}/rows"),
                    "a range is [low, high] with 0 <= low <= high",
                ));
            }
        }
        if let Some(cols) = &g.fields {
            let item = p
                .get("items")
                .and_then(|i| i.get("properties"))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            check_generators(cols, &item, pools, &format!("{ptr}/fields"), file, errs);
        }
        if g.from_org.is_some() && p.get("enum").is_none() {
            errs.push(PackError::new(
                file,
                format!("{ptr}/from_org"),
                format!("`{f}` is not a choice field"),
            ));
        }
    }
}

/// The rows of another repeating section, with the columns `prop`'s rows have; a `ratio`
/// scales each whole-number column, rounded down, never below the column's `minimum` nor
/// above the value copied (the approved goods: the requested lines, fewer of each).
fn copy_rows(rng: &mut Rng, prop: &Value, source: &Value, ratio: Option<[f64; 2]>) -> Value {
    let cols = prop
        .pointer("/items/properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let rows = source.as_array().cloned().unwrap_or_default();
    let out = rows
        .iter()
        .filter_map(Value::as_object)
        .map(|row| {
            let mut copied = Map::new();
            for (k, v) in row {
                let Some(col) = cols.get(k) else { continue };
                if col.get("x-computed").is_some() {
                    continue;
                }
                let whole = col.get("type").and_then(Value::as_str) == Some("integer");
                let v = match (ratio, whole, v.as_i64()) {
                    (Some([a, b]), true, Some(n)) => {
                        let share = a + (b - a) * rng.unit();
                        let least = col.get("minimum").and_then(Value::as_i64).unwrap_or(0);
                        let scaled = ((n as f64) * share).floor() as i64;
                        Value::from(scaled.max(least).min(n))
                    }
                    _ => v.clone(),
                };
                copied.insert(k.clone(), v);
            }
            Value::Object(copied)
        })
        .collect();
    Value::Array(out)
}

/// A weight key as a value of the field's type.
fn typed(kind: &str, k: &str) -> Value {
    match kind {
        "integer" => k
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(k.into())),
        "number" => k
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(k.into())),
        "boolean" => match k {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(k.into()),
        },
        _ => Value::String(k.into()),
    }
}

/// A number in `[lo, hi]`, whole for an integer field, else rounded to the field's
/// `x-decimals` (default 2).
fn number(rng: &mut Rng, kind: &str, prop: &Value, lo: f64, hi: f64) -> Value {
    let x = lo + (hi - lo) * rng.unit();
    if kind == "integer" {
        return Value::from(x.round() as i64);
    }
    let d = prop
        .get("x-decimals")
        .and_then(Value::as_u64)
        .unwrap_or(2)
        .min(6) as i32;
    let f = 10f64.powi(d);
    let v = (x * f).round() / f;
    if v.fract() == 0.0 && v.abs() < 9e15 {
        Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

/// A date or date-time of `at` as the field's format writes it.
fn moment(prop: &Value, at: DateTime<Utc>) -> String {
    let local = china(at);
    match prop.get("format").and_then(Value::as_str) {
        Some("date-time") => local.format("%Y-%m-%dT%H:%M:%S+08:00").to_string(),
        _ => local.format("%Y-%m-%d").to_string(),
    }
}

/// Region codes of Shanghai's districts, for ID numbers.
const REGIONS: [&str; 16] = [
    "310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112", "310113",
    "310114", "310115", "310116", "310117", "310118", "310120", "310151",
];

const MOBILE_PREFIXES: [&str; 16] = [
    "130", "131", "133", "135", "136", "137", "138", "139", "150", "158", "159", "177", "180",
    "186", "188", "199",
];

/// A resident ID number (GB 11643) of someone aged 18 to 85 on `today`.
pub fn id_number(rng: &mut Rng, today: NaiveDate) -> String {
    let region = REGIONS[rng.below(REGIONS.len())];
    let age_days = rng.range(18 * 365 + 5, 85 * 365);
    let birth = today - Duration::days(age_days);
    let body = format!("{region}{}{:03}", birth.format("%Y%m%d"), rng.range(1, 999));
    let check = crate::formats::id_check_char(&body).unwrap_or('X');
    format!("{body}{check}")
}

/// A bank card number of 19 digits with its Luhn check digit.
pub fn bank_card(rng: &mut Rng) -> String {
    let mut digits: Vec<u32> = vec![6, 2, 2, 2];
    for _ in 0..14 {
        digits.push(rng.range(0, 9) as u32);
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                *d
            }
        })
        .sum();
    digits.push((10 - sum % 10) % 10);
    digits
        .iter()
        .map(|d| char::from_digit(*d, 10).unwrap_or('0'))
        .collect()
}

/// A unified social credit code (GB 32100) with its check character.
pub fn uscc(rng: &mut Rng) -> String {
    const CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [usize; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let mut s = format!("91{}", REGIONS[rng.below(REGIONS.len())]);
    for _ in 0..9 {
        s.push(CHARS[rng.below(31)] as char);
    }
    let sum: usize = s
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| CHARS.iter().position(|c| *c == b).unwrap_or(0) * w)
        .sum();
    s.push(CHARS[(31 - sum % 31) % 31] as char);
    s
}

/// The value a field gets without a generator, from its schema alone.
fn default_value(rng: &mut Rng, key: &str, prop: &Value, step: &Step<'_>) -> Option<Value> {
    if let Some(c) = prop.get("const") {
        return Some(c.clone());
    }
    if let Some(options) = prop
        .get("enum")
        .and_then(Value::as_array)
        .filter(|o| !o.is_empty())
    {
        return Some(options[rng.below(options.len())].clone());
    }
    let kind = prop.get("type").and_then(Value::as_str).unwrap_or("string");
    let today = china(step.at).date_naive();
    match kind {
        "boolean" => Some(Value::Bool(rng.below(2) == 1)),
        "integer" | "number" => {
            let lo = prop.get("minimum").and_then(Value::as_f64).unwrap_or(0.0);
            let hi = prop
                .get("maximum")
                .and_then(Value::as_f64)
                .unwrap_or(lo + 100.0)
                .min(lo + 10_000.0);
            Some(number(rng, kind, prop, lo, hi))
        }
        "array" => {
            let item = prop.get("items")?;
            if prop.get("x-attachment").is_some() {
                return None;
            }
            if let Some(options) = item
                .get("enum")
                .and_then(Value::as_array)
                .filter(|o| !o.is_empty())
            {
                return Some(Value::Array(
                    vec![options[rng.below(options.len())].clone()],
                ));
            }
            if item.get("type").and_then(Value::as_str) == Some("object") {
                let n = rng.range(1, 3) as usize;
                let rows = (0..n)
                    .map(|_| {
                        let mut row = Map::new();
                        for (k, p) in item
                            .get("properties")
                            .and_then(Value::as_object)
                            .into_iter()
                            .flatten()
                        {
                            if let Some(v) = default_value(rng, k, p, step) {
                                row.insert(k.clone(), v);
                            }
                        }
                        Value::Object(row)
                    })
                    .collect();
                return Some(Value::Array(rows));
            }
            None
        }
        "object" => {
            let mut obj = Map::new();
            for (k, p) in prop
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if let Some(v) = default_value(rng, k, p, step) {
                    obj.insert(k.clone(), v);
                }
            }
            Some(Value::Object(obj))
        }
        _ => Some(Value::String(
            match prop.get("format").and_then(Value::as_str) {
                Some("id_number") => id_number(rng, today),
                Some("mobile") => format!(
                    "{}{:08}",
                    MOBILE_PREFIXES[rng.below(MOBILE_PREFIXES.len())],
                    rng.range(0, 99_999_999)
                ),
                Some("bank_card") => bank_card(rng),
                Some("postal_code") => format!("20{:04}", rng.range(0, 2199)),
                Some("uscc") => uscc(rng),
                Some("email") => format!("demo{}@example.com", rng.range(1, 99_999)),
                Some("date" | "date-time") => moment(prop, step.at),
                _ => {
                    let title = prop.get("title").and_then(Value::as_str).unwrap_or(key);
                    let max = prop.get("maxLength").and_then(Value::as_u64).unwrap_or(200) as usize;
                    let text = format!("{title}{}", rng.range(1, 999));
                    text.chars().take(max.max(1)).collect()
                }
            },
        )),
    }
}

/// The year and month of a time in China, as statistics by month read it (`2026-03`).
pub fn month_of(at: DateTime<Utc>) -> String {
    let l = china(at);
    format!("{:04}-{:02}", l.year(), l.month())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(at: DateTime<Utc>) -> Step<'static> {
        Step { at, org_names: &[] }
    }

    #[test]
    fn copied_rows_keep_their_lines_and_never_grow() {
        let prop = serde_json::json!({"type": "array", "items": {"type": "object", "properties": {
            "item": {"type": "string"},
            "quantity": {"type": "integer", "minimum": 1},
            "subtotal": {"type": "number", "x-computed": "quantity"}
        }}});
        let source = serde_json::json!([
            {"item": "护理垫", "quantity": 12, "subtotal": 336, "extra": 1},
            {"item": "湿巾", "quantity": 1}
        ]);
        let mut rng = Rng::new(3);
        for _ in 0..50 {
            let rows = copy_rows(&mut rng, &prop, &source, Some([0.5, 1.0]));
            let rows = rows.as_array().expect("rows");
            assert_eq!(rows.len(), 2);
            assert_eq!(rows[0]["item"], "护理垫");
            let q = rows[0]["quantity"].as_i64().expect("whole");
            assert!((6..=12).contains(&q), "{q}");
            assert_eq!(rows[1]["quantity"], 1, "never below the minimum");
            assert!(rows[0].get("subtotal").is_none() && rows[0].get("extra").is_none());
        }
        let same = copy_rows(&mut rng, &prop, &source, None);
        assert_eq!(same[0]["quantity"], 12);
    }

    #[test]
    fn generated_formats_are_valid() {
        let mut rng = Rng::new(7);
        let now = Utc::now();
        for _ in 0..500 {
            let today = china(now).date_naive();
            assert!(crate::formats::is_id_number(&id_number(&mut rng, today)));
            assert!(crate::formats::is_bank_card(&bank_card(&mut rng)));
            assert!(crate::formats::is_uscc(&uscc(&mut rng)));
            let m = default_value(
                &mut rng,
                "m",
                &serde_json::json!({"type": "string", "format": "mobile"}),
                &step(now),
            );
            assert!(crate::formats::is_mobile(
                m.as_ref().and_then(Value::as_str).unwrap_or("")
            ));
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_numbers() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let xs: Vec<u64> = (0..10).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..10).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rng::new(43).next_u64(), xs[0]);
    }

    #[test]
    fn templates_draw_from_pools_fields_and_ranges() {
        let pieces = template("{surname}{given}，{1-9}号");
        assert_eq!(pieces.len(), 7);
        assert!(matches!(pieces[5], Piece::Range(1, 9)));
    }
}
