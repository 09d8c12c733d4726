//! Background work of a server node. Safe with any number of nodes on one database: what must happen once is
//! made so by the database (a flag inserted in the same transaction), not by hoping only one node runs.

use std::time::Duration;

use hcp_domain::Timestamp;
use hcp_storage::cases::CaseEvent;
use hcp_web::AppState;

fn format_day(key: i64) -> String {
    format!("{:04}-{:02}-{:02}", key / 10_000, (key / 100) % 100, key % 100)
}

/// Marks every case whose response or reply deadline has passed as overdue, once per case, step and deadline,
/// and escalates it (督办) to the top of the unit tree (the county). Returns how many this node marked.
pub async fn sweep_overdue(state: &AppState) -> anyhow::Result<usize> {
    let now = Timestamp::now();
    let candidates = state.db.overdue_candidates(now.biz_day()).await?;
    if candidates.is_empty() {
        return Ok(0);
    }
    let master = state.master();
    let mut marked = 0;
    for (case_id, unit, case_state, step, deadline, _reply_by) in candidates {
        // A pending 复核 stops the clock where configuration says so.
        if state.config.appeal_stops_clock && state.db.appeal_of(&case_id).await?.is_some_and(|(_, s)| s.starts_with("pending")) {
            continue;
        }
        let county = master.top_of(&unit);
        let label = if step == "respond" { "响应" } else { "答复" };
        let event = CaseEvent {
            id: uuid::Uuid::now_v7().to_string(),
            case_id: case_id.clone(),
            kind: "overdue".into(),
            actor: "system".into(),
            at: now.micros(),
            state_after: case_state.clone(),
            note: Some(
                serde_json::json!({
                    "step": step,
                    "deadline": format_day(deadline),
                    "unit": unit,
                    "escalated_to": county,
                    "note": format!("{label}已超期（期限 {}），已提请督办", format_day(deadline)),
                })
                .to_string(),
            ),
        };
        let flag = format!("overdue_{step}_{deadline}");
        match state.db.append_case_event_once(&event, &case_state, None, Some(&flag)).await {
            Ok(Some(_)) => marked += 1,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, case = %case_id, "could not mark a case overdue"),
        }
    }
    Ok(marked)
}

/// Warns the unit of every case whose response or reply deadline is today (once per case, step and deadline):
/// a `due_warning` event on the case, which the notifier turns into messages. Returns how many this node warned.
pub async fn warn_due_today(state: &AppState) -> anyhow::Result<usize> {
    let now = Timestamp::now();
    let mut warned = 0;
    for (case_id, case_state, step, deadline) in state.db.due_today_candidates(now.biz_day()).await? {
        if state.config.appeal_stops_clock && state.db.appeal_of(&case_id).await?.is_some_and(|(_, s)| s.starts_with("pending")) {
            continue;
        }
        let label = if step == "respond" { "响应" } else { "答复" };
        let event = CaseEvent {
            id: uuid::Uuid::now_v7().to_string(),
            case_id: case_id.clone(),
            kind: "due_warning".into(),
            actor: "system".into(),
            at: now.micros(),
            state_after: case_state.clone(),
            note: Some(
                serde_json::json!({ "step": step, "deadline": format_day(deadline), "note": format!("{label}期限为今天，已提醒承办单位") })
                    .to_string(),
            ),
        };
        match state.db.append_case_event_once(&event, &case_state, None, Some(&format!("due_{step}_{deadline}"))).await {
            Ok(Some(_)) => warned += 1,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, case = %case_id, "could not warn of a deadline"),
        }
    }
    Ok(warned)
}

/// Runs the deadline sweep every `interval` until the process ends.
pub async fn run_sweeper(state: AppState, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match warn_due_today(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(warned = n, "units warned of deadlines falling today"),
            Err(e) => tracing::warn!(error = %e, "due-today sweep failed"),
        }
        match sweep_overdue(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(marked = n, "cases marked overdue and escalated"),
            Err(e) => tracing::warn!(error = %e, "deadline sweep failed"),
        }
    }
}
