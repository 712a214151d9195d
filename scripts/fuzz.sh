#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/, RELIABILITY §4.4) under libFuzzer for a bounded
# time:  scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 20; CI runs it)
#
# cargo-fuzz is installed when missing. It works on stable Rust: no sanitizer (`-s none`) and a
# dev build (debug assertions and overflow checks on). Inputs found while fuzzing go to a scratch
# directory; the committed corpus (fuzz/corpus/<target>/) is only read. A failure stops the run
# with the input under fuzz/artifacts/<target>/: fix it, then add the input to the corpus, where
# `cargo test` replays it (server/src/fuzzing.rs).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export CARGO_INCREMENTAL=0
seconds=${1:-20}
CARGO_FUZZ_VERSION=0.13.2

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

cargo fuzz build --dev -s none
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for source in fuzz_targets/*.rs; do
  target=$(basename "$source" .rs)
  mkdir -p "$scratch/$target"
  echo "==> fuzzing $target for ${seconds}s"
  log="$scratch/$target.log"
  if ! cargo fuzz run --dev -s none "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz target $target failed; its input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" | tr '\n' ' '; echo
done
