//! Notifications: what the loop's records mean for raters and staff (`hcp_domain::notices`), turned into rows
//! and jobs (`hcp_storage::notifications`), and sent through a [`Transport`] per channel: an SMS gateway over
//! HTTP and e-mail over SMTP. Every attempt is recorded; failures are retried with backoff, then left `dead`
//! for an administrator to re-run.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hcp_domain::Timestamp;
use hcp_domain::notices::{Audience, CaseContext, Happening, Notice, Step, notices};
use hcp_domain::person::{mask_email, mask_phone};
use hcp_domain::timestamp::parse_date;
use hcp_domain::token::FeedbackToken;
use hcp_storage::cases::{CaseEvent, CaseSummary};
use hcp_storage::notifications::{ClaimedJob, JobOutcome, NewNotification};
use hcp_web::AppState;
use hcp_web::api::notifications::FEEDBACK_PLACEHOLDER;

/// One message as a transport sees it.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// the notification id: gateways that deduplicate can use it
    pub id: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

pub type SendResult<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// A way to deliver messages of one channel. `Ok` carries what the far end answered, `Err` why it failed.
pub trait Transport: Send + Sync {
    fn send<'a>(&'a self, msg: &'a Outgoing<'a>) -> SendResult<'a>;
}

/// SMS through an HTTP gateway: a POST of a JSON body built from a template with `{phone}`, `{text}`, `{id}`
/// (values JSON-escaped), optionally with a bearer token. Any 2xx answer is a delivery.
pub struct SmsGateway {
    client: reqwest::Client,
    url: String,
    template: String,
    token: Option<String>,
}

pub const DEFAULT_SMS_TEMPLATE: &str = r#"{"phone":"{phone}","text":"{text}","id":"{id}"}"#;

fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

impl SmsGateway {
    /// `ca_file`: a PEM certificate to trust besides the system's (a county's own CA for an internal gateway).
    pub fn new(url: String, template: Option<String>, token: Option<String>) -> anyhow::Result<Self> {
        Self::with_ca(url, template, token, None)
    }

    pub fn with_ca(
        url: String,
        template: Option<String>,
        token: Option<String>,
        ca_file: Option<&std::path::Path>,
    ) -> anyhow::Result<Self> {
        let template = template.unwrap_or_else(|| DEFAULT_SMS_TEMPLATE.to_string());
        // The template must give JSON once filled in.
        let probe = template.replace("{phone}", "1").replace("{text}", "t").replace("{id}", "i");
        serde_json::from_str::<serde_json::Value>(&probe).map_err(|e| anyhow::anyhow!("短信模板填入后不是合法的 JSON：{e}"))?;
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(15)).https_only(url.starts_with("https://"));
        if let Some(path) = ca_file {
            let pem = std::fs::read(path).map_err(|e| anyhow::anyhow!("无法读取证书 {}：{e}", path.display()))?;
            builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
        }
        let client = builder.build()?;
        Ok(SmsGateway { client, url, template, token })
    }
}

impl Transport for SmsGateway {
    fn send<'a>(&'a self, msg: &'a Outgoing<'a>) -> SendResult<'a> {
        Box::pin(async move {
            let body = self
                .template
                .replace("{phone}", &json_escape(msg.to))
                .replace("{text}", &json_escape(msg.body))
                .replace("{id}", &json_escape(msg.id));
            let mut req = self.client.post(&self.url).header("content-type", "application/json").body(body);
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.map_err(|e| format!("短信网关无法连接：{}", without_url(&e)))?;
            // Only the status is kept: gateways often echo the number or the text (with the rater's link), and
            // what is kept is shown to staff.
            let status = resp.status();
            if status.is_success() {
                Ok(format!("HTTP {}", status.as_u16()))
            } else {
                Err(format!("短信网关返回 HTTP {}", status.as_u16()))
            }
        })
    }
}

/// reqwest's errors name the URL, which may carry a gateway's credentials in its query.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "超时"
    } else if e.is_connect() {
        "连接失败（或证书不受信任）"
    } else {
        "请求失败"
    };
    kind.to_string()
}

/// E-mail over SMTP (`smtp://[user:password@]host[:port]`, plain or with the server's own STARTTLS not
/// required: a county's internal relay).
pub struct Mailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl Mailer {
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let rest = url.strip_prefix("smtp://").ok_or_else(|| anyhow::anyhow!("邮件服务器地址应以 smtp:// 开头"))?;
        let (creds, hostport) = match rest.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, rest),
        };
        let hostport = hostport.trim_end_matches('/');
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| anyhow::anyhow!("邮件服务器端口无效"))?),
            None => (hostport, 25),
        };
        let mut b =
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(host).port(port).timeout(Some(Duration::from_secs(15)));
        if let Some(c) = creds {
            let (u, p) = c.split_once(':').unwrap_or((c, ""));
            b = b.credentials(lettre::transport::smtp::authentication::Credentials::new(u.to_string(), p.to_string()));
        }
        let from = from.parse().map_err(|e| anyhow::anyhow!("发件人地址无效：{e}"))?;
        Ok(Mailer { transport: b.build(), from })
    }
}

impl Transport for Mailer {
    fn send<'a>(&'a self, msg: &'a Outgoing<'a>) -> SendResult<'a> {
        Box::pin(async move {
            use lettre::AsyncTransport;
            let to: lettre::message::Mailbox = msg.to.parse().map_err(|_| "收件人地址无效".to_string())?;
            let email = lettre::Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(msg.subject)
                .message_id(Some(format!("<{}@haochaping>", msg.id)))
                .header(lettre::message::header::ContentType::TEXT_PLAIN)
                .body(msg.body.to_string())
                .map_err(|e| format!("邮件无法生成：{e}"))?;
            let resp = self.transport.send(email).await.map_err(|e| format!("邮件发送失败：{e}"))?;
            Ok(format!("SMTP {}: {}", resp.code(), resp.message().collect::<Vec<_>>().join(" ")))
        })
    }
}

/// The transports of this node and the retry policy.
#[derive(Clone, Default)]
pub struct Notifier {
    pub sms: Option<Arc<dyn Transport>>,
    pub email: Option<Arc<dyn Transport>>,
    /// first retry after this many seconds, doubling each time
    pub retry_base_secs: i64,
    /// attempts before a notification is left `dead`
    pub max_attempts: i64,
}

impl Notifier {
    pub fn new(sms: Option<Arc<dyn Transport>>, email: Option<Arc<dyn Transport>>) -> Self {
        Notifier { sms, email, retry_base_secs: 30, max_attempts: 6 }
    }
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "bad_review" => "差评",
        "complaint" => "投诉",
        "suggestion" => "意见建议",
        "inspection" => "整改任务",
        _ => "工单",
    }
}

fn date_of(key: i64) -> time::Date {
    parse_date(&format!("{:04}-{:02}-{:02}", key / 10_000, (key / 100) % 100, key % 100), "date").unwrap_or(time::Date::MIN)
}

fn happening(e: &CaseEvent) -> Option<Happening> {
    let note: serde_json::Value = e.note.as_deref().and_then(|n| serde_json::from_str(n).ok()).unwrap_or_default();
    let s = |k: &str| note.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let day = |k: &str| parse_date(&s(k), k).ok();
    Some(match e.kind.as_str() {
        "extended" => Happening::Extended { new_reply_by: day("new_reply_by")?, reason: s("reason") },
        "replied" => Happening::Replied { text: s("text") },
        "verdict" if e.state_after == "responded" => Happening::Reopened,
        "overdue" => Happening::Overdue { step: Step::parse(&s("step"))?, deadline: day("deadline")? },
        "due_warning" => Happening::DueToday { step: Step::parse(&s("step"))?, deadline: day("deadline")? },
        "appeal_applied" => Happening::AppealApplied { to_bureau_next: s("route") == "hall" },
        "appeal_opinion" if s("appeal_state") == "pending_bureau" => {
            Happening::AppealOpinion { agree: note["agree"].as_bool().unwrap_or(false) }
        }
        "appeal_decided" => Happening::AppealDecided { upheld: note["upheld"].as_bool().unwrap_or(false) },
        _ => return None,
    })
}

/// A feedback link for the rater of `case_id`, valid for the configured number of days.
pub fn feedback_url(state: &AppState, case_id: &str) -> String {
    let token = FeedbackToken {
        case_id: case_id.to_string(),
        expires_unix: Timestamp::now().plus_seconds(state.config.feedback_days * 86_400).micros() / 1_000_000,
    }
    .sign(state.secrets.token_key());
    format!("{}/f/{token}", state.config.public_base_url.trim_end_matches('/'))
}

/// The notification rows for one happening of one case.
async fn rows_for(state: &AppState, source: &str, s: &CaseSummary, h: &Happening) -> anyhow::Result<Vec<NewNotification>> {
    let master = state.master();
    let c = &s.case;
    let ctx = CaseContext {
        sender: state.config.sender_name.clone(),
        case_ref: c.id.chars().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect(),
        unit_name: master.units.get(&c.unit_code).map(|u| u.name.clone()).unwrap_or_else(|| c.unit_code.clone()),
        item_name: master.items.get(&c.item_code).map(|i| i.name.clone()),
        kind_label: kind_label(&c.kind).to_string(),
        respond_by: date_of(c.respond_by),
        reply_by: date_of(s.reply_by),
        // The personal link is made at sending time: neither the database nor staff ever hold it.
        feedback_url: matches!(h, Happening::Replied { .. }).then(|| FEEDBACK_PLACEHOLDER.to_string()),
    };
    let mut out = Vec::new();
    for n in notices(h, &ctx) {
        let mut add = |recipient: String, channel: &str, address: Vec<u8>, masked: String, n: &Notice| {
            out.push(NewNotification {
                id: uuid::Uuid::now_v7().to_string(),
                source: source.to_string(),
                case_id: Some(c.id.clone()),
                recipient,
                channel: channel.to_string(),
                address,
                address_masked: masked,
                template: n.template.to_string(),
                subject: n.subject.clone(),
                body: n.body.clone(),
            })
        };
        match n.audience {
            Audience::Rater => {
                let phone = match &c.rating_id {
                    Some(r) => match state.db.get_rating(r).await? {
                        // The applicant rated as themselves: their number is the matter's.
                        Some(r) if r.rater_from_applicant => state.db.find_matter(&r.matter_no).await?.and_then(|m| m.applicant_phone),
                        Some(r) => r.rater_phone,
                        None => None,
                    },
                    None => state.db.complaint_of_case(&c.id).await?.and_then(|q| q.contact_phone),
                };
                if let Some(env) = phone {
                    let masked = mask_phone(&state.secrets.decrypt(&env)?);
                    add("rater".into(), "sms", env, masked, &n);
                }
            }
            Audience::Unit | Audience::UnitApprovers | Audience::County => {
                let (units, roles): (Vec<String>, &[&str]) = match n.audience {
                    Audience::Unit => (vec![c.unit_code.clone()], &["unit_handler", "unit_approver"]),
                    Audience::UnitApprovers => (vec![c.unit_code.clone()], &["unit_approver"]),
                    _ => (vec![master.top_of(&c.unit_code)], &["bureau_admin"]),
                };
                for (user, email, mobile) in state.db.staff_contacts(&units, roles).await? {
                    if let Some(e) = email.filter(|e| !e.is_empty()) {
                        add(format!("staff:{user}"), "email", state.secrets.encrypt(&e)?, mask_email(&e), &n);
                    }
                    if let Some(env) = mobile {
                        // An SMS has no subject line: it leads the text.
                        let masked = mask_phone(&state.secrets.decrypt(&env)?);
                        let sms =
                            Notice { body: format!("{}：{}", n.subject, n.body.replace("\n\n", " ").replace('\n', " ")), ..n.clone() };
                        add(format!("staff:{user}"), "sms", env, masked, &sms);
                    }
                }
            }
        }
    }
    Ok(out)
}

const DERIVE_BATCH: i64 = 200;

/// Turns the case records on the ledger after the cursor into notifications, a batch at a time. Returns how
/// many were stored and whether more may be waiting. A record that cannot be turned into messages is logged
/// and passed over, so that one bad record cannot stop every notification after it.
pub async fn derive(state: &AppState) -> anyhow::Result<(usize, bool)> {
    let (cursor, upto, entries) = state.db.notify_backlog(DERIVE_BATCH).await?;
    if upto == cursor {
        return Ok((0, false));
    }
    let mut rows = Vec::new();
    for (seq, kind, ref_id) in &entries {
        match rows_for_entry(state, kind, ref_id).await {
            Ok(r) => rows.extend(r),
            Err(e) => tracing::warn!(error = %e, seq, "a ledger record could not be turned into notifications; passed over"),
        }
    }
    let n = rows.len();
    let more = entries.len() as i64 == DERIVE_BATCH;
    Ok(if state.db.commit_notifications(cursor, upto, &rows, Timestamp::now().micros()).await? { (n, more) } else { (0, true) })
}

async fn rows_for_entry(state: &AppState, kind: &str, ref_id: &str) -> anyhow::Result<Vec<NewNotification>> {
    let case_id = match kind {
        "case_opened" => ref_id.to_string(),
        _ => match state.db.case_of_event(ref_id).await? {
            Some(c) => c,
            None => return Ok(Vec::new()),
        },
    };
    let Some((summary, events)) = state.db.get_case(&case_id).await? else { return Ok(Vec::new()) };
    let h = match kind {
        "case_opened" => Happening::Opened,
        _ => match events.iter().find(|e| e.id == ref_id).and_then(happening) {
            Some(h) => h,
            None => return Ok(Vec::new()),
        },
    };
    rows_for(state, ref_id, &summary, &h).await
}

/// Jobs claimed at once: each send may take up to the transport's timeout (15 s), all within the lease.
const SEND_BATCH: i64 = 5;
const LEASE_MICROS: i64 = 180_000_000;

/// Sends the notifications whose jobs are due. Returns how many jobs were claimed.
pub async fn send_due(state: &AppState, notifier: &Notifier) -> anyhow::Result<usize> {
    let now = Timestamp::now().micros();
    let jobs = state.db.claim_jobs("notify", now, LEASE_MICROS, SEND_BATCH).await?;
    for job in &jobs {
        if let Err(e) = send_one(state, notifier, job).await {
            // Whatever went wrong (an address that no longer decrypts, a database hiccup): give this one up
            // visibly rather than leave it to be claimed again for ever.
            tracing::warn!(error = %e, job = %job.id, "notification job failed");
            let why = format!("发送失败：{e}");
            let _ = state.db.finish_job(job, JobOutcome::Dead { error: &why }).await;
        }
    }
    Ok(jobs.len())
}

async fn send_one(state: &AppState, notifier: &Notifier, job: &ClaimedJob) -> anyhow::Result<()> {
    let id = serde_json::from_str::<serde_json::Value>(&job.payload)
        .ok()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(String::from))
        .unwrap_or_default();
    let Some(note) = state.db.get_notification(&id).await? else {
        state.db.finish_job(job, JobOutcome::Dead { error: "通知不存在" }).await?;
        return Ok(());
    };
    if note.state == "sent" {
        state.db.finish_job(job, JobOutcome::Done).await?;
        return Ok(());
    }
    let transport = match note.n.channel.as_str() {
        "sms" => notifier.sms.as_ref(),
        _ => notifier.email.as_ref(),
    };
    let at = Timestamp::now().micros();
    // Attempts are numbered per notification, across the jobs an administrator may re-run.
    let attempt = note.attempts + 1;
    let Some(transport) = transport else {
        let why = if note.n.channel == "sms" { "未配置短信网关，未发送" } else { "未配置邮件服务器，未发送" };
        state.db.record_attempt(&id, attempt, false, "unsent", why, at).await?;
        state.db.finish_job(job, JobOutcome::Done).await?;
        return Ok(());
    };
    let to = state.secrets.decrypt(&note.n.address)?;
    let body = match (&note.n.case_id, note.n.recipient.as_str()) {
        (Some(case_id), "rater") => note.n.body.replace(FEEDBACK_PLACEHOLDER, &feedback_url(state, case_id)),
        _ => note.n.body.clone(),
    };
    let msg = Outgoing { id: &id, to: &to, subject: &note.n.subject, body: &body };
    match transport.send(&msg).await {
        Ok(result) => {
            state.db.record_attempt(&id, attempt, true, "sent", &result, at).await?;
            state.db.finish_job(job, JobOutcome::Done).await?;
        }
        Err(error) if job.attempt >= notifier.max_attempts => {
            tracing::warn!(notification = %id, attempt, %error, "notification given up");
            state.db.record_attempt(&id, attempt, false, "dead", &error, at).await?;
            state.db.finish_job(job, JobOutcome::Dead { error: &error }).await?;
        }
        Err(error) => {
            let delay = notifier.retry_base_secs.max(1).saturating_mul(1 << (job.attempt - 1).clamp(0, 16));
            state.db.record_attempt(&id, attempt, false, "retrying", &error, at).await?;
            let retry_at = Timestamp(at).plus_seconds(delay).micros();
            state.db.finish_job(job, JobOutcome::Retry { at: retry_at, error: &error }).await?;
        }
    }
    Ok(())
}

/// Derives and sends every `interval` until the process ends.
pub async fn run(state: AppState, notifier: Notifier, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match derive(&state).await {
                Ok((_, true)) => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "could not derive notifications");
                    break;
                }
            }
        }
        loop {
            match send_due(&state, &notifier).await {
                Ok(n) if n as i64 == SEND_BATCH => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "could not send notifications");
                    break;
                }
            }
        }
    }
}
