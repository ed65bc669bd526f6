"""The content-capture switch read from the environment at every call, as ``os.environ`` holds it."""

from __future__ import annotations

import os

import pytest

from multi_llm_otel._content_capture import ENV, enabled_by_env


@pytest.mark.parametrize(
    ("value", "on"),
    [(None, False), ("true", True), ("1", True), ("TRUE ", True), ("false", False), ("Off", False), ("", False)],
)
def test_the_switch_follows_the_variable_as_it_changes(
    monkeypatch: pytest.MonkeyPatch, value: str | None, on: bool
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert enabled_by_env() is False
    if value is not None:
        monkeypatch.setenv(ENV, value)
    assert enabled_by_env() is on
    monkeypatch.delenv(ENV, raising=False)
    assert enabled_by_env() is False


def test_the_switch_reads_os_environ_even_when_it_was_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    # An application (or a test) that swaps os.environ for a plain dictionary.
    monkeypatch.setattr(os, "environ", {ENV: "true"})
    assert enabled_by_env() is True
    monkeypatch.setattr(os, "environ", {})
    assert enabled_by_env() is False
