//! The provincial link's outbox. The ledger keeps every record's identity; while a link is configured, the
//! planner turns ledger entries (in ledger order, from a cursor) into outbox rows, one per record to send, with
//! the identity that must be delivered first. Senders on any number of nodes claim rows with a lease
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL), and mark each one delivered or rejected with the province's reason.
//! Nothing here decides what a record says: `hcp_domain::province` plans, `hcp_app::province` builds.

use hcp_domain::Timestamp;
use hcp_domain::case_flow::CaseState;
use hcp_domain::cases::CaseKind;
use hcp_domain::province::{EntryFacts, Identity, Op, Planned, Source, Step, Subject};
use hcp_domain::records::{Case, CaseEvent, Rating, RecordKind};
use sqlx::Row;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::matters::{MATTER_COLS, Matter, Service, matter_from_row};
use crate::on_db;
use crate::rows::{CASE_COLS, EVENT_COLS, RATING_COLS, case_from_row, event_from_row, prefixed, rating_from_row, state_of};
use crate::tx::{Tx, on_tx, placeholders};

/// One claimed outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: Identity,
    pub source: Source,
    pub attempts: i64,
}

/// How one record ended at the province.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Delivered {
        note: Option<String>,
    },
    Rejected {
        reason: String,
    },
    /// nothing counted (the request failed): send it again later
    Retry,
}

/// What the link's status shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkStatus {
    /// `(op, state, count)`
    pub counts: Vec<(String, String, i64)>,
    /// ledger entries not yet planned into the outbox
    pub unplanned: i64,
    /// the oldest record not delivered: `(identity key, planned_at)`
    pub oldest_undelivered: Option<(String, i64)>,
    pub last_success: Option<i64>,
    pub last_error: Option<(String, i64)>,
    /// the most recent rejections: `(identity key, reason, at)`
    pub rejects: Vec<(String, String, i64)>,
}

fn in_list(numbered: bool, first: usize, n: usize) -> String {
    (0..n).map(|i| if numbered { format!("${}", first + i) } else { "?".to_string() }).collect::<Vec<_>>().join(",")
}

fn source_parts(s: &Source) -> (&'static str, String, Option<String>, Option<&'static str>) {
    match s {
        Source::Service { matter_id, service_seq } => ("service", matter_id.clone(), Some(service_seq.to_string()), None),
        Source::Evaluation { rating_id } => ("evaluation", rating_id.clone(), None, None),
        Source::Step { case_id, ref_id, step } => ("step", case_id.clone(), Some(ref_id.clone()), Some(step.code())),
    }
}

fn source_of(kind: &str, id: String, r: Option<String>, step: Option<String>) -> Result<Source> {
    let bad = || StoreError::corrupt(format!("province_outbox: unreadable source {kind}"));
    Ok(match kind {
        "service" => Source::Service { matter_id: id, service_seq: r.and_then(|s| s.parse().ok()).ok_or_else(bad)? },
        "evaluation" => Source::Evaluation { rating_id: id },
        "step" => Source::Step { case_id: id, ref_id: r.ok_or_else(bad)?, step: step.as_deref().and_then(Step::parse).ok_or_else(bad)? },
        _ => return Err(bad()),
    })
}

impl Db {
    /// Plans up to `limit` ledger entries past the cursor into outbox rows, in one transaction (the cursor row
    /// is locked, so nodes plan in turn). Returns how many entries were planned.
    pub async fn plan_province(&self, limit: i64, now: Timestamp) -> Result<usize> {
        let mut tx = Tx::write(self).await?;
        let n = tx.plan_province(limit, now).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Claims up to `limit` pending records of `op` whose predecessor is delivered, for `lease_micros`, under
    /// `token` (records whose node died mid-send come back through `release_province_leases`).
    pub async fn claim_province(&self, op: Op, limit: i64, lease_micros: i64, token: &str, now: Timestamp) -> Result<Vec<Claimed>> {
        let is_pg = matches!(self, Db::Pg(_));
        let skip = if is_pg { "FOR UPDATE OF o SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE province_outbox SET state = 'sending', attempts = attempts + 1, lease_until = $1, lease_token = $2 \
             WHERE id IN (SELECT o.id FROM province_outbox o WHERE o.op = $3 AND o.state = 'pending' \
               AND (o.after_id IS NULL OR EXISTS (SELECT 1 FROM province_outbox d WHERE d.id = o.after_id AND d.state = 'delivered')) \
               ORDER BY o.seq LIMIT $4 {skip}) \
             RETURNING id, seq, source_kind, source_id, source_ref, step, attempts"
        );
        let mut rows = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now.micros() + lease_micros).bind(token).bind(op.code()).bind(limit).fetch_all(pool).await? {
                let key: String = r.try_get("id")?;
                let id = Identity::parse_key(&key).ok_or_else(|| StoreError::corrupt(format!("province_outbox: unreadable id {key}")))?;
                let source = source_of(&r.try_get::<String, _>("source_kind")?, r.try_get("source_id")?, r.try_get("source_ref")?, r.try_get("step")?)?;
                rows.push((r.try_get::<i64, _>("seq")?, Claimed { id, source, attempts: r.try_get("attempts")? }));
            }
        });
        rows.sort_by_key(|(seq, _)| *seq);
        Ok(rows.into_iter().map(|(_, c)| c).collect())
    }

    /// Gives back the records whose node died holding them (their lease ran out): a drain pass does this once
    /// before it claims. An index scan in the index's order, so that PostgreSQL marks the entries of rows long
    /// moved on as dead as it passes them (a bitmap scan, per batch, slowed a growing outbox to a crawl where
    /// autovacuum lags).
    pub async fn release_province_leases(&self, now: Timestamp) -> Result<u64> {
        Ok(on_db!(self, pool => sqlx::query(
            "UPDATE province_outbox SET state = 'pending', lease_token = NULL WHERE id IN \
             (SELECT id FROM province_outbox WHERE state = 'sending' AND lease_until < $1 ORDER BY state, seq LIMIT 10000)")
            .bind(now.micros()).execute(pool).await?.rows_affected()))
    }

    /// Ends claimed records as the province answered. A record whose lease was taken over by another node is
    /// left to that node. A rejection blocks the records that depend on it.
    pub async fn finish_province(&self, token: &str, results: &[(Identity, Delivery)], now: Timestamp) -> Result<()> {
        // One statement per outcome (and reason), not per record: a batch of 100 is a handful of statements.
        let mut groups: std::collections::BTreeMap<(&'static str, Option<&str>), Vec<String>> = std::collections::BTreeMap::new();
        let mut rejected = Vec::new();
        for (id, d) in results {
            let (state, reason) = match d {
                Delivery::Delivered { note } => ("delivered", note.as_deref()),
                Delivery::Rejected { reason } => {
                    rejected.push(id.key());
                    ("rejected", Some(reason.as_str()))
                }
                Delivery::Retry => ("pending", None),
            };
            groups.entry((state, reason)).or_default().push(id.key());
        }
        let mut tx = Tx::write(self).await?;
        for ((state, reason), ids) in &groups {
            for chunk in ids.chunks(256) {
                // A record given back keeps no time; one that ended records when. Numbered on both engines: SQLite
                // would number anonymous `?` after `$1`–`$4` differently from the binding order.
                let sql = format!(
                    "UPDATE province_outbox SET state = $1, delivered_at = CASE WHEN $1 = 'pending' THEN delivered_at ELSE $2 END, \
                     reason = $3, lease_token = NULL WHERE state = 'sending' AND lease_token = $4 AND id IN ({})",
                    in_list(true, 5, chunk.len())
                );
                on_tx!(&mut tx, t => {
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(*state).bind(now.micros()).bind(*reason).bind(token);
                    for id in chunk {
                        q = q.bind(id);
                    }
                    q.execute(&mut **t).await?;
                });
            }
        }
        tx.block_behind(rejected).await?;
        let delivered = results.iter().any(|(_, d)| matches!(d, Delivery::Delivered { .. }));
        if delivered {
            on_tx!(&mut tx, t => sqlx::query("UPDATE province_cursor SET last_success = $1 WHERE id = 1").bind(now.micros()).execute(&mut **t).await?.rows_affected());
        }
        tx.commit().await
    }

    /// Remembers the link's last failure (for the status and the back office).
    pub async fn note_province_error(&self, error: &str, now: Timestamp) -> Result<()> {
        on_db!(self, pool => sqlx::query("UPDATE province_cursor SET last_error = $1, last_error_at = $2 WHERE id = 1")
            .bind(error).bind(now.micros()).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Puts rejected records (and those blocked behind them) back in the queue: all of them, or those of `ids`.
    /// Returns how many.
    pub async fn replay_province(&self, ids: &[Identity]) -> Result<u64> {
        let mut tx = Tx::write(self).await?;
        let mut n = 0;
        if ids.is_empty() {
            n = on_tx!(&mut tx, t => sqlx::query("UPDATE province_outbox SET state = 'pending', reason = NULL WHERE state IN ('rejected', 'blocked')")
                .execute(&mut **t).await?.rows_affected());
        } else {
            let mut wave: Vec<String> = Vec::new();
            for id in ids {
                let key = id.key();
                let m = on_tx!(&mut tx, t => sqlx::query("UPDATE province_outbox SET state = 'pending', reason = NULL WHERE id = $1 AND state IN ('rejected', 'blocked')")
                    .bind(&key).execute(&mut **t).await?.rows_affected());
                if m == 1 {
                    wave.push(key);
                }
                n += m;
            }
            // what was blocked behind a replayed record goes with it
            n += tx.follow("UPDATE province_outbox SET state = 'pending', reason = NULL WHERE state = 'blocked' AND after_id IN ({ids}) RETURNING id", wave).await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// The link's state for `haochaping province status`, the back office and the metrics.
    pub async fn province_status(&self) -> Result<LinkStatus> {
        let mut s = LinkStatus::default();
        on_db!(self, pool => {
            for r in sqlx::query("SELECT op, state, COUNT(*) AS n FROM province_outbox GROUP BY op, state ORDER BY op, state").fetch_all(pool).await? {
                s.counts.push((r.try_get("op")?, r.try_get("state")?, r.try_get("n")?));
            }
            let r = sqlx::query("SELECT c.ledger_seq, c.last_success, c.last_error, c.last_error_at, h.seq AS head FROM province_cursor c, chain_head h WHERE c.id = 1 AND h.id = 1")
                .fetch_one(pool).await?;
            s.unplanned = r.try_get::<i64, _>("head")? - r.try_get::<i64, _>("ledger_seq")?;
            s.last_success = r.try_get("last_success")?;
            if let (Some(e), Some(at)) = (r.try_get::<Option<String>, _>("last_error")?, r.try_get::<Option<i64>, _>("last_error_at")?) {
                s.last_error = Some((e, at));
            }
            if let Some(r) = sqlx::query("SELECT id, planned_at FROM province_outbox WHERE state IN ('pending', 'sending', 'blocked') ORDER BY seq LIMIT 1")
                .fetch_optional(pool).await? {
                s.oldest_undelivered = Some((r.try_get("id")?, r.try_get("planned_at")?));
            }
            for r in sqlx::query("SELECT id, reason, delivered_at FROM province_outbox WHERE state = 'rejected' ORDER BY delivered_at DESC, id LIMIT 50")
                .fetch_all(pool).await? {
                s.rejects.push((r.try_get("id")?, r.try_get::<Option<String>, _>("reason")?.unwrap_or_default(), r.try_get::<Option<i64>, _>("delivered_at")?.unwrap_or(0)));
            }
        });
        Ok(s)
    }

    /// Every record's identity key with its state, for a reconciliation with what the province holds.
    pub async fn province_states(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query("SELECT id, state FROM province_outbox ORDER BY seq").fetch_all(pool).await? {
                out.push((r.try_get("id")?, r.try_get("state")?));
            }
        });
        Ok(out)
    }

    /// The matters and service occasions of service records.
    pub async fn province_services(&self, matter_ids: &[String]) -> Result<(Vec<Matter>, Vec<Service>)> {
        if matter_ids.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let is_pg = matches!(self, Db::Pg(_));
        let list = in_list(is_pg, 1, matter_ids.len());
        let m_sql = format!("SELECT {MATTER_COLS} FROM matters WHERE id IN ({list})");
        let s_sql = format!("SELECT matter_id, seq, window_code, staff_code, served_at FROM services WHERE matter_id IN ({list})");
        let (mut matters, mut services) = (Vec::new(), Vec::new());
        on_db!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(m_sql));
            for id in matter_ids {
                q = q.bind(id);
            }
            for r in q.fetch_all(pool).await? {
                matters.push(matter_from_row(&r)?);
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(s_sql));
            for id in matter_ids {
                q = q.bind(id);
            }
            for r in q.fetch_all(pool).await? {
                services.push(Service {
                    matter_id: r.try_get("matter_id")?,
                    seq: r.try_get("seq")?,
                    window_code: r.try_get("window_code")?,
                    staff_code: r.try_get("staff_code")?,
                    served_at: Timestamp(r.try_get("served_at")?),
                });
            }
        });
        Ok((matters, services))
    }

    /// The ratings of evaluation records, each with its matter's applicant kind.
    pub async fn province_ratings(&self, rating_ids: &[String]) -> Result<Vec<(Rating, String)>> {
        if rating_ids.is_empty() {
            return Ok(Vec::new());
        }
        let cols = RATING_COLS.split(", ").map(|c| format!("r.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {cols}, 0 AS ledger_seq, m.applicant_kind AS m_applicant_kind FROM ratings r JOIN matters m ON m.id = r.matter_id WHERE r.id IN ({})",
            in_list(matches!(self, Db::Pg(_)), 1, rating_ids.len())
        );
        let mut out = Vec::new();
        on_db!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in rating_ids {
                q = q.bind(id);
            }
            for r in q.fetch_all(pool).await? {
                out.push((rating_from_row(&r)?, r.try_get("m_applicant_kind")?));
            }
        });
        Ok(out)
    }

    /// The reasons given after the level (`reasons_added` events) of the ratings named that have any:
    /// `(rating id, the event's stored note)`.
    pub async fn reasons_added(&self, rating_ids: &[String]) -> Result<Vec<(String, String)>> {
        if rating_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT c.rating_id AS rating_id, e.note AS note FROM case_events e JOIN cases c ON c.id = e.case_id \
             WHERE e.kind = 'reasons_added' AND c.rating_id IN ({})",
            in_list(matches!(self, Db::Pg(_)), 1, rating_ids.len())
        );
        let mut out = Vec::new();
        on_db!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in rating_ids {
                q = q.bind(id);
            }
            for r in q.fetch_all(pool).await? {
                out.push((r.try_get("rating_id")?, r.try_get::<Option<String>, _>("note")?.unwrap_or_default()));
            }
        });
        Ok(out)
    }

    /// The cases of step records with their current reply deadline, and the events the steps name.
    pub async fn province_steps(&self, case_ids: &[String], event_ids: &[String]) -> Result<(Vec<(Case, i64)>, Vec<CaseEvent>)> {
        let is_pg = matches!(self, Db::Pg(_));
        let (mut cases, mut events) = (Vec::new(), Vec::new());
        if !case_ids.is_empty() {
            let sql = format!(
                "SELECT {}, s.reply_by AS s_reply_by FROM cases c JOIN case_status s ON s.case_id = c.id WHERE c.id IN ({})",
                prefixed("c", CASE_COLS, "c_"),
                in_list(is_pg, 1, case_ids.len())
            );
            on_db!(self, pool => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in case_ids {
                    q = q.bind(id);
                }
                for r in q.fetch_all(pool).await? {
                    cases.push((case_from_row(&r, "c_")?, r.try_get("s_reply_by")?));
                }
            });
        }
        if !event_ids.is_empty() {
            let sql = format!(
                "SELECT {} FROM case_events e WHERE e.id IN ({})",
                prefixed("e", EVENT_COLS, "e_"),
                in_list(is_pg, 1, event_ids.len())
            );
            on_db!(self, pool => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in event_ids {
                    q = q.bind(id);
                }
                for r in q.fetch_all(pool).await? {
                    events.push(event_from_row(&r, "e_")?);
                }
            });
        }
        Ok((cases, events))
    }
}

impl Db {
    /// When each of `rating_ids` was found untrue (不属实).
    pub async fn invalidation_times(&self, rating_ids: &[String]) -> Result<Vec<(String, i64)>> {
        let mut out = Vec::new();
        if rating_ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT rating_id, at FROM rating_invalidations WHERE rating_id IN ({})",
            in_list(matches!(self, Db::Pg(_)), 1, rating_ids.len())
        );
        on_db!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in rating_ids {
                q = q.bind(id);
            }
            for r in q.fetch_all(pool).await? {
                out.push((r.try_get("rating_id")?, r.try_get("at")?));
            }
        });
        Ok(out)
    }
}

impl Tx {
    async fn plan_province(&mut self, limit: i64, now: Timestamp) -> Result<usize> {
        let lock = if self.is_pg() { " FOR UPDATE" } else { "" };
        let cursor: i64 = on_tx!(self, t => sqlx::query(sqlx::AssertSqlSafe(format!("SELECT ledger_seq FROM province_cursor WHERE id = 1{lock}")))
            .fetch_one(&mut **t).await?.try_get("ledger_seq")?);
        let mut entries: Vec<(i64, RecordKind, String)> = Vec::new();
        on_tx!(self, t => {
            for r in sqlx::query("SELECT seq, kind, ref_id FROM ledger WHERE seq > $1 ORDER BY seq LIMIT $2").bind(cursor).bind(limit).fetch_all(&mut **t).await? {
                let kind: String = r.try_get("kind")?;
                let kind = RecordKind::parse(&kind).ok_or_else(|| StoreError::corrupt(format!("ledger: unknown kind {kind}")))?;
                entries.push((r.try_get("seq")?, kind, r.try_get("ref_id")?));
            }
        });
        let Some(&(last, _, _)) = entries.last() else { return Ok(0) };
        let facts = self.entry_facts(&entries).await?;
        // Step numbers continue from what is planned already.
        let cases: Vec<String> = facts.iter().filter_map(|(_, f)| facts_case(f)).collect();
        let mut steps = self.last_steps(&cases).await?;
        let mut rows: Vec<(i64, Planned)> = Vec::new();
        for (seq, f) in &facts {
            let mut next = |case_id: &str| {
                let n = steps.entry(case_id.to_string()).or_insert(0);
                *n += 1;
                *n
            };
            for (i, p) in hcp_domain::province::plan(f, &mut next).into_iter().enumerate() {
                rows.push((seq * 8 + i as i64, p));
            }
        }
        self.insert_planned(&rows, now).await?;
        on_tx!(self, t => sqlx::query("UPDATE province_cursor SET ledger_seq = $1 WHERE id = 1").bind(last).execute(&mut **t).await?.rows_affected());
        self.block_new(&rows).await?;
        Ok(entries.len())
    }

    /// What the planner needs of each entry, read with one query per kind.
    async fn entry_facts(&mut self, entries: &[(i64, RecordKind, String)]) -> Result<Vec<(i64, EntryFacts)>> {
        let ids = |k: RecordKind| entries.iter().filter(|e| e.1 == k).map(|e| e.2.clone()).collect::<Vec<_>>();
        let is_pg = self.is_pg();
        let mut ratings = std::collections::HashMap::new();
        let rating_ids = ids(RecordKind::Rating);
        if !rating_ids.is_empty() {
            let sql = format!(
                "SELECT id, matter_id, matter_no, service_seq, assess_number, channel FROM ratings WHERE id IN ({})",
                in_list(is_pg, 1, rating_ids.len())
            );
            on_tx!(self, t => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in &rating_ids {
                    q = q.bind(id);
                }
                for r in q.fetch_all(&mut **t).await? {
                    let channel: String = r.try_get("channel")?;
                    let id: String = r.try_get("id")?;
                    ratings.insert(id.clone(), EntryFacts::Rating {
                        rating_id: id,
                        matter_id: r.try_get("matter_id")?,
                        matter_no: r.try_get("matter_no")?,
                        service_seq: r.try_get("service_seq")?,
                        assess_number: r.try_get("assess_number")?,
                        channel: hcp_domain::Channel::parse(&channel, "channel")?,
                    });
                }
            });
        }
        let mut events = std::collections::HashMap::new();
        let event_ids = ids(RecordKind::CaseEvent);
        if !event_ids.is_empty() {
            let sql =
                format!("SELECT id, case_id, kind, state_after FROM case_events WHERE id IN ({})", in_list(is_pg, 1, event_ids.len()));
            on_tx!(self, t => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in &event_ids {
                    q = q.bind(id);
                }
                for r in q.fetch_all(&mut **t).await? {
                    let kind: String = r.try_get("kind")?;
                    let kind = hcp_domain::case_event::EventKind::parse(&kind).ok_or_else(|| StoreError::corrupt(format!("unknown event kind {kind}")))?;
                    let state: CaseState = state_of(&r.try_get::<String, _>("state_after")?)?;
                    events.insert(r.try_get::<String, _>("id")?, (r.try_get::<String, _>("case_id")?, kind, state));
                }
            });
        }
        let mut invalidations = std::collections::HashMap::new();
        let inv_ids = ids(RecordKind::RatingInvalidated);
        if !inv_ids.is_empty() {
            let sql =
                format!("SELECT rating_id, case_id FROM rating_invalidations WHERE rating_id IN ({})", in_list(is_pg, 1, inv_ids.len()));
            on_tx!(self, t => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in &inv_ids {
                    q = q.bind(id);
                }
                for r in q.fetch_all(&mut **t).await? {
                    invalidations.insert(r.try_get::<String, _>("rating_id")?, r.try_get::<String, _>("case_id")?);
                }
            });
        }
        let mut case_ids: Vec<String> = ids(RecordKind::CaseOpened);
        case_ids.extend(events.values().map(|(c, _, _)| c.clone()));
        case_ids.extend(invalidations.values().cloned());
        case_ids.sort();
        case_ids.dedup();
        let subjects = self.subjects(&case_ids).await?;
        let subject = |case_id: &str| subjects.get(case_id).cloned().unwrap_or(Subject::Unreported);
        let mut out = Vec::with_capacity(entries.len());
        for (seq, kind, id) in entries {
            let f = match kind {
                RecordKind::Rating => ratings.remove(id).ok_or_else(|| StoreError::corrupt(format!("ledger: rating {id} missing")))?,
                RecordKind::CaseOpened => EntryFacts::CaseOpened { case_id: id.clone(), subject: subject(id) },
                RecordKind::CaseEvent => {
                    let (case_id, kind, state_after) =
                        events.remove(id).ok_or_else(|| StoreError::corrupt(format!("ledger: case event {id} missing")))?;
                    EntryFacts::CaseEvent { subject: subject(&case_id), case_id, event_id: id.clone(), kind, state_after }
                }
                RecordKind::RatingInvalidated => match invalidations.get(id) {
                    Some(case_id) => {
                        EntryFacts::RatingInvalidated { case_id: case_id.clone(), rating_id: id.clone(), subject: subject(case_id) }
                    }
                    None => return Err(StoreError::corrupt(format!("ledger: invalidation of {id} missing"))),
                },
                RecordKind::Complaint | RecordKind::Inspection => EntryFacts::Unreported,
            };
            out.push((*seq, f));
        }
        Ok(out)
    }

    async fn subjects(&mut self, case_ids: &[String]) -> Result<std::collections::HashMap<String, Subject>> {
        let mut out = std::collections::HashMap::new();
        if case_ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT c.id, c.kind, r.matter_no, r.service_seq, r.assess_number, r.channel, k.id AS complaint_id FROM cases c \
             LEFT JOIN ratings r ON r.id = c.rating_id LEFT JOIN complaints k ON k.case_id = c.id WHERE c.id IN ({})",
            in_list(self.is_pg(), 1, case_ids.len())
        );
        on_tx!(self, t => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in case_ids {
                q = q.bind(id);
            }
            for r in q.fetch_all(&mut **t).await? {
                let kind: String = r.try_get("kind")?;
                let kind = CaseKind::parse(&kind).ok_or_else(|| StoreError::corrupt(format!("unknown case kind {kind}")))?;
                let rating = match r.try_get::<Option<String>, _>("matter_no")? {
                    Some(matter_no) => {
                        let channel: String = r.try_get("channel")?;
                        Some((matter_no, r.try_get("service_seq")?, r.try_get("assess_number")?, hcp_domain::Channel::parse(&channel, "channel")?))
                    }
                    None => None,
                };
                out.insert(r.try_get::<String, _>("id")?, Subject::of_case(kind, rating, r.try_get("complaint_id")?));
            }
        });
        Ok(out)
    }

    async fn last_steps(&mut self, case_ids: &[String]) -> Result<std::collections::HashMap<String, i64>> {
        let mut out = std::collections::HashMap::new();
        let mut ids = case_ids.to_vec();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT case_id, MAX(step_no) AS n FROM province_outbox WHERE case_id IN ({}) GROUP BY case_id",
            in_list(self.is_pg(), 1, ids.len())
        );
        on_tx!(self, t => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in &ids {
                q = q.bind(id);
            }
            for r in q.fetch_all(&mut **t).await? {
                out.insert(r.try_get::<String, _>("case_id")?, r.try_get::<i64, _>("n")?);
            }
        });
        Ok(out)
    }

    async fn insert_planned(&mut self, rows: &[(i64, Planned)], now: Timestamp) -> Result<()> {
        let is_pg = self.is_pg();
        for chunk in rows.chunks(128) {
            let sql = format!(
                "INSERT INTO province_outbox (id, op, seq, after_id, source_kind, source_id, source_ref, step, case_id, step_no, state, attempts, planned_at) \
                 VALUES {} ON CONFLICT (id) DO NOTHING",
                placeholders(is_pg, chunk.len(), 13)
            );
            on_tx!(self, t => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (seq, p) in chunk {
                    let (kind, id, r, step) = source_parts(&p.source);
                    let case_id = matches!(p.source, Source::Step { .. }).then(|| id.clone());
                    q = q.bind(p.id.key()).bind(p.id.op.code()).bind(*seq).bind(p.id.after().map(|a| a.key()))
                        .bind(kind).bind(id).bind(r).bind(step).bind(case_id).bind(p.id.step_no)
                        .bind("pending").bind(0_i64).bind(now.micros());
                }
                q.execute(&mut **t).await?;
            });
        }
        Ok(())
    }

    /// Pending records behind a rejected (or blocked) one can never be accepted: they wait, blocked, for a
    /// replay. Follows the chain from `ids` (found by the index on `after_id`).
    async fn block_behind(&mut self, ids: Vec<String>) -> Result<()> {
        self.follow(
            "UPDATE province_outbox SET state = 'blocked', reason = '前序记录未被接收' WHERE state = 'pending' AND after_id IN ({ids}) RETURNING id",
            ids,
        )
        .await
        .map(|_| ())
    }

    /// Newly planned records behind one already rejected or blocked are blocked at once: their predecessors are
    /// looked up by primary key (a rejection is rare; this costs one index probe per predecessor).
    async fn block_new(&mut self, rows: &[(i64, Planned)]) -> Result<()> {
        let mut afters: Vec<String> = rows.iter().filter_map(|(_, p)| p.id.after().map(|a| a.key())).collect();
        afters.sort();
        afters.dedup();
        let stuck = self.ids_of("SELECT id FROM province_outbox WHERE id IN ({ids}) AND state IN ('rejected', 'blocked')", &afters).await?;
        self.block_behind(stuck).await
    }

    /// Runs `sql`, whose `{ids}` stands for the list of `ids` (in chunks of 256), and returns the `id` column of
    /// the rows it gives.
    async fn ids_of(&mut self, sql: &str, ids: &[String]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(256) {
            let sql = sql.replace("{ids}", &in_list(self.is_pg(), 1, chunk.len()));
            on_tx!(self, t => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(id);
                }
                for r in q.fetch_all(&mut **t).await? {
                    out.push(r.try_get::<String, _>("id")?);
                }
            });
        }
        Ok(out)
    }

    /// Follows a chain of records: runs `sql` (an update returning ids) on `ids`, then on what it returned,
    /// until nothing more; returns how many rows it touched.
    async fn follow(&mut self, sql: &str, mut ids: Vec<String>) -> Result<u64> {
        let mut n = 0;
        while !ids.is_empty() {
            ids = self.ids_of(sql, &ids).await?;
            n += ids.len() as u64;
        }
        Ok(n)
    }
}

fn facts_case(f: &EntryFacts) -> Option<String> {
    match f {
        EntryFacts::CaseOpened { case_id, .. } | EntryFacts::CaseEvent { case_id, .. } | EntryFacts::RatingInvalidated { case_id, .. } => {
            Some(case_id.clone())
        }
        EntryFacts::Rating { .. } | EntryFacts::Unreported => None,
    }
}
