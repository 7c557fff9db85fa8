"""One request to an OpenAI-compatible chat completions endpoint (vLLM, Ollama, hosted
APIs), with the standard library only.

Shared by the LLM instruction parser (`bpm_edit.parsing.llm.openai_parser`) and the VLM judge
(`evaluation.metrics.vlm_judge`), so both build the URL, send the request and read the answer
the same way; each keeps its own retry policy and error types.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from bpm_edit.errors import ConfigError, EndpointError


class HTTPStatusError(EndpointError):
    """The endpoint answered with an HTTP error status; `body` is the text it sent."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def chat_completions_url(base_url: str) -> str:
    """The chat completions URL for a base URL given with or without `/v1`.

    "http://host:8000" and "http://host:8000/v1" both give
    "http://host:8000/v1/chat/completions"; a URL that already ends in
    "/chat/completions" is used as it is.
    """
    url = base_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
    if url.endswith("/chat/completions"):
        return url
    if url.endswith("/v1"):
        return f"{url}/chat/completions"
    return f"{url}/v1/chat/completions"


def post_chat(url: str, body: dict[str, Any], api_key: str | None, timeout: float) -> bytes:
    """POST `body` as JSON and return the raw reply.

    An HTTP error status raises `HTTPStatusError`; a connection failure or timeout
    raises what urllib raises (`urllib.error.URLError`, `TimeoutError`, `OSError`).
    """
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(
        url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as err:
        raise HTTPStatusError(err.code, err.read().decode("utf-8", errors="replace")) from None


def answer_text(reply: Any) -> str | None:
    """The assistant's text in a decoded chat completion (content parts joined; "" when
    it has no text), or None when `reply` is not a chat completion."""
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""
