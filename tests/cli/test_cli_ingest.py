"""``multi-llm-otel ingest``: JSON lines in the Rust crate's serde form, bridged to the exporters."""

from __future__ import annotations

import calendar
import io
import json
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tests.cli._helpers import (
    SAMPLE,
    SAMPLE_CRATE_CALLS,
    SAMPLE_EVENTS,
    SAMPLE_LINES,
    FakeReceiver,
    clean_env,
    cli,
    closed_port,
    sink_records,
    wait_for,
)
from tests.cli._helpers import run as run_cli

from multi_llm_otel import BusinessEvent, EventScope
from multi_llm_otel._serde_lines import parse_events
from multi_llm_otel.cli import main
from multi_llm_otel.cli._line_source import too_many_values
from multi_llm_otel.cli._reporting import Reporter
from multi_llm_otel.cli.ingest import FLUSH_EVERY, IngestOptions, parse_line, run
from multi_llm_otel.testing import capture


def event_json(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "event_type": "llm_request",
        "metadata": {"model": "gpt-4o-mini"},
        "created_at": "2026-11-26T09:14:02.118734912Z",
    }
    event.update(overrides)
    return event


def line(value: object) -> str:
    return json.dumps(value, separators=(",", ":")) + "\n"


def expected_nanos(created_at: str) -> int:
    """Unix nanoseconds of a serde timestamp, digits past the sixth cut, computed without the library."""
    whole, _, fraction = created_at.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return seconds * 1_000_000_000 + int(fraction[:6].ljust(6, "0")) * 1000


def test_sample_round_trip_keeps_id_type_metadata_scope_and_time(tmp_path: Path) -> None:
    sink = tmp_path / "sink.jsonl"
    result = run_cli("ingest", str(SAMPLE), env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)))
    assert result.returncode == 0, result.stderr
    assert f"{SAMPLE_LINES} lines read: {SAMPLE_EVENTS} events exported, 0 rejected, 0 blank" in result.stderr

    inputs = [json.loads(text) for text in SAMPLE.read_text(encoding="utf-8").splitlines()]
    every = sink_records(sink, "log")
    logs = [r for r in every if r["body"].get("derived") is not True]
    assert len(every) == SAMPLE_EVENTS
    assert len(logs) == len(inputs) == SAMPLE_LINES
    # The crate's calls, and only those, get a reconstructed span holding their events.
    spans = sink_records(sink, "span")
    assert len(spans) == SAMPLE_CRATE_CALLS > 0
    assert all(s["attributes"]["multi_llm.span.reconstructed"] is True for s in spans)
    assert f"{SAMPLE_CRATE_CALLS} calls of the Rust crate got a reconstructed span" in result.stderr
    # Events outside a rebuilt call are the rule here, not something to report.
    assert "span_event_without_span" not in result.stderr
    on_spans = {e["attributes"]["multi_llm.event.id"] for s in spans for e in s["events"]}
    assert {r["attributes"]["multi_llm.event.id"] for r in every if r["span_id"]} == on_spans
    for given, record in zip(inputs, logs, strict=True):
        event = given.get("event", given)
        scope = given.get("scope", "System")
        attributes = record["attributes"]
        assert attributes["multi_llm.event.id"] == event["id"]
        assert record["event_name"] == event["event_type"]
        # Ingest adds, never changes, keys (the producer dialect table of _dialects).
        assert {k: v for k, v in record["body"].items() if k not in event["metadata"]} in (
            {},
            {"gen_ai.usage.input_tokens": attributes.get("gen_ai.usage.input_tokens")},
        )
        assert {k: record["body"][k] for k in event["metadata"]} == event["metadata"]
        assert record["time_unix_nano"] == expected_nanos(event["created_at"])
        assert record["severity"] == ("ERROR" if event["event_type"] == "llm_error" else "INFO")
        if scope == "System":
            assert attributes["multi_llm.event.scope"] == "system"
            assert "user.id" not in attributes
        else:
            assert attributes["multi_llm.event.scope"] == "user"
            assert attributes["user.id"] == scope["User"]


def test_malformed_lines_are_reported_by_number_and_the_rest_is_processed(tmp_path: Path) -> None:
    good_first, good_last = event_json(), event_json(event_type="llm_response")
    lines = [
        line(good_first),
        "{not json\n",
        line(event_json(event_type=5)),
        line(event_json(id="not-a-uuid")),
        line(event_json(id=str(uuid.uuid1())[:-1] + "-")),
        line(event_json(created_at="2026-11-26T10:14:02.118+01")),
        "   \n",
        line({"event": event_json()}),
        line({**event_json(), "scope": {"User": "u1"}}),
        line({"event": event_json(), "scope": {"User": 5}}),
        '{"id":"'
        + str(uuid.uuid4())
        + '","event_type":"x","metadata":{"t":NaN},"created_at":"2026-11-26T09:14:02Z"}\n',
        line([event_json(), 7]),
        line({"event": event_json(metadata=[1]), "scope": "System"}),
        line(good_last),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    sink = tmp_path / "sink.jsonl"

    result = run_cli("ingest", str(path), env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)))

    assert result.returncode == 1, result.stderr
    expected = {
        2: "malformed JSON",
        3: "event_type: expected a string, got int",
        4: "id: 'not-a-uuid' is not a UUID",
        5: "is not a UUID",
        6: "is not an RFC 3339 timestamp",
        8: "scope: missing",
        9: "a bare event has no scope field",
        10: "scope: expected",
        11: "NaN",
        12: "[1].event: expected a JSON object, got int",
        13: "event.metadata: expected a JSON object, got list",
    }
    rejected = [text for text in result.stderr.splitlines() if ": rejected: " in text]
    assert len(rejected) == len(expected)
    for number, reason in expected.items():
        assert any(text.startswith(f"{path}:{number}: rejected: ") and reason in text for text in rejected), (
            number,
            result.stderr,
        )
    assert "14 lines read: 2 events exported, 11 rejected, 1 blank" in result.stderr
    ids = [r["attributes"]["multi_llm.event.id"] for r in sink_records(sink, "log")]
    assert ids == [good_first["id"], good_last["id"]]


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"], ids=["empty", "blank lines"])
def test_empty_input_is_fine(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(content)
    sink = tmp_path / "sink.jsonl"
    result = run_cli("ingest", str(path), env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)))
    assert result.returncode == 0, result.stderr
    assert "0 events exported, 0 rejected" in result.stderr
    assert sink_records(sink, "log") == []


def test_a_5_mb_line_goes_through_whole(tmp_path: Path) -> None:
    blob = "x" * 5_000_000
    big, small = event_json(metadata={"blob": blob}), event_json()
    path = tmp_path / "events.jsonl"
    path.write_text(line(big) + line(small), encoding="utf-8")
    sink = tmp_path / "sink.jsonl"
    result = run_cli("ingest", str(path), env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)))
    assert result.returncode == 0, result.stderr
    logs = sink_records(sink, "log")
    assert [r["attributes"]["multi_llm.event.id"] for r in logs] == [big["id"], small["id"]]
    assert logs[0]["body"]["blob"] == blob


def test_a_line_over_the_limit_is_rejected_without_losing_its_neighbours(tmp_path: Path) -> None:
    before, after = event_json(), event_json()
    path = tmp_path / "events.jsonl"
    path.write_text(line(before) + line(event_json(metadata={"blob": "y" * 5000})) + line(after), encoding="utf-8")
    sink = tmp_path / "sink.jsonl"
    result = run_cli("ingest", "--max-line-bytes", "1000", str(path), env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)))
    assert result.returncode == 1
    assert f"{path}:2: rejected: line of 5," in result.stderr
    assert "over the limit of 1,000 (--max-line-bytes)" in result.stderr
    assert [r["attributes"]["multi_llm.event.id"] for r in sink_records(sink, "log")] == [before["id"], after["id"]]


def test_non_utf8_lines_are_rejected_and_the_rest_processed(tmp_path: Path) -> None:
    first, last = event_json(), event_json()
    latin1 = (json.dumps(event_json(metadata={"city": "Zürich"}), ensure_ascii=False) + "\n").encode("latin-1")
    path = tmp_path / "events.jsonl"
    path.write_bytes(line(first).encode() + b"\xff\xfe garbage\n" + latin1 + line(last).encode())
    sink = tmp_path / "sink.jsonl"
    result = run_cli("ingest", str(path), env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)))
    assert result.returncode == 1
    assert f"{path}:2: rejected: not UTF-8: invalid start byte at byte 1 of the line" in result.stderr
    assert f"{path}:3: rejected: not UTF-8" in result.stderr
    assert [r["attributes"]["multi_llm.event.id"] for r in sink_records(sink, "log")] == [first["id"], last["id"]]


def test_stdin_with_a_bad_line_names_stdin(tmp_path: Path) -> None:
    sink = tmp_path / "sink.jsonl"
    data = SAMPLE.read_bytes() + b"nope\n"
    result = run_cli("ingest", "-", env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)), stdin=data)
    assert result.returncode == 1
    assert (
        f"<stdin>:{SAMPLE_LINES + 1}: rejected: malformed JSON: Expecting value at character 1 of the line"
        in result.stderr
    )
    assert len(sink_records(sink, "log")) == SAMPLE_EVENTS


def test_without_a_sink_file_the_records_go_to_stdout_and_diagnostics_to_stderr(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(line(event_json()) + "oops", encoding="utf-8")  # the last line has no newline
    result = run_cli("ingest", str(path))
    assert result.returncode == 1
    records = [json.loads(text) for text in result.stdout.splitlines()]
    assert [r["signal"] for r in records] == ["log"]
    assert f"{path}:2: rejected: malformed JSON" in result.stderr
    assert "(log records to the JSON-lines sink, stdout)" in result.stderr


def test_export_failure_exits_3(tmp_path: Path) -> None:
    port = closed_port()
    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}", OTEL_EXPORTER_OTLP_TIMEOUT="1")
    path = tmp_path / "events.jsonl"
    path.write_text(SAMPLE.read_text(encoding="utf-8") + "bad line\n", encoding="utf-8")
    result = run_cli("ingest", str(path), env=env)
    assert result.returncode == 3, result.stderr
    assert "EXPORT FAILED" in result.stderr
    assert f"OTLP http/protobuf http://127.0.0.1:{port}/v1/logs" in result.stderr
    assert f"{SAMPLE_LINES + 1} lines read: {SAMPLE_EVENTS} events handed to the exporter, 1 rejected" in result.stderr


def test_otlp_export_reaches_the_receiver_as_log_records(receiver: FakeReceiver) -> None:
    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_SERVICE_NAME="rust-billing")
    result = run_cli("ingest", str(SAMPLE), env=env)
    assert result.returncode == 0, result.stderr
    assert f"{SAMPLE_EVENTS} events exported" in result.stderr
    names = []
    for request in receiver.requests:
        if request.path == "/v1/logs":
            message = ExportLogsServiceRequest.FromString(request.body)
            for resource_logs in message.resource_logs:
                service = {a.key: a.value.string_value for a in resource_logs.resource.attributes}["service.name"]
                assert service == "rust-billing"
                names += [r.event_name for s in resource_logs.scope_logs for r in s.log_records]
    expected = [e.event_type for t in SAMPLE.read_text().splitlines() for e, _ in parse_events(t)]
    assert names == expected
    spans = []
    for request in receiver.requests:
        if request.path == "/v1/traces":
            message = ExportTraceServiceRequest.FromString(request.body)
            spans += [span for r in message.resource_spans for s in r.scope_spans for span in s.spans]
    assert len(spans) == SAMPLE_CRATE_CALLS


def test_follow_reads_appended_lines_including_one_written_in_two_parts(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("", encoding="utf-8")
    sink = tmp_path / "sink.jsonl"
    sample = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    process = subprocess.Popen(
        cli("ingest", "--follow", "--follow-timeout", "2", str(path)),
        env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with path.open("a", encoding="utf-8") as growing:
            growing.writelines(sample[:5])
            growing.flush()
            wait_for(lambda: len(sink_records(sink, "log")) == 5, what="the first 5 events")
            growing.write(sample[5][:40])
            growing.flush()
            time.sleep(0.6)
            assert len(sink_records(sink, "log")) == 5, "half a line must wait for its end"
            growing.write(sample[5][40:])
            growing.writelines(sample[6:])
            growing.flush()
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert f"{SAMPLE_LINES} lines read: {SAMPLE_EVENTS} events exported, 0 rejected" in stderr
    assert len(sink_records(sink, "log")) == SAMPLE_EVENTS


def test_follow_survives_rotation_and_truncation(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sample = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(sample[:2]), encoding="utf-8")
    sink = tmp_path / "sink.jsonl"
    process = subprocess.Popen(
        cli("ingest", "--follow", "--follow-timeout", "3", str(path)),
        env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(sink_records(sink, "log")) == 2, what="the first file")
        path.rename(tmp_path / "events.jsonl.1")
        path.write_text("".join(sample[2:5]), encoding="utf-8")
        wait_for(lambda: len(sink_records(sink, "log")) == 5, what="the rotated-in file")
        path.write_text("", encoding="utf-8")
        time.sleep(0.6)
        path.write_text(sample[5], encoding="utf-8")
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "was replaced; following the new file" in stderr
    assert "was truncated; reading it again" in stderr
    assert len(sink_records(sink, "log")) == 6


def test_follow_stops_on_sigterm_with_the_summary(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(SAMPLE.read_text(encoding="utf-8") + "junk\n", encoding="utf-8")
    sink = tmp_path / "sink.jsonl"
    process = subprocess.Popen(
        cli("ingest", "--follow", str(path)),
        env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(sink_records(sink, "log")) == SAMPLE_EVENTS, what="the sample to be ingested")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 1, stderr  # the junk line; the signal itself is the normal end
    assert f"{SAMPLE_LINES + 1} lines read: {SAMPLE_EVENTS} events exported, 1 rejected" in stderr
    assert "stopped by SIGTERM" in stderr


def test_sigint_while_waiting_on_stdin_exits_130_after_the_summary(tmp_path: Path) -> None:
    sink = tmp_path / "sink.jsonl"
    process = subprocess.Popen(
        cli("ingest", "-"),
        env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)),
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(b"".join(SAMPLE.read_bytes().splitlines(keepends=True)[:3]))
        process.stdin.flush()
        wait_for(lambda: len(sink_records(sink, "log")) == 3, what="three events")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130
    assert b"3 lines read: 3 events exported" in stderr
    assert b"stopped by SIGINT" in stderr


def test_progress_is_shown_on_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(SAMPLE.read_text(encoding="utf-8") * 400, encoding="utf-8")
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        cli("ingest", str(path)),
        env=clean_env(MULTI_LLM_OTEL_SINK=str(tmp_path / "sink.jsonl")),
        stderr=terminal,
        stdout=subprocess.DEVNULL,
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closes with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert process.wait(30) == 0
    assert b"\ringest " in shown
    assert b" lines, " in shown
    assert f"{SAMPLE_LINES * 400:,} lines read: {SAMPLE_EVENTS * 400:,} events exported".encode() in shown


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.jsonl"
    assert main(["ingest", str(missing)]) == 2
    assert f"cannot read {missing}" in capsys.readouterr().err
    assert main(["ingest", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert main(["ingest", "--follow-timeout", "1", str(SAMPLE)]) == 2
    assert main(["ingest"]) == 2
    assert main(["ingest", "--max-line-bytes", "0", str(SAMPLE)]) == 2
    assert "is not positive" in capsys.readouterr().err


def test_parse_line_forms() -> None:
    event = event_json()
    assert parse_line(json.dumps(event))[1] == EventScope.system()
    assert parse_line(json.dumps({"event": event, "scope": "System"}))[1] == EventScope.system()
    parsed, scope = parse_line(json.dumps({"event": event, "scope": {"User": "u1"}}))
    assert scope == EventScope.user("u1")
    assert parsed == BusinessEvent.from_dict(event)
    with pytest.raises(ValueError, match=r"^event\.created_at: .* is not an RFC 3339 timestamp"):
        parse_line(json.dumps({"event": event_json(created_at="2026-11-26T09:14:02-05"), "scope": "System"}))


def test_run_emits_through_the_real_mapping_and_flushes_in_batches() -> None:
    lines = [line(event_json(event_type=f"e{i}")) for i in range(FLUSH_EVERY + 10)]
    user_line = line({"event": event_json(event_type="llm_error"), "scope": {"User": "u-9"}})
    stream = io.BytesIO("".join([*lines, user_line]).encode())
    flushes: list[int] = []
    err = io.StringIO()
    with capture() as captured:
        tally = run(
            IngestOptions(path="-"), stream, captured.emitter.emit, lambda: flushes.append(1), Reporter(err, False)
        )
        logs = captured.logs()
    assert (tally.lines, tally.events, tally.rejected) == (FLUSH_EVERY + 11, FLUSH_EVERY + 11, 0)
    assert len(flushes) == 2, "one flush per full batch, one for the rest"
    assert [r.event_name for r in logs] == [f"e{i}" for i in range(FLUSH_EVERY + 10)] + ["llm_error"]
    last = logs[-1]
    assert last.severity_text == "ERROR"
    assert dict(last.attributes or {})["user.id"] == "u-9"
    assert captured.span_events() == []


# --- inputs that are not plain files, sinks that cannot be written, endpoints that never answer ---


def ingest_process(*args: str, env: dict[str, str], **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cli("ingest", *args), env=env, stderr=subprocess.PIPE, **kwargs)


def test_follow_reads_a_fifo_until_its_writer_closes_it(tmp_path: Path) -> None:
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    sink = tmp_path / "sink.jsonl"
    process = ingest_process("--follow", str(fifo), env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)))
    try:
        with fifo.open("wb") as writer:
            writer.write(SAMPLE.read_bytes())
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert f"{SAMPLE_LINES} lines read: {SAMPLE_EVENTS} events exported".encode() in stderr
    assert b"Traceback" not in stderr
    assert len(sink_records(sink, "log")) == SAMPLE_EVENTS


@pytest.mark.parametrize("path", ["/dev/stdin", "-"])
def test_follow_reads_a_pipe_until_it_closes(tmp_path: Path, path: str) -> None:
    sink = tmp_path / "sink.jsonl"
    process = ingest_process("--follow", path, env=clean_env(MULTI_LLM_OTEL_SINK=str(sink)), stdin=subprocess.PIPE)
    try:
        _, stderr = process.communicate(SAMPLE.read_bytes(), timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert f"{SAMPLE_LINES} lines read: {SAMPLE_EVENTS} events exported".encode() in stderr
    assert len(sink_records(sink, "log")) == SAMPLE_EVENTS


def test_a_followed_path_replaced_by_a_directory_is_waited_out(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sample = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(sample[:2]), encoding="utf-8")
    sink = tmp_path / "sink.jsonl"
    process = ingest_process(
        "--follow", "--follow-timeout", "2", str(path), env=clean_env(MULTI_LLM_OTEL_SINK=str(sink))
    )
    try:
        wait_for(lambda: len(sink_records(sink, "log")) == 2, what="the first file")
        path.rename(tmp_path / "events.jsonl.1")
        path.mkdir()
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert b"Traceback" not in stderr
    assert stderr.count(b"is no longer a regular file; waiting for one to take its place") == 1
    assert b"2 lines read: 2 events exported" in stderr


def test_a_sink_that_cannot_be_written_is_exit_4_before_reading(tmp_path: Path) -> None:
    result = run_cli("ingest", str(SAMPLE), env=clean_env(MULTI_LLM_OTEL_SINK=str(tmp_path / "missing" / "x.jsonl")))
    assert result.returncode == 4, result.stderr
    assert "MULTI_LLM_OTEL_SINK=" in result.stderr
    assert "is in a folder that does not exist" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["sink", "stdout"])
def test_a_full_disk_ends_with_export_failed_and_exit_3(tmp_path: Path, where: str) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(SAMPLE.read_text(encoding="utf-8") * 100, encoding="utf-8")
    env = clean_env(MULTI_LLM_OTEL_SINK="/dev/full") if where == "sink" else clean_env()
    with open("/dev/full", "wb") as full:
        completed = subprocess.run(cli("ingest", str(path)), env=env, stdout=full, stderr=subprocess.PIPE, timeout=60)
    stderr = completed.stderr.decode()
    assert completed.returncode == 3, stderr
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr
    assert "EXPORT FAILED" in stderr
    assert "reading stops here" in stderr


def test_one_line_of_many_small_values_is_rejected_before_it_is_parsed(tmp_path: Path) -> None:
    many = json.dumps(event_json(metadata={"items": [{"a": 1}] * 2_000_000}), separators=(",", ":"))
    path = tmp_path / "events.jsonl"
    path.write_text(line(event_json()) + many + "\n" + line(event_json()), encoding="utf-8")
    assert path.stat().st_size > 16_000_000
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forked pytest process across exec.
    code = (
        "import re, sys\n"
        "from multi_llm_otel.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "status = open('/proc/self/status').read()\n"
        "print('MAXRSS_KB', re.search(r'VmHWM:\\s+(\\d+)', status).group(1), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code, "ingest", str(path)],
        env=clean_env(MULTI_LLM_OTEL_SINK=str(tmp_path / "sink.jsonl")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1, completed.stderr
    assert f"{path}:2: rejected: more than 100,000 JSON values (--max-line-values)" in completed.stderr
    max_rss_mb = int(completed.stderr.split("MAXRSS_KB ")[1].split()[0]) / 1024
    print(f"peak RSS with a 16 MB line of 2,000,000 objects: {max_rss_mb:.0f} MB")
    assert max_rss_mb < 300


def hung_endpoint() -> socket.socket:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def test_an_endpoint_that_never_answers_stops_the_reading_with_exit_3(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(line(event_json()) for _ in range(3000)), encoding="utf-8")
    with hung_endpoint() as sock:
        env = clean_env(
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{sock.getsockname()[1]}", OTEL_EXPORTER_OTLP_TIMEOUT="1"
        )
        result = run_cli("ingest", str(path), env=env, timeout=120)
    assert result.returncode == 3, result.stderr
    assert "3 flushes in a row lost records" in result.stderr
    assert "reading stopped after 3 failed flushes in a row" in result.stderr
    [read] = re.findall(r"ingest: ([\d,]+) lines read", result.stderr)
    assert int(read.replace(",", "")) < 3000, "reading stopped before the end of the input"


def test_sigterm_does_not_wait_for_an_endpoint_that_never_answers(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(line(event_json()) for _ in range(FLUSH_EVERY + 1)), encoding="utf-8")
    with hung_endpoint() as sock:
        env = clean_env(
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{sock.getsockname()[1]}", OTEL_EXPORTER_OTLP_TIMEOUT="300"
        )
        process = ingest_process("--follow", str(path), env=env)
        try:
            time.sleep(2)  # into the first flush, which waits on the endpoint
            process.send_signal(signal.SIGTERM)
            # Far shorter than the export timeout: the wait for the exporter was cut short.
            _, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
    assert process.returncode == 3, stderr
    assert b"stopped by SIGTERM" in stderr
    assert b"a signal cut the wait for the exporter short" in stderr


def test_ingest_without_call_spans_exports_no_metrics(receiver: FakeReceiver) -> None:
    # Truncated attributes are counted by the library's diagnostics counter, a metric; with the
    # crate's calls not reconstructed, ingest produces log records and nothing else.
    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT="5")
    result = run_cli("ingest", "--no-spans", str(SAMPLE), env=env)
    assert result.returncode == 0, result.stderr
    assert "attributes_truncated" in result.stderr
    paths = {r.path for r in receiver.requests}
    assert paths == {"/v1/logs"}


def test_a_truncated_line_says_where_in_the_line_and_one_line_is_singular(tmp_path: Path) -> None:
    whole = line(event_json())
    path = tmp_path / "events.jsonl"
    path.write_text(whole[:40] + "\n", encoding="utf-8")
    result = run_cli("ingest", str(path), env=clean_env(MULTI_LLM_OTEL_SINK=str(tmp_path / "sink.jsonl")))
    assert result.returncode == 1
    [rejection] = [text for text in result.stderr.splitlines() if ": rejected: " in text]
    assert rejection.startswith(f"{path}:1: rejected: malformed JSON: ")
    assert "the line is cut short" in rejection
    assert "line 2" not in rejection
    assert "1 line read: 0 events exported, 1 rejected" in result.stderr
    path.write_text(whole, encoding="utf-8")
    result = run_cli("ingest", str(path), env=clean_env(MULTI_LLM_OTEL_SINK=str(tmp_path / "sink.jsonl")))
    assert "1 line read: 1 event exported, 0 rejected" in result.stderr


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        (b'{"a":1,"b":[1,2]}', 5, False),
        (b'{"a":1,"b":[1,2]}', 4, True),
        (b'{"prose":"' + b"a, b, [c], {d}, " * 1000 + b'"}', 10, False),
        (b'{"q":"say \\"x, y\\", then [z]","n":[1,2,3]}', 6, False),
        (b'{"q":"say \\"x, y\\", then [z]","n":[1,2,3]}', 5, True),
    ],
    ids=["under", "over", "commas in text", "escaped quotes under", "escaped quotes over"],
)
def test_json_values_are_counted_outside_strings_only(text: bytes, limit: int, expected: bool) -> None:
    assert too_many_values(text, limit) is expected
