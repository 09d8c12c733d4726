//! A token bucket per key (a client address, an account, a matter at the kiosk): `per_minute` requests,
//! refilled continuously. In memory, per node.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter { per_minute: f64::from(per_minute.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request's worth for `key`; `false` when the key has none left.
    pub fn allow(&self, key: &str) -> bool {
        let Ok(mut b) = self.buckets.lock() else { return true };
        let now = Instant::now();
        if b.len() > 50_000 {
            // Forget full buckets rather than grow without bound under a flood of distinct keys.
            let per = self.per_minute;
            b.retain(|_, (tokens, at)| *tokens + at.elapsed().as_secs_f64() * per / 60.0 < per);
        }
        let entry = b.entry(key.to_string()).or_insert((self.per_minute, now));
        let refill = now.duration_since(entry.1).as_secs_f64() * self.per_minute / 60.0;
        entry.0 = (entry.0 + refill).min(self.per_minute);
        entry.1 = now;
        if entry.0 >= 1.0 {
            entry.0 -= 1.0;
            true
        } else {
            false
        }
    }
}
