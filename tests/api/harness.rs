//! The test harness: the real server on a random port, over real HTTP.
//!
//! Each test gets its own database: a fresh SQLite file, or, when `TEST_DATABASE_URL` names a
//! PostgreSQL server, a fresh database on it that is dropped when the test ends. The same
//! tests therefore run on both databases.

use formwork::crypto::KeySource;
use formwork::startup::{App, AppState, Config};
use formwork::store::{packs, tenants, users, Db};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Password of every demo user in tests.
pub const PASSWORD: &str = "test-password-1";

/// A running server with its own database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The server's state, for arranging what the API cannot (a second tenant) and checking effects.
    pub state: AppState,
    client: reqwest::Client,
    dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
    database_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A PostgreSQL database made for one test, dropped with it.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                sqlx::any::install_default_drivers();
                if let Ok(mut c) = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await {
                    let _ = sqlx::query(&format!("drop database if exists {name} with (force)"))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join();
    }
}

/// Database URL for a new test: a SQLite file in `dir`, or a new PostgreSQL database.
async fn database(dir: &std::path::Path) -> (String, Option<PgDatabase>) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            sqlx::any::install_default_drivers();
            let name = format!("fw_test_{}", uuid::Uuid::new_v4().simple());
            let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .expect("TEST_DATABASE_URL must answer");
            sqlx::query(&format!("create database {name}"))
                .execute(&mut c)
                .await
                .expect("create test database");
            let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&name);
            (url.to_string(), Some(PgDatabase { admin_url, name }))
        }
        _ => (
            format!("sqlite://{}?mode=rwc", dir.join("formwork.db").display()),
            None,
        ),
    }
}

/// A database of its own with no server on it, dropped with this guard.
pub struct BareDatabase {
    _dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

/// A migrated, empty database with no server running on it (so no sealer, timer job or
/// listener acts on it meanwhile): for checking what the store does by itself.
pub async fn bare_database() -> (Db, BareDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, pg) = database(dir.path()).await;
    let db = Db::connect(&url, 4).await.expect("connect");
    db.migrate().await.expect("migrate");
    (db, BareDatabase { _dir: dir, _pg: pg })
}

impl TestApp {
    /// Starts a server with the demo tenants (redcross, volunteer) seeded.
    pub async fn spawn() -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, pg) = database(dir.path()).await;
        Self::start(database_url, dir, pg, None).await
    }

    /// A second server on this one's database (its own pool, caches, timer job, webhook
    /// sender and change listener), as a second process behind a load balancer would be. Its
    /// data directory is its own; its master key is this one's, as an operator gives every
    /// server of one database the same key.
    pub async fn sibling(&self) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = KeySource::File(self.dir.path().join("master.key"));
        Self::start(self.database_url.clone(), dir, None, Some(key)).await
    }

    async fn start(
        database_url: String,
        dir: tempfile::TempDir,
        pg: Option<PgDatabase>,
        master_key: Option<KeySource>,
    ) -> TestApp {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let config = Config {
            database_url: database_url.clone(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            demo: true,
            demo_password: Some(PASSWORD.into()),
            // The tests count inbox items and records: the demo tenants start empty
            // (tests/api/demo_data.rs generates the demo records itself).
            demo_records: false,
            session_hours: 1,
            max_connections: 8,
            timer_interval: std::time::Duration::from_millis(200),
            data_dir: dir.path().to_path_buf(),
            master_key,
        };
        let app = App::build(config)
            .await
            .expect("server builds")
            .with_outbox(
                std::time::Duration::from_millis(100),
                std::time::Duration::from_millis(300),
            );
        let base = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder().build().expect("client");
        TestApp {
            base,
            state,
            client,
            dir,
            pg,
            database_url,
            shutdown: Some(tx),
        }
    }

    /// The server's data directory (attachments live under `attachments/`).
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The database, for checking effects directly.
    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// Logs in and returns a session; panics if the login fails.
    pub async fn login(&self, tenant: &str, username: &str) -> Session {
        let (status, body) = self
            .anonymous()
            .post(
                "/api/v1/auth/login",
                json!({"tenant": tenant, "username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {tenant}/{username}: {body}");
        Session {
            base: self.base.clone(),
            client: self.client.clone(),
            token: body["token"].as_str().map(str::to_string),
        }
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> Session {
        Session {
            base: self.base.clone(),
            client: self.client.clone(),
            token: None,
        }
    }

    /// Creates a second tenant with the red-cross pack and one district user per given role,
    /// the way `formwork tenant create`, `pack install` and `user create` do.
    pub async fn tenant_with_pack(&self, tenant: &str, users_roles: &[(&str, &str)]) {
        let files = formwork::seed::builtin_pack("red-cross").expect("pack shipped");
        let users: Vec<(&str, &str, &str)> = users_roles
            .iter()
            .map(|(u, r)| (*u, if *r == "admin" { "root" } else { "district" }, *r))
            .collect();
        self.tenant_with_files(tenant, &files, &users).await;
    }

    /// Creates a tenant with org units `root` → `district` → `street` (and `district2`, a
    /// sibling of `district`), installs `files` as its
    /// pack and creates users as (username, unit, roles joined by `+`); the server sees them at
    /// once.
    pub async fn tenant_with_files(
        &self,
        tenant: &str,
        files: &form_runtime::pack::PackFiles,
        users: &[(&str, &str, &str)],
    ) {
        let db = self.db();
        let pack = form_runtime::pack::Pack::load(files).expect("pack valid");
        let hash = formwork::password::hash(PASSWORD.into())
            .await
            .expect("hash");
        let mut tx = db.begin().await.expect("tx");
        tenants::create(&mut tx, tenant, "另一个红会", "root", "另一个红会")
            .await
            .expect("tenant");
        tenants::add_unit(&mut tx, tenant, "district", "某区红会", Some("root"))
            .await
            .expect("unit");
        tenants::add_unit(&mut tx, tenant, "street", "某街道红会", Some("district"))
            .await
            .expect("unit");
        tenants::add_unit(&mut tx, tenant, "district2", "另一区红会", Some("root"))
            .await
            .expect("unit");
        packs::install(&mut tx, tenant, &pack, None)
            .await
            .expect("install");
        for (username, unit, role) in users {
            let id = users::create(&mut tx, tenant, username, username, &hash, unit)
                .await
                .expect("user");
            for role in role.split('+') {
                users::grant_role(&mut tx, tenant, &id, role)
                    .await
                    .expect("grant");
            }
        }
        tx.commit().await.expect("commit");
        formwork::coherence::refresh(&self.state, tenant)
            .await
            .expect("reload policies");
    }

    /// Counts rows of a table for a tenant.
    pub async fn count(&self, table: &str, tenant: &str) -> i64 {
        use sqlx::Row;
        sqlx::query(&format!(
            "select count(*) as n from {table} where tenant_id = $1"
        ))
        .bind(tenant)
        .fetch_one(self.db().pool())
        .await
        .expect("count")
        .try_get("n")
        .expect("n")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // The pool must be closed before the PostgreSQL database can be dropped; `with (force)`
        // ends any connection still open.
        let _ = &self.pg;
    }
}

/// A logged-in (or anonymous) client.
#[derive(Clone)]
pub struct Session {
    base: String,
    client: reqwest::Client,
    /// The bearer token, if logged in.
    pub token: Option<String>,
}

impl Session {
    /// Sends a request and returns the status and the JSON body (Null when empty).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let text = res.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// GET.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, None).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, Some(body)).await
    }

    /// PATCH with a JSON body.
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::PATCH, path, Some(body)).await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::DELETE, path, None).await
    }

    /// Uploads `bytes` as a file named `name` for an attachment field of the fire-relief form.
    pub async fn upload(&self, field: &str, name: &str, bytes: &[u8]) -> (StatusCode, Value) {
        let name: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        let path = format!("/api/v1/forms/fire_relief/fields/{field}/attachments?name={name}");
        self.upload_raw(&path, bytes.to_vec(), &[]).await
    }

    /// POSTs a raw body with extra headers, returning the status and the JSON body.
    pub async fn upload_raw(
        &self,
        path: &str,
        bytes: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = self.client.post(format!("{}{path}", self.base)).body(bytes);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let text = res.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// GETs raw bytes: status, headers and body.
    pub async fn download(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request sent");
        let (status, headers) = (res.status(), res.headers().clone());
        (status, headers, res.bytes().await.expect("body").to_vec())
    }

    /// Creates a fire-relief record (optionally firing `action`), asserting 201.
    pub async fn create(&self, data: Value, action: Option<&str>) -> Value {
        let (s, b) = self
            .post(
                "/api/v1/forms/fire_relief/records",
                json!({"data": data, "action": action}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "create: {b}");
        b
    }

    /// Fires a transition, returning status and body.
    pub async fn fire(&self, id: &str, action: &str, body: Value) -> (StatusCode, Value) {
        self.post(&format!("/api/v1/records/{id}/transitions/{action}"), body)
            .await
    }
}

/// The test ID number of the person called `name`: 张三's is `11010519491231002X`; everyone
/// else has their own (a project allows one open application per person), all masked alike as
/// `110105********002X`: the same region and sequence, another birth date with the same check
/// digit.
pub fn id_number_of(name: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let canonical = chrono::NaiveDate::from_ymd_opt(1949, 12, 31).expect("date");
    if name.contains("张三") {
        return "11010519491231002X".into();
    }
    // FNV-1a, then the k-th birth date after 1949-12-31 that gives the check digit X: born
    // 1950–1965, so everyone is over 60 as 张三 is.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut k = hash % 500;
    let mut day = canonical;
    loop {
        day += chrono::Duration::days(1);
        let body = format!("110105{}002", day.format("%Y%m%d"));
        let sum: u32 = body
            .chars()
            .zip(W)
            .map(|(c, w)| c.to_digit(10).expect("digit") * w)
            .sum();
        if sum % 11 == 2 {
            if k == 0 {
                return format!("{body}X");
            }
            k -= 1;
        }
    }
}

/// A complete, valid fire-relief application.
pub fn application(name: &str) -> Value {
    let id = id_number_of(name);
    json!({
        "applicant_name": name,
        "id_number": id,
        "phone": "13812345678",
        "district": "浦东新区",
        "street": "花木街道",
        "address": "浦东新区花木路100弄3号502室",
        "fire_date": "2026-10-08",
        "fire_address": "浦东新区花木路100弄3号502室",
        "housing_type": "居住性房屋",
        "residency_type": "户籍居民",
        "fire_cause": "电线老化",
        "deaths": 0,
        "injured": 1,
        "members": [
            {"name": name, "relation": "本人", "id_number": id, "casualty": "受伤"},
            {"name": "李四", "relation": "配偶", "casualty": "无"}
        ],
        "loss_desc": "厨房及客厅家具家电烧毁",
        "loss_amount": 52000.5,
        "requested_amount": 10000,
        "bank_name": "中国工商银行上海分行",
        "bank_account": "6222021234567890128",
        "promise": true
    })
}
