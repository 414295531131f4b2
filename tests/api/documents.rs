//! Printable documents: rendered from the pack's templates with values escaped, masked for
//! readers without `unmask`, offered only in the states the pack names, and audited.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{application, TestApp};

#[tokio::test]
async fn documents_render_escaped_masked_and_only_in_their_states() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let district = app.login("redcross", "pudong_reviewer").await;
    let city = app.login("redcross", "city_reviewer").await;
    let finance = app.login("redcross", "finance").await;
    let mut data = application("<b>张三</b>");
    data["loss_desc"] = json!("<script>alert('x')</script>厨房烧毁");
    let rec = staff.create(data, Some("submit")).await;
    let id = rec["id"].as_str().unwrap();

    let (s, list) = staff.get(&format!("/api/v1/records/{id}/documents")).await;
    assert_eq!(s, StatusCode::OK);
    let available: Vec<(String, bool)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["key"].as_str().unwrap().to_string(),
                d["available"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        available,
        [
            ("application_summary".to_string(), true),
            ("receipt".to_string(), false)
        ]
    );

    let (s, html) = staff
        .get(&format!(
            "/api/v1/records/{id}/documents/application_summary"
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    let html = html.as_str().unwrap();
    assert!(
        html.contains("&lt;b&gt;张三&lt;&#x2f;b&gt;") && !html.contains("<script>"),
        "values are escaped"
    );
    assert!(
        html.contains("110105********002X") && !html.contains("11010519491231002X"),
        "masked for district staff"
    );
    assert!(html.contains("火灾救助申请审批表"));

    assert_eq!(
        staff
            .get(&format!("/api/v1/records/{id}/documents/receipt"))
            .await
            .0,
        StatusCode::CONFLICT
    );
    district.fire(id, "approve", json!({})).await;
    city.fire(id, "approve", json!({"data": {"approved_amount": 8000}}))
        .await;
    finance.fire(id, "allocate", json!({"data": {"allocated_amount": 8000, "allocation_date": "2026-11-20", "voucher_no": "BF-1", "fund_source": "人道救助基金·火灾应急救助专项"}})).await;
    let (s, receipt) = city
        .get(&format!("/api/v1/records/{id}/documents/receipt"))
        .await;
    assert_eq!(s, StatusCode::OK);
    let receipt = receipt.as_str().unwrap();
    assert!(
        receipt.contains("救助款签收单")
            && receipt.contains("8,000.00")
            && receipt.contains("BF-1")
    );
    assert!(
        receipt.contains("11010519491231002X"),
        "the city reviewer may unmask"
    );
    assert_eq!(
        city.get(&format!("/api/v1/records/{id}/documents/nope"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let entries = formwork::store::audit::recent(app.db(), "redcross", 50)
        .await
        .unwrap();
    let printed = entries
        .iter()
        .filter(|e| e.action == "record.document")
        .count();
    assert_eq!(printed, 2);
    assert!(entries
        .iter()
        .any(|e| e.action == "record.unmask" && e.detail.to_string().contains("document:receipt")));
}
