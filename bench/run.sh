#!/usr/bin/env bash
# The benchmark in one command: sets up its virtual environments (cached), runs everything,
# prints the tables and writes BENCHMARKS.md. Options: python3 -m bench --help.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec "${PYTHON:-python3}" -m bench "$@"
