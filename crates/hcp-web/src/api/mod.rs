//! The JSON API under `/api/v1`. Each handler extracts, calls one use case of `hcp_app` and renders; routes
//! and their OpenAPI entries are declared together (utoipa-axum).

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub mod audit;
pub mod calendar;
pub mod cases;
pub mod channels;
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
        (name = "channels", description = "短信回复评价、热线按键评价、省级渠道评价"),
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
                    .description(Some("系统、设备、热线、短信网关或省级系统的密钥：Authorization: Bearer hcp_…"))
                    .build(),
            ),
        );
        components.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("hcp_session"))));
    }
}

/// The API's routes with their OpenAPI description.
pub fn routes() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::catalogue))
        .routes(routes!(matters::register_matter))
        .routes(routes!(matters::import_matters))
        .routes(routes!(matters::add_service))
        .routes(routes!(matters::receipt))
        .routes(routes!(ratings::submit_rating))
        .routes(routes!(ratings::get_rating))
        .routes(routes!(channels::sms_inbound))
        .routes(routes!(channels::hotline_rating))
        .routes(routes!(channels::province_rating))
        .routes(routes!(master::list_units))
        .routes(routes!(master::list_windows))
        .routes(routes!(master::list_items))
        .routes(routes!(master::list_staff))
        .routes(routes!(stats::satisfaction))
        .routes(routes!(stats::indicators))
        .routes(routes!(calendar::add_working_days))
        .routes(routes!(calendar::calendar))
        .routes(routes!(cases::list_cases))
        .routes(routes!(cases::filed_replies))
        .routes(routes!(cases::get_case))
        .routes(routes!(cases::act))
        .routes(routes!(cases::rectify))
        .routes(routes!(cases::merge))
        .routes(routes!(cases::rectifications))
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
        .split_for_parts()
}
