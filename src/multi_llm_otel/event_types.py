"""The event type names of the multi-llm ``events`` module, spelled as the Rust crate spells them."""

from typing import Final

__all__ = ["CACHE_HIT", "CACHE_MISS", "ERROR", "LLM_ERROR", "LLM_REQUEST", "LLM_RESPONSE"]

LLM_REQUEST: Final = "llm_request"
LLM_RESPONSE: Final = "llm_response"
LLM_ERROR: Final = "llm_error"
CACHE_HIT: Final = "cache_hit"
CACHE_MISS: Final = "cache_miss"
ERROR: Final = "error"
