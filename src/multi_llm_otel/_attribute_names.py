"""Every attribute and instrument name this library exports, in one table.

The span, the events, the metrics and the mapping of metadata keys all read their names here,
so a renamed convention (``cache_creation`` became ``cache_write``) is one edit. Names follow
the OpenTelemetry GenAI semantic conventions where they define one; ``multi_llm.*`` names are
this library's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# GenAI semantic conventions.
OPERATION_NAME: Final = "gen_ai.operation.name"
PROVIDER_NAME: Final = "gen_ai.provider.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
REQUEST_TOP_P: Final = "gen_ai.request.top_p"
REQUEST_STREAM: Final = "gen_ai.request.stream"
RESPONSE_MODEL: Final = "gen_ai.response.model"
RESPONSE_ID: Final = "gen_ai.response.id"
RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
USAGE_CACHE_WRITE_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
USAGE_REASONING_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
CONVERSATION_ID: Final = "gen_ai.conversation.id"
TOKEN_TYPE: Final = "gen_ai.token.type"  # noqa: S105 - an attribute name

# General semantic conventions.
ERROR_TYPE: Final = "error.type"
HTTP_STATUS_CODE: Final = "http.response.status_code"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
SESSION_ID: Final = "session.id"
USER_ID: Final = "user.id"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"

# This library's own.
EVENT_ID: Final = "multi_llm.event.id"
EVENT_SCOPE: Final = "multi_llm.event.scope"
DROPPED_KEYS: Final = "multi_llm.metadata.dropped_keys"
TRUNCATED_KEYS: Final = "multi_llm.metadata.truncated_keys"
STREAM_CHUNKS: Final = "multi_llm.stream.chunks"
STREAM_COMPLETED: Final = "multi_llm.stream.completed"

# Instruments: (name, unit, description).
TOKEN_USAGE: Final = ("gen_ai.client.token.usage", "{token}", "Number of input and output tokens used")
OPERATION_DURATION: Final = ("gen_ai.client.operation.duration", "s", "GenAI operation duration")
TIME_TO_FIRST_CHUNK: Final = (
    "gen_ai.client.operation.time_to_first_chunk",
    "s",
    "Time to receive the first chunk of a streamed response",
)
# "{USD}": UCUM has no currency unit, and the annotation keeps the currency out of the Prometheus
# name (``multi_llm_client_cost_total``).
COST: Final = ("multi_llm.client.cost", "{USD}", "Cost of LLM responses in US dollars, where a price is known")
COST_TYPE: Final = "multi_llm.cost.type"

# Request parameters: the ``RequestInfo`` field, which is also the metadata key, and its attribute.
REQUEST_PARAMETERS: Final = (
    ("max_tokens", REQUEST_MAX_TOKENS),
    ("temperature", REQUEST_TEMPERATURE),
    ("top_p", REQUEST_TOP_P),
)
# Response values: the ``ResponseInfo`` field, which is also the metadata key, and its attribute.
RESPONSE_VALUES: Final = (
    ("response_model", RESPONSE_MODEL),
    ("response_id", RESPONSE_ID),
    ("input_tokens", USAGE_INPUT_TOKENS),
    ("output_tokens", USAGE_OUTPUT_TOKENS),
    ("cache_read_tokens", USAGE_CACHE_READ_TOKENS),
    ("cache_write_tokens", USAGE_CACHE_WRITE_TOKENS),
    ("reasoning_tokens", USAGE_REASONING_TOKENS),
)

# Well-known metadata keys and their semantic-convention names. An event keeps the original key
# as well, so the mapping is lossless.
GENAI_NAMES: Final[Mapping[str, str]] = {
    "provider": PROVIDER_NAME,
    "operation": OPERATION_NAME,
    "model": REQUEST_MODEL,
    **dict(REQUEST_PARAMETERS),
    **dict(RESPONSE_VALUES),
    "finish_reasons": RESPONSE_FINISH_REASONS,
    "prompt_tokens": USAGE_INPUT_TOKENS,
    "completion_tokens": USAGE_OUTPUT_TOKENS,
    "cache_creation_tokens": USAGE_CACHE_WRITE_TOKENS,
    "conversation_id": CONVERSATION_ID,
    "error_type": ERROR_TYPE,
    "status_code": HTTP_STATUS_CODE,
    "server_address": SERVER_ADDRESS,
    "server_port": SERVER_PORT,
    "session_id": SESSION_ID,
}
