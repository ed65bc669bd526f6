#!/usr/bin/env bash
# Builds examples/rust-service (a Rust producer on the real multi-llm crate) once per content:
# the cache key hashes Cargo.lock, Cargo.toml and the sources, so an edit rebuilds and a second
# run costs nothing. Cargo's output goes to a log file whose path is printed on failure.
# Prints the path of the binary.
set -euo pipefail
project="$(cd "$(dirname "$0")/../examples/rust-service" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/multi-llm-otel"
key="$(cd "$project" && cat Cargo.lock Cargo.toml $(find src -type f -name '*.rs' | LC_ALL=C sort) | sha256sum | cut -c1-16)"
root="$cache/rust-service-$key"
binary="$root/bin/rust-service"
if [[ -x "$binary" ]]; then
  echo "$binary"; exit 0
fi
mkdir -p "$cache"
exec 9>"$cache/rust-service.lock"
flock 9
if [[ ! -x "$binary" ]]; then
  mkdir -p "$root/bin"
  log="$root/build.log"
  # One target folder for every key, so an edit recompiles only this crate, not its dependencies.
  if ! CARGO_TARGET_DIR="$cache/rust-service-target" \
      cargo build --locked --release --manifest-path "$project/Cargo.toml" >"$log" 2>&1; then
    echo "build-rust-service: cargo build failed; log: $log" >&2
    exit 1
  fi
  cp "$cache/rust-service-target/release/rust-service" "$binary.tmp"
  mv "$binary.tmp" "$binary"
fi
echo "$binary"
