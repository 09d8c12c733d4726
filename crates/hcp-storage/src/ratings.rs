//! Ratings: stored once, never altered, written in batches by one writer per process (group commit), each
//! with its ledger entry, its rollup change and its outbound report job in the same transaction.

use std::collections::HashMap;

use hcp_domain::Timestamp;
use hcp_domain::ledger::{Hash, chain_hash};
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::ledger::rating_record;
use crate::matters::bump_matters;
use crate::on_db;

/// A rating row exactly as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRating {
    pub id: String,
    pub matter_id: String,
    pub matter_no: String,
    pub service_seq: i64,
    pub assess_number: i64,
    pub follows_id: Option<String>,
    pub channel: String,
    pub level: i64,
    /// `CODE=LEVEL` pairs, sorted by code, comma-separated
    pub indicators: String,
    /// reason codes, sorted, comma-separated
    pub reasons: String,
    pub text: Option<String>,
    pub anonymous: bool,
    pub rater_name: Option<Vec<u8>>,
    pub rater_phone: Option<Vec<u8>>,
    pub rater_id_number: Option<Vec<u8>>,
    pub rater_phone_ix: Option<String>,
    pub rater_from_applicant: bool,
    pub unit_code: String,
    pub item_code: String,
    pub window_code: Option<String>,
    pub staff_code: Option<String>,
    pub catalogue_version: i64,
    pub referral: bool,
    pub rated_at: i64,
    pub received_at: i64,
    pub biz_day: i64,
    pub credential_kind: String,
    pub credential_id: Option<String>,
    pub device_id: Option<String>,
    pub source_hash: Option<String>,
    pub client_type: String,
    pub seconds_after_service: Option<i64>,
    /// Set by the writer: the rating's place in the ledger.
    pub ledger_seq: i64,
}

pub const RATING_COLS: &str = "id, matter_id, matter_no, service_seq, assess_number, follows_id, channel, level, indicators, reasons, text, anonymous, \
rater_name, rater_phone, rater_id_number, rater_phone_ix, rater_from_applicant, unit_code, item_code, window_code, staff_code, catalogue_version, \
referral, rated_at, received_at, biz_day, credential_kind, credential_id, device_id, source_hash, client_type, seconds_after_service, ledger_seq";

pub(crate) fn rating_from_row<R: Row>(r: &R) -> Result<StoredRating>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(StoredRating {
        id: r.try_get("id")?,
        matter_id: r.try_get("matter_id")?,
        matter_no: r.try_get("matter_no")?,
        service_seq: r.try_get("service_seq")?,
        assess_number: r.try_get("assess_number")?,
        follows_id: r.try_get("follows_id")?,
        channel: r.try_get("channel")?,
        level: r.try_get("level")?,
        indicators: r.try_get("indicators")?,
        reasons: r.try_get("reasons")?,
        text: r.try_get("text")?,
        anonymous: r.try_get("anonymous")?,
        rater_name: r.try_get("rater_name")?,
        rater_phone: r.try_get("rater_phone")?,
        rater_id_number: r.try_get("rater_id_number")?,
        rater_phone_ix: r.try_get("rater_phone_ix")?,
        rater_from_applicant: r.try_get("rater_from_applicant")?,
        unit_code: r.try_get("unit_code")?,
        item_code: r.try_get("item_code")?,
        window_code: r.try_get("window_code")?,
        staff_code: r.try_get("staff_code")?,
        catalogue_version: r.try_get("catalogue_version")?,
        referral: r.try_get("referral")?,
        rated_at: r.try_get("rated_at")?,
        received_at: r.try_get("received_at")?,
        biz_day: r.try_get("biz_day")?,
        credential_kind: r.try_get("credential_kind")?,
        credential_id: r.try_get("credential_id")?,
        device_id: r.try_get("device_id")?,
        source_hash: r.try_get("source_hash")?,
        client_type: r.try_get("client_type")?,
        seconds_after_service: r.try_get("seconds_after_service")?,
        ledger_seq: r.try_get("ledger_seq")?,
    })
}

/// A rating to write, with what the writer needs beyond the row.
#[derive(Debug, Clone)]
pub struct NewRating {
    pub row: StoredRating,
    /// The completion day of the matter, if it is completed (participation is counted on that day).
    pub matter_completed_day: Option<i64>,
    /// `(scope, key, digest of the request)` when the client sent an `Idempotency-Key`.
    pub idempotency: Option<(String, String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatingOutcome {
    Created {
        id: String,
        ledger_seq: i64,
    },
    /// The same request was accepted before under the same idempotency key.
    Replayed {
        id: String,
    },
}

type Reply = oneshot::Sender<Result<RatingOutcome>>;

/// The single writer of ratings in this process. Requests that arrive while a batch is being committed
/// wait and go together into the next transaction: one durable commit for many ratings.
#[derive(Clone, Debug)]
pub struct RatingWriter {
    tx: mpsc::Sender<(NewRating, Reply)>,
}

pub const MAX_BATCH: usize = 512;

impl RatingWriter {
    pub fn start(db: Db) -> Self {
        let (tx, mut rx) = mpsc::channel::<(NewRating, Reply)>(MAX_BATCH * 8);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(r) => batch.push(r),
                        Err(_) => break,
                    }
                }
                let (items, replies): (Vec<NewRating>, Vec<Reply>) = batch.into_iter().unzip();
                match db.write_ratings(&items).await {
                    Ok(results) => {
                        for (reply, res) in replies.into_iter().zip(results) {
                            let _ = reply.send(res);
                        }
                    }
                    Err(e) => {
                        // The batch failed as a whole: write each rating alone so that one bad rating cannot
                        // take the others down with it.
                        tracing::warn!(error = %e, size = items.len(), "rating batch failed; retrying one by one");
                        for (item, reply) in items.into_iter().zip(replies) {
                            let res = match db.write_ratings(std::slice::from_ref(&item)).await {
                                Ok(mut v) => v.pop().unwrap_or_else(|| Err(StoreError::Internal("empty batch result".into()))),
                                Err(e) => Err(e),
                            };
                            let _ = reply.send(res);
                        }
                    }
                }
            }
        });
        RatingWriter { tx }
    }

    pub async fn submit(&self, rating: NewRating) -> Result<RatingOutcome> {
        let (reply, wait) = oneshot::channel();
        self.tx.send((rating, reply)).await.map_err(|_| StoreError::Internal("评价写入队列已关闭".into()))?;
        wait.await.map_err(|_| StoreError::Internal("评价写入任务异常退出".into()))?
    }
}

#[derive(Default)]
struct Deltas {
    ratings: HashMap<(&'static str, String, i64), [i64; 5]>,
    rated_matters: HashMap<(String, String, i64), i64>,
}

impl Deltas {
    fn add(&mut self, r: &StoredRating) {
        let idx = (r.level.clamp(1, 5) - 1) as usize;
        let mut dims: Vec<(&'static str, String)> =
            vec![("all", "*".into()), ("unit", r.unit_code.clone()), ("item", r.item_code.clone()), ("channel", r.channel.clone())];
        if let Some(w) = &r.window_code {
            dims.push(("window", w.clone()));
        }
        if let Some(s) = &r.staff_code {
            dims.push(("staff", s.clone()));
        }
        for (dim, key) in dims {
            self.ratings.entry((dim, key, r.biz_day)).or_insert([0; 5])[idx] += 1;
        }
    }
}

impl Db {
    /// Writes a batch in one transaction; returns one result per rating, in order. An `Err` from this
    /// function means nothing of the batch was written.
    pub async fn write_ratings(&self, items: &[NewRating]) -> Result<Vec<Result<RatingOutcome>>> {
        let is_pg = matches!(self, Db::Pg(_));
        let begin = if is_pg { "BEGIN" } else { "BEGIN IMMEDIATE" };
        let head_sql = if is_pg {
            "SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE"
        } else {
            "SELECT seq, hash FROM chain_head WHERE id = 1"
        };
        let insert_sql = format!(
            "INSERT INTO ratings ({RATING_COLS}) VALUES ({}) ON CONFLICT (matter_id, service_seq, assess_number) DO NOTHING RETURNING id",
            (1..=33).map(|i| format!("${i}")).collect::<Vec<_>>().join(",")
        );
        let now = Timestamp::now().micros();
        let results = on_db!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let head = sqlx::query(head_sql).fetch_one(&mut *tx).await?;
            let mut seq: i64 = head.try_get("seq")?;
            let head_hash: Vec<u8> = head.try_get("hash")?;
            let mut prev: Hash = head_hash.as_slice().try_into().map_err(|_| StoreError::Internal("链头哈希长度错误".into()))?;
            let mut deltas = Deltas::default();
            let mut results = Vec::with_capacity(items.len());
            for item in items {
                if let Some((scope, key, digest)) = &item.idempotency {
                    let seen = sqlx::query("SELECT digest, rating_id FROM idempotency_keys WHERE scope = $1 AND key = $2")
                        .bind(scope).bind(key).fetch_optional(&mut *tx).await?;
                    if let Some(seen) = seen {
                        let seen_digest: String = seen.try_get("digest")?;
                        let id: String = seen.try_get("rating_id")?;
                        results.push(if &seen_digest == digest {
                            Ok(RatingOutcome::Replayed { id })
                        } else {
                            Err(StoreError::conflict("idempotency_key_reused", "该 Idempotency-Key 已用于另一条不同的评价", Some(id)))
                        });
                        continue;
                    }
                }
                let mut row = item.row.clone();
                row.ledger_seq = seq + 1;
                let inserted = sqlx::query(sqlx::AssertSqlSafe(insert_sql.clone()))
                    .bind(&row.id).bind(&row.matter_id).bind(&row.matter_no).bind(row.service_seq).bind(row.assess_number)
                    .bind(&row.follows_id).bind(&row.channel).bind(row.level).bind(&row.indicators).bind(&row.reasons)
                    .bind(&row.text).bind(row.anonymous).bind(&row.rater_name).bind(&row.rater_phone).bind(&row.rater_id_number)
                    .bind(&row.rater_phone_ix).bind(row.rater_from_applicant).bind(&row.unit_code).bind(&row.item_code)
                    .bind(&row.window_code).bind(&row.staff_code).bind(row.catalogue_version).bind(row.referral)
                    .bind(row.rated_at).bind(row.received_at).bind(row.biz_day).bind(&row.credential_kind)
                    .bind(&row.credential_id).bind(&row.device_id).bind(&row.source_hash).bind(&row.client_type)
                    .bind(row.seconds_after_service).bind(row.ledger_seq)
                    .fetch_optional(&mut *tx).await?;
                if inserted.is_none() {
                    let existing: Option<String> = sqlx::query("SELECT id FROM ratings WHERE matter_id = $1 AND service_seq = $2 AND assess_number = $3")
                        .bind(&row.matter_id).bind(row.service_seq).bind(row.assess_number)
                        .fetch_optional(&mut *tx).await?.map(|r| r.try_get("id")).transpose()?;
                    results.push(Err(StoreError::conflict("already_rated", "该办件（服务）已评价过，不能重复评价", existing)));
                    continue;
                }
                seq += 1;
                let content = rating_record(&row).content_hash();
                let chain = chain_hash(&prev, seq, &content);
                sqlx::query("INSERT INTO ledger (seq, kind, ref_id, content_hash, chain_hash, recorded_at) VALUES ($1, 'rating', $2, $3, $4, $5)")
                    .bind(seq).bind(&row.id).bind(content.to_vec()).bind(chain.to_vec()).bind(now)
                    .execute(&mut *tx).await?;
                prev = chain;
                sqlx::query("INSERT INTO jobs (id, kind, payload, state, attempts, run_at, created_at) VALUES ($1, 'report_rating', $2, 'pending', 0, $3, $3)")
                    .bind(uuid::Uuid::now_v7().to_string()).bind(serde_json::json!({ "rating_id": row.id }).to_string()).bind(now)
                    .execute(&mut *tx).await?;
                if let Some((scope, key, digest)) = &item.idempotency {
                    sqlx::query("INSERT INTO idempotency_keys (scope, key, digest, rating_id, created_at) VALUES ($1,$2,$3,$4,$5)")
                        .bind(scope).bind(key).bind(digest).bind(&row.id).bind(now).execute(&mut *tx).await?;
                }
                let first = sqlx::query("UPDATE matters SET first_rated_at = $1 WHERE id = $2 AND first_rated_at IS NULL")
                    .bind(row.rated_at).bind(&row.matter_id).execute(&mut *tx).await?.rows_affected();
                if first == 1 && let Some(day) = item.matter_completed_day {
                    *deltas.rated_matters.entry((row.unit_code.clone(), row.item_code.clone(), day)).or_insert(0) += 1;
                }
                deltas.add(&row);
                results.push(Ok(RatingOutcome::Created { id: row.id.clone(), ledger_seq: seq }));
            }
            for ((dim, key, day), n) in &deltas.ratings {
                sqlx::query("INSERT INTO rollup_ratings (dim, dim_key, biz_day, n1, n2, n3, n4, n5) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) \
                    ON CONFLICT (dim, dim_key, biz_day) DO UPDATE SET n1 = rollup_ratings.n1 + excluded.n1, n2 = rollup_ratings.n2 + excluded.n2, \
                    n3 = rollup_ratings.n3 + excluded.n3, n4 = rollup_ratings.n4 + excluded.n4, n5 = rollup_ratings.n5 + excluded.n5")
                    .bind(*dim).bind(key).bind(*day).bind(n[0]).bind(n[1]).bind(n[2]).bind(n[3]).bind(n[4])
                    .execute(&mut *tx).await?;
            }
            for ((unit, item, day), n) in &deltas.rated_matters {
                bump_matters!(tx, *day, unit.as_str(), item.as_str(), 0_i64, *n);
            }
            sqlx::query("UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1").bind(seq).bind(prev.to_vec()).execute(&mut *tx).await?;
            tx.commit().await?;
            results
        });
        Ok(results)
    }

    pub async fn get_rating(&self, id: &str) -> Result<Option<StoredRating>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {RATING_COLS} FROM ratings WHERE id = $1"));
        Ok(on_db!(self, pool => match sqlx::query(sql).bind(id).fetch_optional(pool).await? {
            Some(r) => Some(rating_from_row(&r)?),
            None => None,
        }))
    }

    /// Jobs waiting to run, by kind (the outbox the provincial link will drain).
    pub async fn pending_jobs(&self, kind: &str) -> Result<i64> {
        Ok(on_db!(self, pool => sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE kind = $1 AND state = 'pending'")
            .bind(kind).fetch_one(pool).await?.try_get("n")?))
    }
}
