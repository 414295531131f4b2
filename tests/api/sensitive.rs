//! Sensitive fields (`x-sensitive`): the fire-relief form's ID number, phone, bank account and
//! members' ID numbers are sealed at rest, masked for district staff, clear (and audited) for
//! the city reviewer, and found by exact value through their blind index.

use formwork::store::{json_column, json_param};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

use crate::harness::{application, Session, TestApp};

/// The clear values of `harness::application`.
const ID: &str = "11010519491231002X";
const PHONE: &str = "13812345678";
const CARD: &str = "6222021234567890128";

/// A valid resident ID number made from its first 17 digits (GB 11643 check character).
fn id_number(first17: &str) -> String {
    let check = form_runtime::formats::id_check_char(first17).expect("17 digits");
    format!("{first17}{check}")
}

/// The stored `data` of a record, as the database holds it.
async fn raw_data(app: &TestApp, id: &str) -> String {
    let sql = format!(
        "select {} as data from records where record_id = $1",
        json_column(app.db().dialect(), "data")
    );
    sqlx::query(&sql)
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("record row")
        .try_get("data")
        .expect("data")
}

/// Every text a tenant's records, events and audit entries hold, as the database holds it.
async fn everything_stored(app: &TestApp) -> String {
    let d = app.db().dialect();
    let mut out = String::new();
    for sql in [
        format!("select {} as t from records", json_column(d, "data")),
        "select coalesce(changes, '') as t from record_events".to_string(),
        "select detail as t from audit_log".to_string(),
    ] {
        for r in sqlx::query(&sql)
            .fetch_all(app.db().pool())
            .await
            .expect("rows")
        {
            out.push_str(&r.try_get::<String, _>("t").expect("text"));
            out.push('\n');
        }
    }
    out
}

async fn unmask_entries(app: &TestApp, record: &str) -> Vec<Value> {
    sqlx::query(
        "select detail from audit_log where action = 'record.unmask' and object = $1 order by id",
    )
    .bind(record)
    .fetch_all(app.db().pool())
    .await
    .expect("audit rows")
    .iter()
    .map(|r| {
        serde_json::from_str(&r.try_get::<String, _>("detail").expect("detail")).expect("json")
    })
    .collect()
}

/// The plan the database chooses for `sql`, as text; on PostgreSQL with sequential scans
/// disabled, since a handful of test rows would otherwise never be worth an index.
async fn query_plan(app: &TestApp, sql: &form_runtime::sql::Sql) -> String {
    let mut conn = app.db().pool().acquire().await.expect("connection");
    let (explain, column) = match app.db().dialect() {
        form_runtime::sql::Dialect::Sqlite => ("explain query plan", 3),
        form_runtime::sql::Dialect::Postgres => {
            sqlx::query("set enable_seqscan = off")
                .execute(&mut *conn)
                .await
                .expect("set");
            ("explain", 0)
        }
    };
    let text = format!("{explain} {}", sql.text);
    let rows = formwork::store::bind_all(sqlx::query(&text), &sql.params)
        .fetch_all(&mut *conn)
        .await
        .expect("explain");
    if app.db().dialect() == form_runtime::sql::Dialect::Postgres {
        sqlx::query("reset enable_seqscan")
            .execute(&mut *conn)
            .await
            .expect("reset");
    }
    rows.iter()
        .map(|r| r.try_get::<String, _>(column).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn list(session: &Session, query: &str) -> Value {
    let (s, body) = session
        .get(&format!("/api/v1/lists/fire_relief_all?{query}"))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn sensitive_values_are_never_stored_in_clear() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let rec = staff.create(application("张三"), Some("submit")).await;
    let id = rec["id"].as_str().unwrap();

    let raw = raw_data(&app, id).await;
    for clear in [ID, PHONE, CARD, "1949123100", "12345678", "1234567890128"] {
        assert!(!raw.contains(clear), "{clear} stored in clear: {raw}");
    }
    let stored: Value = serde_json::from_str(&raw).unwrap();
    for field in ["id_number", "phone", "bank_account"] {
        assert!(
            stored[field]["enc"]
                .as_str()
                .is_some_and(|e| e.starts_with("v1:")),
            "{field}: {}",
            stored[field]
        );
        assert_eq!(stored[field]["bi"].as_str().map(str::len), Some(64));
    }
    assert!(stored["members"][0]["id_number"]["enc"].is_string());
    assert!(
        stored["members"][0]["id_number"].get("bi").is_none(),
        "nested values carry no blind index"
    );
    assert_eq!(
        stored["applicant_name"], "张三",
        "other fields stay as they are"
    );

    let all = everything_stored(&app).await;
    assert!(
        ![ID, PHONE, CARD].iter().any(|c| all.contains(c)),
        "no table holds a clear value"
    );
    if app.db().dialect() == form_runtime::sql::Dialect::Sqlite {
        // The database file itself (and its write-ahead log), byte for byte.
        for entry in std::fs::read_dir(app.data_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("formwork.db"))
            {
                let bytes = std::fs::read(&path).unwrap();
                for clear in [ID, PHONE, CARD] {
                    assert!(
                        !bytes.windows(clear.len()).any(|w| w == clear.as_bytes()),
                        "{clear} in {}",
                        path.display()
                    );
                }
            }
        }
    }

    // The tenant's keys are stored wrapped: another master key cannot open them.
    let stranger =
        formwork::crypto::Keyring::new(formwork::crypto::MasterKey::from_bytes([0x42; 16]));
    assert!(stranger.check(app.db()).await.is_err());
    assert!(app.state.keys.check(app.db()).await.is_ok());
}

#[tokio::test]
async fn district_roles_see_masks_and_the_city_reviewer_sees_clear_values_audited() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let district = app.login("redcross", "pudong_reviewer").await;
    let city = app.login("redcross", "city_reviewer").await;

    let rec = staff.create(application("张三"), Some("submit")).await;
    let id = rec["id"].as_str().unwrap().to_string();
    let masked = json!({
        "id_number": "110105********002X",
        "phone": "138****5678",
        "bank_account": "***************0128",
    });
    // The clerk pays by bank transfer: the account in clear (unmask:bank_account), the rest
    // masked.
    for field in ["id_number", "phone"] {
        assert_eq!(rec["data"][field], masked[field], "create answer");
    }
    assert_eq!(rec["data"]["bank_account"], CARD, "create answer");
    assert_eq!(rec["data"]["members"][0]["id_number"], "110105********002X");
    assert_eq!(rec["data"]["applicant_name"], "张三");

    let (s, got) = district.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    for field in ["id_number", "phone", "bank_account"] {
        assert_eq!(got["data"][field], masked[field], "district reviewer get");
    }
    let listed = list(&staff, "").await;
    assert_eq!(
        listed["items"][0]["data"]["id_number"],
        "110105********002X"
    );
    let (_, inbox) = district.get("/api/v1/inbox").await;
    assert_eq!(inbox["items"][0]["id"], id.as_str());
    assert_eq!(inbox["items"][0]["data"]["id_number"], "110105********002X");
    assert_eq!(
        inbox["items"][0]["data"]["bank_account"],
        "***************0128"
    );
    let entries = unmask_entries(&app, &id).await;
    assert_eq!(
        entries
            .iter()
            .map(|e| e["fields"].clone())
            .collect::<Vec<_>>(),
        [json!(["/bank_account"])],
        "masked reads are not unmasking; the clerk's account in clear is"
    );

    // The city reviewer holds `unmask`: clear values, and the audit log says so.
    let (s, got) = city.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            got["data"]["id_number"].as_str(),
            got["data"]["phone"].as_str(),
            got["data"]["bank_account"].as_str()
        ),
        (Some(ID), Some(PHONE), Some(CARD))
    );
    assert_eq!(got["data"]["members"][0]["id_number"], ID);
    let entries = unmask_entries(&app, &id).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[1]["via"], "record");
    let fields: Vec<&str> = entries[1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for f in [
        "/id_number",
        "/phone",
        "/bank_account",
        "/members/0/id_number",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }

    let listed = list(&city, "").await;
    assert_eq!(listed["items"][0]["data"]["id_number"], ID);
    let entries = unmask_entries(&app, &id).await;
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[2]["via"], "list:fire_relief_all");
    assert_eq!(
        entries[2]["fields"],
        json!(["/id_number"]),
        "only the shown column"
    );

    let (s, _) = district
        .fire(&id, "approve", json!({"comment": "情况属实"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, inbox) = city.get("/api/v1/inbox").await;
    assert_eq!(inbox["items"][0]["data"]["phone"], PHONE);
    assert_eq!(unmask_entries(&app, &id).await[3]["via"], "inbox");

    formwork::store::audit::seal(app.db()).await.unwrap();
    let verified = formwork::store::audit::verify(app.db(), "redcross")
        .await
        .unwrap();
    assert!(verified.holds(), "audit chain holds: {verified:?}");
}

#[tokio::test]
async fn exact_search_by_id_number_finds_the_record_within_scope() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let other_district = app.login("redcross", "huangpu_staff").await;
    let city = app.login("redcross", "city_reviewer").await;

    let a = staff.create(application("张三"), None).await;
    let other_id = id_number("31011519800101123");
    let mut b = application("李四");
    b["id_number"] = json!(other_id);
    let b = staff.create(b, None).await;

    let found = list(&staff, &format!("filter[id_number]={ID}")).await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["id"], a["id"]);
    assert_eq!(found["items"][0]["data"]["id_number"], "110105********002X");
    // Exact value, ignoring letter case and spaces.
    let found = list(&staff, "filter[id_number]=11010519491231002x%20").await;
    assert_eq!(found["items"][0]["id"], a["id"]);
    let found = list(&staff, &format!("filter[id_number]={other_id}")).await;
    assert_eq!(
        (found["total"].as_i64(), &found["items"][0]["id"]),
        (Some(1), &b["id"])
    );

    let absent = list(
        &staff,
        &format!("filter[id_number]={}", id_number("11010519800101001")),
    )
    .await;
    assert_eq!(absent["total"], 0);
    let prefix = list(&staff, "filter[id_number]=110105").await;
    assert_eq!(prefix["total"], 0, "only the exact value matches");
    let out_of_scope = list(&other_district, &format!("filter[id_number]={ID}")).await;
    assert_eq!(out_of_scope["total"], 0, "another district does not see it");
    let found = list(&city, &format!("filter[id_number]={ID}")).await;
    assert_eq!(
        (
            found["total"].as_i64(),
            found["items"][0]["data"]["id_number"].as_str()
        ),
        (Some(1), Some(ID))
    );

    // The blind-index filter is answered from the list's expression index.
    let (list_def, _) = app
        .state
        .catalog
        .list(app.db(), "redcross", "fire_relief_all")
        .await
        .unwrap()
        .unwrap();
    let q = list_def
        .parse_query(&[("filter[id_number]".to_string(), "00".repeat(32))])
        .unwrap();
    let mut sql = form_runtime::sql::Sql::new(app.db().dialect());
    sql.push("select record_id from records where tenant_id = ")
        .bind_text("redcross")
        .push(" and form_key = ")
        .bind_text("fire_relief");
    list_def.push_filters(&q, &mut sql);
    let plan = query_plan(&app, &sql).await;
    assert!(
        plan.contains("records_x") && !plan.contains("Seq Scan") && !plan.contains("SCAN records"),
        "{plan}"
    );

    let (s, body) = staff
        .get("/api/v1/lists/fire_relief_all?sort=id_number")
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "sealed values cannot be sorted: {body}"
    );
}

#[tokio::test]
async fn an_invalid_sensitive_value_is_refused_at_its_pointer_before_sealing() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let mut data = application("张三");
    data["id_number"] = json!("110105194912310021"); // wrong check digit
    let (s, body) = staff
        .post(
            "/api/v1/forms/fire_relief/records",
            json!({"data": data, "action": "submit"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["pointer"], "/id_number");
    assert_eq!(body["error"]["fields"][0]["rule"], "format");
    assert!(
        !body.to_string().contains("110105194912310021"),
        "the error does not echo the value: {body}"
    );
    assert_eq!(app.count("records", "redcross").await, 0);
}

#[tokio::test]
async fn editing_keeps_sealed_values_readable_and_the_history_holds_no_clear_value() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let city = app.login("redcross", "city_reviewer").await;
    let rec = staff.create(application("张三"), None).await;
    let id = rec["id"].as_str().unwrap().to_string();

    // A client that sends the masked ID number back has not changed it.
    let new_member_id = id_number("31011519800101123");
    let (s, body) = staff
        .patch(
            &format!("/api/v1/records/{id}"),
            json!({"version": 1, "data": {
                "phone": "13900001111",
                "id_number": "110105********002X",
                "loss_amount": 48000,
                "members": [{"name": "张三", "relation": "本人", "id_number": new_member_id}]
            }}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["phone"], "139****1111");

    let (_, got) = city.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(got["data"]["phone"], "13900001111");
    assert_eq!(
        got["data"]["id_number"], ID,
        "the mask did not overwrite the value"
    );
    assert_eq!(got["data"]["bank_account"], CARD);
    assert_eq!(
        got["data"]["members"][0]["id_number"],
        new_member_id.as_str()
    );
    assert_eq!(got["data"]["loss_amount"], 48000);

    let (_, events) = staff.get(&format!("/api/v1/records/{id}/events")).await;
    let changes = &events["items"][1]["changes"];
    assert_eq!(changes["phone"], json!(["***", "***"]));
    assert_eq!(changes["loss_amount"], json!([52000.5, 48000]));
    assert!(changes.get("id_number").is_none(), "unchanged: {changes}");
    assert_eq!(changes["members"][1][0]["id_number"], "***");
    let all = everything_stored(&app).await;
    for clear in ["13900001111", PHONE, ID, new_member_id.as_str()] {
        assert!(!all.contains(clear), "{clear} stored in clear");
    }

    // Sealed anew on every write, and still exact-searchable after the edit.
    let (s, _) = staff.fire(&id, "submit", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let found = list(&staff, &format!("filter[id_number]={ID}")).await;
    assert_eq!(found["total"], 1);
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_place_does_not_open() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let city = app.login("redcross", "city_reviewer").await;
    let a = staff.create(application("张三"), None).await;
    let mut other = application("李四");
    other["id_number"] = json!(id_number("31011519800101123"));
    let b = staff.create(other, None).await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    // (The clerk's own answers showed the bank accounts, audited; count from here.)
    let shown = unmask_entries(&app, a).await.len() + unmask_entries(&app, b).await.len();

    // Copy A's sealed ID number (with its blind index) into B, as someone with write access
    // to the database could.
    let stolen: Value =
        serde_json::from_str::<Value>(&raw_data(&app, a).await).unwrap()["id_number"].clone();
    let mut forged: Value = serde_json::from_str(&raw_data(&app, b).await).unwrap();
    forged["id_number"] = stolen.clone();
    let sql = format!(
        "update records set data = {} where record_id = $2",
        json_param(app.db().dialect(), 1)
    );
    sqlx::query(&sql)
        .bind(forged.to_string())
        .bind(b)
        .execute(app.db().pool())
        .await
        .unwrap();

    for reader in [&city, &staff] {
        let (s, body) = reader.get(&format!("/api/v1/records/{b}")).await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        assert!(!body.to_string().contains(ID), "{body}");
    }
    let (s, body) = city
        .get(&format!(
            "/api/v1/lists/fire_relief_all?filter[id_number]={ID}"
        ))
        .await;
    assert_eq!(
        s,
        StatusCode::INTERNAL_SERVER_ERROR,
        "the forged row is found, never shown: {body}"
    );
    assert!(!body.to_string().contains(ID));
    let (s, _) = staff
        .patch(
            &format!("/api/v1/records/{b}"),
            json!({"version": 1, "data": {"loss_amount": 1}}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::INTERNAL_SERVER_ERROR,
        "a forged record is not rewritten"
    );

    // Within one record, a value moved to another field does not open either.
    let mut moved: Value = serde_json::from_str(&raw_data(&app, a).await).unwrap();
    moved["phone"] = moved["id_number"].clone();
    sqlx::query(&sql)
        .bind(moved.to_string())
        .bind(a)
        .execute(app.db().pool())
        .await
        .unwrap();
    let (s, _) = city.get(&format!("/api/v1/records/{a}")).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        unmask_entries(&app, a).await.len() + unmask_entries(&app, b).await.len(),
        shown,
        "nothing was shown"
    );
}

#[tokio::test]
async fn an_upgrade_report_never_echoes_sensitive_values_of_dropped_fields() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let draft = staff.create(application("张三"), None).await;
    let id = draft["id"].as_str().unwrap();

    // Version 2 allows one household member: the draft's two no longer fit.
    let mut files = formwork::seed::builtin_pack("red-cross").unwrap();
    let mut schema: Value = serde_json::from_slice(&files.0["forms/fire_relief.json"]).unwrap();
    schema["properties"]["members"]["maxItems"] = json!(1);
    files.0.insert(
        "forms/fire_relief.json".into(),
        serde_json::to_vec(&schema).unwrap(),
    );
    let pack = form_runtime::pack::Pack::load(&files).expect("changed pack is valid");
    let mut tx = app.db().begin().await.unwrap();
    formwork::store::packs::install(&mut tx, "redcross", &pack, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    app.state.catalog.invalidate("redcross");

    let (s, report) = staff
        .post(
            &format!("/api/v1/records/{id}/upgrade"),
            json!({"dry_run": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    let members = report["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["field"] == "members")
        .unwrap_or_else(|| panic!("members dropped: {report}"));
    assert_eq!(members["value"][0]["id_number"], "***");
    assert_eq!(members["value"][0]["name"], "张三", "the rest is shown");
    assert!(!report.to_string().contains(ID), "{report}");
}
