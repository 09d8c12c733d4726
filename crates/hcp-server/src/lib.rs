//! The `haochaping` binary as a library, so tests start exactly what production starts:
//! `build_app(config) -> Router`, `serve(listener, app, shutdown)`.

pub mod bench;
pub mod demo;
pub mod import;
pub mod notify;
pub mod passwords;
pub mod secrets;
pub mod workers;

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use hcp_storage::Db;
use hcp_storage::pii::Secrets;
use hcp_web::{AppState, WebConfig};

/// Connects, migrates, loads the catalogue and builds the application state.
pub async fn open(database_url: &str, secrets: Secrets, config: WebConfig) -> anyhow::Result<AppState> {
    let db = Db::connect(database_url).await.with_context(|| format!("无法连接数据库 {}", redact(database_url)))?;
    db.migrate().await.context("数据库迁移失败")?;
    db.ensure_catalogue().await.context("无法加载评价内容目录")?;
    if let Some(id) = db.pii_key_in_force().await?
        && !secrets.reads_key(&id)
    {
        anyhow::bail!("个人信息已轮换为密钥 {id}，而本机的密钥文件不含该密钥：请使用轮换后的密钥文件（每行一个主密钥）");
    }
    let mut state = AppState::new(db, secrets, config, passwords::verify).await?;
    state.master_import =
        Some(|db, kind, text| Box::pin(async move { import::import_text(&db, &kind, &text).await.map_err(|e| format!("{e:#}")) }));
    Ok(state)
}

pub fn build_app(state: AppState) -> Router {
    hcp_web::build_router(state).layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(
        |req: &axum::http::Request<_>| tracing::info_span!("http", method = %req.method(), path = %loggable_path(req.uri().path())),
    ))
}

/// Serves until `shutdown` resolves, with peer addresses available to handlers.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

pub use hcp_web::guard::loggable_path;

/// A database URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_do_not_reach_the_logs() {
        assert_eq!(super::loggable_path("/f/0193.1798604363.eqipkZUV"), "/f/…");
        assert_eq!(super::loggable_path("/api/v1/feedback/0193.17.sig/verdict"), "/api/v1/feedback/…/verdict");
        assert_eq!(super::loggable_path("/r/M-1.0.99.sig"), "/r/…");
        assert_eq!(super::loggable_path("/api/v1/cases"), "/api/v1/cases");
    }
}
