//! JSON bodies parsed by us, so that every malformed body gets our error shape with the field named.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
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
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "请求体须为 JSON（Content-Type: application/json）",
            )
            .field("Content-Type"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("请求体过大或无法读取（上限 {} KB）", MAX_BODY / 1024))
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
        let (code, text) = if let Some(rest) = msg.strip_prefix("unknown field `") {
            let name = rest.split('`').next().unwrap_or("");
            return ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_field", format!("不认识的字段：{name}"))
                .field(if path.is_empty() || path == "." { name } else { &path });
        } else if msg.starts_with("missing field `") {
            let name = msg.trim_start_matches("missing field `").split('`').next().unwrap_or("");
            return ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "missing_field", format!("缺少必填字段：{name}"))
                .field(&join_path(&path, name));
        } else if inner.is_syntax() || inner.is_eof() {
            ("invalid_json", "请求体不是合法的 JSON".to_string())
        } else {
            ("invalid_type", format!("字段类型或取值不正确：{msg}"))
        };
        let status = if code == "invalid_json" { StatusCode::BAD_REQUEST } else { StatusCode::UNPROCESSABLE_ENTITY };
        ApiError::new(status, code, text).field(if path == "." { "body" } else { &path })
    })
}

fn join_path(path: &str, name: &str) -> String {
    if path.is_empty() || path == "." { name.to_string() } else { format!("{path}.{name}") }
}
