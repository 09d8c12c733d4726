//! Prometheus metrics: requests by route and status (here), and what the application records (ratings
//! accepted by channel, the writer's batch sizes and latency, case steps, notification failures), with the
//! gauges read at each scrape (outbox depth by kind, open and overdue cases).

use std::collections::HashSet;
use std::sync::{OnceLock, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub type Exporter = PrometheusHandle;

static EXPORTER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's exporter, installed as the metrics recorder on first use (one per process, shared by every
/// application a test process starts).
pub fn exporter() -> Option<PrometheusHandle> {
    EXPORTER
        .get_or_init(|| {
            let seconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
            let sizes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full("hcp_writer_batch_size".into()), &sizes));
            match builder.and_then(|b| b.install_recorder()) {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .clone()
}

/// The routes' templates as labels, made once each (there are a few dozen): a request then allocates none.
static ROUTES: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();

fn route_label(route: &str) -> &'static str {
    let routes = ROUTES.get_or_init(|| RwLock::new(HashSet::new()));
    if let Some(r) = routes.read().ok().and_then(|m| m.get(route).copied()) {
        return r;
    }
    let Ok(mut m) = routes.write() else { return "unknown" };
    if let Some(r) = m.get(route) {
        return r;
    }
    if m.len() >= 256 {
        return "other";
    }
    let label: &'static str = Box::leak(route.to_string().into_boxed_str());
    m.insert(label);
    label
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts each request by its route (never the raw path: it may carry a token), method and status, and times it.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| route_label(p.as_str())).unwrap_or("unmatched");
    let method = method_label(req.method());
    let started = Instant::now();
    let resp = next.run(req).await;
    let status: &'static str = match resp.status().as_u16() {
        200 => "200",
        201 => "201",
        204 => "204",
        303 => "303",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        409 => "409",
        422 => "422",
        429 => "429",
        500 => "500",
        503 => "503",
        _ => "other",
    };
    metrics::counter!("hcp_http_requests_total", "route" => route, "method" => method, "status" => status).increment(1);
    metrics::histogram!("hcp_http_request_seconds").record(started.elapsed().as_secs_f64());
    resp
}
