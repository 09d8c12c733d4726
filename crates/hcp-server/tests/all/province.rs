//! The provincial link against the fake province in the repository, over real HTTP with SM2: everything the
//! ledger holds arrives, in the contract's order, whatever the province does in between; rejected records are
//! kept, shown and replayed; several nodes drain one database without sending twice.

use std::time::Duration;

use hcp_app::province::{DrainSettings, drain};
use hcp_province::gateway::{HttpGateway, LinkConfig};
use hcp_province::{FakeProvince, Mode, PrivateKey, Tenant};
use hcp_storage::Db;
use serde_json::Value;

use crate::common::{self, Engine, TestApp};

pub(crate) struct Province {
    pub fake: FakeProvince,
    pub gateway: HttpGateway,
    pub link: LinkConfig,
}

pub(crate) async fn province(timeout: Duration) -> Province {
    let key = PrivateKey::generate();
    let tenant = Tenant { key: key.clone(), app_mark: "LXHCP".into(), app_word: "word-of-the-test".into(), tenancy: "610000000000".into() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let fake = hcp_server::province::start_fake(tenant.clone(), None, listener).unwrap();
    let link = LinkConfig {
        url,
        public_key: key.public_key(),
        app_mark: tenant.app_mark,
        app_word: tenant.app_word,
        tenancy: tenant.tenancy,
        timeout,
    };
    let gateway = HttpGateway::new(link.clone()).unwrap();
    Province { fake, gateway, link }
}

fn settings(batch: usize) -> DrainSettings {
    DrainSettings { batch, lease_secs: 60, max_records: 100_000 }
}

/// `(op, state) → count` of the outbox.
async fn states(db: &Db) -> Vec<(String, String, i64)> {
    db.province_status().await.unwrap().counts
}

fn count(states: &[(String, String, i64)], state: &str) -> i64 {
    states.iter().filter(|(_, s, _)| s == state).map(|(_, _, n)| n).sum()
}

/// Drains until a pass sends nothing; returns the passes' totals.
pub(crate) async fn drain_all(app: &hcp_app::App, p: &Province, batch: usize) -> hcp_app::province::Drained {
    let mut total = hcp_app::province::Drained::default();
    for _ in 0..50 {
        let d = drain(app, &p.gateway, &settings(batch)).await.unwrap();
        assert_eq!(d.failure, None, "the province is up: {d:?}");
        total.planned += d.planned;
        total.delivered += d.delivered;
        total.duplicates += d.duplicates;
        total.rejected += d.rejected;
        if d.delivered + d.rejected == 0 {
            return total;
        }
    }
    panic!("the outbox did not drain");
}

/// A county with the demo's whole history (matters, ratings on every channel, bad reviews in every state of
/// the loop) connects to the province: nothing was queued while it had no link, and then everything arrives.
async fn demo_history_is_drained(engine: Engine) {
    let dir = common::tempdir::Dir::new();
    let (url, pg) = match engine {
        Engine::Sqlite => (format!("sqlite://{}", dir.0.join("demo.db").display()), None),
        Engine::Postgres => {
            let name = format!("hcp_p_{}", uuid::Uuid::new_v4().simple());
            if let Db::Pg(pool) = Db::connect(&common::pg_admin_url()).await.unwrap() {
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
            }
            let base = common::pg_admin_url();
            (format!("{}/{name}", &base[..base.rfind('/').unwrap()]), Some(name))
        }
    };
    let state = hcp_server::open(&url, common::test_secrets(), hcp_app::Config::default()).await.unwrap();
    let info = hcp_server::demo::seed(&state.app, 150).await.unwrap();
    assert!(info.ratings > 50, "{} ratings", info.ratings);
    let before = state.db.province_status().await.unwrap();
    assert!(before.counts.is_empty(), "a county without a link queues nothing: {:?}", before.counts);
    assert!(before.unplanned > info.ratings as i64, "the ledger keeps every identity: {}", before.unplanned);

    let p = province(Duration::from_secs(15)).await;
    let total = drain_all(&state.app, &p, 50).await;
    let after = states(&state.db).await;
    assert_eq!(count(&after, "rejected") + count(&after, "blocked") + count(&after, "pending"), 0, "{after:?}");
    let h = p.fake.holdings();
    assert_eq!(h.refused, 0, "the province refused nothing: field checks and order held");
    assert_eq!(h.duplicates, 0, "nothing was sent twice");
    assert_eq!((h.services + h.evaluations + h.rectifications) as i64, count(&after, "delivered"));
    assert_eq!(total.delivered as i64, count(&after, "delivered"));
    assert_eq!(h.evaluations as u64, info.ratings as u64, "every rating arrived once");
    let cases: i64 = {
        use sqlx::Row;
        match &state.db {
            Db::Sqlite(p) => sqlx::query("SELECT COUNT(*) FROM cases WHERE rating_id IS NOT NULL").fetch_one(p).await.unwrap().get(0),
            Db::Pg(p) => sqlx::query("SELECT COUNT(*) FROM cases WHERE rating_id IS NOT NULL").fetch_one(p).await.unwrap().get(0),
        }
    };
    let first_steps = p.fake.keys().iter().filter(|k| k.starts_with("rectification|") && k.ends_with("|1")).count() as i64;
    assert!(cases > 0 && first_steps >= cases, "every bad review's case reported its receipt ({first_steps} of {cases})");
    // A received step carries its deadline; an evaluation its channel's national code.
    let step = p.fake.keys().into_iter().find(|k| k.starts_with("rectification|") && k.ends_with("|1")).unwrap();
    let step: Value = serde_json::from_str(&p.fake.record(&step).unwrap()).unwrap();
    assert_eq!(step["step"], "received");
    assert_eq!(step["deadline"].as_str().unwrap().len(), 10);
    assert_eq!(step["areaCode"], "610327000000");
    let status = state.db.province_status().await.unwrap();
    assert_eq!(status.unplanned, 0);
    assert!(status.last_success.is_some() && status.oldest_undelivered.is_none());
    state.db.close().await;
    if let Some(name) = pg
        && let Db::Pg(pool) = Db::connect(&common::pg_admin_url()).await.unwrap()
    {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&pool).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_history_is_drained_sqlite() {
    demo_history_is_drained(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_history_is_drained_postgres() {
    demo_history_is_drained(Engine::Postgres).await;
}

both!(an_unreachable_or_forgetful_province_loses_nothing_and_gets_nothing_twice_in_effect, |app| {
    let p = province(Duration::from_millis(800)).await;
    app.bad_review("LX-P-1", false).await;
    app.bad_review("LX-P-2", true).await;
    // Down, then failing: nothing counts, everything waits.
    for mode in [Mode::Down, Mode::ServerError] {
        p.fake.set_mode(mode.clone());
        let d = drain(&app.state, &p.gateway, &settings(50)).await.unwrap();
        assert!(d.failure.is_some(), "{mode:?}: {d:?}");
        assert_eq!(d.delivered, 0);
        let s = states(&app.state.db).await;
        assert_eq!(count(&s, "delivered"), 0, "{mode:?}: {s:?}");
        assert_eq!(count(&s, "sending"), 0, "a failed request gives its records back at once");
    }
    let status = app.state.db.province_status().await.unwrap();
    assert!(status.last_error.as_ref().is_some_and(|(e, _)| e.contains("500")), "{:?}", status.last_error);
    // The answer is lost after the province stored the services; then answers come too late.
    p.fake.set_mode(Mode::LoseAnswer);
    assert!(drain(&app.state, &p.gateway, &settings(50)).await.unwrap().failure.is_some());
    assert_eq!(p.fake.holdings().services, 2, "stored before the answer was lost");
    p.fake.set_mode(Mode::Slow { ms: 1500 });
    let d = drain(&app.state, &p.gateway, &settings(50)).await.unwrap();
    assert!(d.failure.as_deref().is_some_and(|f| f.contains("超时")), "{d:?}");
    // Back to normal: what the province already holds is answered as a duplicate and counts as delivered.
    p.fake.set_mode(Mode::Normal);
    let total = drain_all(&app.state, &p, 50).await;
    assert!(total.duplicates >= 2, "{total:?}");
    let s = states(&app.state.db).await;
    let h = p.fake.holdings();
    assert_eq!((h.services + h.evaluations + h.rectifications) as i64, count(&s, "delivered"));
    assert_eq!(count(&s, "delivered"), s.iter().map(|(_, _, n)| n).sum::<i64>(), "{s:?}");
    assert_eq!((h.services, h.evaluations), (2, 2));
    assert_eq!(h.refused, 0, "never out of order, even across failures");
    // The national duplicate answer to everything (a province restored from a backup) is delivery too.
    app.bad_review("LX-P-3", true).await;
    p.fake.set_mode(Mode::DuplicateAnswers);
    let total = drain_all(&app.state, &p, 50).await;
    assert_eq!(total.duplicates, total.delivered);
    assert!(total.delivered >= 3);
    app
});

both!(a_refused_record_is_kept_with_its_reason_and_sent_again_after_a_fix, |app| {
    let p = province(Duration::from_secs(15)).await;
    let case = app.bad_review("LX-R-1", false).await;
    app.bad_review("LX-R-2", false).await;
    p.fake.set_mode(Mode::Refuse { project_no: "LX-R-1".into() });
    let total = drain_all(&app.state, &p, 50).await;
    assert_eq!(total.rejected, 1, "the refused service only: what depends on it is held back, not sent to fail");
    let status = app.state.db.province_status().await.unwrap();
    assert_eq!(status.rejects.len(), 1);
    assert_eq!(status.rejects[0].0, "service|LX-R-1|1");
    assert!(status.rejects[0].1.contains("deptCode"), "{:?}", status.rejects);
    let s = states(&app.state.db).await;
    assert_eq!(count(&s, "blocked"), 2, "the evaluation and the case's first step wait: {s:?}");
    let text = hcp_server::province::status_text(&status);
    assert!(text.contains("service|LX-R-1|1") && text.contains("rejected"), "{text}");
    // Other matters were not held up.
    assert_eq!(p.fake.holdings().evaluations, 1);
    // The case goes on meanwhile: its next step is planned behind the blocked ones and waits with them.
    let (st, v) = app
        .post(&format!("/cases/{case}/actions"), Some(&app.system_key), &serde_json::json!({"action": "respond", "note": "已联系"}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(drain(&app.state, &p.gateway, &settings(50)).await.unwrap().delivered, 0);
    assert_eq!(count(&states(&app.state.db).await, "blocked"), 3);
    // Fixed at the province; an administrator replays it.
    p.fake.set_mode(Mode::Normal);
    let bad = hcp_app::province::replay_as(&app.state, "cli".into(), &["service|LX-R-1|x".into()]).await.unwrap_err();
    assert!(bad.to_string().contains("记录标识"), "{bad}");
    let n = hcp_app::province::replay_as(&app.state, "cli".into(), &["service|LX-R-1|1".into()]).await.unwrap();
    assert_eq!(n, 4, "the record and the three behind it");
    drain_all(&app.state, &p, 50).await;
    let s = states(&app.state.db).await;
    assert_eq!(count(&s, "delivered"), s.iter().map(|(_, _, n)| n).sum::<i64>(), "{s:?}");
    assert_eq!(p.fake.holdings().evaluations, 2);
    // The province's own list, reconciled: one record it says it lacks is named.
    let mut csv = String::from("op,projectNo,serviceNumber,assessNumber,stepNo\n");
    for k in p.fake.keys().iter().filter(|k| !k.starts_with("evaluation|LX-R-2")) {
        csv.push_str(&k.replace('|', ","));
        csv.push('\n');
    }
    csv.push_str("evaluation,LX-OTHER,0,1\n");
    let r = hcp_app::province::reconcile(&app.state, &csv).await.unwrap();
    assert_eq!(r.missing_at_province, ["evaluation|LX-R-2|1|1"]);
    assert_eq!(r.unknown_here, ["evaluation|LX-OTHER|0|1"]);
    assert!(hcp_app::province::reconcile(&app.state, "evaluation,LX-1,x,1\n").await.is_err());
    app
});

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_drain_one_database_without_sending_twice() {
    let app = TestApp::start(Engine::Postgres).await;
    for i in 0..12 {
        app.bad_review(&format!("LX-N-{i}"), i % 2 == 0).await;
    }
    let second = hcp_server::open(&app.db_url, common::test_secrets(), hcp_app::Config::default()).await.unwrap();
    let p = std::sync::Arc::new(province(Duration::from_secs(15)).await);
    let run = |a: hcp_app::App, p: std::sync::Arc<Province>| async move {
        let mut sent = 0;
        for _ in 0..200 {
            let d = drain(&a, &p.gateway, &settings(3)).await.unwrap();
            sent += d.delivered;
            if d.delivered == 0 && a.db.province_status().await.unwrap().counts.iter().all(|(_, s, _)| s == "delivered") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sent
    };
    let (a, b) = tokio::join!(tokio::spawn(run(app.state.app.clone(), p.clone())), tokio::spawn(run(second.app.clone(), p.clone())));
    let (a, b) = (a.unwrap(), b.unwrap());
    let h = p.fake.holdings();
    let total = (h.services + h.evaluations + h.rectifications) as usize;
    assert_eq!(a + b, total, "each record delivered by exactly one node ({a} + {b})");
    assert!(a > 0 && b > 0, "both nodes took part ({a}, {b})");
    assert_eq!((h.duplicates, h.refused), (0, 0), "no record sent twice, none out of order");
    assert_eq!(h.evaluations, 12);
    second.db.close().await;
    app.finish().await;
}

both!(a_record_waits_for_the_one_it_follows_even_while_another_node_holds_it, |app| {
    let p = province(Duration::from_secs(15)).await;
    app.bad_review("LX-W-1", false).await;
    let now = hcp_domain::Timestamp::now();
    app.state.db.plan_province(1000, now).await.unwrap();
    // Another node took the service and has not answered yet.
    let held = app.state.db.claim_province(hcp_domain::province::Op::Service, 10, 60_000_000, "other-node", now).await.unwrap();
    assert_eq!(held.len(), 1);
    let d = drain(&app.state, &p.gateway, &settings(50)).await.unwrap();
    assert_eq!((d.delivered, d.rejected), (0, 0), "neither the evaluation nor the case's step goes before the service");
    assert_eq!(p.fake.holdings().requests, 0);
    // That node died: its lease runs out and this node takes the service over, then the rest in order.
    let later = now.plus_seconds(61);
    assert_eq!(app.state.db.release_province_leases(now.plus_seconds(59)).await.unwrap(), 0, "a lease still running is kept");
    assert_eq!(app.state.db.release_province_leases(later).await.unwrap(), 1);
    let taken = app.state.db.claim_province(hcp_domain::province::Op::Service, 10, 60_000_000, "this-node", later).await.unwrap();
    assert_eq!(taken.len(), 1, "an expired lease is taken over");
    app.state
        .db
        .finish_province("other-node", &[(taken[0].id.clone(), hcp_storage::province::Delivery::Delivered { note: None })], later)
        .await
        .unwrap();
    let s = states(&app.state.db).await;
    assert_eq!(count(&s, "delivered"), 0, "a node whose lease was taken over cannot mark the record: {s:?}");
    app.state.db.finish_province("this-node", &[(taken[0].id.clone(), hcp_storage::province::Delivery::Retry)], later).await.unwrap();
    let total = drain_all(&app.state, &p, 50).await;
    assert_eq!(total.delivered, 3);
    assert_eq!(p.fake.holdings().refused, 0);
    app
});

/// `kill -9` of the county's server in the middle of a drain: on restart it goes on from where the database
/// says it was (records the dead node held are taken over when its lease, time-out + 15 s, runs out); nothing
/// is lost, nothing is refused, and what was sent twice is counted as delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_drain_delivers_everything_after_restart() {
    let dir = common::tempdir::Dir::new();
    let bin = env!("CARGO_BIN_EXE_haochaping");
    let clean = |c: &mut std::process::Command| {
        for (k, _) in std::env::vars() {
            if k.starts_with("HCP_") {
                c.env_remove(k);
            }
        }
    };
    // The demo's history, seeded without serving (the address is taken).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut seed = std::process::Command::new(bin);
    clean(&mut seed);
    let out =
        seed.current_dir(&dir.0).args(["demo", "--matters", "200", "--listen", &taken.local_addr().unwrap().to_string()]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("无法监听"), "seeded, then could not listen: {out:?}");
    drop(taken);

    let key = PrivateKey::generate();
    let tenant = Tenant { key: key.clone(), app_mark: "LXHCP".into(), app_word: "kill-word".into(), tenancy: "610000000000".into() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let fake = hcp_server::province::start_fake(tenant, None, listener).unwrap();
    let public = key.public_key().to_hex();
    let start = |batch: &str| {
        let mut c = std::process::Command::new(bin);
        clean(&mut c);
        c.current_dir(&dir.0)
            .args(["serve", "--listen", "127.0.0.1:0", "--province-url", &url, "--province-public-key", &public])
            .args([
                "--province-app-mark",
                "LXHCP",
                "--province-app-word",
                "kill-word",
                "--province-batch",
                batch,
                "--province-interval-ms",
                "50",
            ])
            .args(["--province-timeout-secs", "2"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut server = start("5");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while fake.holdings().evaluations < 20 {
        assert!(std::time::Instant::now() < deadline, "the server did not start draining");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let db = Db::connect(&format!("sqlite://{}", dir.0.join("haochaping.db").display())).await.unwrap();
    let left = db.province_status().await.unwrap();
    let undelivered: i64 = left.counts.iter().filter(|(_, s, _)| s != "delivered").map(|c| c.2).sum::<i64>() + left.unplanned;
    assert!(undelivered > 0, "killed in the middle: {left:?}");

    let mut server = start("100");
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    loop {
        let s = db.province_status().await.unwrap();
        if s.unplanned == 0 && s.counts.iter().all(|(_, st, _)| st == "delivered") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not drained after restart: {s:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let s = states(&db).await;
    let h = fake.holdings();
    assert_eq!(h.refused, 0, "never out of order across the crash");
    assert_eq!((h.services + h.evaluations + h.rectifications) as i64, count(&s, "delivered"), "the province holds exactly what was sent");
    let ratings: i64 = match &db {
        Db::Sqlite(p) => sqlx::query_scalar("SELECT COUNT(*) FROM ratings").fetch_one(p).await.unwrap(),
        Db::Pg(_) => unreachable!(),
    };
    assert!(ratings > 100, "{ratings}");
    assert_eq!(h.evaluations as i64, ratings, "every rating arrived");
    db.close().await;
}

both!(ratings_taken_during_an_outage_reach_the_province_when_it_returns, |app| {
    let p = province(Duration::from_secs(5)).await;
    p.fake.set_mode(Mode::Down);
    let settings = hcp_server::province::WorkerSettings { drain: settings(20), idle: Duration::from_millis(50), senders: 2 };
    let worker = tokio::spawn(hcp_server::province::run(app.state.app.clone(), p.link.clone(), settings));
    // The county works on while the province is down: ratings and cases are taken as usual.
    for i in 0..15 {
        app.bad_review(&format!("LX-O-{i}"), i % 3 == 0).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(p.fake.holdings().services, 0);
    let s = app.state.db.province_status().await.unwrap();
    assert!(s.last_error.as_ref().is_some_and(|(e, _)| e.contains("503")), "{:?}", s.last_error);
    assert!(s.last_success.is_none());
    // The province returns: the worker's back-off ends and everything arrives, in order.
    p.fake.set_mode(Mode::Normal);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = app.state.db.province_status().await.unwrap();
        if s.unplanned == 0 && !s.counts.is_empty() && s.counts.iter().all(|(_, st, _)| st == "delivered") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not delivered after the outage: {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.abort();
    let h = p.fake.holdings();
    assert_eq!((h.services, h.evaluations, h.refused), (15, 15, 0));
    app
});

/// `demo --with-fake-province`: the county's history reaches a fake province started in the same process, and
/// the link's health (what the back-office page shows) is good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_connects_to_a_fake_province() {
    let dir = common::tempdir::Dir::new();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_haochaping"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HCP_") {
            c.env_remove(k);
        }
    }
    let mut demo = c
        .current_dir(&dir.0)
        .args(["demo", "--with-fake-province", "--matters", "80", "--listen", "127.0.0.1:0", "--province-interval-ms", "50"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let db = Db::connect(&format!("sqlite://{}", dir.0.join("haochaping.db").display())).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Ok(s) = db.province_status().await
            && s.last_success.is_some()
            && s.unplanned == 0
            && s.counts.iter().all(|(_, st, _)| st == "delivered")
        {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "the demo's history did not reach the fake province");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    demo.kill().unwrap();
    let out = demo.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("fake province"), "the demo says where it reports");
    let (health, why) = hcp_app::province::health(&status, true, hcp_domain::Timestamp::now());
    assert_eq!(health, hcp_app::province::Health::Good, "{why}");
    assert!(status.counts.iter().map(|c| c.2).sum::<i64>() > 80);
    db.close().await;
}
