//! Definitions of the satisfaction statistics (S-15), so that every report computes them the same way.
//!
//! - satisfaction rate (满意率) = ratings of level 3..=5 / all counted ratings;
//! - good rate (好评率) = ratings of level 4..=5 / all counted ratings;
//! - bad reviews (差评) = ratings of level 1..=2;
//! - participation rate (参评率) = rated matters / completed matters in the same group and period.
//!
//! Ratings found untrue (不属实) through 复核 are not counted anywhere.

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
