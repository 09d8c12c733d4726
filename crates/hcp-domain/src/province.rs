//! The provincial link's rules (`PROVINCE.md`): which records each ledger entry becomes, their identities and
//! the order they must reach the province in, the records' fields and codes, and the checks a receiver makes.
//! The county's sender and the fake province in the repository both use these types, so they agree by
//! construction; the wire envelope (SM2) is the adapter's business.

use serde::{Deserialize, Serialize};

use crate::case_event::EventKind;
use crate::case_flow::CaseState;
use crate::cases::CaseKind;
use crate::channel::Channel;
use crate::timestamp::Timestamp;

/// The three operations, each carrying records of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// 办件服务: one per matter × service occasion
    Service,
    /// 评价: one per rating (追评 included)
    Evaluation,
    /// 差评整改: one per step of a case
    Rectification,
}

impl Op {
    pub const ALL: [Op; 3] = [Op::Service, Op::Evaluation, Op::Rectification];

    /// As stored in the outbox.
    pub fn code(self) -> &'static str {
        match self {
            Op::Service => "service",
            Op::Evaluation => "evaluation",
            Op::Rectification => "rectification",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.code() == s || o.operation() == s)
    }

    /// The path of the operation at the provincial gateway.
    pub fn operation(self) -> &'static str {
        match self {
            Op::Service => "addEvaluateService",
            Op::Evaluation => "addEvaluate",
            Op::Rectification => "addRectification",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Op::Service => "办件服务",
            Op::Evaluation => "评价",
            Op::Rectification => "差评整改",
        }
    }
}

/// The steps of a case's handling, as the province names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Received,
    Responded,
    Callback,
    Outcome,
    Extended,
    Replied,
    Verdict,
    Reopened,
    Appeal,
    Untrue,
    Closed,
    Overdue,
}

impl Step {
    pub const ALL: [Step; 12] = [
        Step::Received,
        Step::Responded,
        Step::Callback,
        Step::Outcome,
        Step::Extended,
        Step::Replied,
        Step::Verdict,
        Step::Reopened,
        Step::Appeal,
        Step::Untrue,
        Step::Closed,
        Step::Overdue,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Step::Received => "received",
            Step::Responded => "responded",
            Step::Callback => "callback",
            Step::Outcome => "outcome",
            Step::Extended => "extended",
            Step::Replied => "replied",
            Step::Verdict => "verdict",
            Step::Reopened => "reopened",
            Step::Appeal => "appeal",
            Step::Untrue => "untrue",
            Step::Closed => "closed",
            Step::Overdue => "overdue",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == s)
    }

    /// Steps that carry the case's new reply deadline.
    pub fn has_deadline(self) -> bool {
        matches!(self, Step::Received | Step::Extended | Step::Reopened)
    }

    /// The steps a case event is reported as: none for internal ones (reminders, the first-instance opinion of
    /// a 复核, the opening event, which the case's own record reports as `received`), and `closed` after
    /// whatever step closed the case.
    pub fn for_event(kind: EventKind, state_after: CaseState) -> Vec<Step> {
        let step = match kind {
            EventKind::Opened | EventKind::DueWarning | EventKind::AppealOpinion | EventKind::AppealDecided => None,
            // Reasons that follow a key press or SMS reply change nothing of the handling.
            EventKind::ReasonsAdded => return Vec::new(),
            // A deadline recomputed on a newly loaded holiday notice is the calendar's correction, not a step
            // of the handling (the province computes its own deadlines on its own calendar).
            EventKind::DeadlinesRecomputed => return Vec::new(),
            // The case closed into another is reported closed; the one that carries on, and the 台账's own
            // steps after the reply, change nothing the province was told.
            EventKind::Merged => None,
            EventKind::MergedIn | EventKind::RectificationProgress | EventKind::RectificationOverdue | EventKind::RectificationDone => {
                return Vec::new();
            }
            EventKind::Responded => Some(Step::Responded),
            EventKind::Callback => Some(Step::Callback),
            EventKind::Outcome => Some(Step::Outcome),
            EventKind::Extended => Some(Step::Extended),
            EventKind::Replied => Some(Step::Replied),
            EventKind::Verdict if state_after == CaseState::Responded => Some(Step::Reopened),
            EventKind::Verdict => Some(Step::Verdict),
            EventKind::Overdue => Some(Step::Overdue),
            EventKind::AppealApplied => Some(Step::Appeal),
        };
        let mut out: Vec<Step> = step.into_iter().collect();
        if state_after == CaseState::Closed && kind != EventKind::Opened {
            out.push(Step::Closed);
        }
        out
    }
}

/// A record's identity, on which the province deduplicates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    pub op: Op,
    pub project_no: String,
    pub service_number: i64,
    pub assess_number: i64,
    pub step_no: i64,
}

impl Identity {
    pub fn service(project_no: &str, service_number: i64) -> Self {
        Identity { op: Op::Service, project_no: project_no.into(), service_number, assess_number: 0, step_no: 0 }
    }

    pub fn evaluation(project_no: &str, service_number: i64, assess_number: i64) -> Self {
        Identity { op: Op::Evaluation, project_no: project_no.into(), service_number, assess_number, step_no: 0 }
    }

    pub fn step(project_no: &str, service_number: i64, assess_number: i64, step_no: i64) -> Self {
        Identity { op: Op::Rectification, project_no: project_no.into(), service_number, assess_number, step_no }
    }

    /// The stored key: `service|projectNo|serviceNumber`, `evaluation|…|assessNumber`, `rectification|…|stepNo`.
    pub fn key(&self) -> String {
        match self.op {
            Op::Service => format!("service|{}|{}", self.project_no, self.service_number),
            Op::Evaluation => format!("evaluation|{}|{}|{}", self.project_no, self.service_number, self.assess_number),
            Op::Rectification => {
                format!("rectification|{}|{}|{}|{}", self.project_no, self.service_number, self.assess_number, self.step_no)
            }
        }
    }

    /// Reads a key back (as written by [`Identity::key`], or a row of a reconciliation file joined with `|`).
    pub fn parse_key(key: &str) -> Option<Self> {
        let parts: Vec<&str> = key.trim().split('|').map(str::trim).collect();
        let num = |i: usize| parts.get(i).and_then(|s| s.parse::<i64>().ok());
        let op = Op::parse(parts.first()?)?;
        let project_no = parts.get(1).filter(|p| !p.is_empty())?;
        match (op, parts.len()) {
            (Op::Service, 3) => Some(Identity::service(project_no, num(2)?)),
            (Op::Evaluation, 4) => Some(Identity::evaluation(project_no, num(2)?, num(3)?)),
            (Op::Rectification, 5) => Some(Identity::step(project_no, num(2)?, num(3)?, num(4)?)),
            _ => None,
        }
    }

    /// The record that must have been delivered before this one: the service before its evaluation, the first
    /// rating before its 追评, the evaluation before a case's first step, each step before the next. A
    /// complaint's first step depends on nothing.
    pub fn after(&self) -> Option<Identity> {
        match self.op {
            Op::Service => None,
            Op::Evaluation if self.assess_number > 1 => {
                Some(Identity::evaluation(&self.project_no, self.service_number, self.assess_number - 1))
            }
            Op::Evaluation => Some(Identity::service(&self.project_no, self.service_number)),
            Op::Rectification if self.step_no > 1 => {
                Some(Identity::step(&self.project_no, self.service_number, self.assess_number, self.step_no - 1))
            }
            Op::Rectification if self.assess_number == 0 => None,
            Op::Rectification => Some(Identity::evaluation(&self.project_no, self.service_number, self.assess_number)),
        }
    }
}

/// What a case's reports refer to: the rating that opened it, or the complaint it carries. Cases opened by an
/// inspection have no record at the province and are not reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Rating { matter_no: String, service_seq: i64, assess_number: i64, channel: Channel },
    Complaint { complaint_id: String },
    Unreported,
}

impl Subject {
    pub fn of_case(kind: CaseKind, rating: Option<(String, i64, i64, Channel)>, complaint_id: Option<String>) -> Self {
        match (kind, rating, complaint_id) {
            (_, Some((matter_no, service_seq, assess_number, channel)), _) => {
                Subject::Rating { matter_no, service_seq, assess_number, channel }
            }
            (CaseKind::Complaint | CaseKind::Suggestion, None, Some(complaint_id)) => Subject::Complaint { complaint_id },
            _ => Subject::Unreported,
        }
    }

    /// `(projectNo, serviceNumber, assessNumber)` of the case's steps, if it is reported at all. Ratings that
    /// came from the province are not reported back, nor are their cases.
    fn key(&self) -> Option<(String, i64, i64)> {
        match self {
            Subject::Rating { channel: Channel::Province, .. } | Subject::Unreported => None,
            Subject::Rating { matter_no, service_seq, assess_number, .. } => Some((matter_no.clone(), *service_seq, *assess_number)),
            Subject::Complaint { complaint_id } => Some((complaint_id.clone(), 0, 0)),
        }
    }
}

/// What the planner needs to know of one ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryFacts {
    Rating {
        rating_id: String,
        matter_id: String,
        matter_no: String,
        service_seq: i64,
        assess_number: i64,
        channel: Channel,
    },
    CaseOpened {
        case_id: String,
        subject: Subject,
    },
    CaseEvent {
        case_id: String,
        event_id: String,
        kind: EventKind,
        state_after: CaseState,
        subject: Subject,
    },
    RatingInvalidated {
        case_id: String,
        rating_id: String,
        subject: Subject,
    },
    /// complaints (their case reports them), inspections
    Unreported,
}

/// Where a record's content comes from when it is built for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Service {
        matter_id: String,
        service_seq: i64,
    },
    Evaluation {
        rating_id: String,
    },
    /// `ref_id`: the case (for `received`), the event, or the rating found untrue
    Step {
        case_id: String,
        ref_id: String,
        step: Step,
    },
}

/// One record to send, as planned from the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub id: Identity,
    pub source: Source,
}

/// The records one ledger entry becomes, in order. `next_step` gives the next step number of a case (1 for its
/// first step) and counts it; a service record is planned with every rating and deduplicated on its identity.
pub fn plan(facts: &EntryFacts, next_step: &mut dyn FnMut(&str) -> i64) -> Vec<Planned> {
    let mut steps = |case_id: &str, subject: &Subject, ref_id: &str, steps: &[Step]| -> Vec<Planned> {
        let Some((project_no, service, assess)) = subject.key() else { return Vec::new() };
        steps
            .iter()
            .map(|&step| Planned {
                id: Identity::step(&project_no, service, assess, next_step(case_id)),
                source: Source::Step { case_id: case_id.into(), ref_id: ref_id.into(), step },
            })
            .collect()
    };
    match facts {
        EntryFacts::Rating { channel: Channel::Province, .. } | EntryFacts::Unreported => Vec::new(),
        EntryFacts::Rating { rating_id, matter_id, matter_no, service_seq, assess_number, .. } => vec![
            Planned {
                id: Identity::service(matter_no, *service_seq),
                source: Source::Service { matter_id: matter_id.clone(), service_seq: *service_seq },
            },
            Planned {
                id: Identity::evaluation(matter_no, *service_seq, *assess_number),
                source: Source::Evaluation { rating_id: rating_id.clone() },
            },
        ],
        EntryFacts::CaseOpened { case_id, subject } => steps(case_id, subject, case_id, &[Step::Received]),
        EntryFacts::CaseEvent { case_id, event_id, kind, state_after, subject } => {
            steps(case_id, subject, event_id, &Step::for_event(*kind, *state_after))
        }
        EntryFacts::RatingInvalidated { case_id, rating_id, subject } => steps(case_id, subject, rating_id, &[Step::Untrue]),
    }
}

/// `yyyy-MM-dd HH:mm:ss` in Asia/Shanghai, as the records carry times.
pub fn record_time(t: Timestamp) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    t.to_datetime().to_offset(crate::timestamp::SHANGHAI).format(&fmt).unwrap_or_default()
}

/// `yyyyMMddHHmmss` in Asia/Shanghai: the envelope's `time`.
pub fn envelope_time(t: Timestamp) -> String {
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]");
    t.to_datetime().to_offset(crate::timestamp::SHANGHAI).format(&fmt).unwrap_or_default()
}

/// Reads an envelope `time` back.
pub fn parse_envelope_time(raw: &str) -> Option<Timestamp> {
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]");
    let dt = time::PrimitiveDateTime::parse(raw, &fmt).ok()?;
    Some(Timestamp::from_datetime(dt.assume_offset(crate::timestamp::SHANGHAI)))
}

/// The fields every record carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Origin {
    /// 12 digits
    pub area_code: String,
    /// 3 digits
    pub data_source: String,
}

/// 办件服务 (`addEvaluateService`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceRecord {
    pub project_no: String,
    pub service_number: i64,
    pub service_name: String,
    pub service_time: String,
    pub task_code: String,
    pub task_name: String,
    pub task_type: String,
    pub dept_code: String,
    pub pro_depart: String,
    pub pro_manager: String,
    pub pro_status: i64,
    pub pro_channel: i64,
    pub accept_date: String,
    pub result_date: String,
    pub user_name: String,
    pub user_prop: i64,
    pub mobile: String,
    pub project_name: String,
    pub promise_day: i64,
    pub promise_type: i64,
    pub anticipate_day: i64,
    pub anticipate_type: i64,
    pub promise_time: i64,
    pub credit_type: String,
    pub credit_num: String,
    #[serde(flatten)]
    pub origin: Origin,
}

/// 评价 (`addEvaluate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvaluationRecord {
    pub project_no: String,
    pub service_number: i64,
    pub assess_number: i64,
    pub pf: i64,
    pub satisfaction: i64,
    pub eval_detail: String,
    pub writing_evaluation: String,
    pub assess_time: String,
    pub anonymity_flag: i64,
    pub user_prop: i64,
    pub task_code: String,
    pub dept_code: String,
    pub app_status: i64,
    pub public_flag: i64,
    pub isdefault: i64,
    #[serde(rename = "EffectivEvalua")]
    pub effectiv_evalua: i64,
    #[serde(flatten)]
    pub origin: Origin,
}

/// 差评整改 (`addRectification`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepRecord {
    pub project_no: String,
    pub service_number: i64,
    pub assess_number: i64,
    pub step_no: i64,
    pub step: String,
    pub step_time: String,
    pub dept_code: String,
    pub content: String,
    pub deadline: String,
    #[serde(flatten)]
    pub origin: Origin,
}

/// A record of any kind (built one batch at a time: the size of the largest is no concern).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Record {
    Service(ServiceRecord),
    Evaluation(EvaluationRecord),
    Step(StepRecord),
}

impl Record {
    pub fn op(&self) -> Op {
        match self {
            Record::Service(_) => Op::Service,
            Record::Evaluation(_) => Op::Evaluation,
            Record::Step(_) => Op::Rectification,
        }
    }

    pub fn identity(&self) -> Identity {
        match self {
            Record::Service(r) => Identity::service(&r.project_no, r.service_number),
            Record::Evaluation(r) => Identity::evaluation(&r.project_no, r.service_number, r.assess_number),
            Record::Step(r) => Identity::step(&r.project_no, r.service_number, r.assess_number, r.step_no),
        }
    }

    /// The record's JSON text (one object), as encrypted into the envelope.
    pub fn to_json(&self) -> String {
        match self {
            Record::Service(r) => serde_json::to_string(r),
            Record::Evaluation(r) => serde_json::to_string(r),
            Record::Step(r) => serde_json::to_string(r),
        }
        .unwrap_or_default()
    }

    /// Reads a record of `op` from its JSON text; unknown or missing fields and wrong JSON types are refused.
    pub fn from_json(op: Op, text: &str) -> Result<Record, String> {
        let r = match op {
            Op::Service => serde_json::from_str(text).map(Record::Service),
            Op::Evaluation => serde_json::from_str(text).map(Record::Evaluation),
            Op::Rectification => serde_json::from_str(text).map(Record::Step),
        };
        r.map_err(|e| format!("数据格式错误：{e}"))
    }

    /// The receiver's field checks (codes, formats, lengths). An empty list means the record is acceptable.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Problems::default();
        match self {
            Record::Service(r) => {
                p.origin(&r.origin);
                p.text("projectNo", &r.project_no, 1, 64);
                p.range("serviceNumber", r.service_number, 0, 9999);
                p.text("serviceName", &r.service_name, 1, 200);
                p.time("serviceTime", &r.service_time, false);
                p.text("taskCode", &r.task_code, 1, 64);
                p.text("taskName", &r.task_name, 1, 200);
                p.one_of("taskType", &r.task_type, &["01", "05", "07", "08", "09", "10", "20", "99"]);
                p.credit_code("deptCode", &r.dept_code);
                p.text("proDepart", &r.pro_depart, 1, 200);
                p.text("proManager", &r.pro_manager, 0, 50);
                p.range("proStatus", r.pro_status, 1, 3);
                p.range("proChannel", r.pro_channel, 1, 2);
                p.time("acceptDate", &r.accept_date, false);
                p.time("resultDate", &r.result_date, r.pro_status != 3);
                p.text("userName", &r.user_name, 1, 200);
                p.one_of_int("userProp", r.user_prop, &[1, 2, 3, 4, 5, 6, 9]);
                let mobile_ok = r.mobile.len() == 11 && r.mobile.starts_with('1') && digits(&r.mobile);
                if !r.mobile.is_empty() && !mobile_ok {
                    p.0.push("mobile 应为 11 位手机号".into());
                }
                p.text("projectName", &r.project_name, 1, 200);
                p.range("promiseDay", r.promise_day, 0, 9999);
                p.range("promiseType", r.promise_type, 0, 3);
                p.range("anticipateDay", r.anticipate_day, 0, 9999);
                p.range("anticipateType", r.anticipate_type, 0, 3);
                p.range("promiseTime", r.promise_time, 1, 2);
                p.one_of("creditType", &r.credit_type, &["111", "001"]);
                p.text("creditNum", &r.credit_num, 0, 64);
            }
            Record::Evaluation(r) => {
                p.origin(&r.origin);
                p.text("projectNo", &r.project_no, 1, 64);
                p.range("serviceNumber", r.service_number, 0, 9999);
                p.range("assessNumber", r.assess_number, 1, 2);
                p.range("pf", r.pf, 1, 9);
                p.range("satisfaction", r.satisfaction, 1, 5);
                if !r.eval_detail.is_empty() && !r.eval_detail.split(',').all(|c| !c.is_empty() && digits(c) && c.len() <= 8) {
                    p.0.push("evalDetail 应为以逗号分隔的原因代码".into());
                }
                p.text("writingEvaluation", &r.writing_evaluation, 0, 2000);
                p.time("assessTime", &r.assess_time, false);
                p.range("anonymityFlag", r.anonymity_flag, 1, 2);
                p.range("userProp", r.user_prop, 1, 2);
                p.text("taskCode", &r.task_code, 1, 64);
                p.credit_code("deptCode", &r.dept_code);
                p.range("appStatus", r.app_status, 1, 1);
                p.range("publicFlag", r.public_flag, 1, 1);
                p.range("isdefault", r.isdefault, 0, 0);
                p.range("EffectivEvalua", r.effectiv_evalua, 1, 1);
            }
            Record::Step(r) => {
                p.origin(&r.origin);
                p.text("projectNo", &r.project_no, 1, 64);
                p.range("serviceNumber", r.service_number, 0, 9999);
                p.range("assessNumber", r.assess_number, 0, 2);
                p.range("stepNo", r.step_no, 1, 9999);
                match Step::parse(&r.step) {
                    None => p.0.push(format!("step 不是已知的环节：{}", r.step)),
                    Some(s) if s.has_deadline() => p.date("deadline", &r.deadline),
                    Some(_) if !r.deadline.is_empty() => p.0.push("deadline 只用于 received、extended、reopened".into()),
                    Some(_) => {}
                }
                p.time("stepTime", &r.step_time, false);
                p.credit_code("deptCode", &r.dept_code);
                p.text("content", &r.content, 0, 2000);
            }
        }
        p.0
    }
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn origin(&mut self, o: &Origin) {
        if !(o.area_code.len() == 12 && digits(&o.area_code)) {
            self.0.push("areaCode 应为 12 位数字".into());
        }
        if !(o.data_source.len() == 3 && digits(&o.data_source)) {
            self.0.push("dataSource 应为 3 位数字".into());
        }
    }

    fn text(&mut self, field: &str, v: &str, min: usize, max: usize) {
        let n = v.chars().count();
        if n < min {
            self.0.push(format!("{field} 不能为空"));
        } else if n > max {
            self.0.push(format!("{field} 超过 {max} 个字符"));
        }
    }

    fn range(&mut self, field: &str, v: i64, min: i64, max: i64) {
        if v < min || v > max {
            self.0.push(format!("{field} 应在 {min}–{max} 之间，收到 {v}"));
        }
    }

    fn one_of(&mut self, field: &str, v: &str, allowed: &[&str]) {
        if !allowed.contains(&v) {
            self.0.push(format!("{field} 代码不正确：{v}"));
        }
    }

    fn one_of_int(&mut self, field: &str, v: i64, allowed: &[i64]) {
        if !allowed.contains(&v) {
            self.0.push(format!("{field} 代码不正确：{v}"));
        }
    }

    fn time(&mut self, field: &str, v: &str, may_be_empty: bool) {
        let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        if (v.is_empty() && !may_be_empty) || (!v.is_empty() && time::PrimitiveDateTime::parse(v, &fmt).is_err()) {
            self.0.push(format!("{field} 应为 yyyy-MM-dd HH:mm:ss"));
        }
    }

    fn date(&mut self, field: &str, v: &str) {
        if crate::timestamp::parse_date(v, field).is_err() || v.len() != 10 {
            self.0.push(format!("{field} 应为 yyyy-MM-dd"));
        }
    }

    fn credit_code(&mut self, field: &str, v: &str) {
        if !(v.len() == 18 && v.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())) {
            self.0.push(format!("{field} 应为 18 位统一社会信用代码"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_round_trip_and_chain_in_the_contracts_order() {
        let s = Identity::service("LX001", 1);
        let e = Identity::evaluation("LX001", 1, 1);
        let f = Identity::evaluation("LX001", 1, 2);
        let r1 = Identity::step("LX001", 1, 1, 1);
        let r2 = Identity::step("LX001", 1, 1, 2);
        let c1 = Identity::step("complaint-1", 0, 0, 1);
        for id in [&s, &e, &f, &r1, &r2, &c1] {
            assert_eq!(Identity::parse_key(&id.key()).as_ref(), Some(id));
        }
        assert_eq!(s.after(), None);
        assert_eq!(e.after(), Some(s));
        assert_eq!(f.after(), Some(e.clone()));
        assert_eq!(r1.after(), Some(e));
        assert_eq!(r2.after(), Some(r1));
        assert_eq!(c1.after(), None);
        assert_eq!(Identity::parse_key("evaluation|LX001|x|1"), None);
        assert_eq!(Identity::parse_key("addEvaluate|LX001|1|1").map(|i| i.op), Some(Op::Evaluation));
    }

    #[test]
    fn a_ledger_entry_becomes_the_records_the_contract_names() {
        let mut counter = std::collections::HashMap::<String, i64>::new();
        let mut next = |c: &str| {
            let n = counter.entry(c.to_string()).or_insert(0);
            *n += 1;
            *n
        };
        let rating = EntryFacts::Rating {
            rating_id: "r1".into(),
            matter_id: "m1".into(),
            matter_no: "LX001".into(),
            service_seq: 0,
            assess_number: 1,
            channel: Channel::Pc,
        };
        let p = plan(&rating, &mut next);
        assert_eq!(p.iter().map(|p| p.id.key()).collect::<Vec<_>>(), ["service|LX001|0", "evaluation|LX001|0|1"]);
        let subject = Subject::Rating { matter_no: "LX001".into(), service_seq: 0, assess_number: 1, channel: Channel::Pc };
        let opened = plan(&EntryFacts::CaseOpened { case_id: "c1".into(), subject: subject.clone() }, &mut next);
        assert_eq!(opened[0].id, Identity::step("LX001", 0, 1, 1));
        assert!(matches!(opened[0].source, Source::Step { step: Step::Received, .. }));
        // The rater's 满意 closes the case: reported as the verdict, then `closed`.
        let verdict = EntryFacts::CaseEvent {
            case_id: "c1".into(),
            event_id: "e9".into(),
            kind: EventKind::Verdict,
            state_after: CaseState::Closed,
            subject: subject.clone(),
        };
        let v = plan(&verdict, &mut next);
        assert_eq!(v.iter().map(|p| p.id.step_no).collect::<Vec<_>>(), [2, 3]);
        assert!(matches!(v[1].source, Source::Step { step: Step::Closed, .. }));
        // 不满意 sent it back: `reopened`. Reminders are not reported.
        assert_eq!(Step::for_event(EventKind::Verdict, CaseState::Responded), [Step::Reopened]);
        assert!(Step::for_event(EventKind::DueWarning, CaseState::Open).is_empty());
        assert!(Step::for_event(EventKind::ReasonsAdded, CaseState::Closed).is_empty(), "reasons on a closed case close nothing again");
        let untrue = plan(&EntryFacts::RatingInvalidated { case_id: "c1".into(), rating_id: "r1".into(), subject }, &mut next);
        assert!(matches!(untrue[0].source, Source::Step { step: Step::Untrue, .. }) && untrue[0].id.step_no == 4);
        // Ratings from the province go back to nobody.
        let back = EntryFacts::Rating {
            rating_id: "r2".into(),
            matter_id: "m2".into(),
            matter_no: "LX002".into(),
            service_seq: 0,
            assess_number: 1,
            channel: Channel::Province,
        };
        assert!(plan(&back, &mut next).is_empty());
        let complaint = Subject::of_case(CaseKind::Complaint, None, Some("k1".into()));
        let c = plan(&EntryFacts::CaseOpened { case_id: "c2".into(), subject: complaint }, &mut next);
        assert_eq!(c[0].id, Identity::step("k1", 0, 0, 1));
        assert!(plan(&EntryFacts::CaseOpened { case_id: "c3".into(), subject: Subject::Unreported }, &mut next).is_empty());
    }

    fn sample_step() -> StepRecord {
        StepRecord {
            project_no: "LX001".into(),
            service_number: 0,
            assess_number: 1,
            step_no: 1,
            step: "received".into(),
            step_time: "2026-12-03 15:30:12".into(),
            dept_code: "11610327MB0000000X".into(),
            content: "差评自动立案".into(),
            deadline: "2026-12-10".into(),
            origin: Origin { area_code: "610327000000".into(), data_source: "999".into() },
        }
    }

    #[test]
    fn records_carry_the_contracts_json_types_and_are_checked() {
        let r = Record::Step(sample_step());
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["stepNo"], 1);
        assert_eq!(json["areaCode"], "610327000000");
        assert_eq!(json["deadline"], "2026-12-10");
        assert!(r.problems().is_empty(), "{:?}", r.problems());
        assert_eq!(Record::from_json(Op::Rectification, &r.to_json()).unwrap(), r);
        // A number sent as a string, or an unknown field, is refused.
        let bad = r.to_json().replace("\"stepNo\":1", "\"stepNo\":\"1\"");
        assert!(Record::from_json(Op::Rectification, &bad).is_err());
        let mut s = sample_step();
        s.step = "closed".into();
        s.dept_code = "LX-GAJ".into();
        let p = Record::Step(s).problems();
        assert!(p.iter().any(|m| m.contains("deadline")) && p.iter().any(|m| m.contains("deptCode")), "{p:?}");
    }

    #[test]
    fn times_are_shanghai_times() {
        let t = Timestamp(1_764_747_012_000_000); // 2025-12-03 07:30:12 UTC
        assert_eq!(record_time(t), "2025-12-03 15:30:12");
        assert_eq!(envelope_time(t), "20251203153012");
        assert_eq!(parse_envelope_time("20251203153012"), Some(t));
        assert_eq!(parse_envelope_time("2025120315301"), None);
    }
}
