"""The record of one instrumented call: what is known about it, and nothing that acts on it.

The decorator fills it at the start, the stream watcher updates the counters, and the pure
builders in ``_call_events`` read it. It holds no span and imports no OpenTelemetry.
"""

from __future__ import annotations

from multi_llm_otel._events import EventScope
from multi_llm_otel.providers import RequestInfo


class CallRecord:
    """The state of one call."""

    __slots__ = (
        "app_cache",
        "capture_content",
        "chunks",
        "first_chunk_at",
        "model",
        "operation",
        "provider",
        "request",
        "scope",
        "server_address",
        "server_port",
        "start",
        "stream",
    )

    def __init__(
        self,
        *,
        provider: str | None,
        model: str | None,
        operation: str,
        scope: EventScope,
        request: RequestInfo,
        server_address: str | None,
        server_port: int | None,
        capture_content: bool,
        start: float,
    ) -> None:
        self.provider = provider
        self.model = model
        self.operation = operation
        self.scope = scope
        self.request = request
        self.server_address = server_address
        self.server_port = server_port
        self.capture_content = capture_content
        self.start = start
        self.stream = request.stream
        self.chunks = 0
        self.first_chunk_at: float | None = None
        # Set by ``record_cache()``: whether the application's own cache answered.
        self.app_cache: bool | None = None

    def time_to_first_chunk(self) -> float | None:
        return None if self.first_chunk_at is None else self.first_chunk_at - self.start
