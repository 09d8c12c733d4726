//! The pages without a browser: forms refuse requests without their CSRF token and change nothing; the window
//! device works with JavaScript off (a bad review asks for its reason first); the public results carry no
//! rater data. (The browser tests in browser-tests/ drive the same pages in Chromium.)

use crate::common;

use serde_json::json;

/// `name=value` of a cookie the response sets.
fn set_cookie(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie set"))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The CSRF cookie and token a page hands out.
async fn form_token(app: &common::TestApp, c: &reqwest::Client, path: &str, cookie: &str) -> (String, String) {
    let r = c.get(format!("{}{path}", app.base)).header("cookie", cookie).send().await.unwrap();
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("hcp_csrf="));
    let html = r.text().await.unwrap();
    let token = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    (set.unwrap_or_default(), token)
}

both!(forms_need_their_token, |app| {
    let c = client();
    // Sign-in without the token: refused, no session.
    let r = c
        .post(format!("{}/staff/sign-in", app.base))
        .form(&[("username", "scj_staff"), ("password", common::PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.headers().get_all("set-cookie").iter().all(|v| !v.to_str().unwrap().starts_with("hcp_session=")));
    // With it: a session, and the queue.
    let (csrf_cookie, token) = form_token(&app, &c, "/staff/sign-in", "").await;
    let r = c
        .post(format!("{}/staff/sign-in", app.base))
        .header("cookie", &csrf_cookie)
        .form(&[("username", "scj_staff"), ("password", common::PASSWORD), ("csrf", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let session = set_cookie(&r, "hcp_session");
    let cookies = format!("{session}; {csrf_cookie}");
    // A case of the unit, and a forged step on it (another site's page would have no token): nothing changes.
    let case = app.bad_review("PG-1", false).await;
    let r = c
        .post(format!("{}/staff/cases/{case}", app.base))
        .header("cookie", &cookies)
        .form(&[("action", "respond"), ("note", "x"), ("csrf", "00")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let (_, v) = app.get(&format!("/cases/{case}"), Some(&app.system_key)).await;
    assert_eq!(v["state"], "open", "nothing changed");
    // A token handed out before the sign-in is worth nothing after it (it is bound to the session).
    let r = c
        .post(format!("{}/staff/cases/{case}", app.base))
        .header("cookie", &cookies)
        .form(&[("action", "respond"), ("note", "x"), ("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // The real form works, and a step the rules refuse is shown, not done.
    let (_, token) = form_token(&app, &c, &format!("/staff/cases/{case}"), &cookies).await;
    let r = c
        .post(format!("{}/staff/cases/{case}", app.base))
        .header("cookie", &cookies)
        .form(&[("action", "reply"), ("text", "x"), ("csrf", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.unwrap().contains("尚未确定处理结果"));
    let r = c
        .post(format!("{}/staff/cases/{case}", app.base))
        .header("cookie", &cookies)
        .form(&[("action", "respond"), ("note", "已安排核实"), ("csrf", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let (_, v) = app.get(&format!("/cases/{case}"), Some(&app.system_key)).await;
    assert_eq!(v["state"], "responded");
    assert_eq!(v["history"][1]["actor"], "staff:scj_staff");
    // Someone else's unit: not found, whatever the token.
    let gaj = app.sign_in("gaj").await;
    let r = c.get(format!("{}/staff/cases/{case}", app.base)).header("cookie", &gaj).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // Without a session: to the sign-in page.
    let r = c.get(format!("{}/staff/cases", app.base)).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers().get("location").unwrap().to_str().unwrap()), (303, "/staff/sign-in"));
    app
});

both!(the_window_device_works_without_javascript, |app| {
    let c = client();
    // Not set up: to the setup page; its events need the device.
    let r = c.get(format!("{}/device", app.base)).send().await.unwrap();
    assert_eq!(r.headers().get("location").unwrap(), "/device/setup");
    assert_eq!(c.get(format!("{}/device/events", app.base)).send().await.unwrap().status().as_u16(), 401);
    // A system key is not a device key.
    let (csrf_cookie, token) = form_token(&app, &c, "/device/setup", "").await;
    let r = c
        .post(format!("{}/device/setup", app.base))
        .header("cookie", &csrf_cookie)
        .form(&[("key", app.system_key.as_str()), ("csrf", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let cookies = device_session(&app, &c).await;
    // The welcome screen, then a service at the window is offered.
    let html = c.get(format!("{}/device", app.base)).header("cookie", &cookies).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<section id=\"rate\" hidden"), "nothing to rate yet");
    app.matter("DEV-1", true).await;
    let svc = app.service("DEV-1", "ZX-01").await;
    let (_, token) = form_token(&app, &c, "/device", &cookies).await;
    let html = c.get(format!("{}/device", app.base)).header("cookie", &cookies).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(svc["service_no"].as_str().unwrap()) && !html.contains("<section id=\"rate\" hidden"), "offered");
    // 非常不满意 without a reason: the reasons are asked for, nothing is stored yet.
    let sn = svc["service_no"].as_str().unwrap();
    let r = c
        .post(format!("{}/device/rate-form", app.base))
        .header("cookie", &cookies)
        .form(&[("csrf", token.as_str()), ("matter_no", "DEV-1"), ("service_no", sn), ("level", "1")])
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("请选择非常不满意的原因"), "{html}");
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings").await, 0);
    let r = c
        .post(format!("{}/device/rate-form", app.base))
        .header("cookie", &cookies)
        .form(&[("csrf", token.as_str()), ("matter_no", "DEV-1"), ("service_no", sn), ("level", "1"), ("reasons", "105")])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("感谢您的评价"));
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings WHERE channel = 'pad' AND level = 1").await, 1);
    // The same press again (a double tap that got through): one rating.
    let r = c
        .post(format!("{}/device/rate-form", app.base))
        .header("cookie", &cookies)
        .form(&[("csrf", token.as_str()), ("matter_no", "DEV-1"), ("service_no", sn), ("level", "1"), ("reasons", "105")])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("已经评价过"));
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings").await, 1);
    // A key opens a few event streams, not unlimited ones (each checks the database every two seconds).
    let mut open = Vec::new();
    for _ in 0..3 {
        let r = c.get(format!("{}/device/events", app.base)).header("cookie", &cookies).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/event-stream"));
        open.push(r);
    }
    let r = c.get(format!("{}/device/events", app.base)).header("cookie", &cookies).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    drop(open);
    // Once the window's latest service is rated, an older one left unrated is not offered (the next press would
    // be charged to the wrong person).
    app.matter("DEV-2", true).await;
    app.matter("DEV-3", true).await;
    let _older = app.service("DEV-2", "ZX-01").await;
    let newer = app.service("DEV-3", "ZX-01").await;
    let (s, _) = app
        .post(
            "/ratings",
            Some(&app.device_key),
            &json!({"matter_no": "DEV-3", "service_no": newer["service_no"], "channel": "pad", "level": 5}),
        )
        .await;
    assert_eq!(s, 201);
    let html = c.get(format!("{}/device", app.base)).header("cookie", &cookies).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<section id=\"rate\" hidden") && !html.contains("DEV-2-S"), "nothing offered");
    // The device page loads only our own script, and the public results show the unit without rater data.
    let html = c.get(format!("{}/device", app.base)).header("cookie", &cookies).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<script src=\"/assets/device.js\" defer></script>") && html.matches("<script").count() == 1);
    let results = c.get(format!("{}/results", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(results.contains("陇县市场监督管理局") && results.contains("<svg"), "{results}");
    assert!(!results.contains("13800138000") && !results.contains("张三丰"));
    app
});

both!(staff_pages_for_paper_forms_statistics_and_keys, |app| {
    let c = client();
    // A paper form, entered by the unit's handler: a bad review opens a case.
    app.matter("PAPER-1", true).await;
    let scj = page_session(&app, &c, "scj_staff").await;
    let (_, token) = form_token(&app, &c, "/staff/paper", &scj).await;
    let r = c
        .post(format!("{}/staff/paper", app.base))
        .header("cookie", &scj)
        .form(&[("csrf", token.as_str()), ("matter_no", "PAPER-1"), ("level", "2"), ("reasons", "208"), ("anonymous", "1")])
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("已录入") && html.contains("差评已自动立案"), "{html}");
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings WHERE channel = 'paper' AND level = 2").await, 1);
    let r = c
        .post(format!("{}/staff/paper", app.base))
        .header("cookie", &scj)
        .form(&[("csrf", token.as_str()), ("matter_no", "PAPER-1"), ("level", "5")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.unwrap().contains("已评价过"));
    // Window staff do not enter paper forms; their page says so.
    let clerk = page_session(&app, &c, "clerk_scj").await;
    assert_eq!(c.get(format!("{}/staff/paper", app.base)).header("cookie", &clerk).send().await.unwrap().status().as_u16(), 403);
    // Statistics: the unit's own, not another department's.
    let html = c.get(format!("{}/staff/dashboard", app.base)).header("cookie", &scj).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("陇县市场监督管理局") && !html.contains("陇县公安局") && html.contains("<svg"), "{html}");
    // Keys: only the county's administrators; a key issued here works, and stops when revoked.
    assert_eq!(c.get(format!("{}/staff/keys", app.base)).header("cookie", &scj).send().await.unwrap().status().as_u16(), 403);
    let admin = page_session(&app, &c, "admin").await;
    let (_, token) = form_token(&app, &c, "/staff/keys", &admin).await;
    let html = c
        .post(format!("{}/staff/keys", app.base))
        .header("cookie", &admin)
        .form(&[
            ("csrf", token.as_str()),
            ("action", "issue"),
            ("kind", "device"),
            ("unit", "LX-ZWZX"),
            ("window", "ZX-02"),
            ("label", "2号窗口评价器"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = html.split("<code>").nth(1).unwrap().split("</code>").next().unwrap().to_string();
    assert!(key.starts_with("hcp_device_"));
    let issued = app.state.db.find_api_key(&key).await.unwrap().unwrap();
    assert_eq!((issued.window_code.as_deref(), issued.label.as_str()), (Some("ZX-02"), "2号窗口评价器"));
    let html = c
        .post(format!("{}/staff/keys", app.base))
        .header("cookie", &admin)
        .form(&[("csrf", token.as_str()), ("action", "issue"), ("kind", "device"), ("unit", "LX-SCJ"), ("window", "ZX-02"), ("label", "x")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("不属于该单位"), "a window of another unit");
    let r = c
        .post(format!("{}/staff/keys", app.base))
        .header("cookie", &admin)
        .form(&[("csrf", token.as_str()), ("action", "revoke"), ("id", issued.id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(app.state.db.find_api_key(&key).await.unwrap().is_none(), "revoked");
    // The settings as they are: rules, this year's holidays and make-up working days, the catalogue, the units.
    let html = c.get(format!("{}/staff/settings", app.base)).header("cookie", &admin).send().await.unwrap().text().await.unwrap();
    let year = hcp_domain::Timestamp::now().biz_date().year();
    assert!(html.contains(&format!("{year} 年法定节假日")) && html.contains("调休上班") && html.contains("放假"), "{html}");
    assert!(html.contains("个工作日") && html.contains("陇县市场监督管理局") && html.contains("评价内容目录"));
    assert_eq!(c.get(format!("{}/staff/settings", app.base)).header("cookie", &scj).send().await.unwrap().status().as_u16(), 403);
    // Next year's notice, pasted in: deadlines across it are no longer provisional.
    let next = year + 1;
    let csv = format!("{next}-01-01,holiday,元旦\n{next}-02-06,workday,春节\n");
    let (_, token) = form_token(&app, &c, "/staff/settings", &admin).await;
    let html = c
        .post(format!("{}/staff/settings/calendar", app.base))
        .header("cookie", &admin)
        .form(&[("csrf", token.as_str()), ("csv", csv.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("已导入 {next} 年")), "{html}");
    let (_, v) = app.get(&format!("/calendar/add-working-days?date={next}-02-05&days=1"), None).await;
    assert_eq!((v["date"].as_str(), v["provisional"].as_bool()), (Some(format!("{next}-02-06").as_str()), Some(false)), "{v}");
    let html = c
        .post(format!("{}/staff/settings/calendar", app.base))
        .header("cookie", &admin)
        .form(&[("csrf", token.as_str()), ("csv", "not a calendar")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("class=\"alert\""), "a bad file is refused with its reason");
    // A new window and its staff member, pasted as CSV: in force at once (the window's list and the device).
    let (_, token) = form_token(&app, &c, "/staff/settings", &admin).await;
    for (kind, csv) in [
        ("windows", "code,name,unit_code\nZX-99,综合受理99号窗口,LX-ZWZX\n"),
        ("staff", "code,name,unit_code,window_code\nP999,新同事,LX-ZWZX,ZX-99\n"),
    ] {
        let html = c
            .post(format!("{}/staff/settings/import", app.base))
            .header("cookie", &admin)
            .form(&[("csrf", token.as_str()), ("kind", kind), ("csv", csv)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("已导入 1 条"), "{kind}: {html}");
    }
    let (_, windows) = app.get("/windows", None).await;
    assert!(windows.as_array().unwrap().iter().any(|w| w["code"] == "ZX-99"), "{windows}");
    let html = c
        .post(format!("{}/staff/settings/import", app.base))
        .header("cookie", &admin)
        .form(&[("csrf", token.as_str()), ("kind", "windows"), ("csv", "code,name,unit_code\nZX-98,x,NO-SUCH-UNIT\n")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("导入停止") && html.contains("第 2 行"), "{html}");
    // Both are on the audit trail as the administrator's changes.
    let changes = app.state.db.audit_entries(Some("staff:admin"), Some("change"), 10).await.unwrap();
    assert!(changes.iter().filter(|e| e.entry.target == "POST /staff/keys").count() >= 3, "{changes:?}");
    app
});

/// Signs in through the page (CSRF and all): the cookies to send.
async fn page_session(app: &common::TestApp, c: &reqwest::Client, user: &str) -> String {
    let (csrf_cookie, token) = form_token(app, c, "/staff/sign-in", "").await;
    let mut form = vec![("username", user.to_string()), ("password", common::PASSWORD.to_string()), ("csrf", token)];
    if user == "admin" {
        form.push(("otp", common::admin_otp()));
    }
    let r = c.post(format!("{}/staff/sign-in", app.base)).header("cookie", &csrf_cookie).form(&form).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303, "{user}");
    let session = set_cookie(&r, "hcp_session");
    format!("{session}; {csrf_cookie}")
}

both!(appeal_through_the_case_page_on_the_hall_route, |app| {
    let c = client();
    let case = app.bad_review("APG-1", false).await;
    let path = format!("/staff/cases/{case}");
    let step = |cookies: String, fields: Vec<(&'static str, &'static str)>| {
        let (app, c, path) = (&app, c.clone(), path.clone());
        async move {
            let (_, token) = form_token(app, &c, &path, &cookies).await;
            let mut form: Vec<(&str, String)> = fields.into_iter().map(|(k, v)| (k, v.to_string())).collect();
            form.push(("csrf", token));
            c.post(format!("{}{path}/appeal", app.base)).header("cookie", &cookies).form(&form).send().await.unwrap()
        }
    };
    let staff = page_session(&app, &c, "scj_staff").await;
    let html = c.get(format!("{}{path}", app.base)).header("cookie", &staff).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("申请复核") && html.contains("未申请复核"), "the handler can apply");
    let r = step(staff.clone(), vec![("action", "apply"), ("reason", "评价人当日未到窗口"), ("evidence", "叫号记录")]).await;
    assert_eq!(r.status().as_u16(), 303);
    // The applicant cannot review their own application; the unit's approver gives the opinion.
    let html = c.get(format!("{}{path}", app.base)).header("cookie", &staff).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("待本单位审核人初审") && !html.contains("提交初审意见"));
    let boss = page_session(&app, &c, "scj_boss").await;
    let r = step(boss.clone(), vec![("action", "opinion"), ("agree", "true"), ("note", "情况属实")]).await;
    assert_eq!(r.status().as_u16(), 303);
    // The approver cannot decide for the county; the county's administrator can.
    let r = step(boss, vec![("action", "decide"), ("upheld", "true"), ("note", "x")]).await;
    assert_eq!(r.status().as_u16(), 422);
    let admin = page_session(&app, &c, "admin").await;
    let html = c.get(format!("{}{path}", app.base)).header("cookie", &admin).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("作出决定"), "the county decides");
    let r = step(admin, vec![("action", "decide"), ("upheld", "true"), ("note", "经核实不属实")]).await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, v) = app.get(&format!("/ratings/{}", r_id(&app, &case).await), Some(&app.system_key)).await;
    assert_eq!(v["untrue"], true);
    app
});

async fn r_id(app: &common::TestApp, case: &str) -> String {
    let (_, v) = app.get(&format!("/cases/{case}"), Some(&app.system_key)).await;
    v["rating_id"].as_str().unwrap().to_string()
}

both!(the_self_service_terminal_rates_through_the_same_page, |app| {
    let c = client();
    app.matter("KSK-1", true).await;
    let (csrf_cookie, token) = form_token(&app, &c, "/kiosk", "").await;
    let post = |phone4: &'static str| {
        let (c, app, csrf_cookie, token) = (c.clone(), &app, csrf_cookie.clone(), token.clone());
        async move {
            c.post(format!("{}/kiosk", app.base))
                .header("cookie", &csrf_cookie)
                .form(&[("matter_no", "KSK-1"), ("phone4", phone4), ("csrf", &token)])
                .send()
                .await
                .unwrap()
        }
    };
    let r = post("1234").await;
    assert_eq!(r.status().as_u16(), 422, "not the applicant's digits");
    let r = post("8000").await;
    assert_eq!(r.status().as_u16(), 303);
    let to = r.headers().get("location").unwrap().to_str().unwrap().to_string();
    // The terminal's own link: its token is signed for the hall terminal, and the address says nothing of it.
    assert!(to.starts_with("/r/KSK-1.") && !to.contains('?') && to.split('.').nth(3) == Some("t"), "{to}");
    let html = c.get(format!("{}{to}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("请您评价本次政务服务"));
    let r = c.post(format!("{}{to}?level=5&c=qr", app.base)).form(&[("level", "5"), ("c", "pc")]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings WHERE channel = 'hall_terminal'").await, 1);
    // Opened again, the used link says so at once, with how and when, instead of offering the levels again.
    let again = c.get(format!("{}{to}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(again.contains("该服务已评价") && again.contains("大厅自助终端") && again.contains("非常满意"), "{again}");
    assert!(!again.contains("class=\"level\""), "no levels offered on a used link: {again}");
    // Guessing is cut short.
    let mut last = 0;
    for _ in 0..6 {
        last = post("0000").await.status().as_u16();
    }
    assert_eq!(last, 422);
    let html = post("8000").await.text().await.unwrap();
    assert!(html.contains("尝试次数过多"), "{html}");
    app
});

both!(the_work_queue_puts_what_is_late_first_and_what_waits_for_the_rater_last, |app| {
    let c = client();
    let today = hcp_domain::Timestamp::now().biz_day();
    let later = app.bad_review("Q-LATER", true).await;
    // Replied long after its deadlines: now the rater's turn, so last however late it was.
    let waiting = app.old_case("Q-WAIT").await;
    for body in [
        json!({"action": "respond", "note": "收到"}),
        json!({"action": "decide", "outcome": "explained", "explanation": "依规定需补齐材料", "legal_basis": "《行政许可法》第三十一条"}),
        json!({"action": "reply", "text": "已向您说明所需材料"}),
    ] {
        let (s, v) = app.post(&format!("/cases/{waiting}/actions"), Some(&app.system_key), &body).await;
        assert_eq!(s, 200, "{body}: {v}");
    }
    let due = app.written_case("Q-DUE", today.key(), today.key(), today.key()).await;
    let overdue = app.old_case("Q-LATE").await;
    let scj = page_session(&app, &c, "scj_staff").await;
    let html = c.get(format!("{}/staff/cases", app.base)).header("cookie", &scj).send().await.unwrap().text().await.unwrap();
    let at = |id: &str| html.find(&format!("/staff/cases/{id}\"")).unwrap_or_else(|| panic!("{id} listed"));
    assert!(at(&overdue) < at(&due) && at(&due) < at(&later) && at(&later) < at(&waiting), "{html}");
    assert!(html.contains("已超期</span> 1 件") && html.contains("今日到期</span> 1 件"), "the replied case counts as neither: {html}");
    app
});

both!(the_provincial_link_page_shows_what_was_refused_and_sends_it_again, |app| {
    use hcp_app::province::{DrainSettings, drain};
    let c = client();
    let p = crate::province::province(std::time::Duration::from_secs(15)).await;
    app.bad_review("PV-1", false).await;
    p.fake.set_mode(hcp_province::Mode::Refuse { project_no: "PV-1".into() });
    let settings = DrainSettings::default();
    assert_eq!(drain(&app.state, &p.gateway, &settings).await.unwrap().rejected, 1);
    // The county's administrators only.
    let staff = page_session(&app, &c, "scj_staff").await;
    let r = c.get(format!("{}/staff/province", app.base)).header("cookie", &staff).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let admin = page_session(&app, &c, "admin").await;
    let html = c.get(format!("{}/staff/province", app.base)).header("cookie", &admin).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("需处理") && html.contains("未配置"), "no link configured on this node: {html}");
    assert!(html.contains("办件服务 PV-1（服务 1）") && html.contains("deptCode"), "the refusal and its reason: {html}");
    assert!(!html.contains("13800138000") && !html.contains("张三丰"), "no applicant data on the page");
    // Fixed at the province: sent again from the page, with what waited behind it.
    p.fake.set_mode(hcp_province::Mode::Normal);
    let (_, token) = form_token(&app, &c, "/staff/province", &admin).await;
    let r = c
        .post(format!("{}/staff/province", app.base))
        .header("cookie", &admin)
        .form(&[("id", "service|PV-1|1"), ("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("已重新排队 3 条记录"), "{html}");
    assert_eq!(drain(&app.state, &p.gateway, &settings).await.unwrap().delivered, 3);
    let html = c.get(format!("{}/staff/province", app.base)).header("cookie", &admin).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("没有被拒收的记录"), "{html}");
    app
});

/// A browser set up as the window device of ZX-01: its device and CSRF cookies.
async fn device_session(app: &common::TestApp, c: &reqwest::Client) -> String {
    let (csrf_cookie, token) = form_token(app, c, "/device/setup", "").await;
    let r = c
        .post(format!("{}/device/setup", app.base))
        .header("cookie", &csrf_cookie)
        .form(&[("key", app.device_key.as_str()), ("csrf", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "the device key is taken");
    format!("{}; {csrf_cookie}", set_cookie(&r, "hcp_device"))
}

/// A staff account made for a test, signed in on the pages.
async fn account(app: &common::TestApp, c: &reqwest::Client, user: &str, role: hcp_domain::access::Role, unit: &str) -> String {
    let hash = hcp_app::passwords::hash(common::PASSWORD).unwrap();
    app.state.db.insert_user(user, &hash, role, unit).await.unwrap();
    page_session(app, c, user).await
}

/// Posts a back-office form with the page's token.
async fn post_form(app: &common::TestApp, c: &reqwest::Client, cookies: &str, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    // The token of the page the form is on (a case's 复核 form posts to …/appeal from the case page).
    let page = path.split('?').next().unwrap().trim_end_matches("/appeal").trim_end_matches("/merge").trim_end_matches("/rectification");
    let page = if page.starts_with("/staff/notifications/") { "/staff/notifications" } else { page };
    let (_, token) = form_token(app, c, page, cookies).await;
    let mut form: Vec<(&str, String)> = fields.iter().map(|(k, v)| (*k, v.to_string())).collect();
    form.push(("csrf", token));
    c.post(format!("{}{path}", app.base)).header("cookie", cookies).form(&form).send().await.unwrap()
}

both!(a_village_station_registers_a_matter_prints_its_receipt_and_enters_the_paper_form, |app| {
    use hcp_domain::access::Role;
    let c = client();
    let v1 = account(&app, &c, "v1_staff", Role::UnitHandler, "LX-CG-V1").await;
    let page = c.get(format!("{}/staff/matters", app.base)).header("cookie", &v1).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("办件登记") && page.contains("东关社区便民服务站") && page.contains("东关社区代办点"), "its unit and window");
    assert!(!page.contains("城关镇综合窗口1"), "not the town's windows");
    let mut fields = vec![
        ("unit_code", "LX-CG-V1"),
        ("item_code", "61032705043"),
        ("applicant_kind", "person"),
        ("applicant_name", "王秀兰"),
        ("applicant_phone", "1390000123"),
        ("window_code", "CG-V1"),
        ("proc_channel", "offline"),
        ("completed", "1"),
        ("promise_limit", "10工作日"),
        ("legal_limit", "20工作日"),
    ];
    // A wrong phone: the error stands next to it, in words, and everything typed stays.
    let r = post_form(&app, &c, &v1, "/staff/matters", &fields).await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"e_applicant_phone\"") && html.contains("手机号码格式不正确"), "{html}");
    assert!(html.contains("value=\"王秀兰\"") && html.contains("value=\"10工作日\""), "kept: {html}");
    assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"e_applicant_phone\""));
    fields[4] = ("applicant_phone", "13900001234");
    let r = post_form(&app, &c, &v1, "/staff/matters", &fields).await;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    let no = html.split("已登记办件 ").nth(1).unwrap().split('<').next().unwrap().trim().to_string();
    assert!(no.starts_with("LX-CG-V1-"), "a number made for the station: {no}");
    assert!(html.contains(&format!("/staff/receipt?matter_no={no}")) && html.contains("录入书面评价表"), "{html}");
    assert!(html.contains(&format!("服务编号 {no}-S1")), "{html}");
    let m = app.state.db.find_matter(&no).await.unwrap().unwrap();
    assert_eq!((m.unit_code.as_str(), m.details.promise, m.details.legal), ("LX-CG-V1", Some((10, 1)), Some((20, 1))));
    assert!(m.completed_at.is_some());
    // The receipt, with the QR code of the service just given.
    let r = c.get(format!("{}/staff/receipt?matter_no={no}", app.base)).header("cookie", &v1).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let receipt = r.text().await.unwrap();
    assert!(receipt.contains(&no) && receipt.contains("<svg"), "a printable receipt with its code");
    // The paper form the applicant filled in, opened for this matter.
    let paper = c
        .get(format!("{}/staff/paper?matter_no={no}&service_no={no}-S1", app.base))
        .header("cookie", &v1)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(paper.contains(&format!("value=\"{no}\"")), "prefilled");
    let r = post_form(
        &app,
        &c,
        &v1,
        "/staff/paper",
        &[("matter_no", &no), ("service_no", &format!("{no}-S1")), ("level", "2"), ("reasons", "208"), ("anonymous", "0")],
    )
    .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("差评已自动立案交办"), "{html}");
    assert_eq!(app.count("SELECT COUNT(*) FROM cases WHERE unit_code = 'LX-CG-V1'").await, 1);

    // The station applies for 复核; the town's approver (at the town centre) decides it.
    let (_, list) = app.get("/cases?state=open", Some(&app.system_key)).await;
    let case = list.as_array().unwrap().iter().find(|c| c["unit_code"] == "LX-CG-V1").unwrap()["id"].as_str().unwrap().to_string();
    let path = format!("/staff/cases/{case}/appeal");
    let r = post_form(&app, &c, &v1, &path, &[("action", "apply"), ("reason", "评价人误选等级"), ("evidence", "本人电话确认")]).await;
    assert_eq!(r.status().as_u16(), 303);
    let boss = page_session(&app, &c, "cg_boss").await;
    let html = c.get(format!("{}/staff/cases/{case}", app.base)).header("cookie", &boss).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("作出决定"), "the town decides for its village: {html}");
    let r = post_form(&app, &c, &boss, &path, &[("action", "decide"), ("upheld", "true"), ("note", "经电话核实为误选")]).await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, v) = app.get(&format!("/cases/{case}"), Some(&app.system_key)).await;
    assert_eq!(v["state"], "closed", "{v}");
    app
});

both!(hall_window_staff_print_the_receipt_of_a_matter_they_served, |app| {
    use hcp_domain::access::Role;
    let c = client();
    let clerk = account(&app, &c, "zx_clerk", Role::WindowStaff, "LX-ZWZX").await;
    // A department's matter served at a hall window, and one that was not.
    app.matter("HALL-1", true).await;
    app.service("HALL-1", "ZX-01").await;
    app.matter("HALL-2", true).await;
    let r = c.get(format!("{}/staff/receipt?matter_no=HALL-1", app.base)).header("cookie", &clerk).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("HALL-1"));
    let r = c.get(format!("{}/staff/receipt?matter_no=HALL-2", app.base)).header("cookie", &clerk).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("<html") && html.contains("无权访问"), "a page, not JSON: {html}");
    app
});

both!(a_complaint_from_the_public_form_stands_beside_the_bad_review_of_its_matter_and_can_be_merged, |app| {
    let c = client();
    let review = app.bad_review("CMP-1", false).await;
    // The form asks for no codes: units by name, grouped; or the matter number from the receipt.
    let form = c.get(format!("{}/complaint", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(form.contains("<optgroup label=\"县级部门和办事大厅\">") && form.contains("陇县市场监督管理局"), "{form}");
    assert!(form.contains("<optgroup label=\"城关镇人民政府\">") && form.contains("东关社区便民服务站"));
    let post = |fields: Vec<(&'static str, String)>| {
        let (app, c) = (&app, c.clone());
        async move {
            let (cookie, token) = form_token(app, &c, "/complaint", "").await;
            let mut f = fields;
            f.push(("csrf", token));
            c.post(format!("{}/complaint", app.base)).header("cookie", cookie).form(&f).send().await.unwrap()
        }
    };
    // Neither a unit nor a matter: the error stands by the unit, the text stays.
    let r = post(vec![("kind", "complaint".into()), ("text", "窗口人员态度不好，让我跑了三趟".into())]).await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"e_unit_code\"") && html.contains("让我跑了三趟"), "{html}");
    // A matter number that does not exist is said so by its field.
    let r = post(vec![("kind", "complaint".into()), ("matter_no", "NOPE-9".into()), ("text", "x".into())]).await;
    assert!(r.text().await.unwrap().contains("没有找到这个办件编号"));
    // The matter number of the receipt: the case goes to the matter's unit and stands beside the bad review.
    let r = post(vec![
        ("kind", "complaint".into()),
        ("matter_no", "CMP-1".into()),
        ("text", "上次差评后仍无人联系，窗口还是只开一个".into()),
        ("name", "张三丰".into()),
        ("phone", "13800138000".into()),
    ])
    .await;
    assert_eq!(r.status().as_u16(), 201);
    let html = r.text().await.unwrap();
    assert!(html.contains("已收到，编号") && html.contains("陇县市场监督管理局") && html.contains("答复处理结果"), "{html}");
    let (_, v) = app.get(&format!("/cases/{review}"), Some(&app.system_key)).await;
    let related = v["related"].as_array().unwrap();
    assert_eq!(related.len(), 1, "{v}");
    assert_eq!(related[0]["kind"], "complaint");
    let complaint = related[0]["id"].as_str().unwrap().to_string();
    // The handler sees the complaint's own words, where it came from and the contact rule, beside the review;
    // no 复核 for a complaint.
    let handler = page_session(&app, &c, "scj_staff").await;
    let page =
        c.get(format!("{}/staff/cases/{complaint}", app.base)).header("cookie", &handler).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("投诉内容") && page.contains("上次差评后仍无人联系") && page.contains("网上提交"), "{page}");
    assert!(page.contains("留有手机号码：须联系核实并答复") && !page.contains("评价等级") && !page.contains("复核（差评不属实申请）"));
    assert!(page.contains("同一办件的其他工单") && page.contains(&format!("/staff/cases/{review}")));
    // Merged into the bad review: closed, on the ledger of both, the review carries on.
    let r = post_form(&app, &c, &handler, &format!("/staff/cases/{complaint}/merge"), &[("into", &review), ("note", "同一诉求，一并办理")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers().get("location").unwrap().to_str().unwrap(), format!("/staff/cases/{review}"));
    let (_, merged) = app.get(&format!("/cases/{complaint}"), Some(&app.system_key)).await;
    assert_eq!(merged["state"], "closed");
    assert!(merged["history"].as_array().unwrap().iter().any(|e| e["kind"] == "merged" && e["details"]["into"] == review.as_str()));
    let (_, kept) = app.get(&format!("/cases/{review}"), Some(&app.system_key)).await;
    assert_eq!(kept["state"], "open");
    assert!(kept["history"].as_array().unwrap().iter().any(|e| e["kind"] == "merged_in" && e["details"]["from"] == complaint.as_str()));
    // Nothing merges twice, nor across matters.
    let (s, v) = app.post(&format!("/cases/{complaint}/merge"), Some(&app.system_key), &json!({"into": review, "note": "x"})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("case_closed")), "{v}");
    let elsewhere = app.bad_review("CMP-2", true).await;
    let (s, v) = app.post(&format!("/cases/{elsewhere}/merge"), Some(&app.system_key), &json!({"into": review, "note": "x"})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("merge_other_matter")), "{v}");
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    app
});

both!(the_back_office_shows_inspections_filed_replies_failed_notifications_and_device_dead_letters, |app| {
    let c = client();
    app.expect_jobs("notify");
    // An assessor records an inspection on the page; it is listed and exported.
    let assessor = page_session(&app, &c, "assessor").await;
    let r = post_form(
        &app,
        &c,
        &assessor,
        "/staff/inspections",
        &[("unit_code", "LX-SCJ"), ("score_norms", "88"), ("findings", "窗口未公示办事指南"), ("open_case", "1")],
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("已记录") && html.contains("窗口未公示办事指南") && html.contains("service_norms 88"), "{html}");
    let r =
        post_form(&app, &c, &assessor, "/staff/inspections", &[("unit_code", "LX-SCJ"), ("score_norms", "150"), ("findings", "x")]).await;
    assert_eq!(r.status().as_u16(), 422, "a score out of range is refused on the page");
    let csv =
        c.get(format!("{}/staff/inspections?format=csv", app.base)).header("cookie", &assessor).send().await.unwrap().text().await.unwrap();
    assert!(csv.starts_with('\u{feff}') && csv.contains("窗口未公示办事指南"), "{csv}");
    // A reply filed for supervision.
    let case = app.bad_review("REC-1", true).await;
    for body in [
        json!({"action": "respond", "note": "x"}),
        json!({"action": "decide", "outcome": "explained", "explanation": "按规定须本人到场", "legal_basis": "《居民身份证法》"}),
        json!({"action": "reply", "text": "已向您说明须本人到场的依据"}),
    ] {
        let (s, v) = app.post(&format!("/cases/{case}/actions"), Some(&app.system_key), &body).await;
        assert_eq!(s, 200, "{v}");
    }
    let admin = page_session(&app, &c, "admin").await;
    let html = c.get(format!("{}/staff/replies", app.base)).header("cookie", &admin).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("已向您说明须本人到场的依据") && html.contains("解释说明"), "{html}");
    // Messages that could not be sent (no transport here): listed, and re-run from the page.
    let mobile = app.state.secrets.encrypt("13900000001").unwrap();
    app.state.db.set_user_contact("scj_staff", None, Some(mobile)).await.unwrap();
    app.bad_review("REC-2", true).await;
    hcp_app::notifications::derive(&app.state).await.unwrap();
    let notifier = hcp_app::notifications::Notifier::new(None, None);
    while hcp_app::notifications::send_due(&app.state, &notifier).await.unwrap() > 0 {}
    let html = c.get(format!("{}/staff/notifications", app.base)).header("cookie", &admin).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("未配置通道") && html.contains("重新发送"), "{html}");
    let action = html.split("action=\"/staff/notifications/").nth(1).unwrap().split('"').next().unwrap().to_string();
    let r = post_form(&app, &c, &admin, &format!("/staff/notifications/{action}"), &[]).await;
    assert_eq!(
        (r.status().as_u16(), r.headers().get("location").map(|l| l.to_str().unwrap().to_string())),
        (303, Some("/staff/notifications".into()))
    );
    // A press the device could not get accepted, reported by the device, seen by the county.
    let device = device_session(&app, &c).await;
    let report = json!({"matter_no": "REC-9", "service_no": "REC-9-S1", "level": 2, "code": "already_rated", "rated_at": "2026-12-01T09:30:00+08:00"});
    let r = c.post(format!("{}/device/refused", app.base)).header("cookie", &device).json(&report).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = c.post(format!("{}/device/refused", app.base)).json(&report).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "only a set-up device reports");
    let bad = json!({"matter_no": "REC 9", "level": 9, "code": "x"});
    let r = c.post(format!("{}/device/refused", app.base)).header("cookie", &device).json(&bad).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let html = c.get(format!("{}/staff/dead-letters", app.base)).header("cookie", &admin).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("REC-9") && html.contains("已评价过") && html.contains("综合受理1号窗口"), "{html}");
    let handler = page_session(&app, &c, "scj_staff").await;
    let r = c.get(format!("{}/staff/dead-letters", app.base)).header("cookie", &handler).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403, "for those who administer devices");
    app
});

both!(the_window_device_takes_indicator_levels_with_the_press, |app| {
    let c = client();
    let cookies = device_session(&app, &c).await;
    app.matter("DEV-IND-1", true).await;
    let s1 = app.service("DEV-IND-1", "ZX-01").await;
    let html = c.get(format!("{}/device", app.base)).header("cookie", &cookies).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("分项评价") && html.contains("name=\"ind_E02\"") && !html.contains("平台完善性"), "on-site indicators only");
    // Without JavaScript: the indicators travel with the level in the form.
    let token = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let r = c
        .post(format!("{}/device/rate-form", app.base))
        .header("cookie", &cookies)
        .form(&[
            ("csrf", token.as_str()),
            ("matter_no", "DEV-IND-1"),
            ("service_no", s1["service_no"].as_str().unwrap()),
            ("ind_E01", "5"),
            ("ind_E02", "4"),
            ("level", "5"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM ratings WHERE matter_no = 'DEV-IND-1' AND indicators = 'E01=5,E02=4' AND channel = 'pad'").await,
        1
    );
    // The script's JSON press carries them too.
    app.matter("DEV-IND-2", true).await;
    let s2 = app.service("DEV-IND-2", "ZX-01").await;
    let body = json!({"matter_no": "DEV-IND-2", "service_no": s2["service_no"], "level": 4, "indicators": {"E03": 3}});
    let r = c
        .post(format!("{}/device/rate", app.base))
        .header("cookie", &cookies)
        .header("idempotency-key", "dev-ind-2")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings WHERE matter_no = 'DEV-IND-2' AND indicators = 'E03=3'").await, 1);
    app
});
