"""``provider_from_base_url``: the provider a client really talks to, with server address and port."""

from __future__ import annotations

import pytest

from multi_llm_otel.providers import provider_from_base_url


@pytest.mark.parametrize(
    ("url", "default", "expected"),
    [
        ("https://api.openai.com/v1/", "openai", ("openai", "api.openai.com", 443)),
        (
            "https://my-res.openai.azure.com/openai/deployments/gpt4",
            "openai",
            ("azure.ai.openai", "my-res.openai.azure.com", 443),
        ),
        (
            "https://my-res.cognitiveservices.azure.com/",
            "openai",
            ("azure.ai.openai", "my-res.cognitiveservices.azure.com", 443),
        ),
        ("https://api.anthropic.com", "anthropic", ("anthropic", "api.anthropic.com", 443)),
        ("http://localhost:11434/v1", "openai", ("ollama", "localhost", 11434)),
        ("http://127.0.0.1:11434", "ollama", ("ollama", "127.0.0.1", 11434)),
        ("http://localhost:1234/v1", "openai", ("lmstudio", "localhost", 1234)),
        ("http://localhost:1234", "anthropic", ("lmstudio", "localhost", 1234)),
        ("ws://127.0.0.1:1234", "lmstudio", ("lmstudio", "127.0.0.1", 1234)),
        ("http://127.0.0.1:8080/v1", "openai", ("llama.cpp", "127.0.0.1", 8080)),
        ("http://127.0.0.1:9931", "anthropic", ("llama.cpp", "127.0.0.1", 9931)),
        ("https://api.deepseek.com", "openai", ("deepseek", "api.deepseek.com", 443)),
        ("https://api.groq.com/openai/v1", "openai", ("groq", "api.groq.com", 443)),
        ("https://api.mistral.ai/v1", "openai", ("mistral_ai", "api.mistral.ai", 443)),
        ("https://api.x.ai/v1", "openai", ("x_ai", "api.x.ai", 443)),
        (
            "https://generativelanguage.googleapis.com/v1beta/openai/",
            "openai",
            ("gcp.gemini", "generativelanguage.googleapis.com", 443),
        ),
        (
            "https://bedrock-runtime.us-east-1.amazonaws.com",
            "anthropic",
            ("aws.bedrock", "bedrock-runtime.us-east-1.amazonaws.com", 443),
        ),
        (
            "https://us-east5-aiplatform.googleapis.com/v1",
            "anthropic",
            ("gcp.vertex_ai", "us-east5-aiplatform.googleapis.com", 443),
        ),
        # Hosts win over ports; unknown hosts keep the SDK's name.
        ("https://api.openai.com:8080/v1", "openai", ("openai", "api.openai.com", 8080)),
        ("https://gateway.example.com:8443/v1", "openai", ("openai", "gateway.example.com", 8443)),
        ("http://vllm.internal/v1", "openai", ("openai", "vllm.internal", 80)),
        (
            "https://apigw.execute-api.eu-west-1.amazonaws.com/",
            "openai",
            ("openai", "apigw.execute-api.eu-west-1.amazonaws.com", 443),
        ),
        # Ollama's OLLAMA_HOST and LM Studio's api_host come without a scheme.
        ("localhost:11434", "ollama", ("ollama", "localhost", 11434)),
        ("API.OPENAI.COM", "openai", ("openai", "api.openai.com", 80)),
    ],
)
def test_known_servers(url: str, default: str, expected: tuple[str, str | None, int | None]) -> None:
    assert provider_from_base_url(url, default) == expected


@pytest.mark.parametrize("url", [None, "", "http://", "http://host:notaport/"])
def test_unusable_urls_keep_the_default(url: str | None) -> None:
    name, _, port = provider_from_base_url(url, "openai")
    assert name == "openai"
    assert port is None or isinstance(port, int)


def test_a_clients_base_url_is_read_afresh_when_it_changes() -> None:
    openai = pytest.importorskip("openai")
    from multi_llm_otel.providers._base import http_base_url

    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-test")
    assert http_base_url(client) == "http://127.0.0.1:9/v1/"
    assert http_base_url(client.chat.completions.create) == "http://127.0.0.1:9/v1/"
    client.base_url = "https://api.openai.com/v1"  # type: ignore[assignment]
    assert http_base_url(client) == "https://api.openai.com/v1/"
    assert http_base_url(client.chat.completions.create) == "https://api.openai.com/v1/"
    anthropic = pytest.importorskip("anthropic")
    other = anthropic.Anthropic(base_url="http://127.0.0.1:10", api_key="sk-ant-test")
    assert http_base_url(other.messages.create) == "http://127.0.0.1:10"
    other.base_url = "http://127.0.0.1:11"  # type: ignore[assignment]
    assert http_base_url(other.messages.create) == "http://127.0.0.1:11"
