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

use crate::api::meta::ErrorBody;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::state::AppState;

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
        ("phone_line" | "suggestion_box", Caller::Staff(_)) => {}
        ("phone_line", Caller::Key(k)) if k.kind == "hotline" => {}
        ("phone_line" | "suggestion_box", _) => {
            return Err(ApiError::forbidden("source_not_allowed", "只有工作人员可以录入来自投诉电话或意见箱的内容").field("source"));
        }
        _ => return Err(rule("invalid_source", "source", "source 应为 online、phone_line 或 suggestion_box")),
    }
    let text = parse_text(&input.text, "text", 2000)?;
    if text.is_empty() {
        return Err(rule("missing_field", "text", "请填写投诉或建议的内容"));
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
    if let Some(own) = caller.unit()
        && !matches!(caller, Caller::Anonymous { .. })
        && !master.is_within(&unit_code, own)
    {
        return Err(ApiError::forbidden("out_of_scope", "该凭证无权为此单位登记投诉"));
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
        id: case_id.clone(),
        kind: kind.clone(),
        rating_id: None,
        matter_no: matter.as_ref().map(|m| m.matter_no.clone()).unwrap_or_default(),
        unit_code: unit_code.clone(),
        item_code: matter.as_ref().map(|m| m.item_code.clone()).unwrap_or_default(),
        window_code: None,
        staff_code: None,
        level: 0,
        category: kind.clone(),
        real_name: phone.is_some(),
        referral: false,
        opened_at: now.micros(),
        arrival_day: now.biz_day(),
        respond_by: date_key(d.respond_by),
        reply_by: date_key(d.reply_by),
        provisional: d.provisional,
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
