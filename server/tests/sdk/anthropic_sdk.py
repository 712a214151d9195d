"""Drives the gateway's `/v1/messages` with the official `anthropic` package.

Usage: python anthropic_sdk.py GATEWAY_URL GATEWAY_KEY
Prints one line per check; exits non-zero on the first failure.
"""

import sys

import anthropic

url, key = sys.argv[1], sys.argv[2]
client = anthropic.Anthropic(base_url=url, api_key=key, max_retries=0)
messages = [{"role": "user", "content": "hello from the sdk"}]

message = client.messages.create(model="gpt-4o-mini", max_tokens=64, system="Be brief.", messages=messages)
assert message.content[0].text == "mock reply to: hello from the sdk", message
assert message.stop_reason == "end_turn", message
assert (message.usage.input_tokens, message.usage.output_tokens) == (10, 5), message.usage
print("messages ok")

with client.messages.stream(model="gpt-4o-mini", max_tokens=64, messages=messages) as stream:
    text = "".join(stream.text_stream)
    final = stream.get_final_message()
assert text == "word0 word1 word2 ", text
assert final.usage.output_tokens == 5, final.usage
assert final.stop_reason == "end_turn", final
print("stream ok")

try:
    client.messages.create(model="no-such-model", max_tokens=8, messages=messages)
    raise AssertionError("an unknown model must fail")
except anthropic.NotFoundError as error:
    assert error.status_code == 404, error
    # Anthropic's own error shape: the SDK's message is the gateway's, not the raw body.
    assert error.body["type"] == "error" and error.body["error"]["type"] == "not_found_error", error.body
    assert "no-such-model" in error.message, error.message
print("errors ok")
