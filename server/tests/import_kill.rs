//! A server killed (SIGKILL) in the middle of a 100,000-row import leaves no trace of it:
//! the import writes in one transaction, so after a restart there is no record, event or
//! import entry from it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PASSWORD: &str = "kill-test-password";

fn serve(dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_formwork"))
        .args([
            "serve",
            // The import is the subject: the demo tenants, without their generated records,
            // which would hold the first start for half a minute.
            "--no-demo-records",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .env_remove("DATABASE_URL")
        .env("FORMWORK_DEMO_PASSWORD", PASSWORD)
        .env("FORMWORK_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("formwork serve starts")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn count(dir: &std::path::Path, sql: &str) -> i64 {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", dir.join("formwork.db").display());
    let mut c = sqlx::AnyConnection::connect(&url)
        .await
        .expect("open the database");
    let n: i64 = sqlx::query(sql)
        .fetch_one(&mut c)
        .await
        .expect("count")
        .try_get(0)
        .expect("n");
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_server_during_a_big_import_leaves_nothing_of_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut server = serve(dir.path(), port);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut token = None;
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"tenant": "redcross", "username": "pudong_staff", "password": PASSWORD}))
            .send()
            .await;
        if let Ok(r) = r {
            let v: serde_json::Value = r.json().await.expect("json");
            token = v["token"].as_str().map(str::to_string);
            break;
        }
    }
    let token = token.expect("the server came up and the demo user logs in");
    let records_before = count(dir.path(), "select count(*) from records").await;
    let events_before = count(dir.path(), "select count(*) from record_events").await;

    let body = formwork::bench::fire_relief_workbook(100_000, 0, &[]).expect("workbook");
    let upload = {
        let (client, token) = (client.clone(), token.clone());
        tokio::spawn(async move {
            client
                .post(format!(
                    "{base}/api/v1/forms/fire_relief/imports?template=fire_relief_batch"
                ))
                .bearer_auth(token)
                .header(
                    "content-type",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                )
                .body(body)
                .send()
                .await
        })
    };
    // Well inside the import: reading, converting and validating 100,000 rows takes longer.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        !upload.is_finished(),
        "the import was still running when the server was killed"
    );
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
    let answered = upload.await.expect("task");
    assert!(answered.is_err(), "the connection died with the server");

    // Restart on the same database: it opens cleanly and holds nothing of the import.
    let port = free_port();
    let mut again = serve(dir.path(), port);
    let mut up = false;
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
    }
    assert!(up, "the server restarts on the database it was killed on");
    assert_eq!(
        count(dir.path(), "select count(*) from records").await,
        records_before
    );
    assert_eq!(
        count(dir.path(), "select count(*) from record_events").await,
        events_before
    );
    assert_eq!(count(dir.path(), "select count(*) from imports").await, 0);
    again.kill().expect("stop");
    let _ = again.wait();
}
