//! The business day: a date in Asia/Shanghai, the unit of every deadline, rollup and report. Stored as the
//! integer `YYYYMMDD` (so that ranges sort and filter as numbers on both engines), shown as `YYYY-MM-DD`.
//! This is the one place that encodes and decodes that integer.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month};

use crate::error::DomainError;
use crate::timestamp::{SHANGHAI, Timestamp, format_date, parse_date};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BizDay(Date);

impl BizDay {
    pub fn from_date(d: Date) -> Self {
        BizDay(d)
    }

    pub fn today() -> Self {
        Timestamp::now().biz_day()
    }

    pub fn date(self) -> Date {
        self.0
    }

    /// `YYYYMMDD` as stored.
    pub fn key(self) -> i64 {
        i64::from(self.0.year()) * 10_000 + i64::from(u8::from(self.0.month())) * 100 + i64::from(self.0.day())
    }

    /// The day a stored `YYYYMMDD` names; `None` for a number that is no date.
    pub fn from_key(key: i64) -> Option<Self> {
        let year = i32::try_from(key / 10_000).ok()?;
        let month = Month::try_from(u8::try_from((key / 100) % 100).ok()?).ok()?;
        let day = u8::try_from(key % 100).ok()?;
        Date::from_calendar_date(year, month, day).ok().map(BizDay)
    }

    /// `YYYY-MM-DD` as a client writes it.
    pub fn parse(raw: &str, field: &str) -> Result<Self, DomainError> {
        parse_date(raw, field).map(BizDay)
    }

    pub fn year(self) -> i32 {
        self.0.year()
    }

    pub fn next(self) -> Self {
        self.0.next_day().map(BizDay).unwrap_or(self)
    }

    pub fn plus_days(self, days: i64) -> Self {
        self.0.checked_add(time::Duration::days(days)).map(BizDay).unwrap_or(self)
    }

    /// The first instant of this day in Asia/Shanghai.
    pub fn start(self) -> Timestamp {
        Timestamp::from_datetime(self.0.midnight().assume_offset(SHANGHAI))
    }

    /// An instant `hours` after the start of this day.
    pub fn at_hour(self, hours: i64) -> Timestamp {
        self.start().plus_seconds(hours * 3_600)
    }
}

impl fmt::Display for BizDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_date(self.0))
    }
}

impl From<Date> for BizDay {
    fn from(d: Date) -> Self {
        BizDay(d)
    }
}

impl Serialize for BizDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for BizDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        BizDay::parse(&raw, "date").map_err(|e| serde::de::Error::custom(e.message))
    }
}

impl Timestamp {
    /// The business day (Asia/Shanghai) this instant falls on.
    pub fn biz_day(self) -> BizDay {
        BizDay::from_date(self.biz_date())
    }
}

/// A reporting period of whole business days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: BizDay,
    pub to: BizDay,
}

impl Period {
    /// `from`/`to` as a client gives them (`YYYY-MM-DD`); by default the first of this month to today.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: BizDay) -> Result<Self, DomainError> {
        let from = match from {
            Some(f) => BizDay::parse(f, "from")?,
            None => BizDay(today.0.replace_day(1).unwrap_or(today.0)),
        };
        let to = match to {
            Some(t) => BizDay::parse(t, "to")?,
            None => today,
        };
        if to < from {
            return Err(DomainError::new("invalid_period", "to", "结束日期不能早于开始日期"));
        }
        Ok(Period { from, to })
    }

    /// A month given as `YYYY-MM` (this month by default), up to today at most: `(the month as written, period)`.
    pub fn month(raw: Option<&str>, today: BizDay) -> Result<(String, Self), DomainError> {
        let bad = || DomainError::new("invalid_date", "month", "月份格式应为 YYYY-MM");
        let month = match raw {
            Some(m) if m.len() == 7 => m.to_string(),
            Some(_) => return Err(bad()),
            None => today.to_string()[..7].to_string(),
        };
        let first = BizDay::parse(&format!("{month}-01"), "month").map_err(|_| bad())?;
        let next = if first.0.month() == Month::December {
            Date::from_calendar_date(first.0.year() + 1, Month::January, 1)
        } else {
            Date::from_calendar_date(first.0.year(), first.0.month().next(), 1)
        }
        .map_err(|_| bad())?;
        let last = next.previous_day().map(BizDay).unwrap_or(first).min(today.max(first));
        Ok((month, Period { from: first, to: last }))
    }

    pub fn label(self) -> String {
        format!("{} 至 {}", self.from, self.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> BizDay {
        BizDay::parse(s, "d").unwrap()
    }

    #[test]
    fn keys_round_trip_and_refuse_non_dates() {
        let d = day("2026-02-28");
        assert_eq!(d.key(), 20260228);
        assert_eq!(BizDay::from_key(20260228), Some(d));
        assert_eq!(BizDay::from_key(20260230), None);
        assert_eq!(BizDay::from_key(-1), None);
        assert_eq!(d.to_string(), "2026-02-28");
        assert_eq!(d.next().to_string(), "2026-03-01");
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2026-02-28\"");
        assert_eq!(serde_json::from_str::<BizDay>("\"2026-02-28\"").unwrap(), d);
        assert!(serde_json::from_str::<BizDay>("\"2026-02-30\"").is_err());
    }

    #[test]
    fn periods() {
        let today = day("2026-12-03");
        let p = Period::parse(None, None, today).unwrap();
        assert_eq!((p.from.to_string(), p.to.to_string()), ("2026-12-01".into(), "2026-12-03".into()));
        assert_eq!(Period::parse(Some("2026-12-03"), Some("2026-12-01"), today).unwrap_err().code, "invalid_period");
        let (m, p) = Period::month(Some("2026-02"), today).unwrap();
        assert_eq!((m.as_str(), p.to.to_string().as_str()), ("2026-02", "2026-02-28"));
        let (_, p) = Period::month(None, today).unwrap();
        assert_eq!(p.to, today, "this month runs to today");
        let (_, p) = Period::month(Some("2026-12"), day("2026-12-31")).unwrap();
        assert_eq!(p.to.to_string(), "2026-12-31");
        assert!(Period::month(Some("2026-13"), today).is_err());
        assert!(Period::month(Some("26-1"), today).is_err());
    }
}
