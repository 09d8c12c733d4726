use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use hcp_app::AppError;
use hcp_domain::Catalogue;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
    /// the existing record's id, with a 409
    pub id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// stable, `snake_case`
    pub code: String,
    /// in Chinese
    pub message: String,
    /// `field` (the field at fault), `existing_id`, `request_id` (with a 500 or 503)
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub database: String,
}

#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    state.db.ping().await?;
    Ok(Json(Health { status: "ok".into(), database: state.db.engine().into() }))
}

#[derive(Serialize, ToSchema)]
pub struct CatalogueView {
    pub version: i64,
    pub name: String,
    #[schema(value_type = Vec<Object>)]
    pub levels: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub indicators: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub reasons: serde_json::Value,
}

fn catalogue_view(c: &Catalogue) -> CatalogueView {
    CatalogueView {
        version: c.version,
        name: c.name.clone(),
        levels: serde_json::to_value(&c.levels).unwrap_or_default(),
        indicators: serde_json::to_value(&c.indicators).unwrap_or_default(),
        reasons: serde_json::to_value(&c.reasons).unwrap_or_default(),
    }
}

/// The rating catalogue in force: levels, indicators and the reasons of each level.
#[utoipa::path(get, path = "/api/v1/catalogue", tag = "meta", responses((status = 200, body = CatalogueView)))]
pub async fn catalogue(State(state): State<AppState>) -> Json<CatalogueView> {
    Json(catalogue_view(&state.catalogue))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The docs page: every operation of the OpenAPI document, listed.
pub fn docs_html(api: &utoipa::openapi::OpenApi) -> String {
    let doc = serde_json::to_value(api).unwrap_or_default();
    let mut rows = String::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            let Some(ops) = ops.as_object() else { continue };
            for (method, op) in ops {
                let text = op["description"].as_str().or(op["summary"].as_str()).unwrap_or("");
                let tag = op["tags"][0].as_str().unwrap_or("");
                rows.push_str(&format!(
                    "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    esc(&method.to_uppercase()),
                    esc(path),
                    esc(tag),
                    esc(text)
                ));
            }
        }
    }
    include_str!("docs.html").replace("<!-- ROWS -->", &rows)
}

/// An address nothing answers at: JSON for the API, a page for a browser.
pub async fn not_found(headers: axum::http::HeaderMap, uri: axum::http::Uri) -> Response {
    let browser = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if browser && !uri.path().starts_with("/api/") {
        return crate::pages::message_page(
            axum::http::StatusCode::NOT_FOUND,
            "页面不存在",
            "您访问的地址不存在。",
            Some(("/", "返回首页")),
        );
    }
    ApiError(AppError::NotFound("请求的地址")).into_response()
}

/// A method the route does not take: the API's JSON error.
pub async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError(AppError::internal("a request handler panicked")).into_response()
}
