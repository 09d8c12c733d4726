//! The audit trail: who signed in (or failed to), changed something, was refused, or saw a rater's contact.
//! Hash-chained like the ledger (each entry's hash covers the previous hash, its sequence number and its
//! content), append-only in the database, checked by `haochaping verify`.

use hcp_domain::ledger::{Break, GENESIS, Hash, chain_hash};
use sqlx::Row;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::on_db;

pub use hcp_domain::audit::AuditEntry;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub entry: AuditEntry,
    pub hash: String,
}

fn parse_hash(s: &str) -> Option<Hash> {
    hex::decode(s).ok()?.try_into().ok()
}

const COLS: &str = "seq, at, actor, action, target, outcome, detail, source_hash, hash";

fn row_of<R: Row>(r: &R) -> Result<AuditRow>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(AuditRow {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        entry: AuditEntry {
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            target: r.try_get("target")?,
            outcome: r.try_get("outcome")?,
            detail: r.try_get("detail")?,
            source_hash: r.try_get("source_hash")?,
        },
        hash: r.try_get("hash")?,
    })
}

impl Db {
    /// Appends one entry to the audit trail; returns its sequence number.
    pub async fn audit(&self, e: &AuditEntry) -> Result<i64> {
        let at = hcp_domain::Timestamp::now().micros();
        let is_pg = matches!(self, Db::Pg(_));
        let (begin, head_sql) = if is_pg {
            ("BEGIN", "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
        } else {
            ("BEGIN IMMEDIATE", "SELECT seq, hash FROM audit_head WHERE id = 1")
        };
        Ok(on_db!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let head = sqlx::query(head_sql).fetch_one(&mut *tx).await?;
            let prev_seq: i64 = head.try_get("seq")?;
            let prev: String = head.try_get("hash")?;
            let prev = parse_hash(&prev).ok_or_else(|| StoreError::corrupt("the audit head's hash is not 32 bytes"))?;
            let seq = prev_seq + 1;
            let hash = hex::encode(chain_hash(&prev, seq, &e.record(at).content_hash()));
            sqlx::query("INSERT INTO audit_log (seq, at, actor, action, target, outcome, detail, source_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                .bind(seq).bind(at).bind(&e.actor).bind(&e.action).bind(&e.target).bind(&e.outcome).bind(&e.detail).bind(&e.source_hash).bind(&hash)
                .execute(&mut *tx).await?;
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1").bind(seq).bind(&hash).execute(&mut *tx).await?;
            tx.commit().await?;
            seq
        }))
    }

    /// The latest entries, newest first, optionally of one actor or action.
    pub async fn audit_entries(&self, actor: Option<&str>, action: Option<&str>, limit: i64) -> Result<Vec<AuditRow>> {
        let sql =
            format!("SELECT {COLS} FROM audit_log WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR action = $2) ORDER BY seq DESC LIMIT $3");
        let mut out = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query(sqlx::AssertSqlSafe(sql)).bind(actor.unwrap_or("")).bind(action.unwrap_or("")).bind(limit).fetch_all(pool).await? {
                out.push(row_of(&r)?);
            }
        });
        Ok(out)
    }

    /// Recomputes the audit chain up to its head as read first (entries appended meanwhile are left for the
    /// next check): `(entries, first problem)`.
    pub async fn verify_audit(&self) -> Result<(i64, Option<Break>)> {
        let (head_seq, head_hash): (i64, String) = on_db!(self, pool => {
            let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(pool).await?;
            (head.try_get("seq")?, head.try_get("hash")?)
        });
        let mut prev = GENESIS;
        let mut expected = 1_i64;
        let mut n = 0;
        let sql = format!("SELECT {COLS} FROM audit_log WHERE seq <= $1 ORDER BY seq");
        let mut broken = None;
        on_db!(self, pool => {
            use futures_util::TryStreamExt;
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(head_seq).fetch(pool);
            while let Some(r) = rows.try_next().await? {
                let row = row_of(&r)?;
                n += 1;
                if row.seq != expected {
                    broken = Some(Break::AuditGap { seq: row.seq, expected });
                    break;
                }
                expected += 1;
                let want = chain_hash(&prev, row.seq, &row.entry.record(row.at).content_hash());
                if parse_hash(&row.hash) != Some(want) {
                    broken = Some(Break::AuditAltered { seq: row.seq, actor: row.entry.actor.clone(), action: row.entry.action.clone() });
                    break;
                }
                prev = want;
            }
        });
        if broken.is_none() && (head_seq != expected - 1 || parse_hash(&head_hash) != Some(prev)) {
            broken = Some(Break::AuditHead { head_seq, last_seq: expected - 1 });
        }
        Ok((n, broken))
    }
}
