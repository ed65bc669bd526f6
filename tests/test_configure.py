"""``configure()``: each test runs in its own Python process, since it sets OpenTelemetry's
process-wide providers once."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

PRELUDE = """
import json, sys, time
import multi_llm_otel
from multi_llm_otel import BusinessEvent, EventScope, configure, emit
from opentelemetry import trace

def emit_in_span(event, scope=None):
    with trace.get_tracer("app").start_as_current_span("work"):
        emit(event, scope)

def report(**values):
    print("RESULT " + json.dumps(values, default=repr))
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MULTI_LLM_OTEL_"))}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


def run(
    code: str, *args: str, env: dict[str, str] | None = None, expect_code: int = 0, tracebacks: bool = False
) -> dict[str, Any]:
    """Run ``code`` in a new interpreter; return what it passed to ``report()``."""
    script = PRELUDE + textwrap.dedent(code)
    # The timeout only guards against a hang; it is no timing assertion.
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == expect_code, result.stderr
    if not tracebacks:
        assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    values: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :]) if lines else {}
    values["_stderr"] = result.stderr
    return values


def read_sink(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def by_signal(records: list[dict[str, Any]], signal: str) -> list[dict[str, Any]]:
    return [r for r in records if r["signal"] == signal]


EMIT_ONE = """
handle = configure("svc"{options})
event = BusinessEvent.new("llm_request").with_metadata("model", "gpt-4").with_metadata("nested", {{"a": [1, None]}})
emit_in_span(event, EventScope.user("user_1"))
t0 = time.monotonic()
first = handle.shutdown()
shutdown_s = time.monotonic() - t0
second = handle.shutdown()
report(id=str(event.id), metadata=event.metadata, first=first, second=second, shutdown_s=shutdown_s,
       installed=handle.installed, exporters=handle.exporters, stats=multi_llm_otel.stats())
"""


def check_sink(path: Path, result: dict[str, Any]) -> None:
    records = read_sink(path)
    [span] = by_signal(records, "span")
    assert span["name"] == "work"
    [span_event] = span["events"]
    assert span_event["name"] == "llm_request"
    assert span_event["attributes"]["multi_llm.event.id"] == result["id"]
    assert span_event["attributes"]["multi_llm.event.scope"] == "user"
    assert span_event["attributes"]["user.id"] == "user_1"
    assert span_event["attributes"]["gen_ai.request.model"] == "gpt-4"
    assert json.loads(span_event["attributes"]["nested"]) == {"a": [1, None]}
    [log] = by_signal(records, "log")
    assert log["event_name"] == "llm_request"
    assert log["severity"] == "INFO"
    assert log["body"] == result["metadata"]
    assert log["attributes"] == span_event["attributes"]
    assert log["trace_id"] == span["trace_id"]
    assert log["span_id"] == span["span_id"]
    assert log["time_unix_nano"] == span_event["time_unix_nano"]


def test_the_embedded_default_writes_json_lines_to_the_sink_file(tmp_path: Path) -> None:
    sink = tmp_path / "telemetry.jsonl"
    result = run(EMIT_ONE.format(options=", sink=sys.argv[1]"), str(sink))
    assert result["exporters"] == {"traces": "console", "logs": "console", "metrics": "console"}
    assert result["installed"] == {"traces": True, "logs": True, "metrics": True}
    assert result["first"] is True
    assert result["second"] is True, "a second shutdown is a no-op"
    assert result["stats"] == {}
    check_sink(sink, result)
    print(f"embedded sink: shutdown took {result['shutdown_s']:.3f} s")


def test_the_sink_file_can_come_from_the_environment(tmp_path: Path) -> None:
    sink = tmp_path / "from-env.jsonl"
    result = run(EMIT_ONE.format(options=""), env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)))
    check_sink(sink, result)


def test_without_a_sink_the_lines_go_to_stderr() -> None:
    result = run(EMIT_ONE.format(options=""))
    lines = [json.loads(line) for line in result["_stderr"].splitlines() if line.startswith("{")]
    assert [r["event_name"] for r in by_signal(lines, "log")] == ["llm_request"]
    assert [e["name"] for r in by_signal(lines, "span") for e in r["events"]] == ["llm_request"]


def test_configure_twice_returns_the_first_handle(tmp_path: Path) -> None:
    result = run(
        """
        first = configure("one", sink=sys.argv[1])
        second = configure("two", endpoint="http://127.0.0.1:9")
        report(same=first is second, exporters=second.exporters, stats=multi_llm_otel.stats(),
               service=first.tracer_provider.resource.attributes["service.name"])
        first.shutdown()
        """,
        str(tmp_path / "sink.jsonl"),
    )
    assert result["same"] is True
    assert result["exporters"]["traces"] == "console"
    assert result["service"] == "one"
    assert result["stats"] == {"configure_called_twice": 1}


def test_the_handle_is_a_context_manager(tmp_path: Path) -> None:
    sink = tmp_path / "sink.jsonl"
    run(
        """
        with configure("svc", sink=sys.argv[1]) as handle:
            emit_in_span(BusinessEvent.new("x"))
        report(flushed=True)
        """,
        str(sink),
    )
    assert [r["event_name"] for r in by_signal(read_sink(sink), "log")] == ["x"]


def test_the_process_flushes_at_exit_without_an_explicit_shutdown(tmp_path: Path) -> None:
    sink = tmp_path / "sink.jsonl"
    run('configure("svc", sink=sys.argv[1])\nemit_in_span(BusinessEvent.new("at_exit"))', str(sink))
    assert [r["event_name"] for r in by_signal(read_sink(sink), "log")] == ["at_exit"]


def test_sigterm_flushes_before_the_process_dies(tmp_path: Path) -> None:
    sink = tmp_path / "sink.jsonl"
    run(
        """
        import os, signal
        configure("svc", sink=sys.argv[1])
        emit_in_span(BusinessEvent.new("before_sigterm"))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(60)
        """,
        str(sink),
        expect_code=-15,
    )
    assert [r["event_name"] for r in by_signal(read_sink(sink), "log")] == ["before_sigterm"]


APP_PROVIDERS = """
from opentelemetry import _logs
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor, InMemoryLogRecordExporter

spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
tp = TracerProvider()
tp.add_span_processor(SimpleSpanProcessor(spans))
trace.set_tracer_provider(tp)
lp = LoggerProvider()
lp.add_log_record_processor(SimpleLogRecordProcessor(logs))
_logs.set_logger_provider(lp)

handle = configure("svc", sink=sys.argv[1])
emit_in_span(BusinessEvent.new("llm_request").with_metadata("model", "m"))
handle.shutdown()
with trace.get_tracer("app").start_as_current_span("after_shutdown"):
    pass
report(
    installed=handle.installed,
    same=[handle.tracer_provider is tp, handle.logger_provider is lp],
    spans=[s.name for s in spans.get_finished_spans()],
    events=[e.name for s in spans.get_finished_spans() for e in s.events],
    logs=[r.log_record.event_name for r in logs.get_finished_logs()],
    models=[r.log_record.attributes.get("gen_ai.request.model") for r in logs.get_finished_logs()],
)
"""


def test_providers_the_application_installed_are_kept(tmp_path: Path) -> None:
    sink = tmp_path / "sink.jsonl"
    result = run(APP_PROVIDERS, str(sink))
    assert result["installed"] == {"traces": False, "logs": False, "metrics": True}
    assert result["same"] == [True, True]
    assert result["events"] == ["llm_request"], "the library emits through the application's providers"
    assert result["logs"] == ["llm_request"]
    assert result["models"] == ["m"]
    assert result["spans"] == ["work", "after_shutdown"], "shutdown leaves the application's providers running"
    assert by_signal(read_sink(sink), "span") == []
    assert by_signal(read_sink(sink), "log") == []


RESOURCE = """
handle = configure("from-code", sink=sys.argv[1], {options})
emit(BusinessEvent.new("x"))
handle.shutdown()
report(
    traces=dict(handle.tracer_provider.resource.attributes),
    logs=dict(handle.logger_provider.resource.attributes),
    metrics=dict(handle.meter_provider._sdk_config.resource.attributes),
    scope=repr(multi_llm_otel.current_scope()),
)
"""


def resource_of(tmp_path: Path, options: str = "", env: dict[str, str] | None = None) -> dict[str, Any]:
    sink = tmp_path / "sink.jsonl"
    result = run(RESOURCE.format(options=options), str(sink), env=env)
    assert result["traces"] == result["logs"] == result["metrics"], "one resource for the three signals"
    result["sink"] = read_sink(sink)
    return result


def test_the_service_name_goes_on_the_resource(tmp_path: Path) -> None:
    result = resource_of(tmp_path, "resource_attributes={'deployment.environment': 'dev'}")
    assert result["traces"]["service.name"] == "from-code"
    assert result["traces"]["deployment.environment"] == "dev"
    assert "multi_llm.event.scope" not in result["traces"]
    assert result["scope"] == "EventScope.system()"


def test_otel_service_name_overrides_the_service_name(tmp_path: Path) -> None:
    result = resource_of(tmp_path, env=clean_env(OTEL_SERVICE_NAME="from-env"))
    assert result["traces"]["service.name"] == "from-env"


def test_otel_resource_attributes_override_the_codes_defaults(tmp_path: Path) -> None:
    env = clean_env(OTEL_RESOURCE_ATTRIBUTES="service.name=from-env,deployment.environment=prod,team=llm")
    result = resource_of(tmp_path, "resource_attributes={'deployment.environment': 'dev'}", env=env)
    assert result["traces"]["service.name"] == "from-env"
    assert result["traces"]["deployment.environment"] == "prod"
    assert result["traces"]["team"] == "llm"


def test_a_system_scope_goes_on_the_resource(tmp_path: Path) -> None:
    result = resource_of(tmp_path, "scope=EventScope.system()")
    assert result["traces"]["multi_llm.event.scope"] == "system"
    assert "user.id" not in result["traces"]


def test_a_user_scope_goes_on_the_resource_and_becomes_the_default(tmp_path: Path) -> None:
    result = resource_of(tmp_path, "scope=EventScope.user('tenant-1')")
    assert result["traces"]["multi_llm.event.scope"] == "user"
    assert result["traces"]["user.id"] == "tenant-1"
    assert result["scope"] == "EventScope.user('tenant-1')"
    [log] = by_signal(result["sink"], "log")
    assert log["attributes"]["user.id"] == "tenant-1"


def test_the_resource_user_id_is_hashed_with_the_key(tmp_path: Path) -> None:
    import hashlib
    import hmac

    expected = "hmac-sha256:" + hmac.new(b"k", b"tenant-1", hashlib.sha256).hexdigest()
    result = resource_of(tmp_path, "scope=EventScope.user('tenant-1'), user_id_hash_key='k'")
    assert result["traces"]["user.id"] == expected
    [log] = by_signal(result["sink"], "log")
    assert log["attributes"]["user.id"] == expected
    env = clean_env(MULTI_LLM_OTEL_USER_ID_HASH_KEY="k")
    assert resource_of(tmp_path, "scope=EventScope.user('tenant-1')", env=env)["traces"]["user.id"] == expected


def test_otel_traces_exporter_none_switches_traces_off(tmp_path: Path) -> None:
    sink = tmp_path / "sink.jsonl"
    result = run(EMIT_ONE.format(options=", sink=sys.argv[1]"), str(sink), env=clean_env(OTEL_TRACES_EXPORTER="none"))
    assert result["exporters"] == {"traces": "none", "logs": "console", "metrics": "console"}
    records = read_sink(sink)
    assert by_signal(records, "span") == []
    assert [r["event_name"] for r in by_signal(records, "log")] == ["llm_request"]
    assert by_signal(records, "log")[0]["trace_id"] is not None, "spans still exist; only their export is off"


# --- OTLP -----------------------------------------------------------------------------------


class Collector:
    """A stand-in OTLP/HTTP receiver: records every request, answers 200 with an empty body."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                collector.requests.append((self.path, self.headers.get("Content-Type", ""), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def bodies(self, path: str) -> list[bytes]:
        return [body for p, content_type, body in self.requests if p == path]


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    c.thread.start()
    try:
        yield c
    finally:
        c.server.shutdown()
        c.server.server_close()


def check_otlp(collector: Collector, result: dict[str, Any]) -> None:
    assert {p for p, _, _ in collector.requests} >= {"/v1/traces", "/v1/logs"}
    assert all(ct == "application/x-protobuf" for _, ct, _ in collector.requests)
    traces = [ExportTraceServiceRequest.FromString(b) for b in collector.bodies("/v1/traces")]
    spans = [s for t in traces for rs in t.resource_spans for ss in rs.scope_spans for s in ss.spans]
    [span] = spans
    [event] = span.events
    assert event.name == "llm_request"
    attributes = {kv.key: kv.value for kv in event.attributes}
    assert attributes["multi_llm.event.id"].string_value == result["id"]
    assert attributes["nested"].string_value == '{"a":[1,null]}'
    resource = {kv.key: kv.value.string_value for kv in traces[0].resource_spans[0].resource.attributes}
    assert resource["service.name"] == "svc"
    logs = [ExportLogsServiceRequest.FromString(b) for b in collector.bodies("/v1/logs")]
    records = [r for req in logs for rl in req.resource_logs for sl in rl.scope_logs for r in sl.log_records]
    [record] = records
    assert record.event_name == "llm_request"
    assert record.trace_id == span.trace_id
    assert record.body.WhichOneof("value") == "kvlist_value"


def test_an_endpoint_selects_otlp_export(collector: Collector) -> None:
    result = run(EMIT_ONE.format(options=", endpoint=sys.argv[1]"), collector.url)
    assert result["exporters"] == {"traces": "otlp", "logs": "otlp", "metrics": "otlp"}
    assert result["first"] is True
    check_otlp(collector, result)
    print(f"OTLP to a live receiver: shutdown took {result['shutdown_s']:.3f} s")


def test_the_standard_endpoint_variable_selects_otlp_export(collector: Collector) -> None:
    result = run(EMIT_ONE.format(options=""), env=clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=collector.url))
    assert result["exporters"] == {"traces": "otlp", "logs": "otlp", "metrics": "otlp"}
    check_otlp(collector, result)


HUNG = """
handle = configure("svc", endpoint=sys.argv[1], shutdown_timeout=1.0)
emit_in_span(BusinessEvent.new("x"))
t0 = time.monotonic()
ok = handle.shutdown()
report(ok=ok, shutdown_s=time.monotonic() - t0, exporters=handle.exporters, stats=multi_llm_otel.stats())
"""


def hung_endpoint() -> socket.socket:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


@pytest.mark.parametrize("kind", ["hung", "unreachable"])
def test_a_bad_endpoint_cannot_hang_shutdown_or_exit(kind: str) -> None:
    sock = hung_endpoint() if kind == "hung" else None
    port = sock.getsockname()[1] if sock is not None else closed_port()
    try:
        started = time.monotonic()
        result = run(HUNG, f"http://127.0.0.1:{port}")
        process_s = time.monotonic() - started
    finally:
        if sock is not None:
            sock.close()
    assert result["exporters"]["traces"] == "otlp"
    # Returned, and the process exited on its own (run() checks the exit code).
    assert result["ok"] in (True, False)
    if result["ok"] is False:
        assert result["stats"].get("shutdown_timed_out") == 1
    print(
        f"{kind} endpoint: shutdown returned {result['ok']} after {result['shutdown_s']:.3f} s "
        f"(shutdown_timeout=1.0); whole process {process_s:.2f} s"
    )


# --- settings that cannot be used --------------------------------------------------------------

INVALID_SETTINGS = [
    ("OTEL_BSP_MAX_QUEUE_SIZE", "0", "the default 2048"),
    ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "5000", "using 512"),
    ("OTEL_BLRP_SCHEDULE_DELAY", "-1", "the default 1000"),
    ("OTEL_BSP_SCHEDULE_DELAY", "abc", "the default 5000"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "0", "the default 60000"),
    ("OTEL_ATTRIBUTE_COUNT_LIMIT", "abc", "the default 128"),
    ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-3", "no limit"),
    ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "abc", "the default 128"),
    ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "-1", "the default 128"),
    ("OTEL_SPAN_EVENT_COUNT_LIMIT", "-1", "the default 128"),
    ("OTEL_TRACES_SAMPLER_ARG", "abc", "using 1.0"),
]

WARN_AND_EMIT = """
handle = configure("svc", sink=sys.argv[1])
emit_in_span(BusinessEvent.new("still_works"))
report(ok=handle.shutdown(), stats=multi_llm_otel.stats())
"""


def warnings_about(stderr: str, variable: str) -> list[str]:
    return [line for line in stderr.splitlines() if variable in line]


@pytest.mark.parametrize(("variable", "value", "fallback"), INVALID_SETTINGS, ids=[v for v, _, _ in INVALID_SETTINGS])
def test_an_invalid_otel_value_is_one_warning_and_its_default(
    tmp_path: Path, variable: str, value: str, fallback: str
) -> None:
    sink = tmp_path / "sink.jsonl"
    extra = {variable: value}
    if variable == "OTEL_TRACES_SAMPLER_ARG":
        extra["OTEL_TRACES_SAMPLER"] = "traceidratio"
    result = run(WARN_AND_EMIT, str(sink), env=clean_env(**extra))
    [warning] = warnings_about(result["_stderr"], variable)
    assert f"{variable}={value!r}" in warning
    assert fallback in warning
    assert result["ok"] is True
    assert result["stats"]["invalid_settings"] == 1
    assert [r["event_name"] for r in by_signal(read_sink(sink), "log")] == ["still_works"]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_an_invalid_timeout_or_endpoint_does_not_raise(protocol: str) -> None:
    env = clean_env(
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://[::1",
        OTEL_EXPORTER_OTLP_TIMEOUT="abc",
        OTEL_EXPORTER_OTLP_COMPRESSION="zstd",
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
    )
    code = """
    handle = configure("svc", shutdown_timeout=0.5)
    report(exporters=handle.exporters, stats=multi_llm_otel.stats())
    """
    result = run(code, env=env)
    assert result["exporters"]["logs"] == "otlp"
    assert result["stats"]["invalid_settings"] == 3
    for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_COMPRESSION"):
        [warning] = warnings_about(result["_stderr"], f"{variable}=")
        assert "using" in warning


@pytest.mark.parametrize("kind", ["missing folder", "directory"])
def test_an_unusable_sink_falls_back_to_stderr(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "no-such-folder" / "sink.jsonl" if kind == "missing folder" else tmp_path
    for env, code in (
        (clean_env(MULTI_LLM_OTEL_SINK=str(target)), WARN_AND_EMIT.replace("sink=sys.argv[1]", "")),
        (clean_env(), WARN_AND_EMIT),
    ):
        result = run(code, str(target), env=env)
        [warning] = [line for line in result["_stderr"].splitlines() if str(target) in line]
        assert "using the program's stderr" in warning
        lines = [json.loads(line) for line in result["_stderr"].splitlines() if line.startswith("{")]
        assert [r["event_name"] for r in by_signal(lines, "log")] == ["still_works"]


def test_shutdown_on_a_full_disk_does_not_raise() -> None:
    # The failed writes are reported with their traceback (as warnings); shutdown must return.
    result = run(WARN_AND_EMIT.replace("sink=sys.argv[1]", 'sink="/dev/full"'), tracebacks=True)
    assert result["ok"] is True
    assert result["stats"]["export_failed_logs"] == 1
    assert result["stats"]["sink_close_failed"] == 1


SPAN_EVENTS = """
handle = configure("svc", sink=sys.argv[1]{options})
emit_in_span(BusinessEvent.new("llm_request"))
handle.shutdown()
report()
"""


@pytest.mark.parametrize(
    ("options", "env", "bridged"),
    [
        ("", {}, True),
        (", span_events=False", {}, False),
        ("", {"MULTI_LLM_OTEL_SPAN_EVENTS": "false"}, False),
        (", span_events=True", {"MULTI_LLM_OTEL_SPAN_EVENTS": "false"}, True),
    ],
)
def test_the_span_event_bridge_is_on_unless_switched_off(
    tmp_path: Path, options: str, env: dict[str, str], bridged: bool
) -> None:
    sink = tmp_path / "sink.jsonl"
    run(SPAN_EVENTS.format(options=options), str(sink), env=clean_env(**env))
    records = read_sink(sink)
    [span] = by_signal(records, "span")
    assert [e["name"] for e in span["events"]] == (["llm_request"] if bridged else [])
    assert [r["event_name"] for r in by_signal(records, "log")] == ["llm_request"], "the log record either way"


def test_log_records_off_leaves_the_events_on_their_spans(tmp_path: Path) -> None:
    sink = tmp_path / "sink.jsonl"
    run(SPAN_EVENTS.format(options=", log_records=False"), str(sink))
    records = read_sink(sink)
    [span] = by_signal(records, "span")
    assert [e["name"] for e in span["events"]] == ["llm_request"]
    assert by_signal(records, "log") == []
