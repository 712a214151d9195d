//! The playground's shapes: what can be compared (endpoints, and each gateway's models), the
//! chat body it sends (or, for a named prompt, the prompt's name, version and parameters), a
//! logged request turned back into a prompt ("Open in playground"), and a conversation turned
//! into a named prompt's template ("Save as prompt").

use super::{GatewayId, ModelPrice, Prompt, RequestLog, TemplateForm, TemplateMessage};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// One thing a column can send to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaygroundTarget {
    /// `endpoint:<id>` or `gateway:<id>:<model>`.
    pub value: String,
    /// What the picker shows.
    pub label: String,
    /// The picker's group: "Endpoints", or the gateway's name.
    pub group: String,
}

/// A target's value as the playground route's `target` and the model to ask for (`None`: the
/// endpoint's own).
pub fn target_request(value: &str) -> Option<(Value, Option<String>)> {
    let mut parts = value.splitn(3, ':');
    match (parts.next()?, parts.next()?.parse::<i64>().ok()?, parts.next()) {
        ("endpoint", id, None) => Some((json!({ "endpoint": id }), None)),
        ("gateway", id, Some(model)) if !model.is_empty() => Some((json!({ "gateway": id }), Some(model.to_string()))),
        _ => None,
    }
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
}

/// The parameters a prompt is sent with, as typed (blank: the model's default).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    pub temperature: String,
    pub max_tokens: String,
}

/// The chat body for one column: the system message, the conversation so far and the new
/// user message, streamed with usage. A parameter that is not a number is refused by name.
pub fn chat_body(
    model: Option<&str>,
    system: &str,
    history: &[Turn],
    parameters: &Parameters,
) -> Result<Value, String> {
    let mut messages = Vec::new();
    if !system.trim().is_empty() {
        messages.push(json!({ "role": "system", "content": system }));
    }
    messages.extend(
        history
            .iter()
            .map(|turn| json!({ "role": turn.role, "content": turn.content })),
    );
    let mut body = Map::new();
    if let Some(model) = model {
        body.insert("model".into(), Value::String(model.into()));
    }
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), Value::Bool(true));
    body.insert("stream_options".into(), json!({ "include_usage": true }));
    let temperature = parameters.temperature.trim();
    if !temperature.is_empty() {
        let value: f64 = temperature
            .parse()
            .ok()
            .filter(|t| (0.0..=2.0).contains(t))
            .ok_or("Temperature must be a number from 0 to 2.")?;
        body.insert("temperature".into(), json!(value));
    }
    let max_tokens = parameters.max_tokens.trim();
    if !max_tokens.is_empty() {
        let value: u32 = max_tokens
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or("Max tokens must be a whole number above 0.")?;
        body.insert("max_tokens".into(), json!(value));
    }
    Ok(Value::Object(body))
}

/// The chat body for one column that sends a named prompt: `reference` (`name@3`,
/// `name:production`) with its `parameters`; the conversation after the prompt's own messages
/// (none on the first turn, unless a user message is added). The gateway renders the rest.
pub fn prompt_body(
    model: Option<&str>,
    reference: &str,
    parameters: Map<String, Value>,
    history: &[Turn],
    tuning: &Parameters,
) -> Result<Value, String> {
    let mut body = chat_body(model, "", history, tuning)?;
    if let Some(body) = body.as_object_mut() {
        body.insert("prompt".into(), Value::String(reference.into()));
        body.insert("parameters".into(), Value::Object(parameters));
    }
    Ok(body)
}

/// A conversation as a named prompt's template ("Save as prompt"): the system message, then the
/// turns; the temperature and max tokens, when given, as its params.
pub fn conversation_template(system: &str, turns: &[Turn], tuning: &Parameters) -> Result<TemplateForm, String> {
    let body = chat_body(None, system, turns, tuning)?;
    let messages: Vec<TemplateMessage> = (body["messages"].as_array().into_iter().flatten())
        .map(|message| TemplateMessage {
            role: message["role"].as_str().unwrap_or("user").to_string(),
            content: content_text(&message["content"]),
        })
        .collect();
    if messages.is_empty() {
        return Err("There is nothing to save yet: write a system or user message first.".into());
    }
    let params: Map<String, Value> = ["temperature", "max_tokens"]
        .into_iter()
        .filter_map(|field| Some((field.to_string(), body.get(field)?.clone())))
        .collect();
    Ok(TemplateForm {
        messages,
        params: if params.is_empty() {
            String::new()
        } else {
            Value::Object(params).to_string()
        },
        ..TemplateForm::default()
    })
}

/// A logged request, as a prompt to send again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replay {
    pub request_id: String,
    /// The target it went to (its gateway and model, or the endpoint that answered), if that
    /// can still be chosen.
    pub target: Option<String>,
    pub system: String,
    /// The messages before the last user message.
    pub history: Vec<Turn>,
    /// The last user message.
    pub user: String,
    pub parameters: Parameters,
    /// Why part of it could not be recovered, if so.
    pub note: Option<String>,
}

/// The text of OpenAI message content: a string, or the text parts of an array, joined.
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// A logged request as a prompt. `target` is what it went to, when the playground can still
/// send there.
pub fn replay_of(log: &RequestLog, target: Option<String>) -> Replay {
    let mut replay = Replay {
        request_id: log.request_id.clone(),
        target,
        ..Replay::default()
    };
    let Some(body) = log.request_body.as_deref() else {
        replay.note =
            Some("Its body was not stored (its gateway does not log bodies): write the messages again.".into());
        return replay;
    };
    let Ok(body) = serde_json::from_str::<Value>(body) else {
        replay.note = Some("Its stored body is not JSON.".into());
        return replay;
    };
    let mut turns: Vec<Turn> = Vec::new();
    for message in body["messages"].as_array().into_iter().flatten() {
        let role = message["role"].as_str().unwrap_or_default();
        let content = content_text(&message["content"]);
        match role {
            "system" | "developer" => {
                if !replay.system.is_empty() {
                    replay.system.push('\n');
                }
                replay.system.push_str(&content);
            }
            "user" | "assistant" => turns.push(Turn {
                role: role.into(),
                content,
            }),
            // Tool calls and their results have no place in the playground's columns.
            _ => {}
        }
    }
    if turns.last().is_some_and(|turn| turn.role == "user") {
        replay.user = turns.pop().map(|turn| turn.content).unwrap_or_default();
    }
    replay.history = turns;
    let number = |name: &str| body.get(name).filter(|v| v.is_number()).map(Value::to_string);
    replay.parameters = Parameters {
        temperature: number("temperature").unwrap_or_default(),
        max_tokens: number("max_tokens")
            .or_else(|| number("max_completion_tokens"))
            .unwrap_or_default(),
    };
    if body["messages"].as_array().is_none() {
        replay.note = Some("It was not a chat request: only chat requests can be replayed.".into());
    }
    replay
}

/// What the playground page needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlaygroundSetup {
    pub targets: Vec<PlaygroundTarget>,
    /// Each endpoint's name and model, for the cost of an answer (the endpoint that served is
    /// in the answer's `x-mgw-endpoint` header).
    pub endpoint_models: Vec<(String, String)>,
    pub prices: Vec<ModelPrice>,
    /// Whether the signed-in admin may send (viewers may not).
    pub can_send: bool,
    /// The logged request to replay (`?log=<request id>`), if asked.
    pub replay: Option<Replay>,
    /// Every named prompt, with its versions (their parameters make the prompt's form).
    pub prompts: Vec<Prompt>,
}

impl PlaygroundSetup {
    /// The cost of an answer served by `endpoint`, when its model has a price.
    pub fn cost_micros(&self, endpoint: &str, prompt_tokens: u64, completion_tokens: u64) -> Option<i64> {
        let model = &self.endpoint_models.iter().find(|(name, _)| name == endpoint)?.1;
        let price = self.prices.iter().find(|price| &price.model == model)?;
        Some(price.cost_micros(prompt_tokens, completion_tokens))
    }
}

/// The target of a logged request to a gateway.
pub fn gateway_target(gateway: GatewayId, model: &str) -> String {
    format!("gateway:{}:{model}", gateway.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_back_as_the_route_expects() {
        assert_eq!(target_request("endpoint:3"), Some((json!({"endpoint": 3}), None)));
        assert_eq!(
            target_request("gateway:2:gpt-4o:mini"),
            Some((json!({"gateway": 2}), Some("gpt-4o:mini".into())))
        );
        assert_eq!(target_request("gateway:2"), None);
        assert_eq!(target_request("endpoint:x"), None);
    }

    #[test]
    fn the_body_carries_the_conversation_and_refuses_bad_parameters() {
        let history = [
            Turn {
                role: "user".into(),
                content: "hi".into(),
            },
            Turn {
                role: "assistant".into(),
                content: "hello".into(),
            },
            Turn {
                role: "user".into(),
                content: "again".into(),
            },
        ];
        let parameters = Parameters {
            temperature: "0.5".into(),
            max_tokens: "64".into(),
        };
        let body = chat_body(Some("m"), "be brief", &history, &parameters).unwrap();
        assert_eq!(body["messages"].as_array().unwrap().len(), 4);
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(body["messages"][3]["content"], "again");
        assert_eq!(
            (body["temperature"].as_f64(), body["max_tokens"].as_u64()),
            (Some(0.5), Some(64))
        );
        assert_eq!(body["stream_options"]["include_usage"], true);
        let hot = Parameters {
            temperature: "3".into(),
            ..Parameters::default()
        };
        assert!(chat_body(None, "", &history, &hot).unwrap_err().contains("Temperature"));
        let none = chat_body(None, " ", &history[..1], &Parameters::default()).unwrap();
        assert!(none.get("model").is_none() && none.get("temperature").is_none());
        assert_eq!(none["messages"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn a_named_prompt_is_sent_by_reference_with_its_parameters_and_the_turns_after_it() {
        let parameters = json!({ "who": "Ada" }).as_object().cloned().unwrap_or_default();
        let body = prompt_body(Some("m"), "greeting@2", parameters, &[], &Parameters::default()).unwrap();
        assert_eq!(
            (&body["prompt"], &body["parameters"]["who"], &body["model"]),
            (&json!("greeting@2"), &json!("Ada"), &json!("m"))
        );
        assert_eq!(
            body["messages"],
            json!([]),
            "the gateway renders the prompt's own messages"
        );
        assert_eq!(body["stream"], true);
        let turns = [Turn {
            role: "user".into(),
            content: "and shorter".into(),
        }];
        let body = prompt_body(None, "greeting", Map::new(), &turns, &Parameters::default()).unwrap();
        assert_eq!(body["messages"], json!([{ "role": "user", "content": "and shorter" }]));
    }

    #[test]
    fn a_conversation_becomes_a_template_with_its_tuning_as_params() {
        let turns = [
            Turn {
                role: "user".into(),
                content: "Summarise the news.".into(),
            },
            Turn {
                role: "assistant".into(),
                content: "Nothing happened.".into(),
            },
        ];
        let tuning = Parameters {
            temperature: "0.3".into(),
            max_tokens: String::new(),
        };
        let form = conversation_template("Be terse.", &turns, &tuning).unwrap();
        let roles: Vec<&str> = form.messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant"]);
        assert_eq!(form.messages[1].content, "Summarise the news.");
        let template = form.read().unwrap();
        assert_eq!(Value::Object(template.params), json!({ "temperature": 0.3 }));
        assert!(conversation_template(" ", &[], &Parameters::default()).is_err());
    }

    #[test]
    fn a_logged_chat_becomes_a_prompt() {
        let log = RequestLog {
            request_id: "r1".into(),
            request_body: Some(
                json!({"model": "m", "temperature": 0.2, "max_tokens": 9, "messages": [
                    {"role": "system", "content": "sys"},
                    {"role": "user", "content": [{"type": "text", "text": "first"}]},
                    {"role": "assistant", "content": "answer"},
                    {"role": "user", "content": "second"}]})
                .to_string(),
            ),
            ..RequestLog::default()
        };
        let replay = replay_of(&log, Some("gateway:1:m".into()));
        assert_eq!((replay.system.as_str(), replay.user.as_str()), ("sys", "second"));
        assert_eq!(replay.history.len(), 2);
        assert_eq!(replay.history[0].content, "first");
        assert_eq!(
            replay.parameters,
            Parameters {
                temperature: "0.2".into(),
                max_tokens: "9".into()
            }
        );
        assert_eq!(replay.note, None);
        let unstored = replay_of(&RequestLog::default(), None);
        assert!(unstored.note.unwrap().contains("not stored"));
    }
}
