//! Who is told what, and in which words, as a case moves through the loop. Pure: the caller resolves an
//! audience to addresses and sends. Texts are Chinese, short enough for an SMS where the rater is the reader,
//! and never carry a rater's identity.

use time::Date;

use crate::timestamp::format_date;

/// Who a notice is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// the person who rated or complained, by SMS, when they left a number
    Rater,
    /// the staff of the case's unit who handle (and approve) its cases
    Unit,
    /// the unit's approvers only (a 复核 waiting for their opinion)
    UnitApprovers,
    /// the county bureau's administrators (督办, a 复核 waiting for the bureau's decision, replies filed)
    County,
}

/// What happened to a case that may warrant telling someone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happening {
    Opened,
    DueToday {
        step: Step,
        deadline: Date,
    },
    Overdue {
        step: Step,
        deadline: Date,
    },
    Extended {
        new_reply_by: Date,
        reason: String,
    },
    Replied {
        text: String,
    },
    Reopened,
    Closed,
    AppealApplied {
        to_bureau_next: bool,
    },
    AppealOpinion {
        agree: bool,
    },
    AppealDecided {
        upheld: bool,
    },
    /// A year's holiday notice was loaded and the case's deadlines moved.
    DeadlinesRecomputed {
        respond_by: Option<Date>,
        reply_by: Option<Date>,
    },
    /// The case was closed into another about the same matter.
    Merged,
    /// The rectification a 限期整改 outcome promised is past its deadline.
    RectificationOverdue {
        rectify_by: Date,
    },
    /// The unit recorded the rectification done.
    RectificationDone {
        note: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Respond,
    Reply,
}

impl Step {
    pub fn parse(s: &str) -> Option<Step> {
        match s {
            "respond" => Some(Step::Respond),
            "reply" => Some(Step::Reply),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Step::Respond => "respond",
            Step::Reply => "reply",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Step::Respond => "响应",
            Step::Reply => "整改答复",
        }
    }
}

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Pending,
    Sent,
    Retrying,
    /// given up after its attempts; the county may re-run it
    Dead,
    /// no transport configured for its channel; the county may re-run it once there is one
    Unsent,
}

impl Delivery {
    pub const ALL: [Delivery; 5] = [Delivery::Pending, Delivery::Sent, Delivery::Retrying, Delivery::Dead, Delivery::Unsent];

    pub fn code(self) -> &'static str {
        match self {
            Delivery::Pending => "pending",
            Delivery::Sent => "sent",
            Delivery::Retrying => "retrying",
            Delivery::Dead => "dead",
            Delivery::Unsent => "unsent",
        }
    }

    pub fn parse(s: &str, field: &str) -> Result<Self, crate::DomainError> {
        Self::ALL.into_iter().find(|d| d.code() == s).ok_or_else(|| {
            let all: Vec<&str> = Self::ALL.iter().map(|d| d.code()).collect();
            crate::DomainError::new("invalid_state", field, format!("state 应为 {}", all.join("、")))
        })
    }
}

/// What the texts need to know about the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseContext {
    /// the sender's name in 【】, e.g. 陇县政务服务
    pub sender: String,
    /// short case reference shown to staff
    pub case_ref: String,
    pub unit_name: String,
    /// the service item, when the case came from a rating
    pub item_name: Option<String>,
    /// 差评 / 投诉 / 建议 / 整改 …
    pub kind_label: String,
    pub respond_by: Date,
    pub reply_by: Date,
    /// where the rater reads the reply and gives a verdict
    pub feedback_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub audience: Audience,
    /// a stable name for the kind of message (for filters and templates)
    pub template: &'static str,
    pub subject: String,
    pub body: String,
}

/// Cuts `s` to at most `max` characters, marking the cut.
pub fn clip(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Punctuation that ends or separates a clause in Chinese text.
const CLAUSE_MARKS: [char; 8] = ['。', '，', '；', '：', '！', '？', '、', ','];

/// A message as it is sent: a text of a person (a reason, a reply) that ends with its own mark, set into a
/// template that adds one, must not read "。。" or "，。": of marks in a row only the last is kept.
pub fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if CLAUSE_MARKS.contains(&c) && chars.peek().is_some_and(|n| CLAUSE_MARKS.contains(n)) {
            continue;
        }
        out.push(c);
    }
    out
}

/// The notices a happening gives rise to (possibly none), their texts tidied.
pub fn notices(h: &Happening, c: &CaseContext) -> Vec<Notice> {
    let mut out = untidy_notices(h, c);
    for n in &mut out {
        n.subject = tidy(&n.subject);
        n.body = tidy(&n.body);
    }
    out
}

fn untidy_notices(h: &Happening, c: &CaseContext) -> Vec<Notice> {
    let what = match &c.item_name {
        Some(item) => format!("您对“{}”的{}", clip(item, 20), c.kind_label),
        None => format!("您提出的{}", c.kind_label),
    };
    let day = |d: &Date| format_date(*d);
    let staff = |audience: Audience, template: &'static str, subject: String, body: String| Notice {
        audience,
        template,
        subject: format!("【{}】{}", c.sender, subject),
        body: format!("{body}\n\n工单：{}（{}）", c.case_ref, c.unit_name),
    };
    let rater = |template: &'static str, body: String| Notice {
        audience: Audience::Rater,
        template,
        subject: format!("【{}】{}办理进展", c.sender, c.kind_label),
        body: format!("【{}】{body}", c.sender),
    };
    match h {
        Happening::Opened => vec![
            rater("rater_received", format!("{what}已收到，已交{}办理，将于{}前答复您。", c.unit_name, day(&c.reply_by))),
            staff(
                Audience::Unit,
                "unit_new_case",
                format!("新{}工单，请于{}前响应", c.kind_label, day(&c.respond_by)),
                format!(
                    "本单位收到一件{}，请于{}（含）前响应，{}（含）前完成整改并答复。",
                    c.kind_label,
                    day(&c.respond_by),
                    day(&c.reply_by)
                ),
            ),
        ],
        Happening::DueToday { step, deadline } => vec![staff(
            Audience::Unit,
            "unit_due_today",
            format!("今日到期：{}{}", c.kind_label, step.label()),
            format!("该工单的{}期限为今天（{}），请在今日内完成，逾期将提请督办。", step.label(), day(deadline)),
        )],
        Happening::Overdue { step, deadline } => vec![
            staff(
                Audience::Unit,
                "unit_overdue",
                format!("已超期：{}{}", c.kind_label, step.label()),
                format!("该工单的{}期限（{}）已过，已提请县政务服务管理部门督办，请立即办理。", step.label(), day(deadline)),
            ),
            staff(
                Audience::County,
                "county_escalated",
                format!("督办：{}{}超期", c.unit_name, step.label()),
                format!("{}的{}工单{}期限（{}）已过，请督办。", c.unit_name, c.kind_label, step.label(), day(deadline)),
            ),
        ],
        Happening::Extended { new_reply_by, reason } => {
            vec![rater("rater_extended", format!("{what}的办理期限已延长至{}，原因：{}。", day(new_reply_by), clip(reason, 40)))]
        }
        Happening::Replied { text } => {
            let link = match &c.feedback_url {
                Some(u) => format!("请对处理结果进行评价：{u}"),
                None => "如有意见可致电政务服务热线。".to_string(),
            };
            vec![
                rater("rater_replied", format!("{what}已办理答复：{}。{link}", clip(text, 60))),
                staff(
                    Audience::County,
                    "county_reply_filed",
                    format!("答复备案：{}", c.unit_name),
                    format!("{}已就一件{}作出答复并备案：\n{}", c.unit_name, c.kind_label, clip(text, 500)),
                ),
            ]
        }
        Happening::Reopened => vec![staff(
            Audience::Unit,
            "unit_reopened",
            format!("评价人不满意，{}工单已重新办理", c.kind_label),
            format!("评价人对答复不满意，工单已退回重新办理，请于{}（含）前再次答复。", day(&c.reply_by)),
        )],
        Happening::Closed => Vec::new(),
        Happening::Merged => vec![rater("rater_merged", format!("{what}与同一办件的其他意见合并办理，办理结果将一并答复您。"))],
        Happening::RectificationOverdue { rectify_by } => vec![
            staff(
                Audience::Unit,
                "unit_rectification_overdue",
                format!("整改超期：{}", c.kind_label),
                format!("该工单承诺的限期整改（期限 {}）尚未完成，已提请督办，请尽快整改并记录。", day(rectify_by)),
            ),
            staff(
                Audience::County,
                "county_rectification_overdue",
                format!("督办：{}整改超期", c.unit_name),
                format!("{}的一件{}承诺于 {} 前完成整改，至今未完成，请督办。", c.unit_name, c.kind_label, day(rectify_by)),
            ),
        ],
        Happening::RectificationDone { note } => {
            vec![rater("rater_rectified", format!("{what}涉及的问题已整改完成：{}。感谢您的监督。", clip(note, 60)))]
        }
        Happening::DeadlinesRecomputed { respond_by, reply_by } => {
            let mut moved = Vec::new();
            if let Some(d) = respond_by {
                moved.push(format!("响应期限改为{}", day(d)));
            }
            if let Some(d) = reply_by {
                moved.push(format!("答复期限改为{}", day(d)));
            }
            vec![staff(
                Audience::Unit,
                "unit_deadlines_recomputed",
                format!("{}工单期限已按节假日安排重算", c.kind_label),
                format!("国务院办公厅节假日安排已导入，该工单的期限已重新计算：{}。", moved.join("，")),
            )]
        }
        Happening::AppealApplied { to_bureau_next } => vec![staff(
            Audience::UnitApprovers,
            "unit_appeal_applied",
            "复核申请待审核".to_string(),
            if *to_bureau_next {
                "本单位工作人员就一件差评申请复核，请提出初审意见（驻厅单位，初审后报县政务服务管理部门决定）。".to_string()
            } else {
                "本单位工作人员就一件差评申请复核，请审核决定。".to_string()
            },
        )],
        Happening::AppealOpinion { agree } => vec![staff(
            Audience::County,
            "county_appeal_opinion",
            format!("复核申请待决定：{}", c.unit_name),
            format!("{}对一件差评的复核申请已提出初审意见（{}），请决定。", c.unit_name, if *agree { "同意" } else { "不同意" }),
        )],
        Happening::AppealDecided { upheld } => vec![staff(
            Audience::Unit,
            "unit_appeal_decided",
            format!("复核结果：{}", if *upheld { "差评不属实" } else { "维持差评" }),
            if *upheld {
                "复核申请已获支持，该差评认定为不属实，不计入统计，工单已办结。".to_string()
            } else {
                "复核申请未获支持，请继续按期办理该工单。".to_string()
            },
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_date;

    fn ctx() -> CaseContext {
        CaseContext {
            sender: "陇县政务服务".into(),
            case_ref: "0193abcd".into(),
            unit_name: "陇县公安局".into(),
            item_name: Some("居民身份证换领".into()),
            kind_label: "差评".into(),
            respond_by: parse_date("2026-12-01", "d").unwrap(),
            reply_by: parse_date("2026-12-07", "d").unwrap(),
            feedback_url: Some("https://hcp.example/f/abc".into()),
        }
    }

    #[test]
    fn opening_tells_the_rater_and_the_unit() {
        let n = notices(&Happening::Opened, &ctx());
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].audience, Audience::Rater);
        assert_eq!(n[0].body, "【陇县政务服务】您对“居民身份证换领”的差评已收到，已交陇县公安局办理，将于2026-12-07前答复您。");
        assert_eq!(n[1].audience, Audience::Unit);
        assert!(n[1].subject.contains("2026-12-01前响应"), "{}", n[1].subject);
    }

    #[test]
    fn the_reply_carries_the_feedback_link_and_is_filed_with_the_county() {
        let long = "已调整窗口排班".repeat(20);
        let n = notices(&Happening::Replied { text: long }, &ctx());
        assert_eq!(n.len(), 2);
        assert!(n[0].body.contains("https://hcp.example/f/abc"));
        assert!(n[0].body.contains('…'), "a long reply is clipped for the SMS");
        assert!(n[0].body.chars().count() < 160, "{}", n[0].body.chars().count());
        assert_eq!(n[1].audience, Audience::County);
        assert_eq!(n[1].template, "county_reply_filed");
    }

    #[test]
    fn overdue_escalates_and_extension_tells_the_rater() {
        let d = parse_date("2026-12-07", "d").unwrap();
        let n = notices(&Happening::Overdue { step: Step::Reply, deadline: d }, &ctx());
        assert_eq!(n.iter().map(|n| n.audience.clone()).collect::<Vec<_>>(), vec![Audience::Unit, Audience::County]);
        let n = notices(&Happening::Extended { new_reply_by: d, reason: "需会商".into() }, &ctx());
        assert_eq!(n[0].audience, Audience::Rater);
        assert!(n[0].body.contains("延长至2026-12-07"));
        assert!(notices(&Happening::Closed, &ctx()).is_empty());
    }

    #[test]
    fn no_message_reads_doubled_marks() {
        assert_eq!(tidy("原因：需会商。。"), "原因：需会商。");
        assert_eq!(tidy("已收到，。请稍候"), "已收到。请稍候");
        assert_eq!(tidy("见 https://hcp.example/f/a.b?c=1 。"), "见 https://hcp.example/f/a.b?c=1 。");
        // Texts of people that end with their own mark, in every template that quotes them.
        let d = time::macros::date!(2026 - 12 - 10);
        for h in [
            Happening::Extended { new_reply_by: d, reason: "需与上级部门会商。".into() },
            Happening::Replied { text: "已调整窗口排班，感谢监督！".into() },
        ] {
            for n in notices(&h, &ctx()) {
                for pair in ["。。", "！。", "，。", "。，", "！，"] {
                    assert!(!n.body.contains(pair) && !n.subject.contains(pair), "{}: {}", n.template, n.body);
                }
            }
        }
    }

    #[test]
    fn clip_counts_characters_not_bytes() {
        assert_eq!(clip("一二三四五", 5), "一二三四五");
        assert_eq!(clip("一二三四五六", 5), "一二三四…");
    }
}
