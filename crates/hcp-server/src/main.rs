//! `haochaping`: config → telemetry → build → serve, and the administrative subcommands.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use hcp_app::Config;
use hcp_domain::access::KeyKind;
use hcp_server::{build_app, demo, notify, open, open_db, redact, secrets, serve, shutdown_signal, workers};
use hcp_storage::Db;

#[derive(Parser)]
#[command(name = "haochaping", version, about = "政务服务“好差评”系统 — the good/bad review system for government services")]
struct Cli {
    /// Database: sqlite://PATH (default, created if missing) or postgres://USER@HOST/DB
    #[arg(long, global = true, env = "HCP_DATABASE_URL", default_value = "sqlite://haochaping.db")]
    database: String,
    /// File holding the instance's master key (created on first use); or set HCP_MASTER_KEY
    #[arg(long, global = true, env = "HCP_KEY_FILE", default_value = "haochaping-secret.key")]
    key_file: PathBuf,
    /// Settings file (TOML; keys are the flags' names, e.g. `listen`, `respond_days`); flags and HCP_*
    /// variables take precedence over it
    #[arg(long, global = true, env = "HCP_CONFIG")]
    config: Option<PathBuf>,
    /// Log format: `text` for people, `json` (one object a line) for a log collector
    #[arg(long, global = true, env = "HCP_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "HCP_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Base URL printed in QR codes and links (default: http://LISTEN)
    #[arg(long, env = "HCP_PUBLIC_URL")]
    public_url: Option<String>,
    /// Days after a service (or completion) during which it may be rated
    #[arg(long, env = "HCP_RATING_WINDOW_DAYS", default_value_t = 30)]
    rating_window_days: i64,
    /// Working days a unit has to respond to a bad review
    #[arg(long, env = "HCP_RESPOND_DAYS", default_value_t = 1)]
    respond_days: i64,
    /// Working days a unit has to reply on the rectification
    #[arg(long, env = "HCP_REPLY_DAYS", default_value_t = 5)]
    reply_days: i64,
    /// Seconds between two sweeps for overdue cases (every node sweeps; each case is marked once)
    #[arg(long, env = "HCP_SWEEP_INTERVAL_SECS", default_value_t = 60)]
    sweep_interval_secs: u64,
    /// How many times a rater's 不满意 may send a case back to the unit
    #[arg(long, env = "HCP_MAX_REOPEN", default_value_t = 1)]
    max_reopen: u32,
    /// How many extensions one case may have
    #[arg(long, env = "HCP_MAX_EXTENSIONS", default_value_t = 1)]
    max_extensions: u32,
    /// An extension may move the reply deadline up to this many working days after arrival
    #[arg(long, env = "HCP_MAX_REPLY_DAYS", default_value_t = 15)]
    max_reply_days: u32,
    /// A pending 复核 stops the reply clock (the days are given back when it is rejected)
    #[arg(long, env = "HCP_APPEAL_STOPS_CLOCK")]
    appeal_stops_clock: bool,
    /// Days the rater's feedback link stays valid (verdict and 追评)
    #[arg(long, env = "HCP_FEEDBACK_DAYS", default_value_t = 30)]
    feedback_days: i64,
    /// Do not invite applicants to rate by SMS when their matter is completed (S-5)
    #[arg(long, env = "HCP_NO_SMS_INVITATIONS")]
    no_sms_invitations: bool,
    /// Days after an SMS invitation when one reminder goes to a matter still unrated (0: no reminder)
    #[arg(long, env = "HCP_INVITE_REMINDER_DAYS", default_value_t = 3)]
    invite_reminder_days: i64,
    /// `pf` codes (评价渠道) the province expects where they differ from the national order, `channel=code,…`,
    /// e.g. `sms=6,paper=5` (default: pc 1 … sms 7, paper, business_system and province 9)
    #[arg(long, env = "HCP_PF_CODES", default_value = "", value_parser = parse_pf_codes)]
    pf_codes: hcp_domain::channel::PfCodes,
    /// Sender name in notifications, e.g. 陇县政务服务
    #[arg(long, env = "HCP_SENDER_NAME", default_value = "政务服务好差评")]
    sender_name: String,
    /// SMS gateway: JSON is POSTed here (see --sms-template); without it SMS are recorded as unsent
    #[arg(long, env = "HCP_SMS_URL")]
    sms_url: Option<String>,
    /// JSON body with {phone}, {text} and {id} filled in
    #[arg(long, env = "HCP_SMS_TEMPLATE")]
    sms_template: Option<String>,
    /// Bearer token for the SMS gateway
    #[arg(long, env = "HCP_SMS_TOKEN", hide_env_values = true)]
    sms_token: Option<String>,
    /// A PEM CA certificate to trust for an https SMS gateway, besides the system's
    #[arg(long, env = "HCP_SMS_CA_FILE")]
    sms_ca_file: Option<PathBuf>,
    /// Mail server, smtp://[user:password@]host[:port]; without it e-mails are recorded as unsent
    #[arg(long, env = "HCP_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// Sender address of e-mails
    #[arg(long, env = "HCP_MAIL_FROM", default_value = "haochaping@localhost")]
    mail_from: String,
    /// Milliseconds between two runs of the notifier
    #[arg(long, env = "HCP_NOTIFY_INTERVAL_MS", default_value_t = 2000)]
    notify_interval_ms: u64,
    /// Minutes a staff session may stay unused before it ends
    #[arg(long, env = "HCP_SESSION_IDLE_MINUTES", default_value_t = 30)]
    session_idle_minutes: i64,
    /// Administrators sign in with a second factor (TOTP); `false` only for a closed test installation
    #[arg(long, env = "HCP_ADMIN_SECOND_FACTOR", default_value_t = true, action = clap::ArgAction::Set)]
    admin_second_factor: bool,
    /// A reverse proxy whose X-Forwarded-For is believed (repeat for several)
    #[arg(long = "trusted-proxy", env = "HCP_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Public submissions (complaints, rating and feedback forms, sign-ins) allowed per client and minute
    #[arg(long, env = "HCP_PUBLIC_PER_MINUTE", default_value_t = 30)]
    public_per_minute: u32,
    /// Seconds after which a window's rating device returns to its welcome screen
    #[arg(long, env = "HCP_DEVICE_IDLE_SECS", default_value_t = 60)]
    device_idle_secs: u32,
    /// Presses on a rating device closer together than this many milliseconds count once
    #[arg(long, env = "HCP_DEVICE_MIN_PRESS_MS", default_value_t = 800)]
    device_min_press_ms: u32,
    /// A bearer token `/metrics` asks for (Prometheus' `authorization` setting); without it `/metrics` is open
    #[arg(long, env = "HCP_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    #[command(flatten)]
    province: hcp_server::province::ProvinceArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrating an empty database first)
    Serve(ServeArgs),
    /// Seed Long County demo data into an empty database, print the URL, logins and keys, and serve
    Demo {
        #[command(flatten)]
        serve: ServeArgs,
        /// Number of demo matters over the past 120 days
        #[arg(long, default_value_t = 3000)]
        matters: usize,
        /// Start a fake provincial platform in this process and connect the county to it
        #[arg(long)]
        with_fake_province: bool,
    },
    /// Apply migrations and exit
    Migrate,
    /// Check every hash chain; exit 0 when intact, 1 naming the first broken record
    Verify,
    /// Machine keys (system, device, hotline)
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Staff accounts
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Import master data, or matters, from CSV (UTF-8 or GBK; header row: see README)
    Import {
        /// units, windows, items, staff, or matters
        kind: String,
        file: PathBuf,
        /// matters only: the staff account the matters are registered as (its unit tree bounds what it may
        /// register)
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: Option<String>,
    },
    /// Load a catalogue version (TOML, as data/catalogue-v2.toml) and put it in force
    Catalogue { file: PathBuf },
    /// The official working-day calendar
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// Measure ingestion throughput, latency, statistics latency and server memory
    Bench(hcp_server::bench::BenchArgs),
    /// The provincial link: status, replay of rejected records, reconciliation
    Province {
        #[command(subcommand)]
        command: ProvinceCommand,
    },
    /// Run a fake provincial platform that holds the contract of PROVINCE.md (for tests and demonstrations)
    FakeProvince(hcp_server::province::FakeArgs),
}

#[derive(Subcommand)]
enum ProvinceCommand {
    /// Queue depth by kind, the oldest undelivered record, the last success, and the rejected records
    Status,
    /// Send rejected records again after a fix: all of them, or the identities given (`op|projectNo|…`)
    Replay { ids: Vec<String> },
    /// Compare a CSV of the identities the province holds (`op,projectNo,serviceNumber,assessNumber,stepNo`) with
    /// what was sent; exit 1 when they differ
    Reconcile { file: PathBuf },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Issue a key; the key alone is the last line printed
    Create {
        #[arg(long)]
        kind: String,
        #[arg(long)]
        unit: String,
        #[arg(long)]
        window: Option<String>,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Revoke a key by its id
    Revoke { id: String },
    /// Rotate the personal-data key: a new master key first in the key file, every stored name, phone and ID
    /// number re-encrypted under it (run with the servers stopped)
    Rotate,
}

#[derive(Subcommand)]
enum CalendarCommand {
    /// Load a year's notice (CSV `date,kind,holiday`; kind holiday or workday); each year in the file is replaced
    Import { file: PathBuf },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a staff account
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        unit: String,
    },
    /// Enrol a second factor (TOTP): prints the secret and the otpauth URI for an authenticator app
    Totp {
        #[arg(long)]
        username: String,
    },
    /// Set where a staff member is notified: a work e-mail address and/or a mobile number (stored encrypted)
    Contact {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        mobile: Option<String>,
    },
}

fn parse_pf_codes(text: &str) -> Result<hcp_domain::channel::PfCodes, String> {
    hcp_domain::channel::PfCodes::parse(text, "pf_codes").map_err(|e| e.message)
}

fn app_config(args: &ServeArgs) -> Config {
    Config {
        public_base_url: args.public_url.clone().unwrap_or_else(|| format!("http://{}", args.listen)),
        rating_window_days: args.rating_window_days,
        deadline_rule: hcp_domain::cases::DeadlineRule {
            respond_days: args.respond_days.clamp(0, 60),
            reply_days: args.reply_days.clamp(0, 60),
        },
        loop_limits: hcp_domain::case_flow::LoopLimits {
            max_reopen: args.max_reopen.min(10),
            max_extensions: args.max_extensions.min(10),
            max_reply_days: args.max_reply_days.clamp(1, 120),
        },
        appeal_stops_clock: args.appeal_stops_clock,
        feedback_days: args.feedback_days.clamp(1, 366),
        invite_by_sms: !args.no_sms_invitations,
        invite_reminder_days: args.invite_reminder_days.clamp(0, 366),
        pf_codes: args.pf_codes,
        sender_name: args.sender_name.clone(),
        session_idle_secs: args.session_idle_minutes.clamp(1, 24 * 60) * 60,
        admin_second_factor: args.admin_second_factor,
        trusted_proxies: args.trusted_proxies.clone(),
        public_per_minute: args.public_per_minute.max(1),
        device_idle_secs: args.device_idle_secs.clamp(3, 3600),
        device_min_press_ms: args.device_min_press_ms.min(10_000),
        metrics_token: args.metrics_token.clone().filter(|t| !t.is_empty()),
        area_code: hcp_province::gateway::area_code_12(&args.province.area_code).unwrap_or_else(|_| Config::default().area_code),
        data_source: args.province.data_source.clone(),
        province_url: args.province.province_url.clone().filter(|u| !u.is_empty()),
        ..Config::default()
    }
}

fn notifier(args: &ServeArgs) -> anyhow::Result<hcp_app::notifications::Notifier> {
    let sms: Option<std::sync::Arc<dyn hcp_app::notifications::Transport>> = match &args.sms_url {
        Some(url) => Some(std::sync::Arc::new(notify::SmsGateway::with_ca(
            url.clone(),
            args.sms_template.clone(),
            args.sms_token.clone(),
            args.sms_ca_file.as_deref(),
        )?)),
        None => None,
    };
    let email: Option<std::sync::Arc<dyn hcp_app::notifications::Transport>> = match &args.smtp_url {
        Some(url) => Some(std::sync::Arc::new(notify::Mailer::new(url, &args.mail_from)?)),
        None => None,
    };
    Ok(hcp_app::notifications::Notifier::new(sms, email))
}

/// The background work of every node: deadline sweeps, notifications and the provincial link.
fn start_workers(state: &hcp_web::AppState, args: &ServeArgs) -> anyhow::Result<()> {
    let n = notifier(args)?;
    if let Some(link) = args.province.link()? {
        println!("provincial link: {} (batches of {})", link.url, args.province.province_batch);
        tokio::spawn(hcp_server::province::run(state.app.clone(), link, args.province.settings()));
    }
    tokio::spawn(workers::run_sweeper(state.app.clone(), std::time::Duration::from_secs(args.sweep_interval_secs.max(1))));
    tokio::spawn(notify::run(state.app.clone(), n, std::time::Duration::from_millis(args.notify_interval_ms.max(100))));
    Ok(())
}

/// Operator commands go on the audit trail too.
async fn cli_audit(db: &Db, action: &str, target: &str) {
    let entry = hcp_domain::audit::AuditEntry {
        actor: "cli".into(),
        action: action.into(),
        target: target.into(),
        outcome: "ok".into(),
        detail: None,
        source_hash: None,
    };
    if let Err(e) = db.audit(&entry).await {
        eprintln!("warning: could not write the audit trail: {e}");
    }
}

/// The application on a database, for the operator commands that need one (the default catalogue and
/// calendar loaded on first use).
async fn cli_app(cli: &Cli) -> anyhow::Result<hcp_app::App> {
    let db = hcp_server::connect(&cli.database).await?;
    db.migrate().await?;
    Ok(hcp_app::App::new(db, secrets::load(&cli.key_file)?, Config::default()).await?)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(ref args) => {
            let secrets = secrets::load(&cli.key_file)?;
            let state = open(&cli.database, secrets, app_config(args)).await?;
            let listener = tokio::net::TcpListener::bind(&args.listen).await.with_context(|| format!("无法监听 {}", args.listen))?;
            let addr = listener.local_addr()?;
            println!("haochaping listening on http://{addr} (database {})", redact(&cli.database));
            start_workers(&state, args)?;
            serve(listener, build_app(state), shutdown_signal()).await?;
        }
        Command::Demo { serve: ref args, matters, with_fake_province } => {
            let mut args = args.clone();
            if with_fake_province {
                let key = hcp_province::PrivateKey::generate();
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let url = format!("http://{}", listener.local_addr()?);
                let tenant = hcp_province::Tenant {
                    key: key.clone(),
                    app_mark: "LXHCP".into(),
                    app_word: hex::encode(rand::random::<[u8; 16]>()),
                    tenancy: args.province.province_tenancy.clone(),
                };
                args.province.province_url = Some(url.clone());
                args.province.province_public_key = Some(key.public_key().to_hex());
                args.province.province_app_mark = Some(tenant.app_mark.clone());
                args.province.province_app_word = Some(tenant.app_word.clone());
                hcp_server::province::start_fake(tenant, None, listener)?;
                println!("fake province (PROVINCE.md contract) at {url}: the county's ratings and cases are sent there");
            }
            let args = &args;
            let secrets = secrets::load(&cli.key_file)?;
            let db = hcp_server::connect(&cli.database).await?;
            db.migrate().await?;
            let empty = db.is_empty().await?;
            let mut config = app_config(args);
            if args.sender_name == "政务服务好差评" {
                config.sender_name = "陇县政务服务".into();
            }
            let state = open_db(db, secrets, config).await?;
            let seeded = if empty {
                println!("正在写入陇县演示数据（{matters} 件办件）…");
                Some(demo::seed(&state.app, matters).await?)
            } else {
                println!("数据库已有数据，直接启动（演示数据只写入空数据库；要重新开始，请删除 haochaping.db 和 haochaping-secret.key）。");
                None
            };
            let listener = tokio::net::TcpListener::bind(&args.listen).await.with_context(|| format!("无法监听 {}", args.listen))?;
            let url = format!("http://{}", listener.local_addr()?);
            println!();
            println!("好差评 demo — 陇县 (610327)");
            println!("  URL:      {url}");
            println!("  API docs: {url}/docs   OpenAPI: {url}/api/openapi.json");
            if let Some(info) = &seeded {
                println!("  seeded:   {} matters, {} ratings", info.matters, info.ratings);
                println!("  logins (password {}):", demo::DEMO_PASSWORD);
                for (u, role, unit) in &info.users {
                    println!("    {u:<12} {role:<14} {unit}");
                }
                println!("  admin's second factor (TOTP; add to an authenticator app, then sign in with its 6-digit code as \"otp\"):");
                println!("    secret {}", info.admin_totp.0);
                println!("    {}", info.admin_totp.1);
                println!("  keys (Authorization: Bearer KEY):");
                for (kind, label, key) in &info.keys {
                    println!("    {kind:<8} {label}: {key}");
                }
            }
            if let Some(info) = &seeded {
                let (no, seq, served) = &info.try_matter;
                let expires = served.plus_seconds(state.config.rating_window_days * 86_400).micros() / 1_000_000;
                let token = hcp_domain::token::RatingToken::new(no, *seq, expires, hcp_domain::Channel::Qr).sign(state.secrets.token_key());
                println!("  pages:");
                println!("    rate a matter (as its QR code would):   {url}/r/{token}");
                println!("    self-service terminal:                  {url}/kiosk  (matter {no}, phone ending 1234)");
                println!("    window device (give it the device key): {url}/device");
                println!("    back office:                            {url}/staff/sign-in");
                println!("    public results:                         {url}/results");
            }
            println!("  try:      curl {url}/api/v1/stats/satisfaction?by=unit");
            start_workers(&state, args)?;
            serve(listener, build_app(state), shutdown_signal()).await?;
        }
        Command::Migrate => {
            let db = hcp_server::connect(&cli.database).await?;
            let applied = db.migrate().await?;
            hcp_app::settings::ensure_catalogue(&db).await?;
            println!("migrations applied: {applied:?}");
        }
        Command::Verify => {
            let db = hcp_server::connect(&cli.database).await?;
            let report = db.verify_ledger().await?;
            let (audit_entries, audit_break) = db.verify_audit().await?;
            match (report.first_break, audit_break) {
                (None, None) => {
                    println!("ledger intact: {} entries, {} ratings", report.entries, report.ratings);
                    println!("audit trail intact: {audit_entries} entries");
                }
                (ledger, audit) => {
                    if let Some(why) = &ledger {
                        eprintln!("LEDGER BROKEN: {why}");
                    }
                    if let Some(why) = &audit {
                        eprintln!("AUDIT TRAIL BROKEN: {why}");
                    }
                    return Ok(ExitCode::from(1));
                }
            }
        }
        Command::Keys { command: KeysCommand::Create { ref kind, ref unit, ref window, ref label } } => {
            let app = cli_app(&cli).await?;
            let k = KeyKind::parse_field(kind, "kind")?;
            let (id, key) = hcp_app::settings::issue_key(&app, k, unit, window.as_deref(), label).await?;
            cli_audit(&app.db, "key_created", &format!("key:{id}")).await;
            println!("key id: {id} (kind {kind}, unit {unit}{})", window.as_ref().map(|w| format!(", window {w}")).unwrap_or_default());
            println!("{key}");
        }
        Command::Keys { command: KeysCommand::Rotate } => {
            let db = hcp_server::connect(&cli.database).await?;
            db.migrate().await?;
            let _lock = secrets::RotationLock::take(&cli.key_file)?;
            let secrets = secrets::rotate(&cli.key_file)?;
            println!("new personal-data key {} is first in {}", secrets.pii_key_id, cli.key_file.display());
            let report = db.rotate_envelopes(&secrets).await?;
            for (table, n) in &report {
                println!("  {table:<14} {n} rows re-encrypted");
            }
            cli_audit(&db, "keys_rotated", &format!("pii_key:{}", secrets.pii_key_id)).await;
            let check = db.verify_ledger().await?;
            if let Some(b) = check.first_break {
                anyhow::bail!("轮换后账本校验失败：{b}");
            }
            println!("ledger still intact; keep the key file's earlier lines: the blind index and rating tokens use the first");
        }
        Command::Keys { command: KeysCommand::Revoke { id } } => {
            let db = hcp_server::connect(&cli.database).await?;
            if db.revoke_api_key(&id).await? {
                cli_audit(&db, "key_revoked", &format!("key:{id}")).await;
                println!("revoked {id}");
            } else {
                eprintln!("no active key with id {id}");
                return Ok(ExitCode::from(1));
            }
        }
        Command::Users { command: UsersCommand::Create { ref username, ref password, ref role, ref unit } } => {
            let app = cli_app(&cli).await?;
            let id = hcp_app::settings::create_user(&app, username, password, role, unit).await?;
            cli_audit(&app.db, "user_created", &format!("user:{username}")).await;
            println!("user {username} created ({role} at {unit}), id {id}");
        }
        Command::Users { command: UsersCommand::Totp { username } } => {
            let db = hcp_server::connect(&cli.database).await?;
            db.migrate().await?;
            let secrets = secrets::load(&cli.key_file)?;
            let raw: [u8; 20] = rand::random();
            let b32 = hcp_domain::totp::base32_encode(&raw);
            if !db.set_totp_secret(&username, Some(secrets.encrypt(&b32)?)).await? {
                anyhow::bail!("没有用户 {username}");
            }
            cli_audit(&db, "totp_enrolled", &format!("user:{username}")).await;
            println!("second factor of {username} set; add it to an authenticator app:");
            println!("  secret: {b32}");
            println!("{}", hcp_domain::totp::otpauth_uri("好差评", &username, &raw));
        }
        Command::Users { command: UsersCommand::Contact { username, email, mobile } } => {
            let db = hcp_server::connect(&cli.database).await?;
            db.migrate().await?;
            if let Some(e) = &email
                && (!e.contains('@') || e.len() > 200 || e.chars().any(char::is_whitespace))
            {
                anyhow::bail!("电子邮箱地址无效：{e}");
            }
            let mobile = match &mobile {
                Some(m) => {
                    let phone = hcp_domain::person::Phone::parse(m, "mobile").map_err(|e| anyhow::anyhow!(e.message))?;
                    Some(secrets::load(&cli.key_file)?.encrypt(phone.as_str())?)
                }
                None => None,
            };
            if !db.set_user_contact(&username, email.as_deref(), mobile).await? {
                anyhow::bail!("没有用户 {username}");
            }
            cli_audit(&db, "contact_set", &format!("user:{username}")).await;
            println!("contact of {username} set");
        }
        Command::Import { ref kind, ref file, ref as_user } if kind == "matters" => {
            let app = cli_app(&cli).await?;
            let Some(username) = as_user else {
                eprintln!("导入办件须指定以哪个工作人员账号导入：--as 用户名（其单位范围决定可导入哪些办件）");
                return Ok(ExitCode::from(2));
            };
            let Some(user) = app.db.find_user(username).await? else {
                eprintln!("用户 {username} 不存在");
                return Ok(ExitCode::from(2));
            };
            let bytes = std::fs::read(file).with_context(|| format!("无法读取 {}", file.display()))?;
            let caller = hcp_app::Caller::Staff(user);
            let r = hcp_app::matter_import::import_matters(&app, &caller, &bytes).await?;
            cli_audit(&app.db, "matters_imported", &format!("matters:{}:{}", r.imported, r.failed)).await;
            println!("imported {} matters, {} already registered, {} refused", r.imported, r.unchanged, r.failed);
            for p in &r.problems {
                println!("  {}", p.message);
            }
            if r.failed > 0 {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Import { ref kind, ref file, .. } => {
            let db = hcp_server::connect(&cli.database).await?;
            db.migrate().await?;
            let bytes = std::fs::read(file).with_context(|| format!("无法读取 {}", file.display()))?;
            let n = hcp_app::settings::import_master_into(&db, kind, &bytes).await?;
            cli_audit(&db, "master_imported", &format!("{kind}:{n}")).await;
            println!("imported {n} {kind}");
        }
        Command::Catalogue { ref file } => {
            let db = hcp_server::connect(&cli.database).await?;
            db.migrate().await?;
            let text = std::fs::read_to_string(file).with_context(|| format!("无法读取 {}", file.display()))?;
            let cat = hcp_app::settings::load_catalogue(&db, &text).await?;
            cli_audit(&db, "catalogue_loaded", &format!("catalogue:{}", cat.version)).await;
            println!("catalogue version {} ({}) in force", cat.version, cat.name);
        }
        Command::Calendar { command: CalendarCommand::Import { ref file } } => {
            let app = cli_app(&cli).await?;
            let bytes = std::fs::read(file).with_context(|| format!("无法读取 {}", file.display()))?;
            let loaded = hcp_app::settings::import_calendar(&app, &bytes, &file.display().to_string()).await?;
            let years = &loaded.years;
            cli_audit(&app.db, "calendar_imported", &format!("calendar:{years:?}")).await;
            println!("calendar loaded for {years:?} (running servers pick it up within a minute)");
            if !loaded.changed.is_empty() {
                println!("deadlines recomputed for {} open cases (their units are told):", loaded.changed.len());
                for c in &loaded.changed {
                    println!(
                        "  {} {}  respond {} -> {}  reply {} -> {}{}",
                        c.case_id,
                        c.unit_name,
                        c.respond_by.0,
                        c.respond_by.1,
                        c.reply_by.0,
                        c.reply_by.1,
                        if c.provisional { "  (still provisional)" } else { "" }
                    );
                }
            }
        }
        Command::Bench(args) => {
            hcp_server::bench::run(args).await?;
        }
        Command::Province { command: ProvinceCommand::Status } => {
            let app = cli_app(&cli).await?;
            print!("{}", hcp_server::province::status_text(&app.db.province_status().await?));
        }
        Command::Province { command: ProvinceCommand::Replay { ref ids } } => {
            let app = cli_app(&cli).await?;
            let n = hcp_app::province::replay_as(&app, "cli".into(), ids).await?;
            println!("{n} records queued again; a running server sends them within its next pass");
        }
        Command::Province { command: ProvinceCommand::Reconcile { ref file } } => {
            let app = cli_app(&cli).await?;
            let text = std::fs::read_to_string(file).with_context(|| format!("无法读取 {}", file.display()))?;
            let r = hcp_app::province::reconcile(&app, &text).await?;
            print!("{}", hcp_server::province::reconcile_text(&r));
            if !(r.missing_at_province.is_empty() && r.unknown_here.is_empty()) {
                return Ok(ExitCode::from(1));
            }
        }
        Command::FakeProvince(args) => {
            hcp_server::province::run_fake(args).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The command line, with the settings file (`--config`) merged under the flags and the environment.
fn parse_cli() -> anyhow::Result<Cli> {
    let cmd = Cli::command();
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let matches = cmd.clone().get_matches_from(argv.clone());
    let argv = match matches.get_one::<PathBuf>("config") {
        Some(path) => hcp_server::config_file::merge(&cmd, argv, &matches, path)?,
        None => argv,
    };
    let matches = cmd.get_matches_from(argv);
    Ok(Cli::from_arg_matches(&matches)?)
}

fn main() -> ExitCode {
    let cli = match parse_cli() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("错误 error: {e:#}");
            return ExitCode::from(2);
        }
    };
    hcp_server::init_logging(cli.log_format == "json");
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("错误 error: {e:#}");
            ExitCode::from(2)
        }
    }
}
