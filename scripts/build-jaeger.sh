#!/usr/bin/env bash
# Builds Jaeger (v2, a Collector distribution) from its Go module, cached by version.
# The module path has no /v2, so the v2 line is reached through its v1.x tag
# (v1.76.0 is the same commit as v2.13.0). Prints the binary's path on stdout once it has
# started on this machine and answered its health endpoint.
set -euo pipefail
# shellcheck source=scripts/_testbed.sh
source "$(dirname "$0")/_testbed.sh"
version="${JAEGER_MODULE_VERSION:-v1.76.0}"
TESTBED_NAME="jaeger-$version"
TESTBED_LABEL="jaeger"
root="$TESTBED_CACHE/$TESTBED_NAME"
bin="$root/jaeger"

build_it() {
  command -v go >/dev/null || { echo "the Go toolchain (go) is not on PATH"; return 127; }
  rm -f "$bin"
  mkdir -p "$root"
  work="$(mktemp -d "$root/work.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  cd "$work"
  go mod init multi-llm-otel.local/jaeger-build
  go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$version"
  go build -o "$bin.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
  mv "$bin.tmp" "$bin"
}

check_it() { prove jaeger "$bin"; }

provide "$bin" "$bin" "$root.lock"
