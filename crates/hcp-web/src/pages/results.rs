//! 结果公开 (S-22): each department's results for a month — ratings, satisfaction, bad reviews and how they were
//! rectified — with a bar chart drawn here as SVG. Public, and never any rater's identity.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hcp_domain::BizDay;
use hcp_domain::bizday::Period;
use serde::Deserialize;

use super::{error_page, pct, render};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct MonthQuery {
    pub month: Option<String>,
}

struct Row {
    unit: String,
    total: i64,
    satisfaction: String,
    bad: i64,
    closed: i64,
    on_time: String,
    rectified: String,
}

#[derive(Template)]
#[template(path = "results.html")]
struct ResultsPage {
    period: String,
    month: String,
    rows: Vec<Row>,
    chart: String,
}

pub async fn results(State(state): State<AppState>, Query(q): Query<MonthQuery>) -> Response {
    let (month, period) = match Period::month(q.month.as_deref(), BizDay::today()) {
        Ok(m) => m,
        Err(e) => return error_page(&e.into()),
    };
    let groups = match hcp_app::stats::public_results(&state, period).await {
        Ok(g) => g,
        Err(e) => return error_page(&e),
    };
    let bars: Vec<(String, Option<f64>)> = groups.iter().map(|g| (g.name.clone(), g.counts.satisfaction_rate())).collect();
    let rows = groups
        .into_iter()
        .map(|g| Row {
            total: g.counts.total(),
            satisfaction: pct(g.counts.satisfaction_rate()),
            bad: g.counts.bad(),
            closed: g.closed,
            on_time: pct(g.loop_metrics.as_ref().and_then(|m| m.on_time_reply_rate)),
            rectified: pct(g.loop_metrics.as_ref().and_then(|m| m.rectification_rate)),
            unit: g.name,
        })
        .collect();
    render(StatusCode::OK, &ResultsPage { period: period.label(), month, chart: super::bar_chart("各单位满意率条形图", &bars), rows })
}
