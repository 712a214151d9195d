use super::*;

fn object(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[test]
fn openai_requests_become_converse_requests() {
    let body = object(json!({
        "model": "x", "max_tokens": 50, "temperature": 0.2, "top_p": 0.9, "stop": ["END"], "user": "u1",
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "user", "content": [
                { "type": "text", "text": "What is this?" },
                { "type": "image_url", "image_url": { "url": "data:image/jpeg;base64,AAAA" } },
                { "type": "image_url", "image_url": { "url": "https://example.com/cat.png" } } ] },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "t1", "type": "function", "function": { "name": "look", "arguments": "{\"q\":1}" } } ] },
            { "role": "tool", "tool_call_id": "t1", "content": "a cat" },
        ],
        "tools": [{ "type": "function", "function": { "name": "look", "description": "Looks.", "parameters": { "type": "object" } } }],
        "tool_choice": "required",
    }));
    let out = Value::Object(converse_request(&body));
    assert_eq!(out["system"], json!([{ "text": "Be brief." }]));
    assert_eq!(
        out["inferenceConfig"],
        json!({ "maxTokens": 50, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"] })
    );
    let messages = out["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages[0]["content"],
        json!([{ "text": "What is this?" }, { "image": { "format": "jpeg", "source": { "bytes": "AAAA" } } }]),
        "a web image is dropped: Converse takes bytes"
    );
    assert_eq!(
        messages[1]["content"][0],
        json!({ "toolUse": { "toolUseId": "t1", "name": "look", "input": { "q": 1 } } })
    );
    assert_eq!(
        messages[2],
        json!({ "role": "user", "content": [{ "toolResult": { "toolUseId": "t1", "content": [{ "text": "a cat" }] } }] })
    );
    assert_eq!(
        out["toolConfig"],
        json!({ "tools": [{ "toolSpec": { "name": "look", "description": "Looks.", "inputSchema": { "json": { "type": "object" } } } }],
                "toolChoice": { "any": {} } })
    );
    assert!(out.get("user").is_none() && out.get("model").is_none());
    let none = object(json!({ "messages": [], "tools": body["tools"], "tool_choice": "none" }));
    assert!(
        converse_request(&none).get("toolConfig").is_none(),
        "no tools offered, none called"
    );
    let mut with_history = body.clone();
    with_history.insert("tool_choice".into(), json!("none"));
    assert!(
        converse_request(&with_history).get("toolConfig").is_some(),
        "Converse refuses tool blocks in the history without its tools"
    );
}

#[test]
fn converse_answers_become_chat_completions() {
    let body = json!({
        "output": { "message": { "role": "assistant", "content": [
            { "text": "Let me look." },
            { "toolUse": { "toolUseId": "t1", "name": "look", "input": { "q": 1 } } } ] } },
        "stopReason": "tool_use",
        "usage": { "inputTokens": 7, "outputTokens": 9, "totalTokens": 16, "cacheReadInputTokens": 2 },
    });
    let answer = answer(
        body.to_string().as_bytes(),
        &crate::proxy::providers::Stamp::stamped("chatcmpl-test", 5),
    )
    .unwrap();
    assert_eq!(
        answer.usage,
        Some(Usage {
            prompt_tokens: 9,
            completion_tokens: 9
        })
    );
    let body = answer.body.json();
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "Let me look.");
    assert_eq!(choice["message"]["tool_calls"][0]["function"]["arguments"], "{\"q\":1}");
    let filtered = json!({ "output": { "message": { "content": [] } }, "stopReason": "guardrail_intervened" });
    let filtered = super::answer(
        filtered.to_string().as_bytes(),
        &crate::proxy::providers::Stamp::stamped("chatcmpl-test", 5),
    )
    .unwrap();
    assert_eq!(filtered.body.json()["choices"][0]["finish_reason"], "content_filter");
    assert!(super::answer(
        b"{\"output\":{}}",
        &crate::proxy::providers::Stamp::stamped("chatcmpl-test", 0)
    )
    .is_err());
}

#[test]
fn stream_events_become_steps_and_the_metadata_ends_the_stream() {
    let mut decoder = StreamDecoder::new(crate::proxy::providers::Stamp::stamped("chatcmpl-test", 3));
    let mut items = decoder.event("messageStart", r#"{"role":"assistant"}"#).unwrap();
    items.extend(
        decoder
            .event("contentBlockDelta", r#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#)
            .unwrap(),
    );
    items.extend(
        decoder
            .event(
                "contentBlockStart",
                r#"{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"t1","name":"look"}}}"#,
            )
            .unwrap(),
    );
    items.extend(
        decoder
            .event(
                "contentBlockDelta",
                r#"{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"q\":"}}}"#,
            )
            .unwrap(),
    );
    items.extend(decoder.event("contentBlockStop", r#"{"contentBlockIndex":1}"#).unwrap());
    assert!(
        decoder
            .event("metadata", r#"{"usage":{"inputTokens":1}}"#)
            .unwrap()
            .is_empty(),
        "not before the stop"
    );
    items.extend(decoder.event("messageStop", r#"{"stopReason":"tool_use"}"#).unwrap());
    items.extend(
        decoder
            .event(
                "metadata",
                r#"{"usage":{"inputTokens":4,"outputTokens":6,"totalTokens":10},"metrics":{"latencyMs":9}}"#,
            )
            .unwrap(),
    );
    let trees: Vec<Value> = items
        .iter()
        .map(|item| match item {
            StreamItem::Step(step) => step.tree(),
            StreamItem::Usage(usage) => json!({ "usage": usage.to_openai() }),
            StreamItem::Done => json!("done"),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(trees[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(trees[1]["choices"][0]["delta"]["content"], "Hi");
    assert_eq!(trees[2]["choices"][0]["delta"]["tool_calls"][0]["id"], "t1");
    assert_eq!(
        trees[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
        "{\"q\":"
    );
    assert_eq!(trees[4]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(trees[5]["usage"]["completion_tokens"], 6);
    assert_eq!(trees[6], "done");
    let throttled = StreamDecoder::new(crate::proxy::providers::Stamp::stamped("chatcmpl-test", 3))
        .event("exception:throttlingException", r#"{"message":"Too many requests."}"#)
        .unwrap_err();
    assert_eq!(
        throttled,
        StreamFault::Reported {
            status: 429,
            message: "Too many requests.".into()
        }
    );
}
