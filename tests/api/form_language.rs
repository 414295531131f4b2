//! The form language through the API: repeating sections, computed values, conditions,
//! decimals, catalogues, references, rich text, agreements, message overrides and languages.
//! Uses the `showcase` fixture pack (tests/fixtures/showcase), which uses every keyword.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{Session, TestApp};

fn showcase() -> form_runtime::pack::PackFiles {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/showcase");
    form_runtime::pack::PackFiles::from_dir(&dir).expect("fixture pack")
}

async fn agency(app: &TestApp, tenant: &str) -> (Session, Session, Session) {
    app.tenant_with_files(
        tenant,
        &showcase(),
        &[
            ("applicant", "district", "applicant+expert_viewer"),
            ("keeper", "root", "expert_keeper"),
            ("reviewer", "root", "reviewer"),
        ],
    )
    .await;
    (
        app.login(tenant, "applicant").await,
        app.login(tenant, "keeper").await,
        app.login(tenant, "reviewer").await,
    )
}

fn expert() -> Value {
    json!({"name": "王专家", "title": "正高级", "specialties": ["law", "finance"], "region": "310115", "agreed": true})
}

async fn new_expert(keeper: &Session) -> String {
    let (s, body) = keeper
        .post("/api/v1/forms/expert/records", json!({"data": expert()}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

fn budget(expert_id: &str) -> Value {
    json!({
        "title": "应急救护培训",
        "lead_expert": expert_id,
        "contact_mobile": "13912345678",
        "start_date": "2026-03-01",
        "end_date": "2026-04-30",
        "items": [{"name": "教材", "quantity": 3, "unit_price": 0.1}, {"name": "场地", "quantity": 1, "unit_price": 0.2}],
        "has_travel": false
    })
}

async fn submit(who: &Session, data: Value) -> (StatusCode, Value) {
    who.post(
        "/api/v1/forms/project_budget/records",
        json!({"data": data, "action": "submit"}),
    )
    .await
}

fn pointers(body: &Value) -> Vec<(String, String)> {
    body["error"]["fields"].as_array().map_or(Vec::new(), |f| {
        f.iter()
            .map(|e| {
                (
                    e["pointer"].as_str().unwrap_or("").to_string(),
                    e["rule"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    })
}

fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn computed_values_are_recomputed_exactly_and_a_forged_total_is_replaced() {
    let app = TestApp::spawn().await;
    let (applicant, keeper, _) = agency(&app, "agency").await;
    let e = new_expert(&keeper).await;
    let mut data = budget(&e);
    data["total"] = json!(999999);
    data["items"][0]["subtotal"] = json!(500);
    data["duration_days"] = json!(1);
    let (s, rec) = submit(&applicant, data).await;
    assert_eq!(s, StatusCode::CREATED, "{rec}");
    // 3 × 0.1 + 1 × 0.2 is exactly 0.5, not 0.5000000000000001.
    assert_eq!(rec["data"]["items"][0]["subtotal"], json!(0.3));
    assert_eq!(rec["data"]["total"], json!(0.5));
    assert_eq!(rec["data"]["duration_days"], json!(60));
    let (_, stored) = applicant
        .get(&format!("/api/v1/records/{}", rec["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        stored["data"]["total"],
        json!(0.5),
        "the server's value is what is stored"
    );
}

#[tokio::test]
async fn repeating_section_errors_point_at_the_row_and_rows_are_bounded() {
    let app = TestApp::spawn().await;
    let (applicant, keeper, _) = agency(&app, "agency").await;
    let e = new_expert(&keeper).await;
    let mut data = budget(&e);
    data["items"][1]["quantity"] = json!(0);
    data["items"][0]["unit_price"] = json!(12.345);
    let (s, body) = submit(&applicant, data).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        pointers(&body),
        p(&[
            ("/items/0/unit_price", "decimals"),
            ("/items/1/quantity", "minimum")
        ])
    );

    let mut data = budget(&e);
    data["items"] = json!((0..6)
        .map(|i| json!({"name": format!("科目{i}"), "quantity": 1, "unit_price": 1}))
        .collect::<Vec<_>>());
    let (s, body) = submit(&applicant, data).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pointers(&body), p(&[("/items", "maxItems")]));
    assert_eq!(
        app.count("records", "agency").await,
        1,
        "only the expert exists; nothing else was written"
    );
}

#[tokio::test]
async fn hidden_field_is_neither_required_nor_kept_and_a_visible_one_is_required() {
    let app = TestApp::spawn().await;
    let (applicant, keeper, _) = agency(&app, "agency").await;
    let e = new_expert(&keeper).await;
    // travel_plan is in `required`, but hidden while has_travel is false: not demanded, and a
    // value sent for it is dropped.
    let mut data = budget(&e);
    data["travel_plan"] = json!("不出差却填了");
    let (s, rec) = submit(&applicant, data).await;
    assert_eq!(s, StatusCode::CREATED, "{rec}");
    assert!(rec["data"].get("travel_plan").is_none(), "{rec}");

    let mut data = budget(&e);
    data["has_travel"] = json!(true);
    let (s, body) = submit(&applicant, data).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pointers(&body), p(&[("/travel_plan", "required")]));

    // x-required-if: a large total needs a risk note.
    let mut data = budget(&e);
    data["items"] = json!([{"name": "设备", "quantity": 2, "unit_price": 60000}]);
    let (s, body) = submit(&applicant, data.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pointers(&body), p(&[("/risk_note", "required")]));
    data["risk_note"] = json!("分两期采购");
    assert_eq!(submit(&applicant, data).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn references_must_name_a_visible_record_of_the_right_form_in_the_same_tenant() {
    let app = TestApp::spawn().await;
    let (applicant, keeper, _) = agency(&app, "agency").await;
    let (_, other_keeper, _) = agency(&app, "elsewhere").await;
    let mine = new_expert(&keeper).await;
    let theirs = new_expert(&other_keeper).await;
    assert_eq!(
        submit(&applicant, budget(&mine)).await.0,
        StatusCode::CREATED
    );
    // The list shows the referenced expert's name beside the id.
    let (_, list) = applicant.get("/api/v1/lists/budgets").await;
    assert_eq!(
        list["items"][0]["refs"]["lead_expert"],
        json!({"id": mine, "label": "王专家"})
    );
    for bad in [theirs.as_str(), "no-such-record"] {
        let (s, body) = submit(&applicant, budget(bad)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(pointers(&body), p(&[("/lead_expert", "ref")]));
    }
    // A record of the wrong form is refused too.
    let (_, budget_rec) = applicant
        .post(
            "/api/v1/forms/project_budget/records",
            json!({"data": {"title": "草稿"}}),
        )
        .await;
    let (s, body) = submit(&applicant, budget(budget_rec["id"].as_str().unwrap())).await;
    assert_eq!(
        (s, pointers(&body)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            p(&[("/lead_expert", "ref")])
        )
    );
}

#[tokio::test]
async fn catalogue_options_agreement_datetime_and_rich_text() {
    let app = TestApp::spawn().await;
    let (_, keeper, _) = agency(&app, "agency").await;
    let mut data = expert();
    data["region"] = json!("999999");
    data["specialties"] = json!(["law", "astrology"]);
    data["agreed"] = json!(false);
    data["registered_at"] = json!("2026-11-25 10:00");
    let (s, body) = keeper
        .post("/api/v1/forms/expert/records", json!({"data": data}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        pointers(&body),
        p(&[
            ("/agreed", "const"),
            ("/region", "options"),
            ("/registered_at", "format"),
            ("/specialties", "options")
        ])
    );

    let mut data = expert();
    data["region"] = json!("320102"); // a district two levels down the tree
    data["registered_at"] = json!("2026-11-25T10:00:00+08:00");
    data["bio"] = json!(
        "<p>从事<b>应急法律</b>研究</p><script>alert(1)</script><img src=x onerror=alert(1)>"
    );
    let (s, rec) = keeper
        .post("/api/v1/forms/expert/records", json!({"data": data}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rec}");
    let bio = rec["data"]["bio"].as_str().unwrap();
    assert!(bio.starts_with("<p>从事<b>应急法律</b>研究</p>"), "{bio}");
    assert!(!bio.contains("script") && !bio.contains("onerror"), "{bio}");
}

#[tokio::test]
async fn pack_messages_override_and_follow_accept_language() {
    let app = TestApp::spawn().await;
    let (applicant, keeper, _) = agency(&app, "agency").await;
    let e = new_expert(&keeper).await;
    let mut data = budget(&e);
    data["contact_mobile"] = json!("1234");
    let (_, zh) = submit(&applicant, data.clone()).await;
    assert_eq!(zh["error"]["fields"][0]["message"], "请填写11位手机号码");
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{}/api/v1/forms/project_budget/records", app.base))
        .bearer_auth(applicant.token.as_deref().unwrap())
        .header("accept-language", "en-US,en;q=0.9")
        .json(&json!({"data": data, "action": "submit"}))
        .send()
        .await
        .unwrap();
    let en: Value = res.json().await.unwrap();
    assert_eq!(
        en["error"]["fields"][0]["message"],
        "Enter an 11-digit mobile number"
    );
    assert_eq!(en["error"]["message"], "1 value(s) are invalid");
}

#[tokio::test]
async fn layout_hints_reach_the_client_and_do_not_affect_validation() {
    let app = TestApp::spawn().await;
    let (applicant, _, _) = agency(&app, "agency").await;
    let (_, form) = applicant.get("/api/v1/forms/project_budget").await;
    assert_eq!(form["schema"]["x-ui"]["sections"][1]["key"], "budget");
    assert_eq!(
        form["schema"]["properties"]["title"]["x-ui"]["placeholder"],
        "如：2026年应急救护培训"
    );
    // Properties keep the order of the file, which is the page's default order.
    let keys: Vec<&String> = form["schema"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys[..3], ["title", "lead_expert", "contact_mobile"]);
    // A draft may leave out anything; the hidden internal note is still a normal field.
    let (s, rec) = applicant
        .post(
            "/api/v1/forms/project_budget/records",
            json!({"data": {"title": "只写标题", "internal_note": "x"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rec}");
    assert_eq!(rec["data"]["internal_note"], "x");
}
