"""Which provider a client really talks to, from the base URL it was given.

The SDK is not the provider: an OpenAI client pointed at Ollama, LM Studio or llama.cpp is talking
to that server, and telemetry that says ``openai`` there would mislead every dashboard. Names
follow ``gen_ai.provider.name`` where the conventions register one; Ollama, LM Studio and
llama.cpp have none, so they get plain names of their own (``server.address`` is kept as well).
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

# Hosts first: they identify a service whatever port a proxy puts it on.
_HOSTS = {
    "api.openai.com": "openai",
    "api.anthropic.com": "anthropic",
    "api.deepseek.com": "deepseek",
    "api.groq.com": "groq",
    "api.mistral.ai": "mistral_ai",
    "api.x.ai": "x_ai",
    "generativelanguage.googleapis.com": "gcp.gemini",
    "ollama.com": "ollama",
}
# (prefix, suffix, provider) for services with one host per region or resource.
_HOST_PATTERNS = (
    ("", ".openai.azure.com", "azure.ai.openai"),
    # Azure OpenAI resources created since 2025 answer on the Cognitive Services domain.
    ("", ".cognitiveservices.azure.com", "azure.ai.openai"),
    ("", "-aiplatform.googleapis.com", "gcp.vertex_ai"),
    ("bedrock-runtime.", ".amazonaws.com", "aws.bedrock"),
)
# Local servers are known only by their default ports.
_PORTS = {
    11434: "ollama",
    1234: "lmstudio",
    8080: "llama.cpp",
    9931: "llama.cpp",
}
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


@functools.lru_cache(maxsize=256)
def provider_from_base_url(url: str | None, default: str) -> tuple[str, str | None, int | None]:
    """``(provider name, server.address, server.port)`` for a client's base URL.

    ``default`` (the SDK's own provider) is the answer for a URL nothing here recognises. The port
    is the URL's, or its scheme's default when the URL names none, as ``server.port`` is
    required whenever ``server.address`` is set.
    """
    if not url:
        return default, None, None
    # Ollama's OLLAMA_HOST and LM Studio's api_host are often "host:port" with no scheme.
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname
    if not host:
        return default, None, None
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = _DEFAULT_PORTS.get(parts.scheme.lower())
    name = _HOSTS.get(host)
    if name is None:
        name = next(
            (
                provider
                for prefix, suffix, provider in _HOST_PATTERNS
                if host.startswith(prefix) and host.endswith(suffix)
            ),
            None,
        )
    if name is None and port is not None:
        name = _PORTS.get(port)
    return name or default, host, port
