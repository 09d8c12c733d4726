use axum::Json;
use axum::extract::State;
use hcp_app::settings::{self, AddOut, CalendarOut};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::meta::ErrorBody;
use crate::error::ApiResult;
use crate::extract::ApiQuery;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AddQuery {
    /// the day of arrival, `YYYY-MM-DD` (not counted)
    pub date: String,
    /// working days, 0..=366
    pub days: String,
}

/// The last allowed day of a deadline of `days` working days from `date`, and when it becomes overdue.
#[utoipa::path(get, path = "/api/v1/calendar/add-working-days", tag = "calendar", params(AddQuery),
    responses((status = 200, body = AddOut), (status = 422, body = ErrorBody)))]
pub async fn add_working_days(State(state): State<AppState>, ApiQuery(q): ApiQuery<AddQuery>) -> ApiResult<Json<AddOut>> {
    Ok(Json(settings::add_working_days(&state, &q.date, &q.days).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct YearQuery {
    /// default: this year
    pub year: Option<i32>,
}

/// A year's holidays and make-up working days as loaded, with a warning when next year's notice is missing.
#[utoipa::path(get, path = "/api/v1/calendar", tag = "calendar", params(YearQuery),
    responses((status = 200, body = CalendarOut), (status = 422, body = ErrorBody)))]
pub async fn calendar(State(state): State<AppState>, ApiQuery(q): ApiQuery<YearQuery>) -> ApiResult<Json<CalendarOut>> {
    Ok(Json(settings::calendar_year(&state, q.year).await?))
}
