//! JSON bodies parsed by us, so that every malformed body gets our error shape with the field named.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use hcp_app::AppError;
use hcp_domain::DomainError;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

pub const MAX_BODY: usize = 64 * 1024;

/// A JSON body of type `T`, with the SHA-256 of its bytes (for idempotency checks).
pub struct ApiJson<T> {
    pub value: T,
    pub digest: String,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Only JSON: a cross-site HTML form cannot send `application/json` without the browser asking first, so
        // together with SameSite cookies this keeps the API safe from request forgery.
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
        if !json {
            return Err(ApiError(AppError::UnsupportedMediaType(DomainError::new(
                "unsupported_media_type",
                "Content-Type",
                "请求体须为 JSON（Content-Type: application/json）",
            ))));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            ApiError(AppError::TooLarge(DomainError::general(
                "body_too_large",
                format!("请求体过大或无法读取（上限 {} KB）", MAX_BODY / 1024),
            )))
        })?;
        let value = parse_json(&bytes)?;
        Ok(ApiJson { value, digest: hex::encode(Sha256::digest(&bytes)) })
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        let err = if let Some(rest) = msg.strip_prefix("unknown field `") {
            let name = rest.split('`').next().unwrap_or("");
            AppError::invalid("unknown_field", if path.is_empty() || path == "." { name } else { &path }, format!("不认识的字段：{name}"))
        } else if msg.starts_with("missing field `") {
            let name = msg.trim_start_matches("missing field `").split('`').next().unwrap_or("");
            AppError::invalid("missing_field", &join_path(&path, name), format!("缺少必填字段：{name}"))
        } else if inner.is_syntax() || inner.is_eof() {
            AppError::Malformed(DomainError::new("invalid_json", if path == "." { "body" } else { &path }, "请求体不是合法的 JSON"))
        } else {
            AppError::invalid("invalid_type", if path == "." { "body" } else { &path }, format!("字段类型或取值不正确：{msg}"))
        };
        ApiError(err)
    })
}

fn join_path(path: &str, name: &str) -> String {
    if path.is_empty() || path == "." { name.to_string() } else { format!("{path}.{name}") }
}

/// Files sent as they are (a CSV file of matters): larger than a JSON body may be.
pub const MAX_FILE: usize = 8 * 1024 * 1024;

/// A CSV file as the request's body (`Content-Type: text/csv`), at most [`MAX_FILE`].
pub struct CsvBody(pub Bytes);

impl CsvBody {
    /// Reads the request's body as a CSV file (after the caller was checked).
    pub async fn read(req: Request) -> Result<Self, ApiError> {
        let csv = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("text/csv")));
        if !csv {
            return Err(ApiError(AppError::UnsupportedMediaType(DomainError::new(
                "unsupported_media_type",
                "Content-Type",
                "请求体须为 CSV 文件（Content-Type: text/csv）",
            ))));
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_FILE).await.map_err(|_| {
            ApiError(AppError::TooLarge(DomainError::general(
                "body_too_large",
                format!("文件过大或无法读取（上限 {} MB），请分批导入", MAX_FILE / 1024 / 1024),
            )))
        })?;
        Ok(CsvBody(bytes))
    }
}
