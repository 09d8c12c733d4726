//! The audit trail's entries and their encoding on its own hash chain (beside the ledger): who signed in (or
//! failed to), changed something, was refused, or saw a rater's contact.

use crate::ledger::Record;

/// One thing to put on record. No personal data goes in here: actors are usernames or key labels, targets
/// are ids and paths, the source is a keyed hash of the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// `staff:<username>`, `key:<label>`, `cli`, `anonymous`
    pub actor: String,
    /// `sign_in`, `sign_in_failed`, `sign_in_locked`, `sign_out`, `sign_out_everywhere`, `change`, `denied`,
    /// `contact_view`, `key_created`, `key_revoked`, `user_created`, `keys_rotated` …
    pub action: String,
    pub target: String,
    /// an HTTP status or `ok`
    pub outcome: String,
    /// JSON
    pub detail: Option<String>,
    pub source_hash: Option<String>,
}

impl AuditEntry {
    /// The entry as chained, at `at` (microseconds).
    pub fn record(&self, at: i64) -> Record {
        Record::new("audit")
            .int("at", at)
            .str("actor", &self.actor)
            .str("action", &self.action)
            .str("target", &self.target)
            .str("outcome", &self.outcome)
            .opt_str("detail", self.detail.as_deref())
            .opt_str("source_hash", self.source_hash.as_deref())
    }
}
