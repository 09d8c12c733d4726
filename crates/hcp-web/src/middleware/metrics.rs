//! Prometheus metrics: requests by route and status (here), and what the application records (ratings
//! accepted by channel, the writer's batch sizes and latency, case steps, notification failures), with the
//! gauges read at each scrape (outbox depth by kind, open and overdue cases).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
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

/// Counts each request by its route (never the raw path: it may carry a token) and status, and times it.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("hcp_http_requests_total", "route" => route.clone(), "method" => method, "status" => status).increment(1);
    metrics::histogram!("hcp_http_request_seconds", "route" => route).record(started.elapsed().as_secs_f64());
    resp
}
