//! The transports of notifications — an SMS gateway over HTTP and e-mail over SMTP — and the loop that derives
//! and sends them (what is sent to whom, and the retries, are `hcp_app::notifications`).

use std::time::Duration;

use hcp_app::App;
use hcp_app::notifications::{Notifier, Outgoing, SEND_BATCH, SendResult, Transport, derive, send_due};

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

/// Derives and sends every `interval` until the process ends.
pub async fn run(app: App, notifier: Notifier, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match derive(&app).await {
                Ok((_, true)) => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "could not derive notifications");
                    break;
                }
            }
        }
        loop {
            match send_due(&app, &notifier).await {
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
