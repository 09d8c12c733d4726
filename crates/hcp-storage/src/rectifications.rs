//! The 台账: rectification items that 限期整改 outcomes promised, kept by the events of their cases
//! (`Tx::project_rectification`), read here for the unit's list, the case page and the overdue sweep.

use hcp_domain::BizDay;
use sqlx::Row;

use crate::db::Db;
use crate::error::Result;
use crate::on_db;
use crate::rows::day;

#[derive(Debug, Clone, PartialEq)]
pub struct Rectification {
    pub case_id: String,
    pub unit_code: String,
    pub reason: String,
    pub rectify_by: BizDay,
    /// `open` or `done`
    pub state: String,
    pub opened_at: i64,
    /// progress notes recorded
    pub progress: i64,
    pub done_at: Option<i64>,
}

const COLS: &str = "case_id, unit_code, reason, rectify_by, state, opened_at, progress, done_at";

fn from_row<R: Row>(r: &R) -> Result<Rectification>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Rectification {
        case_id: r.try_get("case_id")?,
        unit_code: r.try_get("unit_code")?,
        reason: r.try_get("reason")?,
        rectify_by: day(r.try_get("rectify_by")?, "rectify_by")?,
        state: r.try_get("state")?,
        opened_at: r.try_get("opened_at")?,
        progress: r.try_get("progress")?,
        done_at: r.try_get("done_at")?,
    })
}

impl Db {
    /// The rectification item of a case, if a 限期整改 outcome opened one.
    pub async fn rectification_of(&self, case_id: &str) -> Result<Option<Rectification>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM rectifications WHERE case_id = $1"));
        Ok(on_db!(self, pool => match sqlx::query(sql).bind(case_id).fetch_optional(pool).await? {
            Some(r) => Some(from_row(&r)?),
            None => None,
        }))
    }

    /// The items of `units`: open ones by deadline first, then the done ones, newest first.
    pub async fn rectifications(&self, units: &[String]) -> Result<Vec<Rectification>> {
        let mut out = Vec::new();
        let sql = format!("SELECT {COLS} FROM rectifications WHERE unit_code = $1");
        for unit in units {
            on_db!(self, pool => {
                for r in sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(unit).fetch_all(pool).await? {
                    out.push(from_row(&r)?);
                }
            });
        }
        out.sort_by(|a, b| {
            (a.state != "open", a.rectify_by, std::cmp::Reverse(a.opened_at)).cmp(&(
                b.state != "open",
                b.rectify_by,
                std::cmp::Reverse(b.opened_at),
            ))
        });
        Ok(out)
    }

    /// Open items whose deadline passed before `today` (the overdue sweep's candidates).
    pub async fn rectifications_overdue(&self, today: BizDay) -> Result<Vec<Rectification>> {
        let sql =
            sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM rectifications WHERE state = 'open' AND rectify_by < $1 ORDER BY rectify_by"));
        let mut out = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query(sql).bind(today.key()).fetch_all(pool).await? {
                out.push(from_row(&r)?);
            }
        });
        Ok(out)
    }
}
