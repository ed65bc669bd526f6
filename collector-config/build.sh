#!/usr/bin/env bash
# Builds the project's Collector from builder-config.yaml with the Go toolchain and the
# Collector Builder, cached by the manifest's sha256 so a second run costs a check only.
# Prints the binary's path on stdout once it has validated agent.yaml on this machine;
# progress goes to stderr, the build's output to a log file.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/_testbed.sh
source "$here/../scripts/_testbed.sh"
manifest="$here/builder-config.yaml"
# Must be the core release the manifest pins: the builder checks module versions against it.
builder_version="v0.161.0"
hash="$(sha256sum "$manifest" | cut -d' ' -f1)"
TESTBED_NAME="otelcol-$hash"
TESTBED_LABEL="otelcol"
out="$TESTBED_CACHE/$TESTBED_NAME"
bin="$out/otelcol-multi-llm"

build_it() {
  command -v go >/dev/null || { echo "the Go toolchain (go) is not on PATH"; return 127; }
  rm -f "$bin"
  mkdir -p "$out"
  builder="$TESTBED_CACHE/ocb-$builder_version/builder"
  if [[ ! -x "$builder" ]]; then
    GOBIN="$(dirname "$builder")" go install "go.opentelemetry.io/collector/cmd/builder@$builder_version"
  fi
  work="$(mktemp -d "$out/work.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  cp "$manifest" "$work/builder-config.yaml"
  (cd "$work" && "$builder" --config=builder-config.yaml)
  mv "$work/_build/otelcol-multi-llm" "$bin.tmp"
  mv "$bin.tmp" "$bin"
}

# validate builds every component of the config: a binary that cannot run fails here.
check_it() {
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  cd "$tmp"
  # The config's defaults are what is validated, not the caller's MLO_* settings.
  for name in $(compgen -e); do
    if [[ "$name" == MLO_* ]]; then unset "$name"; fi
  done
  "$bin" validate --config="$here/agent.yaml"
  echo "validated $here/agent.yaml"
}

provide "$bin" "$bin" "$out.lock"
