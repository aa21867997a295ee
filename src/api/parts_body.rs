//! A response body sent as a few `Bytes` parts one after another, its exact length known up front
//! (so hyper still sends `Content-Length`, as for one buffer): a list page's envelope around the
//! cached `data` bytes without copying them into a new buffer per answer (with the response cache
//! off, that copy of every page was part of the gateway's memmove time).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

pub struct PartsBody {
    parts: VecDeque<Bytes>,
    remaining: u64,
}

impl PartsBody {
    pub fn new(parts: impl IntoIterator<Item = Bytes>) -> Self {
        let parts: VecDeque<Bytes> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        let remaining = parts.iter().map(|p| p.len() as u64).sum();
        Self { parts, remaining }
    }
}

impl Body for PartsBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.parts.pop_front();
        if let Some(part) = &next {
            self.remaining -= part.len() as u64;
        }
        Poll::Ready(next.map(|p| Ok(Frame::data(p))))
    }

    fn is_end_stream(&self) -> bool {
        self.parts.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parts_arrive_in_order_with_their_exact_length() {
        let body = PartsBody::new([
            Bytes::from_static(b"{\"data\":"),
            Bytes::new(),
            Bytes::from_static(b"[1]"),
            Bytes::from_static(b"}"),
        ]);
        assert_eq!(body.size_hint().exact(), Some(12));
        let all = axum::body::to_bytes(axum::body::Body::new(body), 1024)
            .await
            .expect("body");
        assert_eq!(&all[..], b"{\"data\":[1]}");
    }
}
