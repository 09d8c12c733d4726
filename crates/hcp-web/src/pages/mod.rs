//! Server-rendered pages, in Chinese, working with JavaScript off: the rater's (`rater`), the staff back office
//! (`back_office`) and the public results (`results`). Templates are askama (compile-checked) under
//! `templates/`; the one stylesheet is ours (`assets/app.css`); there is no inline script anywhere.

pub mod back_office;
pub mod device;
pub mod kiosk;
pub mod rater;
pub mod results;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub use rater::{feedback_page, feedback_submit, parse_form, rating_page, submit_page};

use crate::auth::cookie_value;
use crate::state::AppState;

/// Renders a template with a status; a template that fails to render is an internal error, logged.
pub(crate) fn render(status: StatusCode, t: &impl askama::Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, Html("<!doctype html><title>错误</title><p>页面暂时无法显示，请稍后再试。</p>".to_string()))
                .into_response()
        }
    }
}

pub const CSRF_COOKIE: &str = "hcp_csrf";

/// Over https the cookie is `__Host-` prefixed: the browser then refuses one set by a sibling subdomain.
fn csrf_cookie_name(state: &AppState) -> &'static str {
    if state.config.public_base_url.starts_with("https://") { "__Host-hcp_csrf" } else { CSRF_COOKIE }
}

/// The token binds the browser's CSRF cookie and its staff session (if any), so a token learnt before a sign-in
/// is worth nothing after it.
fn csrf_mac(state: &AppState, cookie: &str, headers: &HeaderMap) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(state.secrets.token_key()).ok()?;
    m.update(b"hcp-csrf-v2|");
    m.update(cookie.as_bytes());
    m.update(b"|");
    m.update(cookie_value(headers, crate::auth::SESSION_COOKIE).unwrap_or_default().as_bytes());
    Some(m)
}

/// The form token for this browser: an HMAC of its `hcp_csrf` cookie (set here when missing). A page on another
/// site can neither read the cookie nor compute the token, so it cannot submit our forms.
pub(crate) fn csrf_token(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let name = csrf_cookie_name(state);
    let (cookie, set) = match cookie_value(headers, name).filter(|c| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit())) {
        Some(c) => (c, None),
        None => {
            let c = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
            let secure = if state.config.public_base_url.starts_with("https://") { "; Secure" } else { "" };
            let v = HeaderValue::from_str(&format!("{name}={c}; Path=/; HttpOnly; SameSite=Strict{secure}")).ok();
            (c, v)
        }
    };
    let token = csrf_mac(state, &cookie, headers).map(|m| hex::encode(m.finalize().into_bytes())).unwrap_or_default();
    (token, set)
}

/// Whether a submitted form carries the token of this browser's cookie (checked in constant time).
pub(crate) fn csrf_ok(state: &AppState, headers: &HeaderMap, submitted: Option<&str>) -> bool {
    let (Some(cookie), Some(submitted)) = (cookie_value(headers, csrf_cookie_name(state)), submitted) else { return false };
    let Ok(sig) = hex::decode(submitted) else { return false };
    csrf_mac(state, &cookie, headers).is_some_and(|m| m.verify_slice(&sig).is_ok())
}

/// A page response that also sets the CSRF cookie when it was just made.
pub(crate) fn with_cookie(mut resp: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// `303 See Other` to `to` (after a form, so that reloading does not post it again).
pub(crate) fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

pub(crate) fn pct(r: Option<f64>) -> String {
    r.map(|v| format!("{:.1}%", v * 100.0)).unwrap_or_else(|| "—".into())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Horizontal bars of rates (0–1) drawn on the server as SVG, each with its figure written out; `label` names
/// the chart for screen readers (the pages also give the figures in a table).
pub(crate) fn bar_chart(label: &str, bars: &[(String, Option<f64>)]) -> String {
    let (label_w, bar_w, row_h) = (230.0, 360.0, 26.0);
    let height = row_h * bars.len() as f64 + 10.0;
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w} {height}\" width=\"100%\" preserveAspectRatio=\"xMinYMin meet\">",
        esc(label),
        w = label_w + bar_w + 70.0
    );
    for (i, (name, r)) in bars.iter().enumerate() {
        let y = 5.0 + row_h * i as f64;
        let v = r.unwrap_or(0.0).clamp(0.0, 1.0);
        let colour = if v >= 0.95 {
            "#237804"
        } else if v >= 0.85 {
            "#0b4f9c"
        } else {
            "#a8071a"
        };
        svg.push_str(&format!(
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{name}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{bw:.1}\" height=\"{bh}\" fill=\"{colour}\"></rect><text x=\"{tx:.1}\" y=\"{ty}\">{val}</text>",
            lx = label_w - 8.0,
            ty = y + 16.0,
            name = esc(name),
            bw = bar_w * v,
            bh = row_h - 8.0,
            tx = label_w + bar_w * v + 6.0,
            val = pct(*r),
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[derive(askama::Template)]
#[template(path = "home.html")]
struct Home;

/// The front page: where each kind of visitor goes.
pub async fn home() -> Response {
    render(StatusCode::OK, &Home)
}

/// The window device's script (our own; the only script any page loads).
pub async fn device_script() -> Response {
    let mut r = include_str!("../../assets/device.js").into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

/// The stylesheet.
pub async fn stylesheet() -> Response {
    let mut r = include_str!("../../assets/app.css").into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}
