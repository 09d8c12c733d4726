//! A fake provincial platform that holds the contract as strictly as a real one: it checks the tenancy, decrypts
//! the sign and checks the time and the application, decrypts every record, checks every field, the order
//! (no evaluation without its service, no step before the one it follows) and answers duplicates with the
//! national `…数据不可重复`. It keeps what it holds, in memory and, when given a file, on disk (one JSON line per
//! record), so that it survives a restart.
//!
//! Failure modes are switched over HTTP (`POST /_control/mode`) or in process ([`FakeProvince::set_mode`]):
//! down (503), server errors (500), slow answers (stored, then answered after a delay), answers lost after
//! storing (stored, then 504), every record answered as a duplicate, and refusal of the records of one matter.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use axum::{Json, Router};
use hcp_domain::Timestamp;
use hcp_domain::province::{Identity, Op, Record, parse_envelope_time};
use serde::{Deserialize, Serialize};

use crate::envelope::{PrivateKey, RecordResult, Request, Response, ResponseBody};

/// How the fake province behaves now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Mode {
    Normal,
    /// 503 to everything
    Down,
    /// 500 to everything
    ServerError,
    /// stores, then answers after `ms` milliseconds (past the sender's time-out, if longer)
    Slow {
        ms: u64,
    },
    /// stores, then answers 504 as if the answer was lost on the way
    LoseAnswer,
    /// stores, and answers every record `…数据不可重复`
    DuplicateAnswers,
    /// refuses every record of this matter (`projectNo`) with a field error
    Refuse {
        project_no: String,
    },
}

/// The province's credentials for one county.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub key: PrivateKey,
    pub app_mark: String,
    pub app_word: String,
    pub tenancy: String,
}

#[derive(Default)]
struct Held {
    /// identity key → the record's JSON text
    records: BTreeMap<String, String>,
    /// identities of rectification steps per `(projectNo, serviceNumber, assessNumber)`, to check their order
    steps: HashSet<String>,
    requests: u64,
    refused: u64,
    duplicates: u64,
}

struct Inner {
    tenant: Tenant,
    mode: Mutex<Mode>,
    held: Mutex<Held>,
    file: Option<PathBuf>,
}

/// A running fake province's state, shared with its routes.
#[derive(Clone)]
pub struct FakeProvince(Arc<Inner>);

/// What the fake province holds, for tests and the control endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holdings {
    pub services: usize,
    pub evaluations: usize,
    pub rectifications: usize,
    pub requests: u64,
    pub refused: u64,
    /// records answered `…数据不可重复` because they were held already (sent twice)
    pub duplicates: u64,
}

impl FakeProvince {
    /// A fake province for `tenant`; with `file`, what it held before is read back and what it takes is added.
    pub fn new(tenant: Tenant, file: Option<PathBuf>) -> Result<Self, String> {
        let mut held = Held::default();
        if let Some(f) = &file
            && let Ok(text) = std::fs::read_to_string(f)
        {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("{}: {e}", f.display()))?;
                let (Some(key), Some(record)) = (v["id"].as_str(), v["record"].as_str()) else { continue };
                if key.starts_with("rectification|") {
                    held.steps.insert(key.to_string());
                }
                held.records.insert(key.to_string(), record.to_string());
            }
        }
        Ok(FakeProvince(Arc::new(Inner { tenant, mode: Mutex::new(Mode::Normal), held: Mutex::new(held), file })))
    }

    pub fn set_mode(&self, mode: Mode) {
        if let Ok(mut m) = self.0.mode.lock() {
            *m = mode;
        }
    }

    pub fn mode(&self) -> Mode {
        self.0.mode.lock().map(|m| m.clone()).unwrap_or(Mode::Normal)
    }

    pub fn holdings(&self) -> Holdings {
        let Ok(h) = self.0.held.lock() else { return Holdings::default() };
        let count = |p: &str| h.records.keys().filter(|k| k.starts_with(p)).count();
        Holdings {
            services: count("service|"),
            evaluations: count("evaluation|"),
            rectifications: count("rectification|"),
            requests: h.requests,
            refused: h.refused,
            duplicates: h.duplicates,
        }
    }

    /// Every identity held, in key order.
    pub fn keys(&self) -> Vec<String> {
        self.0.held.lock().map(|h| h.records.keys().cloned().collect()).unwrap_or_default()
    }

    /// The JSON text of a record held.
    pub fn record(&self, key: &str) -> Option<String> {
        self.0.held.lock().ok().and_then(|h| h.records.get(key).cloned())
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/_control/mode", post(set_mode).get(get_mode))
            .route("/_control/held", get(held))
            .route("/{operation}", post(operation))
            .with_state(self.clone())
    }

    /// Serves on `listener` until the process ends.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }

    /// Checks a request and takes its records; `Err` is an answer refusing the request as a whole.
    fn take(&self, op: Op, headers: &HeaderMap, request: &Request) -> Result<Vec<RecordResult>, (String, String)> {
        let t = &self.0.tenant;
        let refuse = |code: &str, desc: &str| (code.to_string(), desc.to_string());
        if headers.get("C-Tenancy-Id").and_then(|v| v.to_str().ok()) != Some(t.tenancy.as_str()) {
            return Err(refuse("E401", "租户标识不正确"));
        }
        let body = &request.body;
        if body.app_mark != t.app_mark {
            return Err(refuse("E402", "应用标识不存在"));
        }
        let sign = t.key.decrypt_hex(&body.sign).map_err(|_| refuse("E403", "签名验证失败"))?;
        if sign != format!("{}{}{}", body.time, t.app_mark, t.app_word).as_bytes() {
            return Err(refuse("E403", "签名验证失败"));
        }
        let sent = parse_envelope_time(&body.time).ok_or_else(|| refuse("E404", "请求时间格式不正确"))?;
        if (sent.micros() - Timestamp::now().micros()).abs() > 300_000_000 {
            return Err(refuse("E404", "请求时间超出允许范围"));
        }
        if body.params.records.is_empty() || body.params.records.len() > 100 {
            return Err(refuse("E405", "每次应提交 1–100 条记录"));
        }
        let refuse_matter = match self.mode() {
            Mode::Refuse { project_no } => Some(project_no),
            _ => None,
        };
        let all_duplicates = self.mode() == Mode::DuplicateAnswers;
        // Decrypting and reading the records needs nothing held: done before taking the lock.
        let read: Vec<Result<(Identity, String), String>> =
            body.params.records.iter().map(|cipher| read_record(&t.key, op, cipher, refuse_matter.as_deref())).collect();
        let mut held = self.0.held.lock().map_err(|_| refuse("E500", "内部错误"))?;
        held.requests += 1;
        let mut results = Vec::with_capacity(body.params.records.len());
        let mut new_lines = Vec::new();
        for r in read {
            let r = r.and_then(|(id, text)| in_order(op, &id, &held).map(|()| (id, text)));
            let result = match r {
                Ok((id, text)) => {
                    let key = id.key();
                    if held.records.contains_key(&key) {
                        held.duplicates += 1;
                        RecordResult { ok: false, desc: Some(duplicate(op).into()) }
                    } else {
                        if op == Op::Rectification {
                            held.steps.insert(key.clone());
                        }
                        new_lines.push(serde_json::json!({ "id": key, "record": text }).to_string());
                        held.records.insert(key, text);
                        if all_duplicates {
                            RecordResult { ok: false, desc: Some(duplicate(op).into()) }
                        } else {
                            RecordResult { ok: true, desc: None }
                        }
                    }
                }
                Err(desc) => {
                    held.refused += 1;
                    RecordResult { ok: false, desc: Some(desc) }
                }
            };
            results.push(result);
        }
        if let Some(f) = &self.0.file
            && !new_lines.is_empty()
        {
            let written = std::fs::OpenOptions::new().create(true).append(true).open(f).and_then(|mut file| {
                file.write_all((new_lines.join("\n") + "\n").as_bytes())?;
                file.sync_data()
            });
            if let Err(e) = written {
                tracing::error!(error = %e, "the fake province could not keep what it took");
            }
        }
        Ok(results)
    }
}

fn duplicate(op: Op) -> &'static str {
    match op {
        Op::Service => "办件数据不可重复",
        Op::Evaluation => "评价数据不可重复",
        Op::Rectification => "整改数据不可重复",
    }
}

/// One record's own checks: readable, well-formed, every field valid.
fn read_record(key: &PrivateKey, op: Op, cipher: &str, refuse_matter: Option<&str>) -> Result<(Identity, String), String> {
    let plain = key.decrypt_hex(cipher).map_err(|_| "记录解密失败".to_string())?;
    let text = String::from_utf8(plain).map_err(|_| "记录不是 UTF-8 文本".to_string())?;
    let record = Record::from_json(op, &text)?;
    let problems = record.problems();
    if !problems.is_empty() {
        return Err(format!("字段校验失败：{}", problems.join("；")));
    }
    let id = record.identity();
    if refuse_matter == Some(id.project_no.as_str()) {
        return Err("字段校验失败：deptCode 与办件所属部门不一致".into());
    }
    Ok((id, text))
}

/// The order: no evaluation without its service, no step before the one it follows (a record already held is
/// a duplicate, whatever came before it).
fn in_order(op: Op, id: &Identity, held: &Held) -> Result<(), String> {
    if !held.records.contains_key(&id.key())
        && let Some(after) = id.after()
        && !held.records.contains_key(&after.key())
    {
        return Err(match (op, after.op) {
            (Op::Evaluation, Op::Service) => "没有对应的服务数据".into(),
            (Op::Evaluation, _) => "没有对应的首次评价数据".into(),
            (_, Op::Evaluation) => "没有对应的评价数据".into(),
            _ => format!("整改环节顺序不正确：缺少第 {} 步", after.step_no),
        });
    }
    Ok(())
}

fn answer(code: &str, desc: &str, results: Vec<RecordResult>) -> HttpResponse {
    Json(Response { code: code.into(), desc: desc.into(), body: ResponseBody { results } }).into_response()
}

async fn operation(
    State(p): State<FakeProvince>,
    Path(operation): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> HttpResponse {
    let mode = p.mode();
    match mode {
        Mode::Down => return (StatusCode::SERVICE_UNAVAILABLE, "省级平台维护中").into_response(),
        Mode::ServerError => return (StatusCode::INTERNAL_SERVER_ERROR, "内部错误").into_response(),
        _ => {}
    }
    let Some(op) = Op::parse(&operation).filter(|o| o.operation() == operation) else {
        return (StatusCode::NOT_FOUND, "接口不存在").into_response();
    };
    let request: Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(_) => return answer("E400", "请求格式不正确", Vec::new()),
    };
    // Checking decrypts every record: off the async workers.
    let checked = {
        let p = p.clone();
        tokio::task::spawn_blocking(move || p.take(op, &headers, &request)).await
    };
    let results = match checked {
        Ok(Ok(results)) => results,
        Ok(Err((code, desc))) => return answer(&code, &desc, Vec::new()),
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "内部错误").into_response(),
    };
    match mode {
        Mode::Slow { ms } => tokio::time::sleep(Duration::from_millis(ms)).await,
        Mode::LoseAnswer => return (StatusCode::GATEWAY_TIMEOUT, "").into_response(),
        _ => {}
    }
    answer("0000", "success", results)
}

async fn set_mode(State(p): State<FakeProvince>, Json(mode): Json<Mode>) -> Json<Mode> {
    p.set_mode(mode.clone());
    Json(mode)
}

async fn get_mode(State(p): State<FakeProvince>) -> Json<Mode> {
    Json(p.mode())
}

async fn held(State(p): State<FakeProvince>) -> Json<serde_json::Value> {
    let h = p.holdings();
    Json(serde_json::json!({ "holdings": h, "keys": p.keys() }))
}
