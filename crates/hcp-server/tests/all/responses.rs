//! Snapshots of what clients see: the JSON of the main responses and the rendered rating page, with ids, times
//! and dates redacted. A change to any of them shows up as a diff to review (`cargo insta review`), on both
//! engines against one snapshot.

use serde_json::{Value, json};

use crate::common;

fn redact_ids(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                let volatile = matches!(
                    k.as_str(),
                    "id" | "case_id"
                        | "rating_id"
                        | "matter_id"
                        | "at"
                        | "opened_at"
                        | "rated_at"
                        | "received_at"
                        | "respond_by"
                        | "reply_by"
                        | "ledger_seq"
                        | "served_at"
                        | "accepted_at"
                        | "completed_at"
                        | "rating_url"
                        | "deadline"
                );
                if volatile && !x.is_null() {
                    *x = Value::String(format!("[{k}]"));
                } else {
                    redact_ids(x);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_ids),
        _ => {}
    }
}

both!(the_main_responses_as_clients_see_them, |app| {
    // A bad review through the device: the rating created, and the case it opened with its history.
    app.matter("SNAP-1", true).await;
    let svc = app.service("SNAP-1", "ZX-01").await;
    let (s, mut created) = app
        .post(
            "/ratings",
            Some(&app.device_key),
            &json!({"matter_no": "SNAP-1", "service_no": svc["service_no"], "channel": "pad", "level": 2, "reasons": ["208"],
                    "text": "等了很久", "rater": {"name": "张三丰", "phone": "13800138000"}}),
        )
        .await;
    assert_eq!(s, 201);
    let case = created["case_id"].as_str().unwrap().to_string();
    let rating = created["id"].as_str().unwrap().to_string();
    redact_ids(&mut created);
    insta::assert_json_snapshot!("rating_created", created);

    let (_, mut stored) = app.get(&format!("/ratings/{rating}"), Some(&app.system_key)).await;
    redact_ids(&mut stored);
    insta::assert_json_snapshot!("rating_view", stored);

    let (s, mut detail) =
        app.post(&format!("/cases/{case}/actions"), Some(&app.system_key), &json!({"action": "respond", "note": "已安排专人核实"})).await;
    assert_eq!(s, 200);
    redact_ids(&mut detail);
    insta::assert_json_snapshot!("case_after_response", detail);

    // The error shape: a bad review without a reason.
    let (s, error) = app.post("/ratings", Some(&app.device_key), &json!({"matter_no": "SNAP-1", "channel": "pad", "level": 1})).await;
    assert_eq!(s, 422);
    insta::assert_json_snapshot!("error_bad_review_needs_reason", error);

    // Statistics of the unit (one rating of level 2 today).
    let mut stats = app.stats("by=unit&key=LX-SCJ").await;
    redact_ids(&mut stats);
    stats["from"] = json!("[from]");
    stats["to"] = json!("[to]");
    insta::assert_json_snapshot!("stats_by_unit", stats);
    app
});

both!(the_rating_page_as_a_rater_sees_it, |app| {
    app.matter("SNAP-2", true).await;
    let svc = app.service("SNAP-2", "ZX-01").await;
    let url = svc["rating_url"].as_str().unwrap().to_string();
    let levels = app.client.get(&url).send().await.unwrap().text().await.unwrap();
    let form = app.client.get(format!("{url}?level=2&big=1")).send().await.unwrap().text().await.unwrap();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "[time]");
    settings.bind(|| {
        insta::assert_snapshot!("rating_page_levels", levels);
        insta::assert_snapshot!("rating_page_form_elder", form);
    });
    app
});
