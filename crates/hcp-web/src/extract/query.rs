//! Query strings parsed by us: a bad one gets the API's JSON error with the parameter named, not axum's text.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use hcp_app::AppError;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let path = e.path().to_string();
            let msg = e.into_inner().to_string();
            let field = msg.strip_prefix("missing field `").and_then(|r| r.split('`').next()).map(str::to_string).unwrap_or(path);
            let field = if field.is_empty() || field == "." { "query".to_string() } else { field };
            ApiError(AppError::Malformed(hcp_domain::DomainError::new("invalid_query", field, format!("查询参数不正确：{msg}"))))
        })
    }
}
