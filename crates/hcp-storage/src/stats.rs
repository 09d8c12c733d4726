//! Satisfaction statistics read from the rollups (never a scan of the ratings table).

use hcp_domain::BizDay;
use hcp_domain::stats::{Dim, LevelCounts};
use sqlx::Row;

use crate::db::Db;
use crate::error::Result;
use crate::on_db;

#[derive(Debug, Clone, PartialEq)]
pub struct GroupStats {
    pub key: String,
    pub counts: LevelCounts,
    /// Completed and rated matters, for dimensions where a matter belongs to one group (unit, item, all).
    pub completed: Option<i64>,
    pub rated_matters: Option<i64>,
}

impl Db {
    /// Counts per group of `dim` for business days `from..=to`, optionally for one key only.
    #[tracing::instrument(skip_all, fields(dim = dim.code()))]
    pub async fn satisfaction(&self, dim: Dim, from: BizDay, to: BizDay, key: Option<&str>) -> Result<Vec<GroupStats>> {
        let (from, to) = (from.key(), to.key());
        let key_filter = key.is_some();
        let sql = if key_filter {
            "SELECT dim_key, CAST(SUM(n1) AS BIGINT) AS n1, CAST(SUM(n2) AS BIGINT) AS n2, CAST(SUM(n3) AS BIGINT) AS n3, CAST(SUM(n4) AS BIGINT) AS n4, CAST(SUM(n5) AS BIGINT) AS n5 \
             FROM rollup_ratings WHERE dim = $1 AND biz_day >= $2 AND biz_day <= $3 AND dim_key = $4 GROUP BY dim_key ORDER BY dim_key"
        } else {
            "SELECT dim_key, CAST(SUM(n1) AS BIGINT) AS n1, CAST(SUM(n2) AS BIGINT) AS n2, CAST(SUM(n3) AS BIGINT) AS n3, CAST(SUM(n4) AS BIGINT) AS n4, CAST(SUM(n5) AS BIGINT) AS n5 \
             FROM rollup_ratings WHERE dim = $1 AND biz_day >= $2 AND biz_day <= $3 AND ($4 = '' OR dim_key = $4) GROUP BY dim_key ORDER BY dim_key"
        };
        let mut out: Vec<GroupStats> = Vec::new();
        let k = key.unwrap_or("");
        on_db!(self, pool => {
            for r in sqlx::query(sql).bind(dim.code()).bind(from).bind(to).bind(k).fetch_all(pool).await? {
                out.push(GroupStats {
                    key: r.try_get("dim_key")?,
                    counts: LevelCounts { by_level: [r.try_get("n1")?, r.try_get("n2")?, r.try_get("n3")?, r.try_get("n4")?, r.try_get("n5")?] },
                    completed: None,
                    rated_matters: None,
                });
            }
        });
        if dim.has_participation() {
            let msql = "SELECT dim_key, CAST(SUM(completed) AS BIGINT) AS completed, CAST(SUM(rated) AS BIGINT) AS rated FROM rollup_matters \
                        WHERE dim = $1 AND biz_day >= $2 AND biz_day <= $3 AND ($4 = '' OR dim_key = $4) GROUP BY dim_key";
            let mut matters: Vec<(String, i64, i64)> = Vec::new();
            on_db!(self, pool => {
                for r in sqlx::query(msql).bind(dim.code()).bind(from).bind(to).bind(k).fetch_all(pool).await? {
                    matters.push((r.try_get("dim_key")?, r.try_get("completed")?, r.try_get("rated")?));
                }
            });
            for g in &mut out {
                g.completed = Some(0);
                g.rated_matters = Some(0);
            }
            for (key, completed, rated) in matters {
                match out.iter_mut().find(|g| g.key == key) {
                    Some(g) => {
                        g.completed = Some(completed);
                        g.rated_matters = Some(rated);
                    }
                    None => {
                        out.push(GroupStats { key, counts: LevelCounts::default(), completed: Some(completed), rated_matters: Some(rated) })
                    }
                }
            }
            out.sort_by(|a, b| a.key.cmp(&b.key));
        }
        Ok(out)
    }

    /// Per-indicator level counts for business days `from..=to`: county-wide, or within one unit.
    #[tracing::instrument(skip_all)]
    pub async fn indicator_counts(&self, from: BizDay, to: BizDay, unit: Option<&str>) -> Result<Vec<(String, LevelCounts)>> {
        use hcp_domain::stats::{INDICATOR_DIM, UNIT_INDICATOR_DIM, unit_indicator_key};
        // Within a unit: the keys `UNIT/…`, by their prefix (a unit code may hold `_`, a LIKE wildcard, and
        // a collation may order punctuation as it likes).
        let (dim, prefix) = match unit {
            Some(u) => (UNIT_INDICATOR_DIM, unit_indicator_key(u, "")),
            None => (INDICATOR_DIM, String::new()),
        };
        let sql = "SELECT dim_key, CAST(SUM(n1) AS BIGINT) AS n1, CAST(SUM(n2) AS BIGINT) AS n2, CAST(SUM(n3) AS BIGINT) AS n3, \
                   CAST(SUM(n4) AS BIGINT) AS n4, CAST(SUM(n5) AS BIGINT) AS n5 FROM rollup_ratings \
                   WHERE dim = $1 AND biz_day >= $2 AND biz_day <= $3 AND substr(dim_key, 1, length($4)) = $4 GROUP BY dim_key ORDER BY dim_key";
        let mut out = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query(sql).bind(dim).bind(from.key()).bind(to.key()).bind(&prefix).fetch_all(pool).await? {
                let key: String = r.try_get("dim_key")?;
                let code = key.rsplit('/').next().unwrap_or(&key).to_string();
                out.push((code, LevelCounts { by_level: [r.try_get("n1")?, r.try_get("n2")?, r.try_get("n3")?, r.try_get("n4")?, r.try_get("n5")?] }));
            }
        });
        Ok(out)
    }
}
