//! The rating page a QR code or push link opens (`/r/{token}`): server-rendered, in Chinese, working with
//! JavaScript off, small enough for an old phone on a slow network. Step one chooses the level (five large
//! links); step two offers that level's reasons, a text and real-name or anonymous, and posts the form.
//! The full rater, device and staff pages come later; this page uses the same rating path as the API.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use hcp_domain::channel::Mode;
use hcp_domain::timestamp::Timestamp;
use hcp_domain::token::RatingToken;
use hcp_domain::{Channel, Level};
use serde::Deserialize;

use crate::api::ratings::{RatingIn, rate};
use crate::auth::{Caller, PeerAddr};
use crate::error::ApiError;
use crate::state::AppState;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

const STYLE: &str = "body{font-family:system-ui,\"Noto Sans CJK SC\",sans-serif;font-size:1.15rem;line-height:1.6;max-width:36rem;margin:0 auto;padding:1rem;color:#111;background:#fff}\
h1{font-size:1.5rem}a.level,button{display:block;width:100%;box-sizing:border-box;margin:.6rem 0;padding:1rem;font-size:1.3rem;border:2px solid #124;border-radius:.5rem;background:#f4f7ff;color:#111;text-align:left;text-decoration:none}\
a.level:focus,button:focus,input:focus,textarea:focus{outline:3px solid #d60;outline-offset:2px}.stars{color:#b45309;margin-right:.5rem}\
fieldset{border:1px solid #999;border-radius:.5rem;margin:1rem 0}label{display:block;padding:.4rem 0}input[type=checkbox],input[type=radio]{width:1.4rem;height:1.4rem;vertical-align:middle;margin-right:.5rem}\
textarea{width:100%;box-sizing:border-box;font-size:1.1rem;min-height:6rem}.info{color:#333;background:#f6f6f6;padding:.5rem 1rem;border-radius:.5rem}.err{color:#a00;font-weight:bold}\
a.mode{display:inline-block;margin:.2rem 0 .6rem;font-size:1rem}\
body.big{font-size:1.5rem;line-height:1.7;color:#000}body.big h1{font-size:2rem}body.big a.level,body.big button{font-size:1.8rem;padding:1.3rem;border-width:3px;border-color:#000;background:#fff}\
body.big .stars{display:none}body.big .more{display:none}body.big input[type=checkbox],body.big input[type=radio]{width:2rem;height:2rem}body.big label{padding:.6rem 0}body.big .info{background:#fff;border:2px solid #000}";

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    page_in(status, title, body, false)
}

/// A page; `big` is the elder-friendly mode (适老化): larger type, stronger contrast, fewer words.
fn page_in(status: StatusCode, title: &str, body: &str, big: bool) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>{STYLE}</style></head><body{class}><main><h1>{t}</h1>{body}</main></body></html>",
        t = esc(title),
        class = if big { " class=\"big\"" } else { "" }
    );
    (status, Html(html)).into_response()
}

fn error_page(e: &ApiError) -> Response {
    let hint = match e.code {
        "token_expired" => "评价期限已过。如对服务有意见，可拨打政务服务热线反映。",
        "invalid_token" => "二维码或链接无效，请重新扫描办件回执上的二维码。",
        _ => "请返回上一页重试。",
    };
    page(e.status, "无法评价", &format!("<p class=\"err\" role=\"alert\">{}</p><p>{}</p>", esc(&e.message), hint))
}

/// The matter and service the token names, as shown to the rater (no personal data).
async fn describe(state: &AppState, token: &RatingToken) -> Result<String, ApiError> {
    let seq = (token.service_seq > 0).then_some(token.service_seq);
    let (matter, service) = state.db.matter_for_rating(&token.matter_no, seq).await?.ok_or_else(|| ApiError::not_found("办件"))?;
    let service = if token.service_seq == 0 { None } else { service };
    let m = state.master();
    let item = m.items.get(&matter.item_code).map(|i| i.name.clone()).unwrap_or_default();
    let unit = m.units.get(&matter.unit_code).map(|u| u.name.clone()).unwrap_or_default();
    let window = service.as_ref().and_then(|s| s.window_code.as_ref()).and_then(|w| m.windows.get(w)).map(|w| w.name.clone());
    let when = service.as_ref().map(|s| s.served_at).or(matter.completed_at).unwrap_or(matter.accepted_at);
    Ok(format!(
        "<div class=\"info\"><p>办理事项：{}<br>办理单位：{}{}<br>办理时间：{}<br>办件编号：{}</p></div>",
        esc(&item),
        esc(&unit),
        window.map(|w| format!("<br>服务窗口：{}", esc(&w))).unwrap_or_default(),
        esc(&when.to_rfc3339().get(..16).unwrap_or_default().replace('T', " ")),
        esc(&matter.matter_no)
    ))
}

#[derive(Deserialize)]
pub struct LevelQuery {
    pub level: Option<i64>,
    pub c: Option<String>,
    /// `1`: the elder-friendly mode
    pub big: Option<u8>,
}

fn page_channel(c: Option<&str>) -> Channel {
    match c {
        Some("mobile") => Channel::Mobile,
        Some("pc") => Channel::Pc,
        Some("sms") => Channel::Sms,
        Some("hall_terminal") => Channel::HallTerminal,
        _ => Channel::Qr,
    }
}

/// `GET /r/{token}`: choose a level; with `?level=N`, the rest of the rating.
pub async fn rating_page(State(state): State<AppState>, Path(raw): Path<String>, Query(q): Query<LevelQuery>) -> Response {
    let token = match RatingToken::verify(&raw, state.secrets.token_key(), Timestamp::now().micros() / 1_000_000) {
        Ok(t) => t,
        Err(e) => {
            let mut err = ApiError::from(e);
            err.status = StatusCode::FORBIDDEN;
            return error_page(&err);
        }
    };
    let info = match describe(&state, &token).await {
        Ok(i) => i,
        Err(e) => return error_page(&e),
    };
    let channel = page_channel(q.c.as_deref());
    let c = channel.code();
    let big = q.big == Some(1);
    // Every link keeps the mode; the switch offers the other one.
    let b = if big { "&amp;big=1" } else { "" };
    let switch = |level: Option<i64>| {
        let lv = level.map(|l| format!("level={l}&amp;")).unwrap_or_default();
        if big {
            format!("<a class=\"mode\" href=\"?{lv}c={c}\">标准版</a>")
        } else {
            format!("<a class=\"mode\" href=\"?{lv}c={c}&amp;big=1\">大字版（适合老年人）</a>")
        }
    };
    let Some(level) = q.level.and_then(|l| Level::new(l, "level").ok()) else {
        let links: String = Level::ALL
            .iter()
            .rev()
            .map(|l| {
                format!(
                    "<a class=\"level\" href=\"?level={}&amp;c={c}{b}\"><span class=\"stars\" aria-hidden=\"true\">{}</span>{}</a>",
                    l.value(),
                    "★".repeat(usize::from(l.value())),
                    l.label()
                )
            })
            .collect();
        return page_in(
            StatusCode::OK,
            "请您评价本次政务服务",
            &format!("{}{info}<nav aria-label=\"评价等级\">{links}</nav><p class=\"more\">评价自愿，一次有效。</p>", switch(None)),
            big,
        );
    };
    let mode = if channel.mode() == Mode::Online { "online" } else { "offline" };
    let reasons: String = state
        .catalogue
        .reasons
        .iter()
        .filter(|r| r.level == level.value() && r.modes.iter().any(|m| m == mode))
        .map(|r| format!("<label><input type=\"checkbox\" name=\"reasons\" value=\"{}\">{}</label>", esc(&r.code), esc(&r.label)))
        .collect();
    let need =
        if level.is_bad() { "<p>差评请至少选择一项原因或填写意见，我们会核实整改并答复您。</p>" } else { "" };
    let form = format!(
        "{sw}{info}<p>您选择了：<strong>{label}</strong>（<a href=\"?c={c}{b}\">重新选择</a>）</p>{need}\
         <form method=\"post\" action=\"\"><input type=\"hidden\" name=\"level\" value=\"{lv}\"><input type=\"hidden\" name=\"c\" value=\"{c}\">\
         <fieldset><legend>原因（可多选）</legend>{reasons}</fieldset>\
         <label for=\"text\">意见或建议（选填，500 字以内）</label><textarea id=\"text\" name=\"text\" maxlength=\"500\"></textarea>\
         <fieldset><legend>评价方式</legend><label><input type=\"radio\" name=\"anonymous\" value=\"0\" checked>实名评价（我们可能按办件登记的电话回访您）</label>\
         <label><input type=\"radio\" name=\"anonymous\" value=\"1\">匿名评价（不保留您的任何联系方式）</label></fieldset>\
         <button type=\"submit\">提交评价</button></form>",
        label = level.label(),
        lv = level.value(),
        sw = switch(Some(i64::from(level.value()))),
    );
    page_in(StatusCode::OK, "请您评价本次政务服务", &form, big)
}

/// Decodes `application/x-www-form-urlencoded` into pairs (repeated keys kept, as checkboxes need).
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                },
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// `POST /r/{token}`: submits the rating through the same rules as the API and shows the outcome.
pub async fn submit_page(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    PeerAddr(peer): PeerAddr,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let Some(level) = get("level").and_then(|l| l.parse::<i64>().ok()) else {
        return error_page(&ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_level", "请选择评价等级"));
    };
    let matter_no = raw.split('.').next().unwrap_or_default().to_string();
    let input = RatingIn {
        reasons: form.iter().filter(|(k, _)| k == "reasons").map(|(_, v)| v.clone()).take(30).collect(),
        text: get("text").filter(|t| !t.trim().is_empty()),
        anonymous: get("anonymous").as_deref() == Some("1"),
        token: Some(raw.clone()),
        ..RatingIn::new(matter_no, page_channel(get("c").as_deref()).code(), level)
    };
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    match rate(&state, &Caller::Anonymous { bearer: None }, &headers, peer, input, digest).await {
        Ok(r) => {
            let follow = if r.bad_review {
                "<p>我们已收到您的意见，承办单位将在 1 个工作日内响应、5 个工作日内答复整改情况。</p>"
            } else {
                "<p>您的评价将帮助我们改进政务服务。</p>"
            };
            page(
                StatusCode::CREATED,
                "感谢您的评价",
                &format!("<p role=\"status\">评价已提交。</p>{follow}<p>评价编号：{}</p>", esc(&r.id)),
            )
        }
        Err(e) if e.code == "already_rated" => page(
            StatusCode::CONFLICT,
            "该办件已评价",
            "<p role=\"status\">本次服务已经评价过了，每次服务只能评价一次，您的评价已经记录，不需要再评。</p><p>如有新的意见，可拨打政务服务热线反映。</p>",
        ),
        Err(e) => {
            let c = page_channel(get("c").as_deref()).code();
            let back = format!("<p><a href=\"?level={level}&amp;c={c}\">返回修改</a></p>");
            let mut resp = error_page(&e);
            if e.status == StatusCode::UNPROCESSABLE_ENTITY {
                resp = page(e.status, "请补充评价内容", &format!("<p class=\"err\" role=\"alert\">{}</p>{back}", esc(&e.message)));
            }
            resp
        }
    }
}

fn feedback_body(v: &crate::api::feedback::FeedbackView, done: Option<&str>) -> String {
    let mut b = String::new();
    if let Some(msg) = done {
        b.push_str(&format!("<p role=\"status\" class=\"info\">{}</p>", esc(msg)));
    }
    b.push_str(&format!(
        "<div class=\"info\"><p>{}{}<br>办理单位：{}<br>当前进度：{}<br>答复期限：{}</p></div>",
        esc(&v.kind),
        v.item_name.as_ref().map(|i| format!("（{}）", esc(i))).unwrap_or_default(),
        esc(&v.unit_name),
        esc(&v.state_label),
        esc(&v.reply_by)
    ));
    if let Some(r) = &v.reply {
        b.push_str(&format!(
            "<h2>答复内容</h2>{}<p>{}</p>",
            v.outcome_label.as_ref().map(|o| format!("<p>处理方式：{}</p>", esc(o))).unwrap_or_default(),
            esc(r)
        ));
    }
    if v.can_give_verdict {
        b.push_str(
            "<form method=\"post\"><input type=\"hidden\" name=\"action\" value=\"verdict\"><fieldset><legend>您对处理结果是否满意？</legend>\
             <label><input type=\"radio\" name=\"verdict\" value=\"satisfied\" required>满意</label>\
             <label><input type=\"radio\" name=\"verdict\" value=\"basically_satisfied\">基本满意</label>\
             <label><input type=\"radio\" name=\"verdict\" value=\"unsatisfied\">不满意（将退回承办单位重新办理）</label></fieldset>\
             <label for=\"comment\">补充说明（可不填）</label><textarea id=\"comment\" name=\"comment\" maxlength=\"500\"></textarea>\
             <button type=\"submit\">提交</button></form>",
        );
    }
    if v.can_follow_up {
        let mut levels = String::new();
        for l in (1..=5).rev() {
            let label = Level::new(l, "level").map(|x| x.label()).unwrap_or_default();
            levels.push_str(&format!(
                "<label><input type=\"radio\" name=\"level\" value=\"{l}\"{}>{}</label>",
                if l == 5 { " required" } else { "" },
                esc(label)
            ));
        }
        b.push_str(&format!(
            "<h2>追加评价</h2><p>整改已经办结，您可以对本次办件再评价一次（仅限一次）。</p>\
             <form method=\"post\"><input type=\"hidden\" name=\"action\" value=\"follow_up\"><fieldset><legend>整改后您对本次服务的评价</legend>{levels}</fieldset>\
             <label for=\"text\">文字评价（选“不满意”或“非常不满意”时必填）</label><textarea id=\"text\" name=\"text\" maxlength=\"500\"></textarea>\
             <button type=\"submit\">提交追评</button></form>"
        ));
    }
    if let Some(l) = v.follow_up_level {
        let label = Level::new(l, "level").map(|x| x.label()).unwrap_or_default();
        b.push_str(&format!("<p>您已追评：{}。感谢您的监督。</p>", esc(label)));
    }
    b
}

/// `GET /f/{token}`: the rater's view of their case, from the link in the reply's SMS.
pub async fn feedback_page(State(state): State<AppState>, Path(raw): Path<String>) -> Response {
    use crate::api::feedback::{load, view};
    let r = async {
        let (s, events) = load(&state, &raw).await?;
        view(&state, &s, &events).await
    }
    .await;
    match r {
        Ok(v) => page(StatusCode::OK, "办理进展与答复", &feedback_body(&v, None)),
        Err(e) => error_page(&e),
    }
}

/// `POST /f/{token}`: the verdict or the follow-up rating, through the same rules as the API.
pub async fn feedback_submit(State(state): State<AppState>, Path(raw): Path<String>, body: Bytes) -> Response {
    use crate::api::feedback::{FollowUpIn, VerdictIn, follow_up, give_verdict, load, view};
    let form = parse_form(&body);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let r = async {
        let (s, events) = load(&state, &raw).await?;
        let msg = match get("action").as_deref() {
            Some("verdict") => {
                let input =
                    VerdictIn { verdict: get("verdict").unwrap_or_default(), comment: get("comment").filter(|c| !c.trim().is_empty()) };
                give_verdict(&state, &s, &events, &input).await?;
                if input.verdict == "unsatisfied" {
                    "已收到您的意见，工单已退回承办单位重新办理。"
                } else {
                    "感谢您的评价，工单已办结。"
                }
            }
            Some("follow_up") => {
                let level = get("level")
                    .and_then(|l| l.parse::<i64>().ok())
                    .ok_or_else(|| ApiError::from(hcp_domain::DomainError::new("invalid_level", "level", "请选择评价等级")))?;
                let input = FollowUpIn {
                    level,
                    indicators: Default::default(),
                    reasons: Vec::new(),
                    text: get("text").filter(|t| !t.trim().is_empty()),
                };
                follow_up(&state, &s, &events, &input).await?;
                "追评已提交，感谢您的监督。"
            }
            _ => return Err(ApiError::from(hcp_domain::DomainError::new("invalid_action", "action", "请求无效"))),
        };
        let (s, events) = load(&state, &raw).await?;
        Ok::<_, ApiError>((msg, view(&state, &s, &events).await?))
    }
    .await;
    match r {
        Ok((msg, v)) => page(StatusCode::OK, "办理进展与答复", &feedback_body(&v, Some(msg))),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY || e.status == StatusCode::CONFLICT => {
            page(e.status, "未能提交", &format!("<p class=\"err\" role=\"alert\">{}</p><p><a href=\"\">返回</a></p>", esc(&e.message)))
        }
        Err(e) => error_page(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let f = parse_form(b"level=1&reasons=105&reasons=106&text=%E6%85%A2+%E4%BA%86&bad=%zz&tail=%4");
        assert_eq!(f[0], ("level".into(), "1".into()));
        assert_eq!(f.iter().filter(|(k, _)| k == "reasons").count(), 2);
        assert_eq!(f[3].1, "慢 了");
        assert_eq!(f[4].1, "%zz");
        assert_eq!(f[5].1, "%4");
    }
}
