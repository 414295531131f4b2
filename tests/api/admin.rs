//! User and org administration by the tenant's admin: only the admin may, new users log in,
//! locking ends sessions, a reset password replaces the old one, and role changes take
//! effect at once.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::TestApp;

#[tokio::test]
async fn only_the_admin_manages_users_and_role_changes_take_effect_at_once() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    assert_eq!(
        staff.get("/api/v1/admin/users").await.0,
        StatusCode::FORBIDDEN
    );
    let admin = app.login("redcross", "admin").await;
    let (s, list) = admin.get("/api/v1/admin/users?q=pudong").await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pudong_reviewer", "pudong_staff"]);

    // A unit under 浦东, and a clerk in it with a generated first password.
    let (s, b) = admin
        .post(
            "/api/v1/admin/org",
            json!({"code": "huamu", "name": "花木街道", "parent": "pudong"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert!(b["path"].as_str().unwrap().ends_with("/pudong/huamu/"));
    let (s, _) = admin
        .post(
            "/api/v1/admin/org",
            json!({"code": "huamu", "name": "again", "parent": "pudong"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, b) = admin
        .post("/api/v1/admin/users", json!({"username": "huamu_staff", "display_name": "花木经办", "unit": "nowhere", "roles": ["district_staff"]}))
        .await;
    assert_eq!(
        (s, b["error"]["fields"][0]["pointer"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("/unit"))
    );
    let (s, b) = admin
        .post("/api/v1/admin/users", json!({"username": "huamu_staff", "display_name": "花木经办", "unit": "huamu", "roles": ["district_staff"]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let id = b["user"]["id"].as_str().unwrap().to_string();
    let first = b["password"].as_str().unwrap().to_string();
    let login = |password: &str| json!({"tenant": "redcross", "username": "huamu_staff", "password": password});
    let anon = app.anonymous();
    let (s, b) = anon.post("/api/v1/auth/login", login(&first)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let token = b["token"].as_str().unwrap().to_string();
    let me = |t: &str| {
        let t = t.to_string();
        let base = app.base.clone();
        async move {
            reqwest::Client::new()
                .get(format!("{base}/api/v1/me"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
        }
    };
    let r = me(&token).await;
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["roles"],
        json!(["district_staff"])
    );

    // Roles change without a restart: the same session now holds the reviewer's role.
    let (s, _) = admin
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/admin/users/{id}/roles"),
            Some(json!({"roles": ["district_reviewer"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let r = me(&token).await;
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["roles"],
        json!(["district_reviewer"])
    );

    // Locking ends the session and refuses logins; unlocking lets the user in again.
    let (s, _) = admin
        .post(
            &format!("/api/v1/admin/users/{id}/lock"),
            json!({"locked": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me(&token).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        anon.post("/api/v1/auth/login", login(&first)).await.0,
        StatusCode::FORBIDDEN
    );
    admin
        .post(
            &format!("/api/v1/admin/users/{id}/lock"),
            json!({"locked": false}),
        )
        .await;
    assert_eq!(
        anon.post("/api/v1/auth/login", login(&first)).await.0,
        StatusCode::OK
    );

    // A reset password replaces the first one.
    let (s, b) = admin
        .post(&format!("/api/v1/admin/users/{id}/password"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let second = b["password"].as_str().unwrap();
    assert_eq!(
        anon.post("/api/v1/auth/login", login(&first)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anon.post("/api/v1/auth/login", login(second)).await.0,
        StatusCode::OK
    );

    // The admin cannot lock themselves out.
    let (_, me_admin) = admin.get("/api/v1/me").await;
    let (s, _) = admin
        .post(
            &format!(
                "/api/v1/admin/users/{}/lock",
                me_admin["id"].as_str().unwrap()
            ),
            json!({"locked": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
}
