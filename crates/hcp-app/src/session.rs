//! Staff sign-in and sessions: argon2 passwords checked off the async workers, accounts locked after repeated
//! failures (on every node), a second factor for administrators, a fresh session token every time, and every
//! attempt on the audit trail.

use std::net::IpAddr;

use hcp_domain::audit::AuditEntry;
use hcp_domain::{DomainError, Timestamp};
use hcp_storage::users::User;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::{App, passwords};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub username: String,
    pub password: String,
    /// the six-digit code of the authenticator app, for accounts with a second factor
    pub otp: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionOut {
    pub username: String,
    pub role: String,
    pub unit_code: String,
    /// seconds of inactivity after which the session ends
    pub idle_timeout_secs: i64,
}

impl SessionOut {
    pub fn of(app: &App, u: &User) -> Self {
        SessionOut {
            username: u.username.clone(),
            role: u.role.code().into(),
            unit_code: u.unit_code.clone(),
            idle_timeout_secs: app.config.session_idle_secs,
        }
    }
}

/// A session begun: the user and the token for the cookie.
pub struct Started {
    pub user: User,
    pub token: String,
}

/// Failed sign-ins of one account within this window lock it for `LOCK_SECS` (on every node).
pub const MAX_FAILURES: i64 = 5;
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;
pub const LOCK_SECS: i64 = 15 * 60;

fn random_token() -> String {
    // 256 bits of OS randomness.
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

fn credentials(code: &'static str, message: &str) -> AppError {
    AppError::Credentials(DomainError::general(code, message))
}

/// Writes an audit entry; a failure to write is logged, not the caller's problem.
pub async fn audit(
    app: &App,
    actor: String,
    action: &str,
    target: &str,
    outcome: &str,
    detail: Option<serde_json::Value>,
    peer: Option<IpAddr>,
) {
    let entry = AuditEntry {
        actor,
        action: action.into(),
        target: target.into(),
        outcome: outcome.into(),
        detail: detail.map(|d| d.to_string()),
        source_hash: peer.map(|p| app.secrets.source_hash(&p.to_string())),
    };
    if let Err(e) = app.db.audit(&entry).await {
        tracing::error!(error = %e, "could not write the audit trail");
    }
}

/// Counts a failed sign-in towards the lock and audits it.
async fn failed(app: &App, username: &str, actor: &str, why: &str, peer: Option<IpAddr>) {
    let locked = match app.db.record_login_failure(username, MAX_FAILURES, FAILURE_WINDOW_SECS, LOCK_SECS).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "could not count a failed sign-in");
            None
        }
    };
    let detail = serde_json::json!({ "why": why, "locked": locked.is_some() });
    audit(app, actor.to_string(), "sign_in_failed", "session", "401", Some(detail), peer).await;
}

/// Checks the credentials (lock, password, second factor), starts a fresh session (ending the one the browser
/// brought, if any) and audits the attempt.
#[tracing::instrument(skip_all)]
pub async fn sign_in(app: &App, input: SignIn, previous: Option<&str>, peer: Option<IpAddr>) -> AppResult<Started> {
    let bad = || credentials("invalid_credentials", "用户名或密码错误");
    if input.username.is_empty()
        || input.username.len() > 64
        || input.username.chars().any(char::is_control)
        || input.password.len() > 256
        || input.otp.as_ref().is_some_and(|o| o.len() > 16)
    {
        return Err(bad());
    }
    // The name as typed goes on the audit trail: only plain characters of it.
    let actor = format!("staff:{}", input.username.chars().filter(|c| c.is_alphanumeric() || "-_.@".contains(*c)).collect::<String>());
    if let Some(until) = app.db.login_locked_until(&input.username).await? {
        audit(app, actor, "sign_in_locked", "session", "429", None, peer).await;
        let at = Timestamp(until).to_rfc3339();
        return Err(AppError::too_many(
            "account_locked",
            format!("登录失败次数过多，账号已暂时锁定，请于 {} 后再试", at.get(11..16).unwrap_or("稍")),
        ));
    }
    // Per account as well as per client address (the web's limit): spreading guesses over many addresses
    // does not help.
    if !app.account_limiter.allow(&format!("sign_in:{}", input.username)) {
        return Err(AppError::too_many("rate_limited", "请求过于频繁，请稍后再试"));
    }
    let user = app.db.find_user(&input.username).await?;
    // Spend the same effort for unknown users, so timing does not reveal which names exist.
    let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| passwords::DUMMY_HASH.to_string());
    let password = input.password.clone();
    let slot = app.password_slots.clone().acquire_owned().await.map_err(|_| bad())?;
    let matches = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        passwords::verify(&password, &hash)
    })
    .await
    .unwrap_or(false);
    let Some(user) = user.filter(|_| matches) else {
        failed(app, &input.username, &actor, "password", peer).await;
        return Err(bad());
    };
    // A lock set by a concurrent failure while this password was being checked still holds.
    if app.db.login_locked_until(&input.username).await?.is_some() {
        return Err(AppError::too_many("account_locked", "登录失败次数过多，账号已暂时锁定，请稍后再试"));
    }
    let needs = user.role.needs_second_factor() && app.config.admin_second_factor;
    match (&user.totp_secret, &input.otp) {
        (None, _) if needs => {
            audit(app, actor, "sign_in_refused", "session", "403", Some(serde_json::json!({ "why": "second_factor_not_enrolled" })), peer)
                .await;
            return Err(AppError::forbidden(
                "second_factor_not_enrolled",
                "管理员账号须先绑定动态口令（haochaping users totp --username …），才能登录",
            ));
        }
        (None, _) => {}
        (Some(_), None) => {
            return Err(AppError::Credentials(DomainError::new("otp_required", "otp", "请输入动态口令（身份验证器中的 6 位数字）")));
        }
        (Some(enc), Some(code)) => {
            let secret = app.secrets.decrypt(enc)?;
            let secret = hcp_domain::totp::base32_decode(&secret)
                .filter(|s| s.len() >= 10)
                .ok_or_else(|| AppError::internal("a second factor's secret is corrupt"))?;
            // A code is good once: its time step must be later than the last one accepted.
            let step = hcp_domain::totp::verify(&secret, code, Timestamp::now().micros() / 1_000_000);
            let fresh = match step {
                Some(s) => app.db.use_totp_step(&user.id, s).await?,
                None => false,
            };
            if !fresh {
                failed(app, &input.username, &actor, "otp", peer).await;
                return Err(AppError::Credentials(DomainError::new("invalid_otp", "otp", "动态口令错误、已过期或已使用过")));
            }
        }
    }
    // A fresh session every time: whatever token the browser brought is ended (no session fixation).
    if let Some(old) = previous {
        app.db.delete_session(old).await?;
    }
    let token = random_token();
    app.db.create_session(&user.id, &token, app.config.session_ttl_secs).await?;
    app.db.clear_login_failures(&user.username).await?;
    audit(app, actor, "sign_in", "session", "200", None, peer).await;
    Ok(Started { user, token })
}

/// The signed-in staff member of a session token, if the session is alive.
pub async fn session_user(app: &App, token: &str) -> AppResult<Option<User>> {
    if token.len() > 200 {
        return Ok(None);
    }
    Ok(app.db.session_user(token, app.config.session_idle_secs).await?)
}

/// Ends a session (the token the browser brought).
pub async fn sign_out(app: &App, user: Option<&User>, token: Option<&str>, peer: Option<IpAddr>) -> AppResult<()> {
    if let Some(t) = token {
        app.db.delete_session(t).await?;
    }
    if let Some(u) = user {
        audit(app, format!("staff:{}", u.username), "sign_out", "session", "204", None, peer).await;
    }
    Ok(())
}

/// Ends every session of the signed-in account, on every device; returns how many.
pub async fn sign_out_everywhere(app: &App, user: &User, peer: Option<IpAddr>) -> AppResult<u64> {
    let ended = app.db.delete_user_sessions(&user.id).await?;
    audit(
        app,
        format!("staff:{}", user.username),
        "sign_out_everywhere",
        "session",
        "200",
        Some(serde_json::json!({ "sessions": ended })),
        peer,
    )
    .await;
    Ok(ended)
}
