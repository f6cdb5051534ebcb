//! Body wrappers, all streaming (a frame in, a frame out; nothing is buffered whole):
//! [`RequestBody`] counts and limits what the client sends, [`ResponseBody`] counts what
//! goes back and emits the request's record when the body ends (or is dropped), and
//! [`DlpBody`] masks financial data in text bodies with a carry-over window.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::redact::stream::StreamRedactor;
use crate::redact::{Redactor, Scratch};

use super::codec::{Coding, Transcoder};
use super::record::RecordGuard;
use super::upstream::PooledBody;

/// Errors passed along bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request body grew past the limit.
#[derive(Debug, thiserror::Error)]
#[error("request body larger than {0} bytes")]
pub struct BodyTooLarge(pub u64);

/// The client sent nothing of its body for too long.
#[derive(Debug, thiserror::Error)]
#[error("no request body data for {0:?}")]
pub struct BodyReadTimeout(pub Duration);

/// Why a client's body was cut, once it was: shared by the body and its request's handler.
#[derive(Debug, Clone, Default)]
pub(crate) struct BodyFault(Arc<AtomicU8>);

impl BodyFault {
    const TOO_LARGE: u8 = 1;
    const TIMED_OUT: u8 = 2;

    /// The body grew past the limit.
    pub(crate) fn too_large(&self) -> bool {
        self.0.load(Ordering::Relaxed) == Self::TOO_LARGE
    }

    /// The client stalled.
    pub(crate) fn timed_out(&self) -> bool {
        self.0.load(Ordering::Relaxed) == Self::TIMED_OUT
    }
}

/// The client's body on its way upstream: counted, cut with an error past `limit` or when
/// no data comes for `read_timeout`.
pub(crate) struct RequestBody<B> {
    inner: B,
    read: Arc<AtomicU64>,
    limit: u64,
    read_timeout: Duration,
    /// Made the first time the body waits for the client (a request without a body never
    /// needs one); reset by every frame.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    fault: BodyFault,
}

impl<B> RequestBody<B> {
    pub(crate) fn new(
        inner: B,
        read: Arc<AtomicU64>,
        limit: u64,
        read_timeout: Duration,
        fault: BodyFault,
    ) -> Self {
        RequestBody {
            inner,
            read,
            limit,
            read_timeout,
            deadline: None,
            fault,
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
        let this = &mut *self;
        let timeout = this.read_timeout;
        let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) else {
            let deadline = this
                .deadline
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
            if deadline.as_mut().poll(cx).is_ready() {
                this.fault.0.store(BodyFault::TIMED_OUT, Ordering::Relaxed);
                return Poll::Ready(Some(Err(Box::new(BodyReadTimeout(timeout)))));
            }
            return Poll::Pending;
        };
        if let Some(deadline) = this.deadline.as_mut() {
            deadline
                .as_mut()
                .reset(tokio::time::Instant::now() + timeout);
        }
        Poll::Ready(match frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let total = this.read.fetch_add(data.len() as u64, Ordering::Relaxed)
                        + data.len() as u64;
                    if total > this.limit {
                        this.fault.0.store(BodyFault::TOO_LARGE, Ordering::Relaxed);
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge(this.limit)))));
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
                let e: BoxError = e.into();
                self.guard.capture().error = Some(if e.is::<DlpDecodeError>() {
                    "dlp_decode"
                } else {
                    "upstream_body"
                });
                self.guard.finish();
                Some(Err(e))
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

/// What goes back to the client, unboxed: the upstream's body as it came or through DLP,
/// or a short text the proxy wrote itself.
pub(crate) enum ReplyBody {
    /// The upstream's body, passed as it comes.
    Upstream(PooledBody),
    /// The upstream's body through DLP (boxed: it holds a scanner's whole state).
    Dlp(Box<DlpBody<PooledBody>>),
    /// The proxy's own text (an error page, or nothing).
    Text(http_body_util::Full<Bytes>),
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ReplyBody::Upstream(b) => Pin::new(b).poll_frame(cx),
            ReplyBody::Dlp(b) => Pin::new(b.as_mut()).poll_frame(cx),
            ReplyBody::Text(b) => Pin::new(b).poll_frame(cx).map_err(|never| match never {}),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReplyBody::Upstream(b) => b.is_end_stream(),
            ReplyBody::Dlp(b) => b.is_end_stream(),
            ReplyBody::Text(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReplyBody::Upstream(b) => b.size_hint(),
            ReplyBody::Dlp(b) => b.size_hint(),
            ReplyBody::Text(b) => b.size_hint(),
        }
    }
}

/// Masks financial data (card numbers, IBANs, account numbers) in a streamed text body,
/// decoding and encoding it again when it is compressed.
pub(crate) struct DlpBody<B> {
    inner: B,
    stream: StreamRedactor<Arc<Redactor>>,
    scratch: Scratch,
    /// For a compressed body: its decoder and encoder.
    transcoder: Option<Transcoder>,
    ended: bool,
}

/// A compressed body that could not be decoded (corrupt or cut short). The client's
/// response is cut: what cannot be scanned is not passed on.
#[derive(Debug, thiserror::Error)]
#[error("DLP could not decode the response body: {0}")]
pub struct DlpDecodeError(#[source] std::io::Error);

/// Longest match the DLP stream must see whole: an IBAN printed in groups is about 42
/// bytes, a card number with separators 23.
const DLP_WINDOW: usize = 128;

impl<B> DlpBody<B> {
    /// DLP over `inner`, which is encoded with `coding` (`None`: plain text).
    pub(crate) fn new(inner: B, redactor: Arc<Redactor>, coding: Option<Coding>) -> Self {
        let scratch = redactor.scratch();
        DlpBody {
            inner,
            stream: StreamRedactor::new(redactor, DLP_WINDOW),
            scratch,
            transcoder: coding.map(Transcoder::new),
            ended: false,
        }
    }

    /// What can be sent after `data` arrived.
    fn on_data(&mut self, data: &[u8]) -> Result<Vec<u8>, DlpDecodeError> {
        let (stream, scratch) = (&mut self.stream, &mut self.scratch);
        let mut out = Vec::new();
        match &mut self.transcoder {
            None => stream.push(data, &mut out, scratch),
            Some(t) => {
                let mut text = Vec::new();
                t.decode(data, |piece| stream.push(piece, &mut text, scratch))
                    .map_err(DlpDecodeError)?;
                if !text.is_empty() {
                    t.encode(&text).map_err(DlpDecodeError)?;
                    out = t.take_encoded().map_err(DlpDecodeError)?;
                }
            }
        }
        Ok(out)
    }

    /// What is left to send once the body has ended.
    fn on_end(&mut self) -> Result<Vec<u8>, DlpDecodeError> {
        self.ended = true;
        let (stream, scratch) = (&mut self.stream, &mut self.scratch);
        let mut out = Vec::new();
        match self.transcoder.take() {
            None => stream.finish(&mut out, scratch),
            Some(mut t) => {
                let mut text = Vec::new();
                t.finish_decoding(|piece| stream.push(piece, &mut text, scratch))
                    .map_err(DlpDecodeError)?;
                stream.finish(&mut text, scratch);
                t.encode(&text).map_err(DlpDecodeError)?;
                out = t.finish_encoding().map_err(DlpDecodeError)?;
            }
        }
        Ok(out)
    }
}

/// One frame of `out`, or (when empty) the end of the body.
fn last_frame(out: Result<Vec<u8>, DlpDecodeError>) -> Option<Result<Frame<Bytes>, BoxError>> {
    match out {
        Ok(out) if out.is_empty() => None,
        Ok(out) => Some(Ok(Frame::data(Bytes::from(out)))),
        Err(e) => Some(Err(Box::new(e))),
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
                    Ok(data) => match this.on_data(&data) {
                        Ok(out) if out.is_empty() => {}
                        Ok(out) => return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out))))),
                        Err(e) => {
                            this.ended = true;
                            return Poll::Ready(Some(Err(Box::new(e))));
                        }
                    },
                    // Trailers end the body: flush what is held first, drop the trailers
                    // (they may describe a body that has changed).
                    Err(_trailers) => return Poll::Ready(last_frame(this.on_end())),
                },
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                None => return Poll::Ready(last_frame(this.on_end())),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;
    use proptest::prelude::*;
    use std::io::Read;

    fn dlp() -> Arc<Redactor> {
        Arc::new(Redactor::new(&crate::proxy::dlp_rules(&RuleSet::shipped()), None).unwrap())
    }

    fn decoded(coding: Coding, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if data.is_empty() {
            return out; // an empty body stays empty
        }
        match coding {
            Coding::Gzip => flate2::read::GzDecoder::new(data).read_to_end(&mut out),
            Coding::Deflate => flate2::read::ZlibDecoder::new(data).read_to_end(&mut out),
            Coding::Brotli => brotli::Decompressor::new(data, 4096).read_to_end(&mut out),
        }
        .unwrap();
        out
    }

    /// Text of words, numbers and card numbers (some with separators).
    fn text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[a-z]{1,8}",
            "[0-9]{1,6}",
            Just("4111 1111 1111 1111".to_string()),
            Just("5555555555554444".to_string()),
            Just("GB82 WEST 1234 5698 7654 32".to_string()),
            Just("\n".to_string()),
        ];
        proptest::collection::vec(piece, 0..120).prop_map(|v| v.join(" "))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// However a compressed body is cut into frames, DLP's re-encoded output decodes to
        /// the whole text redacted at once.
        #[test]
        fn compressed_bodies_come_out_as_the_whole_text_redacted(
            text in text(),
            coding in prop_oneof![Just(Coding::Gzip), Just(Coding::Deflate), Just(Coding::Brotli)],
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let r = dlp();
            let want = r.redact_str(&text, &mut r.scratch());
            let packed = Transcoder::encode_whole(coding, text.as_bytes());
            let mut at: Vec<usize> = cuts.iter().map(|i| i.index(packed.len() + 1)).collect();
            at.push(0);
            at.push(packed.len());
            at.sort_unstable();
            let mut body = DlpBody::new(http_body_util::Empty::<Bytes>::new(), r, Some(coding));
            let mut out = Vec::new();
            for w in at.windows(2) {
                out.extend(body.on_data(&packed[w[0]..w[1]]).unwrap());
            }
            out.extend(body.on_end().unwrap());
            prop_assert_eq!(String::from_utf8(decoded(coding, &out)).unwrap(), want);
        }
    }
}
