use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hcp_domain::Catalogue;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The shape of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
    /// With a 409 for a second rating: the id of the rating already stored.
    pub id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `already_rated`, `invalid_level`, `unknown_field`.
    pub code: String,
    /// Human-readable message in Chinese.
    pub message: String,
    /// e.g. `{"field": "level"}` or `{"existing_id": "…"}`
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub database: String,
}

/// 200 when the server and its database answer.
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

/// The indicator and reason catalogue in force (levels, indicators, reasons per level with their codes).
#[utoipa::path(get, path = "/api/v1/catalogue", tag = "meta", responses((status = 200, body = CatalogueView)))]
pub async fn catalogue(State(state): State<AppState>) -> Json<CatalogueView> {
    Json(catalogue_view(&state.catalogue))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A readable index of the API generated from the OpenAPI document: every path, method and description,
/// server-rendered with no third-party assets (the full schema is in `/api/openapi.json`).
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

pub async fn not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "请求的地址不存在").into_response()
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "服务器内部错误，请稍后重试").into_response()
}
