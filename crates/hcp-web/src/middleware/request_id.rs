//! A request id on every request, response and log line: taken from `X-Request-Id` when a trusted proxy set one
//! (a short printable value), else made here; kept for the request's task so that an error's body can name it.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

fn acceptable(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Sets the id (on the request, for the trace span; on the response, for the client) and keeps it for the task.
pub async fn assign(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // A client's own id is not believed (it could pick one that names another's request); a proxy's is.
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let from_proxy = peer.is_some_and(|p| state.config.trusted_proxies.contains(&p));
    let id = req
        .headers()
        .get(HEADER)
        .filter(|_| from_proxy)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(HEADER, v.clone());
        let mut resp = REQUEST_ID.scope(id, next.run(req)).await;
        resp.headers_mut().insert(HEADER, v);
        return resp;
    }
    next.run(req).await
}
