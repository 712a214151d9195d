#!/usr/bin/env bash
# bench/callgrind.sh — instructions per request, counted by callgrind (issue #26): stable on a
# shared machine where timings are not, so a regression on the request path shows as a number.
#
#   bench/callgrind.sh [N]        N requests of each kind (default 200), release binaries built
#
# Starts the mock (20-chunk streams, no gap) and a gateway under `valgrind --tool=callgrind`
# (instrumentation off until the warm-up is over), then sends N requests of each kind, dumping
# after each: non-streamed chats (`json`), streamed chats (`stream`: same dialect both ways),
# streamed chats to an Anthropic-kind endpoint (`translated`: Anthropic's events read, OpenAI
# chunks written) and Anthropic-shaped streamed requests to the OpenAI-kind endpoint (`messages`:
# OpenAI chunks read, Anthropic events written) and non-streamed chats to a gateway whose response
# cache answers them (`cached`: every one after the warm-up a hit, issue #24). Prints instructions per request (the whole
# process: request path, log writer, SQLite's thread, runtime) and the share of the steps named
# below, each its functions' inclusive count. One request at a time makes the log writer's
# batches small, so its share here is larger than under load.
# Needs valgrind (callgrind_control, callgrind_annotate) and python3. Loopback only.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
N="${1:-200}"
CHUNKS=20
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
for tool in valgrind callgrind_control callgrind_annotate python3 curl; do
  command -v "$tool" >/dev/null || { echo "callgrind.sh: $tool is required" >&2; exit 1; }
done
for b in mock-upstream model-gateway; do
  [[ -x "$BIN/$b" ]] || { echo "callgrind.sh: $BIN/$b is missing (cargo build --release --locked -p server)" >&2; exit 1; }
done
[[ "$N" =~ ^[0-9]+$ ]] && (( N >= 10 && N <= 100000 )) || { echo "callgrind.sh: N must be 10..100000" >&2; exit 2; }

TMP="${CALLGRIND_DIR:-$(mktemp -d)}"; mkdir -p "$TMP"; PIDS=()
cleanup() { for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; [[ -n "${CALLGRIND_DIR:-}" ]] || rm -rf "$TMP"; }
trap cleanup EXIT
unset "${!MGW_@}" 2>/dev/null || true

read -r MOCK_PORT GW_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks:
    s.close()')

wait_http() {  # url seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do curl -fsS --max-time 1 -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "callgrind.sh: $1 did not answer in $2 s" >&2; exit 1
}

"$BIN/mock-upstream" --bind "127.0.0.1:$MOCK_PORT" --chunks "$CHUNKS" --chunk-gap-ms 0 >"$TMP/mock.log" 2>&1 &
PIDS+=($!)
mgw() { timeout 60 "$BIN/model-gateway" --data-dir "$TMP/data" "$@" 2>>"$TMP/cli.log"; }
mgw endpoint add --name bench-mock --provider openai_compatible --url "http://127.0.0.1:$MOCK_PORT/v1" \
  --api-key sk-bench --model gpt-4o-mini >/dev/null
mgw gateway add --name bench --endpoints bench-mock >/dev/null
mgw endpoint add --name bench-claude --provider anthropic --url "http://127.0.0.1:$MOCK_PORT" \
  --api-key sk-bench --model gpt-4o-mini >/dev/null
mgw gateway add --name bench-claude --endpoints bench-claude >/dev/null
mgw gateway add --name bench-cached --endpoints bench-mock >/dev/null
mgw gateway update bench-cached --cache exact --cache-ttl 1h >/dev/null
new_key() { mgw key create --gateway "$1" --json --name "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])'; }
KEY=$(new_key bench)
CLAUDE_KEY=$(new_key bench-claude)
CACHED_KEY=$(new_key bench-cached)

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/callgrind.%p" \
  "$BIN/model-gateway" --data-dir "$TMP/data" serve --bind "127.0.0.1:$GW_PORT" >"$TMP/gateway.log" 2>&1 &
GW=$!; PIDS+=("$GW")
wait_http "http://127.0.0.1:$GW_PORT/healthz" 120

# N requests on one keep-alive connection, one at a time.
send() {  # kind count
  local key=$KEY path=/v1/chat/completions body="$HERE/config/chat-stream.json"
  case "$1" in
    json) body="$HERE/config/chat.json" ;;
    stream) ;;
    translated) key=$CLAUDE_KEY ;;
    messages) path=/v1/messages; body="$TMP/messages-stream.json" ;;
    cached) key=$CACHED_KEY; body="$HERE/config/chat.json" ;;
  esac
  python3 - "http://127.0.0.1:$GW_PORT" "$key" "$path" "$body" "$2" <<'PY'
import http.client, sys, urllib.parse
url, key, path, body_path, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
body = open(body_path, "rb").read()
conn = http.client.HTTPConnection(urllib.parse.urlparse(url).netloc, timeout=60)
for _ in range(count):
    conn.request("POST", path, body,
                 {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    answer = conn.getresponse()
    data = answer.read()
    if answer.status != 200:
        sys.exit(f"status {answer.status}: {data[:300]!r}")
PY
}

cat >"$TMP/messages-stream.json" <<'JSON'
{"model":"gpt-4o-mini","stream":true,"max_tokens":32,"system":"You are a helpful assistant.","messages":[{"role":"user","content":"Say this is a benchmark."}]}
JSON
KINDS=(json stream translated messages cached)
for kind in "${KINDS[@]}"; do send "$kind" 20; done   # warm-up: connections, caches, the registry
sleep 2                                      # the log writer's batches of the warm-up
measure() {  # kind
  callgrind_control --instr=on "$GW" >/dev/null
  callgrind_control --zero "$GW" >/dev/null
  send "$1" "$N"
  sleep 2                                    # the log writer stores this batch too
  callgrind_control --dump="$1" "$GW" >/dev/null
  callgrind_control --instr=off "$GW" >/dev/null
}
for kind in "${KINDS[@]}"; do measure "$kind"; done
sleep 1

# The steps: each row's figure is the largest inclusive count among the functions its pattern
# matches (the outermost of them), per request.
report() {  # name
  local file
  file=$(grep -l "^desc: Trigger: .*$1\$" "$TMP"/callgrind.* | head -1)
  [[ -n "$file" ]] || { echo "callgrind.sh: no dump named $1" >&2; exit 1; }
  callgrind_annotate --inclusive=yes --threshold=100 "$file" 2>/dev/null >"$TMP/$1.txt"
  python3 - "$TMP/$1.txt" "$N" "$1" "$CHUNKS" <<'PY'
import re, sys
path, n, name, chunks = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rows = []
total = None
for line in open(path, errors="replace"):
    m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)", line)
    if not m:
        continue
    count = int(m.group(1).replace(",", ""))
    if "PROGRAM TOTALS" in m.group(2):
        total = count
        continue
    rows.append((count, m.group(2)))
if total is None:
    sys.exit("callgrind.sh: no totals in " + path)
steps = [
    ("authentication (key check)", r"server::proxy::auth::"),
    ("body read and checked", r"server::proxy::wire::"),
    ("admission (limits)", r"server::proxy::limits::"),
    ("upstream call (request, answer)", r"server::proxy::upstream::|hyper_util::client::legacy::client::Client<.*>::send_request"),
    ("response cache (key, lookup, hit)", r"server::proxy::cache::"),
    ("answer shaped", r"server::proxy::shape::"),
    ("stream carried", r"server::proxy::stream::"),
    ("request log record (and metrics)", r"<server::proxy::usage::Recorder as core::ops::drop::Drop>::drop"),
    ("log writer: batches (its thread)", r"server::proxy::usage::write::"),
    ("log writer: SQLite (sqlx's thread)", r"sqlx_sqlite::connection::execute::ExecuteIter"),
]
print(f"{name}: {total / n:,.0f} instructions per request ({total:,} for {n})")
if name not in ("json", "cached"):
    print(f"  ({total / n / (chunks + 2):,.0f} per event: {chunks} content chunks, the first and the last)")
for label, pattern in steps:
    best = max((count for count, fn in rows if re.search(pattern, fn)), default=0)
    print(f"  {label:34} {best / n:>10,.0f}  {100 * best / total:5.1f} %")
PY
}
echo "# Instructions per request, callgrind ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), N=$N)"
for kind in "${KINDS[@]}"; do report "$kind"; done
