//! Paper rating forms (书面评价表), entered by the unit's handlers, approvers or the county — never by window
//! staff, whose own service the form may rate — through the one rating use case (channel `paper`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use hcp_app::ratings::{RatingIn, rate};
use hcp_domain::access::Act;
use hcp_domain::{Channel, Level};

use super::{Frame, Session, error_page, form_status};
use crate::extract::Form;
use crate::extract::caller::{ClientIp, Who};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "staff_paper.html")]
struct PaperPage {
    frame: Frame,
    error: Option<String>,
    notice: Option<String>,
    levels: Vec<(u8, &'static str)>,
    reason_sets: Vec<(&'static str, Vec<(String, String)>)>,
    /// the matter (and service) the form is for, when the page was opened from a registration
    matter_no: String,
    service_no: String,
}

/// `?matter_no=&service_no=`: the form filled in for a matter just registered.
#[derive(serde::Deserialize, Default)]
pub struct PaperQuery {
    pub matter_no: Option<String>,
    pub service_no: Option<String>,
}

fn paper_page(state: &AppState, session: &Session, error: Option<String>, notice: Option<String>) -> Response {
    paper_page_for(state, session, error, notice, PaperQuery::default())
}

fn paper_page_for(state: &AppState, session: &Session, error: Option<String>, notice: Option<String>, q: PaperQuery) -> Response {
    let reasons =
        |level: Level| state.catalogue.reasons_for(level, Channel::Paper.mode()).map(|r| (r.code.clone(), r.label.clone())).collect();
    let page = PaperPage {
        frame: session.frame.clone(),
        levels: Level::ALL.iter().rev().map(|l| (l.value(), l.label())).collect(),
        reason_sets: Level::ALL.into_iter().filter(|l| l.is_bad()).map(|l| (l.label(), reasons(l))).collect(),
        notice,
        error,
        matter_no: q.matter_no.unwrap_or_default().chars().take(50).collect(),
        service_no: q.service_no.unwrap_or_default().chars().take(60).collect(),
    };
    session.page(form_status(&page.error), &page)
}

pub async fn page(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, Query(q): Query<PaperQuery>) -> Response {
    let session = match Session::of(&state, caller, &headers) {
        Some(s) => s,
        None => return super::sign_in(),
    };
    if let Err(e) = state.authorize(&session.caller, Act::EnterPaperRating) {
        return error_page(&e);
    }
    paper_page_for(&state, &session, None, None, q)
}

pub async fn submit(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, ClientIp(peer): ClientIp, form: Form) -> Response {
    let session = match Session::of(&state, caller, &headers) {
        Some(s) => s,
        None => return super::sign_in(),
    };
    if !Session::form_ok(&state, &headers, form.raw("csrf")) {
        return paper_page(&state, &session, Some("页面已过期，请重新录入".into()), None);
    }
    let level = form.raw("level").and_then(|l| l.parse().ok()).unwrap_or(0);
    let input = RatingIn {
        service_no: form.get("service_no"),
        reasons: form.all("reasons", 30),
        text: form.get("text"),
        anonymous: form.raw("anonymous") == Some("1"),
        ..RatingIn::new(form.text("matter_no"), Channel::Paper, level)
    };
    let origin = crate::extract::origin(&headers, peer, form.digest.clone(), None);
    match rate(&state, &session.caller, input, origin).await {
        Ok(r) => {
            let case = if r.bad_review { "，差评已自动立案交办" } else { "" };
            paper_page(&state, &session, None, Some(format!("已录入（办件 {}）{case}", r.matter_no)))
        }
        Err(e) => paper_page(&state, &session, Some(e.message()), None),
    }
}
