"""Drives the gateway with the official `openai` package, as an application would.

Usage: python openai_sdk.py GATEWAY_URL GATEWAY_KEY
Prints one line per check; exits non-zero on the first failure.
"""

import sys

import openai
from openai import AzureOpenAI, OpenAI

url, key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
messages = [{"role": "user", "content": "hello from the sdk"}]

chat = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
assert chat.choices[0].message.content == "mock reply to: hello from the sdk", chat
assert chat.usage.total_tokens == 15, chat.usage
print("chat ok")

raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)
assert raw.headers.get("x-mgw-endpoint") == "mock", dict(raw.headers)
assert raw.headers.get("x-request-id"), dict(raw.headers)
print("headers ok")

pieces = []
for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True):
    if chunk.choices and chunk.choices[0].delta.content:
        pieces.append(chunk.choices[0].delta.content)
assert "".join(pieces) == "word0 word1 word2 ", pieces
print("stream ok")

usage = None
stream = client.chat.completions.create(
    model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
)
for chunk in stream:
    if chunk.usage:
        usage = chunk.usage
assert usage is not None and usage.total_tokens == 15, usage
print("stream usage ok")

embeddings = client.embeddings.create(model="gpt-4o-mini", input=["one", "two"])
assert len(embeddings.data) == 2 and len(embeddings.data[0].embedding) == 64, embeddings
assert embeddings.data[0].embedding != embeddings.data[1].embedding, "each text its own vector"
print("embeddings ok")

models = [m.id for m in client.models.list()]
assert "gpt-4o-mini" in models, models
print("models ok")

try:
    client.chat.completions.create(model="no-such-model", messages=messages)
    raise AssertionError("an unknown model must fail")
except openai.NotFoundError as error:
    assert error.status_code == 404 and error.code == "model_not_found", error
print("errors ok")

try:
    OpenAI(base_url=f"{url}/v1", api_key="mgw_wrong", max_retries=0).models.list()
    raise AssertionError("a wrong key must fail")
except openai.AuthenticationError as error:
    assert error.status_code == 401, error
print("auth ok")

azure = AzureOpenAI(azure_endpoint=url, api_key=key, api_version="2024-10-21", max_retries=0)
reply = azure.chat.completions.create(model="auto", messages=messages)
assert reply.choices[0].message.content == "mock reply to: hello from the sdk", reply
print("azure ok")
