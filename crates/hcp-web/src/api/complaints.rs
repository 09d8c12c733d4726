use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hcp_app::complaints::{self, ComplaintCreated, ComplaintIn, InspectionIn, InspectionOut};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::meta::ErrorBody;
use crate::error::ApiResult;
use crate::extract::caller::Who;
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;

/// Submit a complaint or suggestion (综合点评, S-7). Anyone may submit online; staff enter what came by the
/// complaint line or the suggestion box. It opens a case routed to the unit concerned, with working-day deadlines,
/// handled in the same loop as bad reviews.
#[utoipa::path(post, path = "/api/v1/complaints", tag = "cases", request_body = ComplaintIn,
    security((), ("machine_key" = []), ("session" = [])),
    responses((status = 201, body = ComplaintCreated), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn submit_complaint(
    State(state): State<AppState>,
    Who(caller): Who,
    body: ApiJson<ComplaintIn>,
) -> ApiResult<(StatusCode, Json<ComplaintCreated>)> {
    Ok((StatusCode::CREATED, Json(complaints::submit_complaint(&state, &caller, body.value).await?)))
}

/// Record a supervision inspection (监督查评, S-8): county bureau administrators record inspections, third-party
/// assessors their assessments, of a unit, window, staff member or platform, with scores per dimension and findings.
/// A finding can open a rectification case for the accountable unit, handled in the same loop.
#[utoipa::path(post, path = "/api/v1/inspections", tag = "cases", request_body = InspectionIn,
    security(("session" = [])),
    responses((status = 201, body = InspectionOut), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn record_inspection(
    State(state): State<AppState>,
    Who(caller): Who,
    body: ApiJson<InspectionIn>,
) -> ApiResult<(StatusCode, Json<InspectionOut>)> {
    Ok((StatusCode::CREATED, Json(complaints::record_inspection(&state, &caller, body.value).await?)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InspectionQuery {
    /// only this unit (within the caller's unit)
    pub unit: Option<String>,
}

/// Inspections and assessments of the caller's unit and the units below it, newest first.
#[utoipa::path(get, path = "/api/v1/inspections", tag = "cases", params(InspectionQuery),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = [InspectionOut]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_inspections(
    State(state): State<AppState>,
    Who(caller): Who,
    ApiQuery(q): ApiQuery<InspectionQuery>,
) -> ApiResult<Json<Vec<InspectionOut>>> {
    Ok(Json(complaints::list_inspections(&state, &caller, q.unit.as_deref()).await?))
}
