//! The columns of each table that holds a record of the ledger, and how a row becomes the domain's record (a
//! value the domain cannot parse is a corrupt row). Shared by the modules that read, write and verify them.

use hcp_domain::case_event::EventKind;
use hcp_domain::case_flow::CaseState;
use hcp_domain::cases::{CaseCategory, CaseKind};
use hcp_domain::records::{Case, CaseEvent, Complaint, ComplaintSource, Inspection, Rating, TargetKind};
use hcp_domain::{BizDay, Channel};
use sqlx::Row;

use crate::error::{Result, StoreError};

pub const RATING_COLS: &str = "id, matter_id, matter_no, service_seq, assess_number, follows_id, channel, level, indicators, reasons, text, anonymous, \
rater_name, rater_phone, rater_id_number, rater_phone_ix, rater_from_applicant, unit_code, item_code, window_code, staff_code, catalogue_version, \
referral, rated_at, received_at, biz_day, credential_kind, credential_id, device_id, source_hash, client_type, seconds_after_service";

pub fn rating_from_row<R: Row>(r: &R) -> Result<Rating>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let channel: String = r.try_get("channel")?;
    let biz_day: i64 = r.try_get("biz_day")?;
    Ok(Rating {
        id: r.try_get("id")?,
        matter_id: r.try_get("matter_id")?,
        matter_no: r.try_get("matter_no")?,
        service_seq: r.try_get("service_seq")?,
        assess_number: r.try_get("assess_number")?,
        follows_id: r.try_get("follows_id")?,
        channel: Channel::parse(&channel, "channel")?,
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
        biz_day: BizDay::from_key(biz_day).ok_or_else(|| StoreError::corrupt(format!("biz_day {biz_day} is not a date")))?,
        credential_kind: r.try_get("credential_kind")?,
        credential_id: r.try_get("credential_id")?,
        device_id: r.try_get("device_id")?,
        source_hash: r.try_get("source_hash")?,
        client_type: r.try_get("client_type")?,
        seconds_after_service: r.try_get("seconds_after_service")?,
        ledger_seq: r.try_get::<Option<i64>, _>("ledger_seq").ok().flatten().unwrap_or(0),
    })
}

/// A case with its current state and deadlines: the reply deadline moved by extensions, and both recomputed
/// when the holiday notice of a year they were provisionally computed across is loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseSummary {
    pub case: Case,
    pub state: CaseState,
    pub respond_by: BizDay,
    pub reply_by: BizDay,
    /// the deadlines still cross a year whose holiday notice is not loaded
    pub provisional: bool,
}

/// The projection's columns a case summary reads, after the case's own.
pub(crate) const STATUS_SELECT: &str =
    "s.state AS s_state, s.respond_by AS s_respond_by, s.reply_by AS s_reply_by, s.provisional AS s_provisional";

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

pub(crate) fn day(key: i64, col: &str) -> Result<BizDay> {
    BizDay::from_key(key).ok_or_else(|| StoreError::corrupt(format!("{col} {key} is not a date")))
}

pub(crate) fn state_of(s: &str) -> Result<CaseState> {
    CaseState::parse(s).ok_or_else(|| StoreError::corrupt(format!("unknown case state {s}")))
}

macro_rules! get {
    ($r:expr, $p:expr, $c:literal) => {
        $r.try_get(format!("{}{}", $p, $c).as_str())?
    };
}

pub(crate) fn case_from_row<R: Row>(r: &R, p: &str) -> Result<Case>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let kind: String = get!(r, p, "kind");
    let category: String = get!(r, p, "category");
    Ok(Case {
        id: get!(r, p, "id"),
        kind: CaseKind::parse(&kind).ok_or_else(|| StoreError::corrupt(format!("unknown case kind {kind}")))?,
        rating_id: get!(r, p, "rating_id"),
        matter_no: get!(r, p, "matter_no"),
        unit_code: get!(r, p, "unit_code"),
        item_code: get!(r, p, "item_code"),
        window_code: get!(r, p, "window_code"),
        staff_code: get!(r, p, "staff_code"),
        level: get!(r, p, "level"),
        category: CaseCategory::parse(&category).ok_or_else(|| StoreError::corrupt(format!("unknown case category {category}")))?,
        real_name: get!(r, p, "real_name"),
        referral: get!(r, p, "referral"),
        opened_at: get!(r, p, "opened_at"),
        arrival_day: day(get!(r, p, "arrival_day"), "arrival_day")?,
        respond_by: day(get!(r, p, "respond_by"), "respond_by")?,
        reply_by: day(get!(r, p, "reply_by"), "reply_by")?,
        provisional: get!(r, p, "provisional"),
    })
}

pub(crate) fn event_from_row<R: Row>(r: &R, p: &str) -> Result<CaseEvent>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let kind: String = get!(r, p, "kind");
    let state: String = get!(r, p, "state_after");
    Ok(CaseEvent {
        id: get!(r, p, "id"),
        case_id: get!(r, p, "case_id"),
        kind: EventKind::parse(&kind).ok_or_else(|| StoreError::corrupt(format!("unknown event kind {kind}")))?,
        actor: get!(r, p, "actor"),
        at: get!(r, p, "at"),
        state_after: state_of(&state)?,
        note: get!(r, p, "note"),
    })
}

/// `t.a AS pa, t.b AS pb, …`
pub(crate) fn prefixed(table: &str, cols: &[&str], prefix: &str) -> String {
    cols.iter().map(|c| format!("{table}.{c} AS {prefix}{c}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn summary_from_row<R: Row>(r: &R) -> Result<CaseSummary>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let state: String = r.try_get("s_state")?;
    let case = case_from_row(r, "c_")?;
    Ok(CaseSummary {
        state: state_of(&state)?,
        respond_by: match r.try_get::<Option<i64>, _>("s_respond_by")? {
            Some(k) => day(k, "respond_by")?,
            None => case.respond_by,
        },
        reply_by: day(r.try_get("s_reply_by")?, "reply_by")?,
        provisional: r.try_get::<Option<bool>, _>("s_provisional")?.unwrap_or(case.provisional),
        case,
    })
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
        target_kind: TargetKind::parse(&r.try_get::<String, _>(g("target_kind").as_str())?, "target_kind")?,
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
