use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use hcp_app::ratings::{self, RatingCreated, RatingIn, RatingView};

use crate::api::meta::ErrorBody;
use crate::error::ApiResult;
use crate::extract::caller::{Bearer, ClientIp, Who};
use crate::extract::{ApiJson, origin};
use crate::state::AppState;

/// Submit a rating. Returns 201 with its id; a second rating of the same matter/service from any channel
/// gets 409 `already_rated` with the existing rating's id (also at the top level as `id`). With an
/// `Idempotency-Key` header, the same key and body return the same 201 without writing twice.
#[utoipa::path(post, path = "/api/v1/ratings", tag = "ratings", request_body = RatingIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "for devices and systems retrying a rating")),
    security((), ("machine_key" = []), ("session" = [])),
    responses((status = 201, body = RatingCreated), (status = 409, body = ErrorBody, description = "already_rated, with the existing id"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn submit_rating(
    State(state): State<AppState>,
    Who(caller): Who,
    Bearer(bearer): Bearer,
    ClientIp(peer): ClientIp,
    headers: HeaderMap,
    body: ApiJson<RatingIn>,
) -> ApiResult<(StatusCode, Json<RatingCreated>)> {
    let created = ratings::rate(&state, &caller, body.value, origin(&headers, peer, body.digest, bearer)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The rating as stored, with the rater's data masked. Needs a key or staff session of the rating's unit
/// (or a unit above it).
#[utoipa::path(get, path = "/api/v1/ratings/{id}", tag = "ratings", params(("id" = String, Path, description = "rating id")),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = RatingView), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_rating(State(state): State<AppState>, Who(caller): Who, Path(id): Path<String>) -> ApiResult<Json<RatingView>> {
    Ok(Json(ratings::get_rating(&state, &caller, &id).await?))
}
