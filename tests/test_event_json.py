"""The JSON and dict forms of BusinessEvent, against what the Rust crate's serde derives write.

The Rust type is ``#[derive(Serialize, Deserialize)] struct BusinessEvent { id: Uuid,
event_type: String, metadata: serde_json::Value, created_at: DateTime<Utc> }``: serde_json
writes the fields in declaration order with no spaces, a ``Value`` map with sorted keys, and
chrono writes ``created_at`` with ``SecondsFormat::AutoSi`` and ``Z`` (no fraction, or 3, 6 or 9
digits). The vectors below are written that way by hand, character for character.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import multi_llm_otel
from multi_llm_otel import BusinessEvent, EventScope

EVENT_ID = "6f1c2a4e-8b3d-4c5e-9f7a-1b2c3d4e5f60"
SERDE_METADATA = (
    '{"cache_read_tokens":0,"finish_reasons":["stop"],"messages":[{"content":"Hi \\"there\\"\\n",'
    '"role":"user"}],"model":"gpt-4","nothing":null,"prompt_tokens":150,"stream":true,'
    '"temperature":0.7,"text":"héllo ✓ 😀 \\u001f \\\\ /"}'
)
METADATA: dict[str, Any] = {
    "cache_read_tokens": 0,
    "finish_reasons": ["stop"],
    "messages": [{"content": 'Hi "there"\n', "role": "user"}],
    "model": "gpt-4",
    "nothing": None,
    "prompt_tokens": 150,
    "stream": True,
    "temperature": 0.7,
    "text": "héllo ✓ 😀 \x1f \\ /",
}


def serde(created_at: str, metadata: str = SERDE_METADATA, event_type: str = "llm_request") -> str:
    return f'{{"id":"{EVENT_ID}","event_type":"{event_type}","metadata":{metadata},"created_at":"{created_at}"}}'


# (created_at as chrono writes it, the microseconds Python keeps)
VECTORS = [
    ("2026-11-26T19:11:18Z", 0),
    ("2026-11-26T19:11:18.123Z", 123000),
    ("2026-11-26T19:11:18.123456Z", 123456),
    ("2026-11-26T19:11:18.123456789Z", 123456),
]


@pytest.mark.parametrize(("created_at", "micros"), VECTORS)
def test_serde_vectors_parse(created_at: str, micros: int) -> None:
    event = BusinessEvent.from_json(serde(created_at))
    assert event.id == uuid.UUID(EVENT_ID)
    assert event.event_type == "llm_request"
    assert event.metadata == METADATA
    assert event.created_at == datetime(2026, 11, 26, 19, 11, 18, micros, tzinfo=timezone.utc)
    assert event.created_at.tzinfo is timezone.utc


@pytest.mark.parametrize(("created_at", "micros"), VECTORS[:3])
def test_serde_vectors_round_trip_to_the_same_text(created_at: str, micros: int) -> None:
    text = serde(created_at)
    assert BusinessEvent.from_json(text).to_json() == text
    assert BusinessEvent.from_json(text.encode("utf-8")).to_json() == text


def test_nanoseconds_are_truncated_to_microseconds_not_rounded() -> None:
    # 123456789 ns rounds to 123457 µs; truncation keeps 123456, so time never moves forward.
    event = BusinessEvent.from_json(serde("2026-11-26T19:11:18.123456789Z"))
    assert event.to_json() == serde("2026-11-26T19:11:18.123456Z")
    # The last nanosecond of a year stays in that year.
    last = BusinessEvent.from_json(serde("2026-12-31T23:59:59.999999999Z"))
    assert last.created_at == datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)
    # Nanoseconds below one microsecond are dropped entirely; chrono writes them with 9 digits.
    tiny = BusinessEvent.from_json(serde("2026-11-26T19:11:18.000000999Z"))
    assert tiny.created_at.microsecond == 0
    assert tiny.to_json() == serde("2026-11-26T19:11:18Z")


def test_the_truncation_is_documented() -> None:
    doc = " ".join((multi_llm_otel._events.__doc__ or "").split())
    assert "truncated, never rounded" in doc


@pytest.mark.parametrize(
    ("micros", "written"),
    [
        (0, "2026-11-26T19:11:18Z"),
        (100000, "2026-11-26T19:11:18.100Z"),
        (120000, "2026-11-26T19:11:18.120Z"),
        (1000, "2026-11-26T19:11:18.001Z"),
        (999000, "2026-11-26T19:11:18.999Z"),
        (123456, "2026-11-26T19:11:18.123456Z"),
        (100, "2026-11-26T19:11:18.000100Z"),
        (1, "2026-11-26T19:11:18.000001Z"),
        (123400, "2026-11-26T19:11:18.123400Z"),
    ],
)
def test_created_at_is_written_in_chronos_autosi_form(micros: int, written: str) -> None:
    moment = datetime(2026, 11, 26, 19, 11, 18, micros, tzinfo=timezone.utc)
    event = BusinessEvent(uuid.UUID(EVENT_ID), "llm_request", METADATA, moment)
    assert event.to_json() == serde(written)
    assert event.to_dict()["created_at"] == written


@pytest.mark.parametrize(
    ("moment", "written"),
    [
        (datetime(1, 1, 1, tzinfo=timezone.utc), "0001-01-01T00:00:00Z"),
        (datetime(999, 12, 31, 23, 59, 59, 5000, tzinfo=timezone.utc), "0999-12-31T23:59:59.005Z"),
        (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc), "9999-12-31T23:59:59.999999Z"),
        (datetime(1970, 1, 1, tzinfo=timezone.utc), "1970-01-01T00:00:00Z"),
    ],
)
def test_years_are_written_with_four_digits(moment: datetime, written: str) -> None:
    event = BusinessEvent(uuid.UUID(EVENT_ID), "x", {}, moment)
    assert event.to_dict()["created_at"] == written
    assert BusinessEvent.from_json(event.to_json()) == event


def test_to_json_is_serdes_compact_form_with_sorted_metadata_keys() -> None:
    moment = datetime(2026, 11, 26, 19, 11, 18, 123000, tzinfo=timezone.utc)
    event = BusinessEvent(uuid.UUID(EVENT_ID), "llm_request", {}, moment)
    # Insertion order differs from the sorted order serde_json's map writes.
    for key in ["z", "B", "a", "é", "A", "_", "10", "9"]:
        event.with_metadata(key, {"y": 1, "x": [2, {"d": 3, "c": 4}]})
    text = event.to_json()
    assert list(json.loads(text)) == ["id", "event_type", "metadata", "created_at"]
    assert list(json.loads(text)["metadata"]) == sorted(event.metadata, key=lambda k: k.encode("utf-8"))
    assert list(json.loads(text)["metadata"]) == ["10", "9", "A", "B", "_", "a", "z", "é"]
    assert ", " not in text
    assert ": " not in text
    assert '{"x":[2,{"c":4,"d":3}],"y":1}' in text
    assert text.startswith(f'{{"id":"{EVENT_ID}","event_type":"llm_request","metadata":{{"10":')
    assert text.endswith('},"created_at":"2026-11-26T19:11:18.123Z"}')


def test_text_is_written_as_serde_json_escapes_it() -> None:
    event = BusinessEvent.new("x").with_metadata("t", 'é "q" \\ / \n\t\r\b\f \x00 \x1f \x7f \u2028 😀')
    text = event.to_json()
    # Non-ASCII raw (UTF-8), the short escapes, \u00XX with lower-case hex for other controls.
    assert '"t":"é \\"q\\" \\\\ / \\n\\t\\r\\b\\f \\u0000 \\u001f \x7f \u2028 😀"' in text


@pytest.mark.parametrize("offset", ["+00:00", "-00:00", "z", "+0000", " UTC", "+00 00"])
def test_utc_written_as_an_offset_is_accepted(offset: str) -> None:
    event = BusinessEvent.from_json(serde(f"2026-11-26T19:11:18.5{offset}"))
    assert event.created_at == datetime(2026, 11, 26, 19, 11, 18, 500000, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("created_at", "utc"),
    [
        ("2026-11-26T19:11:18+02:00", datetime(2026, 11, 26, 17, 11, 18, tzinfo=timezone.utc)),
        ("2026-11-26T19:11:18-05:30", datetime(2026, 11, 27, 0, 41, 18, tzinfo=timezone.utc)),
        ("2026-11-26T19:11:18\u221202:00", datetime(2026, 11, 26, 21, 11, 18, tzinfo=timezone.utc)),
        ("2026-11-26 19:11:18.1234567891234Z", datetime(2026, 11, 26, 19, 11, 18, 123456, tzinfo=timezone.utc)),
        ("2026-1-2t3:4:5+0100", datetime(2026, 1, 2, 2, 4, 5, tzinfo=timezone.utc)),
    ],
)
def test_offsets_and_relaxed_forms_chrono_reads_are_converted_to_utc(created_at: str, utc: datetime) -> None:
    assert BusinessEvent.from_json(serde(created_at)).created_at == utc


@pytest.mark.parametrize(
    "event_id",
    [
        "6f1c2a4e-8b3d-1c5e-9f7a-1b2c3d4e5f60",
        "6f1c2a4e-8b3d-7c5e-9f7a-1b2c3d4e5f60",
        "00000000-0000-0000-0000-000000000000",
        "6F1C2A4E8B3D4C5E9F7A1B2C3D4E5F60",
        "{6f1c2a4e-8b3d-4c5e-9f7a-1b2c3d4e5f60}",
        "URN:uuid:6f1c2a4e-8b3d-4c5e-9f7a-1b2c3d4e5f60",
    ],
)
def test_every_uuid_form_and_version_the_uuid_crate_reads_is_accepted(event_id: str) -> None:
    expected = uuid.UUID(event_id.lower())
    event = BusinessEvent.from_json(with_field("id", event_id))
    assert event.id == expected
    assert json.loads(event.to_json())["id"] == str(expected)


def test_integers_past_64_bits_become_floats_as_in_serde_json() -> None:
    event = BusinessEvent.from_json(
        serde("2026-11-26T19:11:18Z", '{"big":18446744073709551616,"max":18446744073709551615}')
    )
    assert event.metadata == {"big": 1.8446744073709552e19, "max": 18446744073709551615}
    assert isinstance(event.metadata["big"], float)


def test_a_sequence_of_the_four_fields_is_an_event_as_for_serde() -> None:
    event = BusinessEvent.from_json(json.dumps([EVENT_ID, "llm_request", {"a": 1}, "2026-11-26T19:11:18Z"]))
    assert (str(event.id), event.event_type, event.metadata) == (EVENT_ID, "llm_request", {"a": 1})


def test_a_leap_second_folds_into_the_next_second() -> None:
    # chrono writes a leap second as :60; Python's datetime has no such second.
    event = BusinessEvent.from_json(serde("2016-12-31T23:59:60.5Z"))
    assert event.created_at == datetime(2017, 1, 1, 0, 0, 0, 500000, tzinfo=timezone.utc)


def test_unknown_fields_are_ignored_as_serde_ignores_them() -> None:
    text = serde("2026-11-26T19:11:18Z")[:-1] + ',"extra":{"a":[1]},"version":2}'
    assert BusinessEvent.from_json(text) == BusinessEvent.from_json(serde("2026-11-26T19:11:18Z"))


def test_surrogate_pairs_and_escaped_backslashes_are_fine() -> None:
    event = BusinessEvent.from_json(serde("2026-11-26T19:11:18Z", '{"e":"\\ud83d\\ude00","lit":"\\\\ud800"}'))
    assert event.metadata == {"e": "😀", "lit": "\\ud800"}


def test_json_round_trip_python_first() -> None:
    event = BusinessEvent.new("llm_response")
    for key, value in METADATA.items():
        event.with_metadata(key, value)
    again = BusinessEvent.from_json(event.to_json())
    assert again == event
    assert again.to_json() == event.to_json()


# --- from_json errors -----------------------------------------------------------------------

GOOD: dict[str, Any] = {
    "id": EVENT_ID,
    "event_type": "llm_request",
    "metadata": {"model": "gpt-4"},
    "created_at": "2026-11-26T19:11:18.123Z",
}


def with_field(name: str, value: Any) -> str:
    data = dict(GOOD)
    data[name] = value
    return json.dumps(data)


def without_field(name: str) -> str:
    return json.dumps({k: v for k, v in GOOD.items() if k != name})


BAD_TEXTS = [
    pytest.param('{"id":', "malformed JSON", id="truncated"),
    pytest.param("", "malformed JSON", id="empty"),
    pytest.param("not json", "malformed JSON", id="not-json"),
    pytest.param(json.dumps(GOOD) + "x", "malformed JSON", id="trailing-garbage"),
    pytest.param("[]", "event", id="array"),
    pytest.param("null", "event", id="null"),
    pytest.param('"text"', "event", id="string"),
    *(pytest.param(without_field(n), n, id=f"missing-{n}") for n in GOOD),
    pytest.param(with_field("id", 123), "id", id="id-number"),
    pytest.param(with_field("id", None), "id", id="id-null"),
    pytest.param(with_field("id", "6f1c2a4e"), "id", id="id-invalid"),
    pytest.param(with_field("id", "not-a-uuid-at-all-not-a-uuid-at-all!"), "id", id="id-garbage"),
    pytest.param(with_field("id", "6f1c2a4e8-b3d-4c5e-9f7a-1b2c3d4e5f60"), "id", id="id-hyphen-moved"),
    pytest.param(with_field("id", "6f1c2a4e-8b3d4c5e-9f7a-1b2c3d4e-5f60"), "id", id="id-hyphens-odd"),
    pytest.param(with_field("id", "uuid:6f1c2a4e-8b3d-4c5e-9f7a-1b2c3d4e5f60"), "id", id="id-uuid-prefix"),
    pytest.param(serde("2026-11-26T19:11:18Z", '{"x":1e400}'), "metadata", id="number-past-f64"),
    pytest.param(serde("2026-11-26T19:11:18Z", '{"x":-' + "9" * 400 + "}"), "metadata", id="integer-past-f64"),
    pytest.param(serde("2026-11-26T19:11:18Z")[:-1] + ',"metadata":{}}', "metadata", id="duplicate-metadata"),
    pytest.param(
        serde("2026-11-26T19:11:18Z")[:-1].replace('"id"', '"\\u0069d"') + f',"id":"{EVENT_ID}"}}',
        "id",
        id="duplicate-id-escaped",
    ),
    pytest.param(serde("2026-11-26T19:11:18Z", '{"a":' * 127 + "1" + "}" * 127), "metadata", id="past-serde-depth"),
    pytest.param(with_field("event_type", 5), "event_type", id="event_type-number"),
    pytest.param(with_field("event_type", None), "event_type", id="event_type-null"),
    pytest.param(with_field("event_type", ["llm_request"]), "event_type", id="event_type-array"),
    pytest.param(with_field("metadata", []), "metadata", id="metadata-array"),
    pytest.param(with_field("metadata", "x"), "metadata", id="metadata-string"),
    pytest.param(with_field("metadata", None), "metadata", id="metadata-null"),
    pytest.param(with_field("created_at", 1764184278), "created_at", id="created_at-number"),
    pytest.param(with_field("created_at", None), "created_at", id="created_at-null"),
    pytest.param(with_field("created_at", "2026-11-26T19:11:18"), "created_at", id="created_at-naive"),
    pytest.param(with_field("created_at", "2026-11-26T19:11:18.123"), "created_at", id="created_at-naive-frac"),
    pytest.param(with_field("created_at", "2026-11-26"), "created_at", id="created_at-date"),
    pytest.param(with_field("created_at", "2026-13-01T00:00:00Z"), "created_at", id="created_at-month13"),
    pytest.param(with_field("created_at", "2026-02-30T00:00:00Z"), "created_at", id="created_at-feb30"),
    pytest.param(with_field("created_at", "2026-11-26T24:00:00Z"), "created_at", id="created_at-hour24"),
    pytest.param(with_field("created_at", "2026-11-26T19:11:18.Z"), "created_at", id="created_at-empty-frac"),
    pytest.param(with_field("created_at", "yesterday"), "created_at", id="created_at-words"),
    pytest.param(with_field("created_at", "٢٠٢٦-11-26T19:11:18Z"), "created_at", id="created_at-arabic-digits"),
    pytest.param(with_field("created_at", "9999-12-31T23:59:60Z"), "created_at", id="created_at-leap-overflow"),
    pytest.param(serde("2026-11-26T19:11:18Z", '{"x":NaN}'), "metadata", id="nan"),
    pytest.param(serde("2026-11-26T19:11:18Z", '{"x":[1,{"y":Infinity}]}'), "metadata", id="infinity"),
    pytest.param(serde("2026-11-26T19:11:18Z", '{"x":-Infinity}'), "metadata", id="minus-infinity"),
    pytest.param(
        '{"id":"' + EVENT_ID + '","event_type":NaN,"metadata":{},"created_at":"2026-11-26T19:11:18Z"}',
        "event_type",
        id="nan-event_type",
    ),
    pytest.param(serde("2026-11-26T19:11:18Z", '{"x":"\\ud800"}'), "metadata", id="lone-high-surrogate"),
    pytest.param(serde("2026-11-26T19:11:18Z", '{"x":["a\\uDC00b"]}'), "metadata", id="lone-low-surrogate"),
    pytest.param(serde("2026-11-26T19:11:18Z", '{"k\\ud800":1}'), "metadata", id="surrogate-in-key"),
    pytest.param(serde("2026-11-26T19:11:18Z", '{"x":"\\ude00\\ud83d"}'), "metadata", id="reversed-pair"),
    pytest.param(
        serde("2026-11-26T19:11:18Z", "{}", event_type="llm\\ud800"), "event_type", id="surrogate-in-event_type"
    ),
    pytest.param(serde("2026-11-26T19:11:18Z")[:-1] + ',"extra":"\\ud800"}', "'extra'", id="surrogate-unknown"),
    pytest.param("[" * 100_000 + "]" * 100_000, "malformed JSON", id="too-deep"),
]


@pytest.mark.parametrize(("text", "field"), BAD_TEXTS)
def test_from_json_errors_are_value_errors_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}"):
        BusinessEvent.from_json(text)


def test_from_json_rejects_bytes_that_are_not_utf8() -> None:
    with pytest.raises(ValueError, match=r"^malformed JSON"):
        BusinessEvent.from_json(serde("2026-11-26T19:11:18Z").encode("utf-8").replace(b"gpt-4", b"gpt-\xff"))
    with pytest.raises(ValueError, match=r"^metadata"):
        BusinessEvent.from_json(serde("2026-11-26T19:11:18Z", '{"x":"\\ud800"}').encode("utf-8"))


def test_from_json_rejects_a_raw_lone_surrogate_character_in_text() -> None:
    with pytest.raises(ValueError, match=r"^metadata"):
        BusinessEvent.from_json(serde("2026-11-26T19:11:18Z", '{"x":"\ud800"}'))


# --- Dict forms -----------------------------------------------------------------------------


def test_to_dict_is_the_parsed_json() -> None:
    event = BusinessEvent.from_json(serde("2026-11-26T19:11:18.123456Z"))
    assert event.to_dict() == json.loads(event.to_json())
    assert event.to_dict() == json.loads(serde("2026-11-26T19:11:18.123456Z"))
    assert BusinessEvent.from_dict(event.to_dict()) == event


def test_to_dict_returns_a_copy() -> None:
    event = BusinessEvent.new("x").with_metadata("k", {"a": [1]})
    data = event.to_dict()
    data["metadata"]["k"]["a"].append({1, 2})
    data["metadata"]["new"] = float("nan")
    assert event.metadata == {"k": {"a": [1]}}
    assert json.loads(event.to_json())["metadata"] == {"k": {"a": [1]}}


def test_from_dict_copies_its_input() -> None:
    data = json.loads(serde("2026-11-26T19:11:18Z"))
    event = BusinessEvent.from_dict(data)
    data["metadata"]["messages"][0]["role"] = "changed"
    data["metadata"]["new"] = 1
    assert event.metadata == METADATA


def test_from_dict_accepts_tuples_as_arrays() -> None:
    data = dict(GOOD, metadata={"t": (1, (2, 3))})
    assert BusinessEvent.from_dict(data).metadata == {"t": [1, [2, 3]]}


def _cyclic() -> dict[str, Any]:
    value: dict[str, Any] = {}
    value["self"] = value
    return value


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("metadata", {"x": float("nan")}, "metadata"),
        ("metadata", {"x": [1.0, float("inf")]}, "metadata"),
        ("metadata", {"x": {1, 2}}, "metadata"),
        ("metadata", {"x": b"bytes"}, "metadata"),
        ("metadata", {"x": object()}, "metadata"),
        ("metadata", {"x": {1: "int key"}}, "metadata"),
        ("metadata", {"x": "\ud800"}, "metadata"),
        ("metadata", {"k\udc00": 1}, "metadata"),
        ("metadata", _cyclic(), "metadata"),
        ("metadata", [], "metadata"),
        ("event_type", "llm\ud800", "event_type"),
        ("event_type", 1, "event_type"),
        ("created_at", datetime.now(timezone.utc), "created_at"),
    ],
)
def test_from_dict_rejects_what_json_cannot_represent(name: str, value: Any, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}"):
        BusinessEvent.from_dict(dict(GOOD, **{name: value}))


def test_from_dict_rejects_non_objects() -> None:
    with pytest.raises(ValueError, match=r"^event"):
        BusinessEvent.from_dict([GOOD])
    with pytest.raises(ValueError, match=r"^created_at: missing"):
        BusinessEvent.from_dict({k: v for k, v in GOOD.items() if k != "created_at"})


def test_from_dict_accepts_a_uuid_object() -> None:
    event_id = uuid.uuid4()
    assert BusinessEvent.from_dict(dict(GOOD, id=event_id)).id == event_id


# --- Properties -----------------------------------------------------------------------------

json_values = st.recursive(
    # serde_json holds integers in i64 or u64; past them it reads a float (tested on its own).
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=6)
utc_times = st.datetimes(
    min_value=datetime(1, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive; timezones= makes them aware
    max_value=datetime(9999, 12, 31, 23, 59, 59, 999999),  # noqa: DTZ001
    timezones=st.just(timezone.utc),
)
events = st.builds(
    BusinessEvent,
    id=st.uuids(version=4),
    event_type=st.text(),
    metadata=json_objects,
    created_at=utc_times,
)


@settings(max_examples=400, deadline=None)
@given(event=events)
def test_property_python_to_json_and_back(event: BusinessEvent) -> None:
    text = event.to_json()
    again = BusinessEvent.from_json(text)
    assert again == event
    assert again.to_json() == text
    assert BusinessEvent.from_json(text.encode("utf-8")) == event
    assert BusinessEvent.from_dict(event.to_dict()) == event
    assert event.to_dict() == json.loads(text)


def chrono_autosi(moment: datetime, nanos: int) -> str:
    """What chrono writes for ``moment`` with ``nanos`` nanoseconds in the second (the oracle)."""
    date = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    head = f"{date}T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    if nanos == 0:
        return head + "Z"
    if nanos % 1_000_000 == 0:
        return f"{head}.{nanos // 1_000_000:03d}Z"
    if nanos % 1_000 == 0:
        return f"{head}.{nanos // 1_000:06d}Z"
    return f"{head}.{nanos:09d}Z"


@settings(max_examples=400, deadline=None)
@given(moment=utc_times, nanos=st.integers(0, 999_999_999), metadata=json_objects, event_type=st.text())
def test_property_serde_text_to_python_and_back(
    moment: datetime, nanos: int, metadata: dict[str, Any], event_type: str
) -> None:
    event_id = uuid.uuid4()
    text = (
        f'{{"id":"{event_id}","event_type":{json.dumps(event_type, ensure_ascii=False)},'
        f'"metadata":{json.dumps(metadata, ensure_ascii=False, sort_keys=True, separators=(",", ":"))},'
        f'"created_at":"{chrono_autosi(moment, nanos)}"}}'
    )
    event = BusinessEvent.from_json(text)
    assert event.id == event_id
    assert event.event_type == event_type
    assert event.metadata == metadata
    assert event.created_at == moment.replace(microsecond=nanos // 1000)
    written = event.to_json()
    if nanos % 1000 == 0:
        assert written == text
    else:
        assert written == text.replace(chrono_autosi(moment, nanos), chrono_autosi(moment, nanos // 1000 * 1000))


@settings(max_examples=200, deadline=None)
@given(metadata=json_objects, moment=utc_times)
def test_property_created_at_never_moves_forward(metadata: dict[str, Any], moment: datetime) -> None:
    event = BusinessEvent(uuid.uuid4(), "x", metadata, moment)
    parsed = BusinessEvent.from_json(event.to_json())
    assert parsed.created_at == moment
    assert parsed.created_at - moment == timedelta(0)


def test_a_parsed_value_nested_past_the_metadata_rule_reaches_the_log_body_as_json_text() -> None:
    from multi_llm_otel.testing import capture

    deep: Any = 1
    for _ in range(80):
        deep = {"a": deep}
    event = BusinessEvent.from_json(serde("2026-11-26T19:11:18Z", json.dumps({"deep": deep, "n": 1})))
    with capture() as captured:
        captured.emitter.emit(event, EventScope.system())
        (record,) = captured.logs()
    body = dict(record.body)  # type: ignore[arg-type]
    assert body["n"] == 1
    assert json.loads(body["deep"]) == deep
