#!/usr/bin/env bash
# Builds examples/rust-service (a Rust producer on the real multi-llm crate) once per content:
# the cache key hashes Cargo.lock, Cargo.toml and the sources, so an edit rebuilds and a second
# run costs a check only. Prints the binary's path on stdout once it has read back one event
# with the crate's own deserializer; progress goes to stderr, cargo's output to a log file.
set -euo pipefail
# shellcheck source=scripts/_testbed.sh
source "$(dirname "$0")/_testbed.sh"
project="$TESTBED_REPO/examples/rust-service"
# shellcheck disable=SC2046 # the file names are ours, without spaces
key="$(cd "$project" && cat Cargo.lock Cargo.toml $(find src -type f -name '*.rs' | LC_ALL=C sort) | sha256sum | cut -c1-16)"
TESTBED_NAME="rust-service-$key"
TESTBED_LABEL="rust-service"
root="$TESTBED_CACHE/$TESTBED_NAME"
bin="$root/bin/rust-service"

build_it() {
  command -v cargo >/dev/null || { echo "cargo is not on PATH"; return 127; }
  rm -f "$bin"
  mkdir -p "$root/bin"
  # One target folder for every key, so an edit recompiles only this crate, not its dependencies.
  CARGO_TARGET_DIR="$TESTBED_CACHE/rust-service-target" \
    cargo build --locked --release --manifest-path "$project/Cargo.toml"
  cp "$TESTBED_CACHE/rust-service-target/release/rust-service" "$bin.tmp"
  mv "$bin.tmp" "$bin"
}

# The crate's deserializer must accept one event in the scoped form the producer writes.
check_it() {
  line='{"event":{"id":"9fb93534-081c-4253-b1e2-73a87984a8ab","event_type":"llm_request","metadata":{"provider":"openai"},"created_at":"2026-11-26T09:14:02.005897353Z"},"scope":{"User":"u1"}}'
  report="$(printf '%s\n' "$line" | "$bin" read --scoped)"
  echo "$report"
  [[ "$report" == *'"ok":true'* ]]
}

provide "$bin" "$bin" "$root.lock"
