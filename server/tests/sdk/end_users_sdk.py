"""End users (issue #23) through the official `openai` package, both ways in: (a) the end
user's token alone as the API key, at `/g/g/v1`; (b) the gateway key, with the user's token in
the `x-mgw-user-token` header. A token that does not verify is an `AuthenticationError`.

Usage: python end_users_sdk.py GATEWAY_URL GATEWAY_KEY USER_TOKEN
(gateway `g` takes keys and tokens alone, and accepts USER_TOKEN's issuer)
Prints one line per check; exits non-zero on the first failure.
"""

import sys

import openai
from openai import OpenAI

url, key, token = sys.argv[1], sys.argv[2], sys.argv[3]
messages = [{"role": "user", "content": "hello there"}]


def chat_and_stream(client):
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert completion.choices[0].message.content, completion
    text = ""
    for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
    assert text, "the stream said nothing"


chat_and_stream(OpenAI(base_url=f"{url}/g/g/v1", api_key=token, max_retries=0))
print("token alone ok")

chat_and_stream(OpenAI(base_url=f"{url}/v1", api_key=key, default_headers={"x-mgw-user-token": token}, max_retries=0))
print("key and token ok")

for client in [
    OpenAI(base_url=f"{url}/g/g/v1", api_key=token[:-4] + "AAAA", max_retries=0),
    OpenAI(base_url=f"{url}/v1", api_key=key, default_headers={"x-mgw-user-token": "not-a-jwt"}, max_retries=0),
]:
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        raise AssertionError("a bad token was accepted")
    except openai.AuthenticationError as error:
        assert error.status_code == 401, error
        assert error.code == "invalid_user_token", (error.code, error.body)
print("refusals ok")
