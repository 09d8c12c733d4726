//! Notifications and the job queue that sends them.
//!
//! Two stages, both safe with several nodes on one database:
//! 1. A cursor over the ledger: the case records after it are turned into notification rows (and one `notify`
//!    job each) in a transaction that moves the cursor only if no other node moved it first.
//! 2. `notify` jobs are claimed with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), sent, and finished, or
//!    put back with a later `run_at` (backoff), or left `dead` after too many attempts for an admin to re-run.

use sqlx::Row;

use crate::db::Db;
use crate::error::Result;
use crate::on_db;
use crate::tx::{Tx, on_tx};

impl Tx {
    /// Stores notifications not stored before (one per source, recipient and channel), each with its `notify`
    /// job; returns how many were new.
    pub async fn insert_notifications(&mut self, notes: &[NewNotification], now: i64) -> Result<u64> {
        let mut added = 0_u64;
        for n in notes {
            let inserted = on_tx!(self, t => sqlx::query(
                "INSERT INTO notifications (id, source, case_id, matter_id, recipient, channel, address, address_masked, template, subject, body, state, attempts, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', 0, $12) ON CONFLICT (source, recipient, channel) DO NOTHING")
                .bind(&n.id).bind(&n.source).bind(&n.case_id).bind(&n.matter_id).bind(&n.recipient).bind(&n.channel).bind(&n.address)
                .bind(&n.address_masked).bind(&n.template).bind(&n.subject).bind(&n.body).bind(now)
                .execute(&mut **t).await?.rows_affected());
            if inserted == 1 {
                added += 1;
                self.enqueue("notify", &n.id, now).await?;
            }
        }
        Ok(added)
    }

    /// Puts a job of `kind` for record `id` in the queue, due now.
    pub async fn enqueue(&mut self, kind: &str, id: &str, now: i64) -> Result<()> {
        on_tx!(self, t => sqlx::query("INSERT INTO jobs (id, kind, payload, state, attempts, run_at, created_at) VALUES ($1, $2, $3, 'pending', 0, $4, $4)")
            .bind(uuid::Uuid::now_v7().to_string()).bind(kind).bind(format!("{{\"id\":\"{id}\"}}")).bind(now)
            .execute(&mut **t).await?.rows_affected());
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    pub id: String,
    /// what caused it (a ledger record id, or a flag such as a due-today warning): one per source, recipient
    /// and channel, whatever the number of nodes
    pub source: String,
    pub case_id: Option<String>,
    /// the matter an invitation or an SMS reply is about (no case)
    pub matter_id: Option<String>,
    /// `rater` or `staff:<username>`
    pub recipient: String,
    /// `sms` or `email`
    pub channel: String,
    /// the address, encrypted (an envelope of `pii::Secrets`)
    pub address: Vec<u8>,
    pub address_masked: String,
    pub template: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub n: NewNotification,
    /// `pending`, `sent`, `retrying`, `dead` (gave up), `unsent` (no transport configured for the channel)
    pub state: hcp_domain::notices::Delivery,
    pub attempts: i64,
    pub last_result: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

const NOTE_COLS: &str = "id, source, case_id, matter_id, recipient, channel, address, address_masked, template, subject, body, state, attempts, last_result, created_at, sent_at";

fn note_from_row<R: Row>(r: &R) -> Result<Notification>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Notification {
        n: NewNotification {
            id: r.try_get("id")?,
            source: r.try_get("source")?,
            case_id: r.try_get("case_id")?,
            matter_id: r.try_get("matter_id")?,
            recipient: r.try_get("recipient")?,
            channel: r.try_get("channel")?,
            address: r.try_get("address")?,
            address_masked: r.try_get("address_masked")?,
            template: r.try_get("template")?,
            subject: r.try_get("subject")?,
            body: r.try_get("body")?,
        },
        state: hcp_domain::notices::Delivery::parse(&r.try_get::<String, _>("state")?, "state")?,
        attempts: r.try_get("attempts")?,
        last_result: r.try_get("last_result")?,
        created_at: r.try_get("created_at")?,
        sent_at: r.try_get("sent_at")?,
    })
}

/// A claimed job: its id, payload and which attempt this is (1 for the first).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: String,
    pub payload: String,
    pub attempt: i64,
    /// the claim's lease (its `locked_until`): finishing needs it, so a node whose lease ran out and was
    /// reclaimed by another cannot finish the job a second time
    pub lease: i64,
}

/// One delivery attempt as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub attempt: i64,
    pub at: i64,
    pub ok: bool,
    pub result: String,
}

impl Db {
    /// The case records on the ledger after the notification cursor, oldest first, at most `limit`:
    /// `(cursor, up to, entries)`. "Up to" is where the cursor may move once they are handled: past the ratings
    /// in between, to the head of the ledger when fewer than `limit` were found.
    pub async fn notify_backlog(&self, limit: i64) -> Result<(i64, i64, Vec<(i64, String, String)>)> {
        Ok(on_db!(self, pool => {
            let cursor: i64 = sqlx::query("SELECT seq FROM notify_cursor WHERE id = 1").fetch_one(pool).await?.try_get("seq")?;
            // The head first: every entry up to it is committed (appends hold the head's lock until commit).
            let head: i64 = sqlx::query("SELECT seq FROM chain_head WHERE id = 1").fetch_one(pool).await?.try_get("seq")?;
            let rows = sqlx::query(
                "SELECT seq, kind, ref_id FROM ledger WHERE seq > $1 AND seq <= $2 AND kind IN ('case_opened', 'case_event') ORDER BY seq LIMIT $3")
                .bind(cursor).bind(head).bind(limit).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push((r.try_get("seq")?, r.try_get("kind")?, r.try_get("ref_id")?));
            }
            let upto = if (out.len() as i64) < limit { head } else { out.last().map(|e| e.0).unwrap_or(head) };
            (cursor, upto, out)
        }))
    }

    /// Moves the cursor to the head of the ledger without notifying anything (after seeding demo history).
    pub async fn skip_notifications_to_head(&self) -> Result<()> {
        on_db!(self, pool => sqlx::query("UPDATE notify_cursor SET seq = (SELECT seq FROM chain_head WHERE id = 1) WHERE id = 1")
            .execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Moves the cursor from `from` to `to` and stores `notes` with one `notify` job each, in one transaction;
    /// `false` (and nothing stored) when another node moved the cursor first.
    pub async fn commit_notifications(&self, from: i64, to: i64, notes: &[NewNotification], now: i64) -> Result<bool> {
        let mut tx = Tx::write(self).await?;
        let moved = on_tx!(&mut tx, t => sqlx::query("UPDATE notify_cursor SET seq = $1 WHERE id = 1 AND seq = $2")
            .bind(to).bind(from).execute(&mut **t).await?.rows_affected());
        if moved != 1 {
            return Ok(false);
        }
        tx.insert_notifications(notes, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn add_notifications(&self, notes: &[NewNotification], now: i64) -> Result<u64> {
        let mut tx = Tx::plain(self).await?;
        let n = tx.insert_notifications(notes, now).await?;
        tx.commit().await?;
        Ok(n)
    }

    pub async fn get_notification(&self, id: &str) -> Result<Option<Notification>> {
        Ok(on_db!(self, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {NOTE_COLS} FROM notifications WHERE id = $1"))).bind(id).fetch_optional(pool).await? {
                Some(r) => Some(note_from_row(&r)?),
                None => None,
            }
        }))
    }

    /// Notifications of a case, or (without one) of all cases, each with its case's unit; newest first.
    pub async fn list_notifications(
        &self,
        case_id: Option<&str>,
        state: Option<hcp_domain::notices::Delivery>,
        limit: i64,
    ) -> Result<Vec<(Notification, Option<String>)>> {
        let cols = NOTE_COLS.split(", ").map(|c| format!("n.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {cols}, COALESCE(c.unit_code, m.unit_code) AS unit_code FROM notifications n \
             LEFT JOIN cases c ON c.id = n.case_id LEFT JOIN matters m ON m.id = n.matter_id \
             WHERE ($1 = '' OR n.case_id = $1) AND ($2 = '' OR n.state = $2) ORDER BY n.created_at DESC, n.id LIMIT $3"
        );
        let mut out = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query(sqlx::AssertSqlSafe(sql)).bind(case_id.unwrap_or("")).bind(state.map(|d| d.code()).unwrap_or("")).bind(limit).fetch_all(pool).await? {
                out.push((note_from_row(&r)?, r.try_get("unit_code")?));
            }
        });
        Ok(out)
    }

    pub async fn notification_attempts(&self, id: &str) -> Result<Vec<Attempt>> {
        let mut out = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query("SELECT attempt, at, ok, result FROM notification_attempts WHERE notification_id = $1 ORDER BY attempt")
                .bind(id).fetch_all(pool).await? {
                out.push(Attempt { attempt: r.try_get("attempt")?, at: r.try_get("at")?, ok: r.try_get("ok")?, result: r.try_get("result")? });
            }
        });
        Ok(out)
    }

    /// Records one delivery attempt and the notification's new state, in one transaction.
    pub async fn record_attempt(
        &self,
        id: &str,
        attempt: i64,
        ok: bool,
        state: hcp_domain::notices::Delivery,
        result: &str,
        at: i64,
    ) -> Result<()> {
        on_db!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO notification_attempts (notification_id, attempt, at, ok, result) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (notification_id, attempt) DO NOTHING")
                .bind(id).bind(attempt).bind(at).bind(ok).bind(result).execute(&mut *tx).await?;
            // A notification once sent stays sent, whatever a slower node reports afterwards.
            sqlx::query("UPDATE notifications SET state = $1, attempts = $2, last_result = $3, sent_at = CASE WHEN $4 THEN $5 ELSE sent_at END WHERE id = $6 AND state <> 'sent'")
                .bind(state.code()).bind(attempt).bind(result).bind(ok).bind(at).bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Puts a dead (or unsent) notification back in the queue: a new `notify` job, due now.
    pub async fn retry_notification(&self, id: &str, now: i64) -> Result<bool> {
        let mut tx = Tx::plain(self).await?;
        let n = on_tx!(&mut tx, t => sqlx::query("UPDATE notifications SET state = 'pending' WHERE id = $1 AND state IN ('dead', 'unsent')")
            .bind(id).execute(&mut **t).await?.rows_affected());
        if n == 1 {
            tx.enqueue("notify", id, now).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Claims up to `limit` due jobs of `kind` for `lease_micros`: pending ones whose time has come, and running
    /// ones whose lease ran out (their node died). Each claim counts as an attempt.
    pub async fn claim_jobs(&self, kind: &str, now: i64, lease_micros: i64, limit: i64) -> Result<Vec<ClaimedJob>> {
        let skip = if matches!(self, Db::Pg(_)) { "FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until = $1 WHERE id IN \
             (SELECT id FROM jobs WHERE kind = $2 AND ((state = 'pending' AND run_at <= $3) OR (state = 'running' AND locked_until < $3)) \
              ORDER BY run_at, id LIMIT $4 {skip}) RETURNING id, payload, attempts, locked_until"
        );
        let mut out = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now + lease_micros).bind(kind).bind(now).bind(limit).fetch_all(pool).await? {
                out.push(ClaimedJob { id: r.try_get("id")?, payload: r.try_get("payload")?, attempt: r.try_get("attempts")?, lease: r.try_get("locked_until")? });
            }
        });
        Ok(out)
    }

    /// Ends a claimed job: `done`, or back to `pending` at `retry_at`, or `dead` with the error kept.
    pub async fn finish_job(&self, job: &ClaimedJob, outcome: JobOutcome<'_>) -> Result<bool> {
        let (state, run_at, err) = match outcome {
            JobOutcome::Done => ("done", None, None),
            JobOutcome::Retry { at, error } => ("pending", Some(at), Some(error)),
            JobOutcome::Dead { error } => ("dead", None, Some(error)),
        };
        Ok(on_db!(self, pool => sqlx::query(
            "UPDATE jobs SET state = $1, run_at = COALESCE($2, run_at), last_error = $3, locked_until = NULL \
             WHERE id = $4 AND state = 'running' AND locked_until = $5")
            .bind(state).bind(run_at).bind(err).bind(&job.id).bind(job.lease).execute(pool).await?.rows_affected() == 1))
    }

    /// Jobs of `kind` by state, for admins and tests.
    /// Jobs not yet done, by kind (the outbox and the notifier's queue).
    pub async fn outbox_depth(&self) -> Result<Vec<(String, i64)>> {
        let mut out = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query("SELECT kind, COUNT(*) AS n FROM jobs WHERE state IN ('pending', 'running') GROUP BY kind ORDER BY kind")
                .fetch_all(pool).await? {
                out.push((r.try_get("kind")?, r.try_get("n")?));
            }
        });
        Ok(out)
    }

    pub async fn jobs_by_state(&self, kind: &str) -> Result<Vec<(String, i64)>> {
        let mut out = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query("SELECT state, COUNT(*) AS n FROM jobs WHERE kind = $1 GROUP BY state ORDER BY state").bind(kind).fetch_all(pool).await? {
                out.push((r.try_get("state")?, r.try_get("n")?));
            }
        });
        Ok(out)
    }

    /// Staff of `units` with one of `roles`: `(username, email, encrypted mobile)`.
    pub async fn staff_contacts(
        &self,
        units: &[String],
        roles: &[hcp_domain::access::Role],
    ) -> Result<Vec<(String, Option<String>, Option<Vec<u8>>)>> {
        let mut out = Vec::new();
        for unit in units {
            on_db!(self, pool => {
                // Only those with somewhere to send to; the unit's own staff, not the whole table.
                for r in sqlx::query("SELECT username, role, email, mobile FROM users WHERE unit_code = $1 AND (email IS NOT NULL OR mobile IS NOT NULL) ORDER BY username")
                    .bind(unit).fetch_all(pool).await? {
                    let role: String = r.try_get("role")?;
                    if hcp_domain::access::Role::parse(&role).is_some_and(|r| roles.contains(&r)) {
                        out.push((r.try_get("username")?, r.try_get("email")?, r.try_get("mobile")?));
                    }
                }
            });
        }
        Ok(out)
    }

    /// Sets a staff member's contact details for notifications (`mobile` already encrypted).
    pub async fn set_user_contact(&self, username: &str, email: Option<&str>, mobile: Option<Vec<u8>>) -> Result<bool> {
        Ok(on_db!(self, pool => sqlx::query("UPDATE users SET email = $1, mobile = $2 WHERE username = $3")
            .bind(email).bind(mobile).bind(username).execute(pool).await?.rows_affected() == 1))
    }
}

#[derive(Debug, Clone, Copy)]
pub enum JobOutcome<'a> {
    Done,
    Retry { at: i64, error: &'a str },
    Dead { error: &'a str },
}
