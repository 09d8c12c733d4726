//! The case page: what was said, the deadlines, the history in words, a form for each step the case and the
//! role allow now, the rater's contact for the callback (each view recorded), and 复核.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hcp_app::appeals::{AppealIn, appeal_label, appeal_step};
use hcp_app::cases::{CaseFile, StepIn, case_file, case_out, possible, take_step};
use hcp_app::{AppError, Caller};
use hcp_domain::{Level, Timestamp};

use super::{Frame, Session, error_page};
use crate::extract::Form;
use crate::extract::caller::{ClientIp, Who};
use crate::pages::{minute, see_other};
use crate::state::AppState;

struct HistoryRow {
    label: &'static str,
    at: String,
    actor: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "staff_case.html")]
struct CasePage {
    frame: Frame,
    error: Option<String>,
    notice: Option<String>,
    id: String,
    short_id: String,
    kind: &'static str,
    state_label: &'static str,
    level_label: String,
    reasons: Vec<String>,
    text: Option<String>,
    matter_no: String,
    unit: String,
    item: String,
    window: String,
    staff: String,
    category: &'static str,
    rater: String,
    arrived: String,
    respond_by: String,
    reply_by: String,
    respond_days: i64,
    respond_overdue: bool,
    reply_overdue: bool,
    history: Vec<HistoryRow>,
    can_handle: bool,
    can_respond: bool,
    can_callback: bool,
    can_decide: bool,
    can_extend: bool,
    can_reply: bool,
    can_view_contact: bool,
    contact: Option<String>,
    appeal_label: &'static str,
    can_apply: bool,
    can_opinion: bool,
    can_decide_appeal: bool,
    /// a bad review (the 复核 section is only for those)
    bad_review: bool,
    /// for a complaint or suggestion: `(where it came from, the contact rule)`
    complaint: Option<(&'static str, &'static str)>,
    /// the other cases of the same matter: `(id, short id, kind, state, unit)`
    related: Vec<(String, String, &'static str, &'static str, String)>,
    /// open cases of the same matter this one may be closed into: `(id, label)`
    merge_into: Vec<(String, String)>,
    /// the 台账 item: `(reason, deadline, state label, overdue, progress count)`
    rectification: Option<(String, String, &'static str, bool, i64)>,
    can_rectify: bool,
}

/// How the history names an actor.
fn actor_label(actor: &str) -> String {
    match actor {
        "system" => "系统".into(),
        "rater" => "评价人".into(),
        "public" => "群众（网上）".into(),
        a => a.strip_prefix("staff:").or_else(|| a.strip_prefix("key:")).unwrap_or(a).to_string(),
    }
}

fn build(state: &AppState, session: &Session, file: &CaseFile, error: Option<String>, contact: Option<String>) -> CasePage {
    let c = &file.summary.case;
    let out = case_out(state, &file.summary);
    let master = state.master();
    let can = possible(state, &session.caller, file);
    let text = file.rating.as_ref().and_then(|r| r.text.clone()).or_else(|| file.complaint.as_ref().map(|q| q.text.clone()));
    CasePage {
        frame: session.frame.clone(),
        error,
        notice: None,
        id: c.id.clone(),
        short_id: c.id.chars().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect(),
        kind: c.kind.label(),
        state_label: file.summary.state.label(),
        level_label: Level::new(c.level, "level").map(|l| l.label().to_string()).unwrap_or_else(|_| "—".into()),
        reasons: file
            .rating
            .as_ref()
            .map(|r| {
                hcp_app::ratings::reasons_of(state, r, &file.events)
                    .into_iter()
                    .map(|x| if x.label.is_empty() { x.code } else { x.label })
                    .collect()
            })
            .unwrap_or_default(),
        text,
        matter_no: if c.matter_no.is_empty() { "—".into() } else { c.matter_no.clone() },
        unit: out.unit_name.clone().unwrap_or_else(|| c.unit_code.clone()),
        item: master.item_name(&c.item_code).unwrap_or_else(|| "—".into()),
        window: c.window_code.as_deref().and_then(|w| master.window_name(w)).unwrap_or_else(|| "—".into()),
        staff: c.staff_code.as_deref().and_then(|s| master.staff_name(s)).unwrap_or_else(|| "—".into()),
        category: c.category.label(),
        rater: if c.real_name { "实名（须回访）".into() } else { "匿名".into() },
        arrived: minute(Timestamp(c.opened_at)),
        respond_by: out.respond_by.clone(),
        reply_by: out.reply_by.clone(),
        respond_days: state.config.deadline_rule.respond_days,
        respond_overdue: out.respond_overdue,
        reply_overdue: out.reply_overdue,
        history: file
            .events
            .iter()
            .map(|e| HistoryRow {
                label: e.kind.label(),
                at: minute(Timestamp(e.at)),
                actor: actor_label(&e.actor),
                summary: e.detail().map(|d| d.summary()).unwrap_or_default(),
            })
            .collect(),
        can_handle: can.handle,
        can_respond: can.respond,
        can_callback: can.callback,
        can_decide: can.decide,
        can_extend: can.extend,
        can_reply: can.reply,
        can_view_contact: can.view_contact,
        contact,
        appeal_label: appeal_label(file.appeal),
        can_apply: can.apply_appeal,
        can_opinion: can.appeal_opinion,
        can_decide_appeal: can.decide_appeal,
        bad_review: c.kind == hcp_domain::cases::CaseKind::BadReview,
        complaint: file.complaint.as_ref().map(|q| {
            let rule = if q.anonymous {
                "匿名（不回访、不答复）"
            } else if q.contact_phone.is_some() {
                "留有手机号码：须联系核实并答复"
            } else {
                "未留联系方式：无法回访"
            };
            (q.source.label(), rule)
        }),
        related: file
            .related
            .iter()
            .map(|r| {
                (
                    r.case.id.clone(),
                    hcp_domain::case_event::short(&r.case.id),
                    r.case.kind.label(),
                    r.state.label(),
                    master.unit_name(&r.case.unit_code).unwrap_or_else(|| r.case.unit_code.clone()),
                )
            })
            .collect(),
        merge_into: if can.handle && file.summary.state != hcp_domain::case_flow::CaseState::Closed {
            file.related
                .iter()
                .filter(|r| {
                    r.state != hcp_domain::case_flow::CaseState::Closed
                        && state.may(&session.caller, hcp_domain::access::Act::HandleCase, &r.case.unit_code)
                })
                .map(|r| {
                    (
                        r.case.id.clone(),
                        format!("{}工单 {}（{}）", r.case.kind.label(), hcp_domain::case_event::short(&r.case.id), r.state.label()),
                    )
                })
                .collect()
        } else {
            Vec::new()
        },
        rectification: file.rectification.as_ref().map(|r| {
            let out = hcp_app::rectify::item_out(r);
            (r.reason.clone(), out.rectify_by, if r.state == "open" { "整改中" } else { "已完成" }, out.overdue, r.progress)
        }),
        can_rectify: can.handle && file.rectification.as_ref().is_some_and(|r| r.state == "open"),
    }
}

async fn case_page(
    state: &AppState,
    caller: Caller,
    headers: &HeaderMap,
    id: &str,
    error: Option<String>,
    contact: Option<String>,
) -> Response {
    let session = match Session::of(state, caller, headers) {
        Some(s) => s,
        None => return super::sign_in(),
    };
    let file = match case_file(state, &session.caller, id).await {
        Ok(f) => f,
        Err(e) => return error_page(&e),
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    session.page(status, &build(state, &session, &file, error, contact))
}

pub async fn page(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, Path(id): Path<String>) -> Response {
    case_page(&state, caller, &headers, &id, None, None).await
}

/// What a step's form says, as the use case's command.
fn step_of(form: &Form) -> Option<StepIn> {
    Some(match form.raw("action")? {
        "respond" => StepIn::Respond { note: form.text("note") },
        "callback" => {
            StepIn::Callback { method: form.text("method"), reached: form.raw("reached") != Some("false"), summary: form.text("summary") }
        }
        "decide" => StepIn::Decide {
            outcome: form.text("outcome"),
            fixed: form.get("fixed"),
            reason: form.get("reason"),
            rectify_by: form.get("rectify_by"),
            explanation: form.get("explanation"),
            legal_basis: form.get("legal_basis"),
            evidence: form.get("evidence"),
        },
        "extend" => StepIn::Extend { new_reply_by: form.text("new_reply_by"), reason: form.text("reason") },
        "reply" => StepIn::Reply { text: form.text("text") },
        _ => return None,
    })
}

/// The answer to a step: back to the case (a reload then repeats nothing), or the page again with the reason.
async fn after(state: &AppState, caller: Caller, headers: &HeaderMap, id: &str, result: Result<(), AppError>) -> Response {
    match result {
        Ok(()) => see_other(&format!("/staff/cases/{id}")),
        Err(e @ (AppError::NotFound(_) | AppError::Forbidden(_) | AppError::Unauthenticated)) => error_page(&e),
        Err(e) => case_page(state, caller, headers, id, Some(e.message()), None).await,
    }
}

/// One step of the case from its form.
pub async fn step(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, Path(id): Path<String>, form: Form) -> Response {
    if !Session::form_ok(&state, &headers, form.raw("csrf")) {
        let mut r = case_page(&state, caller, &headers, &id, Some("页面已过期，请刷新后重试".into()), None).await;
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    let Some(input) = step_of(&form) else {
        return case_page(&state, caller, &headers, &id, Some("请选择要办理的环节".into()), None).await;
    };
    let result = take_step(&state, &caller, &id, &input).await.map(|_| ());
    after(&state, caller, &headers, &id, result).await
}

/// A step of the rectification (台账) from its form.
pub async fn rectify(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, Path(id): Path<String>, form: Form) -> Response {
    if !Session::form_ok(&state, &headers, form.raw("csrf")) {
        return case_page(&state, caller, &headers, &id, Some("页面已过期，请刷新后重试".into()), None).await;
    }
    let input = hcp_app::rectify::RectifyIn { action: form.text("action"), note: form.text("note"), evidence: form.text("evidence") };
    let result = hcp_app::rectify::rectify(&state, &caller, &id, &input).await.map(|_| ());
    after(&state, caller, &headers, &id, result).await
}

/// Closing this case into another of the same matter, from its form: to the case that carries on.
pub async fn merge(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, Path(id): Path<String>, form: Form) -> Response {
    if !Session::form_ok(&state, &headers, form.raw("csrf")) {
        return case_page(&state, caller, &headers, &id, Some("页面已过期，请刷新后重试".into()), None).await;
    }
    let input = hcp_app::related::MergeIn { into: form.text("into"), note: form.text("note") };
    match hcp_app::related::merge(&state, &caller, &id, &input).await {
        Ok(d) => see_other(&format!("/staff/cases/{}", d.case.id)),
        Err(e) => after(&state, caller, &headers, &id, Err(e)).await,
    }
}

/// A 复核 step from its form.
pub async fn appeal(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, Path(id): Path<String>, form: Form) -> Response {
    if !Session::form_ok(&state, &headers, form.raw("csrf")) {
        return case_page(&state, caller, &headers, &id, Some("页面已过期，请刷新后重试".into()), None).await;
    }
    let input = match form.raw("action") {
        Some("apply") => AppealIn::Apply { reason: form.text("reason"), evidence: form.text("evidence") },
        Some("opinion") => AppealIn::Opinion { agree: form.raw("agree") == Some("true"), note: form.text("note") },
        Some("decide") => AppealIn::Decide { upheld: form.raw("upheld") == Some("true"), note: form.text("note") },
        _ => return case_page(&state, caller, &headers, &id, Some("请选择复核环节".into()), None).await,
    };
    let result = appeal_step(&state, &caller, &id, &input).await.map(|_| ());
    match result {
        Err(e @ AppError::Forbidden(_)) => case_page(&state, caller, &headers, &id, Some(e.message()), None).await,
        other => after(&state, caller, &headers, &id, other).await,
    }
}

/// The rater's contact for the callback, shown on the case page once the view is on the audit trail.
pub async fn contact(
    State(state): State<AppState>,
    Who(caller): Who,
    headers: HeaderMap,
    ClientIp(peer): ClientIp,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    if !Session::form_ok(&state, &headers, form.raw("csrf")) {
        return case_page(&state, caller, &headers, &id, Some("页面已过期，请刷新后重试".into()), None).await;
    }
    match hcp_app::audit::view_contact(&state, &caller, &id, peer).await {
        Ok(c) => {
            let shown = format!("{} {}", c.name.unwrap_or_default(), c.phone.unwrap_or_default());
            case_page(&state, caller, &headers, &id, None, Some(shown.trim().to_string())).await
        }
        Err(e @ AppError::Invalid(_)) => case_page(&state, caller, &headers, &id, Some(e.message()), None).await,
        Err(e) => error_page(&e),
    }
}
