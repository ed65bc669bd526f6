#!/usr/bin/env bash
# Makes sure a working Prometheus server binary is available: the one on PATH, else Debian's
# package (installed as root; reinstalled once if the installed one fails its check).
# The tests start their own Prometheus on a free port with a temporary data directory, so
# the package must not leave its system service running (it would hold port 9090).
# Prints the binary's path on stdout once it has started and answered /-/ready.
set -euo pipefail
# shellcheck source=scripts/_testbed.sh
source "$(dirname "$0")/_testbed.sh"
TESTBED_NAME="prometheus"
TESTBED_LABEL="prometheus"
bin="$(command -v prometheus || echo /usr/bin/prometheus)"

build_it() {
  if [[ "$(id -u)" != 0 ]]; then
    echo "prometheus is not on PATH (or does not work), and installing Debian's package needs root:"
    echo "run this as root, or put a working prometheus binary on PATH"
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d answering 101 tells invoke-rc.d not to start services during the install.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --reinstall --no-install-recommends prometheus
  # Belt and braces for systems where the package's service was started anyway.
  if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl stop prometheus || true
    systemctl disable prometheus || true
  fi
  if [[ -x /etc/init.d/prometheus ]]; then
    /etc/init.d/prometheus stop || true
  fi
  [[ -x "$bin" ]]
}

check_it() { prove prometheus "$bin"; }

provide "$bin" "$bin" "$TESTBED_CACHE/prometheus.lock"
