//! Rating (S-1 … S-5): the one use case every channel reaches — the API, the rating page behind a QR code or
//! link, the self-service terminal, the window device, the paper form, business systems and the hotline.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hcp_domain::access::{Act, KeyKind, Principal, Target};
use hcp_domain::case_event::EventDetail;
use hcp_domain::case_flow::CaseState;
use hcp_domain::ids::{parse_code, parse_service_no, service_no};
use hcp_domain::person::{mask_id_number, mask_name, mask_phone};
use hcp_domain::rating::{CheckedRating, RawRating};
use hcp_domain::records::{Case, CaseEvent, Rating};
use hcp_domain::token::RatingToken;
use hcp_domain::{Channel, DomainError, Level, Timestamp};
use hcp_storage::ratings::{Idempotency, NewRating, RatingOutcome};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::caller::Caller;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RaterIn {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub id_number: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingIn {
    pub matter_no: String,
    /// The service occasion (一次一评), as returned by `POST /matters/{matter_no}/services`. Without it the
    /// rating is of the matter's latest service occasion, or of the matter as a whole (一事一评) if it has none.
    pub service_no: Option<String>,
    /// `pc`, `mobile`, `qr`, `pad`, `hall_terminal`, `phone`, `sms`, `paper`, `business_system`, `province`
    pub channel: String,
    /// 1 = 非常不满意 … 5 = 非常满意
    pub level: i64,
    /// Per-indicator levels, by indicator code of the catalogue in force.
    #[serde(default)]
    pub indicators: BTreeMap<String, i64>,
    /// Reason codes of the chosen level; a bad review needs at least one reason or a text.
    #[serde(default)]
    pub reasons: Vec<String>,
    pub text: Option<String>,
    #[serde(default)]
    pub anonymous: bool,
    /// Contact of a real-name rater. Without it, a real-name rating is the applicant's own.
    pub rater: Option<RaterIn>,
    /// The device's own clock for ratings queued offline (RFC 3339); defaults to the time of arrival.
    pub rated_at: Option<String>,
    /// The rating token from a QR code or push link (may also travel as `Authorization: Bearer`).
    pub token: Option<String>,
    /// The rating device's own identifier (serial number), kept for fraud detection.
    pub device_id: Option<String>,
    /// Set by the hotline and SMS use cases, never by a client: the reasons of a bad review are asked for
    /// after the level and follow on its case (`add_reasons`).
    #[serde(skip)]
    pub reasons_follow: bool,
    /// Set by the use cases of the machine channels (SMS replies, the hotline's calls, the province's
    /// ratings): the keys of the SMS gateway and of the province rate only through them.
    #[serde(skip)]
    pub own_endpoint: bool,
}

impl RatingIn {
    /// A rating of `matter_no` at `level` through `channel`, with nothing else given yet: what the pages (paper
    /// forms, the window device, the rating page) start from before filling in what they collected.
    pub fn new(matter_no: String, channel: Channel, level: i64) -> Self {
        RatingIn {
            matter_no,
            service_no: None,
            channel: channel.code().to_string(),
            level,
            indicators: BTreeMap::new(),
            reasons: Vec::new(),
            text: None,
            anonymous: false,
            rater: None,
            rated_at: None,
            token: None,
            device_id: None,
            reasons_follow: false,
            own_endpoint: false,
        }
    }
}

/// Where a request came from, as the adapter saw it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// the client's address (behind a trusted proxy, the address it forwarded)
    pub peer: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// `Idempotency-Key`, as sent
    pub idempotency_key: Option<String>,
    /// SHA-256 of the request's body (hex), to tell a retry from another request under the same key
    pub digest: String,
    /// a bearer value that is not a machine key: a rating token may travel there
    pub bearer_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RatingCreated {
    pub id: String,
    pub matter_no: String,
    pub service_no: Option<String>,
    pub level: i64,
    pub bad_review: bool,
    /// The case a bad review opened, routed to the unit that handled the matter.
    pub case_id: Option<String>,
}

fn client_type(caller: &Caller, origin: &Origin) -> String {
    if let Caller::Key(k) = caller {
        return k.kind.code().to_string();
    }
    let ua = origin.user_agent.as_deref().unwrap_or("");
    if ua.contains("Mobile") || ua.contains("Android") || ua.contains("iPhone") {
        "mobile_browser".into()
    } else if ua.starts_with("Mozilla") {
        "browser".into()
    } else {
        "api".into()
    }
}

fn token_refused(e: DomainError) -> AppError {
    AppError::Forbidden(e)
}

/// Applies every rule to a rating and writes it, with the case a bad review opens.
#[tracing::instrument(skip_all, fields(channel = %input.channel))]
pub async fn rate(app: &App, caller: &Caller, input: RatingIn, origin: Origin) -> AppResult<RatingCreated> {
    let raw = RawRating {
        channel: input.channel.clone(),
        level: input.level,
        indicators: input.indicators.clone(),
        reasons: input.reasons.clone(),
        text: input.text.clone(),
        anonymous: input.anonymous,
        rater_name: input.rater.as_ref().and_then(|r| r.name.clone()),
        rater_phone: input.rater.as_ref().and_then(|r| r.phone.clone()),
        rater_id_number: input.rater.as_ref().and_then(|r| r.id_number.clone()),
        reasons_follow: input.reasons_follow,
    };
    let checked = CheckedRating::check(&raw, &app.catalogue)?;
    let matter_no = parse_code(&input.matter_no, "matter_no", 50)?;
    let explicit_seq = match &input.service_no {
        Some(s) => {
            let (m, seq) = parse_service_no(s)?;
            if m != matter_no {
                return Err(AppError::invalid("service_mismatch", "service_no", "服务编号不属于该办件"));
            }
            Some(seq)
        }
        None => None,
    };
    let now = Timestamp::now();

    // The credential: a rating token (in the body or as the bearer), or the caller's key or session.
    let token_raw = input.token.clone().or_else(|| origin.bearer_token.clone().filter(|_| matches!(caller, Caller::Anonymous)));
    let token = match &token_raw {
        Some(t) => Some(RatingToken::verify(t, app.secrets.token_key(), now.micros() / 1_000_000).map_err(token_refused)?),
        None => None,
    };
    let principal = if token.is_some() { Principal::RatingToken } else { caller.principal() };
    if let Some(t) = &token {
        if t.matter_no != matter_no {
            return Err(AppError::Forbidden(DomainError::new("token_mismatch", "token", "评价凭证不属于该办件")));
        }
        if let Some(seq) = explicit_seq
            && seq != t.service_seq
        {
            return Err(AppError::Forbidden(DomainError::new("token_mismatch", "token", "评价凭证不属于该服务")));
        }
        // The channel is the one the link was issued for (a receipt's QR code is not a portal's link).
        if let Some(c) = t.channel
            && c != checked.channel
        {
            return Err(AppError::Forbidden(DomainError::new(
                "channel_mismatch",
                "channel",
                format!("该评价链接为“{}”渠道发放，渠道应为 {}", c.label(), c.code()),
            )));
        }
    }
    // Whether this credential rates through this channel at all, before anything is looked up.
    app.allow(&principal, Act::Rate(checked.channel), None)?;
    if let Caller::Key(k) = caller
        && matches!(k.kind, KeyKind::SmsGateway | KeyKind::Province)
        && !input.own_endpoint
    {
        // An SMS gateway rates only what a citizen replied to an invitation, the province only with its record id.
        return Err(AppError::forbidden(
            "use_own_endpoint",
            "该密钥只能通过其专用接口提交评价（/api/v1/sms/inbound 或 /api/v1/province/ratings）",
        ));
    }

    let wanted = explicit_seq.or(token.as_ref().map(|t| t.service_seq)).filter(|s| *s > 0);
    let (matter, service) = app.db.matter_for_rating(&matter_no, wanted).await?.ok_or(AppError::NotFound("办件"))?;
    if wanted.is_some() && service.is_none() {
        return Err(AppError::NotFound("服务"));
    }
    // One rule for every channel: the occasion named (by `service_no` or the token), else the matter's latest
    // occasion, else the matter as a whole. A push link for the matter and the window device therefore
    // cannot both rate the same visit.
    let seq = service.as_ref().map(|s| s.seq).unwrap_or(0);
    app.master_with_unit(&matter.unit_code).await?;
    let window = service.as_ref().and_then(|s| s.window_code.as_deref());
    app.allow(&principal, Act::Rate(checked.channel), Some(&Target { unit: &matter.unit_code, window, ..Default::default() }))?;

    let idempotency = match &origin.idempotency_key {
        Some(key) => {
            if key.is_empty() || key.len() > 128 || key.chars().any(char::is_control) {
                return Err(AppError::Malformed(DomainError::new(
                    "invalid_idempotency_key",
                    "Idempotency-Key",
                    "Idempotency-Key 须为 1 到 128 个可见字符",
                )));
            }
            let scope = match (&token, caller.id()) {
                (Some(t), _) => format!("token:{matter_no}:{}", t.service_seq),
                (None, Some(id)) => format!("caller:{id}"),
                (None, None) => "anonymous".into(),
            };
            Some(Idempotency { scope, key: key.clone(), digest: origin.digest.clone() })
        }
        None => None,
    };
    let created = |id: String, case_id: Option<String>| RatingCreated {
        id,
        matter_no: matter.matter_no.clone(),
        service_no: (seq > 0).then(|| service_no(&matter.matter_no, seq)),
        level: i64::from(checked.level.value()),
        bad_review: checked.level.is_bad(),
        case_id,
    };

    // A retry of a rating already accepted gets the same answer, even if the rating window has closed since.
    if let Some(k) = &idempotency
        && let Some((seen_digest, id)) = app.db.find_idempotency(&k.scope, &k.key).await?
    {
        if seen_digest == k.digest {
            let case_id = app.db.case_of_rating(&id).await?;
            return Ok(created(id, case_id));
        }
        return Err(key_reused(Some(id)));
    }

    // Time rules: not in the future, not before the service, within the rating window.
    let rated_at = match &input.rated_at {
        Some(_) if token.is_some() => {
            return Err(AppError::invalid(
                "rated_at_not_allowed",
                "rated_at",
                "通过评价凭证提交的评价以服务器收到的时间为评价时间，不能指定 rated_at",
            ));
        }
        Some(s) => Timestamp::parse_rfc3339(s, "rated_at")?,
        None => now,
    };
    let skew = app.config.max_clock_skew_secs;
    if rated_at > now.plus_seconds(skew) {
        return Err(AppError::invalid("rated_at_in_future", "rated_at", "评价时间晚于服务器当前时间，请校准设备时钟"));
    }
    let reference = match &service {
        Some(s) => s.served_at,
        None => matter
            .completed_at
            .ok_or_else(|| AppError::invalid("matter_not_completed", "matter_no", "办件尚未办结，暂不能进行“一事一评”"))?,
    };
    if rated_at < reference.plus_seconds(-skew) {
        return Err(AppError::invalid("rated_before_service", "rated_at", "评价时间早于服务时间"));
    }
    if rated_at > reference.plus_seconds(app.config.rating_window_days * 86_400) {
        return Err(AppError::invalid(
            "rating_window_closed",
            "rated_at",
            format!("已超过评价期限（服务后 {} 天内可评价）", app.config.rating_window_days),
        ));
    }

    let enc = |v: Option<&str>| v.map(|s| app.secrets.encrypt(s)).transpose();
    let contact = checked.contact.as_ref();
    let (credential_kind, credential_id) = match (&token, caller) {
        (Some(_), _) => ("rating_token".to_string(), None),
        (None, Caller::Key(k)) => (format!("{}_key", k.kind.code()), Some(k.id.clone())),
        (None, Caller::Staff(u)) => ("staff_session".to_string(), Some(u.id.clone())),
        (None, Caller::Anonymous) => ("none".to_string(), None),
    };
    let device_id = input.device_id.as_deref().map(|d| hcp_domain::ids::parse_text(d, "device_id", 64)).transpose()?;
    let row = Rating {
        id: uuid::Uuid::now_v7().to_string(),
        matter_id: matter.id.clone(),
        matter_no: matter.matter_no.clone(),
        service_seq: seq,
        assess_number: 1,
        follows_id: None,
        channel: checked.channel,
        level: i64::from(checked.level.value()),
        indicators: checked.indicators.iter().map(|(k, v)| format!("{k}={}", v.value())).collect::<Vec<_>>().join(","),
        reasons: checked.reasons.join(","),
        text: checked.text.clone(),
        anonymous: checked.anonymous,
        rater_from_applicant: !checked.anonymous && checked.contact.is_none(),
        rater_name: enc(contact.and_then(|c| c.name.as_ref()).map(|n| n.as_str()))?,
        rater_phone: enc(contact.and_then(|c| c.phone.as_ref()).map(|p| p.as_str()))?,
        rater_id_number: enc(contact.and_then(|c| c.id_number.as_ref()).map(|i| i.as_str()))?,
        rater_phone_ix: contact.and_then(|c| c.phone.as_ref()).map(|p| app.secrets.phone_index(p.as_str())),
        unit_code: matter.unit_code.clone(),
        item_code: matter.item_code.clone(),
        window_code: service.as_ref().and_then(|s| s.window_code.clone()),
        staff_code: service.as_ref().and_then(|s| s.staff_code.clone()),
        catalogue_version: app.catalogue.version,
        referral: checked.referral,
        rated_at: rated_at.micros(),
        received_at: now.micros(),
        biz_day: rated_at.biz_day(),
        credential_kind,
        credential_id,
        device_id,
        source_hash: origin.peer.map(|ip| app.secrets.source_hash(&ip.to_string())),
        client_type: client_type(caller, &origin),
        seconds_after_service: Some((rated_at.micros() - reference.micros()) / 1_000_000),
        ledger_seq: 0,
    };
    // A bad review opens a case at once, in the same transaction, with deadlines counted from today.
    let case = if checked.level.is_bad() { Some(case_for(app, &row).await?) } else { None };
    let case_id = case.as_ref().map(|(c, _)| c.id.clone());
    let channel = row.channel;
    match app.writer.submit(NewRating { row, idempotency, case }).await? {
        RatingOutcome::Created { id, .. } => {
            metrics::counter!("hcp_ratings_accepted_total", "channel" => channel.code()).increment(1);
            Ok(created(id, case_id))
        }
        RatingOutcome::Replayed { id } => {
            let stored = app.db.case_of_rating(&id).await?;
            Ok(created(id, stored))
        }
        RatingOutcome::AlreadyRated { existing } => Err(already_rated(existing)),
        RatingOutcome::KeyReused { existing } => Err(key_reused(existing)),
    }
}

/// The case a bad review opens: routed to the unit that handled the matter (谁办理、谁负责), deadlines counted in
/// working days from the day it arrives.
pub async fn case_for(app: &App, r: &Rating) -> AppResult<(Case, CaseEvent)> {
    let cal = app.calendar().await?;
    let arrived = Timestamp(r.received_at);
    let d = hcp_domain::cases::deadlines(&cal, arrived.biz_date(), app.config.deadline_rule);
    let case = Case::for_bad_review(uuid::Uuid::now_v7().to_string(), r, &d);
    let unit = app.master().unit_name(&r.unit_code).unwrap_or_else(|| r.unit_code.clone());
    let detail =
        EventDetail::Opened { note: format!("差评自动立案，按“谁办理、谁负责”交由{unit}办理"), findings: None };
    let event = CaseEvent::new(&case.id, "system", arrived, CaseState::Open, &detail);
    Ok((case, event))
}

/// Adds the reasons of a bad review given after its level (the hotline's next question, an SMS reply to the
/// follow-up): checked against the rating's level and the channel, recorded once as an event of its case. The
/// rating itself is never changed. Returns the reason codes now on record.
pub async fn add_reasons(app: &App, actor: &str, rating_id: &str, codes: &[String], via: Channel) -> AppResult<Vec<String>> {
    let r = app.db.get_rating(rating_id).await?.ok_or(AppError::NotFound("评价"))?;
    let level = Level::new(r.level, "level")?;
    if !level.is_bad() {
        return Err(AppError::invalid("not_a_bad_review", "reasons", "该评价不是差评，无需补充原因"));
    }
    if codes.len() > hcp_domain::rating::MAX_REASONS {
        return Err(AppError::invalid("too_many", "reasons", format!("评价标签最多 {} 个", hcp_domain::rating::MAX_REASONS)));
    }
    let mut checked = app.catalogue.check_reasons(level, via.mode(), codes)?;
    checked.sort();
    checked.dedup();
    if checked.is_empty() {
        return Err(AppError::invalid("missing_field", "reasons", "请至少给出一个原因编码"));
    }
    let case_id = app.db.case_of_rating(rating_id).await?.ok_or(AppError::NotFound("工单"))?;
    // Once per case (a flag in the same transaction), whatever the retries; a state that moved under us (a
    // handler's step) is read again: the reasons do not depend on it.
    for _ in 0..3 {
        let (summary, events) = app.db.get_case(&case_id).await?.ok_or(AppError::NotFound("工单"))?;
        if let Some(mut given) = reasons_given(&r, &events) {
            given.sort();
            return if given == checked {
                Ok(given)
            } else {
                Err(AppError::conflict("reasons_already_given", "该差评已有原因，不能再次补充", Some(rating_id.to_string())))
            };
        }
        let detail = EventDetail::ReasonsAdded { reasons: checked.clone(), via: via.code().to_string() };
        let event = CaseEvent::new(&case_id, actor, Timestamp::now(), summary.state, &detail);
        if app.db.append_case_event_once(&event, summary.state, None, Some("reasons_added")).await?.is_some() {
            return Ok(checked);
        }
    }
    Err(AppError::conflict("case_changed", "工单正在处理中，请稍后重试", None))
}

/// The reasons a rating has: its own, or those added after it on its case; `None` when none were given yet.
pub fn reasons_given(r: &Rating, events: &[CaseEvent]) -> Option<Vec<String>> {
    if !r.reasons.is_empty() {
        return Some(r.reasons.split(',').map(str::to_string).collect());
    }
    events.iter().find_map(|e| match e.detail().ok()? {
        EventDetail::ReasonsAdded { reasons, .. } => Some(reasons),
        _ => None,
    })
}

pub(crate) fn already_rated(existing: Option<String>) -> AppError {
    AppError::conflict("already_rated", "该办件（服务）已评价过，不能重复评价", existing)
}

fn key_reused(existing: Option<String>) -> AppError {
    AppError::conflict("idempotency_key_reused", "该 Idempotency-Key 已用于另一条不同的评价", existing)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReasonView {
    pub code: String,
    pub label: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RaterView {
    /// masked
    pub name: Option<String>,
    /// masked
    pub phone: Option<String>,
    /// masked
    pub id_number: Option<String>,
    /// true when the rater is the matter's applicant (no separate contact kept)
    pub is_applicant: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RatingView {
    pub id: String,
    pub matter_no: String,
    pub service_no: Option<String>,
    pub assess_number: i64,
    pub channel: String,
    /// national 评价渠道 code
    pub pf: u8,
    pub level: i64,
    pub level_label: String,
    pub bad_review: bool,
    pub indicators: BTreeMap<String, i64>,
    pub reasons: Vec<ReasonView>,
    pub text: Option<String>,
    pub anonymous: bool,
    pub rater: Option<RaterView>,
    pub unit_code: String,
    pub item_code: String,
    pub window_code: Option<String>,
    pub staff_code: Option<String>,
    pub catalogue_version: i64,
    /// alleges misconduct: to be referred to the competent authority
    pub referral: bool,
    pub rated_at: String,
    pub received_at: String,
    pub ledger_seq: i64,
    /// found untrue (不属实) by an upheld 复核: kept, but counted in no statistic
    pub untrue: bool,
}

/// A reason code with its label in the catalogue in force (empty when the catalogue no longer has it).
pub fn reason_view(app: &App, code: &str) -> ReasonView {
    ReasonView { code: code.to_string(), label: app.catalogue.reason(code).map(|x| x.label.clone()).unwrap_or_default() }
}

/// The reasons of a rating with their labels: its own, or those added after it on its case (`events`).
pub fn reasons_of(app: &App, r: &Rating, events: &[CaseEvent]) -> Vec<ReasonView> {
    reasons_given(r, events).unwrap_or_default().iter().map(|c| reason_view(app, c)).collect()
}

/// The rating as stored, with the rater's data masked, for a key or staff session of the rating's unit (or a
/// unit above it). Another unit's rating looks exactly like a missing one.
#[tracing::instrument(skip_all)]
pub async fn get_rating(app: &App, caller: &Caller, id: &str) -> AppResult<RatingView> {
    app.authorize(caller, Act::ReadRating)?;
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(AppError::NotFound("评价"));
    }
    let r = app.db.get_rating(id).await?.ok_or(AppError::NotFound("评价"))?;
    app.authorize_found(caller, Act::ReadRating, &Target::unit(&r.unit_code), "评价")?;
    let level = Level::new(r.level, "level")?;
    // Reasons asked for after the key press or SMS reply are on the case.
    let events = match r.reasons.is_empty() && level.is_bad() {
        true => match app.db.case_of_rating(&r.id).await? {
            Some(case_id) => app.db.get_case(&case_id).await?.map(|(_, e)| e).unwrap_or_default(),
            None => Vec::new(),
        },
        false => Vec::new(),
    };
    let reasons = reasons_of(app, &r, &events);
    let rater = (!r.anonymous).then(|| RaterView {
        name: r.rater_name.as_ref().map(|b| mask_name(&app.reveal(b))),
        phone: r.rater_phone.as_ref().map(|b| mask_phone(&app.reveal(b))),
        id_number: r.rater_id_number.as_ref().map(|b| mask_id_number(&app.reveal(b))),
        is_applicant: r.rater_from_applicant,
    });
    Ok(RatingView {
        id: r.id.clone(),
        matter_no: r.matter_no.clone(),
        service_no: (r.service_seq > 0).then(|| service_no(&r.matter_no, r.service_seq)),
        assess_number: r.assess_number,
        channel: r.channel.code().to_string(),
        pf: app.config.pf_codes.code(r.channel),
        level: r.level,
        level_label: level.label().into(),
        bad_review: level.is_bad(),
        indicators: r
            .indicators
            .split(',')
            .filter_map(|p| p.split_once('='))
            .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
            .collect(),
        reasons,
        text: r.text.clone(),
        anonymous: r.anonymous,
        rater,
        unit_code: r.unit_code.clone(),
        item_code: r.item_code.clone(),
        window_code: r.window_code.clone(),
        staff_code: r.staff_code.clone(),
        catalogue_version: r.catalogue_version,
        referral: r.referral,
        rated_at: Timestamp(r.rated_at).to_rfc3339(),
        received_at: Timestamp(r.received_at).to_rfc3339(),
        ledger_seq: r.ledger_seq,
        untrue: app.db.is_invalidated(&r.id).await?,
    })
}

/// A rating a citizen gave on a provincial channel for a matter handled here, as the province submits it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvinceRatingIn {
    /// The province's own id of the rating: the same id submitted again is the same rating.
    pub record_id: String,
    pub matter_no: String,
    pub service_no: Option<String>,
    /// 1 = 非常不满意 … 5 = 非常满意
    pub level: i64,
    #[serde(default)]
    pub indicators: BTreeMap<String, i64>,
    #[serde(default)]
    pub reasons: Vec<String>,
    pub text: Option<String>,
    #[serde(default)]
    pub anonymous: bool,
    pub rater: Option<RaterIn>,
    /// When the citizen rated, on the province's clock (RFC 3339).
    pub rated_at: String,
}

/// Receives a rating from the province (channel `province`): deduplicated on the province's record id and
/// against every local rating of the same matter or service (409 with the existing id), opening a case like
/// any bad review, and never reported back to the province.
#[tracing::instrument(skip_all)]
pub async fn rate_from_province(app: &App, caller: &Caller, input: ProvinceRatingIn, digest: String) -> AppResult<RatingCreated> {
    let record_id = hcp_domain::ids::parse_text(&input.record_id, "record_id", 64)?;
    if record_id.is_empty() {
        return Err(AppError::invalid("missing_field", "record_id", "缺少省级评价编号 record_id"));
    }
    let mut rating = RatingIn::new(input.matter_no, Channel::Province, input.level);
    rating.service_no = input.service_no;
    rating.indicators = input.indicators;
    rating.reasons = input.reasons;
    rating.text = input.text;
    rating.anonymous = input.anonymous;
    rating.rater = input.rater;
    rating.rated_at = Some(input.rated_at);
    rating.own_endpoint = true;
    let origin = Origin { idempotency_key: Some(format!("province:{record_id}")), digest, ..Origin::default() };
    rate(app, caller, rating, origin).await
}
