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
  echo "cargo is missing: install the Rust toolchain with rustup (Rust 1.85 or newer) first." >&2
  exit 1
fi

if ! command -v cc >/dev/null; then
  apt_install build-essential
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

# Installs the versions package-lock.json pins. Not `npm ci`: the registry these machines reach
# lacks other platforms' optional packages (Tailwind's darwin/windows binaries), so the lock
# npm writes here omits them and `npm ci` rejects it; `npm install --no-save` honours the lock
# and skips optional packages that do not exist.
npm_install() {
  if [[ ! -d "$1/node_modules" || "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]]; then
    step "npm install (locked versions) in $1"
    (cd "$1" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-save --no-audit --no-fund --loglevel=error)
  fi
}

node_major=$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/')
if [[ -z "$node_major" || "$node_major" -lt 20 ]]; then
  echo "Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none)); Debian 12's nodejs is 18." >&2
  exit 1
fi
npm_install style

if $want_test; then
  if [[ ! -x /usr/bin/chromium ]]; then
    apt_install chromium
  fi
  npm_install end2end
  # The official Python SDKs the SDK tests drive the gateway with, in .venv/.
  requirements=server/tests/sdk/requirements.txt
  if [[ ! -x .venv/bin/python || "$requirements" -nt .venv/.installed ]]; then
    step "python venv with the SDKs in $requirements"
    if ! python3 -m venv .venv 2>/dev/null; then
      apt_install python3-venv
      python3 -m venv .venv
    fi
    .venv/bin/pip install --quiet --disable-pip-version-check -r "$requirements"
    touch .venv/.installed
  fi
fi
step "set-up complete"
