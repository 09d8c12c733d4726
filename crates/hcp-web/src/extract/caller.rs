//! Who is calling: a machine key (`Authorization: Bearer hcp_…`), a staff session (cookie `hcp_session`), or
//! nobody; and the client's address (`ClientIp`), believing `X-Forwarded-For` only from configured proxies.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use hcp_app::{AppError, Caller};

use crate::error::ApiError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "hcp_session";
pub const KEY_PREFIX: &str = "hcp_";

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// The bearer value of the request, if it is not a machine key (a rating token may travel there).
pub struct Bearer(pub Option<String>);

fn bearer(parts: &Parts) -> Result<Option<String>, ApiError> {
    match parts.headers.get(header::AUTHORIZATION) {
        Some(v) => {
            let v = v.to_str().map_err(|_| ApiError(AppError::Unauthenticated))?;
            let token = v.strip_prefix("Bearer ").ok_or(ApiError(AppError::Unauthenticated))?;
            Ok(Some(token.trim().to_string()))
        }
        None => Ok(None),
    }
}

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Bearer(bearer(parts)?.filter(|b| !b.starts_with(KEY_PREFIX))))
    }
}

/// Resolves the caller once per request (the audit middleware does it first and keeps it in the extensions).
pub async fn resolve(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    if let Some(c) = parts.extensions.get::<Caller>() {
        return Ok(c.clone());
    }
    if let Some(b) = bearer(parts)?
        && b.starts_with(KEY_PREFIX)
    {
        return match state.find_key(&b).await? {
            Some(k) => Ok(Caller::Key(k)),
            None => Err(ApiError(AppError::Unauthenticated)),
        };
    }
    // A stale or forged session cookie makes the caller anonymous (a staff browser can still rate with a
    // token); endpoints that need a sign-in then answer 401.
    if let Some(token) = cookie_value(&parts.headers, SESSION_COOKIE)
        && let Some(u) = hcp_app::session::session_user(state, &token).await?
    {
        return Ok(Caller::Staff(u));
    }
    Ok(Caller::Anonymous)
}

/// The caller, as an extractor.
pub struct Who(pub Caller);

impl FromRequestParts<AppState> for Who {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Who(resolve(parts, state).await?))
    }
}

/// The client's address: the peer, or — when the peer is a configured proxy — the last address in
/// `X-Forwarded-For` that is not one of the proxies. A client cannot forge its way past this. Absent in
/// in-process tests without connect info.
pub fn client_ip(state: &AppState, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
    let peer = peer?.ip();
    let proxies = &state.config.trusted_proxies;
    if !proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(forwarded.into_iter().rev().find(|a| !proxies.contains(a)).unwrap_or(peer))
}

/// The client's address, as an extractor.
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        Ok(ClientIp(client_ip(state, peer, &parts.headers)))
    }
}

/// The session cookie: HttpOnly, SameSite=Strict, Secure behind https.
pub fn session_cookie(state: &AppState, token: &str) -> Option<HeaderValue> {
    let secure = if state.config.public_base_url.starts_with("https://") { "; Secure" } else { "" };
    let ttl = state.config.session_ttl_secs;
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={ttl}{secure}")).ok()
}

/// The header that clears the session cookie.
pub fn cleared() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::SET_COOKIE, HeaderValue::from_static("hcp_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"));
    h
}
