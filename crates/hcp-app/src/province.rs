//! The provincial link's use cases: drain the outbox in the contract's order (services, then evaluations, then
//! case steps; each record only after the one it depends on was delivered), in batches, with leases so that any
//! number of nodes can drain one database; status, replay and reconciliation for administrators.
//!
//! The wire (SM2 envelope, HTTP) is an adapter behind [`Gateway`]; the records' content is decided here from the
//! stored data, and what each ledger entry becomes is decided in `hcp_domain::province`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;

use hcp_domain::access::Act;
use hcp_domain::case_event::{EventDetail, EventKind};
use hcp_domain::master::MasterData;
use hcp_domain::province::{EvaluationRecord, Identity, Op, Origin, Record, ServiceRecord, Source, Step, StepRecord, record_time};
use hcp_domain::records::{Case, CaseEvent, Rating};
use hcp_domain::{BizDay, Timestamp};
use hcp_storage::matters::{Matter, Service};
use hcp_storage::province::{Claimed, Delivery, LinkStatus};

use crate::{App, AppError, AppResult, Caller};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How the province answered one record of a request that it accepted as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    /// `…数据不可重复`: the province holds it already; it counts as delivered.
    Duplicate(String),
    Refused(String),
}

impl Answer {
    /// Reads a per-record result of the contract: `ok`, or a `desc` that is the national duplicate answer.
    pub fn from_result(ok: bool, desc: Option<&str>) -> Answer {
        match (ok, desc) {
            (true, _) => Answer::Accepted,
            (false, Some(d)) if d.contains("数据不可重复") => Answer::Duplicate(d.to_string()),
            (false, d) => Answer::Refused(d.unwrap_or("未说明原因").to_string()),
        }
    }
}

/// The provincial gateway, as the use cases see it: send records of one operation, get one answer per record,
/// or an error meaning nothing in the request counted (down, 5xx, time-out, a refused sign or time).
pub trait Gateway: Send + Sync {
    fn send<'a>(&'a self, op: Op, records: &'a [String]) -> BoxFuture<'a, Result<Vec<Answer>, String>>;
}

/// What one drain pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drained {
    pub planned: usize,
    pub delivered: usize,
    pub duplicates: usize,
    pub rejected: usize,
    /// the failure that ended the pass early (records of the failed request go back to the queue)
    pub failure: Option<String>,
}

/// How a node drains.
#[derive(Debug, Clone)]
pub struct DrainSettings {
    /// records per request (1–100)
    pub batch: usize,
    /// how long a claim is held before another node may take it over
    pub lease_secs: i64,
    /// records sent in one pass at most (the worker loops)
    pub max_records: usize,
}

impl Default for DrainSettings {
    fn default() -> Self {
        DrainSettings { batch: 50, lease_secs: 120, max_records: 20_000 }
    }
}

/// Plans what the ledger holds beyond the cursor, then sends what is due, op by op in the contract's order,
/// until nothing is claimable, `max_records` were sent, or a request fails.
#[tracing::instrument(skip_all)]
pub async fn drain(app: &App, gateway: &dyn Gateway, s: &DrainSettings) -> AppResult<Drained> {
    let mut out = Drained::default();
    loop {
        let n = app.db.plan_province(1000, Timestamp::now()).await?;
        out.planned += n;
        if n < 1000 || out.planned >= s.max_records * 4 {
            break;
        }
    }
    app.db.release_province_leases(Timestamp::now()).await?;
    let token = uuid::Uuid::now_v7().to_string();
    let mut sent = 0;
    'ops: for op in Op::ALL {
        while sent < s.max_records {
            let claimed =
                app.db.claim_province(op, s.batch.clamp(1, 100) as i64, s.lease_secs * 1_000_000, &token, Timestamp::now()).await?;
            if claimed.is_empty() {
                break;
            }
            sent += claimed.len();
            let built = build(app, &claimed).await?;
            let mut results: Vec<(Identity, Delivery)> = Vec::with_capacity(claimed.len());
            let mut to_send: Vec<(Identity, String)> = Vec::new();
            for (c, record) in claimed.iter().zip(built) {
                match record {
                    Ok(r) => match r.problems() {
                        p if p.is_empty() => to_send.push((c.id.clone(), r.to_json())),
                        p => results.push((c.id.clone(), Delivery::Rejected { reason: format!("本地校验未通过：{}", p.join("；")) })),
                    },
                    Err(why) => results.push((c.id.clone(), Delivery::Rejected { reason: why })),
                }
            }
            let texts: Vec<String> = to_send.iter().map(|(_, t)| t.clone()).collect();
            let answer = if texts.is_empty() { Ok(Vec::new()) } else { gateway.send(op, &texts).await };
            match answer {
                Ok(answers) if answers.len() == texts.len() => {
                    for ((id, _), a) in to_send.into_iter().zip(answers) {
                        results.push((
                            id,
                            match a {
                                Answer::Accepted => Delivery::Delivered { note: None },
                                Answer::Duplicate(d) => Delivery::Delivered { note: Some(d) },
                                // The province's words, with any phone or ID number it echoes masked.
                                Answer::Refused(reason) => Delivery::Rejected { reason: hcp_domain::person::redact_numbers(&reason) },
                            },
                        ));
                    }
                }
                Ok(answers) => {
                    let why = format!("省级平台返回 {} 条结果，发送了 {} 条", answers.len(), texts.len());
                    results.extend(to_send.into_iter().map(|(id, _)| (id, Delivery::Retry)));
                    out.failure = Some(why);
                }
                Err(why) => {
                    results.extend(to_send.into_iter().map(|(id, _)| (id, Delivery::Retry)));
                    out.failure = Some(hcp_domain::person::redact_numbers(&why));
                }
            }
            for (_, d) in &results {
                match d {
                    Delivery::Delivered { note: None } => out.delivered += 1,
                    Delivery::Delivered { note: Some(_) } => {
                        out.delivered += 1;
                        out.duplicates += 1;
                    }
                    Delivery::Rejected { .. } => out.rejected += 1,
                    Delivery::Retry => {}
                }
            }
            metrics::counter!("hcp_province_records_total", "op" => op.code(), "result" => "delivered")
                .increment(results.iter().filter(|(_, d)| matches!(d, Delivery::Delivered { .. })).count() as u64);
            metrics::counter!("hcp_province_records_total", "op" => op.code(), "result" => "rejected")
                .increment(results.iter().filter(|(_, d)| matches!(d, Delivery::Rejected { .. })).count() as u64);
            app.db.finish_province(&token, &results, Timestamp::now()).await?;
            if let Some(why) = &out.failure {
                app.db.note_province_error(why, Timestamp::now()).await?;
                break 'ops;
            }
        }
    }
    Ok(out)
}

/// The link's state, for administrators of the county (or the province).
pub async fn status(app: &App, caller: &Caller) -> AppResult<LinkStatus> {
    app.authorize(caller, Act::ManageProvinceLink)?;
    Ok(app.db.province_status().await?)
}

/// Sends rejected records again after a fix: all of them, or those named. Returns how many were queued.
pub async fn replay(app: &App, caller: &Caller, ids: &[String]) -> AppResult<u64> {
    app.authorize(caller, Act::ManageProvinceLink)?;
    replay_as(app, caller.actor(), ids).await
}

/// `replay` for the operator's command line (`actor` goes on the audit trail).
pub async fn replay_as(app: &App, actor: String, ids: &[String]) -> AppResult<u64> {
    let mut parsed = Vec::new();
    for id in ids {
        parsed.push(Identity::parse_key(id).ok_or_else(|| {
            AppError::invalid("invalid_identity", "id", format!("记录标识格式不正确：{id}（应为 op|projectNo|serviceNumber|…）"))
        })?);
    }
    let n = app.db.replay_province(&parsed).await?;
    let target = if ids.is_empty() { "all".to_string() } else { ids.join(" ") };
    crate::session::audit(app, actor, "province_replay", &target, "ok", Some(serde_json::json!({ "queued": n })), None).await;
    Ok(n)
}

/// How what the province says it holds compares with what was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciliation {
    pub matched: usize,
    /// delivered here, missing there
    pub missing_at_province: Vec<String>,
    /// held there, unknown here
    pub unknown_here: Vec<String>,
    /// held there, not yet marked delivered here (a lost answer): counted as delivered by the next send
    pub not_marked_delivered: Vec<String>,
}

/// Compares the identities in a CSV file from the province (`op,projectNo,serviceNumber,assessNumber,stepNo`
/// per line, header optional; `op` as `service|evaluation|rectification` or the operation's name) with the
/// outbox. An operator's command (the file comes from the province's administrators).
pub async fn reconcile(app: &App, csv_text: &str) -> AppResult<Reconciliation> {
    let mut held = BTreeSet::new();
    for (i, line) in csv_text.lines().enumerate() {
        let cells: Vec<&str> = line.split(',').map(|c| c.trim().trim_matches('"')).collect();
        if cells.iter().all(|c| c.is_empty()) || (i == 0 && Op::parse(cells[0]).is_none()) {
            continue;
        }
        let key = match Op::parse(cells[0]) {
            Some(Op::Service) => cells.get(..3).map(|c| c.join("|")),
            Some(Op::Evaluation) => cells.get(..4).map(|c| c.join("|")),
            Some(Op::Rectification) => cells.get(..5).map(|c| c.join("|")),
            None => None,
        };
        let id = key
            .as_deref()
            .and_then(Identity::parse_key)
            .ok_or_else(|| AppError::invalid("invalid_reconciliation_line", "file", format!("第 {} 行无法识别：{line}", i + 1)))?;
        held.insert(id.key());
    }
    let mut out = Reconciliation::default();
    let mut known = BTreeSet::new();
    for (key, state) in app.db.province_states().await? {
        let there = held.contains(&key);
        match (state.as_str(), there) {
            ("delivered", true) => out.matched += 1,
            ("delivered", false) => out.missing_at_province.push(key.clone()),
            (_, true) => out.not_marked_delivered.push(key.clone()),
            (_, false) => {}
        }
        known.insert(key);
    }
    out.unknown_here = held.difference(&known).cloned().collect();
    Ok(out)
}

/// The records for claimed rows, in their order; a row whose data cannot be read is refused with the reason.
async fn build(app: &App, claimed: &[Claimed]) -> AppResult<Vec<Result<Record, String>>> {
    let master = app.master();
    let origin = Origin { area_code: app.config.area_code.clone(), data_source: app.config.data_source.clone() };
    let mut matter_ids = Vec::new();
    let mut rating_ids = Vec::new();
    let mut case_ids = Vec::new();
    let mut event_ids = Vec::new();
    let mut untrue = Vec::new();
    for c in claimed {
        match &c.source {
            Source::Service { matter_id, .. } => matter_ids.push(matter_id.clone()),
            Source::Evaluation { rating_id } => rating_ids.push(rating_id.clone()),
            Source::Step { case_id, ref_id, step } => {
                case_ids.push(case_id.clone());
                match step {
                    Step::Received => {}
                    Step::Untrue => untrue.push(ref_id.clone()),
                    _ => event_ids.push(ref_id.clone()),
                }
            }
        }
    }
    for v in [&mut matter_ids, &mut case_ids] {
        v.sort();
        v.dedup();
    }
    let (matters, services) = app.db.province_services(&matter_ids).await?;
    let matters: HashMap<String, Matter> = matters.into_iter().map(|m| (m.id.clone(), m)).collect();
    let services: HashMap<(String, i64), Service> = services.into_iter().map(|s| ((s.matter_id.clone(), s.seq), s)).collect();
    let mut ratings: HashMap<String, (Rating, String)> =
        app.db.province_ratings(&rating_ids).await?.into_iter().map(|(r, k)| (r.id.clone(), (r, k))).collect();
    // A bad review by key press or SMS reply whose reasons followed it: the record carries them if they came
    // before it was sent (a record once delivered is never altered).
    let awaiting: Vec<String> = ratings.values().filter(|(r, _)| r.reasons.is_empty() && r.level <= 2).map(|(r, _)| r.id.clone()).collect();
    for (rating_id, note) in app.db.reasons_added(&awaiting).await? {
        if let (Some((r, _)), Ok(EventDetail::ReasonsAdded { reasons, .. })) =
            (ratings.get_mut(&rating_id), EventDetail::from_note(EventKind::ReasonsAdded, Some(&note)))
        {
            r.reasons = reasons.join(",");
        }
    }
    let (cases, events) = app.db.province_steps(&case_ids, &event_ids).await?;
    let cases: HashMap<String, (Case, i64)> = cases.into_iter().map(|(c, r)| (c.id.clone(), (c, r))).collect();
    let events: HashMap<String, CaseEvent> = events.into_iter().map(|e| (e.id.clone(), e)).collect();
    let invalidations: HashMap<String, i64> = app.db.invalidation_times(&untrue).await?.into_iter().collect();
    let b = Builder { app, master: &master, origin };
    Ok(claimed
        .iter()
        .map(|c| match &c.source {
            Source::Service { matter_id, service_seq } => {
                let m = matters.get(matter_id).ok_or_else(|| format!("办件 {matter_id} 不存在"))?;
                b.service(m, services.get(&(matter_id.clone(), *service_seq)), *service_seq)
            }
            Source::Evaluation { rating_id } => {
                let (r, kind) = ratings.get(rating_id).ok_or_else(|| format!("评价 {rating_id} 不存在"))?;
                b.evaluation(r, kind)
            }
            Source::Step { case_id, ref_id, step } => {
                let (case, reply_by) = cases.get(case_id).ok_or_else(|| format!("工单 {case_id} 不存在"))?;
                let at = match step {
                    Step::Received => Ok(None),
                    Step::Untrue => invalidations.get(ref_id).map(|t| Some(Err(*t))).ok_or_else(|| format!("不属实标记 {ref_id} 不存在")),
                    _ => events.get(ref_id).map(|e| Some(Ok(e))).ok_or_else(|| format!("工单记录 {ref_id} 不存在")),
                }?;
                b.step(&c.id, case, *reply_by, *step, at)
            }
        })
        .collect())
}

struct Builder<'a> {
    app: &'a App,
    master: &'a MasterData,
    origin: Origin,
}

impl Builder<'_> {
    /// The 统一社会信用代码 of `unit`, or of the nearest unit above it that has one (a hall's sub-centre reports
    /// under the body it belongs to).
    fn credit_code(&self, unit: &str) -> String {
        let mut cur = Some(unit.to_string());
        for _ in 0..64 {
            let Some(u) = cur.as_deref().and_then(|c| self.master.units.get(c)) else { break };
            if let Some(code) = u.credit_code.as_deref().filter(|c| !c.is_empty()) {
                return code.to_string();
            }
            cur = u.parent_code.clone();
        }
        String::new()
    }

    fn unit_name(&self, unit: &str) -> String {
        self.master.units.get(unit).map(|u| u.name.clone()).unwrap_or_default()
    }

    fn reveal(&self, envelope: Option<&Vec<u8>>) -> Result<String, String> {
        match envelope {
            None => Ok(String::new()),
            Some(e) => self.app.secrets.decrypt(e).map_err(|_| "个人信息无法解密（密钥不可用）".to_string()),
        }
    }

    fn service(&self, m: &Matter, occasion: Option<&Service>, seq: i64) -> Result<Record, String> {
        let item = self.master.items.get(&m.item_code);
        let item_name = item.map(|i| i.name.clone()).unwrap_or_else(|| m.item_code.clone());
        let task_type =
            item.map(|i| i.item_type.as_str()).filter(|t| ["01", "05", "07", "08", "09", "10", "20", "99"].contains(t)).unwrap_or("99");
        let (service_name, served) = match (seq, occasion) {
            (0, _) | (_, None) => (item_name.clone(), m.completed_at.unwrap_or(m.accepted_at)),
            (n, Some(s)) => (format!("{item_name}（第 {n} 次服务）"), s.served_at),
        };
        // The staff member at the occasion, else the matter's own 经办人 (handled online).
        let manager = occasion
            .and_then(|s| s.staff_code.as_deref())
            .or(m.details.handler_code.as_deref())
            .and_then(|c| self.master.staff.get(c))
            .map(|s| s.name.clone());
        let legal = m.applicant_kind != "person";
        let d = &m.details;
        // As registered; else, same working day from acceptance to completion: 即办件, otherwise 承诺件.
        let at_once = match d.handling.as_deref() {
            Some(h) => h == "instant",
            None => m.completed_at.is_some_and(|c| c.biz_day() == m.accepted_at.biz_day()),
        };
        let (promise_day, promise_type) = d.promise.unwrap_or((0, 1));
        let (anticipate_day, anticipate_type) = d.legal.unwrap_or((0, 1));
        Ok(Record::Service(ServiceRecord {
            project_no: m.matter_no.clone(),
            service_number: seq,
            service_name,
            service_time: record_time(served),
            task_code: m.item_code.clone(),
            task_name: item_name.clone(),
            task_type: task_type.into(),
            dept_code: self.credit_code(&m.unit_code),
            pro_depart: self.unit_name(&m.unit_code),
            pro_manager: manager.unwrap_or_default(),
            pro_status: if m.completed_at.is_some() { 3 } else { 2 },
            pro_channel: if d.proc_channel.as_deref() == Some("online") { 1 } else { 2 },
            accept_date: record_time(m.accepted_at),
            result_date: m.completed_at.map(record_time).unwrap_or_default(),
            user_name: self.reveal(Some(&m.applicant_name))?,
            user_prop: d.applicant_prop.unwrap_or(if legal { 2 } else { 1 }),
            mobile: self.reveal(m.applicant_phone.as_ref())?,
            project_name: d.project_name.clone().unwrap_or(item_name),
            promise_day,
            promise_type,
            anticipate_day,
            anticipate_type,
            promise_time: if at_once { 1 } else { 2 },
            credit_type: if legal { "001" } else { "111" }.into(),
            credit_num: self.reveal(m.applicant_id.as_ref())?,
            origin: self.origin.clone(),
        }))
    }

    fn evaluation(&self, r: &Rating, applicant_kind: &str) -> Result<Record, String> {
        Ok(Record::Evaluation(EvaluationRecord {
            project_no: r.matter_no.clone(),
            service_number: r.service_seq,
            assess_number: r.assess_number,
            pf: i64::from(self.app.config.pf_codes.code(r.channel)),
            satisfaction: r.level,
            eval_detail: r.reasons.clone(),
            writing_evaluation: r.text.clone().unwrap_or_default(),
            assess_time: record_time(Timestamp(r.rated_at)),
            anonymity_flag: if r.anonymous { 1 } else { 2 },
            user_prop: if applicant_kind == "person" { 1 } else { 2 },
            task_code: r.item_code.clone(),
            dept_code: self.credit_code(&r.unit_code),
            app_status: 1,
            public_flag: 1,
            isdefault: 0,
            effectiv_evalua: 1,
            origin: self.origin.clone(),
        }))
    }

    /// `at`: none for `received` (the case's opening), the event for most steps, the time of the 不属实 mark.
    fn step(&self, id: &Identity, case: &Case, reply_by: i64, step: Step, at: Option<Result<&CaseEvent, i64>>) -> Result<Record, String> {
        let county = self.credit_code(&self.master.top_of(&case.unit_code));
        let unit = self.credit_code(&case.unit_code);
        let day = |d: BizDay| d.to_string();
        let current_reply_by = BizDay::from_key(reply_by).map(day).unwrap_or_default();
        let (time, dept, content, deadline) = match (step, at) {
            (Step::Received, _) | (_, None) => (
                case.opened_at,
                unit,
                format!("{}已受理，交由{}办理", case.kind.label(), self.unit_name(&case.unit_code)),
                day(case.reply_by),
            ),
            (Step::Untrue, Some(Err(t))) | (_, Some(Err(t))) => (t, county, "经复核，该评价不属实，不计入统计".to_string(), String::new()),
            (step, Some(Ok(e))) => {
                let detail = e.detail().map_err(|e| e.message)?;
                let dept = if matches!(step, Step::Overdue) { county } else { unit };
                let content = match step {
                    Step::Closed => "工单办结".to_string(),
                    _ => detail.summary(),
                };
                let deadline = match (step, &detail) {
                    (Step::Extended, EventDetail::Extended { new_reply_by, .. }) => day(*new_reply_by),
                    (Step::Reopened, _) => current_reply_by,
                    _ => String::new(),
                };
                (e.at, dept, content, deadline)
            }
        };
        Ok(Record::Step(StepRecord {
            project_no: id.project_no.clone(),
            service_number: id.service_number,
            assess_number: id.assess_number,
            step_no: id.step_no,
            step: step.code().into(),
            step_time: record_time(Timestamp(time)),
            dept_code: dept,
            content: content.chars().take(2000).collect(),
            deadline,
            origin: self.origin.clone(),
        }))
    }
}

/// Undelivered records by op, for the metrics: `(op, count)`, plus ledger entries not planned yet.
pub fn depth(s: &LinkStatus) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = Op::ALL.iter().map(|o| (format!("province_{}", o.code()), 0)).collect();
    out.insert("province_unplanned".into(), s.unplanned);
    out.insert("province_rejected".into(), 0);
    for (op, state, n) in &s.counts {
        match state.as_str() {
            "pending" | "sending" | "blocked" => *out.entry(format!("province_{op}")).or_insert(0) += n,
            "rejected" => *out.entry("province_rejected".into()).or_insert(0) += n,
            _ => {}
        }
    }
    out
}

/// How the link looks to the county's administrators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// records arrive
    Good,
    /// no link configured, or records refused: somebody must act, nothing is lost
    Attention,
    /// the province fails and undelivered records are getting old
    Failing,
}

impl Health {
    pub fn label(self) -> &'static str {
        match self {
            Health::Good => "正常",
            Health::Attention => "需处理",
            Health::Failing => "异常",
        }
    }
}

/// The link's health and a sentence saying why. Undelivered records older than ten minutes while the last
/// request failed mean the province has not been reached for that long.
pub fn health(s: &LinkStatus, configured: bool, now: Timestamp) -> (Health, String) {
    if !configured {
        return (
            Health::Attention,
            format!("未配置省级平台（--province-url）：{} 条账本记录在本地保存，配置后自动按顺序补报。", s.unplanned),
        );
    }
    let failing_since = s.last_error.as_ref().map(|(_, at)| *at).filter(|at| s.last_success.is_none_or(|ok| *at > ok));
    let stale = s.oldest_undelivered.as_ref().is_some_and(|(_, at)| now.micros() - at > 600_000_000);
    match (failing_since, stale, s.rejects.is_empty()) {
        (Some(_), true, _) => (
            Health::Failing,
            format!(
                "省级平台连续未能接收：{}。记录保存在本地，恢复后自动补报。",
                s.last_error.as_ref().map(|e| e.0.as_str()).unwrap_or("")
            ),
        ),
        (_, _, false) => (Health::Attention, format!("有 {} 条记录被省级平台拒收，请核对原因、修正后重新发送。", s.rejects.len())),
        _ => (Health::Good, "记录正常报送。".into()),
    }
}
