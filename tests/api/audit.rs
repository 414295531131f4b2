//! The audit chain without a tenant-wide lock: concurrent writers each leave their entries,
//! the sealer chains them exactly once even when two servers run it, and every kind of
//! tampering with a sealed entry — edited, deleted, moved, or the newest taken away — makes
//! `verify` fail at that entry.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use formwork::store::audit;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

use crate::harness::{application, bare_database, TestApp};

const T: &str = "redcross";

/// A valid resident ID number (GB 11643) for the `k`-th person: born `k` days after
/// 1950-01-01 in 东城区, so each is distinct and passes the check digit.
fn id_number(k: i64) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let day = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap() + chrono::Duration::days(k);
    let body = format!("110101{}003", day.format("%Y%m%d"));
    let sum: u32 = body
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    format!("{body}{}", CHECK[(sum % 11) as usize] as char)
}

/// Seals until nothing waits (the servers' own sealers may be sealing too).
async fn sealed(db: &formwork::store::Db) -> audit::Verdict {
    for _ in 0..100 {
        audit::seal(db).await.unwrap();
        let v = audit::verify(db, T).await.unwrap();
        if v.unsealed == 0 {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("entries stay unsealed");
}

async fn scalar(db: &formwork::store::Db, sql: &str) -> i64 {
    sqlx::query(sql)
        .bind(T)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

/// `total` one-request submissions of fire-relief applications from `clients` concurrent
/// clients sharing one login; every one must be created.
async fn submit_concurrently(
    staff: crate::harness::Session,
    clients: i64,
    total: i64,
) -> Vec<Value> {
    let staff = Arc::new(staff);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let staff = staff.clone();
        tasks.push(tokio::spawn(async move {
            let mut made = Vec::new();
            for k in (c..total).step_by(clients as usize) {
                let mut data = application(&format!("并发申请人{k}"));
                data["id_number"] = json!(id_number(k));
                let (s, b) = staff
                    .post(
                        "/api/v1/forms/fire_relief/records",
                        json!({"data": data, "action": "submit"}),
                    )
                    .await;
                assert_eq!(s, StatusCode::CREATED, "{b}");
                made.push(b);
            }
            made
        }));
    }
    let mut records: Vec<Value> = Vec::new();
    for t in tasks {
        records.extend(t.await.unwrap());
    }
    assert_eq!(records.len(), total as usize);
    records
}

#[tokio::test]
async fn a_thousand_concurrent_submissions_are_each_audited_once_numbered_once_and_chained() {
    let app = TestApp::spawn().await;
    let records = submit_concurrently(app.login(T, "pudong_staff").await, 32, 1000).await;

    let numbers: BTreeSet<&str> = records
        .iter()
        .map(|r| r["data"]["app_no"].as_str().unwrap())
        .collect();
    assert_eq!(numbers.len(), records.len(), "every number is unique");

    let verdict = sealed(app.db()).await;
    assert!(verdict.holds(), "{verdict:?}");
    let mut creates: BTreeMap<String, i64> = BTreeMap::new();
    for r in sqlx::query(
        "select object from audit_log where tenant_id = $1 and action = 'record.create'",
    )
    .bind(T)
    .fetch_all(app.db().pool())
    .await
    .unwrap()
    {
        *creates.entry(r.try_get("object").unwrap()).or_default() += 1;
    }
    for r in &records {
        assert_eq!(
            creates.get(r["id"].as_str().unwrap()),
            Some(&1),
            "exactly one create entry for {}",
            r["id"]
        );
    }
    assert_eq!(creates.len(), records.len());
    assert_eq!(
        scalar(
            app.db(),
            "select count(*) from audit_log where tenant_id = $1 and seq is not null"
        )
        .await,
        verdict.sealed
    );
}

#[tokio::test]
async fn with_gapless_the_numbers_of_concurrent_submissions_are_consecutive() {
    let app = TestApp::spawn().await;
    let mut files = formwork::seed::builtin_pack("red-cross").expect("pack shipped");
    let mut relief: Value =
        serde_json::from_slice(&files.0["workflows/relief.json"]).expect("json");
    for t in relief["transitions"].as_array_mut().expect("transitions") {
        let effects = t.get_mut("effects").and_then(|e| e.as_array_mut());
        for e in effects.into_iter().flatten() {
            if e["number"]["sequence"] == "fire_relief" {
                e["number"]["gapless"] = json!(true);
            }
        }
    }
    files.0.insert(
        "workflows/relief.json".into(),
        serde_json::to_vec(&relief).expect("json"),
    );
    app.tenant_with_files(
        "gapless",
        &files,
        &[("gapless_staff", "district", "district_staff")],
    )
    .await;
    let records = submit_concurrently(app.login("gapless", "gapless_staff").await, 32, 300).await;
    let mut numbers: Vec<i64> = records
        .iter()
        .map(|r| {
            let no = r["data"]["app_no"].as_str().unwrap();
            no.rsplit('-').next().unwrap().parse().unwrap()
        })
        .collect();
    numbers.sort();
    assert_eq!(
        numbers,
        (1..=300).collect::<Vec<i64>>(),
        "1 to 300, none skipped or shared"
    );
}

#[tokio::test]
async fn tampering_with_a_sealed_entry_is_caught_at_that_entry() {
    let app = TestApp::spawn().await;
    let staff = app.login(T, "pudong_staff").await;
    for i in 0..4 {
        staff.create(application(&format!("留痕{i}")), None).await;
    }
    let good = sealed(app.db()).await;
    assert!(good.holds() && good.sealed >= 8, "{good:?}");
    let db = app.db();
    let broken = || async { audit::verify(db, T).await.unwrap().broken_at };
    let exec = |sql: &'static str, args: Vec<i64>| async move {
        let mut q = sqlx::query(sql).bind(T);
        for a in args {
            q = q.bind(a);
        }
        q.execute(db.pool()).await.unwrap();
    };

    // Edited: the detail of entry 5 changes.
    let detail: String =
        sqlx::query("select detail from audit_log where tenant_id = $1 and seq = 5")
            .bind(T)
            .fetch_one(db.pool())
            .await
            .unwrap()
            .try_get("detail")
            .unwrap();
    let set_detail = |d: String| async move {
        sqlx::query("update audit_log set detail = $2 where tenant_id = $1 and seq = 5")
            .bind(T)
            .bind(d)
            .execute(db.pool())
            .await
            .unwrap();
    };
    set_detail(r#"{"forged":true}"#.to_string()).await;
    assert_eq!(broken().await, Some(5), "an edited entry");
    set_detail(detail).await;
    assert_eq!(broken().await, None, "put back, the chain holds again");

    // Moved: entries 3 and 4 change places (and back).
    let swap = || async {
        exec(
            "update audit_log set seq = -1000 where tenant_id = $1 and seq = $2",
            vec![3],
        )
        .await;
        exec(
            "update audit_log set seq = $2 where tenant_id = $1 and seq = $3",
            vec![3, 4],
        )
        .await;
        exec(
            "update audit_log set seq = $2 where tenant_id = $1 and seq = -1000",
            vec![4],
        )
        .await;
    };
    swap().await;
    assert_eq!(broken().await, Some(3), "reordered entries");
    swap().await;
    assert_eq!(broken().await, None);

    // Deleted: entry 6 is taken out (and put back as it was).
    let take = |seq: i64| async move {
        let r = sqlx::query(
            "select id, actor_id, action, object, detail, created_at, prev_hash, hash from audit_log where tenant_id = $1 and seq = $2",
        )
        .bind(T)
        .bind(seq)
        .fetch_one(db.pool())
        .await
        .unwrap();
        let row: (i64, Option<String>, [String; 6]) = (
            r.try_get("id").unwrap(),
            r.try_get("actor_id").unwrap(),
            [
                "action",
                "object",
                "detail",
                "created_at",
                "prev_hash",
                "hash",
            ]
            .map(|c| r.try_get::<String, _>(c).unwrap()),
        );
        exec(
            "delete from audit_log where tenant_id = $1 and seq = $2",
            vec![seq],
        )
        .await;
        row
    };
    let put = |seq: i64, row: (i64, Option<String>, [String; 6])| async move {
        let [action, object, detail, at, prev, hash] = row.2;
        sqlx::query(
            "insert into audit_log (id, tenant_id, seq, actor_id, action, object, detail, created_at, prev_hash, hash) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(row.0)
        .bind(T)
        .bind(seq)
        .bind(row.1)
        .bind(action)
        .bind(object)
        .bind(detail)
        .bind(at)
        .bind(prev)
        .bind(hash)
        .execute(db.pool())
        .await
        .unwrap();
    };
    let sixth = take(6).await;
    assert_eq!(broken().await, Some(6), "a deleted entry");
    put(6, sixth).await;
    assert_eq!(broken().await, None);

    // Truncated: the newest entry is taken away, so the chain ends before the head.
    let last = good.sealed;
    let newest = take(last).await;
    assert_eq!(broken().await, Some(last), "the newest entry taken away");
    put(last, newest).await;
    assert_eq!(broken().await, None);
}

#[tokio::test]
async fn two_servers_sealing_at_once_seal_each_entry_exactly_once() {
    let a = TestApp::spawn().await;
    let b = a.sibling().await;
    let before = sealed(a.db()).await;
    // 3,000 entries from 30 transactions.
    for t in 0..30 {
        let mut tx = a.db().begin().await.unwrap();
        for i in 0..100 {
            audit::append(
                &mut tx,
                T,
                None,
                "test.entry",
                &format!("{t}-{i}"),
                &json!({"i": i}),
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
    // Both servers' sealers run every 250 ms; two more passes each race them here.
    let (x, y, z, w) = tokio::join!(
        audit::seal(a.db()),
        audit::seal(b.db()),
        audit::seal(a.db()),
        audit::seal(b.db())
    );
    for r in [x, y, z, w] {
        r.unwrap();
    }
    let after = sealed(b.db()).await;
    assert!(after.holds(), "{after:?}");
    assert_eq!(after.sealed, before.sealed + 3000);
    assert_eq!(
        scalar(
            a.db(),
            "select count(distinct seq) from audit_log where tenant_id = $1 and action = 'test.entry'"
        )
        .await,
        3000,
        "each entry has one place in the chain"
    );
}

#[tokio::test]
async fn an_entry_nobody_seals_is_reported_past_the_bound() {
    // A database with no server on it: nothing seals.
    let (db, _guard) = bare_database().await;
    let mut tx = db.begin().await.unwrap();
    formwork::store::tenants::create(&mut tx, T, "红会", "shrc", "红会")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let fresh = audit::verify(&db, T).await.unwrap();
    assert_eq!(
        (fresh.unsealed, fresh.overdue, fresh.broken_at),
        (1, 0, None),
        "{fresh:?}"
    );
    assert!(fresh.holds(), "within the bound, waiting is normal");

    sqlx::query(
        "update audit_log set created_at = '2026-01-01T00:00:00.000000Z' where tenant_id = $1",
    )
    .bind(T)
    .execute(db.pool())
    .await
    .unwrap();
    let late = audit::verify(&db, T).await.unwrap();
    assert_eq!(late.overdue, 1, "{late:?}");
    assert!(!late.holds());

    assert_eq!(audit::seal(&db).await.unwrap(), 1);
    let done = audit::verify(&db, T).await.unwrap();
    assert_eq!((done.sealed, done.unsealed, done.broken_at), (1, 0, None));
    assert!(done.holds());
}
