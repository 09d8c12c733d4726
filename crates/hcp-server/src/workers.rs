//! Background work of a server node: the deadline sweeps (`hcp_app::sweeps`) and the invitations' reminders. Safe with any number of nodes on
//! one database.

use std::time::Duration;

use hcp_app::App;
use hcp_app::sweeps::{sweep_overdue, warn_due_today};

/// Runs the deadline sweeps every `interval` until the process ends.
pub async fn run_sweeper(app: App, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match warn_due_today(&app).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(warned = n, "units warned of deadlines falling today"),
            Err(e) => tracing::warn!(error = %e, "due-today sweep failed"),
        }
        match sweep_overdue(&app).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(marked = n, "cases marked overdue and escalated"),
            Err(e) => tracing::warn!(error = %e, "deadline sweep failed"),
        }
        match hcp_app::rectify::sweep_overdue(&app).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(escalated = n, "overdue rectifications escalated"),
            Err(e) => tracing::warn!(error = %e, "rectification sweep failed"),
        }
        match hcp_app::invitations::sweep(&app).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(reminded = n, "invitations to rate reminded"),
            Err(e) => tracing::warn!(error = %e, "invitation sweep failed"),
        }
    }
}
