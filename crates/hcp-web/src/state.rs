//! What every handler shares: the application (the use cases' context) and what only the web needs — the
//! per-address rate limiter, the count of open device streams, the metrics exporter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hcp_app::App;
use hcp_app::limiter::RateLimiter;

/// Shared by every request: one reference count to clone.
#[derive(Clone)]
pub struct AppState(Arc<WebState>);

pub struct WebState {
    pub app: App,
    /// Public submissions allowed per client address and minute.
    pub limiter: Arc<RateLimiter>,
    /// Open event streams per device key: a stolen key cannot open enough of them to load the database.
    pub device_streams: Arc<Mutex<HashMap<String, usize>>>,
    /// Renders `/metrics` (Prometheus text format); `None` where metrics are off.
    pub metrics: Option<crate::middleware::metrics::Exporter>,
}

impl AppState {
    pub fn new(app: App) -> Self {
        let per_minute = app.config.public_per_minute;
        AppState(Arc::new(WebState {
            app,
            limiter: Arc::new(RateLimiter::new(per_minute)),
            device_streams: Arc::new(Mutex::new(HashMap::new())),
            metrics: crate::middleware::metrics::exporter(),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = WebState;

    fn deref(&self) -> &WebState {
        &self.0
    }
}

impl std::ops::Deref for WebState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}
