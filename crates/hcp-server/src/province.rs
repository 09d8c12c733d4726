//! The provincial link on a node: its flags (`PROVINCE.md`, "Configuration"), the drain worker with its
//! back-off, the operator's texts, and the fake province's command.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use hcp_app::App;
use hcp_app::province::{DrainSettings, Reconciliation, drain};
use hcp_domain::Timestamp;
use hcp_province::gateway::{HttpGateway, LinkConfig, area_code_12, check_tenancy};
use hcp_province::{FakeProvince, PrivateKey, PublicKey, Tenant};
use hcp_storage::province::LinkStatus;

#[derive(clap::Args, Clone, Debug)]
pub struct ProvinceArgs {
    /// Base URL of the provincial gateway; without it nothing is sent (the ledger keeps every record's identity)
    #[arg(long, env = "HCP_PROVINCE_URL")]
    pub province_url: Option<String>,
    /// The province's SM2 public key: 130 hex digits, 04‖x‖y
    #[arg(long, env = "HCP_PROVINCE_PUBLIC_KEY")]
    pub province_public_key: Option<String>,
    /// 应用标识 issued by the province
    #[arg(long, env = "HCP_PROVINCE_APP_MARK")]
    pub province_app_mark: Option<String>,
    /// 应用密钥 issued by the province (a secret: never logged)
    #[arg(long, env = "HCP_PROVINCE_APP_WORD", hide_env_values = true)]
    pub province_app_word: Option<String>,
    /// C-Tenancy-Id, 12 digits
    #[arg(long, env = "HCP_PROVINCE_TENANCY", default_value = "610000000000")]
    pub province_tenancy: String,
    /// The county's 行政区划代码, 6 or 12 digits
    #[arg(long, env = "HCP_AREA_CODE", default_value = "610327")]
    pub area_code: String,
    /// 3-digit 数据来源 code assigned by the province
    #[arg(long, env = "HCP_DATA_SOURCE", default_value = "999")]
    pub data_source: String,
    /// Records per request, 1–100
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub province_batch: u16,
    /// Seconds to wait for the province's answer
    #[arg(long, env = "HCP_PROVINCE_TIMEOUT_SECS", default_value_t = 15)]
    pub province_timeout_secs: u64,
    /// Milliseconds between two drain passes when there is nothing to send
    #[arg(long, env = "HCP_PROVINCE_INTERVAL_MS", default_value_t = 1000)]
    pub province_interval_ms: u64,
    /// Concurrent senders on this node, 1–8 (one encrypts while another waits for the province's answer)
    #[arg(long, env = "HCP_PROVINCE_SENDERS", default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub province_senders: u8,
}

impl ProvinceArgs {
    /// The link's settings, checked; `None` when no URL is set.
    pub fn link(&self) -> anyhow::Result<Option<LinkConfig>> {
        let Some(url) = self.province_url.clone().filter(|u| !u.is_empty()) else { return Ok(None) };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            anyhow::bail!("--province-url 应为 http:// 或 https:// 地址");
        }
        let need = |v: &Option<String>, flag: &str| {
            v.clone().filter(|s| !s.is_empty()).with_context(|| format!("配置了 --province-url 时必须同时给出 {flag}"))
        };
        let public_key = PublicKey::from_hex(&need(&self.province_public_key, "--province-public-key")?).map_err(anyhow::Error::msg)?;
        check_tenancy(&self.province_tenancy).map_err(anyhow::Error::msg)?;
        area_code_12(&self.area_code).map_err(anyhow::Error::msg)?;
        if !(self.data_source.len() == 3 && self.data_source.bytes().all(|b| b.is_ascii_digit())) {
            anyhow::bail!("--data-source 应为 3 位数字");
        }
        Ok(Some(LinkConfig {
            url,
            public_key,
            app_mark: need(&self.province_app_mark, "--province-app-mark")?,
            app_word: need(&self.province_app_word, "--province-app-word")?,
            tenancy: self.province_tenancy.clone(),
            timeout: Duration::from_secs(self.province_timeout_secs.clamp(1, 300)),
        }))
    }

    pub fn settings(&self) -> WorkerSettings {
        WorkerSettings {
            // A claim outlives a request that times out, and not much more: a node killed mid-send holds its
            // records no longer than this.
            drain: DrainSettings {
                batch: usize::from(self.province_batch),
                lease_secs: self.province_timeout_secs.clamp(1, 300) as i64 + 15,
                ..DrainSettings::default()
            },
            idle: Duration::from_millis(self.province_interval_ms.clamp(50, 60_000)),
            senders: usize::from(self.province_senders),
        }
    }
}

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub drain: DrainSettings,
    /// concurrent senders on this node
    pub senders: usize,
    /// pause when there was nothing to send
    pub idle: Duration,
}

/// Back-off after a failed request: 1 s, doubling, capped at 5 minutes.
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(9)).min(Duration::from_secs(300))
}

/// Drains the outbox into the province until the process ends, with `s.senders` senders (while one waits for
/// the province's answer, another encrypts its batch; the claims keep them apart as they keep nodes apart).
pub async fn run(app: App, link: LinkConfig, s: WorkerSettings) {
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..s.senders.max(1) {
        senders.spawn(run_sender(app.clone(), link.clone(), s.clone()));
    }
    while senders.join_next().await.is_some() {}
}

/// One sender: at once while there is work, after `idle` when there is none, with exponential back-off while the
/// province fails.
async fn run_sender(app: App, link: LinkConfig, s: WorkerSettings) {
    let gateway = match HttpGateway::new(link) {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(error = %e, "the provincial link cannot start");
            return;
        }
    };
    let mut failures = 0u32;
    loop {
        let pause = match drain(&app, &gateway, &s.drain).await {
            Ok(d) if d.failure.is_some() => {
                failures += 1;
                tracing::warn!(
                    failure = d.failure.as_deref().unwrap_or_default(),
                    delivered = d.delivered,
                    retry_in_s = backoff(failures).as_secs(),
                    "provincial link failed"
                );
                backoff(failures)
            }
            Ok(d) => {
                failures = 0;
                if d.delivered + d.rejected > 0 {
                    tracing::info!(
                        delivered = d.delivered,
                        duplicates = d.duplicates,
                        rejected = d.rejected,
                        "records sent to the province"
                    );
                    Duration::ZERO
                } else {
                    s.idle
                }
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "provincial link pass failed");
                let _ = app.db.note_province_error(&e.to_string(), Timestamp::now()).await;
                backoff(failures)
            }
        };
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
}

fn when(micros: i64) -> String {
    Timestamp(micros).to_rfc3339()
}

/// `haochaping province status`.
pub fn status_text(s: &LinkStatus) -> String {
    let mut out = String::new();
    out.push_str(&format!("ledger entries not yet planned: {}\n", s.unplanned));
    out.push_str("records by kind and state:\n");
    if s.counts.is_empty() {
        out.push_str("  (none planned: is --province-url set on a server?)\n");
    }
    for (op, state, n) in &s.counts {
        out.push_str(&format!("  {op:<14} {state:<10} {n}\n"));
    }
    match &s.oldest_undelivered {
        Some((id, at)) => out.push_str(&format!("oldest undelivered: {id} (planned {})\n", when(*at))),
        None => out.push_str("oldest undelivered: none\n"),
    }
    out.push_str(&format!("last success: {}\n", s.last_success.map(when).unwrap_or_else(|| "never".into())));
    if let Some((e, at)) = &s.last_error {
        out.push_str(&format!("last error: {e} ({})\n", when(*at)));
    }
    out.push_str(&format!("rejected (latest {}):\n", s.rejects.len()));
    for (id, reason, at) in &s.rejects {
        out.push_str(&format!("  {id}  {reason}  ({})\n", when(*at)));
    }
    out
}

/// `haochaping province reconcile FILE`.
pub fn reconcile_text(r: &Reconciliation) -> String {
    let mut out = format!("held by the province and marked delivered here: {}\n", r.matched);
    for (title, list) in [
        ("delivered here, missing at the province", &r.missing_at_province),
        ("held by the province, unknown here", &r.unknown_here),
        ("held by the province, not yet marked delivered here (an answer was lost)", &r.not_marked_delivered),
    ] {
        out.push_str(&format!("{title}: {}\n", list.len()));
        for id in list.iter().take(200) {
            out.push_str(&format!("  {id}\n"));
        }
    }
    out
}

#[derive(clap::Args, Clone, Debug)]
pub struct FakeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:9300")]
    pub listen: String,
    /// The province's SM2 private key (64 hex digits); a new one is made and printed when absent
    #[arg(long, env = "HCP_FAKE_PROVINCE_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<String>,
    #[arg(long, default_value = "LXHCP")]
    pub app_mark: String,
    #[arg(long, default_value = "fake-province-word")]
    pub app_word: String,
    #[arg(long, default_value = "610000000000")]
    pub tenancy: String,
    /// Keep what it holds in this file (JSON lines) and read it back on start
    #[arg(long)]
    pub store: Option<PathBuf>,
}

/// Starts a fake province on `listener` in this process; returns it and its public key.
pub fn start_fake(tenant: Tenant, store: Option<PathBuf>, listener: tokio::net::TcpListener) -> anyhow::Result<FakeProvince> {
    let fake = FakeProvince::new(tenant, store).map_err(anyhow::Error::msg)?;
    tokio::spawn(fake.clone().serve(listener));
    Ok(fake)
}

/// `haochaping fake-province`.
pub async fn run_fake(args: FakeArgs) -> anyhow::Result<()> {
    let key = match &args.private_key {
        Some(k) => PrivateKey::from_hex(k).map_err(anyhow::Error::msg)?,
        None => PrivateKey::generate(),
    };
    let listener = tokio::net::TcpListener::bind(&args.listen).await.with_context(|| format!("无法监听 {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    println!("fake province listening on {url}");
    println!("  --province-url {url} --province-public-key {}", key.public_key().to_hex());
    println!("  --province-app-mark {} --province-app-word {} --province-tenancy {}", args.app_mark, args.app_word, args.tenancy);
    if args.private_key.is_none() {
        println!("  private key (pass it as --private-key to keep this public key): {}", key.to_hex());
    }
    println!(
        "  failure modes: POST {url}/_control/mode {{\"mode\":\"down\"}} (normal, down, server_error, slow, lose_answer, duplicate_answers, refuse)"
    );
    let tenant = Tenant { key, app_mark: args.app_mark, app_word: args.app_word, tenancy: args.tenancy };
    let fake = FakeProvince::new(tenant, args.store).map_err(anyhow::Error::msg)?;
    fake.serve(listener).await?;
    Ok(())
}
