//! One column's request and its answer: the browser's streamed `fetch` of
//! `POST /api/playground/chat`, the server-sent events read into an [`Answer`] as they come.
//! A column whose page has gone (its signals disposed) stops reading, which closes the
//! request.

use leptos::prelude::*;
use serde_json::Value;

/// One answer, as it streams in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answer {
    pub text: String,
    /// When it was sent (the browser's clock, milliseconds).
    pub started: f64,
    pub ttft_ms: Option<f64>,
    pub total_ms: Option<f64>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// The gateway's id for the request (its log), and the endpoint that answered.
    pub request_id: Option<String>,
    pub endpoint: Option<String>,
    /// The composite member that answered (`x-mgw-variant`), when the model is a composite.
    pub variant: Option<String>,
    pub error: Option<String>,
    pub running: bool,
}

// Read by the browser's side (and the tests) only.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl Answer {
    /// Takes one server-sent event's data; `Ok(true)` once the stream says it is done.
    pub fn take_event(&mut self, data: &str, now: f64) -> Result<bool, String> {
        let data = data.trim();
        if data == "[DONE]" {
            return Ok(true);
        }
        let event: Value =
            serde_json::from_str(data).map_err(|_| "The stream sent something that is not JSON.".to_string())?;
        if let Some(error) = event.get("error") {
            return Err(error_message(error));
        }
        let delta = event["choices"][0]["delta"]["content"].as_str().unwrap_or_default();
        if !delta.is_empty() {
            self.ttft_ms.get_or_insert(now - self.started);
            self.text.push_str(delta);
        }
        self.take_usage(&event["usage"]);
        Ok(false)
    }

    /// Takes a whole JSON answer (a refusal, or an answer that did not stream).
    pub fn take_json(&mut self, status: u16, body: &str, now: f64) -> Result<(), String> {
        let answer: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        if status >= 400 {
            return Err(match answer.get("error") {
                Some(error) => format!("{status}: {}", error_message(error)),
                None => format!("{status}: {}", body.chars().take(200).collect::<String>()),
            });
        }
        self.ttft_ms.get_or_insert(now - self.started);
        match answer.as_object().filter(|fields| !fields.contains_key("choices")) {
            // A `multi` composite's every answer, keyed by member (`waitforall`).
            Some(members) => {
                let (mut prompt, mut completion) = (0, 0);
                let told: Vec<String> = (members.iter())
                    .map(|(member, answer)| {
                        prompt += answer["usage"]["prompt_tokens"].as_u64().unwrap_or(0);
                        completion += answer["usage"]["completion_tokens"].as_u64().unwrap_or(0);
                        let said = match answer.get("error") {
                            Some(error) => format!("(failed: {})", error_message(error)),
                            None => answer["choices"][0]["message"]["content"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                        };
                        format!("[{member}]\n{said}")
                    })
                    .collect();
                self.text.push_str(&told.join("\n\n"));
                self.prompt_tokens = Some(prompt);
                self.completion_tokens = Some(completion);
            }
            None => {
                let text = answer["choices"][0]["message"]["content"].as_str().unwrap_or_default();
                self.text.push_str(text);
                self.take_usage(&answer["usage"]);
            }
        }
        Ok(())
    }

    fn take_usage(&mut self, usage: &Value) {
        if usage.is_object() {
            self.prompt_tokens = usage["prompt_tokens"].as_u64();
            self.completion_tokens = usage["completion_tokens"].as_u64();
        }
    }
}

/// An OpenAI-shaped error's message.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn error_message(error: &Value) -> String {
    error["message"]
        .as_str()
        .or_else(|| error.as_str())
        .unwrap_or("The request failed.")
        .to_string()
}

/// Takes the complete events (`…\n\n`) off the front of `buffer`, as their `data` payloads.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn complete_events(buffer: &mut Vec<u8>) -> Vec<String> {
    let mut events = Vec::new();
    while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
        let event: Vec<u8> = buffer.drain(..end + 2).collect();
        let text = String::from_utf8_lossy(&event);
        let data: Vec<&str> = (text.lines())
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|data| data.strip_prefix(' ').unwrap_or(data))
            .collect();
        if !data.is_empty() {
            events.push(data.join("\n"));
        }
    }
    events
}

/// The browser's side: the streamed `fetch`.
#[cfg(feature = "hydrate")]
mod browser {
    use super::Answer;
    use leptos::prelude::*;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    /// The browser's clock, milliseconds.
    pub fn now() -> f64 {
        web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
    }

    fn js(error: JsValue) -> String {
        error
            .as_string()
            .or_else(|| {
                js_sys::Reflect::get(&error, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
            })
            .unwrap_or_else(|| "The browser could not send the request.".into())
    }

    /// Why a request stopped short.
    enum Stop {
        Failed(String),
        /// The page has gone: nothing is left to write to.
        Gone,
    }

    impl From<String> for Stop {
        fn from(message: String) -> Stop {
            Stop::Failed(message)
        }
    }

    fn failed(error: JsValue) -> Stop {
        Stop::Failed(js(error))
    }

    /// Writes to `answer`, or says the page has gone.
    fn write<T>(answer: RwSignal<Answer>, change: impl FnOnce(&mut Answer) -> T) -> Result<T, Stop> {
        answer.try_update(change).ok_or(Stop::Gone)
    }

    /// Sends `request` to the playground route and streams the answer into `answer`; false
    /// when the page has gone.
    pub async fn run(request: String, answer: RwSignal<Answer>) -> bool {
        let error = match send(request, answer).await {
            Ok(()) => None,
            Err(Stop::Failed(error)) => Some(error),
            Err(Stop::Gone) => return false,
        };
        let end = now();
        answer
            .try_update(|a| {
                a.error = a.error.take().or(error);
                a.running = false;
                a.total_ms = Some(end - a.started);
            })
            .is_some()
    }

    async fn send(request: String, answer: RwSignal<Answer>) -> Result<(), Stop> {
        let window = web_sys::window().ok_or_else(|| "no window".to_string())?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&JsValue::from_str(&request));
        let headers = web_sys::Headers::new().map_err(failed)?;
        headers.set("content-type", "application/json").map_err(failed)?;
        init.set_headers(&headers);
        let response: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init("/api/playground/chat", &init))
            .await
            .map_err(failed)?
            .dyn_into()
            .map_err(failed)?;
        let header = |name: &str| response.headers().get(name).ok().flatten();
        let (request_id, endpoint) = (header("x-request-id"), header("x-mgw-endpoint"));
        let variant = header("x-mgw-variant");
        write(answer, |a| {
            a.request_id = request_id;
            a.endpoint = endpoint;
            a.variant = variant;
        })?;
        let streamed = header("content-type").is_some_and(|t| t.starts_with("text/event-stream"));
        if !streamed {
            let text = JsFuture::from(response.text().map_err(failed)?).await.map_err(failed)?;
            let text = text.as_string().unwrap_or_default();
            let status = response.status();
            if status == 401 {
                // The session ended while the page was open.
                crate::types::to_sign_in();
            }
            let end = now();
            return Ok(write(answer, |a| a.take_json(status, &text, end))??);
        }
        let body = response.body().ok_or_else(|| "The answer has no body.".to_string())?;
        let reader: web_sys::ReadableStreamDefaultReader =
            (body.get_reader().dyn_into()).map_err(|_| "The answer cannot be read as a stream.".to_string())?;
        let read = read_events(&reader, answer).await;
        if read.is_err() {
            // Stopped early (an error event, or nobody reading any more): cancelling the body
            // closes the request.
            let _ = reader.cancel();
        }
        read
    }

    /// Reads the stream's events into `answer` until `[DONE]`.
    async fn read_events(reader: &web_sys::ReadableStreamDefaultReader, answer: RwSignal<Answer>) -> Result<(), Stop> {
        let mut buffer = Vec::new();
        loop {
            let chunk = JsFuture::from(reader.read()).await.map_err(failed)?;
            let done = js_sys::Reflect::get(&chunk, &"done".into())
                .map_err(failed)?
                .as_bool()
                .unwrap_or(true);
            if done {
                return Err("The stream ended before it was complete.".to_string().into());
            }
            let value = js_sys::Reflect::get(&chunk, &"value".into()).map_err(failed)?;
            buffer.extend(js_sys::Uint8Array::new(&value).to_vec());
            for data in super::complete_events(&mut buffer) {
                let at = now();
                if write(answer, |a| a.take_event(&data, at))?? {
                    return Ok(());
                }
            }
        }
    }
}

/// Starts one request (in the browser; nothing on the server, where no click happens); `then`
/// runs when it has ended, unless the page has gone.
pub fn start(request: String, answer: RwSignal<Answer>, then: impl FnOnce() + 'static) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        if browser::run(request, answer).await {
            then();
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (request, answer, then);
}

/// The browser's clock, milliseconds (0 on the server).
pub fn now() -> f64 {
    #[cfg(feature = "hydrate")]
    return browser::now();
    #[cfg(not(feature = "hydrate"))]
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_read_whole_and_split_ones_wait() {
        let mut buffer = b"data: {\"a\":1}\n\ndata: [DONE]\n\ndata: {\"b\"".to_vec();
        assert_eq!(complete_events(&mut buffer), ["{\"a\":1}", "[DONE]"]);
        assert_eq!(buffer, b"data: {\"b\"");
        buffer.extend(b":2}\n\n");
        assert_eq!(complete_events(&mut buffer), ["{\"b\":2}"]);
        assert!(buffer.is_empty());
    }

    #[test]
    fn an_answer_streams_with_its_first_token_time_and_usage() {
        let mut answer = Answer {
            started: 100.0,
            ..Answer::default()
        };
        let chunk = |text: &str| json!({"choices": [{"delta": {"content": text}}]}).to_string();
        assert_eq!(
            answer.take_event(
                &json!({"choices": [{"delta": {"role": "assistant"}}]}).to_string(),
                110.0
            ),
            Ok(false)
        );
        assert_eq!(answer.ttft_ms, None);
        assert_eq!(answer.take_event(&chunk("Hel"), 150.0), Ok(false));
        assert_eq!(answer.take_event(&chunk("lo"), 170.0), Ok(false));
        let usage = json!({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}}).to_string();
        assert_eq!(answer.take_event(&usage, 180.0), Ok(false));
        assert_eq!(answer.take_event("[DONE]", 181.0), Ok(true));
        assert_eq!((answer.text.as_str(), answer.ttft_ms), ("Hello", Some(50.0)));
        assert_eq!((answer.prompt_tokens, answer.completion_tokens), (Some(7), Some(2)));
        let error = json!({"error": {"message": "upstream went away"}}).to_string();
        assert_eq!(answer.take_event(&error, 190.0), Err("upstream went away".into()));
    }

    #[test]
    fn a_refusal_reads_as_its_status_and_message() {
        let mut answer = Answer::default();
        let body = json!({"error": {"message": "Rate limit reached"}}).to_string();
        assert_eq!(answer.take_json(429, &body, 1.0), Err("429: Rate limit reached".into()));
        let ok =
            json!({"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": 1, "completion_tokens": 1}});
        assert_eq!(answer.take_json(200, &ok.to_string(), 1.0), Ok(()));
        assert_eq!(answer.text, "hi");
    }

    #[test]
    fn every_members_answer_reads_under_its_name() {
        let mut answer = Answer::default();
        let keyed = json!({
            "fast": {"choices": [{"message": {"content": "one"}}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}},
            "slow": {"error": {"message": "timed out"}},
        });
        assert_eq!(answer.take_json(200, &keyed.to_string(), 1.0), Ok(()));
        assert_eq!(answer.text, "[fast]\none\n\n[slow]\n(failed: timed out)");
        assert_eq!((answer.prompt_tokens, answer.completion_tokens), (Some(3), Some(1)));
    }
}
