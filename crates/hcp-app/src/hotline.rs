//! The hotline's key press (channel `phone`, S-26): after a call the voice system asks for a rating and submits
//! the key pressed, for the matter named, or for the caller's most recent unrated matter. Idempotent on the
//! call id. A bad review is stored at once (its case opens with deadlines from today); the voice system then
//! asks for a reason code, which comes in the same call or a later one with the same call id.

use hcp_domain::person::Phone;
use hcp_domain::{Channel, Level};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use utoipa::ToSchema;

use crate::App;
use crate::caller::Caller;
use crate::error::{AppError, AppResult};
use crate::ratings::{Origin, RaterIn, RatingIn, ReasonView};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HotlineRatingIn {
    /// The hotline's id of the call: the same call submitted again is the same rating.
    pub call_id: String,
    /// The matter rated. Without it, the caller's most recent unrated matter (by `caller_phone`).
    pub matter_no: Option<String>,
    /// The caller's mobile number: finds the matter when none is named, and is kept (encrypted) as the
    /// rater's contact for the callback a bad review needs.
    pub caller_phone: Option<String>,
    /// The key pressed: 1 = 非常不满意 … 5 = 非常满意.
    pub key: i64,
    /// Reason codes keyed in after a bad review (in this call or a later one with the same `call_id`).
    #[serde(default)]
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HotlineRatingOut {
    pub id: String,
    pub matter_no: String,
    pub service_no: Option<String>,
    pub level: i64,
    pub bad_review: bool,
    pub case_id: Option<String>,
    /// whether this call id was seen before (nothing new was rated)
    pub replayed: bool,
    /// The reasons on record for this bad review.
    pub reasons: Vec<String>,
    /// A bad review without reasons yet: the voice system should ask for one of `reason_choices`.
    pub needs_reasons: bool,
    /// The reason codes the voice system may offer, with what to read out.
    pub reason_choices: Vec<ReasonView>,
}

/// Stores a key press, or adds the reasons of an earlier one.
#[tracing::instrument(skip_all)]
pub async fn rate(app: &App, caller: &Caller, input: HotlineRatingIn) -> AppResult<HotlineRatingOut> {
    // Before anything is looked up: whether a number has an unrated matter is nobody else's business.
    app.allow(&caller.principal(), hcp_domain::access::Act::Rate(Channel::Phone), None)?;
    let call_id = hcp_domain::ids::parse_text(&input.call_id, "call_id", 64)?;
    if call_id.is_empty() {
        return Err(AppError::invalid("missing_field", "call_id", "缺少来电编号 call_id"));
    }
    let level = Level::new(input.key, "key")?;
    let phone = input.caller_phone.as_deref().map(|p| Phone::parse(p, "caller_phone")).transpose()?;
    let matter_no = input.matter_no.as_deref().map(|m| hcp_domain::ids::parse_code(m, "matter_no", 50)).transpose()?;
    // The call's identity is what was rated, not the reasons (they may follow in a later submission). The
    // phone enters by its keyed blind index: a plain hash of a mobile number is reversed by trying them all.
    let digest = hex::encode(sha2::Sha256::digest(format!(
        "{}|{}|{}",
        matter_no.as_deref().unwrap_or(""),
        phone.as_ref().map(|p| app.secrets.phone_index(p.as_str())).unwrap_or_default(),
        level.value()
    )));
    let idempotency_key = format!("call:{call_id}");
    let scope = caller.id().map(|id| format!("caller:{id}"));
    let seen = match &scope {
        Some(scope) => app.db.find_idempotency(scope, &idempotency_key).await?,
        None => None,
    };
    let (created, replayed) = match seen {
        Some((d, id)) if d != digest => {
            return Err(AppError::conflict("call_id_reused", "该来电编号已提交过不同的评价", Some(id)));
        }
        Some((_, id)) => {
            let r = app.db.get_rating(&id).await?.ok_or(AppError::NotFound("评价"))?;
            let case_id = app.db.case_of_rating(&id).await?;
            let created = crate::ratings::RatingCreated {
                id,
                matter_no: r.matter_no.clone(),
                service_no: (r.service_seq > 0).then(|| hcp_domain::ids::service_no(&r.matter_no, r.service_seq)),
                level: r.level,
                bad_review: level.is_bad(),
                case_id,
            };
            (created, true)
        }
        None => {
            let matter_no = match (matter_no, &phone) {
                (Some(m), _) => m,
                (None, Some(p)) => app.db.latest_unrated_matter(&app.secrets.phone_index(p.as_str())).await?.ok_or_else(|| {
                    AppError::invalid("no_unrated_matter", "caller_phone", "未找到该来电号码名下待评价的办件，请提供办件编号 matter_no")
                })?,
                (None, None) => {
                    return Err(AppError::invalid("missing_field", "matter_no", "须提供办件编号 matter_no 或来电号码 caller_phone"));
                }
            };
            let mut rating = RatingIn::new(matter_no, Channel::Phone, input.key);
            rating.reasons = input.reasons.clone();
            rating.reasons_follow = true;
            rating.own_endpoint = true;
            rating.rater = phone.as_ref().map(|p| RaterIn { name: None, phone: Some(p.as_str().to_string()), id_number: None });
            let origin = Origin { idempotency_key: Some(idempotency_key), digest, ..Origin::default() };
            (crate::ratings::rate(app, caller, rating, origin).await?, false)
        }
    };
    let reasons = if created.bad_review && !input.reasons.is_empty() {
        let actor = format!("{}（来电 {call_id}）", caller.principal().actor());
        crate::ratings::add_reasons(app, &actor, &created.id, &input.reasons, Channel::Phone).await?
    } else if created.bad_review {
        let r = app.db.get_rating(&created.id).await?.ok_or(AppError::NotFound("评价"))?;
        let events = match &created.case_id {
            Some(c) => app.db.get_case(c).await?.map(|(_, e)| e).unwrap_or_default(),
            None => Vec::new(),
        };
        crate::ratings::reasons_given(&r, &events).unwrap_or_default()
    } else {
        Vec::new()
    };
    let needs_reasons = created.bad_review && reasons.is_empty();
    let reason_choices = if needs_reasons {
        app.catalogue.reasons_for(level, Channel::Phone.mode()).map(|r| crate::ratings::reason_view(app, &r.code)).collect()
    } else {
        Vec::new()
    };
    Ok(HotlineRatingOut {
        id: created.id,
        matter_no: created.matter_no,
        service_no: created.service_no,
        level: created.level,
        bad_review: created.bad_review,
        case_id: created.case_id,
        replayed,
        reasons,
        needs_reasons,
        reason_choices,
    })
}
