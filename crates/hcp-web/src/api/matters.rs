use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use hcp_domain::ids::parse_code;
use hcp_domain::person::{IdNumber, PersonName, Phone, mask_name, mask_phone};
use hcp_domain::timestamp::Timestamp;
use hcp_domain::token::RatingToken;
use hcp_storage::matters::{Matter, NewMatter, Registered};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::authorize;
use crate::api::meta::ErrorBody;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::qr;
use crate::state::AppState;
use hcp_domain::access::Act;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicantIn {
    /// `person` (自然人) or `legal` (法人或其他组织)
    pub kind: String,
    pub name: String,
    pub phone: Option<String>,
    pub id_number: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatterIn {
    /// 办件编号, unique; registering the same matter again is idempotent.
    pub matter_no: String,
    pub item_code: String,
    pub unit_code: String,
    pub applicant: ApplicantIn,
    /// RFC 3339
    pub accepted_at: String,
    /// RFC 3339; may be sent later by registering the matter again with it.
    pub completed_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MatterOut {
    pub id: String,
    pub matter_no: String,
    pub item_code: String,
    pub unit_code: String,
    pub applicant_kind: String,
    /// masked, e.g. 张*
    pub applicant_name: String,
    /// masked, e.g. 138****8000
    pub applicant_phone: Option<String>,
    pub accepted_at: String,
    pub completed_at: Option<String>,
    /// Link to the unified rating page for the matter as a whole (一事一评), once it is completed.
    pub rating_url: Option<String>,
    /// true when this call created the matter
    pub created: bool,
}

pub(crate) fn matter_out(state: &AppState, m: &Matter, created: bool) -> MatterOut {
    let name = state.secrets.decrypt(&m.applicant_name).map(|n| mask_name(&n)).unwrap_or_else(|_| "***".into());
    let phone = m.applicant_phone.as_ref().map(|p| state.secrets.decrypt(p).map(|p| mask_phone(&p)).unwrap_or_else(|_| "***".into()));
    let rating_url = m.completed_at.map(|done| rating_url(state, &m.matter_no, 0, done));
    MatterOut {
        id: m.id.clone(),
        matter_no: m.matter_no.clone(),
        item_code: m.item_code.clone(),
        unit_code: m.unit_code.clone(),
        applicant_kind: m.applicant_kind.clone(),
        applicant_name: name,
        applicant_phone: phone,
        accepted_at: m.accepted_at.to_rfc3339(),
        completed_at: m.completed_at.map(|t| t.to_rfc3339()),
        rating_url,
        created,
    }
}

/// A signed link to the rating page for one matter (`seq` 0) or one service occasion, valid for the rating window.
pub(crate) fn rating_url(state: &AppState, matter_no: &str, seq: i64, from: Timestamp) -> String {
    let expires = from.plus_seconds(state.config.rating_window_days * 86_400).micros() / 1_000_000;
    let token = RatingToken { matter_no: matter_no.to_string(), service_seq: seq, expires_unix: expires }.sign(state.secrets.token_key());
    format!("{}/r/{}", state.config.public_base_url.trim_end_matches('/'), token)
}

pub fn service_no(matter_no: &str, seq: i64) -> String {
    format!("{matter_no}-S{seq}")
}

/// Parses `MATTERNO-S3` into the matter number and 3.
pub fn parse_service_no(raw: &str) -> Result<(String, i64), ApiError> {
    let bad =
        || ApiError::from(hcp_domain::DomainError::new("invalid_service_no", "service_no", "服务编号格式不正确，应为“办件编号-S序号”"));
    let (m, seq) = raw.rsplit_once("-S").ok_or_else(bad)?;
    let seq: i64 = seq.parse().map_err(|_| bad())?;
    if seq < 1 {
        return Err(bad());
    }
    Ok((m.to_string(), seq))
}

/// Register a matter (办件). Idempotent on `matter_no`: the same body again returns 200 with the stored
/// matter; the same matter with `completed_at` newly given records its completion. Needs a system key (or a
/// staff session) of the matter's unit or a unit above it.
#[utoipa::path(post, path = "/api/v1/matters", tag = "matters", request_body = MatterIn,
    security(("machine_key" = []), ("session" = [])),
    responses((status = 201, body = MatterOut), (status = 200, body = MatterOut, description = "already registered"),
        (status = 409, body = ErrorBody, description = "matter_conflict"), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn register_matter(State(state): State<AppState>, caller: Caller, body: ApiJson<MatterIn>) -> ApiResult<Response> {
    let input = body.value;
    let matter_no = parse_code(&input.matter_no, "matter_no", 50)?;
    let item_code = parse_code(&input.item_code, "item_code", 40)?;
    let unit_code = parse_code(&input.unit_code, "unit_code", 40)?;
    authorize(&state, &caller, Act::RegisterMatter, None)?;
    let master = state.master_with_unit(&unit_code).await?;
    if !master.units.contains_key(&unit_code) {
        return Err(hcp_domain::DomainError::new("unknown_reference", "unit_code", format!("单位编码 {unit_code} 不存在")).into());
    }
    if !master.items.contains_key(&item_code) && !state.reload_master().await?.items.contains_key(&item_code) {
        return Err(hcp_domain::DomainError::new("unknown_reference", "item_code", format!("事项编码 {item_code} 不存在")).into());
    }
    authorize(&state, &caller, Act::RegisterMatter, Some(&unit_code))?;
    let kind = match input.applicant.kind.as_str() {
        "person" | "legal" => input.applicant.kind.clone(),
        _ => {
            return Err(hcp_domain::DomainError::new(
                "invalid_applicant_kind",
                "applicant.kind",
                "申请人类型应为 person（自然人）或 legal（法人或其他组织）",
            )
            .into());
        }
    };
    let new = NewMatter {
        matter_no,
        item_code,
        unit_code,
        applicant_kind: kind,
        applicant_name: PersonName::parse(&input.applicant.name, "applicant.name")?,
        applicant_phone: input.applicant.phone.as_deref().map(|p| Phone::parse(p, "applicant.phone")).transpose()?,
        applicant_id_number: input.applicant.id_number.as_deref().map(|i| IdNumber::parse(i, "applicant.id_number")).transpose()?,
        accepted_at: Timestamp::parse_rfc3339(&input.accepted_at, "accepted_at")?,
        completed_at: input.completed_at.as_deref().map(|c| Timestamp::parse_rfc3339(c, "completed_at")).transpose()?,
        source_kind: match &caller {
            Caller::Key(_) => "key".into(),
            _ => "staff".into(),
        },
        source_id: caller.id().map(str::to_string),
    };
    let now = Timestamp::now();
    if new.accepted_at > now.plus_seconds(state.config.max_clock_skew_secs) {
        return Err(hcp_domain::DomainError::new("timestamp_in_future", "accepted_at", "受理时间不能晚于当前时间").into());
    }
    if let Some(c) = new.completed_at
        && c > now.plus_seconds(state.config.max_clock_skew_secs)
    {
        return Err(hcp_domain::DomainError::new("timestamp_in_future", "completed_at", "办结时间不能晚于当前时间").into());
    }
    Ok(match state.db.register_matter(&new, &state.secrets).await? {
        Registered::Created(m) => (StatusCode::CREATED, Json(matter_out(&state, &m, true))).into_response(),
        Registered::Existing { matter, .. } => (StatusCode::OK, Json(matter_out(&state, &matter, false))).into_response(),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceIn {
    pub window_code: Option<String>,
    pub staff_code: Option<String>,
    /// RFC 3339; defaults to now.
    pub served_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceOut {
    pub service_no: String,
    pub matter_no: String,
    pub seq: i64,
    pub window_code: Option<String>,
    pub staff_code: Option<String>,
    pub served_at: String,
    /// Signed, single-purpose link to rate exactly this service occasion (一次一评).
    pub rating_url: String,
}

/// Record one service occasion of a matter (for 一次一评). Returns its `service_no` and a signed `rating_url`.
#[utoipa::path(post, path = "/api/v1/matters/{matter_no}/services", tag = "matters", request_body = ServiceIn,
    params(("matter_no" = String, Path, description = "办件编号")),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 201, body = ServiceOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn add_service(
    State(state): State<AppState>,
    caller: Caller,
    Path(matter_no): Path<String>,
    body: ApiJson<ServiceIn>,
) -> ApiResult<Response> {
    let input = body.value;
    let matter_no = parse_code(&matter_no, "matter_no", 50)?;
    // A rating device or the hotline records no services: each service yields a rating token.
    authorize(&state, &caller, Act::RegisterMatter, None)?;
    let matter = state.db.find_matter(&matter_no).await?.ok_or_else(|| ApiError::not_found("办件"))?;
    authorize(&state, &caller, Act::RegisterMatter, Some(&matter.unit_code))?;
    let master = state.master();
    let window = input.window_code.as_deref().map(|w| parse_code(w, "window_code", 40)).transpose()?;
    let staff = input.staff_code.as_deref().map(|s| parse_code(s, "staff_code", 40)).transpose()?;
    if let Some(w) = &window {
        let Some(win) = master.windows.get(w) else {
            return Err(hcp_domain::DomainError::new("unknown_reference", "window_code", format!("窗口 {w} 不存在")).into());
        };
        authorize(&state, &caller, Act::RegisterMatter, Some(&win.unit_code))?;
    }
    if let Some(s) = &staff {
        let Some(member) = master.staff.get(s) else {
            return Err(hcp_domain::DomainError::new("unknown_reference", "staff_code", format!("工作人员 {s} 不存在")).into());
        };
        // A service is put on the record of staff of the caller's own tree only (their statistics and cases follow).
        authorize(&state, &caller, Act::RegisterMatter, Some(&member.unit_code))?;
    }
    let now = Timestamp::now();
    let served_at = match &input.served_at {
        Some(s) => Timestamp::parse_rfc3339(s, "served_at")?,
        None => now,
    };
    if served_at > now.plus_seconds(state.config.max_clock_skew_secs) {
        return Err(hcp_domain::DomainError::new("timestamp_in_future", "served_at", "服务时间不能晚于当前时间").into());
    }
    let svc = state.db.add_service(&matter.id, window.as_deref(), staff.as_deref(), served_at).await?;
    let out = ServiceOut {
        service_no: service_no(&matter.matter_no, svc.seq),
        matter_no: matter.matter_no.clone(),
        seq: svc.seq,
        window_code: svc.window_code,
        staff_code: svc.staff_code,
        served_at: svc.served_at.to_rfc3339(),
        rating_url: rating_url(&state, &matter.matter_no, svc.seq, svc.served_at),
    };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceiptQuery {
    /// `html` (default), `svg` or `png` (the QR code alone)
    pub format: Option<String>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The printable receipt (办件回执) of a matter with the QR code of its rating page: the latest service
/// occasion if there is one, else the matter as a whole. `?format=svg|png` returns the code alone.
#[utoipa::path(get, path = "/api/v1/matters/{matter_no}/receipt", tag = "matters",
    params(("matter_no" = String, Path, description = "办件编号"), ReceiptQuery),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, description = "HTML receipt, SVG or PNG", content_type = "text/html"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn receipt(
    State(state): State<AppState>,
    caller: Caller,
    Path(matter_no): Path<String>,
    Query(q): Query<ReceiptQuery>,
) -> ApiResult<Response> {
    let matter_no = parse_code(&matter_no, "matter_no", 50)?;
    authorize(&state, &caller, Act::RegisterMatter, None)?;
    let matter = state.db.find_matter(&matter_no).await?.ok_or_else(|| ApiError::not_found("办件"))?;
    authorize(&state, &caller, Act::RegisterMatter, Some(&matter.unit_code))?;
    let latest = state.db.latest_service(&matter.id).await?;
    let (seq, from) = match &latest {
        Some(s) => (s.seq, s.served_at),
        None => (0, matter.completed_at.unwrap_or_else(Timestamp::now)),
    };
    let url = rating_url(&state, &matter.matter_no, seq, from);
    match q.format.as_deref().unwrap_or("html") {
        "svg" => Ok(([(header::CONTENT_TYPE, "image/svg+xml")], qr::svg(&url)?).into_response()),
        "png" => Ok(([(header::CONTENT_TYPE, "image/png")], qr::png(&url, 6)?).into_response()),
        "html" => {
            let master = state.master();
            let item = master.items.get(&matter.item_code).map(|i| i.name.clone()).unwrap_or_default();
            let unit = master.units.get(&matter.unit_code).map(|u| u.name.clone()).unwrap_or_default();
            let out = matter_out(&state, &matter, false);
            let svg = qr::svg(&url)?;
            let rows = [
                ("办件编号", matter.matter_no.clone()),
                ("办理事项", item),
                ("办理单位", unit),
                ("申请人", out.applicant_name),
                ("受理时间", out.accepted_at),
                ("办结时间", out.completed_at.unwrap_or_else(|| "办理中".into())),
            ];
            let rows: String = rows.iter().map(|(k, v)| format!("<tr><th scope=\"row\">{}</th><td>{}</td></tr>", k, esc(v))).collect();
            let html = format!(
                "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                 <title>办件回执 {no}</title><style>body{{font-family:system-ui,\"Noto Sans CJK SC\",sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem}}\
                 th{{text-align:left;padding-right:1rem;font-weight:normal;color:#444}}td,th{{padding:.3rem 0}}.qr svg{{width:12rem;height:12rem}}\
                 @media print{{a{{color:#000;text-decoration:none}}}}</style></head><body>\
                 <h1>办件回执</h1><table>{rows}</table>\
                 <h2>请您评价</h2><p>扫描下方二维码，对本次政务服务作出评价（好差评）。二维码仅用于本办件，评价一次有效。</p>\
                 <div class=\"qr\" role=\"img\" aria-label=\"评价二维码\">{svg}</div><p><a href=\"{url}\">{url_text}</a></p></body></html>",
                no = esc(&matter.matter_no),
                url = esc(&url),
                url_text = esc(&url),
            );
            Ok(Html(html).into_response())
        }
        _ => Err(hcp_domain::DomainError::new("invalid_format", "format", "format 应为 html、svg 或 png").into()),
    }
}
