# The README's two commands: `make demo` and `make test`. Both work on a fresh Debian machine
# as root: they install what they need first (scripts/install-deps.sh, idempotent).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all deps build test lint demo demo-down demo-offsite demo-offsite-down clean

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

# The main demo, then copies in S3 (about 30 s more).
demo: deps build
	bash scripts/demo.sh
	bash scripts/demo-offsite.sh

demo-down: demo-offsite-down
	bash scripts/demo-daemons.sh stop sandbox/demo
	./target/release/ferryman sandbox destroy --dir sandbox/demo

# Backups copied to an S3 server on this machine; a replica reseeded from the bucket's copy.
demo-offsite: deps build
	bash scripts/demo-offsite.sh

demo-offsite-down:
	bash scripts/demo-daemons.sh stop sandbox/offsite
	if [ -d sandbox/offsite ]; then ./target/release/ferryman sandbox destroy --dir sandbox/offsite; fi

clean:
	$(CARGO) clean
