"""The summary ``ingest`` ends with: what was read, where it went, and what was lost."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from multi_llm_otel._settings import Settings
from multi_llm_otel.cli._reporting import counted, losses, redact_url

if TYPE_CHECKING:
    from multi_llm_otel.cli.ingest import Tally

__all__ = ["GIVE_UP_AFTER", "Outcome", "summarise"]

# Flushes in a row that lost records: then the endpoint is taken to be down and reading stops,
# instead of spending an export timeout on every batch of the rest of the input.
GIVE_UP_AFTER = 3


@dataclass
class Outcome:
    tally: Tally
    health: dict[str, int]
    logged_failures: int
    shut_down: bool

    @property
    def losses(self) -> dict[str, int]:
        return losses(self.health)

    @property
    def failed(self) -> bool:
        t = self.tally
        return bool(
            self.logged_failures
            or self.losses
            or not self.shut_down
            or t.emit_failures
            or t.gave_up
            or t.flush_cut_short
        )

    def reasons(self) -> list[str]:
        t = self.tally
        reasons = [f"{k} {n}" for k, n in sorted(self.losses.items())]
        if self.logged_failures:
            reasons.append(f"{self.logged_failures} failure report(s) from the OpenTelemetry SDK, shown above")
        if t.gave_up:
            reasons.append(f"reading stopped after {GIVE_UP_AFTER} failed flushes in a row")
        if t.flush_cut_short:
            reasons.append("a signal cut the wait for the exporter short")
        if not self.shut_down:
            reasons.append("the final flush did not finish in time")
        if t.emit_failures:
            reasons.append(f"{counted(t.emit_failures, 'event')} could not be emitted")
        return reasons


def _destination(settings: Settings) -> tuple[str, str]:
    """(verb, where) for the summary."""
    kind = settings.exporters["logs"]
    if settings.sdk_disabled:
        return "discarded", "OTEL_SDK_DISABLED=true"
    if kind == "none":
        return "discarded", "OTEL_LOGS_EXPORTER=none"
    if kind == "console":
        target = settings.sink if isinstance(settings.sink, str) else "stdout"
        return "exported", f"log records to the JSON-lines sink, {target}"
    endpoint = settings.endpoints["logs"]
    return "exported", f"log records to OTLP {settings.protocol} {redact_url(endpoint.url)}"


def summarise(outcome: Outcome, settings: Settings, err: IO[str]) -> None:
    t = outcome.tally
    verb, where = _destination(settings)
    if outcome.failed and verb == "exported":
        verb = "handed to the exporter"
    prefix = "multi-llm-otel ingest:"
    err.write(
        f"{prefix} {counted(t.lines, 'line')} read: {counted(t.events, 'event')} {verb},"
        f" {t.rejected:,} rejected, {t.blank:,} blank ({where})\n"
    )
    if t.stopped_by is not None:
        err.write(f"{prefix} stopped by {signal.Signals(t.stopped_by).name}\n")
    notes = {k: n for k, n in outcome.health.items() if k not in outcome.losses and k != "emit_failed"}
    if notes:
        err.write(f"{prefix} library reports: " + ", ".join(f"{k} {n}" for k, n in sorted(notes.items())) + "\n")
    if outcome.failed:
        lost = outcome.losses.get("export_failed_logs", 0) + outcome.losses.get("queue_dropped_logs", 0)
        extent = (
            f"{min(lost, t.events):,} of the {counted(t.events, 'event')} did not arrive"
            if lost
            else "which events were lost cannot be told"
        )
        err.write(
            f"{prefix} EXPORT FAILED: {'; '.join(outcome.reasons())}. {extent};"
            " `multi-llm-otel check` tests the endpoint.\n"
        )
    err.flush()
