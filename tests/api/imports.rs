//! Imports from Excel: workbooks built here with rust_xlsxwriter, sent as the raw body of
//! `POST /api/v1/forms/{form}/imports`, and their effects checked in the database.

use std::io::{Cursor, Write};

use calamine::{Data, Reader, Xlsx};
use reqwest::StatusCode;
use rust_xlsxwriter::{Format, Formula, Workbook};
use serde_json::{json, Value};

use crate::harness::{application, TestApp};

/// A valid resident ID number, different for every `i`.
fn id_number(i: usize) -> String {
    let body = format!(
        "110105{}{:02}{:02}{:03}",
        1950 + i / 1000 % 50,
        1 + i / 28 % 12,
        1 + i % 28,
        i % 1000
    );
    let check = form_runtime::formats::id_check_char(&body).expect("17 digits");
    format!("{body}{check}")
}

/// Cell values of a sheet: text, numbers, booleans, or formulas as `{"formula", "result"}`.
fn workbook(sheet: &str, headers: &[&str], rows: &[Vec<Value>]) -> Vec<u8> {
    let mut book = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let ws = book.add_worksheet();
    ws.set_name(sheet).unwrap();
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, v) in row.iter().enumerate() {
            let c = c as u16;
            match v {
                Value::Null => {}
                Value::String(s) => {
                    ws.write_string(r, c, s).unwrap();
                }
                Value::Number(n) => {
                    ws.write_number(r, c, n.as_f64().unwrap()).unwrap();
                }
                Value::Bool(b) => {
                    ws.write_boolean(r, c, *b).unwrap();
                }
                Value::Object(o) if o.contains_key("date_serial") => {
                    ws.write_number_with_format(r, c, o["date_serial"].as_f64().unwrap(), &date)
                        .unwrap();
                }
                Value::Object(o) => {
                    let f = Formula::new(o["formula"].as_str().unwrap())
                        .set_result(o["result"].as_str().unwrap());
                    ws.write_formula(r, c, f).unwrap();
                }
                Value::Array(_) => unreachable!(),
            }
        }
    }
    book.save_to_buffer().unwrap()
}

/// The headers of the red-cross `fire_relief_batch` template, in order.
const BATCH: &[&str] = &[
    "申请人姓名",
    "身份证号",
    "联系电话",
    "所属区",
    "街镇",
    "居住地址",
    "火灾发生日期",
    "火灾地址",
    "房屋性质",
    "居住身份",
    "死亡人数",
    "受伤人数",
    "伤亡情况说明",
    "财产损失情况",
    "损失金额（元）",
    "申请金额（元）",
    "开户银行",
    "银行账号",
    "本人承诺属实",
];

/// A valid row for [`BATCH`]: the harness's application with its own ID number.
fn batch_row(i: usize) -> Vec<Value> {
    let a = application(&format!("申请人{i}"));
    vec![
        a["applicant_name"].clone(),
        json!(id_number(i)),
        a["phone"].clone(),
        a["district"].clone(),
        a["street"].clone(),
        a["address"].clone(),
        a["fire_date"].clone(),
        a["fire_address"].clone(),
        a["housing_type"].clone(),
        a["residency_type"].clone(),
        a["deaths"].clone(),
        a["injured"].clone(),
        json!("一人轻伤"),
        a["loss_desc"].clone(),
        a["loss_amount"].clone(),
        a["requested_amount"].clone(),
        a["bank_name"].clone(),
        a["bank_account"].clone(),
        json!("是"),
    ]
}

async fn import(s: &crate::harness::Session, query: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    s.upload_raw(
        &format!("/api/v1/forms/fire_relief/imports{query}"),
        bytes,
        &[],
    )
    .await
}

fn sheet_rows(bytes: &[u8], sheet: &str) -> Vec<Vec<String>> {
    let mut book = Xlsx::new(Cursor::new(bytes.to_vec())).expect("a workbook");
    let range = book.worksheet_range(sheet).expect("the sheet");
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    c => c.to_string(),
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn three_bad_rows_among_a_thousand_import_nothing_unless_valid_only() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let mut rows: Vec<Vec<Value>> = (0..1000).map(batch_row).collect();
    rows[9][1] = json!("110105194912310021"); // Excel row 11, column B: checksum wrong
    rows[499][15] = json!("很多"); // row 501, column P: not a number
    rows[999][3] = json!("火星区"); // row 1001, column D: not a district
    let book = workbook("申请", BATCH, &rows);

    let (s, b) = import(&staff, "?template=fire_relief_batch", book.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["error"]["code"], "import_refused");
    let report = &b["report"];
    assert_eq!(
        (
            report["rows"].as_i64(),
            report["accepted"].as_i64(),
            report["rejected"].as_i64()
        ),
        (Some(1000), Some(997), Some(3))
    );
    assert_eq!(report["imported"], false);
    let named: Vec<(i64, &str, &str, &str)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["column"].as_str().unwrap(),
                e["field"].as_str().unwrap(),
                e["rule"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            (11, "B", "id_number", "format"),
            (501, "P", "requested_amount", "convert"),
            (1001, "D", "district", "convert")
        ]
    );
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("身份证号"),
        "{}",
        report["errors"][0]
    );
    assert!(!report["errors"][0]["message_en"]
        .as_str()
        .unwrap()
        .is_empty());
    assert_eq!(
        app.count("records", "redcross").await,
        0,
        "nothing imported"
    );
    assert_eq!(app.count("record_events", "redcross").await, 0);

    // The error workbook: the three rows as they were, with their row number and reasons.
    let url = report["errors_url"].as_str().unwrap();
    let (s, h, bytes) = staff.download(url).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .contains("spreadsheetml"));
    let got = sheet_rows(&bytes, "申请-错误行");
    assert_eq!(got.len(), 4, "header and three rows");
    assert_eq!(got[0][19..], ["原行号".to_string(), "错误原因".to_string()]);
    assert_eq!(got[1][1], "110105194912310021");
    assert_eq!(
        (
            got[1][19].as_str(),
            got[2][19].as_str(),
            got[3][19].as_str()
        ),
        ("11", "501", "1001")
    );
    assert!(
        got[2][20].starts_with("P列「申请金额（元）」"),
        "{}",
        got[2][20]
    );
    assert_eq!(got[2][15], "很多");

    let (s, b) = import(&staff, "?template=fire_relief_batch&mode=valid_only", book).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(
        (
            b["created"].as_i64(),
            b["rejected"].as_i64(),
            b["imported"].as_bool()
        ),
        (Some(997), Some(3), Some(true))
    );
    assert_eq!(app.count("records", "redcross").await, 997);
    assert_eq!(app.count("record_events", "redcross").await, 997);
    let (s, list) = staff.get("/api/v1/lists/fire_relief_all?page_size=1").await;
    assert_eq!((s, list["total"].as_i64()), (StatusCode::OK, Some(997)));
    // One audit entry per record and one for the import.
    use sqlx::Row;
    let n: i64 = sqlx::query("select count(*) as n from audit_log where tenant_id = 'redcross' and action = 'import.run'")
        .fetch_one(app.db().pool()).await.unwrap().try_get("n").unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_row_whose_id_number_matches_updates_that_record() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let mut a = application("张三");
    a["id_number"] = json!(id_number(7));
    let existing = staff.create(a, None).await;
    let id = existing["id"].as_str().unwrap();

    let mut changed = batch_row(7);
    changed[15] = json!(12345.5);
    // The key is matched by its blind index (the value is sensitive), spaces trimmed.
    changed[1] = json!(format!(" {} ", id_number(7)));
    let book = workbook("申请", BATCH, &[changed, batch_row(8)]);
    let (s, b) = import(&staff, "?template=fire_relief_batch", book.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(
        (b["created"].as_i64(), b["updated"].as_i64()),
        (Some(1), Some(1))
    );
    let (_, r) = staff.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(r["version"], 2);
    assert_eq!(r["data"]["requested_amount"], 12345.5);
    let (_, ev) = staff.get(&format!("/api/v1/records/{id}/events")).await;
    let kinds: Vec<&str> = ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["create", "update"]);
    assert_eq!(app.count("records", "redcross").await, 2);

    // A record the importer may not see is not touched: its row is an error.
    let huangpu = app.login("redcross", "huangpu_staff").await;
    let (s, b) = huangpu
        .upload_raw(
            "/api/v1/forms/fire_relief/imports?template=fire_relief_batch",
            workbook("申请", BATCH, &[batch_row(7)]),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["report"]["errors"][0]["column"], "B");
    assert_eq!(b["report"]["errors"][0]["rule"], "key");
    let (_, r) = staff.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(r["version"], 2, "unchanged");

    // The same key twice in one file.
    let (s, b) = import(
        &staff,
        "?template=fire_relief_batch",
        workbook("申请", BATCH, &[batch_row(9), batch_row(9)]),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["report"]["errors"][0]["row"], 3);
}

#[tokio::test]
async fn headers_and_values_are_read_the_way_people_type_them() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    // No template: headers are the fields' titles or keys, with stray and full-width spaces,
    // half-width brackets; an unknown column is ignored.
    let headers = [
        " 申请人 姓名",
        "身份证号\u{3000}",
        "phone",
        "所属区",
        "居住地址",
        "火灾发生日期",
        "房屋性质",
        "居住身份",
        "死亡人数",
        "受伤人数",
        "伤亡情况说明",
        "财产损失情况",
        "损失金额(元)",
        "申请金额（元）",
        "开户银行",
        "银行账号",
        "promise",
        "序号",
    ];
    let base = |name: &str, date: Value, i: usize| -> Vec<Value> {
        vec![
            json!(name),
            json!(id_number(i)),
            json!(13812345678u64),
            json!("浦东新区"),
            json!("某路1号"),
            date,
            json!("居住性房屋"),
            json!("户籍居民"),
            json!("0"),
            json!(1),
            json!("轻伤"),
            json!("家具烧毁"),
            json!("52,000.50"),
            json!({"formula": "=1+1", "result": "8000"}),
            json!("工商银行"),
            json!("6222021234567890128"),
            json!("是"),
            json!(1),
        ]
    };
    let rows = vec![
        base("甲", json!(46303), 1), // an Excel serial typed as a number
        base("乙", json!("2026年10月8日"), 2),
        base("丙", json!("2026/10/8"), 3),
        base("丁", json!({"date_serial": 46303}), 4), // a cell formatted as a date
    ];
    let book = workbook("Sheet1", &headers, &rows);
    let (s, b) = import(&staff, "?dry_run=true", book.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (
            b["accepted"].as_i64(),
            b["rejected"].as_i64(),
            b["dry_run"].as_bool()
        ),
        (Some(4), Some(0), Some(true))
    );
    assert_eq!(b["ignored_columns"], json!(["序号"]));
    assert_eq!(
        app.count("records", "redcross").await,
        0,
        "a dry run writes nothing"
    );

    let (s, b) = import(&staff, "", book).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, list) = staff
        .get("/api/v1/lists/fire_relief_all?page_size=10")
        .await;
    assert_eq!(list["total"], 4);
    for item in list["items"].as_array().unwrap() {
        let (_, r) = staff
            .get(&format!("/api/v1/records/{}", item["id"].as_str().unwrap()))
            .await;
        let d = &r["data"];
        assert_eq!(d["fire_date"], "2026-10-08", "{d}");
        assert_eq!(d["loss_amount"], 52000.5);
        // The formula's cached value, not its result when evaluated (=1+1 would be 2).
        assert_eq!(d["requested_amount"], 8000);
        assert_eq!(d["deaths"], 0);
        assert_eq!(d["promise"], true);
        assert_eq!(
            d["phone"], "138****5678",
            "the phone typed as a number kept every digit"
        );
    }
}

/// The showcase pack, with `import` granted to its expert keeper when `grant`.
fn showcase(grant: bool) -> form_runtime::pack::PackFiles {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/showcase");
    let mut files = form_runtime::pack::PackFiles::from_dir(&dir).expect("showcase pack");
    if grant {
        let roles = String::from_utf8(files.0["roles.toml"].clone()).unwrap();
        let roles = roles.replace(
            r#"expert = ["read", "create", "update"]"#,
            r#"expert = ["read", "create", "update", "import"]"#,
        );
        files.0.insert("roles.toml".into(), roles.into_bytes());
    }
    files
}

#[tokio::test]
async fn choice_labels_and_region_names_become_codes_and_import_needs_its_grant() {
    let app = TestApp::spawn().await;
    app.tenant_with_files(
        "show",
        &showcase(false),
        &[("keeper", "root", "expert_keeper")],
    )
    .await;
    app.tenant_with_files(
        "show2",
        &showcase(true),
        &[("keeper", "root", "expert_keeper")],
    )
    .await;
    let headers = [
        "姓名",
        "职称",
        "专业领域",
        "所在地区",
        "入库时间",
        "已阅读并同意《专家库管理办法》",
    ];
    let rows = vec![vec![
        json!("王五"),
        json!("副高级"),
        json!("法律、信息技术"),
        json!("上海市/浦东新区"),
        json!("2026-01-05 09:30"),
        json!("是"),
    ]];
    let book = workbook("专家", &headers, &rows);

    let no_grant = app.login("show", "keeper").await;
    let (s, b) = no_grant
        .upload_raw("/api/v1/forms/expert/imports", book.clone(), &[])
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let (s, _, _) = no_grant
        .download("/api/v1/forms/expert/import-template.xlsx")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(app.count("records", "show").await, 0);

    let keeper = app.login("show2", "keeper").await;
    let (s, b) = keeper
        .upload_raw("/api/v1/forms/expert/imports", book, &[])
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, list) = keeper.get("/api/v1/lists/experts").await;
    let id = list["items"][0]["id"].as_str().unwrap();
    let (_, r) = keeper.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(r["data"]["specialties"], json!(["law", "it"]));
    assert_eq!(r["data"]["region"], "310115");
    assert_eq!(r["data"]["registered_at"], "2026-01-05T09:30:00+08:00");
    assert_eq!(r["data"]["agreed"], true);

    let bad = workbook(
        "专家",
        &headers,
        &[vec![
            json!("赵六"),
            json!("初级"),
            json!("法律、烹饪"),
            json!("火星"),
            json!(""),
            json!("是"),
        ]],
    );
    let (s, b) = keeper
        .upload_raw("/api/v1/forms/expert/imports", bad, &[])
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let cols: Vec<&str> = b["report"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["column"].as_str().unwrap())
        .collect();
    assert_eq!(
        cols,
        ["B", "C", "D"],
        "conversion errors name their columns: {b}"
    );
    assert!(b["report"]["errors"][1]["message"]
        .as_str()
        .unwrap()
        .contains("烹饪"));
}

#[tokio::test]
async fn hostile_files_are_refused_with_a_reason_and_change_nothing() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let refused = |b: &Value| {
        b["error"]["fields"][0]["rule"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };

    // Not a workbook: text named .xlsx, and a zip that is no workbook.
    let (s, b) = import(&staff, "", b"name,id\nzhang,1\n".to_vec()).await;
    assert_eq!(
        (s, refused(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "not_a_workbook".into()),
        "{b}"
    );
    assert!(b["error"]["fields"][0]["message"]
        .as_str()
        .unwrap()
        .contains("不是 Excel"));
    let mut plain_zip = Vec::new();
    {
        let mut z = zip::ZipWriter::new(Cursor::new(&mut plain_zip));
        z.start_file("hello.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b"hello").unwrap();
        z.finish().unwrap();
    }
    let (s, b) = import(&staff, "", plain_zip).await;
    assert_eq!(
        (s, refused(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "unreadable".into()),
        "{b}"
    );

    // A zip bomb: a small file whose sheet inflates to 300 MB of zeros.
    let mut bomb = Vec::new();
    {
        let mut z = zip::ZipWriter::new(Cursor::new(&mut bomb));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        z.start_file("xl/worksheets/sheet1.xml", opts).unwrap();
        let zeros = vec![b'0'; 1 << 20];
        for _ in 0..300 {
            z.write_all(&zeros).unwrap();
        }
        z.finish().unwrap();
    }
    assert!(bomb.len() < 2 << 20, "the bomb is small: {}", bomb.len());
    let (s, b) = import(&staff, "", bomb).await;
    assert_eq!(
        (s, refused(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "zip_bomb".into()),
        "{b}"
    );

    // Too large a file.
    let (s, b) = import(&staff, "", vec![0u8; 21 << 20]).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")),
        "{b}"
    );

    // Too many columns: a value in column 201.
    let mut wide = Workbook::new();
    let ws = wide.add_worksheet();
    ws.write_string(0, 0, "申请人姓名").unwrap();
    ws.write_string(0, 200, "多余").unwrap();
    let (s, b) = import(&staff, "", wide.save_to_buffer().unwrap()).await;
    assert_eq!(
        (s, refused(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "too_many_columns".into()),
        "{b}"
    );

    // Too many rows: 200,001 below the header.
    let mut long = Workbook::new();
    let ws = long.add_worksheet();
    ws.write_string(0, 0, "申请人姓名").unwrap();
    for r in 1..=200_001u32 {
        ws.write_number(r, 0, 1.0).unwrap();
    }
    let (s, b) = import(&staff, "", long.save_to_buffer().unwrap()).await;
    assert_eq!(
        (s, refused(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "too_many_rows".into()),
        "{b}"
    );

    assert_eq!(app.count("records", "redcross").await, 0);
    assert_eq!(
        app.count("imports", "redcross").await,
        0,
        "a refused file leaves no import behind"
    );
}

#[tokio::test]
async fn the_empty_template_has_the_headers_drop_downs_and_instructions() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let (s, h, bytes) = staff
        .download("/api/v1/forms/fire_relief/import-template.xlsx?template=fire_relief_batch")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let book = Xlsx::new(Cursor::new(bytes.clone())).unwrap();
    assert_eq!(book.sheet_names(), ["申请", "说明", "选项"]);
    let header = sheet_rows(&bytes, "申请");
    assert_eq!(
        header[0],
        BATCH.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    );
    let help = sheet_rows(&bytes, "说明");
    assert_eq!(
        help[0][..4],
        ["列", "表头", "字段", "必填"].map(String::from)
    );
    let id_row = help.iter().find(|r| r[1] == "身份证号").unwrap();
    assert_eq!((id_row[0].as_str(), id_row[3].as_str()), ("B", "是"));
    assert!(id_row[4].contains("身份证"), "{id_row:?}");
    let date_row = help.iter().find(|r| r[1] == "火灾发生日期").unwrap();
    assert!(date_row[4].contains("2026年1月5日"));
    let district = help.iter().find(|r| r[1] == "所属区").unwrap();
    assert!(district[5].contains("浦东新区"));
    // The drop-down of 所属区 (column D) reads the hidden options sheet.
    let mut z = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut z.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut xml,
    )
    .unwrap();
    assert!(xml.contains(r#"<dataValidation type="list""#), "{xml}");
    assert!(xml.contains("sqref=\"D2:D200001\""), "{xml}");
    // Without a template: the fields the user may fill in, headed by their titles.
    let (s, _, bytes) = staff
        .download("/api/v1/forms/fire_relief/import-template.xlsx")
        .await;
    assert_eq!(s, StatusCode::OK);
    let header = &sheet_rows(&bytes, "火灾救助申请")[0];
    assert_eq!(header[0], "申请人姓名");
    assert!(
        !header.contains(&"年龄".to_string()),
        "computed fields are no columns"
    );
    assert!(
        !header.contains(&"核定金额（元）".to_string()),
        "nor fields the filer may not write"
    );
}

#[tokio::test]
async fn an_error_workbook_is_only_for_its_importer() {
    let app = TestApp::spawn().await;
    app.tenant_with_pack("other", &[("other_staff", "district_staff")])
        .await;
    let staff = app.login("redcross", "pudong_staff").await;
    let mut row = batch_row(1);
    row[1] = json!("123");
    let (s, b) = import(
        &staff,
        "?template=fire_relief_batch",
        workbook("申请", BATCH, &[row]),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let url = b["report"]["errors_url"].as_str().unwrap().to_string();
    let (s, _, _) = staff.download(&url).await;
    assert_eq!(s, StatusCode::OK);
    let other = app.login("other", "other_staff").await;
    let (s, _, _) = other.download(&url).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another tenant");
    let colleague = app.login("redcross", "huangpu_staff").await;
    let (s, _, _) = colleague.download(&url).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another user");
    // The workbook is sealed at rest: the ID number is not in the database in clear.
    use sqlx::Row;
    let stored: String =
        sqlx::query("select errors_xlsx from imports where tenant_id = 'redcross'")
            .fetch_one(app.db().pool())
            .await
            .unwrap()
            .try_get("errors_xlsx")
            .unwrap();
    assert!(stored.starts_with("v1:"), "{}", &stored[..10]);
    // A reviewer holds no `import`.
    let reviewer = app.login("redcross", "pudong_reviewer").await;
    let (s, _) = reviewer
        .upload_raw(
            "/api/v1/forms/fire_relief/imports",
            workbook("申请", BATCH, &[batch_row(2)]),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn historical_cases_keep_the_time_they_happened() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "pudong_staff").await;
    let mut headers = BATCH.to_vec();
    headers.push("提交时间");
    // The empty template the clerk downloads has the column that says when.
    let (s, _, bytes) = staff
        .download("/api/v1/forms/fire_relief/import-template.xlsx?template=fire_relief_history")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        sheet_rows(&bytes, "申请")[0],
        headers.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    );
    let help = sheet_rows(&bytes, "说明");
    let at = help
        .iter()
        .find(|r| r[1] == "提交时间")
        .expect("提交时间 is explained");
    assert!(at[4].contains("北京时间"), "{at:?}");
    let mut row = batch_row(41);
    // Guards read the case's own day: a fire after it would be refused as in the future.
    row[6] = json!("2025-02-20");
    row.push(json!("2025-03-01T10:00:00+08:00"));

    // A case said to happen in the future is refused, and nothing is imported.
    let mut later = batch_row(42);
    later.push(json!("2999-01-01T10:00:00+08:00"));
    let (s, b) = import(
        &staff,
        "?template=fire_relief_history",
        workbook("申请", &headers, &[row.clone(), later]),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["report"]["errors"][0]["row"], 3, "{b}");
    assert_eq!(b["report"]["errors"][0]["rule"], "at", "{b}");
    assert_eq!(app.count("records", "redcross").await, 0);

    let (s, b) = import(
        &staff,
        "?template=fire_relief_history",
        workbook("申请", &headers, &[row]),
    )
    .await;
    assert_eq!(
        (s, b["created"].as_i64()),
        (StatusCode::CREATED, Some(1)),
        "{b}"
    );
    let (_, list) = staff.get("/api/v1/lists/fire_relief_all").await;
    let id = list["items"][0]["id"]
        .as_str()
        .expect("imported")
        .to_string();
    let (_, r) = staff.get(&format!("/api/v1/records/{id}")).await;
    // Submitted then, numbered in that year, stamped with that time, not the import's.
    assert_eq!(r["state"], "submitted");
    assert_eq!(r["data"]["app_no"], "HZ-2025-000001");
    assert_eq!(r["data"]["submitted_at"], "2025-03-01T10:00:00+08:00");
    assert_eq!(r["created_at"], "2025-03-01T02:00:00.000000Z");
    assert_eq!(r["created_at_text"], "2025-03-01 10:00");
    let (_, ev) = staff.get(&format!("/api/v1/records/{id}/events")).await;
    let times: Vec<&str> = ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        ["2025-03-01T02:00:00.000000Z", "2025-03-01T02:00:00.000000Z"],
        "created and submitted when the case was"
    );
}
