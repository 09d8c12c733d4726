//! Bad-review and complaint cases (差评/投诉工单): what opens one, where it goes ("谁办理、谁负责"), and its
//! deadlines in working days. The full state machine (response, callbacks, outcomes, reply, feedback, 复核)
//! builds on this.

use time::{Date, Duration, Weekday};

use crate::work_calendar::WorkCalendar;

/// Working days allowed per step, configuration per jurisdiction (the plan: respond in 1, reply in 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineRule {
    pub respond_days: i64,
    pub reply_days: i64,
}

impl Default for DeadlineRule {
    fn default() -> Self {
        DeadlineRule { respond_days: 1, reply_days: 5 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub respond_by: Date,
    pub reply_by: Date,
    /// Computed across a year whose holiday notice is not loaded (Monday–Friday assumed).
    pub provisional: bool,
}

fn monday_to_friday(start: Date, n: i64) -> Date {
    let mut d = start;
    let mut left = n;
    while left > 0 {
        match d.checked_add(Duration::days(1)) {
            Some(next) => d = next,
            None => return d,
        }
        if !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) {
            left -= 1;
        }
    }
    d
}

/// The deadlines of work arriving on `arrival`. Never fails: a rating must never be refused because of the
/// calendar, so outside the loaded notices it falls back to Monday–Friday and says so.
pub fn deadlines(cal: &WorkCalendar, arrival: Date, rule: DeadlineRule) -> Deadlines {
    let step = |n: i64| match cal.add_working_days(arrival, n, "date") {
        Ok(r) => (r.date, r.provisional),
        Err(_) => (monday_to_friday(arrival, n), true),
    };
    let (respond_by, p1) = step(rule.respond_days);
    let (reply_by, p2) = step(rule.reply_days);
    Deadlines { respond_by, reply_by, provisional: p1 || p2 }
}

/// Classification for routing (分类交办): alleged misconduct also goes to the competent authority.
pub fn category(referral: bool) -> &'static str {
    if referral { "misconduct" } else { "service_quality" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::{format_date, parse_date};

    #[test]
    fn deadlines_use_the_calendar_and_never_fail() {
        let cal = WorkCalendar::new(WorkCalendar::parse_csv(include_str!("../../../data/cn-official-calendar-2020-2026.csv")).unwrap(), []);
        let d = deadlines(&cal, parse_date("2026-09-30", "d").unwrap(), DeadlineRule::default());
        assert_eq!(
            (format_date(d.respond_by).as_str(), format_date(d.reply_by).as_str()),
            ("2026-10-08", "2026-10-13"),
            "10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13"
        );
        assert!(!d.provisional);
        let far = deadlines(&cal, parse_date("2035-06-01", "d").unwrap(), DeadlineRule::default());
        assert!(far.provisional);
        assert_eq!(format_date(far.reply_by), "2035-06-08");
        let empty =
            deadlines(&WorkCalendar::default(), parse_date("2026-11-27", "d").unwrap(), DeadlineRule { respond_days: 1, reply_days: 5 });
        assert_eq!(format_date(empty.respond_by), "2026-11-30", "Friday + 1 is Monday");
        assert_eq!(category(true), "misconduct");
    }
}
