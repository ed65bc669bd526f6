"""The observability stack of the end-to-end tests, once per session; its binaries come from
the fixtures of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.collector._stack import Stack, running_stack


@pytest.fixture(scope="session")
def stack(otelcol: Path, jaeger: Path, prometheus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Jaeger, the agent Collector and Prometheus, running for the whole session."""
    with running_stack(otelcol, jaeger, prometheus, tmp_path_factory.mktemp("stack")) as started:
        yield started
