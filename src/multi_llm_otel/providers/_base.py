"""What an extractor reads from a provider's objects, and the contract every extractor meets.

Extraction knows SDK shapes and nothing about OpenTelemetry; the decorator knows OpenTelemetry
and nothing about SDK shapes. Every function here is pure and must tolerate missing, ``None``
or wrongly typed fields by leaving the corresponding value ``None``.
"""

from __future__ import annotations

import functools
import math
import re
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(slots=True)
class RequestInfo:
    """Request parameters that are not content, read from the call's keyword arguments."""

    model: str | None = None
    stream: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    tool_count: int | None = None
    response_format: str | None = None
    # Prompt content: read only when the user opted in to content capture.
    messages: object = None
    # Anthropic's ``system``, the Responses API's ``instructions``, LM Studio's ``system_prompt``:
    # prompt content kept apart from ``messages`` by those APIs.
    system_instructions: object = None


@dataclass(slots=True)
class ErrorInfo:
    """A failure: an exception the SDK raised, or an error object inside a 200 response or stream."""

    error_type: str
    status_code: int | None = None
    error_code: str | None = None
    message: str | None = None


@dataclass(slots=True)
class ResponseInfo:
    """What one completed (or partly read) response says.

    ``input_tokens`` follows the GenAI conventions: it *includes* cached tokens, so an
    extractor for a provider that reports them apart (Anthropic) adds them in.
    ``caching_reported`` is true when the response carried a cache field at all, which is what
    separates a cache miss (reported, zero read) from no cache information.
    """

    response_model: str | None = None
    response_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    caching_reported: bool = False
    finish_reasons: list[str] = field(default_factory=list)
    output_text: str | None = None
    error: ErrorInfo | None = None
    # A server identity learnt from the response itself (llama.cpp adds "timings").
    server_hint: str | None = None


class StreamAccumulator(Protocol):
    """Fed every chunk a stream yields; asked once, at the end, for what was seen.

    An accumulator may also have a ``skip_text()`` method: the decorator calls it right after
    making the accumulator when content capture is off, so that it need not gather the
    answer's text (``output_text``), which is then never exported.
    """

    def add(self, chunk: object) -> None: ...

    def result(self) -> ResponseInfo: ...


class Extractor:
    """One provider's reader: subclass it, set ``name``, override what the provider has.

    The defaults own nothing, so an extractor claims exactly the objects its overrides
    recognise. Every method must be pure and must not raise on odd input: missing, ``None`` or
    wrongly typed fields leave the corresponding value ``None``. Recognise a provider's objects
    without importing its SDK (``lineage``, ``comes_from``), so the SDK stays optional.
    Register an instance with ``multi_llm_otel.providers.register``.
    """

    #: The provider name reported when the client's base URL names no other
    #: (a ``gen_ai.provider.name`` value where the conventions register one).
    name: str = ""

    #: Set it when every ``owns_*`` method answers by the object's class alone for instances
    #: of classes outside ``builtins`` that are neither mappings, lists, tuples nor modules
    #: (as ``lineage`` tests do): answers are then remembered per class instead of asking
    #: every extractor on every call. While any registered extractor leaves it unset, none
    #: is remembered.
    decides_by_class: bool = False

    def owns_client(self, obj: object) -> bool:
        """Whether ``obj`` is this SDK's client, one of its resource objects, or a bound method
        of one; the decorator looks for it among the call's arguments and the names it uses."""
        return False

    def base_url(self, obj: object) -> str | None:
        """The base URL a client (or resource) of this SDK talks to; it names the provider."""
        return None

    def owns_response(self, obj: object) -> bool:
        """Whether ``obj`` is a response of this provider: an SDK object, its JSON as a dict, a
        list of stream chunks, or one chunk (what a generator function yields first)."""
        return False

    def response(self, obj: object) -> ResponseInfo:
        """What an owned response says."""
        return ResponseInfo()

    def owns_stream(self, obj: object) -> bool:
        """Whether ``obj`` is a stream object of this SDK that the decorator should wrap."""
        return False

    def accumulator(self, stream: object) -> StreamAccumulator:
        """A fresh accumulator for one stream (``stream`` is ``None`` for a generator function's
        items). The default reads every chunk with ``response`` and merges the results: right
        for providers whose chunks carry running totals; override it when a faster or more
        exact reading exists."""
        return MergingAccumulator(self.response)

    def owns_error(self, exc: BaseException) -> bool:
        return False

    def error(self, exc: BaseException) -> ErrorInfo:
        """An owned exception; the default reads ``status_code`` and the masked message."""
        return generic_error(exc)

    def request(self, kwargs: Mapping[str, object]) -> RequestInfo:
        """Request parameters from the call's keyword arguments; the default reads the
        OpenAI-style names (``model``, ``stream``, ``max_tokens``, ``temperature``...)."""
        return RequestInfo(
            model=as_str(kwargs.get("model")),
            stream=kwargs.get("stream") is True,
            max_tokens=first_int(kwargs, "max_completion_tokens", "max_tokens", "max_output_tokens"),
            temperature=as_float(kwargs.get("temperature")),
            top_p=as_float(kwargs.get("top_p")),
            tool_count=item_count(kwargs.get("tools")),
            messages=kwargs.get("messages"),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def read_stream_items(accumulator: StreamAccumulator, obj: object) -> ResponseInfo:
    """Stream items the caller holds as a response (a collected list, or the one item a generator
    function yielded) read as the stream itself would have been."""
    for item in obj if isinstance(obj, (list, tuple)) else (obj,):
        accumulator.add(item)
    return accumulator.result()


class MergingAccumulator:
    """Reads each chunk on its own and keeps the latest value of every field: text is joined,
    counts, ids and finish reasons are taken from the last chunk that has them."""

    def __init__(self, read: Callable[[object], ResponseInfo]) -> None:
        self._read = read
        self._info = ResponseInfo()
        self._text: list[str] = []

    def add(self, chunk: object) -> None:
        part = self._read(chunk)
        info = self._info
        for name in _MERGED:
            value = getattr(part, name)
            if value is not None:
                setattr(info, name, value)
        info.caching_reported = info.caching_reported or part.caching_reported
        if part.finish_reasons:
            info.finish_reasons = list(part.finish_reasons)
        if part.output_text:
            self._text.append(part.output_text)

    def result(self) -> ResponseInfo:
        info = self._info
        info.output_text = "".join(self._text) if self._text else None
        return info


_MERGED = (
    "response_model",
    "response_id",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "error",
    "server_hint",
)


_CLASS_HAS: dict[tuple[type, str], bool] = {}


def _class_has(cls: type, name: str) -> bool:
    """Asked for every absent field of every chunk; a pydantic class answers slowly. The cache
    is bounded by the SDK's classes times the names the extractors read."""
    found = _CLASS_HAS.get((cls, name))
    if found is None:
        found = _CLASS_HAS[(cls, name)] = hasattr(cls, name)
    return found


def get_field(obj: object, name: str) -> object:
    """Read ``name`` from an SDK object or a mapping alike; ``None`` when absent."""
    # Called for every stream chunk: the common cases come first, before the ABC check. An
    # absent object (a usage without details) has no fields, and asking it costs most.
    if type(obj) is dict:
        return obj.get(name)
    if obj is None:
        return None
    # Pydantic keeps fields in ``__dict__`` and extras in ``__pydantic_extra__``; reading them
    # there skips ``__getattr__``, which raises (slowly) for each absent name, and stream chunks
    # are read for several names they usually lack (``timings``, ``error``).
    attrs = getattr(obj, "__dict__", None)
    if attrs is not None and name in attrs:
        return attrs[name]
    # A pydantic model is no mapping: its extras are looked at before the (slower) ABC test.
    extra = getattr(obj, "__pydantic_extra__", None)
    if type(extra) is dict:
        if name in extra:
            return extra[name]
        if not _class_has(type(obj), name):  # not a property either
            return None
    elif isinstance(obj, Mapping):
        return obj.get(name)
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None)
        if isinstance(extra, Mapping):
            return extra.get(name)
    return value


def field_reader(obj: object) -> Callable[[str], object]:
    """``get_field`` bound to ``obj``, for reading several fields of one object: a dict's own
    ``get``, a pydantic model's fields and extras gathered once (no property is read), and
    ``get_field`` itself for anything else."""
    if type(obj) is dict:
        return obj.get
    attrs = pydantic_fields(obj)
    if attrs is not None:
        extra = getattr(obj, "__pydantic_extra__", None)
        if not extra:
            return attrs.get
        if type(extra) is dict:
            # Declared fields win over extras of the same name, as in ``get_field``.
            return {**extra, **attrs}.get
    return functools.partial(get_field, obj)


def pydantic_fields(obj: object) -> dict[str, object] | None:
    """A pydantic model's declared fields as it holds them (its ``__dict__``); ``None`` for
    anything else. No mapping is a pydantic model, and this costs less than asking the
    ``Mapping`` ABC about one."""
    attrs = getattr(obj, "__dict__", None)
    return attrs if type(attrs) is dict and _class_has(type(obj), "__pydantic_fields__") else None


def generator_file(obj: object, qualnames: frozenset[str]) -> str | None:
    """The source file of a generator (or async generator) made by one of the functions named
    ``qualnames``; ``None`` for anything else. SDKs that stream through a generator function of
    their own (Ollama, Google Gen AI) are told apart by it: the generator has no class of theirs."""
    if getattr(obj, "__qualname__", None) not in qualnames:
        return None
    code = getattr(obj, "gi_code", None) or getattr(obj, "ag_code", None)
    filename = getattr(code, "co_filename", None)
    return filename if isinstance(filename, str) else None


def get_path(obj: object, *names: str) -> object:
    for name in names:
        if obj is None:
            return None
        obj = get_field(obj, name)
    return obj


_MAX_COUNT = 2**63 - 1


def as_int(value: object) -> int | None:
    """An integer count, or ``None``; ``bool``, negative or fractional numbers are not counts,
    and neither is a number past int64 (OTLP's integer, and what a histogram can record): a
    server's ``10**400`` costs that one value, not the span and the metrics with it."""
    if type(value) is int:  # nearly every count: one test instead of three
        return value if 0 <= value <= _MAX_COUNT else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= _MAX_COUNT else None
    if isinstance(value, float) and value.is_integer() and 0 <= value <= _MAX_COUNT:
        return int(value)
    return None


def as_float(value: object) -> float | None:
    """A finite number as a float, or ``None``: NaN and infinities have no JSON form (a sink
    would write a bare ``NaN``), and an integer too large for a float is no parameter."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def as_list(value: object) -> Sequence[object]:
    """A JSON array as a sequence; anything else (``None``, a string, a wrong type) as empty."""
    return value if isinstance(value, (list, tuple)) else ()


_LINEAGES: dict[type, frozenset[str]] = {}
_LINEAGE_CACHE_SIZE = 4096


def lineage(cls: type) -> frozenset[str]:
    """``"pkg"`` and ``"pkg.ClassName"`` for every class in ``cls.__mro__``.

    Recognising SDK objects by their top-level package and class name, never by importing the
    SDK, keeps the SDKs optional and survives their moving classes between private modules.
    Subclasses an application derives from SDK classes are recognised through the MRO. Cached
    per type, so an ownership test is a dictionary look-up and a set membership.
    """
    names = _LINEAGES.get(cls)
    if names is None:
        names = frozenset(
            name
            for klass in cls.__mro__
            for root in (str(klass.__module__).partition(".")[0],)
            for name in (root, f"{root}.{klass.__name__}")
        )
        # Bounded for programs that make classes at run time (parametrised generics).
        if len(_LINEAGES) < _LINEAGE_CACHE_SIZE:
            _LINEAGES[cls] = names
    return names


def bound_owner(obj: object) -> object:
    """The object a bound method belongs to (``client.chat`` of ``ollama.chat``); else ``obj``."""
    # ``type() is``, not ``isinstance``: that would read the object's ``__class__``, which an
    # application object may compute (and fail in).
    return obj.__self__ if type(obj) is types.MethodType else obj


def entered_stream(manager: object) -> object:
    """The stream a ``with client....stream(...)`` manager handed out, once entered.

    The OpenAI and Anthropic stream managers keep it in a private ``__stream`` attribute: the
    only way back to the helper's own snapshot when the decorator was handed the manager.
    """
    for klass in type(manager).__mro__:
        stream = getattr(manager, f"_{klass.__name__}__stream", None)
        if stream is not None:
            return stream
    return None


MESSAGE_LIMIT = 500
_MASK = "[REDACTED]"

# Error texts sometimes echo a credential: a proxy's message quoting the key, a header, a URL.
# Each alternative keeps what names the secret (group 1, possibly empty) and masks the value.
_SECRET = re.compile(
    r"""(?ix)
    \b((?:bearer|basic)\s+)[^\s"',]+                       # Authorization schemes
    | \b((?:x-api-key|api[_-]?key|x-goog-api-key|access[_-]?token|client[_-]?secret|password)
         ["']?\s*[:=]\s*["']?)[^\s"',;&}]+                 # header, JSON or form fields
    | ([?&;](?:key|token|auth|sig|signature|secret)=)[^\s&#"']+   # URL query parameters
    | ()\b(?:sk|gsk|xai|pk|rk)[-_][A-Za-z0-9_\-]{6,}       # vendor key formats (sk-, gsk_, ...)
    | ()\bAIza[0-9A-Za-z_\-]{20,}                         # Google API keys
    """
)
# A configured key shorter than this would mask ordinary words in every message.
_MIN_SECRET = 6
_MAX_SECRETS = 64
_configured: list[str] = []
_configured_pattern: list[re.Pattern[str] | None] = [None]


def remember_secret(value: object) -> None:
    """Mask ``value`` (an API key a client was configured with) in every exported error text,
    whatever its shape. Kept in memory only, like the client that holds it."""
    if not isinstance(value, str) or len(value) < _MIN_SECRET or value in _configured:
        return
    if len(_configured) >= _MAX_SECRETS:
        del _configured[0]
    _configured.append(value)
    # Longest first, so a key that contains another is masked whole.
    alternatives = "|".join(re.escape(k) for k in sorted(_configured, key=len, reverse=True))
    _configured_pattern[0] = re.compile(alternatives)


def remember_client_secrets(client: object) -> None:
    """The API key (and Anthropic's auth token) of an SDK client, or of a resource's client.
    Read from the instance dictionaries only: no property or ``__getattr__`` runs."""
    for target in (client, instance_attrs(client).get("_client")):
        attrs = instance_attrs(target)
        for name in ("api_key", "auth_token", "_api_key"):
            remember_secret(attrs.get(name))


def instance_attrs(obj: object) -> dict[str, object]:
    """An object's instance dictionary, read without running any of its code (no property, no
    ``__getattr__``): for objects of the application's that the instrumentation only looks at."""
    try:
        attrs = object.__getattribute__(obj, "__dict__")
    except KeyboardInterrupt:
        raise
    except BaseException:  # noqa: BLE001 - no __dict__, or a hostile one: nothing to look at
        return {}
    return attrs if type(attrs) is dict else {}


def mask_secrets(text: str) -> str:
    pattern = _configured_pattern[0]
    if pattern is not None:
        text = pattern.sub(_MASK, text)
    return _SECRET.sub(lambda m: f"{m.group(1) or m.group(2) or m.group(3) or ''}{_MASK}", text)


def error_message(text: object) -> str | None:
    """The one rule for an error text fit for telemetry (the ``llm_error`` message, the span
    status, ``exception.message``): credentials masked, at most ``MESSAGE_LIMIT`` characters,
    lone surrogates replaced. Idempotent."""
    if not isinstance(text, str) or not text:
        return None
    # Masked before it is cut, so a secret across the cut is masked whole, not left half visible.
    masked = mask_secrets(str.__str__(text)[: MESSAGE_LIMIT * 2])[:MESSAGE_LIMIT]
    if masked.isascii():
        return masked
    try:
        masked.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in masked)
    return masked


def provider_code(err: object) -> str | None:
    """The provider's error code: ``code`` when a string, else the error's ``type``.

    llama-server puts the HTTP status (an int) in ``code`` and its real code in ``type``
    (``exceed_context_size_error``); OpenAI leaves ``code`` null for some errors whose ``type``
    still says what went wrong (``invalid_request_error``).
    """
    code = get_field(err, "code")
    if isinstance(code, str) and code:
        return code
    return as_str(get_field(err, "type"))


def inband_error(err: object) -> ErrorInfo | None:
    """An error object a server put in a 200 response or a stream, as ``ErrorInfo``.

    There is no exception class to name, so ``error_type`` is the provider's own error type
    (``overloaded_error``, ``server_error``) or ``"error"`` for a bare message (Ollama).
    """
    # Falsy or numeric is "no error", as the Ollama SDK reads its ``error`` lines too.
    if not err or isinstance(err, (bool, int, float)):
        return None
    if isinstance(err, str):
        return ErrorInfo(error_type="error", message=error_message(err))
    code = provider_code(err)
    # llama-server's int ``code`` is the HTTP status the error would have had.
    status = as_int(get_field(err, "code"))
    return ErrorInfo(
        error_type=as_str(get_field(err, "type")) or code or "error",
        status_code=status if status is not None and 100 <= status <= 599 else None,
        error_code=code,
        message=error_message(get_field(err, "message")),
    )


def first_int(source: Mapping[str, object], *keys: str) -> int | None:
    for key in keys:
        n = as_int(source.get(key))
        if n is not None:
            return n
    return None


def item_count(value: object) -> int | None:
    """The length of a request's list argument (``tools``); ``None`` when it is not a list."""
    return len(value) if isinstance(value, (list, tuple)) else None


def http_base_url(obj: object) -> str | None:
    """The base URL of an HTTP SDK's client (OpenAI, Anthropic), or of one of its resources."""
    target = bound_owner(obj)
    # Both SDKs' clients keep what their ``base_url`` property returns in an attribute, and
    # their resources (``client.chat.completions``) keep the client in ``_client``: read there,
    # it costs dictionary look-ups instead of properties behind attribute misses (OpenAI's
    # imports a module on every read). A client's own ``_client`` is its HTTP client.
    url = _kept_base_url(target)
    if url is None and not hasattr(type(target), "base_url"):
        attrs = getattr(target, "__dict__", None)
        url = _kept_base_url(attrs.get("_client")) if type(attrs) is dict else None
    if url is None:
        url = get_field(target, "base_url")
    if url is None:
        url = get_path(target, "_client", "base_url")
    if url is None or type(url) is str:
        return url
    # The SDKs' URL objects are immutable and slow to turn into text, which every call asks for.
    known = _URL_TEXT.get(id(url))
    if known is not None and known[0] is url:
        return known[1]
    text = str(url)
    if len(_URL_TEXT) >= _URLS_REMEMBERED:
        _URL_TEXT.clear()
    _URL_TEXT[id(url)] = (url, text)
    return text


def _kept_base_url(client: object) -> object:
    """What the client's ``base_url`` property returns, from where the current OpenAI SDK
    (``_configured_base_url``) or Anthropic's and earlier OpenAI's (``_base_url``) keep it;
    ``None`` if neither."""
    attrs = getattr(client, "__dict__", None)
    if type(attrs) is not dict:
        return None
    url = attrs.get("_configured_base_url")
    return attrs.get("_base_url") if url is None else url


_URLS_REMEMBERED = 64
# By identity, with the object held so that its id stays its own.
_URL_TEXT: dict[int, tuple[object, str]] = {}


def generic_error(exc: BaseException) -> ErrorInfo:
    """Any exception: its class name, an integer ``status_code`` attribute, its masked text."""
    status = as_int(getattr(exc, "status_code", None))
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises is still an error
        text = None
    return ErrorInfo(
        error_type=type(exc).__qualname__,
        status_code=status if status is not None and 100 <= status <= 599 else None,
        message=error_message(text),
    )


_ORIGINS: dict[tuple[type, str], bool] = {}


def comes_from(cls: type, package: str) -> bool:
    """Whether ``cls`` or a base class is defined in ``package`` or one of its submodules.

    ``lineage`` knows top-level packages only; this is for SDKs under a namespace package
    (``google.genai``) whose top-level name other packages share. Cached per class and package.
    """
    key = (cls, package)
    found = _ORIGINS.get(key)
    if found is None:
        prefix = package + "."
        found = any(
            module == package or module.startswith(prefix) for module in (str(k.__module__) for k in cls.__mro__)
        )
        if len(_ORIGINS) < _LINEAGE_CACHE_SIZE:
            _ORIGINS[key] = found
    return found
