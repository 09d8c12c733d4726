//! Invitations to rate (S-5) and the SMS replies to them: one invitation per completed matter whose applicant
//! gave a phone, stored with the matter's completion; one reminder; opt-outs by the phone's blind index.
//! The messages themselves are notifications (`notifications`), sent and recorded like every other.

use sqlx::Row;

use crate::db::Db;
use crate::error::Result;
use crate::notifications::NewNotification;
use crate::on_db;
use crate::tx::{Tx, on_tx};

/// What an invitation is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteState {
    /// invited: a reply 1–5 rates the matter
    Open,
    /// rated badly by SMS reply: the follow-up listing reason codes was sent, a reply with codes adds them
    AwaitingReasons,
    Rated,
    OptedOut,
    /// the rating window ended unrated
    Closed,
}

impl InviteState {
    pub fn code(self) -> &'static str {
        match self {
            InviteState::Open => "open",
            InviteState::AwaitingReasons => "awaiting_reasons",
            InviteState::Rated => "rated",
            InviteState::OptedOut => "opted_out",
            InviteState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [InviteState::Open, InviteState::AwaitingReasons, InviteState::Rated, InviteState::OptedOut, InviteState::Closed]
            .into_iter()
            .find(|k| k.code() == s)
    }
}

/// The invitation a completed matter brings, ready to store with the completion.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    /// the phone's envelope and blind index
    pub phone: Vec<u8>,
    pub phone_ix: String,
    /// when the reminder is due, if the matter is still unrated then
    pub remind_at: i64,
    /// the end of the rating window: nothing is sent or accepted after it
    pub closes_at: i64,
    /// the invitation message (its `matter_id` is filled in when the matter's id is known)
    pub message: NewNotification,
}

/// An invitation as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    pub matter_id: String,
    pub matter_no: String,
    pub phone: Vec<u8>,
    pub state: InviteState,
    pub invited_at: i64,
    pub reminded_at: Option<i64>,
    pub closes_at: i64,
    pub rating_id: Option<String>,
}

const INVITE_COLS: &str = "matter_id, matter_no, phone, state, invited_at, reminded_at, closes_at, rating_id";

fn invitation_from_row<R: Row>(r: &R) -> Result<Invitation>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let state: String = r.try_get("state")?;
    Ok(Invitation {
        matter_id: r.try_get("matter_id")?,
        matter_no: r.try_get("matter_no")?,
        phone: r.try_get("phone")?,
        state: InviteState::parse(&state).ok_or_else(|| crate::StoreError::corrupt("an invitation's state is unknown"))?,
        invited_at: r.try_get("invited_at")?,
        reminded_at: r.try_get("reminded_at")?,
        closes_at: r.try_get("closes_at")?,
        rating_id: r.try_get("rating_id")?,
    })
}

impl Tx {
    /// Stores the invitation of a matter just completed, with its message, unless the phone opted out, is not
    /// the phone stored with the matter, or the matter already has one. Returns whether it was stored.
    pub async fn invite(&mut self, matter_id: &str, matter_no: &str, inv: &NewInvitation, now: i64) -> Result<bool> {
        let inserted = on_tx!(self, t => sqlx::query(
            "INSERT INTO invitations (matter_id, matter_no, phone, phone_ix, state, invited_at, remind_at, closes_at, updated_at) \
             SELECT $1, $2, $3, $4, 'open', $5, $6, $7, $5 WHERE NOT EXISTS (SELECT 1 FROM sms_optouts WHERE phone_ix = $4) \
             AND EXISTS (SELECT 1 FROM matters WHERE id = $1 AND applicant_phone_ix = $4) \
             ON CONFLICT (matter_id) DO NOTHING")
            .bind(matter_id).bind(matter_no).bind(&inv.phone).bind(&inv.phone_ix).bind(now).bind(inv.remind_at).bind(inv.closes_at)
            .execute(&mut **t).await?.rows_affected());
        if inserted == 1 {
            let message = NewNotification { matter_id: Some(matter_id.to_string()), ..inv.message.clone() };
            self.insert_notifications(&[message], now).await?;
        }
        Ok(inserted == 1)
    }
}

impl Db {
    /// The invitations of a phone (by blind index), the one whose last message (invitation or reminder) went
    /// out most recently first: those an SMS reply may answer.
    pub async fn invitations_of_phone(&self, phone_ix: &str) -> Result<Vec<Invitation>> {
        let sql = format!(
            "SELECT {INVITE_COLS} FROM invitations WHERE phone_ix = $1 \
             ORDER BY COALESCE(reminded_at, invited_at) DESC, matter_id DESC LIMIT 20"
        );
        let mut out = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query(sqlx::AssertSqlSafe(sql)).bind(phone_ix).fetch_all(pool).await? {
                out.push(invitation_from_row(&r)?);
            }
        });
        Ok(out)
    }

    pub async fn invitation(&self, matter_id: &str) -> Result<Option<Invitation>> {
        let sql = format!("SELECT {INVITE_COLS} FROM invitations WHERE matter_id = $1");
        Ok(on_db!(self, pool => match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(matter_id).fetch_optional(pool).await? {
            Some(r) => Some(invitation_from_row(&r)?),
            None => None,
        }))
    }

    /// Moves an invitation from `from` to `to` (recording the rating it led to), with the messages this step
    /// sends, in one transaction; `false` (nothing written) when it was no longer in `from`.
    pub async fn move_invitation(
        &self,
        matter_id: &str,
        from: InviteState,
        to: InviteState,
        rating_id: Option<&str>,
        messages: &[NewNotification],
        now: i64,
    ) -> Result<bool> {
        let mut tx = Tx::write(self).await?;
        let moved = on_tx!(&mut tx, t => sqlx::query(
            "UPDATE invitations SET state = $1, rating_id = COALESCE($2, rating_id), remind_at = NULL, updated_at = $3 \
             WHERE matter_id = $4 AND state = $5")
            .bind(to.code()).bind(rating_id).bind(now).bind(matter_id).bind(from.code()).execute(&mut **t).await?.rows_affected());
        if moved != 1 {
            return Ok(false);
        }
        tx.insert_notifications(messages, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A phone opts out (a reply `TD`, or the link on the rating page): it is never invited again, and its open
    /// invitations are neither reminded nor answered. Returns whether it had not opted out before.
    pub async fn opt_out(&self, phone_ix: &str, via: &str, now: i64) -> Result<bool> {
        let mut tx = Tx::write(self).await?;
        let new = on_tx!(&mut tx, t => {
            let n = sqlx::query("INSERT INTO sms_optouts (phone_ix, via, at) VALUES ($1, $2, $3) ON CONFLICT (phone_ix) DO NOTHING")
                .bind(phone_ix).bind(via).bind(now).execute(&mut **t).await?.rows_affected();
            sqlx::query("UPDATE invitations SET state = 'opted_out', remind_at = NULL, updated_at = $1 WHERE phone_ix = $2 AND state = 'open'")
                .bind(now).bind(phone_ix).execute(&mut **t).await?;
            n == 1
        });
        tx.commit().await?;
        Ok(new)
    }

    /// The unit a matter (by id) belongs to.
    pub async fn matter_unit(&self, matter_id: &str) -> Result<Option<String>> {
        Ok(
            on_db!(self, pool => match sqlx::query("SELECT unit_code FROM matters WHERE id = $1").bind(matter_id).fetch_optional(pool).await? {
                Some(r) => Some(r.try_get("unit_code")?),
                None => None,
            }),
        )
    }

    pub async fn opted_out(&self, phone_ix: &str) -> Result<bool> {
        Ok(
            on_db!(self, pool => sqlx::query("SELECT 1 AS x FROM sms_optouts WHERE phone_ix = $1").bind(phone_ix).fetch_optional(pool).await?.is_some()),
        )
    }

    /// Open invitations whose reminder is due, with whether it is no longer wanted: the matter was rated
    /// meanwhile (by any channel), or the phone was invited since for another matter (a reply would then be
    /// taken for the newer one).
    pub async fn due_reminders(&self, now: i64, limit: i64) -> Result<Vec<(Invitation, bool)>> {
        let cols = INVITE_COLS.split(", ").map(|c| format!("i.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {cols}, CASE WHEN m.first_rated_at IS NOT NULL OR EXISTS (SELECT 1 FROM invitations j \
               WHERE j.phone_ix = i.phone_ix AND j.invited_at > i.invited_at AND j.state IN ('open', 'awaiting_reasons')) \
               THEN 1 ELSE 0 END AS unwanted \
             FROM invitations i JOIN matters m ON m.id = i.matter_id \
             WHERE i.state = 'open' AND i.remind_at <= $1 ORDER BY i.remind_at LIMIT $2"
        );
        let mut out = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(limit).fetch_all(pool).await? {
                out.push((invitation_from_row(&r)?, r.try_get::<i32, _>("unwanted")? == 1));
            }
        });
        Ok(out)
    }

    /// Takes an invitation's reminder (once, whatever the number of nodes) and stores its message, or, when
    /// `message` is `None` (rated meanwhile, or the window closes), just drops the reminder.
    pub async fn take_reminder(&self, matter_id: &str, message: Option<&NewNotification>, now: i64) -> Result<bool> {
        let mut tx = Tx::write(self).await?;
        let taken = on_tx!(&mut tx, t => sqlx::query(
            "UPDATE invitations SET remind_at = NULL, reminded_at = CASE WHEN $1 THEN $2 ELSE reminded_at END, updated_at = $2 \
             WHERE matter_id = $3 AND state = 'open' AND remind_at IS NOT NULL")
            .bind(message.is_some()).bind(now).bind(matter_id).execute(&mut **t).await?.rows_affected());
        if taken != 1 {
            return Ok(false);
        }
        if let Some(m) = message {
            tx.insert_notifications(std::slice::from_ref(m), now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Invitations whose rating window has ended stop waiting: no reply is taken for them any more.
    pub async fn close_invitations(&self, now: i64) -> Result<u64> {
        Ok(on_db!(self, pool => sqlx::query(
            "UPDATE invitations SET state = 'closed', remind_at = NULL, updated_at = $1 WHERE state IN ('open', 'awaiting_reasons') AND closes_at <= $1")
            .bind(now).execute(pool).await?.rows_affected()))
    }

    /// The most recent matter of a phone (by blind index) that was completed or served and is still unrated:
    /// what the hotline rates when the caller gives no matter number.
    pub async fn latest_unrated_matter(&self, phone_ix: &str) -> Result<Option<String>> {
        Ok(on_db!(self, pool => match sqlx::query(
            "SELECT matter_no FROM matters m WHERE applicant_phone_ix = $1 AND first_rated_at IS NULL \
             AND (completed_at IS NOT NULL OR EXISTS (SELECT 1 FROM services s WHERE s.matter_id = m.id)) \
             ORDER BY accepted_at DESC, matter_no DESC LIMIT 1")
            .bind(phone_ix).fetch_optional(pool).await? {
            Some(r) => Some(r.try_get("matter_no")?),
            None => None,
        }))
    }
}
