use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hcp_domain::ids::parse_code;
use hcp_domain::person::{mask_id_number, mask_name, mask_phone};
use hcp_domain::rating::{CheckedRating, RawRating};
use hcp_domain::timestamp::Timestamp;
use hcp_domain::timestamp::date_key;
use hcp_domain::token::RatingToken;
use hcp_domain::{Channel, DomainError, Level};
use hcp_storage::cases::NewCase;
use hcp_storage::ratings::{NewRating, RatingOutcome, StoredRating};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::matters::{parse_service_no, service_no};
use crate::api::meta::ErrorBody;
use crate::auth::{Caller, KEY_PREFIX, PeerAddr};
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RaterIn {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub id_number: Option<String>,
}

#[derive(Deserialize, ToSchema)]
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
}

impl RatingIn {
    /// A rating of `matter_no` at `level` through `channel`, with nothing else given yet: what the pages (paper
    /// forms, the window device, the rating page) start from before filling in what they collected.
    pub fn new(matter_no: String, channel: &str, level: i64) -> Self {
        RatingIn {
            matter_no,
            service_no: None,
            channel: channel.to_string(),
            level,
            indicators: BTreeMap::new(),
            reasons: Vec::new(),
            text: None,
            anonymous: false,
            rater: None,
            rated_at: None,
            token: None,
            device_id: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RatingCreated {
    pub id: String,
    pub matter_no: String,
    pub service_no: Option<String>,
    pub level: i64,
    pub bad_review: bool,
    /// The case a bad review opened, routed to the unit that handled the matter.
    pub case_id: Option<String>,
}

/// Which channels each kind of credential may submit.
fn channel_allowed(caller: &Caller, via_token: bool, channel: Channel) -> bool {
    use Channel::*;
    if via_token {
        return matches!(channel, Qr | Mobile | Pc | Sms | HallTerminal);
    }
    match caller {
        Caller::Key(k) => match k.kind.as_str() {
            "device" => matches!(channel, Pad | HallTerminal),
            "hotline" => matches!(channel, Phone),
            "system" => matches!(channel, BusinessSystem | Pc | Mobile | Sms | Province),
            _ => false,
        },
        Caller::Staff(_) => matches!(channel, Paper),
        Caller::Anonymous { .. } => false,
    }
}

fn client_type(headers: &HeaderMap, caller: &Caller) -> String {
    if let Caller::Key(k) = caller {
        return k.kind.clone();
    }
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ua.contains("Mobile") || ua.contains("Android") || ua.contains("iPhone") {
        "mobile_browser".into()
    } else if ua.starts_with("Mozilla") {
        "browser".into()
    } else {
        "api".into()
    }
}

fn rule(code: &'static str, field: &str, msg: &str) -> ApiError {
    DomainError::new(code, field, msg).into()
}

/// Submit a rating. Returns 201 with its id; a second rating of the same matter/service from any channel
/// gets 409 `already_rated` with the existing rating's id (also at the top level as `id`). With an
/// `Idempotency-Key` header, the same key and body return the same 201 without writing twice.
#[utoipa::path(post, path = "/api/v1/ratings", tag = "ratings", request_body = RatingIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "for devices and systems retrying a rating")),
    security((), ("machine_key" = []), ("session" = [])),
    responses((status = 201, body = RatingCreated), (status = 409, body = ErrorBody, description = "already_rated, with the existing id"),
        (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn submit_rating(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PeerAddr(peer): PeerAddr,
    body: ApiJson<RatingIn>,
) -> ApiResult<Response> {
    let created = rate(&state, &caller, &headers, peer, body.value, body.digest).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Applies every rule to a rating and writes it: the one path for the API and the rating page.
pub(crate) async fn rate(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    peer: Option<std::net::SocketAddr>,
    input: RatingIn,
    digest: String,
) -> ApiResult<RatingCreated> {
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
    };
    let checked = CheckedRating::check(&raw, &state.catalogue)?;
    let matter_no = parse_code(&input.matter_no, "matter_no", 50)?;
    let explicit_seq = match &input.service_no {
        Some(s) => {
            let (m, seq) = parse_service_no(s)?;
            if m != matter_no {
                return Err(rule("service_mismatch", "service_no", "服务编号不属于该办件"));
            }
            Some(seq)
        }
        None => None,
    };
    let now = Timestamp::now();

    // Credential: a rating token (body or Bearer), or the caller's key/session.
    let token_raw = match (&input.token, caller) {
        (Some(t), _) => Some(t.clone()),
        (None, Caller::Anonymous { bearer: Some(b) }) if !b.starts_with(KEY_PREFIX) => Some(b.clone()),
        _ => None,
    };
    let token = match &token_raw {
        Some(t) => Some(RatingToken::verify(t, state.secrets.token_key(), now.micros() / 1_000_000).map_err(|e| {
            let mut err = ApiError::from(e);
            err.status = StatusCode::FORBIDDEN;
            err
        })?),
        None => None,
    };
    if token.is_none() && matches!(caller, Caller::Anonymous { .. }) {
        return Err(ApiError::unauthorized());
    }
    if let Some(t) = &token {
        if t.matter_no != matter_no {
            return Err(ApiError::forbidden("token_mismatch", "评价凭证不属于该办件").field("token"));
        }
        if let Some(seq) = explicit_seq
            && seq != t.service_seq
        {
            return Err(ApiError::forbidden("token_mismatch", "评价凭证不属于该服务").field("token"));
        }
    }
    if !channel_allowed(caller, token.is_some(), checked.channel) {
        return Err(
            ApiError::forbidden("channel_not_allowed", format!("该凭证不能提交“{}”渠道的评价", checked.channel.label())).field("channel")
        );
    }

    let wanted = explicit_seq.or(token.as_ref().map(|t| t.service_seq)).filter(|s| *s > 0);
    let (matter, service) = state.db.matter_for_rating(&matter_no, wanted).await?.ok_or_else(|| ApiError::not_found("办件"))?;
    if wanted.is_some() && service.is_none() {
        return Err(ApiError::not_found("服务"));
    }
    // One rule for every channel: the occasion named (by `service_no` or the token), else the matter's latest
    // occasion, else the matter as a whole. A push link for the matter and the window device therefore
    // cannot both rate the same visit.
    let seq = service.as_ref().map(|s| s.seq).unwrap_or(0);

    // Scope of machine keys and staff. Paper forms are entered by the unit's handlers, approvers or the county,
    // never by window staff (the form may rate their own service), the oversight office or assessors.
    if token.is_none()
        && let Caller::Staff(_) = caller
    {
        crate::access::authorize(state, caller, hcp_domain::access::Act::EnterPaperRating, Some(&matter.unit_code))?;
    }
    if token.is_none() {
        let own = caller.unit().unwrap_or_default();
        let master = state.master_with_unit(&matter.unit_code).await?;
        if !master.is_within(&matter.unit_code, own) {
            let window_ok = matches!(caller, Caller::Key(k) if k.kind == "device");
            if !window_ok {
                return Err(ApiError::forbidden("out_of_scope", "该凭证无权评价此单位的办件"));
            }
        }
        if let Caller::Key(k) = caller
            && k.kind == "device"
        {
            let window = service.as_ref().and_then(|s| s.window_code.as_deref());
            if window.is_none() || window != k.window_code.as_deref() {
                return Err(ApiError::forbidden("wrong_window", "评价器只能评价本窗口的服务").field("service_no"));
            }
        }
    }

    let idempotency = match headers.get("idempotency-key") {
        Some(v) => {
            let key = v.to_str().ok().filter(|k| !k.is_empty() && k.len() <= 128).ok_or_else(|| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_idempotency_key", "Idempotency-Key 须为 1 到 128 个可见字符")
                    .field("Idempotency-Key")
            })?;
            let scope = match (&token, caller.id()) {
                (Some(t), _) => format!("token:{matter_no}:{}", t.service_seq),
                (None, Some(id)) => format!("caller:{id}"),
                (None, None) => "anonymous".into(),
            };
            Some((scope, key.to_string(), digest))
        }
        None => None,
    };

    // A retry of a rating already accepted gets the same answer, even if the rating window has closed since.
    if let Some((scope, key, digest)) = &idempotency
        && let Some((seen_digest, id)) = state.db.find_idempotency(scope, key).await?
    {
        if &seen_digest == digest {
            let case_id = state.db.case_of_rating(&id).await?;
            return Ok(RatingCreated {
                id,
                matter_no: matter.matter_no.clone(),
                service_no: (seq > 0).then(|| service_no(&matter.matter_no, seq)),
                level: i64::from(checked.level.value()),
                bad_review: checked.level.is_bad(),
                case_id,
            });
        }
        return Err(ApiError::from(hcp_storage::StoreError::conflict(
            "idempotency_key_reused",
            "该 Idempotency-Key 已用于另一条不同的评价",
            Some(id),
        )));
    }

    // Time rules: not in the future, not before the service, within the rating window.
    let rated_at = match &input.rated_at {
        Some(_) if token.is_some() => {
            return Err(rule("rated_at_not_allowed", "rated_at", "通过评价凭证提交的评价以服务器收到的时间为评价时间，不能指定 rated_at"));
        }
        Some(s) => Timestamp::parse_rfc3339(s, "rated_at")?,
        None => now,
    };
    let skew = state.config.max_clock_skew_secs;
    if rated_at > now.plus_seconds(skew) {
        return Err(rule("rated_at_in_future", "rated_at", "评价时间晚于服务器当前时间，请校准设备时钟"));
    }
    let reference = match &service {
        Some(s) => s.served_at,
        None => matter.completed_at.ok_or_else(|| rule("matter_not_completed", "matter_no", "办件尚未办结，暂不能进行“一事一评”"))?,
    };
    if rated_at < reference.plus_seconds(-skew) {
        return Err(rule("rated_before_service", "rated_at", "评价时间早于服务时间"));
    }
    if rated_at > reference.plus_seconds(state.config.rating_window_days * 86_400) {
        return Err(rule(
            "rating_window_closed",
            "rated_at",
            &format!("已超过评价期限（服务后 {} 天内可评价）", state.config.rating_window_days),
        ));
    }

    let (rater_name, rater_phone, rater_id, rater_ix) = match &checked.contact {
        Some(c) => (
            c.name.as_ref().map(|n| state.secrets.encrypt(n.as_str())).transpose()?,
            c.phone.as_ref().map(|p| state.secrets.encrypt(p.as_str())).transpose()?,
            c.id_number.as_ref().map(|i| state.secrets.encrypt(i.as_str())).transpose()?,
            c.phone.as_ref().map(|p| state.secrets.phone_index(p.as_str())),
        ),
        None => (None, None, None, None),
    };
    let (credential_kind, credential_id) = match (&token, caller) {
        (Some(_), _) => ("rating_token".to_string(), None),
        (None, Caller::Key(k)) => (format!("{}_key", k.kind), Some(k.id.clone())),
        (None, Caller::Staff(u)) => ("staff_session".to_string(), Some(u.id.clone())),
        (None, Caller::Anonymous { .. }) => ("none".to_string(), None),
    };
    let device_id = input.device_id.as_deref().map(|d| hcp_domain::ids::parse_text(d, "device_id", 64)).transpose()?;
    let row = StoredRating {
        id: uuid::Uuid::now_v7().to_string(),
        matter_id: matter.id.clone(),
        matter_no: matter.matter_no.clone(),
        service_seq: seq,
        assess_number: 1,
        follows_id: None,
        channel: checked.channel.code().to_string(),
        level: i64::from(checked.level.value()),
        indicators: checked.indicators.iter().map(|(k, v)| format!("{k}={}", v.value())).collect::<Vec<_>>().join(","),
        reasons: checked.reasons.join(","),
        text: checked.text.clone(),
        anonymous: checked.anonymous,
        rater_from_applicant: !checked.anonymous && checked.contact.is_none(),
        rater_name,
        rater_phone,
        rater_id_number: rater_id,
        rater_phone_ix: rater_ix,
        unit_code: matter.unit_code.clone(),
        item_code: matter.item_code.clone(),
        window_code: service.as_ref().and_then(|s| s.window_code.clone()),
        staff_code: service.as_ref().and_then(|s| s.staff_code.clone()),
        catalogue_version: state.catalogue.version,
        referral: checked.referral,
        rated_at: rated_at.micros(),
        received_at: now.micros(),
        biz_day: rated_at.biz_day(),
        credential_kind,
        credential_id,
        device_id,
        source_hash: peer.map(|addr| state.secrets.source_hash(&addr.ip().to_string())),
        client_type: client_type(headers, caller),
        seconds_after_service: Some((rated_at.micros() - reference.micros()) / 1_000_000),
        ledger_seq: 0,
    };
    let out = RatingCreated {
        id: String::new(),
        matter_no: matter.matter_no.clone(),
        service_no: (seq > 0).then(|| service_no(&matter.matter_no, seq)),
        level: row.level,
        bad_review: checked.level.is_bad(),
        case_id: None,
    };
    // A bad review opens a case at once, in the same transaction, with deadlines counted from today.
    let case = if checked.level.is_bad() {
        let cal = state.calendar().await?;
        let d = hcp_domain::cases::deadlines(&cal, now.biz_date(), state.config.deadline_rule);
        Some(NewCase {
            id: uuid::Uuid::now_v7().to_string(),
            category: hcp_domain::cases::category(checked.referral).to_string(),
            real_name: !checked.anonymous,
            arrival_day: now.biz_day(),
            respond_by: date_key(d.respond_by),
            reply_by: date_key(d.reply_by),
            provisional: d.provisional,
        })
    } else {
        None
    };
    let case_id = case.as_ref().map(|c| c.id.clone());
    let new = NewRating { row, idempotency, case };
    let (id, case_id) = match state.writer.submit(new).await? {
        RatingOutcome::Created { id, .. } => (id, case_id),
        RatingOutcome::Replayed { id } => {
            let stored = state.db.case_of_rating(&id).await?;
            (id, stored)
        }
    };
    Ok(RatingCreated { id, case_id, ..out })
}

#[derive(Serialize, ToSchema)]
pub struct ReasonView {
    pub code: String,
    pub label: String,
}

#[derive(Serialize, ToSchema)]
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

#[derive(Serialize, ToSchema)]
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

fn rating_view(state: &AppState, r: &StoredRating) -> ApiResult<RatingView> {
    let level = Level::new(r.level, "level")?;
    let channel = Channel::parse(&r.channel, "channel")?;
    let dec = |v: &Option<Vec<u8>>| v.as_ref().map(|b| state.secrets.decrypt(b).unwrap_or_else(|_| "***".into()));
    let rater = if r.anonymous {
        None
    } else {
        Some(RaterView {
            name: dec(&r.rater_name).map(|n| mask_name(&n)),
            phone: dec(&r.rater_phone).map(|p| mask_phone(&p)),
            id_number: dec(&r.rater_id_number).map(|i| mask_id_number(&i)),
            is_applicant: r.rater_from_applicant,
        })
    };
    Ok(RatingView {
        id: r.id.clone(),
        matter_no: r.matter_no.clone(),
        service_no: (r.service_seq > 0).then(|| service_no(&r.matter_no, r.service_seq)),
        assess_number: r.assess_number,
        channel: r.channel.clone(),
        pf: channel.pf_code(state.config.other_pf),
        level: r.level,
        level_label: level.label().into(),
        bad_review: level.is_bad(),
        indicators: r
            .indicators
            .split(',')
            .filter_map(|p| p.split_once('='))
            .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
            .collect(),
        reasons: r
            .reasons
            .split(',')
            .filter(|c| !c.is_empty())
            .map(|c| ReasonView { code: c.to_string(), label: state.catalogue.reason(c).map(|x| x.label.clone()).unwrap_or_default() })
            .collect(),
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
        untrue: false,
    })
}

/// The rating as stored, with the rater's data masked. Needs a key or staff session of the rating's unit
/// (or a unit above it).
#[utoipa::path(get, path = "/api/v1/ratings/{id}", tag = "ratings", params(("id" = String, Path, description = "rating id")),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = RatingView), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_rating(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<RatingView>> {
    crate::access::authorize(&state, &caller, hcp_domain::access::Act::ReadRating, None)?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::not_found("评价"));
    }
    let r = state.db.get_rating(&id).await?.ok_or_else(|| ApiError::not_found("评价"))?;
    // Out of scope looks exactly like absent: nothing is disclosed.
    crate::access::authorize_found(&state, &caller, hcp_domain::access::Act::ReadRating, &r.unit_code, "评价")?;
    let mut view = rating_view(&state, &r)?;
    view.untrue = state.db.is_invalidated(&r.id).await?;
    Ok(Json(view))
}
