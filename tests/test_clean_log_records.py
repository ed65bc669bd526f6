"""The library hands the SDK finished log records whose attributes it cleaned already, instead of
having ``Logger.emit`` clean them again: what the processors get, and what is exported, must be
exactly what ``Logger.emit`` makes, under any limits."""

from __future__ import annotations

import threading
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry._logs import LogRecord, NoOpLogger, SeverityNumber
from opentelemetry._logs._internal import ProxyLoggerProvider
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.sdk._logs import Logger, LoggerProvider, LogRecordLimits, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from tests._redacting import RedactSecret

from multi_llm_otel import BusinessEvent, _clean_log_records
from multi_llm_otel._clean_log_records import clean_sender
from multi_llm_otel.testing import capture

pytestmark = pytest.mark.filterwarnings("ignore::opentelemetry.sdk._logs._internal.LogRecordDroppedAttributesWarning")

scalars = st.one_of(st.text(max_size=12), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False))
values = st.one_of(
    scalars,
    st.none(),
    st.tuples(st.text(max_size=12), st.text(max_size=12)),
    st.tuples(st.integers(), st.booleans()),
    st.tuples(st.lists(st.text(max_size=2), max_size=2)),
    st.lists(st.text(max_size=12), max_size=3),
    st.binary(max_size=4),
    st.dictionaries(st.text(min_size=1, max_size=3), st.integers(), max_size=2),
)
attribute_sets = st.dictionaries(st.one_of(st.text(max_size=8), st.integers(0, 3)), values, max_size=12)
limits = st.one_of(st.none(), st.integers(0, 14))

_BODY = {"k": "v", "n": 1}
_TRACER = TracerProvider(shutdown_on_exit=False).get_tracer("t")


def _record(timestamp: int, attributes: dict[str, Any], body: Any = None) -> LogRecord:
    """An event record as the emitter makes it."""
    return LogRecord(
        timestamp=timestamp,
        severity_number=SeverityNumber.INFO,
        severity_text="INFO",
        body=body,
        attributes=attributes,
        event_name="e",
    )


def _provider(log_limits: LogRecordLimits | None = None) -> tuple[LoggerProvider, InMemoryLogRecordExporter]:
    kept = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider(shutdown_on_exit=False, log_record_limits=log_limits)
    provider.add_log_record_processor(SimpleLogRecordProcessor(kept))
    return provider, kept


def _emitted(
    attributes: dict[str, Any], log_limits: LogRecordLimits, *, clean: bool
) -> tuple[ReadWriteLogRecord, bool]:
    """The record the processors get for one event record with ``attributes``, sent in the
    current span through the clean path (when it takes them) or through ``Logger.emit``; and
    whether the clean path took it."""
    provider, kept = _provider(log_limits)
    logger = provider.get_logger("t")
    sent = False
    if clean:
        send = clean_sender(logger)
        assert send is not None
        sent = send(_record(7, dict(attributes), dict(_BODY)))
    if not sent:
        logger.emit(
            timestamp=7,
            severity_number=SeverityNumber.INFO,
            severity_text="INFO",
            body=dict(_BODY),
            attributes=dict(attributes),
            event_name="e",
        )
    [record] = kept.get_finished_logs()
    return record, sent  # type: ignore[return-value]


def _exported(record: ReadWriteLogRecord) -> bytes:
    """The OTLP bytes of ``record``, but the moment it was seen."""
    record.log_record.observed_timestamp = 0
    return encode_logs([record]).SerializeToString()  # type: ignore[arg-type]


def _state(record: ReadWriteLogRecord) -> tuple[Any, ...]:
    attributes = record.log_record.attributes
    assert type(attributes) is BoundedAttributes
    return (
        dict(attributes),
        attributes.dropped,
        attributes.maxlen,
        attributes.max_value_len,
        attributes._immutable,
        sorted(vars(attributes)),
        record.dropped_attributes,
        record.resource,
        record.instrumentation_scope,
        record.limits,
        {k: v for k, v in vars(record.log_record).items() if k not in ("attributes", "observed_timestamp")},
    )


@settings(max_examples=300, deadline=None)
@given(attributes=attribute_sets, count=limits, length=limits)
def test_the_record_is_what_logger_emit_makes_under_any_limits(
    attributes: dict[str, Any], count: int | None, length: int | None
) -> None:
    log_limits = LogRecordLimits(max_attributes=count, max_attribute_length=length)
    with _TRACER.start_as_current_span("call"):
        fast, _ = _emitted(attributes, log_limits, clean=True)
        slow, taken = _emitted(attributes, log_limits, clean=False)
    assert not taken
    assert _state(fast) == _state(slow)
    assert _exported(fast) == _exported(slow)


def test_the_clean_path_is_taken_for_plain_attributes_and_refused_for_the_rest() -> None:
    # Without it the property above could compare Logger.emit with itself.
    plain = {"a": "x", "b": ("y", "z"), "c": 1, "d": 2.5, "e": True}
    assert _emitted(plain, LogRecordLimits(), clean=True)[1]
    for refused in ({"a": ["x"]}, {"a": None}, {"a": b"x"}, {"a": {"k": 1}}, {"": 1}, {"a": ("x", ["y"])}):
        assert not _emitted(refused, LogRecordLimits(), clean=True)[1], refused
    assert not _emitted({"a": "long text"}, LogRecordLimits(max_attribute_length=4), clean=True)[1]
    assert not _emitted({"a": ("ok", "long text")}, LogRecordLimits(max_attribute_length=4), clean=True)[1]
    assert not _emitted({"a": 1, "b": 2}, LogRecordLimits(max_attributes=1), clean=True)[1]
    assert _emitted({"a": "four", "b": 2}, LogRecordLimits(max_attributes=2, max_attribute_length=4), clean=True)[1]
    # A mapping that is not the caller's own dict could change under the record.
    send = clean_sender(_provider()[0].get_logger("t"))
    assert send is not None
    assert not send(_record(1, MappingProxyType({"a": 1})))  # type: ignore[arg-type]


def test_a_later_processor_may_still_change_the_record() -> None:
    kept = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(RedactSecret(kept))
    send = clean_sender(provider.get_logger("t"))
    assert send is not None
    assert send(_record(1, {"secret": "s3cret", "n": 1}))
    [record] = kept.get_finished_logs()
    assert dict(record.log_record.attributes or {}) == {"secret": "redacted", "n": 1}


def test_the_record_carries_the_resource_of_the_moment() -> None:
    # The SDK replaces a logger's resource in a forked child (process id); a sender made before
    # must not keep the parent's.
    provider, kept = _provider()
    send = clean_sender(provider.get_logger("t"))
    assert send is not None
    provider._update_resource(Resource({"process.pid": 4242}))
    assert send(_record(1, {"a": 1}))
    [record] = kept.get_finished_logs()
    assert record.resource.attributes["process.pid"] == 4242


def test_only_the_sdk_s_own_logger_gets_a_sender() -> None:
    provider, _ = _provider()

    class Audited(Logger):
        """An application's logger whose emit may do more."""

    sdk_logger = provider.get_logger("t")
    assert clean_sender(sdk_logger) is not None
    audited = Audited(
        sdk_logger.resource,
        provider._multi_log_record_processor,
        sdk_logger.instrumentation_scope,
        logger_metrics=sdk_logger._logger_metrics,
        _logger_config=sdk_logger._logger_config,
    )
    assert clean_sender(audited) is None
    assert clean_sender(NoOpLogger("t")) is None
    assert clean_sender(ProxyLoggerProvider().get_logger("t")) is None
    assert clean_sender(object()) is None


def test_an_sdk_built_differently_turns_the_clean_path_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _clean_log_records._records_match()

    class Grown(BoundedAttributes):
        """As a future SDK might: state the one-step construction would not set."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.frozen_at = 0

    with monkeypatch.context() as patch:
        patch.setattr("opentelemetry.sdk._logs._internal.BoundedAttributes", Grown)
        assert not _clean_log_records._records_match()

    original = Logger.emit

    def copying(self: Logger, record: Any = None, **fields: Any) -> None:
        """As a future SDK might: a finished record copied rather than passed on."""
        if isinstance(record, ReadWriteLogRecord):
            kept = record.log_record
            record = None
            fields.update(timestamp=kept.timestamp, body=kept.body, event_name=kept.event_name)
            fields.update(attributes=dict(kept.attributes or {}), severity_text=kept.severity_text)
        original(self, record, **fields)

    with monkeypatch.context() as patch:
        patch.setattr(Logger, "emit", copying)
        assert not _clean_log_records._records_match()

    with monkeypatch.context() as patch:
        # As a future SDK might: the record class moved.
        patch.delattr("opentelemetry.sdk._logs.ReadWriteLogRecord")
        assert not _clean_log_records._probe()

    with monkeypatch.context() as patch:
        patch.setattr(_clean_log_records, "_FITS", [False])
        provider, _ = _provider()
        assert clean_sender(provider.get_logger("t")) is None


def test_the_emitter_sends_its_events_the_clean_way(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[dict[str, Any]] = []
    real = _clean_log_records.made_in_one_step

    def counting(items: dict[str, Any], *limits: Any, immutable: bool) -> Any:
        made.append(items)
        return real(items, *limits, immutable=immutable)

    monkeypatch.setattr(_clean_log_records, "made_in_one_step", counting)
    with capture() as captured:
        captured.emitter.emit(BusinessEvent.new("llm_request").with_metadata("model", "m").with_metadata("n", 3))
        [record] = captured.logs()
    assert len(made) == 1
    assert dict(record.attributes or {})["model"] == "m"


metadata_values = st.one_of(
    scalars,
    st.none(),
    st.lists(st.one_of(st.text(max_size=6), st.integers()), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=150, deadline=None)
@given(metadata=st.dictionaries(st.text(max_size=8), metadata_values, max_size=10), length=limits)
def test_events_export_the_same_whichever_way_they_go(metadata: dict[str, Any], length: int | None) -> None:
    event = BusinessEvent.new("llm_response")
    for key, value in metadata.items():
        event = event.with_metadata(key, value)
    with capture(max_value_length=length) as captured:
        tracer = captured.tracer_provider.get_tracer("t")
        with tracer.start_as_current_span("call"):
            assert captured.emitter.emit(event)
            captured.emitter._clean = (captured.emitter.logger, None)
            assert captured.emitter.emit(event)
        records = captured.log_exporter.get_finished_logs()
        [span] = captured.spans()
    fast, slow = (_exported(record) for record in records)
    assert fast == slow
    assert records[0].log_record.span_id == span.context.span_id
    fast_event, slow_event = (dict(e.attributes or {}) for e in span.events)
    assert fast_event == slow_event


def test_records_sent_from_many_threads_keep_their_own_attributes() -> None:
    def work(thread: int) -> None:
        tracer = captured.tracer_provider.get_tracer("t")
        for n in range(100):
            with tracer.start_as_current_span(f"call-{thread}-{n}"):
                event = BusinessEvent.new("llm_request").with_metadata("thread", thread).with_metadata("n", n)
                assert captured.emitter.emit(event)

    with capture() as captured:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        records = captured.logs()
        spans = {span.name: span for span in captured.spans()}
    assert len(records) == 800
    seen = set()
    for record in records:
        attributes = dict(record.attributes or {})
        key = (attributes["thread"], attributes["n"])
        seen.add(key)
        assert record.body == {"thread": key[0], "n": key[1]}
        [span_event] = spans[f"call-{key[0]}-{key[1]}"].events
        assert dict(span_event.attributes or {}) == attributes
    assert len(seen) == 800
