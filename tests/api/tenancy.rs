//! Tenants never see each other; districts see only their own subtree; a role cannot fire a
//! transition it does not hold, and a refused request changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{application, TestApp};

#[tokio::test]
async fn other_tenant_gets_404_for_every_record_url_and_sees_nothing_in_lists() {
    let app = TestApp::spawn().await;
    app.tenant_with_pack(
        "othercity",
        &[("b_admin", "admin"), ("b_staff", "district_staff")],
    )
    .await;
    let a_staff = app.login("redcross", "pudong_staff").await;
    let a_admin = app.login("redcross", "admin").await;
    let b_admin = app.login("othercity", "b_admin").await;
    let b_staff = app.login("othercity", "b_staff").await;

    let a_rec = a_staff.create(application("甲租户"), Some("submit")).await;
    let b_rec = b_staff.create(application("乙租户"), None).await;
    let (a_id, b_id) = (a_rec["id"].as_str().unwrap(), b_rec["id"].as_str().unwrap());

    for (who, id) in [
        (&b_admin, a_id),
        (&b_staff, a_id),
        (&a_admin, b_id),
        (&a_staff, b_id),
    ] {
        for (m, path, body) in [
            (Method::GET, format!("/api/v1/records/{id}"), None),
            (Method::GET, format!("/api/v1/records/{id}/events"), None),
            (
                Method::PATCH,
                format!("/api/v1/records/{id}"),
                Some(json!({"version": 1, "data": {"street": "x"}})),
            ),
            (
                Method::POST,
                format!("/api/v1/records/{id}/transitions/submit"),
                Some(json!({})),
            ),
            (
                Method::POST,
                format!("/api/v1/records/{id}/transitions/approve"),
                Some(json!({})),
            ),
        ] {
            let (s, body) = who.request(m.clone(), &path, body).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{m} {path}: {body}");
        }
    }
    let (_, list) = b_admin.get("/api/v1/lists/fire_relief_all").await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], b_id);
    let (_, list) = a_admin.get("/api/v1/lists/fire_relief_all").await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], a_id);
    let (_, inbox) = b_admin.get("/api/v1/inbox").await;
    assert_eq!(inbox["total"], 0);

    // A token cannot be pointed at another tenant by editing its prefix.
    let forged = a_staff
        .token
        .clone()
        .unwrap()
        .replacen("redcross", "othercity", 1);
    let mut s = a_staff.clone();
    s.token = Some(forged);
    assert_eq!(s.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);

    // Record A is untouched by all of it.
    let (_, again) = a_staff.get(&format!("/api/v1/records/{a_id}")).await;
    assert_eq!(
        (again["version"].as_i64(), again["state"].as_str()),
        (a_rec["version"].as_i64(), Some("submitted"))
    );
}

#[tokio::test]
async fn district_user_sees_only_their_district() {
    let app = TestApp::spawn().await;
    let pudong = app.login("redcross", "pudong_staff").await;
    let huangpu = app.login("redcross", "huangpu_staff").await;
    let pudong_rev = app.login("redcross", "pudong_reviewer").await;
    let huangpu_rev = app.login("redcross", "huangpu_reviewer").await;
    let city = app.login("redcross", "city_reviewer").await;

    let p = pudong
        .create(application("浦东申请人"), Some("submit"))
        .await;
    let mut h_data = application("黄浦申请人");
    h_data["district"] = json!("黄浦区");
    let h = huangpu.create(h_data, Some("submit")).await;
    let (p_id, h_id) = (p["id"].as_str().unwrap(), h["id"].as_str().unwrap());

    assert_eq!(
        huangpu.get(&format!("/api/v1/records/{p_id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        huangpu_rev.get(&format!("/api/v1/records/{p_id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        pudong_rev.get(&format!("/api/v1/records/{p_id}")).await.0,
        StatusCode::OK
    );
    // The huangpu reviewer cannot approve pudong's record: it does not exist for them.
    let (s, _) = huangpu_rev.fire(p_id, "approve", json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    for (who, only) in [
        (&pudong, p_id),
        (&huangpu, h_id),
        (&pudong_rev, p_id),
        (&huangpu_rev, h_id),
    ] {
        let (_, list) = who.get("/api/v1/lists/fire_relief_all").await;
        assert_eq!(list["total"], 1, "{list}");
        assert_eq!(list["items"][0]["id"], only);
        let (_, inbox) = who.get("/api/v1/inbox").await;
        assert!(
            inbox["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["id"] == only),
            "{inbox}"
        );
    }
    let (_, list) = city.get("/api/v1/lists/fire_relief_all").await;
    assert_eq!(list["total"], 2);
    let (_, list) = city
        .get("/api/v1/lists/fire_relief_all?filter[district]=%E9%BB%84%E6%B5%A6%E5%8C%BA")
        .await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], h_id);
}

#[tokio::test]
async fn role_without_the_transition_gets_403_and_the_record_is_unchanged() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let finance = app.login("redcross", "finance").await;
    let city = app.login("redcross", "city_reviewer").await;
    let rec = staff.create(application("王五"), Some("submit")).await;
    let id = rec["id"].as_str().unwrap();
    let events_before = app.count("record_events", "redcross").await;

    for (who, action) in [
        (&staff, "approve"),
        (&finance, "approve"),
        (&city, "approve"),
        (&finance, "reject"),
    ] {
        let (s, body) = who.fire(id, action, json!({"comment": "越权"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{action}: {body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    // An action that does not leave this state is a conflict, not a permission question.
    let (s, body) = finance.fire(id, "allocate", json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");

    let (_, after) = staff.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(
        (after["state"].as_str(), after["version"].as_i64()),
        (Some("submitted"), rec["version"].as_i64())
    );
    assert_eq!(app.count("record_events", "redcross").await, events_before);
    // Nor may the filer edit a submitted record.
    let (s, _) = staff
        .patch(
            &format!("/api/v1/records/{id}"),
            json!({"version": after["version"], "data": {"street": "陆家嘴街道"}}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn requests_without_a_session_get_401() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    for path in [
        "/api/v1/me",
        "/api/v1/forms",
        "/api/v1/inbox",
        "/api/v1/lists/fire_relief_all",
    ] {
        let (s, body) = anon.get(path).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
}

#[tokio::test]
async fn own_and_org_scopes_limit_reads_lists_and_inbox() {
    let app = TestApp::spawn().await;
    // The same pack, but filers see only their own records and the district reviewer only
    // their own unit, not the street below it.
    let mut files = formwork::seed::builtin_pack("red-cross").unwrap();
    let roles = String::from_utf8(files.0["roles.toml"].clone()).unwrap();
    let roles = roles
        .replacen("scope = \"org_tree\"", "scope = \"own\"", 1)
        .replacen("scope = \"org_tree\"", "scope = \"org\"", 1);
    files.0.insert("roles.toml".into(), roles.into_bytes());
    app.tenant_with_files(
        "scoped",
        &files,
        &[
            ("filer_a", "district", "district_staff"),
            ("filer_b", "district", "district_staff"),
            ("street_filer", "street", "district_staff"),
            ("unit_rev", "district", "district_reviewer"),
        ],
    )
    .await;
    let a = app.login("scoped", "filer_a").await;
    let b = app.login("scoped", "filer_b").await;
    let street = app.login("scoped", "street_filer").await;
    let rev = app.login("scoped", "unit_rev").await;
    let ra = a.create(application("甲"), Some("submit")).await;
    let rb = b.create(application("乙"), Some("submit")).await;
    let rs = street.create(application("街道"), Some("submit")).await;
    let id = |r: &serde_json::Value| r["id"].as_str().unwrap().to_string();

    // own: a filer reads and lists only their own record.
    assert_eq!(
        a.get(&format!("/api/v1/records/{}", id(&rb))).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = a.get("/api/v1/lists/fire_relief_all").await;
    assert_eq!(
        (list["total"].as_i64(), list["items"][0]["id"].as_str()),
        (Some(1), Some(id(&ra).as_str()))
    );

    // org: the unit's reviewer sees both district records but not the street's.
    let (_, list) = rev.get("/api/v1/lists/fire_relief_all").await;
    let mut seen: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    let mut want = vec![id(&ra), id(&rb)];
    want.sort();
    assert_eq!(seen, want);
    assert_eq!(
        rev.get(&format!("/api/v1/records/{}", id(&rs))).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, inbox) = rev.get("/api/v1/inbox").await;
    assert_eq!(inbox["total"], 2);
}
