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
