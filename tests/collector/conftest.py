"""Session fixtures for the Collector tests: the real binaries, built or installed once.

The build scripts cache their output and print the binary's path, so a warm session costs
only a hash. They need the Go toolchain; only its absence skips these tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.collector._procs import REPO, build_binary, run_install_script

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
