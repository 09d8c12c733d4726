//! Puts on record every change (any method but GET/HEAD) and every refusal (403, and 404 on cases and ratings)
//! by a signed-in caller or machine key. Ratings themselves are on the ledger and not repeated here; sign-in
//! and sign-out audit themselves with more detail.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use hcp_app::Caller;
use hcp_domain::audit::AuditEntry;

use crate::extract::caller::{client_ip, resolve};
use crate::middleware::loggable_path;
use crate::state::AppState;

pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let caller = resolve(&parts, &state).await.ok();
    if let Some(c) = &caller {
        parts.extensions.insert(c.clone());
    }
    let method = parts.method.clone();
    let path = parts.uri.path().to_string();
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let source = client_ip(&state, peer, &parts.headers).map(|ip| state.secrets.source_hash(&ip.to_string()));
    let resp = next.run(Request::from_parts(parts, body)).await;
    let Some(caller) = caller.filter(|c| !matches!(c, Caller::Anonymous)) else { return resp };
    let status = resp.status();
    let change = !matches!(method, Method::GET | Method::HEAD);
    // Ratings and the machine channels that rate are on the ledger already; an SMS that rates nothing writes nothing.
    let exempt = (method == Method::POST
        && matches!(path.as_str(), "/api/v1/ratings" | "/api/v1/sms/inbound" | "/api/v1/hotline/ratings" | "/api/v1/province/ratings"))
        || path == "/api/v1/session"
        || path == "/api/v1/sessions";
    let refused = status == StatusCode::FORBIDDEN
        || (status == StatusCode::NOT_FOUND
            && (path.starts_with("/api/v1/cases/") || path.starts_with("/api/v1/ratings/") || path.starts_with("/staff/cases/")));
    if exempt || !(change || refused) {
        return resp;
    }
    let entry = AuditEntry {
        actor: caller.actor(),
        action: if refused { "denied".into() } else { "change".into() },
        // Tokens cut, length bounded.
        target: format!("{method} {}", loggable_path(&path)).chars().take(300).collect(),
        outcome: status.as_u16().to_string(),
        detail: None,
        source_hash: source,
    };
    // Written on its own task, which a client hanging up after the change cannot cancel; the answer waits for
    // it, so what a caller was told is on the record.
    let app = state.app.clone();
    let _ = tokio::spawn(async move { hcp_app::audit::record(&app, entry).await }).await;
    resp
}
