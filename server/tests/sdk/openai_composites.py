"""Composite models seen through the official `openai` package: an A/B model, a load model and
a multi model answering with its first member and a best model (a judge choosing) answer normal
chat completions (and streams), and the A/B variant and the judge's choice are in the headers.

Usage: python openai_composites.py GATEWAY_URL GATEWAY_KEY
(the gateway has `ab-test`, an A/B model over categories `a` and `b`, `spread`, a load model,
`fastest`, a multi model in `first` mode, and `judged`, a best model over `mock` and `other`
judged by `mock` — whose answer holds no verdict, so the first candidate's is returned)
Prints one line per check; exits non-zero on the first failure.
"""

import sys

from openai import OpenAI

url, key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
messages = [{"role": "user", "content": "hello from the sdk"}]

variants = set()
for user in ("alice", "bob", "carol", "dave", "erin", "frank"):
    raw = client.chat.completions.with_raw_response.create(model="ab-test", messages=messages, user=user)
    variant = raw.headers.get("x-mgw-variant")
    assert variant in ("a", "b"), dict(raw.headers)
    completion = raw.parse()
    assert completion.object == "chat.completion", completion
    assert completion.choices[0].message.content == "mock reply to: hello from the sdk", completion
    again = client.chat.completions.with_raw_response.create(model="ab-test", messages=messages, user=user)
    assert again.headers.get("x-mgw-variant") == variant, (user, variant, dict(again.headers))
    variants.add(variant)
print("ab ok")

completion = client.chat.completions.create(model="spread", messages=messages)
assert completion.choices[0].message.content == "mock reply to: hello from the sdk", completion
assert completion.usage.total_tokens > 0, completion
text = ""
for chunk in client.chat.completions.create(model="spread", messages=messages, stream=True):
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
assert text, "the load model streamed nothing"
print("load ok")

completion = client.chat.completions.create(model="fastest", messages=messages)
assert completion.choices[0].message.content == "mock reply to: hello from the sdk", completion
text = ""
for chunk in client.chat.completions.create(model="fastest", messages=messages, stream=True):
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
assert text, "the first-answer model streamed nothing"
print("first ok")

raw = client.chat.completions.with_raw_response.create(model="judged", messages=messages)
assert raw.headers.get("x-mgw-judge") == "mock", dict(raw.headers)
completion = raw.parse()
assert completion.object == "chat.completion", completion
assert completion.choices[0].message.content == "mock reply to: hello from the sdk", completion
# Both candidates and the judge are counted.
assert completion.usage.total_tokens > 0, completion
text = ""
for chunk in client.chat.completions.create(model="judged", messages=messages, stream=True):
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
assert text == "mock reply to: hello from the sdk", text
print("best ok")

models = {model.id for model in client.models.list()}
assert {"ab-test", "spread", "fastest", "judged"} <= models, models
print("models ok")
