"""The Rust producer of the test bed: examples/rust-service, a service on the real multi-llm
crate (1.0.0, feature ``events``), built by scripts/build-rust-service.sh (cached by content).

``rust_events`` runs it once per session against the shared llama-server: two calls through
each of the crate's OpenAI-compatible and Anthropic providers, with a user, a session and an
LLM path, and keeps the JSON lines it wrote and the usage it parsed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.collector._stack import Stack, running_stack
from tests.conftest import testbed_path
from tests.rust._producer import RustRun, produce


@pytest.fixture(scope="session")
def rust_service() -> Path:
    if shutil.which("cargo") is None:
        pytest.skip("cargo is needed to build the Rust producer")
    return testbed_path("scripts/build-rust-service.sh", "MULTI_LLM_OTEL_TESTBED_RUST_SERVICE")


@pytest.fixture(scope="session")
def rust_events(rust_service: Path, llama_server: str) -> RustRun:
    return produce(rust_service, llama_server)


@pytest.fixture(scope="session")
def stack(otelcol: Path, jaeger: Path, prometheus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Jaeger, the agent Collector and Prometheus, as in tests/collector."""
    with running_stack(otelcol, jaeger, prometheus, tmp_path_factory.mktemp("stack")) as started:
        yield started
