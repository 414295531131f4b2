//! The five Boai relief projects besides fire relief, each walked through the API from a
//! district's application to disbursement (or, for the dementia project, goods
//! distribution): a rejection or return with its reason, the correction and resubmission,
//! district and city review, allocation, sign-off and payment. Each scenario also checks the
//! computed values, the masking of ID numbers, phones and bank accounts for a role without
//! `unmask`, that another district cannot see the record, that the receipt and the
//! application summary print, and that the project's ledger exports.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{Session, TestApp};

const BANK: &str = "6222021234567890128";
const BANK_MASKED: &str = "***************0128";

/// The users of one scenario.
struct Actors {
    staff: Session,
    district: Session,
    city: Session,
    finance: Session,
    /// A second clerk of the district: the one who filed may not confirm the payment.
    payer: Session,
    other_district: Session,
}

async fn actors(app: &TestApp) -> Actors {
    Actors {
        staff: app.login("redcross", "pudong_staff").await,
        district: app.login("redcross", "pudong_reviewer").await,
        city: app.login("redcross", "city_reviewer").await,
        finance: app.login("redcross", "finance").await,
        payer: app.login("redcross", "pudong_payer").await,
        other_district: app.login("redcross", "huangpu_staff").await,
    }
}

/// Creates a record of `form` (firing `action`, if any); returns status and body.
async fn create(s: &Session, form: &str, data: Value, action: Option<&str>) -> (StatusCode, Value) {
    s.post(
        &format!("/api/v1/forms/{form}/records"),
        json!({"data": data, "action": action}),
    )
    .await
}

pub(crate) async fn get(s: &Session, id: &str) -> Value {
    let (st, body) = s.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body
}

/// Patches the record's data at its current version, asserting success.
async fn patch(s: &Session, id: &str, data: Value) -> Value {
    let version = get(s, id).await["version"].clone();
    let (st, body) = s
        .patch(
            &format!("/api/v1/records/{id}"),
            json!({"version": version, "data": data}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body
}

/// Fires `action` and asserts the record arrives in `state`.
pub(crate) async fn step(s: &Session, id: &str, action: &str, body: Value, state: &str) -> Value {
    let (st, rec) = s.fire(id, action, body).await;
    assert_eq!(
        (st, rec["state"].as_str()),
        (StatusCode::OK, Some(state)),
        "{action}: {rec}"
    );
    rec
}

/// The first error's pointer and rule of a 422 answer.
fn refused(st: StatusCode, body: &Value) -> (String, String) {
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let f = &body["error"]["fields"][0];
    (
        f["pointer"].as_str().unwrap_or("").to_string(),
        f["rule"].as_str().unwrap_or("").to_string(),
    )
}

fn as_f64(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// District return for correction with a reason, the filer's correction, resubmission: the
/// application number is kept. (A refusal, `reject`, also needs a reason, and is final.)
/// Returns the record after resubmission.
async fn return_correct_resubmit(a: &Actors, id: &str, reason: &str, correction: Value) -> Value {
    for action in ["reject", "return"] {
        let (st, body) = a.district.fire(id, action, json!({})).await;
        assert_eq!(refused(st, &body).0, "/comment", "{action} needs a reason");
    }
    let before = step(
        &a.district,
        id,
        "return",
        json!({"comment": reason}),
        "draft",
    )
    .await;
    patch(&a.staff, id, correction).await;
    let after = step(&a.staff, id, "submit", json!({}), "submitted").await;
    assert_eq!(
        after["data"]["app_no"], before["data"]["app_no"],
        "not renumbered"
    );
    after
}

/// From district approval to disbursement on the money workflow, checking each stage.
async fn approve_allocate_sign_disburse(
    a: &Actors,
    form: &str,
    id: &str,
    approved: f64,
    fund: &str,
) {
    step(
        &a.district,
        id,
        "approve",
        json!({"comment": "情况属实"}),
        "district_approved",
    )
    .await;
    // The city cannot approve more than was requested.
    let requested = as_f64(&get(&a.city, id).await["data"]["requested_amount"]);
    let (st, body) = a
        .city
        .fire(
            id,
            "approve",
            json!({"data": {"approved_amount": requested + 1.0}}),
        )
        .await;
    assert_eq!(refused(st, &body), ("".into(), "guard".into()), "{body}");
    let rec = step(
        &a.city,
        id,
        "approve",
        json!({"data": {"approved_amount": approved}}),
        "city_approved",
    )
    .await;
    assert_eq!(as_f64(&rec["data"]["approved_amount"]), approved);
    step(
        &a.finance,
        id,
        "allocate",
        json!({"data": {"allocated_amount": approved, "allocation_date": "2026-11-20",
                        "voucher_no": "BF-2026-0088", "fund_source": fund}}),
        "allocated",
    )
    .await;
    // Allocation kept this project's receipt with the record (not fire relief's).
    let (_, kept) = a
        .staff
        .get(&format!("/api/v1/records/{id}/kept-documents"))
        .await;
    let keys: Vec<&str> = kept["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|d| d["key"].as_str())
        .collect();
    assert_eq!(keys, [format!("{form}_receipt")], "{kept}");
    step(
        &a.staff,
        id,
        "sign",
        json!({"data": {"signer": "王经办", "signed_date": "2026-11-22"}}),
        "signed",
    )
    .await;
    let rec = step(
        &a.payer,
        id,
        "disburse",
        json!({"data": {"disbursed_amount": approved, "disburse_date": "2026-11-25", "disburse_method": "银行转账"}}),
        "disbursed",
    )
    .await;
    assert_eq!(rec["state_label"], "已发放");
}

/// What every project shows once a record is through: masking for the district reviewer,
/// nothing for another district, both documents print, the ledger exports, the statistic
/// counts the money.
#[allow(clippy::too_many_arguments)]
async fn check_visibility_documents_ledger(
    a: &Actors,
    form: &str,
    id: &str,
    id_number: &str,
    id_masked: &str,
    ledger_title: &str,
    stat: &str,
    stat_amount: (usize, f64),
) {
    // Masked for a district role without `unmask`, clear for the city reviewer.
    let seen = get(&a.district, id).await;
    assert_eq!(seen["data"]["id_number"], id_masked, "{seen}");
    let text = seen.to_string();
    assert!(!text.contains(id_number), "{text}");
    if seen["data"].get("bank_account").is_some() {
        assert_eq!(seen["data"]["bank_account"], BANK_MASKED);
    }
    assert!(
        seen["data"]["phone"]
            .as_str()
            .is_some_and(|p| p.contains("****")),
        "{seen}"
    );
    let clear = get(&a.city, id).await;
    assert_eq!(clear["data"]["id_number"], id_number);

    // Another district does not know the record exists, in reads and in its list.
    let (st, _) = a.other_district.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, list) = a
        .other_district
        .get(&format!("/api/v1/lists/{form}_all"))
        .await;
    assert_eq!(
        (st, list["total"].as_i64()),
        (StatusCode::OK, Some(0)),
        "{list}"
    );
    let (_, list) = a
        .city
        .get(&format!("/api/v1/lists/{form}_all?filter[state]=disbursed"))
        .await;
    assert_eq!(
        list["items"][0]["id"], id,
        "the city sees every district: {list}"
    );

    // Both documents print: masked for the district, clear for the city.
    let (st, docs) = a
        .staff
        .get(&format!("/api/v1/records/{id}/documents"))
        .await;
    assert_eq!(st, StatusCode::OK);
    let available: Vec<(String, bool)> = docs["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| {
            (
                d["key"].as_str().unwrap_or("").to_string(),
                d["available"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        available,
        [
            (format!("{form}_receipt"), true),
            (format!("{form}_summary"), true)
        ]
    );
    for doc in ["receipt", "summary"] {
        let (st, html) = a
            .staff
            .get(&format!("/api/v1/records/{id}/documents/{form}_{doc}"))
            .await;
        assert_eq!(st, StatusCode::OK, "{html}");
        let html = html.as_str().expect("html");
        assert!(html.starts_with("<!doctype html>"), "{html}");
        assert!(
            html.contains(id_masked) && !html.contains(id_number),
            "{html}"
        );
    }
    let (_, receipt) = a
        .city
        .get(&format!("/api/v1/records/{id}/documents/{form}_receipt"))
        .await;
    let receipt = receipt.as_str().expect("html");
    assert!(
        receipt.contains("签收单") && receipt.contains(id_number),
        "{receipt}"
    );

    // The ledger downloads: one sheet for the district, the title, the totals row; the
    // city reviewer sees IDs in clear, finance (no unmask) masked.
    let path = format!("/api/v1/lists/{form}_all/export?template={form}_ledger");
    for (who, shown) in [(&a.city, id_number), (&a.finance, id_masked)] {
        let (st, _, bytes) = who.download(&path).await;
        assert_eq!(st, StatusCode::OK);
        let mut wb = Xlsx::new(Cursor::new(bytes)).expect("a real xlsx");
        assert_eq!(wb.sheet_names(), ["浦东新区"]);
        let sheet = wb.worksheet_range("浦东新区").expect("sheet");
        let rows: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(cell).collect()).collect();
        assert_eq!(rows[0][0], ledger_title);
        assert_eq!(rows.last().expect("rows")[0], "合计");
        assert!(rows.iter().flatten().any(|c| c == shown), "{rows:?}");
        assert!(
            !rows.iter().flatten().any(|c| c == id_number) || shown == id_number,
            "masked for finance"
        );
    }

    // The statistic counts the record and its amount.
    let (st, body) = a
        .city
        .get(&format!(
            "/api/v1/statistics/{stat}?filter[state]=disbursed"
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["totals"][0], 1, "{body}");
    assert_eq!(
        as_f64(&body["totals"][stat_amount.0]),
        stat_amount.1,
        "{body}"
    );
    assert_eq!(body["rows"][0]["keys"][0], "/shrc/pudong/", "{body}");
}

fn cell(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn stem_cell_transplant_aid_for_a_minor_goes_from_application_to_disbursement() {
    let app = TestApp::spawn().await;
    let a = actors(&app).await;
    let id_number = "310115201203150011";
    let mut data = json!({
        "applicant_name": "陈小明",
        "id_number": id_number,
        "phone": "13912345678",
        "district": "浦东新区",
        "street": "花木街道",
        "address": "浦东新区梅花路200弄5号301室",
        "hukou": "本市户籍",
        "hardship_type": ["低收入家庭", "因病致贫"],
        "hospital": "上海交通大学医学院附属上海儿童医学中心",
        "diagnosis": "急性淋巴细胞白血病",
        "transplant_type": "异基因移植",
        "transplant_date": "2026-03-01",
        "total_cost": 380000.5,
        "insured_amount": 250000,
        "reason": "父母均为灵活就业，移植费用负担沉重",
        "requested_amount": 50000,
        "bank_name": "中国建设银行上海分行",
        "bank_account": BANK,
        "promise": true
    });
    // A minor needs a guardian before the application can be submitted.
    let (st, body) = create(&a.staff, "hsct_relief", data.clone(), Some("submit")).await;
    assert_eq!(refused(st, &body), ("/guardian".into(), "required".into()));
    data["guardian"] = json!({"name": "陈建国", "relation": "父母", "id_number": "310101198506120028", "phone": "13700001111"});
    let (st, rec) = create(&a.staff, "hsct_relief", data, Some("submit")).await;
    assert_eq!(st, StatusCode::CREATED, "{rec}");
    let id = rec["id"].as_str().expect("id").to_string();
    assert_eq!(rec["state"], "submitted");
    assert!(
        rec["data"]["app_no"]
            .as_str()
            .is_some_and(|n| n.starts_with("ZX-")),
        "{rec}"
    );
    // Computed by the server: the age from the ID number, the out-of-pocket cost.
    assert!(
        rec["data"]["applicant_age"]
            .as_i64()
            .is_some_and(|n| (13..18).contains(&n)),
        "{rec}"
    );
    assert_eq!(as_f64(&rec["data"]["self_paid"]), 130000.5);
    assert_eq!(
        rec["data"]["guardian"]["phone"], "137****1111",
        "masked for the filer"
    );

    // Rejected for the insurance statement; the corrected reimbursement lowers the
    // out-of-pocket cost.
    let again = return_correct_resubmit(
        &a,
        &id,
        "请补充医保结算单，核实报销金额",
        json!({"insured_amount": 260000}),
    )
    .await;
    assert_eq!(as_f64(&again["data"]["self_paid"]), 120000.5);
    // The city returns it to the district for another look, which approves it again.
    step(&a.district, &id, "approve", json!({}), "district_approved").await;
    let (st, body) = a.city.fire(&id, "return", json!({})).await;
    assert_eq!(refused(st, &body).0, "/comment");
    step(
        &a.city,
        &id,
        "return",
        json!({"comment": "请区红会核实定点医院证明"}),
        "submitted",
    )
    .await;
    approve_allocate_sign_disburse(
        &a,
        "hsct_relief",
        &id,
        40000.0,
        "人道救助基金·造血干细胞移植救助专项",
    )
    .await;
    check_visibility_documents_ledger(
        &a,
        "hsct_relief",
        &id,
        id_number,
        "310115********0011",
        "上海市红十字会造血干细胞移植救助台账",
        "hsct_relief_by_district",
        (4, 40000.0),
    )
    .await;
    // The guardian's phone is masked for the district reviewer too.
    assert_eq!(
        get(&a.district, &id).await["data"]["guardian"]["phone"],
        "137****1111"
    );
}

#[tokio::test]
async fn college_medical_aid_is_returned_for_cost_receipts_and_then_paid() {
    let app = TestApp::spawn().await;
    let a = actors(&app).await;
    let id_number = "310110200409080032";
    let data = json!({
        "applicant_name": "李同学",
        "id_number": id_number,
        "phone": "13812340000",
        "district": "浦东新区",
        "street": "花木街道",
        "address": "浦东新区锦绣路1000弄2号",
        "hardship_type": ["低保家庭"],
        "school_year": "2025学年",
        "university": "同济大学",
        "faculty": "土木工程学院",
        "major": "土木工程",
        "student_no": "2231001",
        "level": "本科",
        "enrol_year": 2022,
        "illness": "系统性红斑狼疮",
        "hospital": "复旦大学附属华山医院",
        "total_cost": 86000,
        "insured_amount": 52000,
        "reason": "家庭低保，父亲残疾",
        "requested_amount": 30000,
        "bank_name": "中国银行上海分行",
        "bank_account": BANK,
        "promise": true
    });
    // The school year is written the way the notice names it.
    let mut wrong = data.clone();
    wrong["school_year"] = json!("2025");
    let (st, body) = create(&a.staff, "college_medical_aid", wrong, None).await;
    assert_eq!(
        refused(st, &body),
        ("/school_year".into(), "pattern".into())
    );
    // The request may not exceed what the family pays itself.
    let mut greedy = data.clone();
    greedy["requested_amount"] = json!(40000);
    let (st, body) = create(&a.staff, "college_medical_aid", greedy, Some("submit")).await;
    assert_eq!(refused(st, &body).1, "guard");

    let (st, rec) = create(&a.staff, "college_medical_aid", data, Some("submit")).await;
    assert_eq!(st, StatusCode::CREATED, "{rec}");
    let id = rec["id"].as_str().expect("id").to_string();
    assert!(rec["data"]["app_no"]
        .as_str()
        .is_some_and(|n| n.starts_with("GX-")));
    assert_eq!(as_f64(&rec["data"]["self_paid"]), 34000.0);

    // Returned for the cost receipts: only the unlocked material may change.
    step(
        &a.district,
        &id,
        "return",
        json!({"comment": "请补充医疗费用票据"}),
        "draft",
    )
    .await;
    let version = get(&a.staff, &id).await["version"].clone();
    let (st, body) = a
        .staff
        .patch(
            &format!("/api/v1/records/{id}"),
            json!({"version": version, "data": {"university": "复旦大学"}}),
        )
        .await;
    assert_eq!(
        refused(st, &body),
        ("/university".into(), "readOnly".into())
    );
    let fixed = patch(&a.staff, &id, json!({"total_cost": 88000})).await;
    assert_eq!(as_f64(&fixed["data"]["self_paid"]), 36000.0);
    step(&a.staff, &id, "submit", json!({}), "submitted").await;
    approve_allocate_sign_disburse(
        &a,
        "college_medical_aid",
        &id,
        25000.0,
        "人道救助基金·青少年助医专项",
    )
    .await;
    check_visibility_documents_ledger(
        &a,
        "college_medical_aid",
        &id,
        id_number,
        "310110********0032",
        "上海市红十字会高校助医台账",
        "college_medical_aid_by_district",
        (2, 25000.0),
    )
    .await;
}

#[tokio::test]
async fn mingyang_health_care_needs_a_health_description_study_aid_does_not() {
    let app = TestApp::spawn().await;
    let a = actors(&app).await;
    let id_number = "310115201007200077";
    let data = json!({
        "applicant_name": "周小雨",
        "id_number": id_number,
        "phone": "13698765432",
        "district": "浦东新区",
        "street": "花木街道",
        "address": "浦东新区樱花路88弄1号",
        "guardian": {"name": "周母", "relation": "父母", "phone": "13500002222"},
        "hardship_type": ["特困供养"],
        "aid_year": "2026",
        "aid_category": "青少年健康关怀",
        "school": "浦东新区花木中学",
        "stage": "初中",
        "grade": "初二",
        "reason": "单亲家庭，母亲无固定收入",
        "requested_amount": 5000,
        "bank_name": "上海农商银行",
        "bank_account": BANK,
        "promise": true
    });
    // For study aid the health description is not asked, and not kept if sent.
    let mut study = data;
    study["aid_category"] = json!("帮困助学");
    study["health_desc"] = json!("无");
    let (st, rec) = create(&a.staff, "mingyang_aid", study, None).await;
    assert_eq!(st, StatusCode::CREATED, "{rec}");
    assert!(rec["data"].get("health_desc").is_none(), "{rec}");
    // The health strand asks how the child is.
    let id = rec["id"].as_str().expect("id").to_string();
    patch(&a.staff, &id, json!({"aid_category": "青少年健康关怀"})).await;
    let (st, body) = a.staff.fire(&id, "submit", json!({})).await;
    assert_eq!(
        refused(st, &body),
        ("/health_desc".into(), "required".into())
    );
    patch(
        &a.staff,
        &id,
        json!({"health_desc": "先天性心脏病术后复查，需长期服药"}),
    )
    .await;
    let rec = step(&a.staff, &id, "submit", json!({}), "submitted").await;
    assert!(rec["data"]["app_no"]
        .as_str()
        .is_some_and(|n| n.starts_with("MY-")));
    return_correct_resubmit(
        &a,
        &id,
        "请附医院诊断证明并核实申请金额",
        json!({"requested_amount": 4000}),
    )
    .await;
    approve_allocate_sign_disburse(&a, "mingyang_aid", &id, 4000.0, "明旸法师帮困助学专项基金")
        .await;
    check_visibility_documents_ledger(
        &a,
        "mingyang_aid",
        &id,
        id_number,
        "310115********0077",
        "上海市红十字会明旸法师帮困助学台账",
        "mingyang_aid_by_district",
        (4, 4000.0),
    )
    .await;
}

#[tokio::test]
async fn spring_aid_is_filed_from_the_beneficiary_register_once_a_year() {
    let app = TestApp::spawn().await;
    let a = actors(&app).await;
    let id_number = "310115193802140045";
    let person = json!({
        "applicant_name": "赵阿婆",
        "id_number": id_number,
        "phone": "13611112222",
        "district": "浦东新区",
        "street": "花木街道",
        "address": "浦东新区花木路300弄12号",
        "category": "肿瘤病患者",
        "hardship_type": ["因病致贫"],
        "household_size": 2
    });
    // The register holds one file per person.
    let (st, ben) = create(
        &a.staff,
        "spring_aid_beneficiary",
        person.clone(),
        Some("register"),
    )
    .await;
    assert_eq!(
        (st, ben["state"].as_str()),
        (StatusCode::CREATED, Some("active")),
        "{ben}"
    );
    let ben_id = ben["id"].as_str().expect("id").to_string();
    let (st, body) = create(&a.staff, "spring_aid_beneficiary", person, Some("register")).await;
    assert_eq!(refused(st, &body), ("/id_number".into(), "unique".into()));

    // This year's application is made from the file: the person's data is copied.
    step(&a.staff, &ben_id, "apply", json!({}), "active").await;
    let filter = format!("/api/v1/lists/spring_aid_all?filter[beneficiary]={ben_id}");
    let (_, list) = a.staff.get(&filter).await;
    assert_eq!(list["total"], 1, "{list}");
    let id = list["items"][0]["id"].as_str().expect("id").to_string();
    let draft = get(&a.city, &id).await;
    assert_eq!(draft["state"], "draft");
    assert_eq!(draft["data"]["id_number"], id_number);
    assert_eq!(draft["data"]["category"], "肿瘤病患者");
    assert_eq!(draft["data"]["beneficiary"], ben_id);

    let year = json!({"aid_year": "2026", "aid_form": "款物", "reason": "患癌化疗，独居",
        "requested_amount": 1000, "payment_method": "银行转账", "bank_name": "交通银行上海分行",
        "bank_account": BANK, "promise": true});
    patch(&a.staff, &id, year.clone()).await;
    // Money and goods: the goods must be named.
    let (st, body) = a.staff.fire(&id, "submit", json!({})).await;
    assert_eq!(
        refused(st, &body),
        ("/goods_desc".into(), "required".into())
    );
    patch(&a.staff, &id, json!({"goods_desc": "米、油各一份"})).await;
    let rec = step(&a.staff, &id, "submit", json!({}), "submitted").await;
    assert!(rec["data"]["app_no"]
        .as_str()
        .is_some_and(|n| n.starts_with("QW-")));

    // A second application for the same person and year is refused at submission.
    step(&a.staff, &ben_id, "apply", json!({}), "active").await;
    let (_, list) = a.staff.get(&format!("{filter}&filter[state]=draft")).await;
    let second = list["items"][0]["id"].as_str().expect("second").to_string();
    patch(&a.staff, &second, year).await;
    patch(&a.staff, &second, json!({"goods_desc": "米、油"})).await;
    let (st, body) = a.staff.fire(&second, "submit", json!({})).await;
    assert_eq!(refused(st, &body), ("/beneficiary".into(), "unique".into()));
    // (The second draft stays a draft; it is left out of the counts below.)

    return_correct_resubmit(
        &a,
        &id,
        "本年度标准为每户800元",
        json!({"requested_amount": 800}),
    )
    .await;
    approve_allocate_sign_disburse(&a, "spring_aid", &id, 800.0, "千万人帮万家迎春帮困专项").await;
    check_visibility_documents_ledger(
        &a,
        "spring_aid",
        &id,
        id_number,
        "310115********0045",
        "上海市红十字会千万人帮万家台账",
        "spring_aid_by_district",
        (4, 800.0),
    )
    .await;
    // The register itself is masked for the district reviewer and closed to other districts.
    assert_eq!(
        get(&a.district, &ben_id).await["data"]["id_number"],
        "310115********0045"
    );
    let (st, _) = a
        .other_district
        .get(&format!("/api/v1/records/{ben_id}"))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn dementia_care_allocates_signs_and_distributes_goods() {
    let app = TestApp::spawn().await;
    let a = actors(&app).await;
    let id_number = "310115193705210056";
    let data = json!({
        "applicant_name": "孙老伯",
        "id_number": id_number,
        "phone": "021-58881234",
        "district": "浦东新区",
        "street": "花木街道",
        "community": "花木街道梅园居委",
        "address": "浦东新区梅园路50弄3号",
        "hardship_type": ["特困供养"],
        "living": "居家",
        "severity": "中度",
        "assessment": "老年照护统一需求评估",
        "care_level": 5,
        "caregiver": {"name": "孙女士", "relation": "子女", "phone": "13722223333"},
        "reason": "独居高龄，女儿照护",
        "items": [
            {"item": "成人纸尿裤", "spec": "L码 10片/包", "unit": "包", "quantity": 24, "unit_price": 45.5},
            {"item": "护理垫", "unit": "包", "quantity": 12, "unit_price": 28}
        ],
        "promise": true
    });
    let (st, rec) = create(&a.staff, "dementia_care", data, None).await;
    assert_eq!(st, StatusCode::CREATED, "{rec}");
    let id = rec["id"].as_str().expect("id").to_string();
    // Line amounts and totals are computed.
    assert_eq!(as_f64(&rec["data"]["items"][0]["subtotal"]), 1092.0);
    assert_eq!(rec["data"]["requested_quantity"], 36);
    assert_eq!(as_f64(&rec["data"]["items_value"]), 1428.0);
    assert!(rec["data"]["applicant_age"]
        .as_i64()
        .is_some_and(|n| n >= 88));
    // Only severe dementia is eligible.
    let (st, body) = a.staff.fire(&id, "submit", json!({})).await;
    assert_eq!(refused(st, &body).1, "guard");
    patch(&a.staff, &id, json!({"severity": "重度"})).await;
    let rec = step(&a.staff, &id, "submit", json!({}), "submitted").await;
    assert!(rec["data"]["app_no"]
        .as_str()
        .is_some_and(|n| n.starts_with("SZ-")));

    // Returned for the assessment: only the assessment and items may change.
    step(
        &a.district,
        &id,
        "return",
        json!({"comment": "请上传照护等级评估结果"}),
        "draft",
    )
    .await;
    let version = get(&a.staff, &id).await["version"].clone();
    let (st, body) = a
        .staff
        .patch(
            &format!("/api/v1/records/{id}"),
            json!({"version": version, "data": {"community": "别处"}}),
        )
        .await;
    assert_eq!(refused(st, &body), ("/community".into(), "readOnly".into()));
    patch(&a.staff, &id, json!({"care_level": 6})).await;
    step(&a.staff, &id, "submit", json!({}), "submitted").await;
    step(&a.district, &id, "approve", json!({}), "district_approved").await;

    // The city fixes the approved item lines.
    let (st, body) = a.city.fire(&id, "approve", json!({})).await;
    assert_eq!(
        refused(st, &body),
        ("/approved_items".into(), "required".into())
    );
    // Approved lines must be among the requested ones, each no more than requested: not
    // 10 boxes of 营养品 nobody asked for, not 30 of the 24 packs requested.
    let before = get(&a.city, &id).await;
    for lines in [
        json!([{"item": "营养品", "unit": "箱", "quantity": 10, "unit_price": 90}]),
        json!([{"item": "成人纸尿裤", "unit": "包", "quantity": 30, "unit_price": 45.5}]),
    ] {
        let (st, body) = a
            .city
            .fire(&id, "approve", json!({"data": {"approved_items": lines}}))
            .await;
        assert_eq!(refused(st, &body), ("".into(), "guard".into()), "{body}");
        assert_eq!(
            body["error"]["fields"][0]["message"],
            "核定物品须为申请清单中的物品，且每项数量不超过申请数量"
        );
    }
    let after = get(&a.city, &id).await;
    assert_eq!(
        (&after["version"], &after["data"]),
        (&before["version"], &before["data"]),
        "unchanged"
    );
    let approved = json!({"data": {"approved_items": [
        {"item": "成人纸尿裤", "spec": "L码 10片/包", "unit": "包", "quantity": 20, "unit_price": 45.5},
        {"item": "护理垫", "unit": "包", "quantity": 12, "unit_price": 28}
    ]}});
    let rec = step(&a.city, &id, "approve", approved, "city_approved").await;
    assert_eq!(rec["data"]["approved_quantity"], 32);
    assert_eq!(as_f64(&rec["data"]["approved_value"]), 1246.0);

    step(
        &a.finance,
        &id,
        "allocate",
        json!({"data": {"allocation_date": "2026-11-20", "delivery_no": "CK-2026-0031",
                        "fund_source": "人道救助基金·失智老人关怀专项"}}),
        "allocated",
    )
    .await;
    let (_, kept) = a
        .staff
        .get(&format!("/api/v1/records/{id}/kept-documents"))
        .await;
    assert_eq!(kept["items"][0]["key"], "dementia_care_receipt", "{kept}");
    // A shortfall on receipt must be explained.
    let (st, body) = a
        .staff
        .fire(&id, "sign", json!({"data": {"signer": "王经办", "signed_date": "2026-11-21", "received_complete": false}}))
        .await;
    assert_eq!(
        refused(st, &body),
        ("/discrepancy_note".into(), "required".into())
    );
    let rec = step(
        &a.staff,
        &id,
        "sign",
        json!({"data": {"signer": "王经办", "signed_date": "2026-11-21", "received_complete": false,
        "discrepancy_note": "护理垫到货11包，缺1包",
        "received_items": [
            {"item": "成人纸尿裤", "unit": "包", "quantity": 20, "unit_price": 45.5},
            {"item": "护理垫", "unit": "包", "quantity": 11, "unit_price": 28}
        ]}}),
        "signed",
    )
    .await;
    // What was signed for, not what was approved, is what counts as given.
    assert_eq!(rec["data"]["signed_quantity"], 31);
    assert_eq!(as_f64(&rec["data"]["signed_value"]), 1218.0);
    let rec = step(
        &a.payer,
        &id,
        "distribute",
        json!({"data": {"distribute_date": "2026-11-23", "recipient_name": "孙女士", "recipient_relation": "子女"}}),
        "distributed",
    )
    .await;
    assert_eq!(rec["state_label"], "物品已发放");
    // The distributed statistic counts what was signed for (31 packs), not the 32 approved.
    let (_, stat) = a
        .city
        .get("/api/v1/statistics/dementia_care_distributed_by_month?filter[district]=浦东新区")
        .await;
    assert_eq!(stat["rows"][0]["keys"][0], "2026-11", "{stat}");
    assert_eq!(stat["rows"][0]["values"][1], 31, "{stat}");
    assert_eq!(as_f64(&stat["rows"][0]["values"][2]), 1218.0, "{stat}");
    assert_eq!(stat["rows"][0]["values"][3], 32, "{stat}");

    // The caregiver's phone is masked for the district reviewer.
    let seen = get(&a.district, &id).await;
    assert_eq!(seen["data"]["caregiver"]["phone"], "137****3333");
    assert_eq!(seen["data"]["id_number"], "310115********0056");
    let (st, _) = a.other_district.get(&format!("/api/v1/records/{id}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // The goods receipt lists the approved lines.
    let (st, html) = a
        .staff
        .get(&format!(
            "/api/v1/records/{id}/documents/dementia_care_receipt"
        ))
        .await;
    assert_eq!(st, StatusCode::OK);
    let html = html.as_str().expect("html");
    assert!(
        html.contains("救助物品签收单") && html.contains("成人纸尿裤") && html.contains("1246"),
        "{html}"
    );
    assert!(html.contains("310115********0056") && !html.contains(id_number));
    let (st, html) = a
        .staff
        .get(&format!(
            "/api/v1/records/{id}/documents/dementia_care_summary"
        ))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.as_str().is_some_and(|h| h.contains("核定物品")));
    // The ledger and the statistics count goods, not money.
    let (st, _, bytes) = a
        .city
        .download("/api/v1/lists/dementia_care_all/export?template=dementia_care_ledger")
        .await;
    assert_eq!(st, StatusCode::OK);
    let mut wb = Xlsx::new(Cursor::new(bytes)).expect("a real xlsx");
    let sheet = wb.worksheet_range("浦东新区").expect("sheet");
    let rows: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(cell).collect()).collect();
    assert_eq!(rows[0][0], "上海市红十字会困难重度失智老人关怀物品台账");
    assert!(
        rows.iter().flatten().any(|c| c == id_number),
        "the city may unmask"
    );
    let (_, stat) = a
        .city
        .get("/api/v1/statistics/dementia_care_by_district")
        .await;
    assert_eq!(stat["totals"][0], 1, "{stat}");
    assert_eq!(stat["totals"][3], 32, "{stat}");
    assert_eq!(as_f64(&stat["totals"][4]), 1246.0, "{stat}");
}
