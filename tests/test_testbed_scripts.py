"""The find-check-build-check cycle every test-bed script goes through (scripts/_testbed.sh),
driven with a stand-in component whose build and check do what each test tells them to."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests._servers import REPO

COMPONENT = """#!/usr/bin/env bash
set -euo pipefail
source "{lib}"
TESTBED_NAME="thing-1.0"
TESTBED_LABEL="thing"
root="$TESTBED_CACHE/$TESTBED_NAME"
build_it() {{
  echo build >>"$COUNTS"
  echo "compiling, line 1 of a long log"
  if [[ -e "$FAIL_BUILD_STEP" ]]; then false; fi
  mkdir -p "$root"
  echo "$(cat "$PRODUCT")" >"$root/thing"
}}
check_it() {{
  echo check >>"$COUNTS"
  [[ "$(cat "$root/thing")" == good ]] || {{ echo "the thing does not work"; return 1; }}
}}
provide "$root" "$root/thing" "$root.lock"
"""


class Component:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.script = tmp / "build-thing.sh"
        self.script.write_text(COMPONENT.format(lib=REPO / "scripts" / "_testbed.sh"))
        self.cache = tmp / "cache"
        self.counts = tmp / "counts"
        self.product = tmp / "product"
        self.fail_build_step = tmp / "fail-build-step"
        self.product.write_text("good")

    @property
    def artefact(self) -> Path:
        return self.cache / "multi-llm-otel" / "thing-1.0"

    def run(self) -> subprocess.CompletedProcess[str]:
        self.counts.write_text("")
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.tmp),
            "XDG_CACHE_HOME": str(self.cache),
            "COUNTS": str(self.counts),
            "PRODUCT": str(self.product),
            "FAIL_BUILD_STEP": str(self.fail_build_step),
        }
        return subprocess.run(["bash", str(self.script)], capture_output=True, text=True, env=env, timeout=60)

    def steps(self) -> list[str]:
        return self.counts.read_text().split()


@pytest.fixture
def component(tmp_path: Path) -> Component:
    return Component(tmp_path)


def test_an_empty_cache_builds_checks_and_prints_the_path(component: Component) -> None:
    result = component.run()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(component.artefact)]
    assert component.steps() == ["build", "check"]
    assert "compiling" not in result.stderr, "the build's output goes to its log, not the terminal"
    assert "test bed: thing: building (log: " in result.stderr
    assert "test bed: thing: built in " in result.stderr
    log = component.cache / "multi-llm-otel" / "logs" / "thing-1.0.build.log"
    assert "compiling, line 1" in log.read_text()


def test_a_cached_copy_that_works_is_checked_not_rebuilt(component: Component) -> None:
    component.run()
    result = component.run()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(component.artefact)]
    assert component.steps() == ["check"]
    assert "test bed: thing: cached, works" in result.stderr


def test_a_cached_copy_that_fails_is_rebuilt_once(component: Component) -> None:
    component.run()
    (component.artefact / "thing").write_text("broken")
    result = component.run()
    assert result.returncode == 0, result.stderr
    assert component.steps() == ["check", "build", "check"]
    assert "the cached copy fails its check" in result.stderr
    assert (component.artefact / "thing").read_text().strip() == "good"


def test_a_fresh_build_that_fails_its_check_stops_with_the_log_tail_and_the_rerun_command(
    component: Component,
) -> None:
    component.product.write_text("broken")
    result = component.run()
    assert result.returncode == 1
    assert result.stdout == "", "no path is printed for a binary that does not work"
    assert component.steps() == ["build", "check"]
    assert "the freshly built copy fails its check" in result.stderr
    assert "the thing does not work" in result.stderr
    assert "full log: " in result.stderr
    assert f"to rerun this step alone: {component.script}" in result.stderr


def test_a_failing_command_inside_the_build_fails_the_build(component: Component) -> None:
    component.fail_build_step.write_text("")
    result = component.run()
    assert result.returncode == 1
    assert result.stdout == ""
    assert component.steps() == ["build"], "nothing after the failing command ran, not even the check"
    assert "the build failed" in result.stderr
    assert "compiling, line 1" in result.stderr
