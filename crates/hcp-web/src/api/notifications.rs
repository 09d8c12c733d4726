//! Notifications as staff see them: per case (for whoever may read the case), and the county's view of every
//! notification with a re-run for those that were given up. Addresses are always masked; a rater's personal
//! feedback link is never shown to staff.

use axum::Json;
use axum::extract::{Path, State};
use hcp_app::notifications::{self, NotificationOut};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::meta::ErrorBody;
use crate::error::ApiResult;
use crate::extract::ApiQuery;
use crate::extract::caller::Who;
use crate::state::AppState;

/// Every notification of a case, with each delivery attempt.
#[utoipa::path(get, path = "/api/v1/cases/{id}/notifications", tag = "cases", params(("id" = String, Path, description = "case id")),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = [NotificationOut]), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn case_notifications(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<NotificationOut>>> {
    Ok(Json(notifications::of_case(&state, &caller, &id).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// `pending`, `sent`, `retrying`, `dead` or `unsent`
    pub state: Option<String>,
    /// at most this many, newest first (default 100, at most 1000)
    pub limit: Option<i64>,
}

/// Every notification of the county's tree, newest first (the county's administrators).
#[utoipa::path(get, path = "/api/v1/notifications", tag = "cases", params(NotificationQuery),
    security(("session" = [])),
    responses((status = 200, body = [NotificationOut]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_notifications(
    State(state): State<AppState>,
    Who(caller): Who,
    ApiQuery(q): ApiQuery<NotificationQuery>,
) -> ApiResult<Json<Vec<NotificationOut>>> {
    Ok(Json(notifications::list(&state, &caller, q.state.as_deref(), q.limit).await?))
}

/// Re-run a notification that was given up (`dead`) or never sent for want of a transport (`unsent`).
#[utoipa::path(post, path = "/api/v1/notifications/{id}/retry", tag = "cases", params(("id" = String, Path, description = "notification id")),
    security(("session" = [])),
    responses((status = 200, body = NotificationOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "not_retryable"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn retry_notification(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(id): Path<String>,
) -> ApiResult<Json<NotificationOut>> {
    Ok(Json(notifications::retry(&state, &caller, &id).await?))
}
