//! A transaction on either engine, and the writes that several stories share: opening a case, counting a
//! matter towards participation, the multi-row statement shapes. Helpers here are plain methods on [`Tx`];
//! `on_tx!` only dispatches one body to the engine at hand, as `on_db!` does for reads.

use hcp_domain::BizDay;
use hcp_domain::records::{Case, CaseEvent, Entry, RecordKind};
use hcp_domain::stats::matter_rollup_keys;

use crate::db::Db;
use crate::error::Result;

pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs the same body against whichever transaction the `Tx` holds (`&mut **t` is its connection).
macro_rules! on_tx {
    ($tx:expr, $t:ident => $body:expr) => {
        match $tx {
            $crate::tx::Tx::Sqlite($t) => $body,
            $crate::tx::Tx::Pg($t) => $body,
        }
    };
}
pub(crate) use on_tx;

impl Tx {
    /// A transaction that writes: SQLite takes its write lock at once (`BEGIN IMMEDIATE`), so two writers never
    /// deadlock upgrading a read lock; PostgreSQL locks rows as it goes.
    pub async fn write(db: &Db) -> Result<Tx> {
        Ok(match db {
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Pg(p) => Tx::Pg(p.begin().await?),
        })
    }

    /// A transaction in the engine's default mode.
    pub async fn plain(db: &Db) -> Result<Tx> {
        Ok(match db {
            Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Db::Pg(p) => Tx::Pg(p.begin().await?),
        })
    }

    pub fn is_pg(&self) -> bool {
        matches!(self, Tx::Pg(_))
    }

    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Pg(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Stores a case with its first event and its current state: the one way a case is opened, whatever opens
    /// it. Returns the two ledger entries, for the caller to append in the order of its records.
    pub async fn open_case(&mut self, c: &Case, opened: &CaseEvent) -> Result<[Entry; 2]> {
        let sql = format!(
            "INSERT INTO cases ({}) VALUES {}",
            crate::rows::CASE_COLS.join(", "),
            placeholders(self.is_pg(), 1, crate::rows::CASE_COLS.len())
        );
        on_tx!(self, t => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&c.id).bind(c.kind.code()).bind(&c.rating_id).bind(&c.matter_no).bind(&c.unit_code).bind(&c.item_code)
                .bind(&c.window_code).bind(&c.staff_code).bind(c.level).bind(c.category.code()).bind(c.real_name).bind(c.referral)
                .bind(c.opened_at).bind(c.arrival_day.key()).bind(c.respond_by.key()).bind(c.reply_by.key()).bind(c.provisional)
                .execute(&mut **t).await?;
            sqlx::query("INSERT INTO case_status (case_id, unit_code, state, respond_by, reply_by, provisional, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&c.id).bind(&c.unit_code).bind(opened.state_after.code()).bind(c.respond_by.key()).bind(c.reply_by.key())
                .bind(c.provisional).bind(opened.at)
                .execute(&mut **t).await?;
        });
        self.insert_event(opened).await?;
        Ok([
            Entry { kind: RecordKind::CaseOpened, id: c.id.clone(), content: c.record().content_hash() },
            Entry { kind: RecordKind::CaseEvent, id: opened.id.clone(), content: opened.record().content_hash() },
        ])
    }

    /// Stores one event of a case's history (the caller appends its ledger entry).
    pub async fn insert_event(&mut self, e: &CaseEvent) -> Result<Entry> {
        on_tx!(self, t => {
            sqlx::query("INSERT INTO case_events (id, case_id, kind, actor, at, state_after, note) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&e.id).bind(&e.case_id).bind(e.kind.code()).bind(&e.actor).bind(e.at).bind(e.state_after.code()).bind(&e.note)
                .execute(&mut **t).await?;
        });
        self.project_rectification(e).await?;
        Ok(Entry { kind: RecordKind::CaseEvent, id: e.id.clone(), content: e.record().content_hash() })
    }

    /// Keeps the 台账 in step with the events that make it: a 限期整改 outcome opens the item (or moves its
    /// deadline when the outcome is decided again after a reopening), progress counts, done closes it.
    async fn project_rectification(&mut self, e: &CaseEvent) -> Result<()> {
        use hcp_domain::case_event::{EventDetail, EventKind, OutcomeDetail};
        if !matches!(
            e.kind,
            EventKind::Outcome | EventKind::RectificationProgress | EventKind::RectificationDone | EventKind::RectificationOverdue
        ) {
            return Ok(());
        }
        // A step of an item that is no longer open (done meanwhile by another request) changes nothing: the
        // whole transaction is refused, so no second "done" and no escalation of a finished item.
        let still_open =
            |n: u64| if n == 1 { Ok(()) } else { Err(crate::error::StoreError::Conflict(crate::error::Conflict::CaseChanged)) };
        match e.detail() {
            Ok(EventDetail::Outcome { outcome: OutcomeDetail::Ledger { reason, rectify_by } }) => {
                on_tx!(self, t => sqlx::query(
                    "INSERT INTO rectifications (case_id, unit_code, reason, rectify_by, state, opened_at, progress, updated_at) \
                     SELECT c.id, c.unit_code, $2, $3, 'open', $4, 0, $4 FROM cases c WHERE c.id = $1 \
                     ON CONFLICT (case_id) DO UPDATE SET reason = excluded.reason, rectify_by = excluded.rectify_by, state = 'open', \
                     done_at = NULL, updated_at = excluded.updated_at")
                    .bind(&e.case_id).bind(reason).bind(rectify_by.key()).bind(e.at).execute(&mut **t).await?.rows_affected());
            }
            Ok(EventDetail::RectificationProgress { .. }) => {
                let n = on_tx!(self, t => sqlx::query("UPDATE rectifications SET progress = progress + 1, updated_at = $2 WHERE case_id = $1 AND state = 'open'")
                    .bind(&e.case_id).bind(e.at).execute(&mut **t).await?.rows_affected());
                still_open(n)?;
            }
            Ok(EventDetail::RectificationDone { .. }) => {
                let n = on_tx!(self, t => sqlx::query("UPDATE rectifications SET state = 'done', done_at = $2, updated_at = $2 WHERE case_id = $1 AND state = 'open'")
                    .bind(&e.case_id).bind(e.at).execute(&mut **t).await?.rows_affected());
                still_open(n)?;
            }
            Ok(EventDetail::RectificationOverdue { .. }) => {
                let n = on_tx!(self, t => sqlx::query("UPDATE rectifications SET updated_at = $2 WHERE case_id = $1 AND state = 'open'")
                    .bind(&e.case_id).bind(e.at).execute(&mut **t).await?.rows_affected());
                still_open(n)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Adds completed and rated matters of one unit and item on `day` to every participation group.
    pub async fn bump_matters(&mut self, day: BizDay, unit: &str, item: &str, completed: i64, rated: i64) -> Result<()> {
        for (dim, key) in matter_rollup_keys(unit, item) {
            on_tx!(self, t => {
                sqlx::query(
                    "INSERT INTO rollup_matters (dim, dim_key, biz_day, completed, rated) VALUES ($1,$2,$3,$4,$5) \
                     ON CONFLICT (dim, dim_key, biz_day) DO UPDATE SET completed = rollup_matters.completed + excluded.completed, \
                     rated = rollup_matters.rated + excluded.rated",
                )
                .bind(dim.code()).bind(key).bind(day.key()).bind(completed).bind(rated)
                .execute(&mut **t).await?;
            });
        }
        Ok(())
    }
}

/// `($1,$2,…),($k,…)` for `rows` rows of `cols` values on PostgreSQL; `(?,?,…),(?,…)` on SQLite.
///
/// The one place where the SQL text differs by engine: SQLite looks numbered parameters up by a linear scan
/// (`sqlite3_bind_parameter_name`), which made binding a 16,000-value statement quadratic (290 ms for 500
/// ratings); anonymous `?` parameters bind in constant time each.
pub(crate) fn placeholders(numbered: bool, rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push(',');
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push(',');
            }
            if numbered {
                out.push('$');
                out.push_str(&(r * cols + c + 1).to_string());
            } else {
                out.push('?');
            }
        }
        out.push(')');
    }
    out
}

/// Rows per multi-row statement: stays under SQLite's 32,766 and PostgreSQL's 65,535 bound values.
pub(crate) const CHUNK: usize = 256;

/// Splits `items` into chunks whose sizes are powers of two (at most `CHUNK`): a batch of any size then uses
/// only a handful of distinct statement texts, which stay prepared in the connection's statement cache instead
/// of being parsed anew for every batch size.
pub(crate) fn pow2_chunks<T>(items: &[T]) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let mut n = CHUNK.min(rest.len()).next_power_of_two();
        if n > rest.len() || n > CHUNK {
            n /= 2;
        }
        let (head, tail) = rest.split_at(n.max(1));
        out.push(head);
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_and_cover_everything() {
        for n in [0usize, 1, 2, 3, 36, 255, 256, 257, 511, 1000] {
            let v: Vec<usize> = (0..n).collect();
            let chunks = pow2_chunks(&v);
            assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), n);
            assert!(
                chunks.iter().all(|c| c.len().is_power_of_two() && c.len() <= CHUNK),
                "{n}: {:?}",
                chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
            );
            assert_eq!(chunks.concat(), v);
        }
        assert_eq!(placeholders(true, 2, 2), "($1,$2),($3,$4)");
        assert_eq!(placeholders(false, 1, 3), "(?,?,?)");
    }
}
