//! What an operator relies on: `/metrics` for Prometheus, a request id on every response and log line, JSON logs,
//! a settings file under the flags and the environment, and a graceful stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common;

/// The value of a sample line `name{labels} value` whose labels contain every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .next()
}

both!(metrics_are_scraped, |app| {
    // Work to count: a bad review from a device (a rating, a case, outbox jobs) and a request refused.
    let _case = app.bad_review("MET-1", false).await;
    let (s, _) = app.post("/ratings", Some(&app.device_key), &json!({"matter_no": "MET-1"})).await;
    assert_eq!(s, 422);
    let resp = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = resp.text().await.unwrap();
    // The recorder is the process's: other tests count too, so at least ours.
    assert!(sample(&text, "hcp_ratings_accepted_total", &["channel=\"pad\""]).unwrap_or(0.0) >= 1.0, "{text}");
    assert!(sample(&text, "hcp_http_requests_total", &["route=\"/api/v1/ratings\"", "status=\"201\""]).unwrap_or(0.0) >= 1.0);
    assert!(sample(&text, "hcp_http_requests_total", &["route=\"/api/v1/ratings\"", "status=\"422\""]).unwrap_or(0.0) >= 1.0);
    assert!(sample(&text, "hcp_writer_batch_size_count", &[]).unwrap_or(0.0) >= 1.0, "writer batches are measured");
    assert!(sample(&text, "hcp_writer_batch_seconds_bucket", &["le=\"+Inf\""]).is_some(), "a latency histogram");
    // Read at the scrape from this database: one case open.
    assert_eq!(sample(&text, "hcp_cases_open", &[]), Some(1.0), "{text}");
    assert_eq!(sample(&text, "hcp_cases_overdue", &[]), Some(0.0));
    // No provincial link here: the ledger's entries wait unplanned, nothing is queued.
    let ledger = app.count("SELECT COUNT(*) FROM ledger").await as f64;
    assert_eq!(sample(&text, "hcp_outbox_depth", &["kind=\"province_unplanned\""]), Some(ledger));
    assert_eq!(sample(&text, "hcp_outbox_depth", &["kind=\"province_evaluation\""]), Some(0.0));
    // Never a token: routes are templates, not paths.
    let page = app.client.get(format!("{}/r/MET-1.0.1.forgedsig", app.base)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 403);
    let text = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(sample(&text, "hcp_http_requests_total", &["route=\"/r/{token}\"", "status=\"403\""]).unwrap_or(0.0) >= 1.0, "{text}");
    assert!(!text.contains("forgedsig"), "a token never becomes a label");
    // A case step is counted by its kind.
    let boss = app.sign_in("scj_staff").await;
    let (s, v) = app.post_as(&boss, &format!("/cases/{_case}/actions"), &json!({"action": "respond", "note": "已受理"})).await;
    assert_eq!(s, 200, "{v}");
    let text = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(sample(&text, "hcp_case_steps_total", &["kind=\"responded\""]).unwrap_or(0.0) >= 1.0, "{text}");
    app
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_ask_for_a_token() {
    let config = hcp_app::Config { metrics_token: Some("scrape-secret".into()), invite_by_sms: false, ..Default::default() };
    let app = common::TestApp::start_with(common::Engine::Sqlite, config).await;
    let url = format!("{}/metrics", app.base);
    let r = app.client.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "unauthorized");
    assert_eq!(app.client.get(&url).bearer_auth("wrong").send().await.unwrap().status().as_u16(), 401);
    assert_eq!(app.client.get(&url).bearer_auth("scrape-secret").send().await.unwrap().status().as_u16(), 200);
    app.finish().await;
}

both!(every_response_carries_a_request_id, |app| {
    let r = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(id.len() >= 16, "{id}");
    let again = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_ne!(again.headers()["x-request-id"].to_str().unwrap(), id, "one id per request");
    // A client's own id is not believed: it could name another request.
    let r = app.client.get(format!("{}/healthz", app.base)).header("x-request-id", "edge-42.a_b").send().await.unwrap();
    assert_ne!(r.headers()["x-request-id"], "edge-42.a_b");
    // A bug (here: a state the domain does not know, written past the application) is a 500 that names the
    // request, never its cause.
    let case = app.bad_review("RID-1", true).await;
    match &app.state.db {
        hcp_storage::Db::Sqlite(p) => {
            sqlx::query("UPDATE case_status SET state = 'bogus'").execute(p).await.unwrap();
        }
        hcp_storage::Db::Pg(p) => {
            sqlx::query("UPDATE case_status SET state = 'bogus'").execute(p).await.unwrap();
        }
    }
    let r = app.client.get(format!("{}/cases/{case}", app.url)).bearer_auth(&app.system_key).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 500);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["error"]["code"].as_str(), v["error"]["details"]["request_id"].as_str()),
        (Some("internal_error"), Some(id.as_str())),
        "{v}"
    );
    assert!(!v.to_string().contains("bogus"), "the cause stays in the log: {v}");
    // Errors of every origin have the documented shape: a bad query, a method the route does not take, an address
    // nothing answers at.
    for (method, path, status, code) in [
        ("GET", "/calendar/add-working-days?date=2026-06-01", 400, "invalid_query"),
        ("GET", "/cases?limit=many", 400, "invalid_query"),
        ("DELETE", "/ratings", 405, "method_not_allowed"),
        ("GET", "/no/such/thing", 404, "not_found"),
    ] {
        let r =
            app.client.request(method.parse().unwrap(), format!("{}{path}", app.url)).bearer_auth(&app.system_key).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{method} {path}");
        assert!(r.headers().contains_key("x-request-id"));
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], code, "{method} {path}: {v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    app
});

/// Behind a trusted proxy: its request id is kept (when plain), and the address it forwards is the client's, so
/// that `/metrics` without a token answers only the machine itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy() {
    let config = hcp_app::Config { trusted_proxies: vec!["127.0.0.1".parse().unwrap()], invite_by_sms: false, ..Default::default() };
    let app = common::TestApp::start_with(common::Engine::Sqlite, config).await;
    let get = |path: &str, id: &str, forwarded: &str| {
        app.client.get(format!("{}{path}", app.base)).header("x-request-id", id).header("x-forwarded-for", forwarded).send()
    };
    let r = get("/healthz", "edge-42.a_b", "198.51.100.7").await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "edge-42.a_b", "the proxy's id");
    let r = get("/healthz", "<script>", "198.51.100.7").await.unwrap();
    assert_ne!(r.headers()["x-request-id"], "<script>", "only a plain value");
    let r = get("/metrics", "m-1", "198.51.100.7").await.unwrap();
    assert_eq!(r.status().as_u16(), 404, "not for a client elsewhere without a token");
    let r = get("/metrics", "m-2", "127.0.0.1").await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "for the machine itself");
    app.finish().await;
}

struct Dir(std::path::PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server process from a settings file, logging JSON: a failing request's id is in its log line, and SIGTERM
/// stops it cleanly. The file is under the flags and the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_from_its_settings_file_logs_json_with_request_ids_and_stops_on_sigterm() {
    let dir = Dir(std::env::temp_dir().join(format!("hcp-op-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let port = free_port();
    let settings = format!(
        "# a county's settings\nlisten = \"127.0.0.1:{port}\"\nlog_format = \"json\"\nrespond_days = 2\nsender_name = \"陇县政务服务\"\n\
         database = \"sqlite://{}\"\ntrusted_proxies = [\"10.0.0.1\"]\n",
        dir.0.join("op.db").display()
    );
    std::fs::write(dir.0.join("haochaping.toml"), settings).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_haochaping"))
        .current_dir(&dir.0)
        .args(["--config", "haochaping.toml", "serve"])
        .env_remove("HCP_DATABASE_URL")
        .env("HCP_MASTER_KEY", "42".repeat(32))
        .env("HCP_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        let gone = child.try_wait().unwrap().is_some();
        assert!(!gone && started.elapsed() < Duration::from_secs(60), "the server did not start: {:?}", lines.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The settings took: the file's database and listening address.
    let v: Value = client.get(format!("{base}/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["database"], "sqlite");
    // A failing request: its id is in the response and in a log line of that request.
    let r =
        client.post(format!("{base}/api/v1/ratings")).header("content-type", "application/json").body("{not json").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    // SIGTERM: the server finishes what is under way and exits 0.
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the server did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "a graceful stop exits 0: {status:?}");
    reader.join().unwrap();
    let lines = lines.lock().unwrap().clone();
    let json: Vec<Value> = lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!json.is_empty() && json.len() == lines.iter().filter(|l| !l.trim().is_empty()).count(), "every log line is JSON: {lines:?}");
    let of_request: Vec<&Value> = json.iter().filter(|v| v.to_string().contains(&id)).collect();
    assert!(of_request.iter().any(|v| v.to_string().contains("400")), "the failing request's line names its id and status: {lines:?}");
    assert!(!lines.iter().any(|l| l.contains("42424242")), "no key in the logs");
    assert!(dir.0.join("op.db").exists());
}

/// A settings file with a key no command takes is refused, naming it; the command line still wins over it.
#[test]
fn a_settings_file_with_an_unknown_key_is_refused() {
    let dir = Dir(std::env::temp_dir().join(format!("hcp-cfg-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::write(dir.0.join("bad.toml"), "respond_dayz = 2\n").unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_haochaping")).current_dir(&dir.0).args(["--config", "bad.toml", "migrate"]).output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("respond_dayz"), "{}", String::from_utf8_lossy(&out.stderr));
    // `database` from the file, overridden by the flag.
    std::fs::write(dir.0.join("good.toml"), format!("database = \"sqlite://{}\"\n", dir.0.join("from-file.db").display())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_haochaping"))
        .current_dir(&dir.0)
        .env_remove("HCP_DATABASE_URL")
        .args(["--config", "good.toml", "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.0.join("from-file.db").exists(), "the file's database was used");
    let flag = format!("sqlite://{}", dir.0.join("from-flag.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_haochaping"))
        .current_dir(&dir.0)
        .env_remove("HCP_DATABASE_URL")
        .args(["--config", "good.toml", "--database", &flag, "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(dir.0.join("from-flag.db").exists(), "the flag wins over the file");
    let env = format!("sqlite://{}", dir.0.join("from-env.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_haochaping"))
        .current_dir(&dir.0)
        .env("HCP_DATABASE_URL", &env)
        .args(["--config", "good.toml", "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(dir.0.join("from-env.db").exists(), "the environment wins over the file");
    // The commented example in the repository is a valid settings file (its serving settings are passed over by
    // other commands).
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../haochaping.example.toml");
    let flag = format!("sqlite://{}", dir.0.join("from-example.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_haochaping"))
        .current_dir(&dir.0)
        .env_remove("HCP_DATABASE_URL")
        .args(["--config", example, "--database", &flag, "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}
