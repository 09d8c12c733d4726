//! The one place where errors become HTTP responses: `{"error": {"code", "message", "details"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hcp_domain::DomainError;
use hcp_storage::StoreError;
use serde_json::{Value, json};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    /// Put at the top level too (e.g. the existing rating's id with a 409).
    pub id: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), details: json!({}), id: None }
    }

    pub fn field(mut self, field: &str) -> Self {
        self.details = json!({ "field": field });
        self
    }

    pub fn unauthorized() -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "需要有效的凭证（评价凭证、设备密钥、系统密钥或登录会话）")
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{what}不存在"))
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code, e.message);
        if let Some(f) = e.field {
            err = err.field(&f);
        }
        err
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Rule(d) => d.into(),
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict { code, message, existing_id } => {
                let mut err = ApiError::new(StatusCode::CONFLICT, code, message);
                if let Some(id) = existing_id {
                    err.details = json!({ "existing_id": id });
                    err.id = Some(id);
                }
                err
            }
            StoreError::Forbidden { code, message } => ApiError::forbidden(code, message),
            StoreError::Database(err) => {
                tracing::error!(error = %err, "database error");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", "数据库暂时不可用，请稍后重试")
            }
            StoreError::Internal(msg) => {
                tracing::error!(error = %msg, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "服务器内部错误，请稍后重试")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": { "code": self.code, "message": self.message, "details": self.details } });
        if let Some(id) = self.id {
            body["id"] = Value::String(id);
        }
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
