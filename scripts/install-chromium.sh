#!/usr/bin/env bash
# Makes sure a headless-capable Chromium is available (for the README's pictures and their
# test), installing Debian's package if needed. Prints the binary's path on stdout.
set -euo pipefail
if bin="$(command -v chromium || command -v chromium-browser)"; then echo "$bin"; exit 0; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium >&2
command -v chromium
