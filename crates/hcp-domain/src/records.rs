//! The records the ledger protects, as they are stored, and their canonical encodings (`ledger::Record`).
//! Storage reads and writes these rows; what each one means, and how it is hashed, is decided here.
//!
//! The field order of each `record()` is part of the ledger's contract: changing it breaks every stored chain.

use crate::appeal::{AppealState, Route};
use crate::bizday::BizDay;
use crate::case_event::{EventDetail, EventKind};
use crate::case_flow::CaseState;
use crate::cases::{CaseCategory, CaseKind, Deadlines};
use crate::channel::Channel;
use crate::error::DomainError;
use crate::ledger::Record;
use crate::timestamp::Timestamp;

/// What kind of record a ledger entry covers; the provincial link plans its reports from these (`province::plan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Rating,
    CaseOpened,
    CaseEvent,
    RatingInvalidated,
    Complaint,
    Inspection,
}

impl RecordKind {
    pub const ALL: [RecordKind; 6] = [
        RecordKind::Rating,
        RecordKind::CaseOpened,
        RecordKind::CaseEvent,
        RecordKind::RatingInvalidated,
        RecordKind::Complaint,
        RecordKind::Inspection,
    ];

    /// As stored in `ledger.kind`.
    pub fn code(self) -> &'static str {
        match self {
            RecordKind::Rating => "rating",
            RecordKind::CaseOpened => "case_opened",
            RecordKind::CaseEvent => "case_event",
            RecordKind::RatingInvalidated => "rating_invalidated",
            RecordKind::Complaint => "complaint",
            RecordKind::Inspection => "inspection",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == s)
    }

    /// How the verifier names a record of this kind.
    pub fn label(self) -> &'static str {
        match self {
            RecordKind::Rating => "评价",
            RecordKind::CaseOpened => "工单",
            RecordKind::CaseEvent => "工单记录",
            RecordKind::RatingInvalidated => "不属实标记",
            RecordKind::Complaint => "综合点评",
            RecordKind::Inspection => "监督查评",
        }
    }
}

/// One entry to append to the chain: the record's kind, its id and its content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: RecordKind,
    pub id: String,
    pub content: crate::ledger::Hash,
}

/// A rating exactly as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Rating {
    pub id: String,
    pub matter_id: String,
    pub matter_no: String,
    pub service_seq: i64,
    pub assess_number: i64,
    pub follows_id: Option<String>,
    pub channel: Channel,
    pub level: i64,
    /// `CODE=LEVEL` pairs, sorted by code, comma-separated
    pub indicators: String,
    /// reason codes, sorted, comma-separated
    pub reasons: String,
    pub text: Option<String>,
    pub anonymous: bool,
    pub rater_name: Option<Vec<u8>>,
    pub rater_phone: Option<Vec<u8>>,
    pub rater_id_number: Option<Vec<u8>>,
    pub rater_phone_ix: Option<String>,
    pub rater_from_applicant: bool,
    pub unit_code: String,
    pub item_code: String,
    pub window_code: Option<String>,
    pub staff_code: Option<String>,
    pub catalogue_version: i64,
    pub referral: bool,
    pub rated_at: i64,
    pub received_at: i64,
    pub biz_day: BizDay,
    pub credential_kind: String,
    pub credential_id: Option<String>,
    pub device_id: Option<String>,
    pub source_hash: Option<String>,
    pub client_type: String,
    pub seconds_after_service: Option<i64>,
    /// The rating's place in the ledger (not a column of `ratings`: read from the ledger, 0 before writing).
    pub ledger_seq: i64,
}

impl Rating {
    /// The fields the chain protects, in their fixed order. Encrypted contact data is left out (it is
    /// re-encrypted when keys rotate); its presence and the phone's blind index are in.
    pub fn record(&self) -> Record {
        let r = self;
        Record::new(RecordKind::Rating.code())
            .str("id", &r.id)
            .str("matter_id", &r.matter_id)
            .str("matter_no", &r.matter_no)
            .int("service_seq", r.service_seq)
            .int("assess_number", r.assess_number)
            .opt_str("follows_id", r.follows_id.as_deref())
            .str("channel", r.channel.code())
            .int("level", r.level)
            .str("indicators", &r.indicators)
            .str("reasons", &r.reasons)
            .opt_str("text", r.text.as_deref())
            .bool("anonymous", r.anonymous)
            .bool("has_rater_name", r.rater_name.is_some())
            .bool("has_rater_phone", r.rater_phone.is_some())
            .bool("has_rater_id_number", r.rater_id_number.is_some())
            .opt_str("rater_phone_ix", r.rater_phone_ix.as_deref())
            .bool("rater_from_applicant", r.rater_from_applicant)
            .str("unit_code", &r.unit_code)
            .str("item_code", &r.item_code)
            .opt_str("window_code", r.window_code.as_deref())
            .opt_str("staff_code", r.staff_code.as_deref())
            .int("catalogue_version", r.catalogue_version)
            .bool("referral", r.referral)
            .int("rated_at", r.rated_at)
            .int("received_at", r.received_at)
            .int("biz_day", r.biz_day.key())
            .str("credential_kind", &r.credential_kind)
            .opt_str("credential_id", r.credential_id.as_deref())
            .opt_str("device_id", r.device_id.as_deref())
            .opt_str("source_hash", r.source_hash.as_deref())
            .str("client_type", &r.client_type)
            .opt_int("seconds_after_service", r.seconds_after_service)
    }

    /// A follow-up (追评) is linked to the first rating and counted in no statistic a second time (S-3).
    pub fn counts_in_statistics(&self) -> bool {
        self.assess_number == 1
    }
}

/// A case as stored: what it is about, who must handle it, its deadlines as first set.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub id: String,
    pub kind: CaseKind,
    pub rating_id: Option<String>,
    pub matter_no: String,
    pub unit_code: String,
    pub item_code: String,
    pub window_code: Option<String>,
    pub staff_code: Option<String>,
    pub level: i64,
    pub category: CaseCategory,
    pub real_name: bool,
    pub referral: bool,
    pub opened_at: i64,
    pub arrival_day: BizDay,
    pub respond_by: BizDay,
    pub reply_by: BizDay,
    pub provisional: bool,
}

impl Case {
    /// The case a bad review opens, routed to the unit that handled the matter (谁办理、谁负责), with the
    /// deadlines counted from the day it arrives.
    pub fn for_bad_review(id: String, r: &Rating, d: &Deadlines) -> Self {
        let arrived = Timestamp(r.received_at);
        Case {
            id,
            kind: CaseKind::BadReview,
            rating_id: Some(r.id.clone()),
            matter_no: r.matter_no.clone(),
            unit_code: r.unit_code.clone(),
            item_code: r.item_code.clone(),
            window_code: r.window_code.clone(),
            staff_code: r.staff_code.clone(),
            level: r.level,
            category: CaseCategory::of_review(r.referral),
            real_name: !r.anonymous,
            referral: r.referral,
            opened_at: arrived.micros(),
            arrival_day: arrived.biz_day(),
            respond_by: BizDay::from(d.respond_by),
            reply_by: BizDay::from(d.reply_by),
            provisional: d.provisional,
        }
    }

    /// A case not opened by a rating (a complaint, a suggestion, an inspection's finding), arriving at `now`.
    /// The caller fills in what it knows beyond that.
    pub fn without_rating(id: String, kind: CaseKind, unit_code: &str, now: Timestamp, d: &Deadlines) -> Self {
        Case {
            id,
            kind,
            rating_id: None,
            matter_no: String::new(),
            unit_code: unit_code.to_string(),
            item_code: String::new(),
            window_code: None,
            staff_code: None,
            level: 0,
            category: CaseCategory::of_kind(kind),
            real_name: false,
            referral: false,
            opened_at: now.micros(),
            arrival_day: now.biz_day(),
            respond_by: BizDay::from(d.respond_by),
            reply_by: BizDay::from(d.reply_by),
            provisional: d.provisional,
        }
    }

    pub fn record(&self) -> Record {
        let c = self;
        Record::new(RecordKind::CaseOpened.code())
            .str("id", &c.id)
            .str("kind", c.kind.code())
            .opt_str("rating_id", c.rating_id.as_deref())
            .str("matter_no", &c.matter_no)
            .str("unit_code", &c.unit_code)
            .str("item_code", &c.item_code)
            .opt_str("window_code", c.window_code.as_deref())
            .opt_str("staff_code", c.staff_code.as_deref())
            .int("level", c.level)
            .str("category", c.category.code())
            .bool("real_name", c.real_name)
            .bool("referral", c.referral)
            .int("opened_at", c.opened_at)
            .int("arrival_day", c.arrival_day.key())
            .int("respond_by", c.respond_by.key())
            .int("reply_by", c.reply_by.key())
            .bool("provisional", c.provisional)
    }
}

/// One step of a case's history, as stored. `note` is kept exactly as written (it is hashed as such); read
/// its meaning with [`CaseEvent::detail`].
#[derive(Debug, Clone, PartialEq)]
pub struct CaseEvent {
    pub id: String,
    pub case_id: String,
    pub kind: EventKind,
    pub actor: String,
    pub at: i64,
    pub state_after: CaseState,
    pub note: Option<String>,
}

impl CaseEvent {
    pub fn new(case_id: &str, actor: impl Into<String>, at: Timestamp, state_after: CaseState, detail: &EventDetail) -> Self {
        CaseEvent {
            id: uuid::Uuid::now_v7().to_string(),
            case_id: case_id.to_string(),
            kind: detail.kind(),
            actor: actor.into(),
            at: at.micros(),
            state_after,
            note: Some(detail.to_note()),
        }
    }

    /// What the event says, as the type.
    pub fn detail(&self) -> Result<EventDetail, DomainError> {
        EventDetail::from_note(self.kind, self.note.as_deref())
    }

    /// A rater's 不满意 that sent the case back to the unit.
    pub fn is_reopening(&self) -> bool {
        self.kind == EventKind::Verdict && self.state_after == CaseState::Responded
    }

    pub fn record(&self) -> Record {
        let e = self;
        Record::new(RecordKind::CaseEvent.code())
            .str("id", &e.id)
            .str("case_id", &e.case_id)
            .str("kind", e.kind.code())
            .str("actor", &e.actor)
            .int("at", e.at)
            .str("state_after", e.state_after.code())
            .opt_str("note", e.note.as_deref())
    }
}

/// The mark an upheld 复核 puts on a rating: found untrue (不属实), kept, counted nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalidation {
    pub rating_id: String,
    pub case_id: String,
    pub decided_by: String,
    pub at: i64,
}

impl Invalidation {
    pub fn record(&self) -> Record {
        Record::new(RecordKind::RatingInvalidated.code())
            .str("rating_id", &self.rating_id)
            .str("case_id", &self.case_id)
            .str("decided_by", &self.decided_by)
            .int("at", self.at)
    }
}

/// A complaint or suggestion (综合点评) as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Complaint {
    pub id: String,
    pub case_id: String,
    /// `complaint` or `suggestion`
    pub kind: CaseKind,
    /// `online`, `phone_line` or `suggestion_box`
    pub source: ComplaintSource,
    pub unit_code: String,
    pub matter_no: Option<String>,
    pub text: String,
    pub anonymous: bool,
    pub contact_name: Option<Vec<u8>>,
    pub contact_phone: Option<Vec<u8>>,
    pub contact_phone_ix: Option<String>,
    pub submitted_at: i64,
    pub entered_by: Option<String>,
}

impl Complaint {
    /// The protected fields (encrypted contact data left out, as with ratings; its presence is in).
    pub fn record(&self) -> Record {
        let c = self;
        Record::new(RecordKind::Complaint.code())
            .str("id", &c.id)
            .str("case_id", &c.case_id)
            .str("kind", c.kind.code())
            .str("source", c.source.code())
            .str("unit_code", &c.unit_code)
            .opt_str("matter_no", c.matter_no.as_deref())
            .str("text", &c.text)
            .bool("anonymous", c.anonymous)
            .bool("has_contact_name", c.contact_name.is_some())
            .bool("has_contact_phone", c.contact_phone.is_some())
            .opt_str("contact_phone_ix", c.contact_phone_ix.as_deref())
            .int("submitted_at", c.submitted_at)
            .opt_str("entered_by", c.entered_by.as_deref())
    }
}

/// Where a complaint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplaintSource {
    Online,
    PhoneLine,
    SuggestionBox,
}

impl ComplaintSource {
    pub fn code(self) -> &'static str {
        match self {
            ComplaintSource::Online => "online",
            ComplaintSource::PhoneLine => "phone_line",
            ComplaintSource::SuggestionBox => "suggestion_box",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ComplaintSource::Online => "网上提交",
            ComplaintSource::PhoneLine => "投诉电话",
            ComplaintSource::SuggestionBox => "意见箱",
        }
    }

    pub fn parse(s: &str, field: &str) -> Result<Self, DomainError> {
        match s {
            "online" => Ok(ComplaintSource::Online),
            "phone_line" => Ok(ComplaintSource::PhoneLine),
            "suggestion_box" => Ok(ComplaintSource::SuggestionBox),
            _ => Err(DomainError::new("invalid_source", field, "source 应为 online、phone_line 或 suggestion_box")),
        }
    }
}

/// What an inspection looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Unit,
    Window,
    Staff,
    Platform,
}

impl TargetKind {
    pub fn code(self) -> &'static str {
        match self {
            TargetKind::Unit => "unit",
            TargetKind::Window => "window",
            TargetKind::Staff => "staff",
            TargetKind::Platform => "platform",
        }
    }

    pub fn parse(s: &str, field: &str) -> Result<Self, DomainError> {
        [TargetKind::Unit, TargetKind::Window, TargetKind::Staff, TargetKind::Platform]
            .into_iter()
            .find(|k| k.code() == s)
            .ok_or_else(|| DomainError::new("invalid_target_kind", field, "target_kind 应为 unit、window、staff 或 platform"))
    }
}

/// A supervision inspection or third-party assessment (监督查评) as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    pub id: String,
    /// `inspection` (the county bureau) or `third_party`
    pub kind: String,
    pub target_kind: TargetKind,
    pub target_code: String,
    /// the unit accountable for the target
    pub unit_code: String,
    pub inspected_on: BizDay,
    /// `dimension=score` pairs (0..=100), sorted, comma-separated
    pub scores: String,
    pub findings: String,
    pub recorded_by: String,
    pub recorded_at: i64,
    pub case_id: Option<String>,
}

impl Inspection {
    pub fn record(&self) -> Record {
        let i = self;
        Record::new(RecordKind::Inspection.code())
            .str("id", &i.id)
            .str("kind", &i.kind)
            .str("target_kind", i.target_kind.code())
            .str("target_code", &i.target_code)
            .str("unit_code", &i.unit_code)
            .int("inspected_on", i.inspected_on.key())
            .str("scores", &i.scores)
            .str("findings", &i.findings)
            .str("recorded_by", &i.recorded_by)
            .int("recorded_at", i.recorded_at)
            .opt_str("case_id", i.case_id.as_deref())
    }
}

/// A 复核 application's place as stored (`appeals`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppealRow {
    pub route: Route,
    pub state: AppealState,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encodings are the ledger's contract: these hashes were produced by the encoders as they stood when
    /// the chain was first written. A change here means every stored chain breaks.
    #[test]
    fn encodings_are_unchanged() {
        let day = BizDay::parse("2026-11-30", "d").unwrap();
        let e = CaseEvent {
            id: "e1".into(),
            case_id: "c1".into(),
            kind: EventKind::Responded,
            actor: "staff:wang".into(),
            at: 1,
            state_after: CaseState::Responded,
            note: Some("{\"note\":\"x\"}".into()),
        };
        let mut expected = Record::new("case_event")
            .str("id", "e1")
            .str("case_id", "c1")
            .str("kind", "responded")
            .str("actor", "staff:wang")
            .int("at", 1)
            .str("state_after", "responded")
            .opt_str("note", Some("{\"note\":\"x\"}"));
        assert_eq!(e.record().bytes(), expected.bytes());
        let inv = Invalidation { rating_id: "r".into(), case_id: "c".into(), decided_by: "staff:x".into(), at: 5 };
        expected = Record::new("rating_invalidated").str("rating_id", "r").str("case_id", "c").str("decided_by", "staff:x").int("at", 5);
        assert_eq!(inv.record().bytes(), expected.bytes());
        let d = Deadlines { respond_by: day.date(), reply_by: day.plus_days(7).date(), provisional: false };
        let c = Case::without_rating("c1".into(), CaseKind::Complaint, "LX-GAJ", day.start(), &d);
        assert!(c.record().bytes().windows(9).any(|w| w == b"complaint"));
        assert_eq!(c.category, CaseCategory::Complaint);
        for k in RecordKind::ALL {
            assert_eq!(RecordKind::parse(k.code()), Some(k));
        }
    }
}
