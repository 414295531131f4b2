//! Installing a changed pack publishes a new form version; records already filed keep and are
//! validated against the version they were written with, new records take the new one.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{application, TestApp};

#[tokio::test]
async fn changed_form_is_a_new_version_and_old_records_keep_theirs() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let old = staff.create(application("旧版本"), None).await;
    assert_eq!(old["form_version"], 1);

    // The new version requires a field the old one did not have.
    let mut files = formwork::seed::builtin_pack("red-cross").unwrap();
    let mut schema: serde_json::Value =
        serde_json::from_slice(&files.0["forms/fire_relief.json"]).unwrap();
    schema["properties"]["household_size"] =
        json!({"type": "integer", "title": "家庭人口", "minimum": 1});
    schema["required"]
        .as_array_mut()
        .unwrap()
        .push(json!("household_size"));
    files.0.insert(
        "forms/fire_relief.json".into(),
        serde_json::to_vec(&schema).unwrap(),
    );
    let mut wf: serde_json::Value =
        serde_json::from_slice(&files.0["workflows/relief.json"]).unwrap();
    wf["states"][0]["edit"]["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!("household_size"));
    files.0.insert(
        "workflows/relief.json".into(),
        serde_json::to_vec(&wf).unwrap(),
    );
    let pack = form_runtime::pack::Pack::load(&files).expect("changed pack is valid");
    let mut tx = app.db().begin().await.unwrap();
    let report = formwork::store::packs::install(&mut tx, "redcross", &pack, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    app.state.catalog.invalidate("redcross");
    assert_eq!(report.published, [("fire_relief".to_string(), 2)]);

    let (_, form) = staff.get("/api/v1/forms/fire_relief").await;
    assert_eq!(form["version"], 2);
    // The old draft still submits under version 1, which knows no household_size.
    let (s, body) = staff
        .fire(old["id"].as_str().unwrap(), "submit", json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["form_version"], 1);
    // A new record is written with version 2 and needs the new field.
    let (s, body) = staff
        .post(
            "/api/v1/forms/fire_relief/records",
            json!({"data": application("新版本"), "action": "submit"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["pointer"], "/household_size");
    let mut data = application("新版本");
    data["household_size"] = json!(3);
    let new = staff.create(data, Some("submit")).await;
    assert_eq!(new["form_version"], 2);
}
