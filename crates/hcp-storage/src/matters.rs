//! Matters (办件) and their service occasions (服务, the unit of 一次一评).

use hcp_domain::Timestamp;
use sqlx::Row;

use crate::db::Db;
use crate::error::{Conflict, Result, StoreError};
use crate::on_db;
use crate::tx::{Tx, on_tx};

/// A matter to register, its applicant's data already encrypted.
#[derive(Debug, Clone)]
pub struct NewMatter {
    pub matter_no: String,
    pub item_code: String,
    pub unit_code: String,
    /// `person` (自然人) or `legal` (法人/其他组织)
    pub applicant_kind: String,
    pub applicant_name: Vec<u8>,
    pub applicant_phone: Option<Vec<u8>>,
    /// the phone's blind index
    pub applicant_phone_ix: Option<String>,
    pub applicant_id: Option<Vec<u8>>,
    pub accepted_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    pub details: MatterDetails,
    pub source_kind: String,
    pub source_id: Option<String>,
}

/// What the national 办件服务 record needs beyond the basics, all optional (matters registered before these
/// were kept have none). The agent's name and identity number are envelopes, like the applicant's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatterDetails {
    /// 办件名称
    pub project_name: Option<String>,
    /// the applicant's kind in the national codes (userProp 1, 2, 3, 4, 5, 6, 9)
    pub applicant_prop: Option<i64>,
    /// 承诺时限: (amount, unit 0 天 / 1 工作日 / 2 月 / 3 年)
    pub promise: Option<(i64, i64)>,
    /// 法定时限: (amount, unit)
    pub legal: Option<(i64, i64)>,
    /// `instant` (即办件) or `promised` (承诺件)
    pub handling: Option<String>,
    /// `online` or `offline`
    pub proc_channel: Option<String>,
    pub agent_name: Option<Vec<u8>>,
    pub agent_id: Option<Vec<u8>>,
    /// 经办人 of a matter handled online (a service occasion names its own staff)
    pub handler_code: Option<String>,
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
    pub details: MatterDetails,
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

pub(crate) const MATTER_COLS: &str = "id, matter_no, item_code, unit_code, applicant_kind, applicant_name, applicant_phone, applicant_id, \
     accepted_at, completed_at, project_name, applicant_prop, promise_limit, promise_unit, legal_limit, legal_unit, handling, proc_channel, \
     agent_name, agent_id, handler_code";

pub(crate) fn matter_from_row<R: Row>(r: &R) -> Result<Matter>
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
        details: MatterDetails {
            project_name: r.try_get("project_name")?,
            applicant_prop: r.try_get("applicant_prop")?,
            promise: r.try_get::<Option<i64>, _>("promise_limit")?.zip(r.try_get::<Option<i64>, _>("promise_unit")?),
            legal: r.try_get::<Option<i64>, _>("legal_limit")?.zip(r.try_get::<Option<i64>, _>("legal_unit")?),
            handling: r.try_get("handling")?,
            proc_channel: r.try_get("proc_channel")?,
            agent_name: r.try_get("agent_name")?,
            agent_id: r.try_get("agent_id")?,
            handler_code: r.try_get("handler_code")?,
        },
    })
}

impl Db {
    /// Registers a matter, idempotently on `matter_no`: a second registration that `is_same` as the stored one
    /// returns it, and records its completion if this one brings it; anything else is a conflict. `invite` is
    /// the invitation to rate that the completion brings (S-5): stored with it, if the matter is unrated, the
    /// rating window still open and the phone not opted out.
    #[tracing::instrument(skip_all)]
    pub async fn register_matter(
        &self,
        m: &NewMatter,
        is_same: impl Fn(&Matter) -> bool,
        invite: Option<&crate::invitations::NewInvitation>,
    ) -> Result<Registered> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = Timestamp::now().micros();
        let d = &m.details;
        let mut tx = Tx::plain(self).await?;
        let (inserted, existing) = on_tx!(&mut tx, t => {
            let inserted = sqlx::query(
                "INSERT INTO matters (id, matter_no, item_code, unit_code, applicant_kind, applicant_name, applicant_phone, applicant_id, applicant_phone_ix, accepted_at, completed_at, source_kind, source_id, created_at, \
                 project_name, applicant_prop, promise_limit, promise_unit, legal_limit, legal_unit, handling, proc_channel, agent_name, agent_id, handler_code) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25) ON CONFLICT (matter_no) DO NOTHING RETURNING id")
                .bind(&id).bind(&m.matter_no).bind(&m.item_code).bind(&m.unit_code).bind(&m.applicant_kind)
                .bind(&m.applicant_name).bind(&m.applicant_phone).bind(&m.applicant_id).bind(&m.applicant_phone_ix)
                .bind(m.accepted_at.micros()).bind(m.completed_at.map(|t| t.micros()))
                .bind(&m.source_kind).bind(&m.source_id).bind(now)
                .bind(&d.project_name).bind(d.applicant_prop).bind(d.promise.map(|p| p.0)).bind(d.promise.map(|p| p.1))
                .bind(d.legal.map(|p| p.0)).bind(d.legal.map(|p| p.1)).bind(&d.handling).bind(&d.proc_channel)
                .bind(&d.agent_name).bind(&d.agent_id).bind(&d.handler_code)
                .fetch_optional(&mut **t).await
                .map_err(|e| crate::error::on_insert(e, "matters", &m.matter_no, "item_code"))?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MATTER_COLS} FROM matters WHERE matter_no = $1")))
                .bind(&m.matter_no).fetch_one(&mut **t).await?;
            (inserted.is_some(), matter_from_row(&row)?)
        });
        let outcome = if inserted {
            if let Some(done) = m.completed_at {
                tx.bump_matters(done.biz_day(), &m.unit_code, &m.item_code, 1, 0).await?;
                if let Some(inv) = invite.filter(|i| i.closes_at > now) {
                    tx.invite(&existing.id, &existing.matter_no, inv, now).await?;
                }
            }
            Registered::Created(existing)
        } else {
            if !is_same(&existing) {
                return Err(StoreError::Conflict(Conflict::MatterDiffers));
            }
            match (existing.completed_at, m.completed_at) {
                (None, Some(done)) => {
                    // The row lock orders this against the rating writer: whichever comes second sees the
                    // other's change, so a matter is counted completed once and rated once.
                    let updated = on_tx!(&mut tx, t => sqlx::query(
                        "UPDATE matters SET completed_at = $1 WHERE id = $2 AND completed_at IS NULL RETURNING first_rated_at")
                        .bind(done.micros()).bind(&existing.id).fetch_optional(&mut **t).await?
                        .map(|row| row.try_get::<Option<i64>, _>("first_rated_at")).transpose()?);
                    if let Some(first_rated) = updated {
                        let rated = i64::from(first_rated.is_some());
                        tx.bump_matters(done.biz_day(), &m.unit_code, &m.item_code, 1, rated).await?;
                        if let Some(inv) = invite.filter(|i| i.closes_at > now && first_rated.is_none()) {
                            tx.invite(&existing.id, &existing.matter_no, inv, now).await?;
                        }
                    }
                    let mut matter = existing;
                    matter.completed_at = Some(done);
                    Registered::Existing { matter, completed_now: true }
                }
                (a, b) if b.is_none() || a == b => Registered::Existing { matter: existing, completed_now: false },
                _ => return Err(StoreError::Conflict(Conflict::CompletionDiffers)),
            }
        };
        tx.commit().await?;
        Ok(outcome)
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
                Err(e) => return Err(crate::error::on_insert(e, "services", matter_id, "window_code")),
            }
        }
        Err(StoreError::Conflict(Conflict::ServiceSeqContended))
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

    /// The windows at which a matter was served (each once).
    pub async fn windows_of_matter(&self, matter_id: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query("SELECT DISTINCT window_code FROM services WHERE matter_id = $1 AND window_code IS NOT NULL ORDER BY window_code")
                .bind(matter_id).fetch_all(pool).await? {
                out.push(r.try_get("window_code")?);
            }
        });
        Ok(out)
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
