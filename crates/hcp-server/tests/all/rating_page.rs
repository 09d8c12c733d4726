//! The rating page a receipt's QR code opens, driven as a browser without JavaScript would: follow the level
//! link, post the form.

use crate::common;

use common::token_of;
use serde_json::json;

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc: String =
                v.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

both!(a_rater_rates_from_the_page_once, |app| {
    app.matter("PG-1", true).await;
    let svc = app.service("PG-1", "ZX-01").await;
    let url = svc["rating_url"].as_str().unwrap().to_string();
    let html = app.client.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("请您评价本次政务服务") && html.contains("企业设立登记") && html.contains("综合受理1号窗口"), "{html}");
    assert!(html.contains("?level=1") && html.contains("非常不满意"));
    assert!(!html.contains("张三丰") && !html.contains("13800138000"), "no personal data on the page");
    assert!(!html.contains("<script"), "works without JavaScript");
    let step2 = app.client.get(format!("{url}?level=1")).send().await.unwrap().text().await.unwrap();
    assert!(step2.contains("value=\"105\"") && step2.contains("态度恶劣"), "reasons of level 1 are offered");
    assert!(!step2.contains("value=\"206\""), "reasons of other levels are not");
    // A bad review without a reason or text is sent back with the rule.
    let resp = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("level", "1"), ("anonymous", "0")]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    assert!(resp.text().await.unwrap().contains("差评须至少选择一项评价标签或填写文字评价"));
    let body =
        form(&[("level", "1"), ("reasons", "105"), ("reasons", "104"), ("text", "窗口人员态度生硬"), ("anonymous", "0"), ("c", "qr")]);
    let resp = app.client.post(&url).header("content-type", "application/x-www-form-urlencoded").body(body.clone()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let done = resp.text().await.unwrap();
    assert!(done.contains("感谢您的评价") && done.contains("1 个工作日内响应"), "{done}");
    // The rating is stored as the API shows it.
    let stats = app.stats("by=window&key=ZX-01").await;
    assert_eq!(stats["groups"][0]["counts"]["level1"], 1, "{stats}");
    let (_, by_channel) = app.get("/stats/satisfaction?by=channel&key=qr", None).await;
    assert_eq!(by_channel["groups"][0]["total"], 1);
    // Posting again explains that it was rated already.
    let resp = app.client.post(&url).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    assert!(resp.text().await.unwrap().contains("已经评价过"));
    // A forged token gets a clear page, not a rating.
    let forged = url.replace("PG-1.", "PG-2.");
    let resp = app.client.get(&forged).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert!(resp.text().await.unwrap().contains("无法评价"));
    let resp = app
        .client
        .post(&forged)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("level", "5")]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(app.count("SELECT COUNT(*) FROM ratings").await, 1);
    let _ = token_of(&json!(url));
    app
});

/// A county that gives its units 2 working days to respond and 10 to reply promises exactly that to the rater
/// and shows it to the staff, not the defaults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadlines_promised_are_the_countys() {
    let config = hcp_app::Config {
        deadline_rule: hcp_domain::cases::DeadlineRule { respond_days: 2, reply_days: 10 },
        invite_by_sms: false,
        ..Default::default()
    };
    let app = common::TestApp::start_with(common::Engine::Sqlite, config).await;
    app.matter("PG-D", true).await;
    let svc = app.service("PG-D", "ZX-01").await;
    let url = svc["rating_url"].as_str().unwrap().to_string();
    let body = form(&[("level", "2"), ("reasons", "208"), ("anonymous", "1")]);
    let resp = app.client.post(&url).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let done = resp.text().await.unwrap();
    assert!(done.contains("2 个工作日内响应、10 个工作日内答复"), "{done}");
    let (_, cases) = app.get("/cases", Some(&app.system_key)).await;
    let id = cases[0]["id"].as_str().unwrap().to_string();
    let cookie = app.sign_in("scj_staff").await;
    let html =
        app.client.get(format!("{}/staff/cases/{id}", app.base)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("响应（2 个工作日内，期限"), "{html}");
    app.finish().await;
}
