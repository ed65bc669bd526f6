"""Fixtures shared by every test package.

- Each test starts with the library's diagnostic counters at zero and its one-time warnings
  re-armed, so counts and warnings belong to the test that caused them.
- ``telemetry`` (also called ``captured``): what the code under test emitted, recorded by
  ``multi_llm_otel.testing.capture()`` around the test.
- The test bed's binaries (``llama_server``, ``otelcol``, ``jaeger``, ``prometheus``), found or
  built once per session by the scripts under scripts/, which prove each binary works before
  handing it over. ``scripts/test`` runs the scripts before pytest and passes their answers in
  ``MULTI_LLM_OTEL_TESTBED_*`` variables, so the session does not run them twice. Tests that
  need them are marked ``llm`` or ``collector`` automatically and left out of
  ``scripts/test --fast``; they are skipped only when the build tools are missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._servers import REPO, llama_server_process, running

import multi_llm_otel
from multi_llm_otel.testing import Captured, capture

# A test using any of these fixtures needs the test bed; the marker puts it outside the fast tier.
_MARKER_OF_FIXTURE = {
    "llama_server": "llm",
    "llama_server_dir": "llm",
    "otelcol": "collector",
    "jaeger": "collector",
    "prometheus": "collector",
    "stack": "collector",
}

# Costs come from the user's prices or, when LiteLLM is installed, its price map: tests that are
# not about pricing get none, so what they assert does not depend on what else is installed.
os.environ.setdefault("MULTI_LLM_OTEL_PRICES", "off")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for marker in sorted({m for f, m in _MARKER_OF_FIXTURE.items() if f in names}):
            item.add_marker(marker)


@pytest.fixture(autouse=True)
def _fresh_stats() -> None:
    multi_llm_otel.reset_stats()


def _capture_around_test() -> Iterator[Captured]:
    with capture() as captured:
        yield captured


telemetry = pytest.fixture(_capture_around_test, name="telemetry")
captured = pytest.fixture(_capture_around_test, name="captured")


def testbed_path(script: str, env_name: str) -> Path:
    """The path a test-bed script prints last, or the one ``scripts/test`` already got from it."""
    given = os.environ.get(env_name)
    if given:
        return Path(given)
    if os.environ.get("MULTI_LLM_OTEL_NO_BUILDS"):
        pytest.fail(
            f"{script} would run in a run without builds (scripts/test --fast); "
            "a test needing the test bed must use its fixtures so it is marked and left out",
            pytrace=False,
        )
    result = subprocess.run(["bash", str(REPO / script)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"{script} exited {result.returncode}:\n{result.stderr[-4000:]}", pytrace=False)
    lines = result.stdout.strip().splitlines()
    if not lines:
        pytest.fail(f"{script} printed no path", pytrace=False)
    return Path(lines[-1])


def _executable(path: Path, script: str) -> Path:
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{script} gave {path}, which is not an executable file", pytrace=False)
    return path


def _needs_go(script: str) -> None:
    if shutil.which("go") is None:
        pytest.skip(f"the Go toolchain (go) is not on PATH: {script} cannot build")


@pytest.fixture(scope="session")
def llama_server_dir() -> Path:
    """The folder of scripts/build-llama-server.sh: bin/llama-server and chat-template.jinja."""
    if shutil.which("cmake") is None or shutil.which("c++") is None:
        pytest.skip("cmake and a C++ compiler are needed to build llama-server")
    return testbed_path("scripts/build-llama-server.sh", "MULTI_LLM_OTEL_TESTBED_LLAMA_SERVER")


@pytest.fixture(scope="session")
def llama_server(llama_server_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:<port>``) of a running llama-server with the real small model."""
    model = testbed_path("scripts/fetch-model.sh", "MULTI_LLM_OTEL_TESTBED_MODEL")
    server, base, ready = llama_server_process(
        llama_server_dir, model, tmp_path_factory.mktemp("llama") / "llama-server.log"
    )
    with running(server, ready, timeout=120):
        yield base


@pytest.fixture(scope="session")
def otelcol() -> Path:
    """The project's Collector distribution, built from collector-config/builder-config.yaml."""
    script = "collector-config/build.sh"
    _needs_go(script)
    return _executable(testbed_path(script, "MULTI_LLM_OTEL_TESTBED_OTELCOL"), script)


@pytest.fixture(scope="session")
def jaeger() -> Path:
    script = "scripts/build-jaeger.sh"
    _needs_go(script)
    return _executable(testbed_path(script, "MULTI_LLM_OTEL_TESTBED_JAEGER"), script)


@pytest.fixture(scope="session")
def prometheus() -> Path:
    script = "scripts/install-prometheus.sh"
    if shutil.which("prometheus") is None and os.geteuid() != 0:
        pytest.skip("prometheus is not on PATH, and installing Debian's package needs root")
    return _executable(testbed_path(script, "MULTI_LLM_OTEL_TESTBED_PROMETHEUS"), script)
