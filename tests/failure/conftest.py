"""Fixtures of the failure tests, and the figures they measure.

Timings and sizes are never asserted (they depend on the machine); each test records them
with the ``figures`` fixture, and they are printed at the end of the run and stored as
``user_properties`` (junit XML). the README's "Failure behaviour" section holds a reference run.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from typing import Any

import pytest

_RECORDED: list[tuple[str, str, Any]] = []


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``figures(name=value, ...)``: record measured figures of this test."""

    def record(**values: Any) -> None:
        for name, value in values.items():
            shown = round(value, 4) if isinstance(value, float) else value
            _RECORDED.append((request.node.nodeid, name, shown))
            request.node.user_properties.append((name, json.dumps(shown)))

    return record


@pytest.fixture
def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    return path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RECORDED:
        return
    terminalreporter.section("failure-behaviour figures (measured, not asserted)")
    last = None
    for nodeid, name, value in _RECORDED:
        if nodeid != last:
            terminalreporter.write_line(nodeid.split("::", 1)[-1] + f"  [{nodeid.split('::', 1)[0]}]")
            last = nodeid
        terminalreporter.write_line(f"    {name} = {value}")
