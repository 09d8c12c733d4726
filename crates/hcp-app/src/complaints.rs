//! Complaints and suggestions (综合点评, S-7) and supervision inspections (监督查评, S-8): each opens a case in the
//! same loop as a bad review.

use std::collections::BTreeMap;

use hcp_domain::access::Act;
use hcp_domain::case_event::EventDetail;
use hcp_domain::case_flow::CaseState;
use hcp_domain::cases::{CaseCategory, CaseKind};
use hcp_domain::ids::{parse_code, parse_text};
use hcp_domain::person::{PersonName, Phone};
use hcp_domain::records::{Case, CaseEvent, Complaint, ComplaintSource, Inspection, TargetKind};
use hcp_domain::{BizDay, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::caller::Caller;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactIn {
    pub name: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplaintIn {
    /// `complaint` (投诉) or `suggestion` (意见建议)
    pub kind: String,
    /// the unit complained about; may be omitted when `matter_no` is given
    pub unit_code: Option<String>,
    /// the matter it is about, if any: the case then goes to the unit that handled it
    pub matter_no: Option<String>,
    /// up to 2,000 characters
    pub text: String,
    #[serde(default)]
    pub anonymous: bool,
    /// for a reply and a callback; not allowed with `anonymous`
    pub contact: Option<ContactIn>,
    /// `online` (default); staff entering what came by the complaint line or the suggestion box say
    /// `phone_line` or `suggestion_box`
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComplaintCreated {
    pub id: String,
    pub case_id: String,
    pub unit_code: String,
    pub respond_by: String,
    pub reply_by: String,
}

/// A complaint or suggestion: anyone online; staff (and the hotline key) enter what came by the complaint line
/// or the suggestion box, within their tree.
#[tracing::instrument(skip_all)]
pub async fn submit_complaint(app: &App, caller: &Caller, input: ComplaintIn) -> AppResult<ComplaintCreated> {
    let kind = CaseKind::parse_submission(&input.kind, "kind")?;
    let source = ComplaintSource::parse(input.source.as_deref().unwrap_or("online"), "source")?;
    let entered = source != ComplaintSource::Online;
    let hotline_box = matches!(caller, Caller::Key(_)) && source == ComplaintSource::SuggestionBox;
    if entered && (hotline_box || app.authorize(caller, Act::EnterComplaint).is_err()) {
        return Err(AppError::Forbidden(hcp_domain::DomainError::new(
            "source_not_allowed",
            "source",
            "只有工作人员可以录入来自投诉电话或意见箱的内容",
        )));
    }
    let matter = match &input.matter_no {
        Some(no) => Some(app.db.find_matter(&parse_code(no, "matter_no", 50)?).await?.ok_or(AppError::NotFound("办件"))?),
        None => None,
    };
    let unit_code = match (&input.unit_code, &matter) {
        (Some(u), Some(m)) if *u != m.unit_code => return Err(AppError::invalid("unit_mismatch", "unit_code", "该办件不是由此单位办理的")),
        (_, Some(m)) => m.unit_code.clone(),
        (Some(u), None) => parse_code(u, "unit_code", 40)?,
        (None, None) => {
            return Err(AppError::invalid("missing_field", "unit_code", "请指明投诉或建议所涉及的单位（unit_code）或办件（matter_no）"));
        }
    };
    let master = app.master_with_unit(&unit_code).await?;
    if !master.units.contains_key(&unit_code) {
        return Err(AppError::invalid("unknown_reference", "unit_code", "单位不存在"));
    }
    // Online submissions are anyone's; what staff and the hotline take down stays within their tree.
    if entered {
        app.authorize_in(caller, Act::EnterComplaint, &unit_code)?;
    }
    let text = parse_text(&input.text, "text", 2000)?;
    if text.is_empty() {
        return Err(AppError::invalid("missing_field", "text", "请填写投诉或建议的内容"));
    }
    let (name, phone) = match (&input.contact, input.anonymous) {
        (Some(_), true) => return Err(AppError::invalid("anonymous_with_contact", "contact", "匿名投诉不能同时提交联系方式")),
        (Some(c), false) => (
            c.name.as_deref().map(|n| PersonName::parse(n, "contact.name")).transpose()?,
            c.phone.as_deref().map(|p| Phone::parse(p, "contact.phone")).transpose()?,
        ),
        (None, _) => (None, None),
    };
    let now = Timestamp::now();
    let cal = app.calendar().await?;
    let d = hcp_domain::cases::deadlines(&cal, now.biz_date(), app.config.deadline_rule);
    let entered_by = (!matches!(caller, Caller::Anonymous)).then(|| caller.actor());
    let case = Case {
        matter_no: matter.as_ref().map(|m| m.matter_no.clone()).unwrap_or_default(),
        item_code: matter.as_ref().map(|m| m.item_code.clone()).unwrap_or_default(),
        real_name: phone.is_some(),
        ..Case::without_rating(uuid::Uuid::now_v7().to_string(), kind, &unit_code, now, &d)
    };
    let complaint = Complaint {
        id: uuid::Uuid::now_v7().to_string(),
        case_id: case.id.clone(),
        kind,
        source,
        unit_code: unit_code.clone(),
        matter_no: matter.as_ref().map(|m| m.matter_no.clone()),
        text,
        anonymous: input.anonymous,
        contact_name: name.as_ref().map(|n| app.secrets.encrypt(n.as_str())).transpose()?,
        contact_phone: phone.as_ref().map(|p| app.secrets.encrypt(p.as_str())).transpose()?,
        contact_phone_ix: phone.as_ref().map(|p| app.secrets.phone_index(p.as_str())),
        submitted_at: now.micros(),
        entered_by: entered_by.clone(),
    };
    let source_label = match source {
        ComplaintSource::Online => "网上",
        ComplaintSource::PhoneLine => "投诉电话",
        ComplaintSource::SuggestionBox => "意见箱",
    };
    let unit_name = master.unit_name(&unit_code).unwrap_or_else(|| unit_code.clone());
    let detail =
        EventDetail::Opened { note: format!("{}（来源：{source_label}），交由{unit_name}办理", kind.label()), findings: None };
    let event = CaseEvent::new(&case.id, entered_by.unwrap_or_else(|| "public".into()), now, CaseState::Open, &detail);
    app.db.open_complaint(&complaint, &case, &event).await?;
    Ok(ComplaintCreated {
        id: complaint.id,
        case_id: case.id,
        unit_code,
        respond_by: BizDay::from(d.respond_by).to_string(),
        reply_by: BizDay::from(d.reply_by).to_string(),
    })
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectionIn {
    /// `unit`, `window`, `staff` or `platform`
    pub target_kind: String,
    /// the unit, window or staff code; for a platform its name code (e.g. `portal`, `app`, `terminal`, `hotline`)
    pub target_code: String,
    /// `YYYY-MM-DD`, not in the future
    pub inspected_on: String,
    /// scores per dimension, 0..=100, e.g. `{"service_norms": 92, "efficiency": 85}`
    pub scores: BTreeMap<String, i64>,
    pub findings: String,
    /// open a rectification case for the accountable unit from the findings
    #[serde(default)]
    pub open_case: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InspectionOut {
    pub id: String,
    /// `inspection` (county bureau) or `third_party`
    pub kind: String,
    pub target_kind: String,
    pub target_code: String,
    pub unit_code: String,
    pub inspected_on: String,
    pub scores: BTreeMap<String, i64>,
    pub findings: String,
    pub recorded_by: String,
    pub case_id: Option<String>,
}

fn inspection_out(i: &Inspection) -> InspectionOut {
    InspectionOut {
        id: i.id.clone(),
        kind: i.kind.clone(),
        target_kind: i.target_kind.code().into(),
        target_code: i.target_code.clone(),
        unit_code: i.unit_code.clone(),
        inspected_on: i.inspected_on.to_string(),
        scores: i.scores.split(',').filter_map(|p| p.split_once('=')).filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?))).collect(),
        findings: i.findings.clone(),
        recorded_by: i.recorded_by.clone(),
        case_id: i.case_id.clone(),
    }
}

/// A supervision inspection or third-party assessment of a unit, window, staff member or platform; a finding can
/// open a rectification case for the accountable unit.
#[tracing::instrument(skip_all)]
pub async fn record_inspection(app: &App, caller: &Caller, input: InspectionIn) -> AppResult<InspectionOut> {
    app.authorize(caller, Act::RecordInspection)?;
    let Caller::Staff(user) = caller else { return Err(AppError::Unauthenticated) };
    let kind = if user.role == hcp_domain::access::Role::Assessor { "third_party" } else { "inspection" };
    let master = app.reload_master().await?;
    let target = parse_code(&input.target_code, "target_code", 40)?;
    let target_kind = TargetKind::parse(&input.target_kind, "target_kind")?;
    let unit_code = match target_kind {
        TargetKind::Unit => master.units.get(&target).map(|u| u.code.clone()),
        TargetKind::Window => master.windows.get(&target).map(|w| w.unit_code.clone()),
        TargetKind::Staff => master.staff.get(&target).map(|s| s.unit_code.clone()),
        TargetKind::Platform => Some(user.unit_code.clone()),
    }
    .ok_or_else(|| AppError::invalid("unknown_reference", "target_code", "被查评的对象不存在"))?;
    app.authorize_in(caller, Act::RecordInspection, &unit_code)?;
    let on = BizDay::parse(&input.inspected_on, "inspected_on")?;
    let now = Timestamp::now();
    if on > now.biz_day() {
        return Err(AppError::invalid("timestamp_in_future", "inspected_on", "查评日期不能晚于今天"));
    }
    if input.scores.is_empty() || input.scores.len() > 30 {
        return Err(AppError::invalid("missing_field", "scores", "请给出 1 到 30 个维度的得分"));
    }
    let mut scores = Vec::new();
    for (dim, score) in &input.scores {
        let dim = parse_code(dim, &format!("scores.{dim}"), 30)?;
        if !(0..=100).contains(score) {
            return Err(AppError::invalid("invalid_score", &format!("scores.{dim}"), "得分应在 0 到 100 之间"));
        }
        scores.push(format!("{dim}={score}"));
    }
    let findings = parse_text(&input.findings, "findings", 4000)?;
    if findings.is_empty() {
        return Err(AppError::invalid("missing_field", "findings", "请填写查评发现"));
    }
    let actor = caller.actor();
    let case = if input.open_case {
        let cal = app.calendar().await?;
        let d = hcp_domain::cases::deadlines(&cal, now.biz_date(), app.config.deadline_rule);
        let case = Case {
            window_code: (target_kind == TargetKind::Window).then(|| target.clone()),
            staff_code: (target_kind == TargetKind::Staff).then(|| target.clone()),
            category: CaseCategory::Supervision,
            ..Case::without_rating(uuid::Uuid::now_v7().to_string(), CaseKind::Inspection, &unit_code, now, &d)
        };
        let detail = EventDetail::Opened { note: "监督查评发现问题，限期整改".into(), findings: Some(findings.clone()) };
        let event = CaseEvent::new(&case.id, actor.clone(), now, CaseState::Open, &detail);
        Some((case, event))
    } else {
        None
    };
    let insp = Inspection {
        id: uuid::Uuid::now_v7().to_string(),
        kind: kind.into(),
        target_kind,
        target_code: target,
        unit_code,
        inspected_on: on,
        scores: scores.join(","),
        findings,
        recorded_by: actor,
        recorded_at: now.micros(),
        case_id: case.as_ref().map(|(c, _)| c.id.clone()),
    };
    app.db.record_inspection(&insp, case.as_ref().map(|(c, e)| (c, e))).await?;
    Ok(inspection_out(&insp))
}

/// Inspections and assessments of the caller's unit and the units below it (or of one of them), newest first.
pub async fn list_inspections(app: &App, caller: &Caller, unit: Option<&str>) -> AppResult<Vec<InspectionOut>> {
    let units = app.scoped_units(caller, Act::ReadInspections, unit)?;
    Ok(app.db.list_inspections(&units, 500).await?.iter().map(inspection_out).collect())
}
