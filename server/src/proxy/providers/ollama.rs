//! Ollama, through its OpenAI-compatible API (`{base}/v1/…`): OpenAI's bodies, usage read from
//! its answers; a credential only when one is set (a proxy in front of Ollama, say).

use super::{openai, Call, Outbound};

/// Ollama's OpenAI-compatible API.
pub struct Ollama;

impl super::Adapter for Ollama {
    fn request(&self, call: &Call<'_>) -> Outbound {
        request(call)
    }
}

pub fn request(call: &Call<'_>) -> Outbound {
    // The same wire format as OpenAI's; kept as its own adapter so Ollama's differences (no
    // key by default, its native API later) have one place to live.
    openai::request(call)
}
