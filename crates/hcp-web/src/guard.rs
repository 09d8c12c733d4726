//! What stands in front of every handler: security headers, the client's address (believing
//! `X-Forwarded-For` only from configured proxies), rate limits on public submissions, and the audit of every
//! change and every refusal by a signed-in caller.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hcp_storage::audit::AuditEntry;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Content Security Policy: our own scripts and styles only (inline styles allowed for the small pages, no
/// inline script), no framing, no plugins, forms only back to us.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

pub async fn security_headers(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Rating and feedback links are credentials: never sent onwards as a referrer.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
    // Nothing personal stays in a shared hall computer's cache or history after sign-out.
    let private = ["/api/", "/r/", "/f/", "/staff", "/device", "/kiosk"].iter().any(|p| path.starts_with(p));
    if private && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// The client's address: the peer, or — when the peer is a configured proxy — the last address in
/// `X-Forwarded-For` that is not one of the proxies. A client cannot forge its way past this.
pub fn client_ip(state: &AppState, peer: Option<SocketAddr>, headers: &axum::http::HeaderMap) -> Option<IpAddr> {
    let peer = peer?.ip();
    if !state.config.trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(forwarded.into_iter().rev().find(|a| !state.config.trusted_proxies.contains(a)).unwrap_or(peer))
}

/// A token bucket per key (a client address, a token): `per_minute` requests, refilled continuously.
pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter { per_minute: f64::from(per_minute.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request's worth for `key`; `false` when the key has none left.
    pub fn allow(&self, key: &str) -> bool {
        let Ok(mut b) = self.buckets.lock() else { return true };
        let now = Instant::now();
        if b.len() > 50_000 {
            // Forget full buckets rather than grow without bound under a flood of distinct keys.
            let per = self.per_minute;
            b.retain(|_, (tokens, at)| *tokens + at.elapsed().as_secs_f64() * per / 60.0 < per);
        }
        let entry = b.entry(key.to_string()).or_insert((self.per_minute, now));
        let refill = now.duration_since(entry.1).as_secs_f64() * self.per_minute / 60.0;
        entry.0 = (entry.0 + refill).min(self.per_minute);
        entry.1 = now;
        if entry.0 >= 1.0 {
            entry.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Public submissions without a machine key or session are limited per client address, and forms that carry a
/// token also per token, so that one client cannot flood the complaint box or hammer a link.
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limited = req.method() == Method::POST
        && matches!(req.uri().path(), "/api/v1/complaints" | "/api/v1/session" | "/kiosk" | "/staff/sign-in" | "/device/setup")
        || (req.method() == Method::POST
            && (req.uri().path().starts_with("/r/")
                || req.uri().path().starts_with("/f/")
                || req.uri().path().starts_with("/api/v1/feedback/")));
    if limited {
        // Only a real, unrevoked machine key is exempt from the per-address limit (a made-up one is not).
        let bearer = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        let authenticated = match bearer {
            Some(k) if k.starts_with("hcp_") && k.len() <= 200 => state.find_key(k).await.ok().flatten().is_some(),
            _ => false,
        };
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let ip = client_ip(&state, peer, req.headers()).map(|a| a.to_string()).unwrap_or_else(|| "unknown".into());
        let mut keys = Vec::new();
        if !authenticated {
            keys.push(format!("ip:{ip}"));
        }
        let path = req.uri().path();
        for prefix in ["/r/", "/f/", "/api/v1/feedback/"] {
            if let Some(rest) = path.strip_prefix(prefix) {
                keys.push(format!("token:{}", rest.split('/').next().unwrap_or_default()));
            }
        }
        if keys.iter().any(|k| !state.limiter.allow(k)) {
            return ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "请求过于频繁，请稍后再试").into_response();
        }
    }
    next.run(req).await
}

/// The actor as the audit trail names it.
pub fn actor_of(caller: &Caller) -> String {
    match caller {
        Caller::Staff(u) => format!("staff:{}", u.username),
        Caller::Key(k) => format!("key:{}", k.label),
        Caller::Anonymous { .. } => "anonymous".into(),
    }
}

/// Puts on record every change (any method but GET/HEAD) and every refusal (403, and 404 on cases and
/// ratings) by a signed-in caller or machine key. Ratings themselves are on the ledger and not repeated here;
/// sign-in and sign-out audit themselves with more detail.
pub async fn audit_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let caller = <Caller as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, &state).await.ok();
    if let Some(c) = &caller {
        parts.extensions.insert(c.clone());
    }
    let method = parts.method.clone();
    let path = parts.uri.path().to_string();
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let source = client_ip(&state, peer, &parts.headers).map(|ip| state.secrets.source_hash(&ip.to_string()));
    let resp = next.run(Request::from_parts(parts, body)).await;
    let Some(caller) = caller.filter(|c| !matches!(c, Caller::Anonymous { .. })) else { return resp };
    let status = resp.status();
    let change = !matches!(method, Method::GET | Method::HEAD);
    let exempt = (method == Method::POST && path == "/api/v1/ratings") || path == "/api/v1/session" || path == "/api/v1/sessions";
    let refused = status == StatusCode::FORBIDDEN
        || (status == StatusCode::NOT_FOUND
            && (path.starts_with("/api/v1/cases/") || path.starts_with("/api/v1/ratings/") || path.starts_with("/staff/cases/")));
    if exempt || !(change || refused) {
        return resp;
    }
    let entry = AuditEntry {
        actor: actor_of(&caller),
        action: if refused { "denied".into() } else { "change".into() },
        // Tokens cut, length bounded.
        target: format!("{method} {}", loggable_path(&path)).chars().take(300).collect(),
        outcome: status.as_u16().to_string(),
        detail: None,
        source_hash: source,
    };
    // Written on its own task, which a client hanging up after the change cannot cancel; the answer waits for
    // it, so what a caller was told is on the record.
    let write = tokio::spawn(async move {
        if let Err(e) = state.db.audit(&entry).await {
            tracing::error!(error = %e, "could not write the audit trail");
        }
    });
    let _ = write.await;
    resp
}

/// A request path fit for logs and the audit trail: rating and feedback tokens are credentials, so their
/// segment is cut.
pub fn loggable_path(path: &str) -> String {
    for prefix in ["/r/", "/f/", "/api/v1/feedback/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
            return format!("{prefix}…{tail}");
        }
    }
    path.to_string()
}
