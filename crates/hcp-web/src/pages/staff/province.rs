//! The provincial link's health for the county's administrators: what waits, what arrived, what the province
//! refused and why, with a way to send a refused record again after a fix.

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use hcp_app::province::Health;
use hcp_domain::Timestamp;
use hcp_domain::province::{Identity, Op};

use super::{Frame, Session, error_page, form_status};
use crate::extract::Form;
use crate::extract::caller::Who;
use crate::pages::minute;
use crate::state::AppState;

struct Count {
    op: &'static str,
    waiting: i64,
    delivered: i64,
    refused: i64,
}

struct Reject {
    id: String,
    what: String,
    reason: String,
    at: String,
}

#[derive(Template)]
#[template(path = "staff_province.html")]
struct ProvincePage {
    frame: Frame,
    error: Option<String>,
    done: Option<String>,
    health: &'static str,
    health_class: &'static str,
    why: String,
    url: String,
    counts: Vec<Count>,
    unplanned: i64,
    oldest: String,
    last_success: String,
    last_error: String,
    rejects: Vec<Reject>,
}

/// `service|LX001|1` in words: 办件服务 LX001 第 1 次服务.
fn describe(id: &str) -> String {
    match Identity::parse_key(id) {
        Some(i) => match i.op {
            Op::Service => format!("{} {}（服务 {}）", i.op.label(), i.project_no, i.service_number),
            Op::Evaluation => format!("{} {}（服务 {}，第 {} 次评价）", i.op.label(), i.project_no, i.service_number, i.assess_number),
            Op::Rectification => format!("{} {}（第 {} 步）", i.op.label(), i.project_no, i.step_no),
        },
        None => id.to_string(),
    }
}

async fn render(state: &AppState, session: &Session, error: Option<String>, done: Option<String>) -> Response {
    let s = match hcp_app::province::status(state, &session.caller).await {
        Ok(s) => s,
        Err(e) => return error_page(&e),
    };
    let (health, why) = hcp_app::province::health(&s, state.config.province_url.is_some(), Timestamp::now());
    let counts = Op::ALL
        .iter()
        .map(|op| {
            let n =
                |states: &[&str]| s.counts.iter().filter(|(o, st, _)| o == op.code() && states.contains(&st.as_str())).map(|c| c.2).sum();
            Count {
                op: op.label(),
                waiting: n(&["pending", "sending", "blocked"]),
                delivered: n(&["delivered"]),
                refused: n(&["rejected"]),
            }
        })
        .collect();
    let page = ProvincePage {
        frame: session.frame.clone(),
        error,
        done,
        health: health.label(),
        health_class: match health {
            Health::Good => "ok",
            Health::Attention => "due",
            Health::Failing => "overdue",
        },
        why,
        url: state.config.province_url.clone().unwrap_or_else(|| "未配置".into()),
        counts,
        unplanned: s.unplanned,
        oldest: s
            .oldest_undelivered
            .as_ref()
            .map(|(id, at)| format!("{}（{}）", describe(id), minute(Timestamp(*at))))
            .unwrap_or_else(|| "无".into()),
        last_success: s.last_success.map(|t| minute(Timestamp(t))).unwrap_or_else(|| "尚无".into()),
        last_error: s.last_error.as_ref().map(|(e, at)| format!("{e}（{}）", minute(Timestamp(*at)))).unwrap_or_else(|| "无".into()),
        rejects: s
            .rejects
            .iter()
            .map(|(id, reason, at)| Reject { id: id.clone(), what: describe(id), reason: reason.clone(), at: minute(Timestamp(*at)) })
            .collect(),
    };
    session.page(form_status(&page.error), &page)
}

pub async fn page(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap) -> Response {
    match Session::of(&state, caller, &headers) {
        Some(session) => render(&state, &session, None, None).await,
        None => super::sign_in(),
    }
}

/// Sends one refused record (and what waits behind it) again, or all of them.
pub async fn submit(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, form: Form) -> Response {
    let Some(session) = Session::of(&state, caller, &headers) else { return super::sign_in() };
    if !Session::form_ok(&state, &headers, form.raw("csrf")) {
        return render(&state, &session, Some("页面已过期，请重试".into()), None).await;
    }
    let ids: Vec<String> = form.get("id").into_iter().collect();
    match hcp_app::province::replay(&state, &session.caller, &ids).await {
        Ok(n) => render(&state, &session, None, Some(format!("已重新排队 {n} 条记录，将按顺序发送。"))).await,
        Err(e) => render(&state, &session, Some(e.message()), None).await,
    }
}
