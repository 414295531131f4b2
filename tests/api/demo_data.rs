//! Demo data (demo/fire_relief.json of the red-cross pack) and the dashboard over it: the
//! generated records are real (valid data, histories of real transitions by the right users),
//! and the statistics and dashboard tiles agree exactly with counts made here from the lists.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Session, TestApp};

/// Every fire-relief record as `who` sees it, page by page.
async fn all_records(s: &Session) -> Vec<Value> {
    all_of(s, "fire_relief_all").await
}

/// Every record of the list as `who` sees it, page by page.
async fn all_of(s: &Session, list: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let (status, body) = s
            .get(&format!("/api/v1/lists/{list}?page_size=500&page={page}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let items = body["items"].as_array().cloned().unwrap_or_default();
        let total = body["total"].as_u64().unwrap_or(0) as usize;
        out.extend(items);
        if out.len() >= total {
            break;
        }
    }
    out
}

fn cents(v: &Value) -> i64 {
    (v.as_f64().unwrap_or(0.0) * 100.0).round() as i64
}

/// The generated records as counted here: count and cents of approved amounts per
/// (district, state), and count per fire month.
type Counts = (
    BTreeMap<(String, String), (i64, i64)>,
    BTreeMap<String, i64>,
);

fn count(records: &[Value]) -> Counts {
    let mut cells: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    let mut months: BTreeMap<String, i64> = BTreeMap::new();
    for r in records {
        let d = r["data"]["district"].as_str().unwrap_or("").to_string();
        let s = r["state"].as_str().unwrap_or("").to_string();
        let c = cells.entry((d, s)).or_default();
        c.0 += 1;
        c.1 += cents(&r["data"]["approved_amount"]);
        let m: String = r["data"]["fire_date"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(7)
            .collect();
        *months.entry(m).or_default() += 1;
    }
    (cells, months)
}

async fn statistic(s: &Session, key: &str) -> Value {
    let (status, body) = s.get(&format!("/api/v1/statistics/{key}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn assert_statistics_agree(by_district: &Value, by_month: &Value, counted: &Counts) {
    let (cells, months) = counted;
    let rows = by_district["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), cells.len(), "one row per district and state");
    for r in rows {
        let key = (
            r["keys"][0].as_str().unwrap_or("").to_string(),
            r["keys"][1].as_str().unwrap_or("").to_string(),
        );
        let (n, approved) = cells.get(&key).copied().unwrap_or_default();
        assert_eq!(r["values"][0].as_i64(), Some(n), "count of {key:?}");
        assert_eq!(cents(&r["values"][2]), approved, "approved sum of {key:?}");
    }
    let total: i64 = cells.values().map(|c| c.0).sum();
    assert_eq!(by_district["totals"][0].as_i64(), Some(total));
    let rows = by_month["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), months.len(), "one row per month");
    for r in rows {
        let m = r["keys"][0].as_str().unwrap_or("");
        assert_eq!(r["values"][0].as_i64(), months.get(m).copied(), "month {m}");
    }
}

#[tokio::test]
async fn demo_records_are_real_and_statistics_and_dashboard_agree_with_them() {
    let app = TestApp::spawn().await;
    let city = app.login("redcross", "city_reviewer").await;
    assert_eq!(
        all_records(&city).await.len(),
        0,
        "the harness starts empty"
    );

    let made = formwork::demo::generate(&app.state, "redcross", Some("red-cross"))
        .await
        .expect("demo data generates");
    let made: Vec<(&str, usize)> = made.iter().map(|(f, n)| (f.as_str(), *n)).collect();
    assert_eq!(
        made,
        [
            ("college_medical_aid", 40),
            ("dementia_care", 40),
            ("donation_registration", 60),
            ("fire_relief", 300),
            ("hsct_relief", 40),
            ("mingyang_aid", 40),
            ("spring_aid_beneficiary", 60),
            ("spring_aid", 40)
        ],
        "a record made from another comes after it: the year's application after the file"
    );

    let records = all_records(&city).await;
    assert_eq!(records.len(), 300);
    // Disbursements text the applicant; generated numbers may be somebody's: nothing queued.
    assert_eq!(
        app.count("outbox", "redcross").await,
        0,
        "demo records send nothing"
    );

    // Across states and districts, filed by the district units, over the last 12 months.
    let states: std::collections::BTreeSet<&str> =
        records.iter().filter_map(|r| r["state"].as_str()).collect();
    assert_eq!(
        states.into_iter().collect::<Vec<_>>(),
        [
            "allocated",
            "city_approved",
            "disbursed",
            "district_approved",
            "draft",
            "refused",
            "signed",
            "submitted"
        ]
    );
    let districts: std::collections::BTreeSet<&str> = records
        .iter()
        .filter_map(|r| r["data"]["district"].as_str())
        .collect();
    assert_eq!(
        districts.into_iter().collect::<Vec<_>>(),
        ["徐汇区", "浦东新区", "闵行区", "静安区", "黄浦区"],
        "each record's district is its filer's"
    );
    let now = chrono::Utc::now();
    for r in &records {
        let created: chrono::DateTime<chrono::Utc> = r["created_at"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .expect("created_at");
        assert!(created <= now && now - created <= chrono::Duration::days(366));
        let d = &r["data"];
        assert!(d["applicant_name"]
            .as_str()
            .is_some_and(|n| n.chars().count() >= 2));
        if r["state"] != "draft" {
            assert!(
                d["app_no"].as_str().is_some_and(|n| n.starts_with("HZ-")),
                "{r}"
            );
        }
        if let Some(a) = d["approved_amount"].as_f64() {
            assert!(a <= d["requested_amount"].as_f64().unwrap_or(0.0));
        }
    }

    // Histories are the workflow's transitions, fired in order by the right roles.
    let path = [
        "submit", "approve", "approve", "allocate", "sign", "disburse",
    ];
    let steps = |state: &str| match state {
        "draft" => 0,
        "submitted" => 1,
        "district_approved" => 2,
        "city_approved" => 3,
        "allocated" => 4,
        "signed" => 5,
        "refused" => 2,
        _ => 6,
    };
    for r in records.iter().step_by(15) {
        let id = r["id"].as_str().expect("id");
        let (status, got) = city.get(&format!("/api/v1/records/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got["state"], r["state"]);
        let (_, events) = city.get(&format!("/api/v1/records/{id}/events")).await;
        let events = events["items"].as_array().cloned().unwrap_or_default();
        let n = steps(r["state"].as_str().unwrap_or(""));
        assert_eq!(events.len(), 1 + n, "{events:?}");
        assert_eq!(events[0]["kind"], "create");
        let actions: Vec<&str> = events[1..]
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        if r["state"] == "refused" {
            assert_eq!(actions, ["submit", "reject"]);
        } else {
            assert_eq!(actions, path[..n]);
        }
        // The clerk who filed does not confirm the payment, except in 闵行 (waived).
        if n == 6 && r["data"]["district"] != "闵行区" {
            assert_ne!(
                events[6]["actor"]["username"], events[1]["actor"]["username"],
                "maker and checker: {events:?}"
            );
        }
        let times: Vec<&str> = events.iter().filter_map(|e| e["at"].as_str()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        // A time its `set` effect stamps is the time of the step, not of the generation.
        if n >= 1 {
            let instant = |t: &str| chrono::DateTime::parse_from_rfc3339(t).expect("rfc 3339");
            let stamped = instant(got["data"]["submitted_at"].as_str().expect("submitted_at"));
            let submitted = instant(events[1]["at"].as_str().unwrap());
            assert!(
                (stamped - submitted).num_seconds().abs() <= 1,
                "提交时间 {stamped} is when it was submitted, {submitted}"
            );
        }
        if n >= 2 {
            assert!(
                events[2]["actor"]["username"]
                    .as_str()
                    .is_some_and(|u| u.ends_with("_reviewer")),
                "the district reviewer approves: {}",
                events[2]
            );
        }
    }

    // The statistics agree exactly with the counts made here, for the city ...
    let counted = count(&records);
    let by_district = statistic(&city, "fire_relief_by_district").await;
    let by_month = statistic(&city, "fire_relief_by_month").await;
    assert_statistics_agree(&by_district, &by_month, &counted);

    // ... and for a district clerk, who sees only the district's records.
    let pudong = app.login("redcross", "pudong_staff").await;
    let theirs = all_records(&pudong).await;
    assert!(!theirs.is_empty() && theirs.len() < 300);
    assert!(theirs.iter().all(|r| r["data"]["district"] == "浦东新区"));
    let counted_pudong = count(&theirs);
    assert_statistics_agree(
        &statistic(&pudong, "fire_relief_by_district").await,
        &statistic(&pudong, "fire_relief_by_month").await,
        &counted_pudong,
    );

    // The dashboard's tiles are the same figures, within each viewer's scope.
    let (status, list) = city.get("/api/v1/dashboards").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["key"], "operations");
    let figure = |d: &Value, label: &str| -> Value {
        d["tiles"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["label"] == label)
            .map(|t| t["value"].clone())
            .unwrap_or(Value::Null)
    };
    let in_state = |records: &[Value], states: &[&str]| {
        records
            .iter()
            .filter(|r| states.contains(&r["state"].as_str().unwrap_or("")))
            .count() as i64
    };
    for (who, records) in [(&city, &records), (&pudong, &theirs)] {
        let (status, d) = who.get("/api/v1/dashboards/operations").await;
        assert_eq!(status, StatusCode::OK, "{d}");
        assert_eq!(d["label"], "运营平台数据可视化");
        assert_eq!(
            figure(&d, "火灾救助申请").as_i64(),
            Some(records.len() as i64)
        );
        assert_eq!(
            figure(&d, "火灾救助待审核").as_i64(),
            Some(in_state(records, &["submitted", "district_approved"]))
        );
        let approved: i64 = records
            .iter()
            .map(|r| cents(&r["data"]["approved_amount"]))
            .sum();
        assert_eq!(cents(&figure(&d, "火灾救助核定金额（元）")), approved);
        // What was paid (实发金额), read record by record: the list does not show it.
        let mut disbursed = 0;
        for r in records.iter().filter(|r| r["state"] == "disbursed") {
            let (_, one) = who
                .get(&format!("/api/v1/records/{}", r["id"].as_str().unwrap()))
                .await;
            disbursed += cents(&one["data"]["disbursed_amount"]);
        }
        assert!(disbursed > 0);
        assert_eq!(cents(&figure(&d, "火灾救助已发放金额（元）")), disbursed);
        let bars = d["tiles"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["kind"] == "bar")
            .expect("a bar chart");
        let sum: i64 = bars["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["value"].as_i64().unwrap_or(0))
            .sum();
        assert_eq!(sum, records.len() as i64, "the districts' bars add up");
        let pie = d["tiles"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["kind"] == "pie")
            .expect("a pie of states");
        for row in pie["rows"].as_array().into_iter().flatten() {
            let state = row["keys"][0].as_str().unwrap_or("");
            assert_eq!(row["value"].as_i64(), Some(in_state(records, &[state])));
        }
    }
    let (status, _) = city.get("/api/v1/dashboards/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // 千万人帮万家: each year's application is made from a person's file (`apply`), after
    // the file was registered, with the file's data, at most one per person and year.
    let applications = all_of(&city, "spring_aid_all").await;
    assert_eq!(applications.len(), 40);
    let mut people = std::collections::BTreeSet::new();
    for a in applications.iter().step_by(3) {
        let id = a["id"].as_str().expect("id");
        let (_, got) = city.get(&format!("/api/v1/records/{id}")).await;
        let file = got["data"]["beneficiary"]
            .as_str()
            .expect("made from a file");
        assert!(
            people.insert(file.to_string()),
            "one application per person"
        );
        let (_, person) = city.get(&format!("/api/v1/records/{file}")).await;
        assert_eq!(
            got["data"]["applicant_name"],
            person["data"]["applicant_name"]
        );
        assert_eq!(got["data"]["id_number"], person["data"]["id_number"]);
        let (_, events) = city.get(&format!("/api/v1/records/{file}/events")).await;
        let events = events["items"].as_array().cloned().unwrap_or_default();
        let at = |action: &str| {
            events
                .iter()
                .filter(|e| e["action"] == action)
                .filter_map(|e| e["at"].as_str())
                .map(|t| chrono::DateTime::parse_from_rfc3339(t).expect("rfc 3339"))
                .collect::<Vec<_>>()
        };
        let created = chrono::DateTime::parse_from_rfc3339(got["created_at"].as_str().unwrap())
            .expect("rfc 3339");
        assert!(
            at("register").iter().all(|t| *t < created),
            "registered first"
        );
        assert!(at("apply").contains(&created), "made by the file's `apply`");
    }
}
