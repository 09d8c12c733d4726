//! Complaints and suggestions (综合点评, S-7) and supervision records (监督查评, S-8): each stored with the case it
//! opens (if any), in one transaction, on the ledger.

use hcp_domain::BizDay;
use hcp_domain::cases::CaseKind;
use hcp_domain::records::{Case, CaseEvent, Complaint, ComplaintSource, Entry, Inspection, RecordKind};
use sqlx::Row;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::on_db;
use crate::tx::{Tx, on_tx, placeholders};

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

pub(crate) fn complaint_from_row<R: Row>(r: &R, p: &str) -> Result<Complaint>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let g = |c: &str| format!("{p}{c}");
    let kind: String = r.try_get(g("kind").as_str())?;
    let source: String = r.try_get(g("source").as_str())?;
    Ok(Complaint {
        id: r.try_get(g("id").as_str())?,
        case_id: r.try_get(g("case_id").as_str())?,
        kind: CaseKind::parse(&kind).ok_or_else(|| StoreError::corrupt(format!("unknown complaint kind {kind}")))?,
        source: ComplaintSource::parse(&source, "source")?,
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

impl Db {
    /// Stores a complaint or suggestion with the case it opens and the case's first event, all on the ledger and
    /// in the outbox, in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn open_complaint(&self, c: &Complaint, case: &Case, event: &CaseEvent) -> Result<()> {
        let mut tx = Tx::write(self).await?;
        let head = tx.lock_head().await?;
        let [opened, first] = tx.open_case(case, event).await?;
        let sql =
            format!("INSERT INTO complaints ({}) VALUES {}", COMPLAINT_COLS.join(", "), placeholders(tx.is_pg(), 1, COMPLAINT_COLS.len()));
        on_tx!(&mut tx, t => sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&c.id).bind(&c.case_id).bind(c.kind.code()).bind(c.source.code()).bind(&c.unit_code).bind(&c.matter_no).bind(&c.text)
            .bind(c.anonymous).bind(&c.contact_name).bind(&c.contact_phone).bind(&c.contact_phone_ix).bind(c.submitted_at).bind(&c.entered_by)
            .execute(&mut **t).await?.rows_affected());
        let complaint = Entry { kind: RecordKind::Complaint, id: c.id.clone(), content: c.record().content_hash() };
        tx.append(head, &[complaint, opened, first], event.at).await?;
        tx.commit().await
    }
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

pub(crate) fn inspection_from_row<R: Row>(r: &R, p: &str) -> Result<Inspection>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let g = |c: &str| format!("{p}{c}");
    let on: i64 = r.try_get(g("inspected_on").as_str())?;
    Ok(Inspection {
        id: r.try_get(g("id").as_str())?,
        kind: r.try_get(g("kind").as_str())?,
        target_kind: r.try_get(g("target_kind").as_str())?,
        target_code: r.try_get(g("target_code").as_str())?,
        unit_code: r.try_get(g("unit_code").as_str())?,
        inspected_on: BizDay::from_key(on).ok_or_else(|| StoreError::corrupt(format!("inspected_on {on} is not a date")))?,
        scores: r.try_get(g("scores").as_str())?,
        findings: r.try_get(g("findings").as_str())?,
        recorded_by: r.try_get(g("recorded_by").as_str())?,
        recorded_at: r.try_get(g("recorded_at").as_str())?,
        case_id: r.try_get(g("case_id").as_str())?,
    })
}

impl Db {
    /// Stores an inspection, and the rectification case a finding opens with its first event, in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn record_inspection(&self, i: &Inspection, case: Option<(&Case, &CaseEvent)>) -> Result<()> {
        let mut tx = Tx::write(self).await?;
        let head = tx.lock_head().await?;
        let mut entries = vec![Entry { kind: RecordKind::Inspection, id: i.id.clone(), content: i.record().content_hash() }];
        if let Some((case, event)) = case {
            entries.extend(tx.open_case(case, event).await?);
        }
        let sql = format!(
            "INSERT INTO inspections ({}) VALUES {}",
            INSPECTION_COLS.join(", "),
            placeholders(tx.is_pg(), 1, INSPECTION_COLS.len())
        );
        on_tx!(&mut tx, t => sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&i.id).bind(&i.kind).bind(&i.target_kind).bind(&i.target_code).bind(&i.unit_code).bind(i.inspected_on.key())
            .bind(&i.scores).bind(&i.findings).bind(&i.recorded_by).bind(i.recorded_at).bind(&i.case_id)
            .execute(&mut **t).await?.rows_affected());
        tx.append(head, &entries, i.recorded_at).await?;
        tx.commit().await
    }

    /// The complaint or suggestion behind a case, if it came from one.
    pub async fn complaint_of_case(&self, case_id: &str) -> Result<Option<Complaint>> {
        let sql = format!("SELECT {} FROM complaints q WHERE q.case_id = $1", crate::cases::prefixed("q", COMPLAINT_COLS, "q_"));
        Ok(on_db!(self, pool => match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(case_id).fetch_optional(pool).await? {
            Some(r) => Some(complaint_from_row(&r, "q_")?),
            None => None,
        }))
    }

    /// Inspections of the given units, newest first.
    pub async fn list_inspections(&self, units: &[String], limit: i64) -> Result<Vec<Inspection>> {
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
