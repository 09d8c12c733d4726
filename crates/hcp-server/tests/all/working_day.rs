//! A county's working day: what a matter carries for the national record (limits, 即办件/承诺件, online or
//! offline, agent, handling staff, legal persons), the channel a link was issued for, provisional deadlines
//! recomputed when a year's notice arrives, and files as offices save them.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{self, token_of};
use crate::province::{drain_all, province};

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

fn field(v: &Value) -> &str {
    v["error"]["details"]["field"].as_str().unwrap_or("")
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// A legal person's matter handled online, with everything the national record asks for.
fn legal_matter(no: &str) -> Value {
    let now = time::OffsetDateTime::now_utc();
    json!({
        "matter_no": no, "item_code": "61032701001", "unit_code": "LX-SCJ",
        "applicant": {"kind": "legal", "prop": 3, "name": "陇县第一中学", "phone": "13800138000", "id_number": "11610327mb29600016"},
        "accepted_at": rfc3339(now - time::Duration::days(3)),
        "completed_at": rfc3339(now - time::Duration::hours(1)),
        "project_name": "陇县第一中学事业单位法人登记",
        "promise_limit": {"amount": 5, "unit": "working_day"},
        "legal_limit": {"amount": 20, "unit": "工作日"},
        "handling": "promised",
        "proc_channel": "online",
        "agent": {"name": "赵代办", "id_number": "11010519491231002X"},
        "handler_code": "P014"
    })
}

both!(a_matter_carries_what_the_national_record_needs, |app| {
    let (s, m) = app.post("/matters", Some(&app.system_key), &legal_matter("NAT-1")).await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(
        (m["applicant_kind"].as_str(), m["applicant_prop"].as_i64(), m["applicant_name"].as_str()),
        (Some("legal"), Some(3), Some("陇****学"))
    );
    assert_eq!((m["promise_limit"].as_str(), m["legal_limit"].as_str()), (Some("5工作日"), Some("20工作日")));
    assert_eq!((m["handling"].as_str(), m["proc_channel"].as_str()), (Some("promised"), Some("online")));
    assert_eq!((m["agent_name"].as_str(), m["handler_code"].as_str()), (Some("赵*办"), Some("P014")));
    assert_eq!(m["project_name"], "陇县第一中学事业单位法人登记");

    // Each field is checked, named, in Chinese; nothing is stored.
    let bad = |patch: Value| {
        let mut body = legal_matter("NAT-BAD");
        for (k, v) in patch.as_object().unwrap() {
            if let Some((outer, inner)) = k.split_once('.') {
                body[outer][inner] = v.clone();
            } else {
                body[k.as_str()] = v.clone();
            }
        }
        body
    };
    for (patch, want_code, want_field) in [
        (json!({"applicant.id_number": "11610327MB29600017"}), "invalid_credit_code", "applicant.id_number"),
        (json!({"applicant.id_number": "11010519491231002X"}), "invalid_credit_code", "applicant.id_number"),
        (json!({"applicant.prop": 1}), "invalid_applicant_prop", "applicant.prop"),
        (json!({"promise_limit": {"amount": 5, "unit": "周"}}), "invalid_limit_unit", "promise_limit.unit"),
        (json!({"legal_limit": {"amount": 10000, "unit": "天"}}), "invalid_time_limit", "legal_limit.amount"),
        (json!({"handling": "快办"}), "invalid_handling", "handling"),
        (json!({"proc_channel": "fax"}), "invalid_proc_channel", "proc_channel"),
        (json!({"agent": {"name": "赵代办", "id_number": "110105194912310021"}}), "invalid_id_number", "agent.id_number"),
        (json!({"handler_code": "NOBODY"}), "unknown_reference", "handler_code"),
    ] {
        let (s, v) = app.post("/matters", Some(&app.system_key), &bad(patch.clone())).await;
        assert_eq!((s, code(&v), field(&v)), (422, want_code, want_field), "{patch}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{v}");
    }
    // A person's identity card is refused as a legal person's code, and a credit code as a person's card.
    let mut person = legal_matter("NAT-BAD");
    person["applicant"] = json!({"kind": "person", "name": "张三", "id_number": "11610327MB29600016"});
    let (s, v) = app.post("/matters", Some(&app.system_key), &person).await;
    assert_eq!((s, code(&v)), (422, "invalid_id_number"), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM matters WHERE matter_no = 'NAT-BAD'").await, 0);
    // A town's system may not name the county's staff as the handler.
    let mut town = legal_matter("NAT-TOWN");
    town["unit_code"] = json!("LX-CG");
    town["item_code"] = json!("61032707009");
    let (s, v) = app.post("/matters", Some(&app.town_system_key), &town).await;
    assert_eq!(s, 403, "{v}");

    // The agent is personal data: an envelope in the database, never the name.
    let names = app.count("SELECT COUNT(*) FROM matters WHERE agent_name IS NOT NULL AND agent_id IS NOT NULL").await;
    assert_eq!(names, 1);
    let sql = "SELECT agent_name, agent_id FROM matters WHERE matter_no = 'NAT-1'";
    let (name, id): (Vec<u8>, Vec<u8>) = match &app.state.db {
        hcp_storage::Db::Sqlite(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
        hcp_storage::Db::Pg(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
    };
    for (stored, plain) in [(&name, "赵代办"), (&id, "11010519491231002X")] {
        assert!(!stored.windows(plain.len()).any(|w| w == plain.as_bytes()), "{plain} stored in plain text");
        assert_eq!(common::test_secrets().decrypt(stored).unwrap(), plain);
    }

    // The national service record, sent with the matter's first rating, carries it all.
    let tok = token_of(&m["rating_links"]["mobile"]);
    let (s, v) = app.post("/ratings", None, &json!({"matter_no": "NAT-1", "channel": "mobile", "level": 5, "token": tok})).await;
    assert_eq!(s, 201, "{v}");
    let p = province(Duration::from_secs(15)).await;
    let total = drain_all(&app.state, &p, 50).await;
    assert!(total.delivered >= 1, "{total:?}");
    let key = p.fake.keys().into_iter().find(|k| k.starts_with("service|NAT-1|")).expect("the matter's service record");
    let r: Value = serde_json::from_str(&p.fake.record(&key).unwrap()).unwrap();
    assert_eq!(
        (r["userProp"].as_i64(), r["creditType"].as_str(), r["creditNum"].as_str()),
        (Some(3), Some("001"), Some("11610327MB29600016"))
    );
    assert_eq!((r["promiseDay"].as_i64(), r["promiseType"].as_i64()), (Some(5), Some(1)));
    assert_eq!((r["anticipateDay"].as_i64(), r["anticipateType"].as_i64()), (Some(20), Some(1)));
    assert_eq!((r["promiseTime"].as_i64(), r["proChannel"].as_i64()), (Some(2), Some(1)));
    assert_eq!(r["projectName"], "陇县第一中学事业单位法人登记");
    assert_eq!(r["proManager"], "朱静", "the online matter's handler");
    app
});

both!(the_channel_is_the_one_the_link_was_issued_for, |app| {
    let m = app.matter("CH-1", true).await;
    let links = &m["rating_links"];
    assert_eq!(links["qr"], m["rating_url"], "the receipt's link is the QR code's");
    // Opened as a portal's link with `?c=qr` in the address, it still rates as the portal.
    let url = format!("{}?level=5&c=qr", links["pc"].as_str().unwrap());
    let r = app.client.post(&url).form(&[("level", "5"), ("c", "qr")]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings WHERE matter_no = 'CH-1' AND channel = 'pc'").await, 1);
    // Through the API, a token answers only for its own channel.
    let m2 = app.matter("CH-2", true).await;
    let qr = token_of(&m2["rating_links"]["qr"]);
    let (s, v) = app.post("/ratings", None, &json!({"matter_no": "CH-2", "channel": "mobile", "level": 5, "token": qr})).await;
    assert_eq!((s, code(&v), field(&v)), (403, "channel_mismatch", "channel"), "{v}");
    let (s, v) = app.post("/ratings", None, &json!({"matter_no": "CH-2", "channel": "qr", "level": 5, "token": qr})).await;
    assert_eq!(s, 201, "{v}");
    // A used link says so at once, with the rating it made.
    let html = app.client.get(m2["rating_links"]["mobile"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("该服务已评价") && html.contains("二维码") && !html.contains("class=\"level\""), "{html}");
    // A bad review's used link says where its case stands, but never leads to the rater's own case link (a
    // receipt's link may be in other hands).
    let m3 = app.matter("CH-3", true).await;
    let tok = token_of(&m3["rating_url"]);
    let (s, v) =
        app.post("/ratings", None, &json!({"matter_no": "CH-3", "channel": "qr", "level": 1, "reasons": ["199"], "token": tok})).await;
    assert_eq!(s, 201, "{v}");
    let html = app.client.get(m3["rating_url"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("核实整改") && html.contains("待响应") && !html.contains("/f/"), "{html}");
    app
});

/// A case whose deadlines moved: `(case, (respond before, after), (reply before, after))`.
type Moved<'a> = (&'a str, (&'a str, &'a str), (&'a str, &'a str));

both!(provisional_deadlines_are_recomputed_when_the_notice_arrives, |app| {
    // The unit's handler can be reached (the messages are left queued: no gateway here).
    app.expect_jobs("notify");
    let mobile = app.state.secrets.encrypt("13900000001").unwrap();
    assert!(app.state.db.set_user_contact("scj_staff", Some("scj.staff@longxian.example"), Some(mobile)).await.unwrap());
    // Three cases that arrived on 2026-12-31, with deadlines counted Monday–Friday into 2027, whose notice was
    // not loaded: one awaiting its response, one responded, one responded and extended by its unit.
    let guessed = (20261231, 20270101, 20270107);
    let open = app.written_case_as("PRV-OPEN", guessed, true).await;
    let responded = app.written_case_as("PRV-RESP", guessed, true).await;
    let extended = app.written_case_as("PRV-EXT", guessed, true).await;
    let settled = app.old_case("PRV-OLD").await;
    let act = |id: &str, body: Value| {
        let path = format!("/cases/{id}/actions");
        let app = &app;
        async move { app.post(&path, Some(&app.system_key), &body).await }
    };
    for id in [&responded, &extended] {
        let (s, v) = act(id, json!({"action": "respond", "note": "已受理"})).await;
        assert_eq!(s, 200, "{v}");
    }
    let (s, v) = act(&extended, json!({"action": "extend", "new_reply_by": "2027-01-14", "reason": "需会商"})).await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = app.get(&format!("/cases/{open}"), Some(&app.system_key)).await;
    assert_eq!((v["respond_by"].as_str(), v["deadlines_provisional"].as_bool()), (Some("2027-01-01"), Some(true)), "{v}");
    hcp_app::notifications::derive(&app.state).await.unwrap();

    // The 2027 notice makes 1 January a holiday.
    let loaded = hcp_app::settings::import_calendar(&app.state, "2027-01-01,holiday,元旦\n".as_bytes(), "test").await.unwrap();
    assert_eq!(loaded.years, vec![2027]);
    let mut changed: Vec<Moved> = loaded
        .changed
        .iter()
        .map(|c| (c.case_id.as_str(), (c.respond_by.0.as_str(), c.respond_by.1.as_str()), (c.reply_by.0.as_str(), c.reply_by.1.as_str())))
        .collect();
    changed.sort();
    let mut want = vec![
        (open.as_str(), ("2027-01-01", "2027-01-04"), ("2027-01-07", "2027-01-08")),
        (responded.as_str(), ("2027-01-01", "2027-01-01"), ("2027-01-07", "2027-01-08")),
    ];
    want.sort();
    assert_eq!(changed, want, "the responded case keeps its response deadline; the extended one its chosen date");
    assert!(loaded.changed.iter().all(|c| c.unit_name == "陇县市场监督管理局" && !c.provisional));

    // The case shows its new deadlines, no longer provisional, and the step in words on its history.
    let (_, v) = app.get(&format!("/cases/{open}"), Some(&app.system_key)).await;
    assert_eq!((v["respond_by"].as_str(), v["reply_by"].as_str()), (Some("2027-01-04"), Some("2027-01-08")), "{v}");
    assert_eq!(v["deadlines_provisional"], false);
    let step = v["history"].as_array().unwrap().iter().find(|e| e["kind"] == "deadlines_recomputed").expect("the step").clone();
    let d = &step["details"];
    assert_eq!(
        (d["previous_respond_by"].as_str(), d["respond_by"].as_str(), d["years"].clone()),
        (Some("2027-01-01"), Some("2027-01-04"), json!([2027])),
        "{step}"
    );
    assert_eq!(step["actor"], "system");
    let (_, v) = app.get(&format!("/cases/{extended}"), Some(&app.system_key)).await;
    assert_eq!((v["reply_by"].as_str(), v["deadlines_provisional"].as_bool()), (Some("2027-01-14"), Some(false)), "{v}");
    let (_, v) = app.get(&format!("/cases/{settled}"), Some(&app.system_key)).await;
    assert!(!v["history"].as_array().unwrap().iter().any(|e| e["kind"] == "deadlines_recomputed"), "{v}");

    // The units are told, once per case whose deadlines moved.
    hcp_app::notifications::derive(&app.state).await.unwrap();
    let told = app.count("SELECT COUNT(*) FROM notifications WHERE template = 'unit_deadlines_recomputed'").await;
    assert!(told >= 2, "{told}");
    let per_case = app.count("SELECT COUNT(DISTINCT case_id) FROM notifications WHERE template = 'unit_deadlines_recomputed'").await;
    assert_eq!(per_case, 2);
    // Loading the notice again changes nothing more; the ledger holds.
    let again = hcp_app::settings::import_calendar(&app.state, "2027-01-01,holiday,元旦\n".as_bytes(), "test").await.unwrap();
    assert!(again.changed.is_empty(), "{:?}", again.changed);
    let report = app.state.db.verify_ledger().await.unwrap();
    assert!(report.first_break.is_none(), "{report:?}");
    app
});

/// A town's matters as its clerk keeps them in a spreadsheet: Chinese headings, local times, limits in words.
const SHEET: &str = "办件编号,事项编码,单位编码,申请人类型,申请人,手机号码,证件号码,受理时间,办结时间,承诺时限,办件类型,办件渠道
IMP-1,61032701001,LX-SCJ,自然人,张三,13800138000,11010519491231002X,2026-11-20 09:30,2026/11/20 10:05,5工作日,即办件,线下
IMP-2,61032701001,LX-SCJ,法人,陇县某某商贸有限公司,,91350100M000100Y43,2026-11-21 14:00,,20个工作日,承诺件,线上
IMP-3,61032701001,LX-SCJ,自然人,李四,1380013800,,2026-11-22 09:00,,,,
IMP-4,NOPE,LX-SCJ,自然人,王五,,,2026-11-22 09:00,,,,

IMP-5,61032701001,LX-SCJ,自然人,赵六,,,昨天上午,,,,
";

async fn import(app: &common::TestApp, key: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}/matters/import", app.url))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

both!(matters_are_imported_from_a_spreadsheet_saved_in_gbk_or_utf8, |app| {
    // Saved by Excel on Chinese Windows: GBK.
    let (gbk, _, lossy) = encoding_rs::GBK.encode(SHEET);
    assert!(!lossy && std::str::from_utf8(&gbk).is_err(), "really GBK bytes");
    let (s, v) = import(&app, &app.system_key, "text/csv", gbk.to_vec()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["imported"].as_u64(), v["unchanged"].as_u64(), v["failed"].as_u64()), (Some(2), Some(0), Some(3)), "{v}");
    let problems: Vec<&str> = v["problems"].as_array().unwrap().iter().map(|p| p["message"].as_str().unwrap()).collect();
    assert!(problems[0].starts_with("第 4 行（手机号码）：") && problems[0].contains("手机号码格式不正确"), "{problems:?}");
    assert!(problems[1].starts_with("第 5 行（事项编码）：") && problems[1].contains("NOPE"), "{problems:?}");
    assert!(
        problems[2].starts_with("第 7 行（受理时间）：") && problems[2].contains("昨天上午"),
        "the blank line 6 is skipped: {problems:?}"
    );
    assert_eq!(v["problems"][0]["field"], "applicant.phone");
    // Read as GBK: the names are right, and the national fields are kept.
    let m = app.state.db.find_matter("IMP-2").await.unwrap().expect("imported");
    assert_eq!(app.state.secrets.decrypt(&m.applicant_name).unwrap(), "陇县某某商贸有限公司");
    assert_eq!((m.applicant_kind.as_str(), m.details.promise, m.details.handling.as_deref()), ("legal", Some((20, 1)), Some("promised")));
    assert_eq!(m.details.proc_channel.as_deref(), Some("online"));
    let one = app.state.db.find_matter("IMP-1").await.unwrap().expect("imported");
    assert_eq!(one.accepted_at.to_rfc3339(), "2026-11-20T09:30:00+08:00");
    assert_eq!(one.completed_at.map(|t| t.to_rfc3339()).as_deref(), Some("2026-11-20T10:05:00+08:00"));
    // Corrected and imported again (UTF-8 with a byte-order mark, as WPS saves it): only what was missing is added.
    let fixed = SHEET.replace("1380013800,", "13800138001,").replace("NOPE", "61032701001").replace("昨天上午", "2026-11-23 08:45");
    let (s, v) = import(&app, &app.system_key, "text/csv; charset=utf-8", format!("\u{feff}{fixed}").into_bytes()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["imported"].as_u64(), v["unchanged"].as_u64(), v["failed"].as_u64()), (Some(3), Some(2), Some(0)), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM matters WHERE matter_no LIKE 'IMP-%'").await, 5);
    // A town's key imports its own tree only: each row of another unit is refused and named.
    let (s, v) = import(&app, &app.town_system_key, "text/csv", SHEET.replace("IMP-", "TWN-").into_bytes()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["imported"], 0);
    assert!(v["problems"].as_array().unwrap().iter().any(|p| p["code"] == "out_of_scope"), "{v}");
    // A file without a needed column, or not sent as CSV, is refused whole, in Chinese.
    let (s, v) = import(&app, &app.system_key, "text/csv", "办件编号,事项编码,单位编码,申请人\nX,1,LX,张三\n".as_bytes().to_vec()).await;
    assert_eq!((s, code(&v), field(&v)), (422, "missing_column", "accepted_at"), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("受理时间"), "{v}");
    let (s, v) = import(&app, &app.system_key, "application/json", b"{}".to_vec()).await;
    assert_eq!((s, code(&v)), (415, "unsupported_media_type"), "{v}");
    app
});

both!(indicator_levels_are_given_on_the_page_stored_and_counted, |app| {
    app.matter("IND-1", true).await;
    let svc = app.service("IND-1", "ZX-01").await;
    let url = svc["rating_url"].as_str().unwrap().to_string();
    // A receipt's QR code is on-site service: its indicators, not the online platform's.
    let page = app.client.get(format!("{url}?level=4")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("分项评价") && page.contains("<legend>服务效率</legend>") && page.contains("name=\"ind_E02\""), "{page}");
    assert!(!page.contains("平台完善性"), "online indicators are not offered on site");
    // Without a level chosen, nothing but the levels.
    let first = app.client.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(!first.contains("分项评价"));
    // An indicator that is not for the channel is refused, on the form, keeping what was typed.
    let r = app.client.post(&url).form(&[("level", "4"), ("ind_E01", "5"), ("ind_N05", "2"), ("text", "窗口很好")]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("不适用于该评价渠道") && html.contains("窗口很好"), "{html}");
    assert!(html.contains("name=\"ind_E01\" value=\"5\" checked"), "the levels given stay chosen: {html}");
    let r = app.client.post(&url).form(&[("level", "4"), ("ind_E01", "5"), ("text", "窗口很好")]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let stored = app.count("SELECT COUNT(*) FROM ratings WHERE matter_no = 'IND-1' AND indicators = 'E01=5'").await;
    assert_eq!(stored, 1, "stored as given");
    // Through the API, levels for indicators are checked against the channel.
    app.matter("IND-2", true).await;
    let s2 = app.service("IND-2", "ZX-01").await;
    let body = json!({"matter_no": "IND-2", "service_no": s2["service_no"], "channel": "pad", "level": 2, "reasons": ["208"],
        "indicators": {"E01": 2, "E02": 3, "N05": 1}});
    let (s, v) = app.post("/ratings", Some(&app.device_key), &body).await;
    assert_eq!((s, code(&v), field(&v)), (422, "indicator_not_for_channel", "indicators.N05"), "{v}");
    let body = json!({"matter_no": "IND-2", "service_no": s2["service_no"], "channel": "pad", "level": 2, "reasons": ["208"],
        "indicators": {"E01": 2, "E02": 3}});
    let (s, v) = app.post("/ratings", Some(&app.device_key), &body).await;
    assert_eq!(s, 201, "{v}");
    // Counted by indicator, county-wide and within the unit; the catalogue's other indicators show 0.
    for path in ["/stats/indicators", "/stats/indicators?unit=LX-SCJ"] {
        let (s, v) = app.get(path, None).await;
        assert_eq!(s, 200, "{v}");
        let ind = |code: &str| v["indicators"].as_array().unwrap().iter().find(|i| i["code"] == code).unwrap().clone();
        let e01 = ind("E01");
        assert_eq!(
            (e01["total"].as_i64(), e01["counts"]["level5"].as_i64(), e01["counts"]["level2"].as_i64()),
            (Some(2), Some(1), Some(1)),
            "{v}"
        );
        assert_eq!(e01["mean"], 3.5);
        assert_eq!(e01["satisfaction_rate"], 0.5);
        assert_eq!((ind("E02")["total"].as_i64(), ind("E02")["counts"]["level3"].as_i64()), (Some(1), Some(1)));
        let n05 = ind("N05");
        assert_eq!((n05["label"].as_str(), n05["total"].as_i64(), n05["mean"].clone()), (Some("平台完善性"), Some(0), Value::Null));
    }
    let (_, other) = app.get("/stats/indicators?unit=LX-GAJ", None).await;
    assert!(other["indicators"].as_array().unwrap().iter().all(|i| i["total"] == 0), "{other}");
    let (s, v) = app.get("/stats/indicators?unit=NOPE", None).await;
    assert_eq!((s, code(&v)), (422, "unknown_reference"));
    app
});

both!(the_navigation_offers_only_what_the_role_may_do, |app| {
    let nav_of = |html: &str| -> Vec<String> {
        let nav = html.split("<nav aria-label=\"工作人员导航\">").nth(1).and_then(|r| r.split("</nav>").next()).unwrap_or_default();
        nav.split("href=\"").skip(1).map(|p| p.split('"').next().unwrap_or_default().to_string()).collect()
    };
    for (user, want) in [
        ("clerk_scj", vec!["/staff/cases", "/staff/ledger", "/staff/matters", "/staff/replies"]),
        (
            "scj_staff",
            vec![
                "/staff/cases",
                "/staff/ledger",
                "/staff/matters",
                "/staff/dashboard",
                "/staff/paper",
                "/staff/inspections",
                "/staff/replies",
            ],
        ),
        ("duban", vec!["/staff/cases", "/staff/ledger", "/staff/dashboard", "/staff/inspections", "/staff/replies"]),
        ("assessor", vec!["/staff/inspections"]),
        (
            "admin",
            vec![
                "/staff/cases",
                "/staff/ledger",
                "/staff/matters",
                "/staff/dashboard",
                "/staff/paper",
                "/staff/inspections",
                "/staff/replies",
                "/staff/notifications",
                "/staff/keys",
                "/staff/dead-letters",
                "/staff/settings",
                "/staff/province",
            ],
        ),
    ] {
        let cookie = app.sign_in(user).await;
        // The back office's front door leads everyone to a page they may use (an assessor to the inspections).
        let html =
            app.client.get(format!("{}/staff/cases", app.base)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
        assert_eq!(nav_of(&html), want, "{user}");
        // Every page offered opens for them.
        for path in &want {
            let r = app.client.get(format!("{}{path}", app.base)).header("cookie", &cookie).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200, "{user} {path}");
        }
    }
    app
});

both!(a_rectification_is_tracked_to_done_and_escalated_when_late, |app| {
    app.expect_jobs("notify");
    let act = |id: String, path: &'static str, body: Value| {
        let app = &app;
        async move { app.post(&format!("/cases/{id}/{path}"), Some(&app.system_key), &body).await }
    };
    // A real-name bad review: the rater can be told.
    let id = app.bad_review("RECT-1", false).await;
    for body in [
        json!({"action": "respond", "note": "已安排核实"}),
        json!({"action": "callback", "method": "电话", "reached": true, "summary": "评价人反映排队久"}),
        json!({"action": "decide", "outcome": "ledger", "reason": "排队叫号系统需改造", "rectify_by": "2027-03-31"}),
        json!({"action": "reply", "text": "已列入台账，2027年3月底前完成改造"}),
    ] {
        let (s, v) = act(id.clone(), "actions", body).await;
        assert_eq!(s, 200, "{v}");
    }
    // After the reply the item stays open in the 台账, with its own deadline.
    let (s, list) = app.get("/rectifications", Some(&app.system_key)).await;
    assert_eq!(s, 200, "{list}");
    let item = list.as_array().unwrap().iter().find(|i| i["case_id"] == id.as_str()).expect("listed").clone();
    assert_eq!(
        (item["state"].as_str(), item["rectify_by"].as_str(), item["overdue"].as_bool()),
        (Some("open"), Some("2027-03-31"), Some(false))
    );
    assert_eq!(item["unit_name"], "陇县市场监督管理局");
    // Progress with what shows it; done needs evidence; nothing after done.
    let (s, v) =
        act(id.clone(), "rectification", json!({"action": "progress", "note": "已完成招标", "evidence": "采购合同 LX-2026-118"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["rectification"]["progress"], 1);
    let (s, v) = act(id.clone(), "rectification", json!({"action": "done", "note": "新叫号系统已上线"})).await;
    assert_eq!((s, code(&v), field(&v)), (422, "missing_field", "evidence"), "{v}");
    let (s, v) = act(id.clone(), "rectification", json!({"action": "finish", "note": "x"})).await;
    assert_eq!((s, code(&v)), (422, "invalid_action"), "{v}");
    let (s, v) =
        act(id.clone(), "rectification", json!({"action": "done", "note": "新叫号系统已上线", "evidence": "验收报告 2027-03-20"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["rectification"]["state"], "done");
    let kinds: Vec<&str> = v["history"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.ends_with(&["rectification_progress", "rectification_done"]), "{kinds:?}");
    let (s, v) = act(id.clone(), "rectification", json!({"action": "progress", "note": "x"})).await;
    assert_eq!((s, code(&v)), (422, "rectification_done"));
    // The rater is told it is done.
    hcp_app::notifications::derive(&app.state).await.unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM notifications WHERE template = 'rater_rectified'").await, 1);
    // A case without a 限期整改 outcome has no item.
    let other = app.bad_review("RECT-2", true).await;
    let (s, v) = act(other.clone(), "rectification", json!({"action": "progress", "note": "x"})).await;
    assert_eq!((s, code(&v)), (422, "no_rectification"), "{v}");

    // An item past its deadline is escalated once, however many nodes sweep.
    let late = app.bad_review("RECT-3", true).await;
    act(late.clone(), "actions", json!({"action": "respond", "note": "x"})).await;
    act(late.clone(), "actions", json!({"action": "decide", "outcome": "ledger", "reason": "指南需修订", "rectify_by": "2027-01-15"}))
        .await;
    // Time passes: the deadline is now behind us (the projection's date moved back as a clock would).
    match &app.state.db {
        hcp_storage::Db::Sqlite(p) => {
            sqlx::query("UPDATE rectifications SET rectify_by = 20261130 WHERE state = 'open'").execute(p).await.unwrap();
        }
        hcp_storage::Db::Pg(p) => {
            sqlx::query("UPDATE rectifications SET rectify_by = 20261130 WHERE state = 'open'").execute(p).await.unwrap();
        }
    }
    let (a, b) = tokio::join!(hcp_app::rectify::sweep_overdue(&app.state), hcp_app::rectify::sweep_overdue(&app.state));
    assert_eq!(a.unwrap() + b.unwrap(), 1, "once");
    assert_eq!(hcp_app::rectify::sweep_overdue(&app.state).await.unwrap(), 0);
    let (_, v) = app.get(&format!("/cases/{late}"), Some(&app.system_key)).await;
    let escalated = v["history"].as_array().unwrap().iter().find(|e| e["kind"] == "rectification_overdue").expect("escalated").clone();
    assert_eq!(escalated["details"]["escalated_to"], "LX");
    assert_eq!(v["rectification"]["overdue"], true);
    hcp_app::notifications::derive(&app.state).await.unwrap();
    // Two "done" at once (two clerks, or a double click): one is recorded, the other told the case changed.
    let done = json!({"action": "done", "note": "指南已修订", "evidence": "修订稿 v2"});
    let (a, b) = tokio::join!(act(late.clone(), "rectification", done.clone()), act(late.clone(), "rectification", done));
    // The loser is told the case changed (409) or, when it came after the winner, that the item is done (422).
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert!(statuses == [200, 409] || statuses == [200, 422], "{a:?} {b:?}");
    let (_, v) = app.get(&format!("/cases/{late}"), Some(&app.system_key)).await;
    assert_eq!(v["history"].as_array().unwrap().iter().filter(|e| e["kind"] == "rectification_done").count(), 1);
    // The 台账 page lists both, the late one marked; its export opens in Excel with the Chinese intact.
    let cookie = app.sign_in("scj_staff").await;
    let get = |path: &'static str| {
        let (app, cookie) = (&app, cookie.clone());
        async move { app.client.get(format!("{}{path}", app.base)).header("cookie", cookie).send().await.unwrap() }
    };
    let html = get("/staff/ledger").await.text().await.unwrap();
    assert!(html.contains("整改中 0 项，其中已超期 0 项") && html.contains("指南需修订") && html.contains("排队叫号系统需改造"), "{html}");
    let r = get("/staff/ledger?format=csv").await;
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = r.bytes().await.unwrap();
    assert!(csv.starts_with("\u{feff}单位,工单,整改事项".as_bytes()), "{}", String::from_utf8_lossy(&csv));
    assert!(String::from_utf8_lossy(&csv).contains("指南需修订,2026-11-30,已完成"));
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    app
});
