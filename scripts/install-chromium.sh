#!/usr/bin/env bash
# Makes sure a working headless Chromium is available (for the README's pictures and their
# test): the one on PATH, else Debian's package (installed as root; reinstalled once if the
# installed one fails its check). Prints the binary's path on stdout once it has rendered a
# page headless.
set -euo pipefail
# shellcheck source=scripts/_testbed.sh
source "$(dirname "$0")/_testbed.sh"
TESTBED_NAME="chromium"
TESTBED_LABEL="chromium"
bin="$(command -v chromium || command -v chromium-browser || echo /usr/bin/chromium)"

build_it() {
  if [[ "$(id -u)" != 0 ]]; then
    echo "chromium is not on PATH (or does not work), and installing Debian's package needs root:"
    echo "run this as root, or put a working chromium on PATH"
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --reinstall --no-install-recommends chromium
  [[ -x "$bin" ]]
}

check_it() {
  page="$(timeout 120 "$bin" --headless --no-sandbox --disable-gpu --dump-dom 'data:text/html,<p>rendered</p>')"
  [[ "$page" == *"<p>rendered</p>"* ]] || { echo "chromium rendered: $page"; return 1; }
  echo "chromium rendered a page headless"
}

provide "$bin" "$bin" "$TESTBED_CACHE/chromium.lock"
