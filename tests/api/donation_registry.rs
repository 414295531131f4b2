//! The body (cornea) donation registry of the red-cross pack (遗体（角膜）捐献资料库), through the
//! API with the demo tenant: a district registers and does the first review, the city's
//! donation office the final one; a registration is changed (reviewed), edited (corrected in
//! place), revoked with a reason, or realised, which files the acceptance record; families
//! get follow-up visits. The registration's state is its realisation status, so queries and
//! statistics by status are state filters and groups.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{Session, TestApp};

const T: &str = "redcross";

/// A valid resident ID number of a Pudong resident born on `birth` (`YYYYMMDD`); an odd `seq`
/// makes a man, an even one a woman.
fn id_number(birth: &str, seq: u32) -> String {
    let body = format!("310115{birth}{seq:03}");
    let check = form_runtime::formats::id_check_char(&body).expect("17 digits");
    format!("{body}{check}")
}

/// A complete registration.
fn registration(name: &str, id: &str, reg_date: &str, district: &str) -> Value {
    json!({
        "reg_date": reg_date,
        "name": name,
        "id_number": id,
        "district": district,
        "address": format!("{district}花木路{}弄1号", name.chars().count() * 100),
        "phone": "13812345678",
        "donation_type": "遗体及角膜",
        "intended_use": ["医学教学", "角膜移植"],
        "executors": [{"name": format!("{name}之子"), "relation": "子女", "phone": "13900001111"}],
        "family_consent": "同意"
    })
}

async fn ok(what: &str, res: (StatusCode, Value)) -> Value {
    assert_eq!(res.0, StatusCode::OK, "{what}: {}", res.1);
    res.1
}

/// Creates and submits a registration as `staff`, answering its id.
async fn submit(staff: &Session, data: Value) -> String {
    let (s, b) = staff
        .post(
            "/api/v1/forms/donation_registration/records",
            json!({"data": data, "action": "submit"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["state"], "submitted");
    b["id"].as_str().expect("id").to_string()
}

/// The people of the scenario, logged in.
struct Desk {
    staff: Session,
    reviewer: Session,
    city: Session,
}

impl Desk {
    async fn open(app: &TestApp) -> Desk {
        Desk {
            staff: app.login(T, "pudong_donation").await,
            reviewer: app.login(T, "pudong_donation_reviewer").await,
            city: app.login(T, "city_donation").await,
        }
    }

    /// Registers through district first review and city final review.
    async fn register(&self, data: Value) -> String {
        let id = submit(&self.staff, data).await;
        let b = ok(
            "first review",
            self.reviewer
                .fire(&id, "approve", json!({"comment": "材料齐全"}))
                .await,
        )
        .await;
        assert_eq!(b["state"], "district_reviewed");
        let b = ok(
            "final review",
            self.city
                .fire(&id, "approve", json!({"data": {"card_no": "SH-0001"}}))
                .await,
        )
        .await;
        assert_eq!(b["state"], "registered");
        id
    }
}

async fn record(s: &Session, id: &str) -> Value {
    ok("read", s.get(&format!("/api/v1/records/{id}")).await).await
}

async fn patch(s: &Session, id: &str, data: Value) -> (StatusCode, Value) {
    let version = record(s, id).await["version"].clone();
    s.patch(
        &format!("/api/v1/records/{id}"),
        json!({"version": version, "data": data}),
    )
    .await
}

/// The `(kind or action, actor, changes)` of a record's history.
async fn history(s: &Session, id: &str) -> Vec<(String, String, Value)> {
    let b = ok(
        "events",
        s.get(&format!("/api/v1/records/{id}/events")).await,
    )
    .await;
    b["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["action"]
                    .as_str()
                    .or(e["kind"].as_str())
                    .unwrap_or_default()
                    .to_string(),
                e["actor"]["username"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["changes"].clone(),
            )
        })
        .collect()
}

/// A list's ids.
async fn ids(s: &Session, query: &str) -> Vec<String> {
    let b = ok(query, s.get(query).await).await;
    b["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

/// A one-dimension statistic as key → count.
async fn counts(s: &Session, path: &str) -> BTreeMap<String, i64> {
    let b = ok(path, s.get(path).await).await;
    b["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["keys"][0].as_str().unwrap_or("（空）").to_string(),
                r["values"][0].as_i64().expect("count"),
            )
        })
        .collect()
}

fn map(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test]
async fn donation_is_registered_changed_edited_revoked_realised_and_followed_up() {
    let app = TestApp::spawn().await;
    let desk = Desk::open(&app).await;
    let zhang_id = id_number("19500501", 13);

    // 登记: draft → district first review → city final review; the city numbers it.
    let zhang = desk
        .register(registration("张伟", &zhang_id, "2025-03-10", "浦东新区"))
        .await;
    let r = record(&desk.city, &zhang).await;
    assert!(
        r["data"]["reg_no"].as_str().unwrap().starts_with("YTDJ-"),
        "{r}"
    );
    assert_eq!(
        (
            &r["data"]["gender"],
            &r["data"]["reg_age"],
            &r["data"]["card_no"]
        ),
        (&json!("男"), &json!(74), &json!("SH-0001")),
        "gender and age at registration come from the ID number: {r}"
    );
    assert!(r["data"]["registered_on"].is_string(), "{r}");
    // The district cannot do the city's final review, nor the city the district's first.
    let other = submit(
        &desk.staff,
        registration("赵敏", &id_number("19551111", 22), "2025-03-11", "浦东新区"),
    )
    .await;
    let (s, _) = desk.city.fire(&other, "approve", json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    ok(
        "first review",
        desk.reviewer.fire(&other, "approve", json!({})).await,
    )
    .await;
    let (s, _) = desk.reviewer.fire(&other, "approve", json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // One valid registration per ID number: a second one is refused, and nothing is filed.
    let (s, b) = desk
        .staff
        .post(
            "/api/v1/forms/donation_registration/records",
            json!({"data": registration("张伟", &zhang_id, "2025-06-01", "浦东新区"), "action": "submit"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["error"]["fields"][0]["rule"], "unique", "{b}");
    assert_eq!(
        ids(
            &desk.city,
            &format!("/api/v1/lists/donation_registration_query?filter[id_number]={zhang_id}")
        )
        .await,
        vec![zhang.clone()]
    );

    // 变更: the district opens a change with its reason, edits the changeable fields only, the
    // city approves; the history keeps the address before and after.
    let (s, b) = desk.staff.fire(&zhang, "change", json!({})).await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a change needs its reason: {b}"
    );
    ok(
        "change",
        desk.staff
            .fire(
                &zhang,
                "change",
                json!({"comment": "登记人搬家，执行人变更"}),
            )
            .await,
    )
    .await;
    let (s, b) = patch(&desk.staff, &zhang, json!({"name": "张卫"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["error"]["fields"][0]["rule"], "readOnly", "{b}");
    let old_address = r["data"]["address"].clone();
    let (s, b) = patch(
        &desk.staff,
        &zhang,
        json!({"address": "浦东新区世纪大道1号", "executors": [{"name": "张小伟", "relation": "子女", "phone": "13900002222"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    ok(
        "submit change",
        desk.staff.fire(&zhang, "submit_change", json!({})).await,
    )
    .await;
    assert_eq!(record(&desk.city, &zhang).await["state"], "change_review");
    let b = ok(
        "approve change",
        desk.city.fire(&zhang, "approve_change", json!({})).await,
    )
    .await;
    assert_eq!(
        (&b["state"], &b["data"]["change_count"]),
        (&json!("registered"), &json!(1)),
        "{b}"
    );
    assert!(b["data"]["changed_on"].is_string(), "{b}");
    let events = history(&desk.city, &zhang).await;
    let change = events
        .iter()
        .find(|(what, who, changes)| {
            what == "update" && who == "pudong_donation" && !changes["address"].is_null()
        })
        .unwrap_or_else(|| panic!("no change edit in {events:?}"));
    assert_eq!(
        change.2["address"],
        json!([old_address, "浦东新区世纪大道1号"])
    );
    assert!(events
        .iter()
        .any(|(what, who, _)| what == "approve_change" && who == "city_donation"));

    // 修改: the city office corrects a registered record in place, without review; the
    // district cannot.
    let (s, _) = patch(&desk.staff, &zhang, json!({"ethnicity": "汉族"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = patch(&desk.city, &zhang, json!({"ethnicity": "汉族"})).await;
    assert_eq!(
        (s, &b["state"]),
        (StatusCode::OK, &json!("registered")),
        "{b}"
    );
    let events = history(&desk.city, &zhang).await;
    let last = events.last().expect("events");
    assert_eq!(
        (last.0.as_str(), last.1.as_str()),
        ("update", "city_donation")
    );
    assert_eq!(last.2["ethnicity"], json!([null, "汉族"]));

    // 撤销: only with a reason; the revocation date defaults to today.
    let li = desk
        .register(registration(
            "李娜",
            &id_number("19900707", 24),
            "2025-04-20",
            "浦东新区",
        ))
        .await;
    let (s, b) = desk.staff.fire(&li, "revoke", json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        (
            &b["error"]["fields"][0]["pointer"],
            &b["error"]["fields"][0]["rule"]
        ),
        (&json!("/revoke_reason"), &json!("required")),
        "{b}"
    );
    let b = ok(
        "revoke",
        desk.staff
            .fire(
                &li,
                "revoke",
                json!({"data": {"revoke_reason": "本人书面申请撤销"}}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (&b["state"], &b["data"]["revoke_reason"]),
        (&json!("revoked"), &json!("本人书面申请撤销"))
    );
    assert!(b["data"]["revoke_date"].is_string(), "{b}");

    // 接受: a second registrant dies; realising the registration files the acceptance record,
    // linked to it and prefilled; the district completes and records it.
    let wang_id = id_number("19400202", 26);
    let wang = desk
        .register(registration("王芳", &wang_id, "2025-04-15", "浦东新区"))
        .await;
    let (s, b) = desk.staff.fire(&wang, "realise", json!({})).await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the date of death is required: {b}"
    );
    let b = ok(
        "realise",
        desk.staff
            .fire(
                &wang,
                "realise",
                json!({"data": {"death_date": "2025-09-01"}}),
            )
            .await,
    )
    .await;
    assert_eq!(b["state"], "realised");
    let found = ids(
        &desk.staff,
        &format!("/api/v1/lists/donation_acceptance_query?filter[registration]={wang}"),
    )
    .await;
    assert_eq!(found.len(), 1, "one acceptance per realisation");
    let acceptance = found[0].clone();
    let a = record(&desk.city, &acceptance).await;
    assert_eq!(a["state"], "draft", "{a}");
    for (field, want) in [
        ("registration", json!(wang)),
        ("basis", json!("生前登记")),
        ("name", json!("王芳")),
        ("id_number", json!(wang_id)),
        ("gender", json!("女")),
        ("death_date", json!("2025-09-01")),
        ("death_age", json!(85)),
        ("realised_type", json!("遗体及角膜")),
        ("contact_name", json!("王芳之子")),
        ("contact_phone", json!("13900001111")),
    ] {
        assert_eq!(a["data"][field], want, "{field}: {a}");
    }
    // Completing the acceptance is the district's task; the valid registrations, whose
    // change, revocation and realisation are `"task": false`, are in nobody's inbox.
    assert_eq!(
        ids(&desk.staff, "/api/v1/inbox").await,
        vec![acceptance.clone()]
    );
    let city_inbox = ids(&desk.city, "/api/v1/inbox").await;
    assert!(
        !city_inbox.contains(&zhang) && !city_inbox.contains(&wang),
        "{city_inbox:?}"
    );
    let (s, b) = desk.staff.fire(&acceptance, "record", json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "incomplete: {b}");
    let (s, b) = patch(
        &desk.staff,
        &acceptance,
        json!({"accept_date": "2025-09-02", "receiving_unit": "复旦大学上海医学院", "death_place": "医院"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = patch(&desk.staff, &acceptance, json!({"registration": li})).await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the link is the effect's: {b}"
    );
    let b = ok(
        "record",
        desk.staff.fire(&acceptance, "record", json!({})).await,
    )
    .await;
    assert_eq!(b["state"], "recorded");

    // 回访: a follow-up visit to the family, against the acceptance.
    let (s, b) = desk
        .staff
        .post(
            "/api/v1/forms/donation_followup/records",
            json!({"data": {
                "acceptance": acceptance, "visit_date": "2025-10-08", "method": "上门",
                "visitor": "浦东新区红会 刘敏", "family_name": "王芳之子", "family_relation": "子女",
                "family_phone": "13900001111", "content": "家属情绪平稳，感谢红十字会的告别仪式安排。",
                "needs": "希望参加清明缅怀活动"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let visit = b["id"].as_str().unwrap().to_string();
    assert_eq!(
        ids(
            &desk.city,
            &format!("/api/v1/lists/donation_followup_all?filter[acceptance]={acceptance}")
        )
        .await,
        vec![visit]
    );
    // A follow-up must name an acceptance.
    let (s, b) = desk
        .staff
        .post(
            "/api/v1/forms/donation_followup/records",
            json!({"data": {"acceptance": wang, "visit_date": "2025-10-09", "method": "电话",
                            "visitor": "刘敏", "family_name": "王芳之子", "content": "电话回访"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["error"]["fields"][0]["rule"], "ref", "{b}");

    // Acceptance deletion is a soft delete with a reason, by the city only.
    let (s, _) = desk
        .staff
        .fire(&acceptance, "delete", json!({"comment": "重复录入"}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // 查询: by exact ID number (sensitive: a part finds nothing), by address, by status.
    let q = "/api/v1/lists/donation_registration_query";
    assert_eq!(
        ids(&desk.staff, &format!("{q}?filter[id_number]={wang_id}")).await,
        vec![wang.clone()]
    );
    assert!(ids(
        &desk.staff,
        &format!("{q}?filter[id_number]={}", &wang_id[..12])
    )
    .await
    .is_empty());
    assert_eq!(
        ids(
            &desk.staff,
            &format!("{q}?filter[address][contains]=世纪大道")
        )
        .await,
        vec![zhang.clone()]
    );
    for (state, want) in [
        ("registered", vec![zhang.clone()]),
        ("realised", vec![wang.clone()]),
        ("revoked", vec![li.clone()]),
        ("district_reviewed", vec![other.clone()]),
    ] {
        assert_eq!(
            ids(&desk.staff, &format!("{q}?filter[state]={state}")).await,
            want,
            "{state}"
        );
    }

    // 统计: by age band at registration (张伟 74, 王芳 85, 李娜 34, 赵敏 69) and by status.
    let by_age = "/api/v1/statistics/donation_registration_by_age";
    assert_eq!(
        counts(&desk.staff, by_age).await,
        map(&[("-39", 1), ("60-69", 1), ("70-79", 1), ("80-", 1)])
    );
    assert_eq!(
        counts(
            &desk.staff,
            &format!("{by_age}?filter[state][in]=registered,realised")
        )
        .await,
        map(&[("70-79", 1), ("80-", 1)])
    );
    let b = ok(
        "by status",
        desk.city
            .get("/api/v1/statistics/donation_registration_by_status")
            .await,
    )
    .await;
    let mut by_state = BTreeMap::new();
    for r in b["rows"].as_array().unwrap() {
        *by_state
            .entry(r["keys"][0].as_str().unwrap().to_string())
            .or_insert(0) += r["values"][0].as_i64().unwrap();
    }
    assert_eq!(
        by_state,
        map(&[
            ("district_reviewed", 1),
            ("realised", 1),
            ("registered", 1),
            ("revoked", 1)
        ])
    );
    assert_eq!(
        counts(
            &desk.city,
            "/api/v1/statistics/donation_acceptance_by_month"
        )
        .await,
        map(&[("2025-09", 1)])
    );
    assert_eq!(
        counts(&desk.city, "/api/v1/statistics/donation_acceptance_by_age").await,
        map(&[("80-", 1)])
    );

    // 删除 of an acceptance is the city's soft delete: a reason, a state, the history keeps it;
    // counting only recorded acceptances leaves it out, and it can be restored.
    let (s, _) = desk.city.fire(&acceptance, "delete", json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let b = ok(
        "delete",
        desk.city
            .fire(
                &acceptance,
                "delete",
                json!({"comment": "重复录入，已另行登记"}),
            )
            .await,
    )
    .await;
    assert_eq!(b["state"], "deleted");
    let recorded = "/api/v1/statistics/donation_acceptance_by_age?filter[state]=recorded";
    assert!(counts(&desk.city, recorded).await.is_empty());
    let events = history(&desk.city, &acceptance).await;
    assert!(events
        .iter()
        .any(|(what, who, _)| what == "delete" && who == "city_donation"));
    ok(
        "restore",
        desk.city
            .fire(&acceptance, "restore", json!({"comment": "误删恢复"}))
            .await,
    )
    .await;
    assert_eq!(counts(&desk.city, recorded).await, map(&[("80-", 1)]));
}

#[tokio::test]
async fn districts_see_only_their_own_donors_and_masked_without_unmask() {
    let app = TestApp::spawn().await;
    let desk = Desk::open(&app).await;
    let huangpu = app.login(T, "huangpu_donation").await;
    let query = app.login(T, "pudong_donation_query").await;
    let pudong_id = id_number("19500501", 13);
    let huangpu_id = id_number("19620101", 35);
    let mine = desk
        .register(registration("张伟", &pudong_id, "2025-03-10", "浦东新区"))
        .await;
    let theirs = submit(
        &huangpu,
        registration("陈刚", &huangpu_id, "2025-05-05", "黄浦区"),
    )
    .await;

    let q = "/api/v1/lists/donation_registration_query";
    // Each district sees its own registrations only, even when asking by the other's ID number.
    assert_eq!(ids(&huangpu, q).await, vec![theirs.clone()]);
    assert!(ids(&huangpu, &format!("{q}?filter[id_number]={pudong_id}"))
        .await
        .is_empty());
    let (s, _) = huangpu.get(&format!("/api/v1/records/{mine}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = huangpu
        .fire(&mine, "revoke", json!({"data": {"revoke_reason": "x"}}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(ids(&desk.staff, q).await, vec![mine.clone()]);
    let by_age = "/api/v1/statistics/donation_registration_by_age";
    assert_eq!(counts(&huangpu, by_age).await, map(&[("60-69", 1)]));
    assert_eq!(counts(&desk.staff, by_age).await, map(&[("70-79", 1)]));
    // The city sees every district.
    let mut all = ids(&desk.city, q).await;
    all.sort();
    let mut want = vec![mine.clone(), theirs.clone()];
    want.sort();
    assert_eq!(all, want);
    assert_eq!(
        counts(&desk.city, by_age).await,
        map(&[("60-69", 1), ("70-79", 1)])
    );

    // District roles lack `unmask`: ID numbers and phones, executors' too, come masked; the
    // city's donation office sees them in clear.
    let masked_id = format!("{}********{}", &pudong_id[..6], &pudong_id[14..]);
    for s in [&desk.staff, &query] {
        let r = record(s, &mine).await;
        assert_eq!(r["data"]["id_number"], json!(masked_id), "{r}");
        assert_eq!(r["data"]["phone"], "138****5678");
        assert_eq!(r["data"]["executors"][0]["phone"], "139****1111");
        let b = ok("list", s.get(q).await).await;
        assert_eq!(b["items"][0]["data"]["id_number"], json!(masked_id), "{b}");
    }
    let r = record(&desk.city, &mine).await;
    assert_eq!(
        (&r["data"]["id_number"], &r["data"]["phone"]),
        (&json!(pudong_id), &json!("13812345678"))
    );
    // The registration certificate and the register export follow the same masking.
    let cert = format!("/api/v1/records/{mine}/documents/donation_certificate");
    let (s, _, html) = desk.staff.download(&cert).await;
    let html = String::from_utf8(html).expect("utf-8");
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(
        html.contains("遗体（角膜）捐献登记证明")
            && html.contains(&masked_id)
            && !html.contains(&pudong_id),
        "{html}"
    );
    let (_, _, html) = desk.city.download(&cert).await;
    assert!(String::from_utf8(html).expect("utf-8").contains(&pudong_id));
    let export = format!("{q}/export?format=csv&template=donation_registration_register");
    let (s, _, csv) = desk.staff.download(&export).await;
    let csv = String::from_utf8(csv).expect("utf-8");
    assert_eq!(s, StatusCode::OK, "{csv}");
    assert!(
        csv.contains("张伟") && csv.contains(&masked_id) && !csv.contains("陈刚"),
        "{csv}"
    );
    let (_, _, csv) = desk.city.download(&export).await;
    let csv = String::from_utf8(csv).expect("utf-8");
    assert!(
        csv.contains(&pudong_id) && csv.contains(&huangpu_id),
        "{csv}"
    );

    // The mobile query role reads, masked, and files nothing.
    let (s, _) = query
        .post(
            "/api/v1/forms/donation_registration/records",
            json!({"data": registration("钱七", &id_number("19700101", 41), "2025-05-06", "浦东新区")}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_certificate_says_what_was_donated_and_a_use_must_fit_the_donation() {
    let app = TestApp::spawn().await;
    let desk = Desk::open(&app).await;
    // A body-only donation: teaching and research, never a cornea transplant.
    let mut body = registration(
        "遗体甲",
        &id_number("19500101", 11),
        "2026-11-02",
        "浦东新区",
    );
    body["donation_type"] = json!("遗体");
    body["intended_use"] = json!([]);
    let id = desk.register(body).await;
    let (s, html) = desk
        .city
        .get(&format!(
            "/api/v1/records/{id}/documents/donation_certificate"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{html}");
    let html = html.as_str().expect("html");
    assert!(
        html.contains("自愿于身后捐献遗体，用于医学教学、医学科研。"),
        "{html}"
    );
    assert!(!html.contains("角膜移植"), "{html}");
    // A cornea-only donation with the uses the donor chose among those that fit.
    let mut cornea = registration(
        "角膜乙",
        &id_number("19520202", 21),
        "2026-11-03",
        "浦东新区",
    );
    cornea["donation_type"] = json!("角膜");
    cornea["intended_use"] = json!(["角膜移植"]);
    let id = desk.register(cornea).await;
    let (_, html) = desk
        .city
        .get(&format!(
            "/api/v1/records/{id}/documents/donation_certificate"
        ))
        .await;
    assert!(html
        .as_str()
        .is_some_and(|h| h.contains("自愿于身后捐献角膜，用于角膜移植。")));
    // A use that does not fit what is donated is refused at submission.
    let mut wrong = registration(
        "不符丙",
        &id_number("19530303", 31),
        "2026-11-04",
        "浦东新区",
    );
    wrong["donation_type"] = json!("遗体");
    wrong["intended_use"] = json!(["角膜移植"]);
    let (s, b) = desk
        .staff
        .post(
            "/api/v1/forms/donation_registration/records",
            json!({"data": wrong, "action": "submit"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["error"]["fields"][0]["rule"], "guard", "{b}");
}
