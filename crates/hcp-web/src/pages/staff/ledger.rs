//! The 台账 page: every rectification item of the caller's units, open ones by deadline (overdue marked), then
//! the done ones; `?format=csv` gives the same list as a file Excel and WPS open (UTF-8 with a byte-order mark).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use hcp_app::rectify::{RectificationOut, ledger};

use super::{Frame, Session, error_page};
use crate::extract::caller::Who;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "staff_ledger.html")]
struct LedgerPage {
    frame: Frame,
    items: Vec<RectificationOut>,
    open: usize,
    overdue: usize,
}

#[derive(serde::Deserialize, Default)]
pub struct LedgerQuery {
    pub format: Option<String>,
}

/// A CSV field, quoted when it must be (and never read as a formula by a spreadsheet).
pub(crate) fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

/// Rows as a CSV file Excel opens with its Chinese intact.
pub(crate) fn csv_file(name: &str, header_row: &[&str], rows: Vec<Vec<String>>) -> Response {
    let mut out = String::from("\u{feff}");
    out.push_str(&header_row.join(","));
    out.push_str("\r\n");
    for r in rows {
        out.push_str(&r.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.csv\"")),
        ],
        out,
    )
        .into_response()
}

pub async fn page(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, Query(q): Query<LedgerQuery>) -> Response {
    let session = match Session::of(&state, caller, &headers) {
        Some(s) => s,
        None => return super::sign_in(),
    };
    let items = match ledger(&state, &session.caller, None).await {
        Ok(i) => i,
        Err(e) => return error_page(&e),
    };
    if q.format.as_deref() == Some("csv") {
        let rows = items
            .iter()
            .map(|i| {
                vec![
                    i.unit_name.clone().unwrap_or_else(|| i.unit_code.clone()),
                    hcp_domain::case_event::short(&i.case_id),
                    i.reason.clone(),
                    i.rectify_by.clone(),
                    if i.state == "open" { if i.overdue { "已超期".into() } else { "整改中".into() } } else { "已完成".into() },
                    i.progress.to_string(),
                    i.done_at.clone().unwrap_or_default(),
                ]
            })
            .collect();
        return csv_file("rectifications", &["单位", "工单", "整改事项", "整改期限", "状态", "进展记录", "完成时间"], rows);
    }
    let open = items.iter().filter(|i| i.state == "open").count();
    let overdue = items.iter().filter(|i| i.overdue).count();
    session.page(axum::http::StatusCode::OK, &LedgerPage { frame: session.frame.clone(), items, open, overdue })
}
