"""The Rust producer of the test bed: examples/rust-service, a service on the real multi-llm
crate (1.0.0, feature ``events``), built by scripts/build-rust-service.sh (cached by content).

``rust_events`` runs it once per session against the shared llama-server: two calls through
each of the crate's OpenAI-compatible and Anthropic providers, with a user, a session and an
LLM path, and keeps the JSON lines it wrote and the usage it parsed.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.collector._procs import REPO, build_binary, run_install_script
from tests.collector._stack import Stack, running_stack
from tests.rust._producer import RustRun, produce


@pytest.fixture(scope="session")
def otelcol() -> Path:
    return build_binary(REPO / "collector-config" / "build.sh")


@pytest.fixture(scope="session")
def rust_service() -> Path:
    if shutil.which("cargo") is None:
        pytest.skip("cargo is needed to build the Rust producer")
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "build-rust-service.sh")], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"build-rust-service.sh failed:\n{result.stderr[-4000:]}", pytrace=False)
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def rust_events(rust_service: Path, llama_server: str) -> RustRun:
    return produce(rust_service, llama_server)


@pytest.fixture(scope="session")
def stack(otelcol: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Jaeger, the agent Collector and Prometheus, as in tests/collector."""
    jaeger = build_binary(REPO / "scripts" / "build-jaeger.sh")
    prometheus = run_install_script(REPO / "scripts" / "install-prometheus.sh")
    with running_stack(otelcol, jaeger, prometheus, tmp_path_factory.mktemp("stack")) as started:
        yield started
