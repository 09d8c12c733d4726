use crate::error::DomainError;

/// Overall satisfaction level, stored with the national upload convention: 1 = 非常不满意 … 5 = 非常满意.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level(u8);

impl Level {
    pub const ALL: [Level; 5] = [Level(1), Level(2), Level(3), Level(4), Level(5)];

    pub fn new(value: i64, field: &str) -> Result<Self, DomainError> {
        if (1..=5).contains(&value) {
            Ok(Level(value as u8))
        } else {
            Err(DomainError::new("invalid_level", field, "评价等级必须是 1 到 5 之间的整数（1=非常不满意，5=非常满意）"))
        }
    }

    pub fn value(self) -> u8 {
        self.0
    }

    /// Levels 1 and 2 (不满意, 非常不满意) are bad reviews (差评).
    pub fn is_bad(self) -> bool {
        self.0 <= 2
    }

    /// Levels 3..=5 count as satisfied in the satisfaction rate (see `stats`).
    pub fn is_satisfied(self) -> bool {
        self.0 >= 3
    }

    pub fn label(self) -> &'static str {
        match self.0 {
            5 => "非常满意",
            4 => "满意",
            3 => "基本满意",
            2 => "不满意",
            _ => "非常不满意",
        }
    }

    /// GB/T 39046-2020 A.8 满意度代码 runs the other way round (1 = 非常满意): an export mapping only.
    pub fn gbt39046_code(self) -> u8 {
        6 - self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_meaning() {
        assert!(Level::new(0, "level").is_err());
        assert!(Level::new(6, "level").is_err());
        let one = Level::new(1, "level").unwrap();
        assert!(one.is_bad());
        assert_eq!(one.label(), "非常不满意");
        assert_eq!(one.gbt39046_code(), 5);
        let three = Level::new(3, "level").unwrap();
        assert!(!three.is_bad());
        assert!(three.is_satisfied());
        assert_eq!(Level::new(5, "level").unwrap().gbt39046_code(), 1);
    }
}
