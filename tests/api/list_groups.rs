//! Grouped lists (`group` in a list file): rows ordered by the group field, one header per
//! group with its count, and the counts taken within the reader's data scope and filters.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{application, Session, TestApp};

/// The red-cross pack with two grouped lists over fire_relief.
fn pack() -> form_runtime::pack::PackFiles {
    let mut files = formwork::seed::builtin_pack("red-cross").expect("pack shipped");
    let by_district = json!({
        "label": "按区分组的救助申请",
        "form": "fire_relief",
        "columns": [{"field": "applicant_name"}, {"field": "district"}, {"field": "state", "label": "状态"}],
        "filters": ["state", "district", "org"],
        "sort": ["-created_at"],
        "group": "district"
    });
    let by_state = json!({
        "label": "按状态分组的救助申请",
        "form": "fire_relief",
        "columns": [{"field": "applicant_name"}],
        "group": "state"
    });
    let by_injured = json!({
        "label": "按受伤人数分组的救助申请",
        "form": "fire_relief",
        "columns": [{"field": "applicant_name"}],
        "group": "injured"
    });
    for (key, def) in [
        ("by_district", by_district),
        ("by_state", by_state),
        ("by_injured", by_injured),
    ] {
        files.0.insert(
            format!("lists/{key}.json"),
            serde_json::to_vec_pretty(&def).expect("json"),
        );
    }
    files
}

/// Tenant `grouped`: a district user (three applications: 浦东新区 twice, 黄浦区 once, one
/// left a draft), a user of a sibling district (浦东新区, 徐汇区; one with two injured) and a
/// city reviewer.
async fn arrange(app: &TestApp) -> (Session, Session) {
    app.tenant_with_files(
        "grouped",
        &pack(),
        &[
            ("mine", "district", "district_staff"),
            ("sibling", "district2", "district_staff"),
            ("city", "root", "city_reviewer"),
        ],
    )
    .await;
    let mine = app.login("grouped", "mine").await;
    let sibling = app.login("grouped", "sibling").await;
    for (who, name, district, action) in [
        (&mine, "甲", "浦东新区", Some("submit")),
        (&mine, "乙", "黄浦区", Some("submit")),
        (&mine, "丙", "浦东新区", None),
        (&sibling, "丁", "浦东新区", Some("submit")),
        (&sibling, "戊", "徐汇区", Some("submit")),
    ] {
        let mut data = application(name);
        data["district"] = json!(district);
        data["injured"] = json!(1 + u8::from(name == "戊"));
        who.create(data, action).await;
    }
    (mine, app.login("grouped", "city").await)
}

async fn page(who: &Session, path: &str) -> Value {
    let (s, body) = who.get(path).await;
    assert_eq!(s, StatusCode::OK, "{path}: {body}");
    body
}

/// `[(value, count)]` of a grouped answer, in its order.
fn counts(body: &Value) -> Vec<(String, u64)> {
    body["group"]["counts"]
        .as_array()
        .expect("a grouped answer has counts")
        .iter()
        .map(|c| {
            (
                c["value"].as_str().unwrap_or("").to_string(),
                c["count"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn sorted(mut v: Vec<(String, u64)>) -> Vec<(String, u64)> {
    v.sort();
    v
}

/// The group of each row, in row order.
fn row_groups(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["group"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn grouped_counts_cover_only_the_records_in_the_readers_scope_and_filters() {
    let app = TestApp::spawn().await;
    let (mine, city) = arrange(&app).await;

    let body = page(&mine, "/api/v1/lists/by_district").await;
    assert_eq!(body["group"]["field"], "district");
    assert_eq!(body["group"]["label"], "所属区");
    assert_eq!(body["total"], 3);
    assert_eq!(
        sorted(counts(&body)),
        [("浦东新区".to_string(), 2), ("黄浦区".to_string(), 1)],
        "the sibling district's records are not counted: {body}"
    );

    let body = page(&city, "/api/v1/lists/by_district").await;
    assert_eq!(body["total"], 5);
    assert_eq!(
        sorted(counts(&body)),
        [
            ("徐汇区".to_string(), 1),
            ("浦东新区".to_string(), 3),
            ("黄浦区".to_string(), 1)
        ]
    );

    // Filters narrow the counts exactly as they narrow the rows.
    let body = page(&mine, "/api/v1/lists/by_district?filter[state]=submitted").await;
    assert_eq!(body["total"], 2);
    assert_eq!(
        sorted(counts(&body)),
        [("浦东新区".to_string(), 1), ("黄浦区".to_string(), 1)]
    );
    let body = page(&city, "/api/v1/lists/by_district?filter[org]=district2").await;
    assert_eq!(
        sorted(counts(&body)),
        [("徐汇区".to_string(), 1), ("浦东新区".to_string(), 1)]
    );
    // A district user asking for the sibling district gets no rows and no groups.
    let body = page(&mine, "/api/v1/lists/by_district?filter[org]=district2").await;
    assert_eq!(body["total"], 0);
    assert_eq!(counts(&body), []);
}

#[tokio::test]
async fn rows_come_group_by_group_and_every_page_reports_every_group() {
    let app = TestApp::spawn().await;
    let (_, city) = arrange(&app).await;

    let all = page(&city, "/api/v1/lists/by_district").await;
    let groups = counts(&all);
    // The rows run through the groups in the order of the counts, each group's rows together.
    let mut expected = Vec::new();
    for (value, n) in &groups {
        expected.extend(std::iter::repeat_n(value.clone(), *n as usize));
    }
    assert_eq!(row_groups(&all), expected);

    // A page of one row still knows every group; sorting by the field descending reverses them.
    let second = page(&city, "/api/v1/lists/by_district?page=2&page_size=1").await;
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(counts(&second), groups);
    assert_eq!(row_groups(&second), [expected[1].clone()]);
    let reversed = page(&city, "/api/v1/lists/by_district?sort=-district").await;
    let mut back = groups.clone();
    back.reverse();
    assert_eq!(counts(&reversed), back);

    // Grouped by state: the state's label heads the group; a list without `group` has none.
    let by_state = page(&city, "/api/v1/lists/by_state").await;
    let labels: Vec<(&str, &str, u64)> = by_state["group"]["counts"]
        .as_array()
        .expect("counts")
        .iter()
        .map(|c| {
            (
                c["value"].as_str().unwrap_or(""),
                c["label"].as_str().unwrap_or(""),
                c["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        labels,
        [
            ("draft", "草稿", 1),
            ("submitted", "已提交（待区红会审核）", 4)
        ]
    );
    // Whole numbers group by their value, in numeric order, on both databases.
    let by_injured = page(&city, "/api/v1/lists/by_injured").await;
    assert_eq!(
        counts(&by_injured),
        [("1".to_string(), 4), ("2".to_string(), 1)]
    );
    assert_eq!(row_groups(&by_injured), ["1", "1", "1", "1", "2"]);
    let plain = page(&city, "/api/v1/lists/fire_relief_all").await;
    assert!(plain.get("group").is_none(), "{plain}");
    assert!(plain["items"][0].get("group").is_none());
}

#[tokio::test]
async fn the_list_page_heads_each_group_with_its_label_and_count() {
    let app = TestApp::spawn().await;
    let (mine, _) = arrange(&app).await;
    let (s, html) = mine.get("/lists/by_district").await;
    assert_eq!(s, StatusCode::OK);
    let html = html.as_str().expect("an HTML page");
    assert_eq!(html.matches("class=\"group-row\"").count(), 2, "{html}");
    assert!(
        html.contains("浦东新区<span class=\"count\">共 2 条</span>"),
        "{html}"
    );
    assert!(
        html.contains("黄浦区<span class=\"count\">共 1 条</span>"),
        "{html}"
    );
}

#[tokio::test]
async fn a_reader_who_may_not_see_the_group_field_gets_the_list_ungrouped() {
    let app = TestApp::spawn().await;
    // The recruit fixture shows `review_note` only to reviewers and exam officers.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/recruit");
    let mut files = form_runtime::pack::PackFiles::from_dir(&dir).expect("fixture pack");
    let by_note = json!({"label": "按审查意见分组", "form": "application",
        "columns": [{"field": "name"}], "group": "review_note"});
    files.0.insert(
        "lists/by_note.json".into(),
        serde_json::to_vec(&by_note).expect("json"),
    );
    app.tenant_with_files(
        "recruit_groups",
        &files,
        &[
            ("cand", "street", "candidate"),
            ("reviewer", "district", "unit_reviewer"),
        ],
    )
    .await;
    let reviewer = app.login("recruit_groups", "reviewer").await;
    let body = page(&reviewer, "/api/v1/lists/by_note").await;
    assert_eq!(body["group"]["field"], "review_note", "{body}");
    let candidate = app.login("recruit_groups", "cand").await;
    let body = page(&candidate, "/api/v1/lists/by_note").await;
    assert!(body.get("group").is_none(), "{body}");
}
