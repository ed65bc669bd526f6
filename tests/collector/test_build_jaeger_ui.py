"""scripts/build-jaeger-ui.sh's guards, without building: a cached build is reused as it is, a
source of another jaeger-ui version or a missing source is refused before npm runs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.collector._procs import REPO

SCRIPT = REPO / "scripts" / "build-jaeger-ui.sh"


def _run(cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_CACHE_HOME": str(cache), "JAEGER_UI_VERSION": "v1.76.0", **env},
        check=False,
        timeout=60,
    )


def test_a_cached_build_is_printed_and_not_rebuilt(tmp_path: Path) -> None:
    assets = tmp_path / "multi-llm-otel" / "jaeger-ui-v1.76.0" / "assets"
    assets.mkdir(parents=True)
    (assets / "index.html").write_text("<html></html>")
    result = _run(tmp_path, JAEGER_UI_SOURCE=str(tmp_path / "absent"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(assets)


def test_a_source_of_another_version_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "jaeger-ui"
    (source / "packages" / "jaeger-ui").mkdir(parents=True)
    (source / "packages" / "jaeger-ui" / "package.json").write_text(json.dumps({"version": "1.75.0"}))
    result = _run(tmp_path / "cache", JAEGER_UI_SOURCE=str(source))
    assert result.returncode == 4
    assert "expected v1.76.0" in result.stderr
    assert not (tmp_path / "cache" / "multi-llm-otel" / "jaeger-ui-v1.76.0" / "assets").exists()


def test_a_missing_source_is_refused(tmp_path: Path) -> None:
    result = _run(tmp_path / "cache", JAEGER_UI_SOURCE=str(tmp_path / "absent"))
    assert result.returncode == 2
    assert "neither a directory nor a file" in result.stderr
