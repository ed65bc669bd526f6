"""The one guard: instrumentation failures are reported, counted and replaced by a fallback."""

from __future__ import annotations

import logging

import pytest

import multi_llm_otel
from multi_llm_otel._guard import contained, never_raise


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_a_failure_is_counted_each_time_warned_once_and_replaced_by_the_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @never_raise("probe_failed", list)
    def broken() -> list[int]:
        raise Unprintable

    with caplog.at_level(logging.WARNING, logger="multi_llm_otel"):
        assert broken() == []
        assert broken() == []
    assert multi_llm_otel.stats() == {"probe_failed": 2}
    assert [r.getMessage() for r in caplog.records if "probe_failed" in r.getMessage()] == [
        "multi-llm-otel: probe_failed: <Unprintable: str() failed> (reported once; see multi_llm_otel.stats())"
    ]


def test_the_program_s_own_exits_pass_through() -> None:
    @never_raise()
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    with pytest.raises(SystemExit), contained():
        raise SystemExit(3)
    assert multi_llm_otel.stats() == {}


def test_contained_says_whether_the_block_failed() -> None:
    with contained("block_failed") as ok:
        pass
    assert not ok.failed
    with contained("block_failed") as attempt:
        raise ValueError("boom")
    assert attempt.failed
    assert multi_llm_otel.stats() == {"block_failed": 1}


def test_any_other_base_exception_is_contained() -> None:
    class Hostile(BaseException):
        pass

    @never_raise("probe_failed", dict)
    def reads_a_hostile_property() -> dict[str, int]:
        raise Hostile

    assert reads_a_hostile_property() == {}
    assert multi_llm_otel.stats() == {"probe_failed": 1}
