use axum::Json;
use axum::extract::{Path, Query, State};
use hcp_domain::appeal::{Actor, AppealAction, AppealState, Route};
use hcp_domain::case_flow::{Action, CaseFacts, CaseState, Outcome, Verdict, apply};
use hcp_domain::timestamp::{Timestamp, date_key, format_date, parse_date};
use hcp_domain::work_calendar::overdue_from;
use hcp_storage::cases::{CaseEvent, CaseSummary};
use serde::{Deserialize, Serialize};
use time::{Date, Month};
use utoipa::{IntoParams, ToSchema};

use crate::access::{authorize, authorize_found, scoped_units};
use crate::api::meta::ErrorBody;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;
use hcp_domain::access::Act;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// e.g. `open`
    pub state: Option<String>,
    /// only this unit (must lie within the caller's unit)
    pub unit: Option<String>,
    /// at most this many, newest first (default 100, at most 1000)
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CaseOut {
    pub id: String,
    /// `bad_review` (later also `complaint`)
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
    /// `service_quality` or `misconduct` (to be referred to the competent authority as well)
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

#[derive(Serialize, ToSchema)]
pub struct CaseEventOut {
    /// `opened`, `responded`, `callback`, `outcome`, `extended`, `replied`, `verdict`
    pub kind: String,
    pub actor: String,
    pub at: String,
    pub state_after: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
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

#[derive(Serialize, ToSchema)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub case: CaseOut,
    pub history: Vec<CaseEventOut>,
    /// what the complainant wrote, for cases opened by a complaint or suggestion
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complaint: Option<ComplaintView>,
}

/// `2026-12-07` for a `YYYYMMDD` key.
pub(crate) fn day_text(key: i64) -> String {
    date_of(key).map(format_date).unwrap_or_default()
}

fn date_of(key: i64) -> Option<Date> {
    Date::from_calendar_date((key / 10_000) as i32, Month::try_from(((key / 100) % 100) as u8).ok()?, (key % 100) as u8).ok()
}

pub(crate) fn case_out(state: &AppState, s: &CaseSummary) -> CaseOut {
    let c = &s.case;
    let now = Timestamp::now();
    let open = s.state == "open";
    let overdue = |key: i64| date_of(key).is_some_and(|d| now >= overdue_from(d));
    CaseOut {
        id: c.id.clone(),
        kind: c.kind.clone(),
        rating_id: c.rating_id.clone(),
        matter_no: c.matter_no.clone(),
        unit_code: c.unit_code.clone(),
        unit_name: state.master().units.get(&c.unit_code).map(|u| u.name.clone()),
        item_code: c.item_code.clone(),
        window_code: c.window_code.clone(),
        staff_code: c.staff_code.clone(),
        level: c.level,
        category: c.category.clone(),
        real_name: c.real_name,
        state: s.state.clone(),
        opened_at: Timestamp(c.opened_at).to_rfc3339(),
        respond_by: date_of(c.respond_by).map(format_date).unwrap_or_default(),
        reply_by: date_of(s.reply_by).map(format_date).unwrap_or_default(),
        respond_overdue: open && overdue(c.respond_by),
        reply_overdue: matches!(s.state.as_str(), "open" | "responded" | "decided") && overdue(s.reply_by),
        deadlines_provisional: c.provisional,
    }
}

fn event_out(e: &CaseEvent) -> CaseEventOut {
    CaseEventOut {
        kind: e.kind.clone(),
        actor: e.actor.clone(),
        at: Timestamp(e.at).to_rfc3339(),
        state_after: e.state_after.clone(),
        details: match e.note.as_deref() {
            Some(n) => serde_json::from_str(n).unwrap_or_else(|_| serde_json::json!({ "note": n })),
            None => serde_json::Value::Null,
        },
    }
}

/// Bad-review and complaint cases of the caller's unit and the units below it, newest first, with their
/// deadlines.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(CaseQuery),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = [CaseOut]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_cases(State(state): State<AppState>, caller: Caller, Query(q): Query<CaseQuery>) -> ApiResult<Json<Vec<CaseOut>>> {
    let units = scoped_units(&state, &caller, Act::ReadCases, q.unit.as_deref())?;
    if let Some(s) = &q.state
        && CaseState::parse(s).is_none()
    {
        return Err(hcp_domain::DomainError::new("invalid_state", "state", format!("state 应为 {}", CaseState::CODES.join("、"))).into());
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let cases = state.db.list_cases(&units, q.state.as_deref(), limit).await?;
    Ok(Json(cases.iter().map(|c| case_out(&state, c)).collect()))
}

/// One case with its deadlines and full history.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", params(("id" = String, Path, description = "case id")),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = CaseDetail), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn get_case(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<CaseDetail>> {
    authorize(&state, &caller, Act::ReadCases, None)?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::not_found("工单"));
    }
    let (summary, events) = state.db.get_case(&id).await?.ok_or_else(|| ApiError::not_found("工单"))?;
    // Out of scope looks exactly like absent.
    authorize_found(&state, &caller, Act::ReadCases, &summary.case.unit_code, "工单")?;
    let complaint = match state.db.complaint_of_case(&id).await? {
        Some(c) => {
            let dec = |v: &Option<Vec<u8>>| v.as_ref().map(|b| state.secrets.decrypt(b).unwrap_or_else(|_| "***".into()));
            Some(ComplaintView {
                kind: c.kind,
                source: c.source,
                text: c.text,
                anonymous: c.anonymous,
                contact_name: dec(&c.contact_name).map(|n| hcp_domain::person::mask_name(&n)),
                contact_phone: dec(&c.contact_phone).map(|p| hcp_domain::person::mask_phone(&p)),
            })
        }
        None => None,
    };
    Ok(Json(CaseDetail { case: case_out(&state, &summary), history: events.iter().map(event_out).collect(), complaint }))
}

#[derive(Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ActionIn {
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

fn req(v: &Option<String>, field: &str) -> Result<String, ApiError> {
    v.clone().ok_or_else(|| hcp_domain::DomainError::new("missing_field", field, format!("缺少必填字段：{field}")).into())
}

fn to_action(a: &ActionIn) -> Result<(Action, serde_json::Value), ApiError> {
    use serde_json::json;
    Ok(match a {
        ActionIn::Respond { note } => (Action::Respond { note: note.clone() }, json!({ "note": note })),
        ActionIn::Callback { method, reached, summary } => (
            Action::Callback { method: method.clone(), reached: *reached, summary: summary.clone() },
            json!({ "method": method, "reached": reached, "summary": summary }),
        ),
        ActionIn::Decide { outcome, fixed, reason, rectify_by, explanation, legal_basis, evidence } => {
            let o = match outcome.as_str() {
                "fixed_at_once" => Outcome::FixedAtOnce { fixed: req(fixed, "fixed")? },
                "ledger" => Outcome::Ledger {
                    reason: req(reason, "reason")?,
                    rectify_by: parse_date(&req(rectify_by, "rectify_by")?, "rectify_by")?,
                },
                "explained" => {
                    Outcome::Explained { explanation: req(explanation, "explanation")?, legal_basis: req(legal_basis, "legal_basis")? }
                }
                "invalid" => Outcome::Invalid { evidence: req(evidence, "evidence")? },
                _ => {
                    return Err(hcp_domain::DomainError::new(
                        "invalid_outcome",
                        "outcome",
                        "outcome 应为 fixed_at_once、ledger、explained 或 invalid",
                    )
                    .into());
                }
            };
            let details = json!({ "outcome": o.code(), "fixed": fixed, "reason": reason, "rectify_by": rectify_by,
                "explanation": explanation, "legal_basis": legal_basis, "evidence": evidence });
            (Action::Decide(o), details)
        }
        ActionIn::Extend { new_reply_by, reason } => (
            Action::Extend { new_reply_by: parse_date(new_reply_by, "new_reply_by")?, reason: reason.clone() },
            json!({ "new_reply_by": new_reply_by, "reason": reason, "notify_rater": true }),
        ),
        ActionIn::Reply { text } => (Action::Reply { text: text.clone() }, json!({ "text": text, "filed": true })),
        ActionIn::Verdict { verdict } => {
            (Action::Verdict(Verdict::parse(verdict)?), json!({ "verdict": verdict, "conveyed_by_staff": true }))
        }
    })
}

/// One step of a case's handling (S-10 … S-13): respond, record a callback, decide the outcome, extend the
/// reply deadline (only before it has passed), reply, record the rater's verdict. Steps out of order, a second
/// outcome, an outcome of a real-name bad review without a callback, or an extension after the deadline get
/// 422 with a stable code, and nothing changes.
#[utoipa::path(post, path = "/api/v1/cases/{id}/actions", tag = "cases", request_body = ActionIn, params(("id" = String, Path, description = "case id")),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = CaseDetail), (status = 409, body = ErrorBody, description = "case_changed"), (status = 422, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: ApiJson<ActionIn>,
) -> ApiResult<Json<CaseDetail>> {
    take_step(&state, &caller, &id, &body.value).await?;
    let (summary, events) = state.db.get_case(&id).await?.ok_or_else(|| ApiError::not_found("工单"))?;
    Ok(Json(CaseDetail { case: case_out(&state, &summary), history: events.iter().map(event_out).collect(), complaint: None }))
}

/// One step of a case's handling by a caller (API or back-office page): who may, then the loop's rules.
pub(crate) async fn take_step(state: &AppState, caller: &Caller, id: &str, input: &ActionIn) -> ApiResult<()> {
    authorize(state, caller, Act::HandleCase, None)?;
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(ApiError::not_found("工单"));
    }
    let (summary, events) = state.db.get_case(id).await?.ok_or_else(|| ApiError::not_found("工单"))?;
    // Handling is for the unit's handlers and approvers, the county bureau, a town's administrator and business
    // systems; not for window staff (who may be the person rated), assessors or the oversight office.
    authorize_found(state, caller, Act::HandleCase, &summary.case.unit_code, "工单")?;
    let (action, details) = to_action(input)?;
    // The verdict on the handling is the rater's: through their own link, or taken down by the county or a
    // business system (the platform's own app, the hotline) — never by the unit that handled the case.
    let county_wide = match caller {
        Caller::Staff(u) => u.role == "bureau_admin",
        Caller::Key(k) => state.master().units.get(&k.unit_code).is_some_and(|u| u.parent_code.is_none()),
        Caller::Anonymous { .. } => false,
    };
    if matches!(action, Action::Verdict(_)) && !county_wide {
        return Err(ApiError::forbidden("verdict_by_rater", "处理结果的评价须由评价人本人通过反馈链接给出，或由县级部门、热线代为录入"));
    }
    let actor = match caller {
        Caller::Staff(u) => format!("staff:{}", u.username),
        Caller::Key(k) => format!("key:{}", k.label),
        Caller::Anonymous { .. } => "anonymous".to_string(),
    };
    perform(state, &summary, &events, action, details, actor).await
}

/// Checks one step of the loop against the case and the jurisdiction's limits and records it (the caller has
/// checked who may take it): shared by staff, business systems and the rater's own feedback link.
pub(crate) async fn perform(
    state: &AppState,
    summary: &CaseSummary,
    events: &[CaseEvent],
    action: Action,
    details: serde_json::Value,
    actor: String,
) -> ApiResult<()> {
    let id = summary.case.id.clone();
    let current = CaseState::parse(&summary.state)
        .ok_or_else(|| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "工单状态无效"))?;
    let reply_by = date_of(summary.reply_by)
        .ok_or_else(|| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "工单期限无效"))?;
    // Callbacks count from the last reopening: a reopened real-name case needs a new one.
    let since_reopen = events.iter().rposition(|e| e.kind == "verdict" && e.state_after == "responded").map(|i| i + 1).unwrap_or(0);
    let now = Timestamp::now();
    let limits = state.config.loop_limits;
    // Extensions are capped counting from arrival, or from the reopening that restarted the clock.
    let restarted = match since_reopen {
        0 => date_of(summary.case.arrival_day),
        i => Some(Timestamp(events[i - 1].at).biz_date()),
    }
    .unwrap_or(reply_by);
    let cal = state.calendar().await?;
    let cap = hcp_domain::cases::deadlines(
        &cal,
        restarted,
        hcp_domain::cases::DeadlineRule { respond_days: 0, reply_days: i64::from(limits.max_reply_days) },
    );
    // Working days given back by rejected 复核 applications (clock stopped) move the cap as well.
    let paused: i64 = events
        .iter()
        .filter(|e| e.kind == "appeal_decided")
        .filter_map(|e| e.note.as_deref().and_then(|n| serde_json::from_str::<serde_json::Value>(n).ok()))
        .filter_map(|n| n["clock_stopped_working_days"].as_i64())
        .sum();
    let cap = match paused {
        0 => cap,
        n => hcp_domain::cases::Deadlines {
            reply_by: cal.add_working_days(cap.reply_by, n, "reply_by").map(|r| r.date).unwrap_or(cap.reply_by),
            ..cap
        },
    };
    let facts = CaseFacts {
        real_name: summary.case.real_name,
        callbacks: events[since_reopen..].iter().filter(|e| e.kind == "callback").count() as u32,
        reopened: events.iter().filter(|e| e.kind == "verdict" && e.state_after == "responded").count() as u32,
        extensions: events.iter().filter(|e| e.kind == "extended").count() as u32,
        reply_by,
        latest_reply_by: cap.reply_by.max(reply_by),
    };
    let next = apply(current, facts, limits, &action, now.biz_date())?;
    let reply_change = match &action {
        Action::Extend { new_reply_by, .. } => Some((summary.reply_by, date_key(*new_reply_by))),
        // A reopened case gets a new reply deadline, counted from today.
        Action::Verdict(_) if next == CaseState::Responded => {
            let d = hcp_domain::cases::deadlines(&cal, now.biz_date(), state.config.deadline_rule);
            Some((summary.reply_by, date_key(d.reply_by)))
        }
        _ => None,
    };
    let event = CaseEvent {
        id: uuid::Uuid::now_v7().to_string(),
        case_id: id.clone(),
        kind: action.code().to_string(),
        actor,
        at: now.micros(),
        state_after: next.code().to_string(),
        note: Some(details.to_string()),
    };
    state.db.append_case_event(&event, current.code(), reply_change).await?;
    Ok(())
}

#[derive(Serialize, ToSchema)]
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
#[utoipa::path(get, path = "/api/v1/cases/replies", tag = "cases", params(LoopQuery),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = [FiledReply]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn filed_replies(State(state): State<AppState>, caller: Caller, Query(q): Query<LoopQuery>) -> ApiResult<Json<Vec<FiledReply>>> {
    let (from, to) = crate::api::stats::parse_period(q.from.as_deref(), q.to.as_deref())?;
    let units = scoped_units(&state, &caller, Act::ReadCases, q.unit.as_deref())?;
    let master = state.master();
    let mut out = Vec::new();
    for (s, events) in state.db.cases_with_events(&units, date_key(from), date_key(to)).await? {
        for (i, e) in events.iter().enumerate().filter(|(_, e)| e.kind == "replied") {
            let note =
                |e: &CaseEvent| e.note.as_deref().and_then(|n| serde_json::from_str::<serde_json::Value>(n).ok()).unwrap_or_default();
            let outcome =
                events[..i].iter().rev().find(|x| x.kind == "outcome").and_then(|x| note(x)["outcome"].as_str().map(String::from));
            out.push((
                e.at,
                FiledReply {
                    case_id: s.case.id.clone(),
                    unit_code: s.case.unit_code.clone(),
                    unit_name: master.units.get(&s.case.unit_code).map(|u| u.name.clone()),
                    kind: s.case.kind.clone(),
                    replied_at: Timestamp(e.at).to_rfc3339(),
                    replied_by: e.actor.clone(),
                    text: note(e)["text"].as_str().unwrap_or_default().to_string(),
                    outcome,
                    state: s.state.clone(),
                },
            ));
        }
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.0));
    Ok(Json(out.into_iter().map(|(_, r)| r).collect()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoopQuery {
    /// first arrival day, `YYYY-MM-DD`; default: the first day of this month
    pub from: Option<String>,
    /// last arrival day; default: today
    pub to: Option<String>,
    /// only this unit (within the caller's unit)
    pub unit: Option<String>,
}

#[derive(Serialize, ToSchema)]
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

#[derive(Serialize, ToSchema)]
pub struct LoopOut {
    pub from: String,
    pub to: String,
    pub units: Vec<LoopMetricsOut>,
}

fn day_of(micros: i64) -> Date {
    Timestamp(micros).biz_date()
}

pub(crate) fn metrics_facts(s: &CaseSummary, events: &[CaseEvent]) -> Option<hcp_domain::case_metrics::CaseFactsForMetrics> {
    // A bad review found untrue by 复核 is no work the unit owed.
    let upheld = events.iter().any(|e| {
        e.kind == "appeal_decided"
            && e.note.as_deref().and_then(|n| serde_json::from_str::<serde_json::Value>(n).ok()).is_some_and(|v| v["upheld"] == true)
    });
    if upheld {
        return None;
    }
    let first = |kind: &str| events.iter().find(|e| e.kind == kind).map(|e| day_of(e.at));
    let outcome = events
        .iter()
        .rev()
        .find(|e| e.kind == "outcome")
        .and_then(|e| e.note.as_deref())
        .and_then(|n| serde_json::from_str::<serde_json::Value>(n).ok())
        .and_then(|v| v["outcome"].as_str().map(str::to_string));
    Some(hcp_domain::case_metrics::CaseFactsForMetrics {
        real_name: s.case.real_name,
        callbacks: events.iter().filter(|e| e.kind == "callback").count() as u32,
        respond_by: date_of(s.case.respond_by)?,
        responded_on: first("responded"),
        reply_by: date_of(s.reply_by)?,
        replied_on: first("replied"),
        outcome,
    })
}

/// The closed loop measured per unit for cases that arrived in a period: callback rate of real-name bad
/// reviews, on-time response and reply (open overdue work counted against the unit), rectification rate.
#[utoipa::path(get, path = "/api/v1/stats/loop", tag = "cases", params(LoopQuery),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = LoopOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn loop_stats(State(state): State<AppState>, caller: Caller, Query(q): Query<LoopQuery>) -> ApiResult<Json<LoopOut>> {
    let today = Timestamp::now().biz_date();
    let (from, to) = crate::api::stats::parse_period(q.from.as_deref(), q.to.as_deref())?;
    let master = state.master();
    let units = scoped_units(&state, &caller, Act::ReadLoopStats, q.unit.as_deref())?;
    let rows = state.db.cases_with_events(&units, date_key(from), date_key(to)).await?;
    let mut by_unit: std::collections::BTreeMap<String, Vec<hcp_domain::case_metrics::CaseFactsForMetrics>> = Default::default();
    for (s, events) in &rows {
        if let Some(f) = metrics_facts(s, events) {
            by_unit.entry(s.case.unit_code.clone()).or_default().push(f);
        }
    }
    let units = by_unit
        .into_iter()
        .map(|(unit, facts)| {
            let m = hcp_domain::case_metrics::loop_metrics(&facts, today);
            LoopMetricsOut {
                unit_name: master.units.get(&unit).map(|u| u.name.clone()),
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
    Ok(Json(LoopOut { from: format_date(from), to: format_date(to), units }))
}

#[derive(Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AppealIn {
    /// a staff member of the rated unit applies, with the reason and the evidence
    Apply { reason: String, evidence: String },
    /// hall-stationed units: the unit's approver gives the preliminary opinion
    Opinion { agree: bool, note: String },
    /// the county bureau (hall-stationed units) or the unit's approver (other units) decides
    Decide { upheld: bool, note: String },
}

/// One step of a 复核 by a staff member (API or back-office page).
pub(crate) async fn appeal_step(state: &AppState, caller: &Caller, id: &str, input: &AppealIn) -> ApiResult<()> {
    let (state, caller, id) = (state.clone(), caller.clone(), id.to_string());
    let user = match &caller {
        Caller::Staff(u) => u.clone(),
        Caller::Anonymous { .. } => return Err(ApiError::unauthorized()),
        Caller::Key(_) => return Err(ApiError::forbidden("wrong_credential", "复核须由工作人员登录办理")),
    };
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::not_found("工单"));
    }
    let (summary, _) = state.db.get_case(&id).await?.ok_or_else(|| ApiError::not_found("工单"))?;
    let master = state.master();
    let unit = summary.case.unit_code.as_str();
    authorize_found(&state, &caller, Act::ReadCases, unit, "工单")?;
    let bureau = crate::access::authorize(&state, &caller, Act::DecideAppealAsBureau, Some(unit)).is_ok();
    match input {
        AppealIn::Apply { .. } => authorize_found(&state, &caller, Act::ApplyAppeal, unit, "工单")?,
        _ if bureau => {}
        _ => authorize_found(&state, &caller, Act::ReviewAppeal, unit, "工单").map_err(|e| {
            if e.code == "wrong_role" { ApiError::forbidden("appeal_forbidden", "该角色不能审核复核申请") } else { e }
        })?,
    }
    if summary.case.kind != "bad_review" || summary.case.rating_id.is_none() {
        return Err(hcp_domain::DomainError::new("appeal_not_applicable", "action", "只有差评可以申请复核").into());
    }
    let current = state.db.appeal_of(&id).await?;
    // The route is fixed when the application is made.
    let route = match current.as_ref().map(|(r, _)| r.as_str()) {
        Some("hall") => Route::Hall,
        Some(_) => Route::Unit,
        None => Route::for_unit(master.units.get(&summary.case.unit_code).is_some_and(|u| u.hall_stationed)),
    };
    if matches!(*input, AppealIn::Decide { .. } | AppealIn::Opinion { .. }) {
        let applicant = format!("staff:{}", user.username);
        let (_, events) = state.db.get_case(&id).await?.ok_or_else(|| ApiError::not_found("工单"))?;
        if events.iter().any(|e| e.kind == "appeal_applied" && e.actor == applicant) {
            return Err(ApiError::forbidden("appeal_forbidden", "申请人不能审核自己的复核申请"));
        }
    }
    let current_state = current.as_ref().and_then(|(_, s)| AppealState::parse(s));
    let action = match input {
        AppealIn::Apply { reason, evidence } => AppealAction::Apply { reason: reason.clone(), evidence: evidence.clone() },
        AppealIn::Opinion { agree, note } => AppealAction::Opinion { agree: *agree, note: note.clone() },
        AppealIn::Decide { upheld, note } => AppealAction::Decide { upheld: *upheld, note: note.clone() },
    };
    if matches!(action, AppealAction::Apply { .. }) && summary.state == "closed" {
        return Err(hcp_domain::DomainError::new("case_closed", "action", "工单已办结，不能再申请复核").into());
    }
    let actor = Actor { in_case_unit: user.unit_code == summary.case.unit_code, unit_approver: user.role == "unit_approver", bureau };
    let next = hcp_domain::appeal::apply(current_state, route, actor, &action).map_err(|e| {
        let mut err = ApiError::from(e);
        if err.code == "appeal_forbidden" {
            err.status = axum::http::StatusCode::FORBIDDEN;
        }
        err
    })?;
    let upheld = next == AppealState::Upheld;
    let (kind, details) = match input {
        AppealIn::Apply { reason, evidence } => {
            ("appeal_applied", serde_json::json!({ "reason": reason, "evidence": evidence, "route": route.code() }))
        }
        AppealIn::Opinion { agree, note } => ("appeal_opinion", serde_json::json!({ "agree": agree, "note": note })),
        AppealIn::Decide { upheld, note } => {
            ("appeal_decided", serde_json::json!({ "upheld": upheld, "note": note, "rating_marked_untrue": upheld }))
        }
    };
    let mut details = details;
    details["appeal_state"] = serde_json::json!(next.code());
    // Where configuration says a pending 复核 stops the clock, a rejection gives back the working days it was
    // pending (after the day of application, up to today) by moving the reply deadline.
    let mut reply_change = None;
    if next == AppealState::Rejected && state.config.appeal_stops_clock && summary.state != "closed" {
        let (_, events) = state.db.get_case(&id).await?.ok_or_else(|| ApiError::not_found("工单"))?;
        if let (Some(applied), Some(old)) = (events.iter().rev().find(|e| e.kind == "appeal_applied"), date_of(summary.reply_by)) {
            let cal = state.calendar().await?;
            let today = Timestamp::now().biz_date();
            let from = Timestamp(applied.at).biz_date().next_day().unwrap_or(today);
            let paused = cal.working_days_between(from, today);
            if paused > 0 {
                let new = cal.add_working_days(old, paused, "reply_by").map(|r| r.date).unwrap_or(old);
                details["clock_stopped_working_days"] = serde_json::json!(paused);
                details["new_reply_by"] = serde_json::json!(format_date(new));
                reply_change = Some((summary.reply_by, date_key(new)));
            }
        }
    }
    let event = CaseEvent {
        id: uuid::Uuid::now_v7().to_string(),
        case_id: id.clone(),
        kind: kind.to_string(),
        actor: format!("staff:{}", user.username),
        at: Timestamp::now().micros(),
        state_after: if upheld { "closed".to_string() } else { summary.state.clone() },
        note: Some(details.to_string()),
    };
    let rating = if upheld { summary.case.rating_id.as_deref() } else { None };
    state.db.appeal_step(&event, route.code(), current.as_ref().map(|(_, s)| s.as_str()), next.code(), rating, reply_change).await?;
    Ok(())
}

/// 复核 of a bad review (S-14), through staff sessions only. Hall-stationed unit: apply → the unit approver's
/// preliminary opinion → the county bureau's decision; other units: apply → the unit approver's decision.
/// Upheld: the rating is marked 不属实 (a new ledger record), leaves every statistic at once, and the case closes.
#[utoipa::path(post, path = "/api/v1/cases/{id}/appeal", tag = "cases", request_body = AppealIn, params(("id" = String, Path, description = "case id")),
    security(("session" = [])),
    responses((status = 200, body = CaseDetail), (status = 403, body = ErrorBody, description = "appeal_forbidden: outside the unit or the wrong level"),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn appeal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: ApiJson<AppealIn>,
) -> ApiResult<Json<CaseDetail>> {
    appeal_step(&state, &caller, &id, &body.value).await?;
    let (summary, events) = state.db.get_case(&id).await?.ok_or_else(|| ApiError::not_found("工单"))?;
    Ok(Json(CaseDetail { case: case_out(&state, &summary), history: events.iter().map(event_out).collect(), complaint: None }))
}
