//! Body wrappers, all streaming (a frame in, a frame out; nothing is buffered whole):
//! [`RequestBody`] counts and limits what the client sends, [`ResponseBody`] counts what
//! goes back and emits the request's record when the body ends (or is dropped), and
//! [`DlpBody`] masks financial data in text bodies with a carry-over window.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::redact::stream::StreamRedactor;
use crate::redact::{Redactor, Scratch};

use super::record::RecordGuard;

/// Errors passed along bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request body grew past the limit.
#[derive(Debug, thiserror::Error)]
#[error("request body larger than {0} bytes")]
pub struct BodyTooLarge(pub u64);

/// The client's body on its way upstream: counted, and cut with an error past `limit`.
pub(crate) struct RequestBody<B> {
    inner: B,
    read: Arc<AtomicU64>,
    limit: u64,
    over: Arc<AtomicBool>,
}

impl<B> RequestBody<B> {
    pub(crate) fn new(inner: B, read: Arc<AtomicU64>, limit: u64, over: Arc<AtomicBool>) -> Self {
        RequestBody {
            inner,
            read,
            limit,
            over,
        }
    }
}

impl<B> Body for RequestBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        Poll::Ready(match frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let total = self.read.fetch_add(data.len() as u64, Ordering::Relaxed)
                        + data.len() as u64;
                    if total > self.limit {
                        self.over.store(true, Ordering::Relaxed);
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge(self.limit)))));
                    }
                }
                Some(Ok(frame))
            }
            Some(Err(e)) => Some(Err(e.into())),
            None => None,
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response body on its way to the client; owns the request's record.
pub(crate) struct ResponseBody<B: Body> {
    inner: B,
    guard: RecordGuard,
}

impl<B: Body> ResponseBody<B> {
    pub(crate) fn new(inner: B, guard: RecordGuard) -> Self {
        ResponseBody { inner, guard }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        Poll::Ready(match frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    self.guard.response_bytes += data.len() as u64;
                }
                Some(Ok(frame))
            }
            Some(Err(e)) => {
                self.guard.capture().error = Some("upstream_body");
                self.guard.finish();
                Some(Err(e.into()))
            }
            None => {
                self.guard.finish();
                None
            }
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body> Drop for ResponseBody<B> {
    fn drop(&mut self) {
        // hyper stops polling a body that says it has ended: that is a normal end. A body
        // dropped before its end is marked incomplete by the guard.
        if self.inner.is_end_stream() {
            self.guard.finish();
        }
    }
}

/// Masks financial data (card numbers, IBANs, account numbers) in a streamed text body.
pub(crate) struct DlpBody<B> {
    inner: B,
    stream: StreamRedactor<Arc<Redactor>>,
    scratch: Scratch,
    ended: bool,
}

/// Longest match the DLP stream must see whole: an IBAN printed in groups is about 42
/// bytes, a card number with separators 23.
const DLP_WINDOW: usize = 128;

impl<B> DlpBody<B> {
    pub(crate) fn new(inner: B, redactor: Arc<Redactor>) -> Self {
        let scratch = redactor.scratch();
        DlpBody {
            inner,
            stream: StreamRedactor::new(redactor, DLP_WINDOW),
            scratch,
            ended: false,
        }
    }
}

impl<B> Body for DlpBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        let mut out = Vec::new();
                        this.stream.push(&data, &mut out, &mut this.scratch);
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                        }
                    }
                    Err(trailers) => {
                        // Trailers end the body: flush what is held first, drop the trailers
                        // (they may describe a body that has changed).
                        let _ = trailers;
                        this.ended = true;
                        let mut out = Vec::new();
                        this.stream.finish(&mut out, &mut this.scratch);
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                        }
                        return Poll::Ready(None);
                    }
                },
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                None => {
                    this.ended = true;
                    let mut out = Vec::new();
                    this.stream.finish(&mut out, &mut this.scratch);
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                    }
                    return Poll::Ready(None);
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
