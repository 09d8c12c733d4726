//! Bad reviews open cases in the same transaction, routed to the unit that handled the matter, with deadlines
//! in working days; on SQLite and PostgreSQL.

use crate::common;

use serde_json::{Value, json};

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

both!(a_bad_review_opens_a_case_for_the_handling_unit, |app| {
    app.matter("CASE-1", true).await;
    let svc = app.service("CASE-1", "ZX-01").await;
    let body = json!({"matter_no": "CASE-1", "service_no": svc["service_no"], "channel": "pad", "level": 1, "reasons": ["108"], "text": "要求好处费"});
    let resp = app
        .client
        .post(format!("{}/ratings", app.url))
        .bearer_auth(&app.device_key)
        .header("idempotency-key", "k-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let v: Value = resp.json().await.unwrap();
    let case_id = v["case_id"].as_str().expect("a bad review opens a case").to_string();
    // A retry of the same request answers the same, case included.
    let resp = app
        .client
        .post(format!("{}/ratings", app.url))
        .bearer_auth(&app.device_key)
        .header("idempotency-key", "k-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let again: Value = resp.json().await.unwrap();
    assert_eq!((again["id"].clone(), again["case_id"].clone()), (v["id"].clone(), v["case_id"].clone()));

    // A good review opens none.
    app.matter("CASE-2", true).await;
    let s2 = app.service("CASE-2", "ZX-01").await;
    let (_, good) = app
        .post(
            "/ratings",
            Some(&app.device_key),
            &json!({"matter_no": "CASE-2", "service_no": s2["service_no"], "channel": "pad", "level": 4}),
        )
        .await;
    assert!(good["case_id"].is_null());

    // The county key sees the case, routed to 市场监管局 (谁办理、谁负责), with deadlines from the calendar.
    let (s, list) = app.get("/cases?state=open", Some(&app.system_key)).await;
    assert_eq!(s, 200, "{list}");
    let cases = list.as_array().unwrap();
    assert_eq!(cases.len(), 1);
    let c = &cases[0];
    assert_eq!((c["id"].as_str(), c["unit_code"].as_str(), c["state"].as_str()), (Some(case_id.as_str()), Some("LX-SCJ"), Some("open")));
    assert_eq!(c["category"], "misconduct", "108 alleges misconduct: referred as well");
    assert_eq!(c["real_name"], true);
    assert_eq!(c["staff_code"], "P001");
    let cal = app.state.calendar().await.unwrap();
    let today = hcp_domain::Timestamp::now().biz_date();
    let want = |n| hcp_domain::timestamp::format_date(cal.add_working_days(today, n, "d").unwrap().date);
    assert_eq!(c["respond_by"], want(1));
    assert_eq!(c["reply_by"], want(5));
    assert_eq!(c["respond_overdue"], false);
    let (s, detail) = app.get(&format!("/cases/{case_id}"), Some(&app.system_key)).await;
    assert_eq!(s, 200);
    assert_eq!(detail["history"][0]["kind"], "opened");
    assert_eq!(detail["history"][0]["state_after"], "open");
    assert_eq!(detail["rating_id"], v["id"]);

    // Scope: a town's key sees none of it and cannot ask for it; devices and anonymous callers get nothing.
    let (s, list) = app.get("/cases", Some(&app.town_system_key)).await;
    assert_eq!(s, 200);
    assert!(list.as_array().unwrap().is_empty());
    let (s, v2) = app.get("/cases?unit=LX-SCJ", Some(&app.town_system_key)).await;
    assert_eq!((s, code(&v2)), (403, "out_of_scope"));
    assert_eq!(app.get(&format!("/cases/{case_id}"), Some(&app.town_system_key)).await.0, 404);
    assert_eq!(app.get("/cases", Some(&app.device_key)).await.0, 403);
    assert_eq!(app.get("/cases", None).await.0, 401);
    let (s, v3) = app.get("/cases?state=lost", Some(&app.system_key)).await;
    assert_eq!((s, code(&v3)), (422, "invalid_state"));

    // The case and its first event are on the chain, where the provincial link finds them; without a link
    // configured nothing is queued.
    assert_eq!(app.count("SELECT COUNT(*) FROM ledger WHERE kind IN ('case_opened', 'case_event')").await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM province_outbox").await, 0);
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    // Moving a case's deadline behind the system's back is detected.
    match &app.state.db {
        hcp_storage::Db::Sqlite(p) => {
            sqlx::query("DROP TRIGGER cases_no_update").execute(p).await.unwrap();
            sqlx::query("UPDATE cases SET reply_by = reply_by + 7").execute(p).await.unwrap();
        }
        hcp_storage::Db::Pg(p) => {
            sqlx::query("ALTER TABLE cases DISABLE TRIGGER cases_append_only").execute(p).await.unwrap();
            sqlx::query("UPDATE cases SET reply_by = reply_by + 7").execute(p).await.unwrap();
        }
    }
    let why = app.state.db.verify_ledger().await.unwrap().first_break.expect("detected").to_string();
    assert!(why.contains("case_opened") && why.contains(&case_id), "{why}");
    app
});

async fn act(app: &common::TestApp, id: &str, body: Value) -> (u16, Value) {
    app.post(&format!("/cases/{id}/actions"), Some(&app.system_key), &body).await
}

both!(a_case_walks_the_loop_through_every_step, |app| {
    let id = app.bad_review("LOOP-1", false).await;
    // Out of order: nothing changes.
    for (body, want) in [
        (json!({"action": "reply", "text": "已整改"}), "outcome_required"),
        (json!({"action": "verdict", "verdict": "satisfied"}), "transition_not_allowed"),
        (json!({"action": "callback", "method": "电话", "reached": true, "summary": "x"}), "transition_not_allowed"),
        (json!({"action": "decide", "outcome": "fixed_at_once", "fixed": "x"}), "transition_not_allowed"),
        (json!({"action": "respond", "note": " "}), "missing_field"),
        (json!({"action": "teleport"}), "invalid_type"),
    ] {
        let (s, v) = act(&app, &id, body.clone()).await;
        assert_eq!((s, code(&v)), (422, want), "{body}: {v}");
    }
    let (s, v) = act(&app, &id, json!({"action": "respond", "note": "已安排专人核实"})).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("responded")), "{v}");
    // A real-name bad review cannot be decided without a documented callback.
    let (s, v) = act(&app, &id, json!({"action": "decide", "outcome": "fixed_at_once", "fixed": "增开窗口"})).await;
    assert_eq!((s, code(&v)), (422, "callback_required"), "{v}");
    let (s, _) = act(&app, &id, json!({"action": "callback", "method": "电话", "reached": true, "summary": "评价人反映排队时间长"})).await;
    assert_eq!(s, 200);
    let (s, v) = act(&app, &id, json!({"action": "decide", "outcome": "explained"})).await;
    assert_eq!((s, code(&v)), (422, "missing_field"), "each outcome needs what it needs: {v}");
    let (s, v) = act(&app, &id, json!({"action": "decide", "outcome": "fixed_at_once", "fixed": "高峰时段增开两个综合窗口"})).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("decided")), "{v}");
    let (s, v) = act(&app, &id, json!({"action": "decide", "outcome": "invalid", "evidence": "x"})).await;
    assert_eq!((s, code(&v)), (422, "outcome_already_recorded"));
    // An extension before the deadline moves it, and the rater is told.
    let old = v["reply_by"].clone();
    let (_, before) = app.get(&format!("/cases/{id}"), Some(&app.system_key)).await;
    let later = hcp_domain::timestamp::format_date(
        hcp_domain::timestamp::parse_date(before["reply_by"].as_str().unwrap(), "d").unwrap() + time::Duration::days(7),
    );
    let (s, v) = act(&app, &id, json!({"action": "extend", "new_reply_by": later, "reason": "需与上级部门会商"})).await;
    assert_eq!(s, 200, "{v} {old}");
    assert_eq!(v["reply_by"], json!(later));
    let (s, v) = act(&app, &id, json!({"action": "reply", "text": "已于高峰时段增开两个综合窗口，感谢您的监督"})).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("replied")));
    // Not satisfied: the case opens again, once; a new outcome and reply; then closed.
    let (_, v) = act(&app, &id, json!({"action": "verdict", "verdict": "unsatisfied"})).await;
    assert_eq!(v["state"], "responded");
    assert_eq!(v["reply_overdue"], false, "a reopened case gets a new reply deadline");
    // A reopened real-name case needs a new callback before a new outcome.
    let ledger = json!({"action": "decide", "outcome": "ledger", "reason": "需改造排队叫号系统", "rectify_by": "2027-03-31"});
    let (s, v) = act(&app, &id, ledger.clone()).await;
    assert_eq!((s, code(&v)), (422, "callback_required"));
    act(&app, &id, json!({"action": "callback", "method": "上门", "reached": true, "summary": "当面说明改造计划"})).await;
    let (s, v) = act(&app, &id, ledger).await;
    assert_eq!(s, 200, "{v}");
    act(&app, &id, json!({"action": "reply", "text": "已列入台账，2027年3月底前完成改造"})).await;
    let (s, v) = act(&app, &id, json!({"action": "verdict", "verdict": "basically_satisfied"})).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("closed")));
    let kinds: Vec<&str> = v["history"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["opened", "responded", "callback", "outcome", "extended", "replied", "verdict", "callback", "outcome", "replied", "verdict"]
    );
    assert_eq!(v["history"][2]["details"]["reached"], true);
    assert_eq!(v["history"][2]["actor"], "key:county platform");
    // Every step is on the chain (and so reported once a provincial link is configured).
    assert_eq!(app.count("SELECT COUNT(*) FROM ledger WHERE kind = 'case_event'").await, 11);
    // Window staff (who may be the person rated) cannot handle cases.
    let clerk = app.sign_in("clerk_cg").await;
    let (s, v) = app.post_as(&clerk, &format!("/cases/{id}/actions"), &json!({"action": "respond", "note": "x"})).await;
    assert!(s == 403 || s == 404, "{v}");
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    let (_, closed) = app.get("/cases?state=closed", Some(&app.system_key)).await;
    assert_eq!(closed.as_array().unwrap().len(), 1);

    // An anonymous bad review needs no callback; a town's key cannot touch the county's case.
    let anon = app.bad_review("LOOP-2", true).await;
    act(&app, &anon, json!({"action": "respond", "note": "收到"})).await;
    let (s, v) = act(&app, &anon, json!({"action": "decide", "outcome": "invalid", "evidence": "叫号记录显示当日等候 3 分钟"})).await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = app.post(&format!("/cases/{anon}/actions"), Some(&app.town_system_key), &json!({"action": "reply", "text": "x"})).await;
    assert_eq!(s, 404);
    app
});

both!(no_extension_after_the_deadline, |app| {
    let case_id = app.old_case("LATE-1").await;
    let (_, v) = app.get(&format!("/cases/{case_id}"), Some(&app.system_key)).await;
    assert_eq!((v["respond_overdue"].as_bool(), v["reply_overdue"].as_bool()), (Some(true), Some(true)), "{v}");
    act(&app, &case_id, json!({"action": "respond", "note": "迟到的响应"})).await;
    let (s, v) = act(&app, &case_id, json!({"action": "extend", "new_reply_by": "2027-01-29", "reason": "来不及"})).await;
    assert_eq!((s, code(&v)), (422, "deadline_passed"), "{v}");
    let (_, v) = app.get(&format!("/cases/{case_id}"), Some(&app.system_key)).await;
    assert_eq!(v["reply_by"], "2026-01-12", "nothing changed");
    app
});

both!(loop_metrics_count_open_overdue_work, |app| {
    // One real-name bad review handled on time, one old case never touched.
    let on_time = app.bad_review("MET-1", false).await;
    for body in [
        json!({"action": "respond", "note": "已安排核实"}),
        json!({"action": "callback", "method": "电话", "reached": true, "summary": "已致歉"}),
        json!({"action": "decide", "outcome": "fixed_at_once", "fixed": "已增开窗口"}),
        json!({"action": "reply", "text": "已整改"}),
    ] {
        let (s, v) = act(&app, &on_time, body).await;
        assert_eq!(s, 200, "{v}");
    }
    app.old_case("MET-2").await;
    let (s, v) = app.get("/stats/loop?from=2026-01-01", Some(&app.system_key)).await;
    assert_eq!(s, 200, "{v}");
    let u = v["units"].as_array().unwrap().iter().find(|u| u["unit_code"] == "LX-SCJ").unwrap().clone();
    assert_eq!(u["cases"], 2, "{u}");
    assert_eq!((u["real_name"].as_i64(), u["real_name_called_back"].as_i64(), u["callback_rate"].as_f64()), (Some(1), Some(1), Some(1.0)));
    assert_eq!(
        (u["responded_on_time"].as_i64(), u["unresponded_overdue"].as_i64(), u["on_time_response_rate"].as_f64()),
        (Some(1), Some(1), Some(0.5))
    );
    assert_eq!(
        (u["replied_on_time"].as_i64(), u["unreplied_overdue"].as_i64(), u["on_time_reply_rate"].as_f64()),
        (Some(1), Some(1), Some(0.5))
    );
    assert_eq!((u["rectified"].as_i64(), u["rectification_rate"].as_f64()), (Some(1), Some(1.0)));
    // Scope: a town sees nothing of the county's departments and cannot ask for them.
    let (_, v) = app.get("/stats/loop?from=2026-01-01", Some(&app.town_system_key)).await;
    assert!(v["units"].as_array().unwrap().is_empty());
    assert_eq!(app.get("/stats/loop?unit=LX-SCJ", Some(&app.town_system_key)).await.0, 403);
    assert_eq!(app.get("/stats/loop?from=2026-12-01&to=2026-11-01", Some(&app.system_key)).await.0, 422);
    app
});

both!(appeal_on_the_hall_route_upheld_takes_the_rating_out_of_statistics, |app| {
    // 市场监管局 is stationed in the county hall: its approver's opinion, then the county bureau's decision.
    let id = app.bad_review("APL-1", false).await;
    let level2 = |v: &Value| v["groups"][0]["counts"]["level2"].as_i64().unwrap_or(0);
    assert_eq!(level2(&app.stats("by=unit&key=LX-SCJ").await), 1);
    let path = format!("/cases/{id}/appeal");
    let (staff, boss, bureau, other) =
        (app.sign_in("scj_staff").await, app.sign_in("scj_boss").await, app.sign_in("admin").await, app.sign_in("gaj").await);
    let apply = json!({"action": "apply", "reason": "评价人当日未在本窗口办理", "evidence": "叫号系统记录"});
    let (s, _) = app.post_as(&other, &path, &apply).await;
    assert_eq!(s, 404, "someone outside the unit sees nothing");
    let (s, v) = app.post(&path, Some(&app.system_key), &apply).await;
    assert_eq!((s, code(&v)), (403, "wrong_credential"));
    let (s, v) = app.post_as(&staff, &path, &apply).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["history"].as_array().unwrap().last().unwrap()["details"]["appeal_state"], "pending_unit");
    let decide = json!({"action": "decide", "upheld": true, "note": "经核实不属实"});
    for (who, body) in
        [(&staff, json!({"action": "opinion", "agree": true, "note": "x"})), (&bureau, decide.clone()), (&boss, decide.clone())]
    {
        let (s, v) = app.post_as(who, &path, &body).await;
        assert_eq!((s, code(&v)), (403, "appeal_forbidden"), "wrong level: {v}");
    }
    let (s, v) = app.post_as(&boss, &path, &json!({"action": "opinion", "agree": true, "note": "情况属实，报县局核准"})).await;
    assert_eq!(s, 200, "{v}");
    // Statistics still count the rating while the application is pending.
    assert_eq!(level2(&app.stats("by=unit&key=LX-SCJ").await), 1);
    let (s, v) = app.post_as(&bureau, &path, &decide).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("closed")), "{v}");
    // From this moment the rating is out of every statistic, and still stored.
    assert_eq!(level2(&app.stats("by=unit&key=LX-SCJ").await), 0);
    assert_eq!(app.stats("by=staff&key=P001").await["groups"][0]["bad_reviews"], 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM rating_invalidations").await, 1);
    let rating_id = v["rating_id"].as_str().unwrap();
    let (_, r) = app.get(&format!("/ratings/{rating_id}"), Some(&app.system_key)).await;
    assert_eq!((r["untrue"].as_bool(), r["level"].as_i64()), (Some(true), Some(2)), "kept as rated, marked 不属实: {r}");
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    let (s, v) = app.post_as(&staff, &path, &apply).await;
    assert_eq!((s, code(&v)), (422, "case_closed"));
    app
});

both!(appeal_of_a_town_is_decided_by_the_town_and_may_be_rejected, |app| {
    let now = hcp_domain::Timestamp::now();
    let body = json!({"matter_no": "APL-T", "item_code": "61032707009", "unit_code": "LX-CG-BMZX", "applicant": {"kind": "person", "name": "王五"},
        "accepted_at": now.plus_seconds(-7200).to_rfc3339(), "completed_at": now.plus_seconds(-3600).to_rfc3339()});
    let (s, v) = app.post("/matters", Some(&app.system_key), &body).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = app
        .post(
            "/ratings",
            Some(&app.system_key),
            &json!({"matter_no": "APL-T", "channel": "business_system", "level": 1, "text": "没人接待"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["case_id"].as_str().unwrap().to_string();
    let path = format!("/cases/{id}/appeal");
    let (clerk, boss) = (app.sign_in("clerk_cg").await, app.sign_in("cg_boss").await);

    let (s, v) = app.post_as(&clerk, &path, &json!({"action": "apply", "reason": "当日有人值守", "evidence": "值班表"})).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app.post_as(&boss, &path, &json!({"action": "opinion", "agree": true, "note": "x"})).await;
    assert_eq!((s, code(&v)), (422, "appeal_wrong_step"), "no preliminary opinion outside the hall: {v}");
    let (s, v) = app.post_as(&boss, &path, &json!({"action": "decide", "upheld": false, "note": "值班表显示当时窗口无人"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "open", "rejected: the case goes on");
    let stats = app.stats("by=unit&key=LX-CG-BMZX").await;
    assert_eq!(stats["groups"][0]["counts"]["level1"], 1, "the rating still counts: {stats}");
    let (s, v) = app.post_as(&boss, &path, &json!({"action": "decide", "upheld": true, "note": "改判"})).await;
    assert_eq!((s, code(&v)), (422, "appeal_wrong_step"));
    // An approver cannot decide an application of their own.
    let mut second = body.clone();
    second["matter_no"] = json!("APL-T2");
    assert_eq!(app.post("/matters", Some(&app.system_key), &second).await.0, 201);
    let (_, v) = app
        .post("/ratings", Some(&app.system_key), &json!({"matter_no": "APL-T2", "channel": "business_system", "level": 2, "text": "慢"}))
        .await;
    let path2 = format!("/cases/{}/appeal", v["case_id"].as_str().unwrap());
    let (s, _) = app.post_as(&boss, &path2, &json!({"action": "apply", "reason": "当日系统故障", "evidence": "运维记录"})).await;
    assert_eq!(s, 200);
    let (s, v) = app.post_as(&boss, &path2, &json!({"action": "decide", "upheld": true, "note": "同意"})).await;
    assert_eq!((s, code(&v)), (403, "appeal_forbidden"), "{v}");
    app
});

both!(complaints_and_suggestions_open_cases_in_the_same_loop, |app| {
    // Online, by anyone, about a matter: routed to the unit that handled it.
    app.matter("CMP-1", true).await;
    let (s, v) = app
        .post("/complaints", None, &json!({"kind": "complaint", "matter_no": "CMP-1", "text": "材料被要求重复提交三次", "contact": {"name": "赵六", "phone": "13912345678"}}))
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["unit_code"], "LX-SCJ");
    let case_id = v["case_id"].as_str().unwrap().to_string();
    let (_, c) = app.get(&format!("/cases/{case_id}"), Some(&app.system_key)).await;
    assert_eq!((c["kind"].as_str(), c["state"].as_str(), c["real_name"].as_bool()), (Some("complaint"), Some("open"), Some(true)), "{c}");
    assert_eq!(c["complaint"]["text"], "材料被要求重复提交三次", "the handler sees what was written");
    assert_eq!(c["complaint"]["contact_phone"], "139****5678", "and a masked contact");
    // 复核 is for bad reviews only.
    let scj = app.sign_in("scj_staff").await;
    let (s, v) = app.post_as(&scj, &format!("/cases/{case_id}/appeal"), &json!({"action": "apply", "reason": "x", "evidence": "y"})).await;
    assert_eq!((s, code(&v)), (422, "appeal_not_applicable"), "{v}");
    assert!(!c.to_string().contains("13912345678") && !c.to_string().contains("赵六"), "no contact data in the case view");
    // Handled in the same loop: a real-name complaint also needs a callback before an outcome.
    let (_, _) = app.post(&format!("/cases/{case_id}/actions"), Some(&app.system_key), &json!({"action": "respond", "note": "收到"})).await;
    let (s, v) = app
        .post(
            &format!("/cases/{case_id}/actions"),
            Some(&app.system_key),
            &json!({"action": "decide", "outcome": "fixed_at_once", "fixed": "x"}),
        )
        .await;
    assert_eq!((s, code(&v)), (422, "callback_required"));
    // Staff enter what came by the suggestion box; the public cannot claim to be the suggestion box.
    let cookie = app.sign_in("clerk_cg").await;
    let (s, v) = app.post_as(&cookie, "/complaints", &json!({"kind": "suggestion", "unit_code": "LX-CG-BMZX", "text": "建议增加周末值班", "anonymous": true, "source": "suggestion_box"})).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = app
        .post("/complaints", None, &json!({"kind": "suggestion", "unit_code": "LX-CG-BMZX", "text": "x", "source": "suggestion_box"}))
        .await;
    assert_eq!((s, code(&v)), (403, "source_not_allowed"));
    // Bad input: clear codes, nothing stored.
    for (body, want) in [
        (json!({"kind": "rant", "unit_code": "LX-SCJ", "text": "x"}), "invalid_kind"),
        (json!({"kind": "complaint", "text": "x"}), "missing_field"),
        (json!({"kind": "complaint", "unit_code": "LX-SCJ", "text": "  "}), "missing_field"),
        (json!({"kind": "complaint", "unit_code": "NOPE", "text": "x"}), "unknown_reference"),
        (json!({"kind": "complaint", "unit_code": "LX-GAJ", "matter_no": "CMP-1", "text": "x"}), "unit_mismatch"),
        (
            json!({"kind": "complaint", "unit_code": "LX-SCJ", "text": "x", "anonymous": true, "contact": {"phone": "13912345678"}}),
            "anonymous_with_contact",
        ),
        (json!({"kind": "complaint", "unit_code": "LX-SCJ", "text": "x", "contact": {"phone": "123"}}), "invalid_phone"),
        (json!({"kind": "complaint", "unit_code": "LX-SCJ", "text": "字".repeat(2001)}), "too_long"),
    ] {
        let (s, v) = app.post("/complaints", None, &body).await;
        assert_eq!((s, code(&v)), (422, want), "{body}: {v}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM complaints").await, 2);
    // Stored encrypted, on the chain, and tampering with the text is detected.
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    match &app.state.db {
        hcp_storage::Db::Sqlite(p) => {
            sqlx::query("DROP TRIGGER complaints_no_update").execute(p).await.unwrap();
            sqlx::query("UPDATE complaints SET text = '无' WHERE kind = 'complaint'").execute(p).await.unwrap();
        }
        hcp_storage::Db::Pg(p) => {
            sqlx::query("ALTER TABLE complaints DISABLE TRIGGER complaints_append_only").execute(p).await.unwrap();
            sqlx::query("UPDATE complaints SET text = '无' WHERE kind = 'complaint'").execute(p).await.unwrap();
        }
    }
    let why = app.state.db.verify_ledger().await.unwrap().first_break.expect("detected").to_string();
    assert!(why.contains("complaint"), "{why}");
    app
});

both!(supervision_records_scores_and_findings_that_can_open_cases, |app| {
    let (bureau, assessor, staff) = (app.sign_in("admin").await, app.sign_in("assessor").await, app.sign_in("scj_staff").await);
    let today = hcp_domain::timestamp::format_date(hcp_domain::Timestamp::now().biz_date());
    let body = json!({"target_kind": "window", "target_code": "ZX-01", "inspected_on": today,
        "scores": {"service_norms": 82, "efficiency": 90}, "findings": "窗口人员未佩戴工牌，等候区无引导", "open_case": true});
    let (s, v) = app.post_as(&bureau, "/inspections", &body).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!((v["kind"].as_str(), v["unit_code"].as_str()), (Some("inspection"), Some("LX-ZWZX")), "a window's unit is accountable");
    let case_id = v["case_id"].as_str().expect("a finding opened a case").to_string();
    let (_, c) = app.get(&format!("/cases/{case_id}"), Some(&app.system_key)).await;
    assert_eq!((c["kind"].as_str(), c["state"].as_str(), c["window_code"].as_str()), (Some("inspection"), Some("open"), Some("ZX-01")));
    // A third-party assessment of a platform, without a case.
    let (s, v) = app
        .post_as(&assessor, "/inspections", &json!({"target_kind": "platform", "target_code": "app", "inspected_on": today, "scores": {"convenience": 75}, "findings": "移动端适老化不足"}))
        .await;
    assert_eq!((s, v["kind"].as_str(), v["case_id"].is_null()), (201, Some("third_party"), true), "{v}");
    // Only the bureau and assessors record; bad input is refused.
    let (s, v) = app.post_as(&staff, "/inspections", &body).await;
    assert_eq!((s, code(&v)), (403, "wrong_role"));
    assert_eq!(app.post("/inspections", Some(&app.system_key), &body).await.0, 403);
    for (patch, want) in [
        (json!({"scores": {"efficiency": 101}}), "invalid_score"),
        (json!({"scores": {}}), "missing_field"),
        (json!({"target_kind": "planet"}), "invalid_target_kind"),
        (json!({"target_code": "NOPE"}), "unknown_reference"),
        (json!({"inspected_on": "2099-01-01"}), "timestamp_in_future"),
        (json!({"findings": ""}), "missing_field"),
    ] {
        let mut b = body.clone();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        let (s, v) = app.post_as(&bureau, "/inspections", &b).await;
        assert_eq!((s, code(&v)), (422, want), "{b}: {v}");
    }
    // Listed for the accountable unit's scope; on the chain.
    let (s, list) = app.get("/inspections", Some(&app.system_key)).await;
    assert_eq!((s, list.as_array().unwrap().len()), (200, 2));
    assert_eq!(list[0]["scores"]["convenience"].as_i64().or(list[1]["scores"]["convenience"].as_i64()), Some(75));
    let (_, town) = app.get("/inspections", Some(&app.town_system_key)).await;
    assert!(town.as_array().unwrap().is_empty());
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    app
});
