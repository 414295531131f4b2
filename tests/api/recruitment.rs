//! The rest of the workflow language through the API, on the `recruit` fixture pack
//! (tests/fixtures/recruit, shown whole in docs/pack-format.md 5.10): field access per state
//! and role, `create` / `document` / `notify` effects, in-app tasks, the SMS outbox, signed
//! webhooks with retries, and a batch rule with its preview.

use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

use crate::harness::{Session, TestApp};

const T: &str = "recruit";

fn recruit() -> form_runtime::pack::PackFiles {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/recruit");
    form_runtime::pack::PackFiles::from_dir(&dir).expect("fixture pack")
}

/// The recruit tenant: candidates in the street unit, a reviewer in its district and one in
/// the sibling district, an exam officer and an admin at the root.
async fn tenant(app: &TestApp, files: &form_runtime::pack::PackFiles) {
    app.tenant_with_files(
        T,
        files,
        &[
            ("cand", "street", "candidate"),
            ("cand2", "street", "candidate"),
            ("reviewer", "district", "unit_reviewer"),
            ("other_reviewer", "district2", "unit_reviewer"),
            ("officer", "root", "exam_officer"),
            ("admin", "root", "admin"),
        ],
    )
    .await;
}

/// A valid ID number, different for each `n` (checksum per GB 11643).
fn id_number(n: u32) -> String {
    let body = format!("11010519900101{:03}", n % 1000);
    let check = form_runtime::formats::id_check_char(&body).expect("17 digits");
    format!("{body}{check}")
}

/// An application; the ID number is derived from the name so each person differs.
fn person(name: &str, sex: &str, position: &str) -> Value {
    let n = name.chars().map(|c| c as u32).sum::<u32>();
    json!({"name": name, "id_number": id_number(n), "phone": "13812345678", "sex": sex, "position_code": position})
}

async fn submit(s: &Session, data: Value) -> String {
    let (st, b) = s
        .post(
            "/api/v1/forms/application/records",
            json!({"data": data, "action": "submit"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    b["id"].as_str().unwrap().to_string()
}

/// Submitted, approved and scored: ready for the batch rule.
async fn scored(app: &TestApp, cand: &Session, data: Value, score: f64) -> String {
    let reviewer = app.login(T, "reviewer").await;
    let officer = app.login(T, "officer").await;
    let id = submit(cand, data).await;
    let (s, b) = reviewer
        .fire(
            &id,
            "approve",
            json!({"data": {"review_note": "符合报考条件"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = officer
        .fire(&id, "score", json!({"data": {"written_score": score}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    id
}

#[tokio::test]
async fn fields_are_hidden_and_required_per_state_and_role() {
    let app = TestApp::spawn().await;
    tenant(&app, &recruit()).await;
    let cand = app.login(T, "cand").await;
    let reviewer = app.login(T, "reviewer").await;

    // The candidate cannot write the review opinion, not even in their own draft.
    let (s, b) = cand
        .post(
            "/api/v1/forms/application/records",
            json!({"data": {"name": "张三", "review_note": "自评合格"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["error"]["fields"][0]["pointer"], "/review_note");

    let id = submit(&cand, person("张三", "男", "P01")).await;
    // The reviewer must give the opinion to act in `submitted`, whichever action.
    let (s, b) = reviewer.fire(&id, "approve", json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["error"]["fields"][0]["pointer"], "/review_note");
    assert_eq!(b["error"]["fields"][0]["rule"], "required");
    let (s, b) = reviewer
        .fire(
            &id,
            "approve",
            json!({"data": {"review_note": "学历证明齐全"}}),
        )
        .await;
    assert_eq!(
        (s, b["data"]["review_note"].as_str()),
        (StatusCode::OK, Some("学历证明齐全")),
        "{b}"
    );

    // The candidate's record, history and list never show it.
    let (_, mine) = cand.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(mine["state"], "qualified");
    assert!(mine["data"].get("review_note").is_none(), "{mine}");
    assert_eq!(mine["data"]["name"], "张三");
    let (_, events) = cand.get(&format!("/api/v1/records/{id}/events")).await;
    let text = events.to_string();
    assert!(!text.contains("学历证明齐全"), "{text}");
    let (_, events) = reviewer.get(&format!("/api/v1/records/{id}/events")).await;
    assert!(events.to_string().contains("学历证明齐全"));

    let (s, list) = cand.get("/api/v1/lists/applications").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 1);
    assert!(list["items"][0]["data"].get("review_note").is_none());
    // Not by filter, sort or keyword either.
    let (s, b) = cand
        .get("/api/v1/lists/applications?filter[review_note]=学历")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        b["error"]["fields"][0]["pointer"],
        "/query/filter[review_note]"
    );
    let (s, _) = cand
        .get("/api/v1/lists/applications?sort=review_note")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, found) = cand.get("/api/v1/lists/applications?q=学历").await;
    assert_eq!(
        found["total"], 0,
        "the candidate's search skips the opinion"
    );
    let (_, found) = reviewer.get("/api/v1/lists/applications?q=学历").await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["data"]["review_note"], "学历证明齐全");
}

fn outbox_sms(rows: &Value) -> Vec<&Value> {
    rows["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["channel"] == "sms")
        .collect()
}

#[tokio::test]
async fn effects_create_a_record_keep_a_document_and_queue_messages() {
    let app = TestApp::spawn().await;
    tenant(&app, &recruit()).await;
    let cand = app.login(T, "cand").await;
    let officer = app.login(T, "officer").await;
    let admin = app.login(T, "admin").await;
    let id = scored(&app, &cand, person("李娜", "女", "P02"), 88.5).await;

    // Approval queued one SMS, sealed; the outbox shows the number masked.
    let (s, out) = admin.get("/api/v1/outbox?channel=sms").await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let sms = outbox_sms(&out);
    assert_eq!(sms.len(), 1, "{out}");
    assert_eq!(
        (sms[0]["status"].as_str(), sms[0]["target"].as_str()),
        (Some("pending"), Some("138****5678"))
    );
    let stored: String =
        sqlx::query("select payload from outbox where tenant_id = $1 and channel = 'sms'")
            .bind(T)
            .fetch_one(app.db().pool())
            .await
            .unwrap()
            .try_get("payload")
            .unwrap();
    assert!(
        !stored.contains("13812345678") && !stored.contains("李娜"),
        "sealed: {stored}"
    );
    // A gateway claims it in clear, fails once, and cannot report twice.
    let (s, claimed) = admin
        .post("/api/v1/outbox/claim", json!({"channel": "sms"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{claimed}");
    let m = &claimed["items"][0];
    assert_eq!(m["to"], "13812345678");
    assert_eq!(m["text"], "李娜，您报考的 P02 职位已通过资格审查。");
    let mid = m["id"].as_str().unwrap();
    let (_, again) = admin
        .post("/api/v1/outbox/claim", json!({"channel": "sms"}))
        .await;
    assert_eq!(again["items"], json!([]), "leased: nobody else gets it");
    let path = format!("/api/v1/outbox/{mid}/result");
    let (s, r) = admin
        .post(&path, json!({"delivered": false, "error": "网关超时"}))
        .await;
    assert_eq!(
        (s, r["status"].as_str(), r["attempts"].as_i64()),
        (StatusCode::OK, Some("pending"), Some(1)),
        "{r}"
    );
    assert_eq!(r["last_error"], "网关超时");
    let (s, r) = admin.post(&path, json!({"delivered": true})).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_claimed"))
    );
    let (s, _) = cand.get("/api/v1/outbox").await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Shortlisting creates the interview record, keeps the notice and tells the candidate.
    let (s, b) = officer.fire(&id, "shortlist", json!({})).await;
    assert_eq!(
        (s, b["state"].as_str()),
        (StatusCode::OK, Some("shortlisted")),
        "{b}"
    );
    let row = sqlx::query("select record_id, owner_id, state from records where tenant_id = $1 and form_key = 'interview'")
        .bind(T)
        .fetch_all(app.db().pool())
        .await
        .unwrap();
    assert_eq!(row.len(), 1);
    let interview: String = row[0].try_get("record_id").unwrap();
    let (s, iv) = officer.get(&format!("/api/v1/records/{interview}")).await;
    assert_eq!(s, StatusCode::OK, "{iv}");
    assert_eq!(iv["state"], "scheduled");
    assert_eq!(
        iv["data"],
        json!({"application": id, "candidate_name": "李娜", "position_code": "P02", "written_score": 88.5})
    );
    let (_, hist) = officer
        .get(&format!("/api/v1/records/{interview}/events"))
        .await;
    assert!(
        hist["items"][0]["comment"]
            .as_str()
            .unwrap()
            .contains("确定进入面试"),
        "{hist}"
    );
    // The candidate owns it and sees it (roles.toml grants them read on interviews).
    let (s, _) = cand.get(&format!("/api/v1/records/{interview}")).await;
    assert_eq!(s, StatusCode::OK);

    let (_, kept) = cand
        .get(&format!("/api/v1/records/{id}/kept-documents"))
        .await;
    assert_eq!(kept["items"].as_array().unwrap().len(), 1, "{kept}");
    assert_eq!(kept["items"][0]["key"], "interview_notice");
    let doc = kept["items"][0]["id"].as_str().unwrap();
    let (s, _, html) = cand
        .download(&format!("/api/v1/records/{id}/kept-documents/{doc}"))
        .await;
    let html = String::from_utf8(html).unwrap();
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("李娜") && html.contains("88.5"), "{html}");
    let clear_id = person("李娜", "女", "P02")["id_number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !html.contains(&clear_id) && html.contains("110105********"),
        "kept documents hold masked IDs: {html}"
    );

    let (_, inbox) = cand.get("/api/v1/notifications").await;
    let messages: Vec<&Value> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "message")
        .collect();
    assert_eq!(messages.len(), 1, "{inbox}");
    assert_eq!(messages[0]["title"], "面试通知");
    assert_eq!(messages[0]["body"], "李娜，您已进入 P02 职位面试。");
    assert_eq!(messages[0]["record_id"], json!(id));
}

#[tokio::test]
async fn a_failing_effect_undoes_the_whole_transition() {
    let app = TestApp::spawn().await;
    // The interview score may be at most 100: ten times the written score is not.
    let mut files = recruit();
    let wf = String::from_utf8(files.0["workflows/recruitment.json"].clone()).unwrap();
    let broken = wf.replace(
        "\"written_score\": \"written_score\"}",
        "\"written_score\": \"written_score\", \"interview_score\": \"written_score * 10\"}",
    );
    assert_ne!(wf, broken);
    files
        .0
        .insert("workflows/recruitment.json".into(), broken.into_bytes());
    tenant(&app, &files).await;
    let cand = app.login(T, "cand").await;
    let officer = app.login(T, "officer").await;
    let id = scored(&app, &cand, person("王五", "男", "P01"), 75.0).await;
    let before = (
        app.count("records", T).await,
        app.count("record_events", T).await,
        app.count("record_documents", T).await,
        app.count("notifications", T).await,
        app.count("audit_log", T).await,
    );
    let (s, b) = officer.fire(&id, "shortlist", json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        b["error"]["fields"][0]["pointer"],
        "/effects/create/interview/interview_score"
    );
    let after = (
        app.count("records", T).await,
        app.count("record_events", T).await,
        app.count("record_documents", T).await,
        app.count("notifications", T).await,
        app.count("audit_log", T).await,
    );
    assert_eq!(before, after);
    let (_, r) = officer.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(r["state"], "scored");
}

#[tokio::test]
async fn users_who_can_act_now_get_a_task_and_others_do_not() {
    let app = TestApp::spawn().await;
    tenant(&app, &recruit()).await;
    let cand = app.login(T, "cand").await;
    let reviewer = app.login(T, "reviewer").await;
    let other = app.login(T, "other_reviewer").await;
    let id = submit(&cand, person("赵六", "男", "P01")).await;

    let (s, n) = reviewer.get("/api/v1/notifications?unread=true").await;
    assert_eq!(s, StatusCode::OK, "{n}");
    assert_eq!(
        (n["total"].as_i64(), n["unread"].as_i64()),
        (Some(1), Some(1)),
        "{n}"
    );
    let task = &n["items"][0];
    assert_eq!(
        (task["kind"].as_str(), task["record_id"].as_str()),
        (Some("task"), Some(id.as_str()))
    );
    assert!(
        task["body"].as_str().unwrap().contains("审查通过"),
        "{task}"
    );
    // The reviewer of the other district does not see the record, so gets no task; the
    // candidate acted and gets none either.
    let (_, n) = other.get("/api/v1/notifications").await;
    assert_eq!(n["total"], 0, "{n}");
    let (_, n) = cand.get("/api/v1/notifications").await;
    assert_eq!(n["total"], 0, "{n}");

    let tid = task["id"].as_str().unwrap();
    let (s, _) = other
        .post(&format!("/api/v1/notifications/{tid}/read"), json!({}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "someone else's message");
    let (s, r) = reviewer
        .post(&format!("/api/v1/notifications/{tid}/read"), json!({}))
        .await;
    assert_eq!((s, r["changed"].as_i64()), (StatusCode::OK, Some(1)));
    let (_, n) = reviewer.get("/api/v1/notifications").await;
    assert_eq!(
        (n["total"].as_i64(), n["unread"].as_i64()),
        (Some(1), Some(0))
    );
    assert!(n["items"][0]["read_at"].is_string());
    // A rejection gives the candidate a task: their draft is theirs to fix.
    reviewer
        .fire(
            &id,
            "reject",
            json!({"comment": "照片不合格", "data": {"review_note": "照片不合格"}}),
        )
        .await;
    let (_, n) = cand.get("/api/v1/notifications").await;
    assert_eq!(n["total"], 1, "{n}");
    let (s, r) = cand.post("/api/v1/notifications/read-all", json!({})).await;
    assert_eq!((s, r["changed"].as_i64()), (StatusCode::OK, Some(1)));
}

type Seen = Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>;

/// A receiver that answers 500 to the first `failures` calls, then 200, and records them all.
async fn receiver(failures: usize) -> (String, Seen) {
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let handler = move |headers: axum::http::HeaderMap, body: String| {
        let seen = s2.clone();
        async move {
            let mut v = seen.lock().unwrap();
            v.push((headers, body));
            if v.len() <= failures {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            }
        }
    };
    let router = axum::Router::new().route("/hook", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, seen)
}

#[tokio::test]
async fn webhooks_are_signed_retried_and_delivered() {
    let app = TestApp::spawn().await;
    tenant(&app, &recruit()).await;
    let admin = app.login(T, "admin").await;
    let cand = app.login(T, "cand").await;
    let (url, seen) = receiver(2).await;

    let (s, b) = admin
        .post(
            "/api/v1/webhooks",
            json!({"url": "ftp://x", "events": ["record.deleted"], "forms": ["nope"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let ptrs: Vec<&str> = b["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(ptrs, ["/url", "/events/0", "/forms/0"]);
    let (s, _) = cand.post("/api/v1/webhooks", json!({"url": url})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, hook) = admin
        .post(
            "/api/v1/webhooks",
            json!({"url": url, "events": ["record.transition"], "forms": ["application"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_string();
    let (_, listed) = admin.get("/api/v1/webhooks").await;
    assert!(
        listed["items"][0].get("secret").is_none(),
        "the secret is shown once: {listed}"
    );

    // Creating with `submit` is a `record.created` event: not followed. The approval is.
    let id = submit(&cand, person("钱七", "女", "P01")).await;
    let reviewer = app.login(T, "reviewer").await;
    reviewer
        .fire(&id, "approve", json!({"data": {"review_note": "合格"}}))
        .await;
    let mut waited = 0;
    while seen.lock().unwrap().len() < 3 && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 3, "two failures, then delivered");
    let delivery = calls[0].0["x-formwork-delivery"]
        .to_str()
        .unwrap()
        .to_string();
    for (headers, body) in &calls {
        assert_eq!(
            headers["x-formwork-delivery"].to_str().unwrap(),
            delivery,
            "one message, retried"
        );
        assert_eq!(headers["x-formwork-event"], "record.transition");
        let sig = headers["x-formwork-signature"].to_str().unwrap();
        let t = sig.split(',').find_map(|p| p.strip_prefix("t=")).unwrap();
        let given = sig
            .split(',')
            .find_map(|p| p.strip_prefix("sha256="))
            .unwrap();
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            given,
            "signature verifies"
        );
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            (v["action"].as_str(), v["record"]["state"].as_str()),
            (Some("approve"), Some("qualified"))
        );
        let id_masked = v["record"]["data"]["id_number"].as_str().unwrap();
        assert!(id_masked.starts_with("110105********"), "masked: {v}");
        assert!(
            v["record"]["data"].get("review_note").is_none(),
            "restricted fields stay home"
        );
    }
    // The outbox shows it sent after three attempts; nothing more arrives.
    let mut sent = Value::Null;
    for _ in 0..50 {
        let (_, out) = admin.get("/api/v1/outbox?channel=webhook").await;
        if out["items"][0]["status"] == "sent" {
            sent = out["items"][0].clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        (sent["status"].as_str(), sent["attempts"].as_i64()),
        (Some("sent"), Some(3)),
        "{sent}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(seen.lock().unwrap().len(), 3);
    let (s, _) = admin
        .delete(&format!(
            "/api/v1/webhooks/{}",
            hook["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_batch_rule_ranks_within_position_and_sex_and_runs_what_was_previewed() {
    let app = TestApp::spawn().await;
    tenant(&app, &recruit()).await;
    let cand = app.login(T, "cand").await;
    let officer = app.login(T, "officer").await;
    // P01 takes 1 × 2 per sex; P02 takes 2 × 2.
    let mut ids = std::collections::BTreeMap::new();
    for (name, sex, pos, score) in [
        ("甲", "男", "P01", 90.0),
        ("乙", "男", "P01", 80.0),
        ("丙", "男", "P01", 80.0), // tied with 乙 for second: both are taken
        ("丁", "男", "P01", 70.0),
        ("戊", "女", "P01", 65.0),
        ("己", "男", "P02", 61.0),
    ] {
        ids.insert(
            name,
            scored(&app, &cand, person(name, sex, pos), score).await,
        );
    }
    let (s, _) = cand
        .post("/api/v1/batch-rules/shortlist/preview", json!({}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, rules) = officer.get("/api/v1/batch-rules").await;
    assert_eq!(rules["items"][0]["key"], "shortlist", "{rules}");

    let (s, p) = officer
        .post("/api/v1/batch-rules/shortlist/preview", json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let taken: Vec<&str> = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["selected"] == true)
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(taken, ["戊", "甲", "乙", "丙", "己"], "{p}");
    assert_eq!(
        (p["selected"].as_i64(), p["others"].as_i64()),
        (Some(5), Some(1))
    );
    let part = p["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["values"] == json!(["P01", "男"]))
        .unwrap();
    assert_eq!(
        (
            part["count"].as_i64(),
            part["take"].as_i64(),
            part["selected"].as_i64()
        ),
        (Some(4), Some(2), Some(3))
    );
    // Previewing wrote nothing.
    let (_, r) = officer.get(&format!("/api/v1/records/{}", ids["甲"])).await;
    assert_eq!(r["state"], "scored");

    // A change after the preview: the run is refused with a fresh preview.
    let digest = p["digest"].as_str().unwrap().to_string();
    let late = scored(&app, &cand, person("庚", "女", "P01"), 99.0).await;
    let (s, b) = officer
        .post(
            "/api/v1/batch-rules/shortlist/run",
            json!({"digest": digest}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("selection_changed")),
        "{b}"
    );
    let (_, r) = officer.get(&format!("/api/v1/records/{late}")).await;
    assert_eq!(r["state"], "scored", "nothing ran");
    let fresh = b["preview"]["digest"].as_str().unwrap();
    let (s, b) = officer
        .post(
            "/api/v1/batch-rules/shortlist/run",
            json!({"digest": fresh, "comment": "按 1:2 比例"}),
        )
        .await;
    assert_eq!((s, b["changed"].as_i64()), (StatusCode::OK, Some(7)), "{b}");
    for (name, state) in [
        ("甲", "shortlisted"),
        ("乙", "shortlisted"),
        ("丙", "shortlisted"),
        ("丁", "eliminated"),
        ("戊", "shortlisted"),
        ("己", "shortlisted"),
    ] {
        let (_, r) = officer.get(&format!("/api/v1/records/{}", ids[name])).await;
        assert_eq!(r["state"], state, "{name}");
    }
    let (_, r) = officer.get(&format!("/api/v1/records/{late}")).await;
    assert_eq!(r["state"], "shortlisted");
    // Each shortlisted application got its interview record, in the same run.
    let n: i64 = sqlx::query(
        "select count(*) as n from records where tenant_id = $1 and form_key = 'interview'",
    )
    .bind(T)
    .fetch_one(app.db().pool())
    .await
    .unwrap()
    .try_get("n")
    .unwrap();
    assert_eq!(n, 6);
}

#[tokio::test]
async fn one_application_per_id_number_per_year() {
    let app = TestApp::spawn().await;
    tenant(&app, &recruit()).await;
    let cand = app.login(T, "cand").await;
    let cand2 = app.login(T, "cand2").await;
    let first = person("孙八", "男", "P01");
    submit(&cand, first.clone()).await;
    // The same ID number again, from another account: refused, nothing stored.
    let before = app.count("records", T).await;
    let (s, b) = cand2
        .post(
            "/api/v1/forms/application/records",
            json!({"data": first, "action": "submit"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let e = &b["error"]["fields"][0];
    assert_eq!(
        (e["pointer"].as_str(), e["rule"].as_str()),
        (Some("/id_number"), Some("unique"))
    );
    assert_eq!(e["message"], "该身份证号本年度已报名");
    assert_eq!(app.count("records", T).await, before);
    // A draft with it is fine (drafts do not count), submitting it is not.
    let (s, draft) = cand2
        .post("/api/v1/forms/application/records", json!({"data": first}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, b) = cand2
        .fire(draft["id"].as_str().unwrap(), "submit", json!({}))
        .await;
    assert_eq!(
        (s, b["error"]["fields"][0]["rule"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unique"))
    );
    // Another ID number passes.
    submit(&cand2, person("周九", "女", "P01")).await;
}

#[tokio::test]
async fn simultaneous_applications_with_one_id_number_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    tenant(&app, &recruit()).await;
    let cand = app.login(T, "cand").await;
    let data = person("吴十", "男", "P02");
    for round in 0..3 {
        let year_free = person(&format!("吴十{round}"), "男", "P02");
        let data = if round == 0 { data.clone() } else { year_free };
        let tries = (0..6).map(|_| {
            let s = cand.clone();
            let d = data.clone();
            async move {
                s.post(
                    "/api/v1/forms/application/records",
                    json!({"data": d, "action": "submit"}),
                )
                .await
                .0
            }
        });
        let results = futures_join_all(tries).await;
        let created = results
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        let refused = results
            .iter()
            .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
            .count();
        assert_eq!((created, refused), (1, 5), "round {round}: {results:?}");
    }
}

/// Runs the futures at once (on the test's runtime) and collects their outputs in order.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    fs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}
