//! The window rating device (评价器): a tablet at a window, bound to it by its device key (entered once and kept
//! in an HttpOnly cookie). It offers each new service at its window for rating — pushed by server-sent events —
//! and sends the rating through the same rules as the API, with the device's own clock and an Idempotency-Key,
//! so that ratings kept while the network was down arrive later exactly once. Without JavaScript the same page
//! works with forms and a refresh link.

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use hcp_domain::timestamp::Timestamp;
use hcp_storage::keys::ApiKey;

use super::{csrf_ok, csrf_token, parse_form, render, see_other, with_cookie};
use crate::api::matters::service_no;
use crate::api::ratings::{RatingIn, rate};
use crate::auth::{Caller, PeerAddr, cookie_value};
use crate::error::ApiError;
use crate::state::AppState;

pub const DEVICE_COOKIE: &str = "hcp_device";

/// The device key this browser was set up with, if it is still a valid device key bound to a window.
async fn device_of(state: &AppState, headers: &HeaderMap) -> Option<ApiKey> {
    let key = cookie_value(headers, DEVICE_COOKIE).filter(|k| k.len() <= 200)?;
    let k = state.find_key(&key).await.ok().flatten()?;
    (k.kind == "device" && k.window_code.is_some()).then_some(k)
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

pub async fn setup_submit(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = parse_form(&body);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string());
    let (csrf, cookie) = csrf_token(&state, &headers);
    let again = |error: &str| {
        with_cookie(render(StatusCode::UNPROCESSABLE_ENTITY, &SetupPage { csrf: csrf.clone(), error: Some(error.into()) }), cookie.clone())
    };
    if !csrf_ok(&state, &headers, get("csrf").as_deref()) {
        return again("页面已过期，请重新输入");
    }
    let key = get("key").unwrap_or_default();
    let valid =
        key.len() <= 200 && state.find_key(&key).await.ok().flatten().is_some_and(|k| k.kind == "device" && k.window_code.is_some());
    if !valid {
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

struct Pending {
    matter_no: String,
    service_no: String,
    item: String,
    staff: Option<String>,
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
}

impl DevicePage {
    /// Whether the reasons of `level` are asked for now (the page without JavaScript).
    fn asks(&self, level: &i64) -> bool {
        self.ask_level == Some(*level)
    }
}

fn reason_sets(state: &AppState) -> Vec<ReasonSet> {
    [1_i64, 2]
        .into_iter()
        .map(|level| ReasonSet {
            level,
            label: if level == 1 { "非常不满意" } else { "不满意" },
            reasons: state
                .catalogue
                .reasons
                .iter()
                .filter(|r| i64::from(r.level) == level && r.modes.iter().any(|m| m == "offline"))
                .map(|r| (r.code.clone(), r.label.clone()))
                .collect(),
        })
        .collect()
}

async fn pending(state: &AppState, window: &str) -> Option<Pending> {
    let since = Timestamp::now().plus_seconds(-state.config.device_offer_minutes * 60).micros();
    let (matter_no, seq, item, staff) = state.db.pending_service_at_window(window, since).await.ok().flatten()?;
    let master = state.master();
    Some(Pending {
        service_no: service_no(&matter_no, seq),
        matter_no,
        item: master.items.get(&item).map(|i| i.name.clone()).unwrap_or_default(),
        staff: staff.and_then(|s| master.staff.get(&s).map(|x| x.name.clone())),
    })
}

async fn device_page(state: &AppState, headers: &HeaderMap, key: &ApiKey, message: Option<String>, ask_level: Option<i64>) -> Response {
    let window = key.window_code.clone().unwrap_or_default();
    let window_name = state.master().windows.get(&window).map(|w| w.name.clone()).unwrap_or(window.clone());
    let (csrf, cookie) = csrf_token(state, headers);
    let page = DevicePage {
        window_name,
        idle_secs: state.config.device_idle_secs,
        min_press_ms: state.config.device_min_press_ms,
        csrf,
        pending: pending(state, &window).await,
        message,
        reason_sets: reason_sets(state),
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
        return ApiError::unauthorized().into_response();
    };
    let window = key.window_code.clone().unwrap_or_default();
    let raw = cookie_value(&headers, DEVICE_COOKIE).unwrap_or_default();
    let Some(slot) = StreamSlot::take(&state, &key.id) else {
        return ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_streams", "该评价器已打开过多的连接").into_response();
    };
    let stream = futures_util::stream::unfold(
        (state, window, raw, String::new(), true, slot),
        |(state, window, raw, last, first, slot)| async move {
            loop {
                if !first {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    // A key revoked while the stream is open ends it (the key cache keeps this cheap).
                    if state.find_key(&raw).await.ok().flatten().is_none_or(|k| k.window_code.as_deref() != Some(window.as_str())) {
                        return None;
                    }
                }
                let p = pending(&state, &window).await;
                let id = p.as_ref().map(|p| p.service_no.clone()).unwrap_or_default();
                if let Some(p) = p.filter(|_| id != last) {
                    let data =
                        serde_json::json!({ "matter_no": p.matter_no, "service_no": p.service_no, "item": p.item, "staff": p.staff });
                    let event = Event::default().event("service").data(data.to_string());
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
    pub rated_at: Option<String>,
}

/// A press on the device, sent by its script (JSON, with the device's Idempotency-Key): the same rules as
/// `POST /api/v1/ratings` for a device key.
pub async fn rate_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    PeerAddr(peer): PeerAddr,
    body: crate::json::ApiJson<DeviceRating>,
) -> Response {
    let Some(key) = device_of(&state, &headers).await else {
        return ApiError::unauthorized().into_response();
    };
    let d = body.value;
    let input =
        RatingIn { service_no: Some(d.service_no), reasons: d.reasons, rated_at: d.rated_at, ..RatingIn::new(d.matter_no, "pad", d.level) };
    match rate(&state, &Caller::Key(key), &headers, peer, input, body.digest).await {
        Ok(r) => (StatusCode::CREATED, axum::Json(serde_json::json!({ "id": r.id, "case_id": r.case_id }))).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The same press without JavaScript: a form post, answered with the device page.
pub async fn rate_form(State(state): State<AppState>, headers: HeaderMap, PeerAddr(peer): PeerAddr, body: Bytes) -> Response {
    let Some(key) = device_of(&state, &headers).await else {
        return see_other("/device/setup");
    };
    let form = parse_form(&body);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if !csrf_ok(&state, &headers, get("csrf").as_deref()) {
        return device_page(&state, &headers, &key, Some("页面已过期，请重新评价".into()), None).await;
    }
    let level: i64 = get("level").and_then(|l| l.parse().ok()).unwrap_or(0);
    let reasons: Vec<String> = form.iter().filter(|(k, _)| k == "reasons").map(|(_, v)| v.clone()).take(10).collect();
    // A bad review needs its reason: ask for it first.
    if (1..=2).contains(&level) && reasons.is_empty() {
        return device_page(&state, &headers, &key, None, Some(level)).await;
    }
    let input = RatingIn { service_no: get("service_no"), reasons, ..RatingIn::new(get("matter_no").unwrap_or_default(), "pad", level) };
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    let msg = match rate(&state, &Caller::Key(key.clone()), &headers, peer, input, digest).await {
        Ok(_) => "感谢您的评价！".to_string(),
        Err(e) if e.code == "already_rated" => "本次服务已经评价过了，感谢！".to_string(),
        Err(e) => e.message,
    };
    device_page(&state, &headers, &key, Some(msg), None).await
}
