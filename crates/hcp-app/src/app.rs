//! The application: what every use case works with (the database, the rating writer, the keys of personal
//! data, the catalogue in force, the rules' settings) and the caches shared by all requests of a node.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use hcp_domain::Catalogue;
use hcp_domain::master::MasterData;
use hcp_domain::work_calendar::WorkCalendar;
use hcp_storage::Db;
use hcp_storage::keys::{ApiKey, hash_key};
use hcp_storage::pii::Secrets;
use hcp_storage::ratings::RatingWriter;

use crate::error::AppResult;
use crate::limiter::RateLimiter;

/// The settings of the rules and of the service. `public_base_url` is what QR codes and links point at.
#[derive(Debug, Clone)]
pub struct Config {
    pub public_base_url: String,
    /// How long after a service (or a matter's completion) it may still be rated.
    pub rating_window_days: i64,
    /// How far a device clock may run ahead of the server's before `rated_at` counts as in the future.
    pub max_clock_skew_secs: i64,
    /// The `pf` code each channel is reported with (national order by default; channels without a national
    /// code get 9 unless configured).
    pub pf_codes: hcp_domain::channel::PfCodes,
    /// Working days to respond to and to reply on a bad review (the plan: 1 and 5).
    pub deadline_rule: hcp_domain::cases::DeadlineRule,
    /// How often a case may be reopened and extended, and how far.
    pub loop_limits: hcp_domain::case_flow::LoopLimits,
    /// Whether a pending 复核 stops the reply clock (the days it was pending are added back when it is rejected).
    pub appeal_stops_clock: bool,
    /// Days the rater's feedback link stays valid after the reply (verdict and 追评).
    pub feedback_days: i64,
    /// The sender's name in notifications, e.g. 陇县政务服务.
    pub sender_name: String,
    /// A staff session ends after this long unused, and in any case after `session_ttl_secs`.
    pub session_idle_secs: i64,
    pub session_ttl_secs: i64,
    /// Administrator roles must sign in with a second factor (TOTP).
    pub admin_second_factor: bool,
    /// Proxies whose `X-Forwarded-For` is believed; from anyone else the header is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Public submissions (complaints, rating and feedback forms, sign-in attempts) allowed per client and minute.
    pub public_per_minute: u32,
    /// The window device returns to its welcome screen after this long without a press.
    pub device_idle_secs: u32,
    /// Presses on the window device closer together than this are ignored (a double tap is one rating).
    pub device_min_press_ms: u32,
    /// How recent a service must be for the window device to offer it for rating.
    pub device_offer_minutes: i64,
    /// When set, `/metrics` answers only a bearer of this token.
    pub metrics_token: Option<String>,
    /// The county's 行政区划代码 as the provincial records carry it (12 digits).
    pub area_code: String,
    /// The 数据来源 code the province assigned (3 digits).
    pub data_source: String,
    /// Where this node sends provincial records (shown to administrators; the worker holds the link itself).
    pub province_url: Option<String>,
    /// Invite the applicant to rate by SMS when a matter is completed (S-5).
    pub invite_by_sms: bool,
    /// Days after the invitation when one reminder goes to a matter still unrated (0: no reminder).
    pub invite_reminder_days: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            public_base_url: "http://127.0.0.1:8080".into(),
            rating_window_days: 30,
            max_clock_skew_secs: 300,
            pf_codes: hcp_domain::channel::PfCodes::default(),
            deadline_rule: hcp_domain::cases::DeadlineRule::default(),
            loop_limits: hcp_domain::case_flow::LoopLimits::default(),
            appeal_stops_clock: false,
            feedback_days: 30,
            sender_name: "政务服务好差评".into(),
            session_idle_secs: 30 * 60,
            session_ttl_secs: 8 * 3600,
            admin_second_factor: true,
            trusted_proxies: Vec::new(),
            public_per_minute: 30,
            device_idle_secs: 60,
            device_min_press_ms: 800,
            device_offer_minutes: 30,
            metrics_token: None,
            area_code: "610327000000".into(),
            data_source: "999".into(),
            province_url: None,
            invite_by_sms: true,
            invite_reminder_days: 3,
        }
    }
}

/// The application, shared by every request of a node: one reference count to clone (a request clones it
/// once per middleware and extractor).
#[derive(Clone)]
pub struct App(Arc<AppInner>);

impl std::ops::Deref for App {
    type Target = AppInner;

    fn deref(&self) -> &AppInner {
        &self.0
    }
}

pub struct AppInner {
    pub db: Db,
    pub writer: RatingWriter,
    pub secrets: Arc<Secrets>,
    pub catalogue: Arc<Catalogue>,
    pub config: Arc<Config>,
    master: Arc<RwLock<Arc<MasterData>>>,
    keys: Arc<std::sync::Mutex<HashMap<String, (ApiKey, Instant)>>>,
    calendar: Arc<RwLock<(Arc<WorkCalendar>, Instant)>>,
    /// Sign-in attempts per account (on top of the per-address limit of the web).
    pub account_limiter: Arc<RateLimiter>,
    /// Tries per matter at the self-service terminal (four digits are few).
    pub kiosk_limiter: Arc<RateLimiter>,
    /// Password hashing is deliberately slow: at most this many at once, off the async workers.
    pub password_slots: Arc<tokio::sync::Semaphore>,
}

/// How long the working-day calendar is used before it is read again (an import elsewhere shows within this time).
pub const CALENDAR_TTL: Duration = Duration::from_secs(60);

/// How long a machine key found in the database is trusted without asking again. A key revoked from
/// another process (or node) stops working within this time.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

fn read<T: Clone>(lock: &RwLock<T>) -> T {
    match lock.read() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

fn write<T>(lock: &RwLock<T>, value: T) {
    match lock.write() {
        Ok(mut g) => *g = value,
        Err(p) => *p.into_inner() = value,
    }
}

impl App {
    /// Prepares a migrated database for service (the default catalogue and calendar on first start) and
    /// starts the rating writer.
    pub async fn new(db: Db, secrets: Secrets, config: Config) -> AppResult<Self> {
        let catalogue = crate::settings::ensure_catalogue(&db).await?;
        let calendar = crate::settings::ensure_calendar(&db).await?;
        let master = db.load_master().await?;
        let writer = RatingWriter::start(db.dedicated());
        let per_minute = config.public_per_minute;
        Ok(App(Arc::new(AppInner {
            db,
            writer,
            secrets: Arc::new(secrets),
            catalogue: Arc::new(catalogue),
            config: Arc::new(config),
            master: Arc::new(RwLock::new(Arc::new(master))),
            keys: Arc::new(std::sync::Mutex::new(HashMap::new())),
            calendar: Arc::new(RwLock::new((Arc::new(calendar), Instant::now()))),
            account_limiter: Arc::new(RateLimiter::new(per_minute)),
            kiosk_limiter: Arc::new(RateLimiter::new(5)),
            password_slots: Arc::new(tokio::sync::Semaphore::new(2)),
        })))
    }

    /// An unrevoked machine key, from a short-lived cache (only keys that exist are cached).
    pub async fn find_key(&self, key: &str) -> AppResult<Option<ApiKey>> {
        if key.len() > 200 {
            return Ok(None);
        }
        let h = hash_key(key);
        if let Ok(cache) = self.keys.lock()
            && let Some((k, at)) = cache.get(&h)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(Some(k.clone()));
        }
        let found = self.db.find_api_key(key).await?;
        if let Ok(mut cache) = self.keys.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            match &found {
                Some(k) => {
                    cache.insert(h, (k.clone(), Instant::now()));
                }
                None => {
                    cache.remove(&h);
                }
            }
        }
        Ok(found)
    }

    /// Forgets cached keys (after a revocation in this process).
    pub fn forget_keys(&self) {
        if let Ok(mut cache) = self.keys.lock() {
            cache.clear();
        }
    }

    /// Reads the calendar again now (after an import in this process).
    pub async fn reload_calendar(&self) -> AppResult<()> {
        write(&self.calendar, (Arc::new(self.db.load_calendar().await?), Instant::now()));
        Ok(())
    }

    /// The working-day calendar, re-read from the database at most every `CALENDAR_TTL`.
    pub async fn calendar(&self) -> AppResult<Arc<WorkCalendar>> {
        let cached = read(&self.calendar);
        if cached.1.elapsed() < CALENDAR_TTL {
            return Ok(cached.0);
        }
        let fresh = Arc::new(self.db.load_calendar().await?);
        write(&self.calendar, (fresh.clone(), Instant::now()));
        Ok(fresh)
    }

    /// The cached master data.
    pub fn master(&self) -> Arc<MasterData> {
        read(&self.master)
    }

    /// Reloads master data from the database (after an import, or when a code is not in the cache).
    pub async fn reload_master(&self) -> AppResult<Arc<MasterData>> {
        let fresh = Arc::new(self.db.load_master().await?);
        write(&self.master, fresh.clone());
        Ok(fresh)
    }

    /// Master data that knows `unit_code` (reloading once if the cache does not).
    pub async fn master_with_unit(&self, unit_code: &str) -> AppResult<Arc<MasterData>> {
        let m = self.master();
        if m.units.contains_key(unit_code) { Ok(m) } else { self.reload_master().await }
    }

    /// A signed link to the rating page for one matter (`seq` 0) or one service occasion, valid for the
    /// rating window counted from `from`.
    pub fn rating_url(&self, matter_no: &str, seq: i64, from: hcp_domain::Timestamp, channel: hcp_domain::Channel) -> String {
        let expires = from.plus_seconds(self.config.rating_window_days * 86_400).micros() / 1_000_000;
        let token = hcp_domain::token::RatingToken::new(matter_no, seq, expires, channel).sign(self.secrets.token_key());
        format!("{}/r/{}", self.config.public_base_url.trim_end_matches('/'), token)
    }

    /// The rater's feedback link for a case, valid for the configured number of days.
    pub fn feedback_url(&self, case_id: &str) -> String {
        let token = hcp_domain::token::FeedbackToken {
            case_id: case_id.to_string(),
            expires_unix: hcp_domain::Timestamp::now().plus_seconds(self.config.feedback_days * 86_400).micros() / 1_000_000,
        }
        .sign(self.secrets.token_key());
        format!("{}/f/{token}", self.config.public_base_url.trim_end_matches('/'))
    }

    /// Decrypts an envelope, or `***` when it cannot be read (shown masked anyway).
    pub(crate) fn reveal(&self, envelope: &[u8]) -> String {
        self.secrets.decrypt(envelope).unwrap_or_else(|_| "***".into())
    }
}
