//! The gateway's public base URL, for the absolute URLs it writes into bodies (problem `type`s,
//! the OAuth metadata). Configured as `gateway.public_url`; when unset, taken from the request's
//! `Host` (plain `http`), which suits the sandbox and local runs. A `Host` that is not a plain
//! host[:port] falls back to `localhost`, so no caller-chosen text lands in a URL.

use std::sync::Arc;

use axum::http::{header, HeaderMap};

/// `gateway.public_url` as router state (empty: from the request's `Host`).
#[derive(Debug, Clone, Default)]
pub struct PublicUrl(pub Arc<str>);

impl PublicUrl {
    /// Whether `gateway.public_url` is set (else links follow the request's `Host`).
    pub fn is_configured(&self) -> bool {
        !self.0.trim().is_empty()
    }

    pub fn resolve(&self, headers: &HeaderMap) -> String {
        base(&self.0, headers)
    }
}

pub fn base(configured: &str, headers: &HeaderMap) -> String {
    let configured = configured.trim().trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn configured_wins_and_host_is_checked() {
        let mut h = HeaderMap::new();
        assert_eq!(
            base("https://api.example.com/", &h),
            "https://api.example.com"
        );
        assert_eq!(base("", &h), "http://localhost");
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert_eq!(base("", &h), "http://127.0.0.1:8080");
        h.insert(header::HOST, HeaderValue::from_static("evil.example/x?"));
        assert_eq!(base("", &h), "http://localhost");
    }
}
