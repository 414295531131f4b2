//! Building the application: database, migrations, demo seed, authorisation, router.
//!
//! `main` and the black-box tests go through the same [`App::build`], so what the tests
//! start is what an operator runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::authz::Authz;
use crate::catalog::Catalog;
use crate::coherence::Revisions;
use crate::crypto::{KeySource, Keyring, MasterKey};
use crate::seed::{self, DemoReport};
pub use crate::state::{AppState, Inner};
use crate::storage::LocalStorage;
use crate::store::{tenants, Db};

/// What the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Seed the demo tenants when the database has no tenant yet.
    pub demo: bool,
    /// Password of the demo users; random when None.
    pub demo_password: Option<String>,
    /// With the demo tenants, also generate the demo records their packs ask for
    /// (`demo/<form>.json`).
    pub demo_records: bool,
    /// How long a session lasts.
    pub session_hours: i64,
    /// Connections in the pool.
    pub max_connections: u32,
    /// How often the timer job looks for due workflow deadlines.
    pub timer_interval: std::time::Duration,
    /// Directory for files the database does not hold (attachments), on every database.
    pub data_dir: PathBuf,
    /// Where the master key of sensitive fields comes from; None: `DATA_DIR/master.key`,
    /// generated on first start.
    pub master_key: Option<KeySource>,
}

/// Connects, migrates, seeds the demo if asked and the database is empty, loads policies
/// and keys: everything a server or an operator command needs, without listening.
pub async fn state(config: &Config) -> anyhow::Result<(AppState, Option<DemoReport>)> {
    let db = Db::connect(&config.database_url, config.max_connections).await?;
    db.migrate().await?;
    let demo = if config.demo && !tenants::any(&db).await? {
        let password = config
            .demo_password
            .clone()
            .unwrap_or_else(crate::password::generate);
        Some(
            seed::demo(&db, &password)
                .await
                .context("seeding the demo tenants failed")?,
        )
    } else {
        None
    };
    // Revisions first: what is loaded after them is at least as new.
    let revisions = Revisions::read(&db).await?;
    let authz = Authz::load(&db).await?;
    let key_source = config
        .master_key
        .clone()
        .unwrap_or_else(|| KeySource::Generate(config.data_dir.join("master.key")));
    let keys = Keyring::new(MasterKey::load(&key_source)?);
    keys.check(&db).await?;
    let storage = Arc::new(LocalStorage::new(&config.data_dir)?);
    let state = Arc::new(Inner {
        db,
        authz,
        catalog: Catalog::default(),
        session_hours: config.session_hours,
        storage,
        keys,
        data_dir: config.data_dir.clone(),
        revisions,
    });
    if let (Some(report), true) = (&demo, config.demo_records) {
        for t in &report.tenants {
            crate::demo::generate(&state, t, None)
                .await
                .with_context(|| format!("generating the demo records of {t} failed"))?;
        }
    }
    Ok((state, demo))
}

/// A built server, bound to its port but not yet serving.
pub struct App {
    listener: TcpListener,
    timer_interval: std::time::Duration,
    outbox_interval: std::time::Duration,
    retry_base: std::time::Duration,
    revision_interval: std::time::Duration,
    state: AppState,
    /// Demo tenants and logins created on this start, if any.
    pub demo: Option<DemoReport>,
}

impl App {
    /// Connects, migrates, seeds the demo if asked and the database is empty, loads policies
    /// and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let (state, demo) = state(&config).await?;
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        Ok(App {
            listener,
            timer_interval: config.timer_interval,
            outbox_interval: std::time::Duration::from_secs(5),
            retry_base: std::time::Duration::from_secs(30),
            revision_interval: std::time::Duration::from_secs(1),
            state,
            demo,
        })
    }

    /// How often the webhook sender looks for due messages (default 5 s), and the delay
    /// before the first retry of a failed delivery (default 30 s, doubling each time).
    pub fn with_outbox(
        mut self,
        interval: std::time::Duration,
        retry_base: std::time::Duration,
    ) -> App {
        self.outbox_interval = interval;
        self.retry_base = retry_base;
        self
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The shared state (for in-process callers such as the benchmark).
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` completes.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = crate::http::router(self.state.clone());
        let timers = tokio::spawn(crate::timers::run(self.state.clone(), self.timer_interval));
        let sender = tokio::spawn(crate::outbox::run(
            self.state.clone(),
            self.outbox_interval,
            self.retry_base,
        ));
        let sealer = tokio::spawn(crate::store::audit::run_sealer(
            self.state.db.clone(),
            std::time::Duration::from_millis(250),
        ));
        let coherence = tokio::spawn(crate::coherence::run(
            self.state.clone(),
            self.revision_interval,
        ));
        let served = axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
        timers.abort();
        sender.abort();
        coherence.abort();
        sealer.abort();
        self.state.db.close().await;
        Ok(served?)
    }
}
