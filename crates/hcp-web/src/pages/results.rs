//! 结果公开 (S-22): each department's results for a month — ratings, satisfaction, bad reviews and how they were
//! rectified — with a bar chart drawn here as SVG. Public, and never any rater's identity.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hcp_domain::stats::rate;
use hcp_domain::timestamp::{Timestamp, date_key, format_date};
use serde::Deserialize;

use super::{pct, render};
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
    let today = Timestamp::now().biz_date();
    let month = q.month.filter(|m| m.len() == 7).unwrap_or_else(|| format_date(today)[..7].to_string());
    let Ok(first) = hcp_domain::timestamp::parse_date(&format!("{month}-01"), "month") else {
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ResultsPage { period: "—".into(), month, rows: Vec::new(), chart: String::new() },
        );
    };
    let next = if first.month() == time::Month::December {
        time::Date::from_calendar_date(first.year() + 1, time::Month::January, 1)
    } else {
        time::Date::from_calendar_date(first.year(), first.month().next(), 1)
    };
    let last = next.ok().and_then(|d| d.previous_day()).unwrap_or(first).min(today.max(first));
    let master = state.master();
    let groups = state.db.satisfaction("unit", date_key(first), date_key(last), None).await.unwrap_or_default();
    let units: Vec<String> = groups.iter().map(|g| g.key.clone()).collect();
    let cases = state.db.cases_with_events(&units, date_key(first), date_key(last)).await.unwrap_or_default();
    let mut rows = Vec::new();
    let mut bars = Vec::new();
    for g in groups.iter().filter(|g| g.counts.total() > 0) {
        let name = master.units.get(&g.key).map(|u| u.name.clone()).unwrap_or_else(|| g.key.clone());
        let facts: Vec<_> =
            cases.iter().filter(|(s, _)| s.case.unit_code == g.key).filter_map(|(s, e)| crate::api::cases::metrics_facts(s, e)).collect();
        let m = hcp_domain::case_metrics::loop_metrics(&facts, today);
        let closed = cases.iter().filter(|(s, _)| s.case.unit_code == g.key && s.state == "closed").count() as i64;
        rows.push(Row {
            unit: name.clone(),
            total: g.counts.total(),
            satisfaction: pct(g.counts.satisfaction_rate()),
            bad: g.counts.bad(),
            closed,
            on_time: pct(m.on_time_reply_rate),
            rectified: pct(m.rectification_rate),
        });
        bars.push((name, g.counts.satisfaction_rate()));
    }
    let _ = rate;
    let page = ResultsPage {
        period: format!("{} 至 {}", format_date(first), format_date(last)),
        month,
        chart: super::bar_chart("各单位满意率条形图", &bars),
        rows,
    };
    render(StatusCode::OK, &page)
}
