#!/usr/bin/env bash
# Builds the console assets (WASM, JS glue, CSS) and the server binary, with plain cargo, the
# wasm-bindgen CLI, Tailwind and wasm-opt (no cargo-leptos). A release build's assets go to
# target/site (what `make run` serves), a debug build's to target/site-debug (what the browser
# tests serve): each binary defaults to its own, so `make test` never replaces what `make run`
# is serving.
# Usage: scripts/build.sh [--release | --tests]
set -euo pipefail
cd "$(dirname "$0")/.."

release=false tests=false
case "${1:-}" in
  --release) release=true ;;
  # `make test`: the test targets too, built with the bins in one cargo invocation, so that
  # the bins and the tests share one resolution of features (a dev-dependency's features
  # otherwise rebuild tokio and most crates above it a second time for the tests) and
  # `cargo test` finds everything built.
  --tests) tests=true ;;
esac
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
# Also set in .cargo/config.toml; Leptos reads it at compile time.
export LEPTOS_OUTPUT_NAME=admin
if $release; then site=target/site; else site=target/site-debug; fi
staging=$site/pkg.new

if $release; then
  step "WASM (release profile wasm-release)"
  cargo build -p frontend --lib --target wasm32-unknown-unknown --locked --profile wasm-release
  wasm=target/wasm32-unknown-unknown/wasm-release/frontend.wasm
else
  step "WASM (debug)"
  cargo build -p frontend --lib --target wasm32-unknown-unknown --locked
  wasm=target/wasm32-unknown-unknown/debug/frontend.wasm
fi

rm -rf "$staging" && mkdir -p "$staging"
step "wasm-bindgen"
wasm-bindgen --target web --no-typescript --out-dir "$staging" --out-name admin "$wasm"
# <HydrationScripts> loads /pkg/admin.wasm when LEPTOS_OUTPUT_NAME is set at compile time.
mv "$staging/admin_bg.wasm" "$staging/admin.wasm"
if $release; then
  step "wasm-opt -Oz (binaryen from npm; Debian's 108 breaks hydration)"
  style/node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-reference-types --enable-sign-ext --enable-mutable-globals --enable-multivalue \
    "$staging/admin.wasm" -o "$staging/admin.wasm"
fi

step "CSS (Tailwind v4)"
(cd style && node_modules/.bin/tailwindcss -i tailwind.css -o "../$staging/admin.css" --minify 2>&1 | grep -v '^$' || true)
test -s "$staging/admin.css"

step "content-hashed names, precompressed (brotli, gzip)"
# Each file's name carries a hash of its content, so browsers may keep it for a year; the
# server finds the names in hash.txt beside its binary (Leptos' hash-files convention).
bin_dir=target/$($release && echo release || echo debug)
mkdir -p "$bin_dir"
: >"$staging/hash.txt"
# The unhashed names stay too, for a binary run without hash.txt beside it (copied elsewhere):
# served, but revalidated on each use.
for kind in js wasm css; do
  hash=$(sha256sum "$staging/admin.$kind" | cut -c1-16)
  cp "$staging/admin.$kind" "$staging/admin.$hash.$kind"
  echo "$kind: $hash" >>"$staging/hash.txt"
done
node -e '
  const fs = require("fs"), zlib = require("zlib");
  for (const name of fs.readdirSync(process.argv[1])) {
    if (!/\.(js|wasm|css)$/.test(name)) continue;
    const path = `${process.argv[1]}/${name}`, raw = fs.readFileSync(path);
    fs.writeFileSync(`${path}.br`, zlib.brotliCompressSync(raw, { params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: Number(process.argv[2]), [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } }));
    fs.writeFileSync(`${path}.gz`, zlib.gzipSync(raw, { level: 9 }));
  }' "$staging" "$($release && echo 11 || echo 5)"

mkdir -p "$site" && cp -r public/. "$site/"
rm -rf "$site/pkg" && mv "$staging" "$site/pkg"
mv "$site/pkg/hash.txt" "$bin_dir/hash.txt"

if $release; then
  step "server (release)"
  cargo build -p server --bin model-gateway --locked --release
else
  step "server (debug), and the mock upstream the browser tests point endpoints at"
  if $tests; then
    cargo build -p server -p app --features app/ssr --bin model-gateway --bin mock-upstream --tests --locked
  else
    cargo build -p server --bin model-gateway --bin mock-upstream --locked
  fi
fi
step "console assets (raw, brotli, gzip bytes)"
for file in "$site"/pkg/admin.*.{js,wasm,css}; do
  printf '    %-32s %9d %9d %9d\n' "$(basename "$file")" "$(stat -c %s "$file")" \
    "$(stat -c %s "$file.br")" "$(stat -c %s "$file.gz")"
done
