//! Public submissions without a machine key or session are limited per client address, and forms that carry a
//! token also per token, so that one client cannot flood the complaint box or hammer a link.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hcp_app::AppError;

use crate::error::ApiError;
use crate::extract::caller::client_ip;
use crate::state::AppState;

pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let post = req.method() == Method::POST;
    let limited = post
        && (matches!(path, "/api/v1/complaints" | "/complaint" | "/api/v1/session" | "/kiosk" | "/staff/sign-in" | "/device/setup")
            || path.starts_with("/r/")
            || path.starts_with("/f/")
            || path.starts_with("/api/v1/feedback/"));
    if limited {
        // Only a real, unrevoked machine key is exempt from the per-address limit (a made-up one is not).
        let bearer = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        let authenticated = match bearer {
            Some(k) if k.starts_with("hcp_") => state.find_key(k).await.ok().flatten().is_some(),
            _ => false,
        };
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let ip = client_ip(&state, peer, req.headers()).map(|a| a.to_string()).unwrap_or_else(|| "unknown".into());
        let mut keys = Vec::new();
        if !authenticated {
            keys.push(format!("ip:{ip}"));
        }
        for prefix in ["/r/", "/f/", "/api/v1/feedback/"] {
            if let Some(rest) = path.strip_prefix(prefix) {
                keys.push(format!("token:{}", rest.split('/').next().unwrap_or_default()));
            }
        }
        if keys.iter().any(|k| !state.limiter.allow(k)) {
            return ApiError(AppError::too_many("rate_limited", "请求过于频繁，请稍后再试")).into_response();
        }
    }
    next.run(req).await
}
