"""The JSON-lines bridge behind ``multi-llm-otel ingest``: events written outside Python, in the
Rust crate's serde form, go through the same mapping as events emitted in Python.

The reading and reporting here take the emitter as a callable, so tests drive them with
``multi_llm_otel.testing.capture()``; the command wires them to ``configure()``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Final

from multi_llm_otel._events import BusinessEvent, EventScope
from multi_llm_otel._serde_lines import parse_events
from multi_llm_otel.cli._exit import ExitCode, stopped_by
from multi_llm_otel.cli._follow import follow, read_available
from multi_llm_otel.cli._ingest_summary import GIVE_UP_AFTER, Outcome, summarise
from multi_llm_otel.cli._line_source import Line, LineSource, LineTooLong, too_many_values
from multi_llm_otel.cli._reporting import ExportWatch, Reporter, counted, losses, stats_delta
from multi_llm_otel.cli._stopper import Interrupted, Stopper

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "DEFAULT_MAX_LINE_VALUES",
    "FLUSH_EVERY",
    "GIVE_UP_AFTER",
    "IngestOptions",
    "Tally",
    "command",
    "parse_line",
    "run",
]

DEFAULT_MAX_LINE_BYTES: Final = 64 * 1024 * 1024
# Parsed, a JSON value is a Python object of 50-200 bytes: a 16 MB line of small objects would
# take over a gigabyte. 100,000 values keep one line's objects to some tens of megabytes.
DEFAULT_MAX_LINE_VALUES: Final = 100_000
# The logs batch processor holds 2,048 records and evicts the oldest when full; flushing well
# before that makes a fast reader wait for the exporter instead of losing events.
FLUSH_EVERY: Final = 256
_REASON_LIMIT: Final = 300
_SHUTDOWN_TIMEOUT: Final = 2.0
_BOM: Final = b"\xef\xbb\xbf"
_JSON_POSITION: Final = re.compile(r":? line \d+ column \d+ \(char (\d+)\)")


def parse_line(text: str) -> tuple[BusinessEvent, EventScope]:
    """One JSON line holding one event, and its scope; ``ValueError`` says what is wrong.
    ``_serde_lines.parse_events`` has the forms (arrays of events too) and the rules."""
    events = parse_events(text)
    if len(events) != 1:
        raise ValueError(f"event: the line holds {len(events)} events")
    return events[0]


@dataclass
class Tally:
    lines: int = 0
    blank: int = 0
    events: int = 0
    rejected: int = 0
    emit_failures: int = 0
    stopped_by: int | None = None
    # Reading stopped after GIVE_UP_AFTER failed flushes in a row.
    gave_up: bool = False
    # A signal ended a flush that was still waiting for the exporter.
    flush_cut_short: bool = False


@dataclass
class IngestOptions:
    path: str
    follow: bool = False
    follow_timeout: float | None = None
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_line_values: int = DEFAULT_MAX_LINE_VALUES
    progress: bool = False
    poll_interval: float = 0.2


def _shorten(reason: str) -> str:
    return reason if len(reason) <= _REASON_LIMIT else reason[:_REASON_LIMIT] + "…"


def _json_position(message: str, length: int) -> str:
    """The parser's ``line 1 column 6 (char 5)`` as a place in the line, so it is not read as
    a line of the file; the line ending inside the value says the line was cut short."""
    match = _JSON_POSITION.search(message)
    if match is None:
        return message
    char = int(match.group(1))
    text = message[: match.start()].removesuffix(" at") + f" at character {char + 1:,} of the line"
    if char >= length or "Unterminated string" in message:
        text += "; the line is cut short"
    return text + message[match.end() :]


@dataclass
class IngestRun:
    options: IngestOptions
    emit: Callable[[BusinessEvent, EventScope], object]
    flush: Callable[[], object]
    reporter: Reporter
    stopper: Stopper
    export_losses: Callable[[], int]
    tally: Tally = field(default_factory=Tally)
    line_in_file: int = 0
    unflushed: int = 0
    failed_flushes: int = 0
    total_bytes: int | None = None
    said: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return "<stdin>" if self.options.path == "-" else self.options.path

    def should_stop(self) -> bool:
        return self.stopper.stopped() or self.tally.gave_up

    def say_once(self, message: str) -> None:
        if message not in self.said:
            self.said.add(message)
            self.reporter.say(message)

    def handle(self, line: Line) -> None:
        self.tally.lines += 1
        self.line_in_file += 1
        where = f"{self.name}:{self.line_in_file}"
        parsed = self._parse(where, line)
        if parsed is None:
            return
        for event, scope in parsed:
            self.emit_one(where, event, scope)

    def emit_one(self, where: str, event: BusinessEvent, scope: EventScope) -> None:
        if self.emit(event, scope) is False:
            self.tally.emit_failures += 1
            self.reporter.say(f"{where}: the event could not be emitted (see the warning above)")
            return
        self.tally.events += 1
        self.unflushed += 1
        if self.unflushed >= FLUSH_EVERY:
            self.drain()

    def _parse(self, where: str, line: Line) -> list[tuple[BusinessEvent, EventScope]] | None:
        """The events of one line (an array of events is a line too), or None if rejected."""
        limits = self.options
        if isinstance(line, LineTooLong):
            self.reject(
                where, f"line of {line.size:,} bytes is over the limit of {limits.max_line_bytes:,} (--max-line-bytes)"
            )
            return None
        if not line.strip():
            self.tally.blank += 1
            return None
        if self.line_in_file == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        if too_many_values(line, limits.max_line_values):
            self.reject(where, f"more than {limits.max_line_values:,} JSON values (--max-line-values)")
            return None
        try:
            text = line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            self.reject(where, f"not UTF-8: {exc.reason} at byte {exc.start + 1} of the line")
            return None
        try:
            return parse_events(text)
        except ValueError as exc:
            self.reject(where, _shorten(_json_position(str(exc), len(text))))
            return None

    def reject(self, where: str, reason: str) -> None:
        self.tally.rejected += 1
        self.reporter.say(f"{where}: rejected: {reason}")

    def drain(self) -> None:
        """Wait for the exporter to take what was emitted; count flushes that lost records.
        Once stopped, the wait is left to the bounded shutdown."""
        if not self.unflushed or self.stopper.stopped():
            return
        self.unflushed = 0
        before = self.export_losses()
        started = False
        try:
            with self.stopper.waiting():
                started = True
                flushed = self.flush() is not False
        except Interrupted:
            # Only a signal during the flush cut it short; one just before it skipped it.
            self.tally.flush_cut_short = started
            raise
        if flushed and self.export_losses() == before:
            self.failed_flushes = 0
            return
        self.failed_flushes += 1
        if self.failed_flushes >= GIVE_UP_AFTER:
            self.tally.gave_up = True
            self.reporter.say(
                f"multi-llm-otel ingest: {GIVE_UP_AFTER} flushes in a row lost records; "
                "the exporter is not taking data, so reading stops here"
            )

    def status(self, position: int, note: str = "") -> str:
        t = self.tally
        text = f"ingest {self.name}: {counted(t.lines, 'line')}, {counted(t.events, 'event')}, {t.rejected:,} rejected"
        if self.total_bytes:
            text += f", {min(100, position * 100 // self.total_bytes)}%"
        return text + note

    def end(self, source: LineSource) -> None:
        """The unterminated last line, then the last flush, unless the run was stopped."""
        if self.should_stop():
            return
        rest = source.rest()
        if rest is not None:
            self.handle(rest)
        if not self.should_stop():
            self.drain()


def _regular(stream: IO[bytes]) -> bool:
    """A regular file (as opposed to a pipe, a FIFO, a terminal or an in-memory stream)."""
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):
        return False


def run(
    options: IngestOptions,
    stream: IO[bytes],
    emit: Callable[[BusinessEvent, EventScope], object],
    flush: Callable[[], object],
    reporter: Reporter,
    *,
    export_losses: Callable[[], int] = lambda: 0,
) -> Tally:
    """Read ``stream`` (opened from ``options.path``, or stdin for ``-``) and emit every valid
    line; bad input is reported and counted, never raised. A file is closed at the end.
    ``export_losses`` counts records lost so far: flushes that raise it count as failed."""
    source = LineSource(stream, options.max_line_bytes)
    with Stopper() as stopper:
        job = IngestRun(options, emit, flush, reporter, stopper, export_losses)
        try:
            regular = _regular(stream)
            if options.follow:
                follow(job, source, follow_name=regular)
            else:
                if options.progress and regular:
                    job.total_bytes = os.fstat(stream.fileno()).st_size
                read_available(job, source)
            job.end(source)
        except Interrupted:
            pass
        finally:
            if options.path != "-":
                source.stream.close()
        job.tally.stopped_by = stopper.signum
    reporter.done()
    return job.tally


def command(options: IngestOptions, stream: IO[bytes], out: IO[str], err: IO[str]) -> int:
    """The ``ingest`` command once its input is open: configure, bridge, flush, summarise.

    Exit codes (``ExitCode``): 0 all good, 1 lines rejected, 3 export failed (wins over 1), 4 the
    sink cannot be written, 128 + signal number when a signal cut a one-shot read short (in
    follow mode a signal is the normal end).
    """
    from dataclasses import replace

    from multi_llm_otel import _diagnostics
    from multi_llm_otel._settings import resolve
    from multi_llm_otel._setup import configure_with_settings

    settings = resolve()
    unusable = settings.problem_for("MULTI_LLM_OTEL_SINK")
    if unusable is not None and settings.exporters["logs"] == "console":
        err.write(
            f"multi-llm-otel ingest: error: MULTI_LLM_OTEL_SINK={unusable.value!r} {unusable.reason};"
            " nothing was read\n"
        )
        if options.path != "-":
            stream.close()
        return ExitCode.INVALID_SETTINGS
    to_stdout = settings.sink is None
    # Ingest produces log records only: no metrics (nor the library's own diagnostics counter).
    settings = replace(
        settings,
        exporters={**settings.exporters, "metrics": "none"},
        # The spans these events belonged to ran in the process that wrote them; a span
        # made up here would group unrelated events, so ingested events are log records.
        span_events=False,
        sink=out if to_stdout else settings.sink,
        sink_source="stdout" if to_stdout else settings.sink_source,
    )
    # A progress line on the terminal that also shows the sink's output would garble both.
    options.progress = options.progress and not (to_stdout and out.isatty())
    reporter = Reporter(err, options.progress)
    before = _diagnostics.stats()
    with ExportWatch(reporter) as watch:
        telemetry = configure_with_settings(
            settings,
            "multi-llm-otel-ingest",
            handle_sigterm=False,
            # The reader flushes as it goes and at the end: what is left at shutdown is what
            # a failing exporter holds, and waiting longer for it only delays the summary.
            shutdown_timeout=_SHUTDOWN_TIMEOUT,
        )

        def export_losses() -> int:
            return watch.failures + sum(losses(stats_delta(before)).values())

        tally = run(
            options,
            stream,
            telemetry.emitter.emit,
            telemetry.logger_provider.force_flush,
            reporter,
            export_losses=export_losses,
        )
        shut_down = telemetry.shutdown()
    outcome = Outcome(tally, stats_delta(before), watch.failures, shut_down)
    summarise(outcome, settings, err)
    if tally.stopped_by is not None and not options.follow:
        return stopped_by(tally.stopped_by)
    if outcome.failed:
        return ExitCode.EXPORT_FAILED
    return ExitCode.PROBLEM if tally.rejected else ExitCode.OK
