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
    // The top of the case unit's own tree (its county), so that several counties on one database stay apart.
    let top_of = |unit: &str| {
        let mut cur = unit.to_string();
        for _ in 0..64 {
            match master.units.get(&cur).and_then(|u| u.parent_code.clone()) {
                Some(p) => cur = p,
                None => break,
            }
        }
        cur
    };
    let mut marked = 0;
    for (case_id, unit, case_state, step, deadline, _reply_by) in candidates {
        let county = top_of(&unit);
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

/// Runs the deadline sweep every `interval` until the process ends.
pub async fn run_sweeper(state: AppState, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match sweep_overdue(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(marked = n, "cases marked overdue and escalated"),
            Err(e) => tracing::warn!(error = %e, "deadline sweep failed"),
        }
    }
}
