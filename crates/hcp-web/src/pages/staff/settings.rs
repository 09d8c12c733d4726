//! The system's settings as they are (rules, this year's calendar, the catalogue, the units), and the county's
//! imports of a year's holiday notice and of master data.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hcp_domain::access::Act;
use hcp_domain::{BizDay, Level};

use super::{Frame, Session, error_page};
use crate::extract::Form;
use crate::extract::caller::Who;
use crate::state::AppState;

struct UnitRow {
    code: String,
    name: String,
    kind: &'static str,
    parent: String,
    hall: &'static str,
    windows: usize,
    staff: usize,
}

#[derive(Template)]
#[template(path = "staff_settings.html")]
struct SettingsPage {
    frame: Frame,
    warnings: Vec<String>,
    notice: Option<String>,
    rules: Vec<(&'static str, String)>,
    year: i32,
    days: Vec<(String, &'static str)>,
    catalogue_version: i64,
    reasons: Vec<(String, String, String, String)>,
    units: Vec<UnitRow>,
}

async fn settings_page(state: &AppState, session: &Session, error: Option<String>, notice: Option<String>) -> Response {
    if let Err(e) = state.authorize(&session.caller, Act::ManageKeys) {
        return error_page(&e);
    }
    let cfg = &state.config;
    let rules = vec![
        ("响应期限", format!("{} 个工作日", cfg.deadline_rule.respond_days)),
        ("答复期限", format!("{} 个工作日", cfg.deadline_rule.reply_days)),
        ("延期", format!("至多 {} 次，最迟自受理起 {} 个工作日", cfg.loop_limits.max_extensions, cfg.loop_limits.max_reply_days)),
        ("不满意退回", format!("至多 {} 次", cfg.loop_limits.max_reopen)),
        ("复核期间", if cfg.appeal_stops_clock { "暂停计时".to_string() } else { "不停止计时".to_string() }),
        ("评价期限", format!("服务后 {} 天内", cfg.rating_window_days)),
        ("评价人反馈链接", format!("答复后 {} 天内有效", cfg.feedback_days)),
        ("工作人员会话", format!("{} 分钟无操作即退出", cfg.session_idle_secs / 60)),
        ("管理员动态口令", if cfg.admin_second_factor { "必须".to_string() } else { "未启用".to_string() }),
        ("评价器", format!("{} 秒无操作返回欢迎页；{} 毫秒内重复按键只算一次", cfg.device_idle_secs, cfg.device_min_press_ms)),
    ];
    let year = BizDay::today().year();
    let mut warnings: Vec<String> = error.into_iter().collect();
    let mut days = Vec::new();
    match hcp_app::settings::calendar_year(state, Some(year)).await {
        Ok(c) => {
            warnings.extend(c.warnings);
            days = c.days.into_iter().map(|d| (d.date, if d.working_day { "调休上班" } else { "放假" })).collect();
        }
        Err(e) => warnings.push(e.message()),
    }
    let cat = &state.catalogue;
    let reasons = cat
        .reasons
        .iter()
        .map(|r| {
            let level = Level::new(i64::from(r.level), "level").map(|l| l.label().to_string()).unwrap_or_default();
            let modes = r.modes.iter().map(|m| if m == "online" { "网上" } else { "现场" }).collect::<Vec<_>>().join("、");
            (level, r.code.clone(), r.label.clone(), modes)
        })
        .collect();
    let master = state.master();
    let units = master
        .sorted_units()
        .into_iter()
        .filter(|u| state.may(&session.caller, Act::ManageKeys, &u.code))
        .map(|u| UnitRow {
            code: u.code.clone(),
            name: u.name.clone(),
            kind: u.kind.label(),
            parent: u.parent_code.clone().unwrap_or_else(|| "—".into()),
            hall: if u.hall_stationed { "是" } else { "" },
            windows: master.windows.values().filter(|w| w.unit_code == u.code).count(),
            staff: master.staff.values().filter(|s| s.unit_code == u.code).count(),
        })
        .collect();
    let page =
        SettingsPage { frame: session.frame.clone(), warnings, notice, rules, year, days, catalogue_version: cat.version, reasons, units };
    session.page(StatusCode::OK, &page)
}

pub async fn page(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap) -> Response {
    match Session::of(&state, caller, &headers) {
        Some(s) => settings_page(&state, &s, None, None).await,
        None => super::sign_in(),
    }
}

/// The last eight characters of a case id, as the pages show it.
fn tail(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    chars[chars.len().saturating_sub(8)..].iter().collect()
}

/// Loads a year's holiday notice pasted as CSV (the same format as `haochaping calendar import`).
pub async fn calendar(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, form: Form) -> Response {
    let session = match Session::of(&state, caller, &headers) {
        Some(s) => s,
        None => return super::sign_in(),
    };
    if !Session::form_ok(&state, &headers, form.raw("csrf")) {
        return settings_page(&state, &session, Some("页面已过期，请重试".into()), None).await;
    }
    match hcp_app::settings::import_calendar_as(&state, &session.caller, form.raw("csv").unwrap_or_default().as_bytes()).await {
        Ok(loaded) => {
            let years = loaded.years.iter().map(i32::to_string).collect::<Vec<_>>().join("、");
            let mut done = format!("已导入 {years} 年的节假日安排，所有服务器一分钟内生效。");
            if loaded.changed.is_empty() {
                done.push_str("没有工单的期限因此变化。");
            } else {
                let list = loaded
                    .changed
                    .iter()
                    .map(|c| format!("{}（工单尾号 {}）答复期限 {} → {}", c.unit_name, tail(&c.case_id), c.reply_by.0, c.reply_by.1))
                    .collect::<Vec<_>>()
                    .join("；");
                done.push_str(&format!("{} 件工单的期限已重算并通知承办单位：{list}", loaded.changed.len()));
            }
            settings_page(&state, &session, None, Some(done)).await
        }
        Err(e @ hcp_app::AppError::Forbidden(_)) => error_page(&e),
        Err(e) => settings_page(&state, &session, Some(e.message()), None).await,
    }
}

/// Imports units, windows, items or staff pasted as CSV: the same use case as `haochaping import`.
pub async fn import(State(state): State<AppState>, Who(caller): Who, headers: HeaderMap, form: Form) -> Response {
    let session = match Session::of(&state, caller, &headers) {
        Some(s) => s,
        None => return super::sign_in(),
    };
    if !Session::form_ok(&state, &headers, form.raw("csrf")) {
        return settings_page(&state, &session, Some("页面已过期，请重试".into()), None).await;
    }
    let kind = form.text("kind");
    if !hcp_app::settings::IMPORT_KINDS.contains(&kind.as_str()) {
        return settings_page(&state, &session, Some("请选择导入类型".into()), None).await;
    }
    match hcp_app::settings::import_master_as(&state, &session.caller, &kind, form.raw("csv").unwrap_or_default().as_bytes()).await {
        Ok(n) => settings_page(&state, &session, None, Some(format!("已导入 {n} 条（{kind}）"))).await,
        Err(e @ hcp_app::AppError::Forbidden(_)) => error_page(&e),
        Err(e) => settings_page(&state, &session, Some(format!("导入停止：{}", e.message())), None).await,
    }
}
