//! The hall's self-service rating area (自助评价专区 / 自助服务终端): a citizen who did not rate at the window
//! types the matter number from the receipt and the last four digits of the phone registered with the matter,
//! and is taken to the same rating page as the QR code (channel `hall_terminal`). One matter is rated once,
//! whatever the channel; guesses are limited per matter.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hcp_domain::timestamp::Timestamp;

use super::{csrf_ok, csrf_token, parse_form, render, see_other, with_cookie};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "kiosk.html")]
struct KioskPage {
    csrf: String,
    error: Option<String>,
}

fn kiosk_page(state: &AppState, headers: &HeaderMap, error: Option<&str>) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    with_cookie(render(status, &KioskPage { csrf, error: error.map(String::from) }), cookie)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    kiosk_page(&state, &headers, None)
}

pub async fn submit(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = parse_form(&body);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string()).unwrap_or_default();
    if !csrf_ok(&state, &headers, Some(&get("csrf"))) {
        return kiosk_page(&state, &headers, Some("页面已过期，请重新输入"));
    }
    let (matter_no, phone4) = (get("matter_no"), get("phone4"));
    let not_found = "办件编号或手机号码后四位不对，请核对回执；也可以扫描回执上的二维码评价";
    if matter_no.is_empty() || matter_no.len() > 50 || phone4.len() != 4 || !phone4.bytes().all(|b| b.is_ascii_digit()) {
        return kiosk_page(&state, &headers, Some(not_found));
    }
    // Four digits are few: a handful of tries a minute per matter on this node, five wrong ones a day per matter
    // on all nodes together (counted in the database, whether the matter exists or not), and the per-address
    // limit on top.
    let lock_key = format!("kiosk:{matter_no}");
    let locked = state.db.login_locked_until(&lock_key).await.ok().flatten().is_some();
    if locked || !state.kiosk_limiter.allow(&matter_no) {
        return kiosk_page(&state, &headers, Some("尝试次数过多，请稍后再试，或扫描回执上的二维码评价"));
    }
    let wrong = |state: AppState, key: String| async move {
        let _ = state.db.record_login_failure(&key, 5, 86_400, 86_400).await;
    };
    let Ok(Some(matter)) = state.db.find_matter(&matter_no).await else {
        wrong(state.clone(), lock_key).await;
        return kiosk_page(&state, &headers, Some(not_found));
    };
    let phone = matter.applicant_phone.as_ref().and_then(|p| state.secrets.decrypt(p).ok());
    if !phone.is_some_and(|p| p.ends_with(&phone4)) {
        wrong(state.clone(), lock_key).await;
        return kiosk_page(&state, &headers, Some(not_found));
    }
    let (seq, from) = match state.db.latest_service(&matter.id).await {
        Ok(Some(s)) => (s.seq, s.served_at),
        _ => (0, matter.completed_at.unwrap_or_else(Timestamp::now)),
    };
    let url = crate::api::matters::rating_url(&state, &matter.matter_no, seq, from);
    let path = url.split_once("/r/").map(|(_, t)| format!("/r/{t}?c=hall_terminal")).unwrap_or_else(|| "/kiosk".into());
    see_other(&path)
}
