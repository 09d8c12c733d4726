//! Matters (办件) and their service occasions (服务, the unit of 一次一评).

use hcp_domain::person::{IdNumber, PersonName, Phone};
use hcp_domain::{DomainError, Timestamp};
use sqlx::Row;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::on_db;
use crate::pii::Secrets;

#[derive(Debug, Clone)]
pub struct NewMatter {
    pub matter_no: String,
    pub item_code: String,
    pub unit_code: String,
    /// `person` (自然人) or `legal` (法人/其他组织)
    pub applicant_kind: String,
    pub applicant_name: PersonName,
    pub applicant_phone: Option<Phone>,
    pub applicant_id_number: Option<IdNumber>,
    pub accepted_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    pub source_kind: String,
    pub source_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Matter {
    pub id: String,
    pub matter_no: String,
    pub item_code: String,
    pub unit_code: String,
    pub applicant_kind: String,
    pub applicant_name: Vec<u8>,
    pub applicant_phone: Option<Vec<u8>>,
    pub applicant_id: Option<Vec<u8>>,
    pub accepted_at: Timestamp,
    pub completed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub matter_id: String,
    pub seq: i64,
    pub window_code: Option<String>,
    pub staff_code: Option<String>,
    pub served_at: Timestamp,
}

/// What registering a matter did.
#[derive(Debug, Clone, PartialEq)]
pub enum Registered {
    Created(Matter),
    /// The same matter was registered before (idempotent on `matter_no`); `completed` says whether this
    /// call recorded its completion.
    Existing {
        matter: Matter,
        completed_now: bool,
    },
}

const MATTER_COLS: &str =
    "id, matter_no, item_code, unit_code, applicant_kind, applicant_name, applicant_phone, applicant_id, accepted_at, completed_at";

fn matter_from_row<R: Row>(r: &R) -> Result<Matter>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Matter {
        id: r.try_get("id")?,
        matter_no: r.try_get("matter_no")?,
        item_code: r.try_get("item_code")?,
        unit_code: r.try_get("unit_code")?,
        applicant_kind: r.try_get("applicant_kind")?,
        applicant_name: r.try_get("applicant_name")?,
        applicant_phone: r.try_get("applicant_phone")?,
        applicant_id: r.try_get("applicant_id")?,
        accepted_at: Timestamp(r.try_get("accepted_at")?),
        completed_at: r.try_get::<Option<i64>, _>("completed_at")?.map(Timestamp),
    })
}

/// Upserts the completed/rated counts of a matter into `rollup_matters` for its dimensions.
macro_rules! bump_matters {
    ($tx:expr, $day:expr, $unit:expr, $item:expr, $completed:expr, $rated:expr) => {{
        for (dim, key) in [("all", "*"), ("unit", $unit), ("item", $item)] {
            sqlx::query(
                "INSERT INTO rollup_matters (dim, dim_key, biz_day, completed, rated) VALUES ($1,$2,$3,$4,$5) \
                 ON CONFLICT (dim, dim_key, biz_day) DO UPDATE SET completed = rollup_matters.completed + excluded.completed, rated = rollup_matters.rated + excluded.rated",
            )
            .bind(dim)
            .bind(key)
            .bind($day)
            .bind($completed)
            .bind($rated)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}
pub(crate) use bump_matters;

impl Db {
    pub async fn register_matter(&self, m: &NewMatter, secrets: &Secrets) -> Result<Registered> {
        if let Some(done) = m.completed_at
            && done < m.accepted_at
        {
            return Err(DomainError::new("invalid_timestamp", "completed_at", "办结时间不能早于受理时间").into());
        }
        let id = uuid::Uuid::now_v7().to_string();
        let name = secrets.encrypt(m.applicant_name.as_str())?;
        let phone = m.applicant_phone.as_ref().map(|p| secrets.encrypt(p.as_str())).transpose()?;
        let phone_ix = m.applicant_phone.as_ref().map(|p| secrets.phone_index(p.as_str()));
        let idn = m.applicant_id_number.as_ref().map(|i| secrets.encrypt(i.as_str())).transpose()?;
        let now = Timestamp::now().micros();
        let result = on_db!(self, pool => {
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO matters (id, matter_no, item_code, unit_code, applicant_kind, applicant_name, applicant_phone, applicant_id, applicant_phone_ix, accepted_at, completed_at, source_kind, source_id, created_at) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) ON CONFLICT (matter_no) DO NOTHING RETURNING id")
                .bind(&id).bind(&m.matter_no).bind(&m.item_code).bind(&m.unit_code).bind(&m.applicant_kind)
                .bind(name).bind(phone).bind(idn).bind(phone_ix).bind(m.accepted_at.micros()).bind(m.completed_at.map(|t| t.micros()))
                .bind(&m.source_kind).bind(&m.source_id).bind(now)
                .fetch_optional(&mut *tx).await
                .map_err(|e| match &e {
                    sqlx::Error::Database(d) if d.is_foreign_key_violation() =>
                        StoreError::Rule(DomainError::new("unknown_reference", "item_code", "事项编码或单位编码不存在（item_code / unit_code）")),
                    _ => StoreError::Database(e),
                })?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MATTER_COLS} FROM matters WHERE matter_no = $1")))
                .bind(&m.matter_no).fetch_one(&mut *tx).await?;
            let existing = matter_from_row(&row)?;
            let outcome = if inserted.is_some() {
                if let Some(done) = m.completed_at {
                    bump_matters!(tx, done.biz_day(), &m.unit_code, &m.item_code, 1_i64, 0_i64);
                }
                Registered::Created(existing)
            } else {
                let same_core = existing.item_code == m.item_code && existing.unit_code == m.unit_code
                    && existing.accepted_at == m.accepted_at && existing.applicant_kind == m.applicant_kind
                    && secrets.decrypt(&existing.applicant_name).ok().as_deref() == Some(m.applicant_name.as_str());
                if !same_core {
                    return Err(StoreError::conflict("matter_conflict", format!("办件编号 {} 已登记，且内容与本次不同", m.matter_no), None));
                }
                match (existing.completed_at, m.completed_at) {
                    (None, Some(done)) => {
                        // The row lock orders this against the rating writer: whichever comes second sees the
                        // other's change, so a matter is counted completed once and rated once.
                        let updated = sqlx::query("UPDATE matters SET completed_at = $1 WHERE id = $2 AND completed_at IS NULL RETURNING first_rated_at")
                            .bind(done.micros()).bind(&existing.id).fetch_optional(&mut *tx).await?;
                        if let Some(row) = updated {
                            let rated = if row.try_get::<Option<i64>, _>("first_rated_at")?.is_some() { 1_i64 } else { 0 };
                            bump_matters!(tx, done.biz_day(), &m.unit_code, &m.item_code, 1_i64, rated);
                        }
                        let mut matter = existing;
                        matter.completed_at = Some(done);
                        Registered::Existing { matter, completed_now: true }
                    }
                    (a, b) if b.is_none() || a == b => Registered::Existing { matter: existing, completed_now: false },
                    _ => return Err(StoreError::conflict("matter_conflict", format!("办件编号 {} 已记录了不同的办结时间", m.matter_no), None)),
                }
            };
            tx.commit().await?;
            outcome
        });
        Ok(result)
    }

    pub async fn find_matter(&self, matter_no: &str) -> Result<Option<Matter>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {MATTER_COLS} FROM matters WHERE matter_no = $1"));
        Ok(on_db!(self, pool => match sqlx::query(sql).bind(matter_no).fetch_optional(pool).await? {
            Some(r) => Some(matter_from_row(&r)?),
            None => None,
        }))
    }

    /// Records one service occasion of a matter; its sequence number is the next free one.
    pub async fn add_service(
        &self,
        matter_id: &str,
        window_code: Option<&str>,
        staff_code: Option<&str>,
        served_at: Timestamp,
    ) -> Result<Service> {
        let now = Timestamp::now().micros();
        for _attempt in 0..5 {
            let res = on_db!(self, pool => sqlx::query(
                "INSERT INTO services (matter_id, seq, window_code, staff_code, served_at, created_at) \
                 SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM services WHERE matter_id = $1 RETURNING seq")
                .bind(matter_id).bind(window_code).bind(staff_code).bind(served_at.micros()).bind(now)
                .fetch_one(pool).await.and_then(|row| row.try_get::<i64, _>("seq")));
            match res {
                Ok(seq) => {
                    return Ok(Service {
                        matter_id: matter_id.to_string(),
                        seq,
                        window_code: window_code.map(str::to_string),
                        staff_code: staff_code.map(str::to_string),
                        served_at,
                    });
                }
                Err(sqlx::Error::Database(d)) if d.is_unique_violation() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Internal("并发登记服务次数冲突，请重试".into()))
    }

    /// A matter with the service occasion a rating is about, in one query: occasion `seq` when given, else the
    /// latest one (`None` when the matter has none, or has no occasion `seq`).
    pub async fn matter_for_rating(&self, matter_no: &str, seq: Option<i64>) -> Result<Option<(Matter, Option<Service>)>> {
        let cols = MATTER_COLS.split(", ").map(|c| format!("m.{c}")).collect::<Vec<_>>().join(", ");
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {cols}, s.seq AS s_seq, s.window_code AS s_window, s.staff_code AS s_staff, s.served_at AS s_served FROM matters m \
             LEFT JOIN services s ON s.matter_id = m.id AND s.seq = COALESCE($2, (SELECT MAX(x.seq) FROM services x WHERE x.matter_id = m.id)) \
             WHERE m.matter_no = $1"
        ));
        Ok(on_db!(self, pool => match sqlx::query(sql).bind(matter_no).bind(seq).fetch_optional(pool).await? {
            Some(r) => {
                let matter = matter_from_row(&r)?;
                let service = match r.try_get::<Option<i64>, _>("s_seq")? {
                    Some(seq) => Some(Service {
                        matter_id: matter.id.clone(),
                        seq,
                        window_code: r.try_get("s_window")?,
                        staff_code: r.try_get("s_staff")?,
                        served_at: Timestamp(r.try_get("s_served")?),
                    }),
                    None => None,
                };
                Some((matter, service))
            }
            None => None,
        }))
    }

    /// The most recent service occasion of a matter, if any.
    /// The latest service recorded at `window` since `since` (micros), if it is not rated yet: what the window's
    /// rating device should offer. `(matter_no, seq, item_code, staff_code)`.
    pub async fn pending_service_at_window(&self, window: &str, since: i64) -> Result<Option<(String, i64, String, Option<String>)>> {
        Ok(on_db!(self, pool => match sqlx::query(
            "SELECT m.matter_no, s.seq, m.item_code, s.staff_code, \
             EXISTS (SELECT 1 FROM ratings r WHERE r.matter_id = s.matter_id AND r.service_seq = s.seq) AS rated \
             FROM services s JOIN matters m ON m.id = s.matter_id \
             WHERE s.window_code = $1 AND s.created_at >= $2 ORDER BY s.created_at DESC LIMIT 1")
            .bind(window).bind(since).fetch_optional(pool).await? {
            // Only the window's latest service: once it is rated, an older one left unrated is not offered
            // (the next press would be charged to the wrong person).
            Some(r) if !r.try_get::<bool, _>("rated")? => Some((r.try_get("matter_no")?, r.try_get("seq")?, r.try_get("item_code")?, r.try_get("staff_code")?)),
            _ => None,
        }))
    }

    pub async fn latest_service(&self, matter_id: &str) -> Result<Option<Service>> {
        Ok(
            on_db!(self, pool => match sqlx::query("SELECT matter_id, seq, window_code, staff_code, served_at FROM services WHERE matter_id = $1 ORDER BY seq DESC LIMIT 1")
                .bind(matter_id).fetch_optional(pool).await? {
                Some(r) => Some(Service { matter_id: r.try_get("matter_id")?, seq: r.try_get("seq")?, window_code: r.try_get("window_code")?,
                    staff_code: r.try_get("staff_code")?, served_at: Timestamp(r.try_get("served_at")?) }),
                None => None,
            }),
        )
    }
}
