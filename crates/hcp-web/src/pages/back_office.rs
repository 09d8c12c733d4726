//! The staff back office: sign-in, the work queue sorted by deadline (overdue and due today marked), and the
//! case page with the history and a form for each step the case and the role allow. Every form carries a CSRF
//! token; every step goes through the same rules as the API (`take_step`), so the page can do nothing the API
//! would refuse.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hcp_domain::access::{Act, Role};
use hcp_domain::timestamp::Timestamp;
use hcp_storage::users::User;

use super::{csrf_ok, csrf_token, parse_form, render, see_other, with_cookie};
use crate::access::{authorize, units_for};
use crate::api::cases::{ActionIn, case_out, take_step};
use crate::api::session::{SignIn, start_session};
use crate::auth::{Caller, PeerAddr};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "staff_sign_in.html")]
struct SignInPage {
    csrf: String,
    error: Option<String>,
    username: String,
}

fn is_admin(state: &AppState, caller: &Caller) -> bool {
    authorize(state, caller, Act::ManageKeys, None).is_ok()
}

fn role_label(role: &str) -> &'static str {
    Role::parse(role).map(Role::label).unwrap_or("未知角色")
}

/// The signed-in staff member; `None` means: send them to the sign-in page (`to_sign_in`).
fn staff(caller: &Caller) -> Option<&User> {
    match caller {
        Caller::Staff(u) => Some(u),
        _ => None,
    }
}

fn to_sign_in() -> Response {
    see_other("/staff/sign-in")
}

pub async fn sign_in_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (csrf, cookie) = csrf_token(&state, &headers);
    with_cookie(render(StatusCode::OK, &SignInPage { csrf, error: None, username: String::new() }), cookie)
}

pub async fn sign_in_submit(State(state): State<AppState>, headers: HeaderMap, PeerAddr(peer): PeerAddr, body: Bytes) -> Response {
    let form = parse_form(&body);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (csrf, cookie) = csrf_token(&state, &headers);
    let username = get("username").unwrap_or_default();
    let again = |status: StatusCode, error: String| {
        with_cookie(render(status, &SignInPage { csrf: csrf.clone(), error: Some(error), username: username.clone() }), cookie.clone())
    };
    if !csrf_ok(&state, &headers, get("csrf").as_deref()) {
        return again(StatusCode::FORBIDDEN, "页面已过期，请重新登录".into());
    }
    let input = SignIn {
        username: username.clone(),
        password: get("password").unwrap_or_default(),
        otp: get("otp").filter(|o| !o.trim().is_empty()),
    };
    match start_session(&state, &headers, peer, input).await {
        Ok((_, session)) => {
            let mut r = see_other("/staff/cases");
            r.headers_mut().append(axum::http::header::SET_COOKIE, session);
            r
        }
        Err(e) => again(e.status, e.message),
    }
}

pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = parse_form(&body);
    let csrf = form.iter().find(|(n, _)| n == "csrf").map(|(_, v)| v.as_str());
    if csrf_ok(&state, &headers, csrf)
        && let Some(t) = crate::auth::cookie_value(&headers, crate::auth::SESSION_COOKIE)
    {
        let _ = state.db.delete_session(&t).await;
    }
    let mut r = see_other("/staff/sign-in");
    r.headers_mut().append(
        axum::http::header::SET_COOKIE,
        axum::http::HeaderValue::from_static("hcp_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

struct QueueRow {
    id: String,
    class: &'static str,
    deadline_label: &'static str,
    deadline: String,
    state: &'static str,
    kind: &'static str,
    unit: String,
    item: String,
    matter_no: String,
    arrived: String,
}

#[derive(Template)]
#[template(path = "staff_cases.html")]
struct QueuePage {
    who: String,
    role_label: &'static str,
    admin: bool,
    csrf: String,
    rows: Vec<QueueRow>,
    overdue: usize,
    due_today: usize,
}

fn state_label(s: &str) -> &'static str {
    match s {
        "open" => "待响应",
        "responded" => "核实整改中",
        "decided" => "待答复",
        "replied" => "待评价人反馈",
        _ => "已办结",
    }
}

fn kind_label(k: &str) -> &'static str {
    match k {
        "bad_review" => "差评",
        "complaint" => "投诉",
        "suggestion" => "意见建议",
        "inspection" => "整改任务",
        _ => "工单",
    }
}

/// The work queue: every case of the caller's tree not yet closed, the nearest deadline first.
pub async fn queue(State(state): State<AppState>, caller: Caller, headers: HeaderMap) -> Response {
    let Some(user) = staff(&caller).cloned() else { return to_sign_in() };
    if let Err(e) = authorize(&state, &caller, Act::ReadCases, None) {
        return error_page(&e);
    }
    let units = units_for(&state, &caller, Act::ReadCases);
    let cases = match state.db.open_cases(&units).await {
        Ok(c) => c,
        Err(e) => return error_page(&e.into()),
    };
    let master = state.master();
    let today = Timestamp::now().biz_date();
    let today_text = hcp_domain::timestamp::format_date(today);
    let mut rows: Vec<QueueRow> = cases
        .iter()
        .filter(|c| c.state != "closed")
        .map(|c| {
            let out = case_out(&state, c);
            let (label, deadline, overdue) = if c.state == "open" {
                ("响应", out.respond_by.clone(), out.respond_overdue)
            } else {
                ("答复", out.reply_by.clone(), out.reply_overdue)
            };
            // Waiting for the rater is not the unit's deadline.
            let waiting = c.state == "replied";
            let class = if overdue && !waiting {
                "overdue"
            } else if deadline == today_text && !waiting {
                "due"
            } else {
                ""
            };
            QueueRow {
                id: c.case.id.clone(),
                class,
                deadline_label: label,
                deadline,
                state: state_label(&c.state),
                kind: kind_label(&c.case.kind),
                unit: out.unit_name.clone().unwrap_or_else(|| c.case.unit_code.clone()),
                item: master.items.get(&c.case.item_code).map(|i| i.name.clone()).unwrap_or_default(),
                matter_no: c.case.matter_no.clone(),
                arrived: Timestamp(c.case.opened_at).to_rfc3339().get(..16).unwrap_or_default().replace('T', " "),
            }
        })
        .collect();
    rows.sort_by(|a, b| (a.class != "overdue", a.class != "due", &a.deadline).cmp(&(b.class != "overdue", b.class != "due", &b.deadline)));
    let (csrf, cookie) = csrf_token(&state, &headers);
    let page = QueuePage {
        who: user.username.clone(),
        role_label: role_label(&user.role),
        admin: is_admin(&state, &caller),
        csrf,
        overdue: rows.iter().filter(|r| r.class == "overdue").count(),
        due_today: rows.iter().filter(|r| r.class == "due").count(),
        rows,
    };
    with_cookie(render(StatusCode::OK, &page), cookie)
}

struct HistoryRow {
    label: String,
    at: String,
    actor: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "staff_case.html")]
struct CasePage {
    who: String,
    role_label: &'static str,
    admin: bool,
    csrf: String,
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
    appeal_label: String,
    can_apply: bool,
    can_opinion: bool,
    can_decide_appeal: bool,
}

fn event_label(kind: &str) -> &str {
    match kind {
        "opened" => "立案",
        "responded" => "响应",
        "callback" => "回访核实",
        "outcome" => "处理结果",
        "extended" => "延期",
        "replied" => "答复（已报备）",
        "verdict" => "评价人反馈",
        "overdue" => "超期督办",
        "due_warning" => "到期提醒",
        "appeal_applied" => "申请复核",
        "appeal_opinion" => "复核初审意见",
        "appeal_decided" => "复核决定",
        other => other,
    }
}

/// A one-line account of an event's details, for the history.
fn summary(note: Option<&str>) -> String {
    let Some(v) = note.and_then(|n| serde_json::from_str::<serde_json::Value>(n).ok()) else { return note.unwrap_or_default().to_string() };
    let Some(map) = v.as_object() else { return String::new() };
    map.iter()
        .filter(|(k, _)| !matches!(k.as_str(), "notify_rater" | "filed" | "appeal_state" | "by"))
        .filter_map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) if k == "outcome" => outcome_label(s).to_string(),
                serde_json::Value::String(s) if k == "verdict" => verdict_label(s).to_string(),
                serde_json::Value::String(s) if !s.is_empty() => s.clone(),
                serde_json::Value::Bool(b) => if *b { "是" } else { "否" }.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some(format!("{}：{text}", field_label(k)))
        })
        .collect::<Vec<_>>()
        .join("；")
}

fn outcome_label(code: &str) -> &str {
    match code {
        "fixed_at_once" => "立行立改",
        "ledger" => "建立台账、限期整改",
        "explained" => "解释说明",
        "invalid" => "经核实不予采纳",
        other => other,
    }
}

fn verdict_label(code: &str) -> &str {
    match code {
        "satisfied" => "满意",
        "basically_satisfied" => "基本满意",
        "unsatisfied" => "不满意",
        other => other,
    }
}

fn field_label(k: &str) -> &str {
    match k {
        "note" => "说明",
        "method" => "方式",
        "reached" => "联系上",
        "summary" => "情况",
        "outcome" => "处理方式",
        "fixed" => "整改内容",
        "reason" => "原因",
        "rectify_by" => "整改期限",
        "explanation" => "解释",
        "legal_basis" => "依据",
        "evidence" => "证据",
        "new_reply_by" => "新期限",
        "text" => "答复",
        "verdict" => "评价",
        "comment" => "补充",
        "step" => "环节",
        "deadline" => "期限",
        "escalated_to" => "督办单位",
        other => other,
    }
}

async fn case_page(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    id: &str,
    error: Option<String>,
    contact: Option<String>,
) -> Response {
    let Some(user) = staff(caller).cloned() else { return to_sign_in() };
    if uuid::Uuid::parse_str(id).is_err() {
        return error_page(&ApiError::not_found("工单"));
    }
    let (summary_row, events) = match state.db.get_case(id).await {
        Ok(Some(c)) => c,
        Ok(None) => return error_page(&ApiError::not_found("工单")),
        Err(e) => return error_page(&e.into()),
    };
    if let Err(e) = crate::access::authorize_found(state, caller, Act::ReadCases, &summary_row.case.unit_code, "工单") {
        return error_page(&e);
    }
    let c = &summary_row.case;
    let out = case_out(state, &summary_row);
    let master = state.master();
    let rating = match &c.rating_id {
        Some(r) => state.db.get_rating(r).await.ok().flatten(),
        None => None,
    };
    let catalogue = &state.catalogue;
    let reasons: Vec<String> = rating
        .as_ref()
        .map(|r| {
            r.reasons
                .split(',')
                .filter(|x| !x.is_empty())
                .map(|code| catalogue.reason(code).map(|r| r.label.as_str()).unwrap_or(code).to_string())
                .collect()
        })
        .unwrap_or_default();
    let can_handle = crate::access::authorize(state, caller, Act::HandleCase, Some(&c.unit_code)).is_ok();
    let st = summary_row.state.as_str();
    // 复核: who may take which step now (the appeal rules check again when it is taken).
    let appeal = state.db.appeal_of(id).await.ok().flatten();
    let applicant = events.iter().any(|e| e.kind == "appeal_applied" && e.actor == format!("staff:{}", user.username));
    let approver_here = user.role == "unit_approver" && user.unit_code == c.unit_code && !applicant;
    let bureau = crate::access::authorize(state, caller, Act::DecideAppealAsBureau, Some(&c.unit_code)).is_ok() && !applicant;
    let (appeal_label, can_apply, can_opinion, can_decide_appeal) = match appeal.as_ref().map(|(r, s)| (r.as_str(), s.as_str())) {
        None => (
            "未申请复核。".to_string(),
            c.kind == "bad_review"
                && st != "closed"
                && crate::access::authorize(state, caller, Act::ApplyAppeal, Some(&c.unit_code)).is_ok(),
            false,
            false,
        ),
        Some(("hall", "pending_unit")) => ("已申请复核，待本单位审核人初审。".into(), false, approver_here, false),
        Some((_, "pending_unit")) => ("已申请复核，待本单位审核人决定。".into(), false, false, approver_here),
        Some((_, "pending_bureau")) => ("单位已提出初审意见，待县政务服务管理部门决定。".into(), false, false, bureau),
        Some((_, "upheld")) => ("复核已支持：该差评认定不属实，不计入统计。".into(), false, false, false),
        Some(_) => ("复核未获支持：维持差评，工单继续办理。".into(), false, false, false),
    };
    let (csrf, cookie) = csrf_token(state, headers);
    let page = CasePage {
        who: user.username.clone(),
        role_label: role_label(&user.role),
        admin: is_admin(state, caller),
        csrf,
        notice: None,
        error,
        id: c.id.clone(),
        short_id: c.id.chars().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect(),
        kind: kind_label(&c.kind),
        state_label: state_label(st),
        level_label: hcp_domain::Level::new(c.level, "level").map(|l| l.label().to_string()).unwrap_or_else(|_| "—".into()),
        reasons,
        text: rating.as_ref().and_then(|r| r.text.clone()),
        matter_no: if c.matter_no.is_empty() { "—".into() } else { c.matter_no.clone() },
        unit: out.unit_name.clone().unwrap_or_else(|| c.unit_code.clone()),
        item: master.items.get(&c.item_code).map(|i| i.name.clone()).unwrap_or_else(|| "—".into()),
        window: c.window_code.as_ref().and_then(|w| master.windows.get(w)).map(|w| w.name.clone()).unwrap_or_else(|| "—".into()),
        staff: c.staff_code.as_ref().and_then(|s| master.staff.get(s)).map(|s| s.name.clone()).unwrap_or_else(|| "—".into()),
        category: if c.category == "misconduct" { "涉嫌违规（须移送）" } else { "服务质量" },
        rater: if c.real_name { "实名（须回访）".into() } else { "匿名".into() },
        arrived: Timestamp(c.opened_at).to_rfc3339().get(..16).unwrap_or_default().replace('T', " "),
        respond_by: out.respond_by.clone(),
        reply_by: out.reply_by.clone(),
        respond_overdue: out.respond_overdue,
        reply_overdue: out.reply_overdue,
        history: events
            .iter()
            .map(|e| HistoryRow {
                label: event_label(&e.kind).to_string(),
                at: Timestamp(e.at).to_rfc3339().get(..16).unwrap_or_default().replace('T', " "),
                actor: e.actor.clone(),
                summary: summary(e.note.as_deref()),
            })
            .collect(),
        can_handle,
        can_respond: st == "open",
        can_callback: matches!(st, "responded" | "decided" | "replied"),
        can_decide: st == "responded",
        can_extend: matches!(st, "responded" | "decided") && !out.reply_overdue,
        can_reply: st == "decided",
        can_view_contact: c.real_name
            && st != "closed"
            && crate::access::authorize(state, caller, Act::ViewContact, Some(&c.unit_code)).is_ok(),
        contact,
        appeal_label,
        can_apply,
        can_opinion,
        can_decide_appeal,
    };
    let status = if page.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    with_cookie(render(status, &page), cookie)
}

pub async fn case(State(state): State<AppState>, caller: Caller, headers: HeaderMap, Path(id): Path<String>) -> Response {
    case_page(&state, &caller, &headers, &id, None, None).await
}

/// One step of the case from its form; on success back to the case page (so a reload does not repeat it).
pub async fn case_step(State(state): State<AppState>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> Response {
    if staff(&caller).is_none() {
        return to_sign_in();
    }
    let form = parse_form(&body);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).filter(|v| !v.trim().is_empty());
    if !csrf_ok(&state, &headers, get("csrf").as_deref()) {
        let mut r = case_page(&state, &caller, &headers, &id, Some("页面已过期，请刷新后重试".into()), None).await;
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    let text = |k: &str| get(k).unwrap_or_default();
    let input = match get("action").as_deref() {
        Some("respond") => ActionIn::Respond { note: text("note") },
        Some("callback") => {
            ActionIn::Callback { method: text("method"), reached: get("reached").as_deref() != Some("false"), summary: text("summary") }
        }
        Some("decide") => ActionIn::Decide {
            outcome: text("outcome"),
            fixed: get("fixed"),
            reason: get("reason"),
            rectify_by: get("rectify_by"),
            explanation: get("explanation"),
            legal_basis: get("legal_basis"),
            evidence: get("evidence"),
        },
        Some("extend") => ActionIn::Extend { new_reply_by: text("new_reply_by"), reason: text("reason") },
        Some("reply") => ActionIn::Reply { text: text("text") },
        _ => return case_page(&state, &caller, &headers, &id, Some("请选择要办理的环节".into()), None).await,
    };
    match take_step(&state, &caller, &id, &input).await {
        Ok(()) => see_other(&format!("/staff/cases/{id}")),
        Err(e) if e.status == StatusCode::NOT_FOUND || e.status == StatusCode::FORBIDDEN => error_page(&e),
        Err(e) => case_page(&state, &caller, &headers, &id, Some(e.message), None).await,
    }
}

/// A 复核 step from its form.
pub async fn case_appeal(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if staff(&caller).is_none() {
        return to_sign_in();
    }
    let form = parse_form(&body);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).filter(|v| !v.trim().is_empty());
    if !csrf_ok(&state, &headers, get("csrf").as_deref()) {
        return case_page(&state, &caller, &headers, &id, Some("页面已过期，请刷新后重试".into()), None).await;
    }
    let text = |k: &str| get(k).unwrap_or_default();
    let input = match get("action").as_deref() {
        Some("apply") => crate::api::cases::AppealIn::Apply { reason: text("reason"), evidence: text("evidence") },
        Some("opinion") => crate::api::cases::AppealIn::Opinion { agree: get("agree").as_deref() == Some("true"), note: text("note") },
        Some("decide") => crate::api::cases::AppealIn::Decide { upheld: get("upheld").as_deref() == Some("true"), note: text("note") },
        _ => return case_page(&state, &caller, &headers, &id, Some("请选择复核环节".into()), None).await,
    };
    match crate::api::cases::appeal_step(&state, &caller, &id, &input).await {
        Ok(()) => see_other(&format!("/staff/cases/{id}")),
        Err(e) if e.status == StatusCode::NOT_FOUND => error_page(&e),
        Err(e) => case_page(&state, &caller, &headers, &id, Some(e.message), None).await,
    }
}

/// The rater's contact for the callback, shown on the case page once the view is on the audit trail.
pub async fn case_contact(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PeerAddr(peer): PeerAddr,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    let csrf = form.iter().find(|(n, _)| n == "csrf").map(|(_, v)| v.as_str());
    if !csrf_ok(&state, &headers, csrf) {
        return case_page(&state, &caller, &headers, &id, Some("页面已过期，请刷新后重试".into()), None).await;
    }
    match crate::api::audit::view_contact(&state, &caller, peer, &id).await {
        Ok(c) => {
            let shown = format!("{} {}", c.name.unwrap_or_default(), c.phone.unwrap_or_default());
            case_page(&state, &caller, &headers, &id, None, Some(shown.trim().to_string())).await
        }
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => case_page(&state, &caller, &headers, &id, Some(e.message), None).await,
        Err(e) => error_page(&e),
    }
}

#[derive(Template)]
#[template(
    source = r#"{% extends "base.html" %}{% block title %}{{ title }}{% endblock %}{% block main %}<h1>{{ title }}</h1><p class="alert" role="alert">{{ message }}</p><p><a href="/staff/cases">返回工单列表</a></p>{% endblock %}"#,
    ext = "html"
)]
struct ErrorPage {
    title: &'static str,
    message: String,
}

fn error_page(e: &ApiError) -> Response {
    let title = match e.status {
        StatusCode::NOT_FOUND => "没有找到",
        StatusCode::FORBIDDEN => "无权访问",
        StatusCode::UNAUTHORIZED => "请先登录",
        _ => "出错了",
    };
    let mut r = render(e.status, &ErrorPage { title, message: e.message.clone() });
    if e.status == StatusCode::UNAUTHORIZED {
        r = see_other("/staff/sign-in");
    }
    r.into_response()
}

// ---- statistics for staff: by department, service item and channel, with the loop's figures

struct StatRow {
    name: String,
    total: i64,
    satisfaction: String,
    bad: i64,
    rectified: String,
    on_time: String,
}

struct StatSection {
    title: &'static str,
    key_label: &'static str,
    chart: String,
    rows: Vec<StatRow>,
}

#[derive(Template)]
#[template(path = "staff_dashboard.html")]
struct DashboardPage {
    who: String,
    role_label: &'static str,
    admin: bool,
    csrf: String,
    period: String,
    month: String,
    sections: Vec<StatSection>,
}

/// A month as `(first day, last day so far)`.
fn month_range(month: Option<&str>) -> Option<(String, time::Date, time::Date)> {
    let today = Timestamp::now().biz_date();
    let month =
        month.filter(|m| m.len() == 7).map(String::from).unwrap_or_else(|| hcp_domain::timestamp::format_date(today)[..7].to_string());
    let first = hcp_domain::timestamp::parse_date(&format!("{month}-01"), "month").ok()?;
    let next = if first.month() == time::Month::December {
        time::Date::from_calendar_date(first.year() + 1, time::Month::January, 1).ok()?
    } else {
        time::Date::from_calendar_date(first.year(), first.month().next(), 1).ok()?
    };
    let last = next.previous_day()?.min(today.max(first));
    Some((month, first, last))
}

pub async fn dashboard(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<super::results::MonthQuery>,
) -> Response {
    let Some(user) = staff(&caller).cloned() else { return to_sign_in() };
    if let Err(e) = authorize(&state, &caller, Act::ReadLoopStats, None) {
        return error_page(&e);
    }
    let Some((month, first, last)) = month_range(q.month.as_deref()) else {
        return error_page(&ApiError::from(hcp_domain::DomainError::new("invalid_date", "month", "月份格式应为 YYYY-MM")));
    };
    let (from, to) = (hcp_domain::timestamp::date_key(first), hcp_domain::timestamp::date_key(last));
    let units = units_for(&state, &caller, Act::ReadLoopStats);
    let master = state.master();
    let cases = state.db.cases_with_events(&units, from, to).await.unwrap_or_default();
    let today = Timestamp::now().biz_date();
    let mut sections = Vec::new();
    for (dim, title, key_label) in [("unit", "按单位", "单位"), ("item", "按事项", "事项"), ("channel", "按评价渠道", "渠道")]
    {
        let groups = state.db.satisfaction(dim, from, to, None).await.unwrap_or_default();
        let mut rows = Vec::new();
        let mut bars = Vec::new();
        for g in groups.iter().filter(|g| g.counts.total() > 0) {
            // Only what lies in the caller's tree (channels: the county's own figures are for the county).
            let (name, of_case): (String, Option<(bool, String)>) = match dim {
                "unit" => {
                    if !units.contains(&g.key) {
                        continue;
                    }
                    (master.units.get(&g.key).map(|u| u.name.clone()).unwrap_or_else(|| g.key.clone()), Some((true, g.key.clone())))
                }
                "item" => {
                    let owner = master.items.get(&g.key).map(|i| i.owner_unit_code.clone()).unwrap_or_default();
                    if !units.contains(&owner) {
                        continue;
                    }
                    (master.items.get(&g.key).map(|i| i.name.clone()).unwrap_or_else(|| g.key.clone()), Some((false, g.key.clone())))
                }
                _ => {
                    if authorize(&state, &caller, Act::ReadLoopStats, Some(&master.top_of(&user.unit_code))).is_err() {
                        continue;
                    }
                    (hcp_domain::Channel::parse(&g.key, "key").map(|c| c.label().to_string()).unwrap_or_else(|_| g.key.clone()), None)
                }
            };
            let belongs = |s: &hcp_storage::cases::CaseSummary| match &of_case {
                Some((true, unit)) => &s.case.unit_code == unit,
                Some((false, item)) => &s.case.item_code == item,
                None => false,
            };
            let facts: Vec<_> =
                cases.iter().filter(|(s, _)| belongs(s)).filter_map(|(s, e)| crate::api::cases::metrics_facts(s, e)).collect();
            let m = hcp_domain::case_metrics::loop_metrics(&facts, today);
            let loop_known = dim != "channel";
            rows.push(StatRow {
                name: name.clone(),
                total: g.counts.total(),
                satisfaction: super::pct(g.counts.satisfaction_rate()),
                bad: g.counts.bad(),
                rectified: if loop_known { super::pct(m.rectification_rate) } else { "—".into() },
                on_time: if loop_known { super::pct(m.on_time_reply_rate) } else { "—".into() },
            });
            bars.push((name, g.counts.satisfaction_rate()));
        }
        sections.push(StatSection { title, key_label, chart: super::bar_chart(&format!("{title}的满意率"), &bars), rows });
    }
    let (csrf, cookie) = csrf_token(&state, &headers);
    let page = DashboardPage {
        who: user.username.clone(),
        role_label: role_label(&user.role),
        admin: is_admin(&state, &caller),
        csrf,
        period: format!("{} 至 {}", hcp_domain::timestamp::format_date(first), hcp_domain::timestamp::format_date(last)),
        month,
        sections,
    };
    with_cookie(render(StatusCode::OK, &page), cookie)
}

// ---- paper rating forms (书面评价表), entered by the unit's staff

#[derive(Template)]
#[template(path = "staff_paper.html")]
struct PaperPage {
    who: String,
    role_label: &'static str,
    admin: bool,
    csrf: String,
    error: Option<String>,
    notice: Option<String>,
    levels: Vec<(u8, &'static str)>,
    reason_sets: Vec<(&'static str, Vec<(String, String)>)>,
    status_is_error: bool,
}

fn paper_page(
    state: &AppState,
    caller: &Caller,
    user: &User,
    headers: &HeaderMap,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let reasons = |level: u8| {
        state
            .catalogue
            .reasons
            .iter()
            .filter(|r| r.level == level && r.modes.iter().any(|m| m == "offline"))
            .map(|r| (r.code.clone(), r.label.clone()))
            .collect()
    };
    let page = PaperPage {
        who: user.username.clone(),
        role_label: role_label(&user.role),
        admin: is_admin(state, caller),
        csrf,
        levels: hcp_domain::Level::ALL.iter().rev().map(|l| (l.value(), l.label())).collect(),
        reason_sets: vec![("非常不满意", reasons(1)), ("不满意", reasons(2))],
        status_is_error: error.is_some(),
        error,
        notice,
    };
    let status = if page.status_is_error { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    with_cookie(render(status, &page), cookie)
}

pub async fn paper(State(state): State<AppState>, caller: Caller, headers: HeaderMap) -> Response {
    let Some(user) = staff(&caller).cloned() else { return to_sign_in() };
    if let Err(e) = authorize(&state, &caller, Act::EnterPaperRating, None) {
        return error_page(&e);
    }
    paper_page(&state, &caller, &user, &headers, None, None)
}

pub async fn paper_submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PeerAddr(peer): PeerAddr,
    body: Bytes,
) -> Response {
    let Some(user) = staff(&caller).cloned() else { return to_sign_in() };
    let form = parse_form(&body);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string()).filter(|v| !v.is_empty());
    if !csrf_ok(&state, &headers, get("csrf").as_deref()) {
        return paper_page(&state, &caller, &user, &headers, Some("页面已过期，请重新录入".into()), None);
    }
    let level = get("level").and_then(|l| l.parse().ok()).unwrap_or(0);
    let input = crate::api::ratings::RatingIn {
        service_no: get("service_no"),
        reasons: form.iter().filter(|(k, _)| k == "reasons").map(|(_, v)| v.clone()).take(30).collect(),
        text: get("text"),
        anonymous: get("anonymous").as_deref() == Some("1"),
        ..crate::api::ratings::RatingIn::new(get("matter_no").unwrap_or_default(), "paper", level)
    };
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    match crate::api::ratings::rate(&state, &caller, &headers, peer, input, digest).await {
        Ok(r) => {
            let case = if r.bad_review { "，差评已自动立案交办" } else { "" };
            paper_page(&state, &caller, &user, &headers, None, Some(format!("已录入（评价编号 {}）{case}", r.id)))
        }
        Err(e) => paper_page(&state, &caller, &user, &headers, Some(e.message), None),
    }
}

/// The printable receipt of a matter (with its rating QR code), for staff at a window.
pub async fn receipt(caller: Caller, axum::extract::Query(q): axum::extract::Query<ReceiptQuery>) -> Response {
    if staff(&caller).is_none() {
        return to_sign_in();
    }
    let no: String = q.matter_no.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').take(50).collect();
    see_other(&format!("/api/v1/matters/{no}/receipt"))
}

#[derive(serde::Deserialize)]
pub struct ReceiptQuery {
    pub matter_no: String,
}

// ---- machine keys: issue and revoke (the county's administrators)

struct KeyRow {
    id: String,
    label: String,
    kind: &'static str,
    scope: String,
    created: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "staff_keys.html")]
struct KeysPage {
    who: String,
    role_label: &'static str,
    admin: bool,
    csrf: String,
    error: Option<String>,
    issued: Option<String>,
    keys: Vec<KeyRow>,
}

async fn keys_page(
    state: &AppState,
    caller: &Caller,
    user: &User,
    headers: &HeaderMap,
    error: Option<String>,
    issued: Option<String>,
) -> Response {
    let master = state.master();
    let keys = state
        .db
        .list_api_keys()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| authorize(state, caller, Act::ManageKeys, Some(&k.unit_code)).is_ok())
        .map(|(k, created)| KeyRow {
            id: k.id.clone(),
            label: k.label.clone(),
            kind: match k.kind.as_str() {
                "device" => "评价器",
                "system" => "业务系统",
                _ => "热线",
            },
            scope: format!(
                "{}{}",
                master.units.get(&k.unit_code).map(|u| u.name.clone()).unwrap_or(k.unit_code.clone()),
                k.window_code.as_ref().and_then(|w| master.windows.get(w)).map(|w| format!(" / {}", w.name)).unwrap_or_default()
            ),
            created: Timestamp(created).to_rfc3339().get(..16).unwrap_or_default().replace('T', " "),
            revoked: k.revoked,
        })
        .collect();
    let (csrf, cookie) = csrf_token(state, headers);
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = KeysPage { who: user.username.clone(), role_label: role_label(&user.role), admin: true, csrf, error, issued, keys };
    with_cookie(render(status, &page), cookie)
}

pub async fn keys(State(state): State<AppState>, caller: Caller, headers: HeaderMap) -> Response {
    let Some(user) = staff(&caller).cloned() else { return to_sign_in() };
    if let Err(e) = authorize(&state, &caller, Act::ManageKeys, None) {
        return error_page(&e);
    }
    keys_page(&state, &caller, &user, &headers, None, None).await
}

pub async fn keys_submit(State(state): State<AppState>, caller: Caller, headers: HeaderMap, body: Bytes) -> Response {
    let Some(user) = staff(&caller).cloned() else { return to_sign_in() };
    if let Err(e) = authorize(&state, &caller, Act::ManageKeys, None) {
        return error_page(&e);
    }
    let form = parse_form(&body);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string()).filter(|v| !v.is_empty());
    if !csrf_ok(&state, &headers, get("csrf").as_deref()) {
        return keys_page(&state, &caller, &user, &headers, Some("页面已过期，请重试".into()), None).await;
    }
    match get("action").as_deref() {
        Some("revoke") => {
            let id = get("id").unwrap_or_default();
            let known = state.db.list_api_keys().await.unwrap_or_default().into_iter().find(|(k, _)| k.id == id);
            let Some((k, _)) = known.filter(|(k, _)| authorize(&state, &caller, Act::ManageKeys, Some(&k.unit_code)).is_ok()) else {
                return error_page(&ApiError::not_found("密钥"));
            };
            let _ = state.db.revoke_api_key(&k.id).await;
            keys_page(&state, &caller, &user, &headers, None, None).await
        }
        Some("issue") => {
            let kind = get("kind").unwrap_or_default();
            let unit = get("unit").unwrap_or_default();
            let window = get("window");
            let label = get("label").unwrap_or_default();
            if let Err(e) = authorize(&state, &caller, Act::ManageKeys, Some(&unit)) {
                return keys_page(&state, &caller, &user, &headers, Some(e.message), None).await;
            }
            let master = state.master();
            if let Some(w) = &window
                && master.windows.get(w).is_none_or(|x| !master.is_within(&x.unit_code, &unit))
            {
                return keys_page(&state, &caller, &user, &headers, Some(format!("窗口 {w} 不存在或不属于该单位")), None).await;
            }
            let key = format!("hcp_{kind}_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
            match state.db.insert_api_key(&kind, &unit, window.as_deref(), &label, &key).await {
                Ok(_) => keys_page(&state, &caller, &user, &headers, None, Some(key)).await,
                Err(e) => keys_page(&state, &caller, &user, &headers, Some(ApiError::from(e).message), None).await,
            }
        }
        _ => keys_page(&state, &caller, &user, &headers, Some("请求无效".into()), None).await,
    }
}

// ---- the system's settings as they are (read-only): rules, calendar, catalogue, units

struct UnitRow {
    code: String,
    name: String,
    kind: String,
    parent: String,
    hall: &'static str,
    windows: usize,
    staff: usize,
}

#[derive(Template)]
#[template(path = "staff_settings.html")]
struct SettingsPage {
    who: String,
    role_label: &'static str,
    admin: bool,
    csrf: String,
    warnings: Vec<String>,
    notice: Option<String>,
    rules: Vec<(&'static str, String)>,
    year: i32,
    days: Vec<(String, &'static str)>,
    catalogue_version: i64,
    reasons: Vec<(String, String, String, String)>,
    units: Vec<UnitRow>,
}

pub async fn settings(State(state): State<AppState>, caller: Caller, headers: HeaderMap) -> Response {
    settings_page(&state, &caller, &headers, None, None).await
}

/// A settings form of the county: the calendar and master data are shared by every tree on the database, so only
/// the top unit's administrators may change them; the form's fields once its token is checked.
async fn county_form(state: &AppState, caller: &Caller, headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, Response> {
    if let Err(e) = authorize(state, caller, Act::ReadAudit, None).and_then(|_| authorize(state, caller, Act::ManageKeys, None)) {
        return Err(error_page(&e));
    }
    let form = parse_form(body);
    let csrf = form.iter().find(|(n, _)| n == "csrf").map(|(_, v)| v.as_str());
    if !csrf_ok(state, headers, csrf) {
        return Err(settings_page(state, caller, headers, Some("页面已过期，请重试".into()), None).await);
    }
    Ok(form)
}

/// Loads a year's holiday notice pasted as CSV (the same format as `haochaping calendar import`).
pub async fn settings_calendar(State(state): State<AppState>, caller: Caller, headers: HeaderMap, body: Bytes) -> Response {
    let form = match county_form(&state, &caller, &headers, &body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let source = format!("web:{}", staff(&caller).map(|u| u.username.clone()).unwrap_or_default());
    match state.db.import_calendar(&get("csv"), &source).await {
        Ok(years) => {
            let _ = state.reload_calendar().await;
            let years = years.iter().map(i32::to_string).collect::<Vec<_>>().join("、");
            settings_page(&state, &caller, &headers, None, Some(format!("已导入 {years} 年的节假日安排，所有服务器一分钟内生效"))).await
        }
        Err(e) => settings_page(&state, &caller, &headers, Some(ApiError::from(e).message), None).await,
    }
}

/// Imports units, windows, items or staff pasted as CSV: the same code as `haochaping import`.
pub async fn settings_import(State(state): State<AppState>, caller: Caller, headers: HeaderMap, body: Bytes) -> Response {
    let form = match county_form(&state, &caller, &headers, &body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let kind = get("kind");
    if !matches!(kind.as_str(), "units" | "windows" | "items" | "staff") {
        return settings_page(&state, &caller, &headers, Some("请选择导入类型".into()), None).await;
    }
    let Some(import) = state.master_import else {
        return settings_page(&state, &caller, &headers, Some("本服务器不支持从页面导入，请用命令行 haochaping import".into()), None).await;
    };
    let result = import(state.db.clone(), kind.clone(), get("csv")).await;
    let _ = state.reload_master().await;
    match result {
        Ok(n) => settings_page(&state, &caller, &headers, None, Some(format!("已导入 {n} 条（{kind}）"))).await,
        Err(e) => settings_page(&state, &caller, &headers, Some(format!("导入停止：{e}")), None).await,
    }
}

async fn settings_page(state: &AppState, caller: &Caller, headers: &HeaderMap, error: Option<String>, notice: Option<String>) -> Response {
    let (state, caller, headers) = (state.clone(), caller.clone(), headers.clone());
    let Some(user) = staff(&caller).cloned() else { return to_sign_in() };
    if let Err(e) = authorize(&state, &caller, Act::ManageKeys, None) {
        return error_page(&e);
    }
    let cfg = &state.config;
    let rules = vec![
        ("响应期限", format!("{} 个工作日", cfg.deadline_rule.respond_days)),
        ("答复期限", format!("{} 个工作日", cfg.deadline_rule.reply_days)),
        ("延期", format!("至多 {} 次，最迟自受理起 {} 个工作日", cfg.loop_limits.max_extensions, cfg.loop_limits.max_reply_days)),
        ("不满意退回", format!("至多 {} 次", cfg.loop_limits.max_reopen)),
        ("复核期间", if cfg.appeal_stops_clock { "暂停计时".to_string() } else { "不停止计时".to_string() }),
        ("评价期限", format!("服务后 {} 天内", cfg.rating_window_days)),
        ("评价人反馈链接", format!("答复后 {} 天内有效", cfg.feedback_days)),
        ("工作人员会话", format!("{} 分钟无操作即退出", cfg.session_idle_secs / 60)),
        ("管理员动态口令", if cfg.admin_second_factor { "必须".to_string() } else { "未启用".to_string() }),
        ("评价器", format!("{} 秒无操作返回欢迎页；{} 毫秒内重复按键只算一次", cfg.device_idle_secs, cfg.device_min_press_ms)),
    ];
    let today = Timestamp::now().biz_date();
    let year = today.year();
    let mut warnings: Vec<String> = error.into_iter().collect();
    let mut days = Vec::new();
    if let Ok(cal) = state.calendar().await {
        if !cal.has_year(year) {
            warnings.push(format!("{year} 年的节假日安排尚未导入，期限按周一至周五推算"));
        }
        if !cal.has_year(year + 1) && u8::from(today.month()) >= 10 {
            warnings.push(format!("{} 年的节假日安排尚未导入：国务院通知发布后请及时导入", year + 1));
        }
        if let (Ok(mut d), Ok(end)) =
            (time::Date::from_calendar_date(year, time::Month::January, 1), time::Date::from_calendar_date(year, time::Month::December, 31))
        {
            while d <= end {
                let weekend = matches!(d.weekday(), time::Weekday::Saturday | time::Weekday::Sunday);
                let working = cal.is_working_day(d);
                if working == weekend {
                    days.push((hcp_domain::timestamp::format_date(d), if working { "调休上班" } else { "放假" }));
                }
                match d.next_day() {
                    Some(n) => d = n,
                    None => break,
                }
            }
        }
    }
    let cat = &state.catalogue;
    let reasons = cat
        .reasons
        .iter()
        .map(|r| {
            let level = hcp_domain::Level::new(i64::from(r.level), "level").map(|l| l.label().to_string()).unwrap_or_default();
            let modes = r.modes.iter().map(|m| if m == "online" { "网上" } else { "现场" }).collect::<Vec<_>>().join("、");
            (level, r.code.clone(), r.label.clone(), modes)
        })
        .collect();
    let master = state.master();
    let units = master
        .sorted_units()
        .into_iter()
        .filter(|u| authorize(&state, &caller, Act::ManageKeys, Some(&u.code)).is_ok())
        .map(|u| UnitRow {
            code: u.code.clone(),
            name: u.name.clone(),
            kind: u.kind.clone(),
            parent: u.parent_code.clone().unwrap_or_else(|| "—".into()),
            hall: if u.hall_stationed { "是" } else { "" },
            windows: master.windows.values().filter(|w| w.unit_code == u.code).count(),
            staff: master.staff.values().filter(|s| s.unit_code == u.code).count(),
        })
        .collect();
    let (csrf, cookie) = csrf_token(&state, &headers);
    let page = SettingsPage {
        who: user.username.clone(),
        role_label: role_label(&user.role),
        admin: true,
        csrf,
        warnings,
        notice,
        rules,
        year,
        days,
        catalogue_version: cat.version,
        reasons,
        units,
    };
    with_cookie(render(StatusCode::OK, &page), cookie)
}
