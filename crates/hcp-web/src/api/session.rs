use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::meta::ErrorBody;
use crate::auth::{SESSION_COOKIE, cookie_value};
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;

pub const SESSION_TTL_SECS: i64 = 8 * 3600;

/// Verifies passwords (argon2); supplied by the server so that the web crate needs no hashing library.
pub type PasswordCheck = fn(&str, &str) -> bool;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionOut {
    pub username: String,
    pub role: String,
    pub unit_code: String,
}

fn random_token() -> String {
    // 256 bits from two v4 UUIDs (OS randomness).
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// Staff sign-in: a session cookie (HttpOnly, SameSite=Strict) comes back.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = SignIn,
    responses((status = 200, body = SessionOut), (status = 401, body = ErrorBody)))]
pub async fn sign_in(State(state): State<AppState>, body: ApiJson<SignIn>) -> ApiResult<Response> {
    let input = body.value;
    let bad = || ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "用户名或密码错误");
    if input.username.len() > 64 || input.password.len() > 256 {
        return Err(bad());
    }
    let user = state.db.find_user(&input.username).await?;
    let check = state.password_check;
    let ok = match &user {
        Some(u) => check(&input.password, &u.password_hash),
        None => {
            // Spend the same effort for unknown users, so timing does not reveal which names exist.
            let _ =
                check(&input.password, "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3nK8rW1bVn0wDzj6s1ZlQj3mWlq2cP8yQkXnH3pYbqY");
            false
        }
    };
    let Some(user) = user.filter(|_| ok) else { return Err(bad()) };
    let token = random_token();
    state.db.create_session(&user.id, &token, SESSION_TTL_SECS).await?;
    let secure = if state.config.public_base_url.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_TTL_SECS}{secure}");
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|_| bad())?);
    Ok((headers, Json(SessionOut { username: user.username, role: user.role, unit_code: user.unit_code })).into_response())
}

/// Sign out: the session is deleted on the server.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", responses((status = 204)))]
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(t) = cookie_value(&headers, SESSION_COOKIE) {
        state.db.delete_session(&t).await?;
    }
    let mut h = HeaderMap::new();
    h.insert(header::SET_COOKIE, HeaderValue::from_static("hcp_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"));
    Ok((StatusCode::NO_CONTENT, h).into_response())
}
