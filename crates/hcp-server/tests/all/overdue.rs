//! Overdue work is marked and escalated exactly once, even with several server processes on one database.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

both!(a_sweep_marks_each_overdue_step_once, |app| {
    let case_id = app.old_case("OVD-1").await;
    let fresh = app.matter("OVD-2", true).await;
    let _ = fresh;
    // Two sweeps, as two nodes would run them: each overdue step is marked once.
    let (a, b) = tokio::join!(hcp_app::sweeps::sweep_overdue(&app.state), hcp_app::sweeps::sweep_overdue(&app.state));
    assert_eq!(a.unwrap() + b.unwrap(), 2, "respond and reply of the old case");
    assert_eq!(hcp_app::sweeps::sweep_overdue(&app.state).await.unwrap(), 0);
    let (_, v) = app.get(&format!("/cases/{case_id}"), Some(&app.system_key)).await;
    let overdue: Vec<&serde_json::Value> = v["history"].as_array().unwrap().iter().filter(|e| e["kind"] == "overdue").collect();
    assert_eq!(overdue.len(), 2, "{v}");
    assert_eq!(overdue[0]["details"]["escalated_to"], "LX", "督办 by the county");
    assert_eq!(v["state"], "open", "being overdue does not change the state");
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    app
});

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_mark_overdue_once() {
    let app = common::TestApp::start(common::Engine::Postgres).await;
    let sms = common::receivers::SmsGateway::start().await;
    for (user, mobile) in [("scj_staff", "13900005678"), ("admin", "13900001111")] {
        let enc = app.state.secrets.encrypt(mobile).unwrap();
        assert!(app.state.db.set_user_contact(user, None, Some(enc)).await.unwrap());
    }
    let case_id = app.old_case("OVD-PG").await;
    let servers: Vec<Server> = (0..2)
        .map(|_| {
            Server(
                Command::new(env!("CARGO_BIN_EXE_haochaping"))
                    .current_dir(&app.dir.0)
                    .args(["serve", "--database", &app.db_url, "--listen", "127.0.0.1:0", "--sweep-interval-secs", "1"])
                    .args(["--sms-url", &sms.url, "--notify-interval-ms", "200"])
                    .env("HCP_MASTER_KEY", "2a".repeat(32))
                    .env("HCP_LOG", "error")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    let count = || async {
        app.state
            .db
            .get_case(&case_id)
            .await
            .unwrap()
            .unwrap()
            .1
            .iter()
            .filter(|e| e.kind == hcp_domain::case_event::EventKind::Overdue)
            .count()
    };
    let start = Instant::now();
    while count().await < 2 && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let both processes sweep several more times.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert_eq!(count().await, 2, "each overdue step marked once by two processes sweeping every second");
    // Both processes notify: the case's opening to the unit, and each overdue step to the unit and the county
    // (督办) — each message delivered once.
    let msgs = sms.messages().await;
    assert_eq!(msgs.len(), 5, "{msgs:#?}");
    let county: Vec<&String> = msgs.iter().filter(|(p, _)| p == "13900001111").map(|(_, t)| t).collect();
    assert_eq!(county.len(), 2, "{county:?}");
    assert!(county.iter().all(|t| t.contains("督办：陇县市场监督管理局")), "{county:?}");
    let ids: std::collections::HashSet<String> = sms.got.lock().await.iter().map(|(v, _)| v["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 5, "no notification sent twice");
    drop(servers);
    assert_eq!(app.state.db.verify_ledger().await.unwrap().first_break, None);
    app.finish().await;
}
