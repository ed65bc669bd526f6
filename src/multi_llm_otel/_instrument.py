"""Zero-code instrumentation: ``instrument()`` wraps the LLM methods of the installed SDKs with
the machinery of ``@llm_call``, and ``uninstrument()`` puts the original attributes back.

Each method is wrapped where its class defines it, unbound, so every client, existing or future,
is covered. The wrapping is the decorator's own (the same per-call path, span, events and
metrics); what is added here is only the nesting rule: a method called while another call of
ours is running in this context (a function decorated with ``@llm_call``) reports into that call
instead of starting a second one.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from multi_llm_otel import _decorator, _diagnostics, _nested_calls, _sdk_spans
from multi_llm_otel._events import EventScope
from multi_llm_otel._request_observer import current_call

__all__ = ["TARGETS", "instrument", "instrumented", "uninstrument"]


@dataclass(frozen=True, slots=True)
class Target:
    """An SDK method: ``module.owner.name``; ``owner`` empty for a module-level function."""

    module: str
    owner: str
    name: str


def _methods(module: str, owners: tuple[str, ...], *names: str) -> list[Target]:
    return [Target(module, owner, name) for owner in owners for name in names]


TARGETS: tuple[Target, ...] = (
    *_methods("openai.resources.chat.completions", ("Completions", "AsyncCompletions"), "create", "stream"),
    *_methods("openai.resources.responses", ("Responses", "AsyncResponses"), "create", "stream"),
    *_methods("anthropic.resources.messages", ("Messages", "AsyncMessages"), "create", "stream"),
    *_methods("anthropic.resources.beta.messages", ("Messages", "AsyncMessages"), "create", "stream"),
    *_methods("ollama", ("Client", "AsyncClient"), "chat", "generate"),
    # ``ollama.chat`` and ``ollama.generate`` are methods of a default client, bound at import.
    *_methods("ollama", ("",), "chat", "generate"),
    *_methods("lmstudio.sync_api", ("LLM",), "respond", "complete", "respond_stream", "complete_stream"),
    *_methods("lmstudio.async_api", ("AsyncLLM",), "respond", "complete", "respond_stream", "complete_stream"),
)

ScopeSource = EventScope | Callable[[], EventScope] | None

_lock = threading.Lock()
# (holder, attribute name, original value as found in the holder's __dict__), in patch order.
_patched: list[tuple[Any, str, Any]] = []


def instrumented() -> bool:
    return bool(_patched)


def instrument(*, scope: ScopeSource = None, capture_content: bool | None = None) -> list[str]:
    """Instrument the LLM methods of every installed SDK (OpenAI, Anthropic, Ollama, LM Studio).

    ``scope`` is an ``EventScope`` or a callable taking no argument that returns one, asked at
    each call (default: the scope bound with ``bind_scope``). ``capture_content`` as for
    ``@llm_call``. Returns the names of the methods wrapped; calling it again while instrumented
    changes nothing and returns ``[]``. A method that cannot be wrapped is reported in
    ``stats()`` and left alone; only a ``scope`` of the wrong type raises (``TypeError``).
    """
    option = _scope_option(scope)
    done: list[str] = []
    with _lock:
        if _patched:
            return []
        for target in TARGETS:
            try:
                if _patch(target, option, capture_content):
                    done.append(f"{target.module}.{target.owner + '.' if target.owner else ''}{target.name}")
            except Exception as exc:  # noqa: BLE001 - one SDK's change must not stop the others
                _diagnostics.report("instrumentation_failed", f"cannot instrument {target}: {exc}", exc)
        _sdk_spans.install()
    return done


def uninstrument() -> None:
    """Put back every attribute ``instrument()`` replaced, exactly as it was."""
    with _lock:
        while _patched:
            holder, name, original = _patched.pop()
            setattr(holder, name, original)
        _sdk_spans.uninstall()


def _scope_option(scope: ScopeSource) -> _decorator.ScopeOption:
    if scope is None or isinstance(scope, EventScope):
        return scope
    if not callable(scope):
        raise TypeError(f"scope must be an EventScope or a callable, not {type(scope).__name__}")

    # The SDK method's arguments are the SDK's business, not the application's: the callable takes none.
    def from_callable(*_args: Any, **_kwargs: Any) -> EventScope:
        return scope()

    return from_callable


def _patch(target: Target, scope: _decorator.ScopeOption, capture_content: bool | None) -> bool:
    try:
        module = importlib.import_module(target.module)
    except ImportError:
        if importlib.util.find_spec(target.module.partition(".")[0]) is None:
            return False  # the SDK is not installed: nothing to do
        raise
    holder: Any = getattr(module, target.owner) if target.owner else module
    original = vars(holder).get(target.name)
    if original is None:
        raise AttributeError(f"this version of the SDK has no {target.name}")
    if isinstance(original, types.MethodType):
        # A method bound at import: wrap the class's function and bind it to the same client.
        wrapper: Any = types.MethodType(_wrap(original.__func__, scope, capture_content), original.__self__)
    elif callable(original):
        wrapper = _wrap(original, scope, capture_content)
    else:
        return False
    setattr(holder, target.name, wrapper)
    _patched.append((holder, target.name, original))
    return True


def _wrap(
    original: Callable[..., Any], scope: _decorator.ScopeOption, capture_content: bool | None
) -> Callable[..., Any]:
    options = _decorator._Options(original, None, None, scope, "chat", capture_content, True, None)
    # The OpenAI SDK's argument check wraps its coroutine functions in a plain function.
    if inspect.iscoroutinefunction(inspect.unwrap(original)):
        traced_async = _decorator._wrap_coroutine(original, options)

        @functools.wraps(original)
        async def async_method(*args: Any, **kwargs: Any) -> Any:
            outer = current_call.get()
            if outer is None:
                return await traced_async(*args, **kwargs)
            _nested_calls.before_inner(outer, args, kwargs)
            result = await original(*args, **kwargs)
            _nested_calls.after_inner(outer, result)
            return result

        return async_method

    traced = _decorator._wrap_plain(original, options)

    @functools.wraps(original)
    def method(*args: Any, **kwargs: Any) -> Any:
        outer = current_call.get()
        if outer is None:
            return traced(*args, **kwargs)
        _nested_calls.before_inner(outer, args, kwargs)
        result = original(*args, **kwargs)
        _nested_calls.after_inner(outer, result)
        return result

    return method
