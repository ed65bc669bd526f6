#!/usr/bin/env bash
# Builds Jaeger (v2, a Collector distribution) from its Go module, cached by version.
# The module path has no /v2, so the v2 line is reached through its v1.x tag
# (v1.76.0 is the same commit as v2.13.0). Prints the binary's path on stdout.
set -euo pipefail
version="${JAEGER_MODULE_VERSION:-v1.76.0}"
root="${XDG_CACHE_HOME:-$HOME/.cache}/multi-llm-otel/jaeger-$version"
bin="$root/jaeger"
if [[ -x "$bin" ]]; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "build-jaeger.sh: the Go toolchain (go) is not on PATH" >&2; exit 127; }
mkdir -p "$root"
exec 9>"$root.lock"
flock 9
if [[ -x "$bin" ]]; then echo "$bin"; exit 0; fi

work="$(mktemp -d "$root/work.XXXXXX")"
trap 'rm -rf "$work"' EXIT
start=$SECONDS
(
  cd "$work"
  go mod init multi-llm-otel.local/jaeger-build >&2
  go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$version" >&2
  go build -o "$bin.tmp" github.com/jaegertracing/jaeger/cmd/jaeger >&2
)
mv "$bin.tmp" "$bin"
echo "build-jaeger.sh: built in $((SECONDS - start)) s" >&2
echo "$bin"
