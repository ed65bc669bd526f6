"""The model a call's SDK request actually carried, when the decorated function's own
arguments did not say (``answer(user_id, prompt)`` calling ``create(model="gpt-4o-mini")``).

The OpenAI and Anthropic SDKs send through an HTTP client with request event hooks, a public
extension point of ``httpx``: once per HTTP client of a client the decorator found, a hook is
added that, while a decorated call is running in the same context, reads ``model`` from the
JSON body about to be sent. Outside a decorated call the hook does nothing.
"""

from __future__ import annotations

import inspect
import json
from contextvars import ContextVar
from typing import Any, Protocol

from multi_llm_otel._guard import never_raise
from multi_llm_otel.providers._base import instance_attrs, lineage

# Bodies past this size are not parsed for their model: a prompt of megabytes is not worth it.
_BODY_LIMIT = 1 << 20
_HTTP_LIBRARIES = frozenset({"httpx", "httpx2"})


class Observer(Protocol):
    def wants_model(self) -> bool: ...

    def observe_model(self, model: str) -> None: ...


# The decorated call running in this context (thread or task), if any.
current_call: ContextVar[Any] = ContextVar("multi_llm_otel.call", default=None)


@never_raise("request_unreadable")
def _on_request(request: Any) -> None:
    call: Observer | None = current_call.get()
    # Most calls named their model in their arguments: then no body is parsed.
    if call is None or not call.wants_model():
        return
    content = request.content
    if not isinstance(content, bytes) or not content.startswith(b"{") or len(content) > _BODY_LIMIT:
        return
    model = json.loads(content).get("model")
    if isinstance(model, str) and model:
        call.observe_model(model)


async def _on_request_async(request: Any) -> None:
    _on_request(request)


@never_raise()
def observe_requests(client: object) -> None:
    """Hook the HTTP client under an SDK client (or one of its resources), once."""
    target: object = client
    # A resource holds its client in ``_client``, the client its HTTP client there too.
    for _ in range(3):
        if lineage(type(target)) & _HTTP_LIBRARIES:
            break
        target = instance_attrs(target).get("_client")
        if target is None:
            return
    else:
        return
    hooks = getattr(target, "event_hooks", None)
    if not isinstance(hooks, dict) or not isinstance(hooks.get("request"), list):
        return
    hook = _on_request_async if inspect.iscoroutinefunction(getattr(type(target), "send", None)) else _on_request
    if hook not in hooks["request"]:
        hooks["request"].append(hook)
