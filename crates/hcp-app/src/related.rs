//! Cases about the same matter: a complaint filed after a bad review of the same matter (or the other way round)
//! is one concern. The case page shows them together, and one can be closed into the other, with the merge on
//! the ledger of both.

use hcp_domain::Timestamp;
use hcp_domain::access::{Act, Target};
use hcp_domain::case_event::EventDetail;
use hcp_domain::case_flow::CaseState;
use hcp_domain::ids::parse_text;
use hcp_domain::records::CaseEvent;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::App;
use crate::caller::Caller;
use crate::cases::{CaseDetail, get_case, load_case};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeIn {
    /// the case this one is closed into (same matter, still open)
    pub into: String,
    /// why they are one concern
    pub note: String,
}

/// Closes case `id` into case `input.into`: both about the same matter, neither closed, and both handled by the
/// caller. The case that carries on is returned.
#[tracing::instrument(skip_all)]
pub async fn merge(app: &App, caller: &Caller, id: &str, input: &MergeIn) -> AppResult<CaseDetail> {
    app.authorize(caller, Act::HandleCase)?;
    let (from, _) = load_case(app, id).await?;
    app.authorize_found(caller, Act::HandleCase, &Target::unit(&from.case.unit_code), "工单")?;
    let (into, _) = load_case(app, &input.into).await.map_err(|_| AppError::invalid("unknown_reference", "into", "要并入的工单不存在"))?;
    if app.authorize_in(caller, Act::HandleCase, &into.case.unit_code).is_err() {
        return Err(AppError::invalid("unknown_reference", "into", "要并入的工单不存在"));
    }
    if from.case.id == into.case.id {
        return Err(AppError::invalid("merge_self", "into", "不能并入工单自身"));
    }
    if from.case.matter_no.is_empty() || from.case.matter_no != into.case.matter_no {
        return Err(AppError::invalid("merge_other_matter", "into", "只有同一办件的工单可以合并"));
    }
    if from.state == CaseState::Closed || into.state == CaseState::Closed {
        return Err(AppError::invalid("case_closed", "into", "已办结的工单不能合并"));
    }
    let note = parse_text(&input.note, "note", 1000)?;
    if note.is_empty() {
        return Err(AppError::invalid("missing_field", "note", "请说明合并理由"));
    }
    let now = Timestamp::now();
    let closed = CaseEvent::new(
        &from.case.id,
        caller.actor(),
        now,
        CaseState::Closed,
        &EventDetail::Merged { into: into.case.id.clone(), note: note.clone() },
    );
    let carried =
        CaseEvent::new(&into.case.id, caller.actor(), now, into.state, &EventDetail::MergedIn { from: from.case.id.clone(), note });
    if !app.db.merge_cases(&closed, from.state, &carried, into.state).await? {
        return Err(AppError::conflict("case_changed", "工单状态已变化，请刷新后重试", None));
    }
    get_case(app, caller, &into.case.id).await
}
