"""The mapping of one business event onto OpenTelemetry: a span event and a log record.

Everything is read back from the SDK's in-memory exporters through ``multi_llm_otel.testing``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.trace import Span

import multi_llm_otel
from multi_llm_otel import BusinessEvent, EventScope, event_types
from multi_llm_otel._mapping import GENAI_NAMES
from multi_llm_otel.testing import Captured, capture


def health_warnings(caplog: pytest.LogCaptureFixture, kind: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "multi_llm_otel" and f": {kind}" in r.getMessage()]


def emit_in_span(captured: Captured, event: BusinessEvent, scope: EventScope | None = None) -> Span:
    with captured.tracer_provider.get_tracer("t").start_as_current_span("work") as span:
        multi_llm_otel.emit(event, scope)
    return span


def unix_nanos(moment: datetime) -> int:
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    delta = moment - epoch
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def rich_event() -> BusinessEvent:
    return (
        BusinessEvent.new(event_types.LLM_RESPONSE)
        .with_metadata("model", "gpt-4")
        .with_metadata("input_tokens", 150)
        .with_metadata("temperature", 0.5)
        .with_metadata("stream", True)
        .with_metadata("tags", ["a", "b"])
        .with_metadata("ids", [1, 2, 3])
        .with_metadata("weights", [0.25, 0.5])
        .with_metadata("flags", [True, False])
        .with_metadata("nested", {"b": [1, {"c": None}], "a": "x"})
        .with_metadata("mixed", [1, "a"])
        .with_metadata("with_null", [None, 1])
        .with_metadata("empty", [])
        .with_metadata("big", 2**70)
        .with_metadata("nothing", None)
    )


def test_span_event_carries_the_event(captured: Captured) -> None:
    event = rich_event()
    span = emit_in_span(captured, event, EventScope.user("user_123"))

    [finished] = captured.spans()
    assert finished.context.span_id == span.get_span_context().span_id
    [span_event] = finished.events
    assert span_event.name == "llm_response"
    assert span_event.timestamp == unix_nanos(event.created_at)
    attributes = dict(span_event.attributes or {})
    assert attributes == {
        "multi_llm.event.id": str(event.id),
        "multi_llm.event.scope": "user",
        "user.id": "user_123",
        "model": "gpt-4",
        "gen_ai.request.model": "gpt-4",
        "input_tokens": 150,
        "gen_ai.usage.input_tokens": 150,
        "temperature": 0.5,
        "gen_ai.request.temperature": 0.5,
        "stream": True,
        "tags": ("a", "b"),
        "ids": (1, 2, 3),
        "weights": (0.25, 0.5),
        "flags": (True, False),
        "nested": '{"a":"x","b":[1,{"c":null}]}',
        "mixed": '[1,"a"]',
        "with_null": "[null,1]",
        "empty": "[]",
        "big": str(2**70),
    }
    # Nested values are compact JSON of exactly the metadata value.
    for key in ("nested", "mixed", "with_null", "empty"):
        assert json.loads(str(attributes[key])) == event.metadata[key]
    assert "nothing" not in attributes


def test_system_scope_has_no_user_id(captured: Captured) -> None:
    event = BusinessEvent.new("cache_hit").with_metadata("k", 1)
    emit_in_span(captured, event, EventScope.system())
    [span_event] = captured.span_events()
    [record] = captured.logs()
    for attributes in (span_event.attributes, record.attributes):
        assert dict(attributes or {}) == {
            "multi_llm.event.id": str(event.id),
            "multi_llm.event.scope": "system",
            "k": 1,
        }


def test_default_scope_is_system(captured: Captured) -> None:
    emit_in_span(captured, BusinessEvent.new("x"))
    [span_event] = captured.span_events()
    assert (span_event.attributes or {})["multi_llm.event.scope"] == "system"
    assert "user.id" not in (span_event.attributes or {})


@pytest.mark.parametrize(
    ("key", "genai"),
    [
        ("model", "gen_ai.request.model"),
        ("input_tokens", "gen_ai.usage.input_tokens"),
        ("cache_read_tokens", "gen_ai.usage.cache_read.input_tokens"),
        ("cache_write_tokens", "gen_ai.usage.cache_write.input_tokens"),
    ],
)
def test_the_aliases_named_in_the_issue(key: str, genai: str) -> None:
    assert GENAI_NAMES[key] == genai


@pytest.mark.parametrize(("key", "genai"), sorted(GENAI_NAMES.items()))
def test_genai_aliases_sit_alongside_the_original_key(captured: Captured, key: str, genai: str) -> None:
    value: Any = "stop" if key == "finish_reasons" else 42 if key.endswith(("tokens", "port", "code")) else "v"
    event = BusinessEvent.new("llm_response").with_metadata(key, value)
    emit_in_span(captured, event)
    [span_event] = captured.span_events()
    [record] = captured.logs()
    for attributes in (dict(span_event.attributes or {}), dict(record.attributes or {})):
        assert attributes[key] == value
        # finish_reasons is a string array in the GenAI conventions.
        assert attributes[genai] == (("stop",) if genai == "gen_ai.response.finish_reasons" else value)
    assert record.body == {key: value}


def test_an_explicit_genai_key_in_metadata_wins_over_the_alias(captured: Captured) -> None:
    first = BusinessEvent.new("x").with_metadata("model", "alias").with_metadata("gen_ai.request.model", "explicit")
    second = BusinessEvent.new("x").with_metadata("gen_ai.request.model", "explicit").with_metadata("model", "alias")
    emit_in_span(captured, first)
    emit_in_span(captured, second)
    for span_event in captured.span_events():
        assert (span_event.attributes or {})["gen_ai.request.model"] == "explicit"
        assert (span_event.attributes or {})["model"] == "alias"


def test_metadata_cannot_overwrite_the_scope_attributes(captured: Captured) -> None:
    event = (
        BusinessEvent.new("x")
        .with_metadata("user.id", "spoofed")
        .with_metadata("multi_llm.event.scope", "user")
        .with_metadata("multi_llm.event.id", "other")
    )
    emit_in_span(captured, event, EventScope.system())
    emit_in_span(captured, event, EventScope.user("real"))
    system_event, user_event = captured.span_events()
    # The three colliding keys are left out, and counted as left out.
    assert dict(system_event.attributes or {}) == {
        "multi_llm.event.id": str(event.id),
        "multi_llm.event.scope": "system",
        "multi_llm.metadata.dropped_keys": 3,
    }
    assert dict(user_event.attributes or {}) == {
        "multi_llm.event.id": str(event.id),
        "multi_llm.event.scope": "user",
        "user.id": "real",
        "multi_llm.metadata.dropped_keys": 3,
    }
    # The log body still has every key: nothing is lost.
    assert captured.logs()[0].body == event.metadata


def test_log_record_carries_the_event(captured: Captured) -> None:
    event = rich_event()
    span = emit_in_span(captured, event, EventScope.user("user_123"))
    [record] = captured.logs()
    [span_event] = captured.span_events()

    assert record.event_name == "llm_response"
    assert record.timestamp == unix_nanos(event.created_at)
    assert record.trace_id == span.get_span_context().trace_id
    assert record.span_id == span.get_span_context().span_id
    assert record.trace_id != 0
    assert record.severity_number == SeverityNumber.INFO
    assert record.severity_text == "INFO"
    # OTLP's int_value is an int64: the body carries a larger integer as its decimal string,
    # as the attributes do (one such value would otherwise fail its whole export batch).
    assert record.body == {**event.metadata, "big": str(2**70)}
    assert record.body["nested"] == {"a": "x", "b": [1, {"c": None}]}  # structured, not a string
    assert dict(record.attributes or {}) == dict(span_event.attributes or {})


@pytest.mark.parametrize(
    "event_type",
    [
        event_types.LLM_REQUEST,
        event_types.LLM_RESPONSE,
        event_types.LLM_ERROR,
        event_types.CACHE_HIT,
        event_types.CACHE_MISS,
        event_types.ERROR,
        "custom",
    ],
)
def test_severity_is_error_only_for_error_events(captured: Captured, event_type: str) -> None:
    emit_in_span(captured, BusinessEvent.new(event_type))
    [record] = captured.logs()
    error = event_type in ("llm_error", "error")
    assert record.severity_number == (SeverityNumber.ERROR if error else SeverityNumber.INFO)
    assert record.severity_text == ("ERROR" if error else "INFO")


def test_the_log_body_is_a_snapshot_of_the_metadata(captured: Captured) -> None:
    event = BusinessEvent.new("x").with_metadata("a", {"n": 1})
    emit_in_span(captured, event)
    event.with_metadata("b", 2)
    event.metadata["a"]["n"] = 99  # type: ignore[index,call-overload]
    [record] = captured.logs()
    assert record.body == {"a": {"n": 1}}


def test_without_an_active_span_the_log_record_still_carries_the_event(
    captured: Captured, caplog: pytest.LogCaptureFixture
) -> None:
    event = BusinessEvent.new("llm_request").with_metadata("model", "m")
    multi_llm_otel.emit(event, EventScope.user("u"))

    assert captured.spans() == []
    [record] = captured.logs()
    assert record.event_name == "llm_request"
    assert record.trace_id == 0
    assert record.span_id == 0
    assert record.body == {"model": "m"}
    assert (record.attributes or {})["user.id"] == "u"
    assert multi_llm_otel.stats() == {"span_event_without_span": 1}
    assert health_warnings(caplog, "span_event_without_span") == [], "an expected outcome, counted, not warned"


def test_a_span_that_ended_gets_no_event(captured: Captured) -> None:
    tracer = captured.tracer_provider.get_tracer("t")
    span = tracer.start_span("ended")
    span.end()
    captured.emitter.emit(BusinessEvent.new("x"), span=span)
    [finished] = captured.spans()
    assert finished.events == ()
    assert len(captured.logs()) == 1
    assert multi_llm_otel.stats() == {"span_event_without_span": 1}


def test_an_explicit_span_is_used_instead_of_the_current_one(captured: Captured) -> None:
    tracer = captured.tracer_provider.get_tracer("t")
    target = tracer.start_span("target")
    with tracer.start_as_current_span("current"):
        captured.emitter.emit(BusinessEvent.new("x"), span=target)
    target.end()
    spans = {s.name: s for s in captured.spans()}
    assert [e.name for e in spans["target"].events] == ["x"]
    assert spans["current"].events == ()
    [record] = captured.logs()
    assert record.span_id == target.get_span_context().span_id
    assert record.trace_id == target.get_span_context().trace_id


def test_span_events_can_be_switched_off() -> None:
    with capture(span_events=False) as captured:
        emit_in_span(captured, BusinessEvent.new("x"))
        [span] = captured.spans()
        assert span.events == ()
        assert captured.event_names() == ["x"]
    assert multi_llm_otel.stats() == {}


def test_log_records_can_be_switched_off() -> None:
    with capture(log_records=False) as captured:
        emit_in_span(captured, BusinessEvent.new("x"))
        assert [e.name for e in captured.span_events()] == ["x"]
        assert captured.logs() == []


# --- Hashed user ids ------------------------------------------------------------------------


def expected_hash(user_id: str, key: bytes) -> str:
    return "hmac-sha256:" + hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def exported_bytes(captured: Captured) -> bytes:
    spans: bytes = encode_spans(captured.spans()).SerializeToString()
    logs: bytes = encode_logs(captured.log_exporter.get_finished_logs()).SerializeToString()
    return spans + logs


def test_user_ids_can_be_exported_as_keyed_hashes() -> None:
    event = BusinessEvent.new("llm_request").with_metadata("model", "m")
    with capture(user_id_hash_key=b"secret-1") as one:
        emit_in_span(one, event, EventScope.user("user_123"))
        emit_in_span(one, event, EventScope.user("user_123"))
        emit_in_span(one, event, EventScope.user("user_456"))
        first, again, other = (dict(e.attributes or {})["user.id"] for e in one.span_events())
        assert [dict(r.attributes or {})["user.id"] for r in one.logs()] == [first, again, other]
        raw = exported_bytes(one)
    with capture(user_id_hash_key="secret-2") as two:
        emit_in_span(two, event, EventScope.user("user_123"))
        [second_key] = (dict(e.attributes or {})["user.id"] for e in two.span_events())

    assert first == expected_hash("user_123", b"secret-1")
    assert first == again, "stable for one key"
    assert other != first
    assert second_key == expected_hash("user_123", b"secret-2")
    assert second_key != first, "differs per key"
    assert b"user_123" not in raw
    assert b"user_456" not in raw
    assert b"secret-1" not in raw


def test_a_string_hash_key_is_its_utf8_bytes() -> None:
    with capture(user_id_hash_key="clé") as captured:
        emit_in_span(captured, BusinessEvent.new("x"), EventScope.user("u"))
        [span_event] = captured.span_events()
    assert (span_event.attributes or {})["user.id"] == expected_hash("u", "clé".encode())


def test_a_user_id_with_a_lone_surrogate_still_exports(captured: Captured) -> None:
    emit_in_span(captured, BusinessEvent.new("x"), EventScope.user("u\udc00"))
    [span_event] = captured.span_events()
    assert (span_event.attributes or {})["user.id"] == "u\ufffd"
    exported_bytes(captured)  # the OTLP encoder would raise on a lone surrogate
    with capture(user_id_hash_key=b"k") as hashed:
        emit_in_span(hashed, BusinessEvent.new("x"), EventScope.user("u\udc00"))
        emit_in_span(hashed, BusinessEvent.new("x"), EventScope.user("u\udc01"))
        first, second = ((e.attributes or {})["user.id"] for e in hashed.span_events())
    assert first != second


def test_an_event_type_with_a_lone_surrogate_still_exports(captured: Captured) -> None:
    emit_in_span(captured, BusinessEvent.new("llm\ud800"))
    assert [e.name for e in captured.span_events()] == ["llm\ufffd"]
    assert captured.event_names() == ["llm\ufffd"]
    exported_bytes(captured)


# --- Limits ---------------------------------------------------------------------------------


def many_keys(count: int) -> BusinessEvent:
    event = BusinessEvent.new("x")
    for i in range(count):
        event.with_metadata(f"key_{i:03d}", i)
    return event


def check_count_limit(captured: Captured, limit: int, event: BusinessEvent) -> None:
    emit_in_span(captured, event, EventScope.user("u"))
    [span_event] = captured.span_events()
    [record] = captured.logs()
    for attributes in (dict(span_event.attributes or {}), dict(record.attributes or {})):
        assert len(attributes) <= limit
        kept = [k for k in event.metadata if k in attributes]
        assert kept, "some metadata keys fit"
        assert attributes["multi_llm.metadata.dropped_keys"] == len(event.metadata) - len(kept)
        assert attributes["multi_llm.event.id"] == str(event.id)
        assert attributes["user.id"] == "u"
        assert "multi_llm.metadata.truncated_keys" not in attributes
    assert record.body == event.metadata, "the log body keeps every key"


def test_more_keys_than_the_count_limit_are_counted(caplog: pytest.LogCaptureFixture) -> None:
    with capture(max_attributes=10) as captured:
        check_count_limit(captured, 10, many_keys(30))
    assert multi_llm_otel.stats() == {"attributes_dropped": 1}  # one per emitted event
    assert len(health_warnings(caplog, "attributes_dropped")) == 1


@pytest.mark.parametrize("variable", ["OTEL_ATTRIBUTE_COUNT_LIMIT", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT"])
def test_the_count_limit_follows_the_environment(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "12")
    with capture() as captured:
        check_count_limit(captured, 12, many_keys(40))


def test_the_default_count_limit_is_otels_128(captured: Captured) -> None:
    check_count_limit(captured, 128, many_keys(200))
    with capture() as small:
        emit_in_span(small, many_keys(100))
        [span_event] = small.span_events()
        assert "multi_llm.metadata.dropped_keys" not in (span_event.attributes or {})


def test_long_text_is_cut_and_the_keys_named(caplog: pytest.LogCaptureFixture) -> None:
    event = (
        BusinessEvent.new("x")
        .with_metadata("short", "abc")
        .with_metadata("exact", "y" * 8)
        .with_metadata("long", "x" * 20)
        .with_metadata("list", ["y" * 20, "z"])
        .with_metadata("nested", {"k": "v" * 20})
        .with_metadata("number", 10**12)
    )
    with capture(max_value_length=8) as captured:
        emit_in_span(captured, event)
        [span_event] = captured.span_events()
        [record] = captured.logs()
    for attributes in (dict(span_event.attributes or {}), dict(record.attributes or {})):
        assert attributes["short"] == "abc"
        assert attributes["exact"] == "y" * 8
        assert attributes["long"] == "x" * 8
        assert attributes["list"] == ("y" * 8, "z")
        assert attributes["nested"] == json.dumps({"k": "v" * 20}, separators=(",", ":"))[:8]
        assert attributes["number"] == 10**12
        assert attributes["multi_llm.metadata.truncated_keys"] == ("long", "list", "nested")
    assert record.body == event.metadata, "the log body keeps the full text"
    assert multi_llm_otel.stats() == {"attributes_truncated": 1}
    assert len(health_warnings(caplog, "attributes_truncated")) == 1


def test_the_length_limit_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "5")
    with capture() as captured:
        emit_in_span(captured, BusinessEvent.new("x").with_metadata("model", "abcdefgh").with_metadata("s", "abc"))
        [span_event] = captured.span_events()
    attributes = dict(span_event.attributes or {})
    assert attributes["model"] == "abcde"
    assert attributes["gen_ai.request.model"] == "abcde"
    assert attributes["s"] == "abc"
    assert attributes["multi_llm.metadata.truncated_keys"] == ("model",)


def test_a_dropped_key_is_not_also_reported_as_truncated() -> None:
    event = BusinessEvent.new("x")
    for i in range(10):
        event.with_metadata(f"k{i}", "long text " * 3)
    with capture(max_attributes=6, max_value_length=4) as captured:
        emit_in_span(captured, event)
        [span_event] = captured.span_events()
    attributes = dict(span_event.attributes or {})
    kept = [k for k in event.metadata if k in attributes]
    assert attributes["multi_llm.metadata.truncated_keys"] == tuple(kept)
    assert attributes["multi_llm.metadata.dropped_keys"] == 10 - len(kept)


def test_bad_limit_variables_are_reported_and_ignored(
    captured: Captured, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The SDK's own providers refuse such a value, so these were made before it was set.
    monkeypatch.setenv("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "many")
    monkeypatch.setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "long")
    emitter = multi_llm_otel.Emitter(captured.tracer_provider, captured.logger_provider, captured.meter_provider)
    event = BusinessEvent.new("x").with_metadata("text", "x" * 1000)
    for i in range(200):
        event.with_metadata(f"key_{i:03d}", i)
    with captured.tracer_provider.get_tracer("t").start_as_current_span("s"):
        emitter.emit(event)
    [span_event] = captured.span_events()
    attributes = dict(span_event.attributes or {})
    kept = [k for k in event.metadata if k in attributes]
    assert 120 < len(attributes) <= 128, "OTel's default count limit applies"
    assert attributes["multi_llm.metadata.dropped_keys"] == 201 - len(kept)
    assert attributes["text"] == "x" * 1000, "no length limit applies"
    assert multi_llm_otel.stats()["bad_environment_value"] == 2
    assert len(health_warnings(caplog, "bad_environment_value")) == 1


def test_the_empty_key_is_left_out_of_attributes_visibly(captured: Captured, caplog: pytest.LogCaptureFixture) -> None:
    # "" is a valid JSON key but not an attribute key: the SDK would drop it with a warning.
    event = BusinessEvent.new("x").with_metadata("", "empty key").with_metadata("k", 1)
    emit_in_span(captured, event)
    [span_event] = captured.span_events()
    [record] = captured.logs()
    for attributes in (dict(span_event.attributes or {}), dict(record.attributes or {})):
        assert "" not in attributes
        assert attributes["k"] == 1
        assert attributes["multi_llm.metadata.dropped_keys"] == 1
    assert record.body == {"": "empty key", "k": 1}
    assert multi_llm_otel.stats() == {"attributes_dropped": 1}
    assert len(health_warnings(caplog, "attributes_dropped")) == 1


# --- What survives a real OTLP encoding -----------------------------------------------------


def test_nested_values_survive_otlp_as_json_strings(captured: Captured) -> None:
    nested = {"messages": [{"role": "user", "content": "hi"}], "n": 1}
    event = BusinessEvent.new("llm_request").with_metadata("request", nested).with_metadata("tags", ["a", "b"])
    emit_in_span(captured, event)

    request = encode_spans(captured.spans())
    [otlp_span] = request.resource_spans[0].scope_spans[0].spans
    [otlp_event] = otlp_span.events
    assert otlp_event.name == "llm_request"
    attributes = {kv.key: kv.value for kv in otlp_event.attributes}
    assert attributes["request"].WhichOneof("value") == "string_value"
    assert json.loads(attributes["request"].string_value) == nested
    assert attributes["tags"].WhichOneof("value") == "array_value"
    assert [v.string_value for v in attributes["tags"].array_value.values] == ["a", "b"]

    logs = encode_logs(captured.log_exporter.get_finished_logs())
    [otlp_record] = logs.resource_logs[0].scope_logs[0].log_records
    assert otlp_record.event_name == "llm_request"
    assert otlp_record.body.WhichOneof("value") == "kvlist_value", "the body keeps the structure"
    body = {kv.key: kv.value for kv in otlp_record.body.kvlist_value.values}
    assert body["request"].WhichOneof("value") == "kvlist_value"
    assert otlp_record.time_unix_nano == unix_nanos(event.created_at)
    assert otlp_record.trace_id == otlp_span.trace_id


def test_every_event_id_attribute_is_the_uuid(captured: Captured) -> None:
    events = [BusinessEvent.new("x") for _ in range(3)]
    for event in events:
        emit_in_span(captured, event)
    ids = [dict(e.attributes or {})["multi_llm.event.id"] for e in captured.span_events()]
    assert ids == [str(e.id) for e in events]
    assert all(uuid.UUID(str(i)).version == 4 for i in ids)


def test_nothing_is_warned_for_a_plain_event(captured: Captured, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    emit_in_span(captured, rich_event(), EventScope.user("u"))
    assert [r for r in caplog.records if r.name.startswith("multi_llm_otel")] == []
    assert multi_llm_otel.stats() == {}


_ascii = st.one_of(st.sampled_from(["stop", "gpt-4o", "length", ""]), st.text(alphabet="abc-_.:", max_size=6))
_plain_values = st.one_of(
    _ascii,
    st.booleans(),
    st.floats(allow_nan=False),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.lists(_ascii, min_size=1, max_size=3),
)
_odd_values = st.one_of(
    st.text(min_size=1, max_size=4).filter(lambda t: not t.isascii()),
    st.sampled_from(["\ud800", "modèle"]),
    st.sampled_from([2**63, -(2**63) - 1, 2**70]),
    st.none(),
    st.just([]),
    st.lists(st.integers(-3, 3), min_size=1, max_size=2),
    st.lists(st.one_of(_ascii, st.just("é")), min_size=1, max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2),
)
_plain_keys = st.one_of(st.sampled_from(sorted(GENAI_NAMES)), st.sampled_from(sorted(GENAI_NAMES.values())))
_odd_keys = st.sampled_from(["multi_llm.event.id", "multi_llm.event.scope", "user.id", "", "modèle"])
# Mostly metadata the whole-dictionary pass takes (as the decorator's is), some with one odd
# key or value that sends it to the key-by-key pass.
_metadata = st.tuples(
    st.dictionaries(_plain_keys, _plain_values, max_size=14),
    st.one_of(
        st.just({}),
        st.dictionaries(_plain_keys, _odd_values, min_size=1, max_size=1),
        st.dictionaries(_odd_keys, _plain_values, min_size=1, max_size=1),
    ),
).map(lambda parts: {**parts[0], **parts[1]})


@settings(max_examples=400, deadline=None)
@given(_metadata)
def test_the_whole_dictionary_pass_matches_the_key_by_key_pass(metadata: dict[str, Any]) -> None:
    # The decorator's events take the cheaper pass (their keys and values are plain): what it
    # makes must be what the key-by-key pass makes, on any metadata it takes.
    from multi_llm_otel import _mapping

    def both() -> list[tuple[dict[str, Any], dict[str, Any]]]:
        made = []
        for plain in (True, False):
            body: dict[str, Any] = {}
            with pytest.MonkeyPatch.context() as patch:
                if not plain:
                    patch.setattr(_mapping, "_plain_pass", lambda *_: False)
                attrs = _mapping.attributes_and_body(
                    "id",
                    metadata,
                    {"multi_llm.event.scope": "system"},
                    max_attributes=128,
                    max_value_length=None,
                    body=body,
                )
            made.append((attrs, body))
        return made

    (fast, fast_body), (checked, checked_body) = both()
    assert fast == checked
    assert fast_body == checked_body
    multi_llm_otel.reset_stats()


def test_the_decorators_events_take_the_whole_dictionary_pass() -> None:
    # Without it the property above would compare the key-by-key pass with itself.
    from multi_llm_otel import _mapping

    metadata = {"provider": "openai", "model": "gpt-4o", "input_tokens": 3, "finish_reasons": ["stop"], "stream": True}
    attrs: dict[str, Any] = {}
    assert _mapping._plain_pass(metadata, attrs, {})
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
