#!/usr/bin/env bash
# bench/run.sh — Model Gateway's benchmark, in one command.
#
# Builds the release binaries, starts the mock upstream, the bare pass-through (the floor) and the
# gateway on free loopback ports with a fresh temporary data directory, sends one sanity request
# through each, loads each with wrk, samples memory and CPU, and prints a markdown table with the
# target checks (PASS/FAIL). Results: bench/results/<UTC timestamp>/ (JSON per run, results.md).
#
#   bench/run.sh [options]
#
# options (the environment variable of the same meaning in brackets)
#   -d SECONDS         measured duration of each run                  [DURATION, default 10]
#   -w SECONDS         warm-up before each run, discarded             [WARMUP, default 3]
#   -c "1 50 200"      concurrency levels: open connections, closed loop [CONCS]
#   -s "chat stream"   scenarios: chat = non-streaming JSON, stream = SSE, big = JSON with a
#                      32 KB prompt (prose with an e-mail address in it) [SCENARIOS]
#   -t "direct passthrough gateway"   targets, measured in this order [TARGETS]; add
#                      `pipe` for the bare hyper byte pipe (issue #26's floor), `limited`
#                      for the gateway with a limited key (limits on vs off), and
#                      `redis` for a second gateway counting its limits in Redis (shared
#                      counters vs in memory; needs a Redis at $REDIS_URL), and `composite`
#                      for the gateway asked for a `load` composite model over its endpoint,
#                      and `user` for a gateway entered with an end user's RS256 token alone
#                      (`/g/bench-users/v1/…`) and one access rule, instead of a key, and
#                      `cached` for a gateway whose response cache answers the (identical)
#                      requests after the first, and `guarded` for a gateway with seven
#                      guardrails on requests and answers
#   -r N               repeats of the whole matrix; medians reported  [REPEATS, default 1]
#   -o DIR             results directory                              [OUT]
#   -B                 no cargo build: use the binaries already built [NO_BUILD=1]
#   -S                 strict: exit 1 when a target check FAILs       [STRICT=1]
#   -L ROWS            seed the gateway's database with ROWS request logs (each with an attempt
#                      and a usage event, spread over the last 20 days) before it starts:
#                      RELIABILITY L-05, latency at 10k vs 1M rows      [LOG_ROWS, default 0]
#   -h                 this help
# environment only
#   GW_CPU=1           CPU the gateway is pinned to (taskset)
#   PT_CPU=$GW_CPU     CPU the pass-through is pinned to (same as the gateway: a like-for-like floor)
#   LG_CPU=0           CPU for wrk, the mock upstream and the samplers
#   STREAM_CHUNKS=20   content chunks in each of the mock's streamed answers (the shared harness's)
#   CHUNK_GAP_MS=0     milliseconds between them (0, as the shared harness: streams are CPU-bound)
#   GUARD_DIRECTION=both  what the `guarded` target's guardrails read: request, response or both
#                      (the mock echoes the prompt, so with `big` an answer is 32 KB too)
#   CARGO_TARGET_DIR   where the release binaries are built (default: <repo>/target)
#   REDIS_URL          the Redis the `redis` target counts in (default redis://127.0.0.1:6379;
#                      its keys go under a prefix of this run's own)
#
# Targets: direct = wrk -> mock (the baseline); passthrough = wrk -> bench `passthrough` -> mock;
# pipe = wrk -> bench `pipe` (hyper server + hyper's pooled client, bytes forwarded unread) -> mock;
# gateway = wrk -> model-gateway (openai_compatible endpoint, gateway, key) -> mock;
# limited = the same gateway with a child key whose key and parent carry request, token, budget
# and concurrency limits (never reached): what checking and reserving limits costs.
# redis = a copy of the gateway (same database contents, its own file) with `[redis] url` set:
# the same key, its limits admitted and settled by Redis scripts instead of in memory.
# composite = the gateway, the same key, asked for `bench-load` (a `load` composite model whose
# one member is the endpoint's model): what planning a composite's members costs.
# user = a second gateway over the same endpoint at /g/bench-users/v1/…, entered with an end
# user's RS256 JWT alone (signed here with the test-only key server/tests/fixtures/jwt/rsa-a.pem,
# its public half as the gateway's identity provider) and one CEL access rule: what verifying
# the token and evaluating the rule cost against a key's lookup (issue #23).
# cached = a third gateway over the same endpoint with `--cache exact` and its own key: wrk's
# requests are all alike, so every one after the first is answered from the cache (issue #24).
# guarded = a fourth gateway over the same endpoint with its own key and the built-in detectors
# as guardrails on requests and answers (email, phone, card redact; iban, ssn, secret block; ip
# flag): what reading every text costs (issue #24; compare with `-s big`).
# Everything listens on 127.0.0.1 only; every step is bounded in time; every process this script
# starts is stopped when it exits, however it exits.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }

DURATION="${DURATION:-10}"; WARMUP="${WARMUP:-3}"; CONCS="${CONCS:-1 50 200}"
SCENARIOS="${SCENARIOS:-chat stream}"; TARGETS="${TARGETS:-direct passthrough gateway}"
REPEATS="${REPEATS:-1}"; OUT="${OUT:-}"; NO_BUILD="${NO_BUILD:-}"; STRICT="${STRICT:-}"
LOG_ROWS="${LOG_ROWS:-0}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
STREAM_CHUNKS="${STREAM_CHUNKS:-20}"; CHUNK_GAP_MS="${CHUNK_GAP_MS:-0}"; GW_CPU="${GW_CPU:-1}"; PT_CPU="${PT_CPU:-$GW_CPU}"; LG_CPU="${LG_CPU:-0}"
GUARD_DIRECTION="${GUARD_DIRECTION:-both}"
while getopts "d:w:c:s:t:r:o:L:BSh" opt; do
  case "$opt" in
    d) DURATION="$OPTARG";; w) WARMUP="$OPTARG";; c) CONCS="$OPTARG";; s) SCENARIOS="$OPTARG";;
    t) TARGETS="$OPTARG";; r) REPEATS="$OPTARG";; o) OUT="$OPTARG";; B) NO_BUILD=1;; S) STRICT=1;;
    L) LOG_ROWS="$OPTARG";;
    h) usage 0;; *) usage;;
  esac
done
shift $((OPTIND - 1))
[[ $# -eq 0 ]] || usage

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }

# --- arguments -----------------------------------------------------------------------------
int_in() { [[ "$1" =~ ^[0-9]+$ ]] && (( $1 >= $2 && $1 <= $3 )); }
int_in "$DURATION" 1 600 || die "-d must be 1..600 seconds (got '$DURATION')"
int_in "$WARMUP" 0 60 || die "-w must be 0..60 seconds (got '$WARMUP')"
int_in "$REPEATS" 1 10 || die "-r must be 1..10 (got '$REPEATS')"
int_in "$LOG_ROWS" 0 100000000 || die "-L must be 0..100000000 rows (got '$LOG_ROWS')"
int_in "$STREAM_CHUNKS" 1 10000 || die "STREAM_CHUNKS must be 1..10000 (got '$STREAM_CHUNKS')"
int_in "$CHUNK_GAP_MS" 0 60000 || die "CHUNK_GAP_MS must be 0..60000 (got '$CHUNK_GAP_MS')"
for c in $CONCS; do int_in "$c" 1 1000 || die "concurrency must be 1..1000 (got '$c')"; done
for s in $SCENARIOS; do [[ "$s" == chat || "$s" == stream || "$s" == big ]] || die "unknown scenario '$s' (chat, stream, big)"; done
for t in $TARGETS; do
  [[ "$t" == direct || "$t" == passthrough || "$t" == pipe || "$t" == gateway || "$t" == limited || "$t" == redis \
     || "$t" == composite || "$t" == user || "$t" == cached || "$t" == guarded ]] \
    || die "unknown target '$t' (direct, passthrough, pipe, gateway, limited, redis, composite, user, cached, guarded)"
done
[[ -n "$CONCS" && -n "$SCENARIOS" && -n "$TARGETS" ]] || die "nothing to measure"
wants() { [[ " $TARGETS " == *" $1 "* ]]; }
[[ "$(uname -s)" == Linux ]] || die "Linux only (/proc, taskset)"
for tool in curl python3 taskset timeout; do command -v "$tool" >/dev/null || die "$tool is required"; done

# MGW_* variables (a Postgres URL, another config file…) must not reach the gateway or its CLI.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^MGW_' || true)

OUT="${OUT:-$HERE/results/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT/runs" "$OUT/logs"
OUT="$(cd "$OUT" && pwd)"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"

# --- processes: started in the background, always stopped -----------------------------------
PIDS=()          # long-running processes (mock, pass-through, gateway), by id
SAMPLER=""       # the sampler of the run in progress
TMP=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local rc=$? pid i alive
  trap - EXIT INT TERM
  [[ -n "$SAMPLER" ]] && kill "$SAMPLER" 2>/dev/null
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do   # up to 5 s for a graceful exit, then SIGKILL
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    (( alive )) || break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  if [[ -n "$TMP" && -d "$TMP" ]]; then
    for f in "$TMP"/*.log; do [[ -e "$f" ]] && tail -n 300 "$f" > "$OUT/logs/$(basename "$f")"; done
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP="$(mktemp -d "${TMPDIR:-/tmp}/mgw-bench.XXXXXX")"

# CPU pinning (2-core machine): the systems under test on their own core, the load generator,
# the mock and the samplers on the other.
if (( $(nproc) >= 2 )); then
  PIN_LG=(taskset -c "$LG_CPU"); PIN_GW=(taskset -c "$GW_CPU"); PIN_PT=(taskset -c "$PT_CPU")
  PINNING="gateway CPU $GW_CPU, pass-through CPU $PT_CPU, wrk + mock CPU $LG_CPU"
  for cpu in "$GW_CPU" "$PT_CPU" "$LG_CPU"; do taskset -c "$cpu" true 2>/dev/null || die "cannot pin to CPU $cpu (taskset)"; done
else
  PIN_LG=(); PIN_GW=(); PIN_PT=(); PINNING="none (1 CPU: numbers are not comparable with pinned runs)"
  log "warning: one CPU only, nothing pinned"
fi

# --- (a) build ----------------------------------------------------------------------------
if [[ -z "$NO_BUILD" ]]; then
  log "building release binaries (cargo build --release --locked …)"
  (cd "$ROOT" && nice -n 19 cargo build --release --locked \
      -p server --bin model-gateway --bin mock-upstream -p bench --bin passthrough --bin pipe) \
    || die "cargo build failed (see above)"
fi
for b in mock-upstream passthrough pipe model-gateway; do
  [[ -x "$BIN/$b" ]] || die "$BIN/$b is missing: build it (drop -B) or set CARGO_TARGET_DIR"
done

# --- (b) wrk --------------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  command -v apt-get >/dev/null || die "wrk is missing and there is no apt-get: install wrk"
  SUDO=(); (( EUID == 0 )) || SUDO=(sudo)
  log "wrk is missing: installing the Debian package (apt-get install wrk)"
  apt_install() { timeout --foreground 300 "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; }
  apt_install >"$TMP/apt.log" 2>&1 \
    || { timeout --foreground 300 "${SUDO[@]}" apt-get update -q >>"$TMP/apt.log" 2>&1 && apt_install >>"$TMP/apt.log" 2>&1; } \
    || die "could not install wrk: $(tail -n 5 "$TMP/apt.log")"
fi
WRK="$(command -v wrk)"

# --- (c) start the mock, the pass-through and the gateway ------------------------------------
read -r MOCK_PORT PT_PORT GW_PORT RD_PORT PP_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks:
    s.close()')

wait_ready() {  # name pid url-or-port seconds: bounded wait until it answers
  local name=$1 pid=$2 what=$3 secs=$4 i
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || die "$name exited at start: $(tail -n 20 "$TMP/$name.log")"
    if [[ "$what" == http* ]]; then
      curl -fsS --max-time 1 -o /dev/null "$what" 2>/dev/null && return 0
    else
      (exec 3<>"/dev/tcp/127.0.0.1/$what") 2>/dev/null && return 0
    fi
    sleep 0.1
  done
  die "$name did not become ready in ${secs}s: $(tail -n 20 "$TMP/$name.log")"
}

"${PIN_LG[@]}" "$BIN/mock-upstream" --bind "127.0.0.1:$MOCK_PORT" --chunks "$STREAM_CHUNKS" --chunk-gap-ms "$CHUNK_GAP_MS" >"$TMP/mock.log" 2>&1 &
MOCK_PID=$!; PIDS+=("$MOCK_PID")
wait_ready mock "$MOCK_PID" "$MOCK_PORT" 10
SAMPLE=("mock=$MOCK_PID")
PROCESS_CPUS="\"mock\": \"${PIN_LG[2]:-any}\""

start_floor() {  # name port: a floor (pass-through or pipe) on the pass-through's CPU
  local name=$1 port=$2 pid
  "${PIN_PT[@]}" "$BIN/$name" --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$MOCK_PORT" \
    >"$TMP/$name.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  wait_ready "$name" "$pid" "$port" 10
  SAMPLE+=("$name=$pid"); PROCESS_CPUS+=", \"$name\": \"${PIN_PT[2]:-any}\""
}
if wants passthrough; then start_floor passthrough "$PT_PORT"; fi
if wants pipe; then start_floor pipe "$PP_PORT"; fi

KEY="sk-bench-not-checked"   # direct and pass-through ignore it; the same header goes to every target
if wants gateway || wants limited || wants redis || wants composite || wants user || wants cached || wants guarded; then
  DATA="$TMP/data"; mkdir -p "$DATA"
  mgw() { timeout --foreground 60 "$BIN/model-gateway" --data-dir "$DATA" "$@" 2>>"$TMP/cli.log"; }
  mgw endpoint add --name bench-mock --provider openai_compatible \
      --url "http://127.0.0.1:$MOCK_PORT/v1" --model gpt-4o-mini >>"$TMP/cli.log" \
    || die "model-gateway endpoint add failed: $(tail -n 5 "$TMP/cli.log")"
  mgw gateway add --name bench --endpoints bench-mock >>"$TMP/cli.log" \
    || die "model-gateway gateway add failed: $(tail -n 5 "$TMP/cli.log")"
  # {"key": "mgw_<public id>_<secret…>", "details": {…, "masked": "mgw_…"}}: the secret is "key".
  # Keys allow 64 requests in flight unless they say otherwise; c=200 needs more.
  new_key() {
    mgw key create --gateway bench --json "$@" \
      | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["key"], d["details"]["public_id"])' || true
  }
  read -r KEY _ <<<"$(new_key --name bench --limit concurrency=100000)"
  [[ "$KEY" =~ ^mgw_[A-Za-z0-9]+_[A-Za-z0-9]+$ ]] \
    || die "model-gateway key create --json printed no key: $(tail -n 5 "$TMP/cli.log")"
  # `limited`: a child key under a parent, both with request, token, budget and concurrency
  # limits far above what the run reaches, so every request is checked and reserved on two
  # levels but none is refused.
  LIMITS=(--limit requests/minute=1000000000 --limit tokens/minute=1000000000000 --limit cost/month=1000000
          --limit concurrency=100000)
  read -r _ TEAM_ID <<<"$(new_key --name bench-team "${LIMITS[@]}")"
  read -r LIMITED_KEY _ <<<"$(new_key --name bench-app --parent "$TEAM_ID" "${LIMITS[@]}")"
  [[ "$LIMITED_KEY" =~ ^mgw_ ]] || die "model-gateway key create (limited) failed: $(tail -n 5 "$TMP/cli.log")"
  mgw composite add --gateway bench --name bench-load --kind load --member gpt-4o-mini >>"$TMP/cli.log" \
    || die "model-gateway composite add failed: $(tail -n 5 "$TMP/cli.log")"
  # `user`: a second gateway over the same endpoint that takes end users' tokens alone, from an
  # issuer whose public key it holds, with one access rule on the claims and the request.
  JWT_KEYS="$ROOT/server/tests/fixtures/jwt"
  mgw gateway add --name bench-users --endpoints bench-mock >>"$TMP/cli.log" \
    || die "model-gateway gateway add (bench-users) failed: $(tail -n 5 "$TMP/cli.log")"
  mgw identity add --gateway bench-users --issuer https://bench.invalid --audience bench \
      --key-file "$JWT_KEYS/rsa-a.pub.pem" >>"$TMP/cli.log" \
    || die "model-gateway identity add failed: $(tail -n 5 "$TMP/cli.log")"
  mgw gateway update bench-users --auth jwt \
      --access "user.sub == 'bench-user' && request.model.startsWith('gpt')" >>"$TMP/cli.log" \
    || die "model-gateway gateway update --auth --access failed: $(tail -n 5 "$TMP/cli.log")"
  # An RS256 token valid for a day: header.claims, signed with openssl, base64url without padding.
  b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
  now=$(date +%s)
  signed="$(printf '{"alg":"RS256","typ":"JWT"}' | b64url).$(printf '{"iss":"https://bench.invalid","aud":"bench","sub":"bench-user","iat":%d,"exp":%d}' "$now" $((now + 86400)) | b64url)"
  USER_TOKEN="$signed.$(printf '%s' "$signed" | openssl dgst -sha256 -sign "$JWT_KEYS/rsa-a.pem" -binary | b64url)"
  # `cached`: a gateway that answers repeats from its response cache, and a key of its own.
  mgw gateway add --name bench-cached --endpoints bench-mock >>"$TMP/cli.log" \
    || die "model-gateway gateway add (bench-cached) failed: $(tail -n 5 "$TMP/cli.log")"
  mgw gateway update bench-cached --cache exact --cache-ttl 1h >>"$TMP/cli.log" \
    || die "model-gateway gateway update --cache failed: $(tail -n 5 "$TMP/cli.log")"
  CACHED_KEY="$(mgw key create --gateway bench-cached --json --name bench-cached --limit concurrency=100000 \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])' || true)"
  [[ "$CACHED_KEY" =~ ^mgw_ ]] || die "model-gateway key create (cached) failed: $(tail -n 5 "$TMP/cli.log")"
  # `guarded`: a gateway with the built-in detectors on requests and answers, and its key.
  mgw gateway add --name bench-guarded --endpoints bench-mock >>"$TMP/cli.log" \
    || die "model-gateway gateway add (bench-guarded) failed: $(tail -n 5 "$TMP/cli.log")"
  for rail in email:redact phone:redact card:redact iban:block ssn:block secret:block ip:flag; do
    mgw guardrail add --gateway bench-guarded --detector "${rail%%:*}" --action "${rail##*:}" \
        --direction "$GUARD_DIRECTION" >>"$TMP/cli.log" \
      || die "model-gateway guardrail add $rail failed: $(tail -n 5 "$TMP/cli.log")"
  done
  GUARDED_KEY="$(mgw key create --gateway bench-guarded --json --name bench-guarded --limit concurrency=100000 \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])' || true)"
  [[ "$GUARDED_KEY" =~ ^mgw_ ]] || die "model-gateway key create (guarded) failed: $(tail -n 5 "$TMP/cli.log")"
  for s in chat stream; do
    sed 's/"model":"gpt-4o-mini"/"model":"bench-load"/' "$HERE/config/$( [[ $s == chat ]] && echo chat || echo chat-stream ).json" \
      >"$TMP/composite-$s.json"
  done
  if (( LOG_ROWS > 0 )); then
    log "seeding $LOG_ROWS request logs (with attempts and usage events)"
    timeout --foreground 600 python3 - "$DATA/model-gateway.db" "$LOG_ROWS" <<'PY' || die "seeding the request logs failed"
import os, sqlite3, sys, time
db, rows = sys.argv[1], int(sys.argv[2])
now = int(time.time() * 1000)
span = 20 * 24 * 3600 * 1000          # the last 20 days: inside the default 30-day retention
con = sqlite3.connect(db)
gateway, key = con.execute("SELECT g.id, k.id FROM gateways g JOIN gateway_keys k ON k.gateway_id = g.id").fetchone()
endpoint = con.execute("SELECT id FROM inference_endpoints").fetchone()[0]
step = span // rows or 1
def logs():
    for n in range(rows):
        at = now - span + n * step
        yield (n + 1, f"{at:012x}{os.urandom(10).hex()}", at, gateway, key, endpoint)
with con:
    con.executemany(
        "INSERT INTO request_logs (id, request_id, created_at, gateway_id, key_id, endpoint_id, api, operation,"
        " model, stream, status, latency_ms, ttft_ms, prompt_tokens, completion_tokens, cost_micros)"
        " VALUES (?, ?, ?, ?, ?, ?, 'openai', 'chat', 'gpt-4o-mini', 0, 200, 12, 12, 10, 5, 3)",
        logs())
    con.execute(
        "INSERT INTO request_attempts (request_log_id, attempt, endpoint_id, started_at, status, latency_ms,"
        " prompt_tokens, completion_tokens) SELECT id, 1, endpoint_id, created_at, 200, 11, 10, 5 FROM request_logs")
    con.execute(
        "INSERT INTO usage_events (request_id, gateway_id, key_id, prompt_tokens, completion_tokens, cost_micros,"
        " created_at) SELECT request_id, gateway_id, key_id, 10, 5, 3, created_at FROM request_logs")
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(con.execute("SELECT COUNT(*) FROM request_logs").fetchone()[0], "rows")
PY
  fi
  if wants redis; then
    # The same keys and secrets, in a database file of its own.
    cp -a "$DATA" "$TMP/data-redis"
    "${PIN_GW[@]}" env MGW_REDIS__URL="$REDIS_URL" MGW_REDIS__PREFIX="bench-$$-$(date +%s)" \
      "$BIN/model-gateway" serve --data-dir "$TMP/data-redis" --bind "127.0.0.1:$RD_PORT" >"$TMP/gateway-redis.log" 2>&1 &
    RD_PID=$!; PIDS+=("$RD_PID")
    wait_ready gateway-redis "$RD_PID" "http://127.0.0.1:$RD_PORT/healthz" 30
    ready="$(curl -sS --max-time 5 "http://127.0.0.1:$RD_PORT/readyz" || true)"
    [[ "$ready" == *'"limits":"shared"'* ]] || die "the redis gateway does not count in Redis ($REDIS_URL): $ready"
    SAMPLE+=("gateway-redis=$RD_PID"); PROCESS_CPUS+=", \"gateway-redis\": \"${PIN_GW[2]:-any}\""
  fi
  if wants gateway || wants limited || wants composite || wants user || wants cached || wants guarded; then
    "${PIN_GW[@]}" "$BIN/model-gateway" serve --data-dir "$DATA" --bind "127.0.0.1:$GW_PORT" >"$TMP/gateway.log" 2>&1 &
    GW_PID=$!; PIDS+=("$GW_PID")
    wait_ready gateway "$GW_PID" "http://127.0.0.1:$GW_PORT/healthz" 30
    SAMPLE+=("gateway=$GW_PID"); PROCESS_CPUS+=", \"gateway\": \"${PIN_GW[2]:-any}\""
  fi
fi

base_url() { case "$1" in direct) echo "http://127.0.0.1:$MOCK_PORT";; passthrough) echo "http://127.0.0.1:$PT_PORT";;
                          pipe) echo "http://127.0.0.1:$PP_PORT";;
                          gateway|limited|composite|cached|guarded) echo "http://127.0.0.1:$GW_PORT";;
                          user) echo "http://127.0.0.1:$GW_PORT/g/bench-users";; redis) echo "http://127.0.0.1:$RD_PORT";; esac; }
process_of() { case "$1" in direct) echo mock;; limited|composite|user|cached|guarded) echo gateway;; redis) echo gateway-redis;; *) echo "$1";; esac; }
key_of() { case "$1" in limited) echo "$LIMITED_KEY";; user) echo "$USER_TOKEN";; cached) echo "$CACHED_KEY";;
                        guarded) echo "$GUARDED_KEY";; *) echo "$KEY";; esac; }
# The `big` scenario's body: a chat request whose prompt is 32 KB of prose with one e-mail
# address (so a guarded gateway redacts something), figures, times and capitals every 50 words
# (what the digit- and letter-led detectors start from), and nothing else a detector finds.
python3 - "$TMP/chat-big.json" <<'PY'
import json, sys
words = ("the quick brown fox jumps over the lazy dog while seven wizards quietly judge "
         "boxing matches under pale moonlight and somebody writes the numbers down ").split()
text, n = ["Please summarise this for ada.lovelace@example.com:"], 0
while sum(len(w) + 1 for w in text) < 32 * 1024:
    text.append(words[n % len(words)]); n += 1
    if n % 50 == 0:
        text.append("- in 2024 the BBC had 3 teams, 12.5 percent growth and a call at 10:30 on 7 May.")
body = {"model": "gpt-4o-mini", "max_tokens": 32, "temperature": 0,
        "messages": [{"role": "user", "content": " ".join(text)}]}
json.dump(body, open(sys.argv[1], "w"))
PY
# The body for scenario $1 sent to target $2 (the composite target names the composite model).
body_of() {
  if [[ "${2:-}" == composite ]]; then echo "$TMP/composite-$1.json"; return; fi
  case "$1" in chat) echo "$HERE/config/chat.json";; stream) echo "$HERE/config/chat-stream.json";;
               big) echo "$TMP/chat-big.json";; esac
}
PATH_CHAT=/v1/chat/completions

# --- sanity: one request per target and scenario, before any load ----------------------------
if wants gateway; then
  # The key first (GET /v1/models), so that a refused key is not mistaken for a missing route.
  code="$(curl -sS -o "$TMP/probe.out" -w '%{http_code}' --max-time 10 \
      -H "Authorization: Bearer $KEY" "http://127.0.0.1:$GW_PORT/v1/models" 2>/dev/null)" || code="000"
  [[ "$code" == 200 ]] || die "SANITY CHECK FAILED — the gateway refused the new key on GET /v1/models:" \
    "HTTP $code: $(head -c 300 "$TMP/probe.out")"
fi
for t in $TARGETS; do
  for s in $SCENARIOS; do
    url="$(base_url "$t")$PATH_CHAT"
    code="$(curl -sS -o "$TMP/probe.out" -w '%{http_code}' --max-time 10 -X POST "$url" \
        -H "Authorization: Bearer $(key_of "$t")" -H 'Content-Type: application/json' \
        --data-binary @"$(body_of "$s" "$t")" 2>"$TMP/probe.err")" || code="000"
    why=""
    if [[ "$code" != 200 ]]; then
      why="HTTP $code: $(head -c 400 "$TMP/probe.out")$(head -c 200 "$TMP/probe.err")"
    elif [[ "$s" == stream ]]; then
      grep -q '^data: \[DONE\]' "$TMP/probe.out" || why="the SSE stream did not end with 'data: [DONE]': $(head -c 400 "$TMP/probe.out")"
    else
      python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["choices"][0]["message"]["content"]' \
        "$TMP/probe.out" 2>/dev/null || why="not a chat completion: $(head -c 400 "$TMP/probe.out")"
    fi
    if [[ -n "$why" ]]; then
      {
        echo "bench/run.sh: SANITY CHECK FAILED — target '$t', scenario '$s'"
        echo "  POST $url"
        echo "  $why"
        if [[ "$t" == gateway || "$t" == limited || "$t" == redis || "$t" == composite || "$t" == user \
              || "$t" == cached || "$t" == guarded ]]; then
          echo "  The gateway must answer this request with 200 before it can be measured."
          echo "  Gateway log (last lines):"
          tail -n 15 "$TMP/gateway.log" | sed 's/^/    /'
          echo "  To measure the others meanwhile: TARGETS='direct passthrough' bench/run.sh"
        fi
        echo "  Logs: $OUT/logs/"
      } >&2
      exit 1
    fi
  done
  log "sanity: $t answers chat$([[ " $SCENARIOS " == *" stream "* ]] && echo " and streams") (200)"
done

# --- run metadata ---------------------------------------------------------------------------
commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -1)" ]] && commit="$commit-dirty"
python3 - "$OUT/meta.json" <<PY
import json, sys
json.dump({
    "date": "$(date -u +%FT%TZ)", "commit": "$commit", "host": "$(uname -srm)", "nproc": $(nproc),
    "cpu": "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)",
    "wrk": "$("$WRK" -v 2>&1 | head -1 | cut -d' ' -f1-2)",
    "duration_s": $DURATION, "warmup_s": $WARMUP, "repeats": $REPEATS,
    "concurrency": "$CONCS".split(), "scenarios": "$SCENARIOS".split(), "targets": "$TARGETS".split(),
    "guard_direction": "$GUARD_DIRECTION", "stream_chunks": $STREAM_CHUNKS, "chunk_gap_ms": $CHUNK_GAP_MS,
    "pinning": "$PINNING", "cpus": {$PROCESS_CPUS, "wrk": "${PIN_LG[2]:-any}"},
    "loadavg_before": "$(cut -d' ' -f1-3 /proc/loadavg)",
    "log_rows_seeded": $LOG_ROWS,
}, open(sys.argv[1], "w"), indent=1)
PY

# --- (d)(e) the load matrix, with sampling ---------------------------------------------------
runs=$(( REPEATS * $(wc -w <<<"$TARGETS") * $(wc -w <<<"$SCENARIOS") * $(wc -w <<<"$CONCS") ))
log "measuring $runs runs of ${DURATION}s (+${WARMUP}s warm-up): about $(( runs * (DURATION + WARMUP + 1) / 60 + 1 )) min"
WRK_ARGS=(-t 1 --timeout 10s -s "$HERE/config/wrk.lua")
# The targets of one cell (scenario, concurrency) run back to back, so the ratios compare runs
# minutes apart at most: on a shared VM, throughput drifts by a third over a quarter hour.
for r in $(seq 1 "$REPEATS"); do
  for s in $SCENARIOS; do
    for c in $CONCS; do
      for t in $TARGETS; do
        tag="$t-$s-c$c-r$r"; url="$(base_url "$t")$PATH_CHAT"; body="$(body_of "$s" "$t")"
        auth=(-H "Authorization: Bearer $(key_of "$t")")
        for p in "${PIDS[@]}"; do
          kill -0 "$p" 2>/dev/null || die "a process under test (pid $p) has exited; logs: $OUT/logs/"
        done
        if (( WARMUP > 0 )); then
          timeout --foreground $(( WARMUP + 20 )) "${PIN_LG[@]}" env BENCH_BODY="$body" BENCH_OUT= \
            "$WRK" "${WRK_ARGS[@]}" "${auth[@]}" -c "$c" -d "${WARMUP}s" "$url" >/dev/null 2>&1 || true
        fi
        "${PIN_LG[@]}" python3 "$HERE/procstat.py" "$DURATION" 0.25 "${SAMPLE[@]}" >"$TMP/$tag.proc.json" &
        SAMPLER=$!
        rm -f "$TMP/$tag.wrk.json"
        timeout --foreground $(( DURATION + 30 )) "${PIN_LG[@]}" env BENCH_BODY="$body" BENCH_OUT="$TMP/$tag.wrk.json" \
            "$WRK" "${WRK_ARGS[@]}" "${auth[@]}" -c "$c" -d "${DURATION}s" "$url" >"$TMP/$tag.wrk.txt" 2>&1 \
          || log "wrk failed for $tag: $(tail -c 300 "$TMP/$tag.wrk.txt")"
        wait "$SAMPLER" 2>/dev/null || true
        SAMPLER=""
        python3 - "$OUT/runs/$tag.json" "$TMP/$tag.wrk.json" "$TMP/$tag.proc.json" <<PY || log "no result for $tag"
import json, sys
def load(path):
    try:
        with open(path) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return None
w, p = load(sys.argv[2]), load(sys.argv[3])
run = {"target": "$t", "scenario": "$s", "concurrency": $c, "repeat": $r, "process": "$(process_of "$t")",
       "url": "$url", "duration_s": $DURATION, "wrk": w, "proc": p,
       "loadavg_after": "$(cut -d' ' -f1-3 /proc/loadavg)"}
json.dump(run, open(sys.argv[1], "w"), indent=1)
if w is None:
    sys.exit(1)
own = (p or {}).get(run["process"], {})
bad = w["non2xx"] + w["connect_errors"] + w["read_errors"] + w["write_errors"] + w["timeouts"]
print(f"  {run['target']:<12} {run['scenario']:<7} c={run['concurrency']:<4} rps={w['rps']:9.1f} "
      f"p50={w['p50_ms']:8.3f} ms  p99={w['p99_ms']:8.3f} ms  rss={own.get('rss_max_mib')} MiB  "
      f"cpu={own.get('cpu_cores')}" + (f"  ERRORS={bad}" if bad else ""), file=sys.stderr)
PY
      done
    done
  done
done

# Peak (VmHWM) and current RSS of every process, at the end.
python3 "$HERE/procstat.py" 0 0 "${SAMPLE[@]}" >"$OUT/processes.json" || true

# --- (f) the report -------------------------------------------------------------------------
echo
summary_args=("$OUT"); [[ -n "$STRICT" ]] && summary_args+=(--strict)
status=0
python3 "$HERE/summarize.py" "${summary_args[@]}" || status=$?
echo
echo "results: $OUT  (results.md, runs/*.json, logs/)"
exit "$status"
