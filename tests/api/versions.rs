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
    schema["properties"]["shelter_address"] =
        json!({"type": "string", "title": "过渡安置地址", "minLength": 1});
    schema["required"]
        .as_array_mut()
        .unwrap()
        .push(json!("shelter_address"));
    files.0.insert(
        "forms/fire_relief.json".into(),
        serde_json::to_vec(&schema).unwrap(),
    );
    let mut wf: serde_json::Value =
        serde_json::from_slice(&files.0["workflows/relief.json"]).unwrap();
    wf["states"][0]["edit"]["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!("shelter_address"));
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
    // Every form of the changed workflow (relief.json serves five projects) is republished;
    // fire relief, whose schema changed too, among them.
    assert!(
        report.published.contains(&("fire_relief".to_string(), 2)),
        "{:?}",
        report.published
    );

    let (_, form) = staff.get("/api/v1/forms/fire_relief").await;
    assert_eq!(form["version"], 2);
    // The old draft still submits under version 1, which knows no shelter_address.
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
    assert_eq!(body["error"]["fields"][0]["pointer"], "/shelter_address");
    let mut data = application("新版本");
    data["shelter_address"] = json!("花木街道临时安置点");
    let new = staff.create(data, Some("submit")).await;
    assert_eq!(new["form_version"], 2);
}

#[tokio::test]
async fn version_history_and_diff_show_what_a_new_version_changed() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    publish_v2(&app).await;

    let (s, history) = staff.get("/api/v1/forms/fire_relief/versions").await;
    assert_eq!(s, StatusCode::OK, "{history}");
    let versions: Vec<i64> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2]);
    assert_eq!(history["items"][1]["pack_id"], "red-cross");
    let (s, diff) = staff.get("/api/v1/forms/fire_relief/versions/2/diff").await;
    assert_eq!(s, StatusCode::OK, "{diff}");
    assert_eq!(diff["from"], 1);
    assert_eq!(diff["diff"]["added"], json!(["shelter_address"]));
    assert_eq!(diff["diff"]["removed"], json!(["fire_cause"]));
    assert_eq!(diff["diff"]["changed"][0]["field"], "street");
    assert_eq!(diff["diff"]["changed"][0]["to"]["maxLength"], 20);
    assert!(diff["diff"]["other_changes"]
        .as_array()
        .unwrap()
        .contains(&json!("workflow")));
    assert_eq!(
        staff
            .get("/api/v1/forms/fire_relief/versions/9/diff")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let volunteer = app.login("volunteer", "admin").await;
    assert_eq!(
        volunteer.get("/api/v1/forms/fire_relief/versions").await.0,
        StatusCode::NOT_FOUND
    );
}

/// Installs a version 2 of fire_relief: `shelter_address` added, `street` at most 20
/// characters, `fire_cause` removed.
async fn publish_v2(app: &TestApp) {
    let mut files = formwork::seed::builtin_pack("red-cross").unwrap();
    let mut schema: serde_json::Value =
        serde_json::from_slice(&files.0["forms/fire_relief.json"]).unwrap();
    schema["properties"]["shelter_address"] =
        json!({"type": "string", "title": "过渡安置地址", "minLength": 1});
    schema["properties"]["street"]["maxLength"] = json!(20);
    schema["properties"]
        .as_object_mut()
        .unwrap()
        .remove("fire_cause");
    files.0.insert(
        "forms/fire_relief.json".into(),
        serde_json::to_vec(&schema).unwrap(),
    );
    let mut wf: serde_json::Value =
        serde_json::from_slice(&files.0["workflows/relief.json"]).unwrap();
    let edit = wf["states"][0]["edit"]["fields"].as_array_mut().unwrap();
    edit.retain(|f| f != "fire_cause");
    edit.push(json!("shelter_address"));
    files.0.insert(
        "workflows/relief.json".into(),
        serde_json::to_vec(&wf).unwrap(),
    );
    // Templates that lay out the dropped field drop its column too, as a pack author would.
    for t in [
        "exports/fire_relief_full.json",
        "imports/fire_relief_full.json",
    ] {
        let mut v: serde_json::Value = serde_json::from_slice(&files.0[t]).unwrap();
        v["columns"]
            .as_array_mut()
            .unwrap()
            .retain(|c| c["field"] != "fire_cause");
        files.0.insert(t.into(), serde_json::to_vec(&v).unwrap());
    }
    // So does the demo data, which generates the dropped field.
    files.0.retain(|path, _| !path.starts_with("demo/"));
    let pack = form_runtime::pack::Pack::load(&files).expect("changed pack is valid");
    let mut tx = app.db().begin().await.unwrap();
    formwork::store::packs::install(&mut tx, "redcross", &pack, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    app.state.catalog.invalidate("redcross");
}

#[tokio::test]
async fn a_draft_moves_to_the_new_version_with_a_report_of_what_did_not_fit() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let mut data = application("升级草稿");
    data["street"] = json!("一个远远超过二十个字符长度限制的街道名称用于测试升级");
    let draft = staff.create(data, None).await;
    let submitted = staff.create(application("已提交"), Some("submit")).await;
    let id = draft["id"].as_str().unwrap();
    assert_eq!(
        staff
            .post(&format!("/api/v1/records/{id}/upgrade"), json!({}))
            .await
            .0,
        StatusCode::CONFLICT,
        "nothing newer yet"
    );
    publish_v2(&app).await;

    let (s, report) = staff
        .post(
            &format!("/api/v1/records/{id}/upgrade"),
            json!({"dry_run": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    let dropped: Vec<&str> = report["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(dropped, ["fire_cause", "street"]);
    assert_eq!(report["written"], false);
    let (_, unchanged) = staff.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(
        (
            unchanged["form_version"].as_i64(),
            unchanged["version"].as_i64()
        ),
        (Some(1), Some(1))
    );

    let (s, done) = staff
        .post(
            &format!("/api/v1/records/{id}/upgrade"),
            json!({"version": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(
        (done["from_version"].as_i64(), done["to_version"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(done["record"]["form_version"], 2);
    assert!(
        done["record"]["data"].get("fire_cause").is_none()
            && done["record"]["data"].get("street").is_none()
    );
    assert_eq!(done["record"]["data"]["applicant_name"], "升级草稿");
    // The draft now validates against version 2 and submits under it.
    let (s, sub) = staff.fire(id, "submit", json!({"data": {}})).await;
    assert_eq!(
        (s, sub["form_version"].as_i64()),
        (StatusCode::OK, Some(2)),
        "{sub}"
    );
    let (_, events) = staff.get(&format!("/api/v1/records/{id}/events")).await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["create", "upgrade", "transition"]);

    // Only a draft moves.
    let sid = submitted["id"].as_str().unwrap();
    assert_eq!(
        staff
            .post(&format!("/api/v1/records/{sid}/upgrade"), json!({}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}
