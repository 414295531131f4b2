//! Statistics agree with direct SQL over 100,000 generated records, see only the user's data
//! scope, drill down to list filters, and refuse what the user may not read.

use std::collections::HashMap;

use form_runtime::sql::Dialect;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Row;

use crate::harness::{TestApp, PASSWORD};

/// Groups of a direct SQL query: keys → (count, sums...).
type Cells = HashMap<Vec<Option<String>>, Vec<f64>>;

/// Runs `sql` whose first `dims` columns are text keys and the rest numbers (null = 0).
async fn direct(app: &TestApp, sql: &str, dims: usize, measures: usize) -> Cells {
    let rows = sqlx::query(sql)
        .fetch_all(app.db().pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = HashMap::new();
    for r in rows {
        let keys = (0..dims)
            .map(|i| r.try_get::<Option<String>, _>(i).expect("key"))
            .collect();
        let values = (dims..dims + measures)
            .map(|i| {
                r.try_get::<Option<f64>, _>(i)
                    .ok()
                    .flatten()
                    .or_else(|| r.try_get::<i64, _>(i).ok().map(|v| v as f64))
                    .unwrap_or(0.0)
            })
            .collect();
        out.insert(keys, values);
    }
    out
}

/// Asserts every cell of a statistics response equals the direct query's, and nothing is
/// missing on either side.
fn assert_cells(body: &Value, want: &Cells) {
    let rows = body["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), want.len(), "row count: {body}");
    for row in rows {
        let keys: Vec<Option<String>> = row["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k.as_str().map(str::to_string))
            .collect();
        let expected = want
            .get(&keys)
            .unwrap_or_else(|| panic!("no direct SQL group for {keys:?}"));
        let got: Vec<f64> = row["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|v| v.as_f64().unwrap_or(0.0))
            .collect();
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(expected) {
            assert!(
                (g - e).abs() < 0.01 * e.abs().max(1.0),
                "{keys:?}: {got:?} vs {expected:?}"
            );
        }
    }
}

/// Writes the SQL reading a JSON field of `records.data`.
type FieldSql = fn(&str) -> String;

/// A JSON field as text and as a float, written independently of the runtime's SQL.
fn exprs(d: Dialect) -> (FieldSql, FieldSql) {
    match d {
        Dialect::Sqlite => (
            |f| format!("json_extract(data, '$.{f}')"),
            |f| format!("cast(json_extract(data, '$.{f}') as real)"),
        ),
        Dialect::Postgres => (
            |f| format!("(data ->> '{f}')"),
            |f| format!("cast(data ->> '{f}' as double precision)"),
        ),
    }
}

#[tokio::test]
async fn statistics_on_100000_records_agree_with_direct_sql() {
    let app = TestApp::spawn().await;
    formwork::bench::bulk_load(&app.state, 100_000)
        .await
        .expect("bulk load");
    let (text, num) = exprs(app.db().dialect());
    let base = "from records where tenant_id = 'redcross' and form_key = 'fire_relief'";

    // District × state, as the city reviewer (whole tenant).
    let city = app.login("redcross", "city_reviewer").await;
    let (s, body) = city.get("/api/v1/statistics/fire_relief_by_district").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let want = direct(
        &app,
        &format!(
            "select {}, state, count(*), sum({}), sum({}) {base} group by {}, state",
            text("district"),
            num("requested_amount"),
            num("approved_amount"),
            text("district")
        ),
        2,
        3,
    )
    .await;
    assert_cells(&body, &want);
    let total: f64 = want.values().map(|v| v[0]).sum();
    assert!(total >= 100_000.0);
    assert_eq!(body["totals"][0].as_f64(), Some(total));
    assert_eq!(body["columns"]["measures"][1]["label"], "申请金额合计");
    let row = &body["rows"][0];
    assert_eq!(
        row["drill"].as_str().expect("drill"),
        format!(
            "filter[district]={}&filter[state]={}",
            urlencode(row["keys"][0].as_str().expect("district")),
            row["keys"][1].as_str().expect("state")
        )
    );
    assert_ne!(
        row["labels"][1], row["keys"][1],
        "states are shown by label"
    );

    // The same with a list-style filter: only submitted records.
    let (s, body) = city
        .get("/api/v1/statistics/fire_relief_by_district?filter[state]=submitted")
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let submitted: HashMap<_, _> = want
        .iter()
        .filter(|(k, _)| k[1].as_deref() == Some("submitted"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert!(!submitted.is_empty());
    assert_cells(&body, &submitted);
    assert!(body["rows"][0]["drill"]
        .as_str()
        .expect("drill")
        .starts_with("filter[state]=submitted&filter[district]="));

    // One dimension: month of the fire date, with an average and a maximum.
    let (s, body) = city.get("/api/v1/statistics/fire_relief_by_month").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let month = format!("substr({}, 1, 7)", text("fire_date"));
    let want = direct(
        &app,
        &format!(
            "select {month}, count(*), sum({r}), avg({r}), max({r}) {base} group by {month}",
            r = num("requested_amount")
        ),
        1,
        4,
    )
    .await;
    assert!(want.len() >= 36, "three years of months");
    assert_cells(&body, &want);
    assert_eq!(
        body["rows"][1]["drill"],
        "filter[fire_date][gte]=2024-02-01&filter[fire_date][lte]=2024-02-29"
    );

    // A district user sees their subtree only (/shrc/pudong/ and the street under it).
    let pudong = app.login("redcross", "pudong_staff").await;
    let (s, body) = pudong
        .get("/api/v1/statistics/fire_relief_by_district")
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let want = direct(
        &app,
        &format!(
            "select {d}, state, count(*), sum({}), sum({}) {base} and org_path like '/shrc/pudong/%' group by {d}, state",
            num("requested_amount"),
            num("approved_amount"),
            d = text("district")
        ),
        2,
        3,
    )
    .await;
    assert_cells(&body, &want);
    let theirs: f64 = want.values().map(|v| v[0]).sum();
    assert!(theirs > 0.0 && theirs < total);
    assert_eq!(body["totals"][0].as_f64(), Some(theirs));

    // Org unit (level 2) × age band, as the city reviewer: each cell against a direct count
    // of the unit's subtree and the band's ages.
    let (s, body) = city.get("/api/v1/statistics/fire_relief_by_age").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let rows = body["rows"].as_array().expect("rows");
    assert!(rows.len() >= 5 * 4, "{body}");
    let pudong_row = rows
        .iter()
        .find(|r| r["keys"][0] == "/shrc/pudong/")
        .expect("pudong row");
    assert_eq!(pudong_row["labels"][0], "浦东新区红十字会");
    let mut counted = 0.0;
    for r in rows {
        let path = r["keys"][0].as_str().expect("org");
        let band = r["keys"][1].as_str().expect("band");
        let (lo, hi) = band.split_once('-').expect("band range");
        let age = num("applicant_age");
        let mut cond = format!("org_path like '{path}%'");
        if !lo.is_empty() {
            cond.push_str(&format!(" and {age} >= {lo}"));
        }
        if !hi.is_empty() {
            cond.push_str(&format!(" and {age} <= {hi}"));
        }
        let n: i64 = sqlx::query(&format!("select count(*) as n {base} and {cond}"))
            .fetch_one(app.db().pool())
            .await
            .expect("count")
            .try_get("n")
            .expect("n");
        assert_eq!(r["values"][0].as_i64(), Some(n), "{path} {band}");
        counted += n as f64;
    }
    assert_eq!(counted, total);
}

#[tokio::test]
async fn statistics_refuse_unknown_keys_parameters_and_users_without_read() {
    let app = TestApp::spawn().await;
    let city = app.login("redcross", "city_reviewer").await;
    let (s, body) = city.get("/api/v1/statistics").await;
    assert_eq!(s, StatusCode::OK);
    let keys: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["key"].as_str())
        .filter(|k| k.starts_with("fire_relief_"))
        .collect();
    assert_eq!(
        keys,
        [
            "fire_relief_by_age",
            "fire_relief_by_district",
            "fire_relief_by_month",
            "fire_relief_by_state",
            "fire_relief_disbursed_by_month"
        ]
    );
    let (s, _) = city.get("/api/v1/statistics/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = city
        .get("/api/v1/statistics/fire_relief_by_district?page=2")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = city
        .get("/api/v1/statistics/fire_relief_by_district?filter[bank_account]=1")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Another tenant does not see this tenant's statistics at all.
    let other = app.login("volunteer", "admin").await;
    let (s, _) = other
        .get("/api/v1/statistics/fire_relief_by_district")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A user of the tenant who holds no role may not read the form: no statistics listed,
    // and the statistic itself is forbidden.
    let db = app.db();
    let hash = formwork::password::hash(PASSWORD.into())
        .await
        .expect("hash");
    let mut tx = db.begin().await.expect("tx");
    formwork::store::users::create(&mut tx, "redcross", "no_roles", "无角色", &hash, "pudong")
        .await
        .expect("user");
    tx.commit().await.expect("commit");
    let nobody = app.login("redcross", "no_roles").await;
    let (s, body) = nobody.get("/api/v1/statistics").await;
    assert_eq!(
        (s, body["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
    let (s, _) = nobody
        .get("/api/v1/statistics/fire_relief_by_district")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn statistics_count_records_created_through_the_api() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    for name in ["甲", "乙"] {
        staff
            .create(crate::harness::application(name), Some("submit"))
            .await;
    }
    let (s, body) = staff
        .get("/api/v1/statistics/fire_relief_by_district")
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["totals"][0], 2);
    assert_eq!(body["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["rows"][0]["keys"][1], "submitted");
    // A cell drills down to exactly its records on the form's list.
    let drill = body["rows"][0]["drill"].as_str().expect("drill");
    let (s, list) = staff
        .get(&format!("/api/v1/lists/fire_relief_all?{drill}"))
        .await;
    assert_eq!(
        (s, list["total"].as_i64()),
        (StatusCode::OK, Some(2)),
        "{list}"
    );
    let (_, by_month) = staff.get("/api/v1/statistics/fire_relief_by_month").await;
    assert_eq!(by_month["rows"][0]["keys"], serde_json::json!(["2026-10"]));
    let drill = by_month["rows"][0]["drill"].as_str().expect("drill");
    let (s, list) = staff
        .get(&format!("/api/v1/lists/fire_relief_all?{drill}"))
        .await;
    assert_eq!(
        (s, list["total"].as_i64()),
        (StatusCode::OK, Some(2)),
        "{list}"
    );
    // The age band reads the computed applicant_age the server stored.
    let (s, body) = staff.get("/api/v1/statistics/fire_relief_by_age").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["totals"][0], 2);
    assert_eq!(
        body["rows"][0]["keys"],
        serde_json::json!(["/shrc/pudong/", "60-"])
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The age computed in SQL from a (non-sensitive) ID number is right on both databases, on
/// either side of the birthday.
#[tokio::test]
async fn age_band_sql_reads_the_birth_date_of_an_id_number_on_both_databases() {
    use form_runtime::statistics::{CompiledStatistic, StatisticDef};
    let app = TestApp::spawn().await;
    let schema = serde_json::json!({"type": "object", "properties": {"holder_id": {"type": "string", "format": "id_number"}}});
    let fields = form_runtime::form::CompiledForm::fields_of(&schema, "").expect("fields");
    let def: StatisticDef = serde_json::from_value(serde_json::json!({"label": "l", "form": "f",
        "dimensions": [{"field": "holder_id", "by": "age_band", "bands": [18, 76, 77]}],
        "measures": [{"op": "count"}]}))
    .expect("def");
    let stat = CompiledStatistic::check("s", def, &fields, &schema, "").expect("valid");
    let dialect = app.db().dialect();
    let data = match dialect {
        Dialect::Sqlite => "'{\"holder_id\": \"11010519491231002X\"}'",
        Dialect::Postgres => "cast('{\"holder_id\": \"11010519491231002X\"}' as jsonb)",
    };
    // Born 1949-12-31: 77 on its birthday in 2026 (band `77-`), still 76 the day before.
    for (today, band) in [
        ((2026, 12, 30), "02"),
        ((2026, 12, 31), "03"),
        ((2027, 1, 1), "03"),
    ] {
        let sql = format!(
            "select {} from (select {data} as data) t group by {}",
            stat.select_list(dialect, today),
            stat.group_by()
        );
        let row = sqlx::query(&sql)
            .fetch_one(app.db().pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(
            row.try_get::<String, _>("d0").expect("d0"),
            band,
            "{today:?}"
        );
    }
}
