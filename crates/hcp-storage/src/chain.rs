//! The ledger's chain: its head, and appending entries to it. The ledger is also the provincial link's source:
//! its planner reads entries from a cursor (`province`), so an append writes nothing else. The verifier is
//! apart (`verify`), so nothing that writes depends on it.

use hcp_domain::ledger::{Hash, chain_hash};
use hcp_domain::records::Entry;
use sqlx::Row;

use crate::error::{Result, StoreError};
use crate::tx::{Tx, on_tx, placeholders, pow2_chunks};

/// The chain's last entry: `seq` 0 and the zero hash before the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: Hash,
}

impl Tx {
    /// Takes the chain head for this transaction: `FOR UPDATE` on PostgreSQL (several nodes then append in
    /// turn); SQLite's write lock is already held (`Tx::write`).
    pub async fn lock_head(&mut self) -> Result<Head> {
        let sql = if self.is_pg() {
            "SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE"
        } else {
            "SELECT seq, hash FROM chain_head WHERE id = 1"
        };
        let (seq, hash): (i64, Vec<u8>) = on_tx!(self, t => {
            let r = sqlx::query(sql).fetch_one(&mut **t).await?;
            (r.try_get("seq")?, r.try_get("hash")?)
        });
        let hash = hash.as_slice().try_into().map_err(|_| StoreError::corrupt("the chain head's hash is not 32 bytes"))?;
        Ok(Head { seq, hash })
    }

    /// Appends `entries` after `head` with a fixed number of multi-row statements,
    /// and stores the new head; returns it. `at` is the time recorded.
    pub async fn append(&mut self, head: Head, entries: &[Entry], at: i64) -> Result<Head> {
        let mut rows = Vec::with_capacity(entries.len());
        let (mut seq, mut prev) = (head.seq, head.hash);
        for e in entries {
            seq += 1;
            prev = chain_hash(&prev, seq, &e.content);
            rows.push((seq, e, prev));
        }
        let is_pg = self.is_pg();
        for chunk in pow2_chunks(&rows) {
            let ledger_sql = format!(
                "INSERT INTO ledger (seq, kind, ref_id, content_hash, chain_hash, recorded_at) VALUES {}",
                placeholders(is_pg, chunk.len(), 6)
            );
            on_tx!(self, t => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(ledger_sql));
                for (s, e, chain) in chunk {
                    q = q.bind(*s).bind(e.kind.code()).bind(e.id.clone()).bind(e.content.to_vec()).bind(chain.to_vec()).bind(at);
                }
                q.execute(&mut **t).await?;
            });
        }
        let head = Head { seq, hash: prev };
        on_tx!(self, t => {
            sqlx::query("UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1").bind(head.seq).bind(head.hash.to_vec()).execute(&mut **t).await?;
        });
        Ok(head)
    }
}
