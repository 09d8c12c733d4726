//! The rater's contact for a callback (each view recorded), and the audit trail.

use axum::Json;
use axum::extract::{Path, State};
use hcp_app::audit::{self, AuditOut, ContactOut};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::meta::ErrorBody;
use crate::error::ApiResult;
use crate::extract::ApiQuery;
use crate::extract::caller::{ClientIp, Who};
use crate::state::AppState;

/// The rater's (or complainant's) full name and phone number, for the callback (回访) of an open real-name case.
/// Only the handling unit's handlers, approvers and its town's administrator see it, only while the case is
/// open, and each view is recorded in the audit trail. Elsewhere contacts are always masked.
#[utoipa::path(get, path = "/api/v1/cases/{id}/contact", tag = "cases", params(("id" = String, Path, description = "case id")),
    security(("session" = [])),
    responses((status = 200, body = ContactOut), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "case_closed, no_contact")))]
pub async fn contact(
    State(state): State<AppState>,
    Who(caller): Who,
    ClientIp(peer): ClientIp,
    Path(id): Path<String>,
) -> ApiResult<Json<ContactOut>> {
    Ok(Json(audit::view_contact(&state, &caller, &id, peer).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// e.g. `staff:wang`
    pub actor: Option<String>,
    /// e.g. `contact_view`, `sign_in_failed`, `denied`, `change`
    pub action: Option<String>,
    /// at most this many, newest first (default 100, at most 1000)
    pub limit: Option<i64>,
}

/// The audit trail, newest first (the county's administrators and the oversight office).
#[utoipa::path(get, path = "/api/v1/audit", tag = "session", params(AuditQuery),
    security(("session" = [])),
    responses((status = 200, body = [AuditOut]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_audit(
    State(state): State<AppState>,
    Who(caller): Who,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditOut>>> {
    Ok(Json(audit::list_audit(&state, &caller, q.actor.as_deref(), q.action.as_deref(), q.limit).await?))
}
