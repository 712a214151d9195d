//! How server functions' answers travel: JSON, read from text.
//!
//! Leptos hands a resource's value from the server-rendered page to the browser as JSON read
//! with `serde_json::from_str`; its own JSON encoding reads server function answers with
//! `from_slice`. The two readers are different types, so every answer type's deserializer was
//! compiled into the WASM twice. Reading answers from text too keeps one copy (about 100 KB of
//! WASM before compression).
//!
//! Invariant: every server function answers with [`Json`] and its errors use [`JsonText`].

use leptos::server_fn::{codec::Post, Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::{de::DeserializeOwned, Serialize};

/// JSON in the body, read as text. Answers are written by `serde_json`, so they are UTF-8;
/// anything else is refused as malformed JSON.
pub struct JsonText;

/// A server function's answer: JSON in the body of its `POST`.
pub type Json = Post<JsonText>;

impl ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonText {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonText {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonText {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        serde_json::from_str(&String::from_utf8_lossy(&bytes))
    }
}
