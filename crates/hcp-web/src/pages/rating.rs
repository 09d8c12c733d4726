//! The rating page a QR code or push link opens (`/r/{token}`): small, without script, for an old phone on a
//! slow network. Step one chooses the level (five large links); step two offers that level's reasons, a text
//! and real-name or anonymous, and posts the form to the one rating use case. `?big=1` is the elder-friendly
//! mode (大字版), kept on every link and form of the journey.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hcp_app::matters::{RatedService, UsedLink, describe_token};
use hcp_app::ratings::{RatingIn, rate};
use hcp_app::{AppError, Caller};
use hcp_domain::token::RatingToken;
use hcp_domain::{Channel, Level, Timestamp};
use serde::Deserialize;

use super::{minute, render};
use crate::error::status_of;
use crate::extract::Form;
use crate::extract::caller::ClientIp;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct LevelQuery {
    pub level: Option<i64>,
    /// `1`: the elder-friendly mode
    pub big: Option<u8>,
}

#[derive(Template)]
#[template(path = "rate.html")]
struct RatePage {
    big: bool,
    channel: &'static str,
    /// the same step in the other mode (standard ↔ 大字版)
    mode_href: String,
    service: RatedService,
    when: String,
    levels: Vec<(u8, &'static str, String)>,
    chosen: Option<(u8, &'static str)>,
    bad: bool,
    reasons: Vec<(String, String, bool)>,
    /// the catalogue's indicators for the channel's mode: `(code, label, level chosen)`
    indicators: Vec<(String, String, Option<u8>)>,
    /// the levels an indicator may be given, best first: `(level, label)`
    scale: Vec<(u8, &'static str)>,
    text: String,
    anonymous: bool,
    error: Option<String>,
    /// where the opt-out of SMS invitations posts (shown when the page was opened from an invitation)
    optout_action: String,
}

#[derive(Template)]
#[template(path = "rater_message.html")]
struct RaterMessage<'a> {
    big: bool,
    title: &'a str,
    role: &'a str,
    paragraphs: Vec<String>,
    link: Option<(String, String)>,
}

pub(crate) fn rater_message(
    status: StatusCode,
    big: bool,
    title: &str,
    role: &str,
    paragraphs: Vec<String>,
    link: Option<(String, String)>,
) -> Response {
    render(status, &RaterMessage { big, title, role, paragraphs, link })
}

fn refused(e: &AppError, big: bool) -> Response {
    let hint = match e.code() {
        "token_expired" => "评价期限已过。如对服务有意见，可拨打政务服务热线反映。",
        "invalid_token" => "二维码或链接无效，请重新扫描办件回执上的二维码。",
        _ => "请返回上一页重试。",
    };
    rater_message(status_of(e), big, "无法评价", "alert", vec![e.message(), hint.into()], None)
}

/// What the form held, to show it again with an error.
#[derive(Default)]
struct Filled {
    reasons: Vec<String>,
    indicators: BTreeMap<String, i64>,
    text: String,
    anonymous: bool,
    error: Option<String>,
}

/// The catalogue's name of a channel's mode (`online`, `offline`).
fn mode_code(channel: Channel) -> &'static str {
    match channel.mode() {
        hcp_domain::channel::Mode::Online => "online",
        hcp_domain::channel::Mode::Offline => "offline",
    }
}

/// What a link that was already used says at once: when and how it was used, and for a bad review where its case
/// stands (its reply and the rater's verdict go only through the rater's own link, by SMS).
fn used_page(big: bool, used: &UsedLink) -> Response {
    let mut paragraphs = vec![
        format!("本次服务已于 {} 通过“{}”评价为“{}”。", minute(used.rated_at), used.channel_label, used.level_label),
        "每次服务只能评价一次，您的评价已经记录，不需要再评。".into(),
    ];
    match used.case_state {
        Some(state) => {
            paragraphs.push(format!(
                "您的意见已转承办单位核实整改，目前{state}。答复将通过短信发送到办件登记的手机号码，短信中的链接可查看答复、评价处理结果。"
            ));
        }
        None if used.bad_review => paragraphs.push("如有新的意见，可拨打政务服务热线反映。".into()),
        None => {}
    }
    rater_message(StatusCode::OK, big, "该服务已评价", "status", paragraphs, None)
}

async fn form_page(state: &AppState, raw: &str, level: Option<Level>, big: bool, filled: Filled, status: StatusCode) -> Response {
    let (token, service) = match describe_token(state, raw).await {
        Ok(d) => d,
        Err(e) => return refused(&e, big),
    };
    if let Some(used) = &service.used {
        return used_page(big, used);
    }
    let channel = token.rating_channel();
    let reasons = level
        .map(|l| {
            state
                .catalogue
                .reasons_for(l, channel.mode())
                .map(|r| (r.code.clone(), r.label.clone(), filled.reasons.contains(&r.code)))
                .collect()
        })
        .unwrap_or_default();
    // Per-indicator levels (S-2): optional, one tap each, offered once a level is chosen.
    let indicators = if level.is_some() {
        state
            .catalogue
            .indicators
            .iter()
            .filter(|i| i.modes.iter().any(|m| m == mode_code(channel)))
            .map(|i| (i.code.clone(), i.label.clone(), filled.indicators.get(&i.code).and_then(|v| u8::try_from(*v).ok())))
            .collect()
    } else {
        Vec::new()
    };
    let page = RatePage {
        indicators,
        scale: Level::ALL.iter().rev().map(|l| (l.value(), l.label())).collect(),
        big,
        channel: channel.code(),
        mode_href: match (level, big) {
            (Some(l), true) => format!("?level={}", l.value()),
            (Some(l), false) => format!("?level={}&big=1", l.value()),
            (None, true) => "?".into(),
            (None, false) => "?big=1".into(),
        },
        when: minute(service.when),
        service,
        levels: Level::ALL.iter().rev().map(|l| (l.value(), l.label(), "★".repeat(usize::from(l.value())))).collect(),
        chosen: level.map(|l| (l.value(), l.label())),
        bad: level.is_some_and(|l| l.is_bad()),
        reasons,
        text: filled.text,
        anonymous: filled.anonymous,
        error: filled.error,
        optout_action: format!("/r/{raw}/optout{}", if big { "?big=1" } else { "" }),
    };
    render(status, &page)
}

/// `GET /r/{token}`: choose a level; with `?level=N`, the rest of the rating.
pub async fn page(State(state): State<AppState>, Path(raw): Path<String>, Query(q): Query<LevelQuery>) -> Response {
    let level = q.level.and_then(|l| Level::new(l, "level").ok());
    form_page(&state, &raw, level, q.big == Some(1), Filled::default(), StatusCode::OK).await
}

/// `POST /r/{token}`: the rating, through the same use case as the API; a missing reason shows the form again
/// with what was typed.
pub async fn submit(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    ClientIp(peer): ClientIp,
    form: Form,
) -> Response {
    let big = form.raw("big") == Some("1");
    // The channel the link was issued for; a link that does not verify is refused by the use case.
    let channel = RatingToken::verify(&raw, state.secrets.token_key(), Timestamp::now().micros() / 1_000_000)
        .map(|t| t.rating_channel())
        .unwrap_or(Channel::Qr);
    let Some(level) = form.raw("level").and_then(|l| l.parse::<i64>().ok()).and_then(|l| Level::new(l, "level").ok()) else {
        return form_page(
            &state,
            &raw,
            None,
            big,
            Filled { error: Some("请选择评价等级".into()), ..Filled::default() },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    // `ind_E01=4`: a level for an indicator of the catalogue (the use case checks it applies to the channel).
    let indicators: BTreeMap<String, i64> = state
        .catalogue
        .indicators
        .iter()
        .filter_map(|i| form.raw(&format!("ind_{}", i.code)).and_then(|v| v.trim().parse::<i64>().ok()).map(|v| (i.code.clone(), v)))
        .collect();
    let filled = Filled {
        reasons: form.all("reasons", 30),
        indicators,
        text: form.text("text"),
        anonymous: form.raw("anonymous") == Some("1"),
        error: None,
    };
    let input = RatingIn {
        reasons: filled.reasons.clone(),
        indicators: filled.indicators.clone(),
        text: Some(filled.text.clone()).filter(|t| !t.is_empty()),
        anonymous: filled.anonymous,
        token: Some(raw.clone()),
        ..RatingIn::new(raw.split('.').next().unwrap_or_default().to_string(), channel, i64::from(level.value()))
    };
    let origin = crate::extract::origin(&headers, peer, form.digest.clone(), None);
    match rate(&state, &Caller::Anonymous, input, origin).await {
        Ok(r) => {
            let rule = state.config.deadline_rule;
            let follow = if r.bad_review {
                format!(
                    "我们已收到您的意见，承办单位将在 {} 个工作日内响应、{} 个工作日内答复整改情况。",
                    rule.respond_days, rule.reply_days
                )
            } else {
                "您的评价将帮助我们改进政务服务。".into()
            };
            rater_message(StatusCode::CREATED, big, "感谢您的评价", "status", vec!["评价已提交。".into(), follow], None)
        }
        Err(e) if e.code() == "already_rated" => rater_message(
            StatusCode::CONFLICT,
            big,
            "该办件已评价",
            "status",
            vec![
                "本次服务已经评价过了，每次服务只能评价一次，您的评价已经记录，不需要再评。".into(),
                "如有新的意见，可拨打政务服务热线反映。".into(),
            ],
            None,
        ),
        Err(e @ AppError::Invalid(_)) => {
            form_page(&state, &raw, Some(level), big, Filled { error: Some(e.message()), ..filled }, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => refused(&e, big),
    }
}

#[derive(Deserialize)]
pub struct BigQuery {
    pub big: Option<u8>,
}

/// `POST /r/{token}/optout`: the opt-out link of an SMS invitation. The matter's applicant is not invited again
/// (the phone is found through the matter, kept only encrypted and as its blind index).
pub async fn opt_out(State(state): State<AppState>, Path(raw): Path<String>, Query(q): Query<BigQuery>) -> Response {
    let big = q.big == Some(1);
    let matter_no = match describe_token(&state, &raw).await {
        Ok((token, _)) => token.matter_no,
        Err(e) => return refused(&e, big),
    };
    match hcp_app::invitations::opt_out_by_link(&state, &matter_no).await {
        Ok(false) => {
            rater_message(StatusCode::OK, big, "无需退订", "status", vec!["该办件没有登记手机号码，不会收到评价邀请短信。".into()], None)
        }
        Ok(true) => rater_message(
            StatusCode::OK,
            big,
            "已退订",
            "status",
            vec!["今后办件办结后不再向您发送评价邀请短信。".into(), "您仍可以随时扫描办件回执上的二维码进行评价。".into()],
            None,
        ),
        Err(e) => refused(&e, big),
    }
}
