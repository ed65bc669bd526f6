#!/usr/bin/env bash
# Builds the project's Collector from builder-config.yaml with the Go toolchain and the
# Collector Builder, cached by the manifest's sha256 so a second run only hashes a file.
# Prints the binary's path on stdout; everything else goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
manifest="$here/builder-config.yaml"
# Must be the core release the manifest pins: the builder checks module versions against it.
builder_version="v0.161.0"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/multi-llm-otel"
hash="$(sha256sum "$manifest" | cut -d' ' -f1)"
out="$cache/otelcol-$hash"
bin="$out/otelcol-multi-llm"
if [[ -x "$bin" ]]; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "build.sh: the Go toolchain (go) is not on PATH" >&2; exit 127; }
mkdir -p "$out"
# Two test sessions starting at once would otherwise both spend many minutes compiling.
exec 9>"$out.lock"
flock 9
if [[ -x "$bin" ]]; then echo "$bin"; exit 0; fi

builder="$cache/ocb-$builder_version/builder"
if [[ ! -x "$builder" ]]; then
  GOBIN="$(dirname "$builder")" go install "go.opentelemetry.io/collector/cmd/builder@$builder_version" >&2
fi
work="$(mktemp -d "$out/work.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$manifest" "$work/builder-config.yaml"
start=$SECONDS
(cd "$work" && "$builder" --config=builder-config.yaml) >&2
mv "$work/_build/otelcol-multi-llm" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "build.sh: built in $((SECONDS - start)) s" >&2
echo "$bin"
