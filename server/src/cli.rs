//! The `formwork` command line: serve, migrate, packs, tenants, users, benchmark.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use form_runtime::pack::Pack;

use crate::change::Actor;
use crate::change::Error as ApiError;
use crate::crypto::KeySource;
use crate::startup::{App, AppState, Config};
use crate::store::{audit, packs, tenants, users, Db};

/// Formwork: a multi-tenant low-code form and workflow platform.
#[derive(Parser)]
#[command(name = "formwork", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the web server (runs migrations first; seeds demo tenants into an empty database).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DbArgs),
    /// Check or install schema packs.
    #[command(subcommand)]
    Pack(PackCommand),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage org units of a tenant.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Measure submissions per second and list latency on a fresh temporary database.
    Bench(crate::bench::BenchArgs),
    /// Export a list to .xlsx or .csv as one of the tenant's users (their scope, grants and
    /// masking), with a progress bar.
    Export(ExportArgs),
    /// Generate the demo records the packs installed in a tenant ask for (demo/<form>.json),
    /// filed and worked by the tenant's users, with a progress line.
    DemoData(DemoDataArgs),
    /// Import an .xlsx or .xls workbook into a form as one of the tenant's users, checked as
    /// the API checks it (all or nothing unless --valid-only), with a progress bar.
    Import(ImportArgs),
}

/// Who an operator command acts as.
#[derive(Args)]
struct Operator {
    #[command(flatten)]
    db: DbArgs,
    /// File holding the master key (as for `serve`); or FORMWORK_MASTER_KEY.
    #[arg(long, env = "FORMWORK_KEY_FILE", value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Tenant code.
    #[arg(long)]
    tenant: String,
    /// The user the command acts as: their grants, data scope, hidden fields and masking.
    #[arg(long = "as", value_name = "USERNAME")]
    as_user: String,
}

#[derive(Args)]
struct ImportArgs {
    #[command(flatten)]
    who: Operator,
    /// The form imported into (e.g. fire_relief).
    form: String,
    /// The workbook (.xlsx or .xls).
    #[arg(long, short)]
    file: PathBuf,
    /// An import template of the form (e.g. fire_relief_batch); without it, headers are
    /// matched to the form's field titles and keys.
    #[arg(long)]
    template: Option<String>,
    /// Import the valid rows even when some are rejected (default: one bad row imports
    /// nothing).
    #[arg(long)]
    valid_only: bool,
    /// Only check the rows and report; nothing is written.
    #[arg(long)]
    dry_run: bool,
    /// Write the rejected rows, with a reason column, to this .xlsx file.
    #[arg(long, value_name = "FILE")]
    errors: Option<PathBuf>,
    /// Print the whole report as JSON on standard output instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct DemoDataArgs {
    #[command(flatten)]
    db: DbArgs,
    /// File holding the master key (as for `serve`); or FORMWORK_MASTER_KEY.
    #[arg(long, env = "FORMWORK_KEY_FILE", value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Tenant code.
    #[arg(long)]
    tenant: String,
    /// Only this installed pack's demo files (default: every installed pack's).
    #[arg(long)]
    pack: Option<String>,
}

#[derive(Args)]
struct ExportArgs {
    #[command(flatten)]
    who: Operator,
    /// The list key (e.g. fire_relief_all).
    list: String,
    /// Output file; `.csv` writes CSV, anything else .xlsx.
    #[arg(long, short)]
    out: PathBuf,
    /// A request parameter as in the API, repeatable: `filter[district]=浦东新区`,
    /// `template=fire_relief_ledger`, `columns=app_no,applicant_name`, `sort=-created_at`.
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
    params: Vec<String>,
}

/// Where the database is.
#[derive(Args, Clone, Debug)]
pub struct DbArgs {
    /// PostgreSQL URL (postgres://user@host/db). Without it, an embedded SQLite file in --data-dir is used.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Directory for the SQLite database and files.
    #[arg(long, env = "FORMWORK_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

impl DbArgs {
    /// The database URL, creating the data directory for SQLite.
    pub fn url(&self) -> anyhow::Result<String> {
        // An empty DATABASE_URL (as `DATABASE_URL= formwork serve`) means "not set".
        if let Some(url) = self.database_url.as_ref().filter(|u| !u.trim().is_empty()) {
            return Ok(url.clone());
        }
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create data directory {}", self.data_dir.display()))?;
        Ok(format!(
            "sqlite://{}?mode=rwc",
            self.data_dir.join("formwork.db").display()
        ))
    }

    async fn connect(&self) -> anyhow::Result<Db> {
        let db = Db::connect(&self.url()?, 4).await?;
        db.migrate().await?;
        Ok(db)
    }
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "FORMWORK_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Do not create the demo tenants in an empty database.
    #[arg(long)]
    no_demo: bool,
    /// Create the demo tenants without the demo records their packs generate
    /// (demo/<form>.json).
    #[arg(long, env = "FORMWORK_NO_DEMO_RECORDS")]
    no_demo_records: bool,
    /// Password for the demo users (random and printed once when unset).
    #[arg(long, env = "FORMWORK_DEMO_PASSWORD", hide_env_values = true)]
    demo_password: Option<String>,
    /// Seconds between two looks for due workflow deadlines (state timers).
    #[arg(long, env = "FORMWORK_TIMER_INTERVAL_SECS", default_value_t = 30)]
    timer_interval_secs: u64,
    /// Seconds between two looks for webhook messages to send.
    #[arg(long, env = "FORMWORK_OUTBOX_INTERVAL_SECS", default_value_t = 5)]
    outbox_interval_secs: u64,
    /// Seconds before the first retry of a failed webhook delivery (doubling each time).
    #[arg(long, env = "FORMWORK_WEBHOOK_RETRY_SECS", default_value_t = 30)]
    webhook_retry_secs: u64,
    /// Session lifetime in hours.
    #[arg(long, env = "FORMWORK_SESSION_HOURS", default_value_t = 12)]
    session_hours: i64,
    /// File holding the master key of sensitive fields (32 hex digits). Instead, the key itself
    /// may be given in FORMWORK_MASTER_KEY. With neither, DATA_DIR/master.key is used and
    /// generated on first start: fine to try Formwork, not for production. Back the key up
    /// apart from the database: without it, sensitive data cannot be read.
    #[arg(long, env = "FORMWORK_KEY_FILE", value_name = "FILE")]
    key_file: Option<PathBuf>,
}

impl ServeArgs {
    /// Where the master key comes from: FORMWORK_MASTER_KEY or --key-file (not both).
    fn key_source(&self) -> anyhow::Result<Option<KeySource>> {
        key_source(self.key_file.as_ref())
    }
}

/// Where the master key comes from: FORMWORK_MASTER_KEY or a key file (not both).
/// The configuration of a command that works on the database without serving: no demo
/// tenants or records, a small pool.
fn offline_config(db: &DbArgs, key_file: Option<&PathBuf>) -> anyhow::Result<Config> {
    Ok(Config {
        database_url: db.url()?,
        listen: "127.0.0.1:0".parse()?,
        demo: false,
        demo_password: None,
        demo_records: false,
        session_hours: 1,
        max_connections: 4,
        timer_interval: std::time::Duration::from_secs(30),
        data_dir: db.data_dir.clone(),
        master_key: key_source(key_file)?,
    })
}

fn key_source(key_file: Option<&PathBuf>) -> anyhow::Result<Option<KeySource>> {
    {
        // The key itself is taken from the environment only: a command line is visible to
        // every user of the machine.
        let hex = std::env::var("FORMWORK_MASTER_KEY")
            .ok()
            .filter(|v| !v.trim().is_empty());
        match (hex, key_file) {
            (Some(_), Some(_)) => {
                bail!(
                    "both FORMWORK_MASTER_KEY and --key-file are set: give the master key one way"
                )
            }
            (Some(hex), None) => Ok(Some(KeySource::Hex(hex))),
            (None, Some(file)) => Ok(Some(KeySource::File(file.clone()))),
            (None, None) => Ok(None),
        }
    }
}

#[derive(Subcommand)]
enum PackCommand {
    /// Check a pack directory; prints every problem (file#pointer: reason) and exits 1 if any.
    Check {
        /// The pack directory (contains pack.toml).
        dir: PathBuf,
    },
    /// Install or upgrade a pack in a tenant: publishes changed forms as new versions.
    Install {
        /// Tenant key.
        #[arg(long)]
        tenant: String,
        /// The pack directory, or the id of a pack shipped with formwork (e.g. red-cross).
        pack: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant with its root org unit and built-in admin role.
    Create {
        /// Tenant key (lowercase letters, digits, -, _), used at login.
        key: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Code of the root org unit.
        #[arg(long, default_value = "root")]
        root_unit: String,
        /// Name of the root org unit (defaults to the tenant's name).
        #[arg(long)]
        root_name: Option<String>,
        /// The zone its people read times in (IANA name).
        #[arg(long, default_value = "Asia/Shanghai")]
        time_zone: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Set the zone a tenant's people read times in (IANA name, e.g. Asia/Shanghai): pages,
    /// documents and exports show times in it, and now()/today() of its changes mean it.
    TimeZone {
        /// Tenant key.
        key: String,
        /// IANA zone name.
        zone: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Add an org unit under a parent unit.
    Add {
        /// Tenant key.
        #[arg(long)]
        tenant: String,
        /// Unit code (lowercase letters, digits, -, _).
        code: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Code of the parent unit.
        #[arg(long)]
        parent: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password comes from FORMWORK_PASSWORD or is generated and printed.
    Create {
        /// Tenant key.
        #[arg(long)]
        tenant: String,
        /// Login name.
        #[arg(long)]
        username: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Code of the user's org unit.
        #[arg(long)]
        unit: String,
        /// Role to grant (repeat for several).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Password (prefer the environment variable over the command line).
        #[arg(long, env = "FORMWORK_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        Command::Serve(a) => serve(a).await?,
        Command::Export(a) => export(a).await?,
        Command::DemoData(a) => demo_data(a).await?,
        Command::Import(a) => return import(a).await,
        Command::Migrate(db) => {
            db.connect().await?;
            println!("migrations applied");
        }
        Command::Pack(PackCommand::Check { dir }) => return Ok(pack_check(&dir)),
        Command::Pack(PackCommand::Install { tenant, pack, db }) => {
            let files = if std::path::Path::new(&pack).is_dir() {
                form_runtime::pack::PackFiles::from_dir(std::path::Path::new(&pack))?
            } else {
                crate::seed::builtin_pack(&pack).with_context(|| {
                    format!(
                        "{pack} is neither a directory nor a shipped pack ({})",
                        crate::seed::builtin_pack_ids().join(", ")
                    )
                })?
            };
            let pack = match Pack::load(&files) {
                Ok(p) => p,
                Err(errs) => {
                    for e in &errs {
                        eprintln!("{e}");
                    }
                    bail!("{} problem(s) in the pack; nothing installed", errs.len());
                }
            };
            let db = db.connect().await?;
            require_tenant(&db, &tenant).await?;
            let mut tx = db.begin().await?;
            let report = packs::install(&mut tx, &tenant, &pack, None).await?;
            tx.commit().await?;
            println!(
                "installed {} {} into {tenant}",
                pack.manifest.id, pack.manifest.version
            );
            for (f, v) in &report.published {
                println!("  form {f}: published version {v}");
            }
            for f in &report.unchanged {
                println!("  form {f}: unchanged");
            }
            println!(
                "  {} list(s), {} role(s), {} policy line(s)",
                report.lists.len(),
                report.roles.len(),
                report.policies
            );
        }
        Command::Tenant(TenantCommand::Create {
            key,
            name,
            root_unit,
            root_name,
            time_zone,
            db,
        }) => {
            check_code("tenant key", &key)?;
            check_code("unit code", &root_unit)?;
            let zone = time_zone_named(&time_zone)?;
            let db = db.connect().await?;
            if tenants::exists(&db, &key).await? {
                bail!("tenant {key} already exists");
            }
            let mut tx = db.begin().await?;
            tenants::create(
                &mut tx,
                &key,
                &name,
                &root_unit,
                root_name.as_deref().unwrap_or(&name),
            )
            .await?;
            tenants::set_time_zone(&mut tx, &key, zone).await?;
            tx.commit().await?;
            println!("created tenant {key} with root unit {root_unit}, times in {zone}");
        }
        Command::Tenant(TenantCommand::TimeZone { key, zone, db }) => {
            let zone = time_zone_named(&zone)?;
            let db = db.connect().await?;
            let mut tx = db.begin().await?;
            if !tenants::set_time_zone(&mut tx, &key, zone).await? {
                bail!("there is no tenant {key}");
            }
            audit::append(
                &mut tx,
                &key,
                None,
                "tenant.time_zone",
                &key,
                &serde_json::json!({"time_zone": zone.name()}),
            )
            .await?;
            tx.commit().await?;
            println!("tenant {key} now reads times in {zone}");
        }
        Command::Org(OrgCommand::Add {
            tenant,
            code,
            name,
            parent,
            db,
        }) => {
            check_code("unit code", &code)?;
            let db = db.connect().await?;
            require_tenant(&db, &tenant).await?;
            let mut tx = db.begin().await?;
            let path = tenants::add_unit(&mut tx, &tenant, &code, &name, Some(&parent))
                .await
                .with_context(|| format!("parent unit {parent} not found, or {code} exists"))?;
            audit::append(
                &mut tx,
                &tenant,
                None,
                "org.add",
                &code,
                &serde_json::json!({"name": name, "path": path}),
            )
            .await?;
            tx.commit().await?;
            println!("added {code} at {path}");
        }
        Command::User(UserCommand::Create {
            tenant,
            username,
            name,
            unit,
            roles,
            password,
            db,
        }) => {
            let db = db.connect().await?;
            require_tenant(&db, &tenant).await?;
            let known = tenants::roles(&db, &tenant).await?;
            for r in &roles {
                if !known.contains_key(r) {
                    bail!(
                        "role {r} is not defined in tenant {tenant} (known: {})",
                        known.keys().cloned().collect::<Vec<_>>().join(", ")
                    );
                }
            }
            let generated = password.is_none();
            let password = password.unwrap_or_else(crate::password::generate);
            let hash = crate::password::hash(password.clone()).await?;
            let mut tx = db.begin().await?;
            let id = users::create(&mut tx, &tenant, &username, &name, &hash, &unit)
                .await
                .with_context(|| format!("unit {unit} not found, or user {username} exists"))?;
            for r in &roles {
                users::grant_role(&mut tx, &tenant, &id, r).await?;
            }
            audit::append(
                &mut tx,
                &tenant,
                None,
                "user.create",
                &username,
                &serde_json::json!({"roles": roles, "unit": unit}),
            )
            .await?;
            tx.commit().await?;
            println!("created user {username} in {tenant}");
            if generated {
                println!("password: {password}");
            }
        }
        Command::Bench(a) => crate::bench::run(a).await?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn check_code(what: &str, s: &str) -> anyhow::Result<()> {
    if !form_runtime::key::is_code(s) {
        bail!("{what} `{s}` may only hold lowercase letters, digits, - and _");
    }
    Ok(())
}

async fn require_tenant(db: &Db, tenant: &str) -> anyhow::Result<()> {
    if !tenants::exists(db, tenant).await? {
        bail!("tenant {tenant} does not exist (create it with `formwork tenant create`)");
    }
    Ok(())
}

fn pack_check(dir: &std::path::Path) -> std::process::ExitCode {
    match Pack::load_dir(dir) {
        Ok(p) => {
            println!(
                "{} {}: ok ({} form(s), {} workflow(s), {} list(s), {} statistic(s), {} document(s), {} batch rule(s), {} import template(s), {} export template(s), {} role(s))",
                p.manifest.id,
                p.manifest.version,
                p.forms.len(),
                p.workflows.len(),
                p.lists.len(),
                p.statistics.len(),
                p.documents.len(),
                p.batches.len(),
                p.imports.len(),
                p.exports.len(),
                p.roles.len()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(errs) => {
            for e in &errs {
                println!("{e}");
            }
            eprintln!("{} problem(s) found", errs.len());
            std::process::ExitCode::FAILURE
        }
    }
}

impl Operator {
    /// The application state on the operator's database, and the user acted as.
    async fn connect(&self) -> anyhow::Result<(AppState, Actor)> {
        let config = offline_config(&self.db, self.key_file.as_ref())?;
        let (app, _) = crate::startup::state(&config).await?;
        let actor = Actor::of_username(&app, &self.tenant, &self.as_user)
            .await?
            .with_context(|| {
                format!(
                    "tenant {} has no unlocked user {}",
                    self.tenant, self.as_user
                )
            })?;
        Ok((app, actor))
    }
}

/// An API refusal as an operator reads it: the message and each field's problem.
fn refusal(e: ApiError) -> anyhow::Error {
    if let ApiError::Internal(e) = e {
        return e;
    }
    let b = e.body();
    let mut msg = b["message"].as_str().unwrap_or("refused").to_string();
    for f in b["fields"].as_array().into_iter().flatten() {
        let (p, m) = (&f["pointer"], &f["message"]);
        msg.push_str(&format!(
            "\n  {}: {}",
            p.as_str().unwrap_or(""),
            m.as_str().unwrap_or("")
        ));
    }
    anyhow::anyhow!(msg)
}

/// Progress of a long operator command, looked at five times a second: a bar (indicatif) on
/// a terminal, a plain line every five seconds and at each new phase otherwise. `sample`
/// answers the phase, rows done and rows in all.
struct Meter {
    watch: tokio::task::JoinHandle<()>,
    bar: Option<indicatif::ProgressBar>,
}

impl Meter {
    fn start(sample: impl Fn() -> (&'static str, u64, u64) + Send + 'static) -> Meter {
        use std::io::IsTerminal;
        // While the total is unknown (a workbook being read) only a spinner turns.
        let style = |template: &str| {
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        };
        let counting = style("{spinner} {msg:<9} {bar:40} {pos}/{len} rows  {per_sec}  eta {eta}");
        let waiting = style("{spinner} {msg}…");
        let bar = std::io::stderr()
            .is_terminal()
            .then(|| indicatif::ProgressBar::new(0));
        let shown = bar.clone();
        let watch = tokio::spawn(async move {
            let mut last_line = std::time::Instant::now();
            let mut last_phase = "";
            loop {
                let (phase, done, total) = sample();
                let new_phase = phase != last_phase;
                match &shown {
                    Some(b) => {
                        if new_phase {
                            b.reset();
                            b.set_message(phase);
                            b.set_style(if total == 0 {
                                waiting.clone()
                            } else {
                                counting.clone()
                            });
                        }
                        b.set_length(total);
                        b.set_position(done);
                        b.tick();
                    }
                    None if new_phase
                        || last_line.elapsed() >= std::time::Duration::from_secs(5) =>
                    {
                        if total == 0 {
                            eprintln!("{phase}…");
                        } else {
                            eprintln!("{phase} {done}/{total} rows");
                        }
                        last_line = std::time::Instant::now();
                    }
                    None => {}
                }
                last_phase = phase;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        });
        Meter { watch, bar }
    }

    fn stop(self) {
        self.watch.abort();
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

async fn export(a: ExportArgs) -> anyhow::Result<()> {
    use std::sync::atomic::Ordering;
    let (app, actor) = a.who.connect().await?;
    let tenant = &a.who.tenant;
    let mut pairs = Vec::new();
    for p in &a.params {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("--param {p}: expected KEY=VALUE"))?;
        pairs.push((k.to_string(), v.to_string()));
    }
    let csv = a
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    pairs.push(("format".into(), if csv { "csv" } else { "xlsx" }.into()));
    let (plan, described) = crate::change::exports::plan(&app, &actor, &a.list, pairs)
        .await
        .map_err(refusal)?;
    let total =
        crate::store::records::list_count(&app.db, tenant, &plan.list, &plan.query, &plan.viewer)
            .await?
            .max(0) as u64;
    let progress = std::sync::Arc::new(crate::export::Progress::default());
    let meter = {
        let progress = progress.clone();
        Meter::start(move || ("exported", progress.rows.load(Ordering::Relaxed), total))
    };
    let started = std::time::Instant::now();
    let dir = a
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let tmp = dir.join(format!(".formwork-export-{}", crate::store::new_id()));
    let result = crate::export::write(&app, plan, &tmp, progress.clone()).await;
    meter.stop();
    let rows = match result {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, &a.out).with_context(|| format!("cannot write {}", a.out.display()))?;
    let mut tx = app.db.begin().await?;
    audit::append(
        &mut tx,
        tenant,
        Some(&actor.user.user_id),
        "list.export",
        &a.list,
        &serde_json::json!({"rows": rows, "query": described, "via": "cli"}),
    )
    .await?;
    tx.commit().await?;
    eprintln!(
        "exported {rows} rows to {} in {:.1} s",
        a.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Most row errors `formwork import` prints; the error workbook has them all.
const PRINTED_ERRORS: usize = 20;

async fn import(a: ImportArgs) -> anyhow::Result<std::process::ExitCode> {
    use crate::change::imports::{self, ImportQuery, Mode, Progress};
    use std::sync::atomic::Ordering;
    let (app, actor) = a.who.connect().await?;
    let target = imports::target(&app, &actor, &a.form, a.template.as_deref())
        .await
        .map_err(refusal)?;
    let size = std::fs::metadata(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))?
        .len();
    if size > crate::spreadsheet::MAX_FILE_BYTES {
        return Err(refusal(imports::too_large()));
    }
    let bytes =
        std::fs::read(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
    let query = ImportQuery {
        template: a.template.clone(),
        mode: if a.valid_only {
            Mode::ValidOnly
        } else {
            Mode::All
        },
        dry_run: a.dry_run,
    };
    let progress = std::sync::Arc::new(Progress::default());
    let meter = {
        let p = progress.clone();
        Meter::start(move || {
            let rows = p.rows.load(Ordering::Relaxed);
            let to_write = p.to_write.load(Ordering::Relaxed);
            if to_write > 0 {
                ("writing", p.written.load(Ordering::Relaxed), to_write)
            } else if rows > 0 {
                ("checking", p.checked.load(Ordering::Relaxed), rows)
            } else {
                ("reading", 0, 0)
            }
        })
    };
    let started = std::time::Instant::now();
    let result = imports::import_workbook(&app, &actor, target, query, bytes, &progress).await;
    meter.stop();
    let outcome = result.map_err(refusal)?;
    let took = started.elapsed().as_secs_f64();
    if let (Some(path), Some(bytes)) = (&a.errors, &outcome.errors_xlsx) {
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let report = outcome.report();
    let n = |k: &str| report[k].as_u64().unwrap_or(0);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&outcome.body)?);
    } else {
        let errors = report["errors"].as_array().cloned().unwrap_or_default();
        for e in errors.iter().take(PRINTED_ERRORS) {
            let message = e["message_en"].as_str().unwrap_or("");
            let mut at = e["column"]
                .as_str()
                .map(|c| format!(", column {c}"))
                .unwrap_or_default();
            if let Some(h) = e["header"].as_str().filter(|h| !message.contains(h)) {
                at.push_str(&format!(" ({h})"));
            }
            println!("row {}{at}: {message}", e["row"]);
        }
        if errors.len() > PRINTED_ERRORS || report["errors_truncated"] == true {
            println!("… and more rejected rows: see the error workbook (--errors FILE)");
        }
        let (rows, rejected) = (n("rows"), n("rejected"));
        if a.dry_run {
            println!(
                "dry run: {rows} rows, {} would be imported, {rejected} rejected; nothing written ({took:.1} s)",
                n("accepted")
            );
        } else if report["imported"] == true {
            println!(
                "imported {} of {rows} rows ({} created, {} updated), {rejected} rejected, in {took:.1} s (import {})",
                n("created") + n("updated"),
                n("created"),
                n("updated"),
                report["id"].as_str().unwrap_or("")
            );
        } else {
            println!(
                "nothing imported: {rejected} of {rows} rows rejected ({took:.1} s); fix them or use --valid-only"
            );
        }
        if let (Some(path), Some(_)) = (&a.errors, &outcome.errors_xlsx) {
            println!("rejected rows with reasons written to {}", path.display());
        }
    }
    Ok(
        if outcome.verdict != crate::change::imports::Verdict::Refused {
            std::process::ExitCode::SUCCESS
        } else {
            std::process::ExitCode::FAILURE
        },
    )
}

async fn demo_data(a: DemoDataArgs) -> anyhow::Result<()> {
    let config = offline_config(&a.db, a.key_file.as_ref())?;
    let (app, _) = crate::startup::state(&config).await?;
    if !tenants::exists(&app.db, &a.tenant).await? {
        bail!("no tenant {}", a.tenant);
    }
    let started = std::time::Instant::now();
    let made = crate::demo::generate(&app, &a.tenant, a.pack.as_deref()).await?;
    if made.is_empty() {
        println!("the packs of {} ask for no demo data", a.tenant);
    }
    for (form, n) in &made {
        println!("{}: {n} demo record(s) of {form}", a.tenant);
    }
    println!("took {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let url = a.db.url()?;
    let master_key = a.key_source()?;
    let config = Config {
        database_url: url.clone(),
        listen: a.listen,
        demo: !a.no_demo,
        demo_password: a.demo_password,
        demo_records: !a.no_demo_records,
        session_hours: a.session_hours,
        max_connections: 16,
        timer_interval: std::time::Duration::from_secs(a.timer_interval_secs),
        data_dir: a.db.data_dir.clone(),
        master_key,
    };
    let app = App::build(config).await?.with_outbox(
        std::time::Duration::from_secs(a.outbox_interval_secs.max(1)),
        std::time::Duration::from_secs(a.webhook_retry_secs.max(1)),
    );
    println!(
        "Formwork is listening on http://{}:{}/",
        a.listen.ip(),
        app.port()
    );
    println!("  database: {}", crate::store::redact(&url));
    println!(
        "  API reference: http://{}:{}/api/v1/openapi.json",
        a.listen.ip(),
        app.port()
    );
    if let Some(demo) = &app.demo {
        println!(
            "Demo tenants created. Log in with tenant / username below and password: {}",
            demo.password
        );
        for (t, u, name, roles) in &demo.logins {
            println!("  {t:<10} {u:<18} {name} ({})", roles.join(", "));
        }
    }
    app.run_until(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// An IANA zone by name, or an error saying what is expected.
fn time_zone_named(name: &str) -> anyhow::Result<chrono_tz::Tz> {
    form_runtime::clock::zone(name).ok_or_else(|| {
        anyhow::anyhow!("`{name}` is not a time zone: give an IANA name such as Asia/Shanghai")
    })
}
