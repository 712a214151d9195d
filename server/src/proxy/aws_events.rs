//! AWS's binary event stream (`application/vnd.amazon.eventstream`: Bedrock's ConverseStream,
//! issue #25) framed into the same named events the SSE reader gives ([`sse::Event`]): each
//! message's `:event-type` as the name (an exception's `exception:<type>`), its payload as the
//! data. Frames are decoded and checked (lengths, CRCs) by `aws-smithy-eventstream`.
//!
//! Invariant: a frame larger than the limit ends the stream (`TooLarge`), as an SSE event does;
//! a frame that does not decode ends it as a broken body would.

use super::sse::{self, EventStream, SseError};
use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::Message;
use axum::body::Bytes;
use futures_util::{Stream, StreamExt};

/// What a message is called: its `:event-type`, or `exception:<:exception-type>` (or
/// `error:<:error-code>`) when it is not an event.
fn name(message: &Message) -> String {
    let header = |wanted: &str| {
        (message.headers().iter())
            .find(|header| header.name().as_str() == wanted)
            .and_then(|header| header.value().as_string().ok())
            .map(|value| value.as_str().to_string())
    };
    match header(":message-type").as_deref() {
        Some("exception") => format!("exception:{}", header(":exception-type").unwrap_or_default()),
        Some("error") => format!("exception:{}", header(":error-code").unwrap_or_default()),
        _ => header(":event-type").unwrap_or_default(),
    }
}

/// The events of a body's chunks, decoded as they arrive.
pub fn events<S>(chunks: S, limit: usize) -> EventStream
where
    S: Stream<Item = Result<Bytes, hyper::Error>> + Send + 'static,
{
    struct Reading<S> {
        chunks: std::pin::Pin<Box<S>>,
        decoder: MessageFrameDecoder,
        buffer: bytes::BytesMut,
        over: bool,
    }
    let reading = Reading {
        chunks: Box::pin(chunks),
        decoder: MessageFrameDecoder::new(),
        buffer: bytes::BytesMut::new(),
        over: false,
    };
    Box::pin(futures_util::stream::unfold(reading, move |mut reading| async move {
        loop {
            if reading.over {
                return None;
            }
            match reading.decoder.decode_frame(&mut reading.buffer) {
                Ok(DecodedFrame::Complete(message)) => {
                    let event = sse::Event {
                        event: name(&message),
                        data: String::from_utf8_lossy(message.payload()).into_owned(),
                    };
                    return Some((Ok(event), reading));
                }
                Ok(DecodedFrame::Incomplete) => {}
                Err(error) => {
                    reading.over = true;
                    let broken = SseError::Frame(format!("the upstream sent a broken event frame: {error}"));
                    return Some((Err(broken), reading));
                }
            }
            // The decoder holds a frame's 12-byte prelude apart from the buffer.
            if reading.buffer.len() > limit {
                reading.over = true;
                return Some((Err(SseError::TooLarge(limit)), reading));
            }
            match reading.chunks.next().await {
                None => return None,
                Some(Err(error)) => {
                    reading.over = true;
                    return Some((Err(SseError::Body(error)), reading));
                }
                Some(Ok(chunk)) => reading.buffer.extend_from_slice(&chunk),
            }
        }
    }))
}

/// One event as a binary frame (the mock upstream writes Bedrock's streams with it).
pub fn frame(event_type: &str, payload: &[u8]) -> Vec<u8> {
    use aws_smithy_types::event_stream::{Header, HeaderValue};
    let message = Message::new(Bytes::copy_from_slice(payload))
        .add_header(Header::new(":message-type", HeaderValue::String("event".into())))
        .add_header(Header::new(
            ":event-type",
            HeaderValue::String(event_type.to_string().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ));
    let mut out = Vec::new();
    // Writing a small message into memory cannot fail.
    let _ = aws_smithy_eventstream::frame::write_message_to(&message, &mut out);
    out
}

/// An exception as a binary frame.
pub fn exception_frame(exception_type: &str, payload: &[u8]) -> Vec<u8> {
    use aws_smithy_types::event_stream::{Header, HeaderValue};
    let message = Message::new(Bytes::copy_from_slice(payload))
        .add_header(Header::new(":message-type", HeaderValue::String("exception".into())))
        .add_header(Header::new(
            ":exception-type",
            HeaderValue::String(exception_type.to_string().into()),
        ));
    let mut out = Vec::new();
    let _ = aws_smithy_eventstream::frame::write_message_to(&message, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn decode(bytes: &[u8], split: usize, limit: usize) -> Vec<Result<sse::Event, SseError>> {
        let chunks: Vec<Result<Bytes, hyper::Error>> = (bytes.chunks(split.max(1)))
            .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
            .collect();
        events(futures_util::stream::iter(chunks), limit).collect().await
    }

    #[tokio::test]
    async fn frames_split_anywhere_give_the_same_named_events() {
        let mut bytes = frame("messageStart", br#"{"role":"assistant"}"#);
        bytes.extend(frame("contentBlockDelta", br#"{"delta":{"text":"Hi"}}"#));
        bytes.extend(exception_frame("throttlingException", br#"{"message":"slow down"}"#));
        for split in [1, 3, 7, 16, bytes.len()] {
            let events: Vec<(String, String)> = (decode(&bytes, split, 1024).await.into_iter())
                .map(|event| event.map(|e| (e.event, e.data)).unwrap())
                .collect();
            assert_eq!(
                events,
                [
                    ("messageStart".to_string(), r#"{"role":"assistant"}"#.to_string()),
                    (
                        "contentBlockDelta".to_string(),
                        r#"{"delta":{"text":"Hi"}}"#.to_string()
                    ),
                    (
                        "exception:throttlingException".to_string(),
                        r#"{"message":"slow down"}"#.to_string()
                    ),
                ],
                "split every {split} bytes"
            );
        }
    }

    #[tokio::test]
    async fn an_oversized_or_broken_frame_ends_the_stream() {
        let big = frame("contentBlockDelta", &[b'x'; 300]);
        let decoded = decode(&big, 64, 100).await;
        assert!(
            matches!(decoded.last(), Some(Err(SseError::TooLarge(100)))),
            "{decoded:?}"
        );
        let mut broken = frame("messageStart", b"{}");
        let last = broken.len() - 1;
        broken[last] ^= 0xff; // the message CRC no longer matches
        let decoded = decode(&broken, 5, 1024).await;
        assert!(matches!(decoded.as_slice(), [Err(SseError::Frame(_))]), "{decoded:?}");
    }
}
