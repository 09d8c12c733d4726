//! The printable receipt of a matter (with its rating QR code), for staff at a window.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{Session, error_page};
use crate::extract::caller::Who;
use crate::state::AppState;

#[derive(serde::Deserialize)]
pub struct ReceiptQuery {
    pub matter_no: String,
}

pub async fn page(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, Query(q): Query<ReceiptQuery>) -> Response {
    let session = match Session::of(&state, caller, &headers) {
        Some(s) => s,
        None => return super::sign_in(),
    };
    match hcp_app::matters::receipt(&state, &session.caller, &q.matter_no).await {
        Ok(r) => crate::pages::receipt::page(&r).unwrap_or_else(|e| error_page(&e)),
        Err(e) => error_page(&e),
    }
}
