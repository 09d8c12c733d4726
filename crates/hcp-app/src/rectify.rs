//! The 台账 (S-12): a 限期整改 outcome does not end with the reply. It stays open as a rectification item with
//! its own deadline; the unit records progress with what shows it, and records it done, which tells the rater;
//! an item past its deadline is escalated once to the top of the tree. Every step is an event of the case, on
//! the ledger; the item itself is their projection.

use hcp_domain::Timestamp;
use hcp_domain::access::{Act, Target};
use hcp_domain::case_event::EventDetail;
use hcp_domain::ids::parse_text;
use hcp_domain::records::CaseEvent;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::App;
use crate::caller::Caller;
use crate::cases::{CaseDetail, get_case, load_case};
pub use crate::cases::{RectificationOut, item_out};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RectifyIn {
    /// `progress` (a step taken) or `done` (the rectification is complete; the rater is told)
    pub action: String,
    /// what was done
    pub note: String,
    /// what shows it (a document number, a photo's reference, a revised 办事指南)
    #[serde(default)]
    pub evidence: String,
}

/// Records a step of a case's rectification, for those who handle the case's unit.
#[tracing::instrument(skip_all)]
pub async fn rectify(app: &App, caller: &Caller, id: &str, input: &RectifyIn) -> AppResult<CaseDetail> {
    app.authorize(caller, Act::HandleCase)?;
    let (summary, _) = load_case(app, id).await?;
    app.authorize_found(caller, Act::HandleCase, &Target::unit(&summary.case.unit_code), "工单")?;
    let item =
        app.db.rectification_of(id).await?.ok_or_else(|| {
            AppError::invalid("no_rectification", "action", "该工单没有限期整改事项（处理结果为“建立台账、限期整改”时才有）")
        })?;
    if item.state != "open" {
        return Err(AppError::invalid("rectification_done", "action", "该整改事项已完成"));
    }
    let note = parse_text(&input.note, "note", 2000)?;
    if note.is_empty() {
        return Err(AppError::invalid("missing_field", "note", "请填写整改情况"));
    }
    let evidence = parse_text(&input.evidence, "evidence", 2000)?;
    let detail = match input.action.as_str() {
        "progress" => EventDetail::RectificationProgress { note, evidence },
        "done" => {
            if evidence.is_empty() {
                return Err(AppError::invalid("missing_field", "evidence", "记录整改完成须附佐证（如文件编号、照片、修订后的办事指南）"));
            }
            EventDetail::RectificationDone { note, evidence }
        }
        _ => return Err(AppError::invalid("invalid_action", "action", "action 应为 progress（整改进展）或 done（整改完成）")),
    };
    let event = CaseEvent::new(id, caller.actor(), Timestamp::now(), summary.state, &detail);
    app.db.append_case_event(&event, summary.state, None).await?;
    get_case(app, caller, id).await
}

/// The 台账 of the caller's units: open items by deadline, then the done ones.
#[tracing::instrument(skip_all)]
pub async fn ledger(app: &App, caller: &Caller, unit: Option<&str>) -> AppResult<Vec<RectificationOut>> {
    let units = app.scoped_units(caller, Act::ReadCases, unit)?;
    let master = app.master();
    Ok(app
        .db
        .rectifications(&units)
        .await?
        .iter()
        .map(|r| RectificationOut { unit_name: master.unit_name(&r.unit_code), ..item_out(r) })
        .collect())
}

/// Escalates each open item past its deadline, once per item and deadline, on any number of nodes (a flag in
/// the event's transaction). Returns how many this node escalated.
#[tracing::instrument(skip_all)]
pub async fn sweep_overdue(app: &App) -> AppResult<usize> {
    let now = Timestamp::now();
    let master = app.master();
    let mut marked = 0;
    for r in app.db.rectifications_overdue(now.biz_day()).await? {
        let Some((summary, _)) = app.db.get_case(&r.case_id).await? else { continue };
        let detail = EventDetail::RectificationOverdue { rectify_by: r.rectify_by, escalated_to: Some(master.top_of(&r.unit_code)) };
        let event = CaseEvent::new(&r.case_id, "system", now, summary.state, &detail);
        let flag = format!("rectify_overdue_{}", r.rectify_by.key());
        match app.db.append_case_event_once(&event, summary.state, None, Some(&flag)).await {
            Ok(Some(_)) => marked += 1,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, case = %r.case_id, "could not escalate an overdue rectification"),
        }
    }
    Ok(marked)
}
