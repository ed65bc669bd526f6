"""Session fixtures for the Collector tests: the real binaries, built or installed once.

The build scripts cache their output and print the binary's path, so a warm session costs
only a hash. They need the Go toolchain; only its absence skips these tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.collector._procs import REPO, build_binary, run_install_script
from tests.collector._stack import Stack, running_stack

CONFIG_DIR = REPO / "collector-config"


@pytest.fixture(scope="session")
def otelcol() -> Path:
    """The project's Collector distribution, built from collector-config/builder-config.yaml."""
    return build_binary(CONFIG_DIR / "build.sh")


@pytest.fixture(scope="session")
def jaeger() -> Path:
    return build_binary(REPO / "scripts" / "build-jaeger.sh")


@pytest.fixture(scope="session")
def prometheus() -> Path:
    return run_install_script(REPO / "scripts" / "install-prometheus.sh")


@pytest.fixture(scope="session")
def stack(otelcol: Path, jaeger: Path, prometheus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Jaeger, the agent Collector and Prometheus, running for the whole session."""
    with running_stack(otelcol, jaeger, prometheus, tmp_path_factory.mktemp("stack")) as started:
        yield started
