//! Sign-in and sign-out of the back office.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use crate::extract::Form;
use crate::extract::caller::{ClientIp, SESSION_COOKIE, Who, cleared, cookie_value, session_cookie};
use crate::pages::{csrf_ok, csrf_token, render, see_other, with_cookie};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "staff_sign_in.html")]
struct SignInPage {
    csrf: String,
    error: Option<String>,
    username: String,
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (csrf, cookie) = csrf_token(&state, &headers);
    with_cookie(render(StatusCode::OK, &SignInPage { csrf, error: None, username: String::new() }), cookie)
}

pub async fn submit(State(state): State<AppState>, headers: HeaderMap, ClientIp(peer): ClientIp, form: Form) -> Response {
    let (csrf, cookie) = csrf_token(&state, &headers);
    let username = form.raw("username").unwrap_or_default().to_string();
    let again = |status: StatusCode, error: String| {
        with_cookie(render(status, &SignInPage { csrf: csrf.clone(), error: Some(error), username: username.clone() }), cookie.clone())
    };
    if !csrf_ok(&state, &headers, form.raw("csrf")) {
        return again(StatusCode::FORBIDDEN, "页面已过期，请重新登录".into());
    }
    let input = hcp_app::session::SignIn {
        username: username.clone(),
        password: form.raw("password").unwrap_or_default().to_string(),
        otp: form.get("otp"),
    };
    let previous = cookie_value(&headers, SESSION_COOKIE);
    match hcp_app::session::sign_in(&state, input, previous.as_deref(), peer).await {
        Ok(started) => {
            let mut r = see_other("/staff/cases");
            if let Some(c) = session_cookie(&state, &started.token) {
                r.headers_mut().append(header::SET_COOKIE, c);
            }
            r
        }
        Err(e) => again(crate::error::status_of(&e), e.message()),
    }
}

pub async fn sign_out(
    State(state): State<AppState>,
    Who(caller): Who,
    headers: HeaderMap,
    ClientIp(peer): ClientIp,
    form: Form,
) -> Response {
    if csrf_ok(&state, &headers, form.raw("csrf")) {
        let token = cookie_value(&headers, SESSION_COOKIE);
        if let Err(e) = hcp_app::session::sign_out(&state, caller.staff(), token.as_deref(), peer).await {
            tracing::warn!(error = %e, "sign-out failed");
        }
    }
    let mut r = see_other("/staff/sign-in");
    r.headers_mut().extend(cleared());
    r
}
