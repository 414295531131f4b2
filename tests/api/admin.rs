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
    // The demo seed grows with the pack; the search must find these and only 浦东 users.
    assert!(
        names.contains(&"pudong_reviewer") && names.contains(&"pudong_staff"),
        "{names:?}"
    );
    assert!(names.iter().all(|n| n.contains("pudong")), "{names:?}");

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

/// A zip of `dir` under the top folder `top`, with `edit` applied to each file's text.
fn zipped(dir: &std::path::Path, top: &str, edit: &dyn Fn(&str, String) -> String) -> Vec<u8> {
    use std::io::Write;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = edit(&rel, std::fs::read_to_string(&p).unwrap());
            out.start_file(
                format!("{top}/{rel}"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            out.write_all(text.as_bytes()).unwrap();
        }
    }
    out.finish().unwrap().into_inner()
}

#[tokio::test]
async fn an_admin_imports_a_zipped_pack_after_every_pack_check() {
    let app = TestApp::spawn().await;
    let showcase = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/showcase");
    let zip = zipped(&showcase, "showcase", &|_, t| t);
    let staff = app.login("redcross", "pudong_staff").await;
    let (s, _) = staff
        .upload_raw("/api/v1/admin/packs", zip.clone(), &[])
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let admin = app.login("redcross", "admin").await;
    // A problem anywhere refuses the whole pack, named by file and pointer.
    let broken = zipped(&showcase, "showcase", &|f, t| {
        if f == "workflows/budget.json" {
            t.replacen("\"to\": \"", "\"to\": \"nowhere", 1)
        } else {
            t
        }
    });
    let (s, b) = admin.upload_raw("/api/v1/admin/packs", broken, &[]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["error"]["code"], "pack_invalid");
    assert!(
        b["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["file"] == "workflows/budget.json"),
        "{b}"
    );
    let (_, forms) = admin.get("/api/v1/forms").await;
    assert!(
        !forms.to_string().contains("project_budget"),
        "nothing installed"
    );

    let (s, b) = admin
        .upload_raw("/api/v1/admin/packs?dry_run=true", zip.clone(), &[])
        .await;
    assert_eq!(
        (s, b["checked"]["pack"].as_str()),
        (StatusCode::OK, Some("showcase"))
    );
    let (_, forms) = admin.get("/api/v1/forms").await;
    assert!(
        !forms.to_string().contains("project_budget"),
        "a dry run installs nothing"
    );

    let (s, b) = admin.upload_raw("/api/v1/admin/packs", zip, &[]).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert!(b["installed"]["published"]
        .to_string()
        .contains("project_budget"));
    let (_, forms) = admin.get("/api/v1/forms").await;
    assert!(
        forms.to_string().contains("project_budget"),
        "installed and seen at once: {forms}"
    );
    let (_, packs) = admin.get("/api/v1/admin/packs").await;
    assert!(packs.to_string().contains("showcase"));

    // Not a zip, or a path that climbs out, is refused before anything is read.
    let (s, b) = admin
        .upload_raw("/api/v1/admin/packs", b"plain text".to_vec(), &[])
        .await;
    assert_eq!(
        (s, b["error"]["fields"][0]["pointer"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("/file"))
    );
    let evil = {
        use std::io::Write;
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        out.start_file(
            "../../etc/pack.toml",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        out.write_all(b"id = \"x\"").unwrap();
        out.finish().unwrap().into_inner()
    };
    let (s, b) = admin.upload_raw("/api/v1/admin/packs", evil, &[]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
}

#[tokio::test]
async fn units_are_renamed_and_people_move_between_units() {
    let app = TestApp::spawn().await;
    let admin = app.login("redcross", "admin").await;
    let staff = app.login("redcross", "pudong_staff").await;
    assert_eq!(
        staff
            .request(
                reqwest::Method::PUT,
                "/api/v1/admin/org/pudong",
                Some(json!({"name": "x"}))
            )
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let admin = &admin;
    let put = |path: String, body| async move {
        admin.request(reqwest::Method::PUT, &path, Some(body)).await
    };
    let (s, b) = put("/api/v1/admin/org/pudong".into(), json!({"name": "  "})).await;
    assert_eq!(
        (s, b["error"]["fields"][0]["pointer"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("/name"))
    );
    let (s, _) = put("/api/v1/admin/org/nowhere".into(), json!({"name": "无"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = put(
        "/api/v1/admin/org/pudong".into(),
        json!({"name": "浦东新区红十字会（新）"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, me) = staff.get("/api/v1/me").await;
    assert_eq!(me["org_unit"]["name"], "浦东新区红十字会（新）", "{me}");

    // The clerk moves to 黄浦: from the next request on, what they file belongs there.
    let id = me["id"].as_str().unwrap().to_string();
    let (s, b) = put(
        format!("/api/v1/admin/users/{id}/unit"),
        json!({"unit": "nowhere"}),
    )
    .await;
    assert_eq!(
        (s, b["error"]["fields"][0]["pointer"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("/unit"))
    );
    let (s, b) = put(
        format!("/api/v1/admin/users/{id}/unit"),
        json!({"unit": "huangpu"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["unit"], "huangpu");
    let rec = staff
        .create(crate::harness::application("王五"), None)
        .await;
    assert!(
        rec["org_path"].as_str().unwrap().ends_with("/huangpu/"),
        "{rec}"
    );
    let huangpu = app.login("redcross", "huangpu_reviewer").await;
    let (s, _) = huangpu
        .get(&format!("/api/v1/records/{}", rec["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "黄浦's reviewer sees what the moved clerk filed"
    );
}
