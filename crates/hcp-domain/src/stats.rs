//! Definitions of the satisfaction statistics (S-15), so that every report computes them the same way.
//!
//! - satisfaction rate (满意率) = ratings of level 3..=5 / all counted ratings;
//! - good rate (好评率) = ratings of level 4..=5 / all counted ratings;
//! - bad reviews (差评) = ratings of level 1..=2;
//! - participation rate (参评率) = rated matters / completed matters in the same group and period.
//!
//! Ratings found untrue (不属实) through 复核 are not counted anywhere.

use crate::error::DomainError;
use crate::records::Rating;

/// The groups statistics are kept by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    All,
    Unit,
    Item,
    Window,
    Staff,
    Channel,
}

impl Dim {
    pub const ALL: [Dim; 6] = [Dim::Unit, Dim::Item, Dim::Window, Dim::Staff, Dim::Channel, Dim::All];

    /// As stored in the rollups' `dim` column and asked for in `?by=`.
    pub fn code(self) -> &'static str {
        match self {
            Dim::All => "all",
            Dim::Unit => "unit",
            Dim::Item => "item",
            Dim::Window => "window",
            Dim::Staff => "staff",
            Dim::Channel => "channel",
        }
    }

    pub fn parse(s: &str, field: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|d| d.code() == s)
            .ok_or_else(|| DomainError::new("invalid_dimension", field, "by 应为 unit、item、window、staff、channel 或 all"))
    }

    /// Results by window or person are for the units' own staff (结果公开 covers units, items and channels).
    pub fn is_personal(self) -> bool {
        matches!(self, Dim::Window | Dim::Staff)
    }

    /// Whether participation (参评率) is defined: a matter belongs to one unit and one item; a visit may see
    /// several windows and people.
    pub fn has_participation(self) -> bool {
        matches!(self, Dim::All | Dim::Unit | Dim::Item)
    }
}

/// The key of the one group of `Dim::All`.
pub const ALL_KEY: &str = "*";

/// Every rollup group a rating is counted in: the one list used both to count a rating and to take it back out
/// when a 复核 finds it untrue, so the two can never disagree.
pub fn rollup_keys(r: &Rating) -> Vec<(Dim, &str)> {
    let mut keys =
        vec![(Dim::All, ALL_KEY), (Dim::Unit, r.unit_code.as_str()), (Dim::Item, r.item_code.as_str()), (Dim::Channel, r.channel.code())];
    if let Some(w) = &r.window_code {
        keys.push((Dim::Window, w.as_str()));
    }
    if let Some(s) = &r.staff_code {
        keys.push((Dim::Staff, s.as_str()));
    }
    keys
}

/// The rollup dimension of per-indicator levels, county-wide (key: the indicator's code).
pub const INDICATOR_DIM: &str = "indicator";
/// The rollup dimension of per-indicator levels within a unit (key: `UNIT/CODE`).
pub const UNIT_INDICATOR_DIM: &str = "unit_indicator";

/// The key of an indicator within a unit in the rollups.
pub fn unit_indicator_key(unit: &str, code: &str) -> String {
    format!("{unit}/{code}")
}

/// The per-indicator levels a rating holds (`E01=4,E02=5` as stored).
pub fn indicator_levels(r: &Rating) -> Vec<(&str, i64)> {
    r.indicators
        .split(',')
        .filter_map(|p| p.split_once('='))
        .filter_map(|(code, level)| level.trim().parse::<i64>().ok().filter(|l| (1..=5).contains(l)).map(|l| (code.trim(), l)))
        .collect()
}

/// Every count a rating adds to the rollups, `(dimension, key, level)`: its overall level in every group of
/// [`rollup_keys`], and each of its per-indicator levels by indicator, county-wide and within the unit. The one
/// list used both to count a rating and to take it back out.
pub fn rollup_counts(r: &Rating) -> Vec<(&'static str, String, i64)> {
    let mut out: Vec<(&'static str, String, i64)> = rollup_keys(r).into_iter().map(|(d, k)| (d.code(), k.to_string(), r.level)).collect();
    for (code, level) in indicator_levels(r) {
        out.push((INDICATOR_DIM, code.to_string(), level));
        out.push((UNIT_INDICATOR_DIM, unit_indicator_key(&r.unit_code, code), level));
    }
    out
}

/// Every group a matter's completion and first rating are counted in (participation).
pub fn matter_rollup_keys<'a>(unit: &'a str, item: &'a str) -> [(Dim, &'a str); 3] {
    [(Dim::All, ALL_KEY), (Dim::Unit, unit), (Dim::Item, item)]
}

/// The column of a level in `rollup_ratings` (`n1` … `n5`).
pub fn level_column(level: i64) -> &'static str {
    match level {
        ..=1 => "n1",
        2 => "n2",
        3 => "n3",
        4 => "n4",
        _ => "n5",
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LevelCounts {
    /// index 0 = level 1 (非常不满意) … index 4 = level 5 (非常满意)
    pub by_level: [i64; 5],
}

impl LevelCounts {
    pub fn total(&self) -> i64 {
        self.by_level.iter().sum()
    }

    pub fn bad(&self) -> i64 {
        self.by_level[0] + self.by_level[1]
    }

    pub fn satisfaction_rate(&self) -> Option<f64> {
        rate(self.by_level[2] + self.by_level[3] + self.by_level[4], self.total())
    }

    pub fn good_rate(&self) -> Option<f64> {
        rate(self.by_level[3] + self.by_level[4], self.total())
    }
}

/// A share rounded to four decimals; `None` when nothing was counted (a rate of an empty group is unknown, not 0).
pub fn rate(part: i64, whole: i64) -> Option<f64> {
    if whole <= 0 { None } else { Some(((part as f64 / whole as f64) * 10_000.0).round() / 10_000.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        let c = LevelCounts { by_level: [1, 1, 2, 6, 10] };
        assert_eq!(c.total(), 20);
        assert_eq!(c.bad(), 2);
        assert_eq!(c.satisfaction_rate(), Some(0.9));
        assert_eq!(c.good_rate(), Some(0.8));
        assert_eq!(LevelCounts::default().satisfaction_rate(), None);
        assert_eq!(rate(1, 3), Some(0.3333));
    }
}
