//! The staff back office, one file a page: sign-in, the work queue, the case page, the dashboard, the paper
//! form, receipts, machine keys and the settings. Every form carries a CSRF token; every step goes through the
//! same use case as the API, so a page can do nothing the API would refuse.

pub mod case;
pub mod dashboard;
pub mod keys;
pub mod ledger;
pub mod matters;
pub mod paper;
pub mod province;
pub mod queue;
pub mod receipt;
pub mod records;
pub mod settings;
pub mod sign_in;

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use hcp_app::{AppError, Caller};
use hcp_domain::access::Act;
use hcp_storage::users::User;

use super::{csrf_ok, csrf_token, render, see_other, with_cookie};
use crate::state::AppState;

/// What every back-office page shows around its content: who is signed in, what the navigation offers, and
/// the form token.
#[derive(Clone)]
pub struct Frame {
    pub who: String,
    pub role_label: &'static str,
    /// the pages this person may use, `(path, name)`: nothing is offered that would only refuse them
    pub nav: Vec<(&'static str, &'static str)>,
    pub csrf: String,
}

/// The back office's pages with the act each needs (the paper form is not for window staff, whose own
/// service it may rate; keys, settings and the provincial link are the administrators').
const PAGES: [(&str, &str, Act); 12] = [
    ("/staff/cases", "工单", Act::ReadCases),
    ("/staff/ledger", "整改台账", Act::ReadCases),
    ("/staff/matters", "办件登记", Act::RegisterMatter),
    ("/staff/dashboard", "统计", Act::ReadLoopStats),
    ("/staff/paper", "书面评价录入", Act::EnterPaperRating),
    ("/staff/inspections", "监督查评", Act::ReadInspections),
    ("/staff/replies", "答复备案", Act::ReadCases),
    ("/staff/notifications", "失败通知", Act::ManageNotifications),
    ("/staff/keys", "密钥管理", Act::ManageKeys),
    ("/staff/dead-letters", "评价器异常", Act::ManageKeys),
    ("/staff/settings", "系统设置", Act::ManageKeys),
    ("/staff/province", "省级报送", Act::ManageProvinceLink),
];

/// A signed-in staff member on a page.
pub struct Session {
    pub caller: Caller,
    pub user: User,
    pub frame: Frame,
    cookie: Option<HeaderValue>,
}

impl Session {
    /// The signed-in staff member; `None` for anyone else (send them to `sign_in()`).
    pub fn of(state: &AppState, caller: Caller, headers: &HeaderMap) -> Option<Session> {
        let Caller::Staff(user) = &caller else { return None };
        let user = user.clone();
        let (csrf, cookie) = csrf_token(state, headers);
        let frame = Frame {
            who: user.username.clone(),
            role_label: user.role.label(),
            nav: PAGES.iter().filter(|(_, _, act)| state.authorize(&caller, *act).is_ok()).map(|(path, name, _)| (*path, *name)).collect(),
            csrf,
        };
        Some(Session { caller, user, frame, cookie })
    }

    /// A page of this session (with the CSRF cookie when it was just made).
    pub fn page(&self, status: StatusCode, t: &impl Template) -> Response {
        with_cookie(render(status, t), self.cookie.clone())
    }

    /// Whether a posted form carries this browser's token.
    pub fn form_ok(state: &AppState, headers: &HeaderMap, token: Option<&str>) -> bool {
        csrf_ok(state, headers, token)
    }
}

#[derive(Template)]
#[template(
    source = r#"{% extends "base.html" %}{% block title %}{{ title }}{% endblock %}{% block main %}<h1>{{ title }}</h1><p class="alert" role="alert">{{ message }}</p><p><a href="/staff/cases">返回工单列表</a></p>{% endblock %}"#,
    ext = "html"
)]
struct ErrorPage {
    title: &'static str,
    message: String,
}

/// An error of a use case on a back-office page (a lost session goes back to the sign-in page).
pub fn error_page(e: &AppError) -> Response {
    let status = crate::error::status_of(e);
    if status == StatusCode::UNAUTHORIZED {
        return see_other("/staff/sign-in");
    }
    let title = match status {
        StatusCode::NOT_FOUND => "没有找到",
        StatusCode::FORBIDDEN => "无权访问",
        _ => "出错了",
    };
    render(status, &ErrorPage { title, message: e.message() })
}

/// Where anyone but a signed-in staff member is sent.
pub fn sign_in() -> Response {
    see_other("/staff/sign-in")
}

/// The status of a form page: 200, or 422 when it shows an error.
pub fn form_status(error: &Option<String>) -> StatusCode {
    if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK }
}
