"""Drives the gateway's `/v1/responses` with the official `openai` package (issue #25).

Usage: python responses_sdk.py GATEWAY_URL GATEWAY_KEY
Prints one line per check; exits non-zero on the first failure.
"""

import sys

import openai

url, key = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)

response = client.responses.create(model="gpt-4o-mini", instructions="Be brief.", input="hello from the sdk")
assert response.output_text == "mock reply to: hello from the sdk", response
assert response.status == "completed", response
assert (response.usage.input_tokens, response.usage.output_tokens) == (10, 5), response.usage
print("json ok")

text, kinds, completed = "", [], None
for event in client.responses.create(model="gpt-4o-mini", input="hello", stream=True):
    kinds.append(event.type)
    if event.type == "response.output_text.delta":
        text += event.delta
    if event.type == "response.completed":
        completed = event.response
assert text == "word0 word1 word2 ", text
assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
assert completed.output_text == text, completed
assert completed.usage.output_tokens == 5, completed.usage
print("stream ok")

# The SDK's own stream helper rebuilds the response from the events, checking their order.
with client.responses.stream(model="gpt-4o-mini", input=[{"role": "user", "content": "hello"}]) as stream:
    final = stream.get_final_response()
assert final.output_text == "word0 word1 word2 ", final
print("stream helper ok")

# OpenAI's own Responses API keeps conversations: through an OpenAI endpoint the request goes
# as it came; through the chat path, it is refused naming the field.
try:
    followed = client.responses.create(model="gpt-4o-mini", input="hi", previous_response_id="resp_1")
    assert followed.previous_response_id == "resp_1", followed
    print("stateful ok")
except openai.BadRequestError as error:
    assert error.status_code == 400 and "previous_response_id" in str(error), error
    print("stateless ok")
try:
    client.responses.retrieve("resp_1")
    raise AssertionError("no response is kept to retrieve")
except openai.BadRequestError as error:
    assert error.status_code == 400, error
print("retrieve refused ok")
