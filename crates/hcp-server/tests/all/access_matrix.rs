//! Every role and credential against every protected endpoint, with a resource inside and outside its scope:
//! the expected answer for each cell, through HTTP, on SQLite and PostgreSQL. Lists and statistics are checked
//! for what they leak as well as for their status.

use crate::common;

use serde_json::{Value, json};

/// Who asks: a name, and how (a session cookie or a key; neither for the public).
struct Who {
    name: &'static str,
    cookie: Option<String>,
    key: Option<String>,
}

const NAMES: [&str; 13] = [
    "public",
    "admin",
    "duban",
    "scj_staff",
    "scj_boss",
    "clerk_scj",
    "gaj",
    "cg_town",
    "assessor",
    "k_county",
    "k_town",
    "k_device",
    "k_hotline",
];

async fn everyone(app: &common::TestApp) -> Vec<Who> {
    let mut v = Vec::new();
    for name in NAMES {
        let (cookie, key) = match name {
            "public" => (None, None),
            "k_county" => (None, Some(app.system_key.clone())),
            "k_town" => (None, Some(app.town_system_key.clone())),
            "k_device" => (None, Some(app.device_key.clone())),
            "k_hotline" => (None, Some(app.hotline_key.clone())),
            user => (Some(app.sign_in(user).await), None),
        };
        v.push(Who { name, cookie, key });
    }
    v
}

async fn call(app: &common::TestApp, who: &Who, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let url = format!("{}{}", app.url, path);
    let mut req = match method {
        "GET" => app.client.get(url),
        _ => app.client.post(url).json(body.unwrap_or(&json!({}))),
    };
    if let Some(c) = &who.cookie {
        req = req.header("cookie", c);
    }
    if let Some(k) = &who.key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

both!(every_role_gets_exactly_its_answer, |app| {
    app.matter("MTX-1", true).await;
    let svc = app.service("MTX-1", "ZX-01").await;
    let (s, r) = app
        .post(
            "/ratings",
            Some(&app.device_key),
            &json!({"matter_no": "MTX-1", "service_no": svc["service_no"], "channel": "pad", "level": 1, "reasons": ["105"],
                    "rater": {"name": "赵六", "phone": "13600001111"}}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let (case, rating) = (r["case_id"].as_str().unwrap().to_string(), r["id"].as_str().unwrap().to_string());
    let who = everyone(&app).await;

    // Expected status per principal, in the order of NAMES. `ok` stands for 200 (or 201 where a thing is made).
    let matrix: Vec<(&str, String, Option<Value>, [u16; 13])> = vec![
        //                                                                     pub adm dub scj bos clk gaj cgt ass kco ktw kdv khl
        ("GET", "/cases".into(), None, [401, 200, 200, 200, 200, 200, 200, 200, 403, 200, 200, 403, 403]),
        ("GET", format!("/cases/{case}"), None, [401, 200, 200, 200, 200, 200, 404, 404, 403, 200, 404, 403, 403]),
        ("GET", format!("/cases/{case}/notifications"), None, [401, 200, 200, 200, 200, 200, 404, 404, 403, 200, 404, 403, 403]),
        ("GET", format!("/cases/{case}/contact"), None, [401, 403, 403, 200, 200, 403, 404, 404, 403, 403, 403, 403, 403]),
        // An empty note passes authorisation and fails validation (422): nothing changes whoever asks.
        (
            "POST",
            format!("/cases/{case}/actions"),
            Some(json!({"action": "respond", "note": " "})),
            [401, 422, 403, 422, 422, 403, 404, 404, 403, 422, 404, 403, 403],
        ),
        (
            "POST",
            format!("/cases/{case}/appeal"),
            Some(json!({"action": "apply", "reason": " ", "evidence": "x"})),
            [401, 403, 403, 422, 422, 422, 404, 404, 403, 403, 403, 403, 403],
        ),
        ("GET", format!("/ratings/{rating}"), None, [401, 200, 200, 200, 200, 403, 404, 404, 403, 200, 404, 403, 403]),
        ("GET", "/cases/replies".into(), None, [401, 200, 200, 200, 200, 200, 200, 200, 403, 200, 200, 403, 403]),
        ("GET", "/stats/satisfaction?by=staff".into(), None, [401, 200, 200, 200, 200, 403, 200, 200, 403, 200, 200, 403, 403]),
        ("GET", "/stats/satisfaction?by=unit".into(), None, [200; 13]),
        ("GET", "/stats/loop".into(), None, [401, 200, 200, 200, 200, 403, 200, 200, 403, 200, 200, 403, 403]),
        ("GET", "/inspections".into(), None, [401, 200, 200, 200, 200, 403, 200, 200, 200, 200, 200, 403, 403]),
        ("GET", "/notifications".into(), None, [401, 200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403]),
        ("GET", "/audit".into(), None, [401, 200, 200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403]),
        ("GET", "/staff".into(), None, [401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
        (
            "POST",
            "/inspections".into(),
            Some(json!({"target_kind": "unit", "target_code": "LX-SCJ", "inspected_on": "2999-01-01", "scores": {}, "findings": ""})),
            [401, 422, 403, 403, 403, 403, 403, 403, 422, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/complaints".into(),
            Some(json!({"kind": "complaint", "unit_code": "LX-SCJ", "text": " ", "source": "phone_line"})),
            [403, 422, 403, 422, 422, 422, 403, 403, 403, 403, 403, 403, 422],
        ),
    ];
    let mut wrong = Vec::new();
    for (method, path, body, want) in &matrix {
        for (w, expect) in who.iter().zip(want) {
            let (got, v) = call(&app, w, method, path, body.as_ref()).await;
            if got != *expect {
                wrong.push(format!("{method} {path} as {}: {got}, expected {expect}: {v}", w.name));
            }
            // A refusal discloses nothing about the resource.
            if got == 404 || got == 403 || got == 401 {
                let text = v.to_string();
                assert!(
                    !text.contains("13600001111") && !text.contains("赵六") && !text.contains("MTX-1"),
                    "{method} {path} as {}: {text}",
                    w.name
                );
            }
        }
    }
    assert!(wrong.is_empty(), "{} cells differ:\n{}", wrong.len(), wrong.join("\n"));

    // Registering a matter of 市场监管局: those allowed and in scope get 201/200, the rest are refused.
    let body = json!({"matter_no": "MTX-2", "item_code": "61032701001", "unit_code": "LX-SCJ",
        "applicant": {"kind": "person", "name": "钱七"}, "accepted_at": "2026-11-02T09:00:00+08:00"});
    let want = [401, 0, 403, 0, 0, 0, 403, 403, 403, 0, 403, 403, 403];
    for (w, expect) in who.iter().zip(want) {
        let (got, v) = call(&app, w, "POST", "/matters", Some(&body)).await;
        match expect {
            0 => assert!(got == 201 || got == 200, "POST /matters as {}: {got} {v}", w.name),
            e => assert_eq!(got, e, "POST /matters as {}: {v}", w.name),
        }
    }

    // Lists and statistics leak nothing of another tree.
    let sees_case = ["admin", "duban", "scj_staff", "scj_boss", "clerk_scj", "k_county"];
    for w in &who {
        let (s, list) = call(&app, w, "GET", "/cases", None).await;
        if s == 200 {
            let has = list.as_array().unwrap().iter().any(|c| c["id"] == json!(case));
            assert_eq!(has, sees_case.contains(&w.name), "/cases as {}", w.name);
        }
        let (s, st) = call(&app, w, "GET", "/stats/satisfaction?by=staff", None).await;
        if s == 200 {
            // P001 works at the county hall (LX-ZWZX): only trees that contain the hall see their results.
            let has = st["groups"].as_array().unwrap().iter().any(|g| g["key"] == "P001");
            assert_eq!(has, matches!(w.name, "admin" | "duban" | "k_county"), "staff statistics as {}", w.name);
        }
        let (s, lp) = call(&app, w, "GET", "/stats/loop", None).await;
        if s == 200 {
            let has = lp["units"].as_array().unwrap().iter().any(|u| u["unit_code"] == "LX-SCJ");
            assert_eq!(has, sees_case.contains(&w.name), "loop statistics as {}", w.name);
        }
        let (s, staff) = call(&app, w, "GET", "/staff", None).await;
        if s == 200 {
            let has = staff.as_array().unwrap().iter().any(|x| x["code"] == "P001");
            let expect = matches!(w.name, "admin" | "duban" | "assessor" | "k_county" | "k_device" | "k_hotline");
            assert_eq!(has, expect, "staff list as {}", w.name);
        }
    }
    // Asking for a unit outside one's tree by filter is refused, not answered empty.
    let gaj = &who[6];
    assert_eq!(call(&app, gaj, "GET", "/cases?unit=LX-SCJ", None).await.0, 403);
    assert_eq!(call(&app, gaj, "GET", "/stats/loop?unit=LX-SCJ", None).await.0, 403);
    // Every refusal of a signed-in caller is on the audit trail, and the trail verifies.
    let denied = app.state.db.audit_entries(Some("staff:gaj"), Some("denied"), 100).await.unwrap();
    assert!(denied.iter().any(|e| e.entry.target == format!("GET /api/v1/cases/{case}") && e.entry.outcome == "404"), "{denied:?}");
    assert_eq!(app.state.db.verify_audit().await.unwrap().1, None);
    app
});
