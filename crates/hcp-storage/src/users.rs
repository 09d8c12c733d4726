//! Staff accounts (minimal here: roles and scopes are a later issue) and their sessions.

use hcp_domain::Timestamp;
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
    pub role: String,
    pub unit_code: String,
}

pub const ROLES: &[&str] = &["bureau_admin", "oversight", "unit_handler", "unit_approver", "town_admin", "window_staff", "assessor"];

fn session_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Db {
    pub async fn insert_user(&self, username: &str, password_hash: &str, role: &str, unit_code: &str) -> Result<String> {
        if !ROLES.contains(&role) {
            return Err(hcp_domain::DomainError::new("invalid_role", "role", format!("角色无效，可选：{}", ROLES.join("、"))).into());
        }
        let id = uuid::Uuid::now_v7().to_string();
        let now = Timestamp::now().micros();
        on_db!(self, pool => sqlx::query("INSERT INTO users (id, username, password_hash, role, unit_code, created_at) VALUES ($1,$2,$3,$4,$5,$6)")
            .bind(&id).bind(username).bind(password_hash).bind(role).bind(unit_code).bind(now)
            .execute(pool).await.map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::conflict("already_exists", format!("用户名 {username} 已存在"), None),
                sqlx::Error::Database(d) if d.is_foreign_key_violation() =>
                    StoreError::Rule(hcp_domain::DomainError::new("unknown_reference", "unit", "单位不存在")),
                _ => StoreError::Database(e),
            })?.rows_affected());
        Ok(id)
    }

    pub async fn find_user(&self, username: &str) -> Result<Option<User>> {
        Ok(on_db!(self, pool => {
            match sqlx::query("SELECT id, username, password_hash, role, unit_code FROM users WHERE username = $1")
                .bind(username).fetch_optional(pool).await? {
                Some(r) => Some(User { id: r.try_get("id")?, username: r.try_get("username")?, password_hash: r.try_get("password_hash")?,
                    role: r.try_get("role")?, unit_code: r.try_get("unit_code")? }),
                None => None,
            }
        }))
    }

    pub async fn create_session(&self, user_id: &str, token: &str, ttl_secs: i64) -> Result<()> {
        let now = Timestamp::now();
        on_db!(self, pool => sqlx::query("INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES ($1,$2,$3,$4)")
            .bind(session_hash(token)).bind(user_id).bind(now.micros()).bind(now.plus_seconds(ttl_secs).micros())
            .execute(pool).await?.rows_affected());
        Ok(())
    }

    /// The user of an unexpired session.
    pub async fn session_user(&self, token: &str) -> Result<Option<User>> {
        let now = Timestamp::now().micros();
        Ok(on_db!(self, pool => {
            match sqlx::query("SELECT u.id, u.username, u.password_hash, u.role, u.unit_code FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND s.expires_at > $2")
                .bind(session_hash(token)).bind(now).fetch_optional(pool).await? {
                Some(r) => Some(User { id: r.try_get("id")?, username: r.try_get("username")?, password_hash: r.try_get("password_hash")?,
                    role: r.try_get("role")?, unit_code: r.try_get("unit_code")? }),
                None => None,
            }
        }))
    }

    pub async fn delete_session(&self, token: &str) -> Result<()> {
        on_db!(self, pool => sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(session_hash(token)).execute(pool).await?.rows_affected());
        Ok(())
    }
}
