//! 复核 (S-14): staff who think a 不满意/非常不满意 untrue may apply. A unit stationed in the county hall gives its
//! preliminary opinion and the county bureau decides; any other unit decides itself. Upheld: the rating is marked
//! 不属实 by a new record and leaves every statistic; it is never deleted.

use crate::error::DomainError;
use crate::ids::parse_text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// 驻厅单位: unit's preliminary opinion → county bureau decides
    Hall,
    /// other units (towns, departments outside the hall): the unit decides
    Unit,
}

impl Route {
    pub fn for_unit(hall_stationed: bool) -> Self {
        if hall_stationed { Route::Hall } else { Route::Unit }
    }
    pub fn code(self) -> &'static str {
        match self {
            Route::Hall => "hall",
            Route::Unit => "unit",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Route::Hall, Route::Unit].into_iter().find(|r| r.code() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppealState {
    /// waiting for the unit (its preliminary opinion on the hall route, its decision otherwise)
    PendingUnit,
    /// hall route: the unit agreed; waiting for the county bureau
    PendingBureau,
    Upheld,
    Rejected,
}

impl AppealState {
    pub fn code(self) -> &'static str {
        match self {
            AppealState::PendingUnit => "pending_unit",
            AppealState::PendingBureau => "pending_bureau",
            AppealState::Upheld => "upheld",
            AppealState::Rejected => "rejected",
        }
    }
    /// Waiting for the unit's or the bureau's decision.
    pub fn is_pending(self) -> bool {
        matches!(self, AppealState::PendingUnit | AppealState::PendingBureau)
    }

    pub fn parse(s: &str) -> Option<Self> {
        [AppealState::PendingUnit, AppealState::PendingBureau, AppealState::Upheld, AppealState::Rejected]
            .into_iter()
            .find(|a| a.code() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppealAction {
    Apply { reason: String, evidence: String },
    Opinion { agree: bool, note: String },
    Decide { upheld: bool, note: String },
}

/// Who is acting, as far as the rules of 复核 care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// belongs to the unit the case is about
    pub in_case_unit: bool,
    /// belongs to a town unit above a village station or town centre the case is about (the town decides
    /// for its centre and villages)
    pub town_above: bool,
    /// is that unit's approver (单位负责人)
    pub unit_approver: bool,
    /// is a county bureau administrator
    pub bureau: bool,
}

fn need(s: &str, field: &str) -> Result<(), DomainError> {
    if parse_text(s, field, 2000)?.is_empty() {
        return Err(DomainError::new("missing_field", field, format!("{field} 不能为空")));
    }
    Ok(())
}

fn forbidden(msg: &str) -> DomainError {
    DomainError::general("appeal_forbidden", msg)
}

/// The state after `action`, or the rule it breaks. `current` is `None` before any application.
pub fn apply(current: Option<AppealState>, route: Route, actor: Actor, action: &AppealAction) -> Result<AppealState, DomainError> {
    use AppealState::*;
    match (current, action) {
        (None, AppealAction::Apply { reason, evidence }) => {
            if !actor.in_case_unit {
                return Err(forbidden("只有被评价单位的工作人员可以申请复核"));
            }
            need(reason, "reason")?;
            need(evidence, "evidence")?;
            Ok(PendingUnit)
        }
        (Some(_), AppealAction::Apply { .. }) => Err(DomainError::new("appeal_exists", "action", "该差评已申请过复核")),
        (Some(PendingUnit), AppealAction::Opinion { agree, note }) => {
            if route != Route::Hall {
                return Err(DomainError::new("appeal_wrong_step", "action", "非驻厅单位由本单位直接核准，无需初步意见"));
            }
            if !(actor.in_case_unit && actor.unit_approver) {
                return Err(forbidden("初步复核意见须由被评价单位负责人提出"));
            }
            need(note, "note")?;
            Ok(if *agree { PendingBureau } else { Rejected })
        }
        (Some(PendingUnit), AppealAction::Decide { upheld, note }) => {
            if route == Route::Hall {
                return Err(forbidden("驻厅单位的复核须先由本单位提出初步意见，再报县行政审批服务局核准"));
            }
            if !((actor.in_case_unit || actor.town_above) && actor.unit_approver) {
                return Err(forbidden("非驻厅单位的复核须由本单位负责人（便民服务站由所在镇）核准"));
            }
            need(note, "note")?;
            Ok(if *upheld { Upheld } else { Rejected })
        }
        (Some(PendingBureau), AppealAction::Decide { upheld, note }) => {
            if !actor.bureau {
                return Err(forbidden("驻厅单位的复核须由县行政审批服务局核准"));
            }
            need(note, "note")?;
            Ok(if *upheld { Upheld } else { Rejected })
        }
        (None, _) => Err(DomainError::new("appeal_not_found", "action", "该差评尚未申请复核")),
        (Some(_), _) => Err(DomainError::new("appeal_wrong_step", "action", "复核已处于其他环节或已办结")),
    }
}

/// Working days a pending application stood the reply clock still: after the day it was made, up to today.
pub fn days_pending(cal: &crate::work_calendar::WorkCalendar, applied_on: time::Date, today: time::Date) -> i64 {
    let from = applied_on.next_day().unwrap_or(today);
    cal.working_days_between(from, today)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAFF: Actor = Actor { in_case_unit: true, town_above: false, unit_approver: false, bureau: false };
    const APPROVER: Actor = Actor { in_case_unit: true, town_above: false, unit_approver: true, bureau: false };
    const BUREAU: Actor = Actor { in_case_unit: false, town_above: false, unit_approver: false, bureau: true };
    const OUTSIDER: Actor = Actor { in_case_unit: false, town_above: false, unit_approver: true, bureau: false };
    const TOWN_APPROVER: Actor = Actor { in_case_unit: false, town_above: true, unit_approver: true, bureau: false };

    fn apply_() -> AppealAction {
        AppealAction::Apply { reason: "评价人当日未到窗口".into(), evidence: "叫号记录与监控截图".into() }
    }

    #[test]
    fn hall_route_needs_the_unit_then_the_bureau() {
        let s = apply(None, Route::Hall, STAFF, &apply_()).unwrap();
        assert_eq!(s, AppealState::PendingUnit);
        let decide = AppealAction::Decide { upheld: true, note: "核实不属实".into() };
        assert_eq!(apply(Some(s), Route::Hall, APPROVER, &decide).unwrap_err().code, "appeal_forbidden", "the unit cannot decide alone");
        assert_eq!(apply(Some(s), Route::Hall, BUREAU, &decide).unwrap_err().code, "appeal_forbidden", "the bureau waits for the unit");
        let opinion = AppealAction::Opinion { agree: true, note: "情况属实，建议核准".into() };
        assert_eq!(apply(Some(s), Route::Hall, STAFF, &opinion).unwrap_err().code, "appeal_forbidden");
        let s = apply(Some(s), Route::Hall, APPROVER, &opinion).unwrap();
        assert_eq!(s, AppealState::PendingBureau);
        assert_eq!(apply(Some(s), Route::Hall, APPROVER, &decide).unwrap_err().code, "appeal_forbidden");
        assert_eq!(apply(Some(s), Route::Hall, BUREAU, &decide).unwrap(), AppealState::Upheld);
        let reject = AppealAction::Decide { upheld: false, note: "证据不足".into() };
        assert_eq!(apply(Some(s), Route::Hall, BUREAU, &reject).unwrap(), AppealState::Rejected);
        let no = AppealAction::Opinion { agree: false, note: "不同意".into() };
        assert_eq!(apply(Some(AppealState::PendingUnit), Route::Hall, APPROVER, &no).unwrap(), AppealState::Rejected);
    }

    #[test]
    fn other_units_decide_themselves() {
        let s = apply(None, Route::Unit, STAFF, &apply_()).unwrap();
        let opinion = AppealAction::Opinion { agree: true, note: "x".into() };
        assert_eq!(apply(Some(s), Route::Unit, APPROVER, &opinion).unwrap_err().code, "appeal_wrong_step");
        let decide = AppealAction::Decide { upheld: false, note: "评价属实".into() };
        assert_eq!(apply(Some(s), Route::Unit, OUTSIDER, &decide).unwrap_err().code, "appeal_forbidden");
        assert_eq!(apply(Some(s), Route::Unit, APPROVER, &decide).unwrap(), AppealState::Rejected);
        // A village station's 复核 is decided by its town's approver.
        assert_eq!(apply(Some(s), Route::Unit, TOWN_APPROVER, &decide).unwrap(), AppealState::Rejected);
        let hall = apply(None, Route::Hall, STAFF, &apply_()).unwrap();
        let opinion = AppealAction::Opinion { agree: true, note: "x".into() };
        assert_eq!(apply(Some(hall), Route::Hall, TOWN_APPROVER, &opinion).unwrap_err().code, "appeal_forbidden");
        assert_eq!(apply(Some(AppealState::Rejected), Route::Unit, APPROVER, &decide).unwrap_err().code, "appeal_wrong_step");
    }

    #[test]
    fn who_may_apply_and_what_it_needs() {
        assert_eq!(apply(None, Route::Unit, OUTSIDER, &apply_()).unwrap_err().code, "appeal_forbidden");
        let empty = AppealAction::Apply { reason: "x".into(), evidence: " ".into() };
        assert_eq!(apply(None, Route::Unit, STAFF, &empty).unwrap_err().code, "missing_field");
        assert_eq!(apply(Some(AppealState::PendingUnit), Route::Unit, STAFF, &apply_()).unwrap_err().code, "appeal_exists");
        let d = AppealAction::Decide { upheld: true, note: "x".into() };
        assert_eq!(apply(None, Route::Unit, APPROVER, &d).unwrap_err().code, "appeal_not_found");
    }
}
