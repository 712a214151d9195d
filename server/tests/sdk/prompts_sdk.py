"""Named prompts through the official `openai` and `anthropic` packages: a request that names
`email-template-gen` and its parameters (in `extra_body`) gets a normal answer to the rendered
prompt, streamed or not, and a missing parameter is an SDK error naming it.

Usage: python prompts_sdk.py GATEWAY_URL GATEWAY_KEY
(the gateway serves `email-template-gen`, whose last message is
"Write {{ templatecount }} email templates for {{ firstname }}.", and the mock upstream answers
"mock reply to: <the last message>")
Prints one line per check; exits non-zero on the first failure.
"""

import sys

import anthropic
import openai
from openai import OpenAI

url, key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
named = {"prompt": "email-template-gen", "parameters": {"templatecount": 5, "brand": "Sun and Sands", "firstname": "Joe"}}
rendered = "mock reply to: Write 5 email templates for Joe."

completion = client.chat.completions.create(model="gpt-4o-mini", messages=[], extra_body=named)
assert completion.object == "chat.completion", completion
assert completion.choices[0].message.content == rendered, completion
text = ""
for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True, extra_body=named):
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
assert text, "the prompt streamed nothing"
print("openai ok")

try:
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[], extra_body={"prompt": "email-template-gen", "parameters": {"brand": "B"}}
    )
    raise AssertionError("a missing parameter was accepted")
except openai.BadRequestError as error:
    assert error.status_code == 400, error
    assert error.param == "parameters.firstname", (error.param, error.body)
print("errors ok")

claude = anthropic.Anthropic(base_url=url, api_key=key, max_retries=0)
message = claude.messages.create(model="gpt-4o-mini", max_tokens=64, messages=[], extra_body=named)
assert message.content[0].text == rendered, message
print("anthropic ok")
