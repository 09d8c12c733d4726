//! HTTP adapters of haochaping: the JSON API under `/api/v1` with its OpenAPI description (`api/`), the pages
//! (`pages/`), the extractors (`extract/`) and what stands in front of every request (`middleware/`). A handler
//! extracts, calls one use case of `hcp_app` and renders; errors become responses in one place (`error.rs`).

pub mod api;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod pages;
pub mod qr;
pub mod state;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;

pub use state::AppState;

use crate::extract::MAX_BODY;
use crate::pages::staff;

/// `/metrics` in Prometheus' text format: with `--metrics-token`, for a bearer of that token; without one, for
/// the machine itself only (a scraper elsewhere needs the token), so that the public cannot make it query.
async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    extract::caller::ClientIp(client): extract::caller::ClientIp,
) -> Response {
    match &state.config.metrics_token {
        Some(token) => {
            use sha2::Digest;
            let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
            // Compared as hashes: the time taken says nothing of the token.
            let same = given.is_some_and(|g| sha2::Sha256::digest(g.as_bytes()) == sha2::Sha256::digest(token.as_bytes()));
            if !same {
                return error::ApiError(hcp_app::AppError::Unauthenticated).into_response();
            }
        }
        None if !client.is_some_and(|ip| ip.is_loopback()) => {
            return error::ApiError(hcp_app::AppError::NotFound("请求的地址")).into_response();
        }
        None => {}
    }
    let Some(exporter) = &state.metrics else { return StatusCode::NOT_FOUND.into_response() };
    if let Err(e) = hcp_app::stats::refresh_gauges(&state).await {
        tracing::warn!(error = %e, "gauges not refreshed");
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], exporter.render()).into_response()
}

/// The whole application: API, OpenAPI document and docs page, the pages, and the middleware in front of them.
pub fn build_router(state: AppState) -> Router {
    let (api, doc) = api::routes();
    let docs = axum::response::Html(api::meta::docs_html(&doc));
    let doc_json = doc.clone();
    api.route("/api/openapi.json", get(move || async move { Json(doc_json) }))
        .route("/docs", get(move || async move { docs }))
        .route("/metrics", get(metrics))
        .route("/", get(pages::home))
        .route("/assets/app.css", get(pages::stylesheet))
        .route("/assets/device.js", get(pages::device_script))
        .route("/r/{token}", get(pages::rating::page).post(pages::rating::submit))
        .route("/r/{token}/optout", axum::routing::post(pages::rating::opt_out))
        .route("/f/{token}", get(pages::feedback::show).post(pages::feedback::submit))
        .route("/results", get(pages::results::results))
        .route("/complaint", get(pages::complaint::page).post(pages::complaint::submit))
        .route("/kiosk", get(pages::kiosk::page).post(pages::kiosk::submit))
        .route("/device", get(pages::device::page))
        .route("/device/setup", get(pages::device::setup_page).post(pages::device::setup_submit))
        .route("/device/events", get(pages::device::events))
        .route("/device/rate", post(pages::device::rate_json))
        .route("/device/rate-form", post(pages::device::rate_form))
        .route("/device/refused", post(pages::device::refused))
        .route("/staff", get(|| async { pages::see_other("/staff/cases") }))
        .route("/staff/sign-in", get(staff::sign_in::page).post(staff::sign_in::submit))
        .route("/staff/sign-out", post(staff::sign_in::sign_out))
        .route("/staff/cases", get(staff::queue::page))
        .route("/staff/cases/{id}", get(staff::case::page).post(staff::case::step))
        .route("/staff/cases/{id}/contact", post(staff::case::contact))
        .route("/staff/cases/{id}/appeal", post(staff::case::appeal))
        .route("/staff/cases/{id}/rectification", post(staff::case::rectify))
        .route("/staff/cases/{id}/merge", post(staff::case::merge))
        .route("/staff/dashboard", get(staff::dashboard::page))
        .route("/staff/ledger", get(staff::ledger::page))
        .route("/staff/inspections", get(staff::records::inspections).post(staff::records::record_inspection))
        .route("/staff/replies", get(staff::records::replies))
        .route("/staff/notifications", get(staff::records::notifications))
        .route("/staff/notifications/{id}/retry", post(staff::records::retry))
        .route("/staff/dead-letters", get(staff::records::dead_letters))
        .route("/staff/paper", get(staff::paper::page).post(staff::paper::submit))
        .route("/staff/matters", get(staff::matters::page).post(staff::matters::submit))
        .route("/staff/receipt", get(staff::receipt::page))
        .route("/staff/keys", get(staff::keys::page).post(staff::keys::submit))
        .route("/staff/province", get(staff::province::page).post(staff::province::submit))
        .route("/staff/settings", get(staff::settings::page))
        .route("/staff/settings/calendar", post(staff::settings::calendar))
        .route("/staff/settings/import", post(staff::settings::import))
        .fallback(api::meta::not_found)
        .method_not_allowed_fallback(api::meta::method_not_allowed)
        .layer(axum::middleware::from_fn(middleware::metrics::track))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::audit::record))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::rate_limit::limit))
        .layer(axum::middleware::from_fn(middleware::security_headers::set))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(CatchPanicLayer::custom(api::meta::panic_response))
        .with_state(state)
}
