#!/usr/bin/env bash
# Where the release WASM's bytes go: builds it (as scripts/build.sh --release), keeps the
# function names through wasm-bindgen and wasm-opt, and lists the largest functions by name.
# Usage: scripts/wasm-sizes.sh [top]
set -euo pipefail
cd "$(dirname "$0")/.."
export LEPTOS_OUTPUT_NAME=admin
cargo build -p frontend --lib --target wasm32-unknown-unknown --locked --profile wasm-release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
wasm-bindgen --target web --no-typescript --out-dir "$work" --out-name admin \
  target/wasm32-unknown-unknown/wasm-release/frontend.wasm
style/node_modules/.bin/wasm-opt -Oz -g --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-reference-types --enable-sign-ext --enable-mutable-globals --enable-multivalue \
  "$work/admin_bg.wasm" -o "$work/named.wasm"
python3 scripts/wasm-sizes.py "$work/named.wasm" "${1:-40}"
