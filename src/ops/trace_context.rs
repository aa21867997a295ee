//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): a partner's `traceparent` (and
//! `tracestate`) is accepted when it is valid and otherwise ignored: the request then starts a new
//! trace, never an error for the partner (a bad header must not fail a request it only annotates).
//! The gateway's own span for the request gets a fresh span id; its trace is answered in
//! `traceresponse` (`00-{trace-id}-{gateway span id}-{flags}`, Trace Context Level 2) and is a
//! task-local for the request, so the upstream client sends every call as a child span (same
//! trace id, a new parent id per call, the sampled flag kept) without handlers passing it on.
//! Background work (the change scanner, webhook deliveries) runs under roots of its own.

use std::future::Future;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";
pub const TRACERESPONSE: &str = "traceresponse";

/// The sampled flag: the only flag version 00 defines; others are not propagated (§3.2.2.5).
const SAMPLED: u8 = 0x01;
/// A `tracestate` is propagated whole or not at all; the specification asks vendors to carry at
/// least 512 characters and at most 32 list members.
const MAX_TRACESTATE_CHARS: usize = 512;
const MAX_TRACESTATE_MEMBERS: usize = 32;

/// One trace as the gateway takes part in it: the trace id, the gateway's span in it, the sampled
/// flag and the caller's `tracestate` (validated, forwarded unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: u128,
    span_id: u64,
    /// The caller's span (its `traceparent` parent id), when it sent a valid one.
    parent_id: Option<u64>,
    sampled: bool,
    tracestate: Option<Arc<str>>,
}

impl TraceContext {
    /// A new trace (no valid caller context): random ids, sampled (the gateway records it).
    pub fn new_root() -> Self {
        Self {
            trace_id: nonzero_u128(),
            span_id: new_span_id(),
            parent_id: None,
            sampled: true,
            tracestate: None,
        }
    }

    /// The caller's trace when its `traceparent` is valid (its `tracestate` with it, when that is
    /// valid too), else a new root. The gateway's span is always a new one.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut parents = headers.get_all(TRACEPARENT).iter();
        let parent = match (parents.next(), parents.next()) {
            (Some(v), None) => parse_traceparent(v.as_bytes()),
            // Absent, or repeated (which of them would be the parent?).
            _ => None,
        };
        let Some(parent) = parent else {
            return Self::new_root();
        };
        Self {
            trace_id: parent.trace_id,
            span_id: new_span_id(),
            parent_id: Some(parent.parent_id),
            sampled: parent.flags & SAMPLED != 0,
            tracestate: parse_tracestate(headers).map(Into::into),
        }
    }

    /// The trace id as the header writes it (32 lowercase hex digits): what logs carry.
    pub fn trace_id(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// The gateway's span id (16 lowercase hex digits).
    pub fn span_id(&self) -> String {
        format!("{:016x}", self.span_id)
    }

    /// The ids as numbers (OpenTelemetry export): trace, the gateway's span, the caller's span.
    pub fn ids(&self) -> (u128, u64, Option<u64>) {
        (self.trace_id, self.span_id, self.parent_id)
    }

    pub fn sampled(&self) -> bool {
        self.sampled
    }

    fn flags(&self) -> u8 {
        if self.sampled {
            SAMPLED
        } else {
            0
        }
    }

    /// This trace with the gateway's span as the parent: `traceresponse` of a request (the span
    /// that answered), `traceparent` of a webhook delivery (the span that sent it).
    pub fn traceresponse(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id(),
            self.span_id(),
            self.flags()
        )
    }

    /// `traceparent` for one outgoing call, the call's own span (`new_span_id`): same trace and
    /// flag.
    pub fn child_traceparent(&self, span_id: u64) -> String {
        format!("00-{}-{span_id:016x}-{:02x}", self.trace_id(), self.flags())
    }

    /// The caller's `tracestate`, to forward unchanged.
    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }
}

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// Runs `fut` with `cx` as the current trace.
pub async fn scope<F: Future>(cx: TraceContext, fut: F) -> F::Output {
    CURRENT.scope(cx, fut).await
}

/// The current trace; `None` outside a request or background unit of work (and in a task spawned
/// off one, such as a cache refresh).
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Middleware (`from_fn`), outside the trace span so the span can carry the trace id: the trace
/// in the request extensions and current for the request; `traceresponse` on every answer.
pub async fn accept(mut req: Request, next: Next) -> Response {
    let cx = TraceContext::from_headers(req.headers());
    req.extensions_mut().insert(cx.clone());
    let answer = HeaderValue::from_str(&cx.traceresponse());
    let mut resp = scope(cx, next.run(req)).await;
    if let Ok(v) = answer {
        resp.headers_mut().insert(TRACERESPONSE, v);
    }
    resp
}

struct Parent {
    trace_id: u128,
    parent_id: u64,
    flags: u8,
}

/// `traceparent` per §3.2 and the processing model (§4.3): version 00 is exactly
/// `00-{32 hex}-{16 hex}-{2 hex}`, lowercase only, trace id and parent id not all zero. A later
/// version (not `ff`) is read as version 00 when its first 55 characters have that shape and
/// anything after them starts with `-`.
fn parse_traceparent(v: &[u8]) -> Option<Parent> {
    let version = lower_hex(v.get(0..2)?)?;
    if version == "ff" {
        return None;
    }
    let head = match (version, v.len()) {
        ("00", 55) => v,
        ("00", _) => return None,
        (_, n) if n == 55 || (n > 55 && v[55] == b'-') => &v[..55],
        _ => return None,
    };
    if head[2] != b'-' || head[35] != b'-' || head[52] != b'-' {
        return None;
    }
    let trace_id = u128::from_str_radix(lower_hex(&head[3..35])?, 16).ok()?;
    let parent_id = u64::from_str_radix(lower_hex(&head[36..52])?, 16).ok()?;
    let flags = u8::from_str_radix(lower_hex(&head[53..55])?, 16).ok()?;
    (trace_id != 0 && parent_id != 0).then_some(Parent {
        trace_id,
        parent_id,
        flags,
    })
}

/// `s` when it is all lowercase hex digits.
fn lower_hex(s: &[u8]) -> Option<&str> {
    s.iter()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        .then(|| std::str::from_utf8(s).ok())
        .flatten()
}

/// All `tracestate` headers as one list (§3.3.1: several headers are one list, joined by commas),
/// members trimmed, empty ones dropped. `None` when absent or when any member is invalid, a key
/// repeats, or the list is too long: a caller's state is forwarded intact or not at all.
fn parse_tracestate(headers: &HeaderMap) -> Option<String> {
    let mut members: Vec<&str> = Vec::new();
    for v in headers.get_all(TRACESTATE) {
        let v = v.to_str().ok()?;
        for m in v.split(',') {
            let m = m.trim_matches([' ', '\t']);
            if !m.is_empty() {
                members.push(m);
            }
        }
    }
    if members.is_empty() || members.len() > MAX_TRACESTATE_MEMBERS {
        return None;
    }
    let mut keys = std::collections::HashSet::new();
    for m in &members {
        let (key, value) = m.split_once('=')?;
        if !valid_key(key) || !valid_value(value) || !keys.insert(key) {
            return None;
        }
    }
    let joined = members.join(",");
    (joined.len() <= MAX_TRACESTATE_CHARS).then_some(joined)
}

/// `simple-key` (lcalpha, then up to 255 of lcalpha / digit / `_-*/`) or `tenant-id@system-id`
/// (tenant: lcalpha or digit, then up to 240; system: lcalpha, then up to 13).
fn valid_key(key: &str) -> bool {
    let rest = |s: &[u8], max: usize| {
        s.len() <= max
            && s.iter().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'_' | b'-' | b'*' | b'/')
            })
    };
    match key.split_once('@') {
        None => {
            let k = key.as_bytes();
            k.first().is_some_and(u8::is_ascii_lowercase) && rest(&k[1..], 255)
        }
        Some((tenant, system)) => {
            let (t, s) = (tenant.as_bytes(), system.as_bytes());
            t.first()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && rest(&t[1..], 240)
                && s.first().is_some_and(u8::is_ascii_lowercase)
                && rest(&s[1..], 13)
        }
    }
}

/// 1 to 256 printable ASCII characters but `,` and `=`, not ending in a space.
fn valid_value(value: &str) -> bool {
    let v = value.as_bytes();
    (1..=256).contains(&v.len())
        && v.iter()
            .all(|b| matches!(b, 0x20..=0x7e) && *b != b',' && *b != b'=')
        && v.last() != Some(&b' ')
}

/// A random, non-zero span id.
pub fn new_span_id() -> u64 {
    loop {
        let id: u64 = rand::random();
        if id != 0 {
            return id;
        }
    }
}

fn nonzero_u128() -> u128 {
    loop {
        let id: u128 = rand::random();
        if id != 0 {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn a_valid_parent_keeps_trace_and_sampled_flag_with_a_new_span() {
        let cx = TraceContext::from_headers(&headers(&[(TRACEPARENT, VALID)]));
        assert_eq!(cx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(cx.span_id(), "00f067aa0ba902b7");
        assert!(cx.traceresponse().ends_with("-01"));
        let unsampled = VALID.replace("-01", "-00");
        let cx = TraceContext::from_headers(&headers(&[(TRACEPARENT, &unsampled)]));
        assert!(cx.child_traceparent(new_span_id()).ends_with("-00"));
        // Unknown flags are not propagated.
        let other = VALID.replace("-01", "-ff");
        let cx = TraceContext::from_headers(&headers(&[(TRACEPARENT, &other)]));
        assert!(cx.child_traceparent(new_span_id()).ends_with("-01"));
    }

    #[test]
    fn each_child_has_its_own_parent_id() {
        let cx = TraceContext::from_headers(&headers(&[(TRACEPARENT, VALID)]));
        let (a, b) = (
            cx.child_traceparent(new_span_id()),
            cx.child_traceparent(new_span_id()),
        );
        assert_eq!(a.len(), 55);
        assert_eq!(a[..36], b[..36]);
        assert_ne!(a[36..52], b[36..52]);
        assert!(parse_traceparent(a.as_bytes()).is_some());
    }

    #[test]
    fn invalid_parents_are_ignored() {
        for bad in [
            "",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(parse_traceparent(bad.as_bytes()).is_none(), "{bad}");
            let cx = TraceContext::from_headers(&headers(&[
                (TRACEPARENT, bad),
                (TRACESTATE, "vendor=x"),
            ]));
            assert_ne!(cx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736", "{bad}");
            assert_eq!(cx.tracestate(), None, "state without a valid parent: {bad}");
        }
        // Two parents: neither is taken.
        let cx =
            TraceContext::from_headers(&headers(&[(TRACEPARENT, VALID), (TRACEPARENT, VALID)]));
        assert_ne!(cx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn a_later_version_is_read_as_version_00() {
        let v = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds";
        assert_eq!(
            parse_traceparent(v.as_bytes()).map(|p| p.trace_id),
            Some(0x4bf92f3577b34da6a3ce929d0e0e4736)
        );
        let glued = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x";
        assert!(parse_traceparent(glued.as_bytes()).is_none());
    }

    #[test]
    fn new_roots_are_distinct_and_sampled() {
        let (a, b) = (TraceContext::new_root(), TraceContext::new_root());
        assert_ne!(a.trace_id(), b.trace_id());
        assert_eq!(a.trace_id().len(), 32);
        assert!(a.traceresponse().ends_with("-01"));
        assert!(parse_traceparent(a.traceresponse().as_bytes()).is_some());
    }

    #[test]
    fn tracestate_is_kept_whole_when_valid() {
        let cx = TraceContext::from_headers(&headers(&[
            (TRACEPARENT, VALID),
            (TRACESTATE, "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"),
            (TRACESTATE, ",acme@ats=v 1"),
        ]));
        assert_eq!(
            cx.tracestate(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,acme@ats=v 1")
        );
        for bad in [
            "Rojo=1",
            "rojo=1,rojo=2",
            "rojo",
            "rojo=a,b",
            "rojo=",
            "rojo=a=b",
            "1abc=x",
            "a@Sys=x",
        ] {
            let cx =
                TraceContext::from_headers(&headers(&[(TRACEPARENT, VALID), (TRACESTATE, bad)]));
            assert_eq!(cx.tracestate(), None, "{bad}");
            assert_eq!(cx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        }
        let many = (0..33)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        let cx = TraceContext::from_headers(&headers(&[(TRACEPARENT, VALID), (TRACESTATE, &many)]));
        assert_eq!(cx.tracestate(), None);
    }

    #[tokio::test]
    async fn current_inside_the_scope_only() {
        assert_eq!(current(), None);
        let cx = TraceContext::new_root();
        let seen = scope(cx.clone(), async { current() }).await;
        assert_eq!(seen, Some(cx));
        assert_eq!(current(), None);
    }
}
