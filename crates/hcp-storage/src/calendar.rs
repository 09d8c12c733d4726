//! The official working-day calendar as data: the State Council notices, one row per exception to
//! Monday–Friday, and the years whose notice is loaded.

use hcp_domain::work_calendar::{CalendarDay, DayKind, WorkCalendar};
use hcp_domain::{BizDay, Timestamp};
use sqlx::Row;

use crate::db::Db;
use crate::error::{Result, on_insert};
use crate::on_db;
use crate::tx::{Tx, on_tx};

impl Db {
    /// Stores the days of a parsed notice. Each year among them is replaced as a whole, so a corrected notice
    /// can be imported again. Returns the years stored.
    #[tracing::instrument(skip_all)]
    pub async fn store_calendar(&self, days: &[CalendarDay], source: &str) -> Result<Vec<i32>> {
        let mut years: Vec<i32> = days.iter().map(|d| d.date.year()).collect();
        years.sort_unstable();
        years.dedup();
        let now = Timestamp::now().micros();
        let mut tx = Tx::plain(self).await?;
        for y in &years {
            let (from, to) = (i64::from(*y) * 10_000, i64::from(*y) * 10_000 + 9_999);
            on_tx!(&mut tx, t => {
                sqlx::query("DELETE FROM holiday_calendar WHERE day >= $1 AND day <= $2").bind(from).bind(to).execute(&mut **t).await?;
                sqlx::query("DELETE FROM calendar_years WHERE year = $1").bind(i64::from(*y)).execute(&mut **t).await?;
                sqlx::query("INSERT INTO calendar_years (year, source, loaded_at) VALUES ($1, $2, $3)")
                    .bind(i64::from(*y)).bind(source).bind(now).execute(&mut **t).await?;
            });
        }
        for d in days {
            let key = BizDay::from(d.date).key();
            on_tx!(&mut tx, t => sqlx::query("INSERT INTO holiday_calendar (day, kind, name, updated_at) VALUES ($1, $2, $3, $4)")
                .bind(key).bind(d.kind.code()).bind(&d.name).bind(now)
                .execute(&mut **t).await
                .map_err(|e| on_insert(e, "holiday_calendar", &key.to_string(), "day"))?.rows_affected());
        }
        tx.commit().await?;
        Ok(years)
    }

    pub async fn load_calendar(&self) -> Result<WorkCalendar> {
        let mut days = Vec::new();
        let mut years = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query("SELECT day, kind, name FROM holiday_calendar ORDER BY day").fetch_all(pool).await? {
                let key: i64 = r.try_get("day")?;
                let kind: String = r.try_get("kind")?;
                if let (Some(day), Ok(kind)) = (BizDay::from_key(key), DayKind::parse(&kind, "kind")) {
                    days.push(CalendarDay { date: day.date(), kind, name: r.try_get("name")? });
                }
            }
            for r in sqlx::query("SELECT year FROM calendar_years").fetch_all(pool).await? {
                years.push(r.try_get::<i64, _>("year")? as i32);
            }
        });
        Ok(WorkCalendar::new(days, years))
    }
}
