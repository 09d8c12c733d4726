//! Statistics for staff: by unit, item and channel, with the loop's figures beside satisfaction.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hcp_domain::BizDay;
use hcp_domain::bizday::Period;
use hcp_domain::stats::Dim;

use super::{Frame, Session, error_page};
use crate::extract::caller::Who;
use crate::pages::pct;
use crate::pages::results::MonthQuery;
use crate::state::AppState;

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
    frame: Frame,
    period: String,
    month: String,
    sections: Vec<StatSection>,
}

pub async fn page(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, Query(q): Query<MonthQuery>) -> Response {
    let session = match Session::of(&state, caller, &headers) {
        Some(s) => s,
        None => return super::sign_in(),
    };
    let (month, period) = match Period::month(q.month.as_deref(), BizDay::today()) {
        Ok(m) => m,
        Err(e) => return error_page(&e.into()),
    };
    let groups = match hcp_app::stats::dashboard(&state, &session.caller, period).await {
        Ok(g) => g,
        Err(e) => return error_page(&e),
    };
    let sections = groups
        .into_iter()
        .map(|(dim, rows)| {
            let (title, key_label) = match dim {
                Dim::Unit => ("按单位", "单位"),
                Dim::Item => ("按事项", "事项"),
                _ => ("按评价渠道", "渠道"),
            };
            let bars: Vec<(String, Option<f64>)> = rows.iter().map(|g| (g.name.clone(), g.counts.satisfaction_rate())).collect();
            StatSection {
                title,
                key_label,
                chart: crate::pages::bar_chart(&format!("{title}的满意率"), &bars),
                rows: rows
                    .into_iter()
                    .map(|g| StatRow {
                        total: g.counts.total(),
                        satisfaction: pct(g.counts.satisfaction_rate()),
                        bad: g.counts.bad(),
                        rectified: g.loop_metrics.as_ref().map(|m| pct(m.rectification_rate)).unwrap_or_else(|| "—".into()),
                        on_time: g.loop_metrics.as_ref().map(|m| pct(m.on_time_reply_rate)).unwrap_or_else(|| "—".into()),
                        name: g.name,
                    })
                    .collect(),
            }
        })
        .collect();
    session.page(StatusCode::OK, &DashboardPage { frame: session.frame.clone(), period: period.label(), month, sections })
}
