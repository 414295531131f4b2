//! Excel and CSV exports of lists: the reader's scope and filters, masking, the pack's
//! template with merged headers, totals and a sheet per district, background jobs with
//! progress and cancel.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{application, Session, TestApp};

/// Files `n` applications of `staff`, submitted.
async fn file(staff: &Session, n: usize, tag: &str) {
    for i in 0..n {
        staff
            .create(application(&format!("{tag}{i}")), Some("submit"))
            .await;
    }
}

fn book(bytes: Vec<u8>) -> Xlsx<Cursor<Vec<u8>>> {
    Xlsx::new(Cursor::new(bytes)).expect("a real xlsx")
}

fn text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn a_list_exports_as_xlsx_within_the_readers_scope_and_masking() {
    let app = TestApp::spawn().await;
    let pudong = app.login("redcross", "pudong_staff").await;
    let huangpu = app.login("redcross", "huangpu_staff").await;
    file(&pudong, 3, "浦东").await;
    file(&huangpu, 2, "黄浦").await;

    // A role without `export` is refused.
    let (s, _) = pudong.get("/api/v1/lists/fire_relief_all/export").await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Finance sees everything but may not unmask: ID numbers stay masked.
    let finance = app.login("redcross", "finance").await;
    let (s, headers, bytes) = finance
        .download("/api/v1/lists/fire_relief_all/export")
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    assert!(headers[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .contains("spreadsheetml"));
    assert!(headers[reqwest::header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains("filename*=UTF-8''"));
    let mut wb = book(bytes);
    let sheet = wb.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(text).collect()).collect();
    let (_, list) = finance.get("/api/v1/lists/fire_relief_all").await;
    let labels: Vec<String> = list["list"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rows[0], labels, "the list's columns, by their labels");
    assert_eq!(rows.len(), 1 + 5);
    let all = rows.concat().join("|");
    for i in 0..3 {
        let clear = crate::harness::id_number_of(&format!("浦东{i}"));
        assert!(!all.contains(&clear), "masked without unmask");
    }

    // A filter narrows the export exactly as it narrows the list.
    let (_, _, bytes) = finance
        .download("/api/v1/lists/fire_relief_all/export?filter[district]=黄浦区")
        .await;
    let sheet = book(bytes).worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(
        sheet.height(),
        1,
        "no application gives 黄浦区 as its district"
    );
    let (_, _, bytes) = finance
        .download("/api/v1/lists/fire_relief_all/export?filter[district]=浦东新区")
        .await;
    let sheet = book(bytes).worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(sheet.height(), 1 + 5);

    // The city reviewer may unmask: clear values, and the export is in the audit log.
    let city = app.login("redcross", "city_reviewer").await;
    let before = app.count("audit_log", "redcross").await;
    let (_, _, bytes) = city
        .download("/api/v1/lists/fire_relief_all/export?columns=applicant_name,id_number")
        .await;
    let rows: Vec<Vec<String>> = book(bytes)
        .worksheet_range_at(0)
        .unwrap()
        .unwrap()
        .rows()
        .map(|r| r.iter().map(text).collect())
        .collect();
    assert_eq!(rows[0], ["申请人姓名", "身份证号"]);
    assert!(
        rows[1..]
            .iter()
            .all(|r| r[1] == crate::harness::id_number_of(&r[0])),
        "each in clear: {rows:?}"
    );
    assert_eq!(app.count("audit_log", "redcross").await, before + 1);
}

#[tokio::test]
async fn the_ledger_template_has_merged_headers_totals_and_a_sheet_per_district() {
    let app = TestApp::spawn().await;
    let pudong = app.login("redcross", "pudong_staff").await;
    file(&pudong, 2, "台账").await;
    let mut other = application("外区");
    other["district"] = json!("黄浦区");
    other["requested_amount"] = json!(3000.5);
    let huangpu = app.login("redcross", "huangpu_staff").await;
    huangpu.create(other, Some("submit")).await;

    let city = app.login("redcross", "city_reviewer").await;
    let (_, templates) = city
        .get("/api/v1/lists/fire_relief_all/export-templates")
        .await;
    assert!(
        templates["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "fire_relief_ledger"),
        "{templates}"
    );
    let (s, _, bytes) = city
        .download(
            "/api/v1/lists/fire_relief_all/export?template=fire_relief_ledger&sort=created_at",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut wb = book(bytes);
    assert_eq!(wb.sheet_names(), ["浦东新区", "黄浦区"]);
    let sheet = wb.worksheet_range("浦东新区").unwrap();
    let rows: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(text).collect()).collect();
    assert_eq!(rows[0][0], "上海市红十字会火灾救助台账", "title row");
    assert_eq!(rows[1][0], "申请编号");
    assert_eq!(
        (rows[1][1].as_str(), rows[2][1].as_str()),
        ("申请", "申请人姓名"),
        "a group header over its columns"
    );
    assert_eq!(
        (
            rows[2][8].as_str(),
            rows[1][10].as_str(),
            rows[2][11].as_str()
        ),
        ("申请金额（元）", "审核", "核减")
    );
    // The money path, as the other projects' ledgers have it: 拨付, 签收, 发放.
    assert_eq!(
        (
            rows[1][12].as_str(),
            rows[2][15].as_str(),
            rows[1][16].as_str(),
            rows[1][18].as_str()
        ),
        ("拨付", "资金来源（列支专项）", "签收", "发放")
    );
    assert_eq!(
        rows.len(),
        3 + 2 + 1,
        "title, two header rows, two records, totals"
    );
    let footer = rows.last().unwrap();
    assert_eq!(footer[0], "合计");
    assert_eq!(footer[8], "20000", "sum of two requests of 10,000");
    let merged = wb.merge_cells_by_sheet_name("浦东新区").unwrap();
    assert!(
        merged.iter().any(|m| m.start == (1, 1) && m.end == (1, 9)),
        "{merged:?}"
    );
    let huang = wb.worksheet_range("黄浦区").unwrap();
    assert_eq!(huang.rows().next_back().unwrap()[8], Data::Float(3000.5));
    // Dates are real dates.
    assert!(
        matches!(sheet.get((3, 5)), Some(Data::DateTime(_))),
        "{:?}",
        sheet.get((3, 5))
    );
}

#[tokio::test]
async fn csv_has_a_bom_a_header_and_one_line_per_record() {
    let app = TestApp::spawn().await;
    let pudong = app.login("redcross", "pudong_staff").await;
    let mut evil = application("=HYPERLINK(\"http://x\")");
    evil["address"] = json!("上海市, 浦东\"新区\"");
    pudong.create(evil, Some("submit")).await;
    let finance = app.login("redcross", "finance").await;
    let (s, headers, bytes) = finance
        .download("/api/v1/lists/fire_relief_all/export?format=csv&columns=applicant_name,address,requested_amount")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(headers[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with('\u{feff}'));
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "申请人姓名,居住地址,申请金额（元）");
    assert_eq!(
        lines[1],
        "\"'=HYPERLINK(\"\"http://x\"\")\",\"上海市, 浦东\"\"新区\"\"\",10000"
    );
    let (s, b) = finance
        .get("/api/v1/lists/fire_relief_all/export?format=pdf")
        .await;
    assert_eq!(
        (s, b["error"]["fields"][0]["pointer"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("/query/format"))
    );
    let (s, b) = finance
        .get("/api/v1/lists/fire_relief_all/export?columns=nope")
        .await;
    assert_eq!(
        (s, b["error"]["fields"][0]["pointer"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("/query/columns"))
    );
}

async fn wait_for(s: &Session, id: &str, done: &[&str]) -> Value {
    for _ in 0..600 {
        let (_, j) = s.get(&format!("/api/v1/export-jobs/{id}")).await;
        if done.contains(&j["status"].as_str().unwrap_or_default()) {
            return j;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("job {id} did not finish");
}

#[tokio::test]
async fn a_background_export_reports_progress_and_its_file_and_can_be_cancelled() {
    let app = TestApp::spawn().await;
    let pudong = app.login("redcross", "pudong_staff").await;
    file(&pudong, 4, "任务").await;
    let finance = app.login("redcross", "finance").await;
    let (s, job) = finance
        .get("/api/v1/lists/fire_relief_all/export?background=true&format=csv")
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["rows_total"], 4);
    let id = job["id"].as_str().unwrap();
    let j = wait_for(&finance, id, &["done", "failed"]).await;
    assert_eq!(
        (j["status"].as_str(), j["rows_done"].as_i64()),
        (Some("done"), Some(4)),
        "{j}"
    );
    assert!(j["expires_at"].is_string());
    let (s, _, bytes) = finance.download(j["file_url"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(String::from_utf8(bytes).unwrap().lines().count(), 1 + 4);
    // Only its owner sees it.
    let city = app.login("redcross", "city_reviewer").await;
    let (s, _) = city.get(&format!("/api/v1/export-jobs/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, mine) = finance.get("/api/v1/export-jobs").await;
    assert_eq!(mine["items"][0]["id"], json!(id));
    // Deleting a finished job removes its file.
    let (s, _) = finance.delete(&format!("/api/v1/export-jobs/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = finance.get(&format!("/api/v1/export-jobs/{id}/file")).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("export_not_ready"))
    );

    // A big export is cancelled while it runs and leaves no file.
    formwork::bench::bulk_load(&app.state, 30_000)
        .await
        .unwrap();
    let (s, job) = city.get("/api/v1/lists/fire_relief_all/export").await;
    assert_eq!(s, StatusCode::ACCEPTED, "above the direct limit: a job");
    let id = job["id"].as_str().unwrap();
    let (s, _) = city.delete(&format!("/api/v1/export-jobs/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let j = wait_for(&city, id, &["cancelled", "done", "failed"]).await;
    assert_eq!(j["status"], "cancelled", "{j}");
    assert!(j["rows_done"].as_i64().unwrap() < 30_004);
    let left: Vec<_> = std::fs::read_dir(app.data_dir().join("exports/redcross"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(id))
        .collect();
    assert!(left.is_empty(), "no file of a cancelled export");
}

#[tokio::test]
async fn a_user_saves_their_own_columns_and_exports_with_them() {
    let app = TestApp::spawn().await;
    let pudong = app.login("redcross", "pudong_staff").await;
    file(&pudong, 1, "自选").await;
    let finance = app.login("redcross", "finance").await;
    let path = "/api/v1/lists/fire_relief_all/export-templates";
    let (s, b) = finance
        .post(
            path,
            json!({"name": "", "columns": ["applicant_name", "nope"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let ptrs: Vec<&str> = b["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(ptrs, ["/name", "/columns/1"]);
    let (s, mine) = finance
        .post(path, json!({"name": "我的简表", "columns": ["app_no", "applicant_name", "requested_amount"]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{mine}");
    let (s, _) = finance
        .post(path, json!({"name": "我的简表", "columns": ["app_no"]}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let key = mine["key"].as_str().unwrap();
    let (_, listed) = finance.get(path).await;
    assert!(listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["key"] == key));
    // Someone else neither sees nor uses it.
    let city = app.login("redcross", "city_reviewer").await;
    let (_, theirs) = city.get(path).await;
    assert!(!theirs["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["key"] == key));
    let (s, _) = city
        .get(&format!(
            "/api/v1/lists/fire_relief_all/export?template={key}"
        ))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let (s, _, bytes) = finance
        .download(&format!(
            "/api/v1/lists/fire_relief_all/export?format=csv&template={key}"
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(
        text.trim_start_matches('\u{feff}').lines().next().unwrap(),
        "申请编号,申请人姓名,申请金额（元）"
    );
    let id = mine["id"].as_str().unwrap();
    let (s, _) = finance.delete(&format!("{path}/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = finance.delete(&format!("{path}/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
