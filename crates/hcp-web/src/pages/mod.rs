//! Server-rendered pages, in Chinese, working with JavaScript off: the rater's (`rating`, `feedback`, `kiosk`),
//! the window device (`device`), the staff back office (`staff/`, one file per page) and the public results
//! (`results`). Templates are askama (compile-checked, escaping on) under `templates/`; the one stylesheet is
//! ours (`assets/app.css`); there is no inline script anywhere. Each page extracts, calls a use case of
//! `hcp_app` and renders.

pub mod complaint;
pub mod device;
pub mod feedback;
pub mod kiosk;
pub mod rating;
pub mod receipt;
pub mod results;
pub mod staff;

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::status_of;
use crate::extract::cookie_value;
use crate::state::AppState;

/// Renders a template with a status; a template that fails to render is an internal error, logged.
pub(crate) fn render(status: StatusCode, t: &impl Template) -> Response {
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
    m.update(cookie_value(headers, crate::extract::SESSION_COOKIE).unwrap_or_default().as_bytes());
    Some(m)
}

/// The form token for this browser: an HMAC of its `hcp_csrf` cookie (set here when missing). A page on another
/// site can neither read the cookie nor compute the token, so it cannot submit our forms.
pub(crate) fn csrf_token(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let name = csrf_cookie_name(state);
    let (cookie, set) = match cookie_value(headers, name).filter(|c| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit())) {
        Some(c) => (c, None),
        None => {
            let mut bytes = [0u8; 32];
            rand::fill(&mut bytes);
            let c = hex::encode(bytes);
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

/// `2026-12-03 09:30` in Asia/Shanghai.
pub(crate) fn minute(t: hcp_domain::Timestamp) -> String {
    t.to_rfc3339().get(..16).unwrap_or_default().replace('T', " ")
}

/// One bar of a chart: its label and its rate (0–1).
pub(crate) struct Bar {
    pub label: String,
    pub width: String,
    pub x_value: String,
    pub y: String,
    pub y_text: String,
    pub colour: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "chart.svg", escape = "html")]
struct Chart<'a> {
    label: &'a str,
    height: String,
    bars: Vec<Bar>,
}

/// Horizontal bars of rates (0–1) drawn on the server as SVG, each with its figure written out; `label` names
/// the chart for screen readers (the pages also give the figures in a table).
pub(crate) fn bar_chart(label: &str, bars: &[(String, Option<f64>)]) -> String {
    let (label_w, bar_w, row_h) = (230.0, 360.0, 26.0);
    let rows = bars
        .iter()
        .enumerate()
        .map(|(i, (name, r))| {
            let y = 5.0 + row_h * i as f64;
            let v = r.unwrap_or(0.0).clamp(0.0, 1.0);
            Bar {
                label: name.clone(),
                width: format!("{:.1}", bar_w * v),
                x_value: format!("{:.1}", label_w + bar_w * v + 6.0),
                y: format!("{y:.1}"),
                y_text: format!("{:.1}", y + 16.0),
                colour: if v >= 0.95 {
                    "#237804"
                } else if v >= 0.85 {
                    "#0b4f9c"
                } else {
                    "#a8071a"
                },
                value: pct(*r),
            }
        })
        .collect();
    Chart { label, height: format!("{:.1}", row_h * bars.len() as f64 + 10.0), bars: rows }.render().unwrap_or_default()
}

#[derive(Template)]
#[template(path = "message.html")]
struct Message<'a> {
    title: &'a str,
    message: &'a str,
    link: Option<(&'a str, &'a str)>,
}

/// A page that says one thing (an error, an address that does not exist).
pub(crate) fn message_page(status: StatusCode, title: &str, message: &str, link: Option<(&str, &str)>) -> Response {
    render(status, &Message { title, message, link })
}

/// An error of a use case as a page.
pub(crate) fn error_page(e: &hcp_app::AppError) -> Response {
    let status = status_of(e);
    let title = match status {
        StatusCode::NOT_FOUND => "没有找到",
        StatusCode::FORBIDDEN => "无权访问",
        StatusCode::UNAUTHORIZED => "请先登录",
        _ => "出错了",
    };
    message_page(status, title, &e.message(), Some(("/", "返回首页")))
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home;

/// The front page: where each kind of visitor goes.
pub async fn home() -> Response {
    render(StatusCode::OK, &Home)
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

/// The window device's script (our own; the only script any page loads).
pub async fn device_script() -> Response {
    asset(include_str!("../../assets/device.js"), "text/javascript; charset=utf-8")
}

/// The stylesheet.
pub async fn stylesheet() -> Response {
    asset(include_str!("../../assets/app.css"), "text/css; charset=utf-8")
}

/// What a form held and the error to show by its field: how the pages keep everything typed when they refuse
/// it. The field `""` is the form as a whole.
#[derive(Default)]
pub(crate) struct Filled {
    pub values: Vec<(String, String)>,
    pub error: Option<(String, String)>,
}

impl Filled {
    pub fn value(&self, name: &str) -> &str {
        self.values.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    pub fn checked(&self, name: &str, value: &str) -> bool {
        self.value(name) == value
    }

    pub fn error_for(&self, name: &str) -> Option<&str> {
        self.error.as_ref().filter(|(f, _)| f == name).map(|(_, m)| m.as_str())
    }

    pub fn form_error(&self) -> Option<&str> {
        self.error_for("")
    }

    pub fn has_error(&self) -> bool {
        self.error.is_some()
    }
}
