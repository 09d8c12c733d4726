//! Working days under China's official holiday arrangements (国务院办公厅节假日安排), including make-up working
//! weekends (调休), and the deadline rule of the bad-review loop.
//!
//! The calendar is data: a set of dated exceptions (holidays on weekdays, working weekends) per year whose notice
//! is loaded. Any other Monday–Friday is a working day. For a year after the last loaded notice, Monday–Friday is
//! assumed and the answer is marked provisional; a year before the first loaded notice is refused.

use std::collections::{BTreeMap, BTreeSet};

use time::{Date, Duration, Weekday};

use crate::error::DomainError;
use crate::timestamp::parse_date;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    /// A day off, including the weekend days inside a holiday period.
    Holiday,
    /// A weekend day that is a working day (调休上班).
    Workday,
}

impl DayKind {
    pub fn code(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::Workday => "workday",
        }
    }

    pub fn parse(s: &str, field: &str) -> Result<Self, DomainError> {
        match s.trim() {
            "holiday" => Ok(DayKind::Holiday),
            "workday" => Ok(DayKind::Workday),
            _ => Err(DomainError::new("invalid_day_kind", field, "日期类型应为 holiday（放假）或 workday（调休上班）")),
        }
    }
}

/// One dated exception with the holiday it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDay {
    pub date: Date,
    pub kind: DayKind,
    pub name: String,
}

/// The answer of a working-day computation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingDayResult {
    pub date: Date,
    /// True when a year without a loaded notice was crossed (Monday–Friday assumed): recompute when it is loaded.
    pub provisional: bool,
    /// Years crossed whose notice is not loaded.
    pub missing_years: Vec<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    days: BTreeMap<Date, DayKind>,
    years: BTreeSet<i32>,
}

/// How far past the last loaded notice a provisional answer is still given.
pub const PROVISIONAL_YEARS: i32 = 2;
pub const MAX_DAYS: i64 = 366;

impl WorkCalendar {
    pub fn new(days: impl IntoIterator<Item = CalendarDay>, years: impl IntoIterator<Item = i32>) -> Self {
        let mut cal = WorkCalendar { days: BTreeMap::new(), years: years.into_iter().collect() };
        for d in days {
            cal.years.insert(d.date.year());
            cal.days.insert(d.date, d.kind);
        }
        cal
    }

    /// Parses the CSV of `data/cn-official-calendar-*.csv`: `date,kind,holiday`, `#` comments. Every year that
    /// appears is taken as loaded. Errors name the line.
    pub fn parse_csv(text: &str) -> Result<Vec<CalendarDay>, DomainError> {
        let mut out: Vec<CalendarDay> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with("date,") {
                continue;
            }
            let field = format!("line {}", i + 1);
            let mut parts = line.splitn(3, ',');
            let (Some(date), Some(kind)) = (parts.next(), parts.next()) else {
                return Err(DomainError::new("invalid_calendar", field, format!("第 {} 行格式错误，应为 日期,类型,节日名称", i + 1)));
            };
            let date =
                parse_date(date, &field).map_err(|_| DomainError::new("invalid_calendar", &field, format!("第 {} 行日期错误", i + 1)))?;
            let kind = DayKind::parse(kind, &field)
                .map_err(|_| DomainError::new("invalid_calendar", &field, format!("第 {} 行类型错误", i + 1)))?;
            let weekend = matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday);
            if kind == DayKind::Workday && !weekend {
                return Err(DomainError::new("invalid_calendar", field, format!("第 {} 行：调休上班日必须是周末", i + 1)));
            }
            if !seen.insert(date) {
                return Err(DomainError::new("invalid_calendar", "date", format!("日期 {} 重复出现", crate::timestamp::format_date(date))));
            }
            out.push(CalendarDay { date, kind, name: parts.next().unwrap_or("").trim().to_string() });
        }
        Ok(out)
    }

    pub fn loaded_years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }

    pub fn has_year(&self, year: i32) -> bool {
        self.years.contains(&year)
    }

    fn check_year(&self, year: i32, field: &str) -> Result<(), DomainError> {
        let (Some(first), Some(last)) = (self.years.first(), self.years.last()) else {
            return Err(DomainError::new("calendar_not_loaded", field, "尚未导入任何年度的节假日安排"));
        };
        if year < *first || year > last + PROVISIONAL_YEARS {
            return Err(DomainError::new(
                "calendar_not_loaded",
                field,
                format!("{year} 年不在已导入的节假日安排范围内（{first}–{last} 年，可临时推算至 {} 年）", last + PROVISIONAL_YEARS),
            ));
        }
        Ok(())
    }

    /// Whether `d` is a working day: an official exception if there is one, else Monday–Friday.
    pub fn is_working_day(&self, d: Date) -> bool {
        match self.days.get(&d) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            None => !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday),
        }
    }

    /// The `n`-th working day after `start` (the day of arrival is not counted): the last allowed day of a
    /// deadline of `n` working days. `n = 0` is `start` itself.
    pub fn add_working_days(&self, start: Date, n: i64, field: &str) -> Result<WorkingDayResult, DomainError> {
        if !(0..=MAX_DAYS).contains(&n) {
            return Err(DomainError::new("invalid_days", "days", format!("工作日天数应在 0 到 {MAX_DAYS} 之间")));
        }
        self.check_year(start.year(), field)?;
        let mut d = start;
        let mut left = n;
        let mut missing = BTreeSet::new();
        if !self.has_year(d.year()) {
            missing.insert(d.year());
        }
        while left > 0 {
            d = d.checked_add(Duration::days(1)).ok_or_else(|| DomainError::new("invalid_date", field, "日期超出范围"))?;
            if !self.has_year(d.year()) {
                self.check_year(d.year(), field)?;
                missing.insert(d.year());
            }
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        Ok(WorkingDayResult { date: d, provisional: !missing.is_empty(), missing_years: missing.into_iter().collect() })
    }

    /// Working days in `from..=to`.
    pub fn working_days_between(&self, from: Date, to: Date) -> i64 {
        let mut n = 0;
        let mut d = from;
        while d <= to {
            if self.is_working_day(d) {
                n += 1;
            }
            match d.checked_add(Duration::days(1)) {
                Some(next) => d = next,
                None => break,
            }
        }
        n
    }
}

/// When work with last allowed day `deadline` becomes overdue: 00:00 Asia/Shanghai of the next day.
pub fn overdue_from(deadline: Date) -> crate::Timestamp {
    let next = deadline.next_day().unwrap_or(deadline);
    crate::Timestamp::from_datetime(next.midnight().assume_offset(crate::timestamp::SHANGHAI))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> WorkCalendar {
        let days = WorkCalendar::parse_csv(include_str!("../../../data/cn-official-calendar-2020-2026.csv")).unwrap();
        WorkCalendar::new(days, [])
    }

    fn d(s: &str) -> Date {
        parse_date(s, "d").unwrap()
    }

    fn add(c: &WorkCalendar, s: &str, n: i64) -> String {
        crate::timestamp::format_date(c.add_working_days(d(s), n, "date").unwrap().date)
    }

    #[test]
    fn spring_festival_and_national_day_2025() {
        let c = cal();
        // 2025 春节: off 01-28..02-04, make-up workdays Sun 01-26 and Sat 02-08.
        assert!(c.is_working_day(d("2025-01-26")));
        assert!(!c.is_working_day(d("2025-01-28")));
        assert_eq!(add(&c, "2025-01-24", 1), "2025-01-26", "Friday + 1 lands on the make-up Sunday");
        assert_eq!(add(&c, "2025-01-26", 1), "2025-01-27");
        assert_eq!(add(&c, "2025-01-27", 1), "2025-02-05", "the whole holiday is skipped");
        assert_eq!(add(&c, "2025-02-05", 3), "2025-02-08", "Wed + 3: Thu, Fri, make-up Saturday");
        // 2025 国庆+中秋: off 10-01..10-08, make-up Sun 09-28 and Sat 10-11.
        assert_eq!(add(&c, "2025-09-26", 1), "2025-09-28");
        assert_eq!(add(&c, "2025-09-30", 1), "2025-10-09");
        assert_eq!(add(&c, "2025-09-30", 5), "2025-10-14", "09, 10, 11 (Sat, make-up), 13, 14");
        // 2025 劳动节: off 05-01..05-05, make-up Sun 04-27.
        assert_eq!(add(&c, "2025-04-25", 1), "2025-04-27");
        assert_eq!(add(&c, "2025-04-30", 1), "2025-05-06");
    }

    #[test]
    fn holidays_2026() {
        let c = cal();
        // 元旦 01-01..01-03, make-up Sun 01-04.
        assert_eq!(add(&c, "2025-12-31", 1), "2026-01-04");
        // 春节 02-15..02-23, make-up Sat 02-14 and Sat 02-28.
        assert_eq!(add(&c, "2026-02-13", 1), "2026-02-14");
        assert_eq!(add(&c, "2026-02-14", 1), "2026-02-24");
        assert_eq!(add(&c, "2026-02-24", 4), "2026-02-28", "Tue + 4: 25, 26, 27, then the make-up Saturday");
        assert_eq!(add(&c, "2026-02-24", 5), "2026-03-02", "the Sunday after it is off again");
        // 国庆 10-01..10-07, make-up Sun 09-20 and Sat 10-10.
        assert_eq!(add(&c, "2026-09-30", 1), "2026-10-08");
        assert_eq!(add(&c, "2026-10-08", 2), "2026-10-10");
        assert_eq!(c.working_days_between(d("2025-01-01"), d("2025-12-31")), 248);
        assert_eq!(c.working_days_between(d("2026-01-01"), d("2026-12-31")), 248);
    }

    #[test]
    fn years_without_a_notice() {
        let c = cal();
        let r = c.add_working_days(d("2026-12-30"), 3, "date").unwrap();
        assert!(r.provisional);
        assert_eq!(r.missing_years, vec![2027]);
        assert_eq!(crate::timestamp::format_date(r.date), "2027-01-04", "Mon–Fri assumed in 2027");
        assert!(!c.add_working_days(d("2026-12-01"), 5, "date").unwrap().provisional);
        assert_eq!(c.add_working_days(d("2019-06-03"), 1, "date").unwrap_err().code, "calendar_not_loaded");
        assert_eq!(c.add_working_days(d("2030-06-03"), 1, "date").unwrap_err().code, "calendar_not_loaded");
        assert_eq!(c.add_working_days(d("2026-06-03"), -1, "date").unwrap_err().code, "invalid_days");
        assert_eq!(WorkCalendar::default().add_working_days(d("2026-06-03"), 1, "date").unwrap_err().code, "calendar_not_loaded");
    }

    #[test]
    fn overdue_starts_at_shanghai_midnight() {
        let t = overdue_from(d("2026-10-08"));
        assert_eq!(t.to_rfc3339(), "2026-10-09T00:00:00+08:00");
    }

    #[test]
    fn bad_csv_names_the_line() {
        let e = WorkCalendar::parse_csv("date,kind,holiday\n2026-01-04,workday,元旦\n2026-01-05,workday,x\n").unwrap_err();
        assert!(e.message.contains("第 3 行"), "{}", e.message);
        assert!(WorkCalendar::parse_csv("2026-13-01,holiday,x").is_err());
    }
}
