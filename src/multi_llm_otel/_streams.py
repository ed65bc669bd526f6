"""Transparent proxies for streams an LLM call returns.

The caller keeps the object it expects: ``isinstance`` checks, attributes, helper methods,
context managers and ``close()`` all pass through. The proxy only watches: every item the
consumer receives is counted and given to the provider's accumulator, and the call ends
exactly once, when the stream is exhausted, fails, is closed or left early, or is dropped.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from time import perf_counter
from typing import Any

from multi_llm_otel._guard import contained
from multi_llm_otel._invocation import Call
from multi_llm_otel._request_observer import current_call

# Helper methods that consume the rest of the stream internally, past the proxy's iterator.
_DRAINING = frozenset(
    {"get_final_message", "get_final_text", "until_done", "get_final_completion", "get_final_response"}
)


class _Proxy:
    __slots__ = ("__weakref__", "_ml_call", "_ml_iter", "_ml_wrapped")

    def __init__(self, wrapped: Any, call: Call) -> None:
        object.__setattr__(self, "_ml_wrapped", wrapped)
        object.__setattr__(self, "_ml_call", call)
        object.__setattr__(self, "_ml_iter", None)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # so isinstance() sees the wrapped SDK type
        return type(self._ml_wrapped)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._ml_wrapped, name)
        if name in _DRAINING and callable(value):
            return _draining(value, self._ml_call)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._ml_wrapped, name, value)

    def __repr__(self) -> str:
        return repr(self._ml_wrapped)

    def __del__(self) -> None:
        # Dropped unconsumed or half read: end the call with what was seen.
        with contained():
            self._ml_call.finish_stream(completed=False)

    def _child(self, inner: Any) -> Any:
        """What ``__enter__`` returns: the same proxy, or a proxy of the helper it made."""
        if inner is self._ml_wrapped:
            return self
        return type(self)(inner, self._ml_call)


def _draining(method: Any, call: Call) -> Any:
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            result = method(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        call.finish_stream(completed=True)
        return result

    async def arun(*args: Any, **kwargs: Any) -> Any:
        try:
            result = await method(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        call.finish_stream(completed=True)
        return result

    return arun if inspect.iscoroutinefunction(method) else run


class StreamProxy(_Proxy):
    """A synchronous stream, iterator or stream manager."""

    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        if self._ml_iter is None:
            object.__setattr__(self, "_ml_iter", iter(self._ml_wrapped))
        return _watching(self)

    def __next__(self) -> Any:
        it = self._ml_iter
        if it is None:
            it = iter(self._ml_wrapped)
            object.__setattr__(self, "_ml_iter", it)
        try:
            item = next(it)
        except StopIteration:
            self._ml_call.finish_stream(completed=True)
            raise
        except BaseException as exc:
            self._ml_call.fail(exc)
            raise
        self._ml_call.chunk(item)
        return item

    def __enter__(self) -> Any:
        # A stream manager sends its request on entering: that request is this call's.
        token = current_call.set(self._ml_call)
        try:
            inner = self._ml_wrapped.__enter__()
        finally:
            current_call.reset(token)
        return self._child(inner)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self._ml_wrapped.__exit__(exc_type, exc, tb)
        finally:
            if exc is not None:
                self._ml_call.fail(exc)
            else:
                self._ml_call.finish_stream(completed=False)

    def close(self) -> Any:
        try:
            return self._ml_wrapped.close()
        finally:
            self._ml_call.finish_stream(completed=False)


class AsyncStreamProxy(_Proxy):
    """An asynchronous stream, async iterator or async stream manager."""

    __slots__ = ()

    def __aiter__(self) -> AsyncStreamProxy:
        # The proxy itself, not an asynchronous generator: one left early is finalised by the
        # event loop later, and the call must end when the consumer drops the stream.
        if self._ml_iter is None:
            object.__setattr__(self, "_ml_iter", self._ml_wrapped.__aiter__())
        return self

    async def __anext__(self) -> Any:
        it = self._ml_iter
        if it is None:
            it = self._ml_wrapped.__aiter__()
            object.__setattr__(self, "_ml_iter", it)
        try:
            item = await it.__anext__()
        except StopAsyncIteration:
            self._ml_call.finish_stream(completed=True)
            raise
        except BaseException as exc:
            self._ml_call.fail(exc)
            raise
        self._ml_call.chunk(item)
        return item

    async def __aenter__(self) -> Any:
        token = current_call.set(self._ml_call)
        try:
            inner = await self._ml_wrapped.__aenter__()
        finally:
            current_call.reset(token)
        return self._child(inner)

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self._ml_wrapped.__aexit__(exc_type, exc, tb)
        finally:
            if exc is not None:
                self._ml_call.fail(exc)
            else:
                self._ml_call.finish_stream(completed=False)

    async def close(self) -> Any:
        try:
            return await self._ml_wrapped.close()
        finally:
            self._ml_call.finish_stream(completed=False)

    async def aclose(self) -> Any:
        try:
            return await self._ml_wrapped.aclose()
        finally:
            self._ml_call.finish_stream(completed=False)


def _watching(proxy: StreamProxy) -> Iterator[Any]:
    """What ``iter(proxy)`` returns (a ``for`` loop's iterator, as the SDKs' streams return one
    too): a generator costs less per item than the proxy's ``__next__`` method, and it holds
    the proxy, whose finaliser ends the call once the consumer lets go. It ends the call when
    the stream is exhausted or raises; a consumer leaving early closes it (``GeneratorExit``),
    which leaves the ending to the proxy."""
    call = proxy._ml_call
    # ``Call.chunk`` inlined: this runs for every chunk of every stream.
    record = call.record
    add = None if call.accumulator is None else call.accumulator.add
    try:
        for item in proxy._ml_iter:
            if record.first_chunk_at is None:
                record.first_chunk_at = perf_counter()
            record.chunks += 1
            if add is not None:
                try:
                    add(item)
                except Exception as exc:  # noqa: BLE001 - as in Call.chunk: it drops the accumulator
                    add = None
                    call.unreadable_chunk(exc)
            yield item
    except GeneratorExit:
        raise
    except BaseException as exc:
        call.fail(exc)
        raise
    call.finish_stream(completed=True)


class DualStreamProxy(StreamProxy, AsyncStreamProxy):
    """A stream that iterates either way (LiteLLM's ``CustomStreamWrapper`` serves ``completion``
    and ``acompletion`` alike): the consumer's choice decides."""

    __slots__ = ()


def is_async_stream(obj: object) -> bool:
    return hasattr(obj, "__aiter__") or hasattr(obj, "__aenter__")


def proxy_type(obj: object) -> type[_Proxy]:
    if hasattr(obj, "__iter__") and hasattr(obj, "__aiter__"):
        return DualStreamProxy
    return AsyncStreamProxy if is_async_stream(obj) else StreamProxy
