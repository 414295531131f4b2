//! The fire-relief application goes from a district's draft to disbursement, through a
//! rejection and a resubmission, and its history names every step's actor, time and comment.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{application, TestApp};

#[tokio::test]
async fn fire_relief_application_goes_from_draft_to_allocation_with_full_history() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let district = app.login("redcross", "pudong_reviewer").await;
    let city = app.login("redcross", "city_reviewer").await;
    let finance = app.login("redcross", "finance").await;

    // A district user files and submits in one request.
    let rec = staff.create(application("张三"), Some("submit")).await;
    let id = rec["id"].as_str().unwrap().to_string();
    assert_eq!(rec["state"], "submitted");
    // Computed by the server from the data: two household members, the age from the ID number.
    assert_eq!(rec["data"]["household_size"], 2);
    assert!(
        rec["data"]["applicant_age"]
            .as_i64()
            .is_some_and(|a| a >= 76),
        "{rec}"
    );
    assert_eq!(
        rec["actions"],
        json!(["withdraw"]),
        "the filer may only recall a submitted record, while nobody has acted"
    );

    // The district reviewer finds it in the inbox and returns it for correction; a reason
    // is required (for a refusal too).
    let (_, inbox) = district.get("/api/v1/inbox").await;
    assert_eq!(inbox["total"], 1);
    assert_eq!(inbox["items"][0]["id"], id);
    assert_eq!(
        inbox["items"][0]["actions"],
        json!(["approve", "reject", "return"])
    );
    for action in ["reject", "return"] {
        let (s, body) = district.fire(&id, action, json!({"comment": "  "})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["fields"][0]["pointer"], "/comment");
    }
    let (s, body) = district
        .fire(&id, "return", json!({"comment": "请补充损失金额明细"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "draft");

    // Back with the filer: correct, then resubmit.
    let (_, inbox) = staff.get("/api/v1/inbox").await;
    assert_eq!(inbox["items"][0]["id"], id);
    let (s, body) = staff.patch(&format!("/api/v1/records/{id}"), json!({"version": body["version"], "data": {"loss_amount": 48000, "loss_desc": "厨房家具家电烧毁，明细见附件"}})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["loss_amount"], 48000);
    let (s, body) = staff.fire(&id, "submit", json!({})).await;
    assert_eq!(
        (s, body["state"].as_str()),
        (StatusCode::OK, Some("submitted"))
    );

    // Both reviews approve; the city fixes the approved amount with its approval.
    let (s, body) = district
        .fire(&id, "approve", json!({"comment": "情况属实"}))
        .await;
    assert_eq!(
        (s, body["state"].as_str()),
        (StatusCode::OK, Some("district_approved")),
        "{body}"
    );
    let (_, inbox) = district.get("/api/v1/inbox").await;
    assert_eq!(inbox["total"], 0, "nothing left for the district");
    let (_, inbox) = city.get("/api/v1/inbox").await;
    assert_eq!(inbox["items"][0]["id"], id);
    let (s, body) = city
        .fire(&id, "approve", json!({"data": {"approved_amount": 8000}}))
        .await;
    assert_eq!(
        (s, body["state"].as_str()),
        (StatusCode::OK, Some("city_approved")),
        "{body}"
    );
    assert_eq!(body["data"]["approved_amount"], 8000);

    // Finance allocates.
    let (s, body) = finance
        .fire(&id, "allocate", json!({"data": {"allocated_amount": 8000, "allocation_date": "2026-11-20", "voucher_no": "BF-2026-0012", "fund_source": "人道救助基金·火灾应急救助专项"}}))
        .await;
    assert_eq!(
        (s, body["state"].as_str()),
        (StatusCode::OK, Some("allocated")),
        "{body}"
    );
    assert_eq!(body["state_label"], "已拨付");
    // Allocation kept the receipt with the record; the city's approval told the filer.
    let (_, kept) = staff
        .get(&format!("/api/v1/records/{id}/kept-documents"))
        .await;
    assert_eq!(kept["items"][0]["key"], "receipt", "{kept}");
    let (_, told) = staff.get("/api/v1/notifications").await;
    let approved = told["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "message")
        .expect("a message");
    assert_eq!(approved["title"], "救助申请已获市红会批准");
    assert!(
        approved["body"].as_str().unwrap().contains("8000"),
        "{approved}"
    );

    // The history lists every step with actor, time and comment.
    let (s, events) = city.get(&format!("/api/v1/records/{id}/events")).await;
    assert_eq!(s, StatusCode::OK);
    let steps: Vec<(String, String, String)> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let what = e["action"]
                .as_str()
                .unwrap_or(e["kind"].as_str().unwrap())
                .to_string();
            (
                what,
                e["actor"]["username"].as_str().unwrap().to_string(),
                e["comment"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expect = [
        ("create", "pudong_staff", ""),
        ("submit", "pudong_staff", ""),
        ("return", "pudong_reviewer", "请补充损失金额明细"),
        ("update", "pudong_staff", ""),
        ("submit", "pudong_staff", ""),
        ("approve", "pudong_reviewer", "情况属实"),
        ("approve", "city_reviewer", ""),
        ("allocate", "finance", ""),
    ];
    let expect: Vec<(String, String, String)> = expect
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(steps, expect);
    for e in events["items"].as_array().unwrap() {
        assert!(
            e["at"]
                .as_str()
                .is_some_and(|t| t.starts_with("20") && t.ends_with('Z')),
            "{e}"
        );
    }
    assert_eq!(
        events["items"][3]["changes"]["loss_amount"],
        json!([52000.5, 48000])
    );
    assert_eq!(events["items"][2]["to"], "draft");

    // The audit chain holds and verifies.
    formwork::store::audit::seal(app.db()).await.unwrap();
    let verified = formwork::store::audit::verify(app.db(), "redcross")
        .await
        .unwrap();
    assert!(
        verified.holds() && verified.sealed > 10 && verified.unsealed == 0,
        "{verified:?}"
    );
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let (s, me) = staff.get("/api/v1/me").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["org_unit"]["path"], "/shrc/pudong/");
    assert_eq!(me["roles"], json!(["district_staff"]));
    let (s, _) = staff.post("/api/v1/auth/logout", json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, body) = staff.get("/api/v1/me").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn wrong_password_is_refused_and_repeated_failures_lock_the_account() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let bad = json!({"tenant": "redcross", "username": "finance", "password": "wrong"});
    let (s, body) = anon.post("/api/v1/auth/login", bad.clone()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(body["error"]["message"].is_string());
    let (s, _) = anon
        .post(
            "/api/v1/auth/login",
            json!({"tenant": "redcross", "username": "nobody", "password": "x"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "an unknown user looks like a wrong password"
    );
    for _ in 1..formwork::http::auth::MAX_FAILED_LOGINS {
        anon.post("/api/v1/auth/login", bad.clone()).await;
    }
    let (s, body) = anon.post("/api/v1/auth/login", json!({"tenant": "redcross", "username": "finance", "password": crate::harness::PASSWORD})).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "locked after repeated failures: {body}"
    );
}
