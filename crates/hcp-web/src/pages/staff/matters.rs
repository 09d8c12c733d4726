//! Registering a matter from the pages (办件登记): for a town centre, a village station or a hall window
//! without a business system of its own. The matter (and, when a window is chosen, the service given there)
//! goes through the one registration use case, then the station prints its receipt with the rating QR code and
//! may enter the paper form the applicant filled in. Errors stay next to their field, with what was typed.

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use hcp_app::matters::{AgentIn, ApplicantIn, MatterIn, ServiceIn, TimeLimitIn, add_service, register_matter};
use hcp_app::{AppError, Caller};
use hcp_domain::Timestamp;
use hcp_domain::access::Act;
use hcp_domain::national::TimeLimit;

use super::{Frame, Session, error_page, form_status};
use crate::extract::Form;
use crate::extract::caller::Who;
use crate::pages::Filled;
use crate::state::AppState;

/// The fields of the form, in order, with their labels: an error names one of them.
const FIELDS: [(&str, &str); 16] = [
    ("matter_no", "办件编号"),
    ("unit_code", "办理单位"),
    ("item_code", "办理事项"),
    ("applicant_kind", "申请人类型"),
    ("applicant_name", "申请人姓名或名称"),
    ("applicant_phone", "手机号码"),
    ("applicant_id", "证件号码"),
    ("accepted_at", "受理时间"),
    ("promise_limit", "承诺时限"),
    ("legal_limit", "法定时限"),
    ("handling", "办件类型"),
    ("proc_channel", "办理渠道"),
    ("agent_name", "代理人"),
    ("agent_id", "代理人证件号码"),
    ("window_code", "服务窗口"),
    ("staff_code", "经办人"),
];

#[derive(Template)]
#[template(path = "staff_matters.html")]
struct MattersPage {
    frame: Frame,
    units: Choices,
    items: Choices,
    windows: Choices,
    staff: Choices,
    /// what was typed, and the error by its field
    filled: Filled,
    /// the matter just registered, with its service number if one was recorded
    done: Option<(String, Option<String>)>,
}

/// The form's field a use case's error names (`applicant.phone` → `applicant_phone`).
fn field_of(e: &AppError) -> String {
    let f = e.field().unwrap_or("");
    match f {
        "applicant.kind" | "applicant.prop" => "applicant_kind".into(),
        "applicant.name" => "applicant_name".into(),
        "applicant.phone" => "applicant_phone".into(),
        "applicant.id_number" => "applicant_id".into(),
        "agent.name" => "agent_name".into(),
        "agent.id_number" => "agent_id".into(),
        "handler_code" => "staff_code".into(),
        "served_at" => "accepted_at".into(),
        f => {
            let f = f.split('.').next().unwrap_or(f);
            // An error of no field of the form is the form's.
            if FIELDS.iter().any(|(n, _)| *n == f) { f.to_string() } else { String::new() }
        }
    }
}

/// `(code, name)` choices of a select.
type Choices = Vec<(String, String)>;

/// The units, items, windows and staff the caller may register matters for.
fn options(state: &AppState, caller: &Caller) -> (Choices, Choices, Choices, Choices) {
    let master = state.master();
    let units: Vec<String> = state.units_for(caller, Act::RegisterMatter);
    let named = |code: &String| (code.clone(), master.unit_name(code).unwrap_or_else(|| code.clone()));
    let mut items: Choices = master.items.values().map(|i| (i.code.clone(), format!("{}（{}）", i.name, i.code))).collect();
    items.sort();
    let mut windows: Choices =
        master.windows.values().filter(|w| units.contains(&w.unit_code)).map(|w| (w.code.clone(), w.name.clone())).collect();
    windows.sort();
    let mut staff: Choices = master
        .staff
        .values()
        .filter(|s| units.contains(&s.unit_code))
        .map(|s| (s.code.clone(), format!("{}（{}）", s.name, s.code)))
        .collect();
    staff.sort();
    (units.iter().map(named).collect(), items, windows, staff)
}

fn matters_page(
    state: &AppState,
    session: &Session,
    values: Vec<(String, String)>,
    error: Option<(String, String)>,
    done: Option<(String, Option<String>)>,
) -> Response {
    let (units, items, windows, staff) = options(state, &session.caller);
    let status = form_status(&error.as_ref().map(|e| e.1.clone()));
    let page = MattersPage { frame: session.frame.clone(), units, items, windows, staff, filled: Filled { values, error }, done };
    session.page(status, &page)
}

pub async fn page(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap) -> Response {
    let session = match Session::of(&state, caller, &headers) {
        Some(s) => s,
        None => return super::sign_in(),
    };
    if let Err(e) = state.authorize(&session.caller, Act::RegisterMatter) {
        return error_page(&e);
    }
    let defaults = vec![
        ("unit_code".to_string(), session.user.unit_code.clone()),
        ("applicant_kind".into(), "person".into()),
        ("proc_channel".into(), "offline".into()),
        ("completed".into(), "1".into()),
    ];
    matters_page(&state, &session, defaults, None, None)
}

pub async fn submit(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, form: Form) -> Response {
    let session = match Session::of(&state, caller, &headers) {
        Some(s) => s,
        None => return super::sign_in(),
    };
    let names = FIELDS.iter().map(|(n, _)| *n).chain(["completed", "project_name"]);
    let values: Vec<(String, String)> = names.map(|n| (n.to_string(), form.text(n))).collect();
    let get = |n: &str| values.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    if !Session::form_ok(&state, &headers, form.raw("csrf")) {
        return matters_page(&state, &session, values.clone(), Some((String::new(), "页面已过期，请重新提交".into())), None);
    }
    let now = Timestamp::now();
    let unit = get("unit_code").unwrap_or_else(|| session.user.unit_code.clone());
    let matter_no = get("matter_no").unwrap_or_else(|| hcp_app::matters::station_matter_no(&unit, now));
    let accepted = match get("accepted_at") {
        Some(t) => match hcp_domain::timestamp::parse_local(&t, "accepted_at") {
            Ok(t) => t,
            Err(e) => return matters_page(&state, &session, values.clone(), Some(("accepted_at".into(), e.message)), None),
        },
        None => now,
    };
    let limit = |name: &str| get(name).map(|p| TimeLimit::parse_text(&p, name)).transpose();
    let (promise, legal) = match (limit("promise_limit"), limit("legal_limit")) {
        (Ok(p), Ok(l)) => (p, l),
        (Err(e), _) | (_, Err(e)) => {
            let field = e.field.clone().unwrap_or_default();
            return matters_page(&state, &session, values.clone(), Some((field, e.message)), None);
        }
    };
    let window = get("window_code");
    let staff = get("staff_code");
    let input = MatterIn {
        matter_no: matter_no.clone(),
        item_code: get("item_code").unwrap_or_default(),
        unit_code: unit,
        applicant: ApplicantIn {
            kind: get("applicant_kind").unwrap_or_else(|| "person".into()),
            prop: None,
            name: get("applicant_name").unwrap_or_default(),
            phone: get("applicant_phone"),
            id_number: get("applicant_id"),
        },
        accepted_at: accepted.to_rfc3339(),
        // Done at once (即办) unless the clerk says it is still being handled.
        completed_at: (get("completed").as_deref() == Some("1")).then(|| now.max(accepted).to_rfc3339()),
        project_name: get("project_name"),
        promise_limit: promise.map(|l| TimeLimitIn { amount: l.amount, unit: l.unit.label().to_string() }),
        legal_limit: legal.map(|l| TimeLimitIn { amount: l.amount, unit: l.unit.label().to_string() }),
        handling: get("handling"),
        proc_channel: get("proc_channel"),
        agent: match (get("agent_name"), get("agent_id")) {
            (None, None) => None,
            (name, id_number) => Some(AgentIn { name: name.unwrap_or_default(), id_number }),
        },
        // Without a window (handled online), the staff member chosen is the matter's handler.
        handler_code: if window.is_none() { staff.clone() } else { None },
    };
    let registered = match register_matter(&state, &session.caller, input).await {
        Ok(m) => m,
        Err(e @ AppError::Invalid(_)) | Err(e @ AppError::Conflict { .. }) | Err(e @ AppError::Forbidden(_)) => {
            let field = if e.code() == "matter_conflict" { "matter_no".into() } else { field_of(&e) };
            return matters_page(&state, &session, values.clone(), Some((field, e.message())), None);
        }
        Err(e) => return error_page(&e),
    };
    // Served at a window: the service occasion (一次一评), which the receipt's QR code then rates.
    let mut service_no = None;
    if window.is_some() {
        let service = ServiceIn { window_code: window, staff_code: staff, served_at: Some(now.max(accepted).to_rfc3339()) };
        match add_service(&state, &session.caller, &registered.matter_no, service).await {
            Ok(s) => service_no = Some(s.service_no),
            Err(e @ (AppError::Invalid(_) | AppError::Forbidden(_))) => {
                let message = format!("办件 {} 已登记，但服务未能记录：{}", registered.matter_no, e.message());
                return matters_page(&state, &session, values.clone(), Some((field_of(&e), message)), None);
            }
            Err(e) => return error_page(&e),
        }
    }
    let fresh = vec![
        ("unit_code".to_string(), values.iter().find(|(k, _)| k == "unit_code").map(|(_, v)| v.clone()).unwrap_or_default()),
        ("applicant_kind".into(), "person".into()),
        ("proc_channel".into(), "offline".into()),
        ("completed".into(), "1".into()),
    ];
    matters_page(&state, &session, fresh, None, Some((registered.matter_no, service_no)))
}
