//! The one error of the use cases. Every adapter maps it once: the web to a status and a stable code, the
//! command line to a message and an exit code. Causes of 500 and 503 are logged where they arise and never
//! shown to a client.

use hcp_domain::DomainError;
use hcp_domain::access::Denied;
use hcp_storage::{Conflict, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input breaks a rule (422).
    #[error("{0}")]
    Invalid(DomainError),
    /// The request cannot be read at all: bad JSON, a bad header (400).
    #[error("{0}")]
    Malformed(DomainError),
    /// No credential, or one that is not valid (401).
    #[error("unauthenticated")]
    Unauthenticated,
    /// Sign-in refused, with the reason's code: `invalid_credentials`, `otp_required`, `invalid_otp` (401).
    #[error("{0}")]
    Credentials(DomainError),
    /// The caller may not do this (403).
    #[error("{0}")]
    Forbidden(DomainError),
    /// Nothing of that name, or nothing the caller may see (404).
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// The request conflicts with what is stored (409), with the existing record's id where there is one.
    #[error("{code}: {message}")]
    Conflict { code: &'static str, message: String, existing_id: Option<String> },
    /// Too many attempts (429).
    #[error("{0}")]
    TooMany(DomainError),
    /// The body is not of the accepted type (415).
    #[error("{0}")]
    UnsupportedMediaType(DomainError),
    /// The body is too large (413).
    #[error("{0}")]
    TooLarge(DomainError),
    /// The database cannot be reached (503). The cause is logged.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug (500). The cause is logged, never shown.
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(code: &'static str, field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid(DomainError::new(code, field, message))
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Forbidden(DomainError::general(code, message))
    }

    pub fn conflict(code: &'static str, message: impl Into<String>, existing_id: Option<String>) -> Self {
        AppError::Conflict { code, message: message.into(), existing_id }
    }

    pub fn too_many(code: &'static str, message: impl Into<String>) -> Self {
        AppError::TooMany(DomainError::general(code, message))
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AppError::Internal(cause.to_string())
    }

    /// The domain's error inside, for the variants that carry one.
    fn domain(&self) -> Option<&DomainError> {
        match self {
            AppError::Invalid(e)
            | AppError::Malformed(e)
            | AppError::Credentials(e)
            | AppError::Forbidden(e)
            | AppError::TooMany(e)
            | AppError::UnsupportedMediaType(e)
            | AppError::TooLarge(e) => Some(e),
            _ => None,
        }
    }

    /// The stable code a client sees.
    pub fn code(&self) -> &'static str {
        if let Some(e) = self.domain() {
            return e.code;
        }
        match self {
            AppError::Unauthenticated => "unauthorized",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict { code, .. } => code,
            AppError::Unavailable(_) => "database_unavailable",
            _ => "internal_error",
        }
    }

    /// The message a person reads, in Chinese.
    pub fn message(&self) -> String {
        if let Some(e) = self.domain() {
            return e.message.clone();
        }
        match self {
            AppError::Unauthenticated => "需要有效的凭证（评价凭证、设备密钥、系统密钥或登录会话）".into(),
            AppError::NotFound(what) => format!("{what}不存在"),
            AppError::Conflict { message, .. } => message.clone(),
            AppError::Unavailable(_) => "数据库暂时不可用，请稍后重试".into(),
            _ => "服务器内部错误，请稍后重试".into(),
        }
    }

    /// The field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        self.domain().and_then(|e| e.field.as_deref())
    }

    /// A refusal out of scope answered as "not found", so that nothing of other units leaks.
    pub fn hide_as(self, what: &'static str) -> Self {
        match self {
            AppError::Forbidden(e) if e.code == "out_of_scope" => AppError::NotFound(what),
            other => other,
        }
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        AppError::Invalid(e)
    }
}

impl From<Denied> for AppError {
    fn from(d: Denied) -> Self {
        match d {
            Denied::SignInRequired => AppError::Unauthenticated,
            Denied::WrongRole(e) | Denied::OutOfScope(e) => AppError::Forbidden(e),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(c) => conflict(c),
            StoreError::UnknownReference(field) => {
                AppError::invalid("unknown_reference", field, format!("{field} 引用的单位、窗口、事项或人员不存在"))
            }
            e if e.is_outage() => {
                tracing::error!(error = %e, "database unavailable");
                AppError::Unavailable(e.to_string())
            }
            e => {
                tracing::error!(error = %e, "storage failed");
                AppError::Internal(e.to_string())
            }
        }
    }
}

fn conflict(c: Conflict) -> AppError {
    let (code, message) = match c {
        Conflict::CaseChanged => ("case_changed", "工单状态已被他人更新，请刷新后重试".to_string()),
        Conflict::AppealChanged => ("case_changed", "复核状态已被他人更新，请刷新后重试".to_string()),
        Conflict::MatterDiffers => ("matter_conflict", "该办件编号已登记，且内容与本次不同".to_string()),
        Conflict::CompletionDiffers => ("matter_conflict", "该办件编号已记录了不同的办结时间".to_string()),
        Conflict::Exists { table, key } => {
            let what = match table {
                "units" => "单位",
                "windows" => "窗口",
                "items" => "事项",
                "staff" => "工作人员",
                "users" => "用户名",
                "holiday_calendar" => "日期",
                _ => "记录",
            };
            ("already_exists", format!("{what} {key} 已存在"))
        }
        Conflict::CatalogueVersionExists(v) => {
            ("catalogue_version_exists", format!("评价内容目录第 {v} 版已存在且内容不同，请使用新的版本号"))
        }
        Conflict::ServiceSeqContended => ("busy", "并发登记服务次数冲突，请重试".to_string()),
    };
    AppError::Conflict { code, message, existing_id: None }
}

pub type AppResult<T> = Result<T, AppError>;
