//! Expressions: minijinja's expression language, used for computed values and conditions.
//!
//! Expressions are compiled once per form version against one shared environment that holds
//! Formwork's functions, and run with a fuel limit so no expression can run away. The
//! variables of an expression are the record's fields (in a repeating section: the row's
//! fields, plus `record` for the whole record). `now()`, `today()` and `age()` read the
//! [`Clock`] the expression is evaluated with: the change's moment in the tenant's zone.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::LazyLock;

use crate::clock::{Clock, DEFAULT_ZONE};

use minijinja::value::{Rest, Value as MjValue};
use minijinja::{Environment, Error as MjError, ErrorKind, Expression};
use rust_decimal::Decimal;
use serde_json::Value;

/// The functions an expression can call: Formwork's and minijinja's own. A field with one of
/// these names would hide the function from every expression of its form.
pub const FUNCTIONS: &[&str] = &[
    "sum",
    "age",
    "days_between",
    "today",
    "now",
    "decimal_round",
    "lines_within",
    "range",
    "dict",
    "namespace",
    "debug",
];

/// Upper bound on the work one evaluation may do.
const FUEL: u64 = 50_000;

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.add_function("sum", sum);
    env.add_function("age", age);
    env.add_function("days_between", days_between);
    env.add_function("today", today);
    env.add_function("now", now);
    env.add_function("decimal_round", decimal_round);
    env.add_function("lines_within", lines_within);
    env
});

/// A compiled expression.
pub struct Expr {
    /// The source, as written in the pack.
    pub source: String,
    compiled: Expression<'static, 'static>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

impl Expr {
    /// Compiles `source`; the error says what is wrong with it.
    pub fn compile(source: &str) -> Result<Expr, String> {
        let compiled = ENV
            .compile_expression_owned(source.to_string())
            .map_err(|e| describe(&e))?;
        Ok(Expr {
            source: source.to_string(),
            compiled,
        })
    }

    /// Record fields the expression reads (names that are neither its own locals nor
    /// functions such as `sum`).
    pub fn variables(&self) -> BTreeSet<String> {
        let globals: BTreeSet<&str> = ENV.globals().map(|(k, _)| k).collect();
        self.compiled
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| !globals.contains(v.as_str()))
            .collect()
    }

    /// Evaluates against a JSON object of variables, on the system's clock in the default
    /// zone (for checks that belong to no change).
    pub fn eval(&self, vars: &Value) -> Result<Value, String> {
        self.eval_at(vars, &Clock::system(DEFAULT_ZONE))
    }

    /// Evaluates against a JSON object of variables, with `now()` and `today()` read from
    /// `clock`.
    pub fn eval_at(&self, vars: &Value, clock: &Clock) -> Result<Value, String> {
        let v = self.run(vars, clock)?;
        if v.is_undefined() || v.is_none() {
            return Ok(Value::Null);
        }
        serde_json::to_value(&v).map_err(|e| e.to_string())
    }

    /// Evaluates as a condition on the system's clock: true only for a truthy result.
    pub fn test(&self, vars: &Value) -> Result<bool, String> {
        self.test_at(vars, &Clock::system(DEFAULT_ZONE))
    }

    /// Evaluates as a condition with `clock`: true only for a truthy result.
    pub fn test_at(&self, vars: &Value, clock: &Clock) -> Result<bool, String> {
        Ok(self.run(vars, clock)?.is_true())
    }

    fn run(&self, vars: &Value, clock: &Clock) -> Result<MjValue, String> {
        // The functions read the clock of this evaluation; it is put back afterwards, so an
        // evaluation never sees another's clock.
        let before = CLOCK.with(|c| c.replace(Some(*clock)));
        let out = self
            .compiled
            .eval(MjValue::from(minijinja::value::Serde(vars)))
            .map_err(|e| describe(&e));
        CLOCK.with(|c| c.set(before));
        out
    }
}

thread_local! {
    /// The clock of the evaluation running on this thread (evaluation is synchronous).
    static CLOCK: Cell<Option<Clock>> = const { Cell::new(None) };
}

fn clock() -> Clock {
    CLOCK
        .with(Cell::get)
        .unwrap_or_else(|| Clock::system(DEFAULT_ZONE))
}

fn describe(e: &MjError) -> String {
    match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    }
}

/// A JSON-ish minijinja number as an exact decimal (through its shortest text form, so
/// `0.1` is exactly one tenth).
fn to_decimal(v: &MjValue) -> Option<Decimal> {
    if v.is_undefined() || v.is_none() {
        return None;
    }
    let s = v.to_string();
    Decimal::from_str(&s)
        .or_else(|_| Decimal::from_scientific(&s))
        .ok()
}

fn from_decimal(d: Decimal) -> MjValue {
    let d = d.normalize();
    if d.scale() == 0 {
        if let Ok(i) = i64::try_from(d) {
            return MjValue::from(i);
        }
    }
    MjValue::from(f64::try_from(d).unwrap_or(f64::NAN))
}

/// `sum(items)` or `sum(items, "amount")`: the exact decimal sum of numbers, or of one
/// attribute of each row; missing values count as zero.
fn sum(items: MjValue, attr: Option<String>) -> Result<MjValue, MjError> {
    if items.is_undefined() || items.is_none() {
        return Ok(MjValue::from(0));
    }
    let mut total = Decimal::ZERO;
    for item in items.try_iter()? {
        let v = match &attr {
            Some(a) => item.get_attr(a)?,
            None => item,
        };
        if v.is_undefined() || v.is_none() {
            continue;
        }
        let d = to_decimal(&v).ok_or_else(|| {
            MjError::new(
                ErrorKind::InvalidOperation,
                format!("sum: `{v}` is not a number"),
            )
        })?;
        total = total
            .checked_add(d)
            .ok_or_else(|| MjError::new(ErrorKind::InvalidOperation, "sum: too large"))?;
    }
    Ok(from_decimal(total))
}

/// `lines_within(rows, limits, "item", "quantity")`: whether every row of `rows` matches a
/// row of `limits` with the same `key` (all of them, when several limit rows share it) and
/// its `amount` is within theirs, summed over the rows of `rows` with that key: approved
/// goods among the requested goods, each no more than requested. Empty `rows` are within.
fn lines_within(
    rows: MjValue,
    limits: MjValue,
    key: String,
    amount: String,
) -> Result<MjValue, MjError> {
    use std::collections::BTreeMap;
    let totals = |v: &MjValue| -> Result<BTreeMap<String, Decimal>, MjError> {
        let mut out = BTreeMap::new();
        if v.is_undefined() || v.is_none() {
            return Ok(out);
        }
        for row in v.try_iter()? {
            let k = row.get_attr(&key)?;
            if k.is_undefined() || k.is_none() {
                continue;
            }
            let a = row.get_attr(&amount)?;
            let d = if a.is_undefined() || a.is_none() {
                Decimal::ZERO
            } else {
                to_decimal(&a).ok_or_else(|| {
                    MjError::new(
                        ErrorKind::InvalidOperation,
                        format!("lines_within: `{a}` is not a number"),
                    )
                })?
            };
            let t = out.entry(k.to_string()).or_insert(Decimal::ZERO);
            *t = t.checked_add(d).ok_or_else(|| {
                MjError::new(ErrorKind::InvalidOperation, "lines_within: too large")
            })?;
        }
        Ok(out)
    };
    let wanted = totals(&rows)?;
    let allowed = totals(&limits)?;
    Ok(MjValue::from(wanted.iter().all(|(k, n)| {
        allowed.get(k).is_some_and(|limit| n <= limit)
    })))
}

/// `decimal_round(x, 2)`: rounds half away from zero to `places` decimals, exactly.
fn decimal_round(x: MjValue, places: u32) -> Result<MjValue, MjError> {
    match to_decimal(&x) {
        None => Ok(MjValue::UNDEFINED),
        Some(d) => Ok(from_decimal(d.round_dp_with_strategy(
            places,
            rust_decimal::RoundingStrategy::MidpointAwayFromZero,
        ))),
    }
}

fn parse_date(v: &MjValue) -> Option<chrono::NaiveDate> {
    let s = v.as_str()?;
    chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

/// `age(id_number)` or `age(id_number, "2026-01-01")`: whole years since the birth date in a
/// resident ID number; undefined when the number is not valid.
fn age(id: MjValue, on: Rest<MjValue>) -> MjValue {
    let Some(birth) = id.as_str().and_then(crate::formats::id_number_birth_date) else {
        return MjValue::UNDEFINED;
    };
    let on = on
        .first()
        .and_then(parse_date)
        .unwrap_or_else(|| clock().today());
    match on.years_since(birth) {
        Some(y) => MjValue::from(y),
        None => MjValue::UNDEFINED,
    }
}

/// `days_between(a, b)`: days from date `a` to date `b` (negative when `b` is earlier);
/// undefined when either is not a date.
fn days_between(a: MjValue, b: MjValue) -> MjValue {
    match (parse_date(&a), parse_date(&b)) {
        (Some(a), Some(b)) => MjValue::from((b - a).num_days()),
        _ => MjValue::UNDEFINED,
    }
}

/// `now()`: the change's moment in the tenant's zone, `YYYY-MM-DDTHH:MM:SS+08:00`.
fn now() -> MjValue {
    MjValue::from(clock().now_text())
}

/// `today()`: the change's date in the tenant's zone, `YYYY-MM-DD`.
fn today() -> MjValue {
    MjValue::from(clock().today().format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sums_of_amounts_are_exact() {
        let e = Expr::compile("sum(items, 'amount')").unwrap();
        let v = e
            .eval(&json!({"items": [{"amount": 0.1}, {"amount": 0.2}, {"amount": 1000000.07}, {}]}))
            .unwrap();
        assert_eq!(v.to_string(), "1000000.37");
        assert_eq!(
            Expr::compile("sum([0.1, 0.2])")
                .unwrap()
                .eval(&json!({}))
                .unwrap()
                .to_string(),
            "0.3"
        );
    }

    #[test]
    fn age_and_days_come_from_id_numbers_and_dates() {
        let vars = json!({"id": "11010519491231002X", "a": "2026-01-01", "b": "2026-03-01"});
        assert_eq!(
            Expr::compile("age(id, '2026-12-31')")
                .unwrap()
                .eval(&vars)
                .unwrap(),
            json!(77)
        );
        assert_eq!(
            Expr::compile("age(id, '2026-12-30')")
                .unwrap()
                .eval(&vars)
                .unwrap(),
            json!(76)
        );
        assert_eq!(
            Expr::compile("days_between(a, b)")
                .unwrap()
                .eval(&vars)
                .unwrap(),
            json!(59)
        );
        assert_eq!(
            Expr::compile("age('123')").unwrap().eval(&vars).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn lines_within_keeps_approved_lines_among_and_under_the_requested() {
        let vars = json!({
            "items": [{"item": "纸尿裤", "quantity": 10}, {"item": "湿巾", "quantity": 5}],
            "ok": [{"item": "纸尿裤", "quantity": 8}],
            "more": [{"item": "纸尿裤", "quantity": 6}, {"item": "纸尿裤", "quantity": 6}],
            "new": [{"item": "营养品", "quantity": 1}],
        });
        let t = |src: &str| Expr::compile(src).unwrap().test(&vars).unwrap();
        assert!(t("lines_within(ok, items, 'item', 'quantity')"));
        assert!(
            !t("lines_within(more, items, 'item', 'quantity')"),
            "12 of 10 in two lines"
        );
        assert!(
            !t("lines_within(new, items, 'item', 'quantity')"),
            "never requested"
        );
        assert!(
            t("lines_within(missing, items, 'item', 'quantity')"),
            "nothing approved yet"
        );
        assert!(!t("lines_within(ok, missing, 'item', 'quantity')"));
    }

    #[test]
    fn now_and_today_read_the_clock_of_the_evaluation() {
        use chrono::TimeZone;
        let t = chrono::Utc.with_ymd_and_hms(2025, 3, 31, 16, 5, 0).unwrap();
        let clock = Clock::at(t, DEFAULT_ZONE);
        let vars = json!({"id": "110105194904010027"});
        let at = |src: &str| Expr::compile(src).unwrap().eval_at(&vars, &clock).unwrap();
        assert_eq!(at("now()"), json!("2025-04-01T00:05:00+08:00"));
        assert_eq!(at("today()"), json!("2025-04-01"));
        assert_eq!(
            at("age(id)"),
            json!(76),
            "76 on the birthday itself, in Shanghai"
        );
        assert!(Expr::compile("today() == '2025-04-01'")
            .unwrap()
            .test_at(&vars, &clock)
            .unwrap());
        // Without a clock of its own, an evaluation runs on the system's.
        assert_ne!(
            Expr::compile("today()").unwrap().eval(&vars).unwrap(),
            json!("2025-04-01")
        );
    }

    #[test]
    fn conditions_and_variables() {
        let e = Expr::compile("deaths > 0 or housing_type == '其他'").unwrap();
        assert_eq!(
            e.variables(),
            ["deaths", "housing_type"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );
        assert!(e.test(&json!({"deaths": 1})).unwrap());
        assert!(!e
            .test(&json!({"deaths": 0, "housing_type": "居住性房屋"}))
            .unwrap());
        assert!(
            !e.test(&json!({})).unwrap(),
            "missing fields are false, not errors"
        );
    }

    #[test]
    fn syntax_errors_and_runaway_expressions_are_reported() {
        assert!(Expr::compile("deaths >").is_err());
        let e = Expr::compile("range(100000)|map('string')|join|length").unwrap();
        assert!(e.eval(&json!({})).is_err(), "fuel runs out");
    }
}
