//! The response body handed to hyper: delivered whole, paused halfway, cut off
//! halfway, or generated as padding while it is sent.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use hyper::body::{Body, Bytes, Frame, SizeHint};
use tokio::time::{Sleep, sleep};

use crate::conn::Control;
use crate::reply::{Delivery, Payload};

/// Padding is generated in chunks of this size, so a huge body never sits in memory.
const PADDING_CHUNK: usize = 64 * 1024;

const PAD_PREFIX: &[u8] = br#"{"response":{"code":"SUCCESS","data":{"padding":""#;
const PAD_SUFFIX: &[u8] = br#""}}}"#;

/// A body that ends on purpose before its announced length.
#[derive(Debug)]
pub(crate) struct CutShort;

impl fmt::Display for CutShort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the answer was cut short on purpose")
    }
}

impl std::error::Error for CutShort {}

enum Stage {
    /// What is left to send in one piece.
    Whole(Option<Bytes>),
    /// The first half, then a pause, then the rest.
    Paused {
        first: Option<Bytes>,
        pause: Pin<Box<Sleep>>,
        rest: Option<Bytes>,
    },
    /// The first half, then the connection closes once it is flushed.
    Truncated {
        half: Option<Bytes>,
        control: Arc<Control>,
    },
    /// Generated padding, `sent` of `len` bytes so far.
    Padding { sent: usize, len: usize },
}

/// An answer's body, with its exact announced length.
pub(crate) struct ReplyBody {
    announced: u64,
    stage: Stage,
}

impl fmt::Debug for ReplyBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyBody")
            .field("announced", &self.announced)
            .finish_non_exhaustive()
    }
}

impl ReplyBody {
    /// `payload`, delivered as `delivery` asks. [`Delivery::Reset`] never gets here:
    /// a reset answer has no body.
    pub(crate) fn new(payload: Payload, delivery: Delivery, control: &Arc<Control>) -> Self {
        let announced = u64::try_from(payload.len()).unwrap_or(u64::MAX);
        let stage = match payload {
            Payload::Padding(len) => Stage::Padding { sent: 0, len },
            Payload::Bytes(bytes) => {
                let mut bytes = Bytes::from(bytes);
                match delivery {
                    Delivery::Whole | Delivery::Reset => Stage::Whole(Some(bytes)),
                    Delivery::Paused(pause) => {
                        let rest = bytes.split_off(bytes.len() / 2);
                        Stage::Paused {
                            first: Some(bytes),
                            pause: Box::pin(sleep(pause)),
                            rest: Some(rest),
                        }
                    }
                    Delivery::Truncated => {
                        bytes.truncate(bytes.len() / 2);
                        Stage::Truncated {
                            half: Some(bytes),
                            control: Arc::clone(control),
                        }
                    }
                }
            }
        };
        ReplyBody { announced, stage }
    }
}

/// A data frame, or nothing for an empty chunk (hyper needs no empty frames).
fn data(bytes: Option<Bytes>) -> Option<Frame<Bytes>> {
    bytes.filter(|b| !b.is_empty()).map(Frame::data)
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = CutShort;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, CutShort>>> {
        match &mut self.stage {
            Stage::Whole(bytes) => Poll::Ready(data(bytes.take()).map(Ok)),
            Stage::Paused { first, pause, rest } => {
                if let Some(frame) = data(first.take()) {
                    return Poll::Ready(Some(Ok(frame)));
                }
                // Hyper flushes the first half while this waits.
                ready!(pause.as_mut().poll(cx));
                Poll::Ready(data(rest.take()).map(Ok))
            }
            Stage::Truncated { half, control } => {
                if let Some(frame) = data(half.take()) {
                    return Poll::Ready(Some(Ok(frame)));
                }
                ready!(control.poll_close_after_flush(cx));
                Poll::Ready(Some(Err(CutShort)))
            }
            Stage::Padding { sent, len } => {
                if *sent == *len {
                    return Poll::Ready(None);
                }
                let n = PADDING_CHUNK.min(*len - *sent);
                let chunk = padding(*len, *sent, n);
                *sent += n;
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.stage {
            Stage::Whole(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            Stage::Padding { sent, len } => sent == len,
            Stage::Paused { .. } | Stage::Truncated { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.announced)
    }
}

/// Bytes `from..from + n` of `{"response":{"code":"SUCCESS","data":{"padding":"xxx..."}}}`
/// padded to `len` bytes in all; too short for that frame, it is all spaces.
fn padding(len: usize, from: usize, n: usize) -> Vec<u8> {
    let frame = PAD_PREFIX.len() + PAD_SUFFIX.len();
    (from..from + n)
        .map(|i| {
            if len < frame {
                b' '
            } else if i < PAD_PREFIX.len() {
                PAD_PREFIX[i]
            } else if i >= len - PAD_SUFFIX.len() {
                PAD_SUFFIX[i - (len - PAD_SUFFIX.len())]
            } else {
                b'x'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_exact_and_parses_across_chunks() {
        let len = PADDING_CHUNK * 2 + 7;
        let mut body = Vec::new();
        let mut from = 0;
        while from < len {
            let n = PADDING_CHUNK.min(len - from);
            body.extend(padding(len, from, n));
            from += n;
        }
        assert_eq!(body.len(), len);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["response"]["code"], "SUCCESS");
        assert_eq!(padding(5, 0, 5), b"     ");
    }

    #[test]
    fn announced_length_is_the_whole_body_whatever_the_delivery() {
        let control = Arc::new(Control::default());
        let payload = || Payload::Bytes(b"0123456789".to_vec());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let _guard = rt.enter();
        for delivery in [
            Delivery::Whole,
            Delivery::Paused(std::time::Duration::ZERO),
            Delivery::Truncated,
        ] {
            let body = ReplyBody::new(payload(), delivery, &control);
            assert_eq!(body.size_hint().exact(), Some(10), "{delivery:?}");
            assert!(!body.is_end_stream());
        }
        let empty = ReplyBody::new(Payload::Bytes(Vec::new()), Delivery::Whole, &control);
        assert!(empty.is_end_stream());
        let padding = ReplyBody::new(Payload::Padding(3), Delivery::Whole, &control);
        assert_eq!(padding.size_hint().exact(), Some(3));
    }
}
