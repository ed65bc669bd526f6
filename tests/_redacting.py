"""A processor that changes a record after it was emitted, as a redacting one would."""

from __future__ import annotations

from opentelemetry.sdk._logs import ReadWriteLogRecord
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor


class RedactSecret(SimpleLogRecordProcessor):
    """Rewrites the ``secret`` attribute of every record, then exports it."""

    def on_emit(self, log_data: ReadWriteLogRecord) -> None:
        attributes = log_data.log_record.attributes
        assert attributes is not None
        attributes["secret"] = "redacted"  # type: ignore[index]
        super().on_emit(log_data)
