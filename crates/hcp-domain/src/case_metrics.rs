//! Loop metrics per unit and period (S-11, S-13): so that open overdue work cannot hide.
//!
//! - callback rate (实名差评回访率) = real-name cases with at least one callback / real-name cases;
//! - on-time response rate = responded by `respond_by` / (responded + still unresponded after `respond_by`);
//! - on-time reply rate = replied by `reply_by` (as extended) / (replied + still unreplied after `reply_by`);
//! - rectification rate (整改率) = outcomes 立行立改 or 台账 / outcomes other than 不予采纳 (invalid).

use time::Date;

use crate::case_event::{EventDetail, EventKind};
use crate::case_flow::OutcomeKind;
use crate::records::{Case, CaseEvent};
use crate::stats::rate;

/// What the metrics need to know about one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFactsForMetrics {
    pub real_name: bool,
    pub callbacks: u32,
    pub respond_by: Date,
    /// the day of the first response, if any
    pub responded_on: Option<Date>,
    /// the reply deadline as extended
    pub reply_by: Date,
    /// the day of the first reply, if any
    pub replied_on: Option<Date>,
    /// the latest outcome, if any
    pub outcome: Option<OutcomeKind>,
}

/// What the metrics count of one case, from its record, its reply deadline as extended and its history; `None`
/// for a bad review found untrue by 复核, which was no work the unit owed.
pub fn facts(case: &Case, reply_by: crate::bizday::BizDay, events: &[CaseEvent]) -> Option<CaseFactsForMetrics> {
    let details: Vec<(&CaseEvent, Option<EventDetail>)> = events.iter().map(|e| (e, e.detail().ok())).collect();
    if details.iter().any(|(_, d)| matches!(d, Some(EventDetail::AppealDecided { upheld: true, .. }))) {
        return None;
    }
    let first = |kind: EventKind| events.iter().find(|e| e.kind == kind).map(|e| crate::Timestamp(e.at).biz_date());
    let outcome = details.iter().rev().find_map(|(_, d)| match d {
        Some(EventDetail::Outcome { outcome }) => Some(outcome.kind()),
        _ => None,
    });
    // The response deadline as opened, or as recomputed once a year's holiday notice was loaded.
    let respond_by = details
        .iter()
        .rev()
        .find_map(|(_, d)| match d {
            Some(EventDetail::DeadlinesRecomputed { respond_by, .. }) => Some(respond_by.date()),
            _ => None,
        })
        .unwrap_or(case.respond_by.date());
    Some(CaseFactsForMetrics {
        real_name: case.real_name,
        callbacks: events.iter().filter(|e| e.kind == EventKind::Callback).count() as u32,
        respond_by,
        responded_on: first(EventKind::Responded),
        reply_by: reply_by.date(),
        replied_on: first(EventKind::Replied),
        outcome,
    })
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoopMetrics {
    pub cases: i64,
    pub real_name: i64,
    pub real_name_called_back: i64,
    pub callback_rate: Option<f64>,
    pub responded_on_time: i64,
    pub responded_late: i64,
    pub unresponded_overdue: i64,
    pub on_time_response_rate: Option<f64>,
    pub replied_on_time: i64,
    pub replied_late: i64,
    pub unreplied_overdue: i64,
    pub on_time_reply_rate: Option<f64>,
    pub rectified: i64,
    pub explained: i64,
    pub invalid: i64,
    pub rectification_rate: Option<f64>,
}

/// Computes the metrics as of `today` (a deadline is overdue from the day after it).
pub fn loop_metrics<'a>(cases: impl IntoIterator<Item = &'a CaseFactsForMetrics>, today: Date) -> LoopMetrics {
    let mut m = LoopMetrics::default();
    for c in cases {
        m.cases += 1;
        if c.real_name {
            m.real_name += 1;
            if c.callbacks > 0 {
                m.real_name_called_back += 1;
            }
        }
        match c.responded_on {
            Some(d) if d <= c.respond_by => m.responded_on_time += 1,
            Some(_) => m.responded_late += 1,
            None if today > c.respond_by => m.unresponded_overdue += 1,
            None => {}
        }
        match c.replied_on {
            Some(d) if d <= c.reply_by => m.replied_on_time += 1,
            Some(_) => m.replied_late += 1,
            None if today > c.reply_by => m.unreplied_overdue += 1,
            None => {}
        }
        match c.outcome {
            Some(OutcomeKind::FixedAtOnce | OutcomeKind::Ledger) => m.rectified += 1,
            Some(OutcomeKind::Explained) => m.explained += 1,
            Some(OutcomeKind::Invalid) => m.invalid += 1,
            None => {}
        }
    }
    m.callback_rate = rate(m.real_name_called_back, m.real_name);
    m.on_time_response_rate = rate(m.responded_on_time, m.responded_on_time + m.responded_late + m.unresponded_overdue);
    m.on_time_reply_rate = rate(m.replied_on_time, m.replied_on_time + m.replied_late + m.unreplied_overdue);
    m.rectification_rate = rate(m.rectified, m.rectified + m.explained);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_date;

    fn d(s: &str) -> Date {
        parse_date(s, "d").unwrap()
    }

    #[test]
    fn open_overdue_work_counts_against_the_unit() {
        let base = CaseFactsForMetrics {
            real_name: true,
            callbacks: 1,
            respond_by: d("2026-11-02"),
            responded_on: Some(d("2026-11-02")),
            reply_by: d("2026-11-06"),
            replied_on: Some(d("2026-11-05")),
            outcome: Some(OutcomeKind::FixedAtOnce),
        };
        let late = CaseFactsForMetrics {
            responded_on: Some(d("2026-11-03")),
            replied_on: Some(d("2026-11-09")),
            outcome: Some(OutcomeKind::Explained),
            ..base.clone()
        };
        let forgotten = CaseFactsForMetrics { callbacks: 0, responded_on: None, replied_on: None, outcome: None, ..base.clone() };
        let fresh = CaseFactsForMetrics {
            real_name: false,
            respond_by: d("2026-11-30"),
            responded_on: None,
            reply_by: d("2026-12-04"),
            replied_on: None,
            outcome: None,
            ..base.clone()
        };
        let invalid = CaseFactsForMetrics { outcome: Some(OutcomeKind::Invalid), ..base.clone() };
        let m = loop_metrics([&base, &late, &forgotten, &fresh, &invalid], d("2026-11-30"));
        assert_eq!(m.cases, 5);
        assert_eq!((m.real_name, m.real_name_called_back, m.callback_rate), (4, 3, Some(0.75)));
        assert_eq!((m.responded_on_time, m.responded_late, m.unresponded_overdue), (2, 1, 1), "the fresh case is not overdue yet");
        assert_eq!(m.on_time_response_rate, Some(0.5));
        assert_eq!((m.replied_on_time, m.replied_late, m.unreplied_overdue), (2, 1, 1));
        assert_eq!(m.on_time_reply_rate, Some(0.5));
        assert_eq!((m.rectified, m.explained, m.invalid, m.rectification_rate), (1, 1, 1, Some(0.5)));
        assert_eq!(loop_metrics([], d("2026-11-30")).on_time_reply_rate, None);
    }
}
