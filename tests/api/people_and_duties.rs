//! What people read and who may do what, on the `recruit` fixture pack with a few additions:
//! times on the tenant's wall clock (pages, documents, the API's display fields), a record
//! in one line (`x-summary`), yes/no in a field's own words, groups in the workflow's order,
//! one sensitive field unmasked for the role that needs it, and the maker who is not the
//! checker (`separate`), waived and audited for one unit.

use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

use crate::harness::{Session, TestApp, PASSWORD};

const T: &str = "people";

/// The recruit pack with a summary, a yes/no field with its own words, an approval sheet
/// printed from the history, a list grouped by state, and a separation of duties on
/// `approve` and `reject` that the `district2` unit is exempt from.
fn pack() -> form_runtime::pack::PackFiles {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/recruit");
    let mut files = form_runtime::pack::PackFiles::from_dir(&dir).expect("fixture pack");
    edit(&mut files, "forms/application.json", |f| {
        f["x-summary"] = json!({"title": "name", "fields": ["position_code", {"field": "written_score", "label": "笔试"}]});
        f["properties"]["veteran"] = json!({"type": "boolean", "title": "退役军人",
            "x-ui": {"yes_no": ["是退役军人", "非退役军人"]}});
    });
    edit(&mut files, "lists/applications.json", |l| {
        l["group"] = json!("state");
    });
    edit(&mut files, "workflows/recruitment.json", |w| {
        for t in w["transitions"].as_array_mut().unwrap() {
            if t["action"] == "approve" || t["action"] == "reject" {
                t["separate"] = json!({"from": ["submit"], "waived_in": ["district2"]});
            }
        }
    });
    files.0.insert(
        "documents/app_sheet.json".into(),
        r#"{"label": "报名审查表", "form": "application", "template": "app_sheet.html.j2"}"#
            .as_bytes()
            .to_vec(),
    );
    files.0.insert(
        "documents/app_sheet.html.j2".into(),
        "<p id=summary>{{ record.summary }}</p>\n<p id=veteran>{{ text.veteran }}</p>\n\
         <p id=opinion>{{ entered.qualified.comment }}|{{ entered.qualified.by }}|{{ entered.qualified.at }}</p>\n\
         <p id=submitted>{{ entered.submitted.at }}</p>\n<p id=created>{{ record.created_at }}</p>\n\
         <p id=printed>{{ printed_at }}</p>\n<ol>{% for h in history %}<li>{{ h.action_label }} {{ h.at }}</li>{% endfor %}</ol>\n"
            .as_bytes()
            .to_vec(),
    );
    files
}

fn edit(files: &mut form_runtime::pack::PackFiles, path: &str, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_slice(&files.0[path]).expect("json");
    f(&mut v);
    files
        .0
        .insert(path.into(), serde_json::to_vec_pretty(&v).unwrap());
}

async fn tenant(app: &TestApp) {
    app.tenant_with_files(
        T,
        &pack(),
        &[
            ("cand", "street", "candidate"),
            ("reviewer", "district", "unit_reviewer"),
            ("officer", "root", "exam_officer"),
            // One person who both applies and reviews: in `district` (not exempt) and in
            // `district2` (exempt).
            ("both", "district", "candidate+unit_reviewer"),
            ("both2", "district2", "candidate+unit_reviewer"),
        ],
    )
    .await;
}

fn id_number(n: u32) -> String {
    let body = format!("11010519900101{:03}", n % 1000);
    let check = form_runtime::formats::id_check_char(&body).expect("17 digits");
    format!("{body}{check}")
}

fn person(name: &str, n: u32) -> Value {
    // The history's first step (the creation) has no action: its label prints as nothing.
    json!({"name": name, "id_number": id_number(n), "phone": "13812345678", "sex": "女",
           "position_code": "P02", "veteran": false})
}

async fn submit(s: &Session, data: Value) -> Value {
    let (st, b) = s
        .post(
            "/api/v1/forms/application/records",
            json!({"data": data, "action": "submit"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    b
}

/// A stored RFC 3339 moment on a wall clock `hours` east of UTC, to the minute.
fn wall(at: &str, hours: i64) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(at).expect("rfc 3339");
    (t.with_timezone(&chrono::Utc) + chrono::Duration::hours(hours))
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

#[tokio::test]
async fn times_read_on_the_tenants_wall_clock_in_the_api_documents_and_pages() {
    let app = TestApp::spawn().await;
    tenant(&app).await;
    let cand = app.login(T, "cand").await;
    let reviewer = app.login(T, "reviewer").await;
    let rec = submit(&cand, person("王芳", 1)).await;
    let id = rec["id"].as_str().unwrap();
    let (s, b) = reviewer
        .fire(
            id,
            "approve",
            json!({"comment": "学历、年龄均符合", "data": {"review_note": "符合"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // The API keeps ISO values for machines, with the tenant's wall-clock time beside them.
    let created = rec["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') || created.contains('+'), "{created}");
    assert_eq!(rec["created_at_text"], wall(created, 8));
    let (_, events) = reviewer.get(&format!("/api/v1/records/{id}/events")).await;
    for e in events["items"].as_array().unwrap() {
        assert_eq!(e["at_text"], wall(e["at"].as_str().unwrap(), 8), "{e}");
    }
    let approved_at = events["items"][2]["at"].as_str().unwrap().to_string();
    let submitted_at = events["items"][1]["at"].as_str().unwrap().to_string();

    // The printed document: the opinion from the history, who gave it and when, all in
    // Shanghai time; yes/no in the field's words; the one-line summary.
    let (s, doc) = reviewer
        .get(&format!("/api/v1/records/{id}/documents/app_sheet"))
        .await;
    assert_eq!(s, StatusCode::OK, "{doc}");
    let html = doc.as_str().expect("html");
    assert!(
        html.contains(&format!(
            "<p id=opinion>学历、年龄均符合|reviewer|{}</p>",
            wall(&approved_at, 8)
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!("<p id=submitted>{}</p>", wall(&submitted_at, 8))),
        "{html}"
    );
    assert!(
        html.contains(&format!("<p id=created>{}</p>", wall(created, 8))),
        "{html}"
    );
    assert!(html.contains("<p id=veteran>非退役军人</p>"), "{html}");
    assert!(html.contains("<p id=summary>王芳 · P02</p>"), "{html}");
    assert!(html.contains("<li>审查通过 "), "{html}");
    assert!(
        !html.contains("Z<") && !html.contains("+00:00"),
        "no raw ISO time: {html}"
    );

    // The record page shows the same times.
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap();
    let r = c
        .post(format!("{}/login", app.base))
        .form(&[
            ("tenant", T),
            ("username", "reviewer"),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = c
        .get(format!("{}/records/{id}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&wall(&approved_at, 8)), "{page}");
    assert!(!page.contains(&approved_at), "no raw ISO time on the page");

    // A tenant in another zone reads the same moments on its own clock, from the next request.
    let mut tx = app.db().begin().await.unwrap();
    formwork::store::tenants::set_time_zone(
        &mut tx,
        T,
        form_runtime::clock::zone("Europe/London").unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (_, again) = reviewer.get(&format!("/api/v1/records/{id}")).await;
    let london =
        form_runtime::clock::people(created, form_runtime::clock::zone("Europe/London").unwrap())
            .unwrap();
    assert_eq!(again["created_at_text"], london);
    assert_eq!(
        again["created_at"], rec["created_at"],
        "the stored moment is unchanged"
    );
}

#[tokio::test]
async fn a_record_reads_in_one_line_and_groups_follow_the_flow() {
    let app = TestApp::spawn().await;
    tenant(&app).await;
    let cand = app.login(T, "cand").await;
    let reviewer = app.login(T, "reviewer").await;
    let officer = app.login(T, "officer").await;
    // One record in each of draft, submitted and qualified: by key they would sort draft,
    // qualified, submitted.
    let (s, _) = cand
        .post(
            "/api/v1/forms/application/records",
            json!({"data": person("草稿人", 2)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    submit(&cand, person("待审人", 3)).await;
    let q = submit(&cand, person("通过人", 4)).await;
    let (s, b) = reviewer
        .fire(
            q["id"].as_str().unwrap(),
            "approve",
            json!({"data": {"review_note": "符合"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = officer
        .fire(
            q["id"].as_str().unwrap(),
            "score",
            json!({"data": {"written_score": 81.5}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let (s, list) = officer.get("/api/v1/lists/applications").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let groups: Vec<&str> = list["group"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["value"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["draft", "submitted", "scored"], "{list}");
    let (_, mine) = cand.get("/api/v1/lists/applications").await;
    let groups: Vec<&str> = mine["group"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["value"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["draft", "submitted", "scored"], "{mine}");
    let rows: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(rows, ["draft", "submitted", "scored"]);
    // Descending reverses the flow.
    let (_, desc) = cand.get("/api/v1/lists/applications?sort=-state").await;
    let rows: Vec<&str> = desc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(rows, ["scored", "submitted", "draft"]);

    // Every row and record says what it is: the title, the choice unlabelled, the score
    // labelled with its places.
    let scored = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["state"] == "scored")
        .unwrap();
    assert_eq!(scored["summary"], "通过人 · P02 · 笔试 81.5");
    let (_, one) = cand
        .get(&format!("/api/v1/records/{}", q["id"].as_str().unwrap()))
        .await;
    assert_eq!(one["summary"], "通过人 · P02 · 笔试 81.5");
    // The inbox rows too.
    let (_, inbox) = reviewer.get("/api/v1/inbox").await;
    assert_eq!(inbox["items"][0]["summary"], "待审人 · P02", "{inbox}");
}

async fn unmask_fields(app: &TestApp, record: &str) -> Vec<Value> {
    sqlx::query(
        "select detail from audit_log where action = 'record.unmask' and object = $1 order by id",
    )
    .bind(record)
    .fetch_all(app.db().pool())
    .await
    .expect("audit rows")
    .iter()
    .map(|r| {
        let d: Value =
            serde_json::from_str(&r.try_get::<String, _>("detail").expect("detail")).unwrap();
        d["fields"].clone()
    })
    .collect()
}

#[tokio::test]
async fn one_sensitive_field_is_unmasked_for_the_role_that_needs_it_and_audited() {
    let app = TestApp::spawn().await;
    tenant(&app).await;
    let cand = app.login(T, "cand").await;
    let reviewer = app.login(T, "reviewer").await;
    let rec = submit(&cand, person("赵敏", 5)).await;
    let id = rec["id"].as_str().unwrap();
    let before = unmask_fields(&app, id).await.len();

    // The unit reviewer phones candidates: the phone in clear, the ID number masked.
    let (s, r) = reviewer.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["data"]["phone"], "13812345678");
    let masked = r["data"]["id_number"].as_str().unwrap();
    assert!(masked.contains('*') && masked != id_number(5), "{masked}");
    let audited = unmask_fields(&app, id).await;
    assert_eq!(audited.len(), before + 1);
    assert_eq!(audited.last().unwrap(), &json!(["/phone"]));

    // The same in the list, audited the same way.
    let (_, list) = reviewer.get("/api/v1/lists/applications").await;
    let row = &list["items"][0]["data"];
    assert_eq!(row.get("phone"), None, "the list has no phone column");
    let (_, masked_list) = reviewer
        .get("/api/v1/lists/applications?filter[state]=submitted")
        .await;
    assert_eq!(masked_list["total"], 1);

    // The exam officer, with `unmask`, sees both; the candidate's own role sees neither.
    let officer = app.login(T, "officer").await;
    let (_, r) = officer.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(r["data"]["id_number"], id_number(5));
    let (_, own) = cand.get(&format!("/api/v1/records/{id}")).await;
    assert_ne!(own["data"]["phone"], "13812345678");
}

#[tokio::test]
async fn the_maker_is_not_the_checker_unless_the_unit_works_that_way_and_then_it_is_audited() {
    let app = TestApp::spawn().await;
    tenant(&app).await;
    let both = app.login(T, "both").await;
    let reviewer = app.login(T, "reviewer").await;
    let rec = submit(&both, person("钱多", 6)).await;
    let id = rec["id"].as_str().unwrap();

    // Not offered, not in the inbox, refused when fired, and the record unchanged.
    assert!(
        !rec["actions"]
            .as_array()
            .unwrap()
            .contains(&json!("approve")),
        "{rec}"
    );
    let (_, inbox) = both.get("/api/v1/inbox").await;
    assert_eq!(inbox["total"], 0, "{inbox}");
    let (s, b) = both
        .fire(id, "approve", json!({"data": {"review_note": "本人审核"}}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("「提交报名」") && msg.contains("另一人"),
        "{msg}"
    );
    let (_, after) = both.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(after["state"], "submitted");
    assert_eq!(after["version"], rec["version"]);

    // Another reviewer of the unit has it in the inbox and approves it.
    let (_, inbox) = reviewer.get("/api/v1/inbox").await;
    assert_eq!(inbox["total"], 1, "{inbox}");
    let (s, b) = reviewer
        .fire(id, "approve", json!({"data": {"review_note": "符合"}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // In district2 one person may do both; the approval says so in the audit log.
    let both2 = app.login(T, "both2").await;
    let rec2 = submit(&both2, person("孙俪", 7)).await;
    let id2 = rec2["id"].as_str().unwrap();
    assert!(rec2["actions"]
        .as_array()
        .unwrap()
        .contains(&json!("approve")));
    let (_, inbox) = both2.get("/api/v1/inbox").await;
    assert_eq!(inbox["total"], 1, "{inbox}");
    let (s, b) = both2
        .fire(id2, "approve", json!({"data": {"review_note": "符合"}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let details: Vec<Value> = sqlx::query(
        "select detail from audit_log where action = 'record.transition.approve' and object = $1",
    )
    .bind(id2)
    .fetch_all(app.db().pool())
    .await
    .unwrap()
    .iter()
    .map(|r| serde_json::from_str(&r.try_get::<String, _>("detail").unwrap()).unwrap())
    .collect();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0]["separation_waived"], json!(["submit"]));
    // The ordinary approval carries no such mark.
    let plain: String = sqlx::query(
        "select detail from audit_log where action = 'record.transition.approve' and object = $1",
    )
    .bind(id)
    .fetch_one(app.db().pool())
    .await
    .unwrap()
    .try_get("detail")
    .unwrap();
    assert!(!plain.contains("separation_waived"), "{plain}");
}
