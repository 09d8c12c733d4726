//! 复核 of a bad review (S-14), through staff sessions only. Hall-stationed unit: apply → the unit approver's
//! preliminary opinion → the county bureau's decision; other units: apply → the unit approver's decision.
//! Upheld: the rating is marked 不属实 (a new ledger record), leaves every statistic at once, and the case closes.

use hcp_domain::access::{Act, Principal};
use hcp_domain::appeal::{Actor, AppealAction, AppealState, Route, days_pending};
use hcp_domain::case_event::EventDetail;
use hcp_domain::case_flow::CaseState;
use hcp_domain::cases::CaseKind;
use hcp_domain::records::{CaseEvent, Invalidation};
use hcp_domain::{BizDay, Timestamp};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::App;
use crate::caller::Caller;
use crate::cases::{CaseDetail, case_file, get_case};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AppealIn {
    /// a staff member of the rated unit applies, with the reason and the evidence
    Apply { reason: String, evidence: String },
    /// hall-stationed units: the unit's approver gives the preliminary opinion
    Opinion { agree: bool, note: String },
    /// the county bureau (hall-stationed units) or the unit's approver (other units) decides
    Decide { upheld: bool, note: String },
}

impl AppealIn {
    fn action(&self) -> AppealAction {
        match self {
            AppealIn::Apply { reason, evidence } => AppealAction::Apply { reason: reason.clone(), evidence: evidence.clone() },
            AppealIn::Opinion { agree, note } => AppealAction::Opinion { agree: *agree, note: note.clone() },
            AppealIn::Decide { upheld, note } => AppealAction::Decide { upheld: *upheld, note: note.clone() },
        }
    }
}

fn appeal_forbidden(e: AppError) -> AppError {
    match e {
        AppError::Forbidden(d) if d.code == "wrong_role" => AppError::forbidden("appeal_forbidden", "该角色不能审核复核申请"),
        other => other,
    }
}

/// One step of a 复核 by a staff member (API or back-office page).
#[tracing::instrument(skip_all)]
pub async fn appeal_step(app: &App, caller: &Caller, id: &str, input: &AppealIn) -> AppResult<CaseDetail> {
    let user = match caller {
        Caller::Staff(u) => u.clone(),
        Caller::Anonymous => return Err(AppError::Unauthenticated),
        Caller::Key(_) => return Err(AppError::forbidden("wrong_credential", "复核须由工作人员登录办理")),
    };
    let file = case_file(app, caller, id).await?;
    let (summary, events) = (&file.summary, &file.events);
    let target = file.target();
    let principal = caller.principal();
    let bureau = app.allow(&principal, Act::DecideAppealAsBureau, Some(&target)).is_ok();
    match input {
        AppealIn::Apply { .. } => app.authorize_found(caller, Act::ApplyAppeal, &target, "工单")?,
        _ if bureau => {}
        _ => app.authorize_found(caller, Act::ReviewAppeal, &target, "工单").map_err(appeal_forbidden)?,
    }
    if summary.case.kind != CaseKind::BadReview || summary.case.rating_id.is_none() {
        return Err(AppError::invalid("appeal_not_applicable", "action", "只有差评可以申请复核"));
    }
    // The route is fixed when the application is made.
    let route = match file.appeal {
        Some(a) => a.route,
        None => Route::for_unit(app.master().units.get(&summary.case.unit_code).is_some_and(|u| u.hall_stationed)),
    };
    let current = file.appeal.map(|a| a.state);
    if matches!(input, AppealIn::Apply { .. }) && summary.state == CaseState::Closed {
        return Err(AppError::invalid("case_closed", "action", "工单已办结，不能再申请复核"));
    }
    let answering = app.master().answering_units(&summary.case.unit_code);
    let actor = Actor {
        in_case_unit: user.unit_code == summary.case.unit_code,
        town_above: answering.iter().skip(1).any(|u| *u == user.unit_code),
        unit_approver: matches!(&principal, Principal::Staff { role: hcp_domain::access::Role::UnitApprover, .. }),
        bureau,
    };
    let next = hcp_domain::appeal::apply(current, route, actor, &input.action())
        .map_err(|e| if e.code == "appeal_forbidden" { AppError::Forbidden(e) } else { AppError::Invalid(e) })?;
    // Where configuration says a pending 复核 stops the clock, a rejection gives back the working days it was
    // pending (after the day of application, up to today) by moving the reply deadline.
    let now = Timestamp::now();
    let mut reply_change = None;
    let mut given_back = None;
    if next == AppealState::Rejected && app.config.appeal_stops_clock && summary.state != CaseState::Closed {
        let applied = events.iter().rev().find(|e| e.kind == hcp_domain::case_event::EventKind::AppealApplied);
        if let Some(applied) = applied {
            let cal = app.calendar().await?;
            let paused = days_pending(&cal, Timestamp(applied.at).biz_date(), now.biz_date());
            if paused > 0 {
                let old = summary.reply_by;
                let new = cal.add_working_days(old.date(), paused, "reply_by").map(|r| BizDay::from(r.date)).unwrap_or(old);
                given_back = Some((paused, new));
                reply_change = Some((old, new));
            }
        }
    }
    let detail = match input {
        AppealIn::Apply { reason, evidence } => {
            EventDetail::AppealApplied { reason: reason.clone(), evidence: evidence.clone(), route, appeal_state: next }
        }
        AppealIn::Opinion { agree, note } => EventDetail::AppealOpinion { agree: *agree, note: note.clone(), appeal_state: next },
        AppealIn::Decide { upheld, note } => EventDetail::AppealDecided {
            upheld: *upheld,
            note: note.clone(),
            rating_marked_untrue: *upheld,
            appeal_state: next,
            clock_stopped_working_days: given_back.map(|g| g.0),
            new_reply_by: given_back.map(|g| g.1),
        },
    };
    let upheld = next == AppealState::Upheld;
    let state_after = if upheld { CaseState::Closed } else { summary.state };
    let event = CaseEvent::new(&summary.case.id, caller.actor(), now, state_after, &detail);
    let invalidation = summary.case.rating_id.as_ref().filter(|_| upheld).map(|r| Invalidation {
        rating_id: r.clone(),
        case_id: summary.case.id.clone(),
        decided_by: event.actor.clone(),
        at: event.at,
    });
    app.db.appeal_step(&event, route, current, next, invalidation.as_ref(), reply_change).await?;
    get_case(app, caller, id).await
}

/// How a case page describes where the 复核 stands.
pub fn appeal_label(appeal: Option<hcp_domain::records::AppealRow>) -> &'static str {
    use hcp_domain::records::AppealRow;
    match appeal {
        None => "未申请复核。",
        Some(AppealRow { route: Route::Hall, state: AppealState::PendingUnit }) => "已申请复核，待本单位审核人初审。",
        Some(AppealRow { state: AppealState::PendingUnit, .. }) => "已申请复核，待本单位审核人决定。",
        Some(AppealRow { state: AppealState::PendingBureau, .. }) => "单位已提出初步意见，待县政务服务管理部门决定。",
        Some(AppealRow { state: AppealState::Upheld, .. }) => "复核已支持：该差评认定不属实，不计入统计。",
        Some(AppealRow { state: AppealState::Rejected, .. }) => "复核未获支持：维持差评，工单继续办理。",
    }
}
