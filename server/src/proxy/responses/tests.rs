use super::*;

fn object(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[test]
fn a_responses_request_becomes_a_chat_request() {
    let body = object(json!({
        "model": "gpt-4o-mini", "instructions": "Be brief.", "max_output_tokens": 40, "temperature": 0.5,
        "store": true, "metadata": { "a": "b" }, "reasoning": { "effort": "low" },
        "text": { "format": { "type": "json_schema", "name": "answer", "schema": { "type": "object" }, "strict": true } },
        "input": [
            { "role": "user", "content": [
                { "type": "input_text", "text": "What is this?" },
                { "type": "input_image", "image_url": "data:image/png;base64,AAAA" } ] },
            { "type": "function_call", "call_id": "call_1", "name": "look", "arguments": "{\"q\":1}" },
            { "type": "function_call", "call_id": "call_2", "name": "find", "arguments": "{}" },
            { "type": "function_call_output", "call_id": "call_1", "output": "a cat" },
            { "type": "reasoning", "id": "rs_1", "summary": [] },
            { "type": "message", "role": "assistant", "content": [{ "type": "output_text", "text": "A cat." }] },
            { "role": "user", "content": "Thanks" },
        ],
        "tools": [{ "type": "function", "name": "look", "description": "Looks.", "parameters": { "type": "object" }, "strict": true }],
        "tool_choice": { "type": "function", "name": "look" },
    }));
    let translation = from_responses_request(&body).unwrap();
    assert!(translation.native_only.is_none());
    let chat = Value::Object(translation.chat);
    assert_eq!(chat["max_completion_tokens"], 40);
    assert_eq!(chat["temperature"], 0.5);
    assert_eq!(chat["reasoning_effort"], "low");
    assert!(chat.get("store").is_none() && chat.get("metadata").is_none() && chat.get("input").is_none());
    assert_eq!(
        chat["response_format"],
        json!({ "type": "json_schema", "json_schema": { "name": "answer", "schema": { "type": "object" }, "strict": true } })
    );
    let messages = chat["messages"].as_array().unwrap();
    assert_eq!(messages[0], json!({ "role": "system", "content": "Be brief." }));
    assert_eq!(
        messages[1]["content"][1],
        json!({ "type": "image_url", "image_url": { "url": "data:image/png;base64,AAAA" } })
    );
    assert_eq!(
        messages[2]["tool_calls"].as_array().unwrap().len(),
        2,
        "calls in a row are one turn"
    );
    assert_eq!(messages[2]["tool_calls"][0]["function"]["arguments"], "{\"q\":1}");
    assert_eq!(
        messages[3],
        json!({ "role": "tool", "tool_call_id": "call_1", "content": "a cat" })
    );
    assert_eq!(messages[4], json!({ "role": "assistant", "content": "A cat." }));
    assert_eq!(
        messages[5],
        json!({ "role": "user", "content": [{ "type": "text", "text": "Thanks" }] })
    );
    assert_eq!(
        chat["tools"][0],
        json!({ "type": "function", "function": { "name": "look", "description": "Looks.", "parameters": { "type": "object" }, "strict": true } })
    );
    assert_eq!(
        chat["tool_choice"],
        json!({ "type": "function", "function": { "name": "look" } })
    );
    let plain = from_responses_request(&object(json!({ "model": "m", "input": "hi" })))
        .unwrap()
        .chat;
    assert_eq!(plain["messages"], json!([{ "role": "user", "content": "hi" }]));
}

#[test]
fn what_only_openais_own_api_serves_is_noted_by_name_and_left_out() {
    for (body, param) in [
        (
            json!({ "input": "hi", "previous_response_id": "resp_1" }),
            "previous_response_id",
        ),
        (json!({ "input": "hi", "conversation": "conv_1" }), "conversation"),
        (json!({ "input": "hi", "background": true }), "background"),
        (
            json!({ "input": "hi", "prompt": { "id": "pmpt_1", "version": "2" } }),
            "prompt",
        ),
        (
            json!({ "input": [{ "type": "item_reference", "id": "msg_1" }] }),
            "input",
        ),
        (
            json!({ "input": "hi", "tools": [{ "type": "web_search" }, { "type": "function", "name": "f" }] }),
            "tools",
        ),
        (
            json!({ "input": "hi", "tool_choice": { "type": "web_search_preview" } }),
            "tool_choice",
        ),
        (
            json!({ "input": [{ "role": "user", "content": [{ "type": "input_text", "text": "see" },
                                                              { "type": "input_file", "file_id": "f" }] }] }),
            "input",
        ),
    ] {
        let translation = from_responses_request(&object(body.clone())).unwrap();
        let noted = translation.native_only.expect("noted");
        assert_eq!(noted.param, param, "{body}");
        // What is left is still a chat request to estimate: never without a turn.
        let chat = Value::Object(translation.chat);
        assert!(!chat["messages"].as_array().unwrap().is_empty(), "{chat}");
        assert!(
            !chat.to_string().contains("web_search") && !chat.to_string().contains("input_file"),
            "{chat}"
        );
    }
    let tools = from_responses_request(&object(
        json!({ "input": "hi", "tools": [{ "type": "web_search" }, { "type": "function", "name": "f" }] }),
    ))
    .unwrap();
    assert_eq!(
        tools.chat["tools"].as_array().map(Vec::len),
        Some(1),
        "the function tool stays"
    );
}

#[test]
fn malformed_requests_are_refused_by_name() {
    for (body, param) in [
        (json!({ "input": 5 }), "input"),
        (json!({ "input": [{ "role": "robot", "content": "hi" }] }), "input"),
        (
            json!({ "input": [{ "role": "user", "content": [{ "text": "no type" }] }] }),
            "input",
        ),
        (json!({ "input": "hi", "tools": [{ "name": "no type" }] }), "tools"),
        (json!({ "input": "hi", "tool_choice": 5 }), "tool_choice"),
        (json!({ "input": "hi", "instructions": 5 }), "instructions"),
    ] {
        let refused = from_responses_request(&object(body.clone())).err().expect("refused");
        assert_eq!(refused.param, param, "{body}");
    }
}

#[test]
fn a_chat_completion_becomes_a_response() {
    let answer = json!({
        "id": "chatcmpl-9", "object": "chat.completion", "created": 5, "model": "m",
        "choices": [{ "index": 0, "finish_reason": "tool_calls", "message": { "role": "assistant", "content": "Looking.",
            "tool_calls": [{ "id": "call_1", "type": "function", "function": { "name": "look", "arguments": "{}" } }] } }],
    });
    let response = to_response(
        &answer,
        Usage {
            prompt_tokens: 3,
            completion_tokens: 2,
        },
    );
    assert_eq!(response["id"], "resp_9");
    assert_eq!(response["object"], "response");
    assert_eq!(response["status"], "completed");
    assert_eq!(response["created_at"], 5);
    assert_eq!(response["output"][0]["content"][0]["text"], "Looking.");
    assert_eq!(
        response["output"][1],
        json!({ "type": "function_call", "id": "fc_0_resp_9", "call_id": "call_1", "name": "look", "arguments": "{}", "status": "completed" })
    );
    assert_eq!(
        response["usage"],
        json!({ "input_tokens": 3, "input_tokens_details": { "cached_tokens": 0 }, "output_tokens": 2,
                "output_tokens_details": { "reasoning_tokens": 0 }, "total_tokens": 5 })
    );
    let cut = json!({ "id": "c", "choices": [{ "finish_reason": "length", "message": { "content": "Hi" } }] });
    let cut = to_response(&cut, Usage::default());
    assert_eq!(
        (cut["status"].as_str(), &cut["incomplete_details"]),
        (Some("incomplete"), &json!({ "reason": "max_output_tokens" }))
    );
}
