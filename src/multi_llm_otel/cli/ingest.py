"""The JSON-lines bridge behind ``multi-llm-otel ingest``: events written outside Python, in the
Rust crate's serde form, go through the same mapping as events emitted in Python.

The reading and reporting here take the emitter as a callable, so tests drive them with
``multi_llm_otel.testing.capture()``; the command wires them to ``configure()``.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import IO, TYPE_CHECKING, Final

from multi_llm_otel import _diagnostics
from multi_llm_otel._call_spans import CallSpanBridge, CallSpans
from multi_llm_otel._events import BusinessEvent, EventScope
from multi_llm_otel._serde_lines import parse_events

if TYPE_CHECKING:
    from opentelemetry.context import Context

    from multi_llm_otel._emitter import Emitter

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "EXIT_EXPORT_FAILED",
    "EXIT_REJECTED",
    "FLUSH_EVERY",
    "ExportWatch",
    "IngestOptions",
    "Reporter",
    "Tally",
    "command",
    "parse_line",
    "run",
]

EXIT_REJECTED: Final = 1
EXIT_EXPORT_FAILED: Final = 3

DEFAULT_MAX_LINE_BYTES: Final = 64 * 1024 * 1024
# The logs batch processor holds 2,048 records and evicts the oldest when full; flushing well
# before that makes a fast reader wait for the exporter instead of losing events.
FLUSH_EVERY: Final = 256
# How long, once caught up in follow mode, a crate request waits for the end of its call before
# it is sent without a span (the crate hands both over at once, so they are written together).
HOLD_REQUEST_SECONDS: Final = 5.0
_CHUNK: Final = 1024 * 1024
_REASON_LIMIT: Final = 300
_BOM: Final = b"\xef\xbb\xbf"
_JSON_POSITION: Final = re.compile(r"line 1 column (\d+) \(char \d+\)")


class LineTooLong:
    """A line past the limit; only its length is kept."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size


Line = bytes | LineTooLong


def parse_line(text: str) -> tuple[BusinessEvent, EventScope]:
    """One JSON line holding one event, and its scope; ``ValueError`` says what is wrong.
    ``_serde_lines.parse_events`` has the forms (arrays of events too) and the rules."""
    events = parse_events(text)
    if len(events) != 1:
        raise ValueError(f"event: the line holds {len(events)} events")
    return events[0]


class LineSource:
    """Complete lines from a binary stream; a line still being written waits for its newline."""

    def __init__(self, stream: IO[bytes], max_bytes: int) -> None:
        self.stream = stream
        self.max_bytes = max_bytes
        self.position = 0
        self._pending = bytearray()
        self._overflow = 0

    def lines(self, before_read: Callable[[], None], after_read: Callable[[], None]) -> Iterator[Line]:
        """Every complete line available now; returns at end of data, keeping a partial line."""
        while True:
            before_read()
            try:
                chunk = self.stream.readline(_CHUNK)
            finally:
                after_read()
            if not chunk:
                return
            self.position += len(chunk)
            complete = chunk.endswith(b"\n")
            if self._overflow:
                self._overflow += len(chunk)
                if complete:
                    yield LineTooLong(self._overflow - (len(chunk) - len(chunk.rstrip(b"\r\n"))))
                    self._overflow = 0
                continue
            if complete and not self._pending:
                yield self._checked(chunk)
                continue
            self._pending += chunk
            if complete:
                line = bytes(self._pending)
                self._pending.clear()
                yield self._checked(line)
            elif len(self._pending) > self.max_bytes:
                # Keep counting, stop keeping: a runaway line must not exhaust memory.
                self._overflow = len(self._pending)
                self._pending.clear()

    def _checked(self, line: bytes) -> Line:
        size = len(line.rstrip(b"\r\n"))
        return LineTooLong(size) if size > self.max_bytes else line

    def rest(self) -> Line | None:
        """The unterminated last line, once no more data will come."""
        if self._overflow:
            size, self._overflow = self._overflow, 0
            return LineTooLong(size)
        if not self._pending:
            return None
        line = bytes(self._pending)
        self._pending.clear()
        return self._checked(line)

    def restart(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.position = 0
        self._pending.clear()
        self._overflow = 0


@dataclass
class Tally:
    lines: int = 0
    blank: int = 0
    events: int = 0
    rejected: int = 0
    emit_failures: int = 0
    stopped_by: int | None = None
    call_spans: int = 0


@dataclass
class IngestOptions:
    path: str
    follow: bool = False
    follow_timeout: float | None = None
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    progress: bool = False
    poll_interval: float = 0.2
    spans: bool = True


class Reporter:
    """Diagnostics on one stream, shared by the reader and the exporter's thread; keeps an
    optional one-line progress display out of the way of the messages."""

    def __init__(self, err: IO[str], progress: bool) -> None:
        self.err = err
        self.progress = progress
        self._lock = threading.Lock()
        self._shown = False
        self._last = 0.0

    def say(self, message: str) -> None:
        with self._lock:
            self._clear()
            self.err.write(message + "\n")
            self.err.flush()

    def show(self, status: str) -> None:
        if not self.progress:
            return
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        with self._lock:
            self._last = now
            self.err.write("\r" + status + "\x1b[K")
            self.err.flush()
            self._shown = True

    def done(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        if self._shown:
            self.err.write("\r\x1b[K")
            self._shown = False


# Warnings of the SDK and the OTLP exporters that mean telemetry was dropped. The others are
# retries in progress ("Transient error ...") or harmless repeats ("... ignoring call").
_LOSS_WARNINGS: Final = (
    "Queue full",
    "Dropping",
    "Exporter already shutdown, ignoring batch",
    "Shutdown in progress, aborting retry",
)


class ExportWatch(logging.Handler):
    """Shows the warnings of the SDK, the OTLP exporters and this library through the reporter,
    and counts the SDK's reports of lost telemetry, since its flush reports success regardless.

    This library also counts lost items in ``stats()`` where its set-up can see them (failed
    exports, queue evictions); the log reports here catch what is only logged. Neither can say
    which events a failed batch held, and an exporter that fails silently goes unseen.
    """

    def __init__(self, reporter: Reporter) -> None:
        super().__init__(logging.WARNING)
        self.reporter = reporter
        self.failures = 0
        self._loggers = [logging.getLogger("opentelemetry"), logging.getLogger("multi_llm_otel")]
        self._saved: list[tuple[int, bool]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if len(message) > 2 * _REASON_LIMIT:
            message = message[: 2 * _REASON_LIMIT] + "…"
        if not record.name.startswith("opentelemetry"):
            self.reporter.say(message)
            return
        loss = record.levelno >= logging.ERROR or str(record.msg).startswith(_LOSS_WARNINGS)
        if loss:
            self.failures += 1
        self.reporter.say(f"multi-llm-otel: export {'failure' if loss else 'note'}: {message}")

    def __enter__(self) -> ExportWatch:
        for logger in self._loggers:
            self._saved.append((logger.level, logger.propagate))
            # Shown once, by the reporter, clear of the progress line; not again through the root.
            logger.propagate = False
            logger.setLevel(logging.WARNING)
            logger.addHandler(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for logger, (level, propagate) in zip(self._loggers, self._saved, strict=True):
            logger.removeHandler(self)
            logger.setLevel(level)
            logger.propagate = propagate
        self._saved.clear()


# The kinds of ``stats()`` that count telemetry the export pipeline lost.
LOSS_KINDS: Final = ("export_failed_", "queue_dropped_", "shutdown_abandoned_", "dropped_after_shutdown_")


def stats_delta(before: dict[str, int]) -> dict[str, int]:
    return {k: n - before.get(k, 0) for k, n in _diagnostics.stats().items() if n > before.get(k, 0)}


class _Interrupted(Exception):
    """Raised by the signal handler only while the reader is blocked waiting for input."""


class _Stopper:
    """SIGINT / SIGTERM end the run with a summary instead of a traceback."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.wake = threading.Event()
        self.blocked = False
        self._saved: list[tuple[int, object]] = []

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum
        self.wake.set()
        if self.blocked:
            raise _Interrupted

    def stopped(self) -> bool:
        return self.signum is not None

    def block(self) -> None:
        self.blocked = True

    def unblock(self) -> None:
        self.blocked = False

    def __enter__(self) -> _Stopper:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._saved.append((signum, signal.signal(signum, self)))
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._saved:
            signal.signal(signum, handler)  # type: ignore[arg-type]


def _shorten(reason: str) -> str:
    return reason if len(reason) <= _REASON_LIMIT else reason[:_REASON_LIMIT] + "…"


class _Run:
    def __init__(
        self,
        options: IngestOptions,
        emit: Callable[..., object],
        flush: Callable[[], object],
        reporter: Reporter,
        tracing: Emitter | None,
    ) -> None:
        self.options = options
        self.emit = emit
        self.flush = flush
        self.reporter = reporter
        self.tally = Tally()
        self.name = "<stdin>" if options.path == "-" else options.path
        self.line_in_file = 0
        self.unflushed = 0
        self.total_bytes: int | None = None
        self.calls = CallSpans(tracing, self.emit_one) if tracing is not None and options.spans else None

    def handle(self, line: Line) -> None:
        self.tally.lines += 1
        self.line_in_file += 1
        where = f"{self.name}:{self.line_in_file}"
        if isinstance(line, LineTooLong):
            self.reject(
                where,
                f"line of {line.size:,} bytes is over the limit of {self.options.max_line_bytes:,} (--max-line-bytes)",
            )
            return
        if not line.strip():
            self.tally.blank += 1
            return
        if self.line_in_file == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.reject(where, f"not UTF-8: {exc.reason} at byte {exc.start + 1} of the line")
            return
        try:
            events = parse_events(text)
        except ValueError as exc:
            # The JSON parser counts lines within this one line; only the column helps.
            self.reject(where, _shorten(_JSON_POSITION.sub(r"column \1", str(exc))))
            return
        if self.calls is not None:
            self.calls.take(where, events)
            return
        for event, scope in events:
            self.emit_one(where, event, scope)

    def emit_one(self, where: str, event: BusinessEvent, scope: EventScope, context: Context | None = None) -> None:
        failures_before = _diagnostics.stats().get("emit_failed", 0)
        if context is None:
            self.emit(event, scope)
        else:
            self.emit(event, scope, context=context)
        if _diagnostics.stats().get("emit_failed", 0) > failures_before:
            self.tally.emit_failures += 1
            self.reporter.say(f"{where}: the event could not be emitted (see the warning above)")
            return
        self.tally.events += 1
        self.unflushed += 1
        if self.unflushed >= FLUSH_EVERY:
            self.drain()

    def reject(self, where: str, reason: str) -> None:
        self.tally.rejected += 1
        self.reporter.say(f"{where}: rejected: {reason}")

    def drain(self) -> None:
        if self.unflushed:
            self.flush()
            self.unflushed = 0

    def status(self, position: int, note: str = "") -> str:
        t = self.tally
        text = f"ingest {self.name}: {t.lines:,} lines, {t.events:,} events, {t.rejected:,} rejected"
        if self.total_bytes:
            text += f", {min(100, position * 100 // self.total_bytes)}%"
        return text + note

    def release_held(self, older_than: float = 0.0) -> None:
        if self.calls is not None:
            self.calls.release(older_than)

    def finish(self) -> Tally:
        self.release_held()
        self.drain()
        if self.calls is not None:
            self.tally.call_spans = self.calls.spans
        self.reporter.done()
        return self.tally


def run(
    options: IngestOptions,
    stream: IO[bytes],
    emit: Callable[..., object],
    flush: Callable[[], object],
    reporter: Reporter,
    tracing: Emitter | None = None,
) -> Tally:
    """Read ``stream`` (opened from ``options.path``, or stdin for ``-``) and emit every valid
    line; bad input is reported and counted, never raised. A file is closed at the end.

    ``emit(event, scope[, context=...])`` emits one event; given ``tracing`` (the emitter whose
    tracer and meter to use) and ``options.spans``, the crate's calls get their spans
    (``_call_spans``) and their events are emitted in them."""
    job = _Run(options, emit, flush, reporter, tracing)
    source = LineSource(stream, options.max_line_bytes)
    with _Stopper() as stopper:
        try:
            if options.follow:
                _follow(job, source, stopper)
            else:
                if options.progress and options.path != "-":
                    job.total_bytes = os.fstat(stream.fileno()).st_size
                _read_once(job, source, stopper)
        except _Interrupted:
            pass
        finally:
            if options.path != "-":
                source.stream.close()
        job.tally.stopped_by = stopper.signum
    return job.finish()


def _read_once(job: _Run, source: LineSource, stopper: _Stopper) -> None:
    for line in source.lines(stopper.block, stopper.unblock):
        job.handle(line)
        if stopper.stopped():
            return
        job.reporter.show(job.status(source.position))
    rest = source.rest()
    if rest is not None:
        job.handle(rest)


def _follow(job: _Run, source: LineSource, stopper: _Stopper) -> None:
    options = job.options
    last_data = time.monotonic()
    while not stopper.stopped():
        got = False
        for line in source.lines(stopper.block, stopper.unblock):
            got = True
            job.handle(line)
            if stopper.stopped():
                break
            job.reporter.show(job.status(source.position))
        now = time.monotonic()
        if got:
            last_data = now
            continue
        # Caught up: send what was read now rather than at the next batch boundary.
        job.release_held(HOLD_REQUEST_SECONDS)
        job.drain()
        _reopen_if_replaced(job, source)
        idle = now - last_data
        if options.follow_timeout is not None and idle >= options.follow_timeout:
            break
        job.reporter.show(job.status(source.position, f"; following, idle {idle:.0f} s"))
        stopper.wake.wait(options.poll_interval)
    rest = source.rest()
    if rest is not None:
        job.handle(rest)


def _reopen_if_replaced(job: _Run, source: LineSource) -> None:
    """Follow the name, as ``tail -F`` does: log rotation replaces or truncates the file."""
    path = job.options.path
    current = os.fstat(source.stream.fileno())
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return
    if (named.st_ino, named.st_dev) != (current.st_ino, current.st_dev):
        rest = source.rest()
        if rest is not None:
            job.handle(rest)
        source.stream.close()
        source.restart(open(path, "rb"))  # noqa: SIM115 - run() closes whichever stream is current
        job.line_in_file = 0
        job.reporter.say(f"multi-llm-otel: {path} was replaced; following the new file from its start")
    elif current.st_size < source.position:
        source.stream.seek(0)
        source.restart(source.stream)
        job.line_in_file = 0
        job.reporter.say(f"multi-llm-otel: {path} was truncated; reading it again from its start")


def command(options: IngestOptions, stream: IO[bytes], out: IO[str], err: IO[str]) -> int:
    """The ``ingest`` command once its input is open: configure, bridge, flush, summarise.

    Exit codes: 0 all good, 1 lines rejected, 3 export failed (wins over 1), 128 + signal
    number when a signal cut a one-shot read short (in follow mode a signal is the normal end).
    """
    from multi_llm_otel._setup import configure

    to_stdout = not os.environ.get("MULTI_LLM_OTEL_SINK")
    # A progress line on the terminal that also shows the sink's output would garble both.
    options.progress = options.progress and not (to_stdout and out.isatty())
    reporter = Reporter(err, options.progress)
    before = _diagnostics.stats()
    with ExportWatch(reporter) as watch:
        telemetry = configure(
            "multi-llm-otel-ingest",
            sink=out if to_stdout else None,
            # Only the crate's calls get spans here (the decorator's ran where they were
            # written): the bridge added below puts their events on them, and counts no
            # event outside a span, since that is most of them.
            span_events=False,
            handle_sigterm=False,
        )
        add_bridge = getattr(telemetry.logger_provider, "add_log_record_processor", None)
        if options.spans and add_bridge is not None:
            add_bridge(CallSpanBridge())
        tally = run(
            options,
            stream,
            telemetry.emitter.emit,
            telemetry.logger_provider.force_flush,
            reporter,
            telemetry.emitter,
        )
        shut_down = telemetry.shutdown()
    health = stats_delta(before)
    losses = {k: n for k, n in health.items() if k.startswith(LOSS_KINDS)}
    failed = bool(watch.failures or losses or not shut_down or tally.emit_failures)
    _summarise(tally, telemetry.exporters["logs"], health, losses, watch.failures, shut_down, err)
    if tally.stopped_by is not None and not options.follow:
        return 128 + tally.stopped_by
    if failed:
        return EXIT_EXPORT_FAILED
    return EXIT_REJECTED if tally.rejected else 0


def _summarise(
    t: Tally,
    kind: str,
    health: dict[str, int],
    losses: dict[str, int],
    logged_failures: int,
    shut_down: bool,
    err: IO[str],
) -> None:
    failed = bool(logged_failures or losses or not shut_down or t.emit_failures)
    verb = "handed to the exporter" if failed else "exported"
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        verb, where = "discarded", "OTEL_SDK_DISABLED=true"
    elif kind == "none":
        verb, where = "discarded", "OTEL_LOGS_EXPORTER=none"
    elif kind == "console":
        where = "log records to the JSON-lines sink, " + (os.environ.get("MULTI_LLM_OTEL_SINK") or "stdout")
    else:
        from multi_llm_otel.cli.check import describe_otlp

        where = "log records to " + describe_otlp("logs")
    prefix = "multi-llm-otel ingest:"
    err.write(
        f"{prefix} {t.lines:,} lines read: {t.events:,} events {verb},"
        f" {t.rejected:,} rejected, {t.blank:,} blank ({where})\n"
    )
    if t.call_spans:
        err.write(f"{prefix} {t.call_spans:,} calls of the Rust crate got a reconstructed span\n")
    if t.stopped_by is not None:
        err.write(f"{prefix} stopped by {signal.Signals(t.stopped_by).name}\n")
    notes = {k: n for k, n in health.items() if k not in losses and k != "emit_failed"}
    if notes:
        err.write(f"{prefix} library reports: " + ", ".join(f"{k} {n}" for k, n in sorted(notes.items())) + "\n")
    if failed:
        reasons = [f"{k} {n}" for k, n in sorted(losses.items())]
        if logged_failures:
            reasons.append(f"{logged_failures} failure report(s) from the OpenTelemetry SDK, shown above")
        if not shut_down:
            reasons.append("the final flush did not finish in time")
        if t.emit_failures:
            reasons.append(f"{t.emit_failures} event(s) could not be emitted")
        lost = losses.get("export_failed_logs", 0) + losses.get("queue_dropped_logs", 0)
        extent = (
            f"{min(lost, t.events):,} of the {t.events:,} events did not arrive"
            if lost
            else "which events were lost cannot be told"
        )
        err.write(
            f"{prefix} EXPORT FAILED: {'; '.join(reasons)}. {extent}; `multi-llm-otel check` tests the endpoint.\n"
        )
    err.flush()
