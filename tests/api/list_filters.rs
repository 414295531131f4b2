//! List filter operators, the org subtree filter, keyword search and saved views, over HTTP.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{application, Session, TestApp};

/// `/api/v1/lists/fire_relief_all?…` with every pair percent-encoded.
fn url(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    format!("/api/v1/lists/fire_relief_all?{}", s.finish())
}

/// The applicant names of a list answer, in order, after asserting 200.
async fn names(who: &Session, pairs: &[(&str, &str)]) -> Vec<String> {
    let (s, body) = who.get(&url(pairs)).await;
    assert_eq!(s, StatusCode::OK, "{pairs:?}: {body}");
    let items = body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(body["total"].as_u64(), Some(items.len() as u64), "{body}");
    items
        .iter()
        .map(|r| {
            r["data"]["applicant_name"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// The 422 pointers of a list request.
async fn refused(who: &Session, pairs: &[(&str, &str)]) -> Vec<String> {
    let (s, body) = who.get(&url(pairs)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{pairs:?}: {body}");
    body["error"]["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|f| f["pointer"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Three Pudong records (a submitted one among them) and one Huangpu record.
async fn arrange(app: &TestApp) -> (Session, Session, Session) {
    let pudong = app.login("redcross", "pudong_staff").await;
    let huangpu = app.login("redcross", "huangpu_staff").await;
    let city = app.login("redcross", "city_reviewer").await;
    // (who, applicant, fire date, amount, address, district, action)
    let rows = [
        (
            &pudong,
            "王五50%_甲",
            "2026-10-01",
            3000,
            "浦东新区花木路1号",
            "浦东新区",
            None,
        ),
        (
            &pudong,
            "赵六500乙",
            "2026-10-15",
            8000,
            "浦东新区张江路2号",
            "浦东新区",
            Some("submit"),
        ),
        (
            &pudong,
            "钱七",
            "2026-11-02",
            20000,
            "浦东新区世纪大道3号",
            "浦东新区",
            None,
        ),
        (
            &huangpu,
            "孙八",
            "2026-10-20",
            8000,
            "黄浦区南京东路4号",
            "黄浦区",
            None,
        ),
    ];
    for (who, name, date, amount, address, district, action) in rows {
        let mut d = application(name);
        d["fire_date"] = json!(date);
        d["requested_amount"] = json!(amount);
        d["address"] = json!(address);
        d["district"] = json!(district);
        who.create(d, action).await;
    }
    (pudong, huangpu, city)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn list_filters_take_ranges_in_lists_and_contains_per_field_kind() {
    let app = TestApp::spawn().await;
    let (_, _, city) = arrange(&app).await;
    let by_amount = [("sort", "requested_amount,applicant_name")];
    let amount = |op: &'static str, v: &'static str| [(op, v), by_amount[0]];
    assert_eq!(
        names(&city, &amount("filter[requested_amount][gte]", "8000")).await,
        ["孙八", "赵六500乙", "钱七"]
    );
    assert_eq!(
        names(&city, &amount("filter[requested_amount][gt]", "8000")).await,
        ["钱七"]
    );
    assert_eq!(
        names(&city, &amount("filter[requested_amount][lt]", "8000")).await,
        ["王五50%_甲"]
    );
    assert_eq!(
        names(&city, &amount("filter[requested_amount][lte]", "8000")).await,
        ["王五50%_甲", "孙八", "赵六500乙"]
    );
    assert_eq!(
        names(&city, &amount("filter[requested_amount][in]", "3000,20000")).await,
        ["王五50%_甲", "钱七"]
    );
    // A date range: October only, both ends included.
    let october = names(
        &city,
        &[
            ("filter[fire_date][gte]", "2026-10-01"),
            ("filter[fire_date][lte]", "2026-10-15"),
        ],
    )
    .await;
    assert_eq!(sorted(october), ["王五50%_甲", "赵六500乙"]);
    // `%` and `_` match themselves: "500" would match the pattern `50%_` read as wildcards.
    assert_eq!(
        names(&city, &[("filter[applicant_name][contains]", "50%_")]).await,
        ["王五50%_甲"]
    );
    assert_eq!(
        sorted(names(&city, &[("filter[applicant_name][contains]", "50")]).await),
        ["王五50%_甲", "赵六500乙"]
    );
    assert_eq!(
        sorted(names(&city, &[("filter[applicant_name][in]", "钱七, 孙八")]).await),
        ["孙八", "钱七"]
    );
    assert_eq!(
        names(
            &city,
            &[("filter[state][in]", "submitted,district_approved")]
        )
        .await,
        ["赵六500乙"]
    );
    assert_eq!(names(&city, &[("filter[state]", "draft")]).await.len(), 3);
    // created_at: a bare date is the whole day; nothing was created before 2000.
    let (_, all) = city.get(&url(&[])).await;
    let today = all["items"][0]["created_at"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .take(10)
        .collect::<String>();
    assert_eq!(
        names(&city, &[("filter[created_at]", &today)]).await.len(),
        4
    );
    assert_eq!(
        names(&city, &[("filter[created_at][lte]", &today)])
            .await
            .len(),
        4
    );
    assert!(names(&city, &[("filter[created_at][lt]", "2000-01-01")])
        .await
        .is_empty());
}

#[tokio::test]
async fn list_refuses_operators_that_do_not_fit_and_bad_values() {
    let app = TestApp::spawn().await;
    let city = app.login("redcross", "city_reviewer").await;
    assert_eq!(
        refused(
            &city,
            &[
                ("filter[requested_amount][contains]", "5"),
                ("filter[requested_amount][gte]", "lots"),
                ("filter[fire_date][gte]", "2026-13-01"),
                ("filter[state][gt]", "draft"),
                ("filter[id_number][contains]", "1101"),
                ("filter[nope][gte]", "1"),
                ("filter[fire_date][after]", "2026-10-01"),
                ("filter[created_at][gte]", "yesterday"),
            ]
        )
        .await,
        [
            "/query/filter[requested_amount][contains]",
            "/query/filter[requested_amount][gte]",
            "/query/filter[fire_date][gte]",
            "/query/filter[state][gt]",
            "/query/filter[id_number][contains]",
            "/query/filter[nope][gte]",
            "/query/filter[fire_date][after]",
            "/query/filter[created_at][gte]",
        ]
    );
    assert_eq!(
        refused(&city, &[("filter[org]", "no-such-unit")]).await,
        ["/query/filter[org]"]
    );
}

#[tokio::test]
async fn org_filter_narrows_within_the_users_scope_and_never_widens_it() {
    let app = TestApp::spawn().await;
    let (pudong, _, city) = arrange(&app).await;
    assert_eq!(names(&city, &[("filter[org]", "pudong")]).await.len(), 3);
    assert_eq!(
        names(&city, &[("filter[org]", "/shrc/huangpu/")]).await,
        ["孙八"]
    );
    assert_eq!(names(&city, &[("filter[org]", "shrc")]).await.len(), 4);
    // A district user asking for another district, or the whole city, gets no more than
    // their own scope.
    assert!(names(&pudong, &[("filter[org]", "huangpu")])
        .await
        .is_empty());
    assert_eq!(names(&pudong, &[("filter[org]", "shrc")]).await.len(), 3);
    assert!(names(&pudong, &[("filter[org]", "pudong-huamu")])
        .await
        .is_empty());
}

#[tokio::test]
async fn keyword_search_looks_in_the_lists_search_fields_ignoring_case() {
    let app = TestApp::spawn().await;
    let (pudong, _, city) = arrange(&app).await;
    assert_eq!(names(&city, &[("q", "张江")]).await, ["赵六500乙"]);
    assert_eq!(names(&city, &[("q", "钱七")]).await, ["钱七"]);
    assert_eq!(names(&city, &[("q", "浦东新区")]).await.len(), 3);
    assert!(names(&pudong, &[("q", "南京东路")]).await.is_empty());
    assert_eq!(
        names(&city, &[("q", "南京东路"), ("filter[state]", "draft")]).await,
        ["孙八"]
    );
    assert_eq!(
        names(&city, &[("q", "%")]).await,
        ["王五50%_甲"],
        "`%` is literal"
    );
    let mut d = application("Alice Smith");
    d["address"] = json!("Room 5, Century Avenue");
    pudong.create(d, None).await;
    assert_eq!(names(&city, &[("q", "century")]).await, ["Alice Smith"]);
    // The id number is not a search field.
    let id = crate::harness::id_number_of("Alice Smith");
    assert!(names(&city, &[("q", id.as_str())]).await.is_empty());
}

/// The saved views of a session: names and queries.
async fn views(who: &Session) -> Vec<(String, String)> {
    let (s, body) = who.get("/api/v1/lists/fire_relief_all/views").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|v: &Value| {
            (
                v["name"].as_str().unwrap_or("").to_string(),
                v["query"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn saved_views_belong_to_their_user() {
    let app = TestApp::spawn().await;
    let pudong = app.login("redcross", "pudong_staff").await;
    let huangpu = app.login("redcross", "huangpu_staff").await;
    let query = "filter[requested_amount][gte]=5000&sort=-requested_amount";
    let (s, view) = pudong
        .post(
            "/api/v1/lists/fire_relief_all/views",
            json!({"name": "大额申请", "query": query}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{view}");
    assert_eq!(
        (view["name"].as_str(), view["query"].as_str()),
        (Some("大额申请"), Some(query))
    );
    let id = view["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        views(&pudong).await,
        [("大额申请".to_string(), query.to_string())]
    );
    assert!(
        views(&huangpu).await.is_empty(),
        "another user's view is not listed"
    );

    let (s, _) = pudong
        .post(
            "/api/v1/lists/fire_relief_all/views",
            json!({"name": "大额申请", "query": "sort=created_at"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // Another user may use the same name.
    let (s, _) = huangpu
        .post(
            "/api/v1/lists/fire_relief_all/views",
            json!({"name": "大额申请", "query": ""}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    let (s, body) = pudong
        .post(
            "/api/v1/lists/fire_relief_all/views",
            json!({"name": "坏的", "query": "filter[requested_amount][contains]=5&page_size=1000"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["fields"][0]["pointer"],
        "/query/filter[requested_amount][contains]"
    );
    assert_eq!(views(&pudong).await.len(), 1, "nothing saved");

    // Another user's view id is not found, and stays.
    let path = format!("/api/v1/lists/fire_relief_all/views/{id}");
    assert_eq!(huangpu.delete(&path).await.0, StatusCode::NOT_FOUND);
    app.tenant_with_pack("other", &[("other_staff", "district_staff")])
        .await;
    let other = app.login("other", "other_staff").await;
    assert_eq!(other.delete(&path).await.0, StatusCode::NOT_FOUND);
    assert!(views(&other).await.is_empty());
    assert_eq!(views(&pudong).await.len(), 1);
    assert_eq!(pudong.delete(&path).await.0, StatusCode::NO_CONTENT);
    assert!(views(&pudong).await.is_empty());
    assert_eq!(pudong.delete(&path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        pudong.get("/api/v1/lists/nope/views").await.0,
        StatusCode::NOT_FOUND
    );
}
