//! The rater's side of the loop, through the personal link the reply's SMS carries (`/f/{token}`): read the
//! reply, give a verdict on the handling (满意 / 基本满意 / 不满意 — 不满意 reopens the case within the
//! jurisdiction's limit), and, once the case is closed after a reply, make one follow-up rating (追评,
//! `assessNumber` 2) of the same matter. The follow-up is on the ledger and reported, and linked to the first
//! rating; it is not counted a second time in the satisfaction statistics (S-3).

use std::collections::BTreeMap;

use hcp_domain::access::{Act, Principal, Target};
use hcp_domain::case_event::{EventDetail, EventKind};
use hcp_domain::case_flow::{Action, CaseState, Verdict};
use hcp_domain::rating::{CheckedRating, RawRating};
use hcp_domain::records::{CaseEvent, Rating};
use hcp_domain::token::FeedbackToken;
use hcp_domain::{Channel, Timestamp};
use hcp_storage::cases::CaseSummary;
use hcp_storage::ratings::{NewRating, RatingOutcome};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::error::{AppError, AppResult};
use crate::ratings::already_rated;

/// A case as its rater reaches it, through a valid feedback link.
pub struct RaterCase {
    pub summary: CaseSummary,
    pub events: Vec<CaseEvent>,
    principal: Principal,
}

impl RaterCase {
    fn target(&self) -> Target<'_> {
        Target { unit: &self.summary.case.unit_code, case_id: Some(&self.summary.case.id), ..Default::default() }
    }
}

/// The case a feedback link names; a bad or expired link is refused (403), like a rating token.
#[tracing::instrument(skip_all)]
pub async fn open(app: &App, raw: &str) -> AppResult<RaterCase> {
    let t = FeedbackToken::verify(raw, app.secrets.token_key(), Timestamp::now().micros() / 1_000_000).map_err(AppError::Forbidden)?;
    let (summary, events) = app.db.get_case(&t.case_id).await?.ok_or(AppError::NotFound("工单"))?;
    Ok(RaterCase { summary, events, principal: Principal::Rater { case_id: t.case_id } })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedbackView {
    /// 差评 / 投诉 / 意见建议
    pub kind: String,
    pub item_name: Option<String>,
    pub unit_name: String,
    /// `open`, `responded`, `decided`, `replied`, `closed`
    pub state: String,
    pub state_label: String,
    pub reply_by: String,
    /// the latest reply to the rater
    pub reply: Option<String>,
    /// `fixed_at_once`, `ledger`, `explained`, `invalid`
    pub outcome: Option<String>,
    pub outcome_label: Option<String>,
    /// the rater's verdicts so far: `satisfied`, `basically_satisfied`, `unsatisfied`
    pub verdicts: Vec<String>,
    pub can_give_verdict: bool,
    pub can_follow_up: bool,
    /// the follow-up rating's level, once made
    pub follow_up_level: Option<i64>,
}

/// The first rating of the case's matter and its follow-up, if any.
async fn ratings_of(app: &App, s: &CaseSummary) -> AppResult<(Option<Rating>, Option<Rating>)> {
    let Some(rid) = &s.case.rating_id else { return Ok((None, None)) };
    let first = app.db.get_rating(rid).await?;
    let follow = match &first {
        Some(f) => app.db.follow_up_of(&f.id).await?,
        None => None,
    };
    Ok((first, follow))
}

/// What the rater's link shows: the case's progress, the reply and what the rater may still do.
pub async fn view(app: &App, c: &RaterCase) -> AppResult<FeedbackView> {
    let s = &c.summary;
    let master = app.master();
    let (first, follow) = ratings_of(app, s).await?;
    // A rating found untrue by an upheld 复核 closes its case without the rater's verdict: no 追评 of it.
    let untrue = match &first {
        Some(f) => app.db.is_invalidated(&f.id).await?,
        None => false,
    };
    let details: Vec<EventDetail> = c.events.iter().filter_map(|e| e.detail().ok()).collect();
    let reply = details.iter().rev().find_map(|d| match d {
        EventDetail::Replied { text, .. } => Some(text.clone()),
        _ => None,
    });
    let outcome = details.iter().rev().find_map(|d| match d {
        EventDetail::Outcome { outcome } => Some(outcome.kind()),
        _ => None,
    });
    let replied = c.events.iter().any(|e| e.kind == EventKind::Replied) && !untrue;
    Ok(FeedbackView {
        kind: s.case.kind.label().into(),
        item_name: master.item_name(&s.case.item_code),
        unit_name: master.unit_name(&s.case.unit_code).unwrap_or_default(),
        state: s.state.code().into(),
        state_label: s.state.rater_label().into(),
        reply_by: s.reply_by.to_string(),
        reply,
        outcome: outcome.map(|o| o.code().to_string()),
        outcome_label: outcome.map(|o| o.label().to_string()),
        verdicts: details
            .iter()
            .filter_map(|d| match d {
                EventDetail::Verdict { verdict, .. } => Some(verdict.code().to_string()),
                _ => None,
            })
            .collect(),
        can_give_verdict: s.state == CaseState::Replied,
        can_follow_up: s.state == CaseState::Closed && replied && first.is_some() && follow.is_none(),
        follow_up_level: follow.map(|f| f.level),
    })
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerdictIn {
    /// `satisfied` (满意), `basically_satisfied` (基本满意) or `unsatisfied` (不满意, reopens the case)
    pub verdict: String,
    pub comment: Option<String>,
}

/// The rater's verdict on the handling. 不满意 sends the case back to the unit (within the configured number of
/// reopenings), with a new reply deadline.
#[tracing::instrument(skip_all)]
pub async fn give_verdict(app: &App, c: &RaterCase, input: &VerdictIn) -> AppResult<CaseState> {
    app.allow(&c.principal, Act::GiveVerdict, Some(&c.target()))?;
    let verdict = Verdict::parse(&input.verdict)?;
    let comment = input.comment.as_deref().map(|c| hcp_domain::ids::parse_text(c, "comment", 500)).transpose()?.filter(|c| !c.is_empty());
    crate::cases::perform(app, &c.summary, &c.events, &Action::Verdict(verdict), "rater".into(), false, comment).await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpIn {
    /// 1 = 非常不满意 … 5 = 非常满意
    pub level: i64,
    #[serde(default)]
    pub indicators: BTreeMap<String, i64>,
    #[serde(default)]
    pub reasons: Vec<String>,
    pub text: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FollowUpCreated {
    pub id: String,
    pub follows_id: String,
    pub assess_number: i64,
    pub level: i64,
}

/// The one follow-up rating (追评) of the matter, after the case was replied to and closed.
#[tracing::instrument(skip_all)]
pub async fn follow_up(app: &App, c: &RaterCase, input: &FollowUpIn) -> AppResult<FollowUpCreated> {
    app.allow(&c.principal, Act::FollowUp, Some(&c.target()))?;
    let v = view(app, c).await?;
    let (Some(first), _) = ratings_of(app, &c.summary).await? else {
        return Err(AppError::invalid("follow_up_not_applicable", "action", "只有差评工单可以追评"));
    };
    if v.follow_up_level.is_some() {
        return Err(AppError::conflict("already_rated", "该办件已追评过，每件只能追评一次", None));
    }
    if !v.can_follow_up {
        return Err(AppError::invalid("follow_up_not_yet", "action", "整改答复并办结后才能追评"));
    }
    let raw = RawRating {
        channel: Channel::Mobile.code().into(),
        level: input.level,
        indicators: input.indicators.clone(),
        reasons: input.reasons.clone(),
        text: input.text.clone(),
        anonymous: first.anonymous,
        ..Default::default()
    };
    let checked = CheckedRating::check(&raw, &app.catalogue)?;
    let now = Timestamp::now();
    let row = Rating {
        id: uuid::Uuid::now_v7().to_string(),
        assess_number: 2,
        follows_id: Some(first.id.clone()),
        channel: checked.channel,
        level: i64::from(checked.level.value()),
        indicators: checked.indicators.iter().map(|(k, v)| format!("{k}={}", v.value())).collect::<Vec<_>>().join(","),
        reasons: checked.reasons.join(","),
        text: checked.text.clone(),
        catalogue_version: app.catalogue.version,
        referral: checked.referral,
        rated_at: now.micros(),
        received_at: now.micros(),
        biz_day: now.biz_day(),
        credential_kind: "feedback_token".into(),
        credential_id: None,
        device_id: None,
        source_hash: None,
        client_type: "h5".into(),
        seconds_after_service: first.seconds_after_service,
        ledger_seq: 0,
        // The same rater, matter and occasion as the first rating.
        ..first.clone()
    };
    let level = row.level;
    match app.writer.submit(NewRating { row, idempotency: None, case: None }).await? {
        RatingOutcome::Created { id, .. } | RatingOutcome::Replayed { id } => {
            Ok(FollowUpCreated { id, follows_id: first.id, assess_number: 2, level })
        }
        RatingOutcome::AlreadyRated { existing } | RatingOutcome::KeyReused { existing } => Err(already_rated(existing)),
    }
}
