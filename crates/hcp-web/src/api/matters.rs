use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hcp_app::matter_import::MatterImport;
use hcp_app::matters::{self, MatterIn, MatterOut, ServiceIn, ServiceOut};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::meta::ErrorBody;
use crate::error::ApiResult;
use crate::extract::caller::Who;
use crate::extract::{ApiJson, ApiQuery, CsvBody};
use crate::state::AppState;

/// Register a matter (办件). Idempotent on `matter_no`: the same body again returns 200 with the stored
/// matter; the same matter with `completed_at` newly given records its completion. Needs a system key (or a
/// staff session) of the matter's unit or a unit above it.
#[utoipa::path(post, path = "/api/v1/matters", tag = "matters", request_body = MatterIn,
    security(("machine_key" = []), ("session" = [])),
    responses((status = 201, body = MatterOut), (status = 200, body = MatterOut, description = "already registered"),
        (status = 409, body = ErrorBody, description = "matter_conflict"), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn register_matter(
    State(state): State<AppState>,
    Who(caller): Who,
    body: ApiJson<MatterIn>,
) -> ApiResult<(StatusCode, Json<MatterOut>)> {
    let out = matters::register_matter(&state, &caller, body.value).await?;
    Ok((if out.created { StatusCode::CREATED } else { StatusCode::OK }, Json(out)))
}

/// Import matters from a CSV file as a town centre or village station keeps them in Excel or WPS: UTF-8 (with
/// or without a byte-order mark) or GBK, headings in Chinese (办件编号, 事项编码, 单位编码, 申请人, 受理时间, …)
/// or as the fields of `POST /matters`. Every row is registered like `POST /matters`; the answer names each
/// refused row by its line. The body is the file itself (`text/csv`).
#[utoipa::path(post, path = "/api/v1/matters/import", tag = "matters",
    request_body(content = String, content_type = "text/csv"),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = MatterImport), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn import_matters(
    State(state): State<AppState>,
    Who(caller): Who,
    request: axum::extract::Request,
) -> ApiResult<Json<MatterImport>> {
    // Who may import is known before up to 8 MB are read.
    state.authorize(&caller, hcp_domain::access::Act::RegisterMatter)?;
    let CsvBody(body) = CsvBody::read(request).await?;
    Ok(Json(hcp_app::matter_import::import_matters(&state, &caller, &body).await?))
}

/// Record one service occasion of a matter (for 一次一评). Returns its `service_no` and a signed `rating_url`.
#[utoipa::path(post, path = "/api/v1/matters/{matter_no}/services", tag = "matters", request_body = ServiceIn,
    params(("matter_no" = String, Path, description = "办件编号")),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 201, body = ServiceOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn add_service(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(matter_no): Path<String>,
    body: ApiJson<ServiceIn>,
) -> ApiResult<(StatusCode, Json<ServiceOut>)> {
    Ok((StatusCode::CREATED, Json(matters::add_service(&state, &caller, &matter_no, body.value).await?)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceiptQuery {
    /// `html` (default), `svg` or `png` (the QR code alone)
    pub format: Option<String>,
}

/// The printable receipt (办件回执) of a matter with the QR code of its rating page: the latest service
/// occasion if there is one, else the matter as a whole. `?format=svg|png` returns the code alone.
#[utoipa::path(get, path = "/api/v1/matters/{matter_no}/receipt", tag = "matters",
    params(("matter_no" = String, Path, description = "办件编号"), ReceiptQuery),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, description = "HTML receipt, SVG or PNG", content_type = "text/html"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn receipt(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(matter_no): Path<String>,
    ApiQuery(q): ApiQuery<ReceiptQuery>,
) -> ApiResult<Response> {
    let r = matters::receipt(&state, &caller, &matter_no).await?;
    Ok(match q.format.as_deref().unwrap_or("html") {
        "svg" => ([(header::CONTENT_TYPE, "image/svg+xml")], crate::qr::svg(&r.rating_url)?).into_response(),
        "png" => ([(header::CONTENT_TYPE, "image/png")], crate::qr::png(&r.rating_url, 6)?).into_response(),
        "html" => crate::pages::receipt::page(&r)?,
        _ => return Err(hcp_app::AppError::invalid("invalid_format", "format", "format 应为 html、svg 或 png").into()),
    })
}
