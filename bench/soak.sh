#!/usr/bin/env bash
# bench/soak.sh — the gateway under a steady mixed load for a long time (issue 18): is its memory
# flat and its p99 steady? Uses the release binaries bench/run.sh builds (run it, or
# `cargo build --release --locked -p server --bins`, first).
#
#   bench/soak.sh [MINUTES] [WORKERS]      default 30 minutes, 16 client threads
#
# Load (bench/soak.py): 70 % JSON chats, 29 % streamed chats, 1 % slow clients (a stream read
# one chunk every 200 ms); the gateway's endpoints are the mock (weight 99) and a faulty
# upstream that refuses connections (weight 1), so about 1 % of requests fail over. Every
# minute: requests, errors, p50 and p99, the gateway's RSS. At the end: whether the RSS of the
# last minute is within 10 % of the first full minute's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MINUTES="${1:-30}"; WORKERS="${2:-16}"
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"

MOCK_PORT="$(free_port)"; GW_PORT="$(free_port)"; DEAD_PORT="$(free_port)"
"$BIN/mock-upstream" --bind "127.0.0.1:$MOCK_PORT" >"$TMP/mock.log" 2>&1 & PIDS+=("$!")
DATA="$TMP/data"; mkdir -p "$DATA"
mgw() { timeout 60 "$BIN/model-gateway" --data-dir "$DATA" "$@" 2>>"$TMP/cli.log" >/dev/null; }
mgw endpoint add --name good --provider openai_compatible --url "http://127.0.0.1:$MOCK_PORT/v1" --model gpt-4o-mini
mgw endpoint add --name faulty --provider openai_compatible --url "http://127.0.0.1:$DEAD_PORT/v1" --model gpt-4o-mini
mgw gateway add --name soak --strategy weighted --endpoints good:99,faulty:1
KEY="$(timeout 60 "$BIN/model-gateway" --data-dir "$DATA" key create --gateway soak --name soak --limit concurrency=100000 --json 2>>"$TMP/cli.log" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')"
"$BIN/model-gateway" serve --data-dir "$DATA" --bind "127.0.0.1:$GW_PORT" >"$TMP/gateway.log" 2>&1 & GW_PID=$!; PIDS+=("$GW_PID")
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$GW_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
python3 "$ROOT/bench/soak.py" "http://127.0.0.1:$GW_PORT" "$KEY" "$GW_PID" "$MINUTES" "$WORKERS"
