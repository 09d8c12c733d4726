//! The work queue: every case of the caller's tree not yet closed, overdue and due-today first.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hcp_app::cases::case_out;
use hcp_domain::case_flow::CaseState;
use hcp_domain::{BizDay, Timestamp};

use super::{Frame, Session, error_page};
use crate::extract::caller::Who;
use crate::pages::minute;
use crate::state::AppState;

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
    frame: Frame,
    rows: Vec<QueueRow>,
    overdue: usize,
    due_today: usize,
}

pub async fn page(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap) -> Response {
    let session = match Session::of(&state, caller, &headers) {
        Some(s) => s,
        None => return super::sign_in(),
    };
    let cases = match hcp_app::cases::open_cases(&state, &session.caller).await {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    let master = state.master();
    let today = BizDay::today().to_string();
    let mut rows: Vec<QueueRow> = cases
        .iter()
        .filter(|c| c.state != CaseState::Closed)
        .map(|c| {
            let out = case_out(&state, c);
            let (label, deadline, overdue) = if c.state == CaseState::Open {
                ("响应", out.respond_by.clone(), out.respond_overdue)
            } else {
                ("答复", out.reply_by.clone(), out.reply_overdue)
            };
            // Waiting for the rater is not the unit's deadline.
            let waiting = c.state == CaseState::Replied;
            let class = if overdue && !waiting {
                "overdue"
            } else if deadline == today && !waiting {
                "due"
            } else {
                ""
            };
            QueueRow {
                id: c.case.id.clone(),
                class,
                deadline_label: label,
                deadline,
                state: c.state.label(),
                kind: c.case.kind.label(),
                unit: out.unit_name.clone().unwrap_or_else(|| c.case.unit_code.clone()),
                item: master.item_name(&c.case.item_code).unwrap_or_default(),
                matter_no: c.case.matter_no.clone(),
                arrived: minute(Timestamp(c.case.opened_at)),
            }
        })
        .collect();
    rows.sort_by(|a, b| (a.class != "overdue", a.class != "due", &a.deadline).cmp(&(b.class != "overdue", b.class != "due", &b.deadline)));
    let page = QueuePage {
        overdue: rows.iter().filter(|r| r.class == "overdue").count(),
        due_today: rows.iter().filter(|r| r.class == "due").count(),
        rows,
        frame: session.frame.clone(),
    };
    session.page(StatusCode::OK, &page)
}
