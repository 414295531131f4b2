//! Attachments: files uploaded for a form's attachment fields (fire relief's `certificates`,
//! up to 5 PDF/JPEG/PNG of at most 10MB, and `scene_photos`, JPEG/PNG), kept with their
//! SHA-256, readable by exactly those who may read the record that holds them, and refused
//! by size or by content with nothing stored.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{application, Session, TestApp};

/// A valid 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

/// A minimal PDF.
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n";

/// The start of a Windows executable.
const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00This program cannot be run in DOS mode.";

/// A ZIP archive with one empty file.
const ZIP: &[u8] = b"PK\x03\x04\x0a\x00\x00\x00\x00\x00\x00\x00\x21\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00aPK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";

const TEN_MB: usize = 10 * 1024 * 1024;

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file under the server's attachment directory, temporary ones included.
fn stored_files(app: &TestApp) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&app.data_dir().join("attachments"), &mut out);
    out
}

/// Uploads and asserts 201; returns the attachment's id.
async fn uploaded(s: &Session, field: &str, name: &str, bytes: &[u8]) -> String {
    let (status, body) = s.upload(field, name, bytes).await;
    assert_eq!(status, StatusCode::CREATED, "upload {name}: {body}");
    body["id"].as_str().unwrap().to_string()
}

fn with(mut data: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        data[k] = v.clone();
    }
    data
}

#[tokio::test]
async fn uploaded_files_keep_their_sha256_and_reach_exactly_the_records_readers() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let reviewer = app.login("redcross", "pudong_reviewer").await;
    let city = app.login("redcross", "city_reviewer").await;
    let other_district = app.login("redcross", "huangpu_reviewer").await;
    let other_tenant = app.login("volunteer", "admin").await;

    // A PDF named through X-File-Name, a PNG through ?name=, a photo for the other field.
    let (s, pdf) = staff
        .upload_raw(
            "/api/v1/forms/fire_relief/fields/certificates/attachments",
            PDF.to_vec(),
            &[
                (
                    "x-file-name",
                    "%E7%81%AB%E7%81%BE%E8%AE%A4%E5%AE%9A%E4%B9%A6.pdf",
                ),
                ("content-type", "image/gif"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{pdf}");
    assert_eq!(pdf["name"], "火灾认定书.pdf");
    assert_eq!(
        pdf["content_type"], "application/pdf",
        "the content decides, not the header"
    );
    assert_eq!(pdf["sha256"], sha256(PDF));
    assert_eq!(pdf["size"], PDF.len());
    assert_eq!(pdf["field"], "certificates");
    assert_eq!(pdf["record_id"], Value::Null);
    let (s, png) = staff.upload("certificates", "出警证明.png", PNG).await;
    assert_eq!(s, StatusCode::CREATED, "{png}");
    assert_eq!(
        (png["content_type"].as_str(), png["sha256"].as_str()),
        (Some("image/png"), Some(sha256(PNG).as_str()))
    );
    let photo = uploaded(&staff, "scene_photos", "现场.png", PNG).await;
    let (pdf_id, png_id) = (pdf["id"].as_str().unwrap(), png["id"].as_str().unwrap());
    assert_eq!(app.count("attachments", "redcross").await, 3);
    assert_eq!(stored_files(&app).len(), 3);

    // Unattached, only the uploader sees it.
    let pdf_url = format!("/api/v1/attachments/{pdf_id}");
    assert_eq!(
        staff.get(&format!("{pdf_url}/meta")).await.0,
        StatusCode::OK
    );
    assert_eq!(reviewer.download(&pdf_url).await.0, StatusCode::NOT_FOUND);

    // A draft without files, then an edit that adds them, then submit.
    let rec = staff.create(application("张三"), None).await;
    let id = rec["id"].as_str().unwrap();
    let (s, rec) = staff
        .patch(
            &format!("/api/v1/records/{id}"),
            json!({"version": rec["version"], "data": {"certificates": [pdf_id, png_id], "scene_photos": [photo]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{rec}");
    assert_eq!(rec["data"]["certificates"], json!([pdf_id, png_id]));
    let (s, body) = staff.fire(id, "submit", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (_, meta) = staff.get(&format!("{pdf_url}/meta")).await;
    assert_eq!(meta["record_id"], id);

    // The district reviewer reads the record and its files, byte for byte.
    let (s, headers, bytes) = reviewer.download(&pdf_url).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(bytes, PDF);
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["content-length"], PDF.len().to_string().as_str());
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"_____.pdf\"; filename*=UTF-8''%E7%81%AB%E7%81%BE%E8%AE%A4%E5%AE%9A%E4%B9%A6.pdf"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let (s, _, bytes) = reviewer
        .download(&format!("/api/v1/attachments/{png_id}"))
        .await;
    assert_eq!((s, sha256(&bytes)), (StatusCode::OK, sha256(PNG)));
    // Reviewing keeps the files with the record: the transition revalidates them.
    let (s, body) = reviewer
        .fire(id, "approve", json!({"comment": "材料齐全"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(city.download(&pdf_url).await.0, StatusCode::OK);

    // Another district and another tenant see nothing, not even the metadata.
    assert_eq!(
        other_district.download(&pdf_url).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other_district.get(&format!("{pdf_url}/meta")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other_tenant.download(&pdf_url).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.anonymous().download(&pdf_url).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Once a record holds it, not even the uploader may delete it.
    let (s, body) = staff.delete(&pdf_url).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "attachment_attached");
    assert_eq!(app.count("attachments", "redcross").await, 3);
    assert_eq!(stored_files(&app).len(), 3);
}

#[tokio::test]
async fn oversized_attachment_is_refused_with_nothing_stored() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;

    // Declared too large: refused before the body is read.
    let mut big = PDF.to_vec();
    big.resize(TEN_MB + 1, b' ');
    let (s, body) = staff.upload("certificates", "大文件.pdf", &big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "too_large");
    assert_eq!(body["error"]["fields"][0]["pointer"], "/certificates");
    assert_eq!(body["error"]["fields"][0]["rule"], "max_size");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("10MB"),
        "{body}"
    );

    // Sent in chunks without a length: refused while reading, at the limit.
    let chunked = chunked_upload(
        &app,
        &staff,
        "/api/v1/forms/fire_relief/fields/certificates/attachments",
        &big,
    )
    .await;
    assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
    assert!(chunked.contains("\"too_large\""), "{chunked}");

    assert_eq!(app.count("attachments", "redcross").await, 0);
    assert_eq!(stored_files(&app), Vec::<PathBuf>::new());

    // Exactly the limit is fine.
    big.truncate(TEN_MB);
    let (s, body) = staff.upload("certificates", "刚好.pdf", &big).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["size"], TEN_MB);
    assert_eq!(app.count("attachments", "redcross").await, 1);
    assert_eq!(stored_files(&app).len(), 1);
}

/// Sends `bytes` with `Transfer-Encoding: chunked` over a raw connection; returns the
/// response as text.
async fn chunked_upload(app: &TestApp, s: &Session, path: &str, bytes: &[u8]) -> String {
    let host = app.base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        s.token.as_deref().unwrap()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    for chunk in bytes.chunks(256 * 1024) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        // The server may answer and close before everything is sent.
        if conn.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = conn.write_all(b"0\r\n\r\n").await;
    let mut out = Vec::new();
    let _ = conn.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn mistyped_attachment_is_refused_by_content_with_nothing_stored() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;

    for (field, name, bytes, detected) in [
        (
            "certificates",
            "证明.pdf",
            EXE,
            "application/vnd.microsoft.portable-executable",
        ),
        ("certificates", "证明.pdf", ZIP, "application/zip"),
        ("scene_photos", "现场.jpg", PDF, "application/pdf"),
    ] {
        let (s, body) = staff.upload(field, name, bytes).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}: {body}");
        assert_eq!(body["error"]["code"], "unsupported_type");
        assert_eq!(body["error"]["fields"][0]["pointer"], format!("/{field}"));
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(detected) && message.contains("image/png"),
            "{message}"
        );
    }
    let (s, body) = staff.upload("certificates", "空.pdf", b"").await;
    assert_eq!(
        s,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "an empty file: {body}"
    );
    assert_eq!(app.count("attachments", "redcross").await, 0);
    assert_eq!(stored_files(&app), Vec::<PathBuf>::new());

    // The name is never trusted: a PNG called .pdf is kept as what it is.
    let (s, body) = staff.upload("certificates", "证明.pdf", PNG).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["content_type"], "image/png");
    let (_, headers, _) = staff
        .download(&format!(
            "/api/v1/attachments/{}",
            body["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(headers["content-type"], "image/png");
}

#[tokio::test]
async fn record_refuses_unknown_foreign_and_too_many_attachments_at_their_pointer() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let huangpu = app.login("redcross", "huangpu_staff").await;
    let photo = uploaded(&staff, "scene_photos", "现场.png", PNG).await;
    let mut certs = Vec::new();
    for i in 0..6 {
        certs.push(uploaded(&staff, "certificates", &format!("证明{i}.pdf"), PDF).await);
    }
    let someone_elses = uploaded(&huangpu, "certificates", "黄浦.pdf", PDF).await;

    let refused = |data: Value| {
        let staff = staff.clone();
        async move {
            let (s, body) = staff
                .post("/api/v1/forms/fire_relief/records", json!({"data": data}))
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            body["error"]["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (
                        f["pointer"].as_str().unwrap().to_string(),
                        f["rule"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let at = |p: &str, r: &str| vec![(p.to_string(), r.to_string())];
    let app_data = |extra: Value| with(application("张三"), extra);

    assert_eq!(
        refused(app_data(
            json!({"certificates": [certs[0], "0190a1b2-0000-7000-8000-000000000000"]})
        ))
        .await,
        at("/certificates/1", "attachment"),
        "an id that does not exist"
    );
    assert_eq!(
        refused(app_data(json!({"certificates": ["../../etc/passwd"]}))).await,
        at("/certificates/0", "attachment")
    );
    assert_eq!(
        refused(app_data(json!({"certificates": [certs[0], photo]}))).await,
        at("/certificates/1", "attachment"),
        "a photo uploaded for scene_photos"
    );
    assert_eq!(
        refused(app_data(json!({"certificates": [someone_elses]}))).await,
        at("/certificates/0", "attachment"),
        "another user's unattached upload"
    );
    assert_eq!(
        refused(app_data(json!({"certificates": [certs[0], certs[0]]}))).await,
        at("/certificates/1", "uniqueItems")
    );
    let (s, body) = staff
        .post(
            "/api/v1/forms/fire_relief/records",
            json!({"data": app_data(json!({"certificates": certs}))}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["pointer"], "/certificates");
    assert_eq!(body["error"]["fields"][0]["rule"], "maxItems");
    assert_eq!(app.count("records", "redcross").await, 0, "nothing written");

    // Five are fine; a file one record holds cannot be taken by another.
    let first = staff
        .create(
            app_data(json!({"certificates": &certs[..5]})),
            Some("submit"),
        )
        .await;
    assert_eq!(first["data"]["certificates"].as_array().unwrap().len(), 5);
    assert_eq!(
        refused(app_data(json!({"certificates": [certs[0]]}))).await,
        at("/certificates/0", "attachment")
    );
    let (_, meta) = staff
        .get(&format!("/api/v1/attachments/{}/meta", certs[5]))
        .await;
    assert_eq!(
        meta["record_id"],
        Value::Null,
        "a refused record links nothing"
    );
    assert_eq!(app.count("records", "redcross").await, 1);
}

#[tokio::test]
async fn attachment_ids_do_not_cross_tenants() {
    let app = TestApp::spawn().await;
    app.tenant_with_pack("jingan", &[("jingan_staff", "district_staff")])
        .await;
    let staff = app.login("redcross", "pudong_staff").await;
    let theirs = app.login("jingan", "jingan_staff").await;
    let id = uploaded(&staff, "certificates", "证明.pdf", PDF).await;
    staff
        .create(
            with(application("张三"), json!({"certificates": [id]})),
            None,
        )
        .await;

    assert_eq!(
        theirs
            .download(&format!("/api/v1/attachments/{id}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        theirs.delete(&format!("/api/v1/attachments/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, body) = theirs
        .post(
            "/api/v1/forms/fire_relief/records",
            json!({"data": with(application("李四"), json!({"certificates": [id]}))}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["pointer"], "/certificates/0");
    // Their own upload works, and is theirs alone.
    let own = uploaded(&theirs, "certificates", "证明.pdf", PDF).await;
    assert_eq!(app.count("attachments", "jingan").await, 1);
    assert_eq!(
        staff
            .download(&format!("/api/v1/attachments/{own}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn uploading_needs_a_role_that_files_the_form_and_an_attachment_field() {
    let app = TestApp::spawn().await;
    let reviewer = app.login("redcross", "pudong_reviewer").await;
    let staff = app.login("redcross", "pudong_staff").await;
    assert_eq!(
        app.anonymous().upload("certificates", "a.pdf", PDF).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, body) = reviewer.upload("certificates", "a.pdf", PDF).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "read-only roles upload nothing: {body}"
    );
    assert_eq!(
        staff.upload("applicant_name", "a.pdf", PDF).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        staff.upload("no_such_field", "a.pdf", PDF).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, _) = staff
        .upload_raw(
            "/api/v1/forms/no_such_form/fields/certificates/attachments",
            PDF.to_vec(),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.count("attachments", "redcross").await, 0);
    assert_eq!(stored_files(&app), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn unattached_upload_is_deleted_by_its_uploader_only_with_its_file() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let colleague = app.login("redcross", "pudong_reviewer").await;
    let id = uploaded(&staff, "certificates", "错传.pdf", PDF).await;
    let url = format!("/api/v1/attachments/{id}");

    assert_eq!(colleague.delete(&url).await.0, StatusCode::NOT_FOUND);
    assert_eq!(stored_files(&app).len(), 1);
    let (s, body) = staff.delete(&url).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(app.count("attachments", "redcross").await, 0);
    assert_eq!(stored_files(&app), Vec::<PathBuf>::new());
    assert_eq!(staff.download(&url).await.0, StatusCode::NOT_FOUND);
    assert_eq!(staff.delete(&url).await.0, StatusCode::NOT_FOUND);
}
