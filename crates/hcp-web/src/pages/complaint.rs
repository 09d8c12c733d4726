//! The public complaint and suggestion form (综合点评, S-7): no unit codes to type. The unit is chosen from the
//! county's tree, or found from the matter number on a receipt (the case then goes to the unit that handled the
//! matter, and stands beside any bad review of the same matter). What the person typed stays on an error; the
//! error stands next to its field.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hcp_app::complaints::{ComplaintIn, ContactIn, submit_complaint};
use hcp_app::{AppError, Caller};
use hcp_domain::master::UnitKind;

use super::{Filled, csrf_ok, csrf_token, render, with_cookie};
use crate::extract::Form;
use crate::state::AppState;

/// A group of units to choose from: `(label, [(code, name)])`.
type Group = (String, Vec<(String, String)>);

#[derive(Template)]
#[template(path = "complaint.html")]
struct ComplaintPage {
    csrf: String,
    groups: Vec<Group>,
    /// what was typed, and the error by its field
    filled: Filled,
    /// after submitting: the reference, and what happens next
    done: Option<(String, Vec<String>)>,
}

/// The county's units as a person looks for them: county departments and halls, then each town with its
/// stations.
fn groups(state: &AppState) -> Vec<Group> {
    let master = state.master();
    let mut units: Vec<_> = master.units.values().filter(|u| u.parent_code.is_some()).collect();
    units.sort_by(|a, b| a.code.cmp(&b.code));
    let mut county = ("县级部门和办事大厅".to_string(), Vec::new());
    let mut towns: Vec<Group> = Vec::new();
    for u in &units {
        match u.kind {
            UnitKind::Town | UnitKind::Village => {
                // The town government heads its group; its centre and villages follow it.
                let mut top = u.code.clone();
                for _ in 0..4 {
                    match master.units.get(&top).and_then(|x| x.parent_code.clone()) {
                        Some(p) if master.units.get(&p).is_some_and(|x| matches!(x.kind, UnitKind::Town)) => top = p,
                        _ => break,
                    }
                }
                let label = master.unit_name(&top).unwrap_or_else(|| top.clone());
                match towns.iter_mut().find(|(l, _)| *l == label) {
                    Some((_, v)) => v.push((u.code.clone(), u.name.clone())),
                    None => towns.push((label, vec![(u.code.clone(), u.name.clone())])),
                }
            }
            _ => county.1.push((u.code.clone(), u.name.clone())),
        }
    }
    let mut out = vec![county];
    out.extend(towns);
    out
}

fn page_with(
    state: &AppState,
    headers: &HeaderMap,
    values: Vec<(String, String)>,
    error: Option<(String, String)>,
    done: Option<(String, Vec<String>)>,
) -> Response {
    let (csrf, cookie) = csrf_token(state, headers);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if done.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    with_cookie(render(status, &ComplaintPage { csrf, groups: groups(state), filled: Filled { values, error }, done }), cookie)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    page_with(&state, &headers, vec![("kind".into(), "complaint".into())], None, None)
}

/// The form's field an error of the use case names.
fn field_of(e: &AppError) -> String {
    match e.field().unwrap_or("") {
        "contact.name" => "name".into(),
        "contact.phone" | "contact" => "phone".into(),
        "kind" | "unit_code" | "matter_no" | "text" => e.field().unwrap_or("").into(),
        _ => String::new(),
    }
}

pub async fn submit(State(state): State<AppState>, headers: HeaderMap, form: Form) -> Response {
    let names = ["kind", "unit_code", "matter_no", "text", "anonymous", "name", "phone"];
    let values: Vec<(String, String)> =
        names.iter().map(|n| (n.to_string(), if *n == "text" { form.raw(n).unwrap_or("").to_string() } else { form.text(n) })).collect();
    let get = |n: &str| values.iter().find(|(k, _)| k == n).map(|(_, v)| v.trim().to_string()).filter(|v| !v.is_empty());
    if !csrf_ok(&state, &headers, form.raw("csrf")) {
        return page_with(
            &state,
            &headers,
            values.clone(),
            Some((String::new(), "页面已过期，请再提交一次（您填写的内容都还在）".into())),
            None,
        );
    }
    let anonymous = get("anonymous").as_deref() == Some("1");
    let contact =
        (!anonymous && (get("name").is_some() || get("phone").is_some())).then(|| ContactIn { name: get("name"), phone: get("phone") });
    let input = ComplaintIn {
        kind: get("kind").unwrap_or_else(|| "complaint".into()),
        // The matter, when given, names the unit by itself.
        unit_code: if get("matter_no").is_some() { None } else { get("unit_code") },
        matter_no: get("matter_no"),
        text: get("text").unwrap_or_default(),
        anonymous,
        contact,
        source: None,
    };
    match submit_complaint(&state, &Caller::Anonymous, input).await {
        Ok(created) => {
            let reference: String = created.case_id.chars().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect();
            let unit = state.master().unit_name(&created.unit_code).unwrap_or(created.unit_code.clone());
            let mut next = vec![format!("已交{unit}办理，将于 {} 前响应。", created.respond_by)];
            if anonymous || get("phone").is_none() {
                next.push("您没有留下手机号码，我们无法回访和答复您；处理情况将纳入单位的整改和考核。".into());
            } else {
                next.push(format!("承办单位将通过您留下的手机号码联系您，并于 {} 前答复处理结果。", created.reply_by));
            }
            page_with(&state, &headers, vec![("kind".into(), "complaint".into())], None, Some((reference, next)))
        }
        Err(AppError::NotFound(_)) => page_with(
            &state,
            &headers,
            values.clone(),
            Some(("matter_no".into(), "没有找到这个办件编号，请核对回执；也可以不填编号，直接选择单位".into())),
            None,
        ),
        Err(e @ (AppError::Invalid(_) | AppError::Forbidden(_))) => {
            page_with(&state, &headers, values.clone(), Some((field_of(&e), e.message())), None)
        }
        Err(e) => super::rating::rater_message(crate::error::status_of(&e), false, "暂时无法提交", "alert", vec![e.message()], None),
    }
}
