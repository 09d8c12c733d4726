//! Master data: the unit tree, windows, service items and staff, and the tree's rules (what lies within what,
//! which unit is the top). Loaded by storage, cached by the application.

use std::collections::HashMap;

use serde::Serialize;

use crate::error::DomainError;

/// The kinds of units in a county's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    County,
    Center,
    Subcenter,
    Hall,
    Department,
    Town,
    Village,
}

impl UnitKind {
    pub const ALL: [UnitKind; 7] =
        [UnitKind::County, UnitKind::Center, UnitKind::Subcenter, UnitKind::Hall, UnitKind::Department, UnitKind::Town, UnitKind::Village];

    pub fn code(self) -> &'static str {
        match self {
            UnitKind::County => "county",
            UnitKind::Center => "center",
            UnitKind::Subcenter => "subcenter",
            UnitKind::Hall => "hall",
            UnitKind::Department => "department",
            UnitKind::Town => "town",
            UnitKind::Village => "village",
        }
    }

    pub fn parse(s: &str, field: &str) -> Result<Self, DomainError> {
        Self::ALL.into_iter().find(|k| k.code() == s).ok_or_else(|| {
            let all: Vec<&str> = Self::ALL.iter().map(|k| k.code()).collect();
            DomainError::new("invalid_unit_kind", field, format!("单位类型无效，可选：{}", all.join("、")))
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            UnitKind::County => "县（区）",
            UnitKind::Center => "政务服务中心",
            UnitKind::Subcenter => "分中心",
            UnitKind::Hall => "专业大厅",
            UnitKind::Department => "部门",
            UnitKind::Town => "乡镇（街道）",
            UnitKind::Village => "村（社区）",
        }
    }

    /// Whether the unit is a hall that seats other units' windows (a centre, a sub-centre, a specialised hall).
    pub fn is_hall(self) -> bool {
        matches!(self, UnitKind::Center | UnitKind::Subcenter | UnitKind::Hall)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Unit {
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
    pub kind: UnitKind,
    pub region_code: String,
    pub credit_code: Option<String>,
    pub hall_stationed: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Window {
    pub code: String,
    pub name: String,
    pub unit_code: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Item {
    pub code: String,
    pub name: String,
    pub item_type: String,
    pub owner_unit_code: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Staff {
    pub code: String,
    pub name: String,
    pub unit_code: String,
    pub window_code: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct MasterData {
    pub units: HashMap<String, Unit>,
    pub windows: HashMap<String, Window>,
    pub items: HashMap<String, Item>,
    pub staff: HashMap<String, Staff>,
}

impl MasterData {
    /// Whether `unit` is `ancestor` or lies below it.
    pub fn is_within(&self, unit: &str, ancestor: &str) -> bool {
        let mut cur = Some(unit.to_string());
        let mut guard = 0;
        while let Some(code) = cur {
            if code == ancestor {
                return true;
            }
            guard += 1;
            if guard > 64 {
                return false;
            }
            cur = self.units.get(&code).and_then(|u| u.parent_code.clone());
        }
        false
    }

    /// Who answers for a unit's cases and decides its 复核: the unit itself and, for a village station or a
    /// town's 便民服务中心, the town units above it (the centre and the town government), nearest first. A
    /// village station has no approver of its own; its town decides.
    pub fn answering_units(&self, unit: &str) -> Vec<String> {
        let mut out = vec![unit.to_string()];
        let mut cur = self.units.get(unit);
        for _ in 0..8 {
            let Some(u) = cur else { break };
            if !matches!(u.kind, UnitKind::Village | UnitKind::Town) {
                break;
            }
            let Some(parent) = u.parent_code.as_deref().and_then(|p| self.units.get(p)) else { break };
            if parent.kind != UnitKind::Town {
                break;
            }
            out.push(parent.code.clone());
            cur = Some(parent);
        }
        out
    }

    /// The top of the tree `unit` is in (the county, or the province).
    pub fn top_of(&self, unit: &str) -> String {
        let mut cur = unit.to_string();
        for _ in 0..64 {
            match self.units.get(&cur).and_then(|u| u.parent_code.clone()) {
                Some(p) => cur = p,
                None => break,
            }
        }
        cur
    }

    pub fn sorted_units(&self) -> Vec<&Unit> {
        let mut v: Vec<&Unit> = self.units.values().collect();
        v.sort_by(|a, b| a.code.cmp(&b.code));
        v
    }

    pub fn unit_name(&self, code: &str) -> Option<String> {
        self.units.get(code).map(|u| u.name.clone())
    }

    pub fn item_name(&self, code: &str) -> Option<String> {
        self.items.get(code).map(|i| i.name.clone())
    }

    pub fn window_name(&self, code: &str) -> Option<String> {
        self.windows.get(code).map(|w| w.name.clone())
    }

    pub fn staff_name(&self, code: &str) -> Option<String> {
        self.staff.get(code).map(|s| s.name.clone())
    }
}

impl crate::access::UnitTree for MasterData {
    fn is_within(&self, unit: &str, ancestor: &str) -> bool {
        MasterData::is_within(self, unit, ancestor)
    }

    fn is_top(&self, unit: &str) -> bool {
        self.units.get(unit).is_some_and(|u| u.parent_code.is_none())
    }
}
