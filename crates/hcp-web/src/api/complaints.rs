use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hcp_domain::DomainError;
use hcp_domain::ids::{parse_code, parse_text};
use hcp_domain::person::{PersonName, Phone};
use hcp_domain::timestamp::{Timestamp, date_key, format_date};
use hcp_storage::cases::{CaseEvent, StoredCase};
use hcp_storage::complaints::StoredComplaint;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::authorize;
use crate::api::meta::ErrorBody;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;
use hcp_domain::access::Act;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactIn {
    pub name: Option<String>,
    pub phone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
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

#[derive(Serialize, ToSchema)]
pub struct ComplaintCreated {
    pub id: String,
    pub case_id: String,
    pub unit_code: String,
    pub respond_by: String,
    pub reply_by: String,
}

fn rule(code: &'static str, field: &str, msg: &str) -> ApiError {
    DomainError::new(code, field, msg).into()
}

/// Submit a complaint or suggestion (综合点评, S-7). Anyone may submit online; staff enter what came by the
/// complaint line or the suggestion box. It opens a case routed to the unit concerned, with working-day deadlines,
/// handled in the same loop as bad reviews.
#[utoipa::path(post, path = "/api/v1/complaints", tag = "cases", request_body = ComplaintIn,
    security((), ("machine_key" = []), ("session" = [])),
    responses((status = 201, body = ComplaintCreated), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn submit_complaint(State(state): State<AppState>, caller: Caller, body: ApiJson<ComplaintIn>) -> ApiResult<Response> {
    let input = body.value;
    let kind = match input.kind.as_str() {
        "complaint" | "suggestion" => input.kind.clone(),
        _ => return Err(rule("invalid_kind", "kind", "kind 应为 complaint（投诉）或 suggestion（意见建议）")),
    };
    let source = input.source.clone().unwrap_or_else(|| "online".into());
    match (source.as_str(), &caller) {
        ("online", _) => {}
        ("phone_line" | "suggestion_box", Caller::Staff(_)) | ("phone_line", Caller::Key(_))
            if authorize(&state, &caller, Act::EnterComplaint, None).is_ok() => {}
        ("phone_line" | "suggestion_box", _) => {
            return Err(ApiError::forbidden("source_not_allowed", "只有工作人员可以录入来自投诉电话或意见箱的内容").field("source"));
        }
        _ => return Err(rule("invalid_source", "source", "source 应为 online、phone_line 或 suggestion_box")),
    }
    let matter = match &input.matter_no {
        Some(no) => Some(state.db.find_matter(&parse_code(no, "matter_no", 50)?).await?.ok_or_else(|| ApiError::not_found("办件"))?),
        None => None,
    };
    let unit_code = match (&input.unit_code, &matter) {
        (Some(u), Some(m)) if *u != m.unit_code => return Err(rule("unit_mismatch", "unit_code", "该办件不是由此单位办理的")),
        (_, Some(m)) => m.unit_code.clone(),
        (Some(u), None) => parse_code(u, "unit_code", 40)?,
        (None, None) => return Err(rule("missing_field", "unit_code", "请指明投诉或建议所涉及的单位（unit_code）或办件（matter_no）")),
    };
    let master = state.master_with_unit(&unit_code).await?;
    if !master.units.contains_key(&unit_code) {
        return Err(rule("unknown_reference", "unit_code", "单位不存在"));
    }
    // Online submissions are anyone's; what staff and the hotline take down stays within their tree.
    if source != "online" {
        authorize(&state, &caller, Act::EnterComplaint, Some(&unit_code))?;
    }
    let text = parse_text(&input.text, "text", 2000)?;
    if text.is_empty() {
        return Err(rule("missing_field", "text", "请填写投诉或建议的内容"));
    }
    let (name, phone) = match (&input.contact, input.anonymous) {
        (Some(_), true) => return Err(rule("anonymous_with_contact", "contact", "匿名投诉不能同时提交联系方式")),
        (Some(c), false) => (
            c.name.as_deref().map(|n| PersonName::parse(n, "contact.name")).transpose()?,
            c.phone.as_deref().map(|p| Phone::parse(p, "contact.phone")).transpose()?,
        ),
        (None, _) => (None, None),
    };
    let now = Timestamp::now();
    let cal = state.calendar().await?;
    let d = hcp_domain::cases::deadlines(&cal, now.biz_date(), state.config.deadline_rule);
    let case_id = uuid::Uuid::now_v7().to_string();
    let complaint = StoredComplaint {
        id: uuid::Uuid::now_v7().to_string(),
        case_id: case_id.clone(),
        kind: kind.clone(),
        source: source.clone(),
        unit_code: unit_code.clone(),
        matter_no: matter.as_ref().map(|m| m.matter_no.clone()),
        text,
        anonymous: input.anonymous,
        contact_name: name.as_ref().map(|n| state.secrets.encrypt(n.as_str())).transpose()?,
        contact_phone: phone.as_ref().map(|p| state.secrets.encrypt(p.as_str())).transpose()?,
        contact_phone_ix: phone.as_ref().map(|p| state.secrets.phone_index(p.as_str())),
        submitted_at: now.micros(),
        entered_by: match &caller {
            Caller::Staff(u) => Some(format!("staff:{}", u.username)),
            Caller::Key(k) => Some(format!("key:{}", k.label)),
            Caller::Anonymous { .. } => None,
        },
    };
    let case = StoredCase {
        matter_no: matter.as_ref().map(|m| m.matter_no.clone()).unwrap_or_default(),
        item_code: matter.as_ref().map(|m| m.item_code.clone()).unwrap_or_default(),
        real_name: phone.is_some(),
        ..StoredCase::without_rating(case_id.clone(), &kind, &unit_code, now, &d)
    };
    let event = CaseEvent {
        id: uuid::Uuid::now_v7().to_string(),
        case_id: case_id.clone(),
        kind: "opened".into(),
        actor: complaint.entered_by.clone().unwrap_or_else(|| "public".into()),
        at: now.micros(),
        state_after: "open".into(),
        note: Some(serde_json::json!({ "note": format!("{}（来源：{source}），交由 {unit_code} 办理", if kind == "complaint" { "投诉" } else { "意见建议" }) }).to_string()),
    };
    state.db.open_complaint(&complaint, &case, &event).await?;
    let out =
        ComplaintCreated { id: complaint.id, case_id, unit_code, respond_by: format_date(d.respond_by), reply_by: format_date(d.reply_by) };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectionIn {
    /// `unit`, `window`, `staff` or `platform`
    pub target_kind: String,
    /// the unit, window or staff code; for a platform its name code (e.g. `portal`, `app`, `terminal`, `hotline`)
    pub target_code: String,
    /// `YYYY-MM-DD`, not in the future
    pub inspected_on: String,
    /// scores per dimension, 0..=100, e.g. `{"service_norms": 92, "efficiency": 85}`
    pub scores: std::collections::BTreeMap<String, i64>,
    pub findings: String,
    /// open a rectification case for the accountable unit from the findings
    #[serde(default)]
    pub open_case: bool,
}

#[derive(Serialize, ToSchema)]
pub struct InspectionOut {
    pub id: String,
    /// `inspection` (county bureau) or `third_party`
    pub kind: String,
    pub target_kind: String,
    pub target_code: String,
    pub unit_code: String,
    pub inspected_on: String,
    pub scores: std::collections::BTreeMap<String, i64>,
    pub findings: String,
    pub recorded_by: String,
    pub case_id: Option<String>,
}

fn inspection_out(i: &hcp_storage::complaints::StoredInspection) -> InspectionOut {
    let day = |k: i64| format!("{:04}-{:02}-{:02}", k / 10_000, (k / 100) % 100, k % 100);
    InspectionOut {
        id: i.id.clone(),
        kind: i.kind.clone(),
        target_kind: i.target_kind.clone(),
        target_code: i.target_code.clone(),
        unit_code: i.unit_code.clone(),
        inspected_on: day(i.inspected_on),
        scores: i.scores.split(',').filter_map(|p| p.split_once('=')).filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?))).collect(),
        findings: i.findings.clone(),
        recorded_by: i.recorded_by.clone(),
        case_id: i.case_id.clone(),
    }
}

/// Record a supervision inspection (监督查评, S-8): county bureau administrators record inspections, third-party
/// assessors their assessments, of a unit, window, staff member or platform, with scores per dimension and findings.
/// A finding can open a rectification case for the accountable unit, handled in the same loop.
#[utoipa::path(post, path = "/api/v1/inspections", tag = "cases", request_body = InspectionIn,
    security(("session" = [])),
    responses((status = 201, body = InspectionOut), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn record_inspection(State(state): State<AppState>, caller: Caller, body: ApiJson<InspectionIn>) -> ApiResult<Response> {
    authorize(&state, &caller, Act::RecordInspection, None)?;
    let Caller::Staff(user) = &caller else { return Err(ApiError::unauthorized()) };
    let kind = if user.role == "assessor" { "third_party" } else { "inspection" };
    let input = body.value;
    let master = state.reload_master().await?;
    let target = parse_code(&input.target_code, "target_code", 40)?;
    let unit_code = match input.target_kind.as_str() {
        "unit" => master.units.get(&target).map(|u| u.code.clone()),
        "window" => master.windows.get(&target).map(|w| w.unit_code.clone()),
        "staff" => master.staff.get(&target).map(|s| s.unit_code.clone()),
        "platform" => Some(user.unit_code.clone()),
        _ => return Err(rule("invalid_target_kind", "target_kind", "target_kind 应为 unit、window、staff 或 platform")),
    }
    .ok_or_else(|| ApiError::from(DomainError::new("unknown_reference", "target_code", "被查评的对象不存在")))?;
    authorize(&state, &caller, Act::RecordInspection, Some(&unit_code))?;
    let on = hcp_domain::timestamp::parse_date(&input.inspected_on, "inspected_on")?;
    let now = Timestamp::now();
    if on > now.biz_date() {
        return Err(rule("timestamp_in_future", "inspected_on", "查评日期不能晚于今天"));
    }
    if input.scores.is_empty() || input.scores.len() > 30 {
        return Err(rule("missing_field", "scores", "请给出 1 到 30 个维度的得分"));
    }
    let mut scores = Vec::new();
    for (dim, score) in &input.scores {
        let dim = parse_code(dim, &format!("scores.{dim}"), 30)?;
        if !(0..=100).contains(score) {
            return Err(rule("invalid_score", &format!("scores.{dim}"), "得分应在 0 到 100 之间"));
        }
        scores.push(format!("{dim}={score}"));
    }
    let findings = parse_text(&input.findings, "findings", 4000)?;
    if findings.is_empty() {
        return Err(rule("missing_field", "findings", "请填写查评发现"));
    }
    let actor = format!("staff:{}", user.username);
    let case = if input.open_case {
        let cal = state.calendar().await?;
        let d = hcp_domain::cases::deadlines(&cal, now.biz_date(), state.config.deadline_rule);
        let case = StoredCase {
            window_code: (input.target_kind == "window").then(|| target.clone()),
            staff_code: (input.target_kind == "staff").then(|| target.clone()),
            category: "supervision".into(),
            ..StoredCase::without_rating(uuid::Uuid::now_v7().to_string(), "inspection", &unit_code, now, &d)
        };
        let event = CaseEvent {
            id: uuid::Uuid::now_v7().to_string(),
            case_id: case.id.clone(),
            kind: "opened".into(),
            actor: actor.clone(),
            at: now.micros(),
            state_after: "open".into(),
            note: Some(serde_json::json!({ "note": "监督查评发现问题，限期整改", "findings": findings }).to_string()),
        };
        Some((case, event))
    } else {
        None
    };
    let insp = hcp_storage::complaints::StoredInspection {
        id: uuid::Uuid::now_v7().to_string(),
        kind: kind.into(),
        target_kind: input.target_kind.clone(),
        target_code: target,
        unit_code,
        inspected_on: date_key(on),
        scores: scores.join(","),
        findings,
        recorded_by: actor,
        recorded_at: now.micros(),
        case_id: case.as_ref().map(|(c, _)| c.id.clone()),
    };
    state.db.record_inspection(&insp, case.as_ref().map(|(c, e)| (c, e))).await?;
    Ok((StatusCode::CREATED, Json(inspection_out(&insp))).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InspectionQuery {
    /// only this unit (within the caller's unit)
    pub unit: Option<String>,
}

/// Inspections and assessments of the caller's unit and the units below it, newest first.
#[utoipa::path(get, path = "/api/v1/inspections", tag = "cases", params(InspectionQuery),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = [InspectionOut]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_inspections(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Query(q): axum::extract::Query<InspectionQuery>,
) -> ApiResult<Json<Vec<InspectionOut>>> {
    let units = crate::access::scoped_units(&state, &caller, Act::ReadInspections, q.unit.as_deref())?;
    Ok(Json(state.db.list_inspections(&units, 500).await?.iter().map(inspection_out).collect()))
}
