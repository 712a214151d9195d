# Model Gateway — the two commands:
#   make run    builds (release) and starts the server at http://127.0.0.1:3000
#   make test   runs every test: unit, integration, store suite (Postgres too when
#               MGW_TEST_POSTGRES_URL is set; the Redis ledger when MGW_TEST_REDIS_URL
#               is set), and the browser tests in Chromium
# Both install what is missing first (scripts/setup.sh) and are safe to repeat.

# Prerequisites run in the order written, even under `make -j`.
.NOTPARALLEL:

.PHONY: run test setup setup-test build build-tests release test-rust test-e2e fuzz lint fmt clean

run: setup release
	./target/release/model-gateway serve

test: setup-test build-tests test-rust test-e2e

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

build:
	@scripts/build.sh

# The debug build with the test targets (one resolution of features for both: see build.sh).
build-tests:
	@scripts/build.sh --tests

release:
	@scripts/build.sh --release

test-rust:
	@if [ -z "$$MGW_TEST_POSTGRES_URL" ]; then echo "NOTE: MGW_TEST_POSTGRES_URL is not set: the Postgres store suite will be skipped (SQLite runs)."; fi
	@if [ -z "$$MGW_TEST_REDIS_URL" ]; then echo "NOTE: MGW_TEST_REDIS_URL is not set: the Redis ledger and replica tests will be skipped."; fi
	cargo test -p server -p app --features app/ssr --locked

test-e2e:
	end2end/run.sh

# Every fuzz target under libFuzzer for a bounded time (SECONDS each, default 20).
fuzz:
	scripts/fuzz.sh $(SECONDS)

lint:
	cargo fmt --all -- --check
	cargo clippy -p server --locked --all-targets -- -D warnings
	cargo clippy -p frontend --locked --target wasm32-unknown-unknown -- -D warnings

fmt:
	cargo fmt --all

clean:
	cargo clean
	rm -rf fuzz/target style/node_modules end2end/node_modules end2end/artifacts end2end/test-results
