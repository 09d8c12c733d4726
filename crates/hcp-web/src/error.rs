//! The one place where errors become HTTP responses: one match from `AppError` to a status, and the body
//! `{"error": {"code", "message", "details"}}`. A bug answers 500 with the request's id (its cause is in the log
//! line of that request), never its cause.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hcp_app::AppError;
use serde_json::{Value, json};

/// An error on its way to a client: the application's, or the protocol's own (a method the route does not take).
#[derive(Debug)]
pub enum ApiError {
    App(AppError),
    MethodNotAllowed,
}

#[allow(non_snake_case)]
/// Wraps an application error (reads like a tuple struct where it is built).
pub fn ApiError(e: AppError) -> ApiError {
    ApiError::App(e)
}

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError::App(e.into())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The status of every error, in one place.
pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Malformed(_) => StatusCode::BAD_REQUEST,
        AppError::Unauthenticated | AppError::Credentials(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Conflict { .. } => StatusCode::CONFLICT,
        AppError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
        AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The JSON body of an error.
pub fn body_of(e: &AppError) -> Value {
    let mut details = json!({});
    if let Some(f) = e.field() {
        details["field"] = Value::String(f.to_string());
    }
    if let AppError::Internal(_) | AppError::Unavailable(_) = e
        && let Some(id) = crate::middleware::request_id::current()
    {
        details["request_id"] = Value::String(id);
    }
    let mut body = json!({ "error": { "code": e.code(), "message": e.message(), "details": details } });
    if let AppError::Conflict { existing_id: Some(id), .. } = e {
        body["error"]["details"]["existing_id"] = Value::String(id.clone());
        body["id"] = Value::String(id.clone());
    }
    body
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::App(e) => {
                if let AppError::Internal(cause) = &e {
                    tracing::error!(cause = %cause, "internal error");
                }
                (status_of(&e), Json(body_of(&e))).into_response()
            }
            ApiError::MethodNotAllowed => {
                let body = json!({ "error": { "code": "method_not_allowed", "message": "该地址不支持此请求方法", "details": {} } });
                (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
            }
        }
    }
}
