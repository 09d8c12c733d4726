//! Complaints and suggestions (综合点评, S-7) and supervision records (监督查评, S-8): each stored with the case it
//! opens (if any), in one transaction, on the ledger.

use hcp_domain::ledger::{Hash, Record};
use sqlx::Row;

use crate::cases::{CASE_COLS, CaseEvent, StoredCase, case_record, event_record};
use crate::db::Db;
use crate::error::Result;
use crate::on_db;

#[derive(Debug, Clone, PartialEq)]
pub struct StoredComplaint {
    pub id: String,
    pub case_id: String,
    /// `complaint` or `suggestion`
    pub kind: String,
    /// `online`, `phone_line` or `suggestion_box`
    pub source: String,
    pub unit_code: String,
    pub matter_no: Option<String>,
    pub text: String,
    pub anonymous: bool,
    pub contact_name: Option<Vec<u8>>,
    pub contact_phone: Option<Vec<u8>>,
    pub contact_phone_ix: Option<String>,
    pub submitted_at: i64,
    pub entered_by: Option<String>,
}

pub const COMPLAINT_COLS: &[&str] = &[
    "id",
    "case_id",
    "kind",
    "source",
    "unit_code",
    "matter_no",
    "text",
    "anonymous",
    "contact_name",
    "contact_phone",
    "contact_phone_ix",
    "submitted_at",
    "entered_by",
];

/// The protected fields of a complaint (encrypted contact data left out, as with ratings; its presence is in).
pub fn complaint_record(c: &StoredComplaint) -> Record {
    Record::new("complaint")
        .str("id", &c.id)
        .str("case_id", &c.case_id)
        .str("kind", &c.kind)
        .str("source", &c.source)
        .str("unit_code", &c.unit_code)
        .opt_str("matter_no", c.matter_no.as_deref())
        .str("text", &c.text)
        .bool("anonymous", c.anonymous)
        .bool("has_contact_name", c.contact_name.is_some())
        .bool("has_contact_phone", c.contact_phone.is_some())
        .opt_str("contact_phone_ix", c.contact_phone_ix.as_deref())
        .int("submitted_at", c.submitted_at)
        .opt_str("entered_by", c.entered_by.as_deref())
}

pub(crate) fn complaint_from_row<R: Row>(r: &R, p: &str) -> Result<StoredComplaint>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let g = |c: &str| format!("{p}{c}");
    Ok(StoredComplaint {
        id: r.try_get(g("id").as_str())?,
        case_id: r.try_get(g("case_id").as_str())?,
        kind: r.try_get(g("kind").as_str())?,
        source: r.try_get(g("source").as_str())?,
        unit_code: r.try_get(g("unit_code").as_str())?,
        matter_no: r.try_get(g("matter_no").as_str())?,
        text: r.try_get(g("text").as_str())?,
        anonymous: r.try_get(g("anonymous").as_str())?,
        contact_name: r.try_get(g("contact_name").as_str())?,
        contact_phone: r.try_get(g("contact_phone").as_str())?,
        contact_phone_ix: r.try_get(g("contact_phone_ix").as_str())?,
        submitted_at: r.try_get(g("submitted_at").as_str())?,
        entered_by: r.try_get(g("entered_by").as_str())?,
    })
}

fn marks(is_pg: bool, n: usize) -> String {
    (1..=n).map(|i| if is_pg { format!("${i}") } else { "?".to_string() }).collect::<Vec<_>>().join(",")
}

impl Db {
    /// Stores a complaint or suggestion with the case it opens and the case's first event, all on the ledger and
    /// in the outbox, in one transaction.
    pub async fn open_complaint(&self, c: &StoredComplaint, case: &StoredCase, event: &CaseEvent) -> Result<()> {
        let is_pg = matches!(self, Db::Pg(_));
        let begin = if is_pg { "BEGIN" } else { "BEGIN IMMEDIATE" };
        let case_sql = format!("INSERT INTO cases ({}) VALUES ({})", CASE_COLS.join(", "), marks(is_pg, CASE_COLS.len()));
        let complaint_sql =
            format!("INSERT INTO complaints ({}) VALUES ({})", COMPLAINT_COLS.join(", "), marks(is_pg, COMPLAINT_COLS.len()));
        on_db!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let head = crate::ledger::lock_head!(tx, is_pg);
            sqlx::query(sqlx::AssertSqlSafe(case_sql))
                .bind(&case.id).bind(&case.kind).bind(&case.rating_id).bind(&case.matter_no).bind(&case.unit_code).bind(&case.item_code)
                .bind(&case.window_code).bind(&case.staff_code).bind(case.level).bind(&case.category).bind(case.real_name).bind(case.referral)
                .bind(case.opened_at).bind(case.arrival_day).bind(case.respond_by).bind(case.reply_by).bind(case.provisional)
                .execute(&mut *tx).await?;
            sqlx::query(sqlx::AssertSqlSafe(complaint_sql))
                .bind(&c.id).bind(&c.case_id).bind(&c.kind).bind(&c.source).bind(&c.unit_code).bind(&c.matter_no).bind(&c.text)
                .bind(c.anonymous).bind(&c.contact_name).bind(&c.contact_phone).bind(&c.contact_phone_ix).bind(c.submitted_at).bind(&c.entered_by)
                .execute(&mut *tx).await?;
            sqlx::query("INSERT INTO case_status (case_id, unit_code, state, reply_by, updated_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&case.id).bind(&case.unit_code).bind(&event.state_after).bind(case.reply_by).bind(event.at).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO case_events (id, case_id, kind, actor, at, state_after, note) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&event.id).bind(&event.case_id).bind(&event.kind).bind(&event.actor).bind(event.at).bind(&event.state_after).bind(&event.note)
                .execute(&mut *tx).await?;
            crate::ledger::append_chain!(tx, head, [
                ("complaint", c.id.clone(), complaint_record(c).content_hash()),
                ("case_opened", case.id.clone(), case_record(case).content_hash()),
                ("case_event", event.id.clone(), event_record(event).content_hash()),
            ], event.at);
            tx.commit().await?;
        });
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredInspection {
    pub id: String,
    /// `inspection` (the county bureau) or `third_party`
    pub kind: String,
    /// `unit`, `window`, `staff` or `platform`
    pub target_kind: String,
    pub target_code: String,
    /// the unit accountable for the target
    pub unit_code: String,
    pub inspected_on: i64,
    /// `dimension=score` pairs (0..=100), sorted, comma-separated
    pub scores: String,
    pub findings: String,
    pub recorded_by: String,
    pub recorded_at: i64,
    pub case_id: Option<String>,
}

pub const INSPECTION_COLS: &[&str] = &[
    "id",
    "kind",
    "target_kind",
    "target_code",
    "unit_code",
    "inspected_on",
    "scores",
    "findings",
    "recorded_by",
    "recorded_at",
    "case_id",
];

pub fn inspection_record(i: &StoredInspection) -> Record {
    Record::new("inspection")
        .str("id", &i.id)
        .str("kind", &i.kind)
        .str("target_kind", &i.target_kind)
        .str("target_code", &i.target_code)
        .str("unit_code", &i.unit_code)
        .int("inspected_on", i.inspected_on)
        .str("scores", &i.scores)
        .str("findings", &i.findings)
        .str("recorded_by", &i.recorded_by)
        .int("recorded_at", i.recorded_at)
        .opt_str("case_id", i.case_id.as_deref())
}

pub(crate) fn inspection_from_row<R: Row>(r: &R, p: &str) -> Result<StoredInspection>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let g = |c: &str| format!("{p}{c}");
    Ok(StoredInspection {
        id: r.try_get(g("id").as_str())?,
        kind: r.try_get(g("kind").as_str())?,
        target_kind: r.try_get(g("target_kind").as_str())?,
        target_code: r.try_get(g("target_code").as_str())?,
        unit_code: r.try_get(g("unit_code").as_str())?,
        inspected_on: r.try_get(g("inspected_on").as_str())?,
        scores: r.try_get(g("scores").as_str())?,
        findings: r.try_get(g("findings").as_str())?,
        recorded_by: r.try_get(g("recorded_by").as_str())?,
        recorded_at: r.try_get(g("recorded_at").as_str())?,
        case_id: r.try_get(g("case_id").as_str())?,
    })
}

impl Db {
    /// Stores an inspection, and the rectification case a finding opens with its first event, in one transaction.
    pub async fn record_inspection(&self, i: &StoredInspection, case: Option<(&StoredCase, &CaseEvent)>) -> Result<()> {
        let is_pg = matches!(self, Db::Pg(_));
        let begin = if is_pg { "BEGIN" } else { "BEGIN IMMEDIATE" };
        let case_sql = format!("INSERT INTO cases ({}) VALUES ({})", CASE_COLS.join(", "), marks(is_pg, CASE_COLS.len()));
        let insp_sql = format!("INSERT INTO inspections ({}) VALUES ({})", INSPECTION_COLS.join(", "), marks(is_pg, INSPECTION_COLS.len()));
        on_db!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let head = crate::ledger::lock_head!(tx, is_pg);
            let mut entries: Vec<(&str, String, Hash)> = Vec::new();
            if let Some((case, event)) = case {
                sqlx::query(sqlx::AssertSqlSafe(case_sql))
                    .bind(&case.id).bind(&case.kind).bind(&case.rating_id).bind(&case.matter_no).bind(&case.unit_code).bind(&case.item_code)
                    .bind(&case.window_code).bind(&case.staff_code).bind(case.level).bind(&case.category).bind(case.real_name).bind(case.referral)
                    .bind(case.opened_at).bind(case.arrival_day).bind(case.respond_by).bind(case.reply_by).bind(case.provisional)
                    .execute(&mut *tx).await?;
                sqlx::query("INSERT INTO case_status (case_id, unit_code, state, reply_by, updated_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&case.id).bind(&case.unit_code).bind(&event.state_after).bind(case.reply_by).bind(event.at).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO case_events (id, case_id, kind, actor, at, state_after, note) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(&event.id).bind(&event.case_id).bind(&event.kind).bind(&event.actor).bind(event.at).bind(&event.state_after).bind(&event.note)
                    .execute(&mut *tx).await?;
                entries.push(("case_opened", case.id.clone(), case_record(case).content_hash()));
                entries.push(("case_event", event.id.clone(), event_record(event).content_hash()));
            }
            sqlx::query(sqlx::AssertSqlSafe(insp_sql))
                .bind(&i.id).bind(&i.kind).bind(&i.target_kind).bind(&i.target_code).bind(&i.unit_code).bind(i.inspected_on)
                .bind(&i.scores).bind(&i.findings).bind(&i.recorded_by).bind(i.recorded_at).bind(&i.case_id)
                .execute(&mut *tx).await?;
            entries.insert(0, ("inspection", i.id.clone(), inspection_record(i).content_hash()));
            crate::ledger::append_chain!(tx, head, entries, i.recorded_at);
            tx.commit().await?;
        });
        Ok(())
    }

    /// The complaint or suggestion behind a case, if it came from one.
    pub async fn complaint_of_case(&self, case_id: &str) -> Result<Option<StoredComplaint>> {
        let sql = format!("SELECT {} FROM complaints q WHERE q.case_id = $1", crate::cases::prefixed("q", COMPLAINT_COLS, "q_"));
        Ok(on_db!(self, pool => match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(case_id).fetch_optional(pool).await? {
            Some(r) => Some(complaint_from_row(&r, "q_")?),
            None => None,
        }))
    }

    /// Inspections of the given units, newest first.
    pub async fn list_inspections(&self, units: &[String], limit: i64) -> Result<Vec<StoredInspection>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let is_pg = matches!(self, Db::Pg(_));
        let unit_marks: Vec<String> = (0..units.len()).map(|k| if is_pg { format!("${}", k + 2) } else { "?".into() }).collect();
        let sql = format!(
            "SELECT {} FROM inspections i WHERE i.unit_code IN ({}) ORDER BY i.inspected_on DESC, i.recorded_at DESC LIMIT {}",
            crate::cases::prefixed("i", INSPECTION_COLS, "i_"),
            unit_marks.join(","),
            if is_pg { "$1" } else { "?" }
        );
        let mut out = Vec::new();
        on_db!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            if is_pg {
                q = q.bind(limit);
                for u in units {
                    q = q.bind(u.clone());
                }
            } else {
                for u in units {
                    q = q.bind(u.clone());
                }
                q = q.bind(limit);
            }
            for r in q.fetch_all(pool).await? {
                out.push(inspection_from_row(&r, "i_")?);
            }
        });
        Ok(out)
    }
}
