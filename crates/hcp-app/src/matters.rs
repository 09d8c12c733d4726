//! Matters (办件) and their service occasions (服务, the unit of 一次一评), registered by business systems and by
//! staff, and the receipt that carries a matter's rating QR code.

use hcp_domain::access::Act;
use hcp_domain::ids::{parse_code, parse_text, service_no};
use hcp_domain::national::{Handling, LimitUnit, ProcChannel, TimeLimit, applicant_prop};
use hcp_domain::person::{IdNumber, PersonName, Phone, applicant_identity, mask_name, mask_phone};
use hcp_domain::{Channel, DomainError, Timestamp};
use hcp_storage::matters::{Matter, MatterDetails, NewMatter, Registered};
use hcp_storage::pii::Secrets;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::caller::Caller;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicantIn {
    /// `person` (自然人) or `legal` (法人或其他组织)
    pub kind: String,
    /// The national applicant code (userProp): 1 for a person; for a legal person 2 企业法人 (the default),
    /// 3 事业法人, 4 社会组织法人, 5 非法人企业, 6 行政机关, 9 其他组织.
    pub prop: Option<i64>,
    pub name: String,
    pub phone: Option<String>,
    /// A person's resident identity card number, or a legal person's 统一社会信用代码 (both checked, with
    /// their check characters).
    pub id_number: Option<String>,
}

/// A time limit: an amount and its unit.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeLimitIn {
    /// 0–9999
    pub amount: i64,
    /// `day`, `working_day`, `month` or `year` (天, 工作日, 月, 年 are taken too)
    pub unit: String,
}

/// Who applied on the applicant's behalf (代理人).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentIn {
    pub name: String,
    /// resident identity card number
    pub id_number: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatterIn {
    /// 办件编号, unique; registering the same matter again is idempotent.
    pub matter_no: String,
    pub item_code: String,
    pub unit_code: String,
    pub applicant: ApplicantIn,
    /// RFC 3339
    pub accepted_at: String,
    /// RFC 3339; may be sent later by registering the matter again with it.
    pub completed_at: Option<String>,
    /// 办件名称 (defaults to the item's name in the national record)
    pub project_name: Option<String>,
    /// 承诺时限
    pub promise_limit: Option<TimeLimitIn>,
    /// 法定时限
    pub legal_limit: Option<TimeLimitIn>,
    /// `instant` (即办件) or `promised` (承诺件); without it, a matter completed on the day it was accepted
    /// counts as 即办件
    pub handling: Option<String>,
    /// `online` (线上) or `offline` (线下, the default)
    pub proc_channel: Option<String>,
    pub agent: Option<AgentIn>,
    /// 经办人: the staff code of who handled a matter online (a service occasion names its own staff)
    pub handler_code: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MatterOut {
    pub id: String,
    pub matter_no: String,
    pub item_code: String,
    pub unit_code: String,
    pub applicant_kind: String,
    /// masked, e.g. 张*
    pub applicant_name: String,
    /// masked, e.g. 138****8000
    pub applicant_phone: Option<String>,
    pub accepted_at: String,
    pub completed_at: Option<String>,
    /// the national applicant code (userProp)
    pub applicant_prop: i64,
    pub project_name: Option<String>,
    /// e.g. `20工作日`
    pub promise_limit: Option<String>,
    pub legal_limit: Option<String>,
    pub handling: Option<String>,
    pub proc_channel: Option<String>,
    /// masked
    pub agent_name: Option<String>,
    pub handler_code: Option<String>,
    /// Link to the unified rating page for the matter as a whole (一事一评), once it is completed: the one to
    /// print as the receipt's QR code (ratings through it are recorded as `qr`).
    pub rating_url: Option<String>,
    /// The same link issued for the business system's own portal and app (recorded as `pc` and `mobile`).
    pub rating_links: Option<RatingLinks>,
    /// true when this call created the matter
    pub created: bool,
}

/// A rating link per channel it may be issued for: the channel of a rating is the one its link was issued for,
/// never what the page's address says.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RatingLinks {
    /// for the receipt's QR code (`qr`)
    pub qr: String,
    /// for a web portal (`pc`)
    pub pc: String,
    /// for a mobile app or mini program (`mobile`)
    pub mobile: String,
}

impl RatingLinks {
    fn new(app: &App, matter_no: &str, seq: i64, from: Timestamp) -> Self {
        RatingLinks {
            qr: app.rating_url(matter_no, seq, from, Channel::Qr),
            pc: app.rating_url(matter_no, seq, from, Channel::Pc),
            mobile: app.rating_url(matter_no, seq, from, Channel::Mobile),
        }
    }
}

fn limit_label((amount, unit): (i64, i64)) -> Option<String> {
    LimitUnit::from_code(unit).map(|u| TimeLimit { amount, unit: u }.label())
}

fn matter_out(app: &App, m: &Matter, created: bool) -> MatterOut {
    MatterOut {
        id: m.id.clone(),
        matter_no: m.matter_no.clone(),
        item_code: m.item_code.clone(),
        unit_code: m.unit_code.clone(),
        applicant_kind: m.applicant_kind.clone(),
        applicant_name: mask_name(&app.reveal(&m.applicant_name)),
        applicant_phone: m.applicant_phone.as_ref().map(|p| mask_phone(&app.reveal(p))),
        accepted_at: m.accepted_at.to_rfc3339(),
        completed_at: m.completed_at.map(|t| t.to_rfc3339()),
        applicant_prop: m.details.applicant_prop.unwrap_or(if m.applicant_kind == "person" { 1 } else { 2 }),
        project_name: m.details.project_name.clone(),
        promise_limit: m.details.promise.and_then(limit_label),
        legal_limit: m.details.legal.and_then(limit_label),
        handling: m.details.handling.clone(),
        proc_channel: m.details.proc_channel.clone(),
        agent_name: m.details.agent_name.as_ref().map(|n| mask_name(&app.reveal(n))),
        handler_code: m.details.handler_code.clone(),
        rating_url: m.completed_at.map(|done| app.rating_url(&m.matter_no, 0, done, Channel::Qr)),
        rating_links: m.completed_at.map(|done| RatingLinks::new(app, &m.matter_no, 0, done)),
        created,
    }
}

/// Registers a matter (or its completion, when it is registered again with `completed_at`): for a system key or
/// staff session of the matter's unit or a unit above it.
#[tracing::instrument(skip_all)]
pub async fn register_matter(app: &App, caller: &Caller, input: MatterIn) -> AppResult<MatterOut> {
    let matter_no = parse_code(&input.matter_no, "matter_no", 50)?;
    let item_code = parse_code(&input.item_code, "item_code", 40)?;
    let unit_code = parse_code(&input.unit_code, "unit_code", 40)?;
    app.authorize(caller, Act::RegisterMatter)?;
    let master = app.master_with_unit(&unit_code).await?;
    if !master.units.contains_key(&unit_code) {
        return Err(AppError::invalid("unknown_reference", "unit_code", format!("单位编码 {unit_code} 不存在")));
    }
    if !master.items.contains_key(&item_code) && !app.reload_master().await?.items.contains_key(&item_code) {
        return Err(AppError::invalid("unknown_reference", "item_code", format!("事项编码 {item_code} 不存在")));
    }
    app.authorize_in(caller, Act::RegisterMatter, &unit_code)?;
    let kind = match input.applicant.kind.as_str() {
        "person" | "legal" => input.applicant.kind.clone(),
        _ => {
            return Err(AppError::invalid(
                "invalid_applicant_kind",
                "applicant.kind",
                "申请人类型应为 person（自然人）或 legal（法人或其他组织）",
            ));
        }
    };
    let accepted_at = Timestamp::parse_rfc3339(&input.accepted_at, "accepted_at")?;
    let completed_at = input.completed_at.as_deref().map(|c| Timestamp::parse_rfc3339(c, "completed_at")).transpose()?;
    let now = Timestamp::now();
    let skew = app.config.max_clock_skew_secs;
    if accepted_at > now.plus_seconds(skew) {
        return Err(AppError::invalid("timestamp_in_future", "accepted_at", "受理时间不能晚于当前时间"));
    }
    if completed_at.is_some_and(|c| c > now.plus_seconds(skew)) {
        return Err(AppError::invalid("timestamp_in_future", "completed_at", "办结时间不能晚于当前时间"));
    }
    let a = &input.applicant;
    let applicant = Applicant { kind: &kind, prop: a.prop, name: &a.name, phone: a.phone.as_deref(), id_number: a.id_number.as_deref() };
    let limit = |l: &Option<TimeLimitIn>, field: &str| {
        l.as_ref()
            .map(|l| TimeLimit::new(l.amount, LimitUnit::parse(&l.unit, &format!("{field}.unit"))?, &format!("{field}.amount")))
            .transpose()
    };
    let details = Details {
        project_name: input.project_name.as_deref(),
        promise: limit(&input.promise_limit, "promise_limit")?,
        legal: limit(&input.legal_limit, "legal_limit")?,
        handling: input.handling.as_deref().map(|h| Handling::parse(h, "handling")).transpose()?,
        proc_channel: input.proc_channel.as_deref().map(|c| ProcChannel::parse(c, "proc_channel")).transpose()?,
        agent_name: input.agent.as_ref().map(|g| g.name.as_str()),
        agent_id: input.agent.as_ref().and_then(|g| g.id_number.as_deref()),
        handler_code: handler(app, caller, input.handler_code.as_deref())?,
    };
    let source = (if matches!(caller, Caller::Key(_)) { "key" } else { "staff" }, caller.id().map(str::to_string));
    let new = seal(&app.secrets, MatterRecord { matter_no, item_code, unit_code, applicant, accepted_at, completed_at, details }, source)?;
    // The invitation to rate that a completion brings (stored only if this registration records it).
    let phone = a.phone.as_deref().map(|p| Phone::parse(p, "applicant.phone")).transpose()?;
    let invite = match new.completed_at {
        Some(done) => crate::invitations::for_completion(app, &new.matter_no, &new.item_code, phone.as_ref(), done)?,
        None => None,
    };
    Ok(match store(&app.db, &app.secrets, &new, &a.name, invite.as_ref()).await? {
        Registered::Created(m) => matter_out(app, &m, true),
        Registered::Existing { matter, .. } => matter_out(app, &matter, false),
    })
}

/// The staff member who handled a matter online (经办人): one of the caller's own tree, like a service's.
pub(crate) fn handler(app: &App, caller: &Caller, code: Option<&str>) -> AppResult<Option<String>> {
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else { return Ok(None) };
    let code = parse_code(code, "handler_code", 40)?;
    let member = app
        .master()
        .staff
        .get(&code)
        .cloned()
        .ok_or_else(|| AppError::invalid("unknown_reference", "handler_code", format!("工作人员 {code} 不存在")))?;
    app.authorize_in(caller, Act::RegisterMatter, &member.unit_code)?;
    Ok(Some(code))
}

/// A number for a matter a station registers without one of its own: the unit's code and the moment to the
/// millisecond, unique enough for one station (a clash is refused by the store, and the clerk tries again).
pub fn station_matter_no(unit: &str, now: Timestamp) -> String {
    let t = now.to_datetime().to_offset(hcp_domain::timestamp::SHANGHAI);
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]");
    format!("{unit}-{}{:03}", t.format(&fmt).unwrap_or_default(), t.millisecond())
}

/// A matter's applicant as given.
pub struct Applicant<'a> {
    /// `person` or `legal`
    pub kind: &'a str,
    /// the national applicant code, if given
    pub prop: Option<i64>,
    pub name: &'a str,
    pub phone: Option<&'a str>,
    pub id_number: Option<&'a str>,
}

/// A matter as given, codes checked.
pub struct MatterRecord<'a> {
    pub matter_no: String,
    pub item_code: String,
    pub unit_code: String,
    pub applicant: Applicant<'a>,
    pub accepted_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    pub details: Details<'a>,
}

/// What the national record needs beyond the basics, as given (the limits and codes already checked).
#[derive(Default)]
pub struct Details<'a> {
    pub project_name: Option<&'a str>,
    pub promise: Option<TimeLimit>,
    pub legal: Option<TimeLimit>,
    pub handling: Option<Handling>,
    pub proc_channel: Option<ProcChannel>,
    pub agent_name: Option<&'a str>,
    pub agent_id: Option<&'a str>,
    /// a staff code already checked
    pub handler_code: Option<String>,
}

/// Checks a matter's applicant and times, and encrypts the applicant's data for storage. `source` is who
/// registered it: `(kind, id)`.
pub fn seal(secrets: &Secrets, m: MatterRecord, source: (&str, Option<String>)) -> AppResult<NewMatter> {
    let name = PersonName::parse(m.applicant.name, "applicant.name")?;
    let phone = m.applicant.phone.map(|p| Phone::parse(p, "applicant.phone")).transpose()?;
    let id_number = m.applicant.id_number.map(|i| applicant_identity(m.applicant.kind, i, "applicant.id_number")).transpose()?;
    let prop = applicant_prop(m.applicant.kind, m.applicant.prop, "applicant.prop")?;
    if m.completed_at.is_some_and(|c| c < m.accepted_at) {
        return Err(AppError::invalid("invalid_timestamp", "completed_at", "办结时间不能早于受理时间"));
    }
    let d = &m.details;
    let project_name = d.project_name.map(|p| parse_text(p, "project_name", 200)).transpose()?.filter(|p| !p.is_empty());
    let agent_name = d.agent_name.map(|n| PersonName::parse(n, "agent.name")).transpose()?;
    let agent_id = d.agent_id.map(|i| IdNumber::parse(i, "agent.id_number")).transpose()?;
    if agent_id.is_some() && agent_name.is_none() {
        return Err(AppError::invalid("missing_field", "agent.name", "填写代理人证件号码时须同时填写代理人姓名"));
    }
    let details = MatterDetails {
        project_name,
        applicant_prop: Some(prop),
        promise: d.promise.map(|l| (l.amount, l.unit.code())),
        legal: d.legal.map(|l| (l.amount, l.unit.code())),
        handling: d.handling.map(|h| h.code().to_string()),
        proc_channel: d.proc_channel.map(|c| c.code().to_string()),
        agent_name: agent_name.as_ref().map(|n| secrets.encrypt(n.as_str())).transpose()?,
        agent_id: agent_id.as_ref().map(|i| secrets.encrypt(i.as_str())).transpose()?,
        handler_code: d.handler_code.clone(),
    };
    Ok(NewMatter {
        details,
        matter_no: m.matter_no,
        item_code: m.item_code,
        unit_code: m.unit_code,
        applicant_kind: m.applicant.kind.to_string(),
        applicant_name: secrets.encrypt(name.as_str())?,
        applicant_phone: phone.as_ref().map(|p| secrets.encrypt(p.as_str())).transpose()?,
        applicant_phone_ix: phone.as_ref().map(|p| secrets.phone_index(p.as_str())),
        applicant_id: id_number.as_ref().map(|i| secrets.encrypt(i)).transpose()?,
        accepted_at: m.accepted_at,
        completed_at: m.completed_at,
        source_kind: source.0.to_string(),
        source_id: source.1,
    })
}

/// Stores a sealed matter, idempotently: the same matter again (same unit, item, acceptance and applicant)
/// returns the stored one, and records its completion if this registration brings it.
/// `invite` is the invitation to rate that its completion brings (none for seeded or imported history).
pub async fn store(
    db: &hcp_storage::Db,
    secrets: &Secrets,
    new: &NewMatter,
    applicant_name: &str,
    invite: Option<&hcp_storage::invitations::NewInvitation>,
) -> AppResult<Registered> {
    let same = |m: &Matter| {
        m.item_code == new.item_code
            && m.unit_code == new.unit_code
            && m.accepted_at == new.accepted_at
            && m.applicant_kind == new.applicant_kind
            && secrets.decrypt(&m.applicant_name).ok().as_deref() == Some(applicant_name.trim())
    };
    db.register_matter(new, same, invite).await.map_err(|e| matter_conflict(e, &new.matter_no))
}

fn matter_conflict(e: hcp_storage::StoreError, matter_no: &str) -> AppError {
    match e {
        hcp_storage::StoreError::Conflict(hcp_storage::Conflict::MatterDiffers) => {
            AppError::conflict("matter_conflict", format!("办件编号 {matter_no} 已登记，且内容与本次不同"), None)
        }
        hcp_storage::StoreError::Conflict(hcp_storage::Conflict::CompletionDiffers) => {
            AppError::conflict("matter_conflict", format!("办件编号 {matter_no} 已记录了不同的办结时间"), None)
        }
        other => other.into(),
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceIn {
    pub window_code: Option<String>,
    pub staff_code: Option<String>,
    /// RFC 3339; defaults to now.
    pub served_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceOut {
    pub service_no: String,
    pub matter_no: String,
    pub seq: i64,
    pub window_code: Option<String>,
    pub staff_code: Option<String>,
    pub served_at: String,
    /// Signed, single-purpose link to rate exactly this service occasion (一次一评), for its QR code (`qr`).
    pub rating_url: String,
    /// The same link issued for a portal and an app.
    pub rating_links: RatingLinks,
}

/// Records one service occasion of a matter (for 一次一评). A rating device or the hotline records none: each
/// service yields a rating token.
#[tracing::instrument(skip_all)]
pub async fn add_service(app: &App, caller: &Caller, matter_no: &str, input: ServiceIn) -> AppResult<ServiceOut> {
    let matter_no = parse_code(matter_no, "matter_no", 50)?;
    app.authorize(caller, Act::RegisterMatter)?;
    let matter = app.db.find_matter(&matter_no).await?.ok_or(AppError::NotFound("办件"))?;
    app.authorize_in(caller, Act::RegisterMatter, &matter.unit_code)?;
    let master = app.master();
    let window = input.window_code.as_deref().map(|w| parse_code(w, "window_code", 40)).transpose()?;
    let staff = input.staff_code.as_deref().map(|s| parse_code(s, "staff_code", 40)).transpose()?;
    if let Some(w) = &window {
        let win = master.windows.get(w).ok_or_else(|| AppError::invalid("unknown_reference", "window_code", format!("窗口 {w} 不存在")))?;
        app.authorize_in(caller, Act::RegisterMatter, &win.unit_code)?;
    }
    if let Some(s) = &staff {
        let member =
            master.staff.get(s).ok_or_else(|| AppError::invalid("unknown_reference", "staff_code", format!("工作人员 {s} 不存在")))?;
        // A service is put on the record of staff of the caller's own tree only (their statistics and cases follow).
        app.authorize_in(caller, Act::RegisterMatter, &member.unit_code)?;
    }
    let now = Timestamp::now();
    let served_at = match &input.served_at {
        Some(s) => Timestamp::parse_rfc3339(s, "served_at")?,
        None => now,
    };
    if served_at > now.plus_seconds(app.config.max_clock_skew_secs) {
        return Err(AppError::invalid("timestamp_in_future", "served_at", "服务时间不能晚于当前时间"));
    }
    let svc = app.db.add_service(&matter.id, window.as_deref(), staff.as_deref(), served_at).await?;
    Ok(ServiceOut {
        service_no: service_no(&matter.matter_no, svc.seq),
        matter_no: matter.matter_no.clone(),
        seq: svc.seq,
        window_code: svc.window_code,
        staff_code: svc.staff_code,
        served_at: svc.served_at.to_rfc3339(),
        rating_url: app.rating_url(&matter.matter_no, svc.seq, svc.served_at, Channel::Qr),
        rating_links: RatingLinks::new(app, &matter.matter_no, svc.seq, svc.served_at),
    })
}

/// What a receipt (办件回执) shows: the matter, and the rating link its QR code carries (the latest service
/// occasion if there is one, else the matter as a whole).
#[derive(Debug, Clone)]
pub struct Receipt {
    pub matter_no: String,
    pub item_name: String,
    pub unit_name: String,
    /// masked
    pub applicant_name: String,
    pub accepted_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    pub rating_url: String,
}

/// The receipt of a matter, for whoever may register the unit's matters, and for the staff of a window that
/// served it (the hall's windows serve the departments' matters).
#[tracing::instrument(skip_all)]
pub async fn receipt(app: &App, caller: &Caller, matter_no: &str) -> AppResult<Receipt> {
    let matter_no = parse_code(matter_no, "matter_no", 50)?;
    app.authorize(caller, Act::RegisterMatter)?;
    let matter = app.db.find_matter(&matter_no).await?.ok_or(AppError::NotFound("办件"))?;
    if let Err(refused) = app.authorize_in(caller, Act::RegisterMatter, &matter.unit_code) {
        let master = app.master();
        let served_here = app
            .db
            .windows_of_matter(&matter.id)
            .await?
            .iter()
            .filter_map(|w| master.windows.get(w))
            .any(|w| app.may(caller, Act::RegisterMatter, &w.unit_code));
        if !served_here {
            return Err(refused);
        }
    }
    let url = latest_rating_url(app, &matter, Channel::Qr).await?;
    let master = app.master();
    Ok(Receipt {
        item_name: master.item_name(&matter.item_code).unwrap_or_default(),
        unit_name: master.unit_name(&matter.unit_code).unwrap_or_default(),
        applicant_name: mask_name(&app.reveal(&matter.applicant_name)),
        accepted_at: matter.accepted_at,
        completed_at: matter.completed_at,
        rating_url: url,
        matter_no: matter.matter_no,
    })
}

/// The rating link of a matter's latest service occasion, or of the matter as a whole, issued for `channel`.
pub(crate) async fn latest_rating_url(app: &App, matter: &Matter, channel: Channel) -> AppResult<String> {
    let (seq, from) = match app.db.latest_service(&matter.id).await? {
        Some(s) => (s.seq, s.served_at),
        None => (0, matter.completed_at.unwrap_or_else(Timestamp::now)),
    };
    Ok(app.rating_url(&matter.matter_no, seq, from, channel))
}

/// How the rating page describes the matter and service a token names (no personal data).
#[derive(Debug, Clone)]
pub struct RatedService {
    pub matter_no: String,
    pub item_name: String,
    pub unit_name: String,
    pub window_name: Option<String>,
    pub when: Timestamp,
    /// The rating already made through this link, if any: the page says so at once instead of offering the
    /// levels again.
    pub used: Option<UsedLink>,
}

/// The rating a used link already made.
#[derive(Debug, Clone)]
pub struct UsedLink {
    pub rated_at: Timestamp,
    pub level_label: &'static str,
    pub channel_label: &'static str,
    pub bad_review: bool,
    /// Where the case a bad review opened stands, in words. Its reply, verdict and 追评 stay with the rater's own
    /// link, sent by SMS to the phone given: a receipt's link may be held by others (the unit, the window), so it
    /// never leads to them.
    pub case_state: Option<&'static str>,
}

/// The matter and service a valid rating token names, for the rating page.
pub async fn describe_token(app: &App, raw_token: &str) -> AppResult<(hcp_domain::token::RatingToken, RatedService)> {
    let token = hcp_domain::token::RatingToken::verify(raw_token, app.secrets.token_key(), Timestamp::now().micros() / 1_000_000)
        .map_err(AppError::Forbidden)?;
    let seq = (token.service_seq > 0).then_some(token.service_seq);
    let (matter, service) = app.db.matter_for_rating(&token.matter_no, seq).await?.ok_or(AppError::NotFound("办件"))?;
    // The occasion a rating through this link is of (the rating use case's one rule).
    let rated_seq = service.as_ref().map(|s| s.seq).unwrap_or(0);
    let used = match app.db.first_rating_of(&matter.id, rated_seq).await? {
        Some(r) => {
            let case = match (r.level <= 2).then_some(()) {
                Some(()) => match app.db.case_of_rating(&r.id).await? {
                    Some(c) => app.db.get_case(&c).await?.map(|(s, _)| s.state.label()),
                    None => None,
                },
                None => None,
            };
            Some(UsedLink {
                rated_at: Timestamp(r.rated_at),
                level_label: hcp_domain::Level::new(r.level, "level").map(|l| l.label()).unwrap_or("—"),
                channel_label: r.channel.label(),
                bad_review: r.level <= 2,
                case_state: case,
            })
        }
        None => None,
    };
    let service = if token.service_seq == 0 { None } else { service };
    let m = app.master();
    let described = RatedService {
        item_name: m.item_name(&matter.item_code).unwrap_or_default(),
        unit_name: m.unit_name(&matter.unit_code).unwrap_or_default(),
        window_name: service.as_ref().and_then(|s| s.window_code.as_deref()).and_then(|w| m.window_name(w)),
        when: service.as_ref().map(|s| s.served_at).or(matter.completed_at).unwrap_or(matter.accepted_at),
        matter_no: matter.matter_no,
        used,
    };
    Ok((token, described))
}

/// The self-service terminal (自助评价专区): a citizen types the matter number from the receipt and the last
/// four digits of the phone registered with it, and gets the same rating link as the QR code. Four digits are
/// few: a handful of tries a minute per matter on this node, five wrong ones a day per matter on all nodes
/// together (counted in the database, whether the matter exists or not).
#[tracing::instrument(skip_all)]
pub async fn kiosk_link(app: &App, matter_no: &str, phone4: &str) -> AppResult<String> {
    let not_found =
        || AppError::invalid("no_such_matter", "matter_no", "办件编号或手机号码后四位不对，请核对回执；也可以扫描回执上的二维码评价");
    let matter_no = matter_no.trim();
    if matter_no.is_empty() || matter_no.len() > 50 || phone4.len() != 4 || !phone4.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_found());
    }
    let lock_key = format!("kiosk:{matter_no}");
    if app.db.login_locked_until(&lock_key).await?.is_some() || !app.kiosk_limiter.allow(matter_no) {
        return Err(AppError::TooMany(DomainError::general("rate_limited", "尝试次数过多，请稍后再试，或扫描回执上的二维码评价")));
    }
    let matter = app.db.find_matter(matter_no).await?;
    let phone = matter.as_ref().and_then(|m| m.applicant_phone.as_ref()).and_then(|p| app.secrets.decrypt(p).ok());
    match (matter, phone) {
        (Some(m), Some(p)) if p.ends_with(phone4) => latest_rating_url(app, &m, Channel::HallTerminal).await,
        _ => {
            app.db.record_login_failure(&lock_key, 5, 86_400, 86_400).await?;
            Err(not_found())
        }
    }
}
