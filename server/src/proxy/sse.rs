//! Server-sent events from an upstream, decoded in one pass (RELIABILITY Z-01): each byte is
//! looked at once as it arrives, a line and an event are bounded in size, and nothing is
//! rescanned when a chunk ends mid-line.
//!
//! Invariant: decoding is the same whatever the chunk boundaries (`decode(whole)` equals
//! `decode` of any split of it).
//! Invariant: an upstream can make the gateway hold at most [`MAX_EVENT_BYTES`] of one event;
//! past that the stream ends with [`SseError::TooLarge`].

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::pin::Pin;

/// The largest event (its data lines together, or one line) an upstream may send. Stream
/// events are deltas of a few hundred bytes; a megabyte leaves room for large tool arguments.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// One event: its type (`event:`, empty when none) and its data lines joined by `\n`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    pub event: String,
    pub data: String,
}

/// Why an event stream stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SseError {
    /// The body failed (the connection broke).
    #[error("the stream's body failed: {0}")]
    Body(hyper::Error),
    /// A line or an event was larger than the limit.
    #[error("an event is larger than {0} bytes")]
    TooLarge(usize),
    /// A binary event frame (AWS's event stream) that does not decode.
    #[error("{0}")]
    Frame(String),
}

/// An upstream's events.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<Event, SseError>> + Send>>;

/// The decoder's state between chunks.
#[derive(Debug, Default)]
pub struct Decoder {
    /// The current line, so far (without its end).
    line: Vec<u8>,
    /// The last byte seen was a `\r`: a `\n` next belongs to the same line end.
    after_cr: bool,
    event: String,
    data: String,
    /// Whether a `data:` line was seen since the last event.
    has_data: bool,
    limit: usize,
}

impl Decoder {
    pub fn new(limit: usize) -> Self {
        Decoder {
            limit,
            ..Decoder::default()
        }
    }

    /// The bytes held between chunks: the current line and the event so far, each at most the
    /// limit.
    pub fn held(&self) -> usize {
        self.line.len() + self.event.len() + self.data.len()
    }

    /// Feeds one chunk; the events it completes are pushed to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Event>) -> Result<(), SseError> {
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if let Some(stripped) = rest.strip_prefix(b"\n") {
                rest = stripped;
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', rest) {
            if self.line.is_empty() {
                // The whole line is in this chunk (the usual case): read where it lies.
                if end > self.limit {
                    return Err(SseError::TooLarge(self.limit));
                }
                self.line_ended(&rest[..end], out)?;
            } else {
                self.extend_line(&rest[..end])?;
                let line = std::mem::take(&mut self.line);
                self.line_ended(&line, out)?;
                self.line = line;
                self.line.clear();
            }
            if rest[end] == b'\r' {
                match rest.get(end + 1) {
                    Some(b'\n') => rest = &rest[end + 2..],
                    Some(_) => rest = &rest[end + 1..],
                    None => {
                        self.after_cr = true;
                        rest = &[];
                    }
                }
            } else {
                rest = &rest[end + 1..];
            }
        }
        self.extend_line(rest)
    }

    fn extend_line(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len() + bytes.len() > self.limit {
            return Err(SseError::TooLarge(self.limit));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    /// One complete line: a field, a comment, or the blank line that ends an event.
    fn line_ended(&mut self, line: &[u8], out: &mut Vec<Event>) -> Result<(), SseError> {
        if line.is_empty() {
            if self.has_data {
                out.push(Event {
                    event: std::mem::take(&mut self.event),
                    data: std::mem::take(&mut self.data),
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        // Checked whole first (the fast path); only bytes that are not UTF-8 take the slow one.
        let value = match std::str::from_utf8(value) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(value),
        };
        match field {
            b"data" => {
                if self.data.len() + value.len() + 1 > self.limit {
                    return Err(SseError::TooLarge(self.limit));
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            // Bytes that are not UTF-8 become U+FFFD (three bytes each): the name is bounded
            // after that, as data is.
            b"event" => {
                if value.len() > self.limit {
                    return Err(SseError::TooLarge(self.limit));
                }
                self.event = value.into_owned();
            }
            // `id` and `retry` matter to browsers reconnecting, not to a proxy.
            _ => {}
        }
        Ok(())
    }
}

/// What [`events`] keeps between polls.
struct Reading<S> {
    chunks: Pin<Box<S>>,
    decoder: Decoder,
    ready: std::collections::VecDeque<Event>,
    /// The error that ends the stream, once the events before it are out.
    failed: Option<SseError>,
    over: bool,
}

/// The events of a body's chunks, decoded as they arrive.
pub fn events<S>(chunks: S, limit: usize) -> EventStream
where
    S: Stream<Item = Result<Bytes, hyper::Error>> + Send + 'static,
{
    let reading = Reading {
        chunks: Box::pin(chunks),
        decoder: Decoder::new(limit),
        ready: std::collections::VecDeque::new(),
        failed: None,
        over: false,
    };
    Box::pin(futures_util::stream::unfold(reading, |mut reading| async move {
        loop {
            if let Some(event) = reading.ready.pop_front() {
                return Some((Ok(event), reading));
            }
            if let Some(error) = reading.failed.take() {
                reading.over = true;
                return Some((Err(error), reading));
            }
            if reading.over {
                return None;
            }
            match reading.chunks.next().await {
                None => reading.over = true,
                Some(Err(error)) => reading.failed = Some(SseError::Body(error)),
                Some(Ok(chunk)) => {
                    let mut out = Vec::new();
                    if let Err(error) = reading.decoder.feed(&chunk, &mut out) {
                        reading.failed = Some(error);
                    }
                    reading.ready.extend(out);
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(chunks: &[&[u8]], limit: usize) -> Result<Vec<Event>, String> {
        let mut decoder = Decoder::new(limit);
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk, &mut out).map_err(|e| e.to_string())?;
        }
        Ok(out)
    }

    fn event(event: &str, data: &str) -> Event {
        Event {
            event: event.into(),
            data: data.into(),
        }
    }

    const STREAM: &[u8] = b": comment\r\ndata: {\"a\":1}\n\nevent: message_delta\r\ndata: x\r\ndata:y\r\r\
        id: 7\nretry: 10\ndata\n\ndata: [DONE]\n\n";

    #[test]
    fn events_are_read_with_every_line_ending() {
        let events = decode(&[STREAM], MAX_EVENT_BYTES).unwrap();
        assert_eq!(
            events,
            vec![
                event("", "{\"a\":1}"),
                event("message_delta", "x\ny"),
                event("", ""),
                event("", "[DONE]"),
            ]
        );
    }

    #[test]
    fn any_split_decodes_as_the_whole() {
        let whole = decode(&[STREAM], MAX_EVENT_BYTES).unwrap();
        for first in 0..=STREAM.len() {
            for second in first..=STREAM.len() {
                let split = decode(
                    &[&STREAM[..first], &STREAM[first..second], &STREAM[second..]],
                    MAX_EVENT_BYTES,
                )
                .unwrap();
                assert_eq!(split, whole, "split at {first} and {second}");
            }
        }
    }

    /// RELIABILITY Z-01 without a fuzzer (cargo-fuzz needs a nightly toolchain): random streams
    /// of SSE's own bytes, cut at random places, never panic, decode as the whole, and hold no
    /// more than the limit.
    #[test]
    fn random_streams_at_random_splits_decode_as_the_whole() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pieces: [&[u8]; 10] = [
            b"data", b"event", b":", b" ", b"\r", b"\n", b"x", b"\r\n", b"[DONE]", b"\xff",
        ];
        for _ in 0..2_000 {
            let mut stream = Vec::new();
            for _ in 0..(next() % 60) {
                stream.extend_from_slice(pieces[(next() % 10) as usize]);
            }
            let limit = 16 + (next() % 64) as usize;
            let whole = decode(&[&stream], limit);
            let mut cuts: Vec<usize> = (0..(next() % 5))
                .map(|_| (next() as usize) % (stream.len() + 1))
                .collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut from = 0;
            for cut in cuts {
                chunks.push(&stream[from..cut]);
                from = cut;
            }
            chunks.push(&stream[from..]);
            assert_eq!(
                decode(&chunks, limit),
                whole,
                "{:?} cut into {chunks:?}",
                String::from_utf8_lossy(&stream)
            );
        }
    }

    #[test]
    fn an_oversized_line_or_event_is_refused() {
        let long_line = format!("data: {}", "x".repeat(100));
        assert!(decode(&[long_line.as_bytes()], 64).is_err(), "a line with no end");
        let many_lines = "data: xxxxxxxxxx\n".repeat(10);
        assert!(decode(&[many_lines.as_bytes()], 64).is_err(), "an event of many lines");
        assert!(decode(&[b"data: ok\n\n"], 64).is_ok());
    }

    #[test]
    fn a_long_unterminated_line_is_scanned_once() {
        // 64 MiB in 16 KiB chunks: linear, so this takes milliseconds, not minutes.
        let chunk = vec![b'x'; 16 * 1024];
        let mut decoder = Decoder::new(usize::MAX);
        let mut out = Vec::new();
        for _ in 0..4096 {
            decoder.feed(&chunk, &mut out).unwrap();
        }
        assert!(out.is_empty());
        assert_eq!(decoder.line.len(), 64 * 1024 * 1024);
    }
}
