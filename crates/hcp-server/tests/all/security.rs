//! Sign-in hardening, the audit trail (and `verify` catching a tampered entry), the rater's contact shown only
//! for a callback, security headers, rate limits and forwarded addresses; on SQLite and PostgreSQL.

use crate::common;

use serde_json::{Value, json};

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

async fn sign_in_raw(app: &common::TestApp, body: Value, cookie: Option<&str>) -> (u16, Value, Option<String>) {
    let mut req = app.client.post(format!("{}/session", app.url)).json(&body);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let cookie = resp.headers().get("set-cookie").map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string());
    (status, resp.json().await.unwrap_or(Value::Null), cookie)
}

async fn whoami(app: &common::TestApp, cookie: &str) -> u16 {
    app.client.get(format!("{}/session", app.url)).header("cookie", cookie).send().await.unwrap().status().as_u16()
}

both!(sign_in_is_throttled_second_factored_and_rotated, |app| {
    // Five wrong passwords lock the account; then even the right one is refused for a while.
    for _ in 0..5 {
        let (s, v, _) = sign_in_raw(&app, json!({"username": "gaj", "password": "wrong-password"}), None).await;
        assert_eq!((s, code(&v)), (401, "invalid_credentials"));
    }
    let (s, v, _) = sign_in_raw(&app, json!({"username": "gaj", "password": common::PASSWORD}), None).await;
    assert_eq!((s, code(&v)), (429, "account_locked"), "{v}");
    // Further failures do not lift the lock.
    app.state.db.record_login_failure("gaj", 5, 900, 900).await.unwrap();
    let (s, _, _) = sign_in_raw(&app, json!({"username": "gaj", "password": common::PASSWORD}), None).await;
    assert_eq!(s, 429, "still locked");
    let failed = app.state.db.audit_entries(Some("staff:gaj"), Some("sign_in_failed"), 10).await.unwrap();
    assert_eq!(failed.len(), 5);
    assert!(failed.iter().all(|e| e.entry.source_hash.is_some() && !e.entry.source_hash.as_ref().unwrap().contains("127.0.0.1")));
    assert_eq!(
        app.state.db.audit_entries(Some("staff:gaj"), Some("sign_in_locked"), 10).await.unwrap().len(),
        2,
        "each refused attempt is on record"
    );
    // Unknown names answer exactly like wrong passwords.
    let (s, v, _) = sign_in_raw(&app, json!({"username": "nobody", "password": "x"}), None).await;
    assert_eq!((s, code(&v)), (401, "invalid_credentials"));

    // Administrators: the second factor is required, checked, and must be enrolled. (One code for the whole
    // test, so that a 30-second boundary passing in between cannot change the answer.)
    let otp = common::admin_otp();
    let (s, v, _) = sign_in_raw(&app, json!({"username": "admin", "password": common::PASSWORD}), None).await;
    assert_eq!((s, code(&v)), (401, "otp_required"), "{v}");
    let (s, v, _) = sign_in_raw(&app, json!({"username": "admin", "password": common::PASSWORD, "otp": "000000"}), None).await;
    assert_eq!((s, code(&v)), (401, "invalid_otp"), "{v}");
    let (s, v, admin) = sign_in_raw(&app, json!({"username": "admin", "password": common::PASSWORD, "otp": otp.clone()}), None).await;
    assert_eq!(s, 200, "{v}");
    let hash = hcp_app::passwords::hash(common::PASSWORD).unwrap();
    app.state.db.insert_user("admin2", &hash, hcp_domain::access::Role::BureauAdmin, "LX").await.unwrap();
    let (s, v, _) = sign_in_raw(&app, json!({"username": "admin2", "password": common::PASSWORD}), None).await;
    assert_eq!((s, code(&v)), (403, "second_factor_not_enrolled"), "{v}");

    // A code is good once: the same code again is refused, even with the right password.
    let admin = admin.unwrap();
    assert_eq!(whoami(&app, &admin).await, 200);
    let (s, v, _) = sign_in_raw(&app, json!({"username": "admin", "password": common::PASSWORD, "otp": otp}), None).await;
    assert_eq!((s, code(&v)), (401, "invalid_otp"), "{v}");

    // Each sign-in starts a fresh session and ends the one the browser brought.
    let first = app.sign_in("scj_boss").await;
    let (s, _, again) = sign_in_raw(&app, json!({"username": "scj_boss", "password": common::PASSWORD}), Some(&first)).await;
    assert_eq!(s, 200);
    let again = again.unwrap();
    assert_ne!(again, first);
    assert_eq!(whoami(&app, &first).await, 401, "the old session is gone");
    assert_eq!(whoami(&app, &again).await, 200);

    // Sign-out everywhere ends every session of the account.
    let (a, b) = (app.sign_in("scj_staff").await, app.sign_in("scj_staff").await);
    let r = app.client.delete(format!("{}/sessions", app.url)).header("cookie", &a).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["sessions_ended"], 2);
    assert_eq!((whoami(&app, &a).await, whoami(&app, &b).await), (401, 401));
    // Oversized or malformed credentials: 401, nothing else.
    let (s, _, _) = sign_in_raw(&app, json!({"username": "x".repeat(5000), "password": "y"}), None).await;
    assert_eq!(s, 401);
    let r =
        app.client.get(format!("{}/cases", app.url)).header("cookie", format!("hcp_session={}", "z".repeat(5000))).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = app.client.get(format!("{}/cases", app.url)).header("authorization", "Bearer hcp_forged").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    app
});

mod idle {
    use super::*;

    async fn idle_sessions_end(engine: common::Engine) {
        let config = hcp_app::Config { session_idle_secs: 1, invite_by_sms: false, ..Default::default() };
        let app = common::TestApp::start_with(engine, config).await;
        let c = app.sign_in("scj_staff").await;
        assert_eq!(whoami(&app, &c).await, 200);
        tokio::time::sleep(std::time::Duration::from_millis(1_600)).await;
        assert_eq!(whoami(&app, &c).await, 401, "unused for longer than the idle limit");
        app.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        idle_sessions_end(common::Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        idle_sessions_end(common::Engine::Postgres).await;
    }
}

both!(contact_details_only_for_the_callback_and_every_view_recorded, |app| {
    app.matter("SEC-1", true).await;
    let svc = app.service("SEC-1", "ZX-01").await;
    let (_, r) = app
        .post(
            "/ratings",
            Some(&app.device_key),
            &json!({"matter_no": "SEC-1", "service_no": svc["service_no"], "channel": "pad", "level": 1, "reasons": ["105"],
                    "rater": {"name": "孙八", "phone": "13500002222"}}),
        )
        .await;
    let case = r["case_id"].as_str().unwrap().to_string();
    // Everywhere else the contact is masked.
    let (_, rating) = app.get(&format!("/ratings/{}", r["id"].as_str().unwrap()), Some(&app.system_key)).await;
    assert_eq!(rating["rater"]["phone"], "135****2222");
    let handler = app.sign_in("scj_staff").await;
    let resp = app.client.get(format!("{}/cases/{case}/contact", app.url)).header("cookie", &handler).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let c: Value = resp.json().await.unwrap();
    assert_eq!((c["name"].as_str(), c["phone"].as_str()), (Some("孙八"), Some("13500002222")));
    let views = app.state.db.audit_entries(Some("staff:scj_staff"), Some("contact_view"), 10).await.unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].entry.target, format!("case:{case}"));
    // An applicant who rated as themselves: the matter's contact.
    let case2 = app.bad_review("SEC-2", false).await;
    let resp = app.client.get(format!("{}/cases/{case2}/contact", app.url)).header("cookie", &handler).send().await.unwrap();
    let c2: Value = resp.json().await.unwrap();
    assert_eq!((c2["phone"].as_str(), c2["source"].as_str()), (Some("13800138000"), Some("applicant")), "{c2}");
    // Anonymous: nothing kept, nothing shown.
    let case3 = app.bad_review("SEC-3", true).await;
    let (s, v) = get_as(&app, &handler, &format!("/cases/{case3}/contact")).await;
    assert_eq!((s, code(&v)), (422, "no_contact"));
    // Closed: no longer.
    for body in [
        json!({"action": "respond", "note": "收到"}),
        json!({"action": "callback", "method": "电话", "reached": true, "summary": "已联系"}),
        json!({"action": "decide", "outcome": "fixed_at_once", "fixed": "已整改"}),
        json!({"action": "reply", "text": "已整改"}),
        json!({"action": "verdict", "verdict": "satisfied"}),
    ] {
        let (s, v) = app.post(&format!("/cases/{case}/actions"), Some(&app.system_key), &body).await;
        assert_eq!(s, 200, "{body}: {v}");
    }
    let (s, v) = get_as(&app, &handler, &format!("/cases/{case}/contact")).await;
    assert_eq!((s, code(&v)), (422, "case_closed"));
    app
});

async fn get_as(app: &common::TestApp, cookie: &str, path: &str) -> (u16, Value) {
    let resp = app.client.get(format!("{}{}", app.url, path)).header("cookie", cookie).send().await.unwrap();
    let s = resp.status().as_u16();
    (s, resp.json().await.unwrap_or(Value::Null))
}

both!(the_audit_trail_records_changes_and_verify_catches_tampering, |app| {
    let (_, m) = app
        .post(
            "/matters",
            Some(&app.system_key),
            &json!({"matter_no": "AUD-1", "item_code": "61032701001", "unit_code": "LX-SCJ", "applicant": {"kind": "person", "name": "周九"},
                    "accepted_at": "2026-11-02T09:00:00+08:00"}),
        )
        .await;
    assert_eq!(m["matter_no"], "AUD-1");
    let changes = app.state.db.audit_entries(Some("key:county platform"), Some("change"), 10).await.unwrap();
    assert!(changes.iter().any(|e| e.entry.target == "POST /api/v1/matters" && e.entry.outcome == "201"), "{changes:?}");
    // The oversight office reads the trail through the API; the hash of each entry is shown.
    let duban = app.sign_in("duban").await;
    let (s, list) = get_as(&app, &duban, "/audit?action=sign_in").await;
    assert_eq!(s, 200, "{list}");
    assert!(list.as_array().unwrap().iter().any(|e| e["actor"] == "staff:duban" && e["hash"].as_str().unwrap().len() == 64));
    // The database refuses to change or delete an entry.
    let refused = match &app.state.db {
        hcp_storage::Db::Sqlite(p) => sqlx::query("UPDATE audit_log SET actor = 'staff:nobody' WHERE seq = 1").execute(p).await.is_err(),
        hcp_storage::Db::Pg(p) => sqlx::query("DELETE FROM audit_log WHERE seq = 1").execute(p).await.is_err(),
    };
    assert!(refused, "append-only");
    let verify = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_haochaping"))
            .args(["verify", "--database", &app.db_url])
            .env("HCP_MASTER_KEY", "2a".repeat(32))
            .output()
            .unwrap()
    };
    let ok = verify();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("audit trail intact"));
    // Someone with the database's own rights goes round the trigger: verify names the entry.
    match &app.state.db {
        hcp_storage::Db::Sqlite(p) => {
            sqlx::query("DROP TRIGGER audit_log_no_update").execute(p).await.unwrap();
            sqlx::query("UPDATE audit_log SET outcome = 'tampered' WHERE seq = 2").execute(p).await.unwrap();
        }
        hcp_storage::Db::Pg(p) => {
            sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only").execute(p).await.unwrap();
            sqlx::query("UPDATE audit_log SET outcome = 'tampered' WHERE seq = 2").execute(p).await.unwrap();
        }
    }
    let broken = verify();
    assert_eq!(broken.status.code(), Some(1));
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(err.contains("AUDIT TRAIL BROKEN") && err.contains("审计日志第 2 条"), "{err}");
    app
});

both!(pages_and_api_carry_security_headers, |app| {
    for path in ["/api/v1/healthz", "/docs", "/r/forged.0.1.x", "/f/forged.1.x"] {
        let r = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
        let h = r.headers();
        let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline'; img") || csp.contains("style-src 'self' 'unsafe-inline'"),
            "{csp}"
        );
        assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "no inline script: {csp}");
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{path}");
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer");
        if path != "/docs" {
            assert_eq!(h.get("cache-control").unwrap(), "no-store", "{path}");
        }
    }
    app
});

mod limits {
    use super::*;

    async fn public_submissions_are_limited(engine: common::Engine, trusted: bool) {
        let mut config = hcp_app::Config { public_per_minute: 3, invite_by_sms: false, ..Default::default() };
        if trusted {
            config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        }
        let app = common::TestApp::start_with(engine, config).await;
        let body = json!({"kind": "suggestion", "unit_code": "LX-SCJ", "text": "建议延长午间办理时间", "anonymous": true});
        let mut statuses = Vec::new();
        for i in 0..5 {
            // Each request claims to come from a different client.
            let r = app
                .client
                .post(format!("{}/complaints", app.url))
                .header("x-forwarded-for", format!("203.0.113.{i}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
        }
        if trusted {
            assert_eq!(statuses, [201; 5], "behind a configured proxy each forwarded client has its own allowance");
        } else {
            assert_eq!(statuses, [201, 201, 201, 429, 429], "a forged X-Forwarded-For changes nothing");
        }
        let r = app.client.post(format!("{}/complaints", app.url)).json(&body).send().await.unwrap();
        let v: Value = r.json().await.unwrap();
        if !trusted {
            assert_eq!(code(&v), "rate_limited");
        }
        // A made-up key does not exempt anyone.
        if !trusted {
            let r = app.client.post(format!("{}/complaints", app.url)).bearer_auth("hcp_made_up").json(&body).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 429);
        }
        // Machine keys and signed-in staff are not limited as the public is.
        let (s, _) = app
            .post(
                "/complaints",
                Some(&app.hotline_key),
                &json!({"kind": "complaint", "unit_code": "LX-SCJ", "text": "电话投诉：排队久", "anonymous": true, "source": "phone_line"}),
            )
            .await;
        assert_eq!(s, 201);
        app.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        public_submissions_are_limited(common::Engine::Sqlite, false).await;
        public_submissions_are_limited(common::Engine::Sqlite, true).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        public_submissions_are_limited(common::Engine::Postgres, false).await;
    }
}

both!(rotating_the_personal_data_key_rewrites_every_envelope, |app| {
    // Personal data in every kind of place: a matter's applicant, a rater, a complaint, a notification, a staff
    // member's mobile and second factor.
    app.matter("ROT-1", true).await;
    let svc = app.service("ROT-1", "ZX-01").await;
    let (_, r) = app
        .post(
            "/ratings",
            Some(&app.device_key),
            &json!({"matter_no": "ROT-1", "service_no": svc["service_no"], "channel": "pad", "level": 1, "reasons": ["105"],
                    "rater": {"name": "冯十二", "phone": "13400003333", "id_number": "11010519491231002X"}}),
        )
        .await;
    let (s, _) = app
        .post(
            "/complaints",
            None,
            &json!({"kind": "complaint", "unit_code": "LX-SCJ", "text": "排队太久", "contact": {"name": "陈十三", "phone": "13300004444"}}),
        )
        .await;
    assert_eq!(s, 201);
    app.state
        .db
        .set_user_contact("scj_staff", Some("scj@longxian.example"), Some(app.state.secrets.encrypt("13900005678").unwrap()))
        .await
        .unwrap();
    hcp_app::notifications::derive(&app.state).await.unwrap();
    // The notifications stay queued: this test rewrites their addresses, it does not send them.
    app.expect_jobs("notify");
    let rows_before = app.count("SELECT COUNT(*) FROM notifications").await;
    assert!(rows_before > 0);

    let rotated = hcp_storage::pii::Secrets::from_masters(&[vec![77u8; 32], vec![42u8; 32]]).unwrap();
    let report = app.state.db.rotate_envelopes(&rotated).await.unwrap();
    let n = |t: &str| report.iter().find(|(x, _)| *x == t).unwrap().1;
    assert!(
        n("matters") == 1 && n("ratings") == 1 && n("complaints") == 1 && n("users") == 2 && n("notifications") == rows_before as u64,
        "{report:?}"
    );
    // A second run finds nothing left to do.
    assert!(app.state.db.rotate_envelopes(&rotated).await.unwrap().iter().all(|(_, n)| *n == 0));
    // Everything reads back under the new key alone… and only under it (plus the kept older masters).
    let new_only = hcp_storage::pii::Secrets::from_master(&[77u8; 32]).unwrap();
    let rating = app.state.db.get_rating(r["id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(new_only.decrypt(rating.rater_phone.as_ref().unwrap()).unwrap(), "13400003333");
    assert_eq!(new_only.decrypt(rating.rater_id_number.as_ref().unwrap()).unwrap(), "11010519491231002X");
    assert!(app.state.secrets.decrypt(rating.rater_phone.as_ref().unwrap()).is_err(), "the old key no longer reads it");
    let complaint = app
        .state
        .db
        .complaint_of_case(
            &app.state
                .db
                .list_cases(&["LX-SCJ".into()], None, 10)
                .await
                .unwrap()
                .iter()
                .find(|c| c.case.kind == hcp_domain::cases::CaseKind::Complaint)
                .unwrap()
                .case
                .id,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new_only.decrypt(complaint.contact_phone.as_ref().unwrap()).unwrap(), "13300004444");
    // The blind index and the chain are untouched; the append-only triggers are back.
    assert_eq!(rotated.phone_index("13400003333"), rating.rater_phone_ix.clone().unwrap());
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    let refused = match &app.state.db {
        hcp_storage::Db::Sqlite(p) => sqlx::query("UPDATE ratings SET level = 5").execute(p).await.is_err(),
        hcp_storage::Db::Pg(p) => sqlx::query("UPDATE ratings SET level = 5").execute(p).await.is_err(),
    };
    assert!(refused, "ratings are append-only again");
    // A server started with the old key file alone refuses to start instead of failing on every contact view.
    let old = hcp_server::open(&app.db_url, common::test_secrets(), hcp_app::Config::default()).await;
    assert!(old.is_err_and(|e| e.to_string().contains("轮换")));
    let both = hcp_server::open(&app.db_url, rotated.clone(), hcp_app::Config::default()).await.unwrap();
    both.db.close().await;
    app
});

both!(who_may_speak_for_the_rater_or_the_unit, |app| {
    app.matter("WHO-1", true).await;
    // Window staff cannot enter a paper form (it may rate their own service); the unit's handler can.
    let paper = json!({"matter_no": "WHO-1", "channel": "paper", "level": 5});
    let clerk = app.sign_in("clerk_scj").await;
    let (s, v) = app.post_as(&clerk, "/ratings", &paper).await;
    assert_eq!((s, code(&v)), (403, "wrong_role"), "{v}");
    let handler = app.sign_in("scj_staff").await;
    let (s, v) =
        app.post_as(&handler, "/ratings", &json!({"matter_no": "WHO-1", "channel": "paper", "level": 1, "text": "书面意见：态度差"})).await;
    assert_eq!(s, 201, "{v}");
    let case = v["case_id"].as_str().unwrap().to_string();
    // The handling unit's own business system cannot give the rater's verdict either; the county platform can.
    let scj_key = hcp_app::settings::new_key(hcp_domain::access::KeyKind::System);
    app.state.db.insert_api_key(hcp_domain::access::KeyKind::System, "LX-SCJ", None, "市场监管局业务系统", &scj_key).await.unwrap();
    for body in [
        json!({"action": "respond", "note": "收到"}),
        json!({"action": "decide", "outcome": "fixed_at_once", "fixed": "已约谈"}),
        json!({"action": "reply", "text": "已约谈窗口人员"}),
    ] {
        let (s, v) = app.post(&format!("/cases/{case}/actions"), Some(&scj_key), &body).await;
        assert!(s == 200 || code(&v) == "callback_required", "{body}: {v}");
        if code(&v) == "callback_required" {
            let cb = json!({"action": "callback", "method": "电话", "reached": true, "summary": "已联系"});
            assert_eq!(app.post(&format!("/cases/{case}/actions"), Some(&scj_key), &cb).await.0, 200);
            assert_eq!(app.post(&format!("/cases/{case}/actions"), Some(&scj_key), &body).await.0, 200);
        }
    }
    let verdict = json!({"action": "verdict", "verdict": "satisfied"});
    let (s, v) = app.post(&format!("/cases/{case}/actions"), Some(&scj_key), &verdict).await;
    assert_eq!((s, code(&v)), (403, "verdict_by_rater"), "{v}");
    let (s, v) = app.post(&format!("/cases/{case}/actions"), Some(&app.system_key), &verdict).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("closed")), "{v}");
    // A service is recorded only with staff of the caller's own tree.
    let now = hcp_domain::Timestamp::now();
    let town = json!({"matter_no": "WHO-2", "item_code": "61032707009", "unit_code": "LX-CG-BMZX", "applicant": {"kind": "person", "name": "韩十五"},
        "accepted_at": now.plus_seconds(-60).to_rfc3339()});
    assert_eq!(app.post("/matters", Some(&app.town_system_key), &town).await.0, 201);
    let (s, v) = app.post("/matters/WHO-2/services", Some(&app.town_system_key), &json!({"staff_code": "P001"})).await;
    assert_eq!((s, code(&v)), (403, "out_of_scope"), "P001 works at the county hall: {v}");
    app
});

both!(sql_and_markup_in_text_fields_are_only_text, |app| {
    let evil = "'); DROP TABLE ratings; -- <script>alert('x')</script> <img src=x onerror=alert(1)>";
    app.matter("XSS-1", true).await;
    let svc = app.service("XSS-1", "ZX-01").await;
    let (s, r) = app
        .post(
            "/ratings",
            Some(&app.device_key),
            &json!({"matter_no": "XSS-1", "service_no": svc["service_no"], "channel": "pad", "level": 1, "text": evil,
                    "rater": {"name": "蒋十四", "phone": "13200005555"}}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let case = r["case_id"].as_str().unwrap().to_string();
    // Stored and returned exactly as given; the table is still there.
    let (_, stored) = app.get(&format!("/ratings/{}", r["id"].as_str().unwrap()), Some(&app.system_key)).await;
    assert_eq!(stored["text"], evil);
    assert!(app.count("SELECT COUNT(*) FROM ratings").await >= 1);
    for body in [
        json!({"action": "respond", "note": evil}),
        json!({"action": "callback", "method": "电话", "reached": true, "summary": evil}),
        json!({"action": "decide", "outcome": "fixed_at_once", "fixed": evil}),
        json!({"action": "reply", "text": evil}),
    ] {
        let (s, v) = app.post(&format!("/cases/{case}/actions"), Some(&app.system_key), &body).await;
        assert_eq!(s, 200, "{v}");
    }
    // The rater's page shows the reply as text, never as markup.
    let url = app.state.feedback_url(&case);
    let html = app.client.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;"), "escaped as text: {html}");
    assert!(!html.contains("<script") && !html.contains("<img"), "{html}");
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    app
});
