use axum::Json;
use axum::extract::State;
use hcp_app::stats::{self, IndicatorStatsOut, StatsOut};
use hcp_domain::BizDay;
use hcp_domain::bizday::Period;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::meta::ErrorBody;
use crate::error::ApiResult;
use crate::extract::ApiQuery;
use crate::extract::caller::Who;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// `unit` (default), `item`, `window`, `staff`, `channel` or `all`
    pub by: Option<String>,
    /// first day, `YYYY-MM-DD`; default: the first day of this month
    pub from: Option<String>,
    /// last day; default: today
    pub to: Option<String>,
    /// one group only
    pub key: Option<String>,
}

/// Satisfaction statistics from the rollups (S-15): per group, counts by level, bad reviews, satisfaction and good
/// rates, and for units, items and all the participation rate. By unit, item and channel public; by window or
/// staff member for signed-in staff and keys, cut to their tree.
#[utoipa::path(get, path = "/api/v1/stats/satisfaction", tag = "stats", params(StatsQuery),
    responses((status = 200, body = StatsOut), (status = 401, body = ErrorBody, description = "by window or staff without a sign-in"),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn satisfaction(State(state): State<AppState>, Who(caller): Who, ApiQuery(q): ApiQuery<StatsQuery>) -> ApiResult<Json<StatsOut>> {
    let period = Period::parse(q.from.as_deref(), q.to.as_deref(), BizDay::today())?;
    Ok(Json(stats::satisfaction(&state, &caller, q.by.as_deref(), period, q.key.as_deref()).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IndicatorQuery {
    /// first day, `YYYY-MM-DD`; default: the first day of this month
    pub from: Option<String>,
    /// last day; default: today
    pub to: Option<String>,
    /// a unit's code; default: the whole county
    pub unit: Option<String>,
}

/// What raters gave each indicator (二级指标) of the catalogue in force (S-2): counts by level, the mean level
/// and the satisfaction rate, county-wide or within one unit. Public, like satisfaction by unit.
#[utoipa::path(get, path = "/api/v1/stats/indicators", tag = "stats", params(IndicatorQuery),
    responses((status = 200, body = IndicatorStatsOut), (status = 422, body = ErrorBody)))]
pub async fn indicators(State(state): State<AppState>, ApiQuery(q): ApiQuery<IndicatorQuery>) -> ApiResult<Json<IndicatorStatsOut>> {
    let period = Period::parse(q.from.as_deref(), q.to.as_deref(), BizDay::today())?;
    Ok(Json(stats::indicators(&state, period, q.unit.as_deref()).await?))
}
