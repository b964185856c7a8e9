# The README's two commands: `make demo` and `make test`. Both work on a fresh Debian machine
# as root: they install what they need first (scripts/install-deps.sh, idempotent).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all deps build test lint demo demo-down clean

all: build

deps:
	bash scripts/install-deps.sh

build:
	$(CARGO) build --release --locked

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS=-Dwarnings $(CARGO) doc --locked --workspace --no-deps --quiet

test: deps lint
	$(CARGO) test --locked --workspace --no-fail-fast

demo: deps build
	bash scripts/demo.sh

demo-down:
	bash scripts/demo-daemons.sh stop sandbox/demo
	./target/release/ferryman sandbox destroy --dir sandbox/demo

clean:
	$(CARGO) clean
