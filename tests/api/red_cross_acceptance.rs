//! The red-cross acceptance walk (issue 14), replayed through the API: the fire-relief money
//! path refuses what its documents forbid and leaves the record as it was; the maker is not
//! the checker, except where the pack waives it, audited; a refusal is final, counted, shown
//! and told; one open application per person per project; fire relief only for homes; the
//! ledger export adds up to what the records say, read back with calamine.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

use crate::harness::{application, Session, TestApp};
use crate::red_cross_projects::{get, step};

const FUND: &str = "人道救助基金·火灾应急救助专项";

/// The people of the walk, in Pudong unless named otherwise.
struct Desk {
    staff: Session,
    payer: Session,
    district: Session,
    city: Session,
    finance: Session,
}

async fn desk(app: &TestApp) -> Desk {
    Desk {
        staff: app.login("redcross", "pudong_staff").await,
        payer: app.login("redcross", "pudong_payer").await,
        district: app.login("redcross", "pudong_reviewer").await,
        city: app.login("redcross", "city_reviewer").await,
        finance: app.login("redcross", "finance").await,
    }
}

/// Fires `action`, expects 422 and answers the (pointer, rule, message) of every error; the
/// record is exactly as before.
async fn refused(
    s: &Session,
    id: &str,
    action: &str,
    body: Value,
) -> Vec<(String, String, String)> {
    let before = get(s, id).await;
    let (st, answer) = s.fire(id, action, body).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{action}: {answer}");
    let after = get(s, id).await;
    assert_eq!(
        (&after["state"], &after["version"], &after["data"]),
        (&before["state"], &before["version"], &before["data"]),
        "a refused {action} changes nothing"
    );
    answer["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["pointer"].as_str().unwrap_or("").to_string(),
                f["rule"].as_str().unwrap_or("").to_string(),
                f["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn pointers(errs: &[(String, String, String)]) -> Vec<&str> {
    let mut p: Vec<&str> = errs.iter().map(|e| e.0.as_str()).collect();
    p.sort();
    p
}

fn guard(errs: &[(String, String, String)]) -> &str {
    errs.iter()
        .find(|e| e.1 == "guard")
        .map(|e| e.2.as_str())
        .unwrap_or_else(|| panic!("no guard among {errs:?}"))
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn cents(v: f64) -> i64 {
    (v * 100.0).round() as i64
}

/// A submitted application of `name` approved by both reviews at `approved`.
async fn approved(d: &Desk, name: &str, approved: f64) -> String {
    let rec = d.staff.create(application(name), Some("submit")).await;
    let id = rec["id"].as_str().expect("id").to_string();
    step(
        &d.district,
        &id,
        "approve",
        json!({"comment": "情况属实"}),
        "district_approved",
    )
    .await;
    step(
        &d.city,
        &id,
        "approve",
        json!({"data": {"approved_amount": approved}}),
        "city_approved",
    )
    .await;
    id
}

#[tokio::test]
async fn the_fire_relief_money_path_refuses_what_its_documents_forbid_and_the_ledger_adds_up() {
    let app = TestApp::spawn().await;
    let d = desk(&app).await;
    let id = approved(&d, "钱款甲", 8000.0).await;

    // 拨付: not more than approved, and with its date, voucher and fund source.
    let errs = refused(
        &d.finance,
        &id,
        "allocate",
        json!({"data": {"allocated_amount": 9999, "allocation_date": "2026-11-20", "voucher_no": "BF-1", "fund_source": FUND}}),
    )
    .await;
    assert_eq!(guard(&errs), "拨付金额不能超过核定金额");
    let errs = refused(
        &d.finance,
        &id,
        "allocate",
        json!({"data": {"allocated_amount": 8000}}),
    )
    .await;
    assert_eq!(
        pointers(&errs),
        ["/allocation_date", "/fund_source", "/voucher_no"],
        "{errs:?}"
    );
    let errs = refused(
        &d.finance,
        &id,
        "allocate",
        json!({"data": {"allocated_amount": 8000, "allocation_date": "2999-01-01", "voucher_no": "BF-1", "fund_source": FUND}}),
    )
    .await;
    assert_eq!(guard(&errs), "拨付日期不能晚于今天");
    let rec = step(
        &d.finance,
        &id,
        "allocate",
        json!({"data": {"allocated_amount": 8000, "allocation_date": "2026-11-20", "voucher_no": "BF-2026-0001", "fund_source": FUND}}),
        "allocated",
    )
    .await;
    assert_eq!(
        rec["data"]["fund_source"], FUND,
        "资金来源 is a field of fire relief"
    );

    // 签收: signer and date, not before the allocation.
    let errs = refused(&d.staff, &id, "sign", json!({})).await;
    assert_eq!(pointers(&errs), ["/signed_date", "/signer"], "{errs:?}");
    let errs = refused(
        &d.staff,
        &id,
        "sign",
        json!({"data": {"signer": "王经办", "signed_date": "2026-11-19"}}),
    )
    .await;
    assert_eq!(guard(&errs), "签收日期不能早于拨付日期");
    step(
        &d.staff,
        &id,
        "sign",
        json!({"data": {"signer": "王经办", "signed_date": "2026-11-22"}}),
        "signed",
    )
    .await;

    // 发放: not more than allocated, with date and method, confirmed by another clerk.
    let paid = json!({"data": {"disbursed_amount": 8000, "disburse_date": "2026-11-25", "disburse_method": "银行转账"}});
    let mine = get(&d.staff, &id).await;
    assert!(
        !mine["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "disburse"),
        "the filer is not offered the payment: {}",
        mine["actions"]
    );
    let (st, body) = d.staff.fire(&id, "disburse", paid.clone()).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("另一名经办人")),
        "{body}"
    );
    let (_, inbox) = d.payer.get("/api/v1/inbox").await;
    assert!(
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == id.as_str()),
        "the second clerk has the payment to confirm: {inbox}"
    );
    let errs = refused(
        &d.payer,
        &id,
        "disburse",
        json!({"data": {"disbursed_amount": 12000, "disburse_date": "2026-11-25", "disburse_method": "银行转账"}}),
    )
    .await;
    assert_eq!(guard(&errs), "实发金额不能超过拨付金额");
    let errs = refused(
        &d.payer,
        &id,
        "disburse",
        json!({"data": {"disbursed_amount": 8000}}),
    )
    .await;
    assert_eq!(
        pointers(&errs),
        ["/disburse_date", "/disburse_method"],
        "{errs:?}"
    );
    let errs = refused(
        &d.payer,
        &id,
        "disburse",
        json!({"data": {"disbursed_amount": 8000, "disburse_date": "2026-11-21", "disburse_method": "现金"}}),
    )
    .await;
    assert_eq!(guard(&errs), "发放日期不能早于签收日期");
    step(&d.payer, &id, "disburse", paid, "disbursed").await;

    // Two more through the path, one paid less than allocated (a shortfall is possible,
    // more is not).
    let mut ids = vec![id];
    for (name, approve, pay) in [("钱款乙", 6000.0, 5800.0), ("钱款丙", 9500.5, 9500.5)] {
        let id = approved(&d, name, approve).await;
        step(
            &d.finance,
            &id,
            "allocate",
            json!({"data": {"allocated_amount": approve, "allocation_date": "2026-11-20", "voucher_no": format!("BF-{name}"), "fund_source": FUND}}),
            "allocated",
        )
        .await;
        step(
            &d.staff,
            &id,
            "sign",
            json!({"data": {"signer": name, "signed_date": "2026-11-22"}}),
            "signed",
        )
        .await;
        step(
            &d.payer,
            &id,
            "disburse",
            json!({"data": {"disbursed_amount": pay, "disburse_date": "2026-11-26", "disburse_method": "银行转账"}}),
            "disbursed",
        )
        .await;
        ids.push(id);
    }

    // Every record ends reconciled, every date and voucher present.
    let mut sums = [0i64; 3];
    let mut records = Vec::new();
    for id in &ids {
        let r = get(&d.city, id).await;
        let x = &r["data"];
        let (approved, allocated, paid) = (
            num(&x["approved_amount"]),
            num(&x["allocated_amount"]),
            num(&x["disbursed_amount"]),
        );
        assert!(allocated <= approved && paid <= allocated, "{x}");
        for f in [
            "allocation_date",
            "voucher_no",
            "fund_source",
            "signer",
            "signed_date",
            "disburse_date",
            "disburse_method",
        ] {
            assert!(x[f].as_str().is_some_and(|v| !v.is_empty()), "{f}: {x}");
        }
        sums[0] += cents(approved);
        sums[1] += cents(allocated);
        sums[2] += cents(paid);
        records.push(r);
    }
    assert_eq!(sums, [2_350_050, 2_350_050, 2_330_050]);

    // The ledger, read back: each row as its record, the totals as the sums taken here.
    let (st, _, bytes) = d
        .city
        .download(
            "/api/v1/lists/fire_relief_all/export?template=fire_relief_ledger&sort=created_at",
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let mut wb = Xlsx::new(Cursor::new(bytes)).expect("a real xlsx");
    let sheet = wb
        .worksheet_range("浦东新区")
        .expect("the district's sheet");
    let rows: Vec<&[Data]> = sheet.rows().collect();
    // A column's label is on the second header row, or on the first where it has no group.
    let header: Vec<String> = rows[2]
        .iter()
        .zip(rows[1])
        .map(|(low, high)| match low.to_string() {
            l if l.is_empty() => high.to_string(),
            l => l,
        })
        .collect();
    let col = |label: &str| {
        header
            .iter()
            .position(|h| h == label)
            .unwrap_or_else(|| panic!("no column {label} in {header:?}"))
    };
    let (c_no, c_approved, c_allocated, c_voucher, c_fund, c_signer, c_paid, c_date) = (
        col("申请编号"),
        col("核定金额（元）"),
        col("拨付金额（元）"),
        col("拨付凭证号"),
        col("资金来源（列支专项）"),
        col("签收人"),
        col("实发金额（元）"),
        col("发放日期"),
    );
    let body = &rows[3..rows.len() - 1];
    assert_eq!(body.len(), 3, "one row per record");
    let money = |c: &Data| match c {
        Data::Float(f) => cents(*f),
        Data::Int(i) => *i * 100,
        other => panic!("not an amount: {other:?}"),
    };
    for (row, rec) in body.iter().zip(&records) {
        let x = &rec["data"];
        assert_eq!(row[c_no].to_string(), x["app_no"].as_str().unwrap());
        assert_eq!(money(&row[c_approved]), cents(num(&x["approved_amount"])));
        assert_eq!(money(&row[c_allocated]), cents(num(&x["allocated_amount"])));
        assert_eq!(money(&row[c_paid]), cents(num(&x["disbursed_amount"])));
        assert_eq!(
            row[c_voucher].to_string(),
            x["voucher_no"].as_str().unwrap()
        );
        assert_eq!(row[c_fund].to_string(), FUND);
        assert_eq!(row[c_signer].to_string(), x["signer"].as_str().unwrap());
        assert!(
            matches!(row[c_date], Data::DateTime(_)),
            "{:?}",
            row[c_date]
        );
    }
    let footer = rows.last().expect("totals");
    assert_eq!(footer[0].to_string(), "合计");
    assert_eq!(
        [
            money(&footer[c_approved]),
            money(&footer[c_allocated]),
            money(&footer[c_paid])
        ],
        sums
    );

    // The dashboard's paid figure is what was paid, not what was approved; the statistic
    // by month of payment too.
    let (_, dash) = d.city.get("/api/v1/dashboards/operations").await;
    let tile = dash["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["label"] == "火灾救助已发放金额（元）")
        .expect("the tile");
    assert_eq!(cents(num(&tile["value"])), sums[2], "{tile}");
    let (_, stat) = d
        .city
        .get("/api/v1/statistics/fire_relief_disbursed_by_month")
        .await;
    assert_eq!(stat["rows"][0]["keys"][0], "2026-11", "{stat}");
    assert_eq!(cents(num(&stat["totals"][2])), sums[2], "{stat}");
}

#[tokio::test]
async fn a_district_that_works_with_one_clerk_pays_its_own_filings_audited() {
    let app = TestApp::spawn().await;
    let staff = app.login("redcross", "minhang_staff").await;
    let reviewer = app.login("redcross", "minhang_reviewer").await;
    let city = app.login("redcross", "city_reviewer").await;
    let finance = app.login("redcross", "finance").await;
    let mut data = application("闵行一人");
    data["district"] = json!("闵行区");
    let rec = staff.create(data, Some("submit")).await;
    let id = rec["id"].as_str().unwrap();
    step(&reviewer, id, "approve", json!({}), "district_approved").await;
    step(
        &city,
        id,
        "approve",
        json!({"data": {"approved_amount": 5000}}),
        "city_approved",
    )
    .await;
    step(
        &finance,
        id,
        "allocate",
        json!({"data": {"allocated_amount": 5000, "allocation_date": "2026-11-20", "voucher_no": "BF-MH-1", "fund_source": FUND}}),
        "allocated",
    )
    .await;
    step(
        &staff,
        id,
        "sign",
        json!({"data": {"signer": "闵行经办", "signed_date": "2026-11-21"}}),
        "signed",
    )
    .await;
    step(
        &staff,
        id,
        "disburse",
        json!({"data": {"disbursed_amount": 5000, "disburse_date": "2026-11-22", "disburse_method": "现金"}}),
        "disbursed",
    )
    .await;
    let detail: String = sqlx::query(
        "select detail from audit_log where action = 'record.transition.disburse' and object = $1",
    )
    .bind(id)
    .fetch_one(app.db().pool())
    .await
    .expect("the payment is audited")
    .try_get("detail")
    .unwrap();
    let detail: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["separation_waived"], json!(["submit"]), "{detail}");
}

#[tokio::test]
async fn a_refusal_is_final_with_its_reason_counted_shown_and_told() {
    let app = TestApp::spawn().await;
    let d = desk(&app).await;
    let admin = app.login("redcross", "admin").await;
    let rec = d.staff.create(application("不予甲"), Some("submit")).await;
    let first = rec["id"].as_str().unwrap().to_string();
    let errs = refused(&d.district, &first, "reject", json!({"comment": " "})).await;
    assert_eq!(pointers(&errs), ["/comment"]);
    let done = step(
        &d.district,
        &first,
        "reject",
        json!({"comment": "火灾系商铺内起火，不属居住性房屋"}),
        "refused",
    )
    .await;
    assert_eq!(done["state_label"], "不予救助");
    // The city refuses too, from its own review.
    let second = approved_by_district(&d, "不予乙").await;
    step(
        &d.city,
        &second,
        "reject",
        json!({"comment": "重复申请"}),
        "refused",
    )
    .await;

    for id in [&first, &second] {
        for who in [&d.staff, &d.district, &d.city] {
            assert_eq!(
                get(who, id).await["actions"],
                json!([]),
                "nothing follows a refusal"
            );
        }
        let (st, body) = d
            .staff
            .patch(
                &format!("/api/v1/records/{id}"),
                json!({"version": get(&d.staff, id).await["version"], "data": {"street": "改"}}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    }

    // The filer is told why; the applicant gets a text message.
    let (_, told) = d.staff.get("/api/v1/notifications").await;
    let refusal = told["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| {
            n["title"] == "救助申请不予救助"
                && n["body"].as_str().is_some_and(|b| b.contains("不予甲"))
        })
        .expect("a refusal message");
    assert!(
        refusal["body"]
            .as_str()
            .is_some_and(|b| b.contains("原因：火灾系商铺内起火，不属居住性房屋")),
        "{refusal}"
    );
    let (_, outbox) = admin.get("/api/v1/outbox?channel=sms").await;
    assert_eq!(
        outbox["items"].as_array().map(Vec::len),
        Some(2),
        "one text per refusal: {outbox}"
    );

    // Statistics and the monitor count refusals as refusals, not as drafts.
    let (_, stat) = d
        .city
        .get("/api/v1/statistics/fire_relief_by_state?filter[state]=refused")
        .await;
    assert_eq!(stat["totals"][0], 2, "{stat}");
    let (_, stat) = d
        .city
        .get("/api/v1/statistics/fire_relief_by_state?filter[state]=draft")
        .await;
    assert_eq!(stat["totals"][0], 0, "{stat}");
    let (_, monitor) = d.city.get("/api/v1/lists/fire_relief_monitor").await;
    let groups: Vec<(String, u64)> = monitor["group"]["counts"]
        .as_array()
        .expect("grouped by state")
        .iter()
        .map(|c| {
            (
                c["value"].as_str().unwrap_or("").to_string(),
                c["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(groups, [("refused".to_string(), 2)], "{monitor}");
}

/// A submitted application the district approved.
async fn approved_by_district(d: &Desk, name: &str) -> String {
    let rec = d.staff.create(application(name), Some("submit")).await;
    let id = rec["id"].as_str().unwrap().to_string();
    step(&d.district, &id, "approve", json!({}), "district_approved").await;
    id
}

#[tokio::test]
async fn one_open_application_per_person_and_fire_relief_only_for_homes() {
    let app = TestApp::spawn().await;
    let d = desk(&app).await;
    let first = d.staff.create(application("重复人"), Some("submit")).await;
    let first = first["id"].as_str().unwrap().to_string();
    // The same person again, from another clerk of the district: refused at submission.
    let again = d.payer.create(application("重复人"), None).await;
    let again = again["id"].as_str().unwrap().to_string();
    let errs = refused(&d.payer, &again, "submit", json!({})).await;
    assert_eq!(
        errs,
        [(
            "/id_number".to_string(),
            "unique".to_string(),
            "此人在本项目已有一份在办的申请".to_string()
        )]
    );
    assert!(
        get(&d.payer, &again).await["data"].get("app_no").is_none(),
        "a refused submission takes no number"
    );
    // Once the first is decided (refused), the person may apply again.
    step(
        &d.district,
        &first,
        "reject",
        json!({"comment": "材料不实"}),
        "refused",
    )
    .await;
    step(&d.payer, &again, "submit", json!({}), "submitted").await;

    // 房屋性质 = 其他 is not eligible for fire relief: refused at submission.
    let mut shop = application("商铺");
    shop["housing_type"] = json!("其他");
    let shop = d.staff.create(shop, None).await;
    let shop = shop["id"].as_str().unwrap().to_string();
    let errs = refused(&d.staff, &shop, "submit", json!({})).await;
    assert_eq!(
        guard(&errs),
        "火灾救助仅限居住性房屋（房屋性质为「其他」的不予受理）"
    );
}
