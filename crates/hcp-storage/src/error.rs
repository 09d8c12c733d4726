use hcp_domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A rule broken by the input: shown to the client with its code.
    #[error(transparent)]
    Rule(#[from] DomainError),
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// The request conflicts with what is stored (e.g. a second rating of the same service).
    #[error("conflict {code}: {message}")]
    Conflict { code: &'static str, message: String, existing_id: Option<String> },
    /// The credential is not allowed to touch this resource.
    #[error("forbidden {code}: {message}")]
    Forbidden { code: &'static str, message: String },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl StoreError {
    pub fn conflict(code: &'static str, message: impl Into<String>, existing_id: Option<String>) -> Self {
        StoreError::Conflict { code, message: message.into(), existing_id }
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        StoreError::Forbidden { code, message: message.into() }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
