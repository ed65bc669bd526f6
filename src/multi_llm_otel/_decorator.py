"""``@llm_call``: request, response, error and cache events, a GenAI client span and metrics
for every call of the decorated function, whatever kind of function it is.

Everything that can be decided once per function (its kind, its signature, the options) is
decided at decoration time; the per-call path only reads arguments and the result.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Generator, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context

from multi_llm_otel import _diagnostics, _nested_calls, _sdk_spans, providers
from multi_llm_otel._content_capture import enabled_by_env
from multi_llm_otel._emitter import active
from multi_llm_otel._events import EventScope
from multi_llm_otel._guard import contained, never_raise
from multi_llm_otel._invocation import Call
from multi_llm_otel._provider_choice import ProviderChoice, find_client, locate_client, read_request
from multi_llm_otel._request_observer import current_call
from multi_llm_otel._scope_binding import current_scope
from multi_llm_otel._streams import proxy_type

__all__ = ["llm_call", "record_cache"]

F = TypeVar("F", bound=Callable[..., Any])
ScopeOption = EventScope | Callable[..., EventScope] | None

_current_call: ContextVar[Call | None] = current_call


def record_cache(hit: bool, *, key: str | None = None) -> None:
    """Say, inside a decorated function, that it answered from (or missed) the application's own
    response cache. Emits ``cache_hit``/``cache_miss`` with ``cache: "application"`` on the call,
    and the provider cache events are then not emitted for it."""
    call = _current_call.get()
    if call is None:
        _diagnostics.report("record_cache_outside_call", "record_cache() was called outside an @llm_call function")
        return
    with contained():
        call.record_application_cache(bool(hit), key)


class _Options:
    __slots__ = (
        "_func",
        "_reach",
        "_scanned",
        "capture_content",
        "client",
        "model",
        "operation",
        "own_span",
        "provider",
        "scope",
    )

    def __init__(
        self,
        func: Callable[..., Any],
        provider: str | None,
        model: str | None,
        scope: ScopeOption,
        operation: str,
        capture_content: bool | None,
        own_span: bool,
        client: object,
    ) -> None:
        self.provider = provider
        self.model = model
        self.scope = scope
        self.operation = operation
        self.capture_content = capture_content
        self.own_span = own_span
        # A decorated SDK method (``llm_call(client.chat.completions.create)``) knows its client.
        self.client = client if client is not None else getattr(func, "__self__", None)
        self._func = func
        self._reach: Callable[[], object] | None = None
        self._scanned = False

    def reachable_client(self) -> object:
        """A client the function uses without taking it as an argument: a closure variable or
        a module global it names (the usual ``client = OpenAI()`` at module level). Located on
        the first call; read again on every call, since a global may be rebound."""
        if not self._scanned:
            self._scanned = True
            self._reach = locate_client(self._func)
        return self._reach() if self._reach is not None else None


def _resolve_scope(option: ScopeOption, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> EventScope:
    if option is None:
        return current_scope()
    if isinstance(option, EventScope):
        return option
    scope = _scope_from(option, args, kwargs)
    return scope if scope is not None else current_scope()


@never_raise("scope_callable_failed")
def _scope_from(
    option: Callable[..., EventScope], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> EventScope | None:
    scope: object = option(*args, **kwargs)
    if isinstance(scope, EventScope):
        return scope
    _diagnostics.report("scope_callable_failed", f"it returned {type(scope).__name__}, not an EventScope")
    return None


@never_raise()
def _begin(
    options: _Options, args: tuple[Any, ...], kwargs: Mapping[str, Any], *, streams: bool = False
) -> Call | None:
    """The call's lifecycle, or ``None``: the call then goes ahead uninstrumented."""
    _sdk_spans.prepare()
    extractor, client = find_client(options.client, (*args, *kwargs.values(), options.reachable_client()))
    request = read_request(extractor, kwargs)
    # A generator function streams whatever its arguments say.
    request.stream = request.stream or streams
    capture = options.capture_content if options.capture_content is not None else enabled_by_env()
    return Call(
        active(),
        choice=ProviderChoice(options.provider, extractor, client),
        model=options.model or request.model,
        operation=options.operation,
        scope=_resolve_scope(options.scope, args, kwargs),
        request=request,
        capture_content=capture,
        own_span=options.own_span,
    )


def _attach(call: Call) -> tuple[object, object]:
    """Make the call's span current for a stretch of code that cannot yield control away."""
    ctx = call.context if call.context is not None else otel_context.get_current()
    return otel_context.attach(ctx), _current_call.set(call)


def _detach(tokens: tuple[object, object]) -> None:
    _current_call.reset(tokens[1])  # type: ignore[arg-type]
    otel_context.detach(tokens[0])  # type: ignore[arg-type]


def _settle(call: Call, result: Any) -> Any:
    """Finish a call that returned ``result``, or hand back a watching proxy for a stream."""
    with contained() as attempt:
        extractor = providers.for_stream(result)
        if extractor is None and not (inspect.isgenerator(result) or inspect.isasyncgen(result)):
            call.finish_response(_nested_calls.response_of(call, result))
            return result
        call.begin_stream(extractor, result)
        return proxy_type(result)(result, call)
    if attempt.failed:
        call.finish_stream(completed=False)
    return result


def _wrap_plain(func: Callable[..., Any], options: _Options) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = _begin(options, args, kwargs)
        if call is None:
            return func(*args, **kwargs)
        tokens = _attach(call)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            _detach(tokens)
            call.fail(exc)
            raise
        _detach(tokens)
        if inspect.iscoroutine(result):
            # An SDK's async method (``llm_call(aclient.chat.completions.create)``), an object
            # with ``async def __call__``, a function returning ``aclient...create(...)``: the
            # request runs when the caller awaits, and the call ends then.
            pending = _settle_when_awaited(call, result)
            # Never awaited (a bug the interpreter warns about): the span still ends.
            weakref.finalize(pending, call.abandon)
            return pending
        return _settle(call, result)

    return wrapper


async def _settle_when_awaited(call: Call, awaitable: Coroutine[Any, Any, Any]) -> Any:
    tokens = _attach(call)
    try:
        result = await awaitable
    except BaseException as exc:
        _detach(tokens)
        call.fail(exc)
        raise
    _detach(tokens)
    return _settle(call, result)


def _wrap_coroutine(func: Callable[..., Awaitable[Any]], options: _Options) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = _begin(options, args, kwargs)
        if call is None:
            return await func(*args, **kwargs)
        tokens = _attach(call)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            _detach(tokens)
            call.fail(exc)
            raise
        _detach(tokens)
        return _settle(call, result)

    return wrapper


def _wrap_generator(
    func: Callable[..., Generator[Any, Any, Any]], options: _Options
) -> Callable[..., Generator[Any, Any, Any]]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = _begin(options, args, kwargs, streams=True)
        if call is None:
            return (yield from func(*args, **kwargs))
        call.begin_stream(None, None)
        tokens = _attach(call)
        try:
            gen = func(*args, **kwargs)
        finally:
            _detach(tokens)
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            # The span is current only while the generator body runs, never across our yield.
            tokens = _attach(call)
            try:
                item = gen.throw(to_throw) if to_throw is not None else gen.send(to_send)
            except StopIteration as stop:
                call.finish_stream(completed=True)
                return stop.value
            except BaseException as exc:
                call.fail(exc)
                raise
            finally:
                _detach(tokens)
            call.generated(item)
            to_send, to_throw = None, None
            try:
                to_send = yield item
            except GeneratorExit:
                try:
                    gen.close()
                finally:
                    call.finish_stream(completed=False)
                raise
            except BaseException as exc:  # noqa: BLE001 - handed on to the wrapped generator
                to_throw = exc

    return wrapper


def _wrap_async_generator(
    func: Callable[..., AsyncGenerator[Any, Any]], options: _Options
) -> Callable[..., AsyncGenerator[Any, Any]]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = _begin(options, args, kwargs, streams=True)
        agen = func(*args, **kwargs)
        if call is None:
            async for item in agen:
                yield item
            return
        call.begin_stream(None, None)
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            tokens = _attach(call)
            try:
                if to_throw is not None:
                    item = await agen.athrow(to_throw)
                else:
                    item = await agen.asend(to_send)
            except StopAsyncIteration:
                call.finish_stream(completed=True)
                return
            except BaseException as exc:
                call.fail(exc)
                raise
            finally:
                _detach(tokens)
            call.generated(item)
            to_send, to_throw = None, None
            try:
                to_send = yield item
            except GeneratorExit:
                try:
                    await agen.aclose()
                finally:
                    call.finish_stream(completed=False)
                raise
            except BaseException as exc:  # noqa: BLE001 - handed on to the wrapped generator
                to_throw = exc

    return wrapper


@overload
def llm_call(func: F) -> F: ...


@overload
def llm_call(
    func: None = None,
    *,
    provider: str | None = None,
    model: str | None = None,
    scope: ScopeOption = None,
    operation: str = "chat",
    capture_content: bool | None = None,
    own_span: bool = True,
    client: object = None,
) -> Callable[[F], F]: ...


def llm_call(
    func: Callable[..., Any] | None = None,
    *,
    provider: str | None = None,
    model: str | None = None,
    scope: ScopeOption = None,
    operation: str = "chat",
    capture_content: bool | None = None,
    own_span: bool = True,
    client: object = None,
) -> Any:
    """Instrument a function that calls an LLM: use bare (``@llm_call``) or with options.

    ``provider`` and ``model`` override what is read from the client, the keyword arguments and
    the response. ``scope`` is an ``EventScope`` or a callable given the call's arguments that
    returns one (default: the scope bound with ``bind_scope``). ``capture_content`` exports
    prompt and completion text (default: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``).
    ``own_span=False`` creates no span and records no metrics, attaching the events to the
    current span instead: for programs that already run another GenAI instrumentation.
    """

    def decorate(target: Any) -> Any:
        if isinstance(target, (classmethod, staticmethod)):
            # Above ``@classmethod`` / ``@staticmethod``: instrument the function inside.
            return type(target)(decorate(target.__func__))
        options = _Options(target, provider, model, scope, operation, capture_content, own_span, client)
        if inspect.isasyncgenfunction(target):
            return _wrap_async_generator(target, options)
        if inspect.isgeneratorfunction(target):
            return _wrap_generator(target, options)
        if inspect.iscoroutinefunction(target):
            return _wrap_coroutine(target, options)
        return _wrap_plain(target, options)

    if func is not None:
        return decorate(func)
    return decorate
