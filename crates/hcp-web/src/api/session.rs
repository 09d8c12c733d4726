use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hcp_app::session::{self, SessionOut, SignIn};
use hcp_app::{AppError, Caller};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::meta::ErrorBody;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::extract::caller::{ClientIp, SESSION_COOKIE, Who, cleared, cookie_value, session_cookie};
use crate::state::AppState;

/// Staff sign-in: a fresh session cookie (HttpOnly, SameSite=Strict, Secure behind https) replaces any the
/// browser had. Accounts with a second factor give the authenticator's code in `otp`; administrators must have
/// one. Five failures in 15 minutes lock the account for 15 minutes; every attempt is audited.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = SignIn,
    responses((status = 200, body = SessionOut), (status = 401, body = ErrorBody, description = "invalid_credentials, otp_required, invalid_otp"),
        (status = 403, body = ErrorBody, description = "second_factor_not_enrolled"), (status = 429, body = ErrorBody, description = "account_locked, rate_limited")))]
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(peer): ClientIp,
    body: ApiJson<SignIn>,
) -> ApiResult<Response> {
    let previous = cookie_value(&headers, SESSION_COOKIE);
    let started = session::sign_in(&state, body.value, previous.as_deref(), peer).await?;
    let cookie = session_cookie(&state, &started.token).ok_or_else(|| AppError::internal("a session cookie could not be made"))?;
    Ok(([(header::SET_COOKIE, cookie)], Json(SessionOut::of(&state, &started.user))).into_response())
}

/// Who is signed in.
#[utoipa::path(get, path = "/api/v1/session", tag = "session", responses((status = 200, body = SessionOut), (status = 401, body = ErrorBody)))]
pub async fn whoami(State(state): State<AppState>, Who(caller): Who) -> ApiResult<Json<SessionOut>> {
    let user = caller.staff().ok_or(AppError::Unauthenticated)?;
    Ok(Json(SessionOut::of(&state, user)))
}

/// Sign out: the session is deleted on the server.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", responses((status = 204)))]
pub async fn sign_out(
    State(state): State<AppState>,
    Who(caller): Who,
    headers: HeaderMap,
    ClientIp(peer): ClientIp,
) -> ApiResult<Response> {
    let token = cookie_value(&headers, SESSION_COOKIE);
    session::sign_out(&state, caller.staff(), token.as_deref(), peer).await?;
    Ok((StatusCode::NO_CONTENT, cleared()).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct SignedOutEverywhere {
    pub sessions_ended: u64,
}

/// Sign out everywhere: every session of the signed-in account ends, on every device.
#[utoipa::path(delete, path = "/api/v1/sessions", tag = "session", responses((status = 200, body = SignedOutEverywhere), (status = 401, body = ErrorBody)))]
pub async fn sign_out_everywhere(State(state): State<AppState>, Who(caller): Who, ClientIp(peer): ClientIp) -> ApiResult<Response> {
    let Caller::Staff(u) = &caller else { return Err(AppError::Unauthenticated.into()) };
    let ended = session::sign_out_everywhere(&state, u, peer).await?;
    Ok((cleared(), Json(SignedOutEverywhere { sessions_ended: ended })).into_response())
}
