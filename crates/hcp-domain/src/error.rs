use std::fmt;

/// A rule broken by input: a stable code, the field concerned and a message in Chinese for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError {
    pub code: &'static str,
    pub field: Option<String>,
    pub message: String,
}

impl DomainError {
    pub fn new(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code, field: Some(field.into()), message: message.into() }
    }

    pub fn general(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, field: None, message: message.into() }
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} ({}): {}", self.code, field, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

impl std::error::Error for DomainError {}
