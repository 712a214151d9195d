#!/usr/bin/env bash
# Installs what building (and, with --test, testing) Model Gateway needs, and nothing that is
# already there. Safe to run again. Needs root for apt-get when packages are missing.
# Usage: scripts/setup.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=false
[[ "${1:-}" == "--test" ]] && want_test=true
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
apt_updated=false
apt_install() {
  if ! $apt_updated; then
    step "apt-get update"
    apt-get update -qq
    apt_updated=true
  fi
  step "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v cargo >/dev/null; then
  echo "cargo is missing: install the Rust toolchain (rustup, Rust 1.85 or newer) first." >&2
  exit 1
fi

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# The wasm-bindgen CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock.
wbg_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wbg_version" ]]; then
  step "cargo install wasm-bindgen-cli $wbg_version (first time only: about 5 minutes on 2 cores)"
  # Not --locked: the CLI's own lock file names a yanked crate.
  cargo install wasm-bindgen-cli --version "=$wbg_version" --quiet
fi

if ! command -v npm >/dev/null; then
  apt_install nodejs npm
fi

npm_ci() {
  if [[ ! -d "$1/node_modules" || "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]]; then
    step "npm ci in $1"
    (cd "$1" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_ci style

if $want_test; then
  if [[ ! -x /usr/bin/chromium ]]; then
    apt_install chromium
  fi
  npm_ci end2end
fi
step "set-up complete"
