//! What a case's history means for the rules: the facts the state machine needs (callbacks since the last
//! reopening, extensions, the cap on the reply deadline), how a step moves the deadline, and what a step
//! records. Kept apart from `case_flow` (the pure state machine) and `records` (what is stored).

use time::Date;

use crate::case_event::EventDetail;
use crate::case_flow::{Action, CaseFacts, CaseState, LoopLimits};

/// What [`apply`] needs to know of a case: from its record, its reply deadline as it stands, its history, the
/// calendar and the jurisdiction's limits.
pub fn facts(
    case: &crate::records::Case,
    reply_by: crate::bizday::BizDay,
    events: &[crate::records::CaseEvent],
    cal: &crate::work_calendar::WorkCalendar,
    limits: LoopLimits,
) -> CaseFacts {
    use crate::case_event::{EventDetail, EventKind};
    // Callbacks count from the last reopening: a reopened real-name case needs a new one.
    let since_reopen = events.iter().rposition(|e| e.is_reopening()).map(|i| i + 1).unwrap_or(0);
    // Extensions are capped counting from arrival, or from the reopening that restarted the clock.
    let restarted = match since_reopen {
        0 => case.arrival_day.date(),
        i => crate::Timestamp(events[i - 1].at).biz_date(),
    };
    let rule = crate::cases::DeadlineRule { respond_days: 0, reply_days: i64::from(limits.max_reply_days) };
    let mut cap = crate::cases::deadlines(cal, restarted, rule).reply_by;
    // Working days given back by rejected 复核 applications (clock stopped) move the cap as well.
    let paused: i64 = events
        .iter()
        .filter_map(|e| match e.detail() {
            Ok(EventDetail::AppealDecided { clock_stopped_working_days: Some(n), .. }) => Some(n),
            _ => None,
        })
        .sum();
    if paused > 0 {
        cap = cal.add_working_days(cap, paused, "reply_by").map(|r| r.date).unwrap_or(cap);
    }
    CaseFacts {
        real_name: case.real_name,
        callbacks: events[since_reopen..].iter().filter(|e| e.kind == EventKind::Callback).count() as u32,
        reopened: events.iter().filter(|e| e.is_reopening()).count() as u32,
        extensions: events.iter().filter(|e| e.kind == EventKind::Extended).count() as u32,
        reply_by: reply_by.date(),
        latest_reply_by: cap.max(reply_by.date()),
    }
}

/// The reply deadline after a step, when the step moves it: an extension to its new date; a reopening to the
/// normal period counted from today.
pub fn moved_reply_by(
    action: &Action,
    next: CaseState,
    cal: &crate::work_calendar::WorkCalendar,
    today: Date,
    rule: crate::cases::DeadlineRule,
) -> Option<Date> {
    match action {
        Action::Extend { new_reply_by, .. } => Some(*new_reply_by),
        Action::Verdict(_) if next == CaseState::Responded => Some(crate::cases::deadlines(cal, today, rule).reply_by),
        _ => None,
    }
}

/// The details an event records for a step.
pub fn detail_of(action: &Action, conveyed_by_staff: bool, comment: Option<String>) -> EventDetail {
    use EventDetail;
    match action {
        Action::Respond { note } => EventDetail::Responded { note: note.clone() },
        Action::Callback { method, reached, summary } => {
            EventDetail::Callback { method: method.clone(), reached: *reached, summary: summary.clone() }
        }
        Action::Decide(o) => EventDetail::Outcome { outcome: o.into() },
        Action::Extend { new_reply_by, reason } => {
            EventDetail::Extended { new_reply_by: (*new_reply_by).into(), reason: reason.clone(), notify_rater: true }
        }
        Action::Reply { text } => EventDetail::Replied { text: text.clone(), filed: true },
        Action::Verdict(v) => EventDetail::Verdict { verdict: *v, comment, conveyed_by_staff },
    }
}
