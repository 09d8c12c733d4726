//! What the national 办件服务 record says of a matter beyond the basics (NATIONAL-RULES.md §4.3): its time
//! limits with their units, 即办件 or 承诺件, online or offline, and the applicant's kind in the national codes.
//! Each is checked here, once, for the API, the CSV import and the pages alike.

use crate::error::DomainError;

/// The unit of a time limit, with the national code (`promiseType` / `anticipateType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitUnit {
    Day,
    WorkingDay,
    Month,
    Year,
}

impl LimitUnit {
    pub const ALL: [LimitUnit; 4] = [LimitUnit::Day, LimitUnit::WorkingDay, LimitUnit::Month, LimitUnit::Year];

    pub fn code(self) -> i64 {
        match self {
            LimitUnit::Day => 0,
            LimitUnit::WorkingDay => 1,
            LimitUnit::Month => 2,
            LimitUnit::Year => 3,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LimitUnit::Day => "天",
            LimitUnit::WorkingDay => "工作日",
            LimitUnit::Month => "月",
            LimitUnit::Year => "年",
        }
    }

    fn name(self) -> &'static str {
        match self {
            LimitUnit::Day => "day",
            LimitUnit::WorkingDay => "working_day",
            LimitUnit::Month => "month",
            LimitUnit::Year => "year",
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.code() == code)
    }

    /// `day`, `working_day`, `month`, `year`, or the words 天 (日, 自然日), 工作日, 月 (个月), 年.
    pub fn parse(raw: &str, field: &str) -> Result<Self, DomainError> {
        let s = raw.trim();
        let found = match s {
            "天" | "日" | "自然日" => Some(LimitUnit::Day),
            "个工作日" => Some(LimitUnit::WorkingDay),
            "个月" => Some(LimitUnit::Month),
            _ => Self::ALL.into_iter().find(|u| u.name() == s || u.label() == s),
        };
        found.ok_or_else(|| {
            DomainError::new("invalid_limit_unit", field, "时限单位应为 天、工作日、月 或 年（day、working_day、month、year）")
        })
    }
}

/// A time limit (承诺时限 or 法定时限): 0–9999 of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLimit {
    pub amount: i64,
    pub unit: LimitUnit,
}

impl TimeLimit {
    pub fn new(amount: i64, unit: LimitUnit, field: &str) -> Result<Self, DomainError> {
        if !(0..=9999).contains(&amount) {
            return Err(DomainError::new("invalid_time_limit", field, "时限应为 0 到 9999 之间的整数"));
        }
        Ok(TimeLimit { amount, unit })
    }

    /// A limit as a person writes it in a spreadsheet: `20工作日`, `20 个工作日`, `3个月`, `60天`, `1 year`.
    pub fn parse_text(raw: &str, field: &str) -> Result<Self, DomainError> {
        let s = raw.trim();
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() || digits.len() > 4 {
            return Err(DomainError::new("invalid_time_limit", field, "时限应写作数字加单位，如“20工作日”“60天”“3个月”"));
        }
        let amount: i64 = digits.parse().unwrap_or(0);
        let unit = LimitUnit::parse(s[digits.len()..].trim(), field)?;
        TimeLimit::new(amount, unit, field)
    }

    pub fn label(self) -> String {
        format!("{}{}", self.amount, self.unit.label())
    }
}

/// 即办件 (done at once) or 承诺件 (done within a promised time), with the national code (`promiseTime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    Instant,
    Promised,
}

impl Handling {
    pub fn code(self) -> &'static str {
        match self {
            Handling::Instant => "instant",
            Handling::Promised => "promised",
        }
    }

    pub fn national(self) -> i64 {
        match self {
            Handling::Instant => 1,
            Handling::Promised => 2,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Handling::Instant => "即办件",
            Handling::Promised => "承诺件",
        }
    }

    pub fn parse(raw: &str, field: &str) -> Result<Self, DomainError> {
        match raw.trim() {
            "instant" | "即办件" | "即办" => Ok(Handling::Instant),
            "promised" | "承诺件" | "承诺" => Ok(Handling::Promised),
            _ => Err(DomainError::new("invalid_handling", field, "办件类型应为 即办件（instant）或 承诺件（promised）")),
        }
    }
}

/// Whether a matter was handled online (线上) or offline (线下), with the national code (`proChannel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcChannel {
    Online,
    Offline,
}

impl ProcChannel {
    pub fn code(self) -> &'static str {
        match self {
            ProcChannel::Online => "online",
            ProcChannel::Offline => "offline",
        }
    }

    pub fn national(self) -> i64 {
        match self {
            ProcChannel::Online => 1,
            ProcChannel::Offline => 2,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ProcChannel::Online => "线上",
            ProcChannel::Offline => "线下",
        }
    }

    pub fn parse(raw: &str, field: &str) -> Result<Self, DomainError> {
        match raw.trim() {
            "online" | "线上" | "网上" => Ok(ProcChannel::Online),
            "offline" | "线下" | "窗口" => Ok(ProcChannel::Offline),
            _ => Err(DomainError::new("invalid_proc_channel", field, "办件渠道应为 线上（online）或 线下（offline）")),
        }
    }
}

/// The applicant's kind in the national codes (`userProp`): 1 自然人, and for a legal person 2 企业法人,
/// 3 事业法人, 4 社会组织法人, 5 非法人企业, 6 行政机关, 9 其他组织.
pub const LEGAL_PROPS: [(i64, &str); 6] =
    [(2, "企业法人"), (3, "事业法人"), (4, "社会组织法人"), (5, "非法人企业"), (6, "行政机关"), (9, "其他组织")];

/// The national applicant code of a matter's applicant: `person` is always 1; a legal person's is given (2
/// when not).
pub fn applicant_prop(kind: &str, prop: Option<i64>, field: &str) -> Result<i64, DomainError> {
    match (kind, prop) {
        ("person", None | Some(1)) => Ok(1),
        ("person", Some(_)) => Err(DomainError::new("invalid_applicant_prop", field, "自然人的申请人类型代码只能是 1")),
        (_, None) => Ok(2),
        (_, Some(p)) if LEGAL_PROPS.iter().any(|(c, _)| *c == p) => Ok(p),
        _ => Err(DomainError::new(
            "invalid_applicant_prop",
            field,
            "法人的申请人类型代码应为 2 企业法人、3 事业法人、4 社会组织法人、5 非法人企业、6 行政机关 或 9 其他组织",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_as_people_write_them() {
        assert_eq!(TimeLimit::parse_text("20工作日", "f").unwrap(), TimeLimit { amount: 20, unit: LimitUnit::WorkingDay });
        assert_eq!(TimeLimit::parse_text(" 20 个工作日 ", "f").unwrap().unit, LimitUnit::WorkingDay);
        assert_eq!(TimeLimit::parse_text("3个月", "f").unwrap(), TimeLimit { amount: 3, unit: LimitUnit::Month });
        assert_eq!(TimeLimit::parse_text("60天", "f").unwrap().unit.code(), 0);
        assert_eq!(TimeLimit::parse_text("1 year", "f").unwrap().unit, LimitUnit::Year);
        assert_eq!(TimeLimit::parse_text("0工作日", "f").unwrap().label(), "0工作日");
        for bad in ["工作日", "20", "20周", "12345天", "-1天", ""] {
            assert!(TimeLimit::parse_text(bad, "f").is_err(), "{bad}");
        }
        assert_eq!(TimeLimit::new(10_000, LimitUnit::Day, "f").unwrap_err().code, "invalid_time_limit");
        assert_eq!(LimitUnit::ALL.map(|u| LimitUnit::from_code(u.code())), LimitUnit::ALL.map(Some));
    }

    #[test]
    fn handling_channel_and_applicant_codes() {
        assert_eq!(Handling::parse("即办件", "f").unwrap().national(), 1);
        assert_eq!(Handling::parse("promised", "f").unwrap().national(), 2);
        assert!(Handling::parse("快办", "f").is_err());
        assert_eq!(ProcChannel::parse("线上", "f").unwrap().national(), 1);
        assert_eq!(ProcChannel::parse("offline", "f").unwrap().national(), 2);
        assert_eq!(applicant_prop("person", None, "f").unwrap(), 1);
        assert!(applicant_prop("person", Some(2), "f").is_err());
        assert_eq!(applicant_prop("legal", None, "f").unwrap(), 2);
        assert_eq!(applicant_prop("legal", Some(6), "f").unwrap(), 6);
        assert!(applicant_prop("legal", Some(1), "f").is_err());
        assert!(applicant_prop("legal", Some(7), "f").is_err());
    }
}
