//! The upstream layer's one error type. Every failure talking to Entra or Dataverse becomes one of
//! these variants; the API layer maps them to partner-facing problems in one place.

use std::fmt;
use std::time::Duration;

/// A failed call to the Entra token endpoint, parsed from its error body
/// (docs/entra-client-credentials.md#token-errors). Holds no secret: `summary` is the first line of
/// `error_description` (the `AADSTS…: text` part, without trace/correlation ids), truncated, its
/// quoted identifiers redacted (`redact_identifiers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEndpointError {
    /// HTTP status from the token endpoint (0 when no response was received).
    pub status: u16,
    /// OAuth `error` (e.g. `invalid_client`), or `http_<status>` when the body was not an OAuth error.
    pub error: String,
    /// The AADSTS code (`error_codes[0]`, else parsed from the description).
    pub aadsts: Option<u32>,
    pub summary: String,
}

impl fmt::Display for TokenEndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "token endpoint returned {} ({})",
            self.status, self.error
        )?;
        if let Some(code) = self.aadsts {
            write!(f, " AADSTS{code}")?;
        }
        if !self.summary.is_empty() {
            write!(f, ": {}", self.summary)?;
        }
        Ok(())
    }
}

/// Entra's messages quote the identifiers they were sent (`Application with identifier '…' was
/// not found`, AADSTS700016). With `client_id` and `client_secret` swapped that identifier is the
/// secret, and the message is logged: every quoted value becomes `'***'`.
pub fn redact_identifiers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('\'') {
        let Some(len) = rest[open + 1..].find('\'') else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str("'***'");
        rest = &rest[open + 1 + len + 1..];
    }
    out.push_str(rest);
    out
}

/// Who refused a call as throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottledBy {
    /// Dataverse answered 429: the call reached it.
    Dataverse,
    /// The gateway, without sending the call: an earlier 429's pause (this replica's or another's)
    /// or the reported budget lasts past the call's deadline.
    Gateway,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UpstreamError {
    /// Dataverse refused the token even after one fresh token was fetched.
    #[error("Dataverse rejected the access token")]
    Unauthorized,
    #[error("Dataverse denied access ({code}): {message}")]
    Forbidden { code: String, message: String },
    #[error("Dataverse resource not found ({code}): {message}")]
    NotFound { code: String, message: String },
    #[error("Dataverse rejected the request ({code}): {message}")]
    BadRequest { code: String, message: String },
    /// Other 4xx answers (405, 409, 412, 413 ...), kept with their status.
    #[error("Dataverse refused the request with {status} ({code}): {message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
    /// 429 that was not retried: a write, the pause outlasts the caller's deadline, or the retry
    /// budget is spent. Also returned without a wire call while upstream is paused after a 429, or
    /// while the reported budget is spent (`by` says which): the partner gets the same 429 either
    /// way, but only Dataverse's own feeds the pause, the cluster, the metric and the pacing.
    #[error("Dataverse throttled the request (retry after {retry_after:?})")]
    Throttled {
        retry_after: Option<Duration>,
        by: ThrottledBy,
    },
    /// The circuit breaker is open after repeated failures: no call was sent.
    #[error("Dataverse is unavailable after repeated failures (circuit open, retry after {retry_after:?})")]
    CircuitOpen { retry_after: Duration },
    /// The gateway's upstream concurrency cap stayed full for the whole bounded wait.
    #[error("too many upstream calls queued (waited {waited:?})")]
    Overloaded { waited: Duration },
    /// 502/503/504 from Dataverse (or what fronts it): it is not there right now.
    #[error("Dataverse unavailable (HTTP {status})")]
    Unavailable { status: u16 },
    /// Another 5xx (500 above all): Dataverse is there and failed this request.
    #[error("Dataverse failed the request with {status} ({code})")]
    ServerError { status: u16, code: String },
    #[error("upstream call timed out")]
    Timeout,
    /// Connection-level failure; the text never contains the URL (it may hold partner input).
    #[error("network error talking to upstream: {0}")]
    Network(String),
    #[error("{0}")]
    TokenEndpoint(TokenEndpointError),
    /// A response that does not have the shape Dataverse documents.
    #[error("unexpected upstream response: {0}")]
    BadResponse(String),
    /// The caller asked for something this layer refuses to send (non-finite number, empty `In`,
    /// a nextLink to a foreign origin, a bad path).
    #[error("invalid upstream request: {0}")]
    InvalidRequest(String),
    /// Bad credential or client configuration (unparseable certificate, bad URL ...).
    #[error("upstream configuration error: {0}")]
    Config(String),
}

impl UpstreamError {
    /// Whether the same request may succeed if tried again later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Throttled { .. }
                | Self::CircuitOpen { .. }
                | Self::Overloaded { .. }
                | Self::Unavailable { .. }
                | Self::ServerError { .. }
                | Self::Timeout
                | Self::Network(_)
        )
    }

    /// Refused by the gateway before any wire call: Dataverse never saw the call (so it costs
    /// nothing of its budget and says nothing about it).
    pub fn never_sent(&self) -> bool {
        matches!(
            self,
            Self::Throttled {
                by: ThrottledBy::Gateway,
                ..
            } | Self::CircuitOpen { .. }
                | Self::Overloaded { .. }
                | Self::TokenEndpoint(_)
                | Self::InvalidRequest(_)
                | Self::Config(_)
        )
    }

    /// A failure that says Dataverse is unhealthy (the circuit breaker counts these): 5xx,
    /// timeouts and connection errors. Refusals (4xx) and throttling are answers, not outages.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. } | Self::ServerError { .. } | Self::Timeout | Self::Network(_)
        )
    }

    /// The `status` label of the upstream metrics: the HTTP status when one came back (three
    /// digits, so bounded), else why not.
    pub fn status_label(&self) -> String {
        let fixed = match self {
            Self::Unauthorized => "401",
            Self::Forbidden { .. } => "403",
            Self::NotFound { .. } => "404",
            Self::BadRequest { .. } => "400",
            Self::Throttled { .. } => "429",
            Self::Rejected { status, .. }
            | Self::Unavailable { status }
            | Self::ServerError { status, .. } => return status.to_string(),
            Self::Timeout => "timeout",
            Self::Network(_) => "network",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::Overloaded { .. } => "overloaded",
            Self::TokenEndpoint(_) => "token_error",
            Self::BadResponse(_) => "bad_response",
            Self::InvalidRequest(_) | Self::Config(_) => "not_sent",
        };
        fixed.to_string()
    }

    /// Maps a reqwest failure without leaking the request URL.
    pub(crate) fn from_reqwest(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            Self::Timeout
        } else {
            Self::Network(err.without_url().to_string())
        }
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::redact_identifiers;

    #[test]
    fn quoted_identifiers_are_redacted() {
        assert_eq!(
            redact_identifiers("AADSTS700016: Application with identifier 's3cr3t~x' was not found in the directory 'Contoso'."),
            "AADSTS700016: Application with identifier '***' was not found in the directory '***'."
        );
        assert_eq!(redact_identifiers("no quotes"), "no quotes");
        assert_eq!(redact_identifiers("one ' only"), "one ' only");
    }
}
