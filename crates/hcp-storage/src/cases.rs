//! Cases opened by bad reviews (and, later, complaints): written with the rating that causes them, chained on
//! the ledger, listed per unit.

use hcp_domain::ledger::Record;
use sqlx::Row;

use crate::db::Db;
use crate::error::Result;
use crate::on_db;

/// What the rating path decides about a case before the writer stores it with the rating.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCase {
    pub id: String,
    pub category: String,
    pub real_name: bool,
    pub arrival_day: i64,
    pub respond_by: i64,
    pub reply_by: i64,
    pub provisional: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredCase {
    pub id: String,
    pub kind: String,
    pub rating_id: Option<String>,
    pub matter_no: String,
    pub unit_code: String,
    pub item_code: String,
    pub window_code: Option<String>,
    pub staff_code: Option<String>,
    pub level: i64,
    pub category: String,
    pub real_name: bool,
    pub referral: bool,
    pub opened_at: i64,
    pub arrival_day: i64,
    pub respond_by: i64,
    pub reply_by: i64,
    pub provisional: bool,
}

impl StoredCase {
    /// A case not opened by a rating (a complaint, a suggestion, an inspection's finding), arriving at `now`, with
    /// the deadlines counted from that day; the caller fills in what it knows beyond that.
    pub fn without_rating(id: String, kind: &str, unit_code: &str, now: hcp_domain::Timestamp, d: &hcp_domain::cases::Deadlines) -> Self {
        StoredCase {
            id,
            kind: kind.to_string(),
            rating_id: None,
            matter_no: String::new(),
            unit_code: unit_code.to_string(),
            item_code: String::new(),
            window_code: None,
            staff_code: None,
            level: 0,
            category: kind.to_string(),
            real_name: false,
            referral: false,
            opened_at: now.micros(),
            arrival_day: now.biz_day(),
            respond_by: hcp_domain::timestamp::date_key(d.respond_by),
            reply_by: hcp_domain::timestamp::date_key(d.reply_by),
            provisional: d.provisional,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CaseEvent {
    pub id: String,
    pub case_id: String,
    pub kind: String,
    pub actor: String,
    pub at: i64,
    pub state_after: String,
    pub note: Option<String>,
}

pub const CASE_COLS: &[&str] = &[
    "id",
    "kind",
    "rating_id",
    "matter_no",
    "unit_code",
    "item_code",
    "window_code",
    "staff_code",
    "level",
    "category",
    "real_name",
    "referral",
    "opened_at",
    "arrival_day",
    "respond_by",
    "reply_by",
    "provisional",
];
pub const EVENT_COLS: &[&str] = &["id", "case_id", "kind", "actor", "at", "state_after", "note"];

pub fn case_record(c: &StoredCase) -> Record {
    Record::new("case_opened")
        .str("id", &c.id)
        .str("kind", &c.kind)
        .opt_str("rating_id", c.rating_id.as_deref())
        .str("matter_no", &c.matter_no)
        .str("unit_code", &c.unit_code)
        .str("item_code", &c.item_code)
        .opt_str("window_code", c.window_code.as_deref())
        .opt_str("staff_code", c.staff_code.as_deref())
        .int("level", c.level)
        .str("category", &c.category)
        .bool("real_name", c.real_name)
        .bool("referral", c.referral)
        .int("opened_at", c.opened_at)
        .int("arrival_day", c.arrival_day)
        .int("respond_by", c.respond_by)
        .int("reply_by", c.reply_by)
        .bool("provisional", c.provisional)
}

/// The record that marks a rating 不属实.
pub fn invalidation_record(rating_id: &str, case_id: &str, decided_by: &str, at: i64) -> Record {
    Record::new("rating_invalidated").str("rating_id", rating_id).str("case_id", case_id).str("decided_by", decided_by).int("at", at)
}

pub fn event_record(e: &CaseEvent) -> Record {
    Record::new("case_event")
        .str("id", &e.id)
        .str("case_id", &e.case_id)
        .str("kind", &e.kind)
        .str("actor", &e.actor)
        .int("at", e.at)
        .str("state_after", &e.state_after)
        .opt_str("note", e.note.as_deref())
}

macro_rules! get {
    ($r:expr, $p:expr, $c:literal) => {
        $r.try_get(format!("{}{}", $p, $c).as_str())?
    };
}

pub(crate) fn case_from_row<R: Row>(r: &R, p: &str) -> Result<StoredCase>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(StoredCase {
        id: get!(r, p, "id"),
        kind: get!(r, p, "kind"),
        rating_id: get!(r, p, "rating_id"),
        matter_no: get!(r, p, "matter_no"),
        unit_code: get!(r, p, "unit_code"),
        item_code: get!(r, p, "item_code"),
        window_code: get!(r, p, "window_code"),
        staff_code: get!(r, p, "staff_code"),
        level: get!(r, p, "level"),
        category: get!(r, p, "category"),
        real_name: get!(r, p, "real_name"),
        referral: get!(r, p, "referral"),
        opened_at: get!(r, p, "opened_at"),
        arrival_day: get!(r, p, "arrival_day"),
        respond_by: get!(r, p, "respond_by"),
        reply_by: get!(r, p, "reply_by"),
        provisional: get!(r, p, "provisional"),
    })
}

pub(crate) fn event_from_row<R: Row>(r: &R, p: &str) -> Result<CaseEvent>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(CaseEvent {
        id: get!(r, p, "id"),
        case_id: get!(r, p, "case_id"),
        kind: get!(r, p, "kind"),
        actor: get!(r, p, "actor"),
        at: get!(r, p, "at"),
        state_after: get!(r, p, "state_after"),
        note: get!(r, p, "note"),
    })
}

/// `t.a AS pa, t.b AS pb, …`
pub(crate) fn prefixed(table: &str, cols: &[&str], prefix: &str) -> String {
    cols.iter().map(|c| format!("{table}.{c} AS {prefix}{c}")).collect::<Vec<_>>().join(", ")
}

/// A case with its current state and reply deadline (moved by extensions).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseSummary {
    pub case: StoredCase,
    pub state: String,
    pub reply_by: i64,
}

impl Db {
    /// Cases of the given units (the caller's scope), newest first, optionally in one state.
    pub async fn list_cases(&self, units: &[String], state: Option<&str>, limit: i64) -> Result<Vec<CaseSummary>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let is_pg = matches!(self, Db::Pg(_));
        let marks: Vec<String> = (0..units.len()).map(|i| if is_pg { format!("${}", i + 3) } else { "?".into() }).collect();
        let (state_mark, limit_mark) = if is_pg { ("$1", "$2") } else { ("?", "?") };
        let sql = format!(
            "SELECT {}, s.state AS s_state, s.reply_by AS s_reply_by FROM cases c JOIN case_status s ON s.case_id = c.id \
             WHERE ({state_mark} = '' OR s.state = {state_mark}) AND c.unit_code IN ({}) ORDER BY c.opened_at DESC LIMIT {limit_mark}",
            prefixed("c", CASE_COLS, "c_"),
            marks.join(",")
        );
        let st = state.unwrap_or("");
        let mut out = Vec::new();
        on_db!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            // SQLite numbers anonymous parameters in order of appearance: state twice, then the units, then the limit.
            if is_pg {
                q = q.bind(st.to_string()).bind(limit);
                for u in units {
                    q = q.bind(u.clone());
                }
            } else {
                q = q.bind(st.to_string()).bind(st.to_string());
                for u in units {
                    q = q.bind(u.clone());
                }
                q = q.bind(limit);
            }
            for r in q.fetch_all(pool).await? {
                out.push(CaseSummary { case: case_from_row(&r, "c_")?, state: r.try_get("s_state")?, reply_by: r.try_get("s_reply_by")? });
            }
        });
        Ok(out)
    }

    /// Every case of `units` not yet closed (the work queue), however many, nearest reply deadline first.
    pub async fn open_cases(&self, units: &[String]) -> Result<Vec<CaseSummary>> {
        let mut all = Vec::new();
        for state in ["open", "responded", "decided", "replied"] {
            all.extend(self.list_cases(units, Some(state), i64::MAX / 2).await?);
        }
        all.sort_by_key(|c| (c.reply_by, c.case.opened_at));
        Ok(all)
    }

    /// Appends one step of a case's handling, if the case is still in `expected_state`: the event, its ledger
    /// entry and outbox job, and the new state (and reply deadline), in one transaction. A concurrent step that
    /// got there first makes this one a conflict, so two handlers cannot both record an outcome.
    pub async fn append_case_event(&self, event: &CaseEvent, expected_state: &str, reply_by: Option<(i64, i64)>) -> Result<i64> {
        match self.append_case_event_once(event, expected_state, reply_by, None).await? {
            Some(seq) => Ok(seq),
            None => Err(crate::StoreError::conflict("case_changed", "工单状态已被他人更新，请刷新后重试", None)),
        }
    }

    /// As `append_case_event`, and when `flag` is given, only if that flag was not yet set for the case (it is
    /// set in the same transaction): `None` when another node did it first. `reply_by`, when given, is
    /// `(expected old deadline, new deadline)`: an extension or a reopened case.
    pub async fn append_case_event_once(
        &self,
        event: &CaseEvent,
        expected_state: &str,
        reply_by: Option<(i64, i64)>,
        flag: Option<&str>,
    ) -> Result<Option<i64>> {
        let (old_reply, new_reply, change_reply) = match reply_by {
            Some((old, new)) => (old, new, true),
            None => (0, 0, false),
        };
        let is_pg = matches!(self, Db::Pg(_));
        let begin = if is_pg { "BEGIN" } else { "BEGIN IMMEDIATE" };
        Ok(on_db!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let head = crate::ledger::lock_head!(tx, is_pg);
            let moved = sqlx::query(
                "UPDATE case_status SET state = $1, reply_by = CASE WHEN $2 THEN $3 ELSE reply_by END, updated_at = $4 \
                 WHERE case_id = $5 AND state = $6 AND (NOT $2 OR reply_by = $7)")
                .bind(&event.state_after).bind(change_reply).bind(new_reply).bind(event.at).bind(&event.case_id).bind(expected_state).bind(old_reply)
                .execute(&mut *tx).await?.rows_affected();
            if moved != 1 {
                return Ok(None);
            }
            if let Some(flag) = flag {
                let set = sqlx::query("INSERT INTO case_flags (case_id, flag, at) VALUES ($1, $2, $3) ON CONFLICT (case_id, flag) DO NOTHING RETURNING case_id")
                    .bind(&event.case_id).bind(flag).bind(event.at).fetch_optional(&mut *tx).await?;
                if set.is_none() {
                    return Ok(None);
                }
            }
            sqlx::query("INSERT INTO case_events (id, case_id, kind, actor, at, state_after, note) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&event.id).bind(&event.case_id).bind(&event.kind).bind(&event.actor).bind(event.at).bind(&event.state_after).bind(&event.note)
                .execute(&mut *tx).await?;
            let seq = crate::ledger::append_chain!(tx, head, [("case_event", event.id.clone(), event_record(event).content_hash())], event.at);
            tx.commit().await?;
            Some(seq)
        }))
    }

    /// Cases whose response or reply deadline has passed (`today` is after it) and that are not done with that
    /// step: `(case id, unit, state, step, deadline day)`, step `respond` or `reply`.
    pub async fn overdue_candidates(&self, today: i64) -> Result<Vec<(String, String, String, &'static str, i64, i64)>> {
        let mut out = Vec::new();
        on_db!(self, pool => {
            let rows = sqlx::query(
                "SELECT c.id, c.unit_code, s.state, c.respond_by, s.reply_by, \
                 EXISTS (SELECT 1 FROM case_flags f WHERE f.case_id = c.id AND f.flag = 'overdue_respond_' || CAST(c.respond_by AS TEXT)) AS respond_flagged, \
                 EXISTS (SELECT 1 FROM case_flags f WHERE f.case_id = c.id AND f.flag = 'overdue_reply_' || CAST(s.reply_by AS TEXT)) AS reply_flagged \
                 FROM cases c JOIN case_status s ON s.case_id = c.id WHERE (s.state = 'open' AND c.respond_by < $1) OR (s.state IN ('open', 'responded', 'decided') AND s.reply_by < $1)")
                .bind(today).fetch_all(pool).await?;
            for r in rows {
                let (id, unit, state): (String, String, String) = (r.try_get("id")?, r.try_get("unit_code")?, r.try_get("state")?);
                let (respond_by, reply_by): (i64, i64) = (r.try_get("respond_by")?, r.try_get("reply_by")?);
                let (respond_flagged, reply_flagged): (bool, bool) = (r.try_get("respond_flagged")?, r.try_get("reply_flagged")?);
                if state == "open" && respond_by < today && !respond_flagged {
                    out.push((id.clone(), unit.clone(), state.clone(), "respond", respond_by, reply_by));
                }
                if reply_by < today && !reply_flagged {
                    out.push((id, unit, state, "reply", reply_by, reply_by));
                }
            }
        });
        Ok(out)
    }

    /// Cases whose response or reply deadline is `today` and that are not done with that step, and whose unit
    /// has not yet been warned: `(case id, state, step, deadline day)`.
    pub async fn due_today_candidates(&self, today: i64) -> Result<Vec<(String, String, &'static str, i64)>> {
        let mut out = Vec::new();
        on_db!(self, pool => {
            let rows = sqlx::query(
                "SELECT c.id, s.state, c.respond_by, s.reply_by, \
                 EXISTS (SELECT 1 FROM case_flags f WHERE f.case_id = c.id AND f.flag = 'due_respond_' || CAST(c.respond_by AS TEXT)) AS respond_warned, \
                 EXISTS (SELECT 1 FROM case_flags f WHERE f.case_id = c.id AND f.flag = 'due_reply_' || CAST(s.reply_by AS TEXT)) AS reply_warned \
                 FROM cases c JOIN case_status s ON s.case_id = c.id WHERE (s.state = 'open' AND c.respond_by = $1) OR (s.state IN ('open', 'responded', 'decided') AND s.reply_by = $1)")
                .bind(today).fetch_all(pool).await?;
            for r in rows {
                let (id, state): (String, String) = (r.try_get("id")?, r.try_get("state")?);
                let (respond_by, reply_by): (i64, i64) = (r.try_get("respond_by")?, r.try_get("reply_by")?);
                let (respond_warned, reply_warned): (bool, bool) = (r.try_get("respond_warned")?, r.try_get("reply_warned")?);
                if state == "open" && respond_by == today && !respond_warned {
                    out.push((id.clone(), state.clone(), "respond", respond_by));
                }
                if reply_by == today && !reply_warned {
                    out.push((id, state, "reply", reply_by));
                }
            }
        });
        Ok(out)
    }

    /// Cases of `units` that arrived on business days `from..=to`, each with its current state and its events
    /// (for loop metrics).
    pub async fn cases_with_events(&self, units: &[String], from: i64, to: i64) -> Result<Vec<(CaseSummary, Vec<CaseEvent>)>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let is_pg = matches!(self, Db::Pg(_));
        let marks: Vec<String> = (0..units.len()).map(|i| if is_pg { format!("${}", i + 3) } else { "?".into() }).collect();
        let (a, b) = if is_pg { ("$1", "$2") } else { ("?", "?") };
        let filter = format!("c.arrival_day >= {a} AND c.arrival_day <= {b} AND c.unit_code IN ({})", marks.join(","));
        let csql = format!(
            "SELECT {}, s.state AS s_state, s.reply_by AS s_reply_by FROM cases c JOIN case_status s ON s.case_id = c.id WHERE {filter}",
            prefixed("c", CASE_COLS, "c_")
        );
        let esql = format!(
            "SELECT {} FROM case_events e JOIN cases c ON c.id = e.case_id WHERE {filter} ORDER BY e.at",
            prefixed("e", EVENT_COLS, "e_")
        );
        let mut out: Vec<(CaseSummary, Vec<CaseEvent>)> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        on_db!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(csql)).bind(from).bind(to);
            for u in units {
                q = q.bind(u.clone());
            }
            for r in q.fetch_all(pool).await? {
                let summary = CaseSummary { case: case_from_row(&r, "c_")?, state: r.try_get("s_state")?, reply_by: r.try_get("s_reply_by")? };
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

    /// Whether a rating was found untrue (不属实) by an upheld 复核.
    pub async fn is_invalidated(&self, rating_id: &str) -> Result<bool> {
        Ok(on_db!(self, pool => sqlx::query("SELECT rating_id FROM rating_invalidations WHERE rating_id = $1").bind(rating_id)
            .fetch_optional(pool).await?.is_some()))
    }

    /// The 复核 of a case, if one was applied for: `(route, state)`.
    pub async fn appeal_of(&self, case_id: &str) -> Result<Option<(String, String)>> {
        Ok(
            on_db!(self, pool => match sqlx::query("SELECT route, state FROM appeals WHERE case_id = $1").bind(case_id).fetch_optional(pool).await? {
                Some(r) => Some((r.try_get("route")?, r.try_get("state")?)),
                None => None,
            }),
        )
    }

    /// One step of a 复核, in one transaction: the event (on the ledger), the appeal's new state (guarded by the
    /// expected one), and when upheld, the record marking the rating 不属实 (on the ledger), the rollups taken
    /// back for it, and the case closed.
    pub async fn appeal_step(
        &self,
        event: &CaseEvent,
        route: &str,
        expected: Option<&str>,
        new_state: &str,
        upheld_rating: Option<&str>,
        reply_by: Option<(i64, i64)>,
    ) -> Result<()> {
        let is_pg = matches!(self, Db::Pg(_));
        let begin = if is_pg { "BEGIN" } else { "BEGIN IMMEDIATE" };
        on_db!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let head = crate::ledger::lock_head!(tx, is_pg);
            let moved = match expected {
                None => sqlx::query("INSERT INTO appeals (case_id, route, state, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (case_id) DO NOTHING")
                    .bind(&event.case_id).bind(route).bind(new_state).bind(event.at).execute(&mut *tx).await?.rows_affected(),
                Some(old) => sqlx::query("UPDATE appeals SET state = $1, updated_at = $2 WHERE case_id = $3 AND state = $4")
                    .bind(new_state).bind(event.at).bind(&event.case_id).bind(old).execute(&mut *tx).await?.rows_affected(),
            };
            if moved != 1 {
                return Err(crate::StoreError::conflict("case_changed", "复核状态已被他人更新，请刷新后重试", None));
            }
            if let Some((old, new)) = reply_by {
                let moved = sqlx::query("UPDATE case_status SET reply_by = $1, updated_at = $2 WHERE case_id = $3 AND reply_by = $4")
                    .bind(new).bind(event.at).bind(&event.case_id).bind(old).execute(&mut *tx).await?.rows_affected();
                if moved != 1 {
                    return Err(crate::StoreError::conflict("case_changed", "工单期限已被他人更新，请刷新后重试", None));
                }
            }
            let mut entries: Vec<(&str, String, hcp_domain::ledger::Hash)> = Vec::new();
            sqlx::query("INSERT INTO case_events (id, case_id, kind, actor, at, state_after, note) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&event.id).bind(&event.case_id).bind(&event.kind).bind(&event.actor).bind(event.at).bind(&event.state_after).bind(&event.note)
                .execute(&mut *tx).await?;
            entries.push(("case_event", event.id.clone(), event_record(event).content_hash()));
            if let Some(rating_id) = upheld_rating {
                sqlx::query("UPDATE case_status SET state = 'closed', updated_at = $1 WHERE case_id = $2 AND state <> 'closed'")
                    .bind(event.at).bind(&event.case_id).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO rating_invalidations (rating_id, case_id, decided_by, at) VALUES ($1, $2, $3, $4)")
                    .bind(rating_id).bind(&event.case_id).bind(&event.actor).bind(event.at).execute(&mut *tx).await?;
                entries.push(("rating_invalidated", rating_id.to_string(), invalidation_record(rating_id, &event.case_id, &event.actor, event.at).content_hash()));
                // Take the rating out of every rollup it was counted in.
                let r = sqlx::query("SELECT level, biz_day, unit_code, item_code, channel, window_code, staff_code FROM ratings WHERE id = $1")
                    .bind(rating_id).fetch_one(&mut *tx).await?;
                let level: i64 = r.try_get("level")?;
                let day: i64 = r.try_get("biz_day")?;
                let mut dims: Vec<(&str, String)> = vec![("all", "*".to_string()), ("unit", r.try_get("unit_code")?), ("item", r.try_get("item_code")?), ("channel", r.try_get("channel")?)];
                if let Some(w) = r.try_get::<Option<String>, _>("window_code")? {
                    dims.push(("window", w));
                }
                if let Some(s) = r.try_get::<Option<String>, _>("staff_code")? {
                    dims.push(("staff", s));
                }
                let col = format!("n{}", level.clamp(1, 5));
                for (dim, key) in dims {
                    sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE rollup_ratings SET {col} = {col} - 1 WHERE dim = $1 AND dim_key = $2 AND biz_day = $3")))
                        .bind(dim).bind(key).bind(day).execute(&mut *tx).await?;
                }
            }
            crate::ledger::append_chain!(tx, head, entries, event.at);
            tx.commit().await?;
        });
        Ok(())
    }

    /// The case a rating opened, if any.
    pub async fn case_of_rating(&self, rating_id: &str) -> Result<Option<String>> {
        Ok(on_db!(self, pool => sqlx::query("SELECT id FROM cases WHERE rating_id = $1").bind(rating_id)
            .fetch_optional(pool).await?.map(|r| r.try_get("id")).transpose()?))
    }

    /// One case with its current state and its history, oldest event first.
    /// The case an event belongs to.
    pub async fn case_of_event(&self, event_id: &str) -> Result<Option<String>> {
        Ok(
            on_db!(self, pool => match sqlx::query("SELECT case_id FROM case_events WHERE id = $1").bind(event_id).fetch_optional(pool).await? {
                Some(r) => Some(r.try_get("case_id")?),
                None => None,
            }),
        )
    }

    pub async fn get_case(&self, id: &str) -> Result<Option<(CaseSummary, Vec<CaseEvent>)>> {
        let sql = format!(
            "SELECT {}, s.state AS s_state, s.reply_by AS s_reply_by FROM cases c JOIN case_status s ON s.case_id = c.id WHERE c.id = $1",
            prefixed("c", CASE_COLS, "c_")
        );
        let esql = format!("SELECT {} FROM case_events e WHERE e.case_id = $1 ORDER BY e.at, e.id", prefixed("e", EVENT_COLS, "e_"));
        Ok(on_db!(self, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await? {
                Some(r) => {
                    let summary = CaseSummary { case: case_from_row(&r, "c_")?, state: r.try_get("s_state")?, reply_by: r.try_get("s_reply_by")? };
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
