//! `haochaping bench`: the performance targets, measured.
//!
//! 1. Ingestion: a server in a child process (`haochaping serve`) on a fresh database; a load generator in this
//!    process posts ratings over HTTP with N concurrent connections (closed loop). Each rating is committed
//!    durably with its ledger entry, rollup change and outbox job before the 201 comes back.
//! 2. Statistics: S more ratings are written straight through the storage writer (same code path after HTTP),
//!    spread over twelve months and every unit; then `GET /api/v1/stats/satisfaction` for a random unit and month,
//!    Q times, through HTTP.
//! 3. Memory: the server process's peak resident set (VmHWM) from /proc.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hcp_app::matters::{Applicant, Details, MatterRecord, seal, store};
use hcp_domain::Channel;
use hcp_domain::Timestamp;
use hcp_domain::access::KeyKind;
use hcp_domain::records::Rating;
use hcp_storage::Db;
use hcp_storage::matters::Registered;
use hcp_storage::pii::Secrets;
use hcp_storage::ratings::NewRating;
use serde_json::json;

use crate::demo;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// sqlite or postgres
    #[arg(long, default_value = "sqlite")]
    pub engine: String,
    /// PostgreSQL server to create the benchmark database on (it is dropped afterwards)
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub pg_url: String,
    /// Ratings posted over HTTP
    #[arg(long, default_value_t = 20_000)]
    pub ratings: usize,
    /// Concurrent HTTP connections of the load generator
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// Ratings stored before the statistics queries (the target is measured at 10,000,000)
    #[arg(long, default_value_t = 1_000_000)]
    pub stats_ratings: usize,
    /// Statistics queries to time
    #[arg(long, default_value_t = 300)]
    pub stats_queries: usize,
    /// Provincial records to drain into an in-process fake province, on one node and then on two (0: skip)
    #[arg(long, default_value_t = 20_000)]
    pub drain_records: usize,
}

struct Cleanup {
    dir: std::path::PathBuf,
    pg: Option<(String, String)>,
}

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command name (which is in parentheses and may contain spaces).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// (idle, total) jiffies of the whole machine, from /proc/stat.
fn machine_jiffies() -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else { return (0, 0) };
    let Some(line) = stat.lines().next() else { return (0, 0) };
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (idle, v.iter().take(8).sum())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn print_latency(sorted: &[Duration]) {
    let p = |q| ms(percentile(sorted, q));
    println!("  latency         p50 {}  p95 {}  p99 {}  max {}", p(0.50), p(0.95), p(0.99), p(1.0));
}

async fn count_ratings(db: &Db) -> anyhow::Result<i64> {
    Ok(match db {
        Db::Sqlite(p) => sqlx::query_scalar("SELECT COUNT(*) FROM ratings").fetch_one(p).await?,
        Db::Pg(p) => sqlx::query_scalar("SELECT COUNT(*) FROM ratings").fetch_one(p).await?,
    })
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn peak_memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field =
        |name: &str| status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok());
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

async fn create_database(args: &BenchArgs, cleanup: &mut Cleanup) -> anyhow::Result<String> {
    match args.engine.as_str() {
        "sqlite" => Ok(format!("sqlite://{}", cleanup.dir.join("bench.db").display())),
        "postgres" => {
            let name = format!("hcp_bench_{}", uuid::Uuid::new_v4().simple());
            let admin = Db::connect(&args.pg_url).await?;
            if let Db::Pg(p) = &admin {
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(p).await?;
            }
            admin.close().await;
            let base = args.pg_url.rsplit_once('/').map(|(b, _)| b.to_string()).context("bad --pg-url")?;
            cleanup.pg = Some((args.pg_url.clone(), name.clone()));
            Ok(format!("{base}/{name}"))
        }
        other => bail!("unknown engine {other} (sqlite or postgres)"),
    }
}

async fn drop_database(cleanup: &Cleanup) {
    if let Some((admin_url, name)) = &cleanup.pg
        && let Ok(admin) = Db::connect(admin_url).await
    {
        if let Db::Pg(p) = &admin {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(p).await;
        }
        admin.close().await;
    }
    let _ = std::fs::remove_dir_all(&cleanup.dir);
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let mut cleanup = Cleanup { dir: std::env::temp_dir().join(format!("hcp-bench-{}", uuid::Uuid::new_v4().simple())), pg: None };
    std::fs::create_dir_all(&cleanup.dir)?;
    let result = run_inner(&args, &mut cleanup).await;
    drop_database(&cleanup).await;
    result
}

async fn run_inner(args: &BenchArgs, cleanup: &mut Cleanup) -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<u64>().ok()))
        .map(|kib| kib / 1024 / 1024)
        .unwrap_or(0);
    println!("haochaping bench — engine {}, machine: {cpus} CPUs, {mem_gib} GiB", args.engine);
    let url = create_database(args, cleanup).await?;
    let mut master_key = [0u8; 32];
    rand::fill(&mut master_key);
    let secrets = Secrets::from_master(&master_key)?;

    let db = Db::connect(&url).await?;
    db.migrate().await?;
    hcp_app::settings::ensure_catalogue(&db).await?;
    demo::seed_master(&db).await?;
    let key = hcp_app::settings::new_key(KeyKind::System);
    db.insert_api_key(KeyKind::System, "LX", None, "bench", &key).await?;
    let master = db.load_master().await?;
    let mut items: Vec<_> = master.items.values().cloned().collect();
    items.sort_by(|a, b| a.code.cmp(&b.code));

    // Matters to rate, registered beforehand (not timed).
    let t = Instant::now();
    let now = Timestamp::now();
    for i in 0..args.ratings {
        let item = &items[i % items.len()];
        let tel = format!("139{:08}", i);
        let m = MatterRecord {
            matter_no: format!("B{i:08}"),
            item_code: item.code.clone(),
            unit_code: item.owner_unit_code.clone(),
            applicant: Applicant { kind: "person", prop: None, name: "测试人", phone: Some(&tel), id_number: None },
            accepted_at: now.plus_seconds(-7200),
            completed_at: Some(now.plus_seconds(-3600)),
            details: Details::default(),
        };
        if !matches!(store(&db, &secrets, &seal(&secrets, m, ("bench", None))?, "测试人", None).await?, Registered::Created(_)) {
            bail!("matter {i} existed");
        }
    }
    println!("prepared {} matters in {:.1} s", args.ratings, t.elapsed().as_secs_f64());

    // The server, in its own process.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    let exe = std::env::current_exe()?;
    let mut child = tokio::process::Command::new(exe)
        .args(["serve", "--database", &url, "--listen", &format!("127.0.0.1:{port}")])
        .env("HCP_MASTER_KEY", hex::encode(master_key))
        .env("HCP_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the server process")?;
    let pid = child.id().unwrap_or(0);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    let mut up = false;
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.map(|r| r.status().is_success()).unwrap_or(false) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !up {
        bail!("server did not start");
    }
    let (hwm_idle, _) = peak_memory_kib(pid).unwrap_or((0, 0));

    // Ingestion, closed loop.
    let (server_cpu0, gen_cpu0) = (cpu_seconds(&pid.to_string()), cpu_seconds("self"));
    let jiffies0 = machine_jiffies();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let client = client.clone();
        let next = next.clone();
        let key = key.clone();
        let url = format!("{base}/api/v1/ratings");
        let total = args.ratings;
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let level = [5, 5, 5, 5, 5, 5, 4, 4, 3, 2, 1][i % 11];
                let mut body = json!({"matter_no": format!("B{i:08}"), "channel": "business_system", "level": level});
                if level <= 2 {
                    body["reasons"] = json!([if level == 2 { "204" } else { "103" }]);
                }
                // A third of raters also rate indicators (each adds two rollup groups).
                if i.is_multiple_of(3) {
                    body["indicators"] = json!({"N01": level, "N03": level, "N05": level});
                }
                let start = Instant::now();
                let ok = matches!(client.post(&url).bearer_auth(&key).json(&body).send().await, Ok(r) if r.status().as_u16() == 201);
                lat.push(start.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await?;
        lat.extend(l);
        errors += e;
    }
    let elapsed = t.elapsed();
    let (server_cpu, gen_cpu) = (cpu_seconds(&pid.to_string()) - server_cpu0, cpu_seconds("self") - gen_cpu0);
    let jiffies1 = machine_jiffies();
    let busy = 100.0 - 100.0 * (jiffies1.0 - jiffies0.0) as f64 / (jiffies1.1 - jiffies0.1).max(1) as f64;
    lat.sort();
    let rate = args.ratings as f64 / elapsed.as_secs_f64();
    println!();
    println!(
        "ingestion over HTTP ({} ratings, {} connections, 18% bad reviews opening cases, a third with 3 indicator levels; durable commit with ledger + rollups + outbox):",
        args.ratings, args.concurrency
    );
    println!("  throughput      {rate:.0} ratings/s ({:.2} s)", elapsed.as_secs_f64());
    print_latency(&lat);
    println!("  errors          {errors}");
    println!(
        "  CPU             server {server_cpu:.1} s, load generator {gen_cpu:.1} s of {:.1} s wall on {cpus} cores ({:.0} µs server CPU per rating); machine {busy:.0}% busy (database included)",
        elapsed.as_secs_f64(),
        server_cpu * 1e6 / args.ratings as f64
    );
    let stored: i64 = count_ratings(&db).await?;
    println!("  stored          {stored} ratings");

    // A large store for the statistics, written through the storage writer.
    let t = Instant::now();
    let units: Vec<String> = {
        let mut u: Vec<String> = master.units.keys().cloned().collect();
        u.sort();
        u
    };
    let per_matter = 1_000usize;
    let matters = args.stats_ratings.div_ceil(per_matter);
    let year_ago = now.plus_seconds(-365 * 86_400);
    let mut written = 0usize;
    let mut g: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        g ^= g << 13;
        g ^= g >> 7;
        g ^= g << 17;
        g
    };
    for m in 0..matters {
        let unit = &units[m % units.len()];
        let item = &items[m % items.len()];
        let reg = MatterRecord {
            matter_no: format!("S{m:08}"),
            item_code: item.code.clone(),
            unit_code: unit.clone(),
            applicant: Applicant { kind: "legal", prop: None, name: "测试企业", phone: None, id_number: None },
            accepted_at: year_ago,
            completed_at: None,
            details: Details::default(),
        };
        let matter = match store(&db, &secrets, &seal(&secrets, reg, ("bench", None))?, "测试企业", None).await? {
            Registered::Created(x) | Registered::Existing { matter: x, .. } => x,
        };
        let n = per_matter.min(args.stats_ratings - written);
        let mut batch = Vec::with_capacity(n);
        for s in 0..n {
            let at = year_ago.plus_seconds((rnd() % (365 * 86_400)) as i64);
            let level = [5, 5, 5, 5, 5, 5, 5, 4, 4, 3, 2, 1][(rnd() % 12) as usize];
            batch.push(NewRating {
                row: Rating {
                    id: uuid::Uuid::now_v7().to_string(),
                    matter_id: matter.id.clone(),
                    matter_no: matter.matter_no.clone(),
                    service_seq: s as i64 + 1,
                    assess_number: 1,
                    follows_id: None,
                    channel: [Channel::Pad, Channel::Qr, Channel::Mobile, Channel::Pc][s % 4],
                    level,
                    indicators: String::new(),
                    reasons: String::new(),
                    text: None,
                    anonymous: true,
                    rater_name: None,
                    rater_phone: None,
                    rater_id_number: None,
                    rater_phone_ix: None,
                    rater_from_applicant: false,
                    unit_code: unit.clone(),
                    item_code: item.code.clone(),
                    window_code: None,
                    staff_code: None,
                    catalogue_version: 2,
                    referral: false,
                    rated_at: at.micros(),
                    received_at: at.micros(),
                    biz_day: at.biz_day(),
                    credential_kind: "bench".into(),
                    credential_id: None,
                    device_id: None,
                    source_hash: None,
                    client_type: "bench".into(),
                    seconds_after_service: None,
                    ledger_seq: 0,
                },
                idempotency: None,
                case: None,
            });
        }
        for chunk in batch.chunks(500) {
            for r in db.write_ratings(chunk).await? {
                r.map_err(anyhow::Error::from)?;
            }
        }
        written += n;
        if m % 200 == 199 {
            println!("  … {written} ratings stored ({:.0}/s)", written as f64 / t.elapsed().as_secs_f64());
        }
    }
    println!();
    println!(
        "bulk load for statistics: {written} ratings in {:.1} s ({:.0}/s, storage writer, batches of 500)",
        t.elapsed().as_secs_f64(),
        written as f64 / t.elapsed().as_secs_f64()
    );

    // Statistics for a random unit and month.
    let mut lat = Vec::new();
    let mut nonempty = 0;
    for _ in 0..args.stats_queries {
        let unit = &units[(rnd() % units.len() as u64) as usize];
        let month_start = now.plus_seconds(-((rnd() % 330) as i64 + 20) * 86_400).biz_date().replace_day(1).unwrap_or(now.biz_date());
        let next_month = month_start.replace_day(28).unwrap_or(month_start) + time::Duration::days(5);
        let month_end = next_month.replace_day(1).unwrap_or(next_month) - time::Duration::days(1);
        let q = format!(
            "{base}/api/v1/stats/satisfaction?by=unit&key={unit}&from={}&to={}",
            hcp_domain::timestamp::format_date(month_start),
            hcp_domain::timestamp::format_date(month_end)
        );
        let start = Instant::now();
        let resp = client.get(&q).send().await?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await?;
        lat.push(start.elapsed());
        if !status.is_success() {
            bail!("statistics query failed: {body}");
        }
        if body["groups"].as_array().is_some_and(|g| !g.is_empty()) {
            nonempty += 1;
        }
    }
    lat.sort();
    let total: i64 = count_ratings(&db).await?;
    println!(
        "statistics, one unit and one month, {} queries over HTTP with {total} ratings stored ({nonempty} non-empty):",
        args.stats_queries
    );
    print_latency(&lat);
    if let Some((hwm, rss)) = peak_memory_kib(pid) {
        println!(
            "server memory:    peak {:.1} MiB (idle after start {:.1} MiB, now {:.1} MiB)",
            hwm as f64 / 1024.0,
            hwm_idle as f64 / 1024.0,
            rss as f64 / 1024.0
        );
    }
    let _ = child.kill().await;
    if args.drain_records > 0 {
        drain_bench(args, &url, &master_key).await?;
    }
    db.close().await;
    Ok(())
}

/// The provincial link's throughput: SM2's cost per record, then records per second into a fake province (in
/// this process, on the same two cores) from one node and from two nodes on the same database.
async fn drain_bench(args: &BenchArgs, url: &str, master_key: &[u8; 32]) -> anyhow::Result<()> {
    use hcp_app::province::{DrainSettings, drain};
    use hcp_province::gateway::{HttpGateway, LinkConfig};
    let key = hcp_province::PrivateKey::generate();
    let public = key.public_key();
    let sample = r#"{"projectNo":"610327-2026-000123","serviceNumber":1,"assessNumber":1,"pf":4,"satisfaction":2,"evalDetail":"206,208","writingEvaluation":"窗口人员态度不好，等了很久","assessTime":"2026-12-03 10:11:12","anonymityFlag":2,"userProp":1,"taskCode":"61032701001","deptCode":"11610327MB2960001A","appStatus":1,"publicFlag":1,"isdefault":0,"EffectivEvalua":1,"areaCode":"610327000000","dataSource":"999"}"#;
    let n = 2000;
    let t = Instant::now();
    let mut ciphers = Vec::with_capacity(n);
    for _ in 0..n {
        ciphers.push(public.encrypt_hex(sample.as_bytes()).map_err(anyhow::Error::msg)?);
    }
    let enc = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let t = Instant::now();
    for c in &ciphers {
        key.decrypt_hex(c).map_err(anyhow::Error::msg)?;
    }
    let dec = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!();
    println!("SM2 per record ({} bytes of JSON): encrypt {enc:.0} µs, decrypt {dec:.0} µs (one core)", sample.len());

    let tenant =
        hcp_province::Tenant { key: key.clone(), app_mark: "BENCH".into(), app_word: "bench-word".into(), tenancy: "610000000000".into() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let province_url = format!("http://{}", listener.local_addr()?);
    let fake = crate::province::start_fake(tenant.clone(), None, listener)?;
    let gateway = || {
        HttpGateway::new(LinkConfig {
            url: province_url.clone(),
            public_key: public.clone(),
            app_mark: tenant.app_mark.clone(),
            app_word: tenant.app_word.clone(),
            tenancy: tenant.tenancy.clone(),
            timeout: Duration::from_secs(30),
        })
        .map_err(anyhow::Error::msg)
    };
    let node = |_: usize| async {
        let state = crate::open(url, Secrets::from_master(master_key)?, hcp_app::Config::default()).await?;
        anyhow::Ok(state.app.clone())
    };
    let target = args.drain_records;
    // Plan the backlog first (as a link configured after a day's outage would): planning is measured apart.
    let a = node(0).await?;
    let t = Instant::now();
    let mut planned = 0;
    loop {
        let n = a.db.plan_province(5000, hcp_domain::Timestamp::now()).await?;
        planned += n;
        if n == 0 {
            break;
        }
    }
    println!(
        "planning the backlog: {planned} ledger entries in {:.1} s ({:.0}/s)",
        t.elapsed().as_secs_f64(),
        planned as f64 / t.elapsed().as_secs_f64()
    );
    let run = |app: hcp_app::App, g: HttpGateway, goal: usize| async move {
        let settings = DrainSettings { batch: 100, lease_secs: 120, max_records: 2_000 };
        let mut sent = 0;
        while sent < goal {
            let d = drain(&app, &g, &settings).await?;
            if let Some(f) = d.failure {
                anyhow::bail!("the fake province failed: {f}");
            }
            if d.delivered == 0 {
                break;
            }
            sent += d.delivered;
        }
        anyhow::Ok(sent)
    };
    // The default first (one node, two senders), over the whole target: with a backlog of the target's size
    // this is the time to drain it. Then one sender, and two nodes, over what is left.
    let t = Instant::now();
    let (x, y) = tokio::join!(run(a.clone(), gateway()?, target / 2), run(a.clone(), gateway()?, target - target / 2));
    let senders = x? + y?;
    let senders_secs = t.elapsed().as_secs_f64();
    let senders_rate = senders as f64 / senders_secs;
    println!(
        "drain, one node, two senders (the default): {senders} records in {senders_secs:.1} s ({senders_rate:.0} records/s, batches of 100, SM2, over HTTP)"
    );
    let rate = |n: usize, secs: f64| if n == 0 { "nothing left to drain".to_string() } else { format!("{:.0} records/s", n as f64 / secs) };
    // The other two over a bounded part of what is left: a sustained rate, not a second full drain.
    let side = (target / 2).clamp(1, 50_000);
    let t = Instant::now();
    let one = run(a.clone(), gateway()?, side).await?;
    println!("drain, one node, one sender: {one} records in {:.1} s ({})", t.elapsed().as_secs_f64(), rate(one, t.elapsed().as_secs_f64()));
    let b = node(1).await?;
    let t = Instant::now();
    let (x, y) = tokio::join!(run(a, gateway()?, side / 2), run(b, gateway()?, side / 2));
    let two = x? + y?;
    println!(
        "drain, two nodes (one sender each): {two} records in {:.1} s ({})",
        t.elapsed().as_secs_f64(),
        rate(two, t.elapsed().as_secs_f64())
    );
    let h = fake.holdings();
    println!(
        "fake province holds {} records ({} refused, {} duplicates); {senders} records of a {planned}-entry backlog drained in {:.1} min with the default senders (1,000,000 at that rate: {:.1} min)",
        h.services + h.evaluations + h.rectifications,
        h.refused,
        h.duplicates,
        senders_secs / 60.0,
        1_000_000.0 / senders_rate.max(1.0) / 60.0
    );
    Ok(())
}
