//! The channels that machines speak for citizens: the SMS gateway's webhook (replies to invitations), the
//! hotline's key press after a call, and ratings given on the province's own channels.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hcp_app::hotline::{self, HotlineRatingIn, HotlineRatingOut};
use hcp_app::ratings::{self, ProvinceRatingIn, RatingCreated};
use hcp_app::sms::{self, InboundResult, InboundSms};

use crate::api::meta::ErrorBody;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::extract::caller::Who;
use crate::state::AppState;

/// The SMS gateway's webhook: one SMS a citizen sent. A reply `1`–`5` (or the level's words) to an open
/// invitation rates that matter once; a bad review gets one follow-up SMS listing reason codes, and a reply
/// with codes adds them; `TD` opts out of invitations. Anything else is answered with help (`reply`) and writes
/// nothing. Needs a key of kind `sms_gateway` of the county.
#[utoipa::path(post, path = "/api/v1/sms/inbound", tag = "channels", request_body = InboundSms,
    security(("machine_key" = [])),
    responses((status = 200, body = InboundResult), (status = 422, body = ErrorBody, description = "invalid `from` or `text`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn sms_inbound(State(state): State<AppState>, Who(caller): Who, body: ApiJson<InboundSms>) -> ApiResult<Json<InboundResult>> {
    Ok(Json(sms::inbound(&state, &caller, body.value).await?))
}

/// The hotline's key press after a call (channel `phone`): for the matter named, or the caller's most recent
/// unrated matter. Idempotent on `call_id` (200 with `replayed`). A bad review answers `needs_reasons` with
/// the codes to offer; send them with the same `call_id` (now or in a later call). Needs the hotline's key.
#[utoipa::path(post, path = "/api/v1/hotline/ratings", tag = "channels", request_body = HotlineRatingIn,
    security(("machine_key" = [])),
    responses((status = 201, body = HotlineRatingOut), (status = 200, body = HotlineRatingOut, description = "the call was submitted before"),
        (status = 409, body = ErrorBody, description = "already_rated (with the existing id), call_id_reused, reasons_already_given"),
        (status = 422, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn hotline_rating(
    State(state): State<AppState>,
    Who(caller): Who,
    body: ApiJson<HotlineRatingIn>,
) -> ApiResult<(StatusCode, Json<HotlineRatingOut>)> {
    let out = hotline::rate(&state, &caller, body.value).await?;
    Ok((if out.replayed { StatusCode::OK } else { StatusCode::CREATED }, Json(out)))
}

/// A rating given on one of the province's channels for a matter handled here (channel `province`). The same
/// `record_id` and body again returns the same rating; a matter or service already rated here gets 409
/// `already_rated` with the existing id. Never reported back to the province. Needs a key of kind `province`.
#[utoipa::path(post, path = "/api/v1/province/ratings", tag = "channels", request_body = ProvinceRatingIn,
    security(("machine_key" = [])),
    responses((status = 201, body = RatingCreated), (status = 409, body = ErrorBody, description = "already_rated, with the existing id"),
        (status = 422, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn province_rating(
    State(state): State<AppState>,
    Who(caller): Who,
    body: ApiJson<ProvinceRatingIn>,
) -> ApiResult<(StatusCode, Json<RatingCreated>)> {
    Ok((StatusCode::CREATED, Json(ratings::rate_from_province(&state, &caller, body.value, body.digest).await?)))
}
