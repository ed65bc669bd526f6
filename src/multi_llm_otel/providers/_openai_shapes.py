"""Reading OpenAI-shaped responses: Chat Completions (and legacy Completions) and the Responses
API, as SDK objects or JSON alike. Pure functions; the extractor in ``openai`` chooses which."""

from __future__ import annotations

from multi_llm_otel.providers._base import (
    ResponseInfo,
    as_int,
    as_list,
    as_str,
    field_reader,
    get_field,
    get_path,
    inband_error,
)

__all__ = ["chat_info", "read_chat_usage", "responses_info"]


# --- Chat Completions -------------------------------------------------------------------------


def read_chat_usage(usage: object, info: ResponseInfo) -> None:
    if usage is None:
        return
    get = field_reader(usage)
    info.input_tokens = as_int(get("prompt_tokens"))
    info.output_tokens = as_int(get("completion_tokens"))
    details = get("prompt_tokens_details")
    in_details = field_reader(details) if details is not None else None
    info.cache_read_tokens = as_int(in_details("cached_tokens")) if in_details else None
    info.cache_write_tokens = as_int(in_details("cache_write_tokens")) if in_details else None
    info.caching_reported = info.cache_read_tokens is not None or info.cache_write_tokens is not None
    info.reasoning_tokens = as_int(get_field(get("completion_tokens_details"), "reasoning_tokens"))


def _choice_text(choice: object) -> str | None:
    message = get_field(choice, "message")
    if message is not None:
        return as_str(get_field(message, "content"))
    # Legacy Completions put the text on the choice itself.
    return as_str(get_field(choice, "text"))


def chat_info(obj: object) -> ResponseInfo:
    """A Chat Completion (or legacy Completion), SDK object or JSON; also LM Studio's ``/api/v0``."""
    get = field_reader(obj)
    info = ResponseInfo(response_model=as_str(get("model")), response_id=as_str(get("id")))
    read_chat_usage(get("usage"), info)
    choices = as_list(get("choices"))
    info.finish_reasons = [reason for c in choices if (reason := as_str(get_field(c, "finish_reason")))]
    if choices:
        info.output_text = _choice_text(choices[0])
    info.error = inband_error(get("error"))
    if get("timings") is not None:
        info.server_hint = "llama.cpp"
    return info


# --- Responses API ----------------------------------------------------------------------------


def _responses_text(obj: object) -> str | None:
    # The SDK's Response has an ``output_text`` property; raw JSON has to be walked.
    text = get_field(obj, "output_text")
    if isinstance(text, str):
        return text
    parts = [
        part_text
        for item in as_list(get_field(obj, "output"))
        if get_field(item, "type") == "message"
        for part in as_list(get_field(item, "content"))
        if get_field(part, "type") == "output_text" and (part_text := as_str(get_field(part, "text"))) is not None
    ]
    return "".join(parts) if parts else None


def responses_info(obj: object) -> ResponseInfo:
    """A Responses API ``Response``, SDK object or JSON.

    It has no per-choice finish reason: ``finish_reasons`` holds ``incomplete_details.reason``
    (``max_output_tokens``, ``content_filter``) when there is one, else the ``status``
    (``completed``, ``failed``, ``cancelled``...), as the API writes them.
    """
    info = ResponseInfo(
        response_model=as_str(get_field(obj, "model")),
        response_id=as_str(get_field(obj, "id")),
    )
    usage = get_field(obj, "usage")
    if usage is not None:
        info.input_tokens = as_int(get_field(usage, "input_tokens"))
        info.output_tokens = as_int(get_field(usage, "output_tokens"))
        details = get_field(usage, "input_tokens_details")
        info.cache_read_tokens = as_int(get_field(details, "cached_tokens"))
        info.cache_write_tokens = as_int(get_field(details, "cache_write_tokens"))
        info.caching_reported = info.cache_read_tokens is not None or info.cache_write_tokens is not None
        info.reasoning_tokens = as_int(get_path(usage, "output_tokens_details", "reasoning_tokens"))
    reason = as_str(get_path(obj, "incomplete_details", "reason")) or as_str(get_field(obj, "status"))
    if reason:
        info.finish_reasons = [reason]
    info.output_text = _responses_text(obj)
    info.error = inband_error(get_field(obj, "error"))
    return info
