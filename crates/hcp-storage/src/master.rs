//! Master data: the unit tree, windows, service items and staff.

use hcp_domain::Timestamp;
pub use hcp_domain::master::{Item, MasterData, Staff, Unit, UnitKind, Window};
use sqlx::Row;

use crate::db::Db;
use crate::error::{Result, StoreError, on_insert};
use crate::on_db;

impl Db {
    pub async fn insert_unit(&self, u: &Unit) -> Result<()> {
        let now = Timestamp::now().micros();
        on_db!(self, pool => sqlx::query(
            "INSERT INTO units (code, name, parent_code, kind, region_code, credit_code, hall_stationed, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)")
            .bind(&u.code).bind(&u.name).bind(&u.parent_code).bind(u.kind.code()).bind(&u.region_code)
            .bind(&u.credit_code).bind(u.hall_stationed).bind(now)
            .execute(pool).await.map_err(|e| on_insert(e, "units", &u.code, "parent_code"))?.rows_affected());
        Ok(())
    }

    pub async fn insert_window(&self, w: &Window) -> Result<()> {
        let now = Timestamp::now().micros();
        on_db!(self, pool => sqlx::query("INSERT INTO windows (code, name, unit_code, created_at) VALUES ($1,$2,$3,$4)")
            .bind(&w.code).bind(&w.name).bind(&w.unit_code).bind(now)
            .execute(pool).await.map_err(|e| on_insert(e, "windows", &w.code, "unit_code"))?.rows_affected());
        Ok(())
    }

    pub async fn insert_item(&self, i: &Item) -> Result<()> {
        let now = Timestamp::now().micros();
        on_db!(self, pool => sqlx::query("INSERT INTO items (code, name, item_type, owner_unit_code, created_at) VALUES ($1,$2,$3,$4,$5)")
            .bind(&i.code).bind(&i.name).bind(&i.item_type).bind(&i.owner_unit_code).bind(now)
            .execute(pool).await.map_err(|e| on_insert(e, "items", &i.code, "owner_unit_code"))?.rows_affected());
        Ok(())
    }

    pub async fn insert_staff(&self, s: &Staff) -> Result<()> {
        let now = Timestamp::now().micros();
        on_db!(self, pool => sqlx::query("INSERT INTO staff (code, name, unit_code, window_code, created_at) VALUES ($1,$2,$3,$4,$5)")
            .bind(&s.code).bind(&s.name).bind(&s.unit_code).bind(&s.window_code).bind(now)
            .execute(pool).await.map_err(|e| on_insert(e, "staff", &s.code, "unit_code"))?.rows_affected());
        Ok(())
    }

    pub async fn load_master(&self) -> Result<MasterData> {
        let mut m = MasterData::default();
        on_db!(self, pool => {
            for r in sqlx::query("SELECT code, name, parent_code, kind, region_code, credit_code, hall_stationed FROM units").fetch_all(pool).await? {
                let kind: String = r.try_get("kind")?;
                let u = Unit {
                    code: r.try_get("code")?, name: r.try_get("name")?, parent_code: r.try_get("parent_code")?,
                    kind: UnitKind::parse(&kind, "kind").map_err(StoreError::from)?, region_code: r.try_get("region_code")?, credit_code: r.try_get("credit_code")?,
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
