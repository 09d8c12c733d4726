//! Who is calling: a machine key (`Authorization: Bearer hcp_…`), a staff session (cookie `hcp_session`),
//! or nobody. A rating token is not a caller: it travels in the rating and is checked there.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use hcp_storage::keys::ApiKey;
use hcp_storage::users::User;

use crate::error::ApiError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "hcp_session";
pub const KEY_PREFIX: &str = "hcp_";

#[derive(Debug, Clone)]
pub enum Caller {
    Key(ApiKey),
    Staff(User),
    /// No credential; `bearer` keeps a Bearer value that is not a key (a rating token may travel there).
    Anonymous {
        bearer: Option<String>,
    },
}

impl Caller {
    /// The unit a machine key or staff member belongs to.
    pub fn unit(&self) -> Option<&str> {
        match self {
            Caller::Key(k) => Some(&k.unit_code),
            Caller::Staff(u) => Some(&u.unit_code),
            Caller::Anonymous { .. } => None,
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Caller::Key(k) => Some(&k.id),
            Caller::Staff(u) => Some(&u.id),
            Caller::Anonymous { .. } => None,
        }
    }
}

pub fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Resolved once per request (the audit layer does it first).
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(c.clone());
        }
        let bearer = match parts.headers.get(header::AUTHORIZATION) {
            Some(v) => {
                let v = v.to_str().map_err(|_| ApiError::unauthorized())?;
                let Some(token) = v.strip_prefix("Bearer ") else { return Err(ApiError::unauthorized()) };
                Some(token.trim().to_string())
            }
            None => None,
        };
        if let Some(b) = &bearer
            && b.starts_with(KEY_PREFIX)
        {
            if b.len() > 200 {
                return Err(ApiError::unauthorized());
            }
            return match state.find_key(b).await? {
                Some(k) => Ok(Caller::Key(k)),
                None => Err(ApiError::unauthorized()),
            };
        }
        // A stale or forged session cookie makes the caller anonymous (a staff browser can still rate with a
        // token); endpoints that need a sign-in then answer 401.
        if let Some(token) = cookie_value(&parts.headers, SESSION_COOKIE)
            && token.len() <= 200
            && let Some(u) = state.db.session_user(&token, state.config.session_idle_secs).await?
        {
            return Ok(Caller::Staff(u));
        }
        Ok(Caller::Anonymous { bearer })
    }
}

/// The client's address (absent in in-process tests without connect info): the peer, or behind a configured
/// proxy the address it forwarded (`crate::guard::client_ip`).
pub struct PeerAddr(pub Option<std::net::SocketAddr>);

impl FromRequestParts<AppState> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
        Ok(PeerAddr(crate::guard::client_ip(state, peer, &parts.headers).map(|ip| std::net::SocketAddr::new(ip, 0))))
    }
}
