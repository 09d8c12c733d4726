//! The versioned indicator and reason catalogue (评价内容目录): data, not code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::channel::Mode;
use crate::error::DomainError;
use crate::level::Level;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Catalogue {
    pub version: i64,
    pub name: String,
    pub levels: Vec<LevelEntry>,
    pub indicators: Vec<Indicator>,
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LevelEntry {
    pub level: u8,
    pub label: String,
    pub stars: u8,
    #[serde(default)]
    pub bad: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Indicator {
    pub code: String,
    pub label: String,
    /// `base` (基础测评内容, national) or `extended` (扩展测评内容, provincial).
    pub set: String,
    pub modes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reason {
    pub code: String,
    pub level: u8,
    pub label: String,
    pub modes: Vec<String>,
    /// `discipline` marks alleged misconduct that must also be referred to the competent authority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<String>,
}

impl Reason {
    /// Whether the reason is offered on channels of the mode.
    pub fn applies_to(&self, mode: Mode) -> bool {
        self.modes.iter().any(|m| m == mode_name(mode))
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Online => "online",
        Mode::Offline => "offline",
    }
}

/// The label of the reason a rater picks when none listed fits.
pub const OTHER: &str = "其他";

impl Catalogue {
    /// Parses and checks a catalogue document (TOML, as in `catalogue-v1.toml`).
    pub fn from_toml(text: &str) -> Result<Self, DomainError> {
        let cat: Catalogue =
            toml::from_str(text).map_err(|e| DomainError::general("invalid_catalogue", format!("评价内容目录格式错误：{e}")))?;
        cat.check()?;
        Ok(cat)
    }

    fn check(&self) -> Result<(), DomainError> {
        if self.version < 1 {
            return Err(DomainError::general("invalid_catalogue", "目录版本号必须为正整数"));
        }
        let mut levels: Vec<u8> = self.levels.iter().map(|l| l.level).collect();
        levels.sort_unstable();
        if levels != [1, 2, 3, 4, 5] {
            return Err(DomainError::general("invalid_catalogue", "目录必须恰好定义 1 到 5 五个评价等级"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for code in self.indicators.iter().map(|i| &i.code).chain(self.reasons.iter().map(|r| &r.code)) {
            if !seen.insert(code.as_str()) {
                return Err(DomainError::general("invalid_catalogue", format!("目录中的编码重复：{code}")));
            }
        }
        for r in &self.reasons {
            if !(1..=5).contains(&r.level) {
                return Err(DomainError::general("invalid_catalogue", format!("评价标签 {} 的等级无效", r.code)));
            }
        }
        // A rater whose reason is not listed must never be stuck: every bad level offers 其他, online and on site.
        for l in self.levels.iter().filter(|l| l.bad) {
            for mode in [Mode::Online, Mode::Offline] {
                if !self.reasons.iter().any(|r| r.level == l.level && r.label == OTHER && r.applies_to(mode)) {
                    return Err(DomainError::general(
                        "invalid_catalogue",
                        format!("差评等级 {}（{}）须有适用于线上和线下的“其他”原因", l.level, l.label),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn reason(&self, code: &str) -> Option<&Reason> {
        self.reasons.iter().find(|r| r.code == code)
    }

    /// The reasons a rater may choose for a level on a channel of the mode, in the catalogue's order: what the
    /// forms offer and what [`Catalogue::check_reasons`] accepts.
    pub fn reasons_for(&self, level: Level, mode: Mode) -> impl Iterator<Item = &Reason> {
        self.reasons.iter().filter(move |r| r.level == level.value() && r.applies_to(mode))
    }

    pub fn indicator(&self, code: &str) -> Option<&Indicator> {
        self.indicators.iter().find(|i| i.code == code)
    }

    /// Checks the reasons chosen for a rating: each must exist, belong to the rating's level and apply to the
    /// channel's mode. Returns them sorted and without repeats.
    pub fn check_reasons(&self, level: Level, mode: Mode, codes: &[String]) -> Result<Vec<String>, DomainError> {
        let mut out = Vec::with_capacity(codes.len());
        for code in codes {
            let Some(reason) = self.reason(code) else {
                return Err(DomainError::new("unknown_reason", "reasons", format!("评价标签 {code} 不在当前评价内容目录中")));
            };
            if reason.level != level.value() {
                return Err(DomainError::new(
                    "reason_level_mismatch",
                    "reasons",
                    format!("评价标签 {code}（{}）不属于“{}”等级", reason.label, level.label()),
                ));
            }
            if !reason.applies_to(mode) {
                return Err(DomainError::new("reason_not_for_channel", "reasons", format!("评价标签 {code} 不适用于该评价渠道")));
            }
            out.push(code.clone());
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Checks per-indicator levels: each indicator must exist and apply to the mode; values 1..=5.
    pub fn check_indicators(&self, mode: Mode, given: &BTreeMap<String, i64>) -> Result<BTreeMap<String, Level>, DomainError> {
        let mut out = BTreeMap::new();
        for (code, value) in given {
            let Some(ind) = self.indicator(code) else {
                return Err(DomainError::new(
                    "unknown_indicator",
                    format!("indicators.{code}"),
                    format!("测评指标 {code} 不在当前评价内容目录中"),
                ));
            };
            if !ind.modes.iter().any(|m| m == mode_name(mode)) {
                return Err(DomainError::new(
                    "indicator_not_for_channel",
                    format!("indicators.{code}"),
                    format!("测评指标 {code}（{}）不适用于该评价渠道", ind.label),
                ));
            }
            out.insert(code.clone(), Level::new(*value, &format!("indicators.{code}"))?);
        }
        Ok(out)
    }

    /// Whether any of the reasons alleges misconduct that must be referred (转有关部门依法处理).
    pub fn needs_referral(&self, codes: &[String]) -> bool {
        codes.iter().filter_map(|c| self.reason(c)).any(|r| r.referral.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = include_str!("../../../data/catalogue-v1.toml");

    #[test]
    fn seed_catalogue_parses_and_checks_reasons() {
        let cat = Catalogue::from_toml(V1).unwrap();
        assert_eq!(cat.version, 1);
        let one = Level::new(1, "level").unwrap();
        assert!(cat.check_reasons(one, Mode::Offline, &["105".into()]).is_ok());
        let err = cat.check_reasons(one, Mode::Offline, &["201".into()]).unwrap_err();
        assert_eq!(err.code, "reason_level_mismatch");
        let err = cat.check_reasons(one, Mode::Online, &["105".into()]).unwrap_err();
        assert_eq!(err.code, "reason_not_for_channel");
        assert!(cat.needs_referral(&["108".into()]));
        assert!(!cat.needs_referral(&["105".into()]));
    }

    #[test]
    fn what_a_form_offers_is_what_the_check_accepts() {
        let cat = Catalogue::from_toml(V1).unwrap();
        for level in Level::ALL {
            for mode in [Mode::Online, Mode::Offline] {
                let offered: Vec<String> = cat.reasons_for(level, mode).map(|r| r.code.clone()).collect();
                assert!(cat.check_reasons(level, mode, &offered).is_ok(), "{level:?} {mode:?}");
                let others: Vec<&Reason> = cat.reasons.iter().filter(|r| !offered.contains(&r.code)).collect();
                for r in others {
                    assert!(cat.check_reasons(level, mode, std::slice::from_ref(&r.code)).is_err(), "{} {level:?} {mode:?}", r.code);
                }
            }
        }
        let one = Level::new(1, "level").unwrap();
        assert!(cat.reasons_for(one, Mode::Offline).any(|r| r.code == "105"));
        assert!(!cat.reasons_for(one, Mode::Online).any(|r| r.code == "105"), "105 is for the hall only");
    }

    #[test]
    fn indicators_are_checked() {
        let cat = Catalogue::from_toml(V1).unwrap();
        let mut m = BTreeMap::new();
        m.insert("E01".to_string(), 4);
        assert_eq!(cat.check_indicators(Mode::Offline, &m).unwrap().len(), 1);
        assert_eq!(cat.check_indicators(Mode::Online, &m).unwrap_err().code, "indicator_not_for_channel");
        m.insert("E02".to_string(), 9);
        assert_eq!(cat.check_indicators(Mode::Offline, &m).unwrap_err().code, "invalid_level");
    }

    #[test]
    fn version_two_adds_platform_completeness_and_every_bad_level_offers_other() {
        let v2 = Catalogue::from_toml(include_str!("../../../data/catalogue-v2.toml")).unwrap();
        assert_eq!(v2.version, 2);
        let n05 = v2.indicator("N05").expect("平台完善性");
        assert_eq!((n05.label.as_str(), n05.modes.as_slice()), ("平台完善性", ["online".to_string()].as_slice()));
        let v1 = Catalogue::from_toml(V1).unwrap();
        assert_eq!(v2.reasons, v1.reasons, "only the indicator was added");
        for cat in [&v1, &v2] {
            for level in Level::ALL.into_iter().filter(|l| l.is_bad()) {
                for mode in [Mode::Online, Mode::Offline] {
                    assert!(cat.reasons_for(level, mode).any(|r| r.label == OTHER), "{level:?} {mode:?}");
                }
            }
        }
        // A catalogue whose bad level lacks 其他 is refused.
        let without = V1.replace("code = \"199\"\nlevel = 1\nlabel = \"其他\"", "code = \"199\"\nlevel = 1\nlabel = \"其它情况\"");
        assert_ne!(without, V1);
        let err = Catalogue::from_toml(&without).unwrap_err();
        assert!(err.message.contains("差评等级 1") && err.message.contains("其他"), "{err}");
    }

    #[test]
    fn broken_catalogue_is_refused() {
        assert!(Catalogue::from_toml("version = 1\nname='x'\nlevels=[]\nindicators=[]\nreasons=[]").is_err());
    }
}
