//! Master data: the unit tree, windows, service items and staff.

use std::collections::HashMap;

use hcp_domain::Timestamp;
use serde::Serialize;
use sqlx::Row;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::on_db;

pub const UNIT_KINDS: &[&str] = &["county", "center", "subcenter", "hall", "department", "town", "village"];

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Unit {
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
    pub kind: String,
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

/// A snapshot of all master data, small enough to hold in memory (a county has hundreds of rows, a
/// province tens of thousands) and read on every rating without a query.
#[derive(Debug, Clone, Default)]
pub struct MasterData {
    pub units: HashMap<String, Unit>,
    pub windows: HashMap<String, Window>,
    pub items: HashMap<String, Item>,
    pub staff: HashMap<String, Staff>,
}

fn exists_err(what: &'static str, code: &str) -> StoreError {
    StoreError::conflict("already_exists", format!("{what} {code} 已存在"), None)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn is_fk_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_foreign_key_violation())
}

fn map_insert(e: sqlx::Error, what: &'static str, code: &str, parent_field: &str) -> StoreError {
    if is_unique_violation(&e) {
        exists_err(what, code)
    } else if is_fk_violation(&e) {
        StoreError::Rule(hcp_domain::DomainError::new("unknown_reference", parent_field, format!("{what} {code} 引用的上级数据不存在")))
    } else {
        StoreError::Database(e)
    }
}

impl Db {
    pub async fn insert_unit(&self, u: &Unit) -> Result<()> {
        if !UNIT_KINDS.contains(&u.kind.as_str()) {
            return Err(hcp_domain::DomainError::new(
                "invalid_unit_kind",
                "kind",
                format!("单位类型无效，可选：{}", UNIT_KINDS.join("、")),
            )
            .into());
        }
        let now = Timestamp::now().micros();
        on_db!(self, pool => sqlx::query(
            "INSERT INTO units (code, name, parent_code, kind, region_code, credit_code, hall_stationed, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)")
            .bind(&u.code).bind(&u.name).bind(&u.parent_code).bind(&u.kind).bind(&u.region_code)
            .bind(&u.credit_code).bind(u.hall_stationed).bind(now)
            .execute(pool).await.map_err(|e| map_insert(e, "单位", &u.code, "parent_code"))?.rows_affected());
        Ok(())
    }

    pub async fn insert_window(&self, w: &Window) -> Result<()> {
        let now = Timestamp::now().micros();
        on_db!(self, pool => sqlx::query("INSERT INTO windows (code, name, unit_code, created_at) VALUES ($1,$2,$3,$4)")
            .bind(&w.code).bind(&w.name).bind(&w.unit_code).bind(now)
            .execute(pool).await.map_err(|e| map_insert(e, "窗口", &w.code, "unit_code"))?.rows_affected());
        Ok(())
    }

    pub async fn insert_item(&self, i: &Item) -> Result<()> {
        let now = Timestamp::now().micros();
        on_db!(self, pool => sqlx::query("INSERT INTO items (code, name, item_type, owner_unit_code, created_at) VALUES ($1,$2,$3,$4,$5)")
            .bind(&i.code).bind(&i.name).bind(&i.item_type).bind(&i.owner_unit_code).bind(now)
            .execute(pool).await.map_err(|e| map_insert(e, "事项", &i.code, "owner_unit_code"))?.rows_affected());
        Ok(())
    }

    pub async fn insert_staff(&self, s: &Staff) -> Result<()> {
        let now = Timestamp::now().micros();
        on_db!(self, pool => sqlx::query("INSERT INTO staff (code, name, unit_code, window_code, created_at) VALUES ($1,$2,$3,$4,$5)")
            .bind(&s.code).bind(&s.name).bind(&s.unit_code).bind(&s.window_code).bind(now)
            .execute(pool).await.map_err(|e| map_insert(e, "工作人员", &s.code, "unit_code"))?.rows_affected());
        Ok(())
    }

    pub async fn load_master(&self) -> Result<MasterData> {
        let mut m = MasterData::default();
        on_db!(self, pool => {
            for r in sqlx::query("SELECT code, name, parent_code, kind, region_code, credit_code, hall_stationed FROM units").fetch_all(pool).await? {
                let u = Unit {
                    code: r.try_get("code")?, name: r.try_get("name")?, parent_code: r.try_get("parent_code")?,
                    kind: r.try_get("kind")?, region_code: r.try_get("region_code")?, credit_code: r.try_get("credit_code")?,
                    hall_stationed: r.try_get("hall_stationed")?,
                };
                m.units.insert(u.code.clone(), u);
            }
            for r in sqlx::query("SELECT code, name, unit_code FROM windows").fetch_all(pool).await? {
                let w = Window { code: r.try_get("code")?, name: r.try_get("name")?, unit_code: r.try_get("unit_code")? };
                m.windows.insert(w.code.clone(), w);
            }
            for r in sqlx::query("SELECT code, name, item_type, owner_unit_code FROM items").fetch_all(pool).await? {
                let i = Item { code: r.try_get("code")?, name: r.try_get("name")?, item_type: r.try_get("item_type")?, owner_unit_code: r.try_get("owner_unit_code")? };
                m.items.insert(i.code.clone(), i);
            }
            for r in sqlx::query("SELECT code, name, unit_code, window_code FROM staff").fetch_all(pool).await? {
                let s = Staff { code: r.try_get("code")?, name: r.try_get("name")?, unit_code: r.try_get("unit_code")?, window_code: r.try_get("window_code")? };
                m.staff.insert(s.code.clone(), s);
            }
        });
        Ok(m)
    }
}

impl MasterData {
    /// Whether `unit` is `ancestor` or lies below it in the unit tree.
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

    /// The top of `unit`'s own tree (its county, or its province), so several trees on one database stay apart.
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
}

impl hcp_domain::access::UnitTree for MasterData {
    fn is_within(&self, unit: &str, ancestor: &str) -> bool {
        MasterData::is_within(self, unit, ancestor)
    }

    fn is_top(&self, unit: &str) -> bool {
        self.units.get(unit).is_some_and(|u| u.parent_code.is_none())
    }
}
