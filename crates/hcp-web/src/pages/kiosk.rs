//! The hall's self-service rating area (自助评价专区): the matter number from the receipt and the last four
//! digits of the phone registered with it lead to the same rating page as the QR code (channel
//! `hall_terminal`). One matter is rated once, whatever the channel; guesses are limited per matter.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{csrf_ok, csrf_token, render, see_other, with_cookie};
use crate::extract::Form;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "kiosk.html")]
struct KioskPage {
    csrf: String,
    error: Option<String>,
}

fn kiosk_page(state: &AppState, headers: &HeaderMap, error: Option<String>) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    with_cookie(render(status, &KioskPage { csrf, error }), cookie)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    kiosk_page(&state, &headers, None)
}

pub async fn submit(State(state): State<AppState>, headers: HeaderMap, form: Form) -> Response {
    if !csrf_ok(&state, &headers, form.raw("csrf")) {
        return kiosk_page(&state, &headers, Some("页面已过期，请重新输入".into()));
    }
    match hcp_app::matters::kiosk_link(&state, &form.text("matter_no"), &form.text("phone4")).await {
        Ok(url) => see_other(&url.split_once("/r/").map(|(_, t)| format!("/r/{t}")).unwrap_or_else(|| "/kiosk".into())),
        Err(e) => kiosk_page(&state, &headers, Some(e.message())),
    }
}
