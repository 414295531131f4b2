//! The web pages over HTTP, as a browser without JavaScript uses them: redirects to the
//! login, the session cookie, the CSRF token, server errors next to their fields, and clear
//! pages (never a stack trace) for what a user may not see.

use reqwest::redirect::Policy;
use reqwest::StatusCode;

use crate::harness::{application, TestApp, PASSWORD};

/// A browser-like client: keeps cookies, does not follow redirects (so tests see them).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client")
}

async fn page_login(app: &TestApp, c: &reqwest::Client, username: &str) {
    let r = c
        .post(format!("{}/login", app.base))
        .form(&[
            ("tenant", "redcross"),
            ("username", username),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{username} logs in");
    assert_eq!(r.headers()["location"], "/");
}

async fn get(app: &TestApp, c: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let r = c
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .expect("get");
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = r.text().await.expect("body");
    (status, location.unwrap_or(text))
}

/// The `_csrf` value of a page.
fn csrf(html: &str) -> String {
    let at = html
        .find("name=\"_csrf\" value=\"")
        .expect("the page has a CSRF token")
        + 20;
    html[at..].split('"').next().unwrap_or("").to_string()
}

#[tokio::test]
async fn pages_without_a_session_go_to_the_login_and_come_back() {
    let app = TestApp::spawn().await;
    let c = browser();
    let (s, to) = get(&app, &c, "/inbox?page=2").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(to, "/login?next=%2Finbox%3Fpage%3D2");
    let (s, html) = get(&app, &c, "/login?next=%2Finbox").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("name=\"next\" value=\"&#x2f;inbox\""),
        "{html}"
    );
    // A wrong password says so on the page, in Chinese unless English was chosen.
    let r = c
        .post(format!("{}/login", app.base))
        .form(&[
            ("tenant", "redcross"),
            ("username", "pudong_staff"),
            ("password", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("用户名或密码不正确"));
    // An offered "next" that leaves the site is not followed.
    let r = c
        .post(format!("{}/login", app.base))
        .form(&[
            ("tenant", "redcross"),
            ("username", "pudong_staff"),
            ("password", PASSWORD),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/");
}

#[tokio::test]
async fn a_form_posted_without_its_csrf_token_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let c = browser();
    page_login(&app, &c, "pudong_staff").await;
    let before = app.count("records", "redcross").await;
    let (s, html) = get(&app, &c, "/forms/fire_relief/new").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("name=\"/applicant_name\""),
        "the generated form"
    );
    let a = application("李四");
    let mut fields: Vec<(String, String)> = vec![
        ("/applicant_name".into(), "李四".into()),
        ("/id_number".into(), a["id_number"].as_str().unwrap().into()),
        ("_action".into(), "save".into()),
    ];
    let r = c
        .post(format!("{}/forms/fire_relief/new", app.base))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("records", "redcross").await, before);

    // With the page's token a draft is saved and the browser goes to its record page.
    fields.push(("_csrf".into(), csrf(&html)));
    let r = c
        .post(format!("{}/forms/fire_relief/new", app.base))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/records/"), "{to}");
    assert_eq!(app.count("records", "redcross").await, before + 1);
    let (s, page) = get(&app, &c, &to).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("李四") && page.contains("草稿"), "{page}");
}

#[tokio::test]
async fn server_errors_come_back_next_to_their_fields_with_the_values_kept() {
    let app = TestApp::spawn().await;
    let c = browser();
    page_login(&app, &c, "pudong_staff").await;
    let (_, html) = get(&app, &c, "/forms/fire_relief/new").await;
    let r = c
        .post(format!("{}/forms/fire_relief/new", app.base))
        .form(&[
            ("_csrf", csrf(&html).as_str()),
            ("/applicant_name", "王五"),
            ("/phone", "123"),
            ("_action", "submit"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    // The phone's own error sits in the phone's field, and what was typed is still there.
    let phone = page
        .split("data-pointer=\"/phone\"")
        .nth(1)
        .and_then(|rest| rest.split("data-pointer=").next())
        .expect("the phone field");
    assert!(
        phone.contains("fw-error") && phone.contains("aria-invalid=\"true\""),
        "{phone}"
    );
    assert!(page.contains("value=\"王五\""));
}

#[tokio::test]
async fn what_a_user_may_not_see_is_a_clear_page_not_a_trace() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let record = staff.create(application("赵六"), None).await;
    let id = record["id"].as_str().unwrap();

    let c = browser();
    page_login(&app, &c, "huangpu_staff").await;
    let (s, html) = get(&app, &c, &format!("/records/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        html.contains("记录不存在") && html.contains("href=\"/\""),
        "{html}"
    );
    let (s, html) = get(&app, &c, "/lists/nothing_here").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(!html.contains("panicked") && html.contains("列表不存在"));

    // Refusing without the required comment shows the reason on the record page.
    let (s, _) = staff.fire(id, "submit", serde_json::json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let reviewer = browser();
    page_login(&app, &reviewer, "pudong_reviewer").await;
    let (s, html) = get(&app, &reviewer, &format!("/records/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    let r = reviewer
        .post(format!("{}/records/{id}/actions/reject", app.base))
        .form(&[("_csrf", csrf(&html).as_str()), ("comment", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("fw-error"));
    let (_, r) = staff.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(r["state"], "submitted", "nothing changed");
}

#[tokio::test]
async fn a_password_change_checks_the_old_one_and_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let phone = app.login("redcross", "pudong_staff").await;
    let desk = app.login("redcross", "pudong_staff").await;
    let change = |current: &str, new: &str| serde_json::json!({"current_password": current, "new_password": new});
    let (s, b) = desk
        .post(
            "/api/v1/me/password",
            change("wrong-password", "a-new-long-password"),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["fields"][0]["pointer"], "/current_password");
    let (s, b) = desk
        .post("/api/v1/me/password", change(PASSWORD, "short"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["fields"][0]["pointer"], "/new_password");
    assert_eq!(
        phone.get("/api/v1/me").await.0,
        StatusCode::OK,
        "nothing changed yet"
    );

    let (s, _) = desk
        .post(
            "/api/v1/me/password",
            change(PASSWORD, "a-new-long-password"),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        desk.get("/api/v1/me").await.0,
        StatusCode::OK,
        "this session goes on"
    );
    assert_eq!(
        phone.get("/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED,
        "the other ended"
    );
    let login = |password: &str| serde_json::json!({"tenant": "redcross", "username": "pudong_staff", "password": password});
    let anon = app.anonymous();
    assert_eq!(
        anon.post("/api/v1/auth/login", login(PASSWORD)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anon.post("/api/v1/auth/login", login("a-new-long-password"))
            .await
            .0,
        StatusCode::OK
    );
}
