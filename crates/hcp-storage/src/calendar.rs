//! The official working-day calendar as data: loaded from the State Council notices, editable by admins.

use hcp_domain::Timestamp;
use hcp_domain::timestamp::date_key;
use hcp_domain::work_calendar::{CalendarDay, DayKind, WorkCalendar};
use sqlx::Row;
use time::{Date, Month};

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::on_db;

/// The notices of 2020–2026 (`data/cn-official-calendar-2020-2026.csv`).
pub const DEFAULT_CALENDAR: &str = include_str!("../../../data/cn-official-calendar-2020-2026.csv");

fn date_of(key: i64) -> Option<Date> {
    let month = Month::try_from(((key / 100) % 100) as u8).ok()?;
    Date::from_calendar_date((key / 10_000) as i32, month, (key % 100) as u8).ok()
}

impl Db {
    /// Loads the notices in `csv` (see `WorkCalendar::parse_csv`). Each year in the file is replaced as a whole,
    /// so a corrected notice can be imported again. Returns the years loaded.
    pub async fn import_calendar(&self, csv: &str, source: &str) -> Result<Vec<i32>> {
        let days = WorkCalendar::parse_csv(csv)?;
        let mut years: Vec<i32> = days.iter().map(|d| d.date.year()).collect();
        years.sort_unstable();
        years.dedup();
        let now = Timestamp::now().micros();
        on_db!(self, pool => {
            let mut tx = pool.begin().await?;
            for y in &years {
                let (from, to) = (i64::from(*y) * 10_000, i64::from(*y) * 10_000 + 9_999);
                sqlx::query("DELETE FROM holiday_calendar WHERE day >= $1 AND day <= $2").bind(from).bind(to).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM calendar_years WHERE year = $1").bind(i64::from(*y)).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO calendar_years (year, source, loaded_at) VALUES ($1, $2, $3)")
                    .bind(i64::from(*y)).bind(source).bind(now).execute(&mut *tx).await?;
            }
            for d in &days {
                sqlx::query("INSERT INTO holiday_calendar (day, kind, name, updated_at) VALUES ($1, $2, $3, $4)")
                    .bind(date_key(d.date)).bind(d.kind.code()).bind(&d.name).bind(now)
                    .execute(&mut *tx).await
                    .map_err(|e| match &e {
                        sqlx::Error::Database(x) if x.is_unique_violation() => StoreError::Rule(hcp_domain::DomainError::new(
                            "invalid_calendar", "date", format!("日期 {} 重复出现", hcp_domain::timestamp::format_date(d.date)))),
                        _ => StoreError::Database(e),
                    })?;
            }
            tx.commit().await?;
        });
        Ok(years)
    }

    pub async fn load_calendar(&self) -> Result<WorkCalendar> {
        let mut days = Vec::new();
        let mut years = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query("SELECT day, kind, name FROM holiday_calendar ORDER BY day").fetch_all(pool).await? {
                let key: i64 = r.try_get("day")?;
                let kind: String = r.try_get("kind")?;
                if let (Some(date), Ok(kind)) = (date_of(key), DayKind::parse(&kind, "kind")) {
                    days.push(CalendarDay { date, kind, name: r.try_get("name")? });
                }
            }
            for r in sqlx::query("SELECT year FROM calendar_years").fetch_all(pool).await? {
                years.push(r.try_get::<i64, _>("year")? as i32);
            }
        });
        Ok(WorkCalendar::new(days, years))
    }

    /// Loads the shipped notices when no calendar is loaded (first start).
    pub async fn ensure_calendar(&self) -> Result<WorkCalendar> {
        let cal = self.load_calendar().await?;
        if cal.loaded_years().next().is_some() {
            return Ok(cal);
        }
        self.import_calendar(DEFAULT_CALENDAR, "国务院办公厅节假日安排 2020–2026（随程序提供）").await?;
        self.load_calendar().await
    }
}
