//! Notifications as staff see them: per case (for whoever may read the case), and the county's view of every
//! notification with a re-run for those that were given up. Addresses are always masked; a rater's personal
//! feedback link is never shown to staff.

use axum::Json;
use axum::extract::{Path, Query, State};
use hcp_domain::timestamp::Timestamp;
use hcp_storage::notifications::Notification;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::{authorize, authorize_found};
use crate::api::meta::ErrorBody;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use hcp_domain::access::Act;

/// Stands in the stored text of a rater's message for the personal feedback link, which is made when the
/// message is sent, so that neither the database nor staff ever hold it.
pub const FEEDBACK_PLACEHOLDER: &str = "{feedback_url}";

#[derive(Serialize, ToSchema)]
pub struct AttemptOut {
    pub attempt: i64,
    pub at: String,
    pub ok: bool,
    /// what the gateway or mail server answered, or why it failed
    pub result: String,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationOut {
    pub id: String,
    pub case_id: Option<String>,
    /// `rater` or `staff:<username>`
    pub recipient: String,
    /// `sms` or `email`
    pub channel: String,
    /// masked: `138****8000`, `g***@example.gov.cn`
    pub address: String,
    pub template: String,
    pub subject: String,
    pub body: String,
    /// `pending`, `sent`, `retrying`, `dead` (given up after the last attempt), `unsent` (no transport configured)
    pub state: String,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub attempts: Vec<AttemptOut>,
}

async fn out(state: &AppState, n: Notification) -> ApiResult<NotificationOut> {
    let attempts = state.db.notification_attempts(&n.n.id).await?;
    Ok(NotificationOut {
        id: n.n.id,
        case_id: n.n.case_id,
        recipient: n.n.recipient,
        channel: n.n.channel,
        address: n.n.address_masked,
        template: n.n.template,
        subject: n.n.subject,
        body: n.n.body.replace(FEEDBACK_PLACEHOLDER, "（评价人专属反馈链接）"),
        state: n.state,
        created_at: Timestamp(n.created_at).to_rfc3339(),
        sent_at: n.sent_at.map(|t| Timestamp(t).to_rfc3339()),
        attempts: attempts
            .into_iter()
            .map(|a| AttemptOut { attempt: a.attempt, at: Timestamp(a.at).to_rfc3339(), ok: a.ok, result: a.result })
            .collect(),
    })
}

/// Everything sent (or to be sent) about one case: to whom (masked), what, and each delivery attempt.
#[utoipa::path(get, path = "/api/v1/cases/{id}/notifications", tag = "cases", params(("id" = String, Path, description = "case id")),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = [NotificationOut]), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn case_notifications(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<NotificationOut>>> {
    authorize(&state, &caller, Act::ReadCases, None)?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::not_found("工单"));
    }
    let (summary, _) = state.db.get_case(&id).await?.ok_or_else(|| ApiError::not_found("工单"))?;
    authorize_found(&state, &caller, Act::ReadCases, &summary.case.unit_code, "工单")?;
    let mut v = Vec::new();
    for (n, _) in state.db.list_notifications(Some(&id), None, 500).await? {
        v.push(out(&state, n).await?);
    }
    Ok(Json(v))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// only in this state, e.g. `dead`
    pub state: Option<String>,
    /// at most this many, newest first (default 100, at most 1000)
    pub limit: Option<i64>,
}

const STATES: [&str; 5] = ["pending", "sent", "retrying", "dead", "unsent"];

/// Every notification, newest first (county bureau administrators): to find those given up and re-run them.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "cases", params(NotificationQuery),
    security(("session" = [])),
    responses((status = 200, body = [NotificationOut]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_notifications(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<NotificationQuery>,
) -> ApiResult<Json<Vec<NotificationOut>>> {
    authorize(&state, &caller, Act::ManageNotifications, None)?;
    if let Some(s) = &q.state
        && !STATES.contains(&s.as_str())
    {
        return Err(hcp_domain::DomainError::new("invalid_state", "state", format!("state 应为 {}", STATES.join("、"))).into());
    }
    let mut v = Vec::new();
    // Another county's notifications on the same database are not this county's business.
    for (n, unit) in state.db.list_notifications(None, q.state.as_deref(), q.limit.unwrap_or(100).clamp(1, 1000)).await? {
        if unit.is_some_and(|u| authorize(&state, &caller, Act::ManageNotifications, Some(&u)).is_ok()) {
            v.push(out(&state, n).await?);
        }
    }
    Ok(Json(v))
}

/// Sends a notification again that was given up (`dead`) or could not be sent (`unsent`): a new job, due now.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/retry", tag = "cases", params(("id" = String, Path, description = "notification id")),
    security(("session" = [])),
    responses((status = 200, body = NotificationOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "not_retryable"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn retry_notification(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<NotificationOut>> {
    authorize(&state, &caller, Act::ManageNotifications, None)?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::not_found("通知"));
    }
    let n = state.db.get_notification(&id).await?.ok_or_else(|| ApiError::not_found("通知"))?;
    let (summary, _) = state.db.get_case(n.n.case_id.as_deref().unwrap_or_default()).await?.ok_or_else(|| ApiError::not_found("通知"))?;
    authorize_found(&state, &caller, Act::ManageNotifications, &summary.case.unit_code, "通知")?;
    if !state.db.retry_notification(&id, Timestamp::now().micros()).await? {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "not_retryable",
            format!("该通知当前状态为 {}，只有已放弃（dead）或未发送（unsent）的通知可以重发", n.state),
        ));
    }
    let n = state.db.get_notification(&id).await?.ok_or_else(|| ApiError::not_found("通知"))?;
    Ok(Json(out(&state, n).await?))
}
