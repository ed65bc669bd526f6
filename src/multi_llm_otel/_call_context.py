"""The call in progress in this context, shared by the decorator, the stream proxies and the
SDK instrumentation without importing one another.

Set while a decorated function (or an instrumented SDK method) runs, and while a stream manager
it returned is entered: an SDK method reached from there belongs to that call.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multi_llm_otel._invocation import Call

current_call: ContextVar[Call | None] = ContextVar("multi_llm_otel.call", default=None)
