//! Complaints and suggestions (综合点评, S-7) and supervision records (监督查评, S-8): each stored with the case it
//! opens (if any), in one transaction, on the ledger.

use hcp_domain::records::{Case, CaseEvent, Complaint, Entry, Inspection, RecordKind};

use crate::db::Db;
use crate::error::Result;
use crate::on_db;
use crate::rows::{COMPLAINT_COLS, INSPECTION_COLS, complaint_from_row, inspection_from_row, prefixed};
use crate::tx::{Tx, on_tx, placeholders};

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
            .bind(&i.id).bind(&i.kind).bind(i.target_kind.code()).bind(&i.target_code).bind(&i.unit_code).bind(i.inspected_on.key())
            .bind(&i.scores).bind(&i.findings).bind(&i.recorded_by).bind(i.recorded_at).bind(&i.case_id)
            .execute(&mut **t).await?.rows_affected());
        tx.append(head, &entries, i.recorded_at).await?;
        tx.commit().await
    }

    /// The complaint or suggestion behind a case, if it came from one.
    pub async fn complaint_of_case(&self, case_id: &str) -> Result<Option<Complaint>> {
        let sql = format!("SELECT {} FROM complaints q WHERE q.case_id = $1", prefixed("q", COMPLAINT_COLS, "q_"));
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
            prefixed("i", INSPECTION_COLS, "i_"),
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
