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

/// A case whose deadlines moved when a year's holiday notice was loaded.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeadlineChange {
    pub case_id: String,
    pub unit_code: String,
    pub unit_name: String,
    /// before → after (`YYYY-MM-DD`)
    pub respond_by: (String, String),
    pub reply_by: (String, String),
    /// still provisional (another year's notice is missing)
    pub provisional: bool,
}

/// Recomputes the deadlines of every open case that were computed across a year whose notice was missing,
/// on the calendar now in force (call it after loading notices). A case whose deadlines move gets a
/// `deadlines_recomputed` step on the ledger, which tells its unit; one whose deadlines stay is only no longer
/// marked provisional. Returns the cases whose deadlines moved. Safe to run on any node, any number of times.
#[tracing::instrument(skip_all)]
pub async fn recompute_deadlines(app: &App, years: &[i32]) -> AppResult<Vec<DeadlineChange>> {
    let cal = app.calendar().await?;
    let rule = app.config.deadline_rule;
    let now = Timestamp::now();
    let master = app.master();
    let mut changed = Vec::new();
    for s in app.db.provisional_cases().await? {
        let c = &s.case;
        let from = (s.respond_by, s.reply_by);
        let (respond, reply, provisional) = hcp_domain::cases::recomputed(
            &cal,
            c.arrival_day.date(),
            s.state == hcp_domain::case_flow::CaseState::Open,
            (s.respond_by.date(), s.reply_by.date()),
            c.reply_by.date(),
            rule,
        );
        let to = (hcp_domain::BizDay::from(respond), hcp_domain::BizDay::from(reply));
        if to == from {
            if !provisional {
                app.db.settle_deadlines(&c.id, from).await?;
            }
            continue;
        }
        let detail = EventDetail::DeadlinesRecomputed {
            years: years.to_vec(),
            respond_by: to.0,
            reply_by: to.1,
            previous_respond_by: from.0,
            previous_reply_by: from.1,
            provisional,
        };
        let event = CaseEvent::new(&c.id, "system", now, s.state, &detail);
        if app.db.move_deadlines(&event, from, to, provisional).await? {
            changed.push(DeadlineChange {
                case_id: c.id.clone(),
                unit_code: c.unit_code.clone(),
                unit_name: master.unit_name(&c.unit_code).unwrap_or_else(|| c.unit_code.clone()),
                respond_by: (from.0.to_string(), to.0.to_string()),
                reply_by: (from.1.to_string(), to.1.to_string()),
                provisional,
            });
        }
    }
    Ok(changed)
}
