//! Notifications through real receivers (an HTTP SMS gateway and an SMTP server), the rater's own feedback
//! link (verdict and 追评), retries, and the jurisdiction's limits on the loop; on SQLite and PostgreSQL.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::receivers::{SmsGateway, SmtpServer};
use hcp_app::notifications::{Notifier, Transport, derive, send_due};
use hcp_server::notify::{self, Mailer};
use serde_json::{Value, json};

const RATER_PHONE: &str = "13700001234";
const STAFF_MOBILE: &str = "13900005678";

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

async fn notifier(sms: Option<&SmsGateway>, smtp: Option<&SmtpServer>) -> Notifier {
    let s: Option<Arc<dyn Transport>> =
        sms.map(|g| Arc::new(notify::SmsGateway::new(g.url.clone(), None, Some("gw-secret".into())).unwrap()) as Arc<dyn Transport>);
    let m: Option<Arc<dyn Transport>> =
        smtp.map(|m| Arc::new(Mailer::new(&m.url, "好差评 <haochaping@longxian.example>").unwrap()) as Arc<dyn Transport>);
    let mut n = Notifier::new(s, m);
    n.retry_base_secs = 1;
    n
}

/// Derives and sends until nothing is left that is due now.
async fn pump(app: &common::TestApp, n: &Notifier) {
    derive(&app.state).await.unwrap();
    while send_due(&app.state, n).await.unwrap() > 0 {}
}

async fn contacts(app: &common::TestApp) {
    let mobile = app.state.secrets.encrypt(STAFF_MOBILE).unwrap();
    assert!(app.state.db.set_user_contact("scj_staff", Some("scj.staff@longxian.example"), Some(mobile)).await.unwrap());
    assert!(app.state.db.set_user_contact("admin", Some("admin@longxian.example"), None).await.unwrap());
}

/// A real-name bad review of a 市场监管局 matter whose rater left a phone number; returns the case id.
async fn bad_review(app: &common::TestApp, no: &str) -> String {
    app.matter(no, true).await;
    let svc = app.service(no, "ZX-01").await;
    let (s, v) = app
        .post(
            "/ratings",
            Some(&app.device_key),
            &json!({"matter_no": no, "service_no": svc["service_no"], "channel": "pad", "level": 2, "reasons": ["208"],
                    "rater": {"name": "李四", "phone": RATER_PHONE}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v["case_id"].as_str().unwrap().to_string()
}

async fn act(app: &common::TestApp, id: &str, body: Value) -> Value {
    let (s, v) = app.post(&format!("/cases/{id}/actions"), Some(&app.system_key), &body).await;
    assert_eq!(s, 200, "{body}: {v}");
    v
}

async fn to_reply(app: &common::TestApp, id: &str) {
    act(app, id, json!({"action": "respond", "note": "已安排专人核实"})).await;
    act(app, id, json!({"action": "callback", "method": "电话", "reached": true, "summary": "已联系评价人"})).await;
    act(app, id, json!({"action": "decide", "outcome": "fixed_at_once", "fixed": "增开一个综合窗口"})).await;
}

fn link_in(text: &str) -> String {
    let i = text.find("/f/").unwrap_or_else(|| panic!("no feedback link in {text}"));
    text[i + 3..].split(|c: char| c.is_whitespace() || c == '。').next().unwrap().to_string()
}

/// Every address column of `notifications` and `users`, as raw bytes.
async fn stored_bytes(app: &common::TestApp) -> Vec<Vec<u8>> {
    use sqlx::Row;
    let sql = "SELECT address AS b FROM notifications UNION ALL SELECT mobile AS b FROM users WHERE mobile IS NOT NULL";
    match &app.state.db {
        hcp_storage::Db::Sqlite(p) => sqlx::query(sql).fetch_all(p).await.unwrap().iter().map(|r| r.get::<Vec<u8>, _>("b")).collect(),
        hcp_storage::Db::Pg(p) => sqlx::query(sql).fetch_all(p).await.unwrap().iter().map(|r| r.get::<Vec<u8>, _>("b")).collect(),
    }
}

both!(the_loop_tells_raters_and_staff_and_the_rater_answers_by_link, |app| {
    let (sms, smtp) = (SmsGateway::start().await, SmtpServer::start().await);
    let n = notifier(Some(&sms), Some(&smtp)).await;
    contacts(&app).await;
    let id = bad_review(&app, "NTF-1").await;
    pump(&app, &n).await;

    // The rater is told the review arrived; the unit's handler by SMS and e-mail; the approver has no contact.
    let msgs = sms.messages().await;
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    let to_rater: Vec<&String> = msgs.iter().filter(|(p, _)| p == RATER_PHONE).map(|(_, t)| t).collect();
    assert_eq!(to_rater.len(), 1);
    assert!(to_rater[0].starts_with("【政务服务好差评】您对“企业设立登记”的差评已收到，已交陇县市场监督管理局办理"), "{}", to_rater[0]);
    assert!(!to_rater[0].contains("李四"), "no rater identity in texts");
    assert!(msgs.iter().any(|(p, t)| p == STAFF_MOBILE && t.contains("新差评工单")), "{msgs:?}");
    assert_eq!(sms.got.lock().await[0].1.as_deref(), Some("Bearer gw-secret"));
    let mails = smtp.mails.lock().await.clone();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].rcpt, ["scj.staff@longxian.example"]);
    assert!(mails[0].subject.starts_with("【政务服务好差评】新差评工单，请于"), "{}", mails[0].subject);
    assert!(mails[0].body.contains("本单位收到一件差评"), "{}", mails[0].body);

    // Staff see what went out, to whom (masked) and each attempt's result.
    let (s, list) = app.get(&format!("/cases/{id}/notifications"), Some(&app.system_key)).await;
    assert_eq!(s, 200, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert!(list.iter().all(|x| x["state"] == "sent" && x["attempts"][0]["ok"] == true), "{list:?}");
    let rater = list.iter().find(|x| x["recipient"] == "rater").unwrap();
    assert_eq!(rater["address"], "137****1234");
    assert_eq!(rater["attempts"][0]["result"], "HTTP 200", "only the status is kept: gateways echo numbers and texts");
    let mail = list.iter().find(|x| x["channel"] == "email").unwrap();
    assert_eq!(mail["address"], "s***@longxian.example");
    assert!(mail["attempts"][0]["result"].as_str().unwrap().starts_with("SMTP 250"), "{mail}");
    // A town's key sees nothing of another unit's case.
    assert_eq!(app.get(&format!("/cases/{id}/notifications"), Some(&app.town_system_key)).await.0, 404);

    // Extension and reply reach the rater; the reply carries their own link and is filed with the county.
    to_reply(&app, &id).await;
    let (_, c) = app.get(&format!("/cases/{id}"), Some(&app.system_key)).await;
    let later = hcp_domain::timestamp::format_date(
        hcp_domain::timestamp::parse_date(c["reply_by"].as_str().unwrap(), "d").unwrap() + time::Duration::days(3),
    );
    act(&app, &id, json!({"action": "extend", "new_reply_by": later, "reason": "需与上级部门会商"})).await;
    act(&app, &id, json!({"action": "reply", "text": "已在高峰时段增开一个综合窗口，感谢您的监督"})).await;
    pump(&app, &n).await;
    let rater_texts: Vec<String> = sms.messages().await.into_iter().filter(|(p, _)| p == RATER_PHONE).map(|(_, t)| t).collect();
    assert_eq!(rater_texts.len(), 3, "{rater_texts:?}");
    // (Sent in one round: their order on the wire is not promised.)
    assert!(rater_texts.iter().any(|t| t.contains(&format!("办理期限已延长至{later}，原因：需与上级部门会商"))), "{rater_texts:?}");
    let reply_text = rater_texts.iter().find(|t| t.contains("已办理答复：已在高峰时段增开一个综合窗口")).unwrap();
    let token = link_in(reply_text);
    assert!(
        smtp.mails.lock().await.iter().any(|m| m.rcpt == ["admin@longxian.example"] && m.subject.contains("答复备案")),
        "filed with the county"
    );
    // …and in the county's own queue of filed replies; a town sees none of it.
    let admin = app.sign_in("admin").await;
    let r = app.client.get(format!("{}/cases/replies", app.url)).header("cookie", &admin).send().await.unwrap();
    let filed: Value = r.json().await.unwrap();
    let mine: Vec<&Value> = filed.as_array().unwrap().iter().filter(|f| f["case_id"] == json!(id)).collect();
    assert_eq!(mine.len(), 1, "{filed}");
    assert_eq!(
        (mine[0]["text"].as_str(), mine[0]["outcome"].as_str()),
        (Some("已在高峰时段增开一个综合窗口，感谢您的监督"), Some("fixed_at_once"))
    );
    let (s, town) = app.get("/cases/replies", Some(&app.town_system_key)).await;
    assert_eq!((s, town.as_array().map(Vec::len)), (200, Some(0)), "{town}");
    // Neither the database nor staff hold the rater's link, and no address is stored in plain text.
    let (_, list) = app.get(&format!("/cases/{id}/notifications"), Some(&app.system_key)).await;
    let reply_note = list.as_array().unwrap().iter().find(|x| x["template"] == "rater_replied").unwrap();
    assert!(reply_note["body"].as_str().unwrap().contains("（评价人专属反馈链接）"), "{reply_note}");
    assert!(!reply_note["body"].as_str().unwrap().contains(&token));
    assert_eq!(app.count("SELECT COUNT(*) FROM notifications WHERE body LIKE '%/f/%'").await, 0);
    for b in stored_bytes(&app).await {
        for secret in [RATER_PHONE, STAFF_MOBILE, "scj.staff@longxian.example"] {
            assert!(!b.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} stored in plain text");
        }
    }

    // The rater's link: the reply, a verdict; 不满意 reopens the case and tells the unit.
    let (s, v) = app.get(&format!("/feedback/{token}"), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["state"].as_str(), v["can_give_verdict"].as_bool(), v["can_follow_up"].as_bool()),
        (Some("replied"), Some(true), Some(false))
    );
    assert_eq!(v["reply"], "已在高峰时段增开一个综合窗口，感谢您的监督");
    assert_eq!(v["outcome_label"], "立行立改");
    let forged = format!("{}x", &token[..token.len() - 1]);
    let (s, v) = app.get(&format!("/feedback/{forged}"), None).await;
    assert_eq!((s, code(&v)), (403, "invalid_token"));
    let (s, v) = app.post(&format!("/feedback/{token}/verdict"), None, &json!({"verdict": "meh"})).await;
    assert_eq!((s, code(&v)), (422, "invalid_verdict"));
    let (s, v) = app.post(&format!("/feedback/{token}/follow-up"), None, &json!({"level": 4})).await;
    assert_eq!((s, code(&v)), (422, "follow_up_not_yet"), "{v}");
    // The unit that handled the case cannot give the verdict in the rater's stead.
    let handler = app.sign_in("scj_staff").await;
    let (s, v) = app.post_as(&handler, &format!("/cases/{id}/actions"), &json!({"action": "verdict", "verdict": "satisfied"})).await;
    assert_eq!((s, code(&v)), (403, "verdict_by_rater"), "{v}");
    let (s, v) = app.post(&format!("/feedback/{token}/verdict"), None, &json!({"verdict": "unsatisfied", "comment": "窗口还是少"})).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("responded")), "{v}");
    let (_, c) = app.get(&format!("/cases/{id}"), Some(&app.system_key)).await;
    let verdict = c["history"].as_array().unwrap().iter().rfind(|e| e["kind"] == "verdict").unwrap().clone();
    assert_eq!((verdict["actor"].as_str(), verdict["details"]["comment"].as_str()), (Some("rater"), Some("窗口还是少")));
    pump(&app, &n).await;
    assert!(sms.messages().await.iter().any(|(p, t)| p == STAFF_MOBILE && t.contains("评价人不满意")), "the unit hears of the reopening");

    // Second round; this time the verdict comes through the page (no JavaScript), and the case closes.
    act(&app, &id, json!({"action": "callback", "method": "上门", "reached": true, "summary": "当面说明"})).await;
    act(&app, &id, json!({"action": "decide", "outcome": "fixed_at_once", "fixed": "再增开一个窗口"})).await;
    act(&app, &id, json!({"action": "reply", "text": "已再增开一个窗口"})).await;
    pump(&app, &n).await;
    let last = sms.messages().await.into_iter().rfind(|(p, _)| p == RATER_PHONE).unwrap().1;
    let token2 = link_in(&last);
    let page = app.client.get(format!("{}/f/{token2}", app.base)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("已再增开一个窗口") && html.contains("name=\"verdict\"") && !html.contains("<script"), "{html}");
    let resp =
        app.client.post(format!("{}/f/{token2}", app.base)).form(&[("action", "verdict"), ("verdict", "satisfied")]).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("工单已办结") && html.contains("追加评价"), "{html}");

    // One follow-up rating (追评): linked to the first, on the ledger, not counted twice.
    let before = app.stats("by=unit&key=LX-SCJ").await;
    let (s, v) = app.post(&format!("/feedback/{token2}/follow-up"), None, &json!({"level": 4})).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["assess_number"], 2);
    let (s, again) = app.post(&format!("/feedback/{token2}/follow-up"), None, &json!({"level": 5})).await;
    assert_eq!((s, code(&again)), (409, "already_rated"), "{again}");
    let (s, r) = app.get(&format!("/ratings/{}", v["id"].as_str().unwrap()), Some(&app.system_key)).await;
    assert_eq!((s, r["assess_number"].as_i64(), r["level"].as_i64()), (200, Some(2), Some(4)), "{r}");
    assert_eq!(app.stats("by=unit&key=LX-SCJ").await, before, "a follow-up is not a second count");
    let (_, fb) = app.get(&format!("/feedback/{token2}"), None).await;
    assert_eq!((fb["can_follow_up"].as_bool(), fb["follow_up_level"].as_i64()), (Some(false), Some(4)));
    assert_eq!(fb["verdicts"], json!(["unsatisfied", "satisfied"]));
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    app
});

both!(failed_deliveries_are_retried_then_given_up_and_can_be_rerun, |app| {
    let sms = SmsGateway::start().await;
    contacts(&app).await;
    let mut n = notifier(Some(&sms), None).await;
    n.max_attempts = 2;
    sms.fail_next.store(1, Ordering::SeqCst);
    let id = bad_review(&app, "NTF-2").await;
    pump(&app, &n).await;
    // The first of the two SMS hit a busy gateway: kept for a retry a second later, with the reason recorded.
    assert_eq!(sms.messages().await.len(), 1);
    let (_, list) = app.get(&format!("/cases/{id}/notifications"), Some(&app.system_key)).await;
    let states: Vec<&str> = list.as_array().unwrap().iter().map(|x| x["state"].as_str().unwrap()).collect();
    assert!(states.contains(&"retrying") && states.contains(&"sent"), "{states:?}");
    // No mail server configured: recorded as unsent, with why.
    let unsent = list.as_array().unwrap().iter().find(|x| x["channel"] == "email").unwrap();
    assert_eq!((unsent["state"].as_str(), unsent["attempts"][0]["result"].as_str()), (Some("unsent"), Some("未配置邮件服务器，未发送")));
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    pump(&app, &n).await;
    assert_eq!(sms.messages().await.len(), 2, "delivered on the second attempt");
    let (_, list) = app.get(&format!("/cases/{id}/notifications"), Some(&app.system_key)).await;
    let retried = list.as_array().unwrap().iter().find(|x| x["attempts"].as_array().unwrap().len() == 2).unwrap();
    assert_eq!(retried["state"], "sent");
    assert_eq!(retried["attempts"][0]["ok"], false);
    assert!(retried["attempts"][0]["result"].as_str().unwrap().contains("503"), "{retried}");

    // A gateway down for good: given up after the last attempt; the county re-runs it once it is back.
    sms.fail_next.store(100, Ordering::SeqCst);
    act(&app, &id, json!({"action": "respond", "note": "收到"})).await;
    act(&app, &id, json!({"action": "callback", "method": "电话", "reached": true, "summary": "x"})).await;
    act(
        &app,
        &id,
        json!({"action": "decide", "outcome": "explained", "explanation": "法定要件", "legal_basis": "《行政许可法》第三十一条"}),
    )
    .await;
    act(&app, &id, json!({"action": "reply", "text": "已向您说明"})).await;
    pump(&app, &n).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    pump(&app, &n).await;
    let admin = app.sign_in("admin").await;
    let dead = app.client.get(format!("{}/notifications?state=dead", app.url)).header("cookie", &admin).send().await.unwrap();
    assert_eq!(dead.status().as_u16(), 200);
    let dead: Value = dead.json().await.unwrap();
    assert_eq!(dead.as_array().unwrap().len(), 1, "{dead}");
    assert_eq!(dead[0]["template"], "rater_replied");
    assert_eq!(app.state.db.jobs_by_state("notify").await.unwrap().iter().find(|(s, _)| s == "dead").map(|x| x.1), Some(1));
    let handler = app.sign_in("scj_staff").await;
    let r = app.client.get(format!("{}/notifications", app.url)).header("cookie", &handler).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403, "only the county sees every notification");
    let (s, v) = app.post_as(&handler, &format!("/notifications/{}/retry", dead[0]["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!(s, 403, "{v}");
    sms.fail_next.store(0, Ordering::SeqCst);
    let (s, v) = app.post_as(&admin, &format!("/notifications/{}/retry", dead[0]["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("pending")), "{v}");
    let (s, v) = app.post_as(&admin, &format!("/notifications/{}/retry", dead[0]["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!((s, code(&v)), (409, "not_retryable"));
    pump(&app, &n).await;
    let last = sms.messages().await.pop().unwrap();
    assert_eq!(last.0, RATER_PHONE);
    assert!(last.1.contains("/f/"), "the re-run message carries a fresh link: {}", last.1);
    let (_, list) = app.get(&format!("/cases/{id}/notifications"), Some(&app.system_key)).await;
    let rerun = list.as_array().unwrap().iter().find(|x| x["id"] == dead[0]["id"]).unwrap();
    assert_eq!((rerun["state"].as_str(), rerun["attempts"].as_array().unwrap().len()), (Some("sent"), 3));
    app
});

both!(units_are_warned_on_the_day_a_deadline_falls_once, |app| {
    let sms = SmsGateway::start().await;
    contacts(&app).await;
    let n = notifier(Some(&sms), None).await;
    // A case whose response is due today (written with today's deadline through the storage writer).
    let case_id = app.old_case("DUE-1").await;
    let today = hcp_domain::Timestamp::now().biz_day();
    let due = app.state.db.due_today_candidates(today).await.unwrap();
    assert!(due.iter().all(|d| d.case_id != case_id), "the old case is overdue, not due today");
    let fresh = bad_review(&app, "DUE-2").await;
    let tomorrow = app.state.db.due_today_candidates(today).await.unwrap();
    assert!(tomorrow.iter().all(|d| d.case_id != fresh), "a case that arrived today is due on the next working day");
    let id = app.written_case("DUE-3", today.key(), today.key(), today.key()).await;
    let (a, b) = tokio::join!(hcp_app::sweeps::warn_due_today(&app.state), hcp_app::sweeps::warn_due_today(&app.state));
    assert_eq!(a.unwrap() + b.unwrap(), 2, "respond and reply both fall today, each warned once");
    assert_eq!(hcp_app::sweeps::warn_due_today(&app.state).await.unwrap(), 0);
    // Two notifiers deriving at once store each message once.
    let (a, b) = tokio::join!(derive(&app.state), derive(&app.state));
    a.unwrap();
    b.unwrap();
    while send_due(&app.state, &n).await.unwrap() > 0 {}
    let warned: Vec<String> = sms.messages().await.into_iter().filter(|(_, t)| t.contains("今天")).map(|(_, t)| t).collect();
    assert_eq!(warned.len(), 2, "{warned:?}");
    assert!(warned.iter().any(|t| t.contains("响应期限为今天")) && warned.iter().any(|t| t.contains("整改答复期限为今天")), "{warned:?}");
    let (_, v) = app.get(&format!("/cases/{id}"), Some(&app.system_key)).await;
    assert_eq!(v["history"].as_array().unwrap().iter().filter(|e| e["kind"] == "due_warning").count(), 2);
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    app
});

both!(no_follow_up_of_a_rating_found_untrue, |app| {
    let id = bad_review(&app, "UNT-1").await;
    to_reply(&app, &id).await;
    act(&app, &id, json!({"action": "reply", "text": "已整改"})).await;
    // Replied, then found untrue on the hall route: closed without the rater's verdict.
    let path = format!("/cases/{id}/appeal");
    let (staff, boss, admin) = (app.sign_in("scj_staff").await, app.sign_in("scj_boss").await, app.sign_in("admin").await);
    for (who, body) in [
        (&staff, json!({"action": "apply", "reason": "评价人当日未到窗口", "evidence": "叫号记录"})),
        (&boss, json!({"action": "opinion", "agree": true, "note": "属实"})),
        (&admin, json!({"action": "decide", "upheld": true, "note": "不属实"})),
    ] {
        let (s, v) = app.post_as(who, &path, &body).await;
        assert_eq!(s, 200, "{body}: {v}");
    }
    let url = app.state.feedback_url(&id);
    let token = url.rsplit('/').next().unwrap();
    let (s, v) = app.get(&format!("/feedback/{token}"), None).await;
    assert_eq!((s, v["state"].as_str(), v["can_follow_up"].as_bool()), (200, Some("closed"), Some(false)), "{v}");
    let (s, v) = app.post(&format!("/feedback/{token}/follow-up"), None, &json!({"level": 1, "text": "还是不满意"})).await;
    assert_eq!((s, code(&v)), (422, "follow_up_not_yet"), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings WHERE assess_number = 2").await, 0);
    app
});

mod limits {
    use super::*;
    use hcp_domain::case_flow::LoopLimits;

    async fn limited(engine: common::Engine) {
        let config = hcp_app::Config {
            loop_limits: LoopLimits { max_reopen: 0, max_extensions: 1, max_reply_days: 8 },
            invite_by_sms: false,
            ..Default::default()
        };
        let app = common::TestApp::start_with(engine, config).await;
        let id = bad_review(&app, "LIM-1").await;
        to_reply(&app, &id).await;
        let (_, c) = app.get(&format!("/cases/{id}"), Some(&app.system_key)).await;
        let reply_by = hcp_domain::timestamp::parse_date(c["reply_by"].as_str().unwrap(), "d").unwrap();
        let cal = app.state.calendar().await.unwrap();
        let cap = cal.add_working_days(hcp_domain::Timestamp::now().biz_date(), 8, "d").unwrap().date;
        let fmt = hcp_domain::timestamp::format_date;
        let path = format!("/cases/{id}/actions");
        let (s, v) = app
            .post(&path, Some(&app.system_key), &json!({"action": "extend", "new_reply_by": fmt(cap.next_day().unwrap()), "reason": "x"}))
            .await;
        assert_eq!((s, code(&v)), (422, "extension_too_long"), "{v}");
        let (s, v) = app.post(&path, Some(&app.system_key), &json!({"action": "extend", "new_reply_by": fmt(cap), "reason": "会商"})).await;
        assert_eq!(s, 200, "{v}");
        assert_ne!(cap, reply_by);
        let (s, v) = app.post(&path, Some(&app.system_key), &json!({"action": "extend", "new_reply_by": fmt(cap), "reason": "再延"})).await;
        assert_eq!((s, code(&v)), (422, "extension_limit"), "{v}");
        let sms = SmsGateway::start().await;
        let n = notifier(Some(&sms), None).await;
        act(&app, &id, json!({"action": "reply", "text": "已整改"})).await;
        pump(&app, &n).await;
        let token = link_in(&sms.messages().await.into_iter().rfind(|(p, t)| p == RATER_PHONE && t.contains("/f/")).unwrap().1);
        // No reopening allowed here: 不满意 on the rater's page closes the case as not satisfied, and the page
        // says so rather than promising another round.
        let resp = app
            .client
            .post(format!("{}/f/{token}", app.base))
            .form(&[("action", "verdict"), ("verdict", "unsatisfied")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let html = resp.text().await.unwrap();
        assert!(html.contains("工单已办结") && !html.contains("重新办理"), "{html}");
        let (_, v) = app.get(&format!("/cases/{id}"), Some(&app.system_key)).await;
        assert_eq!(v["state"], "closed");
        pump(&app, &n).await;
        app.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        limited(common::Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        limited(common::Engine::Postgres).await;
    }

    /// With the clock stopped during 复核, a pending application holds off 督办, and a rejection gives back the
    /// working days it was pending.
    async fn clock_stops(engine: common::Engine) {
        let config = hcp_app::Config { appeal_stops_clock: true, invite_by_sms: false, ..Default::default() };
        let app = common::TestApp::start_with(engine, config).await;
        let id = app.old_case("CLK-1").await;
        // Applied on 2026-11-02 (written through storage, as a past event), still pending.
        let applied = hcp_domain::Timestamp::parse_rfc3339("2026-11-02T10:00:00+08:00", "t").unwrap();
        let event = hcp_domain::records::CaseEvent {
            id: uuid::Uuid::now_v7().to_string(),
            case_id: id.clone(),
            kind: hcp_domain::case_event::EventKind::AppealApplied,
            actor: "staff:scj_staff".into(),
            at: applied.micros(),
            state_after: hcp_domain::case_flow::CaseState::Open,
            note: Some(
                json!({"reason": "当日系统故障", "evidence": "运维记录", "route": "hall", "appeal_state": "pending_unit"}).to_string(),
            ),
        };
        app.state
            .db
            .appeal_step(&event, hcp_domain::appeal::Route::Hall, None, hcp_domain::appeal::AppealState::PendingUnit, None, None)
            .await
            .unwrap();
        assert_eq!(hcp_app::sweeps::sweep_overdue(&app.state).await.unwrap(), 0, "no 督办 while the clock is stopped");
        let boss = app.sign_in("scj_boss").await;
        let (s, v) = app.post_as(&boss, &format!("/cases/{id}/appeal"), &json!({"action": "opinion", "agree": true, "note": "属实"})).await;
        assert_eq!(s, 200, "{v}");
        let admin = app.sign_in("admin").await;
        let (s, v) =
            app.post_as(&admin, &format!("/cases/{id}/appeal"), &json!({"action": "decide", "upheld": false, "note": "证据不足"})).await;
        assert_eq!(s, 200, "{v}");
        let cal = app.state.calendar().await.unwrap();
        let d = |s: &str| hcp_domain::timestamp::parse_date(s, "d").unwrap();
        let paused = cal.working_days_between(d("2026-11-03"), hcp_domain::Timestamp::now().biz_date());
        assert!(paused > 0);
        let want = cal.add_working_days(d("2026-01-12"), paused, "d").unwrap().date;
        assert_eq!(v["reply_by"], json!(hcp_domain::timestamp::format_date(want)), "{v}");
        let decided = v["history"].as_array().unwrap().iter().find(|e| e["kind"] == "appeal_decided").unwrap();
        assert_eq!(decided["details"]["clock_stopped_working_days"], paused);
        // The case goes on, and late work is escalated again.
        assert_eq!(hcp_app::sweeps::sweep_overdue(&app.state).await.unwrap(), 2);
        assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
        app.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clock_stops_sqlite() {
        clock_stops(common::Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clock_stops_postgres() {
        clock_stops(common::Engine::Postgres).await;
    }
}

/// A county's SMS gateway over https with a certificate from its own CA: trusted with `--sms-ca-file`, refused
/// without it (a real TLS handshake with a real server, made with openssl and Python's ssl module).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_over_https_trusts_the_configured_ca_only() {
    let dir = common::tempdir::Dir::new();
    let p = |f: &str| dir.0.join(f).display().to_string();
    std::fs::write(dir.0.join("leaf.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        .unwrap();
    for args in [
        vec![
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &p("ca.key"),
            "-out",
            &p("ca.pem"),
            "-days",
            "2",
            "-subj",
            "/CN=Longxian test CA",
        ],
        vec!["req", "-newkey", "rsa:2048", "-nodes", "-keyout", &p("leaf.key"), "-out", &p("leaf.csr"), "-subj", "/CN=127.0.0.1"],
        vec![
            "x509",
            "-req",
            "-in",
            &p("leaf.csr"),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-out",
            &p("leaf.pem"),
            "-days",
            "2",
            "-extfile",
            &p("leaf.ext"),
        ],
    ] {
        let out = std::process::Command::new("openssl").args(&args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let script = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('content-length', 0)))
        with open(sys.argv[3], 'ab') as f:
            f.write(body + b'\n')
        self.send_response(200)
        self.send_header('content-type', 'application/json')
        self.end_headers()
        self.wfile.write(b'{"code":0}')
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = ctx.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
    let mut server = std::process::Command::new("python3")
        .args(["-c", script, &p("leaf.pem"), &p("leaf.key"), &p("received")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().unwrap()), &mut line).unwrap();
    let url = format!("https://127.0.0.1:{}/sms", line.trim());
    let msg = hcp_app::notifications::Outgoing { id: "n-1", to: "13700001234", subject: "s", body: "【陇县政务服务】您好" };
    let trusted = notify::SmsGateway::with_ca(url.clone(), None, None, Some(&dir.0.join("ca.pem"))).unwrap();
    use Transport;
    let ok = trusted.send(&msg).await;
    let untrusted = notify::SmsGateway::new(url, None, None).unwrap().send(&msg).await;
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(ok.as_deref(), Ok("HTTP 200"));
    let err = untrusted.unwrap_err();
    assert!(err.contains("证书"), "{err}");
    let received = std::fs::read_to_string(dir.0.join("received")).unwrap();
    assert_eq!(received.lines().count(), 1, "only the trusted connection got through");
    let v: Value = serde_json::from_str(received.lines().next().unwrap()).unwrap();
    assert_eq!((v["phone"].as_str(), v["text"].as_str()), (Some("13700001234"), Some("【陇县政务服务】您好")));
}
