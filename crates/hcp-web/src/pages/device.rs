//! The window rating device (评价器): a tablet at a window, bound to it by its device key (entered once and kept
//! in an HttpOnly cookie). It offers each new service at its window for rating — pushed by server-sent events —
//! and sends the rating through the one rating use case, with the device's own clock and an Idempotency-Key,
//! so that ratings kept while the network was down arrive later exactly once. Without JavaScript the same page
//! works with forms and a refresh link.

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use hcp_app::device::{Pending, device_key, pending};
use hcp_app::ratings::{RatingIn, rate};
use hcp_app::{AppError, Caller};
use hcp_domain::{Channel, Level, Timestamp};
use hcp_storage::keys::ApiKey;

use super::{csrf_ok, csrf_token, render, see_other, with_cookie};
use crate::error::ApiError;
use crate::extract::caller::{ClientIp, cookie_value};
use crate::extract::{ApiJson, Form};
use crate::state::AppState;

pub const DEVICE_COOKIE: &str = "hcp_device";

/// The device key this browser was set up with, if it is still a valid device key bound to a window.
async fn device_of(state: &AppState, headers: &HeaderMap) -> Option<ApiKey> {
    let key = cookie_value(headers, DEVICE_COOKIE)?;
    device_key(state, &key).await.ok().flatten()
}

#[derive(Template)]
#[template(path = "device_setup.html")]
struct SetupPage {
    csrf: String,
    error: Option<String>,
}

pub async fn setup_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (csrf, cookie) = csrf_token(&state, &headers);
    with_cookie(render(StatusCode::OK, &SetupPage { csrf, error: None }), cookie)
}

pub async fn setup_submit(State(state): State<AppState>, headers: HeaderMap, form: Form) -> Response {
    let (csrf, cookie) = csrf_token(&state, &headers);
    let again = |error: &str| {
        with_cookie(render(StatusCode::UNPROCESSABLE_ENTITY, &SetupPage { csrf: csrf.clone(), error: Some(error.into()) }), cookie.clone())
    };
    if !csrf_ok(&state, &headers, form.raw("csrf")) {
        return again("页面已过期，请重新输入");
    }
    let key = form.text("key");
    if device_key(&state, &key).await.ok().flatten().is_none() {
        return again("密钥无效或已吊销，或不是绑定窗口的评价器密钥");
    }
    let secure = if state.config.public_base_url.starts_with("https://") { "; Secure" } else { "" };
    let mut r = see_other("/device");
    if let Ok(v) =
        HeaderValue::from_str(&format!("{DEVICE_COOKIE}={key}; Path=/device; HttpOnly; SameSite=Strict; Max-Age=31536000{secure}"))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

struct ReasonSet {
    level: i64,
    label: &'static str,
    reasons: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    window_name: String,
    idle_secs: u32,
    min_press_ms: u32,
    csrf: String,
    pending: Option<Pending>,
    message: Option<String>,
    /// a bad review needs a reason: the reasons of each bad level, as large buttons
    reason_sets: Vec<ReasonSet>,
    /// without JavaScript, the level pressed whose reasons are now asked for
    ask_level: Option<i64>,
    /// the server's clock, so that the device stamps presses in server time whatever its own clock says
    server_now_ms: i64,
    /// the on-site indicators a citizen may rate before the overall level (optional): `(code, label)`
    indicators: Vec<(String, String)>,
    /// the levels an indicator may be given, best first
    scale: Vec<(u8, &'static str)>,
}

impl DevicePage {
    /// Whether the reasons of `level` are asked for now (the page without JavaScript).
    fn asks(&self, level: &i64) -> bool {
        self.ask_level == Some(*level)
    }
}

fn reason_sets(state: &AppState) -> Vec<ReasonSet> {
    Level::ALL
        .into_iter()
        .filter(|l| l.is_bad())
        .map(|level| ReasonSet {
            level: i64::from(level.value()),
            label: level.label(),
            reasons: state.catalogue.reasons_for(level, Channel::Pad.mode()).map(|r| (r.code.clone(), r.label.clone())).collect(),
        })
        .collect()
}

async fn device_page(state: &AppState, headers: &HeaderMap, key: &ApiKey, message: Option<String>, ask_level: Option<i64>) -> Response {
    let window = key.window_code.clone().unwrap_or_default();
    let (csrf, cookie) = csrf_token(state, headers);
    let page = DevicePage {
        window_name: state.master().window_name(&window).unwrap_or(window.clone()),
        idle_secs: state.config.device_idle_secs,
        min_press_ms: state.config.device_min_press_ms,
        csrf,
        pending: pending(state, &window).await.ok().flatten(),
        message,
        reason_sets: reason_sets(state),
        indicators: state
            .catalogue
            .indicators
            .iter()
            .filter(|i| i.modes.iter().any(|m| m == "offline"))
            .map(|i| (i.code.clone(), i.label.clone()))
            .collect(),
        scale: Level::ALL.iter().rev().map(|l| (l.value(), l.label())).collect(),
        ask_level,
        server_now_ms: Timestamp::now().micros() / 1_000,
    };
    with_cookie(render(StatusCode::OK, &page), cookie)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match device_of(&state, &headers).await {
        Some(k) => device_page(&state, &headers, &k, None, None).await,
        None => see_other("/device/setup"),
    }
}

/// At most this many event streams per device key (a tablet needs one; a reload briefly opens a second).
const MAX_STREAMS_PER_KEY: usize = 3;

/// One open stream of a key, counted while it lives.
struct StreamSlot {
    counts: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    key: String,
}

impl StreamSlot {
    fn take(state: &AppState, key: &str) -> Option<StreamSlot> {
        let mut m = state.device_streams.lock().ok()?;
        let n = m.entry(key.to_string()).or_insert(0);
        if *n >= MAX_STREAMS_PER_KEY {
            return None;
        }
        *n += 1;
        Some(StreamSlot { counts: state.device_streams.clone(), key: key.to_string() })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Ok(mut m) = self.counts.lock()
            && let Some(n) = m.get_mut(&self.key)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}

/// Server-sent events: the window's latest unrated service whenever it changes (checked every two seconds in
/// the database, so a service recorded on any node reaches the device).
pub async fn events(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(key) = device_of(&state, &headers).await else {
        return ApiError(AppError::Unauthenticated).into_response();
    };
    let window = key.window_code.clone().unwrap_or_default();
    let raw = cookie_value(&headers, DEVICE_COOKIE).unwrap_or_default();
    let Some(slot) = StreamSlot::take(&state, &key.id) else {
        return ApiError(AppError::too_many("too_many_streams", "该评价器已打开过多的连接")).into_response();
    };
    let stream = futures_util::stream::unfold(
        (state, window, raw, String::new(), true, slot),
        |(state, window, raw, last, first, slot)| async move {
            loop {
                if !first {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    // A key revoked while the stream is open ends it (the key cache keeps this cheap).
                    if device_key(&state, &raw).await.ok().flatten().is_none_or(|k| k.window_code.as_deref() != Some(window.as_str())) {
                        return None;
                    }
                }
                let p = pending(&state, &window).await.ok().flatten();
                let id = p.as_ref().map(|p| p.service_no.clone()).unwrap_or_default();
                if let Some(p) = p.filter(|_| id != last) {
                    let event = Event::default().event("service").data(serde_json::to_string(&p).unwrap_or_default());
                    return Some((Ok::<Event, Infallible>(event), (state, window, raw, id, false, slot)));
                }
                if first {
                    // Nothing to offer yet: wait for the next check.
                    return Some((Ok(Event::default().comment("ready")), (state, window, raw, last, false, slot)));
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

#[derive(serde::Deserialize)]
pub struct DeviceRating {
    pub matter_no: String,
    pub service_no: String,
    pub level: i64,
    #[serde(default)]
    pub reasons: Vec<String>,
    /// per-indicator levels chosen before the overall level (optional)
    #[serde(default)]
    pub indicators: std::collections::BTreeMap<String, i64>,
    pub rated_at: Option<String>,
}

/// A press on the device, sent by its script (JSON, with the device's Idempotency-Key): the same rules as
/// `POST /api/v1/ratings` for a device key.
pub async fn rate_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(peer): ClientIp,
    body: ApiJson<DeviceRating>,
) -> Response {
    let Some(key) = device_of(&state, &headers).await else {
        return ApiError(AppError::Unauthenticated).into_response();
    };
    let d = body.value;
    let input = RatingIn {
        service_no: Some(d.service_no),
        reasons: d.reasons,
        indicators: d.indicators,
        rated_at: d.rated_at,
        ..RatingIn::new(d.matter_no, Channel::Pad, d.level)
    };
    let origin = crate::extract::origin(&headers, peer, body.digest, None);
    match rate(&state, &Caller::Key(key), input, origin).await {
        Ok(r) => (StatusCode::CREATED, Json(serde_json::json!({ "id": r.id, "case_id": r.case_id }))).into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

/// A press the device could not get accepted for good, reported by its script so that the county sees it.
pub async fn refused(State(state): State<AppState>, headers: HeaderMap, body: ApiJson<hcp_app::device::RefusedIn>) -> Response {
    let Some(key) = device_of(&state, &headers).await else {
        return ApiError(AppError::Unauthenticated).into_response();
    };
    match hcp_app::device::report_refused(&state, &key, &body.value).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

/// The same press without JavaScript: a form post, answered with the device page.
pub async fn rate_form(State(state): State<AppState>, headers: HeaderMap, ClientIp(peer): ClientIp, form: Form) -> Response {
    let Some(key) = device_of(&state, &headers).await else {
        return see_other("/device/setup");
    };
    if !csrf_ok(&state, &headers, form.raw("csrf")) {
        return device_page(&state, &headers, &key, Some("页面已过期，请重新评价".into()), None).await;
    }
    let level: i64 = form.raw("level").and_then(|l| l.parse().ok()).unwrap_or(0);
    let reasons = form.all("reasons", 10);
    // A bad review needs its reason: ask for it first.
    if (1..=2).contains(&level) && reasons.is_empty() {
        return device_page(&state, &headers, &key, None, Some(level)).await;
    }
    // `ind_E01=4`: the indicators the citizen rated before the level (optional).
    let indicators = state
        .catalogue
        .indicators
        .iter()
        .filter_map(|i| form.get(&format!("ind_{}", i.code)).and_then(|v| v.parse().ok()).map(|v| (i.code.clone(), v)))
        .collect();
    let input =
        RatingIn { service_no: form.get("service_no"), reasons, indicators, ..RatingIn::new(form.text("matter_no"), Channel::Pad, level) };
    let origin = crate::extract::origin(&headers, peer, form.digest.clone(), None);
    let msg = match rate(&state, &Caller::Key(key.clone()), input, origin).await {
        Ok(_) => "感谢您的评价！".to_string(),
        Err(e) if e.code() == "already_rated" => "本次服务已经评价过了，感谢！".to_string(),
        Err(e) => e.message(),
    };
    device_page(&state, &headers, &key, Some(msg), None).await
}
