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
/// a body that is not is refused before it is read as JSON.
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
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| <serde_json::Error as serde::de::Error>::custom("the answer is not UTF-8"))?;
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_read_from_its_text_and_one_that_is_not_utf8_is_refused() {
        let read: Result<Vec<String>, _> =
            <JsonText as Decodes<Vec<String>>>::decode(Bytes::from_static(b"[\"caf\xc3\xa9\"]"));
        assert_eq!(read.unwrap(), ["café"]);
        let refused = <JsonText as Decodes<Vec<String>>>::decode(Bytes::from_static(b"[\"caf\xe9\"]"));
        assert!(refused.unwrap_err().to_string().contains("not UTF-8"));
    }
}
