# Sourced by bench/soak.sh and bench/cache_memory.sh: the release binaries checked, MGW_*
# variables cleared (the servers started get only what the script sets), a scratch directory
# and the processes started there removed and stopped at exit, and free_port.
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
for binary in model-gateway mock-upstream; do
  [[ -x "$BIN/$binary" ]] || { echo "missing $BIN/$binary: build the release binaries first" >&2; exit 1; }
done
while read -r var; do unset "$var"; done < <(compgen -e | grep '^MGW_' || true)
TMP="$(mktemp -d)"; PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
