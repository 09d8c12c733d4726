//! The closed loop (S-10 … S-13): cases as their units see them, each step of their handling through the
//! domain's state machine, the supervising department's queue of filed replies, and the loop's metrics.

use std::collections::BTreeMap;

use hcp_domain::access::{Act, Principal, Target};
use hcp_domain::bizday::Period;
use hcp_domain::case_event::{EventDetail, EventKind};
use hcp_domain::case_flow::{Action, CaseState, Outcome, OutcomeKind, Verdict, apply};
use hcp_domain::case_history::{detail_of, facts, moved_reply_by};
use hcp_domain::case_metrics::{CaseFactsForMetrics, loop_metrics};
use hcp_domain::person::{mask_name, mask_phone};
use hcp_domain::records::{AppealRow, CaseEvent, Complaint, Rating};
use hcp_domain::work_calendar::overdue_from;
use hcp_domain::{BizDay, DomainError, Timestamp};
use hcp_storage::cases::CaseSummary;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::caller::Caller;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseOut {
    pub id: String,
    /// `bad_review`, `complaint`, `suggestion`, `inspection`
    pub kind: String,
    pub rating_id: Option<String>,
    pub matter_no: String,
    /// the unit that handled the matter and must handle the case (谁办理、谁负责)
    pub unit_code: String,
    pub unit_name: Option<String>,
    pub item_code: String,
    pub window_code: Option<String>,
    pub staff_code: Option<String>,
    pub level: i64,
    /// `service_quality` or `misconduct` (to be referred to the competent authority as well), `complaint`,
    /// `suggestion`, `supervision`
    pub category: String,
    /// real-name bad reviews must be called back (100%)
    pub real_name: bool,
    pub state: String,
    pub opened_at: String,
    /// last day to respond (1 working day by default)
    pub respond_by: String,
    /// last day to reply on the rectification (5 working days by default)
    pub reply_by: String,
    pub respond_overdue: bool,
    pub reply_overdue: bool,
    /// deadlines computed across a year whose holiday notice was not loaded
    pub deadlines_provisional: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseEventOut {
    /// `opened`, `responded`, `callback`, `outcome`, `extended`, `replied`, `verdict`, `overdue`, `due_warning`,
    /// `appeal_applied`, `appeal_opinion`, `appeal_decided`, `reasons_added`, `deadlines_recomputed`
    pub kind: String,
    pub actor: String,
    pub at: String,
    pub state_after: String,
    /// the event's details, tagged with its `kind`
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComplaintView {
    pub kind: String,
    pub source: String,
    pub text: String,
    pub anonymous: bool,
    /// masked
    pub contact_name: Option<String>,
    /// masked
    pub contact_phone: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub case: CaseOut,
    pub history: Vec<CaseEventOut>,
    /// what the complainant wrote, for cases opened by a complaint or suggestion
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complaint: Option<ComplaintView>,
    /// the other cases about the same matter
    pub related: Vec<CaseOut>,
    /// the rectification item (台账) a 限期整改 outcome opened
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rectification: Option<RectificationOut>,
}

pub fn case_out(app: &App, s: &CaseSummary) -> CaseOut {
    let c = &s.case;
    let now = Timestamp::now();
    let overdue = |day: BizDay| now >= overdue_from(day.date());
    CaseOut {
        id: c.id.clone(),
        kind: c.kind.code().into(),
        rating_id: c.rating_id.clone(),
        matter_no: c.matter_no.clone(),
        unit_code: c.unit_code.clone(),
        unit_name: app.master().unit_name(&c.unit_code),
        item_code: c.item_code.clone(),
        window_code: c.window_code.clone(),
        staff_code: c.staff_code.clone(),
        level: c.level,
        category: c.category.code().into(),
        real_name: c.real_name,
        state: s.state.code().into(),
        opened_at: Timestamp(c.opened_at).to_rfc3339(),
        respond_by: s.respond_by.to_string(),
        reply_by: s.reply_by.to_string(),
        respond_overdue: s.state == CaseState::Open && overdue(s.respond_by),
        reply_overdue: s.state.awaits_reply() && overdue(s.reply_by),
        deadlines_provisional: s.provisional,
    }
}

pub fn event_out(e: &CaseEvent) -> CaseEventOut {
    CaseEventOut {
        kind: e.kind.code().into(),
        actor: e.actor.clone(),
        at: Timestamp(e.at).to_rfc3339(),
        state_after: e.state_after.code().into(),
        // A note this version cannot read as the type is shown as it was stored.
        details: match e.detail() {
            Ok(d) => serde_json::to_value(d).unwrap_or_default(),
            Err(_) => match e.note.as_deref().map(serde_json::from_str::<serde_json::Value>) {
                Some(Ok(v)) => v,
                Some(Err(_)) => serde_json::json!({ "note": e.note }),
                None => serde_json::Value::Null,
            },
        },
    }
}

fn complaint_view(app: &App, c: &Complaint) -> ComplaintView {
    ComplaintView {
        kind: c.kind.code().into(),
        source: c.source.code().into(),
        text: c.text.clone(),
        anonymous: c.anonymous,
        contact_name: c.contact_name.as_ref().map(|n| mask_name(&app.reveal(n))),
        contact_phone: c.contact_phone.as_ref().map(|p| mask_phone(&app.reveal(p))),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RectificationOut {
    pub case_id: String,
    pub unit_code: String,
    pub unit_name: Option<String>,
    /// why it was to be rectified (the outcome's reason)
    pub reason: String,
    /// `YYYY-MM-DD`
    pub rectify_by: String,
    /// `open` or `done`
    pub state: String,
    pub overdue: bool,
    /// progress notes recorded so far
    pub progress: i64,
    pub opened_at: String,
    pub done_at: Option<String>,
}

pub fn item_out(r: &hcp_storage::rectifications::Rectification) -> RectificationOut {
    RectificationOut {
        case_id: r.case_id.clone(),
        unit_code: r.unit_code.clone(),
        unit_name: None,
        reason: r.reason.clone(),
        rectify_by: r.rectify_by.to_string(),
        state: r.state.clone(),
        overdue: r.state == "open" && BizDay::today() > r.rectify_by,
        progress: r.progress,
        opened_at: Timestamp(r.opened_at).to_rfc3339(),
        done_at: r.done_at.map(|t| Timestamp(t).to_rfc3339()),
    }
}

/// A case with everything about it that its pages show.
#[derive(Debug, Clone)]
pub struct CaseFile {
    pub summary: CaseSummary,
    pub events: Vec<CaseEvent>,
    pub rating: Option<Rating>,
    pub complaint: Option<Complaint>,
    pub appeal: Option<AppealRow>,
    /// the other cases about the same matter (a complaint beside the bad review it follows), oldest first
    pub related: Vec<CaseSummary>,
    /// the 台账 item a 限期整改 outcome opened
    pub rectification: Option<hcp_storage::rectifications::Rectification>,
}

impl CaseFile {
    pub fn unit(&self) -> &str {
        &self.summary.case.unit_code
    }

    /// Who applied for the case's 复核, if anyone did.
    pub fn appeal_applicant(&self) -> Option<&str> {
        self.events.iter().rev().find(|e| e.kind == EventKind::AppealApplied).map(|e| e.actor.as_str())
    }

    pub fn target(&self) -> Target<'_> {
        Target {
            unit: self.unit(),
            window: self.summary.case.window_code.as_deref(),
            case_id: Some(&self.summary.case.id),
            appeal_applicant: self.appeal_applicant(),
        }
    }

    pub fn detail(&self, app: &App) -> CaseDetail {
        CaseDetail {
            case: case_out(app, &self.summary),
            history: self.events.iter().map(event_out).collect(),
            complaint: self.complaint.as_ref().map(|c| complaint_view(app, c)),
            related: self.related.iter().map(|r| case_out(app, r)).collect(),
            rectification: self.rectification.as_ref().map(item_out),
        }
    }
}

pub(crate) async fn load_case(app: &App, id: &str) -> AppResult<(CaseSummary, Vec<CaseEvent>)> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(AppError::NotFound("工单"));
    }
    app.db.get_case(id).await?.ok_or(AppError::NotFound("工单"))
}

/// A case and its history for whoever may read the unit's cases; another unit's case looks like a missing one.
#[tracing::instrument(skip_all)]
pub async fn case_file(app: &App, caller: &Caller, id: &str) -> AppResult<CaseFile> {
    app.authorize(caller, Act::ReadCases)?;
    let (summary, events) = load_case(app, id).await?;
    app.authorize_found(caller, Act::ReadCases, &Target::unit(&summary.case.unit_code), "工单")?;
    let rating = match &summary.case.rating_id {
        Some(r) => app.db.get_rating(r).await?,
        None => None,
    };
    let complaint = if rating.is_none() { app.db.complaint_of_case(id).await? } else { None };
    let appeal = app.db.appeal_of(id).await?;
    // Cases of the same matter the caller may read (a matter's cases are all its unit's).
    let related = app
        .db
        .cases_of_matter(&summary.case.matter_no)
        .await?
        .into_iter()
        .filter(|r| r.case.id != summary.case.id && app.may(caller, Act::ReadCases, &r.case.unit_code))
        .collect();
    let rectification = app.db.rectification_of(id).await?;
    Ok(CaseFile { summary, events, rating, complaint, appeal, related, rectification })
}

/// A case with its history, as the API shows it.
pub async fn get_case(app: &App, caller: &Caller, id: &str) -> AppResult<CaseDetail> {
    Ok(case_file(app, caller, id).await?.detail(app))
}

/// Cases of the caller's unit and the units below it (or of one of them), newest first.
#[tracing::instrument(skip_all)]
pub async fn list_cases(
    app: &App,
    caller: &Caller,
    state: Option<&str>,
    unit: Option<&str>,
    limit: Option<i64>,
) -> AppResult<Vec<CaseOut>> {
    let units = app.scoped_units(caller, Act::ReadCases, unit)?;
    let state = state.map(|s| CaseState::parse_query(s, "state")).transpose()?;
    let cases = app.db.list_cases(&units, state, limit.unwrap_or(100).clamp(1, 1000)).await?;
    Ok(cases.iter().map(|c| case_out(app, c)).collect())
}

/// How pressing a case of the work queue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    Overdue,
    DueToday,
    Later,
    /// replied: waiting for the rater, which is not the unit's deadline
    WaitingForRater,
}

/// A case of the work queue: the step whose deadline counts (respond while open, reply after), its deadline and
/// how pressing it is.
#[derive(Debug, Clone)]
pub struct QueueEntry {
    pub summary: CaseSummary,
    pub out: CaseOut,
    /// `true` while the response is what is due; the reply after
    pub respond_step: bool,
    pub deadline: BizDay,
    pub urgency: Urgency,
}

/// The work queue: every case of the caller's tree not yet closed, the most pressing first (overdue, due today,
/// then by deadline; those waiting for the rater last).
#[tracing::instrument(skip_all)]
pub async fn work_queue(app: &App, caller: &Caller) -> AppResult<Vec<QueueEntry>> {
    app.authorize(caller, Act::ReadCases)?;
    let today = BizDay::today();
    let mut queue: Vec<QueueEntry> = app
        .db
        .open_cases(&app.units_for(caller, Act::ReadCases))
        .await?
        .into_iter()
        .filter(|c| c.state != CaseState::Closed)
        .map(|summary| {
            let out = case_out(app, &summary);
            let respond_step = summary.state == CaseState::Open;
            let (deadline, overdue) =
                if respond_step { (summary.respond_by, out.respond_overdue) } else { (summary.reply_by, out.reply_overdue) };
            let urgency = if summary.state == CaseState::Replied {
                Urgency::WaitingForRater
            } else if overdue {
                Urgency::Overdue
            } else if deadline == today {
                Urgency::DueToday
            } else {
                Urgency::Later
            };
            QueueEntry { summary, out, respond_step, deadline, urgency }
        })
        .collect();
    queue.sort_by_key(|e| (e.urgency, e.deadline));
    Ok(queue)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StepIn {
    /// 响应: the unit takes the case on (within 1 working day)
    Respond { note: String },
    /// 回访核实: how the rater was called back, whether reached, what was said
    Callback { method: String, reached: bool, summary: String },
    /// One of the four outcomes: `fixed_at_once` (with `fixed`), `ledger` (with `reason`, `rectify_by`),
    /// `explained` (with `explanation`, `legal_basis`), `invalid` (with `evidence`)
    Decide {
        outcome: String,
        fixed: Option<String>,
        reason: Option<String>,
        rectify_by: Option<String>,
        explanation: Option<String>,
        legal_basis: Option<String>,
        evidence: Option<String>,
    },
    /// 延期: before the reply deadline has passed, with a later date and a reason
    Extend { new_reply_by: String, reason: String },
    /// 答复: the reply to the rater, filed (备案) with the supervising department
    Reply { text: String },
    /// the rater's verdict on the handling: `satisfied`, `basically_satisfied`, `unsatisfied`
    Verdict { verdict: String },
}

fn required(v: &Option<String>, field: &str) -> Result<String, DomainError> {
    v.clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| DomainError::new("missing_field", field, format!("请填写{}", field_label(field))))
}

/// How a form names a field in a message.
pub fn field_label(field: &str) -> &str {
    match field {
        "note" => "说明",
        "method" => "回访方式",
        "summary" => "回访情况",
        "fixed" => "整改内容",
        "reason" => "原因",
        "rectify_by" => "整改期限",
        "explanation" => "解释内容",
        "legal_basis" => "依据",
        "evidence" => "证据",
        "new_reply_by" => "新的答复期限",
        "text" => "答复内容",
        other => other,
    }
}

impl StepIn {
    /// The step as the state machine knows it.
    pub fn action(&self) -> Result<Action, DomainError> {
        Ok(match self {
            StepIn::Respond { note } => Action::Respond { note: note.clone() },
            StepIn::Callback { method, reached, summary } => {
                Action::Callback { method: method.clone(), reached: *reached, summary: summary.clone() }
            }
            StepIn::Decide { outcome, fixed, reason, rectify_by, explanation, legal_basis, evidence } => {
                Action::Decide(match OutcomeKind::parse(outcome, "outcome")? {
                    OutcomeKind::FixedAtOnce => Outcome::FixedAtOnce { fixed: required(fixed, "fixed")? },
                    OutcomeKind::Ledger => Outcome::Ledger {
                        reason: required(reason, "reason")?,
                        rectify_by: BizDay::parse(&required(rectify_by, "rectify_by")?, "rectify_by")?.date(),
                    },
                    OutcomeKind::Explained => Outcome::Explained {
                        explanation: required(explanation, "explanation")?,
                        legal_basis: required(legal_basis, "legal_basis")?,
                    },
                    OutcomeKind::Invalid => Outcome::Invalid { evidence: required(evidence, "evidence")? },
                })
            }
            StepIn::Extend { new_reply_by, reason } => {
                Action::Extend { new_reply_by: BizDay::parse(new_reply_by, "new_reply_by")?.date(), reason: reason.clone() }
            }
            StepIn::Reply { text } => Action::Reply { text: text.clone() },
            StepIn::Verdict { verdict } => Action::Verdict(Verdict::parse(verdict)?),
        })
    }
}

/// One step of a case's handling by staff or a business system (API or back-office page): handling is for the
/// unit's handlers and approvers, the county, a town's administrator and business systems; the verdict only
/// for those who may speak for the rater.
#[tracing::instrument(skip_all)]
pub async fn take_step(app: &App, caller: &Caller, id: &str, input: &StepIn) -> AppResult<CaseDetail> {
    app.authorize(caller, Act::HandleCase)?;
    let (summary, events) = load_case(app, id).await?;
    app.authorize_found(caller, Act::HandleCase, &Target::unit(&summary.case.unit_code), "工单")?;
    let action = input.action()?;
    if matches!(action, Action::Verdict(_)) {
        let target = Target { unit: &summary.case.unit_code, case_id: Some(id), ..Default::default() };
        app.allow(&caller.principal(), Act::GiveVerdict, Some(&target))?;
    }
    perform(app, &summary, &events, &action, caller.actor(), true, None).await?;
    get_case(app, caller, id).await
}

/// Checks one step against the case and the jurisdiction's limits and records it (the caller has checked who
/// may take it): shared by staff, business systems and the rater's own feedback link.
pub(crate) async fn perform(
    app: &App,
    summary: &CaseSummary,
    events: &[CaseEvent],
    action: &Action,
    actor: String,
    conveyed_by_staff: bool,
    comment: Option<String>,
) -> AppResult<CaseState> {
    let now = Timestamp::now();
    let cal = app.calendar().await?;
    let limits = app.config.loop_limits;
    let f = facts(&summary.case, summary.reply_by, events, &cal, limits);
    let next = apply(summary.state, f, limits, action, now.biz_date())?;
    let moved = moved_reply_by(action, next, &cal, now.biz_date(), app.config.deadline_rule).map(|d| (summary.reply_by, BizDay::from(d)));
    let detail = detail_of(action, conveyed_by_staff, comment);
    let event = CaseEvent::new(&summary.case.id, actor, now, next, &detail);
    app.db.append_case_event(&event, summary.state, moved).await?;
    metrics::counter!("hcp_case_steps_total", "kind" => event.kind.code()).increment(1);
    Ok(next)
}

/// What the caller may do on a case page now (the rules check again when a step is taken).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Possible {
    pub handle: bool,
    pub respond: bool,
    pub callback: bool,
    pub decide: bool,
    pub extend: bool,
    pub reply: bool,
    pub view_contact: bool,
    pub apply_appeal: bool,
    pub appeal_opinion: bool,
    pub decide_appeal: bool,
}

/// The steps the caller may take on a case, as the pages offer them.
pub fn possible(app: &App, caller: &Caller, file: &CaseFile) -> Possible {
    use hcp_domain::appeal::{AppealState, Route};
    let p = caller.principal();
    let target = file.target();
    let may = |act: Act| app.allow(&p, act, Some(&target)).is_ok();
    let st = file.summary.state;
    let overdue = case_out(app, &file.summary).reply_overdue;
    let bad_review = file.summary.case.kind == hcp_domain::cases::CaseKind::BadReview && file.summary.case.rating_id.is_some();
    let case_unit = &file.summary.case.unit_code;
    let approver_here = may(Act::ReviewAppeal) && matches!(&p, Principal::Staff { unit, .. } if unit == case_unit);
    // A village station's or town centre's 复核 is decided by its town (hall units give an opinion only).
    let town_approver = may(Act::ReviewAppeal)
        && matches!(&p, Principal::Staff { unit, .. } if app.master().answering_units(case_unit).iter().skip(1).any(|u| u == unit));
    let (opinion, decide) = match file.appeal {
        Some(AppealRow { route: Route::Hall, state: AppealState::PendingUnit }) => (approver_here, false),
        Some(AppealRow { state: AppealState::PendingUnit, .. }) => (false, approver_here || town_approver),
        Some(AppealRow { state: AppealState::PendingBureau, .. }) => (false, may(Act::DecideAppealAsBureau)),
        _ => (false, false),
    };
    let handle = may(Act::HandleCase);
    Possible {
        handle,
        respond: handle && st == CaseState::Open,
        callback: handle && matches!(st, CaseState::Responded | CaseState::Decided | CaseState::Replied),
        decide: handle && st == CaseState::Responded,
        extend: handle && matches!(st, CaseState::Responded | CaseState::Decided) && !overdue,
        reply: handle && st == CaseState::Decided,
        view_contact: file.summary.case.real_name && st != CaseState::Closed && may(Act::ViewContact),
        apply_appeal: bad_review && file.appeal.is_none() && st != CaseState::Closed && may(Act::ApplyAppeal),
        appeal_opinion: opinion,
        decide_appeal: decide,
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FiledReply {
    pub case_id: String,
    pub unit_code: String,
    pub unit_name: Option<String>,
    /// `bad_review`, `complaint`, `suggestion`, `inspection`
    pub kind: String,
    pub replied_at: String,
    pub replied_by: String,
    pub text: String,
    /// the outcome the reply reports: `fixed_at_once`, `ledger`, `explained`, `invalid`
    pub outcome: Option<String>,
    /// the case's state now (a reply may have been followed by the rater's verdict)
    pub state: String,
}

/// The supervising department's queue of filed replies (备案): every reply given in its tree in the period
/// (by the day the case arrived), newest first.
#[tracing::instrument(skip_all)]
pub async fn filed_replies(app: &App, caller: &Caller, period: Period, unit: Option<&str>) -> AppResult<Vec<FiledReply>> {
    let units = app.scoped_units(caller, Act::ReadCases, unit)?;
    let master = app.master();
    let mut out = Vec::new();
    for (s, events) in app.db.cases_with_events(&units, period.from, period.to).await? {
        let mut outcome = None;
        for e in &events {
            match e.detail() {
                Ok(EventDetail::Outcome { outcome: o }) => outcome = Some(o.kind().code().to_string()),
                Ok(EventDetail::Replied { text, .. }) => out.push((
                    e.at,
                    FiledReply {
                        case_id: s.case.id.clone(),
                        unit_code: s.case.unit_code.clone(),
                        unit_name: master.unit_name(&s.case.unit_code),
                        kind: s.case.kind.code().into(),
                        replied_at: Timestamp(e.at).to_rfc3339(),
                        replied_by: e.actor.clone(),
                        text,
                        outcome: outcome.clone(),
                        state: s.state.code().into(),
                    },
                )),
                _ => {}
            }
        }
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.0));
    Ok(out.into_iter().map(|(_, r)| r).collect())
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoopMetricsOut {
    pub unit_code: String,
    pub unit_name: Option<String>,
    pub cases: i64,
    pub real_name: i64,
    pub real_name_called_back: i64,
    /// 实名差评回访率 (must be 1.0)
    pub callback_rate: Option<f64>,
    pub responded_on_time: i64,
    pub responded_late: i64,
    pub unresponded_overdue: i64,
    /// responded on time / (responded + unresponded past the deadline)
    pub on_time_response_rate: Option<f64>,
    pub replied_on_time: i64,
    pub replied_late: i64,
    pub unreplied_overdue: i64,
    /// replied on time / (replied + unreplied past the deadline): open overdue work cannot hide
    pub on_time_reply_rate: Option<f64>,
    pub rectified: i64,
    pub explained: i64,
    pub invalid: i64,
    /// (立行立改 + 台账) / (立行立改 + 台账 + 解释说明)
    pub rectification_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoopOut {
    pub from: String,
    pub to: String,
    pub units: Vec<LoopMetricsOut>,
}

/// The facts the loop's metrics count, per case, of the cases that arrived in a period in `units`.
pub async fn loop_facts(app: &App, units: &[String], period: Period) -> AppResult<Vec<(CaseSummary, Option<CaseFactsForMetrics>)>> {
    let rows = app.db.cases_with_events(units, period.from, period.to).await?;
    Ok(rows
        .into_iter()
        .map(|(s, events)| {
            let f = hcp_domain::case_metrics::facts(&s.case, s.reply_by, &events);
            (s, f)
        })
        .collect())
}

/// The closed loop measured per unit for cases that arrived in a period: callback rate of real-name bad
/// reviews, on-time response and reply (open overdue work counted against the unit), rectification rate.
#[tracing::instrument(skip_all)]
pub async fn loop_stats(app: &App, caller: &Caller, period: Period, unit: Option<&str>) -> AppResult<LoopOut> {
    let today = Timestamp::now().biz_date();
    let units = app.scoped_units(caller, Act::ReadLoopStats, unit)?;
    let master = app.master();
    let mut by_unit: BTreeMap<String, Vec<CaseFactsForMetrics>> = BTreeMap::new();
    for (s, f) in loop_facts(app, &units, period).await? {
        if let Some(f) = f {
            by_unit.entry(s.case.unit_code.clone()).or_default().push(f);
        }
    }
    let units = by_unit
        .into_iter()
        .map(|(unit, facts)| {
            let m = loop_metrics(&facts, today);
            LoopMetricsOut {
                unit_name: master.unit_name(&unit),
                unit_code: unit,
                cases: m.cases,
                real_name: m.real_name,
                real_name_called_back: m.real_name_called_back,
                callback_rate: m.callback_rate,
                responded_on_time: m.responded_on_time,
                responded_late: m.responded_late,
                unresponded_overdue: m.unresponded_overdue,
                on_time_response_rate: m.on_time_response_rate,
                replied_on_time: m.replied_on_time,
                replied_late: m.replied_late,
                unreplied_overdue: m.unreplied_overdue,
                on_time_reply_rate: m.on_time_reply_rate,
                rectified: m.rectified,
                explained: m.explained,
                invalid: m.invalid,
                rectification_rate: m.rectification_rate,
            }
        })
        .collect();
    Ok(LoopOut { from: period.from.to_string(), to: period.to.to_string(), units })
}
