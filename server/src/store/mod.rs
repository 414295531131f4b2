//! The store: every table of both databases, behind one [`Db`].
//!
//! Every function that reads or writes a tenant's rows takes the tenant; there is no way to
//! read rows without one. Writes that belong together (record + event + audit) share one
//! [`Tx`]. SQL is written once with `$n` placeholders, which both dialects accept; the few
//! places where the dialects differ go through [`form_runtime::sql::Dialect`].

pub mod attachments;
pub mod audit;
pub mod exports;
pub mod imports;
pub mod keys;
pub mod notify;
pub mod packs;
pub mod records;
pub mod statistics;
pub mod tenants;
pub mod users;
pub mod views;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use form_runtime::sql::{Dialect, SqlValue};
use sqlx::any::{AnyArguments, AnyPoolOptions};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Executor};
use tokio::sync::{Mutex, OwnedMutexGuard};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// A connection pool to SQLite or PostgreSQL.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
    /// SQLite has one writer at a time; taking this lock before a write transaction makes
    /// writers queue in the process instead of failing with SQLITE_BUSY. None on PostgreSQL.
    writer: Option<Arc<Mutex<()>>>,
    /// The URL connected to, for the connection that listens for other servers' changes.
    url: Arc<str>,
    /// PostgreSQL: a small pool of its own for numbering counters that allow gaps (see
    /// [`records::next_number`]). Its statements commit alone and never wait for anything
    /// a change holds, so a change holding a connection of the main pool may use it.
    counters: Option<AnyPool>,
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls everything back.
pub struct Tx {
    inner: sqlx::Transaction<'static, Any>,
    _writer: Option<OwnedMutexGuard<()>>,
    dialect: Dialect,
    /// Audit entries queued by [`audit::append`], written by [`Tx::commit`].
    audit: Vec<audit::Pending>,
    /// Tenants whose cached definitions this transaction changes (see [`Tx::cached_changed`]).
    changed: Vec<String>,
}

/// The channel on which PostgreSQL announces a tenant's new revision to every server.
pub const CHANGES_CHANNEL: &str = "formwork_changes";

impl Tx {
    /// The connection to run statements on.
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.inner
    }

    /// The dialect of the database.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Marks that this transaction changes what servers cache of `tenant` (grants, policies,
    /// forms, lists, roles, role holders, webhooks): its commit raises the tenant's revision
    /// and, on PostgreSQL, announces it on [`CHANGES_CHANNEL`], so every server reloads.
    pub fn cached_changed(&mut self, tenant: &str) {
        if !self.changed.iter().any(|t| t == tenant) {
            self.changed.push(tenant.to_string());
        }
    }

    /// Writes the queued audit entries, raises the revision of the tenants whose cached
    /// definitions changed, then commits the transaction. The announcement of a new revision
    /// is delivered by PostgreSQL at commit, and only if the commit succeeds.
    pub async fn commit(mut self) -> sqlx::Result<()> {
        let pending = std::mem::take(&mut self.audit);
        if !pending.is_empty() {
            audit::flush(&mut self.inner, pending).await?;
        }
        for tenant in std::mem::take(&mut self.changed) {
            sqlx::query("update tenants set revision = revision + 1 where tenant_id = $1")
                .bind(&tenant)
                .execute(&mut *self.inner)
                .await?;
            if self.dialect == Dialect::Postgres {
                // `pg_notify` returns void, a type the Any driver cannot read: count it instead.
                sqlx::query("select count(*) from (select pg_notify($1, $2)) as sent")
                    .bind(CHANGES_CHANNEL)
                    .bind(&tenant)
                    .execute(&mut *self.inner)
                    .await?;
            }
        }
        self.inner.commit().await
    }
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`).
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else {
            anyhow::bail!("unsupported database URL: use sqlite://PATH or postgres://…");
        };
        let mut opts = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30));
        if dialect == Dialect::Sqlite {
            opts = opts.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers run beside the writer; NORMAL sync is durable in WAL mode
                    // except for the last transactions before a power cut.
                    conn.execute("pragma journal_mode = wal; pragma synchronous = normal; pragma foreign_keys = on; pragma busy_timeout = 10000;")
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = opts
            .connect(url)
            .await
            .with_context(|| format!("cannot connect to the database at {}", redact(url)))?;
        let writer = (dialect == Dialect::Sqlite).then(|| Arc::new(Mutex::new(())));
        let counters = match dialect {
            Dialect::Sqlite => None,
            // A counter's commit need not wait for the disk: a number is only used by a
            // change whose own commit waits, and PostgreSQL writes its log in order, so the
            // counter is on disk before any record that carries its number.
            Dialect::Postgres => Some(
                AnyPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // A counter behind a gapless change's lock (a sequence that
                            // changed kind between pack versions) fails rather than waits.
                            conn.execute("set synchronous_commit = off; set lock_timeout = '10s'")
                                .await?;
                            Ok(())
                        })
                    })
                    .connect_lazy(url)
                    .with_context(|| {
                        format!("cannot connect to the database at {}", redact(url))
                    })?,
            ),
        };
        Ok(Db {
            pool,
            dialect,
            writer,
            url: url.into(),
            counters,
        })
    }

    /// Applies pending migrations. On PostgreSQL sqlx holds an advisory lock meanwhile, so
    /// several servers starting at once migrate once.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .context("database migration failed")?;
        Ok(())
    }

    /// The dialect of the database.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The URL this pool connects to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The pool, for reads.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        let guard = match &self.writer {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        };
        // SQLite: take the write lock at BEGIN, where the busy timeout waits for it. A
        // deferred transaction that reads first and writes later is refused at once
        // ("database is locked") when another connection still holds the lock, for
        // example one whose dropped transaction has not yet been rolled back.
        let inner = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("begin immediate").await?,
            Dialect::Postgres => self.pool.begin().await?,
        };
        Ok(Tx {
            inner,
            _writer: guard,
            dialect: self.dialect,
            audit: Vec::new(),
            changed: Vec::new(),
        })
    }

    /// Answers when the database answers.
    pub async fn ping(&self) -> sqlx::Result<()> {
        sqlx::query("select 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// The pool of numbering counters that allow gaps (PostgreSQL only).
    pub fn counters(&self) -> Option<&AnyPool> {
        self.counters.as_ref()
    }

    /// Closes the pools.
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(c) = &self.counters {
            c.close().await;
        }
    }
}

/// Binds runtime-built parameters to a query.
pub fn bind_all<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    params: &'q [SqlValue],
) -> Query<'q, Any, AnyArguments<'q>> {
    for p in params {
        q = match p {
            SqlValue::Text(s) => q.bind(s.as_str()),
            SqlValue::Int(i) => q.bind(*i),
            SqlValue::Float(f) => q.bind(*f),
        };
    }
    q
}

/// The current time as stored: ISO 8601 UTC with microseconds.
pub fn now() -> String {
    stamp(chrono::Utc::now())
}

/// A time as stored (ISO 8601 UTC with microseconds), so stored times compare as text.
pub fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A new random-looking, time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::from_str(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// How JSON record data is written: a text parameter, cast to `jsonb` on PostgreSQL.
pub fn json_param(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => format!("${n}"),
        Dialect::Postgres => format!("cast(${n} as jsonb)"),
    }
}

/// How JSON record data is read back as text.
pub fn json_column(dialect: Dialect, col: &str) -> String {
    match dialect {
        Dialect::Sqlite => col.to_string(),
        Dialect::Postgres => format!("{col}::text"),
    }
}
