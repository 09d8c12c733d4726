//! The foundation through HTTP on SQLite and PostgreSQL: register matter → service → rating from every
//! channel → duplicate refused → statistics updated → ledger verified; bad input refused with nothing written.

use crate::common;

use common::token_of;
use serde_json::{Value, json};

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

both!(every_channel_rates_once_and_statistics_follow, |app| {
    let sk = app.system_key.clone();
    let before = app.stats("by=channel").await;
    assert!(before["groups"].as_array().unwrap().is_empty(), "fresh database has no ratings: {before}");

    // On-site channels rate a service occasion; online channels rate the completed matter (一事一评).
    let cases: Vec<(&str, &str)> = vec![
        ("pad", "device"),
        ("qr", "token"),
        ("hall_terminal", "token"),
        ("paper", "staff"),
        ("phone", "hotline"),
        ("mobile", "token"),
        ("pc", "token"),
        ("sms", "token"),
        ("business_system", "system"),
        ("province", "province"),
    ];
    let cookie = app.sign_in("admin").await;
    let mut ids = Vec::new();
    for (i, (channel, cred)) in cases.iter().enumerate() {
        let no = format!("FLOW-{i}");
        let online = matches!(*channel, "mobile" | "pc" | "sms" | "business_system" | "province");
        let matter = app.matter(&no, true).await;
        let (service_no, links, seq) = if online {
            (Value::Null, matter["rating_links"].clone(), 0)
        } else {
            let s = app.service(&no, "ZX-01").await;
            (s["service_no"].clone(), s["rating_links"].clone(), s["seq"].as_i64().unwrap())
        };
        let level = if i % 3 == 0 { 1 } else { 5 };
        let mut body = json!({"matter_no": no, "channel": channel, "level": level});
        if level == 1 {
            body["reasons"] = json!(["106"]);
            body["text"] = json!("推诿扯皮");
        }
        if !service_no.is_null() {
            body["service_no"] = service_no.clone();
        }
        let (status, v) = match *cred {
            "device" => app.post("/ratings", Some(&app.device_key), &body).await,
            "hotline" => app.post("/ratings", Some(&app.hotline_key), &body).await,
            "province" => {
                // The province rates through its own endpoint, with its record id and time.
                let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap();
                let mut p = json!({"record_id": format!("SX-{no}"), "matter_no": no, "level": level, "rated_at": now});
                for k in ["reasons", "text"] {
                    if !body[k].is_null() {
                        p[k] = body[k].clone();
                    }
                }
                app.post("/province/ratings", Some(&app.province_key), &p).await
            }
            "system" => app.post("/ratings", Some(&sk), &body).await,
            "token" => {
                // The link issued for the channel: the QR code's, the portal's and the app's come with the matter;
                // the terminal and the invitations issue their own (as the kiosk and the SMS sender do).
                body["token"] = json!(match *channel {
                    "qr" | "pc" | "mobile" => token_of(&links[*channel]),
                    other => {
                        let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 86_400;
                        let ch = hcp_domain::Channel::parse(other, "channel").unwrap();
                        hcp_domain::token::RatingToken::new(&no, seq, expires, ch).sign(app.state.secrets.token_key())
                    }
                });
                app.post("/ratings", None, &body).await
            }
            _ => {
                let resp = app.client.post(format!("{}/ratings", app.url)).header("cookie", &cookie).json(&body).send().await.unwrap();
                let s = resp.status().as_u16();
                (s, resp.json().await.unwrap())
            }
        };
        assert_eq!(status, 201, "{channel}: {v}");
        assert_eq!(v["bad_review"], json!(level == 1));
        let id = v["id"].as_str().unwrap().to_string();

        // A second rating of the same matter/service from another channel is refused with the existing id.
        let mut again = json!({"matter_no": no, "channel": "business_system", "level": 5});
        if !service_no.is_null() {
            again["service_no"] = service_no.clone();
        }
        let (status, dup) = app.post("/ratings", Some(&sk), &again).await;
        assert_eq!(status, 409, "{channel} duplicate: {dup}");
        assert_eq!(code(&dup), "already_rated");
        assert_eq!(dup["id"], json!(id));
        assert_eq!(dup["error"]["details"]["existing_id"], json!(id));
        ids.push((id, *channel, level));
    }

    // Each rating reads back as stored, rater data masked.
    let (status, r) = app.get(&format!("/ratings/{}", ids[0].0), Some(&sk)).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["channel"], "pad");
    assert_eq!(r["pf"], 4);
    assert_eq!(r["level"], 1);
    assert_eq!(r["reasons"][0]["code"], "106");
    assert_eq!(r["staff_code"], "P001");
    assert_eq!(r["rater"]["is_applicant"], true);
    let text = r.to_string();
    assert!(!text.contains("13800138000") && !text.contains("张三丰"), "no plain personal data: {text}");

    // Statistics by channel: one rating per channel, bad reviews where level 1 was given.
    let stats = app.stats("by=channel").await;
    let groups = stats["groups"].as_array().unwrap();
    assert_eq!(groups.len(), cases.len(), "{stats}");
    for (_, channel, level) in &ids {
        let g = groups.iter().find(|g| g["key"] == *channel).unwrap();
        assert_eq!(g["total"], 1);
        assert_eq!(g["bad_reviews"], json!(if *level == 1 { 1 } else { 0 }));
    }
    // By unit: all ten matters belong to 市场监管局, all completed and rated.
    let stats = app.stats("by=unit&key=LX-SCJ").await;
    let g = &stats["groups"][0];
    assert_eq!(g["total"], 10, "{stats}");
    assert_eq!(g["bad_reviews"], 4);
    assert_eq!(g["completed_matters"], 10);
    assert_eq!(g["rated_matters"], 10);
    assert_eq!(g["participation_rate"], 1.0);
    assert_eq!(g["satisfaction_rate"], 0.6);
    let by_staff = app.stats("by=staff").await;
    assert_eq!(by_staff["groups"][0]["key"], "P001");
    assert_eq!(by_staff["groups"][0]["total"], 5, "five on-site ratings were served by P001: {by_staff}");

    // Every rating on the chain (the provincial link's source), the chain intact.
    assert_eq!(app.count("SELECT COUNT(*) FROM ledger WHERE kind = 'rating'").await, 10);
    let report = app.state.db.verify_ledger().await.unwrap();
    assert_eq!(report.first_break, None);
    assert_eq!(report.ratings, 10);
    app
});

both!(participation_counts_completed_matters, |app| {
    app.matter("P-1", true).await;
    app.matter("P-2", true).await;
    app.matter("P-3", false).await;
    let s = app.stats("by=unit&key=LX-SCJ").await;
    assert_eq!(s["groups"][0]["completed_matters"], 2, "{s}");
    assert_eq!(s["groups"][0]["rated_matters"], 0);
    assert_eq!(s["groups"][0]["participation_rate"], 0.0);
    // Rating a matter that is not completed yet counts when it completes.
    let svc = app.service("P-3", "ZX-01").await;
    let (st, _) = app
        .post(
            "/ratings",
            Some(&app.device_key),
            &json!({"matter_no": "P-3", "service_no": svc["service_no"], "channel": "pad", "level": 4}),
        )
        .await;
    assert_eq!(st, 201);
    let s = app.stats("by=unit&key=LX-SCJ").await;
    assert_eq!(s["groups"][0]["rated_matters"], 0);
    let mut again = json!({"matter_no": "P-3", "item_code": "61032701001", "unit_code": "LX-SCJ",
        "applicant": {"kind": "person", "name": "张三丰", "phone": "13800138000", "id_number": "11010519491231002X"}});
    let m = app.state.db.find_matter("P-3").await.unwrap().unwrap();
    again["accepted_at"] = json!(m.accepted_at.to_rfc3339());
    again["completed_at"] = json!(hcp_domain::Timestamp::now().to_rfc3339());
    let (st, v) = app.post("/matters", Some(&app.system_key), &again).await;
    assert_eq!(st, 200, "{v}");
    assert!(v["rating_url"].is_string());
    let s = app.stats("by=unit&key=LX-SCJ").await;
    assert_eq!(s["groups"][0]["completed_matters"], 3);
    assert_eq!(s["groups"][0]["rated_matters"], 1);
    assert_eq!(s["groups"][0]["participation_rate"], 0.3333);
    // Registering again with the same content is idempotent; different content conflicts.
    let (st, v) = app.post("/matters", Some(&app.system_key), &again).await;
    assert_eq!(st, 200, "{v}");
    again["unit_code"] = json!("LX-GAJ");
    let (st, v) = app.post("/matters", Some(&app.system_key), &again).await;
    assert_eq!(st, 409, "{v}");
    assert_eq!(code(&v), "matter_conflict");
    app
});

both!(bad_input_is_refused_and_nothing_is_written, |app| {
    app.matter("BAD-1", true).await;
    let svc = app.service("BAD-1", "ZX-01").await;
    let sn = svc["service_no"].clone();
    let dk = app.device_key.clone();
    let base = json!({"matter_no": "BAD-1", "service_no": sn, "channel": "pad", "level": 5});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let future =
        (time::OffsetDateTime::now_utc() + time::Duration::hours(2)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let checks: Vec<(Value, Option<String>, u16, &str, &str)> = vec![
        (with("level", json!(0)), Some(dk.clone()), 422, "invalid_level", "level"),
        (with("level", json!(6)), Some(dk.clone()), 422, "invalid_level", "level"),
        (with("level", json!("5")), Some(dk.clone()), 422, "invalid_type", "level"),
        (with("surprise", json!(1)), Some(dk.clone()), 422, "unknown_field", "surprise"),
        (with("channel", json!("fax")), Some(dk.clone()), 422, "invalid_channel", "channel"),
        (with("level", json!(1)), Some(dk.clone()), 422, "bad_review_needs_reason", "reasons"),
        (
            {
                let mut b = with("level", json!(1));
                b["reasons"] = json!(["206"]);
                b
            },
            Some(dk.clone()),
            422,
            "reason_level_mismatch",
            "reasons",
        ),
        (with("reasons", json!(["999"])), Some(dk.clone()), 422, "unknown_reason", "reasons"),
        (with("indicators", json!({"E01": 9})), Some(dk.clone()), 422, "invalid_level", "indicators.E01"),
        (with("rated_at", json!(future)), Some(dk.clone()), 422, "rated_at_in_future", "rated_at"),
        (with("rated_at", json!("yesterday")), Some(dk.clone()), 422, "invalid_timestamp", "rated_at"),
        (with("service_no", json!("OTHER-S1")), Some(dk.clone()), 422, "service_mismatch", "service_no"),
        (
            {
                let mut b = with("anonymous", json!(true));
                b["rater"] = json!({"phone": "13900001111"});
                b
            },
            Some(dk.clone()),
            422,
            "anonymous_with_contact",
            "rater",
        ),
        (
            {
                let mut b = base.clone();
                b["rater"] = json!({"phone": "12345"});
                b
            },
            Some(dk.clone()),
            422,
            "invalid_phone",
            "rater.phone",
        ),
        (with("text", json!("字".repeat(501))), Some(dk.clone()), 422, "too_long", "text"),
        (base.clone(), Some(app.device_key_other.clone()), 403, "wrong_window", "service_no"),
        (base.clone(), Some("hcp_device_forged".into()), 401, "unauthorized", ""),
        (base.clone(), None, 401, "unauthorized", ""),
        (with("channel", json!("paper")), Some(dk.clone()), 403, "channel_not_allowed", "channel"),
        (with("matter_no", json!("NOPE")), Some(app.system_key.clone()), 422, "service_mismatch", "service_no"),
    ];
    for (body, key, status, want, field) in checks {
        let (s, v) = app.post("/ratings", key.as_deref(), &body).await;
        assert_eq!((s, code(&v)), (status, want), "body {body}: {v}");
        if !field.is_empty() {
            assert_eq!(v["error"]["details"]["field"], json!(field), "{v}");
        }
        assert!(v["error"]["message"].as_str().unwrap().chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "message in Chinese: {v}");
    }

    // Tokens: one for another matter, a forged one and a tampered one.
    app.matter("BAD-2", true).await;
    let other = app.service("BAD-2", "ZX-01").await;
    let tok = token_of(&other["rating_url"]);
    let mut b = json!({"matter_no": "BAD-1", "channel": "qr", "level": 5, "token": tok});
    let (s, v) = app.post("/ratings", None, &b).await;
    assert_eq!((s, code(&v)), (403, "token_mismatch"), "{v}");
    b["token"] = json!(tok.replacen("BAD-2", "BAD-1", 1));
    let (s, v) = app.post("/ratings", None, &b).await;
    assert_eq!((s, code(&v)), (403, "invalid_token"), "{v}");
    b["token"] = json!("not-a-token");
    let (s, v) = app.post("/ratings", None, &b).await;
    assert_eq!((s, code(&v)), (403, "invalid_token"), "{v}");

    // Malformed and oversized bodies.
    let resp = app
        .client
        .post(format!("{}/ratings", app.url))
        .bearer_auth(&dk)
        .header("content-type", "application/json")
        .body("{\"level\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(code(&v), "invalid_json");
    let big = format!("{{\"text\": \"{}\"}}", "x".repeat(100 * 1024));
    let resp = app
        .client
        .post(format!("{}/ratings", app.url))
        .bearer_auth(&dk)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(code(&v), "body_too_large");

    // Unknown matter, unknown path, bad statistics queries.
    let (s, v) = app.post("/ratings", Some(&app.system_key), &json!({"matter_no": "NOPE", "channel": "business_system", "level": 5})).await;
    assert_eq!((s, code(&v)), (404, "not_found"), "{v}");
    let (s, v) = app.get("/nothing-here", None).await;
    assert_eq!((s, code(&v)), (404, "not_found"));
    let (s, v) = app.get("/stats/satisfaction?by=planet", None).await;
    assert_eq!((s, code(&v)), (422, "invalid_dimension"));
    let (s, v) = app.get("/stats/satisfaction?from=2026-13-01", None).await;
    assert_eq!((s, code(&v)), (422, "invalid_date"));
    let (s, v) = app.get("/stats/satisfaction?from=2026-11-02&to=2026-11-01", None).await;
    assert_eq!((s, code(&v)), (422, "invalid_period"));

    // Nothing was written by any of it.
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM ledger").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM jobs").await, 0);
    // And the service can still be rated once.
    let (s, v) = app.post("/ratings", Some(&dk), &base).await;
    assert_eq!(s, 201, "{v}");
    app
});

both!(offline_device_ratings_are_accepted_exactly_once, |app| {
    app.matter("OFF-1", true).await;
    let svc = app.service("OFF-1", "ZX-01").await;
    let rated_at =
        (time::OffsetDateTime::now_utc() - time::Duration::minutes(5)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let body = json!({"matter_no": "OFF-1", "service_no": svc["service_no"], "channel": "pad", "level": 5, "rated_at": rated_at, "device_id": "PJQ-0001"});
    let send = |b: Value, key: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .client
                .post(format!("{}/ratings", app.url))
                .bearer_auth(&app.device_key)
                .header("idempotency-key", key)
                .json(&b)
                .send()
                .await
                .unwrap();
            let s = resp.status().as_u16();
            (s, resp.json::<Value>().await.unwrap())
        }
    };
    let (s1, v1) = send(body.clone(), "queue-1").await;
    let (s2, v2) = send(body.clone(), "queue-1").await;
    assert_eq!((s1, s2), (201, 201), "{v1} {v2}");
    assert_eq!(v1["id"], v2["id"]);
    let mut other = body.clone();
    other["level"] = json!(4);
    let (s3, v3) = send(other, "queue-1").await;
    assert_eq!((s3, code(&v3)), (409, "idempotency_key_reused"), "{v3}");
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings").await, 1);
    let (_, r) = app.get(&format!("/ratings/{}", v1["id"].as_str().unwrap()), Some(&app.system_key)).await;
    assert_eq!(r["rated_at"].as_str().unwrap()[..16], hcp_domain::Timestamp::parse_rfc3339(&rated_at, "t").unwrap().to_rfc3339()[..16]);
    let row = app.state.db.get_rating(v1["id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(row.device_id.as_deref(), Some("PJQ-0001"));
    assert_eq!(row.credential_kind, "device_key");
    assert!(
        row.source_hash.as_deref().is_some_and(|h| h.len() == 32 && !h.contains("127.0.0.1")),
        "keyed hash of the address, never the address"
    );
    assert!(row.seconds_after_service.is_some());
    app
});

both!(concurrent_duplicates_yield_one_rating, |app| {
    app.matter("CON-1", true).await;
    let svc = app.service("CON-1", "ZX-01").await;
    let mut handles = Vec::new();
    for i in 0..24 {
        let client = app.client.clone();
        let url = format!("{}/ratings", app.url);
        // The receipt's QR code and the app's link of the same visit, at once.
        let channel = if i % 2 == 0 { "qr" } else { "mobile" };
        let tok = token_of(&svc["rating_links"][channel]);
        let body = json!({"matter_no": "CON-1", "channel": channel, "level": 5, "token": tok});
        handles.push(tokio::spawn(async move { client.post(url).json(&body).send().await.unwrap().status().as_u16() }));
    }
    // Meanwhile, many distinct services rated at once share batches.
    for i in 0..30 {
        let no = format!("CON-M{i}");
        app.matter(&no, true).await;
        let s = app.service(&no, "ZX-01").await;
        let client = app.client.clone();
        let url = format!("{}/ratings", app.url);
        let key = app.device_key.clone();
        let body = json!({"matter_no": no, "service_no": s["service_no"], "channel": "pad", "level": 1 + (i % 5), "text": "并发"});
        handles.push(tokio::spawn(async move { client.post(url).bearer_auth(key).json(&body).send().await.unwrap().status().as_u16() }));
    }
    let mut statuses = Vec::new();
    for h in handles {
        statuses.push(h.await.unwrap());
    }
    let created_dup = statuses[..24].iter().filter(|s| **s == 201).count();
    let conflicts = statuses[..24].iter().filter(|s| **s == 409).count();
    assert_eq!((created_dup, conflicts), (1, 23), "{statuses:?}");
    assert!(statuses[24..].iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings").await, 31);
    let report = app.state.db.verify_ledger().await.unwrap();
    assert_eq!((report.first_break, report.ratings), (None, 31));
    app
});

both!(tampering_is_detected, |app| {
    for i in 0..3 {
        let no = format!("TAM-{i}");
        app.matter(&no, true).await;
        let s = app.service(&no, "ZX-01").await;
        let (st, _) = app
            .post(
                "/ratings",
                Some(&app.device_key),
                &json!({"matter_no": no, "service_no": s["service_no"], "channel": "pad", "level": 1, "reasons": ["105"]}),
            )
            .await;
        assert_eq!(st, 201);
    }
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    // The database itself refuses to change or delete a rating or a ledger entry.
    let refused_update = match &app.state.db {
        hcp_storage::Db::Sqlite(p) => sqlx::query("UPDATE ratings SET level = 5").execute(p).await.is_err(),
        hcp_storage::Db::Pg(p) => sqlx::query("UPDATE ratings SET level = 5").execute(p).await.is_err(),
    };
    let refused_delete = match &app.state.db {
        hcp_storage::Db::Sqlite(p) => sqlx::query("DELETE FROM ledger").execute(p).await.is_err(),
        hcp_storage::Db::Pg(p) => sqlx::query("DELETE FROM ledger").execute(p).await.is_err(),
    };
    assert!(refused_update && refused_delete);
    // Someone with full database access switches the protection off and turns a bad review into a good one.
    match &app.state.db {
        hcp_storage::Db::Sqlite(p) => {
            sqlx::query("DROP TRIGGER ratings_no_update").execute(p).await.unwrap();
            sqlx::query("UPDATE ratings SET level = 5 WHERE matter_no = 'TAM-1'").execute(p).await.unwrap();
        }
        hcp_storage::Db::Pg(p) => {
            sqlx::query("ALTER TABLE ratings DISABLE TRIGGER ratings_append_only").execute(p).await.unwrap();
            sqlx::query("UPDATE ratings SET level = 5 WHERE matter_no = 'TAM-1'").execute(p).await.unwrap();
        }
    }
    let seq = app.count("SELECT l.seq FROM ledger l JOIN ratings r ON r.id = l.ref_id WHERE r.matter_no = 'TAM-1'").await;
    let report = app.state.db.verify_ledger().await.unwrap();
    let why = report.first_break.expect("tampering must be detected").to_string();
    assert!(why.contains(&format!("第 {seq} 条")), "names the record: {why}");
    assert!(why.contains("记录被改动"), "{why}");
    app
});

both!(receipt_qr_opens_the_rating_of_that_matter, |app| {
    app.matter("RCP-1", true).await;
    app.service("RCP-1", "ZX-01").await;
    let resp = app.client.get(format!("{}/matters/RCP-1/receipt?format=png", app.url)).bearer_auth(&app.system_key).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    let png_bytes = resp.bytes().await.unwrap();
    // Decode the PNG and then the QR code in it, as a phone camera would.
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes.to_vec()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, url) = grids[0].decode().unwrap();
    assert!(url.starts_with(&format!("{}/r/RCP-1.1.", app.base)), "{url}");
    // The decoded token rates exactly that service, once.
    let tok = url.rsplit('/').next().unwrap();
    let (s, v) = app.post("/ratings", None, &json!({"matter_no": "RCP-1", "channel": "qr", "level": 5, "token": tok})).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["service_no"], "RCP-1-S1");
    let (s, v) =
        app.post("/ratings", None, &json!({"matter_no": "RCP-1", "channel": "qr", "level": 1, "text": "再评一次", "token": tok})).await;
    assert_eq!((s, code(&v)), (409, "already_rated"));
    // The HTML receipt carries the code and the masked applicant only.
    let resp = app.client.get(format!("{}/matters/RCP-1/receipt", app.url)).bearer_auth(&app.system_key).send().await.unwrap();
    let html = resp.text().await.unwrap();
    assert!(html.contains("<svg") && html.contains("办件回执") && html.contains("张*丰"));
    assert!(!html.contains("13800138000") && !html.contains("张三丰"));
    // Receipts need a credential of the matter's unit.
    let resp = app.client.get(format!("{}/matters/RCP-1/receipt", app.url)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = app.client.get(format!("{}/matters/RCP-1/receipt", app.url)).bearer_auth(&app.town_system_key).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    app
});

both!(scope_of_keys_and_sessions, |app| {
    // A town's system key cannot register or rate matters of a county department.
    let now = hcp_domain::Timestamp::now().to_rfc3339();
    let body = json!({"matter_no": "SC-1", "item_code": "61032701001", "unit_code": "LX-SCJ", "applicant": {"kind": "person", "name": "李四"}, "accepted_at": now});
    let (s, v) = app.post("/matters", Some(&app.town_system_key), &body).await;
    assert_eq!((s, code(&v)), (403, "out_of_scope"), "{v}");
    let (s, _) = app.post("/matters", None, &body).await;
    assert_eq!(s, 401);
    app.matter("SC-1", true).await;
    let (s, v) =
        app.post("/ratings", Some(&app.town_system_key), &json!({"matter_no": "SC-1", "channel": "business_system", "level": 5})).await;
    assert_eq!((s, code(&v)), (403, "out_of_scope"), "{v}");
    // A rating outside the caller's scope looks absent.
    let (s, v) = app.post("/ratings", Some(&app.system_key), &json!({"matter_no": "SC-1", "channel": "business_system", "level": 5})).await;
    assert_eq!(s, 201);
    let id = v["id"].as_str().unwrap().to_string();
    let (s, _) = app.get(&format!("/ratings/{id}"), Some(&app.town_system_key)).await;
    assert_eq!(s, 404);
    let (s, _) = app.get(&format!("/ratings/{id}"), None).await;
    assert_eq!(s, 401);
    // Staff sign in and out; the session then stops working.
    let cookie = app.sign_in("gaj").await;
    let resp = app.client.get(format!("{}/staff", app.url)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let staff: Value = resp.json().await.unwrap();
    assert!(staff.as_array().unwrap().is_empty(), "公安局 has no staff in the test data within its scope");
    let resp = app.client.delete(format!("{}/session", app.url)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let resp = app.client.get(format!("{}/staff", app.url)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = app
        .client
        .post(format!("{}/session", app.url))
        .json(&json!({"username": "gaj", "password": "wrong-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // A revoked key stops working.
    let key = hcp_app::settings::new_key(hcp_domain::access::KeyKind::System);
    let kid = app.state.db.insert_api_key(hcp_domain::access::KeyKind::System, "LX", None, "temp", &key).await.unwrap();
    assert_eq!(app.get("/staff", Some(&key)).await.0, 200);
    assert!(app.state.db.revoke_api_key(&kid).await.unwrap());
    app.state.forget_keys();
    assert_eq!(app.get("/staff", Some(&key)).await.0, 401);
    app
});

both!(master_data_catalogue_and_openapi, |app| {
    let (s, units) = app.get("/units?kind=town", None).await;
    assert_eq!(s, 200);
    let towns: Vec<&str> =
        units.as_array().unwrap().iter().filter(|u| u["parent_code"] == "LX").map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(towns.len(), 10, "{towns:?}");
    assert!(towns.contains(&"新集川镇人民政府"));
    let (_, hall) = app.get("/units?hall_stationed=true", None).await;
    assert!(hall.as_array().unwrap().iter().any(|u| u["code"] == "LX-GAJ"));
    assert!(!hall.as_array().unwrap().iter().any(|u| u["code"] == "LX-MZJ"));
    let (_, within) = app.get("/units?within=LX-CG", None).await;
    assert_eq!(within.as_array().unwrap().len(), 5, "town, its center and three village stations: {within}");
    let (_, windows) = app.get("/windows?unit_code=LX-BDC", None).await;
    assert_eq!(windows.as_array().unwrap().len(), 2);
    let (_, items) = app.get("/items?owner_unit_code=LX-GAJ", None).await;
    assert!(items.as_array().unwrap().iter().any(|i| i["name"] == "居民身份证换领"));
    let (s, cat) = app.get("/catalogue", None).await;
    assert_eq!(s, 200);
    assert_eq!(cat["version"], 2);
    assert!(cat["indicators"].as_array().unwrap().iter().any(|i| i["code"] == "N05" && i["label"] == "平台完善性"));
    assert_eq!(cat["levels"].as_array().unwrap().len(), 5);
    // A database still on the shipped version 1 moves to version 2 at its next start; a county's own stays.
    let v1 = include_str!("../../../../data/catalogue-v1.toml");
    hcp_app::settings::load_catalogue(&app.state.db, v1).await.unwrap();
    assert_eq!(hcp_app::settings::ensure_catalogue(&app.state.db).await.unwrap().version, 2);
    let own = v1.replace("version = 1", "version = 7").replace("默认评价内容目录（基础版）", "陇县评价内容目录");
    hcp_app::settings::load_catalogue(&app.state.db, &own).await.unwrap();
    assert_eq!(hcp_app::settings::ensure_catalogue(&app.state.db).await.unwrap().version, 7);
    assert!(cat["reasons"].as_array().unwrap().iter().any(|r| r["code"] == "108" && r["referral"] == "discipline"));
    let resp = app.client.get(format!("{}/api/openapi.json", app.base)).send().await.unwrap();
    let doc: Value = resp.json().await.unwrap();
    for path in [
        "/healthz",
        "/api/v1/matters",
        "/api/v1/matters/{matter_no}/services",
        "/api/v1/matters/{matter_no}/receipt",
        "/api/v1/ratings",
        "/api/v1/ratings/{id}",
        "/api/v1/catalogue",
        "/api/v1/stats/satisfaction",
        "/api/v1/units",
        "/api/v1/windows",
        "/api/v1/items",
        "/api/v1/staff",
        "/api/v1/session",
        "/api/v1/sms/inbound",
        "/api/v1/hotline/ratings",
        "/api/v1/province/ratings",
    ] {
        assert!(doc["paths"][path].is_object(), "OpenAPI lacks {path}");
    }
    // The machine channels describe their bodies and their answers, errors included.
    for (path, schema) in [
        ("/api/v1/sms/inbound", "InboundSms"),
        ("/api/v1/hotline/ratings", "HotlineRatingIn"),
        ("/api/v1/province/ratings", "ProvinceRatingIn"),
    ] {
        let post = &doc["paths"][path]["post"];
        assert!(post["requestBody"].to_string().contains(schema), "{path}: {post}");
        assert!(post["responses"]["422"].is_object() && post["responses"]["403"].is_object(), "{path}: {post}");
        assert!(doc["components"]["schemas"][schema]["properties"].is_object(), "{schema}");
    }
    assert!(doc["components"]["schemas"]["RatingIn"]["properties"].get("reasons_follow").is_none(), "set by use cases only");
    let resp = app.client.get(format!("{}/docs", app.base)).send().await.unwrap();
    let html = resp.text().await.unwrap();
    assert!(html.contains("/api/v1/ratings"), "docs list the endpoints");
    let (s, h) = app.get("/../healthz", None).await;
    let _ = (s, h);
    let resp = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    app
});

both!(one_visit_is_rated_once_whatever_the_link, |app| {
    // The push link of a completed matter names the matter as a whole; once a service occasion is recorded,
    // every channel rates that occasion, so the link and the window device cannot both count the visit.
    let m = app.matter("ONE-1", true).await;
    let svc = app.service("ONE-1", "ZX-01").await;
    let (s, v) = app
        .post(
            "/ratings",
            None,
            &json!({"matter_no": "ONE-1", "channel": "mobile", "level": 5, "token": token_of(&m["rating_links"]["mobile"])}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["service_no"], svc["service_no"]);
    let (s, v) = app
        .post(
            "/ratings",
            Some(&app.device_key),
            &json!({"matter_no": "ONE-1", "service_no": svc["service_no"], "channel": "pad", "level": 1, "text": "x"}),
        )
        .await;
    assert_eq!((s, code(&v)), (409, "already_rated"), "{v}");
    // Token holders cannot choose the rating time; devices can (ratings queued offline).
    app.matter("ONE-2", true).await;
    let svc2 = app.service("ONE-2", "ZX-01").await;
    let earlier =
        (time::OffsetDateTime::now_utc() - time::Duration::minutes(1)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let (s, v) = app
        .post(
            "/ratings",
            None,
            &json!({"matter_no": "ONE-2", "channel": "qr", "level": 5, "rated_at": earlier, "token": token_of(&svc2["rating_url"])}),
        )
        .await;
    assert_eq!((s, code(&v)), (422, "rated_at_not_allowed"), "{v}");
    // Rating devices and the hotline record no services (each service would hand out a rating token).
    let (s, v) = app.post("/matters/ONE-2/services", Some(&app.device_key), &json!({"window_code": "ZX-01"})).await;
    assert_eq!((s, code(&v)), (403, "wrong_role"), "{v}");
    let (s, _) = app.post("/matters/ONE-2/services", Some(&app.hotline_key), &json!({})).await;
    assert_eq!(s, 403);
    // A stale session cookie does not stop a token rating.
    let resp = app
        .client
        .post(format!("{}/ratings", app.url))
        .header("cookie", "hcp_session=stale")
        .json(&json!({"matter_no": "ONE-2", "channel": "qr", "level": 5, "token": token_of(&svc2["rating_url"])}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    app
});
