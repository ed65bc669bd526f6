#!/usr/bin/env bash
# Makes sure a Prometheus server binary is available, installing Debian's package if needed.
# The tests start their own Prometheus on a free port with a temporary data directory, so
# the package must not leave its system service running (it would hold port 9090).
# Prints the binary's path on stdout.
set -euo pipefail
if bin="$(command -v prometheus)"; then echo "$bin"; exit 0; fi

export DEBIAN_FRONTEND=noninteractive
# policy-rc.d answering 101 tells invoke-rc.d not to start services during the install.
policy=/usr/sbin/policy-rc.d
created_policy=false
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=true
fi
cleanup() { if $created_policy; then rm -f "$policy"; fi; }
trap cleanup EXIT

apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends prometheus >&2

# Belt and braces for systems where the package's service was started anyway.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus >&2 || true
  systemctl disable prometheus >&2 || true
fi
if [[ -x /etc/init.d/prometheus ]]; then
  /etc/init.d/prometheus stop >&2 2>&1 || true
fi

command -v prometheus
