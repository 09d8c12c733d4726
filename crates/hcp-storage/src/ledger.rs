//! The append-only hash chain over ratings (and, later, every record about a rating), and its verification.

use hcp_domain::ledger::{GENESIS, Hash, Record, chain_hash};
use sqlx::Row;

use crate::cases::{CASE_COLS, EVENT_COLS, case_from_row, case_record, event_from_row, event_record, invalidation_record, prefixed};
use crate::complaints::{COMPLAINT_COLS, INSPECTION_COLS, complaint_from_row, complaint_record, inspection_from_row, inspection_record};
use crate::db::Db;
use crate::error::Result;
use crate::on_db;
use crate::ratings::{RATING_COLS, StoredRating, rating_from_row};

/// Takes the chain head inside a write transaction (`FOR UPDATE` on PostgreSQL; SQLite's write lock is already
/// held through `BEGIN IMMEDIATE`): `(seq, hash)` of the last entry.
macro_rules! lock_head {
    ($tx:expr, $is_pg:expr) => {{
        let sql = if $is_pg {
            "SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE"
        } else {
            "SELECT seq, hash FROM chain_head WHERE id = 1"
        };
        let head = sqlx::query(sql).fetch_one(&mut *$tx).await?;
        let seq: i64 = head.try_get("seq")?;
        let hash: Vec<u8> = head.try_get("hash")?;
        let hash: hcp_domain::ledger::Hash =
            hash.as_slice().try_into().map_err(|_| $crate::StoreError::Internal("链头哈希长度错误".into()))?;
        (seq, hash)
    }};
}
pub(crate) use lock_head;

/// Appends `(kind, id, content hash)` entries after `head`, each with its outbox job (`report_<kind>`), and
/// stores the new head; `at` is the time recorded.
macro_rules! append_chain {
    ($tx:expr, $head:expr, $entries:expr, $at:expr) => {{
        let (mut seq, mut prev): (i64, hcp_domain::ledger::Hash) = $head;
        for (kind, id, content) in $entries {
            seq += 1;
            let chain = hcp_domain::ledger::chain_hash(&prev, seq, &content);
            prev = chain;
            sqlx::query("INSERT INTO ledger (seq, kind, ref_id, content_hash, chain_hash, recorded_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(seq)
                .bind(kind)
                .bind(id.clone())
                .bind(content.to_vec())
                .bind(chain.to_vec())
                .bind($at)
                .execute(&mut *$tx)
                .await?;
            sqlx::query(
                "INSERT INTO jobs (id, kind, payload, state, attempts, run_at, created_at) VALUES ($1, $2, $3, 'pending', 0, $4, $4)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(format!("report_{kind}"))
            .bind(format!("{{\"id\":\"{id}\"}}"))
            .bind($at)
            .execute(&mut *$tx)
            .await?;
        }
        sqlx::query("UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1").bind(seq).bind(prev.to_vec()).execute(&mut *$tx).await?;
        seq
    }};
}
pub(crate) use append_chain;

/// The fields of a rating that the chain protects, in their fixed order. Encrypted contact data is left out
/// (it is re-encrypted when keys rotate); its presence and the phone's blind index are in.
pub fn rating_record(r: &StoredRating) -> Record {
    Record::new("rating")
        .str("id", &r.id)
        .str("matter_id", &r.matter_id)
        .str("matter_no", &r.matter_no)
        .int("service_seq", r.service_seq)
        .int("assess_number", r.assess_number)
        .opt_str("follows_id", r.follows_id.as_deref())
        .str("channel", &r.channel)
        .int("level", r.level)
        .str("indicators", &r.indicators)
        .str("reasons", &r.reasons)
        .opt_str("text", r.text.as_deref())
        .bool("anonymous", r.anonymous)
        .bool("has_rater_name", r.rater_name.is_some())
        .bool("has_rater_phone", r.rater_phone.is_some())
        .bool("has_rater_id_number", r.rater_id_number.is_some())
        .opt_str("rater_phone_ix", r.rater_phone_ix.as_deref())
        .bool("rater_from_applicant", r.rater_from_applicant)
        .str("unit_code", &r.unit_code)
        .str("item_code", &r.item_code)
        .opt_str("window_code", r.window_code.as_deref())
        .opt_str("staff_code", r.staff_code.as_deref())
        .int("catalogue_version", r.catalogue_version)
        .bool("referral", r.referral)
        .int("rated_at", r.rated_at)
        .int("received_at", r.received_at)
        .int("biz_day", r.biz_day)
        .str("credential_kind", &r.credential_kind)
        .opt_str("credential_id", r.credential_id.as_deref())
        .opt_str("device_id", r.device_id.as_deref())
        .opt_str("source_hash", r.source_hash.as_deref())
        .str("client_type", &r.client_type)
        .opt_int("seconds_after_service", r.seconds_after_service)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub entries: i64,
    pub ratings: i64,
    /// The first problem found, naming the record; `None` when every chain is intact.
    pub first_break: Option<String>,
}

fn to_hash(v: &[u8]) -> Option<Hash> {
    v.try_into().ok()
}

impl Db {
    /// Recomputes the whole chain from the stored records, in order, and checks that every rating is in it.
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
                let fail = |why: String| Some(format!("账本第 {seq} 条（{kind} {ref_id}）：{why}"));
                if seq != expected_seq {
                    report.first_break = fail(format!("序号不连续，应为 {expected_seq}"));
                    break;
                }
                expected_seq += 1;
                let (Some(content), Some(chain)) = (to_hash(&content), to_hash(&chain)) else {
                    report.first_break = fail("哈希长度错误".into());
                    break;
                };
                let present_col = match kind.as_str() {
                    "rating" => "r_present",
                    "case_opened" => "c_present",
                    "case_event" => "e_present",
                    "rating_invalidated" => "v_present",
                    "complaint" => "q_present",
                    "inspection" => "i_present",
                    _ => {
                        report.first_break = fail("未知的记录类型".into());
                        break;
                    }
                };
                if row.try_get::<Option<String>, _>(present_col)?.is_none() {
                    report.first_break = fail("对应的记录已不存在".into());
                    break;
                }
                let recomputed = match kind.as_str() {
                    "rating" => {
                        report.ratings += 1;
                        rating_record(&rating_from_row(&row)?).content_hash()
                    }
                    "case_opened" => case_record(&case_from_row(&row, "c_")?).content_hash(),
                    "complaint" => complaint_record(&complaint_from_row(&row, "q_")?).content_hash(),
                    "inspection" => inspection_record(&inspection_from_row(&row, "i_")?).content_hash(),
                    "rating_invalidated" => {
                        let (case_id, by, at): (String, String, i64) = (row.try_get("v_case_id")?, row.try_get("v_decided_by")?, row.try_get("v_at")?);
                        invalidation_record(&ref_id, &case_id, &by, at).content_hash()
                    }
                    _ => event_record(&event_from_row(&row, "e_")?).content_hash(),
                };
                if recomputed != content {
                    report.first_break = fail("记录的内容与账本不符（记录被改动）".into());
                    break;
                }
                if chain_hash(&prev, seq, &content) != chain {
                    report.first_break = fail("链哈希不符（账本被改动）".into());
                    break;
                }
                prev = chain;
            }
        });
        if report.first_break.is_none() {
            // Every rating must be on the chain: a row slipped in beside it is a break too.
            for (what, sql) in [
                (
                    "评价",
                    "SELECT r.id FROM ratings r LEFT JOIN ledger l ON l.ref_id = r.id AND l.kind = 'rating' WHERE l.seq IS NULL LIMIT 1",
                ),
                (
                    "工单",
                    "SELECT c.id FROM cases c LEFT JOIN ledger l ON l.ref_id = c.id AND l.kind = 'case_opened' WHERE l.seq IS NULL LIMIT 1",
                ),
                (
                    "工单记录",
                    "SELECT e.id FROM case_events e LEFT JOIN ledger l ON l.ref_id = e.id AND l.kind = 'case_event' WHERE l.seq IS NULL LIMIT 1",
                ),
                (
                    "不属实标记",
                    "SELECT v.rating_id AS id FROM rating_invalidations v LEFT JOIN ledger l ON l.ref_id = v.rating_id AND l.kind = 'rating_invalidated' \
                     WHERE l.seq IS NULL LIMIT 1",
                ),
                (
                    "综合点评",
                    "SELECT q.id FROM complaints q LEFT JOIN ledger l ON l.ref_id = q.id AND l.kind = 'complaint' WHERE l.seq IS NULL LIMIT 1",
                ),
                (
                    "监督查评",
                    "SELECT i.id FROM inspections i LEFT JOIN ledger l ON l.ref_id = i.id AND l.kind = 'inspection' WHERE l.seq IS NULL LIMIT 1",
                ),
            ] {
                let orphan: Option<String> =
                    on_db!(self, pool => sqlx::query(sql).fetch_optional(pool).await?.map(|r| r.try_get("id")).transpose()?);
                if let Some(id) = orphan {
                    report.first_break = Some(format!("{what} {id} 不在账本中（绕过账本写入）"));
                    break;
                }
            }
            let head: Option<(i64, Vec<u8>)> = on_db!(self, pool => sqlx::query("SELECT seq, hash FROM chain_head WHERE id = 1")
                .fetch_optional(pool).await?.map(|r| Ok::<_, sqlx::Error>((r.try_get("seq")?, r.try_get("hash")?))).transpose()?);
            if report.first_break.is_none()
                && let Some((seq, hash)) = head
                && (seq != expected_seq - 1 || hash != prev)
            {
                report.first_break =
                    Some(format!("链头（第 {seq} 条）与账本末尾（第 {} 条）不符：账本末尾的记录被删除或改动", expected_seq - 1));
            }
        }
        Ok(report)
    }
}
