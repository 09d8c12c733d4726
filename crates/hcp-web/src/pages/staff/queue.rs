//! The work queue: every case of the caller's tree not yet closed, overdue and due-today first.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hcp_app::cases::Urgency;
use hcp_domain::Timestamp;

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
    let queue = match hcp_app::cases::work_queue(&state, &session.caller).await {
        Ok(q) => q,
        // Someone without cases (an assessor) lands on the first page they may use.
        Err(hcp_app::AppError::Forbidden(_)) if !session.frame.nav.is_empty() => return crate::pages::see_other(session.frame.nav[0].0),
        Err(e) => return error_page(&e),
    };
    let master = state.master();
    let rows: Vec<QueueRow> = queue
        .into_iter()
        .map(|e| QueueRow {
            id: e.summary.case.id.clone(),
            class: match e.urgency {
                Urgency::Overdue => "overdue",
                Urgency::DueToday => "due",
                _ => "",
            },
            deadline_label: if e.respond_step { "响应" } else { "答复" },
            deadline: e.deadline.to_string(),
            state: e.summary.state.label(),
            kind: e.summary.case.kind.label(),
            unit: e.out.unit_name.clone().unwrap_or_else(|| e.summary.case.unit_code.clone()),
            item: master.item_name(&e.summary.case.item_code).unwrap_or_default(),
            matter_no: e.summary.case.matter_no.clone(),
            arrived: minute(Timestamp(e.summary.case.opened_at)),
        })
        .collect();
    let page = QueuePage {
        overdue: rows.iter().filter(|r| r.class == "overdue").count(),
        due_today: rows.iter().filter(|r| r.class == "due").count(),
        rows,
        frame: session.frame.clone(),
    };
    session.page(StatusCode::OK, &page)
}
