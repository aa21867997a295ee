//! hyper answers a request head it cannot parse (too large, a request line too long, malformed)
//! itself, before any service runs, with an empty body. This connection wrapper replaces those
//! answers with problem+json, like every other error the gateway gives.
//!
//! hyper's own answers are recognisable: status 400, 414 or 431 and no `content-type` (every answer
//! the gateway's services write carries one, `problem_context` sees to that). A head that grew past
//! `max_header_bytes` before its first line ended is a request line that is too long: 414.
//!
//! The `type` is absolute like every other problem's, on a base fixed at start (no `Host` header
//! can be read from this head: `Limits::problem_base`), with a fresh `request_id`; there is no
//! `instance`: the path of a head that could not be read is not known. The 503 to a connection
//! over `max_connections` (`busy`) has the same shape.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::problem::types::{self, ProblemType};

pub(super) struct ProblemHeads<S> {
    inner: S,
    /// Where problem `type`s point (`{base}/problems`).
    base: std::sync::Arc<str>,
    /// A line feed was read since the last answer was written (the request line ended).
    line_ended: bool,
    /// The replacement answer still to be written, and how much of it was.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> ProblemHeads<S> {
    pub(super) fn new(inner: S, base: std::sync::Arc<str>) -> Self {
        Self {
            inner,
            base,
            line_ended: false,
            pending: None,
        }
    }
}

/// The problem type for hyper's own answer starting `head`, if it is one.
fn hyper_error(head: &[u8], line_ended: bool) -> Option<&'static ProblemType> {
    let status = head.strip_prefix(b"HTTP/1.1 ")?.get(..3)?;
    let ty = match status {
        b"431" if !line_ended => &types::URI_TOO_LONG,
        b"431" => &types::HEADERS_TOO_LARGE,
        b"414" => &types::URI_TOO_LONG,
        b"400" => &types::BAD_REQUEST,
        _ => return None,
    };
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let has_type = head[..end]
        .split(|b| *b == b'\n')
        .any(|line| line.to_ascii_lowercase().starts_with(b"content-type:"));
    (!has_type).then_some(ty)
}

/// What this answer's `detail` says: the type's page text fits the head-size cases, but
/// `bad-request`'s is about requests the gateway could read (a tampered cursor).
fn detail(ty: &ProblemType) -> &'static str {
    match ty.slug {
        "bad-request" => "the request head could not be parsed as HTTP/1.1: check the request line (method, path without spaces or raw non-ASCII bytes, version HTTP/1.0 or HTTP/1.1) and that every header is `Name: value` with visible characters",
        "headers-too-large" => "the request has too many headers (at most 100) or its headers are too large together; send fewer or shorter headers",
        _ => ty.explanation,
    }
}

fn answer(ty: &ProblemType, base: &str) -> Vec<u8> {
    answer_with(ty, base, "")
}

/// The answer to a connection over `max_connections`, written before any request is read: the
/// same problem shape as a broken head's, with `Retry-After`.
pub(super) fn busy(base: &str) -> Vec<u8> {
    answer_with(&types::TOO_MANY_CONNECTIONS, base, "retry-after: 1\r\n")
}

/// A fresh request id (none was read from the head) and the problem body naming it.
fn problem(ty: &ProblemType, base: &str) -> (String, String) {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = serde_json::json!({
        "type": format!("{}/{}", base.trim_end_matches('/'), ty.slug),
        "title": ty.title,
        "status": ty.status.as_u16(),
        "detail": detail(ty),
        "request_id": request_id,
    })
    .to_string();
    (request_id, body)
}

/// `extra`: header lines, each ending in CRLF.
fn answer_with(ty: &ProblemType, base: &str, extra: &str) -> Vec<u8> {
    let (request_id, body) = problem(ty, base);
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\nx-request-id: {request_id}\r\n{extra}connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        ty.status.as_u16(),
        ty.status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes()
}

/// What refuses `req`'s head when, counted as sent in the usual form (`Name: value` lines, CRLF
/// endings), it is over `max`: 414 when the request line alone is, else 431. hyper applies
/// `max_header_bytes` to its read buffer only while a head is incomplete, so a head that arrived
/// in one read could pass it by up to the buffer's last growth; the server checks this too. A
/// count, not the bytes read: whitespace hyper trims around values is not counted.
pub(super) fn oversized<B>(
    req: &axum::http::Request<B>,
    max: usize,
) -> Option<&'static ProblemType> {
    let uri = req.uri();
    let target = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |p| p.as_str().len());
    // "METHOD target HTTP/1.1\r\n", each "name: value\r\n", the blank line.
    let line = req.method().as_str().len() + 1 + target.max(1) + 1 + 8 + 2;
    if line > max {
        return Some(&types::URI_TOO_LONG);
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
        .sum();
    (line + headers + 2 > max).then_some(&types::HEADERS_TOO_LARGE)
}

/// The answer to a head [`oversized`] refused: the same problem hyper's own 414 or 431 gets, and
/// the connection closes.
pub(super) fn refuse_head(ty: &ProblemType, base: &str) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let (request_id, body) = problem(ty, base);
    let mut resp = axum::response::Response::new(axum::body::Body::from(body));
    *resp.status_mut() = ty.status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        h.insert("x-request-id", id);
    }
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

impl<S: AsyncWrite + Unpin> ProblemHeads<S> {
    /// Writes what is left of the replacement; ready when it is all out.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((buf, done)) = &mut self.pending {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &buf[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
            if *done == buf.len() {
                self.pending = None;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ProblemHeads<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        if !self.line_ended && buf.filled()[before..].contains(&b'\n') {
            self.line_ended = true;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ProblemHeads<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(ty) = hyper_error(buf, self.line_ended) {
            // hyper's answer counts as written; ours goes out instead.
            self.pending = Some((answer(ty, &self.base), 0));
            let _ = self.drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        // An answer went out: the next request starts a new request line.
        self.line_ended = false;
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        if let Some(ty) = hyper_error(first, self.line_ended) {
            self.pending = Some((answer(ty, &self.base), 0));
            let _ = self.drain(cx)?;
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        let n = ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, bufs))?;
        self.line_ended = false;
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_own_answers_are_replaced() {
        let own =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(
            hyper_error(own, true).map(|t| t.slug),
            Some("headers-too-large")
        );
        assert_eq!(
            hyper_error(own, false).map(|t| t.slug),
            Some("uri-too-long")
        );
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 2\r\n\r\n{}";
        assert!(hyper_error(ours, true).is_none());
        assert!(hyper_error(b"HTTP/1.1 200 OK\r\n\r\n", true).is_none());
    }
}
