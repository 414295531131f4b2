//! The designer's API: a tenant admin's draft is checked by every pack-check rule, refused
//! whole when it has a problem, published as the pack's next version (grants work at once,
//! without a restart), refused when someone published in between, and exported as a pack
//! that passes the check again.

use std::io::Read;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::TestApp;

/// A new form with a repeating section and a computed total, on its own workflow.
fn supply_form(extra: Option<(&str, Value)>) -> Value {
    let mut form = json!({
        "title": "物资申领", "type": "object", "x-workflow": "supply_flow",
        "additionalProperties": false, "required": ["applicant", "items"],
        "properties": {
            "applicant": {"type": "string", "title": "申领人", "maxLength": 50},
            "items": {"type": "array", "title": "物资明细", "minItems": 1, "items": {
                "type": "object", "additionalProperties": false, "required": ["name"],
                "properties": {
                    "name": {"type": "string", "title": "物品名称"},
                    "quantity": {"type": "integer", "title": "数量", "minimum": 1},
                    "amount": {"type": "number", "title": "金额", "minimum": 0, "x-decimals": 2}
                }}},
            "total": {"type": "number", "title": "合计", "x-decimals": 2, "x-computed": "sum(items, \"amount\")"}
        }
    });
    if let Some((k, v)) = extra {
        form["properties"][k] = v;
    }
    form
}

fn supply_flow() -> Value {
    json!({
        "label": "物资申领审批", "initial": "draft",
        "states": [
            {"key": "draft", "label": "草稿", "complete": false, "edit": {"roles": ["district_staff"]}},
            {"key": "submitted", "label": "待审核"},
            {"key": "approved", "label": "审核通过"}
        ],
        "transitions": [
            {"action": "submit", "label": "提交", "from": "draft", "to": "submitted", "roles": ["district_staff"]},
            {"action": "approve", "label": "审核通过", "from": "submitted", "to": "approved", "roles": ["district_reviewer"]}
        ]
    })
}

/// roles.toml as JSON with `grants` added to `role`.
fn roles_with(pack: &Value, role: &str, form: &str, actions: &[&str]) -> Value {
    let mut roles = pack["roles"].clone();
    roles["roles"][role]["grants"][form] = json!(actions);
    roles
}

#[tokio::test]
async fn a_designed_form_is_checked_published_and_exported() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    assert_eq!(
        staff.get("/api/v1/designer/packs/red-cross").await.0,
        StatusCode::FORBIDDEN
    );
    let admin = app.login("redcross", "admin").await;
    let (s, pack) = admin.get("/api/v1/designer/packs/red-cross").await;
    assert_eq!(s, StatusCode::OK, "{pack}");
    let revision = pack["revision"].as_i64().unwrap();
    assert!(pack["files"]["forms/fire_relief.json"].is_string());
    assert_eq!(
        pack["roles"]["roles"]["district_staff"]["scope"],
        "org_tree"
    );

    // A computed total that reads a field the form does not have: the check names it.
    let mut broken = supply_form(None);
    broken["properties"]["total"]["x-computed"] = json!("sum(lines, \"amount\")");
    let draft = |form: Value, revision: i64| {
        json!({
            "revision": revision,
            "files": {
                "forms/supply_request.json": form,
                "workflows/supply_flow.json": supply_flow(),
                "roles.toml": roles_with(&pack, "district_staff", "supply_request", &["read", "create", "update"]),
            },
            "preview": "supply_request",
        })
    };
    let (s, b) = admin
        .post(
            "/api/v1/designer/packs/red-cross/check",
            draft(broken.clone(), revision),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let problems = b["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["file"] == "forms/supply_request.json"
                && p["pointer"] == "/properties/total/x-computed"
                && p["reason"].as_str().unwrap().contains("lines")),
        "{b}"
    );
    let forms_before = app.count("forms", "redcross").await;
    let (s, b) = admin
        .post(
            "/api/v1/designer/packs/red-cross/publish",
            draft(broken, revision),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("pack_invalid"))
    );
    assert_eq!(app.count("forms", "redcross").await, forms_before);

    // A path that climbs out of the pack is refused (an export must not write outside it).
    let (s, b) = admin
        .post(
            "/api/v1/designer/packs/red-cross/publish",
            json!({"revision": revision, "files": {"examples/../../evil.txt": "x"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["problems"][0]["file"], "examples/../../evil.txt");

    // The valid draft: no problems, a new form at version 1, the page it will be.
    let (s, b) = admin
        .post(
            "/api/v1/designer/packs/red-cross/check",
            draft(supply_form(None), revision),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["problems"], json!([]), "{b}");
    assert_eq!(
        b["changes"]["forms"],
        json!([{"form": "supply_request", "from": null, "to": 1}])
    );
    let paths: Vec<&str> = b["changes"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "forms/supply_request.json",
            "roles.toml",
            "workflows/supply_flow.json"
        ]
    );
    let preview = b["preview"].as_str().unwrap();
    assert!(
        preview.contains("name=\"/applicant\"") && preview.contains("物资明细"),
        "{preview}"
    );

    // Someone else's publish in between: refused, nothing overwritten.
    let (s, b) = admin
        .post(
            "/api/v1/designer/packs/red-cross/publish",
            draft(supply_form(None), revision - 1),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("pack_changed"))
    );

    let (s, b) = admin
        .post(
            "/api/v1/designer/packs/red-cross/publish",
            draft(supply_form(None), revision),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["version"], "0.1.1");
    assert_eq!(b["revision"], revision + 1);

    // The grant works at once: the clerk files a request; the server computes the total.
    let (s, rec) = staff
        .post(
            "/api/v1/forms/supply_request/records",
            json!({"data": {"applicant": "王小明", "items": [
                {"name": "棉被", "quantity": 2, "amount": 120.5},
                {"name": "米", "quantity": 1, "amount": 80}
            ]}, "action": "submit"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rec}");
    assert_eq!(rec["data"]["total"], json!(200.5));
    assert_eq!(rec["state"], "submitted");

    // A second publish adds a field: version 2, with the field in the diff.
    let (_, pack) = admin.get("/api/v1/designer/packs/red-cross").await;
    let remark = json!({"type": "string", "title": "备注", "maxLength": 200});
    let body = json!({
        "revision": pack["revision"],
        "files": {"forms/supply_request.json": supply_form(Some(("remark", remark)))},
    });
    let (_, b) = admin
        .post("/api/v1/designer/packs/red-cross/check", body.clone())
        .await;
    assert_eq!(b["changes"]["forms"][0]["to"], 2, "{b}");
    assert_eq!(b["changes"]["forms"][0]["diff"]["added"], json!(["remark"]));
    let (s, b) = admin
        .post("/api/v1/designer/packs/red-cross/publish", body.clone())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["installed"]["published"], json!([["supply_request", 2]]));
    let (s, b) = admin
        .post(
            "/api/v1/designer/packs/red-cross/publish",
            json!({"revision": b["revision"], "files": body["files"]}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("nothing_changed"))
    );

    // The export is the pack as designed, and it passes the pack check again.
    let (s, headers, zip) = admin
        .download("/api/v1/designer/packs/red-cross/export")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.clone())).unwrap();
    let mut manifest = String::new();
    archive
        .by_name("red-cross/pack.toml")
        .unwrap()
        .read_to_string(&mut manifest)
        .unwrap();
    assert!(manifest.contains("version = \"0.1.2\""), "{manifest}");
    let mut form = String::new();
    archive
        .by_name("red-cross/forms/supply_request.json")
        .unwrap()
        .read_to_string(&mut form)
        .unwrap();
    assert!(form.contains("\"remark\""));
    let (s, b) = admin
        .upload_raw("/api/v1/admin/packs?dry_run=true", zip, &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["checked"]["version"], "0.1.2");
}

/// A browser-like client signed in to the pages (session cookie, no redirects followed).
async fn signed_in(app: &TestApp, username: &str) -> reqwest::Client {
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = c
        .post(format!("{}/login", app.base))
        .form(&[
            ("tenant", "redcross"),
            ("username", username),
            ("password", crate::harness::PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    c
}

async fn page(app: &TestApp, c: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let r = c
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .expect("get");
    (r.status(), r.text().await.expect("body"))
}

#[tokio::test]
async fn designer_pages_are_for_admins_and_say_so_to_others() {
    let app = TestApp::spawn().await;
    let staff = signed_in(&app, "pudong_staff").await;
    let (s, html) = page(&app, &staff, "/designer").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(html.contains("只有本单位管理员可以使用设计器"), "{html}");
    let admin = signed_in(&app, "admin").await;
    let (s, html) = page(&app, &admin, "/designer").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("/designer/red-cross/forms/fire_relief"));
    assert!(html.contains("/designer/red-cross/workflows/relief"));
    assert!(html.contains("/designer/red-cross/roles"));
    assert!(html.contains("/api/v1/designer/packs/red-cross/export"));
    let (s, _) = page(&app, &admin, "/designer/red-cross/forms/nothing_here").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = page(&app, &admin, "/designer/no-such-pack/forms").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, html) = page(
        &app,
        &admin,
        "/designer/red-cross/forms?from=red-cross/fire_relief",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("data-from=\"red-cross&#x2f;fire_relief\""),
        "{html}"
    );
    assert!(html.contains("/static/designer/form.js"));
}
