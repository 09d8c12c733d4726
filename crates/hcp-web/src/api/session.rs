use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::meta::ErrorBody;
use crate::auth::{Caller, PeerAddr, SESSION_COOKIE, cookie_value};
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;
use hcp_storage::audit::AuditEntry;

/// Verifies passwords (argon2); supplied by the server so that the web crate needs no hashing library.
pub type PasswordCheck = fn(&str, &str) -> bool;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub username: String,
    pub password: String,
    /// the six-digit code of the authenticator app, for accounts with a second factor
    pub otp: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionOut {
    pub username: String,
    pub role: String,
    pub unit_code: String,
    /// seconds of inactivity after which the session ends
    pub idle_timeout_secs: i64,
}

fn random_token() -> String {
    // 256 bits from two v4 UUIDs (OS randomness).
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// Failed sign-ins of one account within this window lock it for `LOCK_SECS` (on every node).
pub const MAX_FAILURES: i64 = 5;
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;
pub const LOCK_SECS: i64 = 15 * 60;

async fn audit(
    state: &AppState,
    actor: String,
    action: &str,
    outcome: &str,
    detail: Option<serde_json::Value>,
    peer: Option<std::net::SocketAddr>,
) {
    let entry = AuditEntry {
        actor,
        action: action.into(),
        target: "session".into(),
        outcome: outcome.into(),
        detail: detail.map(|d| d.to_string()),
        source_hash: peer.map(|p| state.secrets.source_hash(&p.ip().to_string())),
    };
    if let Err(e) = state.db.audit(&entry).await {
        tracing::error!(error = %e, "could not write the audit trail");
    }
}

/// Counts a failed sign-in towards the lock and audits it.
async fn failed(state: &AppState, username: &str, actor: &str, why: &str, peer: Option<std::net::SocketAddr>) {
    let locked = match state.db.record_login_failure(username, MAX_FAILURES, FAILURE_WINDOW_SECS, LOCK_SECS).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "could not count a failed sign-in");
            None
        }
    };
    audit(state, actor.to_string(), "sign_in_failed", "401", Some(serde_json::json!({ "why": why, "locked": locked.is_some() })), peer)
        .await;
}

/// Staff sign-in: a fresh session cookie (HttpOnly, SameSite=Strict, Secure behind https) replaces any the
/// browser had. Accounts with a second factor give the authenticator's code in `otp`; administrators must have
/// one. Five failures in 15 minutes lock the account for 15 minutes; every attempt is audited.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = SignIn,
    responses((status = 200, body = SessionOut), (status = 401, body = ErrorBody, description = "invalid_credentials, otp_required, invalid_otp"),
        (status = 403, body = ErrorBody, description = "second_factor_not_enrolled"), (status = 429, body = ErrorBody, description = "account_locked, rate_limited")))]
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    PeerAddr(peer): PeerAddr,
    body: ApiJson<SignIn>,
) -> ApiResult<Response> {
    let (user, cookie) = start_session(&state, &headers, peer, body.value).await?;
    let mut out = HeaderMap::new();
    out.insert(header::SET_COOKIE, cookie);
    let body = SessionOut {
        username: user.username,
        role: user.role,
        unit_code: user.unit_code,
        idle_timeout_secs: state.config.session_idle_secs,
    };
    Ok((out, Json(body)).into_response())
}

/// Checks the credentials (lock, password, second factor), starts a fresh session and audits the attempt:
/// the user and the session cookie to set. Shared by the API and the sign-in page.
pub(crate) async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<std::net::SocketAddr>,
    input: SignIn,
) -> ApiResult<(hcp_storage::users::User, HeaderValue)> {
    let state = state.clone();
    let bad = || ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "用户名或密码错误");
    if input.username.is_empty()
        || input.username.len() > 64
        || input.password.len() > 256
        || input.otp.as_ref().is_some_and(|o| o.len() > 16)
    {
        return Err(bad());
    }
    // The name as typed goes on the audit trail: only plain characters of it.
    let actor = format!("staff:{}", input.username.chars().filter(|c| c.is_alphanumeric() || "-_.@".contains(*c)).collect::<String>());
    if let Some(until) = state.db.login_locked_until(&input.username).await? {
        audit(&state, actor, "sign_in_locked", "429", None, peer).await;
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "account_locked",
            format!(
                "登录失败次数过多，账号已暂时锁定，请于 {} 后再试",
                hcp_domain::Timestamp(until).to_rfc3339().get(11..16).unwrap_or("稍")
            ),
        ));
    }
    // Per account as well as per client address (the middleware): spreading guesses over many addresses
    // does not help.
    if !state.limiter.allow(&format!("sign_in:{}", input.username)) {
        return Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "请求过于频繁，请稍后再试"));
    }
    let user = state.db.find_user(&input.username).await?;
    // Spend the same effort for unknown users, so timing does not reveal which names exist.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3nK8rW1bVn0wDzj6s1ZlQj3mWlq2cP8yQkXnH3pYbqY".to_string());
    let check = state.password_check;
    let password = input.password.clone();
    let slot = state.password_slots.clone().acquire_owned().await.map_err(|_| bad())?;
    let matches = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        check(&password, &hash)
    })
    .await
    .unwrap_or(false);
    let ok = user.is_some() && matches;
    let Some(user) = user.filter(|_| ok) else {
        failed(&state, &input.username, &actor, "password", peer).await;
        return Err(bad());
    };
    // A lock set by a concurrent failure while this password was being checked still holds.
    if state.db.login_locked_until(&input.username).await?.is_some() {
        return Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "account_locked", "登录失败次数过多，账号已暂时锁定，请稍后再试"));
    }
    // The second factor.
    let needs = hcp_domain::access::Role::parse(&user.role).is_some_and(|r| r.needs_second_factor()) && state.config.admin_second_factor;
    match (&user.totp_secret, &input.otp) {
        (None, _) if needs => {
            audit(&state, actor, "sign_in_refused", "403", Some(serde_json::json!({ "why": "second_factor_not_enrolled" })), peer).await;
            return Err(ApiError::forbidden(
                "second_factor_not_enrolled",
                "管理员账号须先绑定动态口令（haochaping users totp --username …），才能登录",
            ));
        }
        (None, _) => {}
        (Some(_), None) => {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "otp_required", "请输入动态口令（身份验证器中的 6 位数字）").field("otp"));
        }
        (Some(enc), Some(code)) => {
            let secret = state.secrets.decrypt(enc)?;
            let secret = hcp_domain::totp::base32_decode(&secret)
                .filter(|s| s.len() >= 10)
                .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "动态口令密钥损坏，请管理员重新绑定"))?;
            // A code is good once: its time step must be later than the last one accepted.
            let step = hcp_domain::totp::verify(&secret, code, hcp_domain::Timestamp::now().micros() / 1_000_000);
            let fresh = match step {
                Some(s) => state.db.use_totp_step(&user.id, s).await?,
                None => false,
            };
            if !fresh {
                failed(&state, &input.username, &actor, "otp", peer).await;
                return Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_otp", "动态口令错误、已过期或已使用过").field("otp"));
            }
        }
    }
    // A fresh session every time: whatever cookie the browser brought is ended (no session fixation).
    if let Some(old) = cookie_value(headers, SESSION_COOKIE) {
        state.db.delete_session(&old).await?;
    }
    let ttl = state.config.session_ttl_secs;
    let token = random_token();
    state.db.create_session(&user.id, &token, ttl).await?;
    state.db.clear_login_failures(&user.username).await?;
    audit(&state, actor, "sign_in", "200", None, peer).await;
    let secure = if state.config.public_base_url.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={ttl}{secure}");
    let cookie = HeaderValue::from_str(&cookie).map_err(|_| bad())?;
    Ok((user, cookie))
}

fn cleared() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::SET_COOKIE, HeaderValue::from_static("hcp_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"));
    h
}

/// Who is signed in.
#[utoipa::path(get, path = "/api/v1/session", tag = "session", responses((status = 200, body = SessionOut), (status = 401, body = ErrorBody)))]
pub async fn whoami(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<SessionOut>> {
    match caller {
        Caller::Staff(u) => Ok(Json(SessionOut {
            username: u.username,
            role: u.role,
            unit_code: u.unit_code,
            idle_timeout_secs: state.config.session_idle_secs,
        })),
        _ => Err(ApiError::unauthorized()),
    }
}

/// Sign out: the session is deleted on the server.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", responses((status = 204)))]
pub async fn sign_out(State(state): State<AppState>, caller: Caller, headers: HeaderMap, PeerAddr(peer): PeerAddr) -> ApiResult<Response> {
    if let Some(t) = cookie_value(&headers, SESSION_COOKIE) {
        state.db.delete_session(&t).await?;
    }
    if let Caller::Staff(u) = &caller {
        audit(&state, format!("staff:{}", u.username), "sign_out", "204", None, peer).await;
    }
    Ok((StatusCode::NO_CONTENT, cleared()).into_response())
}

/// Sign out everywhere: every session of the signed-in account ends, on every device.
#[utoipa::path(delete, path = "/api/v1/sessions", tag = "session", responses((status = 200, body = SignedOutEverywhere), (status = 401, body = ErrorBody)))]
pub async fn sign_out_everywhere(State(state): State<AppState>, caller: Caller, PeerAddr(peer): PeerAddr) -> ApiResult<Response> {
    let Caller::Staff(u) = &caller else { return Err(ApiError::unauthorized()) };
    let ended = state.db.delete_user_sessions(&u.id).await?;
    audit(&state, format!("staff:{}", u.username), "sign_out_everywhere", "200", Some(serde_json::json!({ "sessions": ended })), peer)
        .await;
    Ok((cleared(), Json(SignedOutEverywhere { sessions_ended: ended })).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct SignedOutEverywhere {
    pub sessions_ended: u64,
}
