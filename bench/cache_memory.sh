#!/usr/bin/env bash
# bench/cache_memory.sh — does the response cache stay within its memory budget (issue #24)?
# A gateway that caches every answer is sent a stream of distinct requests (each one a new
# entry) until GIB gibibytes of answers have passed through it, with the cache's budget set to
# BUDGET_MIB; the gateway's RSS is sampled every second. Uses the release binaries bench/run.sh
# builds.
#
#   bench/cache_memory.sh [GIB] [BUDGET_MIB]      default 1 GiB of answers, a 64 MiB budget
#   PAD=16384 bench/cache_memory.sh …              each request's text (and answer) that long
#
# First the same load goes for 10 s to a gateway of the same process that does not cache: what
# the process grows to without a cache (connections, buffers, the request log's writer, the
# allocator's own) is the baseline. It prints the RSS idle, after that baseline load, once the
# cache is full (after a 3 s warm-up of distinct requests), the peak and the end; the cache's
# share — the peak over the baseline — as a multiple of the budget (the cache weighs its
# entries as the allocator rounds them, with moka's own part, so its share should stay within
# the budget); and two verdicts: WITHIN when that share is at most the budget, FLAT when the
# peak grew at most 15 % of the budget + 8 MiB after the cache was full, i.e. the stream of new
# entries does not grow the process.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GIB="${1:-1}"; BUDGET_MIB="${2:-64}"; PAD="${PAD:-4096}"
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

MOCK_PORT="$(free_port)"; GW_PORT="$(free_port)"
"$BIN/mock-upstream" --bind "127.0.0.1:$MOCK_PORT" >"$TMP/mock.log" 2>&1 & PIDS+=("$!")
DATA="$TMP/data"; mkdir -p "$DATA"
mgw() { timeout 60 "$BIN/model-gateway" --data-dir "$DATA" "$@" 2>>"$TMP/cli.log"; }
mgw endpoint add --name mock --provider openai_compatible --url "http://127.0.0.1:$MOCK_PORT/v1" \
  --model gpt-4o-mini >/dev/null
mgw gateway add --name cached --endpoints mock >/dev/null
mgw gateway update cached --cache exact --cache-ttl 1h >/dev/null
mgw gateway add --name plain --endpoints mock >/dev/null
key_of() {
  mgw key create --gateway "$1" --name load --limit concurrency=100000 --json \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])'
}
KEY="$(key_of cached)"; PLAIN_KEY="$(key_of plain)"
MGW_PROXY__CACHE_MAX_BYTES=$((BUDGET_MIB << 20)) \
  "$BIN/model-gateway" serve --data-dir "$DATA" --bind "127.0.0.1:$GW_PORT" >"$TMP/gateway.log" 2>&1 &
GW_PID=$!; PIDS+=("$GW_PID")
for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$GW_PORT/healthz" && break; sleep 0.1; done

# Each request new: a counter and $PAD bytes of text, which the mock's answer repeats.
cat >"$TMP/distinct.lua" <<'LUA'
local counter = 0
local pad = string.rep("x", tonumber(os.getenv("PAD")))
local key = os.getenv("KEY")
local prefix = os.getenv("PREFIX")
request = function()
  counter = counter + 1
  local body = '{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"'
    .. prefix .. counter .. " " .. pad .. '"}]}'
  return wrk.format("POST", "/v1/chat/completions",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key }, body)
end
LUA
load() {  # seconds prefix [key]: distinct requests for that long; prints the requests made
  KEY="${3:-$KEY}" PREFIX="$2" PAD="$PAD" wrk -t1 -c32 -d"$1s" -s "$TMP/distinct.lua" "http://127.0.0.1:$GW_PORT" \
    | awk '/requests in/ { print $1 }'
}
answer_bytes=$(curl -fsS "http://127.0.0.1:$GW_PORT/v1/chat/completions" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' \
  -d "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"probe $(printf 'x%.0s' $(seq 1 "$PAD"))\"}]}" | wc -c)
idle=$(rss_mib "$GW_PID")
load 10 plain "$PLAIN_KEY" >/dev/null
baseline=$(rss_mib "$GW_PID")
load 3 warm >/dev/null
warm=$(rss_mib "$GW_PID")
echo "answers of $answer_bytes bytes; the gateway's RSS idle: $idle MiB, after 10 s of the load without a cache: $baseline MiB, after a 3 s warm-up (the cache full): $warm MiB; budget $BUDGET_MIB MiB"

target=$((GIB << 30)); sent=0; peak=$warm; round=0
while (( sent < target )); do
  round=$((round + 1))
  ( while kill -0 "$GW_PID" 2>/dev/null; do rss_mib "$GW_PID"; echo; sleep 1; done ) >"$TMP/rss.$round" &
  sampler=$!
  made=$(load 10 "r$round-")
  kill "$sampler" 2>/dev/null || true
  sent=$((sent + made * answer_bytes))
  round_peak=$(sort -n "$TMP/rss.$round" | tail -n 1)
  peak=$(python3 -c "print(max($peak, ${round_peak:-0}))")
  printf 'round %d: %d requests, %.2f GiB of answers so far, RSS peak %s MiB\n' \
    "$round" "$made" "$(python3 -c "print($sent / 2**30)")" "$round_peak"
done
end=$(rss_mib "$GW_PID")
share=$(python3 -c "print(round(($peak - $baseline) / $BUDGET_MIB, 2))")
grew=$(python3 -c "print(round($peak - $warm, 1))")
within=$(python3 -c "print('WITHIN' if $peak - $baseline <= $BUDGET_MIB else 'OVER')")
verdict=$(python3 -c "print('FLAT' if $peak - $warm <= 0.15 * $BUDGET_MIB + 8 else 'GROWING')")
echo
echo "| answers streamed | budget | RSS idle | RSS, no cache | RSS, cache full | RSS peak | RSS end | cache's share (peak − no cache) / budget | growth once full | verdicts |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
printf '| %.2f GiB | %s MiB | %s MiB | %s MiB | %s MiB | %s MiB | %s MiB | %s | %s MiB | **%s**, **%s** |\n' \
  "$(python3 -c "print($sent / 2**30)")" "$BUDGET_MIB" "$idle" "$baseline" "$warm" "$peak" "$end" "$share" "$grew" \
  "$within" "$verdict"
[[ "$verdict" == FLAT && "$within" == WITHIN ]]
