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

/// A case's deadlines computed again on the calendar in force (a year's holiday notice was loaded): the
/// response deadline while the case still awaits its response, the reply deadline while it is still the one
/// computed at opening (an extension's date was chosen by a person and a reopening restarted the clock: those
/// stay). Returns `(respond_by, reply_by, still provisional)`.
pub fn recomputed(
    cal: &WorkCalendar,
    arrival: Date,
    awaiting_response: bool,
    current: (Date, Date),
    as_opened_reply_by: Date,
    rule: DeadlineRule,
) -> (Date, Date, bool) {
    let fresh = deadlines(cal, arrival, rule);
    let respond = if awaiting_response { fresh.respond_by } else { current.0 };
    let reply_recomputed = current.1 == as_opened_reply_by;
    let reply = if reply_recomputed { fresh.reply_by } else { current.1 };
    (respond, reply, fresh.provisional && (awaiting_response || reply_recomputed))
}

/// Classification for routing (分类交办): alleged misconduct also goes to the competent authority.
/// What a case came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// a bad review (差评)
    BadReview,
    /// a complaint (投诉)
    Complaint,
    /// a suggestion (意见建议)
    Suggestion,
    /// a supervision inspection's finding (监督查评)
    Inspection,
}

impl CaseKind {
    pub const ALL: [CaseKind; 4] = [CaseKind::BadReview, CaseKind::Complaint, CaseKind::Suggestion, CaseKind::Inspection];

    pub fn code(self) -> &'static str {
        match self {
            CaseKind::BadReview => "bad_review",
            CaseKind::Complaint => "complaint",
            CaseKind::Suggestion => "suggestion",
            CaseKind::Inspection => "inspection",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == s)
    }

    /// A complaint's or suggestion's kind as a client gives it.
    pub fn parse_submission(s: &str, field: &str) -> Result<Self, crate::DomainError> {
        match s {
            "complaint" => Ok(CaseKind::Complaint),
            "suggestion" => Ok(CaseKind::Suggestion),
            _ => Err(crate::DomainError::new("invalid_kind", field, "kind 应为 complaint（投诉）或 suggestion（意见建议）")),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CaseKind::BadReview => "差评",
            CaseKind::Complaint => "投诉",
            CaseKind::Suggestion => "意见建议",
            CaseKind::Inspection => "整改任务",
        }
    }
}

/// How a case is classified: a bad review alleging misconduct is also referred to the competent authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseCategory {
    ServiceQuality,
    Misconduct,
    Complaint,
    Suggestion,
    Supervision,
}

impl CaseCategory {
    pub const ALL: [CaseCategory; 5] = [
        CaseCategory::ServiceQuality,
        CaseCategory::Misconduct,
        CaseCategory::Complaint,
        CaseCategory::Suggestion,
        CaseCategory::Supervision,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CaseCategory::ServiceQuality => "service_quality",
            CaseCategory::Misconduct => "misconduct",
            CaseCategory::Complaint => "complaint",
            CaseCategory::Suggestion => "suggestion",
            CaseCategory::Supervision => "supervision",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == s)
    }

    /// A bad review: misconduct when one of its reasons alleges it.
    pub fn of_review(referral: bool) -> Self {
        if referral { CaseCategory::Misconduct } else { CaseCategory::ServiceQuality }
    }

    /// A case not opened by a rating.
    pub fn of_kind(kind: CaseKind) -> Self {
        match kind {
            CaseKind::BadReview => CaseCategory::ServiceQuality,
            CaseKind::Complaint => CaseCategory::Complaint,
            CaseKind::Suggestion => CaseCategory::Suggestion,
            CaseKind::Inspection => CaseCategory::Supervision,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CaseCategory::ServiceQuality => "服务质量",
            CaseCategory::Misconduct => "涉嫌违规（须移送）",
            CaseCategory::Complaint => "投诉",
            CaseCategory::Suggestion => "意见建议",
            CaseCategory::Supervision => "监督查评",
        }
    }
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
        assert_eq!(CaseCategory::of_review(true), CaseCategory::Misconduct);
    }

    #[test]
    fn provisional_deadlines_are_recomputed_once_the_notice_is_known() {
        let d = |s: &str| parse_date(s, "d").unwrap();
        let known = WorkCalendar::parse_csv(include_str!("../../../data/cn-official-calendar-2020-2026.csv")).unwrap();
        let rule = DeadlineRule::default();
        // Without 2027's notice, Thursday 2026-12-31 + 1 and + 5 working days are counted Monday–Friday.
        let before = WorkCalendar::new(known.clone(), []);
        let guessed = deadlines(&before, d("2026-12-31"), rule);
        assert_eq!((format_date(guessed.respond_by), format_date(guessed.reply_by)), ("2027-01-01".into(), "2027-01-07".into()));
        assert!(guessed.provisional);
        // The notice makes 1 January a holiday.
        let mut days = known;
        days.extend(WorkCalendar::parse_csv("2027-01-01,holiday,元旦\n").unwrap());
        let after = WorkCalendar::new(days, []);
        let (respond, reply, provisional) =
            recomputed(&after, d("2026-12-31"), true, (guessed.respond_by, guessed.reply_by), guessed.reply_by, rule);
        assert_eq!((format_date(respond), format_date(reply)), ("2027-01-04".into(), "2027-01-08".into()));
        assert!(!provisional);
        // Responded already: the response deadline is history; an extended reply deadline is a person's choice.
        let extended = d("2027-01-20");
        let (r2, p2, still) = recomputed(&after, d("2026-12-31"), false, (guessed.respond_by, extended), guessed.reply_by, rule);
        assert_eq!((r2, p2, still), (guessed.respond_by, extended, false));
    }
}
