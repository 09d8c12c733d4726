//! The `haochaping` binary as a library, so tests start exactly what production starts:
//! `open(…) -> AppState`, `build_app(state) -> Router`, `serve(listener, app, shutdown)`.

pub mod bench;
pub mod config_file;
pub mod demo;
pub mod notify;
pub mod province;
pub mod secrets;
pub mod workers;

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use hcp_app::{App, Config};
use hcp_storage::Db;
use hcp_storage::pii::Secrets;
use hcp_web::AppState;
pub use hcp_web::middleware::loggable_path;

/// Connects to `sqlite://PATH` or `postgres://…`, saying which when the address is neither.
pub async fn connect(url: &str) -> anyhow::Result<Db> {
    if !["sqlite:", "postgres://", "postgresql://"].iter().any(|p| url.starts_with(p)) {
        anyhow::bail!("不支持的数据库地址：{}（应为 sqlite://路径 或 postgres://用户@主机/库）", redact(url));
    }
    Db::connect(url).await.with_context(|| format!("无法连接数据库 {}", redact(url)))
}

/// Connects, migrates, and builds the application (the default catalogue and calendar on first start).
pub async fn open(database_url: &str, secrets: Secrets, config: Config) -> anyhow::Result<AppState> {
    let db = connect(database_url).await?;
    db.migrate().await.context("数据库迁移失败")?;
    open_db(db, secrets, config).await
}

/// As `open`, on a connected and migrated database.
pub async fn open_db(db: Db, secrets: Secrets, config: Config) -> anyhow::Result<AppState> {
    if let Some(id) = db.pii_key_in_force().await?
        && !secrets.reads_key(&id)
    {
        anyhow::bail!("个人信息已轮换为密钥 {id}，而本机的密钥文件不含该密钥：请使用轮换后的密钥文件（每行一个主密钥）");
    }
    Ok(AppState::new(App::new(db, secrets, config).await?))
}

/// The router with its request id and request log: every log line of a request carries its id.
pub fn build_app(state: AppState) -> Router {
    let ids = axum::middleware::from_fn_with_state(state.clone(), hcp_web::middleware::request_id::assign);
    hcp_web::build_router(state)
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    let id = req.headers().get(hcp_web::middleware::request_id::HEADER).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("http", request_id = %id, method = %req.method(), path = %loggable_path(req.uri().path()))
                })
                // One line per request, with its status and time, in the request's span (so with its id).
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(ids)
}

/// Serves until `shutdown` resolves (requests under way are finished first), with peer addresses available
/// to handlers.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

/// Ctrl-C, or the SIGTERM that systemd and containers send: either begins a graceful shutdown.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing requests under way");
}

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

/// Logs to stderr, as text for people or as JSON lines for a log collector.
pub fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HCP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,haochaping=info,hcp_app=info,hcp_web=info,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json {
        builder.json().with_current_span(true).with_span_list(false).try_init()
    } else {
        builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init()
    };
}
