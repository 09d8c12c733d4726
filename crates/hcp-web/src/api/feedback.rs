//! The rater's link as JSON (`/api/v1/feedback/{token}`): progress, verdict and one follow-up rating.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hcp_app::feedback::{self, FeedbackView, FollowUpCreated, FollowUpIn, VerdictIn};

use crate::api::meta::ErrorBody;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::state::AppState;

/// What the rater's link shows: the case's progress, the reply and what the rater may still do.
#[utoipa::path(get, path = "/api/v1/feedback/{token}", tag = "cases", params(("token" = String, Path, description = "the rater's feedback link token")),
    responses((status = 200, body = FeedbackView), (status = 403, body = ErrorBody, description = "invalid_token, token_expired")))]
pub async fn get_feedback(State(state): State<AppState>, Path(token): Path<String>) -> ApiResult<Json<FeedbackView>> {
    let c = feedback::open(&state, &token).await?;
    Ok(Json(feedback::view(&state, &c).await?))
}

/// The rater's verdict on the handling, from the feedback link. 不满意 sends the case back to the unit (within
/// the configured number of reopenings), with a new reply deadline.
#[utoipa::path(post, path = "/api/v1/feedback/{token}/verdict", tag = "cases", request_body = VerdictIn,
    params(("token" = String, Path, description = "the rater's feedback link token")),
    responses((status = 200, body = FeedbackView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "case_changed"),
        (status = 422, body = ErrorBody, description = "transition_not_allowed: not waiting for a verdict; invalid_verdict")))]
pub async fn post_verdict(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: ApiJson<VerdictIn>,
) -> ApiResult<Json<FeedbackView>> {
    feedback::give_verdict(&state, &feedback::open(&state, &token).await?, &body.value).await?;
    Ok(Json(feedback::view(&state, &feedback::open(&state, &token).await?).await?))
}

/// The one follow-up rating (追评) of the matter, after the case was replied to and closed.
#[utoipa::path(post, path = "/api/v1/feedback/{token}/follow-up", tag = "cases", request_body = FollowUpIn,
    params(("token" = String, Path, description = "the rater's feedback link token")),
    responses((status = 201, body = FollowUpCreated), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "already_rated"),
        (status = 422, body = ErrorBody, description = "follow_up_not_yet, follow_up_not_applicable, or the rating rules")))]
pub async fn post_follow_up(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: ApiJson<FollowUpIn>,
) -> ApiResult<(StatusCode, Json<FollowUpCreated>)> {
    let c = feedback::open(&state, &token).await?;
    Ok((StatusCode::CREATED, Json(feedback::follow_up(&state, &c, &body.value).await?)))
}
