//! Machine keys: issue and revoke (the county's administrators, within their tree).

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use hcp_domain::access::Act;

use super::{Frame, Session, error_page, form_status};
use crate::extract::Form;
use crate::extract::caller::Who;
use crate::pages::minute;
use crate::state::AppState;

struct KeyRow {
    id: String,
    label: String,
    kind: &'static str,
    scope: String,
    created: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "staff_keys.html")]
struct KeysPage {
    frame: Frame,
    error: Option<String>,
    issued: Option<String>,
    keys: Vec<KeyRow>,
}

async fn keys_page(state: &AppState, session: &Session, error: Option<String>, issued: Option<String>) -> Response {
    let master = state.master();
    let keys = hcp_app::settings::keys_of(state, &session.caller)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(k, created)| KeyRow {
            id: k.id.clone(),
            label: k.label.clone(),
            kind: k.kind.label(),
            scope: format!(
                "{}{}",
                master.unit_name(&k.unit_code).unwrap_or(k.unit_code.clone()),
                k.window_code.as_deref().and_then(|w| master.window_name(w)).map(|w| format!(" / {w}")).unwrap_or_default()
            ),
            created: minute(created),
            revoked: k.revoked,
        })
        .collect();
    let page = KeysPage { frame: session.frame.clone(), error, issued, keys };
    session.page(form_status(&page.error), &page)
}

pub async fn page(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap) -> Response {
    let session = match Session::of(&state, caller, &headers) {
        Some(s) => s,
        None => return super::sign_in(),
    };
    if let Err(e) = state.authorize(&session.caller, Act::ManageKeys) {
        return error_page(&e);
    }
    keys_page(&state, &session, None, None).await
}

pub async fn submit(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, form: Form) -> Response {
    let session = match Session::of(&state, caller, &headers) {
        Some(s) => s,
        None => return super::sign_in(),
    };
    if let Err(e) = state.authorize(&session.caller, Act::ManageKeys) {
        return error_page(&e);
    }
    if !Session::form_ok(&state, &headers, form.raw("csrf")) {
        return keys_page(&state, &session, Some("页面已过期，请重试".into()), None).await;
    }
    match form.raw("action") {
        Some("revoke") => match hcp_app::settings::revoke_key_as(&state, &session.caller, &form.text("id")).await {
            Ok(()) => keys_page(&state, &session, None, None).await,
            Err(e) => error_page(&e),
        },
        Some("issue") => {
            let window = form.get("window");
            match hcp_app::settings::issue_key_as(
                &state,
                &session.caller,
                &form.text("kind"),
                &form.text("unit"),
                window.as_deref(),
                &form.text("label"),
            )
            .await
            {
                Ok(key) => keys_page(&state, &session, None, Some(key)).await,
                Err(e) => keys_page(&state, &session, Some(e.message()), None).await,
            }
        }
        _ => keys_page(&state, &session, Some("请求无效".into()), None).await,
    }
}
