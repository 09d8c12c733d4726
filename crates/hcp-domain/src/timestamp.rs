//! Time as stored: integer microseconds since the Unix epoch, UTC. Days are reasoned about in Asia/Shanghai
//! (UTC+08:00; China has no daylight saving time).

use time::{Date, OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};

use crate::error::DomainError;

pub const SHANGHAI: UtcOffset = time::macros::offset!(+8);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    pub fn from_datetime(dt: OffsetDateTime) -> Self {
        Timestamp((dt.unix_timestamp_nanos() / 1_000) as i64)
    }

    pub fn micros(self) -> i64 {
        self.0
    }

    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// RFC 3339 in Asia/Shanghai time, as the API shows it.
    pub fn to_rfc3339(self) -> String {
        self.to_datetime().to_offset(SHANGHAI).format(&Rfc3339).unwrap_or_default()
    }

    pub fn parse_rfc3339(raw: &str, field: &str) -> Result<Self, DomainError> {
        OffsetDateTime::parse(raw, &Rfc3339).map(Self::from_datetime).map_err(|_| {
            DomainError::new("invalid_timestamp", field, "时间格式不正确，应为带时区的 RFC 3339 格式，如 2026-11-30T09:30:00+08:00")
        })
    }

    /// The business day in Asia/Shanghai.
    pub fn biz_date(self) -> Date {
        self.to_datetime().to_offset(SHANGHAI).date()
    }

    pub fn plus_seconds(self, s: i64) -> Self {
        Timestamp(self.0.saturating_add(s.saturating_mul(1_000_000)))
    }
}

/// A time as a county's spreadsheet holds it, in Asia/Shanghai: `2026-12-01 09:30`, `2026/12/1 9:30:05`,
/// `2026-12-01T09:30:00` (a date alone is midnight); RFC 3339 with an offset is taken as it is.
pub fn parse_local(raw: &str, field: &str) -> Result<Timestamp, DomainError> {
    let s = raw.trim();
    if let Ok(t) = Timestamp::parse_rfc3339(s, field) {
        return Ok(t);
    }
    let bad = || DomainError::new("invalid_timestamp", field, format!("时间“{s}”格式不正确，应如 2026-12-01 09:30 或 2026/12/1 9:30:00"));
    let (date, clock) = s.split_once([' ', 'T']).unwrap_or((s, "0:0"));
    let numbers = |text: &str, seps: &[char]| -> Option<Vec<u32>> { text.trim().split(seps).map(|p| p.trim().parse().ok()).collect() };
    let d = numbers(date, &['-', '/', '.']).filter(|v| v.len() == 3).ok_or_else(bad)?;
    let c = numbers(clock, &[':']).filter(|v| (2..=3).contains(&v.len())).ok_or_else(bad)?;
    let month = u8::try_from(d[1]).ok().and_then(|m| time::Month::try_from(m).ok()).ok_or_else(bad)?;
    let date = Date::from_calendar_date(i32::try_from(d[0]).map_err(|_| bad())?, month, u8::try_from(d[2]).map_err(|_| bad())?)
        .map_err(|_| bad())?;
    let second = c.get(2).copied().unwrap_or(0);
    let clock = time::Time::from_hms(
        u8::try_from(c[0]).map_err(|_| bad())?,
        u8::try_from(c[1]).map_err(|_| bad())?,
        u8::try_from(second).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    Ok(Timestamp::from_datetime(time::PrimitiveDateTime::new(date, clock).assume_offset(SHANGHAI)))
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(raw: &str, field: &str) -> Result<Date, DomainError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(raw.trim(), &fmt).map_err(|_| DomainError::new("invalid_date", field, "日期格式不正确，应为 YYYY-MM-DD"))
}

pub fn format_date(d: Date) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    d.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreadsheet_times_are_shanghai_times() {
        let want = Timestamp::parse_rfc3339("2026-12-01T09:30:00+08:00", "t").unwrap();
        for raw in ["2026-12-01 09:30", "2026/12/1 9:30", "2026-12-01T09:30:00", " 2026.12.01 09:30:00 ", "2026-12-01T01:30:00Z"] {
            assert_eq!(parse_local(raw, "accepted_at").unwrap(), want, "{raw}");
        }
        assert_eq!(parse_local("2026-12-01", "t").unwrap(), Timestamp::parse_rfc3339("2026-12-01T00:00:00+08:00", "t").unwrap());
        for bad in ["2026-13-01 09:30", "2026-02-30", "2026-12-01 25:00", "昨天", "2026-12", "2026-12-01 9"] {
            let e = parse_local(bad, "accepted_at").unwrap_err();
            assert_eq!((e.code, e.field.as_deref()), ("invalid_timestamp", Some("accepted_at")), "{bad}");
        }
    }

    #[test]
    fn shanghai_day_boundaries() {
        // 2026-11-29T16:30Z is 2026-11-30 00:30 in Shanghai.
        let t = Timestamp::parse_rfc3339("2026-11-29T16:30:00Z", "t").unwrap();
        assert_eq!(t.biz_day().key(), 20261130);
        assert_eq!(t.to_rfc3339(), "2026-11-30T00:30:00+08:00");
        let t = Timestamp::parse_rfc3339("2026-11-29T15:59:59Z", "t").unwrap();
        assert_eq!(t.biz_day().key(), 20261129);
        assert!(Timestamp::parse_rfc3339("2026-11-29 15:59", "t").is_err());
        assert_eq!(format_date(parse_date("2026-02-28", "d").unwrap()), "2026-02-28");
        assert!(parse_date("2026-02-30", "d").is_err());
    }
}
