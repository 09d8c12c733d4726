//! Bad reviews open cases in the same transaction, routed to the unit that handled the matter, with deadlines
//! in working days; on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

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

    // The case and its first event are on the chain, and reported to the province with the rating.
    assert_eq!(app.count("SELECT COUNT(*) FROM ledger WHERE kind IN ('case_opened', 'case_event')").await, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM jobs WHERE kind IN ('report_case', 'report_case_event')").await, 2);
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
    let why = app.state.db.verify_ledger().await.unwrap().first_break.expect("detected");
    assert!(why.contains("case_opened") && why.contains(&case_id), "{why}");
    app
});
