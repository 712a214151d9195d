"""A key with a limit, seen through the official `openai` package: the rate-limit headers on
a success, then `openai.RateLimitError` with `Retry-After` and the same headers.

Usage: python openai_limits.py GATEWAY_URL GATEWAY_KEY   (the key allows one request a day)
Prints one line per check; exits non-zero on the first failure.
"""

import sys

import openai
from openai import OpenAI

url, key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
messages = [{"role": "user", "content": "hello from the sdk"}]

raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)
headers = raw.headers
assert headers.get("x-ratelimit-limit-requests") == "1", dict(headers)
assert headers.get("x-ratelimit-remaining-requests") == "0", dict(headers)
assert headers.get("x-ratelimit-reset-requests"), dict(headers)
assert raw.parse().choices[0].message.content == "mock reply to: hello from the sdk"
print("headers ok")

try:
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    raise AssertionError("the second request of the day must be refused")
except openai.RateLimitError as error:
    assert error.status_code == 429, error
    assert error.code == "rate_limit_exceeded", error.body
    headers = error.response.headers
    assert int(headers["retry-after"]) >= 1, dict(headers)
    assert headers.get("x-ratelimit-limit-requests") == "1", dict(headers)
    assert headers.get("x-ratelimit-remaining-requests") == "0", dict(headers)
    assert headers.get("x-ratelimit-reset-requests"), dict(headers)
print("rate limit ok")
