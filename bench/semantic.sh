#!/usr/bin/env bash
# bench/semantic.sh — what a semantic cache costs a request (issue #24), one request at a time
# against the mock: exact misses and hits on an `exact` gateway, then on a `semantic` one misses
# (texts of random words: nothing near) and hits (the same question with other punctuation and
# spacing: each its own exact key, the same words, so a semantic hit at similarity 1). Every
# semantic lookup makes one embedding call to the mock, whose embeddings answer at once, so the
# figures are the gateway's own part.
#
#   bench/semantic.sh [N]        N requests of each kind a round (default 400), two rounds
#
# Needs release binaries (cargo build --release --locked -p server) and python3. Loopback only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
N="${1:-400}"
for b in mock-upstream model-gateway; do
  [[ -x "$BIN/$b" ]] || { echo "semantic.sh: $BIN/$b is missing (cargo build --release --locked -p server)" >&2; exit 1; }
done
TMP="$(mktemp -d)"; DATA="$TMP/data"; mkdir -p "$DATA"; PIDS=()
cleanup() { for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
unset "${!MGW_@}" 2>/dev/null || true
read -r MOCK GW < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
"$BIN/mock-upstream" --bind "127.0.0.1:$MOCK" >"$TMP/mock.log" 2>&1 & PIDS+=($!)
mgw() { "$BIN/model-gateway" --data-dir "$DATA" "$@" >/dev/null 2>>"$TMP/cli.log"; }
key() { "$BIN/model-gateway" --data-dir "$DATA" key create --gateway "$1" --json --name "$1" --limit concurrency=100000 \
        2>>"$TMP/cli.log" | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])'; }
mgw endpoint add --name chat --provider openai_compatible --url "http://127.0.0.1:$MOCK/v1" --model gpt-4o-mini
mgw endpoint add --name emb --provider openai_compatible --url "http://127.0.0.1:$MOCK/v1" --model text-embedding-3-small
mgw gateway add --name exact --endpoints chat,emb
mgw gateway update exact --cache exact --cache-ttl 1h
mgw gateway add --name semantic --endpoints chat,emb
mgw gateway update semantic --cache semantic --cache-ttl 1h --cache-embedding text-embedding-3-small --cache-similarity 0.95
EXACT_KEY="$(key exact)"; SEMANTIC_KEY="$(key semantic)"
"$BIN/model-gateway" serve --data-dir "$DATA" --bind "127.0.0.1:$GW" >"$TMP/gateway.log" 2>&1 & PIDS+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$GW/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
echo "bench/semantic.sh · commit $(git -C "$ROOT" rev-parse --short HEAD) · $N requests a kind a round, one at a time"
python3 - "$GW" "$EXACT_KEY" "$SEMANTIC_KEY" "$N" <<'PY'
import http.client, json, random, statistics, sys, time
port, exact_key, semantic_key, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port)
def ask(key, text):
    body = json.dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]})
    started = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, {"authorization": f"Bearer {key}", "content-type": "application/json"})
    response = conn.getresponse(); response.read()
    assert response.status == 200, response.status
    return (time.perf_counter() - started) * 1000, response.getheader("x-mgw-cache"), response.getheader("x-mgw-cache-similarity")
def run(name, key, texts, expect):
    times = []
    for text in texts:
        ms, cache, similarity = ask(key, text)
        assert (cache, similarity is not None) == expect, (name, cache, similarity)
        times.append(ms)
    times.sort()
    print(f"| {name} | {statistics.median(times):.3f} | {statistics.mean(times):.3f} | {times[int(len(times) * 0.99)]:.3f} |")
print("| kind | p50 ms | mean ms | p99 ms |\n|---|---:|---:|---:|")
question = "What is the capital of France?"
for round in range(2):
    rng = random.Random(round)
    words = lambda: " ".join("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(9)) for _ in range(6))
    run("exact miss", exact_key, [words() for _ in range(n)], ("miss", False))
    ask(exact_key, question)
    run("exact hit", exact_key, [question] * n, ("hit", False))
    run("semantic miss", semantic_key, [words() for _ in range(n)], ("miss", False))
    ask(semantic_key, question)
    # Each its own exact key (punctuation and spacing), the same words: a semantic hit.
    asked = [f"What is the capital of France{'?' * (i % 50 + 2)}{' ' * (i // 50)}" for i in range(round * n, round * n + n)]
    run("semantic hit", semantic_key, asked, ("hit", True))
PY
