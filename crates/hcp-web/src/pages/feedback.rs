//! The rater's feedback page (`/f/{token}`), from the link in the reply's SMS: progress, the reply, the verdict
//! and one follow-up rating, through the same use cases as the API.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hcp_app::AppError;
use hcp_app::feedback::{self, FeedbackView, FollowUpIn, VerdictIn};
use hcp_domain::Level;
use hcp_domain::case_flow::CaseState;

use super::rating::rater_message;
use super::render;
use crate::error::status_of;
use crate::extract::Form;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "feedback.html")]
struct FeedbackPage {
    big: bool,
    v: FeedbackView,
    done: Option<&'static str>,
    error: Option<String>,
    levels: Vec<(u8, &'static str)>,
    follow_up_label: Option<&'static str>,
}

fn page(status: StatusCode, v: FeedbackView, done: Option<&'static str>, error: Option<String>) -> Response {
    let follow_up_label = v.follow_up_level.and_then(|l| Level::new(l, "level").ok()).map(|l| l.label());
    let levels = Level::ALL.iter().rev().map(|l| (l.value(), l.label())).collect();
    render(status, &FeedbackPage { big: false, v, done, error, levels, follow_up_label })
}

fn refused(e: &AppError) -> Response {
    let hint = match e.code() {
        "token_expired" => "链接已过期。如对处理结果有意见，可拨打政务服务热线反映。",
        "invalid_token" => "链接无效，请使用短信中的完整链接。",
        _ => "请稍后再试。",
    };
    rater_message(status_of(e), false, "无法打开", "alert", vec![e.message(), hint.into()], None)
}

/// `GET /f/{token}`: the rater's view of their case.
pub async fn show(State(state): State<AppState>, Path(raw): Path<String>) -> Response {
    let r = async {
        let c = feedback::open(&state, &raw).await?;
        feedback::view(&state, &c).await
    }
    .await;
    match r {
        Ok(v) => page(StatusCode::OK, v, None, None),
        Err(e) => refused(&e),
    }
}

/// `POST /f/{token}`: the verdict or the follow-up rating.
pub async fn submit(State(state): State<AppState>, Path(raw): Path<String>, form: Form) -> Response {
    let c = match feedback::open(&state, &raw).await {
        Ok(c) => c,
        Err(e) => return refused(&e),
    };
    let done = match form.raw("action") {
        Some("verdict") => {
            let input = VerdictIn { verdict: form.text("verdict"), comment: form.get("comment") };
            // 不满意 sends the case back while the county allows another round; after that it closes.
            feedback::give_verdict(&state, &c, &input).await.map(|after| match after {
                CaseState::Closed => "感谢您的评价，工单已办结。",
                _ => "已收到您的意见，工单已退回承办单位重新办理。",
            })
        }
        Some("follow_up") => match form.raw("level").and_then(|l| l.parse::<i64>().ok()) {
            Some(level) => {
                let input = FollowUpIn { level, indicators: Default::default(), reasons: Vec::new(), text: form.get("text") };
                feedback::follow_up(&state, &c, &input).await.map(|_| "追评已提交，感谢您的监督。")
            }
            None => Err(AppError::invalid("invalid_level", "level", "请选择评价等级")),
        },
        _ => Err(AppError::invalid("invalid_action", "action", "请求无效")),
    };
    let fresh = match feedback::open(&state, &raw).await {
        Ok(c) => feedback::view(&state, &c).await,
        Err(e) => Err(e),
    };
    match (done, fresh) {
        (Ok(msg), Ok(v)) => page(StatusCode::OK, v, Some(msg), None),
        (Err(e @ (AppError::Invalid(_) | AppError::Conflict { .. })), Ok(v)) => page(status_of(&e), v, None, Some(e.message())),
        (Err(e), _) | (_, Err(e)) => refused(&e),
    }
}
