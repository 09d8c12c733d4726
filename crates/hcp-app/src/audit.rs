//! The rater's contact for a callback (the one place full contact details are shown, each view recorded), and
//! the audit trail as the county and the oversight office read it.

use std::net::IpAddr;

use hcp_domain::Timestamp;
use hcp_domain::access::{Act, Target};
use hcp_domain::audit::AuditEntry;
use hcp_domain::case_flow::CaseState;
use serde::Serialize;
use utoipa::ToSchema;

use crate::App;
use crate::caller::Caller;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactOut {
    pub name: Option<String>,
    pub phone: Option<String>,
    /// where it comes from: `rating` (the rater gave it), `applicant` (the applicant rated), `complaint`
    pub source: String,
}

/// The rater's (or complainant's) full name and phone number, for the callback (回访) of an open real-name case.
/// Only the handling unit's handlers, approvers and its town's administrator see it, only while the case is
/// open, and each view is on the audit trail before it is shown.
#[tracing::instrument(skip_all)]
pub async fn view_contact(app: &App, caller: &Caller, id: &str, peer: Option<IpAddr>) -> AppResult<ContactOut> {
    app.authorize(caller, Act::ViewContact)?;
    let (summary, _) = crate::cases::load_case(app, id).await?;
    app.authorize_found(caller, Act::ViewContact, &Target::unit(&summary.case.unit_code), "工单")?;
    if summary.state == CaseState::Closed {
        return Err(AppError::invalid("case_closed", "id", "工单已办结，不再提供评价人的联系方式"));
    }
    let dec = |v: &Option<Vec<u8>>| v.as_ref().map(|b| app.secrets.decrypt(b)).transpose();
    let (name, phone, source) = match &summary.case.rating_id {
        Some(rid) => {
            let r = app.db.get_rating(rid).await?.ok_or(AppError::NotFound("评价"))?;
            if r.anonymous {
                (None, None, "rating")
            } else if r.rater_from_applicant {
                let m = app.db.find_matter(&r.matter_no).await?.ok_or(AppError::NotFound("办件"))?;
                (Some(app.secrets.decrypt(&m.applicant_name)?), dec(&m.applicant_phone)?, "applicant")
            } else {
                (dec(&r.rater_name)?, dec(&r.rater_phone)?, "rating")
            }
        }
        None => match app.db.complaint_of_case(id).await? {
            Some(c) => (dec(&c.contact_name)?, dec(&c.contact_phone)?, "complaint"),
            None => (None, None, "complaint"),
        },
    };
    if name.is_none() && phone.is_none() {
        return Err(AppError::invalid("no_contact", "id", "匿名评价或投诉不保留联系方式"));
    }
    let entry = AuditEntry {
        actor: caller.actor(),
        action: "contact_view".into(),
        target: format!("case:{id}"),
        outcome: "200".into(),
        detail: Some(serde_json::json!({ "source": source, "fields": ["name", "phone"] }).to_string()),
        source_hash: peer.map(|p| app.secrets.source_hash(&p.to_string())),
    };
    // No record, no view.
    app.db.audit(&entry).await?;
    Ok(ContactOut { name, phone, source: source.into() })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
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
pub async fn list_audit(
    app: &App,
    caller: &Caller,
    actor: Option<&str>,
    action: Option<&str>,
    limit: Option<i64>,
) -> AppResult<Vec<AuditOut>> {
    app.authorize(caller, Act::ReadAudit)?;
    for (v, field) in [(actor, "actor"), (action, "action")] {
        if v.is_some_and(|s| s.len() > 100) {
            return Err(AppError::invalid("too_long", field, format!("{field} 过长")));
        }
    }
    let rows = app.db.audit_entries(actor, action, limit.unwrap_or(100).clamp(1, 1000)).await?;
    Ok(rows
        .into_iter()
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
        .collect())
}

/// Puts a request on the audit trail (the web's middleware for changes and refusals; operator commands).
pub async fn record(app: &App, entry: AuditEntry) {
    if let Err(e) = app.db.audit(&entry).await {
        tracing::error!(error = %e, "could not write the audit trail");
    }
}
