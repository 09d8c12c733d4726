//! What stands in front of every handler, one concern a file: the request id, security headers, rate limits
//! on public submissions, the audit of changes and refusals, and the HTTP metrics.

pub mod audit;
pub mod metrics;
pub mod rate_limit;
pub mod request_id;
pub mod security_headers;

/// A request path fit for logs and the audit trail: rating and feedback tokens are credentials, so their
/// segment is cut.
pub fn loggable_path(path: &str) -> String {
    for prefix in ["/r/", "/f/", "/api/v1/feedback/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
            return format!("{prefix}…{tail}");
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_do_not_reach_the_logs() {
        assert_eq!(super::loggable_path("/f/0193.1798604363.eqipkZUV"), "/f/…");
        assert_eq!(super::loggable_path("/api/v1/feedback/0193.17.sig/verdict"), "/api/v1/feedback/…/verdict");
        assert_eq!(super::loggable_path("/r/M-1.0.99.sig"), "/r/…");
        assert_eq!(super::loggable_path("/api/v1/cases"), "/api/v1/cases");
    }
}
