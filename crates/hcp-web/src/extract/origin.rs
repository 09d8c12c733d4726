//! Where a request came from, as the rating use case wants to know it.

use axum::http::{HeaderMap, header};
use hcp_app::ratings::Origin;

/// What the rating use case needs to know of an HTTP request.
pub fn origin(headers: &HeaderMap, peer: Option<std::net::IpAddr>, digest: String, bearer: Option<String>) -> Origin {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    Origin {
        peer,
        user_agent: header(header::USER_AGENT.as_str()),
        idempotency_key: headers.get("idempotency-key").map(|v| v.to_str().unwrap_or("\u{7f}").to_string()),
        digest,
        bearer_token: bearer,
    }
}
