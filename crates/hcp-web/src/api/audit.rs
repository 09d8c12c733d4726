//! The rater's contact for a callback (the one place full contact details are shown, each view recorded), and
//! the audit trail as the county and the oversight office read it.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use hcp_domain::access::Act;
use hcp_domain::timestamp::Timestamp;
use hcp_storage::audit::AuditEntry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::{authorize, authorize_found};
use crate::api::meta::ErrorBody;
use crate::auth::{Caller, PeerAddr};
use crate::error::{ApiError, ApiResult};
use crate::guard::actor_of;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ContactOut {
    pub name: Option<String>,
    pub phone: Option<String>,
    /// where it comes from: `rating` (the rater gave it), `applicant` (the applicant rated), `complaint`
    pub source: String,
}

/// The rater's (or complainant's) full name and phone number, for the callback (回访) of an open real-name case.
/// Only the handling unit's handlers, approvers and its town's administrator see it, only while the case is
/// open, and each view is recorded in the audit trail. Elsewhere contacts are always masked.
#[utoipa::path(get, path = "/api/v1/cases/{id}/contact", tag = "cases", params(("id" = String, Path, description = "case id")),
    security(("session" = [])),
    responses((status = 200, body = ContactOut), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "case_closed, no_contact")))]
pub async fn contact(
    State(state): State<AppState>,
    caller: Caller,
    PeerAddr(peer): PeerAddr,
    Path(id): Path<String>,
) -> ApiResult<Json<ContactOut>> {
    Ok(Json(view_contact(&state, &caller, peer, &id).await?))
}

/// The contact of case `id` for `caller`, if they may see it; the view is on the audit trail before it is shown.
pub(crate) async fn view_contact(state: &AppState, caller: &Caller, peer: Option<std::net::SocketAddr>, id: &str) -> ApiResult<ContactOut> {
    let (state, caller, id) = (state.clone(), caller.clone(), id.to_string());
    authorize(&state, &caller, Act::ViewContact, None)?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::not_found("工单"));
    }
    let (summary, _) = state.db.get_case(&id).await?.ok_or_else(|| ApiError::not_found("工单"))?;
    authorize_found(&state, &caller, Act::ViewContact, &summary.case.unit_code, "工单")?;
    if summary.state == "closed" {
        return Err(hcp_domain::DomainError::new("case_closed", "id", "工单已办结，不再提供评价人的联系方式").into());
    }
    let dec = |v: &Option<Vec<u8>>| v.as_ref().map(|b| state.secrets.decrypt(b)).transpose();
    let (name, phone, source) = match &summary.case.rating_id {
        Some(rid) => {
            let r = state.db.get_rating(rid).await?.ok_or_else(|| ApiError::not_found("评价"))?;
            if r.anonymous {
                (None, None, "rating")
            } else if r.rater_from_applicant {
                let m = state.db.find_matter(&r.matter_no).await?.ok_or_else(|| ApiError::not_found("办件"))?;
                (Some(state.secrets.decrypt(&m.applicant_name)?), dec(&m.applicant_phone)?, "applicant")
            } else {
                (dec(&r.rater_name)?, dec(&r.rater_phone)?, "rating")
            }
        }
        None => match state.db.complaint_of_case(&id).await? {
            Some(c) => (dec(&c.contact_name)?, dec(&c.contact_phone)?, "complaint"),
            None => (None, None, "complaint"),
        },
    };
    if name.is_none() && phone.is_none() {
        return Err(hcp_domain::DomainError::new("no_contact", "id", "匿名评价或投诉不保留联系方式").into());
    }
    let entry = AuditEntry {
        actor: actor_of(&caller),
        action: "contact_view".into(),
        target: format!("case:{id}"),
        outcome: "200".into(),
        detail: Some(serde_json::json!({ "source": source, "fields": ["name", "phone"] }).to_string()),
        source_hash: peer.map(|p| state.secrets.source_hash(&p.ip().to_string())),
    };
    // No record, no view.
    state.db.audit(&entry).await?;
    Ok(ContactOut { name, phone, source: source.into() })
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

#[derive(Serialize, ToSchema)]
pub struct AuditOut {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub detail: Option<serde_json::Value>,
    /// the entry's link in the hash chain
    pub hash: String,
}

/// The audit trail, newest first (the county's administrators and the oversight office).
#[utoipa::path(get, path = "/api/v1/audit", tag = "session", params(AuditQuery),
    security(("session" = [])),
    responses((status = 200, body = [AuditOut]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_audit(State(state): State<AppState>, caller: Caller, Query(q): Query<AuditQuery>) -> ApiResult<Json<Vec<AuditOut>>> {
    authorize(&state, &caller, Act::ReadAudit, None)?;
    for (v, field) in [(&q.actor, "actor"), (&q.action, "action")] {
        if v.as_ref().is_some_and(|s| s.len() > 100) {
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "too_long", format!("{field} 过长")).field(field));
        }
    }
    let rows = state.db.audit_entries(q.actor.as_deref(), q.action.as_deref(), q.limit.unwrap_or(100).clamp(1, 1000)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| AuditOut {
                seq: r.seq,
                at: Timestamp(r.at).to_rfc3339(),
                actor: r.entry.actor,
                action: r.entry.action,
                target: r.entry.target,
                outcome: r.entry.outcome,
                detail: r.entry.detail.and_then(|d| serde_json::from_str(&d).ok()),
                hash: r.hash,
            })
            .collect(),
    ))
}
