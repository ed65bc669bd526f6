"""The crate's own deserializer (serde, uuid, chrono, serde_json inside examples/rust-service)
and ``BusinessEvent.from_json`` on the same lines, generated and hand-made: both accept or both
refuse, and what they accept reads back as the same event. The README lists the deliberate
differences; each is named here, and nothing else may differ.
"""

from __future__ import annotations

import json
import math
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.rust._producer import read_back

from multi_llm_otel import BusinessEvent, EventScope
from multi_llm_otel._events import parse_timestamp

pytestmark = pytest.mark.rust

EVENT_ID = "0f60c090-9cc5-4e8e-8e02-57b3a23188dd"


def line(created_at: str = "2026-12-05T17:02:59Z", metadata: str = "{}", event_id: str = EVENT_ID) -> str:
    return f'{{"id":"{event_id}","event_type":"x","metadata":{metadata},"created_at":"{created_at}"}}'


# Where Python's types cannot follow the crate's (README, "Where the library differs").
PYTHON_RANGE = "outside the years 1 to 9999"
NOT_AN_OBJECT = "metadata: expected a JSON object"


def _same_value(rust: Any, python: Any) -> bool:
    """Equal JSON values; serde_json's default float parser (without its float_roundtrip
    feature) may be a few units in the last place off where Python reads the exact double."""
    if isinstance(rust, float) or isinstance(python, float):
        if not isinstance(rust, (int, float)) or not isinstance(python, (int, float)):
            return False
        return rust == python or math.isclose(rust, python, rel_tol=1e-15)
    if isinstance(rust, list) and isinstance(python, list):
        return len(rust) == len(python) and all(_same_value(a, b) for a, b in zip(rust, python, strict=True))
    if isinstance(rust, dict) and isinstance(python, dict):
        return rust.keys() == python.keys() and all(_same_value(rust[k], python[k]) for k in rust)
    return bool(rust == python) and type(rust) is type(python)


def compare(binary: Path, lines: list[str]) -> None:
    reports = read_back(binary, lines)
    for text, report in zip(lines, reports, strict=True):
        try:
            event: BusinessEvent | None = BusinessEvent.from_json(text)
            refusal = ""
        except ValueError as exc:
            event, refusal = None, str(exc)
        if report["ok"] and event is None:
            assert PYTHON_RANGE in refusal or NOT_AN_OBJECT in refusal or "nested too deeply" in refusal, (
                text[:300],
                refusal,
            )
            continue
        assert report["ok"] == (event is not None), (text[:300], report, refusal)
        if event is None:
            continue
        rust = json.loads(report["json"])
        python = json.loads(event.to_json())
        assert rust["id"] == python["id"]
        assert rust["event_type"] == python["event_type"]
        assert _same_value(rust["metadata"], python["metadata"]), (text[:300], rust["metadata"], python["metadata"])
        # chrono writes UTC with a Z: the time Python read from the original must be that time.
        assert parse_timestamp(rust["created_at"]) == event.created_at, (text, rust["created_at"])


HAND_MADE = [
    line(),
    line("2026-12-05T17:02:59.473022434+02:00"),
    line("2026-12-05T17:02:59.4730224341234+0000"),
    line("2026-12-05 17:02:59 UTC"),
    line("2026-12-05t17:02:59utc"),
    line(" 2026 - 1 -5t1:2:9 -00 :: 30 "),
    line("2026-12-05T17:02:59\u221223:59"),
    line("2026-12-05T17:02:59.Z"),
    line("2026-12-05T17:02:59+05"),
    line("2026-12-05T17:02:59+24:00"),
    line("2026-12-05T17:02:59+23:60"),
    line("2026-02-29T17:02:59Z"),
    line("2024-02-29T17:02:59Z"),
    line("2026-12-31T23:59:60.5+01:00"),
    line("2026-12-05T24:00:00Z"),
    line("+2026-12-05T17:02:59Z"),
    line("-0001-12-31T23:59:59Z"),
    line("0001-01-01T00:30:00+01:00"),
    line("9999-12-31T23:30:00-01:00"),
    line("10000-01-01T00:00:00Z"),
    line("2026-12-05T17:02:59\u3000Z"),
    line("2026-12-05T17:02:59\x1cZ"),
    line("2026-12-05T17:02:59.1234567891Z"),
    line("\uff12026-12-05T17:02:59Z"),
    line(event_id="0f60c090-9cc5-1e8e-8e02-57b3a23188dd"),
    line(event_id="0f60c0909cc54e8e8e0257b3a23188dd"),
    line(event_id="{0f60c090-9cc5-4e8e-8e02-57b3a23188dd}"),
    line(event_id="urn:UUID:0f60c090-9cc5-4e8e-8e02-57b3a23188dd"),
    line(event_id="uuid:0f60c090-9cc5-4e8e-8e02-57b3a23188dd"),
    line(event_id="0f60c0909-cc5-4e8e-8e02-57b3a23188dd"),
    line(event_id="{0f60c0909cc54e8e8e0257b3a23188dd}"),
    line(event_id="0F60C090-9CC5-4E8E-8E02-57B3A23188DD"),
    line(metadata='{"a":1e400}'),
    line(metadata='{"a":-1e400}'),
    line(metadata='{"a":1e-400}'),
    line(metadata='{"a":18446744073709551616,"b":-9223372036854775809,"c":18446744073709551615}'),
    line(metadata='{"a":' + "9" * 400 + "}"),
    line(metadata='{"a":1,"a":2}'),
    line(metadata="[1]"),
    line(metadata="null"),
    line(metadata='{"a":' * 125 + "1" + "}" * 125),
    line(metadata='{"a":' * 126 + "1" + "}" * 126),
    line(metadata='{"a":' + "[" * 125 + "]" * 125 + "}"),
    line(metadata='{"a":' + "[" * 126 + "]" * 126 + "}"),
    line()[:-1] + ',"id":"' + EVENT_ID + '"}',
    line()[:-1].replace('"id"', '"\\u0069d"'),
    line()[:-1] + ',"x":1,"x":2}',
    line()[:-1] + ',"deep":' + "[" * 200 + "]" * 200 + "}",
    line()[:-1] + ',"scope":"nonsense"}',
    json.dumps([EVENT_ID, "x", {}, "2026-12-05T17:02:59Z"]),
    json.dumps([EVENT_ID, "x", {}]),
    json.dumps([EVENT_ID, "x", {}, "2026-12-05T17:02:59Z", 1]),
    line(metadata='{"a":NaN}'),
    line(metadata='{"a":"\\ud800"}'),
    line(metadata='{"a":"\\ud83d\\ude00"}'),
    line()[:-1],
    line() + " x",
    "\ufeff" + line(),
]


@pytest.mark.parametrize("text", HAND_MADE)
def test_hand_made_lines_are_taken_as_the_crate_takes_them(rust_service: Path, text: str) -> None:
    compare(rust_service, [text])


_digits = st.text("0123456789", min_size=1, max_size=5)
_created_at = st.one_of(
    st.builds(
        lambda y, mo, d, sep, h, mi, s, frac, sp, off: f"{y}-{mo}-{d}{sep}{h}:{mi}:{s}{frac}{sp}{off}",
        st.sampled_from(["2026"] * 6 + ["1999", "0001", "9999", "+2026", "-12", "26", "10000"]),
        st.sampled_from(["12"] * 6 + ["1", "01", "13", "00", " 2", "02"]),
        st.sampled_from(["05"] * 6 + ["5", "31", "30", "29", "00", "32"]),
        st.sampled_from(["T"] * 6 + ["t", " ", "_"]),
        st.sampled_from(["17"] * 6 + ["7", "23", "24", "00"]),
        st.sampled_from(["02"] * 6 + ["2", "59", "60"]),
        st.sampled_from(["59"] * 6 + ["5", "60", "61", "00"]),
        st.one_of(st.just(""), _digits.map(lambda d: "." + d), st.just("."), st.just(".1234567890123")),
        st.sampled_from([""] * 8 + [" ", "\t", "\u3000", "\x1c"]),
        st.sampled_from(
            ["Z", "z", "+00:00", "-05:30", "+0200", "+02", "+02 00", "UTC", "\u221201:00", "+23:59", "+99:00", ""]
        ),
    ),
    st.text(max_size=30),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
)
_hex = st.text("0123456789abcdefABCDEF", min_size=32, max_size=32)
_event_id = st.one_of(
    st.uuids().map(str),
    st.uuids().map(str),
    st.uuids().map(str),
    _hex.map(lambda h: f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"),
    _hex,
    _hex.map(lambda h: f"{{{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}}}"),
    _hex.map(lambda h: f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"),
    st.tuples(_hex, st.integers(0, 31)).map(lambda t: t[0][: t[1]] + "-" + t[0][t[1] :]),
    st.text(max_size=40),
)
_number = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-9, 9), st.integers(-400, 400)),
)
_json_text = st.recursive(
    st.one_of(st.sampled_from(["null", "true", "false", '"t"', '"\\u00e9"']), _number),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(st.tuples(st.sampled_from(["a", "b", "id", ""]), inner), max_size=3).map(
            lambda kv: "{" + ",".join(f'"{k}":{v}' for k, v in kv) + "}"
        ),
    ),
    max_leaves=8,
)
_metadata = st.one_of(
    st.dictionaries(st.text(max_size=5), st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=5)).map(
        lambda d: json.dumps(d, ensure_ascii=False)
    ),
    st.lists(st.tuples(st.text(max_size=5).map(json.dumps), _json_text), max_size=4).map(
        lambda kv: "{" + ",".join(f"{k}:{v}" for k, v in kv) + "}"
    ),
    _json_text,
)


@st.composite
def _lines(draw: st.DrawFn) -> str:
    fields = [
        ("id", json.dumps(draw(_event_id), ensure_ascii=draw(st.booleans()))),
        ("event_type", json.dumps(draw(st.text(max_size=8)))),
        ("metadata", draw(_metadata)),
        ("created_at", json.dumps(draw(_created_at), ensure_ascii=draw(st.booleans()))),
    ]
    if draw(st.integers(0, 3)) == 0:
        fields.append((draw(st.sampled_from(["id", "metadata", "extra", "created_at"])), draw(_json_text)))
    order = draw(st.permutations(fields))
    keep = len(order) - (draw(st.integers(0, 9)) == 0)
    return "{" + ",".join(f'"{k}":{v}' for k, v in order[:keep]) + "}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(_lines(), min_size=20, max_size=20))
def test_generated_lines_are_taken_as_the_crate_takes_them(rust_service: Path, batch: list[str]) -> None:
    compare(rust_service, batch)


def test_scopes_are_read_as_the_remote_derive_reads_them(rust_service: Path) -> None:
    scopes = ['"System"', '{"System":null}', '{"User":"u1"}', '"User"', '{"User":null}', '{"System":1}', "null"]
    lines = [f'{{"event":{line()},"scope":{s}}}' for s in scopes]
    for text, report in zip(lines, read_back(rust_service, lines, "--scoped"), strict=True):
        try:
            EventScope.from_json_value(json.loads(text)["scope"])
            accepted = True
        except ValueError:
            accepted = False
        assert report["ok"] == accepted, (text, report)


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
_python_events = st.builds(
    BusinessEvent,
    id=st.uuids(),
    event_type=st.text(max_size=12),
    metadata=st.dictionaries(st.text(max_size=8), _json_values, max_size=5),
    created_at=st.datetimes(timezones=st.just(timezone.utc)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(_python_events, min_size=10, max_size=10))
def test_rust_reads_back_what_python_writes(rust_service: Path, events: list[BusinessEvent]) -> None:
    lines = [event.to_json() for event in events]
    for event, report in zip(events, read_back(rust_service, lines), strict=True):
        assert report["ok"], (event, report)
        rust = json.loads(report["json"])
        assert rust["id"] == str(event.id)
        assert rust["event_type"] == event.event_type
        assert _same_value(rust["metadata"], json.loads(event.to_json())["metadata"])
        # Python writes chrono's AutoSi form at most to the microsecond: chrono writes the same text.
        assert rust["created_at"] == json.loads(event.to_json())["created_at"]


def test_rust_reads_back_the_bundled_session_as_python_writes_it(rust_service: Path) -> None:
    from multi_llm_otel.cli.demo import load_sample

    sample = load_sample()
    lines = [event.to_json() for event, _ in sample]
    scoped = [json.dumps({"event": json.loads(e.to_json()), "scope": s.to_json_value()}) for e, s in sample]
    assert all(r["ok"] for r in read_back(rust_service, lines))
    assert all(r["ok"] for r in read_back(rust_service, scoped, "--scoped"))
