//! The deadline sweeps every node runs. What must happen once is made so by the database (a flag inserted in
//! the same transaction as the event), not by hoping only one node runs.

use hcp_domain::Timestamp;
use hcp_domain::case_event::EventDetail;
use hcp_domain::records::CaseEvent;
use hcp_storage::cases::{Due, sweep_flag};

use crate::App;
use crate::error::AppResult;

/// Whether a pending 复核 stands the clock still for this case.
fn paused(app: &App, d: &Due) -> bool {
    app.config.appeal_stops_clock && d.appeal_pending
}

/// Marks every case whose response or reply deadline has passed as overdue, once per case, step and deadline,
/// and escalates it (督办) to the top of the unit tree (the county). Returns how many this node marked.
#[tracing::instrument(skip_all)]
pub async fn sweep_overdue(app: &App) -> AppResult<usize> {
    let now = Timestamp::now();
    let candidates = app.db.overdue_candidates(now.biz_day()).await?;
    let master = app.master();
    let mut marked = 0;
    for d in candidates.iter().filter(|d| !paused(app, d)) {
        let detail = EventDetail::Overdue {
            step: d.step,
            deadline: d.deadline,
            escalated_to: Some(master.top_of(&d.unit_code)),
            note: format!("{}已超期（期限 {}），已提请督办", d.step.label(), d.deadline),
        };
        let event = CaseEvent::new(&d.case_id, "system", now, d.state, &detail);
        match app.db.append_case_event_once(&event, d.state, None, Some(&sweep_flag("overdue", d.step, d.deadline))).await {
            Ok(Some(_)) => marked += 1,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, case = %d.case_id, "could not mark a case overdue"),
        }
    }
    Ok(marked)
}

/// Warns the unit of every case whose response or reply deadline is today (once per case, step and deadline):
/// a `due_warning` event on the case, which the notifier turns into messages. Returns how many this node warned.
#[tracing::instrument(skip_all)]
pub async fn warn_due_today(app: &App) -> AppResult<usize> {
    let now = Timestamp::now();
    let mut warned = 0;
    for d in app.db.due_today_candidates(now.biz_day()).await?.iter().filter(|d| !paused(app, d)) {
        let detail =
            EventDetail::DueWarning {
                step: d.step, deadline: d.deadline, note: format!("{}期限为今天，已提醒承办单位", d.step.label())
            };
        let event = CaseEvent::new(&d.case_id, "system", now, d.state, &detail);
        match app.db.append_case_event_once(&event, d.state, None, Some(&sweep_flag("due", d.step, d.deadline))).await {
            Ok(Some(_)) => warned += 1,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, case = %d.case_id, "could not warn of a deadline"),
        }
    }
    Ok(warned)
}
