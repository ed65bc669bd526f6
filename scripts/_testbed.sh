# shellcheck shell=bash
# Sourced by the test-bed scripts (scripts/build-*.sh, fetch-model.sh, install-*.sh and
# collector-config/build.sh): one cache folder, one progress line per component on stderr,
# full logs in files, and the find-check-build-check cycle every component goes through.
#
# A script sets TESTBED_NAME (its cache entry, also naming its logs) and TESTBED_LABEL (the
# component, as its progress lines name it), defines
#   build_it  - makes the artefact; its output goes to the build log,
#   check_it  - proves the artefact works; its output goes to the check log,
# both run in a subshell with errexit on (an EXIT trap there cleans up after them),
# and calls `provide ARTEFACT PROOF LOCK`, which prints ARTEFACT on stdout once PROOF (the
# file written last by build_it) exists and check_it passed.

TESTBED_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/multi-llm-otel"
TESTBED_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTBED_RERUN="$0"

say() { echo "test bed: ${TESTBED_LABEL:-$TESTBED_NAME}: $*" >&2; }

# fail_with_log LOG MESSAGE...: stop with the message, the tail of LOG and how to rerun.
fail_with_log() {
  local log=$1
  shift
  {
    echo "test bed: ${TESTBED_LABEL:-$TESTBED_NAME}: $*"
    echo "---- last 40 lines of $log"
    tail -n 40 "$log"
    echo "---- full log: $log"
    echo "---- to rerun this step alone: $TESTBED_RERUN"
  } >&2
  exit 1
}

# _run LOG FUNCTION: FUNCTION in a subshell with errexit on, all its output in LOG; its exit
# status in $ran. Never call it as a condition (`if _run`, `_run || ...`): bash then turns
# errexit off inside it, and a failing step would go unnoticed.
_run() {
  set +e
  (
    set -e
    "$2"
  ) >"$1" 2>&1
  ran=$?
  set -e
}

_signature() { stat -c '%i %Y %s' "$1" 2>/dev/null || true; }

# provide ARTEFACT PROOF LOCK: a cached artefact is checked before it is trusted, and rebuilt
# once if it fails; a fresh build that fails its check stops the run. Builds hold LOCK so two
# test sessions never build the same thing at once.
provide() {
  local artefact=$1 proof=$2 lock=$3
  local logs="$TESTBED_CACHE/logs"
  local build_log="$logs/$TESTBED_NAME.build.log" check_log="$logs/$TESTBED_NAME.check.log"
  local start=$SECONDS seen=""
  mkdir -p "$logs" "$(dirname "$lock")"
  if [[ -e "$proof" ]]; then
    _run "$check_log" check_it
    if ((ran == 0)); then
      say "cached, works (checked in $((SECONDS - start)) s): $artefact"
      echo "$artefact"
      return 0
    fi
    seen="$(_signature "$proof")"
  fi
  exec 9>"$lock"
  if ! flock -n 9; then
    say "waiting for another run that holds $lock"
    flock 9
  fi
  if [[ -e "$proof" ]]; then
    # Built by another run while this one waited: check that copy instead of rebuilding.
    ran=1
    if [[ "$(_signature "$proof")" != "$seen" ]]; then
      _run "$check_log" check_it
    fi
    if ((ran == 0)); then
      say "cached, works (checked in $((SECONDS - start)) s): $artefact"
      echo "$artefact"
      return 0
    fi
    cp "$check_log" "$check_log.cached-copy"
    say "the cached copy fails its check (log: $check_log.cached-copy); rebuilding it once"
  fi
  say "building (log: $build_log)"
  start=$SECONDS
  _run "$build_log" build_it
  ((ran == 0)) || fail_with_log "$build_log" "the build failed"
  local built=$((SECONDS - start))
  start=$SECONDS
  _run "$check_log" check_it
  ((ran == 0)) || fail_with_log "$check_log" "the freshly built copy fails its check"
  say "built in $built s, works (checked in $((SECONDS - start)) s): $artefact"
  echo "$artefact"
}

# prove KIND ARG...: start a server binary as the tests do and ask it one thing (see
# scripts/prove-binary.py).
prove() { python3 "$TESTBED_REPO/scripts/prove-binary.py" "$@"; }
