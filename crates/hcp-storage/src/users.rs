//! Staff accounts (minimal here: roles and scopes are a later issue) and their sessions.

use hcp_domain::Timestamp;
use hcp_domain::access::Role;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::on_db;

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub unit_code: String,
    /// the second factor's secret, encrypted (an envelope of `pii::Secrets`)
    pub totp_secret: Option<Vec<u8>>,
}

fn user_from_row<R: Row>(r: &R) -> Result<User>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let role: String = r.try_get("role")?;
    Ok(User {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        password_hash: r.try_get("password_hash")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::corrupt(format!("unknown role {role}")))?,
        unit_code: r.try_get("unit_code")?,
        totp_secret: r.try_get("totp_secret")?,
    })
}

fn session_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Db {
    pub async fn insert_user(&self, username: &str, password_hash: &str, role: Role, unit_code: &str) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = Timestamp::now().micros();
        on_db!(self, pool => sqlx::query("INSERT INTO users (id, username, password_hash, role, unit_code, created_at) VALUES ($1,$2,$3,$4,$5,$6)")
            .bind(&id).bind(username).bind(password_hash).bind(role.code()).bind(unit_code).bind(now)
            .execute(pool).await.map_err(|e| crate::error::on_insert(e, "users", username, "unit"))?.rows_affected());
        Ok(id)
    }

    pub async fn find_user(&self, username: &str) -> Result<Option<User>> {
        Ok(on_db!(self, pool => {
            match sqlx::query("SELECT id, username, password_hash, role, unit_code, totp_secret FROM users WHERE username = $1")
                .bind(username).fetch_optional(pool).await? {
                Some(r) => Some(user_from_row(&r)?),
                None => None,
            }
        }))
    }

    pub async fn create_session(&self, user_id: &str, token: &str, ttl_secs: i64) -> Result<()> {
        let now = Timestamp::now();
        on_db!(self, pool => sqlx::query("INSERT INTO sessions (id_hash, user_id, created_at, expires_at, last_seen) VALUES ($1,$2,$3,$4,$3)")
            .bind(session_hash(token)).bind(user_id).bind(now.micros()).bind(now.plus_seconds(ttl_secs).micros())
            .execute(pool).await?.rows_affected());
        Ok(())
    }

    /// The user of a session that has neither expired nor been idle longer than `idle_secs`; use keeps it alive
    /// (recorded at most once a minute, so reading pages does not mean a write per request).
    pub async fn session_user(&self, token: &str, idle_secs: i64) -> Result<Option<User>> {
        let now = Timestamp::now();
        let idle_from = now.plus_seconds(-idle_secs).micros();
        let id_hash = session_hash(token);
        Ok(on_db!(self, pool => {
            match sqlx::query("SELECT u.id, u.username, u.password_hash, u.role, u.unit_code, u.totp_secret, s.last_seen FROM sessions s JOIN users u ON u.id = s.user_id \
                               WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen > $3")
                .bind(&id_hash).bind(now.micros()).bind(idle_from).fetch_optional(pool).await? {
                Some(r) => {
                    let last_seen: i64 = r.try_get("last_seen")?;
                    if last_seen < now.plus_seconds(-60).micros() {
                        sqlx::query("UPDATE sessions SET last_seen = $1 WHERE id_hash = $2").bind(now.micros()).bind(&id_hash).execute(pool).await?;
                    }
                    Some(user_from_row(&r)?)
                }
                None => None,
            }
        }))
    }

    pub async fn delete_session(&self, token: &str) -> Result<()> {
        on_db!(self, pool => sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(session_hash(token)).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Ends every session of a user (sign-out everywhere, a password change); returns how many.
    pub async fn delete_user_sessions(&self, user_id: &str) -> Result<u64> {
        Ok(on_db!(self, pool => sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(pool).await?.rows_affected()))
    }

    /// Until when an account is locked after failed sign-ins, if it is now.
    pub async fn login_locked_until(&self, username: &str) -> Result<Option<i64>> {
        let now = Timestamp::now().micros();
        Ok(on_db!(self, pool => match sqlx::query("SELECT locked_until FROM login_failures WHERE username = $1 AND locked_until > $2")
            .bind(username).bind(now).fetch_optional(pool).await? {
            Some(r) => r.try_get("locked_until")?,
            None => None,
        }))
    }

    /// Counts a failed sign-in. `max` failures within `window_secs` lock the account for `lock_secs`; returns
    /// the lock's end when this failure set it.
    pub async fn record_login_failure(&self, username: &str, max: i64, window_secs: i64, lock_secs: i64) -> Result<Option<i64>> {
        let now = Timestamp::now();
        let window_start = now.plus_seconds(-window_secs).micros();
        let lock_until = now.plus_seconds(lock_secs).micros();
        Ok(on_db!(self, pool => {
            // A failure after the window (or after a lock ran out) starts counting afresh.
            let r = sqlx::query(
                "INSERT INTO login_failures (username, failures, first_at, locked_until) VALUES ($1, 1, $2, NULL) \
                 ON CONFLICT (username) DO UPDATE SET \
                   failures = CASE WHEN login_failures.first_at < $3 THEN 1 ELSE login_failures.failures + 1 END, \
                   first_at = CASE WHEN login_failures.first_at < $3 THEN $2 ELSE login_failures.first_at END, \
                   locked_until = CASE WHEN login_failures.locked_until > $2 THEN login_failures.locked_until ELSE NULL END \
                 RETURNING failures")
                .bind(username).bind(now.micros()).bind(window_start).fetch_one(pool).await?;
            let failures: i64 = r.try_get("failures")?;
            if failures >= max {
                sqlx::query("UPDATE login_failures SET locked_until = $1, failures = 0, first_at = $2 WHERE username = $3")
                    .bind(lock_until).bind(now.micros()).bind(username).execute(pool).await?;
                Some(lock_until)
            } else {
                None
            }
        }))
    }

    pub async fn clear_login_failures(&self, username: &str) -> Result<()> {
        on_db!(self, pool => sqlx::query("DELETE FROM login_failures WHERE username = $1").bind(username).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Accepts a second-factor code's time step once: `false` when that step (or a later one) was already used.
    pub async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool> {
        Ok(on_db!(self, pool => sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
            .bind(step).bind(user_id).execute(pool).await?.rows_affected() == 1))
    }

    /// The personal-data key in force, as the last rotation recorded it.
    pub async fn pii_key_in_force(&self) -> Result<Option<String>> {
        Ok(on_db!(self, pool => match sqlx::query("SELECT pii_key_id FROM key_state WHERE id = 1").fetch_optional(pool).await? {
            Some(r) => Some(r.try_get("pii_key_id")?),
            None => None,
        }))
    }

    /// Sets (or with `None` removes) a user's second-factor secret, already encrypted.
    pub async fn set_totp_secret(&self, username: &str, secret: Option<Vec<u8>>) -> Result<bool> {
        Ok(on_db!(self, pool => sqlx::query("UPDATE users SET totp_secret = $1 WHERE username = $2")
            .bind(secret).bind(username).execute(pool).await?.rows_affected() == 1))
    }
}
