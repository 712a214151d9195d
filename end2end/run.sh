#!/usr/bin/env bash
# Runs the browser tests against a real server: a fresh data directory, a bootstrapped admin,
# the debug build on a free port; stops the server afterwards. Screenshots: end2end/artifacts/.
# Expects `scripts/build.sh` to have built target/site-debug, target/debug/model-gateway and
# target/debug/mock-upstream (the provider the tests point endpoints at).
set -euo pipefail
cd "$(dirname "$0")/.."

# E2E_BUILD=release runs them against `scripts/build.sh --release`'s binary and assets (the
# delivery figures of delivery.spec.mjs are about those); the debug build otherwise.
build=${E2E_BUILD:-debug}
bin=target/$build/model-gateway
site=target/$([[ $build == release ]] && echo site || echo site-debug)
work=$(mktemp -d)
log="$work/server.log"
server_pid=""
mock_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [[ -n "$mock_pid" ]] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export E2E_EMAIL=e2e@example.com E2E_PASSWORD='e2e password 123'
# The mock provider the tests point endpoints at (loopback, a free port).
target/$build/mock-upstream >"$work/mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 1 100); do
  mock=$(grep -oE 'http://[0-9.:]+' "$work/mock.log" | head -n 1) || true
  [[ -n "${mock:-}" ]] && break
  sleep 0.1
done
[[ -n "${mock:-}" ]] || { cat "$work/mock.log"; echo "mock upstream did not start" >&2; exit 1; }
export MOCK_URL="$mock"
MGW_ADMIN_PASSWORD="$E2E_PASSWORD" "$bin" --data-dir "$work/data" admin create --email "$E2E_EMAIL"
NO_COLOR=1 "$bin" --data-dir "$work/data" serve --bind 127.0.0.1:0 --site-root "$site" >"$log" 2>&1 &
server_pid=$!

# The server logs its address once it listens; bounded wait.
for _ in $(seq 1 100); do
  addr=$(grep -oE 'listening on http://[0-9.:]+' "$log" | head -n 1 | sed 's/listening on //') || true
  [[ -n "${addr:-}" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log"; echo "server exited" >&2; exit 1; }
  sleep 0.1
done
[[ -n "${addr:-}" ]] || { cat "$log"; echo "server did not start" >&2; exit 1; }
echo "==> end2end against $addr"

mkdir -p end2end/artifacts
cd end2end
status=0
BASE_URL="$addr" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 node_modules/.bin/playwright test "$@" || status=$?
if [[ $status -ne 0 ]]; then
  echo "---- server log ----"; cat "$log"
fi
exit $status
