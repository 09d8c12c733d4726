//! What each event of a case's history says, as one typed enum. It is stored as JSON with a `kind` tag (the
//! event's kind), and read back as the type everywhere: in the loop's rules, its metrics, the notices, the
//! rater's view and the back office. Records written before the tag existed (plain text, or JSON without
//! `kind`) are read with the kind of their row.

use serde::{Deserialize, Serialize};

use crate::appeal::{AppealState, Route};
use crate::bizday::BizDay;
use crate::case_flow::{Outcome, OutcomeKind, Verdict};
use crate::error::DomainError;
use crate::notices::Step;

/// The kinds of events, as stored in `case_events.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Opened,
    Responded,
    Callback,
    Outcome,
    Extended,
    Replied,
    Verdict,
    Overdue,
    DueWarning,
    AppealApplied,
    AppealOpinion,
    AppealDecided,
    ReasonsAdded,
    DeadlinesRecomputed,
    Merged,
    MergedIn,
    RectificationProgress,
    RectificationOverdue,
    RectificationDone,
}

impl EventKind {
    pub const ALL: [EventKind; 19] = [
        EventKind::Opened,
        EventKind::Responded,
        EventKind::Callback,
        EventKind::Outcome,
        EventKind::Extended,
        EventKind::Replied,
        EventKind::Verdict,
        EventKind::Overdue,
        EventKind::DueWarning,
        EventKind::AppealApplied,
        EventKind::AppealOpinion,
        EventKind::AppealDecided,
        EventKind::ReasonsAdded,
        EventKind::DeadlinesRecomputed,
        EventKind::Merged,
        EventKind::MergedIn,
        EventKind::RectificationProgress,
        EventKind::RectificationOverdue,
        EventKind::RectificationDone,
    ];

    pub fn code(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Responded => "responded",
            EventKind::Callback => "callback",
            EventKind::Outcome => "outcome",
            EventKind::Extended => "extended",
            EventKind::Replied => "replied",
            EventKind::Verdict => "verdict",
            EventKind::Overdue => "overdue",
            EventKind::DueWarning => "due_warning",
            EventKind::AppealApplied => "appeal_applied",
            EventKind::AppealOpinion => "appeal_opinion",
            EventKind::AppealDecided => "appeal_decided",
            EventKind::ReasonsAdded => "reasons_added",
            EventKind::DeadlinesRecomputed => "deadlines_recomputed",
            EventKind::Merged => "merged",
            EventKind::MergedIn => "merged_in",
            EventKind::RectificationProgress => "rectification_progress",
            EventKind::RectificationOverdue => "rectification_overdue",
            EventKind::RectificationDone => "rectification_done",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == s)
    }

    /// How the history names it.
    pub fn label(self) -> &'static str {
        match self {
            EventKind::Opened => "立案",
            EventKind::Responded => "响应",
            EventKind::Callback => "回访核实",
            EventKind::Outcome => "处理结果",
            EventKind::Extended => "延期",
            EventKind::Replied => "答复（已报备）",
            EventKind::Verdict => "评价人反馈",
            EventKind::Overdue => "超期督办",
            EventKind::DueWarning => "到期提醒",
            EventKind::AppealApplied => "申请复核",
            EventKind::AppealOpinion => "复核初审意见",
            EventKind::AppealDecided => "复核决定",
            EventKind::ReasonsAdded => "补充差评原因",
            EventKind::DeadlinesRecomputed => "期限重算",
            EventKind::Merged => "并入其他工单",
            EventKind::MergedIn => "合并工单",
            EventKind::RectificationProgress => "整改进展",
            EventKind::RectificationOverdue => "整改超期督办",
            EventKind::RectificationDone => "整改完成",
        }
    }
}

/// The details of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventDetail {
    Opened {
        note: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        findings: Option<String>,
    },
    Responded {
        note: String,
    },
    Callback {
        method: String,
        reached: bool,
        summary: String,
    },
    Outcome {
        #[serde(flatten)]
        outcome: OutcomeDetail,
    },
    Extended {
        new_reply_by: BizDay,
        reason: String,
        #[serde(default)]
        notify_rater: bool,
    },
    Replied {
        text: String,
        #[serde(default)]
        filed: bool,
    },
    Verdict {
        verdict: Verdict,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
        /// taken down by staff or a business system rather than given through the rater's own link
        #[serde(default)]
        conveyed_by_staff: bool,
    },
    Overdue {
        step: Step,
        deadline: BizDay,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        escalated_to: Option<String>,
        note: String,
    },
    DueWarning {
        step: Step,
        deadline: BizDay,
        note: String,
    },
    AppealApplied {
        reason: String,
        evidence: String,
        route: Route,
        appeal_state: AppealState,
    },
    AppealOpinion {
        agree: bool,
        note: String,
        appeal_state: AppealState,
    },
    AppealDecided {
        upheld: bool,
        note: String,
        #[serde(default)]
        rating_marked_untrue: bool,
        appeal_state: AppealState,
        /// working days the reply clock stood still while the application was pending (given back on rejection)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clock_stopped_working_days: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_reply_by: Option<BizDay>,
    },
    /// The reasons of a bad review given after its level: the hotline's next question, or an SMS reply to the
    /// follow-up listing reason codes. The rating itself is never changed.
    ReasonsAdded {
        /// reason codes of the catalogue, checked against the rating's level and channel
        reasons: Vec<String>,
        /// the channel they came through (`phone`, `sms`)
        via: String,
    },
    /// Deadlines computed across a year whose holiday notice was not yet loaded (Monday–Friday assumed),
    /// computed again once it was. Only the deadlines the case still runs on: the response deadline while it
    /// awaits a response, the reply deadline while nobody moved it (an extension's date was chosen by a person).
    DeadlinesRecomputed {
        /// the years whose notices were loaded
        years: Vec<i32>,
        respond_by: BizDay,
        reply_by: BizDay,
        previous_respond_by: BizDay,
        previous_reply_by: BizDay,
        /// still provisional (another year's notice is missing)
        provisional: bool,
    },
    /// This case and another about the same matter are one concern: this one is closed into the other, which
    /// carries on (a complaint about a matter already under a bad review, or the other way round).
    Merged {
        into: String,
        note: String,
    },
    /// Another case about the same matter was closed into this one.
    MergedIn {
        from: String,
        note: String,
    },
    /// A step of the rectification a 限期整改 outcome promised (the 台账), with what shows it.
    RectificationProgress {
        note: String,
        #[serde(default)]
        evidence: String,
    },
    /// The rectification's deadline passed while it was open; escalated to the top of the tree.
    RectificationOverdue {
        rectify_by: BizDay,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        escalated_to: Option<String>,
    },
    /// The unit recorded the rectification done; the rater is told.
    RectificationDone {
        note: String,
        #[serde(default)]
        evidence: String,
    },
}

/// The last eight characters of a case id, as people quote it.
pub fn short(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    chars[chars.len().saturating_sub(8)..].iter().collect()
}

/// An outcome as recorded: the outcome's own fields, tagged `outcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum OutcomeDetail {
    FixedAtOnce { fixed: String },
    Ledger { reason: String, rectify_by: BizDay },
    Explained { explanation: String, legal_basis: String },
    Invalid { evidence: String },
}

impl OutcomeDetail {
    pub fn kind(&self) -> OutcomeKind {
        match self {
            OutcomeDetail::FixedAtOnce { .. } => OutcomeKind::FixedAtOnce,
            OutcomeDetail::Ledger { .. } => OutcomeKind::Ledger,
            OutcomeDetail::Explained { .. } => OutcomeKind::Explained,
            OutcomeDetail::Invalid { .. } => OutcomeKind::Invalid,
        }
    }
}

impl From<&Outcome> for OutcomeDetail {
    fn from(o: &Outcome) -> Self {
        match o {
            Outcome::FixedAtOnce { fixed } => OutcomeDetail::FixedAtOnce { fixed: fixed.clone() },
            Outcome::Ledger { reason, rectify_by } => {
                OutcomeDetail::Ledger { reason: reason.clone(), rectify_by: BizDay::from(*rectify_by) }
            }
            Outcome::Explained { explanation, legal_basis } => {
                OutcomeDetail::Explained { explanation: explanation.clone(), legal_basis: legal_basis.clone() }
            }
            Outcome::Invalid { evidence } => OutcomeDetail::Invalid { evidence: evidence.clone() },
        }
    }
}

impl EventDetail {
    pub fn kind(&self) -> EventKind {
        match self {
            EventDetail::Opened { .. } => EventKind::Opened,
            EventDetail::Responded { .. } => EventKind::Responded,
            EventDetail::Callback { .. } => EventKind::Callback,
            EventDetail::Outcome { .. } => EventKind::Outcome,
            EventDetail::Extended { .. } => EventKind::Extended,
            EventDetail::Replied { .. } => EventKind::Replied,
            EventDetail::Verdict { .. } => EventKind::Verdict,
            EventDetail::Overdue { .. } => EventKind::Overdue,
            EventDetail::DueWarning { .. } => EventKind::DueWarning,
            EventDetail::AppealApplied { .. } => EventKind::AppealApplied,
            EventDetail::AppealOpinion { .. } => EventKind::AppealOpinion,
            EventDetail::AppealDecided { .. } => EventKind::AppealDecided,
            EventDetail::ReasonsAdded { .. } => EventKind::ReasonsAdded,
            EventDetail::DeadlinesRecomputed { .. } => EventKind::DeadlinesRecomputed,
            EventDetail::Merged { .. } => EventKind::Merged,
            EventDetail::MergedIn { .. } => EventKind::MergedIn,
            EventDetail::RectificationProgress { .. } => EventKind::RectificationProgress,
            EventDetail::RectificationOverdue { .. } => EventKind::RectificationOverdue,
            EventDetail::RectificationDone { .. } => EventKind::RectificationDone,
        }
    }

    /// The stored form (`case_events.note`).
    pub fn to_note(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored note back as the type. `kind` is the row's kind: it fills in the tag of records written
    /// before the tag was stored, and a note that is not JSON at all is the text of an opening.
    pub fn from_note(kind: EventKind, note: Option<&str>) -> Result<Self, DomainError> {
        let corrupt = |why: String| DomainError::new("corrupt_event", "note", format!("工单记录无法读取（{}）：{why}", kind.code()));
        let mut value = match note.map(serde_json::from_str::<serde_json::Value>) {
            Some(Ok(v @ serde_json::Value::Object(_))) => v,
            Some(_) | None if kind == EventKind::Opened => {
                return Ok(EventDetail::Opened { note: note.unwrap_or_default().to_string(), findings: None });
            }
            Some(Ok(_)) | Some(Err(_)) | None => return Err(corrupt("不是 JSON 对象".into())),
        };
        if let Some(map) = value.as_object_mut() {
            map.insert("kind".into(), serde_json::Value::String(kind.code().into()));
            // Older records kept every outcome field, most of them null.
            map.retain(|_, v| !v.is_null());
        }
        let detail: EventDetail = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
        Ok(detail)
    }

    /// A one-line account in Chinese, for the history on the case page.
    pub fn summary(&self) -> String {
        let yes_no = |b: bool| if b { "是" } else { "否" };
        let parts: Vec<(&str, String)> = match self {
            EventDetail::Opened { note, findings } => {
                let mut v = vec![("说明", note.clone())];
                if let Some(f) = findings {
                    v.push(("查评发现", f.clone()));
                }
                v
            }
            EventDetail::Responded { note } => vec![("说明", note.clone())],
            EventDetail::Callback { method, reached, summary } => {
                vec![("方式", method.clone()), ("联系上", yes_no(*reached).into()), ("情况", summary.clone())]
            }
            EventDetail::Outcome { outcome } => {
                let mut v = vec![("处理方式", outcome.kind().label().to_string())];
                match outcome {
                    OutcomeDetail::FixedAtOnce { fixed } => v.push(("整改内容", fixed.clone())),
                    OutcomeDetail::Ledger { reason, rectify_by } => {
                        v.push(("原因", reason.clone()));
                        v.push(("整改期限", rectify_by.to_string()));
                    }
                    OutcomeDetail::Explained { explanation, legal_basis } => {
                        v.push(("解释", explanation.clone()));
                        v.push(("依据", legal_basis.clone()));
                    }
                    OutcomeDetail::Invalid { evidence } => v.push(("证据", evidence.clone())),
                }
                v
            }
            EventDetail::Extended { new_reply_by, reason, .. } => vec![("新期限", new_reply_by.to_string()), ("原因", reason.clone())],
            EventDetail::Replied { text, .. } => vec![("答复", text.clone())],
            EventDetail::Verdict { verdict, comment, conveyed_by_staff } => {
                let mut v = vec![("评价", verdict.label().to_string())];
                if let Some(c) = comment {
                    v.push(("补充", c.clone()));
                }
                if *conveyed_by_staff {
                    v.push(("录入", "工作人员代为录入".into()));
                }
                v
            }
            EventDetail::Overdue { step, deadline, escalated_to, note } => {
                let mut v = vec![("环节", step.label().to_string()), ("期限", deadline.to_string()), ("说明", note.clone())];
                if let Some(e) = escalated_to {
                    v.push(("督办单位", e.clone()));
                }
                v
            }
            EventDetail::DueWarning { step, deadline, note } => {
                vec![("环节", step.label().to_string()), ("期限", deadline.to_string()), ("说明", note.clone())]
            }
            EventDetail::AppealApplied { reason, evidence, .. } => vec![("原因", reason.clone()), ("证据", evidence.clone())],
            EventDetail::AppealOpinion { agree, note, .. } => vec![("同意", yes_no(*agree).into()), ("说明", note.clone())],
            EventDetail::AppealDecided { upheld, note, clock_stopped_working_days, new_reply_by, .. } => {
                let mut v = vec![("支持复核", yes_no(*upheld).into()), ("说明", note.clone())];
                if let Some(d) = clock_stopped_working_days {
                    v.push(("暂停计时", format!("{d} 个工作日")));
                }
                if let Some(d) = new_reply_by {
                    v.push(("新期限", d.to_string()));
                }
                v
            }
            EventDetail::ReasonsAdded { reasons, via } => vec![("原因编码", reasons.join("、")), ("渠道", via.clone())],
            EventDetail::DeadlinesRecomputed { years, respond_by, reply_by, previous_respond_by, previous_reply_by, provisional } => {
                let years = years.iter().map(|y| format!("{y} 年")).collect::<Vec<_>>().join("、");
                let mut v = vec![("依据", format!("{years}节假日安排已公布"))];
                if respond_by != previous_respond_by {
                    v.push(("响应期限", format!("{previous_respond_by} → {respond_by}")));
                }
                if reply_by != previous_reply_by {
                    v.push(("答复期限", format!("{previous_reply_by} → {reply_by}")));
                }
                if *provisional {
                    v.push(("说明", "仍有年份的节假日安排未公布，期限暂按周一至周五计算".into()));
                }
                v
            }
            EventDetail::Merged { into, note } => vec![("并入工单", short(into)), ("说明", note.clone())],
            EventDetail::MergedIn { from, note } => vec![("并入的工单", short(from)), ("说明", note.clone())],
            EventDetail::RectificationProgress { note, evidence } | EventDetail::RectificationDone { note, evidence } => {
                vec![("情况", note.clone()), ("佐证", evidence.clone())]
            }
            EventDetail::RectificationOverdue { rectify_by, escalated_to } => {
                let mut v = vec![("整改期限", rectify_by.to_string())];
                if let Some(e) = escalated_to {
                    v.push(("督办单位", e.clone()));
                }
                v
            }
        };
        parts.into_iter().filter(|(_, v)| !v.trim().is_empty()).map(|(k, v)| format!("{k}：{v}")).collect::<Vec<_>>().join("；")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_with_a_tag_and_read_back_as_the_type() {
        let d = EventDetail::Outcome {
            outcome: OutcomeDetail::Ledger { reason: "涉及系统改造".into(), rectify_by: BizDay::parse("2027-03-31", "d").unwrap() },
        };
        let note = d.to_note();
        assert!(note.contains("\"kind\":\"outcome\"") && note.contains("\"outcome\":\"ledger\""), "{note}");
        assert_eq!(EventDetail::from_note(EventKind::Outcome, Some(&note)).unwrap(), d);
        assert_eq!(d.kind(), EventKind::Outcome);
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.code()), Some(k));
        }
    }

    #[test]
    fn records_from_before_the_tag_are_read() {
        // As the API wrote outcomes: every field, most of them null, and no tag.
        let old = r#"{"outcome":"fixed_at_once","fixed":"已调整排班","reason":null,"rectify_by":null,"explanation":null,"legal_basis":null,"evidence":null}"#;
        assert_eq!(
            EventDetail::from_note(EventKind::Outcome, Some(old)).unwrap(),
            EventDetail::Outcome { outcome: OutcomeDetail::FixedAtOnce { fixed: "已调整排班".into() } }
        );
        // The rating writer's opening note was plain text.
        assert_eq!(
            EventDetail::from_note(EventKind::Opened, Some("差评自动立案")).unwrap(),
            EventDetail::Opened { note: "差评自动立案".into(), findings: None }
        );
        let verdict = r#"{"verdict":"unsatisfied","comment":null,"by":"rater"}"#;
        assert!(matches!(
            EventDetail::from_note(EventKind::Verdict, Some(verdict)).unwrap(),
            EventDetail::Verdict { verdict: Verdict::Unsatisfied, conveyed_by_staff: false, .. }
        ));
        let overdue = r#"{"step":"reply","deadline":"2026-01-12","unit":"LX-GAJ","escalated_to":"LX","note":"答复已超期"}"#;
        assert!(matches!(
            EventDetail::from_note(EventKind::Overdue, Some(overdue)).unwrap(),
            EventDetail::Overdue { step: Step::Reply, .. }
        ));
        assert_eq!(EventDetail::from_note(EventKind::Replied, Some("not json")).unwrap_err().code, "corrupt_event");
    }

    #[test]
    fn summaries_are_in_words() {
        let d = EventDetail::Callback { method: "电话".into(), reached: true, summary: "已致歉".into() };
        assert_eq!(d.summary(), "方式：电话；联系上：是；情况：已致歉");
        let v = EventDetail::Verdict { verdict: Verdict::BasicallySatisfied, comment: None, conveyed_by_staff: false };
        assert_eq!(v.summary(), "评价：基本满意");
    }
}
