//! The life of a case as an explicit state machine (S-9 … S-13): respond → callbacks → one of four outcomes →
//! reply (filed with the supervising department) → the rater's verdict → closed, or reopened when the rater is
//! not satisfied (within a limit). Extensions only before the reply deadline has passed.
//!
//! Pure: `apply(state, facts, limits, action, today)` says what the new state is or which rule the action breaks.

use time::Date;

use crate::error::DomainError;
use crate::ids::parse_text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// arrived, waiting for the unit's response (1 working day)
    Open,
    /// the unit has responded and is verifying (callbacks) and rectifying
    Responded,
    /// an outcome is recorded, the reply is due
    Decided,
    /// the reply has gone to the rater and been filed; waiting for the rater's verdict
    Replied,
    Closed,
}

impl CaseState {
    pub fn code(self) -> &'static str {
        match self {
            CaseState::Open => "open",
            CaseState::Responded => "responded",
            CaseState::Decided => "decided",
            CaseState::Replied => "replied",
            CaseState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [CaseState::Open, CaseState::Responded, CaseState::Decided, CaseState::Replied, CaseState::Closed]
            .into_iter()
            .find(|c| c.code() == s)
    }

    pub const CODES: [&'static str; 5] = ["open", "responded", "decided", "replied", "closed"];

    /// A state asked for in a query (`?state=`).
    pub fn parse_query(s: &str, field: &str) -> Result<Self, DomainError> {
        Self::parse(s).ok_or_else(|| DomainError::new("invalid_state", field, format!("state 应为 {}", Self::CODES.join("、"))))
    }

    /// How staff see it in their queue.
    pub fn label(self) -> &'static str {
        match self {
            CaseState::Open => "待响应",
            CaseState::Responded => "核实整改中",
            CaseState::Decided => "待答复",
            CaseState::Replied => "待评价人反馈",
            CaseState::Closed => "已办结",
        }
    }

    /// How the rater sees it on their feedback page.
    pub fn rater_label(self) -> &'static str {
        match self {
            CaseState::Open => "已受理，待响应",
            CaseState::Responded => "核实整改中",
            CaseState::Decided => "已有处理结果，待答复",
            CaseState::Replied => "已答复，请您评价处理结果",
            CaseState::Closed => "已办结",
        }
    }

    /// Whether the unit still owes a reply (the reply deadline runs).
    pub fn awaits_reply(self) -> bool {
        matches!(self, CaseState::Open | CaseState::Responded | CaseState::Decided)
    }
}

/// The four outcomes of S-12.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 立行立改: clear and reasonable, fixed at once — what was fixed
    FixedAtOnce { fixed: String },
    /// 建立台账、限期整改: complex — the reason and the rectification deadline
    Ledger { reason: String, rectify_by: Date },
    /// 解释说明: no legal basis — the explanation and its legal basis
    Explained { explanation: String, legal_basis: String },
    /// 不予采纳: verified invalid — the evidence
    Invalid { evidence: String },
}

impl Outcome {
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::FixedAtOnce { .. } => OutcomeKind::FixedAtOnce,
            Outcome::Ledger { .. } => OutcomeKind::Ledger,
            Outcome::Explained { .. } => OutcomeKind::Explained,
            Outcome::Invalid { .. } => OutcomeKind::Invalid,
        }
    }

    pub fn code(&self) -> &'static str {
        self.kind().code()
    }
}

/// The four outcomes, without their details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    FixedAtOnce,
    Ledger,
    Explained,
    Invalid,
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 4] = [OutcomeKind::FixedAtOnce, OutcomeKind::Ledger, OutcomeKind::Explained, OutcomeKind::Invalid];

    pub fn code(self) -> &'static str {
        match self {
            OutcomeKind::FixedAtOnce => "fixed_at_once",
            OutcomeKind::Ledger => "ledger",
            OutcomeKind::Explained => "explained",
            OutcomeKind::Invalid => "invalid",
        }
    }

    pub fn parse(s: &str, field: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|o| o.code() == s)
            .ok_or_else(|| DomainError::new("invalid_outcome", field, "outcome 应为 fixed_at_once、ledger、explained 或 invalid"))
    }

    pub fn label(self) -> &'static str {
        match self {
            OutcomeKind::FixedAtOnce => "立行立改",
            OutcomeKind::Ledger => "建立台账、限期整改",
            OutcomeKind::Explained => "解释说明",
            OutcomeKind::Invalid => "经核实不予采纳",
        }
    }

    /// 立行立改 and 台账 count as rectified.
    pub fn rectifies(self) -> bool {
        matches!(self, OutcomeKind::FixedAtOnce | OutcomeKind::Ledger)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Satisfied,
    BasicallySatisfied,
    Unsatisfied,
}

impl Verdict {
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Satisfied => "satisfied",
            Verdict::BasicallySatisfied => "basically_satisfied",
            Verdict::Unsatisfied => "unsatisfied",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Satisfied => "满意",
            Verdict::BasicallySatisfied => "基本满意",
            Verdict::Unsatisfied => "不满意",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "satisfied" => Ok(Verdict::Satisfied),
            "basically_satisfied" => Ok(Verdict::BasicallySatisfied),
            "unsatisfied" => Ok(Verdict::Unsatisfied),
            _ => Err(DomainError::new(
                "invalid_verdict",
                "verdict",
                "verdict 应为 satisfied（满意）、basically_satisfied（基本满意）或 unsatisfied（不满意）",
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Respond {
        note: String,
    },
    /// 回访核实: who called, how, whether the rater was reached, what was said
    Callback {
        method: String,
        reached: bool,
        summary: String,
    },
    Decide(Outcome),
    /// 延期: only before `reply_by` has passed; a later date and a reason; the rater is told
    Extend {
        new_reply_by: Date,
        reason: String,
    },
    /// 答复: the reply to the rater, filed (备案) with the supervising department
    Reply {
        text: String,
    },
    Verdict(Verdict),
}

impl Action {
    pub fn code(&self) -> &'static str {
        match self {
            Action::Respond { .. } => "responded",
            Action::Callback { .. } => "callback",
            Action::Decide(_) => "outcome",
            Action::Extend { .. } => "extended",
            Action::Reply { .. } => "replied",
            Action::Verdict(_) => "verdict",
        }
    }
}

/// What the rules need to know about a case besides its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseFacts {
    pub real_name: bool,
    pub callbacks: u32,
    pub reopened: u32,
    pub extensions: u32,
    pub reply_by: Date,
    /// the furthest an extension may move the reply deadline (the jurisdiction's cap, counted from arrival)
    pub latest_reply_by: Date,
}

/// The jurisdiction's limits on the loop (configuration; defaults follow the practice seen elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopLimits {
    /// how many times a rater's 不满意 sends the case back (then it closes as not satisfied)
    pub max_reopen: u32,
    /// how many extensions one case may have
    pub max_extensions: u32,
    /// the reply deadline may be extended up to this many working days after arrival
    pub max_reply_days: u32,
}

impl Default for LoopLimits {
    fn default() -> Self {
        LoopLimits { max_reopen: MAX_REOPEN, max_extensions: 1, max_reply_days: 15 }
    }
}

pub const MAX_REOPEN: u32 = 1;

fn wrong(action: &Action, state: CaseState) -> DomainError {
    let now = state.label();
    DomainError::new("transition_not_allowed", "action", format!("工单当前状态为“{now}”，不能进行“{}”", action.code()))
}

fn need_text(s: &str, field: &str, max: usize) -> Result<(), DomainError> {
    let t = parse_text(s, field, max)?;
    if t.is_empty() {
        return Err(DomainError::new("missing_field", field, format!("{field} 不能为空")));
    }
    Ok(())
}

/// Checks an action against the case and returns the state after it.
pub fn apply(state: CaseState, facts: CaseFacts, limits: LoopLimits, action: &Action, today: Date) -> Result<CaseState, DomainError> {
    use CaseState::*;
    match (state, action) {
        (Open, Action::Respond { note }) => {
            need_text(note, "note", 1000)?;
            Ok(Responded)
        }
        (Responded | Decided | Replied, Action::Callback { method, summary, .. }) => {
            need_text(method, "method", 50)?;
            need_text(summary, "summary", 2000)?;
            Ok(state)
        }
        (Responded, Action::Decide(outcome)) => {
            if facts.real_name && facts.callbacks == 0 {
                return Err(DomainError::new("callback_required", "action", "实名差评须先记录回访核实，才能确定处理结果"));
            }
            match outcome {
                Outcome::FixedAtOnce { fixed } => need_text(fixed, "fixed", 2000)?,
                Outcome::Ledger { reason, rectify_by } => {
                    need_text(reason, "reason", 2000)?;
                    if *rectify_by <= today {
                        return Err(DomainError::new("invalid_date", "rectify_by", "限期整改的期限必须晚于今天"));
                    }
                }
                Outcome::Explained { explanation, legal_basis } => {
                    need_text(explanation, "explanation", 2000)?;
                    need_text(legal_basis, "legal_basis", 500)?;
                }
                Outcome::Invalid { evidence } => need_text(evidence, "evidence", 2000)?,
            }
            Ok(Decided)
        }
        (Decided | Replied | Closed, Action::Decide(_)) => {
            Err(DomainError::new("outcome_already_recorded", "action", "该工单已有处理结果，不能再次确定"))
        }
        (Responded | Decided, Action::Extend { new_reply_by, reason }) => {
            if today > facts.reply_by {
                return Err(DomainError::new("deadline_passed", "new_reply_by", "答复期限已过，不能再申请延期（延期须在到期之前提出）"));
            }
            if facts.extensions >= limits.max_extensions {
                return Err(DomainError::new(
                    "extension_limit",
                    "action",
                    format!("该工单已延期 {} 次，达到上限，不能再延期", facts.extensions),
                ));
            }
            if *new_reply_by <= facts.reply_by {
                return Err(DomainError::new("invalid_date", "new_reply_by", "延期后的期限必须晚于原期限"));
            }
            if *new_reply_by > facts.latest_reply_by {
                return Err(DomainError::new(
                    "extension_too_long",
                    "new_reply_by",
                    format!(
                        "延期后的期限不能晚于 {}（自受理起 {} 个工作日）",
                        crate::timestamp::format_date(facts.latest_reply_by),
                        limits.max_reply_days
                    ),
                ));
            }
            need_text(reason, "reason", 1000)?;
            Ok(state)
        }
        (Decided, Action::Reply { text }) => {
            need_text(text, "text", 2000)?;
            Ok(Replied)
        }
        (Open | Responded, Action::Reply { .. }) => Err(DomainError::new("outcome_required", "action", "尚未确定处理结果，不能答复")),
        (Replied, Action::Verdict(v)) => match v {
            Verdict::Satisfied | Verdict::BasicallySatisfied => Ok(Closed),
            Verdict::Unsatisfied if facts.reopened < limits.max_reopen => Ok(Responded),
            Verdict::Unsatisfied => Ok(Closed),
        },
        (s, a) => Err(wrong(a, s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_date;

    const L: LoopLimits = LoopLimits { max_reopen: MAX_REOPEN, max_extensions: 1, max_reply_days: 15 };

    fn d(s: &str) -> Date {
        parse_date(s, "d").unwrap()
    }

    fn facts() -> CaseFacts {
        CaseFacts { real_name: true, callbacks: 0, reopened: 0, extensions: 0, reply_by: d("2026-12-07"), latest_reply_by: d("2026-12-21") }
    }

    fn respond() -> Action {
        Action::Respond { note: "已安排专人核实".into() }
    }

    fn callback() -> Action {
        Action::Callback { method: "电话".into(), reached: true, summary: "已向评价人致歉并说明".into() }
    }

    #[test]
    fn the_whole_path_for_each_outcome() {
        let today = d("2026-12-01");
        let outcomes = [
            Outcome::FixedAtOnce { fixed: "已调整窗口排班".into() },
            Outcome::Ledger { reason: "需改造系统".into(), rectify_by: d("2027-01-31") },
            Outcome::Explained {
                explanation: "该材料为法定要件".into(), legal_basis: "《行政许可法》第三十一条".into()
            },
            Outcome::Invalid { evidence: "监控录像显示当日未到窗口".into() },
        ];
        for o in outcomes {
            let mut f = facts();
            let mut s = apply(CaseState::Open, f, L, &respond(), today).unwrap();
            assert_eq!(s, CaseState::Responded);
            s = apply(s, f, L, &callback(), today).unwrap();
            f.callbacks = 1;
            s = apply(s, f, L, &Action::Decide(o.clone()), today).unwrap();
            assert_eq!(s, CaseState::Decided);
            assert_eq!(apply(s, f, L, &Action::Decide(o), today).unwrap_err().code, "outcome_already_recorded");
            s = apply(s, f, L, &Action::Reply { text: "整改情况如下……".into() }, today).unwrap();
            assert_eq!(s, CaseState::Replied);
            s = apply(s, f, L, &Action::Verdict(Verdict::BasicallySatisfied), today).unwrap();
            assert_eq!(s, CaseState::Closed);
        }
    }

    #[test]
    fn out_of_order_and_missing_steps_are_refused() {
        let today = d("2026-12-01");
        let f = facts();
        assert_eq!(apply(CaseState::Open, f, L, &callback(), today).unwrap_err().code, "transition_not_allowed");
        assert_eq!(apply(CaseState::Open, f, L, &Action::Reply { text: "x".into() }, today).unwrap_err().code, "outcome_required");
        assert_eq!(apply(CaseState::Responded, f, L, &Action::Reply { text: "x".into() }, today).unwrap_err().code, "outcome_required");
        assert_eq!(apply(CaseState::Responded, f, L, &respond(), today).unwrap_err().code, "transition_not_allowed");
        // Real-name: no outcome without a documented callback.
        let fixed = Action::Decide(Outcome::FixedAtOnce { fixed: "x".into() });
        assert_eq!(apply(CaseState::Responded, f, L, &fixed, today).unwrap_err().code, "callback_required");
        let anonymous = CaseFacts { real_name: false, ..f };
        assert_eq!(apply(CaseState::Responded, anonymous, L, &fixed, today).unwrap(), CaseState::Decided);
        // Each outcome needs what it needs.
        let f1 = CaseFacts { callbacks: 1, ..f };
        let no_basis = Action::Decide(Outcome::Explained { explanation: "x".into(), legal_basis: " ".into() });
        assert_eq!(apply(CaseState::Responded, f1, L, &no_basis, today).unwrap_err().code, "missing_field");
        let past = Action::Decide(Outcome::Ledger { reason: "x".into(), rectify_by: d("2026-11-30") });
        assert_eq!(apply(CaseState::Responded, f1, L, &past, today).unwrap_err().code, "invalid_date");
        assert_eq!(apply(CaseState::Closed, f1, L, &respond(), today).unwrap_err().code, "transition_not_allowed");
        assert_eq!(apply(CaseState::Open, f1, L, &Action::Verdict(Verdict::Satisfied), today).unwrap_err().code, "transition_not_allowed");
    }

    #[test]
    fn extensions_only_before_the_deadline() {
        let f = facts();
        let ext = Action::Extend { new_reply_by: d("2026-12-14"), reason: "需上级部门会商".into() };
        assert_eq!(apply(CaseState::Responded, f, L, &ext, d("2026-12-07")).unwrap(), CaseState::Responded, "on the last day itself");
        assert_eq!(apply(CaseState::Responded, f, L, &ext, d("2026-12-08")).unwrap_err().code, "deadline_passed");
        let earlier = Action::Extend { new_reply_by: d("2026-12-04"), reason: "x".into() };
        assert_eq!(apply(CaseState::Responded, f, L, &earlier, d("2026-12-01")).unwrap_err().code, "invalid_date");
        assert_eq!(apply(CaseState::Replied, f, L, &ext, d("2026-12-01")).unwrap_err().code, "transition_not_allowed");
        // Within the jurisdiction's limits: how often, and how far.
        let once = CaseFacts { extensions: 1, ..f };
        assert_eq!(apply(CaseState::Responded, once, L, &ext, d("2026-12-01")).unwrap_err().code, "extension_limit");
        let two = LoopLimits { max_extensions: 2, ..L };
        assert_eq!(apply(CaseState::Responded, once, two, &ext, d("2026-12-01")).unwrap(), CaseState::Responded);
        let far = Action::Extend { new_reply_by: d("2026-12-22"), reason: "x".into() };
        assert_eq!(apply(CaseState::Responded, f, L, &far, d("2026-12-01")).unwrap_err().code, "extension_too_long");
    }

    #[test]
    fn an_unsatisfied_rater_reopens_once() {
        let today = d("2026-12-01");
        let f = CaseFacts { callbacks: 1, ..facts() };
        let un = Action::Verdict(Verdict::Unsatisfied);
        assert_eq!(apply(CaseState::Replied, f, L, &un, today).unwrap(), CaseState::Responded);
        let again = CaseFacts { reopened: MAX_REOPEN, ..f };
        assert_eq!(apply(CaseState::Replied, again, L, &un, today).unwrap(), CaseState::Closed);
        let twice = LoopLimits { max_reopen: 2, ..L };
        assert_eq!(apply(CaseState::Replied, again, twice, &un, today).unwrap(), CaseState::Responded, "the limit is configuration");
        assert_eq!(Verdict::parse("meh").unwrap_err().code, "invalid_verdict");
    }
}
