//! The JSON API. Routes and their OpenAPI entries are declared together (utoipa-axum).

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::json::MAX_BODY;
use crate::state::AppState;

pub mod audit;
pub mod calendar;
pub mod cases;
pub mod complaints;
pub mod feedback;
pub mod master;
pub mod matters;
pub mod meta;
pub mod notifications;
pub mod ratings;
pub mod session;
pub mod stats;

#[derive(OpenApi)]
#[openapi(
    info(title = "haochaping 好差评 API", version = "1", description = "政务服务“好差评”系统接口。错误统一为 {\"error\": {\"code\", \"message\", \"details\"}}。"),
    tags(
        (name = "matters", description = "办件、服务与回执"),
        (name = "ratings", description = "评价"),
        (name = "master", description = "单位、窗口、事项、工作人员"),
        (name = "stats", description = "统计"),
        (name = "cases", description = "差评与投诉工单"),
        (name = "calendar", description = "法定工作日历（节假日与调休）"),
        (name = "meta", description = "健康检查、评价内容目录"),
        (name = "session", description = "工作人员登录"),
    ),
    components(schemas(crate::api::meta::ErrorBody, crate::api::meta::ErrorDetail)),
    modifiers(&SecurityAddon)
)]
struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "machine_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("系统、设备或热线密钥：Authorization: Bearer hcp_…"))
                    .build(),
            ),
        );
        components.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("hcp_session"))));
    }
}

/// The whole application: API, OpenAPI document and docs page.
pub fn build_router(state: AppState) -> Router {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::catalogue))
        .routes(routes!(matters::register_matter))
        .routes(routes!(matters::add_service))
        .routes(routes!(matters::receipt))
        .routes(routes!(ratings::submit_rating))
        .routes(routes!(ratings::get_rating))
        .routes(routes!(master::list_units))
        .routes(routes!(master::list_windows))
        .routes(routes!(master::list_items))
        .routes(routes!(master::list_staff))
        .routes(routes!(stats::satisfaction))
        .routes(routes!(calendar::add_working_days))
        .routes(routes!(calendar::calendar))
        .routes(routes!(cases::list_cases))
        .routes(routes!(cases::filed_replies))
        .routes(routes!(cases::get_case))
        .routes(routes!(cases::act))
        .routes(routes!(cases::appeal))
        .routes(routes!(complaints::submit_complaint))
        .routes(routes!(complaints::record_inspection, complaints::list_inspections))
        .routes(routes!(cases::loop_stats))
        .routes(routes!(notifications::case_notifications))
        .routes(routes!(feedback::get_feedback))
        .routes(routes!(feedback::post_verdict))
        .routes(routes!(feedback::post_follow_up))
        .routes(routes!(notifications::list_notifications))
        .routes(routes!(notifications::retry_notification))
        .routes(routes!(session::sign_in, session::sign_out, session::whoami))
        .routes(routes!(session::sign_out_everywhere))
        .routes(routes!(audit::contact))
        .routes(routes!(audit::list_audit))
        .split_for_parts();
    let docs = axum::response::Html(meta::docs_html(&api));
    let api_json = api.clone();
    router
        .route("/api/openapi.json", get(move || async move { Json(api_json) }))
        .route("/docs", get(move || async move { docs }))
        .route("/r/{token}", get(crate::pages::rating_page).post(crate::pages::submit_page))
        .route("/f/{token}", get(crate::pages::feedback_page).post(crate::pages::feedback_submit))
        .route("/assets/app.css", get(crate::pages::stylesheet))
        .route("/", get(crate::pages::home))
        .route("/results", get(crate::pages::results::results))
        .route("/kiosk", get(crate::pages::kiosk::page).post(crate::pages::kiosk::submit))
        .route("/assets/device.js", get(crate::pages::device_script))
        .route("/device", get(crate::pages::device::page))
        .route("/device/setup", get(crate::pages::device::setup_page).post(crate::pages::device::setup_submit))
        .route("/device/events", get(crate::pages::device::events))
        .route("/device/rate", axum::routing::post(crate::pages::device::rate_json))
        .route("/device/rate-form", axum::routing::post(crate::pages::device::rate_form))
        .route("/staff", get(|| async { crate::pages::see_other("/staff/cases") }))
        .route("/staff/sign-in", get(crate::pages::back_office::sign_in_page).post(crate::pages::back_office::sign_in_submit))
        .route("/staff/sign-out", axum::routing::post(crate::pages::back_office::sign_out))
        .route("/staff/cases", get(crate::pages::back_office::queue))
        .route("/staff/dashboard", get(crate::pages::back_office::dashboard))
        .route("/staff/paper", get(crate::pages::back_office::paper).post(crate::pages::back_office::paper_submit))
        .route("/staff/receipt", get(crate::pages::back_office::receipt))
        .route("/staff/keys", get(crate::pages::back_office::keys).post(crate::pages::back_office::keys_submit))
        .route("/staff/settings", get(crate::pages::back_office::settings))
        .route("/staff/settings/calendar", axum::routing::post(crate::pages::back_office::settings_calendar))
        .route("/staff/settings/import", axum::routing::post(crate::pages::back_office::settings_import))
        .route("/staff/cases/{id}", get(crate::pages::back_office::case).post(crate::pages::back_office::case_step))
        .route("/staff/cases/{id}/contact", axum::routing::post(crate::pages::back_office::case_contact))
        .route("/staff/cases/{id}/appeal", axum::routing::post(crate::pages::back_office::case_appeal))
        .fallback(meta::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::guard::audit_requests))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::guard::rate_limit))
        .layer(axum::middleware::from_fn(crate::guard::security_headers))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(CatchPanicLayer::custom(meta::panic_response))
        .with_state(state)
}
