//! Rating by SMS (S-4, S-5): what a citizen's reply to an invitation means, and the texts of the invitation,
//! its reminder, the follow-up asking for reasons and the answers to replies. Plain functions, no storage.

use crate::catalogue::Reason;
use crate::level::Level;

/// What a reply to an invitation says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `TD`, `退订` and the usual variants: send nothing more
    OptOut,
    /// `1`–`5`, or the level's words (`非常满意` … `非常不满意`)
    Level(Level),
    /// reason codes (three digits each), separated by spaces, commas or 、
    Codes(Vec<String>),
    Other,
}

/// Full-width digits and letters (common on Chinese phone keyboards) as ASCII, upper case, spaces trimmed.
fn normalise(text: &str) -> String {
    text.trim()
        .chars()
        .map(|c| match c {
            '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect::<String>()
        .to_ascii_uppercase()
        .trim_end_matches(['。', '.', '!', '！', '，', ',', '分', '星'])
        .trim()
        .to_string()
}

/// Reads a reply. Words are matched whole (`不满意` is not `满意`).
pub fn parse_reply(text: &str) -> Reply {
    let t = normalise(text);
    // Only the words that mean it: a stray `N` or `T` from an old keypad must not stop invitations.
    if matches!(t.as_str(), "TD" | "T D" | "退订" | "退定" | "QXDY" | "取消订阅") {
        return Reply::OptOut;
    }
    let level = match t.as_str() {
        "1" | "非常不满意" => Some(1),
        "2" | "不满意" => Some(2),
        "3" | "基本满意" => Some(3),
        "4" | "满意" => Some(4),
        "5" | "非常满意" => Some(5),
        _ => None,
    };
    if let Some(l) = level.and_then(|l| Level::new(l, "text").ok()) {
        return Reply::Level(l);
    }
    let parts: Vec<&str> = t.split([' ', ',', '，', '、', ';', '；', '+']).filter(|p| !p.is_empty()).collect();
    if !parts.is_empty() && parts.len() <= 20 && parts.iter().all(|p| p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit())) {
        let mut codes: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
        codes.sort();
        codes.dedup();
        return Reply::Codes(codes);
    }
    Reply::Other
}

const LEVELS: &str = "5非常满意、4满意、3基本满意、2不满意、1非常不满意";

/// The invitation sent when a matter is completed. `link` is a placeholder filled in at sending time.
pub fn invitation(sender: &str, item: &str, matter_no: &str, link: &str) -> String {
    crate::notices::tidy(&format!(
        "【{sender}】您办理的“{}”（办件号{matter_no}）已办结，请评价本次服务：回复数字{LEVELS}；或打开 {link} 。回复TD退订",
        clip(item, 20)
    ))
}

/// The one reminder, `days_left` whole days before the rating window closes.
pub fn reminder(sender: &str, item: &str, matter_no: &str, link: &str, days_left: i64) -> String {
    crate::notices::tidy(&format!(
        "【{sender}】提醒：您办理的“{}”（办件号{matter_no}）尚未评价，{days_left}天内仍可评价：回复数字{LEVELS}；或打开 {link} 。回复TD退订",
        clip(item, 20)
    ))
}

/// The follow-up after a bad review by SMS: the reasons of its level, by code.
pub fn reasons_request<'a>(sender: &str, reasons: impl Iterator<Item = &'a Reason>) -> String {
    let list: Vec<String> = reasons.map(|r| format!("{}{}", r.code, r.label)).collect();
    crate::notices::tidy(&format!(
        "【{sender}】很抱歉未让您满意，已转有关部门办理。请回复原因编号（可多个，用空格分开）：{}。",
        list.join("；")
    ))
}

pub fn thanks(sender: &str) -> String {
    format!("【{sender}】感谢您的评价！")
}

pub fn reasons_received(sender: &str) -> String {
    format!("【{sender}】已收到您补充的原因，有关部门将按时联系您并答复处理结果。")
}

pub fn opted_out(sender: &str) -> String {
    format!("【{sender}】您已退订评价邀请短信，今后不再发送。")
}

pub fn already_rated(sender: &str) -> String {
    format!("【{sender}】该办件已评价，感谢您的参与。如需投诉建议，请拨打政务服务热线。")
}

pub fn nothing_to_rate(sender: &str) -> String {
    format!("【{sender}】未找到待您评价的办件或已超过评价期限。如需投诉建议，请拨打政务服务热线。")
}

/// The answer to a reply that was not understood, for what the invitation is waiting for.
pub fn help(sender: &str, awaiting_reasons: bool) -> String {
    if awaiting_reasons {
        format!("【{sender}】未能识别您的回复。请回复原因编号（三位数字，可多个，用空格分开）；回复TD退订。")
    } else {
        format!("【{sender}】未能识别您的回复。请回复数字{LEVELS}；回复TD退订。")
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n).chain(std::iter::once('…')).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(v: i64) -> Reply {
        Reply::Level(Level::new(v, "x").unwrap())
    }

    #[test]
    fn replies_are_read_as_people_write_them() {
        assert_eq!(parse_reply("5"), level(5));
        assert_eq!(parse_reply(" ５ "), level(5), "full-width digit");
        assert_eq!(parse_reply("1。"), level(1));
        assert_eq!(parse_reply("满意"), level(4));
        assert_eq!(parse_reply("不满意"), level(2), "not taken for 满意");
        assert_eq!(parse_reply("非常不满意"), level(1));
        assert_eq!(parse_reply("td"), Reply::OptOut);
        assert_eq!(parse_reply("ＴＤ"), Reply::OptOut);
        assert_eq!(parse_reply("退订"), Reply::OptOut);
        assert_eq!(parse_reply("201 203"), Reply::Codes(vec!["201".into(), "203".into()]));
        assert_eq!(parse_reply("203，201、203"), Reply::Codes(vec!["201".into(), "203".into()]));
        assert_eq!(parse_reply("5，"), level(5));
        assert_eq!(parse_reply("5分"), level(5));
        assert_eq!(parse_reply("N"), Reply::Other, "not an opt-out");
        assert_eq!(parse_reply("6"), Reply::Other);
        assert_eq!(parse_reply("55"), Reply::Other);
        assert_eq!(parse_reply("2019"), Reply::Other);
        assert_eq!(parse_reply("你好，请问社保怎么办"), Reply::Other);
        assert_eq!(parse_reply(""), Reply::Other);
    }

    #[test]
    fn texts_name_the_sender_and_end_cleanly() {
        let t = invitation("陇县政务服务", "城乡居民基本养老保险参保登记", "LX001", "{rating_url}");
        assert!(t.starts_with("【陇县政务服务】"));
        assert!(t.contains("LX001") && t.contains("{rating_url}") && t.ends_with("回复TD退订"));
        assert!(!t.contains("。。"));
        let r = reminder("陇县政务服务", "x", "LX001", "{rating_url}", 27);
        assert!(r.contains("27天内"));
    }
}
