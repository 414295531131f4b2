//! `formwork bench`: submissions per second and the latency of lists, inboxes and statistics,
//! measured through HTTP against a server started on a fresh temporary database (SQLite, and
//! PostgreSQL when given).
//!
//! Figures are printed, never asserted: they depend on the machine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use form_runtime::sql::{Dialect, Sql, SqlValue};
use serde_json::{json, Value};

use crate::change::sensitive::seal;
use crate::startup::{App, AppState, Config};
use crate::store::{bind_all, stamp, Db};

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
    /// Records in the table when lists, inboxes and statistics are measured.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// List requests to time per case.
    #[arg(long, default_value_t = 400)]
    list_requests: usize,
    /// Inbox requests to time per user.
    #[arg(long, default_value_t = 400)]
    inbox_requests: usize,
    /// Statistics requests to time per user (each one groups every record the user sees).
    #[arg(long, default_value_t = 40)]
    stat_requests: usize,
    /// Skip the submission test: only fill the table and time lists, inboxes and statistics.
    #[arg(long)]
    skip_submissions: bool,
    /// Skip SQLite and measure PostgreSQL only (needs --postgres).
    #[arg(long)]
    skip_sqlite: bool,
    /// Also export every record (20 columns, .xlsx) as the city reviewer and report the time
    /// and the process's peak memory during the export.
    #[arg(long)]
    export: bool,
    /// Also import a workbook of this many new fire-relief applications (template
    /// fire_relief_batch, all or nothing) as a district user, in process, after the other
    /// timings, and report the time and the process's peak memory.
    #[arg(long, value_name = "ROWS", default_value_t = 0)]
    import: u32,
}

const PASSWORD: &str = "bench-password";

/// One timed request: what, median, 95th percentile, and what the last answer held.
struct Timing {
    what: String,
    p50: Duration,
    p95: Duration,
    note: String,
}

/// Figures of one database.
struct Figures {
    name: &'static str,
    /// Create, then submit: two requests per application; None when skipped.
    submissions: Option<Submissions>,
    /// Create with `"action": "submit"`: one request per application.
    one_request: Option<Submissions>,
    /// The same writes replayed straight through sqlx.
    raw: Option<Raw>,
    /// Records bulk-loaded and how long it took, when any were.
    load: Option<(usize, Duration)>,
    lists: Vec<Timing>,
    inbox: Vec<Timing>,
    statistics: Vec<Timing>,
    /// Rows, columns, seconds, file bytes, resident memory before and peak during.
    export: Option<ExportFigures>,
    import: Option<ImportFigures>,
}

/// A submission run: applications submitted, in how long, failed attempts, and the latency
/// of one application (both requests in the two-request form).
struct Submissions {
    ok: usize,
    elapsed: Duration,
    errors: usize,
    p50: Duration,
    p99: Duration,
}

impl Submissions {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The raw replay: what one submission writes, and how many such sets the database commits
/// per second from the same number of tasks.
struct Raw {
    /// (table, rows written per submission).
    writes: Vec<(String, usize)>,
    ok: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

/// What importing a workbook took.
struct ImportFigures {
    rows: u64,
    created: u64,
    bytes: usize,
    /// Reading, converting and checking every row.
    checked: Duration,
    /// The whole import, writing included.
    took: Duration,
    rss_before_kb: u64,
    peak_kb: Option<u64>,
}

/// What exporting every record took.
struct ExportFigures {
    rows: u64,
    columns: usize,
    took: Duration,
    bytes: u64,
    rss_before_kb: u64,
    peak_kb: Option<u64>,
}

/// The 20 columns of the export benchmark.
const EXPORT_COLUMNS: &str = "app_no,applicant_name,id_number,phone,district,street,address,fire_date,fire_address,housing_type,residency_type,deaths,injured,loss_amount,requested_amount,approved_amount,bank_name,bank_account,state,created_at";

/// A line of /proc/self/status in kB (Linux), e.g. `VmRSS` or `VmHWM`.
fn proc_kb(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
}

/// Exports every record as the city reviewer, in process, and measures time and memory. The
/// peak is the process's high-water mark reset just before (Linux `clear_refs`); None where
/// it cannot be reset.
async fn export_all(state: &AppState) -> anyhow::Result<ExportFigures> {
    let actor = crate::change::Actor::of_username(state, "redcross", "city_reviewer")
        .await?
        .context("no city_reviewer")?;
    let pairs = vec![
        ("columns".to_string(), EXPORT_COLUMNS.to_string()),
        ("format".to_string(), "xlsx".to_string()),
    ];
    let (plan, _) = crate::change::exports::plan(state, &actor, "fire_relief_all", pairs)
        .await
        .map_err(|e| anyhow::anyhow!("export refused: {:?}", e.body()))?;
    let columns = plan.template.leaves.len();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("export.xlsx");
    let rss_before_kb = proc_kb("VmRSS:").unwrap_or(0);
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let progress = std::sync::Arc::new(crate::export::Progress::default());
    let started = Instant::now();
    let rows = crate::export::write(state, plan, &path, progress).await?;
    let took = started.elapsed();
    let peak_kb = if reset { proc_kb("VmHWM:") } else { None };
    let bytes = std::fs::metadata(&path)?.len();
    Ok(ExportFigures {
        rows,
        columns,
        took,
        bytes,
        rss_before_kb,
        peak_kb,
    })
}

/// Imports a generated workbook of `rows` applications as the 浦东新区 staff user, in
/// process, through the same function as `POST /forms/fire_relief/imports`.
async fn import_rows(state: &AppState, rows: u32) -> anyhow::Result<ImportFigures> {
    use crate::change::imports::{import_workbook, target, ImportQuery, Progress};
    use std::sync::atomic::Ordering;
    let actor = crate::change::Actor::of_username(state, "redcross", "pudong_staff")
        .await?
        .context("no pudong_staff")?;
    let book = fire_relief_workbook(rows, 2_000_000, &[])?;
    let bytes = book.len();
    let template = Some("fire_relief_batch".to_string());
    let target = target(state, &actor, "fire_relief", template.as_deref())
        .await
        .map_err(|e| anyhow::anyhow!("import refused: {:?}", e.body()))?;
    let q = ImportQuery {
        template,
        ..ImportQuery::default()
    };
    let progress = std::sync::Arc::new(Progress::default());
    let rss_before_kb = proc_kb("VmRSS:").unwrap_or(0);
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let started = Instant::now();
    let checked_at = {
        let progress = progress.clone();
        tokio::spawn(async move {
            while progress.to_write.load(Ordering::Relaxed) == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            started.elapsed()
        })
    };
    let outcome = import_workbook(state, &actor, target, q, book, &progress)
        .await
        .map_err(|e| anyhow::anyhow!("import failed: {:?}", e.body()))?;
    let took = started.elapsed();
    let peak_kb = if reset { proc_kb("VmHWM:") } else { None };
    let report = outcome.report();
    anyhow::ensure!(
        outcome.verdict != crate::change::imports::Verdict::Refused,
        "the import was refused: {}",
        report["errors"]
    );
    let checked = if checked_at.is_finished() {
        checked_at.await?
    } else {
        checked_at.abort();
        took
    };
    Ok(ImportFigures {
        rows: report["rows"].as_u64().unwrap_or(0),
        created: report["created"].as_u64().unwrap_or(0),
        bytes,
        checked,
        took,
        rss_before_kb,
        peak_kb,
    })
}

/// The statistic timed: two dimensions (district × state), three measures.
const STATISTIC: &str = "fire_relief_by_district";

/// Runs the benchmark and prints its figures.
pub async fn run(a: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        !a.skip_sqlite || a.postgres.is_some(),
        "--skip-sqlite leaves nothing to measure without --postgres"
    );
    let validations = validations_per_second()?;
    let mut all = Vec::new();
    let dir = tempfile::tempdir()?;
    if !a.skip_sqlite {
        let sqlite_url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        );
        all.push(one("sqlite", &sqlite_url, &a).await?);
    }
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
    let submitting = if a.skip_submissions {
        "submissions skipped".to_string()
    } else {
        format!("{} clients for {} s", a.clients, a.seconds)
    };
    println!(
        "formwork bench: {} cores, {submitting}, lists, inboxes and statistics over {} records",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        a.records
    );
    println!(
        "{:<10} {:>14} {:>8}   list (one client, page of 50 with total count)",
        "database", "submissions/s", "errors"
    );
    let indent = "";
    for f in &all {
        match &f.submissions {
            Some(sub) => println!("{:<10} {:>14.1} {:>8}", f.name, sub.rate(), sub.errors),
            None => println!("{:<10} {:>14} {:>8}", f.name, "skipped", "-"),
        }
        if let Some(sub) = &f.submissions {
            println!(
                "{indent:<36} two requests (create, then submit): {:.1}/s, p50 {:.1} ms, p99 {:.1} ms per application",
                sub.rate(),
                ms(sub.p50),
                ms(sub.p99)
            );
        }
        if let Some(one) = &f.one_request {
            println!(
                "{indent:<36} one request (create with \"action\": \"submit\"): {:.1}/s, p50 {:.1} ms, p99 {:.1} ms, {} errors",
                one.rate(),
                ms(one.p50),
                ms(one.p99),
                one.errors
            );
            if let Some(raw) = &f.raw {
                let writes: Vec<String> =
                    raw.writes.iter().map(|(t, n)| format!("{t} {n}")).collect();
                let rate = raw.ok as f64 / raw.elapsed.as_secs_f64().max(1e-9);
                println!(
                    "{indent:<36} raw limit (the same writes through sqlx, {} tasks, one transaction each: {}): {rate:.1}/s, p50 {:.1} ms, p99 {:.1} ms; formwork reaches {:.0}% of it",
                    a.clients,
                    writes.join(", "),
                    ms(raw.p50),
                    ms(raw.p99),
                    100.0 * one.rate() / rate.max(1e-9)
                );
            }
        }
        if let Some((n, took)) = f.load {
            println!(
                "{indent:<36} bulk load: {n} records in {:.1} s, vacuum analyze included ({:.0} records/s)",
                took.as_secs_f64(),
                n as f64 / took.as_secs_f64().max(1e-9)
            );
        }
        let sections = [
            (None, &f.lists),
            (
                Some("inbox (one client, first page of 20 with total count)".to_string()),
                &f.inbox,
            ),
            (
                Some(format!(
                    "statistics {STATISTIC} (one client; district × state: count, sum, sum)"
                )),
                &f.statistics,
            ),
        ];
        for (heading, timings) in sections {
            if let Some(h) = heading {
                println!("{indent:<36} {h}");
            }
            for t in timings {
                println!(
                    "{indent:<36} {}: p50 {:.2} ms, p95 {:.2} ms ({})",
                    t.what,
                    ms(t.p50),
                    ms(t.p95),
                    t.note
                );
            }
        }
        if let Some(e) = &f.export {
            let peak = e.peak_kb.map_or_else(
                || "peak not measurable here".to_string(),
                |p| {
                    format!(
                        "peak resident memory during the export {:.0} MB",
                        p as f64 / 1024.0
                    )
                },
            );
            println!(
                "{indent:<36} export (city reviewer, .xlsx, constant memory): {} rows × {} columns in {:.1} s ({:.0} rows/s), file {:.1} MB; resident before {:.0} MB, {peak}",
                e.rows,
                e.columns,
                e.took.as_secs_f64(),
                e.rows as f64 / e.took.as_secs_f64().max(1e-9),
                e.bytes as f64 / 1_048_576.0,
                e.rss_before_kb as f64 / 1024.0
            );
        }
        if let Some(i) = &f.import {
            let peak = i.peak_kb.map_or_else(
                || "peak not measurable here".to_string(),
                |p| format!("peak resident memory {:.0} MB", p as f64 / 1024.0),
            );
            println!(
                "{indent:<36} import (district staff, template fire_relief_batch, all or nothing): {} rows ({:.1} MB .xlsx) in {:.1} s ({:.0} rows/s): read and checked in {:.1} s, {} records written in one transaction in {:.1} s; resident before {:.0} MB, {peak}",
                i.rows,
                i.bytes as f64 / 1_048_576.0,
                i.took.as_secs_f64(),
                i.rows as f64 / i.took.as_secs_f64().max(1e-9),
                i.checked.as_secs_f64(),
                i.created,
                (i.took - i.checked.min(i.took)).as_secs_f64(),
                i.rss_before_kb as f64 / 1024.0
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
        demo_records: false,
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

    let staff = login(&client, &base, "pudong_staff").await?;
    let (submissions, one_request, sample) = if a.skip_submissions {
        (None, None, None)
    } else {
        let two = submissions(name, &client, &base, &staff, a, false).await?;
        let one = submissions(name, &client, &base, &staff, a, true).await?;
        let sample = Sample::of_last_submission(&state.db).await?;
        (Some(two), Some(one), Some(sample))
    };

    // Fill the table to the target size directly, then time pages through HTTP.
    let have = count(&state.db).await?;
    let load = if (have as usize) < a.records {
        let n = a.records - have as usize;
        eprintln!("[{name}] loading {n} records");
        let started = Instant::now();
        bulk_load(&state, n).await?;
        let took = started.elapsed();
        if state.db.dialect() == Dialect::Postgres {
            // Write the loaded pages out now rather than in checkpoints during the timings
            // (needs superuser or pg_checkpoint; without either, timings may be noisier).
            if let Err(e) = sqlx::query("checkpoint").execute(state.db.pool()).await {
                eprintln!("[{name}] no checkpoint after the load: {e}");
            }
        }
        eprintln!("[{name}] loaded in {:.1} s", took.as_secs_f64());
        Some((n, took))
    } else {
        None
    };
    let city = login(&client, &base, "city_reviewer").await?;
    let reviewer = login(&client, &base, "pudong_reviewer").await?;
    let district = urlencode("浦东新区");

    eprintln!("[{name}] timing lists");
    let cases = [
        (
            "city reviewer, filter district, newest first",
            &city,
            format!("/api/v1/lists/fire_relief_all?filter[district]={district}&page_size=50"),
        ),
        (
            "city reviewer, filter state, newest first",
            &city,
            "/api/v1/lists/fire_relief_all?filter[state]=submitted&page_size=50".to_string(),
        ),
        (
            "district staff (org subtree), newest first",
            &staff,
            "/api/v1/lists/fire_relief_all?page_size=50".to_string(),
        ),
    ];
    let mut lists = Vec::new();
    for (what, token, path) in cases {
        let (p50, p95, body) = timed(&client, &base, token, &path, a.list_requests, 20).await?;
        lists.push(Timing {
            what: what.to_string(),
            p50,
            p95,
            note: format!("{} rows match", body["total"].as_i64().unwrap_or(0)),
        });
    }

    // Inboxes: records waiting for the user's action, oldest change first. The district
    // reviewer sees submitted records of their subtree, the city reviewer every record the
    // districts approved (and, holding `unmask`, audits every row shown).
    eprintln!("[{name}] timing inboxes");
    let mut inbox = Vec::new();
    for (what, token) in [
        ("district reviewer (浦东新区, org subtree)", &reviewer),
        ("city reviewer (whole tenant)", &city),
    ] {
        let (p50, p95, body) =
            timed(&client, &base, token, "/api/v1/inbox", a.inbox_requests, 20).await?;
        inbox.push(Timing {
            what: what.to_string(),
            p50,
            p95,
            note: format!(
                "{} waiting, {} on the page",
                body["total"].as_i64().unwrap_or(0),
                body["items"].as_array().map_or(0, Vec::len)
            ),
        });
    }

    // Statistics: one grouped query over every record the user sees.
    eprintln!("[{name}] timing statistics");
    let mut statistics = Vec::new();
    for (what, token) in [
        ("city reviewer (whole tenant)", &city),
        ("district reviewer (浦东新区, org subtree)", &reviewer),
    ] {
        let path = format!("/api/v1/statistics/{STATISTIC}");
        let warmup = a.stat_requests.div_ceil(10).min(5);
        let (p50, p95, body) = timed(&client, &base, token, &path, a.stat_requests, warmup).await?;
        statistics.push(Timing {
            what: what.to_string(),
            p50,
            p95,
            note: format!(
                "{} groups over {} records",
                body["rows"].as_array().map_or(0, Vec::len),
                body["totals"][0].as_f64().unwrap_or(0.0)
            ),
        });
    }

    let export = if a.export {
        eprintln!("[{name}] exporting every record");
        Some(export_all(&state).await?)
    } else {
        None
    };

    let import = if a.import > 0 {
        eprintln!("[{name}] importing {} rows", a.import);
        Some(import_rows(&state, a.import).await?)
    } else {
        None
    };

    let _ = stop.send(());
    server.await??;
    // With the server stopped (its sealer too), the database does only the replay's work.
    let raw = match &sample {
        Some(sample) => {
            eprintln!(
                "[{name}] replaying one submission's writes from {} tasks for {} s",
                a.clients, a.seconds
            );
            // A pool of its own: the server closed its pools as it stopped.
            let db = Db::connect(url, a.clients as u32).await?;
            let raw = replay(&db, sample, a.clients, a.seconds).await;
            db.close().await;
            Some(raw?)
        }
        None => None,
    };
    Ok(Figures {
        name,
        submissions,
        one_request,
        raw,
        load,
        lists,
        inbox,
        statistics,
        export,
        import,
    })
}

/// Submissions: `a.clients` clients each submit applications for `a.seconds`, either with
/// two requests (create a draft, then submit it) or with one (create with
/// `"action": "submit"`).
async fn submissions(
    name: &str,
    client: &reqwest::Client,
    base: &str,
    token: &str,
    a: &BenchArgs,
    one_request: bool,
) -> anyhow::Result<Submissions> {
    eprintln!(
        "[{name}] {} clients submitting for {} s, {}",
        a.clients,
        a.seconds,
        if one_request {
            "one request each"
        } else {
            "two requests each"
        }
    );
    // Each run has its own applicants: a project allows one open application per person.
    let offset = if one_request { 50_000 } else { 0 };
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..a.clients {
        let (client, base, token) = (client.clone(), base.to_string(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let (mut times, mut err) = (Vec::new(), 0usize);
            let mut i = 0;
            while Instant::now() < deadline {
                i += 1;
                let data = application(c * 100_000 + offset + i);
                let t = Instant::now();
                match submit(&client, &base, &token, &data, one_request).await {
                    Ok(()) => times.push(t.elapsed()),
                    Err(_) => err += 1,
                }
            }
            (times, err)
        }));
    }
    let (mut times, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (ok, err) = t.await?;
        times.extend(ok);
        errors += err;
    }
    let elapsed = started.elapsed();
    let (p50, p99) = percentiles(&mut times);
    Ok(Submissions {
        ok: times.len(),
        elapsed,
        errors,
        p50,
        p99,
    })
}

/// The median and the 99th percentile (zero when nothing was timed).
fn percentiles(times: &mut [Duration]) -> (Duration, Duration) {
    if times.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    times.sort();
    let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    (p(0.50), p(0.99))
}

/// The tables a submission writes, and the column that names its record.
const WRITTEN: &[(&str, &str)] = &[
    ("records", "record_id"),
    ("record_events", "record_id"),
    ("audit_log", "object"),
    ("notifications", "record_id"),
    ("outbox", "record_id"),
    ("timers", "record_id"),
];

/// Columns the replay leaves to the database or to the sealer, as the submission did.
fn left_out(table: &str, column: &str) -> bool {
    table == "audit_log" && matches!(column, "id" | "seq" | "prev_hash" | "hash")
}

/// One table's rows of a submission: (table, insert statement, column names, rows as text).
type Written = (String, String, Vec<String>, Vec<Vec<Option<String>>>);

/// The rows one submission wrote, read back as text, with the insert that writes them again.
#[derive(Clone)]
struct Sample {
    record_id: String,
    tables: Vec<Written>,
    /// The numbering counter the submission moved: (name, period).
    sequence: (String, String),
}

impl Sample {
    /// The writes of the newest submitted fire-relief application.
    async fn of_last_submission(db: &Db) -> anyhow::Result<Sample> {
        let pg = db.dialect() == Dialect::Postgres;
        let record_id: String = sqlx::Row::try_get(
            &sqlx::query(
                "select record_id from records where tenant_id = 'redcross' and form_key = 'fire_relief' \
                 and state = 'submitted' order by created_at desc limit 1",
            )
            .fetch_one(db.pool())
            .await
            .context("no submitted application to replay")?,
            0,
        )?;
        let mut tables = Vec::new();
        for (table, key) in WRITTEN {
            let columns: Vec<(String, String)> = if pg {
                sqlx::query(
                    "select column_name::text, udt_name::text from information_schema.columns \
                     where table_schema = current_schema() and table_name = $1 order by ordinal_position",
                )
                .bind(*table)
                .fetch_all(db.pool())
                .await?
            } else {
                sqlx::query("select name, type from pragma_table_info($1) order by cid")
                    .bind(*table)
                    .fetch_all(db.pool())
                    .await?
            }
            .iter()
            .map(|r| Ok((sqlx::Row::try_get(r, 0)?, sqlx::Row::try_get(r, 1)?)))
            .collect::<sqlx::Result<_>>()?;
            let columns: Vec<(String, String)> = columns
                .into_iter()
                .filter(|(c, _)| !left_out(table, c))
                .collect();
            let select = format!(
                "select {} from {table} where tenant_id = 'redcross' and {key} = $1",
                columns
                    .iter()
                    .map(|(c, _)| format!("cast({c} as text)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let rows: Vec<Vec<Option<String>>> = sqlx::query(&select)
                .bind(&record_id)
                .fetch_all(db.pool())
                .await?
                .iter()
                .map(|r| {
                    (0..columns.len())
                        .map(|i| sqlx::Row::try_get(r, i))
                        .collect::<sqlx::Result<_>>()
                })
                .collect::<sqlx::Result<_>>()?;
            if rows.is_empty() {
                continue;
            }
            let values: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, (_, ty))| {
                    if pg {
                        format!("cast(${} as {ty})", i + 1)
                    } else {
                        format!("${}", i + 1)
                    }
                })
                .collect();
            let insert = format!(
                "insert into {table} ({}) values ({})",
                columns
                    .iter()
                    .map(|(c, _)| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                values.join(", ")
            );
            let names = columns.into_iter().map(|(c, _)| c).collect();
            tables.push((table.to_string(), insert, names, rows));
        }
        let period: String = sqlx::Row::try_get(
            &sqlx::query(
                "select period from sequences where tenant_id = 'redcross' and name = 'fire_relief' \
                 order by period desc limit 1",
            )
            .fetch_one(db.pool())
            .await?,
            0,
        )?;
        Ok(Sample {
            record_id,
            tables,
            sequence: ("fire_relief".into(), period),
        })
    }

    /// (table, rows) per submission, the counter included.
    fn writes(&self) -> Vec<(String, usize)> {
        let mut w: Vec<(String, usize)> = self
            .tables
            .iter()
            .map(|(t, _, _, rows)| (t.clone(), rows.len()))
            .collect();
        w.push(("sequences".into(), 1));
        w
    }
}

/// Writes `sample`'s rows again, for a new record each time, from `tasks` tasks for
/// `seconds`: one transaction per submission, the numbering counter taken as Formwork takes
/// a gap-allowing number (PostgreSQL: its own statement; SQLite: in the transaction). On
/// SQLite the tasks take turns in the process: the database has one writer, and its busy
/// wait sleeps where a queue would not.
async fn replay(db: &Db, sample: &Sample, tasks: usize, seconds: u64) -> anyhow::Result<Raw> {
    let sample = std::sync::Arc::new(sample.clone());
    let writer = std::sync::Arc::new(tokio::sync::Mutex::new(()));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (db, sample, writer) = (db.clone(), sample.clone(), writer.clone());
        handles.push(tokio::spawn(async move {
            let mut times = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let _turn = match db.dialect() {
                    Dialect::Sqlite => Some(writer.lock().await),
                    Dialect::Postgres => None,
                };
                replay_one(&db, &sample).await?;
                times.push(t.elapsed());
            }
            anyhow::Ok(times)
        }));
    }
    let mut times = Vec::new();
    for h in handles {
        times.extend(h.await??);
    }
    let elapsed = started.elapsed();
    let (p50, p99) = percentiles(&mut times);
    Ok(Raw {
        writes: sample.writes(),
        ok: times.len(),
        elapsed,
        p50,
        p99,
    })
}

async fn replay_one(db: &Db, sample: &Sample) -> anyhow::Result<()> {
    const TAKE: &str = "insert into sequences (tenant_id, name, period, value) values ($1, $2, $3, 1) \
         on conflict (tenant_id, name, period) do update set value = sequences.value + 1 returning value";
    let take = || {
        sqlx::query(TAKE)
            .bind("redcross")
            .bind(&sample.sequence.0)
            .bind(&sample.sequence.1)
    };
    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = match db.dialect() {
        Dialect::Sqlite => db.pool().begin_with("begin immediate").await?,
        Dialect::Postgres => {
            take().fetch_one(db.counters().unwrap_or(db.pool())).await?;
            db.pool().begin().await?
        }
    };
    if db.dialect() == Dialect::Sqlite {
        take().fetch_one(&mut *tx).await?;
    }
    for (_, insert, columns, rows) in &sample.tables {
        for row in rows {
            let mut q = sqlx::query(insert);
            for (c, v) in columns.iter().zip(row) {
                let v = match v {
                    Some(v) if *v == sample.record_id => Some(id.clone()),
                    Some(_) if c == "notification_id" || c == "message_id" => {
                        Some(uuid::Uuid::new_v4().to_string())
                    }
                    other => other.clone(),
                };
                q = q.bind(v);
            }
            q.execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// GETs `path` `warmup` times untimed (caches), then `requests` times timed, one request at a
/// time; returns the median, the 95th percentile and the last answer. A time covers the
/// whole exchange, reading the JSON answer included.
async fn timed(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    requests: usize,
    warmup: usize,
) -> anyhow::Result<(Duration, Duration, Value)> {
    let requests = requests.max(1);
    let mut times = Vec::with_capacity(requests);
    let mut body = Value::Null;
    for i in 0..warmup + requests {
        let t = Instant::now();
        let res = client
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await?;
        let status = res.status();
        if !status.is_success() {
            let text = res.text().await.unwrap_or_default();
            anyhow::bail!("GET {path} answered {status}: {text}");
        }
        body = res.json().await?;
        if i >= warmup {
            times.push(t.elapsed());
        }
    }
    times.sort();
    let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    Ok((p(0.50), p(0.95), body))
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
    one_request: bool,
) -> anyhow::Result<()> {
    let body = if one_request {
        json!({"data": data, "action": "submit"})
    } else {
        json!({"data": data})
    };
    let res = client
        .post(format!("{base}/api/v1/forms/fire_relief/records"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    anyhow::ensure!(
        res.status().as_u16() == 201,
        "create answered {}",
        res.status()
    );
    let rec: Value = res.json().await?;
    if one_request {
        anyhow::ensure!(rec["state"] == "submitted", "created as {}", rec["state"]);
        return Ok(());
    }
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
/// The states of the relief workflow, in the order a record passes them.
const STATES: &[&str] = &[
    "draft",
    "submitted",
    "district_approved",
    "city_approved",
    "allocated",
    "signed",
    "disbursed",
];

/// A valid application, varied by `n`, of a person of their own (a project allows one open
/// application per person): ID numbers from [`resident_id`]`(4,000,000 + n)`, apart from the
/// bulk-loaded records' and the imports'.
fn application(n: usize) -> Value {
    json!({
        "applicant_name": format!("申请人{n}"),
        "id_number": resident_id(4_000_000 + n as u32),
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

/// A well-spread 64-bit hash of `i` (splitmix64), for choices that should look random but
/// be the same on every run.
fn mix(i: usize) -> u64 {
    let mut z = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The state (index into [`STATES`]) of bulk-loaded record `i` of `n`, oldest first, as in a
/// system that has run for a while: nine in ten records are older cases, nearly all of them
/// disbursed (a few abandoned drafts and stuck cases), and the newest tenth is spread over
/// the whole workflow. About 3.4% of the records wait for a district review and 2.9% for
/// the city review.
fn state_of(i: usize, n: usize) -> usize {
    const OLD: [u64; 7] = [2, 1, 1, 1, 1, 1, 93];
    const RECENT: [u64; 7] = [15, 25, 20, 15, 10, 5, 10];
    let weights = if i * 10 >= n * 9 { RECENT } else { OLD };
    let mut r = mix(i) % 100;
    for (s, w) in weights.iter().enumerate() {
        if r < *w {
            return s;
        }
        r -= w;
    }
    STATES.len() - 1
}

/// What bulk-loaded record `i`, created at `created` and now in state `state`, holds: an
/// application varied in fire date (2024-2026), applicant age and amounts, so statistics
/// have something to group, with the fields its workflow steps fill (number and submission
/// time once submitted, approved amount from the city review on, then allocation, signature
/// and disbursement). Each has its own ID number ([`resident_id`]`(i)`, so imports starting
/// at 2,000,000 never meet one); the age is generated, not computed from it.
fn generated(i: usize, state: usize, created: chrono::DateTime<chrono::Utc>) -> Value {
    let mut d = application(i);
    d["id_number"] = json!(resident_id(i as u32));
    d["fire_date"] = json!(format!(
        "{}-{:02}-{:02}",
        2024 + i % 3,
        1 + (i / 3) % 12,
        1 + (i / 7) % 28
    ));
    d["applicant_age"] = json!(10 + (i * 7) % 80);
    let day = |k: i64| {
        (created + chrono::Duration::days(k))
            .format("%Y-%m-%d")
            .to_string()
    };
    if state >= 1 {
        d["app_no"] = json!(format!("HZ-{}-{:06}", created.format("%Y"), i % 1_000_000));
        d["submitted_at"] = json!((created + chrono::Duration::hours(2))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string());
    }
    if state >= 3 {
        let requested = d["requested_amount"].as_u64().unwrap_or(1000);
        let approved = requested * (60 + mix(i) % 41) / 100;
        d["approved_amount"] = json!(approved);
        if state >= 4 {
            d["allocated_amount"] = json!(approved);
            d["allocation_date"] = json!(day(4));
            d["voucher_no"] = json!(format!("BF{i:08}"));
        }
        if state >= 5 {
            d["signer"] = json!("浦东经办人");
            d["signed_date"] = json!(day(5));
        }
        if state >= 6 {
            d["disbursed_amount"] = json!(approved);
            d["disburse_date"] = json!(day(6));
            d["disburse_method"] = json!("银行转账");
        }
    }
    d
}

/// A valid resident ID number (GB 11643 check digit), different for every `n` below
/// 3,650,000: born `n / 1000` days after 1950-01-01, sequence `n % 1000`.
pub fn resident_id(n: u32) -> String {
    let day = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or_default()
        + chrono::Duration::days(i64::from(n / 1000));
    let body = format!("110105{}{:03}", day.format("%Y%m%d"), n % 1000);
    let check = form_runtime::formats::id_check_char(&body).unwrap_or('X');
    format!("{body}{check}")
}

/// Headers of the red-cross pack's `fire_relief_batch` import template, in its order
/// (without the optional casualty description).
const BATCH_HEADERS: [&str; 18] = [
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
    "财产损失情况",
    "损失金额（元）",
    "申请金额（元）",
    "开户银行",
    "银行账号",
    "本人承诺属实",
];

/// A workbook of `rows` fire-relief applications laid out for the red-cross pack's
/// `fire_relief_batch` import template (sheet 申请), as a district office would fill it:
/// row `i` has ID number [`resident_id`]`(first + i)` and varies in district, street, dates
/// and amounts; the rows numbered (from 0) in `bad` carry an ID number with a wrong check
/// digit, which the form refuses. Used by the import benchmark and tests.
pub fn fire_relief_workbook(rows: u32, first: u32, bad: &[u32]) -> anyhow::Result<Vec<u8>> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("申请")?;
    for (c, h) in BATCH_HEADERS.iter().enumerate() {
        ws.write_string(0, c as u16, *h)?;
    }
    for i in 0..rows {
        let r = i + 1;
        let n = i as usize;
        let mut id = resident_id(first + i);
        if bad.contains(&i) {
            let wrong = if id.ends_with('0') { '1' } else { '0' };
            id.pop();
            id.push(wrong);
        }
        let district = DISTRICTS[n % DISTRICTS.len()];
        let text = [
            format!("申请人{i}"),
            id,
            format!("138{:08}", mix(n) % 100_000_000),
            district.to_string(),
            format!("街道{}", n % 7),
            format!("{district}某路{}弄{}号", 1 + n % 300, 1 + n % 40),
            format!("2026-{:02}-{:02}", 1 + n % 10, 1 + n % 28),
            format!("{district}某路{}弄", 1 + n % 300),
            "居住性房屋".to_string(),
            if n.is_multiple_of(3) {
                "常住租户"
            } else {
                "户籍居民"
            }
            .to_string(),
        ];
        for (c, t) in text.iter().enumerate() {
            ws.write_string(r, c as u16, t)?;
        }
        ws.write_number(r, 10, 0)?;
        ws.write_number(r, 11, (n % 3) as f64)?;
        ws.write_string(r, 12, "家具家电烧毁")?;
        ws.write_number(r, 13, (1000 + (n * 37) % 90000) as f64)?;
        ws.write_number(r, 14, (1000 + (n * 13) % 20000) as f64)?;
        ws.write_string(r, 15, "中国工商银行上海分行")?;
        ws.write_string(r, 16, "6222021234567890128")?;
        ws.write_string(r, 17, "是")?;
    }
    Ok(wb.save_to_buffer()?)
}

/// Rows per insert statement (7 parameters each).
const BATCH: usize = 1000;

/// What every loader task shares.
struct Load {
    state: AppState,
    version: i64,
    form: std::sync::Arc<form_runtime::form::CompiledForm>,
    owner: String,
    /// Records to insert.
    n: usize,
    /// Creation time of the first (oldest) record, and the step between two records.
    start: chrono::DateTime<chrono::Utc>,
    step: chrono::Duration,
    now: chrono::DateTime<chrono::Utc>,
    /// Next batch to take.
    next: AtomicUsize,
}

/// Inserts `n` fire-relief records into the `redcross` demo tenant straight into the table,
/// spread over districts, org units, the last 400 days and the workflow's states (see
/// [`state_of`]), then refreshes planner statistics. Sensitive fields are sealed as the API
/// seals them, so lists read them as they read real records. Several tasks build and insert
/// batches of multi-row inserts at once, each batch in its own transaction (SQLite queues
/// the writes; building the next batch overlaps them). Tests use it to check statistics
/// against direct SQL.
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
    let now = chrono::Utc::now();
    let span = chrono::Duration::days(400);
    let load = std::sync::Arc::new(Load {
        state: state.clone(),
        version,
        form,
        owner,
        n,
        start: now - span,
        step: span / i32::try_from(n.max(1)).unwrap_or(i32::MAX),
        now,
        next: AtomicUsize::new(0),
    });
    let tasks = match db.dialect() {
        Dialect::Sqlite => 2,
        Dialect::Postgres => 4,
    };
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let load = load.clone();
        set.spawn(async move {
            loop {
                let from = load.next.fetch_add(1, Ordering::Relaxed) * BATCH;
                if from >= load.n {
                    return anyhow::Ok(());
                }
                let sql = batch(&load, from, BATCH.min(load.n - from)).await?;
                let db = &load.state.db;
                let mut tx = db.begin().await?;
                if db.dialect() == Dialect::Postgres {
                    // A lost batch on a crash is harmless here; not waiting for the WAL
                    // flush at each commit is not.
                    sqlx::query("set local synchronous_commit = off")
                        .execute(tx.conn())
                        .await?;
                }
                bind_all(sqlx::query(&sql.text), &sql.params)
                    .execute(tx.conn())
                    .await?;
                tx.commit().await?;
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done??;
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

/// The insert of records `from..from + rows`.
async fn batch(load: &Load, from: usize, rows: usize) -> anyhow::Result<Sql> {
    let dialect = load.state.db.dialect();
    let paths = [
        "/shrc/pudong/",
        "/shrc/huangpu/",
        "/shrc/xuhui/",
        "/shrc/jingan/",
        "/shrc/minhang/",
        "/shrc/pudong/pudong-huamu/",
    ];
    let (before, after) = match dialect {
        Dialect::Sqlite => ("", ""),
        Dialect::Postgres => ("cast(", " as jsonb)"),
    };
    let mut sql = Sql::new(dialect);
    sql.push("insert into records (tenant_id, record_id, form_key, form_version, state, data, owner_id, org_path, row_version, created_at, updated_at) values ");
    for i in from..from + rows {
        let created = load.start + load.step * i32::try_from(i).unwrap_or(i32::MAX);
        let state = state_of(i, load.n);
        // Each step of the workflow took about a day.
        let updated = (created + chrono::Duration::days(state as i64)).min(load.now);
        let id = uuid::Uuid::now_v7().to_string();
        let data = seal(
            &load.state,
            "redcross",
            &load.form,
            &id,
            generated(i, state, created),
        )
        .await?;
        if i > from {
            sql.push(", ");
        }
        sql.push("('redcross', ")
            .bind_text(id)
            .push(&format!(", 'fire_relief', {}, ", load.version))
            .bind_text(STATES[state])
            .push(", ")
            .push(before)
            .bind(SqlValue::Text(data.to_string()))
            .push(after)
            .push(", ")
            .bind_text(load.owner.clone())
            .push(", ")
            .bind_text(paths[i % paths.len()])
            .push(", 1, ")
            .bind_text(stamp(created))
            .push(", ")
            .bind_text(stamp(updated))
            .push(")");
    }
    Ok(sql)
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
