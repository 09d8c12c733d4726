//! What the back office keeps besides cases, each as a page with a CSV export Excel opens: supervision
//! inspections and third-party assessments (with the form an assessor records one on), the replies filed for
//! supervision (备案), and the notifications that failed (with re-run). Each list is cut to the caller's tree.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hcp_app::AppError;
use hcp_domain::access::Act;
use hcp_domain::bizday::Period;
use hcp_domain::case_event::short;
use hcp_domain::{BizDay, Timestamp};

use super::ledger::csv_file;
use super::{Frame, Session, error_page};
use crate::extract::Form;
use crate::extract::caller::Who;
use crate::pages::{minute, see_other};
use crate::state::AppState;

/// One row of a list: its cells, a link on one of them, and a button that posts somewhere.
pub struct Row {
    pub cells: Vec<String>,
    /// `(cell index, href)`
    pub link: Option<(usize, String)>,
    /// `(action, button label)`
    pub action: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "staff_records.html")]
struct RecordsPage {
    frame: Frame,
    title: &'static str,
    intro: String,
    export: String,
    columns: Vec<&'static str>,
    rows: Vec<Row>,
    has_actions: bool,
    notice: Option<String>,
    error: Option<String>,
    /// the inspection form, for those who record inspections: the units to choose from
    inspection_units: Option<Vec<(String, String)>>,
}

impl RecordsPage {
    fn column(&self, i: &usize) -> &str {
        self.columns.get(*i).copied().unwrap_or("")
    }
}

#[derive(serde::Deserialize, Default)]
pub struct ListQuery {
    pub format: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

struct Listing {
    title: &'static str,
    intro: String,
    name: &'static str,
    path: &'static str,
    columns: Vec<&'static str>,
    rows: Vec<Row>,
}

fn respond(
    session: &Session,
    q: &ListQuery,
    l: Listing,
    notice: Option<String>,
    error: Option<String>,
    inspection_units: Option<Vec<(String, String)>>,
) -> Response {
    if q.format.as_deref() == Some("csv") {
        let rows = l.rows.into_iter().map(|r| r.cells).collect();
        return csv_file(l.name, &l.columns, rows);
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = RecordsPage {
        frame: session.frame.clone(),
        title: l.title,
        intro: l.intro,
        export: format!("{}?format=csv", l.path),
        columns: l.columns,
        has_actions: l.rows.iter().any(|r| r.action.is_some()),
        rows: l.rows,
        notice,
        error,
        inspection_units,
    };
    session.page(status, &page)
}

macro_rules! signed_in {
    ($state:expr, $caller:expr, $headers:expr) => {
        match Session::of(&$state, $caller, &$headers) {
            Some(s) => s,
            None => return super::sign_in(),
        }
    };
}

async fn inspections_listing(state: &AppState, session: &Session) -> Result<Listing, AppError> {
    let master = state.master();
    let list = hcp_app::complaints::list_inspections(state, &session.caller, None).await?;
    let rows = list
        .into_iter()
        .map(|i| Row {
            link: i.case_id.as_ref().map(|c| (6, format!("/staff/cases/{c}"))),
            cells: vec![
                i.inspected_on.clone(),
                if i.kind == "third_party" { "第三方评估".into() } else { "监督查评".into() },
                master.unit_name(&i.unit_code).unwrap_or(i.unit_code.clone()),
                format!("{}：{}", target_label(&i.target_kind), i.target_code),
                i.scores.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join("；"),
                i.findings.clone(),
                i.case_id.as_deref().map(short).unwrap_or_else(|| "—".into()),
            ],
            action: None,
        })
        .collect();
    Ok(Listing {
        title: "监督查评与第三方评估",
        intro: "监督查评和第三方评估的记录；发现问题的可立案整改（见“工单”）。".into(),
        name: "inspections",
        path: "/staff/inspections",
        columns: vec!["日期", "类型", "单位", "对象", "得分", "发现", "整改工单"],
        rows,
    })
}

fn target_label(kind: &str) -> &'static str {
    match kind {
        "unit" => "单位",
        "window" => "窗口",
        "staff" => "人员",
        _ => "平台",
    }
}

fn inspection_units(state: &AppState, session: &Session) -> Option<Vec<(String, String)>> {
    state.authorize(&session.caller, Act::RecordInspection).ok()?;
    let master = state.master();
    let mut units: Vec<(String, String)> = state
        .units_for(&session.caller, Act::RecordInspection)
        .into_iter()
        .map(|u| (u.clone(), master.unit_name(&u).unwrap_or(u)))
        .collect();
    units.sort();
    Some(units)
}

pub async fn inspections(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let session = signed_in!(state, caller, headers);
    match inspections_listing(&state, &session).await {
        Ok(l) => {
            let units = inspection_units(&state, &session);
            respond(&session, &q, l, None, None, units)
        }
        Err(e) => error_page(&e),
    }
}

/// Records an inspection of a unit from the page (an assessor's or the county's).
pub async fn record_inspection(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, form: Form) -> Response {
    let session = signed_in!(state, caller, headers);
    let result = if Session::form_ok(&state, &headers, form.raw("csrf")) {
        let mut scores = std::collections::BTreeMap::new();
        for (k, name) in [("score_norms", "service_norms"), ("score_efficiency", "efficiency"), ("score_attitude", "attitude")] {
            if let Some(v) = form.get(k) {
                scores.insert(name.to_string(), v.parse().unwrap_or(-1));
            }
        }
        let input = hcp_app::complaints::InspectionIn {
            target_kind: "unit".into(),
            target_code: form.text("unit_code"),
            inspected_on: form.get("inspected_on").unwrap_or_else(|| BizDay::today().to_string()),
            scores,
            findings: form.text("findings"),
            open_case: form.raw("open_case") == Some("1"),
        };
        hcp_app::complaints::record_inspection(&state, &session.caller, input).await.map(|_| ())
    } else {
        Err(AppError::invalid("csrf", "csrf", "页面已过期，请重新提交"))
    };
    let (notice, error) = match result {
        Ok(()) => (Some("已记录".to_string()), None),
        Err(e @ (AppError::Invalid(_) | AppError::Forbidden(_))) => (None, Some(e.message())),
        Err(e) => return error_page(&e),
    };
    match inspections_listing(&state, &session).await {
        Ok(l) => {
            let units = inspection_units(&state, &session);
            respond(&session, &ListQuery::default(), l, notice, error, units)
        }
        Err(e) => error_page(&e),
    }
}

pub async fn replies(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let session = signed_in!(state, caller, headers);
    let period = match Period::parse(q.from.as_deref(), q.to.as_deref(), BizDay::today()) {
        Ok(p) => p,
        Err(e) => return error_page(&AppError::Invalid(e)),
    };
    let list = match hcp_app::cases::filed_replies(&state, &session.caller, period, None).await {
        Ok(l) => l,
        Err(e) => return error_page(&e),
    };
    let rows = list
        .into_iter()
        .map(|r| Row {
            link: Some((1, format!("/staff/cases/{}", r.case_id))),
            cells: vec![
                minute(Timestamp::parse_rfc3339(&r.replied_at, "t").unwrap_or(Timestamp(0))),
                short(&r.case_id),
                r.unit_name.clone().unwrap_or(r.unit_code.clone()),
                outcome_label(r.outcome.as_deref()).into(),
                r.text.clone(),
                r.replied_by.strip_prefix("staff:").or(r.replied_by.strip_prefix("key:")).unwrap_or(&r.replied_by).to_string(),
            ],
            action: None,
        })
        .collect();
    let l = Listing {
        title: "答复备案",
        intro: format!("{} 至 {} 到达的工单的答复，按答复时间倒序。", period.from, period.to),
        name: "filed-replies",
        path: "/staff/replies",
        columns: vec!["答复时间", "工单", "单位", "处理方式", "答复内容", "答复人"],
        rows,
    };
    respond(&session, &q, l, None, None, None)
}

fn outcome_label(o: Option<&str>) -> &'static str {
    match o {
        Some("fixed_at_once") => "立行立改",
        Some("ledger") => "限期整改",
        Some("explained") => "解释说明",
        Some("invalid") => "不予采纳",
        _ => "—",
    }
}

async fn failed_listing(state: &AppState, session: &Session) -> Result<Listing, AppError> {
    let mut list = Vec::new();
    for st in ["dead", "unsent", "retrying"] {
        list.extend(hcp_app::notifications::list(state, &session.caller, Some(st), Some(500)).await?);
    }
    list.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    let rows = list
        .into_iter()
        .map(|n| Row {
            link: n.case_id.as_ref().map(|c| (4, format!("/staff/cases/{c}"))),
            action: (n.state != "retrying").then(|| (format!("/staff/notifications/{}/retry", n.id), "重新发送".to_string())),
            cells: vec![
                minute(Timestamp::parse_rfc3339(&n.created_at, "t").unwrap_or(Timestamp(0))),
                match n.state.as_str() {
                    "dead" => "多次失败".into(),
                    "unsent" => "未配置通道".into(),
                    _ => "重试中".into(),
                },
                format!("{} {}", if n.channel == "sms" { "短信" } else { "邮件" }, n.address),
                n.subject.clone(),
                n.case_id.as_deref().map(short).unwrap_or_else(|| "—".into()),
                n.attempts.last().map(|a| a.result.clone()).unwrap_or_default(),
            ],
        })
        .collect();
    Ok(Listing {
        title: "发送失败的通知",
        intro: "多次发送失败或未配置发送通道的短信和邮件；通道恢复后可重新发送。".into(),
        name: "failed-notifications",
        path: "/staff/notifications",
        columns: vec!["时间", "状态", "发往", "标题", "工单", "最后一次结果"],
        rows,
    })
}

pub async fn notifications(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let session = signed_in!(state, caller, headers);
    match failed_listing(&state, &session).await {
        Ok(l) => respond(&session, &q, l, None, None, None),
        Err(e) => error_page(&e),
    }
}

pub async fn retry(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, Path(id): Path<String>, form: Form) -> Response {
    let session = signed_in!(state, caller, headers);
    if !Session::form_ok(&state, &headers, form.raw("csrf")) {
        return error_page(&AppError::invalid("csrf", "csrf", "页面已过期，请刷新后重试"));
    }
    match hcp_app::notifications::retry(&state, &session.caller, &id).await {
        Ok(_) => see_other("/staff/notifications"),
        Err(e) => error_page(&e),
    }
}

pub async fn dead_letters(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let session = signed_in!(state, caller, headers);
    let list = match hcp_app::device::dead_letters(&state, &session.caller).await {
        Ok(l) => l,
        Err(e) => return error_page(&e),
    };
    let master = state.master();
    let rows = list
        .into_iter()
        .map(|d| Row {
            cells: vec![
                minute(Timestamp(d.reported_at)),
                d.window_code.as_deref().and_then(|w| master.window_name(w)).unwrap_or_else(|| d.unit_code.clone()),
                d.matter_no.clone(),
                d.service_no.clone().unwrap_or_default(),
                hcp_domain::Level::new(d.level, "level").map(|l| l.label().to_string()).unwrap_or_default(),
                refusal_label(&d.code),
                d.pressed_at.clone().unwrap_or_default(),
            ],
            link: None,
            action: None,
        })
        .collect();
    let l = Listing {
        title: "评价器未被接受的评价",
        intro: "窗口评价器提交后被拒绝（不是网络问题）的评价，由评价器报告；评价器本地也保留一份。".into(),
        name: "device-dead-letters",
        path: "/staff/dead-letters",
        columns: vec!["报告时间", "窗口", "办件编号", "服务编号", "评价等级", "原因", "评价器时间"],
        rows,
    };
    respond(&session, &q, l, None, None, None)
}

/// A refusal's code in words, for the common ones.
fn refusal_label(code: &str) -> String {
    match code {
        "already_rated" => "已评价过".into(),
        "rating_window_closed" | "token_expired" => "已超出评价期限".into(),
        "wrong_window" => "不是本窗口的服务".into(),
        "not_found" => "办件或服务不存在".into(),
        "reason_required" | "missing_field" => "差评缺少原因".into(),
        other => format!("被拒绝（{other}）"),
    }
}
