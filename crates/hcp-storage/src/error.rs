//! What can go wrong in storage, as facts about rows: the application decides what each means for the caller
//! and in which words.

/// A row that conflicts with what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// the case's state (or reply deadline) moved on since it was read
    CaseChanged,
    /// the 复核's state moved on since it was read
    AppealChanged,
    /// a matter of that number is registered with other content
    MatterDiffers,
    /// a matter of that number has another completion time
    CompletionDiffers,
    /// a row with that key exists
    Exists { table: &'static str, key: String },
    /// a catalogue version of that number exists with another text
    CatalogueVersionExists(i64),
    /// concurrent registrations of a matter's services kept colliding
    ServiceSeqContended,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row conflicts with what is stored.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// A row refers to one that does not exist (a foreign key): the column named.
    #[error("unknown reference in {0}")]
    UnknownReference(&'static str),
    /// What the database holds cannot be read as the domain's types (or a required row is missing): a bug
    /// or tampering, never the caller's fault.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// Encryption of personal data failed or an envelope cannot be opened.
    #[error("personal data: {0}")]
    Crypto(&'static str),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The rating writer has stopped.
    #[error("the rating writer has stopped")]
    WriterGone,
}

impl StoreError {
    pub fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }

    /// Whether the database itself is unreachable or failing (as against refusing this data).
    pub fn is_outage(&self) -> bool {
        match self {
            StoreError::Database(e) => !matches!(e, sqlx::Error::Database(_) | sqlx::Error::RowNotFound | sqlx::Error::ColumnDecode { .. }),
            StoreError::WriterGone => true,
            _ => false,
        }
    }
}

impl From<hcp_domain::DomainError> for StoreError {
    /// A stored value the domain refuses to parse.
    fn from(e: hcp_domain::DomainError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Maps a unique or foreign-key violation of an insert to what it means.
pub(crate) fn on_insert(e: sqlx::Error, table: &'static str, key: &str, reference: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(Conflict::Exists { table, key: key.to_string() }),
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::UnknownReference(reference),
        _ => StoreError::Database(e),
    }
}
