//! The county's side of the wire: encrypts each record and the sign under the province's key, posts one
//! operation's batch, and reads the answer. Anything but a `success` answer with one result per record means
//! nothing in the request counted.

use std::time::Duration;

use hcp_app::province::{Answer, BoxFuture, Gateway};
use hcp_domain::Timestamp;
use hcp_domain::province::{Op, envelope_time};

use crate::envelope::{Params, PublicKey, Request, RequestBody, Response};

/// How to reach the province (`PROVINCE.md`, "Configuration").
#[derive(Clone)]
pub struct LinkConfig {
    pub url: String,
    pub public_key: PublicKey,
    pub app_mark: String,
    /// a secret: never logged (`Debug` leaves it out)
    pub app_word: String,
    pub tenancy: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for LinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkConfig")
            .field("url", &self.url)
            .field("app_mark", &self.app_mark)
            .field("tenancy", &self.tenancy)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Checks of the link's settings, with messages an administrator can act on.
pub fn check_tenancy(t: &str) -> Result<(), String> {
    if t.len() == 12 && t.bytes().all(|b| b.is_ascii_digit()) { Ok(()) } else { Err("C-Tenancy-Id 应为 12 位数字".into()) }
}

/// The county's 行政区划代码 as 12 digits (6 digits are padded with zeros).
pub fn area_code_12(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err("行政区划代码应为数字".into());
    }
    match raw.len() {
        6 => Ok(format!("{raw}000000")),
        12 => Ok(raw.to_string()),
        _ => Err("行政区划代码应为 6 位或 12 位数字".into()),
    }
}

pub struct HttpGateway {
    config: LinkConfig,
    client: reqwest::Client,
}

impl HttpGateway {
    pub fn new(config: LinkConfig) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| format!("无法创建 HTTP 客户端：{e}"))?;
        Ok(HttpGateway { config, client })
    }

    /// The request for `records` (JSON texts), encrypted. SM2 costs a few scalar multiplications per record:
    /// done off the async workers.
    pub async fn seal(&self, records: &[String]) -> Result<Request, String> {
        let key = self.config.public_key.clone();
        let time = envelope_time(Timestamp::now());
        let sign_plain = format!("{time}{}{}", self.config.app_mark, self.config.app_word);
        let texts = records.to_vec();
        let (sign, records) = tokio::task::spawn_blocking(move || -> Result<(String, Vec<String>), String> {
            let sign = key.encrypt_hex(sign_plain.as_bytes())?;
            let records = texts.iter().map(|t| key.encrypt_hex(t.as_bytes())).collect::<Result<Vec<_>, _>>()?;
            Ok((sign, records))
        })
        .await
        .map_err(|e| format!("加密任务失败：{e}"))??;
        Ok(Request {
            body: RequestBody { time, app_mark: self.config.app_mark.clone(), sign, params: Params { records } },
            comm: serde_json::Map::new(),
        })
    }

    async fn post(&self, op: Op, records: &[String]) -> Result<Vec<Answer>, String> {
        let request = self.seal(records).await?;
        let url = format!("{}/{}", self.config.url.trim_end_matches('/'), op.operation());
        let res = self
            .client
            .post(&url)
            .header("C-Tenancy-Id", &self.config.tenancy)
            .header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8")
            .json(&request)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() { "省级平台应答超时".to_string() } else { format!("无法连接省级平台：{}", short(&e)) }
            })?;
        let status = res.status();
        if !status.is_success() {
            return Err(format!("省级平台返回 HTTP {}", status.as_u16()));
        }
        let answer: Response = res.json().await.map_err(|e| format!("省级平台应答无法解析：{}", short(&e)))?;
        if answer.desc != "success" {
            return Err(format!("省级平台拒绝请求：{}（{}）", answer.desc, answer.code));
        }
        if answer.body.results.len() != records.len() {
            return Err(format!("省级平台返回 {} 条结果，发送了 {} 条", answer.body.results.len(), records.len()));
        }
        Ok(answer.body.results.iter().map(|r| Answer::from_result(r.ok, r.desc.as_deref())).collect())
    }
}

/// An error's message without the URL's query or anything else reqwest appends.
fn short(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(i) = s.find(" for url") {
        s.truncate(i);
    }
    s
}

impl Gateway for HttpGateway {
    fn send<'a>(&'a self, op: Op, records: &'a [String]) -> BoxFuture<'a, Result<Vec<Answer>, String>> {
        Box::pin(self.post(op, records))
    }
}
