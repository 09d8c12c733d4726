//! The rater's side of the loop, through the personal link the reply's SMS carries (`/f/{token}`): read the
//! reply, give a verdict on the handling (满意 / 基本满意 / 不满意 — 不满意 reopens the case within the
//! jurisdiction's limit), and, once the case is closed after a reply, make one follow-up rating (追评,
//! `assessNumber` 2) of the same matter. The follow-up is on the ledger and reported, and linked to the first
//! rating; it is not counted a second time in the satisfaction statistics (S-3).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hcp_domain::case_flow::{Action, Verdict};
use hcp_domain::rating::{CheckedRating, RawRating};
use hcp_domain::timestamp::Timestamp;
use hcp_domain::token::FeedbackToken;
use hcp_storage::cases::{CaseEvent, CaseSummary};
use hcp_storage::ratings::{NewRating, RatingOutcome, StoredRating};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use crate::api::meta::ErrorBody;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;

/// The case a feedback link names, with its history; a bad or expired link is 403, like a rating token.
pub(crate) async fn load(state: &AppState, raw: &str) -> ApiResult<(CaseSummary, Vec<CaseEvent>)> {
    let t = FeedbackToken::verify(raw, state.secrets.token_key(), Timestamp::now().micros() / 1_000_000).map_err(|e| {
        let mut err = ApiError::from(e);
        err.status = StatusCode::FORBIDDEN;
        err
    })?;
    state.db.get_case(&t.case_id).await?.ok_or_else(|| ApiError::not_found("工单"))
}

#[derive(Serialize, ToSchema)]
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

fn state_label(s: &str) -> &'static str {
    match s {
        "open" => "已受理，待响应",
        "responded" => "核实整改中",
        "decided" => "已有处理结果，待答复",
        "replied" => "已答复，请您评价处理结果",
        _ => "已办结",
    }
}

fn outcome_label(o: &str) -> &'static str {
    match o {
        "fixed_at_once" => "立行立改",
        "ledger" => "建立台账、限期整改",
        "explained" => "解释说明",
        _ => "经核实不予采纳",
    }
}

fn note(e: &CaseEvent) -> serde_json::Value {
    e.note.as_deref().and_then(|n| serde_json::from_str(n).ok()).unwrap_or_default()
}

/// The first rating of the case's matter and its follow-up, if any.
async fn ratings_of(state: &AppState, s: &CaseSummary) -> ApiResult<(Option<StoredRating>, Option<StoredRating>)> {
    let Some(rid) = &s.case.rating_id else { return Ok((None, None)) };
    let first = state.db.get_rating(rid).await?;
    let follow = match &first {
        Some(f) => state.db.follow_up_of(&f.id).await?,
        None => None,
    };
    Ok((first, follow))
}

pub(crate) async fn view(state: &AppState, s: &CaseSummary, events: &[CaseEvent]) -> ApiResult<FeedbackView> {
    let master = state.master();
    let (first, follow) = ratings_of(state, s).await?;
    // A rating found untrue by an upheld 复核 closes its case without the rater's verdict: no 追评 of it.
    let untrue = match &first {
        Some(f) => state.db.is_invalidated(&f.id).await?,
        None => false,
    };
    let replied = events.iter().any(|e| e.kind == "replied") && !untrue;
    let outcome = events.iter().rev().find(|e| e.kind == "outcome").and_then(|e| note(e)["outcome"].as_str().map(String::from));
    Ok(FeedbackView {
        kind: match s.case.kind.as_str() {
            "bad_review" => "差评",
            "complaint" => "投诉",
            "suggestion" => "意见建议",
            _ => "整改任务",
        }
        .into(),
        item_name: master.items.get(&s.case.item_code).map(|i| i.name.clone()),
        unit_name: master.units.get(&s.case.unit_code).map(|u| u.name.clone()).unwrap_or_default(),
        state: s.state.clone(),
        state_label: state_label(&s.state).into(),
        reply_by: crate::api::cases::day_text(s.reply_by),
        reply: events.iter().rev().find(|e| e.kind == "replied").and_then(|e| note(e)["text"].as_str().map(String::from)),
        outcome_label: outcome.as_deref().map(|o| outcome_label(o).to_string()),
        outcome,
        verdicts: events.iter().filter(|e| e.kind == "verdict").filter_map(|e| note(e)["verdict"].as_str().map(String::from)).collect(),
        can_give_verdict: s.state == "replied",
        can_follow_up: s.state == "closed" && replied && first.is_some() && follow.is_none(),
        follow_up_level: follow.map(|f| f.level),
    })
}

/// What the rater's link shows: the case's progress, the reply and what the rater may still do.
#[utoipa::path(get, path = "/api/v1/feedback/{token}", tag = "cases", params(("token" = String, Path, description = "the rater's feedback link token")),
    responses((status = 200, body = FeedbackView), (status = 403, body = ErrorBody, description = "invalid_token, token_expired")))]
pub async fn get_feedback(State(state): State<AppState>, Path(token): Path<String>) -> ApiResult<Json<FeedbackView>> {
    let (s, events) = load(&state, &token).await?;
    Ok(Json(view(&state, &s, &events).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerdictIn {
    /// `satisfied` (满意), `basically_satisfied` (基本满意) or `unsatisfied` (不满意, reopens the case)
    pub verdict: String,
    pub comment: Option<String>,
}

pub(crate) async fn give_verdict(state: &AppState, s: &CaseSummary, events: &[CaseEvent], input: &VerdictIn) -> ApiResult<()> {
    let verdict = Verdict::parse(&input.verdict)?;
    let comment = match &input.comment {
        Some(c) => Some(hcp_domain::ids::parse_text(c, "comment", 500)?),
        None => None,
    };
    let details = serde_json::json!({ "verdict": input.verdict, "comment": comment, "by": "rater" });
    crate::api::cases::perform(state, s, events, Action::Verdict(verdict), details, "rater".into()).await
}

/// The rater's verdict on the handling, from the feedback link. 不满意 sends the case back to the unit (within
/// the configured number of reopenings), with a new reply deadline.
#[utoipa::path(post, path = "/api/v1/feedback/{token}/verdict", tag = "cases", request_body = VerdictIn,
    params(("token" = String, Path, description = "the rater's feedback link token")),
    responses((status = 200, body = FeedbackView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "case_changed"),
        (status = 422, body = ErrorBody, description = "transition_not_allowed: not waiting for a verdict; invalid_verdict")))]
pub async fn post_verdict(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: ApiJson<VerdictIn>,
) -> ApiResult<Json<FeedbackView>> {
    let (s, events) = load(&state, &token).await?;
    give_verdict(&state, &s, &events, &body.value).await?;
    let (s, events) = load(&state, &token).await?;
    Ok(Json(view(&state, &s, &events).await?))
}

#[derive(Deserialize, ToSchema)]
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

#[derive(Serialize, ToSchema)]
pub struct FollowUpCreated {
    pub id: String,
    pub follows_id: String,
    pub assess_number: i64,
    pub level: i64,
}

pub(crate) async fn follow_up(state: &AppState, s: &CaseSummary, events: &[CaseEvent], input: &FollowUpIn) -> ApiResult<FollowUpCreated> {
    let v = view(state, s, events).await?;
    let (Some(first), _) = ratings_of(state, s).await? else {
        return Err(hcp_domain::DomainError::new("follow_up_not_applicable", "action", "只有差评工单可以追评").into());
    };
    if v.follow_up_level.is_some() {
        return Err(ApiError::from(hcp_storage::StoreError::conflict("already_rated", "该办件已追评过，每件只能追评一次", None)));
    }
    if !v.can_follow_up {
        return Err(hcp_domain::DomainError::new("follow_up_not_yet", "action", "整改答复并办结后才能追评").into());
    }
    let raw = RawRating {
        channel: "mobile".into(),
        level: input.level,
        indicators: input.indicators.clone(),
        reasons: input.reasons.clone(),
        text: input.text.clone(),
        anonymous: first.anonymous,
        rater_name: None,
        rater_phone: None,
        rater_id_number: None,
    };
    let checked = CheckedRating::check(&raw, &state.catalogue)?;
    let now = Timestamp::now();
    let row = StoredRating {
        id: uuid::Uuid::now_v7().to_string(),
        assess_number: 2,
        follows_id: Some(first.id.clone()),
        channel: checked.channel.code().to_string(),
        level: i64::from(checked.level.value()),
        indicators: checked.indicators.iter().map(|(k, v)| format!("{k}={}", v.value())).collect::<Vec<_>>().join(","),
        reasons: checked.reasons.join(","),
        text: checked.text.clone(),
        catalogue_version: state.catalogue.version,
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
    match state.writer.submit(NewRating { row, idempotency: None, case: None }).await? {
        RatingOutcome::Created { id, .. } | RatingOutcome::Replayed { id } => {
            Ok(FollowUpCreated { id, follows_id: first.id, assess_number: 2, level })
        }
    }
}

/// The one follow-up rating (追评) of the matter, after the case was replied to and closed.
#[utoipa::path(post, path = "/api/v1/feedback/{token}/follow-up", tag = "cases", request_body = FollowUpIn,
    params(("token" = String, Path, description = "the rater's feedback link token")),
    responses((status = 201, body = FollowUpCreated), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "already_rated"),
        (status = 422, body = ErrorBody, description = "follow_up_not_yet, follow_up_not_applicable, or the rating rules")))]
pub async fn post_follow_up(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: ApiJson<FollowUpIn>,
) -> ApiResult<(StatusCode, Json<FollowUpCreated>)> {
    let (s, events) = load(&state, &token).await?;
    Ok((StatusCode::CREATED, Json(follow_up(&state, &s, &events, &body.value).await?)))
}
