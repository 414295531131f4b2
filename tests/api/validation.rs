//! Bad input is refused with 422 naming every failing field by JSON pointer, and nothing is
//! written: no record, no event, no audit entry.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{application, TestApp};

async fn refused(app: &TestApp, data: Value, action: Option<&str>) -> Vec<(String, String)> {
    let staff = app.login("redcross", "pudong_staff").await;
    let before = (
        app.count("records", "redcross").await,
        app.count("audit_log", "redcross").await,
    );
    let (s, body) = staff
        .post(
            "/api/v1/forms/fire_relief/records",
            json!({"data": data, "action": action}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid");
    let after = (
        app.count("records", "redcross").await,
        app.count("audit_log", "redcross").await,
    );
    // The login wrote one audit entry before the request; the refused request wrote nothing.
    assert_eq!(after.0, before.0, "no record written");
    assert_eq!(after.1, before.1, "no audit entry written");
    body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert!(f["message"].as_str().is_some_and(|m| !m.is_empty()));
            (
                f["pointer"].as_str().unwrap().to_string(),
                f["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn invalid_id_number_is_422_at_its_pointer() {
    let app = TestApp::spawn().await;
    let mut data = application("赵六");
    data["id_number"] = json!("110105194912310021"); // wrong check digit
    assert_eq!(
        refused(&app, data, None).await,
        [("/id_number".to_string(), "format".to_string())]
    );
}

#[tokio::test]
async fn invalid_id_number_in_a_member_row_points_at_the_row() {
    let app = TestApp::spawn().await;
    let mut data = application("赵六");
    data["members"][1]["id_number"] = json!("11010519491331002X"); // month 13
    assert_eq!(
        refused(&app, data, Some("submit")).await,
        [("/members/1/id_number".to_string(), "format".to_string())]
    );
}

#[tokio::test]
async fn missing_required_field_on_submit_is_422_at_its_pointer() {
    let app = TestApp::spawn().await;
    let mut data = application("赵六");
    data.as_object_mut().unwrap().remove("applicant_name");
    data.as_object_mut().unwrap().remove("phone");
    let fields = refused(&app, data, Some("submit")).await;
    assert_eq!(
        fields,
        [
            ("/applicant_name".to_string(), "required".to_string()),
            ("/phone".to_string(), "required".to_string())
        ]
    );
}

#[tokio::test]
async fn wrong_type_is_422_at_its_pointer() {
    let app = TestApp::spawn().await;
    let mut data = application("赵六");
    data["loss_amount"] = json!("五万元");
    data["deaths"] = json!(1.5);
    let fields = refused(&app, data, None).await;
    assert_eq!(
        fields,
        [
            ("/deaths".to_string(), "type".to_string()),
            ("/loss_amount".to_string(), "type".to_string())
        ]
    );
}

#[tokio::test]
async fn applicant_cannot_set_review_fields_or_unknown_fields() {
    let app = TestApp::spawn().await;
    let mut data = application("赵六");
    data["approved_amount"] = json!(99999);
    assert_eq!(
        refused(&app, data, None).await,
        [("/approved_amount".to_string(), "readOnly".to_string())]
    );
    let mut data = application("赵六");
    data["favourite_colour"] = json!("red");
    assert_eq!(
        refused(&app, data, None).await,
        [("".to_string(), "additionalProperties".to_string())]
    );
}

#[tokio::test]
async fn a_draft_may_be_incomplete_but_submitting_it_needs_every_required_field() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let rec = staff
        .create(json!({"applicant_name": "草稿人"}), None)
        .await;
    assert_eq!(rec["state"], "draft");
    let id = rec["id"].as_str().unwrap();
    let (s, body) = staff.fire(id, "submit", json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let pointers: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["pointer"].as_str().unwrap())
        .collect();
    assert!(
        pointers.contains(&"/id_number") && pointers.contains(&"/bank_account"),
        "{pointers:?}"
    );
    let (_, again) = staff.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(
        (again["state"].as_str(), again["version"].as_i64()),
        (Some("draft"), Some(1))
    );
}

#[tokio::test]
async fn malformed_json_is_a_400_with_a_message() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let (s, body) = staff
        .post("/api/v1/forms/fire_relief/records", json!({"data": [1, 2]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (s, body) = staff
        .post("/api/v1/forms/fire_relief/records", json!({"dta": {}}))
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "unknown body keys are refused: {body}"
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("dta"));
    let (s, _) = staff
        .post("/api/v1/forms/no_such_form/records", json!({"data": {}}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
