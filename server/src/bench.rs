//! `formwork bench`: submissions per second and list latency, measured through HTTP against
//! a server started on a fresh temporary database (SQLite, and PostgreSQL when given).
//!
//! Figures are printed, never asserted: they depend on the machine.

use std::time::{Duration, Instant};

use anyhow::Context;
use form_runtime::sql::{Dialect, Sql, SqlValue};
use serde_json::{json, Value};

use crate::http::sensitive::seal;
use crate::startup::{App, AppState, Config};
use crate::store::{bind_all, Db};

/// Options of the benchmark.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Also run on PostgreSQL: URL of a server where a temporary database may be created
    /// and dropped (e.g. postgres://postgres@127.0.0.1:5432/postgres).
    #[arg(long, env = "BENCH_POSTGRES_URL")]
    postgres: Option<String>,
    /// Concurrent clients submitting applications.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// How long to submit, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Records in the table when list latency is measured.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// List requests to time.
    #[arg(long, default_value_t = 400)]
    list_requests: usize,
}

const PASSWORD: &str = "bench-password";

/// Figures of one database.
struct Figures {
    name: &'static str,
    submissions: usize,
    elapsed: Duration,
    errors: usize,
    lists: Vec<(String, Duration, Duration, i64)>,
}

/// Runs the benchmark and prints its figures.
pub async fn run(a: BenchArgs) -> anyhow::Result<()> {
    let validations = validations_per_second()?;
    let mut all = Vec::new();
    let dir = tempfile::tempdir()?;
    let sqlite_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    all.push(one("sqlite", &sqlite_url, &a).await?);
    if let Some(admin) = &a.postgres {
        sqlx::any::install_default_drivers();
        let name = format!("fw_bench_{}", uuid::Uuid::new_v4().simple());
        let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(admin)
            .await
            .context("cannot reach the PostgreSQL server")?;
        sqlx::query(&format!("create database {name}"))
            .execute(&mut c)
            .await?;
        let mut url = url::Url::parse(admin)?;
        url.set_path(&name);
        let result = one("postgres", url.as_str(), &a).await;
        sqlx::query(&format!("drop database if exists {name} with (force)"))
            .execute(&mut c)
            .await?;
        all.push(result?);
    }
    println!();
    println!("validation (one core): {validations:.0} fire-relief applications with 5 household members per second (schema, formats, computed values, conditions)");
    println!(
        "formwork bench: {} cores, {} clients for {} s, lists over {} records",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        a.clients,
        a.seconds,
        a.records
    );
    println!(
        "{:<10} {:>14} {:>8}   list (one client, page of 50 with total count)",
        "database", "submissions/s", "errors"
    );
    for f in &all {
        let rate = f.submissions as f64 / f.elapsed.as_secs_f64();
        println!("{:<10} {:>14.1} {:>8}", f.name, rate, f.errors);
        for (what, p50, p95, total) in &f.lists {
            println!(
                "{:<36} {what}: p50 {:.2} ms, p95 {:.2} ms ({total} rows match)",
                "",
                ms(*p50),
                ms(*p95)
            );
        }
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn one(name: &'static str, url: &str, a: &BenchArgs) -> anyhow::Result<Figures> {
    eprintln!("[{name}] starting a server on a fresh database");
    let files = tempfile::tempdir()?;
    let config = Config {
        database_url: url.to_string(),
        listen: "127.0.0.1:0".parse()?,
        demo: true,
        demo_password: Some(PASSWORD.into()),
        session_hours: 2,
        max_connections: 32,
        timer_interval: std::time::Duration::from_secs(30),
        data_dir: files.path().to_path_buf(),
        master_key: None,
    };
    let app = App::build(config).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.clients * 2)
        .build()?;

    // Submissions: each client creates a draft and submits it, two requests per application.
    let token = login(&client, &base, "pudong_staff").await?;
    eprintln!(
        "[{name}] {} clients submitting for {} s",
        a.clients, a.seconds
    );
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..a.clients {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut err) = (0usize, 0usize);
            let mut i = 0;
            while Instant::now() < deadline {
                i += 1;
                match submit(&client, &base, &token, &application(c * 1_000_000 + i)).await {
                    Ok(()) => ok += 1,
                    Err(_) => err += 1,
                }
            }
            (ok, err)
        }));
    }
    let (mut submissions, mut errors) = (0, 0);
    for t in tasks {
        let (ok, err) = t.await?;
        submissions += ok;
        errors += err;
    }
    let elapsed = started.elapsed();

    // Lists: fill the table to the target size directly, then time pages through HTTP.
    let have = count(&state.db).await?;
    if (have as usize) < a.records {
        eprintln!("[{name}] loading {} records", a.records - have as usize);
        bulk_load(&state, a.records - have as usize).await?;
    }
    let city = login(&client, &base, "city_reviewer").await?;
    let staff = token;
    let district = urlencode("浦东新区");
    let cases = [
        (
            "city reviewer, filter district, newest first",
            city.clone(),
            format!("/api/v1/lists/fire_relief_all?filter[district]={district}&page_size=50"),
        ),
        (
            "city reviewer, filter state, newest first",
            city.clone(),
            "/api/v1/lists/fire_relief_all?filter[state]=submitted&page_size=50".to_string(),
        ),
        (
            "district staff (org subtree), newest first",
            staff.clone(),
            "/api/v1/lists/fire_relief_all?page_size=50".to_string(),
        ),
    ];
    let mut lists = Vec::new();
    for (what, tok, path) in cases {
        let mut times = Vec::with_capacity(a.list_requests);
        let mut total = 0;
        for i in 0..a.list_requests + 20 {
            let t = Instant::now();
            let res = client
                .get(format!("{base}{path}"))
                .bearer_auth(&tok)
                .send()
                .await?;
            anyhow::ensure!(res.status().is_success(), "list answered {}", res.status());
            let body: Value = res.json().await?;
            if i >= 20 {
                // The first requests warm caches and are not counted.
                times.push(t.elapsed());
            }
            total = body["total"].as_i64().unwrap_or(0);
        }
        times.sort();
        let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        lists.push((what.to_string(), p(0.50), p(0.95), total));
    }
    let _ = stop.send(());
    server.await??;
    Ok(Figures {
        name,
        submissions,
        elapsed,
        errors,
        lists,
    })
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn login(client: &reqwest::Client, base: &str, user: &str) -> anyhow::Result<String> {
    let res: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"tenant": "redcross", "username": user, "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    res["token"]
        .as_str()
        .map(str::to_string)
        .context("login failed")
}

async fn submit(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    data: &Value,
) -> anyhow::Result<()> {
    let res = client
        .post(format!("{base}/api/v1/forms/fire_relief/records"))
        .bearer_auth(token)
        .json(&json!({"data": data}))
        .send()
        .await?;
    anyhow::ensure!(
        res.status().as_u16() == 201,
        "create answered {}",
        res.status()
    );
    let rec: Value = res.json().await?;
    let id = rec["id"].as_str().context("no id")?;
    let res = client
        .post(format!("{base}/api/v1/records/{id}/transitions/submit"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await?;
    anyhow::ensure!(
        res.status().is_success(),
        "submit answered {}",
        res.status()
    );
    Ok(())
}

const DISTRICTS: &[&str] = &[
    "黄浦区",
    "徐汇区",
    "长宁区",
    "静安区",
    "普陀区",
    "虹口区",
    "杨浦区",
    "闵行区",
    "宝山区",
    "嘉定区",
    "浦东新区",
    "金山区",
    "松江区",
    "青浦区",
    "奉贤区",
    "崇明区",
];
const STATES: &[&str] = &[
    "draft",
    "submitted",
    "district_approved",
    "city_approved",
    "allocated",
    "signed",
    "disbursed",
];

/// A valid application, varied by `n`.
fn application(n: usize) -> Value {
    json!({
        "applicant_name": format!("申请人{n}"),
        "id_number": "11010519491231002X",
        "phone": "13812345678",
        "district": DISTRICTS[n % DISTRICTS.len()],
        "street": format!("街道{}", n % 7),
        "address": "某路100弄3号502室",
        "fire_date": "2026-10-08",
        "housing_type": "居住性房屋",
        "residency_type": if n.is_multiple_of(3) { "常住租户" } else { "户籍居民" },
        "deaths": 0,
        "injured": n % 3,
        "members": [{"name": "家属", "relation": "配偶", "casualty": "无"}],
        "loss_desc": "家具家电烧毁",
        "loss_amount": 1000 + (n * 37) % 90000,
        "requested_amount": 1000 + (n * 13) % 20000,
        "bank_name": "中国工商银行",
        "bank_account": "6222021234567890128",
        "promise": true
    })
}

async fn count(db: &Db) -> anyhow::Result<i64> {
    use sqlx::Row;
    Ok(
        sqlx::query("select count(*) as n from records where tenant_id = 'redcross'")
            .fetch_one(db.pool())
            .await?
            .try_get("n")?,
    )
}

/// What bulk-loaded record `i` holds: an application varied in fire date (2024-2026), applicant
/// age and approved amount (three in four have one), so statistics have something to group.
/// The age is generated, not computed from the (fixed) ID number.
fn generated(i: usize) -> Value {
    let mut d = application(i);
    d["fire_date"] = json!(format!(
        "{}-{:02}-{:02}",
        2024 + i % 3,
        1 + (i / 3) % 12,
        1 + (i / 7) % 28
    ));
    d["applicant_age"] = json!(10 + (i * 7) % 80);
    if !i.is_multiple_of(4) {
        d["approved_amount"] = json!(500 + (i * 11) % 15000);
    }
    d
}

/// Inserts `n` fire-relief records into the `redcross` demo tenant straight into the table, in
/// batches, spread over districts, states, org units and time, then refreshes planner
/// statistics. Sensitive fields are sealed as the API seals them, so lists read them as they
/// read real records. Tests use it to check statistics against direct SQL.
pub async fn bulk_load(state: &AppState, n: usize) -> anyhow::Result<()> {
    use sqlx::Row;
    let db = &state.db;
    let (version, form) = state
        .catalog
        .versioned(db, "redcross", "fire_relief", None)
        .await?
        .context("the demo tenant has no fire_relief form")?;
    let owner: String = sqlx::query(
        "select user_id from users where tenant_id = 'redcross' and username = 'pudong_staff'",
    )
    .fetch_one(db.pool())
    .await?
    .try_get("user_id")?;
    let paths = [
        "/shrc/pudong/",
        "/shrc/huangpu/",
        "/shrc/xuhui/",
        "/shrc/jingan/",
        "/shrc/minhang/",
        "/shrc/pudong/pudong-huamu/",
    ];
    let data_param = match db.dialect() {
        Dialect::Sqlite => "$",
        Dialect::Postgres => "cast($ as jsonb)",
    };
    let start = chrono::Utc::now() - chrono::Duration::days(400);
    const BATCH: usize = 1000;
    let mut done = 0;
    while done < n {
        let rows = BATCH.min(n - done);
        let mut sql = Sql::new(db.dialect());
        sql.push("insert into records (tenant_id, record_id, form_key, form_version, state, data, owner_id, org_path, row_version, created_at, updated_at) values ");
        for r in 0..rows {
            let i = done + r;
            let at = (start + chrono::Duration::seconds((i as i64) * 300))
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string();
            if r > 0 {
                sql.push(", ");
            }
            let id = uuid::Uuid::now_v7().to_string();
            let data = seal(state, "redcross", &form, &id, generated(i)).await?;
            sql.push("('redcross', ")
                .bind_text(id)
                .push(&format!(", 'fire_relief', {version}, "))
                .bind_text(STATES[i % STATES.len()])
                .push(", ");
            let (before, after) = data_param.split_once('$').unwrap_or(("", ""));
            sql.push(before)
                .bind(SqlValue::Text(data.to_string()))
                .push(after);
            sql.push(", ")
                .bind_text(owner.clone())
                .push(", ")
                .bind_text(paths[i % paths.len()])
                .push(", 1, ")
                .bind_text(at.clone())
                .push(", ")
                .bind_text(at)
                .push(")");
        }
        let mut tx = db.begin().await?;
        bind_all(sqlx::query(&sql.text), &sql.params)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        done += rows;
    }
    // Fresh statistics, and on PostgreSQL a visibility map so counts can use index-only scans,
    // as autovacuum would give a table that has been live for a while.
    let refresh = match db.dialect() {
        Dialect::Sqlite => "analyze",
        Dialect::Postgres => "vacuum analyze records",
    };
    sqlx::query(refresh).execute(db.pool()).await?;
    Ok(())
}

/// Validations per second on one core: the red-cross fire-relief form, compiled once, taking
/// an application with five household members the way the server does before storing it.
fn validations_per_second() -> anyhow::Result<f64> {
    use form_runtime::form::Completeness;
    let files = crate::seed::builtin_pack("red-cross").context("red-cross pack is shipped")?;
    let pack = form_runtime::pack::Pack::load(&files).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let def =
        crate::store::packs::form_definition(&pack, "fire_relief").context("fire_relief form")?;
    let form = crate::catalog::compile("fire_relief", def)?;
    let mut data = application(7);
    data["members"] = json!((0..5)
        .map(|i| json!({"name": format!("成员{i}"), "relation": "子女", "id_number": "11010519491231002X", "casualty": "无"}))
        .collect::<Vec<_>>());
    form.accept(data.clone(), Completeness::Complete)
        .map_err(|e| anyhow::anyhow!("bench data is invalid: {e:?}"))?;
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(2) {
        for _ in 0..100 {
            let _ = std::hint::black_box(form.accept(data.clone(), Completeness::Complete));
        }
        n += 100;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}
