//! Cases and their histories: stored with whatever opens them (a rating, a complaint, an inspection), every
//! step chained on the ledger, the current state kept as a projection (`case_status`) for queues.

use hcp_domain::BizDay;
use hcp_domain::appeal::{AppealState, Route};
use hcp_domain::case_flow::CaseState;
use hcp_domain::notices::Step;
use hcp_domain::records::{AppealRow, CaseEvent, Entry, Invalidation, RecordKind};
use hcp_domain::stats::{level_column, rollup_counts};
use sqlx::Row;

use crate::db::Db;
use crate::error::{Conflict, Result, StoreError};
use crate::on_db;
use crate::rows::{CASE_COLS, EVENT_COLS, STATUS_SELECT, day, event_from_row, prefixed, state_of, summary_from_row};
use crate::tx::{Tx, on_tx};

pub use crate::rows::CaseSummary;

/// A deadline that has come (today) or passed for a step a case has not taken: what the sweeps act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub case_id: String,
    pub unit_code: String,
    pub state: CaseState,
    pub step: Step,
    pub deadline: BizDay,
    /// a 复核 of the case is waiting for a decision
    pub appeal_pending: bool,
}

/// The once-only mark of a sweep's event: one per case, step and deadline.
pub fn sweep_flag(prefix: &str, step: Step, deadline: BizDay) -> String {
    format!("{prefix}_{}_{}", step.code(), deadline.key())
}

impl Db {
    /// Cases of the given units (the caller's scope), newest first, optionally in one state.
    #[tracing::instrument(skip_all)]
    pub async fn list_cases(&self, units: &[String], state: Option<CaseState>, limit: i64) -> Result<Vec<CaseSummary>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let is_pg = matches!(self, Db::Pg(_));
        let marks: Vec<String> = (0..units.len()).map(|i| if is_pg { format!("${}", i + 3) } else { "?".into() }).collect();
        let (state_mark, limit_mark) = if is_pg { ("$1", "$2") } else { ("?", "?") };
        let sql = format!(
            "SELECT {}, {STATUS_SELECT} FROM cases c JOIN case_status s ON s.case_id = c.id \
             WHERE ({state_mark} = '' OR s.state = {state_mark}) AND c.unit_code IN ({}) ORDER BY c.opened_at DESC LIMIT {limit_mark}",
            prefixed("c", CASE_COLS, "c_"),
            marks.join(",")
        );
        let st = state.map(CaseState::code).unwrap_or("");
        let mut out = Vec::new();
        on_db!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            // SQLite numbers anonymous parameters in order of appearance: state twice, then the units, then the limit.
            if is_pg {
                q = q.bind(st).bind(limit);
                for u in units {
                    q = q.bind(u.clone());
                }
            } else {
                q = q.bind(st).bind(st);
                for u in units {
                    q = q.bind(u.clone());
                }
                q = q.bind(limit);
            }
            for r in q.fetch_all(pool).await? {
                out.push(summary_from_row(&r)?);
            }
        });
        Ok(out)
    }

    /// Every case of `units` not yet closed (the work queue), however many, nearest reply deadline first.
    pub async fn open_cases(&self, units: &[String]) -> Result<Vec<CaseSummary>> {
        let mut all = Vec::new();
        for state in [CaseState::Open, CaseState::Responded, CaseState::Decided, CaseState::Replied] {
            all.extend(self.list_cases(units, Some(state), i64::MAX / 2).await?);
        }
        all.sort_by_key(|c| (c.reply_by, c.case.opened_at));
        Ok(all)
    }

    /// Appends one step of a case's handling, if the case is still in `expected`: the event, its ledger entry
    /// and outbox job, and the new state (and reply deadline), in one transaction. A concurrent step that got
    /// there first makes this one a conflict, so two handlers cannot both record an outcome.
    pub async fn append_case_event(&self, event: &CaseEvent, expected: CaseState, reply_by: Option<(BizDay, BizDay)>) -> Result<i64> {
        self.append_case_event_once(event, expected, reply_by, None).await?.ok_or(StoreError::Conflict(Conflict::CaseChanged))
    }

    /// As `append_case_event`, and when `flag` is given, only if that flag was not yet set for the case (it is
    /// set in the same transaction): `None` when another node did it first. `reply_by`, when given, is
    /// `(expected old deadline, new deadline)`: an extension or a reopened case.
    #[tracing::instrument(skip_all, fields(case = %event.case_id, kind = event.kind.code()))]
    pub async fn append_case_event_once(
        &self,
        event: &CaseEvent,
        expected: CaseState,
        reply_by: Option<(BizDay, BizDay)>,
        flag: Option<&str>,
    ) -> Result<Option<i64>> {
        let (old_reply, new_reply, change_reply) = match reply_by {
            Some((old, new)) => (old.key(), new.key(), true),
            None => (0, 0, false),
        };
        let mut tx = Tx::write(self).await?;
        let head = tx.lock_head().await?;
        let moved = on_tx!(&mut tx, t => sqlx::query(
            "UPDATE case_status SET state = $1, reply_by = CASE WHEN $2 THEN $3 ELSE reply_by END, updated_at = $4 \
             WHERE case_id = $5 AND state = $6 AND (NOT $2 OR reply_by = $7)")
            .bind(event.state_after.code()).bind(change_reply).bind(new_reply).bind(event.at).bind(&event.case_id).bind(expected.code()).bind(old_reply)
            .execute(&mut **t).await?.rows_affected());
        if moved != 1 {
            return Ok(None);
        }
        if let Some(flag) = flag {
            let set = on_tx!(&mut tx, t => sqlx::query(
                "INSERT INTO case_flags (case_id, flag, at) VALUES ($1, $2, $3) ON CONFLICT (case_id, flag) DO NOTHING RETURNING case_id")
                .bind(&event.case_id).bind(flag).bind(event.at).fetch_optional(&mut **t).await?.is_some());
            if !set {
                return Ok(None);
            }
        }
        let entry = tx.insert_event(event).await?;
        let head = tx.append(head, &[entry], event.at).await?;
        tx.commit().await?;
        Ok(Some(head.seq))
    }

    /// Every case about a matter (bad reviews, 追评 cases, complaints), oldest first.
    pub async fn cases_of_matter(&self, matter_no: &str) -> Result<Vec<CaseSummary>> {
        if matter_no.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {}, {STATUS_SELECT} FROM cases c JOIN case_status s ON s.case_id = c.id WHERE c.matter_no = $1 ORDER BY c.opened_at",
            prefixed("c", CASE_COLS, "c_")
        );
        let mut out = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query(sqlx::AssertSqlSafe(sql)).bind(matter_no).fetch_all(pool).await? {
                out.push(summary_from_row(&r)?);
            }
        });
        Ok(out)
    }

    /// Closes one case into another, in one transaction: `merged` (on the case closed, state closed) and
    /// `into` (on the case that carries on, its state unchanged), both on the ledger, each guarded by the state
    /// it was seen in. `false` when either changed first.
    pub async fn merge_cases(&self, merged: &CaseEvent, merged_was: CaseState, into: &CaseEvent, into_was: CaseState) -> Result<bool> {
        let mut tx = Tx::write(self).await?;
        let head = tx.lock_head().await?;
        for (e, was) in [(merged, merged_was), (into, into_was)] {
            let moved = on_tx!(&mut tx, t => sqlx::query("UPDATE case_status SET state = $1, updated_at = $2 WHERE case_id = $3 AND state = $4")
                .bind(e.state_after.code()).bind(e.at).bind(&e.case_id).bind(was.code()).execute(&mut **t).await?.rows_affected());
            if moved != 1 {
                return Ok(false);
            }
        }
        let entries = [tx.insert_event(merged).await?, tx.insert_event(into).await?];
        tx.append(head, &entries, merged.at.max(into.at)).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Cases not closed whose deadlines were computed across a year whose holiday notice was missing.
    pub async fn provisional_cases(&self) -> Result<Vec<CaseSummary>> {
        let sql = format!(
            "SELECT {}, {STATUS_SELECT} FROM cases c JOIN case_status s ON s.case_id = c.id \
             WHERE s.provisional = $1 AND s.state <> 'closed' ORDER BY c.opened_at",
            prefixed("c", CASE_COLS, "c_")
        );
        let mut out = Vec::new();
        on_db!(self, pool => {
            for r in sqlx::query(sqlx::AssertSqlSafe(sql)).bind(true).fetch_all(pool).await? {
                out.push(summary_from_row(&r)?);
            }
        });
        Ok(out)
    }

    /// Records recomputed deadlines of a case (a `deadlines_recomputed` event on the ledger) and moves them in
    /// the projection, if nobody moved them meanwhile (`from`: the deadlines the recomputation started from).
    /// `false` when the case changed first; it is then left for the next recomputation.
    pub async fn move_deadlines(&self, event: &CaseEvent, from: (BizDay, BizDay), to: (BizDay, BizDay), provisional: bool) -> Result<bool> {
        let mut tx = Tx::write(self).await?;
        let head = tx.lock_head().await?;
        let moved = on_tx!(&mut tx, t => sqlx::query(
            "UPDATE case_status SET respond_by = $1, reply_by = $2, provisional = $3, updated_at = $4 \
             WHERE case_id = $5 AND respond_by = $6 AND reply_by = $7 AND state = $8")
            .bind(to.0.key()).bind(to.1.key()).bind(provisional).bind(event.at).bind(&event.case_id)
            .bind(from.0.key()).bind(from.1.key()).bind(event.state_after.code())
            .execute(&mut **t).await?.rows_affected());
        if moved != 1 {
            return Ok(false);
        }
        let entry = tx.insert_event(event).await?;
        tx.append(head, &[entry], event.at).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Marks a case's deadlines as no longer provisional when recomputing them changed nothing (no event:
    /// nothing happened to the case).
    pub async fn settle_deadlines(&self, case_id: &str, from: (BizDay, BizDay)) -> Result<()> {
        on_db!(self, pool => sqlx::query("UPDATE case_status SET provisional = $1 WHERE case_id = $2 AND respond_by = $3 AND reply_by = $4")
            .bind(false).bind(case_id).bind(from.0.key()).bind(from.1.key()).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Steps whose deadline has passed (`today` is after it), not yet marked overdue.
    pub async fn overdue_candidates(&self, today: BizDay) -> Result<Vec<Due>> {
        self.due("overdue", "<", today).await
    }

    /// Steps whose deadline is `today`, whose unit has not yet been warned.
    pub async fn due_today_candidates(&self, today: BizDay) -> Result<Vec<Due>> {
        self.due("due", "=", today).await
    }

    #[tracing::instrument(skip_all)]
    async fn due(&self, flag: &str, cmp: &str, today: BizDay) -> Result<Vec<Due>> {
        let sql = format!(
            "SELECT c.id, c.unit_code, s.state, s.respond_by, s.reply_by, \
             EXISTS (SELECT 1 FROM case_flags f WHERE f.case_id = c.id AND f.flag = '{flag}_respond_' || CAST(s.respond_by AS TEXT)) AS respond_flagged, \
             EXISTS (SELECT 1 FROM case_flags f WHERE f.case_id = c.id AND f.flag = '{flag}_reply_' || CAST(s.reply_by AS TEXT)) AS reply_flagged, \
             EXISTS (SELECT 1 FROM appeals a WHERE a.case_id = c.id AND a.state IN ('pending_unit', 'pending_bureau')) AS appeal_pending \
             FROM cases c JOIN case_status s ON s.case_id = c.id \
             WHERE (s.state = 'open' AND s.respond_by {cmp} $1) OR (s.state IN ('open', 'responded', 'decided') AND s.reply_by {cmp} $1)"
        );
        let mut out = Vec::new();
        let today_key = today.key();
        on_db!(self, pool => {
            for r in sqlx::query(sqlx::AssertSqlSafe(sql)).bind(today_key).fetch_all(pool).await? {
                let state: String = r.try_get("state")?;
                let state = state_of(&state)?;
                let (id, unit): (String, String) = (r.try_get("id")?, r.try_get("unit_code")?);
                let (respond_by, reply_by): (i64, i64) = (r.try_get("respond_by")?, r.try_get("reply_by")?);
                let (respond_flagged, reply_flagged, appeal_pending): (bool, bool, bool) =
                    (r.try_get("respond_flagged")?, r.try_get("reply_flagged")?, r.try_get("appeal_pending")?);
                let hit = |deadline: i64| if cmp == "<" { deadline < today_key } else { deadline == today_key };
                if state == CaseState::Open && hit(respond_by) && !respond_flagged {
                    out.push(Due { case_id: id.clone(), unit_code: unit.clone(), state, step: Step::Respond, deadline: day(respond_by, "respond_by")?, appeal_pending });
                }
                if hit(reply_by) && !reply_flagged {
                    out.push(Due { case_id: id, unit_code: unit, state, step: Step::Reply, deadline: day(reply_by, "reply_by")?, appeal_pending });
                }
            }
        });
        Ok(out)
    }

    /// Cases of `units` that arrived on business days `from..=to`, each with its current state and its events
    /// (for loop metrics).
    #[tracing::instrument(skip_all)]
    pub async fn cases_with_events(&self, units: &[String], from: BizDay, to: BizDay) -> Result<Vec<(CaseSummary, Vec<CaseEvent>)>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let is_pg = matches!(self, Db::Pg(_));
        let marks: Vec<String> = (0..units.len()).map(|i| if is_pg { format!("${}", i + 3) } else { "?".into() }).collect();
        let (a, b) = if is_pg { ("$1", "$2") } else { ("?", "?") };
        let filter = format!("c.arrival_day >= {a} AND c.arrival_day <= {b} AND c.unit_code IN ({})", marks.join(","));
        let csql = format!(
            "SELECT {}, {STATUS_SELECT} FROM cases c JOIN case_status s ON s.case_id = c.id WHERE {filter}",
            prefixed("c", CASE_COLS, "c_")
        );
        let esql = format!(
            "SELECT {} FROM case_events e JOIN cases c ON c.id = e.case_id WHERE {filter} ORDER BY e.at",
            prefixed("e", EVENT_COLS, "e_")
        );
        let mut out: Vec<(CaseSummary, Vec<CaseEvent>)> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let (from, to) = (from.key(), to.key());
        on_db!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(csql)).bind(from).bind(to);
            for u in units {
                q = q.bind(u.clone());
            }
            for r in q.fetch_all(pool).await? {
                let summary = summary_from_row(&r)?;
                index.insert(summary.case.id.clone(), out.len());
                out.push((summary, Vec::new()));
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(esql)).bind(from).bind(to);
            for u in units {
                q = q.bind(u.clone());
            }
            for r in q.fetch_all(pool).await? {
                let e = event_from_row(&r, "e_")?;
                if let Some(&i) = index.get(&e.case_id) {
                    out[i].1.push(e);
                }
            }
        });
        Ok(out)
    }

    /// Cases not closed, and of them those past a deadline they have not met: `(open, overdue)`.
    pub async fn case_counts(&self, today: BizDay) -> Result<(i64, i64)> {
        Ok(on_db!(self, pool => {
            let r = sqlx::query(
                "SELECT COUNT(*) AS open, COALESCE(SUM(CASE WHEN (s.state = 'open' AND s.respond_by < $1) \
                 OR (s.state IN ('open', 'responded', 'decided') AND s.reply_by < $1) THEN 1 ELSE 0 END), 0) AS overdue \
                 FROM case_status s JOIN cases c ON c.id = s.case_id WHERE s.state <> 'closed'")
                .bind(today.key()).fetch_one(pool).await?;
            (r.try_get::<i64, _>("open")?, r.try_get::<i64, _>("overdue")?)
        }))
    }

    /// Whether a rating was found untrue (不属实) by an upheld 复核.
    pub async fn is_invalidated(&self, rating_id: &str) -> Result<bool> {
        Ok(on_db!(self, pool => sqlx::query("SELECT rating_id FROM rating_invalidations WHERE rating_id = $1").bind(rating_id)
            .fetch_optional(pool).await?.is_some()))
    }

    /// The 复核 of a case, if one was applied for.
    pub async fn appeal_of(&self, case_id: &str) -> Result<Option<AppealRow>> {
        let row: Option<(String, String)> = on_db!(self, pool => match sqlx::query("SELECT route, state FROM appeals WHERE case_id = $1")
            .bind(case_id).fetch_optional(pool).await? {
            Some(r) => Some((r.try_get("route")?, r.try_get("state")?)),
            None => None,
        });
        row.map(|(route, state)| {
            Ok(AppealRow {
                route: Route::parse(&route).ok_or_else(|| StoreError::corrupt(format!("unknown appeal route {route}")))?,
                state: AppealState::parse(&state).ok_or_else(|| StoreError::corrupt(format!("unknown appeal state {state}")))?,
            })
        })
        .transpose()
    }

    /// One step of a 复核, in one transaction: the event (on the ledger), the appeal's new state (guarded by the
    /// expected one), and when upheld, the record marking the rating 不属实 (on the ledger), the rating taken
    /// back out of every rollup group it was counted in, and the case closed.
    #[tracing::instrument(skip_all, fields(case = %event.case_id))]
    pub async fn appeal_step(
        &self,
        event: &CaseEvent,
        route: Route,
        expected: Option<AppealState>,
        next: AppealState,
        upheld: Option<&Invalidation>,
        reply_by: Option<(BizDay, BizDay)>,
    ) -> Result<()> {
        let mut tx = Tx::write(self).await?;
        let head = tx.lock_head().await?;
        let moved = on_tx!(&mut tx, t => match expected {
            None => sqlx::query("INSERT INTO appeals (case_id, route, state, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (case_id) DO NOTHING")
                .bind(&event.case_id).bind(route.code()).bind(next.code()).bind(event.at).execute(&mut **t).await?.rows_affected(),
            Some(old) => sqlx::query("UPDATE appeals SET state = $1, updated_at = $2 WHERE case_id = $3 AND state = $4")
                .bind(next.code()).bind(event.at).bind(&event.case_id).bind(old.code()).execute(&mut **t).await?.rows_affected(),
        });
        if moved != 1 {
            return Err(StoreError::Conflict(Conflict::AppealChanged));
        }
        if let Some((old, new)) = reply_by {
            let moved = on_tx!(&mut tx, t => sqlx::query("UPDATE case_status SET reply_by = $1, updated_at = $2 WHERE case_id = $3 AND reply_by = $4")
                .bind(new.key()).bind(event.at).bind(&event.case_id).bind(old.key()).execute(&mut **t).await?.rows_affected());
            if moved != 1 {
                return Err(StoreError::Conflict(Conflict::CaseChanged));
            }
        }
        let mut entries = vec![tx.insert_event(event).await?];
        if let Some(inv) = upheld {
            let rating = on_tx!(&mut tx, t => {
                sqlx::query("UPDATE case_status SET state = $1, updated_at = $2 WHERE case_id = $3 AND state <> $1")
                    .bind(CaseState::Closed.code()).bind(event.at).bind(&event.case_id).execute(&mut **t).await?;
                sqlx::query("INSERT INTO rating_invalidations (rating_id, case_id, decided_by, at) VALUES ($1, $2, $3, $4)")
                    .bind(&inv.rating_id).bind(&inv.case_id).bind(&inv.decided_by).bind(inv.at).execute(&mut **t).await?;
                let sql = format!("SELECT {}, 0 AS ledger_seq FROM ratings r WHERE r.id = $1", crate::rows::RATING_COLS);
                let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&inv.rating_id).fetch_optional(&mut **t).await?;
                row.map(|r| crate::rows::rating_from_row(&r)).transpose()?
            });
            let rating = rating.ok_or_else(|| StoreError::corrupt(format!("the rating {} of an upheld 复核 is missing", inv.rating_id)))?;
            entries.push(Entry { kind: RecordKind::RatingInvalidated, id: inv.rating_id.clone(), content: inv.record().content_hash() });
            // Take the rating out of every group it was counted in: the same list that counted it.
            if rating.counts_in_statistics() {
                for (dim, key, level) in rollup_counts(&rating) {
                    let col = level_column(level);
                    let sql = format!("UPDATE rollup_ratings SET {col} = {col} - 1 WHERE dim = $1 AND dim_key = $2 AND biz_day = $3");
                    on_tx!(&mut tx, t => sqlx::query(sqlx::AssertSqlSafe(sql)).bind(dim).bind(key).bind(rating.biz_day.key()).execute(&mut **t).await?.rows_affected());
                }
            }
        }
        tx.append(head, &entries, event.at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The case a rating opened, if any.
    pub async fn case_of_rating(&self, rating_id: &str) -> Result<Option<String>> {
        Ok(on_db!(self, pool => sqlx::query("SELECT id FROM cases WHERE rating_id = $1").bind(rating_id)
            .fetch_optional(pool).await?.map(|r| r.try_get("id")).transpose()?))
    }

    /// The case an event belongs to.
    pub async fn case_of_event(&self, event_id: &str) -> Result<Option<String>> {
        Ok(
            on_db!(self, pool => match sqlx::query("SELECT case_id FROM case_events WHERE id = $1").bind(event_id).fetch_optional(pool).await? {
                Some(r) => Some(r.try_get("case_id")?),
                None => None,
            }),
        )
    }

    /// One case with its current state and its history, oldest event first.
    #[tracing::instrument(skip_all)]
    pub async fn get_case(&self, id: &str) -> Result<Option<(CaseSummary, Vec<CaseEvent>)>> {
        let sql = format!(
            "SELECT {}, {STATUS_SELECT} FROM cases c JOIN case_status s ON s.case_id = c.id WHERE c.id = $1",
            prefixed("c", CASE_COLS, "c_")
        );
        let esql = format!("SELECT {} FROM case_events e WHERE e.case_id = $1 ORDER BY e.at, e.id", prefixed("e", EVENT_COLS, "e_"));
        Ok(on_db!(self, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await? {
                Some(r) => {
                    let summary = summary_from_row(&r)?;
                    let mut events = Vec::new();
                    for e in sqlx::query(sqlx::AssertSqlSafe(esql)).bind(id).fetch_all(pool).await? {
                        events.push(event_from_row(&e, "e_")?);
                    }
                    Some((summary, events))
                }
                None => None,
            }
        }))
    }
}
