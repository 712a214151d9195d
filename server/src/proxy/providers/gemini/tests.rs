use super::*;

fn object(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[test]
fn openai_requests_become_generate_content_requests() {
    let body = object(json!({
        "model": "x", "max_tokens": 50, "temperature": 1.5, "top_p": 0.9, "seed": 7, "stop": "END",
        "user": "u1", "n": 2,
        "response_format": { "type": "json_schema", "json_schema": { "name": "a", "schema": { "type": "object" } } },
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "developer", "content": "Be kind." },
            { "role": "user", "content": [
                { "type": "text", "text": "What is this?" },
                { "type": "image_url", "image_url": { "url": "data:image/png;base64,AAAA" } },
                { "type": "image_url", "image_url": { "url": "https://example.com/cat.webp?x=1" } } ] },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "call_0__thought__c2ln", "type": "function", "function": { "name": "look", "arguments": "{\"q\":1}" } } ] },
            { "role": "tool", "tool_call_id": "call_0__thought__c2ln", "content": "a cat" },
            { "role": "user", "content": "And now?" },
        ],
        "tools": [{ "type": "function", "function": { "name": "look", "description": "Looks.",
                    "parameters": { "type": "object", "additionalProperties": false } } }],
        "tool_choice": { "type": "function", "function": { "name": "look" } },
    }));
    let out = generate_request(&body);
    assert_eq!(
        out["systemInstruction"],
        json!({ "parts": [{ "text": "Be brief.\n\nBe kind." }] })
    );
    let config = &out["generationConfig"];
    assert_eq!(config["maxOutputTokens"], 50);
    assert_eq!(config["temperature"], 1.5, "Gemini takes 0–2 as OpenAI does");
    assert_eq!(config["topP"], 0.9);
    assert_eq!(config["seed"], 7);
    assert_eq!(config["stopSequences"], json!(["END"]));
    assert_eq!(config["responseMimeType"], "application/json");
    assert_eq!(config["responseJsonSchema"], json!({ "type": "object" }));
    assert!(config.get("candidateCount").is_none() && out.get("user").is_none());
    let contents = out["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 3, "{contents:?}");
    assert_eq!(contents[0]["role"], "user");
    assert_eq!(
        contents[0]["parts"][1],
        json!({ "inlineData": { "mimeType": "image/png", "data": "AAAA" } })
    );
    assert_eq!(
        contents[0]["parts"][2],
        json!({ "fileData": { "mimeType": "image/webp", "fileUri": "https://example.com/cat.webp?x=1" } })
    );
    assert_eq!(
        contents[1],
        json!({ "role": "model", "parts": [{ "functionCall": { "name": "look", "args": { "q": 1 } }, "thoughtSignature": "c2ln" }] })
    );
    assert_eq!(
        contents[2]["parts"][0],
        json!({ "functionResponse": { "name": "look", "response": { "content": "a cat" } } }),
        "a tool result names its function, found from the call's id"
    );
    assert_eq!(contents[2]["parts"][1], json!({ "text": "And now?" }), "one user turn");
    assert_eq!(
        out["tools"][0]["functionDeclarations"][0],
        json!({ "name": "look", "description": "Looks.",
                "parametersJsonSchema": { "type": "object", "additionalProperties": false } })
    );
    assert_eq!(
        out["toolConfig"],
        json!({ "functionCallingConfig": { "mode": "ANY", "allowedFunctionNames": ["look"] } })
    );
}

#[test]
fn paths_name_the_model_and_the_method() {
    assert_eq!(
        path("gemini-2.5-flash", Operation::Chat, false),
        "models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(
        path("models/gemini-2.5-flash", Operation::Chat, true),
        "models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(
        path("text-embedding-004", Operation::Embeddings, false),
        "models/text-embedding-004:batchEmbedContents"
    );
    assert_eq!(
        path("a/b c", Operation::Chat, false),
        "models/a%2Fb%20c:generateContent"
    );
}

#[test]
fn answers_become_chat_completions() {
    let body = json!({
        "candidates": [{ "content": { "role": "model", "parts": [
            { "text": "thinking…", "thought": true },
            { "text": "Let me look." },
            { "functionCall": { "name": "look", "args": { "q": 1 } } },
            { "functionCall": { "id": "own", "name": "find", "args": {} }, "thoughtSignature": "c2ln" } ] },
          "finishReason": "STOP", "index": 0 }],
        "usageMetadata": { "promptTokenCount": 7, "cachedContentTokenCount": 3, "candidatesTokenCount": 9,
                           "thoughtsTokenCount": 4, "toolUsePromptTokenCount": 1, "totalTokenCount": 21 },
        "modelVersion": "gemini-2.5-pro", "responseId": "r9",
    });
    let answer = answer(
        body.to_string().as_bytes(),
        &crate::proxy::providers::Stamp::stamped("chatcmpl-test", 5),
    )
    .unwrap();
    assert_eq!(
        answer.usage,
        Some(Usage {
            prompt_tokens: 8,
            completion_tokens: 13
        })
    );
    let body = answer.body.json();
    assert_eq!(
        (body["id"].as_str(), body["model"].as_str()),
        (Some("r9"), Some("gemini-2.5-pro"))
    );
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "Let me look.");
    let calls = &choice["message"]["tool_calls"];
    assert_eq!(calls[0]["id"], "call_r9_0");
    assert_eq!(calls[0]["function"]["arguments"], "{\"q\":1}");
    assert_eq!(calls[1]["id"], "own__thought__c2ln");
    assert_eq!(body["usage"]["total_tokens"], 21);
}

#[test]
fn safety_blocks_finish_with_content_filter() {
    let blocked = json!({ "promptFeedback": { "blockReason": "PROHIBITED_CONTENT" },
                          "usageMetadata": { "promptTokenCount": 5 } });
    let answer = answer(
        blocked.to_string().as_bytes(),
        &crate::proxy::providers::Stamp::stamped("chatcmpl-test", 5),
    )
    .unwrap();
    let body = answer.body.json();
    assert_eq!(body["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(body["choices"][0]["message"]["content"], Value::Null);
    let cut = json!({ "candidates": [{ "content": { "parts": [{ "text": "Once" }] }, "finishReason": "SAFETY" }] });
    let answer = super::answer(
        cut.to_string().as_bytes(),
        &crate::proxy::providers::Stamp::stamped("chatcmpl-test", 5),
    )
    .unwrap();
    assert_eq!(answer.body.json()["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(answer.usage, None);
    assert!(
        super::answer(
            b"{\"candidates\":[]}",
            &crate::proxy::providers::Stamp::stamped("chatcmpl-test", 0)
        )
        .is_err(),
        "neither an answer nor a block"
    );
}

#[test]
fn embeddings_go_as_one_request_a_text_and_come_back_as_a_list() {
    let body = object(json!({ "model": "x", "input": ["a", "b"], "dimensions": 8 }));
    let out = embeddings_request("text-embedding-004", &body);
    assert_eq!(
        out["requests"][1],
        json!({ "model": "models/text-embedding-004", "content": { "parts": [{ "text": "b" }] }, "outputDimensionality": 8 })
    );
    let answer = embeddings_answer(br#"{"embeddings":[{"values":[0.5,1]},{"values":[2]}]}"#).unwrap();
    let body = answer.body.json();
    assert_eq!(
        body["data"][1],
        json!({ "object": "embedding", "index": 1, "embedding": [2.0] })
    );
    assert!(embeddings_answer(b"{}").is_err());
}

#[test]
fn google_errors_are_read_into_openai_terms() {
    let error =
        error(&json!({ "error": { "code": 429, "message": "Quota exceeded.", "status": "RESOURCE_EXHAUSTED" } }));
    assert_eq!(error.kind, "rate_limit_error");
    assert_eq!(error.code.as_deref(), Some("RESOURCE_EXHAUSTED"));
    assert_eq!(error.message, "Quota exceeded.");
    let listed = super::error(&json!([{ "error": { "code": 400, "message": "Bad.", "status": "INVALID_ARGUMENT" } }]));
    assert_eq!(
        (listed.kind.as_str(), listed.message.as_str()),
        ("invalid_request_error", "Bad.")
    );
}
