//! The channels machines speak for citizens, over HTTP on SQLite and PostgreSQL: SMS invitations after
//! completion (sent through a real HTTP SMS gateway, reminded once, stopped by opt-out, rating or the end of
//! the window), rating by SMS reply with reasons asked afterwards, the hotline's key press, and ratings from
//! the province. Bad input to each gets a clear error and writes nothing.

use crate::common;

use std::sync::Arc;

use common::receivers::SmsGateway;
use common::{Engine, TestApp};
use hcp_app::notifications::{Notifier, Transport, send_due};
use hcp_server::notify;
use serde_json::{Value, json};

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// A test app that invites by SMS, with a real HTTP SMS gateway behind its notifier.
async fn inviting(engine: Engine) -> (TestApp, SmsGateway, Notifier) {
    let app = TestApp::start_with(engine, hcp_app::Config::default()).await;
    let gw = SmsGateway::start().await;
    let t: Arc<dyn Transport> = Arc::new(notify::SmsGateway::new(gw.url.clone(), None, None).unwrap());
    (app, gw, Notifier::new(Some(t), None))
}

async fn pump(app: &TestApp, n: &Notifier) {
    while send_due(&app.state, n).await.unwrap() > 0 {}
}

/// Registers a matter of 市场监管局 for an applicant with `phone`, completed `days_ago` days ago (an hour
/// after acceptance); returns the body sent.
async fn matter(app: &TestApp, no: &str, phone: &str, days_ago: i64) -> Value {
    let body = matter_body(no, phone, days_ago);
    register(app, &body).await;
    body
}

async fn register(app: &TestApp, body: &Value) {
    let (s, v) = app.post("/matters", Some(&app.system_key), body).await;
    assert!(s == 201 || s == 200, "register {}: {v}", body["matter_no"]);
}

fn matter_body(no: &str, phone: &str, days_ago: i64) -> Value {
    let now = time::OffsetDateTime::now_utc();
    let fmt = &time::format_description::well_known::Rfc3339;
    let done = now - time::Duration::days(days_ago) - time::Duration::minutes(5);
    json!({
        "matter_no": no, "item_code": "61032701001", "unit_code": "LX-SCJ",
        "applicant": {"kind": "person", "name": "王五", "phone": phone},
        "accepted_at": (done - time::Duration::hours(1)).format(fmt).unwrap(),
        "completed_at": done.format(fmt).unwrap(),
    })
}

async fn sms(app: &TestApp, from: &str, text: &str) -> Value {
    let (s, v) = app.post("/sms/inbound", Some(&app.sms_key), &json!({"from": from, "text": text, "message_id": "m-1"})).await;
    assert_eq!(s, 200, "{text}: {v}");
    assert_eq!(v["message_id"], "m-1");
    v
}

async fn ledger_len(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM ledger").await
}

/// Forces every open invitation's reminder to be due now, as if the configured days had passed.
async fn reminders_due(app: &TestApp) {
    match &app.state.db {
        hcp_storage::Db::Sqlite(p) => {
            sqlx::query("UPDATE invitations SET remind_at = 1 WHERE remind_at IS NOT NULL").execute(p).await.unwrap();
        }
        hcp_storage::Db::Pg(p) => {
            sqlx::query("UPDATE invitations SET remind_at = 1 WHERE remind_at IS NOT NULL").execute(p).await.unwrap();
        }
    }
}

macro_rules! inviting {
    ($name:ident, |$app:ident, $gw:ident, $n:ident| $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let ($app, $gw, $n) = inviting(Engine::Sqlite).await;
                let $app = $body;
                $app.finish().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let ($app, $gw, $n) = inviting(Engine::Postgres).await;
                let $app = $body;
                $app.finish().await;
            }
        }
    };
}

inviting!(a_completed_matter_invites_once_reminds_once_and_stops, |app, gw, n| {
    // Completion brings one invitation with a working link; registering again brings nothing more.
    let first = matter(&app, "INV-1", "13911110001", 0).await;
    register(&app, &first).await;
    pump(&app, &n).await;
    let got = gw.messages().await;
    assert_eq!(got.len(), 1, "{got:?}");
    let (phone, text) = &got[0];
    assert_eq!(phone, "13911110001");
    assert!(text.starts_with("【政务服务好差评】") && text.contains("INV-1") && text.contains("回复TD退订"), "{text}");
    let link = text.split_whitespace().find(|w| w.starts_with("http")).expect("a link in the invitation").to_string();
    assert!(link.contains("/r/") && !link.contains("?c="), "the channel is in the signed token, not the address: {link}");
    assert_eq!(link.rsplit('/').next().unwrap().split('.').nth(3), Some("s"), "issued for the SMS channel: {link}");
    let page = app.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200, "the invitation's link opens the rating page");
    // Staff see the message masked, without the link (which only the applicant's phone ever holds).
    let cookie = app.sign_in("admin").await;
    let list: Value =
        app.client.get(format!("{}/notifications?limit=50", app.url)).header("cookie", &cookie).send().await.unwrap().json().await.unwrap();
    let inv = list.as_array().unwrap().iter().find(|x| x["template"] == "invitation").expect("the invitation is listed");
    assert_eq!(inv["address"], "139****0001");
    assert_eq!(inv["state"], "sent");
    assert!(!inv["body"].as_str().unwrap().contains("/r/"), "{inv}");
    assert_eq!(app.count("SELECT COUNT(*) FROM notifications WHERE body LIKE '%/r/%'").await, 0, "no link is stored");

    // Another matter is rated through its link before the reminder: no reminder for it.
    matter(&app, "INV-2", "13911110002", 0).await;
    pump(&app, &n).await;
    let text2 = gw.messages().await.last().unwrap().1.clone();
    let link2 = text2.split_whitespace().find(|w| w.starts_with("http")).unwrap().to_string();
    let token = link2.split("/r/").nth(1).unwrap().trim_end_matches("?c=sms").to_string();
    let (s, v) = app.post("/ratings", None, &json!({"matter_no": "INV-2", "channel": "sms", "level": 5, "token": token})).await;
    assert_eq!(s, 201, "{v}");

    // The days pass: INV-1 (unrated) gets one reminder, INV-2 (rated) none; a second sweep sends nothing.
    reminders_due(&app).await;
    assert_eq!(hcp_app::invitations::sweep(&app.state).await.unwrap(), 1);
    assert_eq!(hcp_app::invitations::sweep(&app.state).await.unwrap(), 0);
    pump(&app, &n).await;
    let got = gw.messages().await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[2].0, "13911110001");
    assert!(got[2].1.contains("尚未评价") && got[2].1.contains("INV-1") && got[2].1.contains("/r/"), "{}", got[2].1);

    // A matter completed longer ago than the rating window is not invited at all.
    matter(&app, "INV-OLD", "13911110003", 31).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM invitations WHERE matter_no = 'INV-OLD'").await, 0);
    // A phone that replied TD is never invited again.
    assert_eq!(sms(&app, "13911110001", "TD").await["outcome"], "opted_out");
    matter(&app, "INV-3", "13911110001", 0).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM invitations WHERE matter_no = 'INV-3'").await, 0);
    pump(&app, &n).await;
    assert_eq!(gw.messages().await.len(), 3, "nothing more was sent");

    // The link's page offers the opt-out; taking it stops invitations to that phone as well.
    matter(&app, "INV-4", "13911110004", 0).await;
    pump(&app, &n).await;
    let text4 = gw.messages().await.last().unwrap().1.clone();
    let link4 = text4.split_whitespace().find(|w| w.starts_with("http")).unwrap().to_string();
    let page = app.client.get(&link4).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("不再接收评价邀请短信"), "{page}");
    let optout = format!("{}/optout", link4.trim_end_matches("?c=sms"));
    let resp = app.client.post(&optout).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("已退订"));
    matter(&app, "INV-5", "13911110004", 0).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM invitations WHERE matter_no = 'INV-5'").await, 0);
    let forged = app.client.post(format!("{}/r/not-a-token/optout", app.base)).send().await.unwrap();
    assert_eq!(forged.status(), 403, "a forged link opts nobody out");

    // An invitation still queued when its phone opts out is not sent (nor when re-run).
    let before = gw.messages().await.len();
    matter(&app, "INV-6", "13911110006", 0).await;
    assert_eq!(sms(&app, "13911110006", "TD").await["outcome"], "opted_out");
    pump(&app, &n).await;
    assert_eq!(gw.messages().await.len(), before, "nothing went to a phone that opted out");
    assert_eq!(app.count("SELECT COUNT(*) FROM notifications WHERE source = 'invitation:INV-6' AND state = 'dead'").await, 1);

    // A phone invited again for a newer matter gets no reminder of the older one: a reply would rate the newer.
    matter(&app, "INV-7", "13911110007", 0).await;
    matter(&app, "INV-8", "13911110007", 0).await;
    pump(&app, &n).await;
    let before = gw.messages().await.len();
    reminders_due(&app).await;
    assert_eq!(hcp_app::invitations::sweep(&app.state).await.unwrap(), 1, "INV-8 only");
    pump(&app, &n).await;
    let got = gw.messages().await;
    assert_eq!(got.len(), before + 1);
    assert!(got.last().unwrap().1.contains("INV-8"), "{:?}", got.last());
    app
});

inviting!(an_sms_reply_rates_once_and_its_reasons_follow, |app, gw, n| {
    matter(&app, "SMS-1", "13922220001", 0).await;
    matter(&app, "SMS-2", "13922220002", 0).await;
    pump(&app, &n).await;
    let before = ledger_len(&app).await;

    // Bad input writes nothing: a bad phone, an empty text, a wrong or missing key.
    let (s, v) = app.post("/sms/inbound", Some(&app.sms_key), &json!({"from": "12345", "text": "5"})).await;
    assert_eq!((s, code(&v), v["error"]["details"]["field"].as_str()), (422, "invalid_phone", Some("from")), "{v}");
    let (s, v) = app.post("/sms/inbound", Some(&app.sms_key), &json!({"from": "13922220001", "text": "5", "extra": 1})).await;
    assert_eq!(s, 422, "{v}");
    let (s, _) = app.post("/sms/inbound", None, &json!({"from": "13922220001", "text": "5"})).await;
    assert_eq!(s, 401);
    for key in [&app.system_key, &app.hotline_key, &app.province_key] {
        let (s, v) = app.post("/sms/inbound", Some(key), &json!({"from": "13922220001", "text": "5"})).await;
        assert_eq!(s, 403, "{v}");
    }
    // Something that is not a rating gets help, and a phone never invited is told so.
    let v = sms(&app, "13922220001", "请问社保怎么办").await;
    assert_eq!(v["outcome"], "not_understood");
    assert!(v["reply"].as_str().unwrap().contains("回复数字5非常满意"), "{v}");
    assert_eq!(sms(&app, "13500000000", "5").await["outcome"], "no_invitation");
    assert_eq!(ledger_len(&app).await, before, "nothing was written");

    // 不满意: rated once through the one rating use case, a case opened, one follow-up listing reasons.
    let v = sms(&app, "13922220001", "不满意").await;
    assert_eq!(v["outcome"], "rated", "{v}");
    assert!(v["reply"].is_null(), "the follow-up is the system's own message: {v}");
    let rating_id = v["rating_id"].as_str().unwrap().to_string();
    assert!(v["case_id"].is_string());
    let (_, r) = app.get(&format!("/ratings/{rating_id}"), Some(&app.system_key)).await;
    assert_eq!((r["channel"].as_str(), r["pf"].as_i64(), r["level"].as_i64()), (Some("sms"), Some(7), Some(2)), "{r}");
    assert_eq!(r["reasons"], json!([]));
    pump(&app, &n).await;
    let follow = gw.messages().await.last().unwrap().clone();
    assert_eq!(follow.0, "13922220001");
    assert!(follow.1.contains("201办事指南不准确或不完整") && follow.1.contains("210"), "online reasons of level 2: {}", follow.1);
    assert!(!follow.1.contains("206"), "on-site reasons are not offered: {}", follow.1);
    assert_eq!(sms(&app, "13922220001", "5").await["outcome"], "already_rated");

    // Codes of another level are refused with help; valid codes are added once, on the case.
    let v = sms(&app, "13922220001", "105").await;
    assert_eq!(v["outcome"], "not_understood", "{v}");
    let v = sms(&app, "13922220001", "203，201").await;
    assert_eq!(v["outcome"], "reasons_added", "{v}");
    let (_, r) = app.get(&format!("/ratings/{rating_id}"), Some(&app.system_key)).await;
    let codes: Vec<&str> = r["reasons"].as_array().unwrap().iter().map(|x| x["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["201", "203"], "{r}");
    let (_, c) = app.get(&format!("/cases/{}", v["case_id"].as_str().unwrap()), Some(&app.system_key)).await;
    assert!(c.to_string().contains("reasons_added"), "{c}");
    // The handler's case page shows them as the review's reasons.
    let cookie = app.sign_in("scj_staff").await;
    let page = app
        .client
        .get(format!("{}/staff/cases/{}", app.base, v["case_id"].as_str().unwrap()))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("办事指南不准确或不完整") && page.contains("材料要求多或重复提交"), "{page}");
    assert_eq!(sms(&app, "13922220001", "202").await["outcome"], "no_invitation", "reasons are added once");

    // The gateway delivers one reply twice at once: one rating, one follow-up, the invitation awaits reasons.
    matter(&app, "SMS-3", "13922220003", 0).await;
    let (a, b) = tokio::join!(sms(&app, "13922220003", "1"), sms(&app, "13922220003", "1"));
    let outcomes = [a["outcome"].as_str().unwrap(), b["outcome"].as_str().unwrap()];
    assert!(outcomes.contains(&"rated"), "{a} {b}");
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings WHERE matter_no = 'SMS-3'").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM invitations WHERE matter_no = 'SMS-3' AND state = 'awaiting_reasons' AND rating_id IS NOT NULL")
            .await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM notifications WHERE source = 'reasons:SMS-3'").await, 1);
    assert_eq!(sms(&app, "13922220003", "106").await["outcome"], "reasons_added");

    // 非常满意 in words, full-width digits and the like.
    let v = sms(&app, "13922220002", "非常满意").await;
    assert_eq!(v["outcome"], "rated");
    assert!(v["reply"].as_str().unwrap().contains("感谢"), "{v}");
    assert!(v["case_id"].is_null());
    pump(&app, &n).await;
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    app
});

both!(the_hotline_key_press_rates_by_matter_or_caller_and_its_reason_follows, |app| {
    let hk = app.hotline_key.clone();
    app.matter("HOT-1", true).await;
    app.matter("HOT-2", true).await;
    let before = ledger_len(&app).await;

    // Bad input writes nothing.
    for (body, status, want, field) in [
        (json!({"call_id": "C1", "matter_no": "HOT-1", "key": 7}), 422, "invalid_level", "key"),
        (json!({"call_id": "", "matter_no": "HOT-1", "key": 5}), 422, "missing_field", "call_id"),
        (json!({"call_id": "C1", "key": 5}), 422, "missing_field", "matter_no"),
        (json!({"call_id": "C1", "caller_phone": "1234", "key": 5}), 422, "invalid_phone", "caller_phone"),
        (json!({"call_id": "C1", "caller_phone": "13600000000", "key": 5}), 422, "no_unrated_matter", "caller_phone"),
        (json!({"call_id": "C1", "matter_no": "NOPE", "key": 5}), 404, "not_found", ""),
    ] {
        let (s, v) = app.post("/hotline/ratings", Some(&hk), &body).await;
        assert_eq!((s, code(&v)), (status, want), "{body}: {v}");
        if !field.is_empty() {
            assert_eq!(v["error"]["details"]["field"], field, "{v}");
        }
    }
    let (s, v) = app.post("/hotline/ratings", Some(&app.system_key), &json!({"call_id": "C1", "matter_no": "HOT-1", "key": 5})).await;
    assert_eq!((s, code(&v)), (403, "channel_not_allowed"), "{v}");
    // Without the hotline's key nobody learns whether a number has an unrated matter.
    for phone in ["13800138000", "13600000000"] {
        let (s, v) = app.post("/hotline/ratings", None, &json!({"call_id": "C1", "caller_phone": phone, "key": 5})).await;
        assert_eq!(s, 401, "{v}");
    }
    assert_eq!(ledger_len(&app).await, before, "nothing was written");

    // Key 1 from the applicant's phone: their most recent unrated matter (HOT-2), a case, reasons asked for.
    let press = json!({"call_id": "C1", "caller_phone": "13800138000", "key": 1});
    let (s, v) = app.post("/hotline/ratings", Some(&hk), &press).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["matter_no"], "HOT-2");
    assert_eq!((v["bad_review"].as_bool(), v["needs_reasons"].as_bool()), (Some(true), Some(true)), "{v}");
    let choices: Vec<&str> = v["reason_choices"].as_array().unwrap().iter().map(|x| x["code"].as_str().unwrap()).collect();
    assert!(choices.contains(&"106") && !choices.contains(&"105"), "level-1 reasons of a call: {choices:?}");
    let id = v["id"].as_str().unwrap().to_string();
    assert!(v["case_id"].is_string());
    // The same call again is the same rating; with a code it adds the reason; another key under the call is refused.
    let (s, again) = app.post("/hotline/ratings", Some(&hk), &press).await;
    assert_eq!((s, again["id"].as_str(), again["replayed"].as_bool()), (200, Some(id.as_str()), Some(true)), "{again}");
    let (s, bad) = app
        .post("/hotline/ratings", Some(&hk), &json!({"call_id": "C1", "caller_phone": "13800138000", "key": 1, "reasons": ["206"]}))
        .await;
    assert_eq!((s, code(&bad)), (422, "reason_level_mismatch"), "{bad}");
    let (s, later) = app
        .post("/hotline/ratings", Some(&hk), &json!({"call_id": "C1", "caller_phone": "13800138000", "key": 1, "reasons": ["106"]}))
        .await;
    assert_eq!(s, 200, "{later}");
    assert_eq!((later["reasons"].clone(), later["needs_reasons"].as_bool()), (json!(["106"]), Some(false)), "{later}");
    let (s, other) = app.post("/hotline/ratings", Some(&hk), &json!({"call_id": "C1", "caller_phone": "13800138000", "key": 5})).await;
    assert_eq!((s, code(&other), other["id"].as_str()), (409, "call_id_reused", Some(id.as_str())), "{other}");
    let (_, r) = app.get(&format!("/ratings/{id}"), Some(&app.system_key)).await;
    assert_eq!((r["channel"].as_str(), r["pf"].as_i64()), (Some("phone"), Some(6)));
    assert_eq!(r["reasons"][0]["code"], "106");
    assert_eq!(r["rater"]["phone"], "138****8000", "the caller is kept as contact, masked: {r}");

    // Key 5 for a named matter, reasons and all in one call; the matter cannot be rated twice.
    let (s, v) = app.post("/hotline/ratings", Some(&hk), &json!({"call_id": "C2", "matter_no": "HOT-1", "key": 5})).await;
    assert_eq!((s, v["needs_reasons"].as_bool(), v["case_id"].is_null()), (201, Some(false), true), "{v}");
    let (s, v) = app.post("/hotline/ratings", Some(&hk), &json!({"call_id": "C3", "matter_no": "HOT-1", "key": 4})).await;
    assert_eq!((s, code(&v)), (409, "already_rated"), "{v}");
    // The province gets the reason that followed the key press (it came before the record was sent).
    let link = crate::province::province(std::time::Duration::from_secs(5)).await;
    crate::province::drain_all(&app.state, &link, 50).await;
    let key = link.fake.keys().into_iter().find(|k| k.starts_with("evaluation|HOT-2|")).expect("HOT-2's evaluation was sent");
    let record: Value = serde_json::from_str(&link.fake.record(&key).unwrap()).unwrap();
    assert_eq!(
        (record["evalDetail"].as_str(), record["pf"].as_i64(), record["satisfaction"].as_i64()),
        (Some("106"), Some(6), Some(1)),
        "{record}"
    );
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    app
});

both!(ratings_from_the_province_are_deduplicated_and_never_reported_back, |app| {
    let pk = app.province_key.clone();
    app.matter("PRV-1", true).await;
    app.matter("PRV-2", true).await;
    let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap();
    let before = ledger_len(&app).await;
    for (body, status, want) in [
        (json!({"record_id": "", "matter_no": "PRV-1", "level": 5, "rated_at": now}), 422, "missing_field"),
        (json!({"record_id": "P1", "matter_no": "PRV-1", "level": 5}), 422, "missing_field"),
        (json!({"record_id": "P1", "matter_no": "PRV-1", "level": 5, "rated_at": "yesterday"}), 422, "invalid_timestamp"),
        (json!({"record_id": "P1", "matter_no": "PRV-1", "level": 1, "rated_at": now}), 422, "bad_review_needs_reason"),
    ] {
        let (s, v) = app.post("/province/ratings", Some(&pk), &body).await;
        assert_eq!((s, code(&v)), (status, want), "{body}: {v}");
    }
    // Only the province's key speaks for the province, and the province's key only for itself.
    let body = json!({"record_id": "P1", "matter_no": "PRV-1", "level": 1, "reasons": ["106"], "text": "推诿", "rated_at": now});
    let (s, v) = app.post("/province/ratings", Some(&app.system_key), &body).await;
    assert_eq!((s, code(&v)), (403, "channel_not_allowed"), "{v}");
    let (s, v) = app.post("/ratings", Some(&app.system_key), &json!({"matter_no": "PRV-1", "channel": "province", "level": 5})).await;
    assert_eq!((s, code(&v)), (403, "channel_not_allowed"), "{v}");
    let (s, v) = app.post("/ratings", Some(&pk), &json!({"matter_no": "PRV-1", "channel": "business_system", "level": 5})).await;
    assert_eq!((s, code(&v)), (403, "channel_not_allowed"), "{v}");
    // The province and the SMS gateway rate only through their own endpoints (a record id; a citizen's reply).
    let (s, v) = app.post("/ratings", Some(&pk), &json!({"matter_no": "PRV-1", "channel": "province", "level": 5})).await;
    assert_eq!((s, code(&v)), (403, "use_own_endpoint"), "{v}");
    let (s, v) = app.post("/ratings", Some(&app.sms_key), &json!({"matter_no": "PRV-1", "channel": "sms", "level": 5})).await;
    assert_eq!((s, code(&v)), (403, "use_own_endpoint"), "{v}");
    assert_eq!(ledger_len(&app).await, before, "nothing was written");

    // A bad review from the province opens a case like any other; the same record again is the same rating.
    let (s, v) = app.post("/province/ratings", Some(&pk), &body).await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    assert!(v["case_id"].is_string(), "{v}");
    let (s, again) = app.post("/province/ratings", Some(&pk), &body).await;
    assert_eq!((s, again["id"].as_str()), (201, Some(id.as_str())), "{again}");
    let mut changed = body.clone();
    changed["level"] = json!(2);
    changed["reasons"] = json!(["202"]);
    let (s, v) = app.post("/province/ratings", Some(&pk), &changed).await;
    assert_eq!((s, code(&v)), (409, "idempotency_key_reused"), "{v}");
    // Deduplicated against local ratings both ways, with the existing id.
    let (s, v) =
        app.post("/ratings", Some(&app.system_key), &json!({"matter_no": "PRV-1", "channel": "business_system", "level": 5})).await;
    assert_eq!((s, code(&v), v["id"].as_str()), (409, "already_rated", Some(id.as_str())), "{v}");
    let (s, local) =
        app.post("/ratings", Some(&app.system_key), &json!({"matter_no": "PRV-2", "channel": "business_system", "level": 5})).await;
    assert_eq!(s, 201);
    let (s, v) =
        app.post("/province/ratings", Some(&pk), &json!({"record_id": "P2", "matter_no": "PRV-2", "level": 4, "rated_at": now})).await;
    assert_eq!((s, code(&v), v["id"].clone()), (409, "already_rated", local["id"].clone()), "{v}");
    let (_, r) = app.get(&format!("/ratings/{id}"), Some(&app.system_key)).await;
    assert_eq!(r["channel"], "province");

    // Planned for the province: the local rating is, the province's own is not (its case's handling is).
    let link = crate::province::province(std::time::Duration::from_secs(5)).await;
    crate::province::drain_all(&app.state, &link, 50).await;
    let keys = link.fake.keys();
    assert!(keys.iter().any(|k| k.starts_with("evaluation|PRV-2|")), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains("|PRV-1|")), "the province's own rating went back: {keys:?}");
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    app
});
