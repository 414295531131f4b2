//! Excel round trip: 10,000 fire-relief applications exported with the pack's full template
//! (sensitive values in clear for a role that may unmask) and imported into an empty tenant
//! come back equal, field by field.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{application, TestApp};

const N: usize = 10_000;

/// A valid ID number, different for each `n`.
fn id_number(n: usize) -> String {
    let day = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap()
        + chrono::Duration::days((n / 1000) as i64);
    let body = format!("310115{}{:03}", day.format("%Y%m%d"), n % 1000);
    let check = form_runtime::formats::id_check_char(&body).expect("17 digits");
    format!("{body}{check}")
}

/// Application `n`: every kind of value the form has, varied.
fn record(n: usize) -> Value {
    let mut d = application(&format!("回导{n}"));
    d["id_number"] = json!(id_number(n));
    d["phone"] = json!(format!("139{:08}", n));
    d["fire_date"] = json!(format!("2026-{:02}-{:02}", 1 + n % 12, 1 + n % 28));
    d["deaths"] = json!(n % 2);
    d["injured"] = json!(n % 5);
    d["loss_amount"] = json!(1000.25 + n as f64);
    d["requested_amount"] = json!(500 + n % 900);
    d["members"][1]["name"] = json!(format!("家属{n}"));
    if n.is_multiple_of(3) {
        d.as_object_mut().unwrap().remove("casualty_desc");
    } else {
        d["casualty_desc"] = json!(format!("轻伤{n}人次，已出院"));
    }
    d
}

/// Inserts the records straight into the store, as the API would store them (computed
/// values filled in, sensitive values sealed): 10,000 HTTP requests would dominate the test.
async fn seed(app: &TestApp, tenant: &str) {
    let state = &app.state;
    let (version, form) = state
        .catalog
        .versioned(&state.db, tenant, "fire_relief", None)
        .await
        .unwrap()
        .unwrap();
    let owner: String = {
        use sqlx::Row;
        sqlx::query("select user_id from users where tenant_id = $1 and username = 'pudong_staff'")
            .bind(tenant)
            .fetch_one(state.db.pool())
            .await
            .unwrap()
            .try_get("user_id")
            .unwrap()
    };
    let mut rows = Vec::with_capacity(N);
    for n in 0..N {
        let id = uuid::Uuid::now_v7().to_string();
        let data = form
            .accept(record(n), form_runtime::form::Completeness::Draft)
            .unwrap_or_else(|e| panic!("record {n}: {e:?}"));
        let sealed = formwork::change::sensitive::seal(state, tenant, &form, &id, data)
            .await
            .unwrap();
        let at = formwork::store::now();
        rows.push(formwork::store::records::RecordRow {
            id,
            form_key: "fire_relief".into(),
            form_version: version,
            state: "draft".into(),
            data: sealed,
            owner_id: owner.clone(),
            org_path: "/shrc/pudong/".into(),
            version: 1,
            created_at: at.clone(),
            updated_at: at,
        });
    }
    let mut tx = state.db.begin().await.unwrap();
    for r in &rows {
        formwork::store::records::insert(&mut tx, tenant, r)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Every fire-relief record of a tenant in clear, by ID number.
async fn records_of(app: &TestApp, tenant: &str) -> BTreeMap<String, Value> {
    use sqlx::Row;
    let state = &app.state;
    let form = state
        .catalog
        .form(&state.db, tenant, "fire_relief", None)
        .await
        .unwrap()
        .unwrap();
    let sql = match state.db.dialect() {
        form_runtime::sql::Dialect::Postgres => {
            "select record_id, data::text as data from records where tenant_id = $1"
        }
        form_runtime::sql::Dialect::Sqlite => {
            "select record_id, data from records where tenant_id = $1"
        }
    };
    let rows = sqlx::query(sql)
        .bind(tenant)
        .fetch_all(state.db.pool())
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for r in rows {
        let id: String = r.try_get("record_id").unwrap();
        let data: Value = serde_json::from_str(&r.try_get::<String, _>("data").unwrap()).unwrap();
        let clear = formwork::change::sensitive::open(state, tenant, &form, &id, data)
            .await
            .unwrap();
        let key = clear["id_number"].as_str().unwrap().to_string();
        out.insert(key, clear);
    }
    out
}

#[tokio::test]
async fn ten_thousand_applications_export_and_import_into_an_empty_tenant_unchanged() {
    let app = TestApp::spawn().await;
    seed(&app, "redcross").await;
    let city = app.login("redcross", "city_reviewer").await;
    let (s, _, xlsx) = city
        .download("/api/v1/lists/fire_relief_all/export?template=fire_relief_full")
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&xlsx[..xlsx.len().min(300)])
    );

    app.tenant_with_pack("copy", &[("filer", "district_staff")])
        .await;
    let filer = app.login("copy", "filer").await;
    let (s, report) = filer
        .upload_raw(
            "/api/v1/forms/fire_relief/imports?template=fire_relief_full",
            xlsx,
            &[],
        )
        .await;
    let head: String = report.to_string().chars().take(2000).collect();
    assert_eq!(s, StatusCode::CREATED, "{head}");
    let counts = (report["created"].as_u64(), report["rejected"].as_u64());
    assert_eq!(counts, (Some(N as u64), Some(0)), "{head}");

    let original = records_of(&app, "redcross").await;
    let copied = records_of(&app, "copy").await;
    assert_eq!(original.len(), N);
    assert_eq!(copied.len(), N);
    for (key, a) in &original {
        let b = copied
            .get(key)
            .unwrap_or_else(|| panic!("{key} was not imported"));
        assert_eq!(a, b, "record {key} differs after the round trip");
    }
}
