use axum::Json;
use axum::extract::{Path, Query, State};
use hcp_domain::timestamp::{Timestamp, format_date};
use hcp_domain::work_calendar::overdue_from;
use hcp_storage::cases::{CaseEvent, CaseSummary};
use serde::{Deserialize, Serialize};
use time::{Date, Month};
use utoipa::{IntoParams, ToSchema};

use crate::api::meta::ErrorBody;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// e.g. `open`
    pub state: Option<String>,
    /// only this unit (must lie within the caller's unit)
    pub unit: Option<String>,
    /// at most this many, newest first (default 100, at most 1000)
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CaseOut {
    pub id: String,
    /// `bad_review` (later also `complaint`)
    pub kind: String,
    pub rating_id: Option<String>,
    pub matter_no: String,
    /// the unit that handled the matter and must handle the case (谁办理、谁负责)
    pub unit_code: String,
    pub unit_name: Option<String>,
    pub item_code: String,
    pub window_code: Option<String>,
    pub staff_code: Option<String>,
    pub level: i64,
    /// `service_quality` or `misconduct` (to be referred to the competent authority as well)
    pub category: String,
    /// real-name bad reviews must be called back (100%)
    pub real_name: bool,
    pub state: String,
    pub opened_at: String,
    /// last day to respond (1 working day by default)
    pub respond_by: String,
    /// last day to reply on the rectification (5 working days by default)
    pub reply_by: String,
    pub respond_overdue: bool,
    pub reply_overdue: bool,
    /// deadlines computed across a year whose holiday notice was not loaded
    pub deadlines_provisional: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CaseEventOut {
    pub kind: String,
    pub actor: String,
    pub at: String,
    pub state_after: String,
    pub note: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub case: CaseOut,
    pub history: Vec<CaseEventOut>,
}

fn date_of(key: i64) -> Option<Date> {
    Date::from_calendar_date((key / 10_000) as i32, Month::try_from(((key / 100) % 100) as u8).ok()?, (key % 100) as u8).ok()
}

fn case_out(state: &AppState, s: &CaseSummary) -> CaseOut {
    let c = &s.case;
    let now = Timestamp::now();
    let open = s.state == "open";
    let overdue = |key: i64| open && date_of(key).is_some_and(|d| now >= overdue_from(d));
    CaseOut {
        id: c.id.clone(),
        kind: c.kind.clone(),
        rating_id: c.rating_id.clone(),
        matter_no: c.matter_no.clone(),
        unit_code: c.unit_code.clone(),
        unit_name: state.master().units.get(&c.unit_code).map(|u| u.name.clone()),
        item_code: c.item_code.clone(),
        window_code: c.window_code.clone(),
        staff_code: c.staff_code.clone(),
        level: c.level,
        category: c.category.clone(),
        real_name: c.real_name,
        state: s.state.clone(),
        opened_at: Timestamp(c.opened_at).to_rfc3339(),
        respond_by: date_of(c.respond_by).map(format_date).unwrap_or_default(),
        reply_by: date_of(c.reply_by).map(format_date).unwrap_or_default(),
        respond_overdue: overdue(c.respond_by),
        reply_overdue: overdue(c.reply_by),
        deadlines_provisional: c.provisional,
    }
}

fn event_out(e: &CaseEvent) -> CaseEventOut {
    CaseEventOut {
        kind: e.kind.clone(),
        actor: e.actor.clone(),
        at: Timestamp(e.at).to_rfc3339(),
        state_after: e.state_after.clone(),
        note: e.note.clone(),
    }
}

/// Who may read cases: staff and system keys, for their unit and the units below it.
fn case_scope(caller: &Caller) -> Result<&str, ApiError> {
    match caller {
        Caller::Anonymous { .. } => Err(ApiError::unauthorized()),
        Caller::Key(k) if k.kind != "system" => Err(ApiError::forbidden("wrong_credential", "该凭证不能查看工单")),
        c => c.unit().ok_or_else(ApiError::unauthorized),
    }
}

/// Bad-review and complaint cases of the caller's unit and the units below it, newest first, with their
/// deadlines.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(CaseQuery),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = [CaseOut]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_cases(State(state): State<AppState>, caller: Caller, Query(q): Query<CaseQuery>) -> ApiResult<Json<Vec<CaseOut>>> {
    let own = case_scope(&caller)?;
    let master = state.master();
    let units: Vec<String> = match &q.unit {
        Some(u) => {
            hcp_domain::ids::parse_code(u, "unit", 40)?;
            if !master.is_within(u, own) {
                return Err(ApiError::forbidden("out_of_scope", "无权查看该单位的工单"));
            }
            vec![u.clone()]
        }
        None => master.units.keys().filter(|u| master.is_within(u, own)).cloned().collect(),
    };
    if let Some(s) = &q.state
        && !matches!(s.as_str(), "open" | "responded" | "replied" | "closed")
    {
        return Err(hcp_domain::DomainError::new("invalid_state", "state", "state 应为 open、responded、replied 或 closed").into());
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let cases = state.db.list_cases(&units, q.state.as_deref(), limit).await?;
    Ok(Json(cases.iter().map(|c| case_out(&state, c)).collect()))
}

/// One case with its deadlines and full history.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", params(("id" = String, Path, description = "case id")),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = CaseDetail), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn get_case(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<CaseDetail>> {
    let own = case_scope(&caller)?.to_string();
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::not_found("工单"));
    }
    let (summary, events) = state.db.get_case(&id).await?.ok_or_else(|| ApiError::not_found("工单"))?;
    // Out of scope looks exactly like absent.
    if !state.master().is_within(&summary.case.unit_code, &own) {
        return Err(ApiError::not_found("工单"));
    }
    Ok(Json(CaseDetail { case: case_out(&state, &summary), history: events.iter().map(event_out).collect() }))
}
