//! The workflow language through the API: recall while nobody has acted, return for
//! correction that unlocks only named fields, transitions bound to the org tree (including in
//! the inbox), required fields and guards with the pack's own messages.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{application, TestApp};

#[tokio::test]
async fn the_filer_can_recall_only_until_a_reviewer_acts() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let other = app.login("redcross", "huangpu_staff").await;
    let reviewer = app.login("redcross", "pudong_reviewer").await;
    let rec = staff.create(application("撤回"), Some("submit")).await;
    let id = rec["id"].as_str().unwrap();
    let (s, back) = staff.fire(id, "withdraw", json!({})).await;
    assert_eq!(
        (s, back["state"].as_str()),
        (StatusCode::OK, Some("draft")),
        "{back}"
    );

    staff.fire(id, "submit", json!({})).await;
    let (s, _) = reviewer.fire(id, "approve", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    // The record moved on: no recall from district_approved, and none in submitted either
    // once a reviewer has acted (here the state itself no longer offers it).
    let (s, body) = staff.fire(id, "withdraw", json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");

    // Only the owner recalls: another staff member of the same role cannot, even in scope.
    let rec = staff.create(application("他人"), Some("submit")).await;
    let id = rec["id"].as_str().unwrap();
    assert_eq!(
        other.fire(id, "withdraw", json!({})).await.0,
        StatusCode::NOT_FOUND,
        "not in their scope"
    );
    // After a reviewer returns it and the filer resubmits, a reviewer has acted in between,
    // but the newest event is the filer's own submit, so the recall window opens again.
    reviewer
        .fire(id, "return", json!({"comment": "补充材料"}))
        .await;
    staff.fire(id, "submit", json!({})).await;
    let (_, fresh) = staff.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(fresh["actions"], json!(["withdraw"]));
}

#[tokio::test]
async fn a_return_unlocks_only_the_named_fields_until_resubmission() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let reviewer = app.login("redcross", "pudong_reviewer").await;
    let rec = staff.create(application("退回"), Some("submit")).await;
    let id = rec["id"].as_str().unwrap();
    let (s, body) = reviewer.fire(id, "return", json!({})).await;
    assert_eq!(
        (s, body["error"]["fields"][0]["pointer"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("/comment"))
    );
    let (s, back) = reviewer
        .fire(id, "return", json!({"comment": "请补充损失清单"}))
        .await;
    assert_eq!((s, back["state"].as_str()), (StatusCode::OK, Some("draft")));

    let path = format!("/api/v1/records/{id}");
    let (s, body) = staff
        .patch(
            &path,
            json!({"version": back["version"], "data": {"street": "陆家嘴街道"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["pointer"], "/street");
    let (s, body) = staff
        .patch(
            &path,
            json!({"version": back["version"], "data": {"loss_amount": 61000}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    staff.fire(id, "submit", json!({})).await;
    // A refusal (不予救助) is final: the record leaves the filer's hands for good.
    let (_, rejected) = reviewer
        .fire(id, "reject", json!({"comment": "不符合救助条件"}))
        .await;
    assert_eq!(rejected["state"], "refused", "{rejected}");
    assert_eq!(rejected["actions"], json!([]));
    let (s, body) = staff
        .patch(
            &path,
            json!({"version": rejected["version"], "data": {"street": "陆家嘴街道"}}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test]
async fn transitions_follow_the_org_tree_in_actions_firing_and_inbox() {
    let app = TestApp::spawn().await;
    // root (level 1) → district (level 2) → street (level 3)
    app.tenant_with_files(
        "orgs",
        &formwork::seed::builtin_pack("red-cross").unwrap(),
        &[
            ("filer", "street", "district_staff"),
            ("district_rev", "district", "district_reviewer"),
            ("street_rev", "street", "district_reviewer"),
            ("city_rev", "root", "city_reviewer"),
            ("city_role_in_district", "district", "city_reviewer"),
        ],
    )
    .await;
    let filer = app.login("orgs", "filer").await;
    let district = app.login("orgs", "district_rev").await;
    let street = app.login("orgs", "street_rev").await;
    let city = app.login("orgs", "city_rev").await;
    let misplaced = app.login("orgs", "city_role_in_district").await;
    let rec = filer.create(application("层级"), Some("submit")).await;
    let id = rec["id"].as_str().unwrap();

    // The street-level reviewer sees the record (it is in their subtree) but the district
    // review belongs to the district level: no action, nothing in the inbox, 403 on firing.
    let (_, seen) = street.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(seen["actions"], json!([]));
    assert_eq!(street.get("/api/v1/inbox").await.1["total"], 0);
    assert_eq!(
        street.fire(id, "approve", json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(district.get("/api/v1/inbox").await.1["total"], 1);
    assert_eq!(
        district.fire(id, "approve", json!({})).await.0,
        StatusCode::OK
    );

    // The city review belongs to the root unit, whoever else holds the role.
    assert_eq!(misplaced.get("/api/v1/inbox").await.1["total"], 0);
    assert_eq!(
        misplaced
            .fire(id, "approve", json!({"data": {"approved_amount": 100}}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(city.get("/api/v1/inbox").await.1["total"], 1);
    let (_, unchanged) = city.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(unchanged["state"], "district_approved");
}

#[tokio::test]
async fn required_fields_and_guards_refuse_with_the_packs_message() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let district = app.login("redcross", "pudong_reviewer").await;
    let city = app.login("redcross", "city_reviewer").await;

    let mut future = application("未来");
    future["fire_date"] = json!("2999-01-01");
    let (s, body) = staff
        .post(
            "/api/v1/forms/fire_relief/records",
            json!({"data": future, "action": "submit"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["rule"], "guard");
    assert_eq!(
        body["error"]["fields"][0]["message"],
        "火灾发生日期不能晚于今天"
    );
    assert_eq!(app.count("records", "redcross").await, 0, "nothing written");

    let rec = staff.create(application("核定"), Some("submit")).await;
    let id = rec["id"].as_str().unwrap();
    district.fire(id, "approve", json!({})).await;
    let (s, body) = city.fire(id, "approve", json!({})).await;
    assert_eq!(
        (s, body["error"]["fields"][0]["pointer"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("/approved_amount"))
    );
    let (s, body) = city
        .fire(id, "approve", json!({"data": {"approved_amount": 20000}}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["error"]["fields"][0]["message"],
        "核定金额不能超过申请金额"
    );
    let (_, still) = city.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(
        (
            still["state"].as_str(),
            still["data"].get("approved_amount")
        ),
        (Some("district_approved"), None)
    );
    assert_eq!(
        city.fire(id, "approve", json!({"data": {"approved_amount": 9000}}))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_batch_changes_all_its_records_or_none() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let huangpu = app.login("redcross", "huangpu_staff").await;
    let reviewer = app.login("redcross", "pudong_reviewer").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let r = staff
            .create(application(&format!("批量{i}")), Some("submit"))
            .await;
        ids.push(r["id"].as_str().unwrap().to_string());
    }
    let draft = staff.create(application("草稿"), None).await;
    let foreign = huangpu.create(application("黄浦"), Some("submit")).await;

    // One record still a draft, one of another district: nothing changes, each is reported.
    let mut mixed = ids.clone();
    mixed.push(draft["id"].as_str().unwrap().to_string());
    mixed.push(foreign["id"].as_str().unwrap().to_string());
    let (s, body) = reviewer
        .post("/api/v1/batch/transitions/approve", json!({"ids": mixed}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "batch_refused");
    let oks: Vec<bool> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ok"].as_bool().unwrap())
        .collect();
    assert_eq!(oks, [true, true, true, false, false]);
    assert_eq!(
        body["results"][3]["error"]["code"],
        "transition_not_available"
    );
    assert_eq!(body["results"][4]["error"]["code"], "not_found");
    for id in &ids {
        let (_, r) = reviewer.get(&format!("/api/v1/records/{id}")).await;
        assert_eq!(
            (r["state"].as_str(), r["version"].as_i64()),
            (Some("submitted"), Some(1)),
            "unchanged"
        );
    }

    // A reason-required action in a batch needs the reason once, for all.
    let (s, body) = reviewer
        .post("/api/v1/batch/transitions/reject", json!({"ids": ids}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["results"][0]["error"]["fields"][0]["pointer"],
        "/comment"
    );

    let (s, body) = reviewer
        .post(
            "/api/v1/batch/transitions/approve",
            json!({"ids": ids, "comment": "批量审核通过"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["changed"], 3);
    for id in &ids {
        let (_, events) = reviewer.get(&format!("/api/v1/records/{id}/events")).await;
        let last = events["items"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (last["action"].as_str(), last["comment"].as_str()),
            (Some("approve"), Some("批量审核通过"))
        );
    }
    let (s, _) = reviewer
        .post(
            "/api/v1/batch/transitions/approve",
            json!({"ids": [ids[0], ids[0]]}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "duplicates are refused"
    );
}

#[tokio::test]
async fn submitting_numbers_the_application_once_and_stamps_the_time() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let reviewer = app.login("redcross", "pudong_reviewer").await;
    let year = form_runtime::expr::Expr::compile("today()[:4]")
        .unwrap()
        .eval(&json!({}))
        .unwrap();
    let first = staff.create(application("一号"), Some("submit")).await;
    let draft = staff.create(application("二号"), None).await;
    assert!(
        draft["data"].get("app_no").is_none(),
        "a draft has no number yet"
    );
    let (_, second) = staff
        .fire(draft["id"].as_str().unwrap(), "submit", json!({}))
        .await;
    assert_eq!(
        first["data"]["app_no"],
        json!(format!("HZ-{}-000001", year.as_str().unwrap()))
    );
    assert_eq!(
        second["data"]["app_no"],
        json!(format!("HZ-{}-000002", year.as_str().unwrap()))
    );
    assert!(second["data"]["submitted_at"]
        .as_str()
        .is_some_and(|t| t.ends_with("+08:00")));

    // A returned and resubmitted application keeps its number; a refused submit takes none.
    let id = first["id"].as_str().unwrap();
    reviewer
        .fire(id, "return", json!({"comment": "补充"}))
        .await;
    let (_, again) = staff.fire(id, "submit", json!({})).await;
    assert_eq!(again["data"]["app_no"], first["data"]["app_no"]);
    let mut bad = application("三号");
    bad["fire_date"] = json!("2999-01-01");
    assert_eq!(
        staff
            .post(
                "/api/v1/forms/fire_relief/records",
                json!({"data": bad, "action": "submit"})
            )
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let third = staff.create(application("三号"), Some("submit")).await;
    assert_eq!(
        third["data"]["app_no"],
        json!(format!("HZ-{}-000003", year.as_str().unwrap()))
    );
    // The client cannot set the number itself.
    let mut forged = application("伪造");
    forged["app_no"] = json!("HZ-0000-999999");
    assert_eq!(
        staff
            .post("/api/v1/forms/fire_relief/records", json!({"data": forged}))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn a_countersign_moves_only_after_the_last_needed_vote() {
    let app = TestApp::spawn().await;
    // The city approval becomes a countersign of the city reviewer and finance.
    let mut files = formwork::seed::builtin_pack("red-cross").unwrap();
    let mut wf: serde_json::Value =
        serde_json::from_slice(&files.0["workflows/relief.json"]).unwrap();
    for t in wf["transitions"].as_array_mut().unwrap() {
        if t["action"] == "approve" && t["from"] == "district_approved" {
            t["roles"] = json!(["city_reviewer", "finance"]);
            t["countersign"] = json!({"roles": ["city_reviewer", "finance"]});
        }
    }
    // Voting is then the city's only task in that state (no rejection, no return), so the
    // inbox shows exactly whether their vote is still wanted.
    wf["transitions"].as_array_mut().unwrap().retain(|t| {
        !((t["action"] == "reject" || t["action"] == "return") && t["from"] == "district_approved")
    });
    files.0.insert(
        "workflows/relief.json".into(),
        serde_json::to_vec(&wf).unwrap(),
    );
    // The demo data walks the city approval the countersign replaces: not wanted here.
    files.0.retain(|path, _| !path.starts_with("demo/"));
    app.tenant_with_files(
        "sign",
        &files,
        &[
            ("filer", "district", "district_staff"),
            ("rev", "district", "district_reviewer"),
            ("city", "root", "city_reviewer"),
            ("fin", "root", "finance"),
        ],
    )
    .await;
    let filer = app.login("sign", "filer").await;
    let rev = app.login("sign", "rev").await;
    let city = app.login("sign", "city").await;
    let fin = app.login("sign", "fin").await;
    let rec = filer.create(application("会签"), Some("submit")).await;
    let id = rec["id"].as_str().unwrap();
    rev.fire(id, "approve", json!({})).await;

    let (s, first) = city
        .fire(
            id,
            "approve",
            json!({"comment": "同意", "data": {"approved_amount": 5000}}),
        )
        .await;
    assert_eq!(
        (s, first["state"].as_str()),
        (StatusCode::OK, Some("district_approved")),
        "one vote of two: {first}"
    );
    // The voter's task is done: no longer in their inbox or actions; still the other's.
    let ids = |b: &serde_json::Value| -> Vec<String> {
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, inbox) = city.get("/api/v1/inbox").await;
    assert!(!ids(&inbox).contains(&id.to_string()), "{inbox}");
    let (_, inbox) = fin.get("/api/v1/inbox").await;
    assert!(ids(&inbox).contains(&id.to_string()), "{inbox}");
    let (_, seen) = city.get(&format!("/api/v1/records/{id}")).await;
    assert!(
        !seen["actions"]
            .as_array()
            .unwrap()
            .contains(&json!("approve")),
        "{seen}"
    );
    let (s, again) = city
        .fire(id, "approve", json!({"data": {"approved_amount": 5000}}))
        .await;
    assert_eq!(
        (s, again["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_voted"))
    );
    let (s, done) = fin
        .fire(
            id,
            "approve",
            json!({"comment": "资金已落实", "data": {"approved_amount": 5000}}),
        )
        .await;
    assert_eq!(
        (s, done["state"].as_str()),
        (StatusCode::OK, Some("city_approved")),
        "{done}"
    );

    let (_, events) = city.get(&format!("/api/v1/records/{id}/events")).await;
    let tail: Vec<(String, String)> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .take(2)
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["actor"]["username"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        tail,
        [
            ("transition".to_string(), "fin".to_string()),
            ("vote".to_string(), "city".to_string())
        ]
    );
}

#[tokio::test]
async fn a_deadline_fires_exactly_once_with_two_servers_on_one_database() {
    let app = TestApp::spawn().await;
    let other = app.sibling().await;
    // Applications left unreviewed for a second are sent back by the system.
    let mut files = formwork::seed::builtin_pack("red-cross").unwrap();
    let mut wf: serde_json::Value =
        serde_json::from_slice(&files.0["workflows/relief.json"]).unwrap();
    for s in wf["states"].as_array_mut().unwrap() {
        if s["key"] == "submitted" {
            s["timer"] = json!({"after": "1s", "action": "return"});
        }
    }
    files.0.insert(
        "workflows/relief.json".into(),
        serde_json::to_vec(&wf).unwrap(),
    );
    app.tenant_with_files("timed", &files, &[("filer", "district", "district_staff")])
        .await;
    let filer = app.login("timed", "filer").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = filer
            .create(application(&format!("到期{i}")), Some("submit"))
            .await;
        ids.push(r["id"].as_str().unwrap().to_string());
    }
    let draft = filer.create(application("草稿不计时"), None).await;

    // Both servers' timer jobs run every 200 ms; wait well past the deadline.
    tokio::time::sleep(std::time::Duration::from_millis(3000)).await;
    for id in &ids {
        let (_, rec) = filer.get(&format!("/api/v1/records/{id}")).await;
        assert_eq!(rec["state"], "draft", "{rec}");
        let (_, events) = filer.get(&format!("/api/v1/records/{id}/events")).await;
        let by_system: Vec<&serde_json::Value> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["actor"]["id"] == "system")
            .collect();
        assert_eq!(by_system.len(), 1, "fired exactly once: {events}");
        assert_eq!(by_system[0]["action"], "return");
    }
    let (_, untouched) = filer
        .get(&format!(
            "/api/v1/records/{}",
            draft["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(untouched["version"], 1, "no timer in a state without one");
    assert_eq!(
        app.count("timers", "timed").await,
        0,
        "back in the draft, nothing is pending"
    );
    drop(other);
}
