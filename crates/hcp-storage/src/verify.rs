//! Recomputes the ledger from the stored records: every content hash, every chain hash, the sequence, the head,
//! and that no record lies beside the chain.

use hcp_domain::ledger::{Break, GENESIS, Hash, chain_hash};
use hcp_domain::records::{Invalidation, RecordKind};
use sqlx::Row;

use crate::db::Db;
use crate::error::Result;
use crate::on_db;
use crate::rows::{
    CASE_COLS, COMPLAINT_COLS, EVENT_COLS, INSPECTION_COLS, RATING_COLS, case_from_row, complaint_from_row, event_from_row,
    inspection_from_row, prefixed, rating_from_row,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub entries: i64,
    pub ratings: i64,
    /// The first problem found, naming the record; `None` when the chain is intact.
    pub first_break: Option<Break>,
}

fn to_hash(v: &[u8]) -> Option<Hash> {
    v.try_into().ok()
}

impl Db {
    /// Recomputes the whole chain from the stored records, in order, and checks that every record is on it.
    #[tracing::instrument(skip_all)]
    pub async fn verify_ledger(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport { entries: 0, ratings: 0, first_break: None };
        let mut prev: Hash = GENESIS;
        let mut expected_seq = 1_i64;
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT l.seq AS l_seq, l.kind AS l_kind, l.ref_id AS l_ref, l.content_hash AS l_content, l.chain_hash AS l_chain, r.id AS r_present, {}, \
             c.id AS c_present, {}, e.id AS e_present, {}, \
             v.rating_id AS v_present, v.case_id AS v_case_id, v.decided_by AS v_decided_by, v.at AS v_at, q.id AS q_present, {}, i.id AS i_present, {} \
             FROM ledger l LEFT JOIN ratings r ON r.id = l.ref_id AND l.kind = 'rating' \
             LEFT JOIN cases c ON c.id = l.ref_id AND l.kind = 'case_opened' \
             LEFT JOIN case_events e ON e.id = l.ref_id AND l.kind = 'case_event' \
             LEFT JOIN rating_invalidations v ON v.rating_id = l.ref_id AND l.kind = 'rating_invalidated' \
             LEFT JOIN complaints q ON q.id = l.ref_id AND l.kind = 'complaint' \
             LEFT JOIN inspections i ON i.id = l.ref_id AND l.kind = 'inspection' ORDER BY l.seq",
            RATING_COLS.split(", ").map(|c| format!("r.{c}")).collect::<Vec<_>>().join(", "),
            prefixed("c", CASE_COLS, "c_"),
            prefixed("e", EVENT_COLS, "e_"),
            prefixed("q", COMPLAINT_COLS, "q_"),
            prefixed("i", INSPECTION_COLS, "i_"),
        ));
        on_db!(self, pool => {
            use futures_util::TryStreamExt;
            let mut rows = sqlx::query(sql).fetch(pool);
            while let Some(row) = rows.try_next().await? {
                report.entries += 1;
                let seq: i64 = row.try_get("l_seq")?;
                let kind: String = row.try_get("l_kind")?;
                let ref_id: String = row.try_get("l_ref")?;
                let content: Vec<u8> = row.try_get("l_content")?;
                let chain: Vec<u8> = row.try_get("l_chain")?;
                let (k, r) = (kind.clone(), ref_id.clone());
                if seq != expected_seq {
                    report.first_break = Some(Break::Gap { seq, kind: k, ref_id: r, expected: expected_seq });
                    break;
                }
                expected_seq += 1;
                let (Some(content), Some(chain)) = (to_hash(&content), to_hash(&chain)) else {
                    report.first_break = Some(Break::BadHash { seq, kind: k, ref_id: r });
                    break;
                };
                let Some(record_kind) = RecordKind::parse(&kind) else {
                    report.first_break = Some(Break::UnknownKind { seq, kind: k, ref_id: r });
                    break;
                };
                let present_col = match record_kind {
                    RecordKind::Rating => "r_present",
                    RecordKind::CaseOpened => "c_present",
                    RecordKind::CaseEvent => "e_present",
                    RecordKind::RatingInvalidated => "v_present",
                    RecordKind::Complaint => "q_present",
                    RecordKind::Inspection => "i_present",
                };
                if row.try_get::<Option<String>, _>(present_col)?.is_none() {
                    report.first_break = Some(Break::Missing { seq, kind: k, ref_id: r });
                    break;
                }
                // A record that no longer reads as the domain's types was altered too.
                let recomputed = match record_kind {
                    RecordKind::Rating => {
                        report.ratings += 1;
                        rating_from_row(&row).map(|x| x.record().content_hash())
                    }
                    RecordKind::CaseOpened => case_from_row(&row, "c_").map(|x| x.record().content_hash()),
                    RecordKind::CaseEvent => event_from_row(&row, "e_").map(|x| x.record().content_hash()),
                    RecordKind::Complaint => complaint_from_row(&row, "q_").map(|x| x.record().content_hash()),
                    RecordKind::Inspection => inspection_from_row(&row, "i_").map(|x| x.record().content_hash()),
                    RecordKind::RatingInvalidated => Ok(Invalidation {
                        rating_id: ref_id.clone(),
                        case_id: row.try_get("v_case_id")?,
                        decided_by: row.try_get("v_decided_by")?,
                        at: row.try_get("v_at")?,
                    }
                    .record()
                    .content_hash()),
                };
                if recomputed.ok() != Some(content) {
                    report.first_break = Some(Break::Altered { seq, kind: k, ref_id: r });
                    break;
                }
                if chain_hash(&prev, seq, &content) != chain {
                    report.first_break = Some(Break::Chain { seq, kind: k, ref_id: r });
                    break;
                }
                prev = chain;
            }
        });
        if report.first_break.is_some() {
            return Ok(report);
        }
        // Every record must be on the chain: a row slipped in beside it is a break too.
        for (what, sql) in [
            (
                RecordKind::Rating,
                "SELECT r.id FROM ratings r LEFT JOIN ledger l ON l.ref_id = r.id AND l.kind = 'rating' WHERE l.seq IS NULL LIMIT 1",
            ),
            (
                RecordKind::CaseOpened,
                "SELECT c.id FROM cases c LEFT JOIN ledger l ON l.ref_id = c.id AND l.kind = 'case_opened' WHERE l.seq IS NULL LIMIT 1",
            ),
            (
                RecordKind::CaseEvent,
                "SELECT e.id FROM case_events e LEFT JOIN ledger l ON l.ref_id = e.id AND l.kind = 'case_event' WHERE l.seq IS NULL LIMIT 1",
            ),
            (
                RecordKind::RatingInvalidated,
                "SELECT v.rating_id AS id FROM rating_invalidations v LEFT JOIN ledger l ON l.ref_id = v.rating_id AND l.kind = 'rating_invalidated' \
                 WHERE l.seq IS NULL LIMIT 1",
            ),
            (
                RecordKind::Complaint,
                "SELECT q.id FROM complaints q LEFT JOIN ledger l ON l.ref_id = q.id AND l.kind = 'complaint' WHERE l.seq IS NULL LIMIT 1",
            ),
            (
                RecordKind::Inspection,
                "SELECT i.id FROM inspections i LEFT JOIN ledger l ON l.ref_id = i.id AND l.kind = 'inspection' WHERE l.seq IS NULL LIMIT 1",
            ),
        ] {
            let orphan: Option<String> =
                on_db!(self, pool => sqlx::query(sql).fetch_optional(pool).await?.map(|r| r.try_get("id")).transpose()?);
            if let Some(id) = orphan {
                report.first_break = Some(Break::NotOnChain { what: what.label(), id });
                return Ok(report);
            }
        }
        let head: Option<(i64, Vec<u8>)> = on_db!(self, pool => sqlx::query("SELECT seq, hash FROM chain_head WHERE id = 1")
            .fetch_optional(pool).await?.map(|r| Ok::<_, sqlx::Error>((r.try_get("seq")?, r.try_get("hash")?))).transpose()?);
        if let Some((seq, hash)) = head
            && (seq != expected_seq - 1 || hash != prev)
        {
            report.first_break = Some(Break::Head { head_seq: seq, last_seq: expected_seq - 1 });
        }
        Ok(report)
    }
}
