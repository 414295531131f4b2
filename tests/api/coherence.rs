//! Two servers on one database, as behind a load balancer: a change made on one holds on
//! the other at once — a revoked grant, a published form version, a new webhook — and the
//! other server also catches up by itself, before anyone asks it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{application, Session, TestApp};

const T: &str = "redcross";

async fn user_id(admin: &Session, username: &str) -> String {
    let (s, b) = admin
        .get(&format!("/api/v1/admin/users?q={username}"))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("{username} in {b}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn set_roles(admin: &Session, id: &str, roles: Value) {
    let (s, b) = admin
        .request(
            Method::PUT,
            &format!("/api/v1/admin/users/{id}/roles"),
            Some(json!({ "roles": roles })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

/// Waits until `server` holds the tenant's current revision without being asked anything,
/// and says how long that took; panics after five seconds.
async fn caught_up(server: &TestApp) -> Duration {
    let current = formwork::store::tenants::revision(server.db(), T)
        .await
        .unwrap()
        .unwrap();
    let start = Instant::now();
    while server.state.revisions.applied(T).unwrap_or(-1) < current {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the other server did not catch up with revision {current}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

fn form_names(forms: &Value) -> Vec<String> {
    forms["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{forms}"))
        .iter()
        .map(|f| f["key"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_revoked_grant_is_refused_by_the_other_server_at_once() {
    let a = TestApp::spawn().await;
    let b = a.sibling().await;
    let admin = a.login(T, "admin").await;
    let staff_on_b = b.login(T, "pudong_staff").await;

    // B has the tenant loaded: the clerk sees the forms and files.
    let (s, forms) = staff_on_b.get("/api/v1/forms").await;
    assert_eq!(s, StatusCode::OK);
    assert!(form_names(&forms).contains(&"fire_relief".to_string()));
    staff_on_b.create(application("两台之前"), None).await;

    // The admin removes every role of the clerk on A.
    let id = user_id(&admin, "pudong_staff").await;
    set_roles(&admin, &id, json!([])).await;

    // B learns it by itself, before any request reaches it (announced on PostgreSQL,
    // found by the periodic check on SQLite).
    let took = caught_up(&b).await;
    println!("server B caught up {took:?} after the revocation on A");

    let (s, body) = staff_on_b
        .post(
            "/api/v1/forms/fire_relief/records",
            json!({"data": application("撤权之后")}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let (s, forms) = staff_on_b.get("/api/v1/forms").await;
    assert_eq!(
        (s, form_names(&forms)),
        (StatusCode::OK, Vec::<String>::new())
    );

    // Given back on A, the role works on B again.
    set_roles(&admin, &id, json!(["district_staff"])).await;
    staff_on_b.create(application("复权之后"), None).await;
}

#[tokio::test]
async fn the_request_itself_brings_a_stale_server_up_to_date() {
    // Whatever the announcements do, a request never runs on grants older than the last
    // change committed before it: B's copy is stale on purpose here (its background check
    // cannot have run between the change and the request).
    let a = TestApp::spawn().await;
    let b = a.sibling().await;
    let admin = a.login(T, "admin").await;
    let staff_on_b = b.login(T, "pudong_staff").await;
    staff_on_b.create(application("先建一件"), None).await;
    let id = user_id(&admin, "pudong_staff").await;
    for _ in 0..5 {
        set_roles(&admin, &id, json!([])).await;
        let (s, _) = staff_on_b
            .post(
                "/api/v1/forms/fire_relief/records",
                json!({"data": application("立即拒绝")}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        set_roles(&admin, &id, json!(["district_staff"])).await;
        let (s, b) = staff_on_b
            .post(
                "/api/v1/forms/fire_relief/records",
                json!({"data": application("立即允许")}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
}

#[tokio::test]
async fn a_form_version_published_on_one_server_is_served_by_the_other() {
    let a = TestApp::spawn().await;
    let b = a.sibling().await;
    let admin = a.login(T, "admin").await;
    let staff_on_b = b.login(T, "pudong_staff").await;
    // B has compiled the latest fire_relief.
    let (_, before) = staff_on_b.get("/api/v1/forms/fire_relief").await;
    assert!(before["schema"]["properties"].get("remark_b").is_none());
    let version = before["version"].as_i64().unwrap();

    let (_, pack) = admin.get("/api/v1/designer/packs/red-cross").await;
    let mut form: Value =
        serde_json::from_str(pack["files"]["forms/fire_relief.json"].as_str().unwrap()).unwrap();
    form["properties"]["remark_b"] =
        json!({"type": "string", "title": "两台备注", "maxLength": 50});
    let (s, published) = admin
        .post(
            "/api/v1/designer/packs/red-cross/publish",
            json!({"revision": pack["revision"], "files": {"forms/fire_relief.json": form}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{published}");

    caught_up(&b).await;
    let (_, after) = staff_on_b.get("/api/v1/forms/fire_relief").await;
    assert_eq!(after["version"].as_i64(), Some(version + 1), "{after}");
    assert_eq!(
        after["schema"]["properties"]["remark_b"]["title"],
        "两台备注"
    );
    // B files new records on the new version.
    let made = staff_on_b.create(application("新版本"), None).await;
    assert_eq!(made["form_version"].as_i64(), Some(version + 1), "{made}");
}

#[tokio::test]
async fn a_webhook_added_on_one_server_is_used_by_the_other() {
    let a = TestApp::spawn().await;
    let b = a.sibling().await;
    let admin = a.login(T, "admin").await;
    let staff_on_b = b.login(T, "pudong_staff").await;
    // B has read the tenant's (empty) webhook list for a change already.
    staff_on_b.create(application("钩子之前"), None).await;

    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let kept = seen.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let (s, hook) = admin
        .post(
            "/api/v1/webhooks",
            json!({"url": url, "events": ["record.created"], "forms": ["fire_relief"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");

    let made = staff_on_b.create(application("钩子之后"), None).await;
    let start = Instant::now();
    while seen.lock().unwrap().is_empty() && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "one delivery of B's change: {calls:?}");
    assert_eq!(calls[0]["event"], "record.created");
    assert_eq!(calls[0]["record"]["id"], made["id"]);
}
