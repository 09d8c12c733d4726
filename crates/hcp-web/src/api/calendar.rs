use axum::Json;
use axum::extract::{Query, State};
use hcp_domain::DomainError;
use hcp_domain::timestamp::{Timestamp, format_date, parse_date};
use hcp_domain::work_calendar::PROVISIONAL_YEARS;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::meta::ErrorBody;
use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AddQuery {
    /// the day of arrival, `YYYY-MM-DD` (not counted)
    pub date: String,
    /// number of working days, 0..=366
    pub days: String,
}

#[derive(Serialize, ToSchema)]
pub struct AddOut {
    /// the N-th working day after `date`: the last allowed day of the deadline
    pub date: String,
    /// when the work is overdue: 00:00 Asia/Shanghai of the day after `date`
    pub overdue_from: String,
    /// true when a year without a loaded notice was crossed (Monday–Friday assumed)
    pub provisional: bool,
    pub missing_years: Vec<i32>,
    pub warning: Option<String>,
}

fn missing_warning(years: &[i32]) -> Option<String> {
    if years.is_empty() {
        None
    } else {
        let y: Vec<String> = years.iter().map(|y| y.to_string()).collect();
        Some(format!("{} 年的节假日安排尚未导入，已按周一至周五推算；导入后请重新计算", y.join("、")))
    }
}

/// The N-th working day after a date under the official calendar, including make-up working weekends
/// (the deadline rule of API.md: the day of arrival is not counted; overdue from 00:00 of the day after).
#[utoipa::path(get, path = "/api/v1/calendar/add-working-days", tag = "calendar", params(AddQuery),
    responses((status = 200, body = AddOut), (status = 422, body = ErrorBody)))]
pub async fn add_working_days(State(state): State<AppState>, Query(q): Query<AddQuery>) -> ApiResult<Json<AddOut>> {
    let date = parse_date(&q.date, "date")?;
    let days: i64 = q.days.trim().parse().map_err(|_| DomainError::new("invalid_days", "days", "days 应为 0 到 366 之间的整数"))?;
    let cal = state.calendar().await?;
    let r = cal.add_working_days(date, days, "date")?;
    Ok(Json(AddOut {
        date: format_date(r.date),
        overdue_from: hcp_domain::work_calendar::overdue_from(r.date).to_rfc3339(),
        provisional: r.provisional,
        warning: missing_warning(&r.missing_years),
        missing_years: r.missing_years,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct YearQuery {
    /// the year whose holidays and make-up working days to list; default: this year
    pub year: Option<i32>,
}

#[derive(Serialize, ToSchema)]
pub struct CalendarDayOut {
    pub date: String,
    /// `holiday` (day off) or `workday` (make-up working weekend)
    pub kind: String,
    pub working_day: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CalendarOut {
    pub year: i32,
    pub loaded: bool,
    pub loaded_years: Vec<i32>,
    /// dated exceptions to Monday–Friday in the year
    pub days: Vec<CalendarDayOut>,
    pub working_days_in_year: i64,
    /// e.g. next year's notice not loaded yet
    pub warnings: Vec<String>,
}

/// The official calendar of a year: holidays, make-up working days, and warnings about notices not loaded.
#[utoipa::path(get, path = "/api/v1/calendar", tag = "calendar", params(YearQuery),
    responses((status = 200, body = CalendarOut), (status = 422, body = ErrorBody)))]
pub async fn calendar(State(state): State<AppState>, Query(q): Query<YearQuery>) -> ApiResult<Json<CalendarOut>> {
    let today = Timestamp::now().biz_date();
    let year = q.year.unwrap_or(today.year());
    let cal = state.calendar().await?;
    let loaded_years: Vec<i32> = cal.loaded_years().collect();
    let (Some(first), Some(last)) = (loaded_years.first().copied(), loaded_years.last().copied()) else {
        return Err(DomainError::new("calendar_not_loaded", "year", "尚未导入任何年度的节假日安排").into());
    };
    if year < first || year > last + PROVISIONAL_YEARS {
        return Err(
            DomainError::new("calendar_not_loaded", "year", format!("{year} 年不在已导入的节假日安排范围内（{first}–{last} 年）")).into()
        );
    }
    let start =
        time::Date::from_calendar_date(year, time::Month::January, 1).map_err(|_| DomainError::new("invalid_date", "year", "年份无效"))?;
    let end = time::Date::from_calendar_date(year, time::Month::December, 31)
        .map_err(|_| DomainError::new("invalid_date", "year", "年份无效"))?;
    let mut days = Vec::new();
    let mut d = start;
    while d <= end {
        let weekend = matches!(d.weekday(), time::Weekday::Saturday | time::Weekday::Sunday);
        let working = cal.is_working_day(d);
        if working == weekend {
            days.push(CalendarDayOut {
                date: format_date(d),
                kind: if working { "workday".into() } else { "holiday".into() },
                working_day: working,
            });
        }
        match d.next_day() {
            Some(n) => d = n,
            None => break,
        }
    }
    let mut warnings = Vec::new();
    if !cal.has_year(year) {
        warnings.push(format!("{year} 年的节假日安排尚未导入，期限按周一至周五推算"));
    }
    if !cal.has_year(today.year() + 1) && u8::from(today.month()) >= 10 {
        warnings.push(format!(
            "{} 年的节假日安排尚未导入：国务院办公厅通知发布后请及时导入（haochaping calendar import 文件）",
            today.year() + 1
        ));
    }
    Ok(Json(CalendarOut {
        year,
        loaded: cal.has_year(year),
        working_days_in_year: cal.working_days_between(start, end),
        loaded_years,
        days,
        warnings,
    }))
}
