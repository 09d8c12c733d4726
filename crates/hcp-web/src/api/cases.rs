use axum::Json;
use axum::extract::{Path, State};
use hcp_app::appeals::{self, AppealIn};
use hcp_app::cases::{self, CaseDetail, CaseOut, FiledReply, LoopOut, StepIn};
use hcp_app::rectify::{RectificationOut, RectifyIn};
use hcp_app::related::MergeIn;
use hcp_domain::BizDay;
use hcp_domain::bizday::Period;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::meta::ErrorBody;
use crate::error::ApiResult;
use crate::extract::caller::Who;
use crate::extract::{ApiJson, ApiQuery};
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

/// Bad-review and complaint cases of the caller's unit and the units below it, newest first, with their
/// deadlines.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(CaseQuery),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = [CaseOut]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_cases(
    State(state): State<AppState>,
    Who(caller): Who,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> ApiResult<Json<Vec<CaseOut>>> {
    Ok(Json(cases::list_cases(&state, &caller, q.state.as_deref(), q.unit.as_deref(), q.limit).await?))
}

/// One case with its deadlines and full history.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", params(("id" = String, Path, description = "case id")),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = CaseDetail), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn get_case(State(state): State<AppState>, Who(caller): Who, Path(id): Path<String>) -> ApiResult<Json<CaseDetail>> {
    Ok(Json(cases::get_case(&state, &caller, &id).await?))
}

/// A step of the rectification a 限期整改 outcome promised (the 台账): `progress` with a note, or `done` with a
/// note and evidence (the rater is told). For those who handle the case's unit; also after the case is closed.
#[utoipa::path(post, path = "/api/v1/cases/{id}/rectification", tag = "cases", request_body = RectifyIn, params(("id" = String, Path, description = "case id")),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = CaseDetail), (status = 422, body = ErrorBody, description = "no_rectification, rectification_done, missing_field"),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn rectify(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(id): Path<String>,
    body: ApiJson<RectifyIn>,
) -> ApiResult<Json<CaseDetail>> {
    Ok(Json(hcp_app::rectify::rectify(&state, &caller, &id, &body.value).await?))
}

/// Close this case into another one about the same matter (a complaint and a bad review that are one concern):
/// both open and handled by the caller; the merge is on the ledger of both. Returns the case that carries on.
#[utoipa::path(post, path = "/api/v1/cases/{id}/merge", tag = "cases", request_body = MergeIn, params(("id" = String, Path, description = "case id")),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = CaseDetail), (status = 409, body = ErrorBody, description = "case_changed"),
        (status = 422, body = ErrorBody, description = "merge_other_matter, case_closed, merge_self"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn merge(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(id): Path<String>,
    body: ApiJson<MergeIn>,
) -> ApiResult<Json<CaseDetail>> {
    Ok(Json(hcp_app::related::merge(&state, &caller, &id, &body.value).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// one unit of the caller's tree
    pub unit: Option<String>,
}

/// The 台账: every rectification item of the caller's units, open ones by deadline first (overdue flagged), then
/// the done ones.
#[utoipa::path(get, path = "/api/v1/rectifications", tag = "cases", params(LedgerQuery),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = [RectificationOut]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn rectifications(
    State(state): State<AppState>,
    Who(caller): Who,
    ApiQuery(q): ApiQuery<LedgerQuery>,
) -> ApiResult<Json<Vec<RectificationOut>>> {
    Ok(Json(hcp_app::rectify::ledger(&state, &caller, q.unit.as_deref()).await?))
}

/// One step of a case's handling (S-10 … S-13): respond, record a callback, decide the outcome, extend the
/// reply deadline (only before it has passed), reply, record the rater's verdict. Steps out of order, a second
/// outcome, an outcome of a real-name bad review without a callback, or an extension after the deadline get
/// 422 with a stable code, and nothing changes.
#[utoipa::path(post, path = "/api/v1/cases/{id}/actions", tag = "cases", request_body = StepIn, params(("id" = String, Path, description = "case id")),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = CaseDetail), (status = 409, body = ErrorBody, description = "case_changed"), (status = 422, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn act(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(id): Path<String>,
    body: ApiJson<StepIn>,
) -> ApiResult<Json<CaseDetail>> {
    Ok(Json(cases::take_step(&state, &caller, &id, &body.value).await?))
}

/// 复核 of a bad review (S-14), through staff sessions only. Hall-stationed unit: apply → the unit approver's
/// preliminary opinion → the county bureau's decision; other units: apply → the unit approver's decision.
/// Upheld: the rating is marked 不属实 (a new ledger record), leaves every statistic at once, and the case closes.
#[utoipa::path(post, path = "/api/v1/cases/{id}/appeal", tag = "cases", request_body = AppealIn, params(("id" = String, Path, description = "case id")),
    security(("session" = [])),
    responses((status = 200, body = CaseDetail), (status = 403, body = ErrorBody, description = "appeal_forbidden: outside the unit or the wrong level"),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn appeal(
    State(state): State<AppState>,
    Who(caller): Who,
    Path(id): Path<String>,
    body: ApiJson<AppealIn>,
) -> ApiResult<Json<CaseDetail>> {
    Ok(Json(appeals::appeal_step(&state, &caller, &id, &body.value).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoopQuery {
    /// first arrival day, `YYYY-MM-DD`; default: the first day of this month
    pub from: Option<String>,
    /// last arrival day; default: today
    pub to: Option<String>,
    /// only this unit (within the caller's unit)
    pub unit: Option<String>,
}

impl LoopQuery {
    pub fn period(&self) -> Result<Period, hcp_domain::DomainError> {
        Period::parse(self.from.as_deref(), self.to.as_deref(), BizDay::today())
    }
}

/// The supervising department's queue of filed replies (备案): every reply given in its tree in the period
/// (by the day the case arrived), newest first.
#[utoipa::path(get, path = "/api/v1/cases/replies", tag = "cases", params(LoopQuery),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = [FiledReply]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn filed_replies(
    State(state): State<AppState>,
    Who(caller): Who,
    ApiQuery(q): ApiQuery<LoopQuery>,
) -> ApiResult<Json<Vec<FiledReply>>> {
    Ok(Json(cases::filed_replies(&state, &caller, q.period()?, q.unit.as_deref()).await?))
}

/// The closed loop measured per unit for cases that arrived in a period: callback rate of real-name bad
/// reviews, on-time response and reply (open overdue work counted against the unit), rectification rate.
#[utoipa::path(get, path = "/api/v1/stats/loop", tag = "cases", params(LoopQuery),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = LoopOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn loop_stats(State(state): State<AppState>, Who(caller): Who, ApiQuery(q): ApiQuery<LoopQuery>) -> ApiResult<Json<LoopOut>> {
    Ok(Json(cases::loop_stats(&state, &caller, q.period()?, q.unit.as_deref()).await?))
}
