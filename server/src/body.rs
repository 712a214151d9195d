//! Bounded reads of HTTP bodies — a client's request, an upstream's answer: at most `limit`
//! bytes (a declared `content-length` past it is refused before anything is read) within
//! `timeout`. Each caller turns the [`ReadError`] into its own answer.

use axum::http::{header, HeaderMap};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::time::Duration;

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// Longer than the limit (declared or read).
    TooLarge,
    /// Not all there within the timeout.
    TimedOut,
    /// The connection failed while reading.
    Failed,
}

/// Reads `body` whole, at most `limit` bytes, within `timeout`.
pub async fn read_limited<B>(body: B, headers: &HeaderMap, limit: usize, timeout: Duration) -> Result<Bytes, ReadError>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = (headers.get(header::CONTENT_LENGTH))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ReadError::TooLarge);
    }
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Err(_) => Err(ReadError::TimedOut),
        Ok(Err(error)) if error.is::<LengthLimitError>() => Err(ReadError::TooLarge),
        Ok(Err(_)) => Err(ReadError::Failed),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}
