//! Lists filter, sort and page within the user's scope, and refuse what they do not offer.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{application, TestApp};

#[tokio::test]
async fn list_filters_sorts_and_pages_with_a_total() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    for (i, street) in ["花木街道", "陆家嘴街道", "花木街道", "张江镇", "花木街道"]
        .iter()
        .enumerate()
    {
        let mut d = application(&format!("申请人{i}"));
        d["street"] = json!(street);
        d["requested_amount"] = json!(1000 * (i + 1));
        staff.create(d, None).await;
    }
    let (s, page1) = staff.get("/api/v1/lists/fire_relief_all?filter[street]=%E8%8A%B1%E6%9C%A8%E8%A1%97%E9%81%93&page_size=2").await;
    assert_eq!(s, StatusCode::OK, "{page1}");
    assert_eq!(
        (
            page1["total"].as_i64(),
            page1["items"].as_array().unwrap().len()
        ),
        (Some(3), 2)
    );
    // Newest first by default.
    assert_eq!(page1["items"][0]["data"]["applicant_name"], "申请人4");
    let (_, page2) = staff.get("/api/v1/lists/fire_relief_all?filter[street]=%E8%8A%B1%E6%9C%A8%E8%A1%97%E9%81%93&page_size=2&page=2").await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["items"][0]["data"]["applicant_name"], "申请人0");

    let (_, sorted) = staff
        .get("/api/v1/lists/fire_relief_all?sort=-requested_amount")
        .await;
    let amounts: Vec<i64> = sorted["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["data"]["requested_amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [5000, 4000, 3000, 2000, 1000]);
    let (_, by_state) = staff
        .get("/api/v1/lists/fire_relief_all?filter[state]=draft")
        .await;
    assert_eq!(by_state["total"], 5);
    assert_eq!(by_state["list"]["columns"][0]["label"], "申请编号");
    assert_eq!(by_state["list"]["columns"][1]["label"], "申请人姓名");
}

#[tokio::test]
async fn list_refuses_undeclared_filters_sorts_and_page_sizes() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let (s, body) = staff
        .get("/api/v1/lists/fire_relief_all?filter[bank_account]=1&sort=members&page_size=1000")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let pointers: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        [
            "/query/filter[bank_account]",
            "/query/page_size",
            "/query/sort"
        ]
    );
    assert_eq!(
        staff.get("/api/v1/lists/nope").await.0,
        StatusCode::NOT_FOUND
    );
    let (_, empty) = staff.get("/api/v1/lists/fire_relief_all").await;
    assert_eq!(
        (
            empty["total"].as_i64(),
            empty["items"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn forms_show_schema_workflow_and_the_users_actions() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let (_, forms) = staff.get("/api/v1/forms").await;
    assert!(
        forms["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["key"] == "fire_relief"),
        "{forms}"
    );
    let (s, form) = staff.get("/api/v1/forms/fire_relief").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        form["schema"]["properties"]["id_number"]["format"],
        "id_number"
    );
    assert_eq!(form["workflow"]["initial"], "draft");
    assert_eq!(
        form["lists"],
        json!(["fire_relief_all", "fire_relief_monitor"])
    );
    assert!(form["actions"]
        .as_array()
        .unwrap()
        .contains(&json!("submit")));
    assert!(!form["actions"]
        .as_array()
        .unwrap()
        .contains(&json!("approve")));
    let volunteer = app.login("volunteer", "admin").await;
    let (_, none) = volunteer.get("/api/v1/forms").await;
    assert_eq!(
        none["items"],
        json!([]),
        "the volunteer tenant has no red-cross form"
    );
    assert_eq!(
        volunteer.get("/api/v1/forms/fire_relief").await.0,
        StatusCode::NOT_FOUND
    );
}
