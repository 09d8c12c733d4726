//! The rules of a rating (S-1 … S-4): level, channel, indicators and reasons from the catalogue in force,
//! free text, real-name or anonymous.

use std::collections::BTreeMap;

use crate::catalogue::Catalogue;
use crate::channel::Channel;
use crate::error::DomainError;
use crate::ids::parse_text;
use crate::level::Level;
use crate::person::{Contact, IdNumber, PersonName, Phone};

pub const MAX_TEXT_CHARS: usize = 500;
pub const MAX_REASONS: usize = 20;

/// A rating as a client sends it, before any rule has been applied. (No `Debug`: it holds contact data.)
#[derive(Clone, Default)]
pub struct RawRating {
    pub channel: String,
    pub level: i64,
    pub indicators: BTreeMap<String, i64>,
    pub reasons: Vec<String>,
    pub text: Option<String>,
    pub anonymous: bool,
    pub rater_name: Option<String>,
    pub rater_phone: Option<String>,
    pub rater_id_number: Option<String>,
    /// The channel asks for the reasons after the level (the hotline's key press, an SMS reply): a bad review
    /// may then arrive without reason or text, and its reasons follow on its case (`EventDetail::ReasonsAdded`).
    pub reasons_follow: bool,
}

/// A rating whose content obeys every rule that does not need the database.
#[derive(Debug, Clone)]
pub struct CheckedRating {
    pub channel: Channel,
    pub level: Level,
    pub indicators: BTreeMap<String, Level>,
    pub reasons: Vec<String>,
    pub text: Option<String>,
    pub anonymous: bool,
    /// Contact details given with a real-name rating; `None` for anonymous ones (nothing is kept).
    pub contact: Option<Contact>,
    pub referral: bool,
}

impl CheckedRating {
    pub fn check(raw: &RawRating, catalogue: &Catalogue) -> Result<Self, DomainError> {
        let channel = Channel::parse(&raw.channel, "channel")?;
        let level = Level::new(raw.level, "level")?;
        if raw.reasons.len() > MAX_REASONS {
            return Err(DomainError::new("too_many", "reasons", format!("评价标签最多 {MAX_REASONS} 个")));
        }
        let reasons = catalogue.check_reasons(level, channel.mode(), &raw.reasons)?;
        let indicators = catalogue.check_indicators(channel.mode(), &raw.indicators)?;
        let text = match &raw.text {
            Some(t) => {
                let t = parse_text(t, "text", MAX_TEXT_CHARS)?;
                if t.is_empty() { None } else { Some(t) }
            }
            None => None,
        };
        let asked_later = raw.reasons_follow && matches!(channel, Channel::Phone | Channel::Sms);
        if level.is_bad() && reasons.is_empty() && text.is_none() && !asked_later {
            return Err(DomainError::new("bad_review_needs_reason", "reasons", "差评须至少选择一项评价标签或填写文字评价"));
        }
        let has_contact = raw.rater_name.is_some() || raw.rater_phone.is_some() || raw.rater_id_number.is_some();
        let contact = if raw.anonymous {
            if has_contact {
                return Err(DomainError::new("anonymous_with_contact", "rater", "匿名评价不能同时提交评价人信息"));
            }
            None
        } else if has_contact {
            Some(Contact {
                name: raw.rater_name.as_deref().map(|n| PersonName::parse(n, "rater.name")).transpose()?,
                phone: raw.rater_phone.as_deref().map(|p| Phone::parse(p, "rater.phone")).transpose()?,
                id_number: raw.rater_id_number.as_deref().map(|i| IdNumber::parse(i, "rater.id_number")).transpose()?,
            })
        } else {
            None
        };
        let referral = catalogue.needs_referral(&reasons);
        Ok(CheckedRating { channel, level, indicators, reasons, text, anonymous: raw.anonymous, contact, referral })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat() -> Catalogue {
        Catalogue::from_toml(include_str!("../../../data/catalogue-v1.toml")).unwrap()
    }

    fn raw(level: i64) -> RawRating {
        RawRating { channel: "pad".into(), level, ..Default::default() }
    }

    #[test]
    fn bad_review_needs_reason_or_text() {
        let c = cat();
        assert_eq!(CheckedRating::check(&raw(1), &c).unwrap_err().code, "bad_review_needs_reason");
        let mut r = raw(1);
        r.text = Some("  ".into());
        assert_eq!(CheckedRating::check(&r, &c).unwrap_err().code, "bad_review_needs_reason");
        r.text = Some("等了两个小时".into());
        assert!(CheckedRating::check(&r, &c).is_ok());
        let mut r = raw(2);
        r.reasons = vec!["206".into()];
        assert!(CheckedRating::check(&r, &c).is_ok());
        assert!(CheckedRating::check(&raw(5), &c).is_ok());
        // Reasons asked for after the key press or SMS reply: only on those channels.
        let mut r = raw(1);
        r.reasons_follow = true;
        assert_eq!(CheckedRating::check(&r, &c).unwrap_err().code, "bad_review_needs_reason", "a pad asks on its own screen");
        r.channel = "phone".into();
        assert!(CheckedRating::check(&r, &c).is_ok());
        r.channel = "sms".into();
        assert!(CheckedRating::check(&r, &c).is_ok());
    }

    #[test]
    fn anonymous_keeps_no_contact() {
        let c = cat();
        let mut r = raw(5);
        r.anonymous = true;
        r.rater_phone = Some("13800138000".into());
        assert_eq!(CheckedRating::check(&r, &c).unwrap_err().code, "anonymous_with_contact");
        r.anonymous = false;
        let ok = CheckedRating::check(&r, &c).unwrap();
        assert_eq!(ok.contact.unwrap().phone.unwrap().as_str(), "13800138000");
    }

    #[test]
    fn referral_and_limits() {
        let c = cat();
        let mut r = raw(1);
        r.reasons = vec!["108".into()];
        assert!(CheckedRating::check(&r, &c).unwrap().referral);
        r.text = Some("长".repeat(MAX_TEXT_CHARS + 1));
        assert_eq!(CheckedRating::check(&r, &c).unwrap_err().code, "too_long");
        assert_eq!(CheckedRating::check(&raw(0), &c).unwrap_err().code, "invalid_level");
    }
}
