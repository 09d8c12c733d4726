use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use hcp_domain::Catalogue;
use hcp_domain::work_calendar::WorkCalendar;
use hcp_storage::Db;
use hcp_storage::keys::{ApiKey, hash_key};
use hcp_storage::master::MasterData;
use hcp_storage::pii::Secrets;
use hcp_storage::ratings::RatingWriter;

/// Settings the web layer needs. `public_base_url` is what QR codes and push links point at.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub public_base_url: String,
    /// How long after a service (or a matter's completion) it may still be rated.
    pub rating_window_days: i64,
    /// How far a device clock may run ahead of the server's before `rated_at` counts as in the future.
    pub max_clock_skew_secs: i64,
    /// `pf` code for channels without a national one (paper, business_system, province).
    pub other_pf: u8,
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
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            public_base_url: "http://127.0.0.1:8080".into(),
            rating_window_days: 30,
            max_clock_skew_secs: 300,
            other_pf: 9,
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
        }
    }
}

/// `(database, kind, CSV text)` → rows imported, or why the first bad row stopped it.
pub type MasterImport = fn(Db, String, String) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<usize, String>> + Send>>;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub writer: RatingWriter,
    pub secrets: Arc<Secrets>,
    pub catalogue: Arc<Catalogue>,
    pub config: Arc<WebConfig>,
    /// Verifies a password against its stored hash (argon2, supplied by the server).
    pub password_check: crate::api::session::PasswordCheck,
    /// Imports master data from CSV (`units`, `windows`, `items`, `staff`); supplied by the server, which owns
    /// the CSV reader the command line uses, so that the page and `haochaping import` are one code path.
    pub master_import: Option<MasterImport>,
    master: Arc<RwLock<Arc<MasterData>>>,
    keys: Arc<std::sync::Mutex<HashMap<String, (ApiKey, Instant)>>>,
    calendar: Arc<RwLock<(Arc<WorkCalendar>, Instant)>>,
    pub limiter: Arc<crate::guard::RateLimiter>,
    /// Tries per matter at the self-service terminal (four digits are few).
    pub kiosk_limiter: Arc<crate::guard::RateLimiter>,
    /// Open event streams per device key: a stolen key cannot open enough of them to load the database.
    pub device_streams: Arc<std::sync::Mutex<HashMap<String, usize>>>,
    /// Password hashing is deliberately slow: at most this many at once, off the async workers.
    pub password_slots: Arc<tokio::sync::Semaphore>,
}

/// How long the working-day calendar is used before it is read again (an import elsewhere shows within this time).
pub const CALENDAR_TTL: Duration = Duration::from_secs(60);

/// How long a machine key found in the database is trusted without asking again. A key revoked from
/// another process (or node) stops working within this time.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

impl AppState {
    pub async fn new(
        db: Db,
        secrets: Secrets,
        config: WebConfig,
        password_check: crate::api::session::PasswordCheck,
    ) -> Result<Self, hcp_storage::StoreError> {
        let catalogue = db.catalogue_in_force().await?;
        let master = db.load_master().await?;
        let calendar = db.ensure_calendar().await?;
        let writer = RatingWriter::start(db.dedicated());
        let per_minute = config.public_per_minute;
        Ok(AppState {
            db,
            writer,
            secrets: Arc::new(secrets),
            catalogue: Arc::new(catalogue),
            config: Arc::new(config),
            password_check,
            master_import: None,
            master: Arc::new(RwLock::new(Arc::new(master))),
            keys: Arc::new(std::sync::Mutex::new(HashMap::new())),
            calendar: Arc::new(RwLock::new((Arc::new(calendar), Instant::now()))),
            limiter: Arc::new(crate::guard::RateLimiter::new(per_minute)),
            kiosk_limiter: Arc::new(crate::guard::RateLimiter::new(5)),
            password_slots: Arc::new(tokio::sync::Semaphore::new(2)),
            device_streams: Arc::new(std::sync::Mutex::new(HashMap::new())),
        })
    }

    /// An unrevoked machine key, from a short-lived cache (only keys that exist are cached).
    pub async fn find_key(&self, key: &str) -> Result<Option<ApiKey>, hcp_storage::StoreError> {
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
    pub async fn reload_calendar(&self) -> Result<(), hcp_storage::StoreError> {
        let fresh = Arc::new(self.db.load_calendar().await?);
        match self.calendar.write() {
            Ok(mut g) => *g = (fresh, Instant::now()),
            Err(p) => *p.into_inner() = (fresh, Instant::now()),
        }
        Ok(())
    }

    /// The working-day calendar, re-read from the database at most every `CALENDAR_TTL`.
    pub async fn calendar(&self) -> Result<Arc<WorkCalendar>, hcp_storage::StoreError> {
        let cached = match self.calendar.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        if cached.1.elapsed() < CALENDAR_TTL {
            return Ok(cached.0);
        }
        let fresh = Arc::new(self.db.load_calendar().await?);
        match self.calendar.write() {
            Ok(mut g) => *g = (fresh.clone(), Instant::now()),
            Err(p) => *p.into_inner() = (fresh.clone(), Instant::now()),
        }
        Ok(fresh)
    }

    /// The cached master data.
    pub fn master(&self) -> Arc<MasterData> {
        match self.master.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Reloads master data from the database (after an import, or when a code is not in the cache).
    pub async fn reload_master(&self) -> Result<Arc<MasterData>, hcp_storage::StoreError> {
        let fresh = Arc::new(self.db.load_master().await?);
        match self.master.write() {
            Ok(mut g) => *g = fresh.clone(),
            Err(p) => *p.into_inner() = fresh.clone(),
        }
        Ok(fresh)
    }

    /// Master data that knows `unit_code` (reloading once if the cache does not).
    pub async fn master_with_unit(&self, unit_code: &str) -> Result<Arc<MasterData>, hcp_storage::StoreError> {
        let m = self.master();
        if m.units.contains_key(unit_code) { Ok(m) } else { self.reload_master().await }
    }
}
