//! Presses a window device could not get accepted for good, as the device reported them.

use sqlx::Row;

use crate::db::Db;
use crate::error::Result;
use crate::on_db;

#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub id: String,
    pub key_id: String,
    pub unit_code: String,
    pub window_code: Option<String>,
    pub matter_no: String,
    pub service_no: Option<String>,
    pub level: i64,
    /// the refusal's code (`already_rated`, `token_expired`, …)
    pub code: String,
    /// the device's own clock at the press, as it sent it
    pub pressed_at: Option<String>,
    pub reported_at: i64,
}

impl Db {
    /// Reports of one device key since `since` (micros): a device that reports without end is capped.
    pub async fn dead_letters_since(&self, key_id: &str, since: i64) -> Result<i64> {
        Ok(on_db!(self, pool => sqlx::query("SELECT COUNT(*) AS n FROM device_dead_letters WHERE key_id = $1 AND reported_at >= $2")
            .bind(key_id).bind(since).fetch_one(pool).await?.try_get("n")?))
    }

    pub async fn record_dead_letter(&self, d: &DeadLetter) -> Result<()> {
        on_db!(self, pool => sqlx::query(
            "INSERT INTO device_dead_letters (id, key_id, unit_code, window_code, matter_no, service_no, level, code, pressed_at, reported_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)")
            .bind(&d.id).bind(&d.key_id).bind(&d.unit_code).bind(&d.window_code).bind(&d.matter_no).bind(&d.service_no)
            .bind(d.level).bind(&d.code).bind(&d.pressed_at).bind(d.reported_at).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// The dead letters of `units`, newest first, at most `limit` per unit.
    pub async fn dead_letters(&self, units: &[String], limit: i64) -> Result<Vec<DeadLetter>> {
        let mut out = Vec::new();
        for unit in units {
            on_db!(self, pool => {
                for r in sqlx::query(
                    "SELECT id, key_id, unit_code, window_code, matter_no, service_no, level, code, pressed_at, reported_at \
                     FROM device_dead_letters WHERE unit_code = $1 ORDER BY reported_at DESC LIMIT $2")
                    .bind(unit).bind(limit).fetch_all(pool).await? {
                    out.push(DeadLetter {
                        id: r.try_get("id")?,
                        key_id: r.try_get("key_id")?,
                        unit_code: r.try_get("unit_code")?,
                        window_code: r.try_get("window_code")?,
                        matter_no: r.try_get("matter_no")?,
                        service_no: r.try_get("service_no")?,
                        level: r.try_get("level")?,
                        code: r.try_get("code")?,
                        pressed_at: r.try_get("pressed_at")?,
                        reported_at: r.try_get("reported_at")?,
                    });
                }
            });
        }
        out.sort_by_key(|d| std::cmp::Reverse(d.reported_at));
        Ok(out)
    }
}
