//! Test harness: the real application on a fresh real database (a SQLite file or a new PostgreSQL
//! database), served over TCP on a free port, driven through HTTP. The app cleans up in `Drop` (the server
//! stopped, the PostgreSQL database dropped) and fails a test that leaves work queued it did not expect.

#![allow(dead_code)]

pub mod receivers;

use std::net::SocketAddr;

use hcp_app::Config;
use hcp_app::passwords;
use hcp_domain::access::{KeyKind, Role};
use hcp_server::{build_app, demo, open, serve};
use hcp_storage::Db;
use hcp_storage::pii::Secrets;
use hcp_web::AppState;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const PASSWORD: &str = "Test-password-2026";
/// The test administrator's second-factor secret (base32).
pub const ADMIN_TOTP: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// The administrator's current one-time code.
pub fn admin_otp() -> String {
    let secret = hcp_domain::totp::base32_decode(ADMIN_TOTP).unwrap();
    format!("{:06}", hcp_domain::totp::code_at(&secret, hcp_domain::Timestamp::now().micros() / 1_000_000))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub engine: Engine,
    pub base: String,
    pub url: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub system_key: String,
    pub device_key: String,
    pub device_key_other: String,
    pub hotline_key: String,
    pub sms_key: String,
    pub province_key: String,
    pub town_system_key: String,
    pub db_url: String,
    pub dir: tempdir::Dir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    pg_name: Option<String>,
    /// Kinds of jobs this test expects to leave waiting (the provincial outbox is always expected: nothing
    /// drains it in tests).
    expected_jobs: std::sync::Mutex<Vec<String>>,
    checked: bool,
}

pub mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            let p = std::env::temp_dir().join(format!("hcp-test-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn pg_admin_url() -> String {
    std::env::var("HCP_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn test_secrets() -> Secrets {
    Secrets::from_master(&[42u8; 32]).unwrap()
}

impl TestApp {
    /// A test app without SMS invitations (tests of invitations turn them on with `start_with`): a completed
    /// matter would otherwise leave an invitation waiting in every test.
    pub async fn start(engine: Engine) -> TestApp {
        Self::start_with(engine, Config { invite_by_sms: false, ..Config::default() }).await
    }

    pub async fn start_with(engine: Engine, mut config: Config) -> TestApp {
        let dir = tempdir::Dir::new();
        let (db_url, pg_name) = match engine {
            Engine::Sqlite => (format!("sqlite://{}", dir.0.join("test.db").display()), None),
            Engine::Postgres => {
                let name = format!("hcp_t_{}", uuid::Uuid::new_v4().simple());
                let admin = Db::connect(&pg_admin_url()).await.expect("PostgreSQL must be running for the tests (see README)");
                if let Db::Pg(pool) = &admin {
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(pool).await.unwrap();
                }
                admin.close().await;
                let base = pg_admin_url();
                let url = match base.rfind('/') {
                    Some(i) => format!("{}/{}", &base[..i], name),
                    None => panic!("bad HCP_TEST_PG_URL"),
                };
                (url, Some(name))
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        config.public_base_url = base.clone();
        let db = Db::connect(&db_url).await.unwrap();
        db.migrate().await.unwrap();
        demo::seed_master(&db).await.unwrap();
        let hash = passwords::hash(PASSWORD).unwrap();
        for (user, role, unit) in [
            ("admin", Role::BureauAdmin, "LX"),
            ("gaj", Role::UnitHandler, "LX-GAJ"),
            ("clerk_cg", Role::WindowStaff, "LX-CG-BMZX"),
            ("cg_boss", Role::UnitApprover, "LX-CG-BMZX"),
            ("scj_staff", Role::UnitHandler, "LX-SCJ"),
            ("scj_boss", Role::UnitApprover, "LX-SCJ"),
            ("assessor", Role::Assessor, "LX"),
            ("duban", Role::Oversight, "LX"),
            ("clerk_scj", Role::WindowStaff, "LX-SCJ"),
            ("cg_town", Role::TownAdmin, "LX-CG"),
        ] {
            db.insert_user(user, &hash, role, unit).await.unwrap();
        }
        db.set_totp_secret("admin", Some(test_secrets().encrypt(ADMIN_TOTP).unwrap())).await.unwrap();
        let key = |kind| hcp_app::settings::new_key(kind);
        let (system_key, town_system_key, device_key, device_key_other, hotline_key) =
            (key(KeyKind::System), key(KeyKind::System), key(KeyKind::Device), key(KeyKind::Device), key(KeyKind::Hotline));
        db.insert_api_key(KeyKind::System, "LX", None, "county platform", &system_key).await.unwrap();
        db.insert_api_key(KeyKind::System, "LX-CG", None, "城关镇 system", &town_system_key).await.unwrap();
        db.insert_api_key(KeyKind::Device, "LX-ZWZX", Some("ZX-01"), "pad ZX-01", &device_key).await.unwrap();
        db.insert_api_key(KeyKind::Device, "LX-ZWZX", Some("ZX-02"), "pad ZX-02", &device_key_other).await.unwrap();
        db.insert_api_key(KeyKind::Hotline, "LX", None, "12345", &hotline_key).await.unwrap();
        let (sms_key, province_key) = (key(KeyKind::SmsGateway), key(KeyKind::Province));
        db.insert_api_key(KeyKind::SmsGateway, "LX", None, "SMS gateway", &sms_key).await.unwrap();
        db.insert_api_key(KeyKind::Province, "LX", None, "province", &province_key).await.unwrap();
        db.close().await;

        let state = open(&db_url, test_secrets(), config).await.unwrap();
        let app = build_app(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = serve(listener, app, async move {
                let _ = stopped.await;
            })
            .await;
        });
        TestApp {
            engine,
            url: format!("{base}/api/v1"),
            base,
            client: reqwest::Client::new(),
            state,
            system_key,
            device_key,
            device_key_other,
            hotline_key,
            sms_key,
            province_key,
            town_system_key,
            db_url,
            dir,
            stop: Some(stop),
            server: Some(server),
            pg_name,
            expected_jobs: std::sync::Mutex::new(Vec::new()),
            checked: false,
        }
    }

    /// This test leaves jobs of `kind` waiting on purpose (its notifier is not run to the end, say).
    pub fn expect_jobs(&self, kind: &str) {
        if let Ok(mut v) = self.expected_jobs.lock() {
            v.push(kind.to_string());
        }
    }

    fn expected(&self) -> Vec<String> {
        self.expected_jobs.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Jobs left waiting that the test did not expect: `(kind, count)`.
    async fn unexpected_jobs(&self) -> Vec<(String, i64)> {
        let depth = self.state.db.outbox_depth().await.unwrap_or_default();
        let expected = self.expected();
        depth.into_iter().filter(|(k, n)| *n > 0 && !k.starts_with("report_") && !expected.contains(k)).collect()
    }

    /// Stops the server and checks what the test left behind; `Drop` then drops the PostgreSQL database.
    pub async fn finish(mut self) {
        let left = self.unexpected_jobs().await;
        self.checked = true;
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
        self.state.db.close().await;
        assert!(left.is_empty(), "the test left jobs waiting that it did not expect: {left:?} (call expect_jobs if meant)");
    }

    pub async fn post(&self, path: &str, key: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = self.client.post(format!("{}{}", self.url, path)).json(body);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> (u16, Value) {
        let mut req = self.client.get(format!("{}{}", self.url, path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Registers a matter of 陇县市场监督管理局 (handled at the county hall), accepted an hour ago.
    pub async fn matter(&self, no: &str, completed: bool) -> Value {
        let now = time::OffsetDateTime::now_utc();
        let fmt = &time::format_description::well_known::Rfc3339;
        let accepted = (now - time::Duration::hours(1)).format(fmt).unwrap();
        let done = (now - time::Duration::minutes(30)).format(fmt).unwrap();
        let mut body = json!({
            "matter_no": no, "item_code": "61032701001", "unit_code": "LX-SCJ",
            "applicant": {"kind": "person", "name": "张三丰", "phone": "13800138000", "id_number": "11010519491231002X"},
            "accepted_at": accepted
        });
        if completed {
            body["completed_at"] = json!(done);
        }
        let (status, v) = self.post("/matters", Some(&self.system_key), &body).await;
        assert_eq!(status, 201, "register matter: {v}");
        v
    }

    /// Records a service of `no` at `window` and returns the service JSON (service_no, rating_url …).
    pub async fn service(&self, no: &str, window: &str) -> Value {
        let (status, v) = self
            .post(&format!("/matters/{no}/services"), Some(&self.system_key), &json!({"window_code": window, "staff_code": "P001"}))
            .await;
        assert_eq!(status, 201, "add service: {v}");
        v
    }

    pub async fn sign_in(&self, username: &str) -> String {
        let resp = self
            .client
            .post(format!("{}/session", self.url))
            .json(&if username == "admin" {
                json!({"username": username, "password": PASSWORD, "otp": admin_otp()})
            } else {
                json!({"username": username, "password": PASSWORD})
            })
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let cookie = resp.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
        cookie.split(';').next().unwrap().to_string()
    }

    /// POST as a signed-in staff member (cookie from `sign_in`).
    pub async fn post_as(&self, cookie: &str, path: &str, body: &Value) -> (u16, Value) {
        let resp = self.client.post(format!("{}{}", self.url, path)).header("cookie", cookie).json(body).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn stats(&self, query: &str) -> Value {
        let (status, v) = self.get(&format!("/stats/satisfaction?{query}"), Some(&self.system_key)).await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// A new 市场监管局 matter served at ZX-01 and rated 不满意 by its device (reason 208), as the applicant or
    /// anonymously: the case it opened.
    pub async fn bad_review(&self, no: &str, anonymous: bool) -> String {
        self.matter(no, true).await;
        let svc = self.service(no, "ZX-01").await;
        let (s, v) = self
            .post(
                "/ratings",
                Some(&self.device_key),
                &json!({"matter_no": no, "service_no": svc["service_no"], "channel": "pad", "level": 2, "reasons": ["208"], "anonymous": anonymous}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["case_id"].as_str().unwrap().to_string()
    }

    /// A case that arrived long ago, written through the storage writer with its old deadlines.
    pub async fn old_case(&self, no: &str) -> String {
        self.written_case(no, 20260105, 20260106, 20260112).await
    }

    /// An anonymous bad review of a new 市场监管局 matter, written through the storage writer with the given
    /// arrival day and deadlines (`YYYYMMDD`), as a case that arrived on another day would be.
    pub async fn written_case(&self, no: &str, arrival_day: i64, respond_by: i64, reply_by: i64) -> String {
        self.written_case_as(no, (arrival_day, respond_by, reply_by), false).await
    }

    /// As `written_case`, with deadlines marked provisional or not (computed across a year whose holiday
    /// notice was not loaded).
    pub async fn written_case_as(&self, no: &str, (arrival_day, respond_by, reply_by): (i64, i64, i64), provisional: bool) -> String {
        let app = self;
        app.matter(no, true).await;
        let svc = app.service(no, "ZX-01").await;
        let m = app.state.db.find_matter(no).await.unwrap().unwrap();
        let seq = svc["seq"].as_i64().unwrap();
        let now = hcp_domain::Timestamp::now();
        let row = hcp_domain::records::Rating {
            id: uuid::Uuid::now_v7().to_string(),
            matter_id: m.id.clone(),
            matter_no: m.matter_no.clone(),
            service_seq: seq,
            assess_number: 1,
            follows_id: None,
            channel: hcp_domain::Channel::Pad,
            level: 1,
            indicators: String::new(),
            reasons: "105".into(),
            text: None,
            anonymous: true,
            rater_name: None,
            rater_phone: None,
            rater_id_number: None,
            rater_phone_ix: None,
            rater_from_applicant: false,
            unit_code: m.unit_code.clone(),
            item_code: m.item_code.clone(),
            window_code: Some("ZX-01".into()),
            staff_code: None,
            catalogue_version: 1,
            referral: false,
            rated_at: now.micros(),
            received_at: now.micros(),
            biz_day: now.biz_day(),
            credential_kind: "test".into(),
            credential_id: None,
            device_id: None,
            source_hash: None,
            client_type: "test".into(),
            seconds_after_service: None,
            ledger_seq: 0,
        };
        let day = |k: i64| hcp_domain::BizDay::from_key(k).unwrap();
        let (mut case, opened) = hcp_app::ratings::case_for(&app.state, &row).await.unwrap();
        case.arrival_day = day(arrival_day);
        case.respond_by = day(respond_by);
        case.reply_by = day(reply_by);
        case.provisional = provisional;
        let case_id = case.id.clone();
        let res = app
            .state
            .db
            .write_ratings(&[hcp_storage::ratings::NewRating { row, idempotency: None, case: Some((case, opened)) }])
            .await
            .unwrap();
        assert!(matches!(res[0], Ok(hcp_storage::ratings::RatingOutcome::Created { .. })));
        case_id
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        use sqlx::Row;
        match &self.state.db {
            Db::Sqlite(p) => sqlx::query(sql).fetch_one(p).await.unwrap().try_get::<i64, _>(0).unwrap(),
            Db::Pg(p) => sqlx::query(sql).fetch_one(p).await.unwrap().try_get::<i64, _>(0).unwrap(),
        }
    }
}

/// The token inside a rating URL.
pub fn token_of(rating_url: &Value) -> String {
    rating_url.as_str().unwrap().rsplit('/').next().unwrap().to_string()
}

/// Declares one test per engine: `both!(name, |app| async move { … })`.
#[macro_export]
macro_rules! both {
    ($name:ident, |$app:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = common::TestApp::start(common::Engine::Sqlite).await;
                let $app = $body;
                $app.finish().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $app = common::TestApp::start(common::Engine::Postgres).await;
                let $app = $body;
                $app.finish().await;
            }
        }
    };
}

impl Drop for TestApp {
    /// Cleans up whatever happened to the test: the server stopped, the PostgreSQL database dropped (on a thread
    /// of its own, as `Drop` cannot wait on the test's runtime). A test that ended without `finish` is checked
    /// here for jobs it left waiting, unless it is already failing.
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            h.abort();
        }
        let pg = self.pg_name.take();
        let url = self.db_url.clone();
        let expected = self.expected();
        let check = !self.checked && !std::thread::panicking();
        let left = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async move {
                let mut left = Vec::new();
                if check && let Ok(db) = Db::connect(&url).await {
                    left = db
                        .outbox_depth()
                        .await
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|(k, n)| *n > 0 && !k.starts_with("report_") && !expected.contains(k))
                        .collect();
                    db.close().await;
                }
                if let Some(name) = pg
                    && let Ok(admin) = Db::connect(&pg_admin_url()).await
                {
                    if let Db::Pg(pool) = &admin {
                        let _ =
                            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(pool).await;
                    }
                    admin.close().await;
                }
                Some(left)
            })
        })
        .join()
        .ok()
        .flatten()
        .unwrap_or_default();
        if !left.is_empty() {
            panic!("the test left jobs waiting that it did not expect: {left:?} (call expect_jobs if meant)");
        }
    }
}
