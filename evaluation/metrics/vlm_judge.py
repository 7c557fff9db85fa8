"""A VLM judge of edits through any OpenAI-compatible chat endpoint (vLLM, Ollama,
hosted APIs): the paper's "GPT-4o" baseline with our own prompt.

The prompt follows the ideas of HQ-Edit (rate instruction alignment and coherence of the
edited image) and VIEScore (separate semantic-consistency and perceptual-quality ratings,
combined by the geometric mean of their minima): the model sees the original and the
edited image (PNG data URLs, longest side at most `max_side` px) and the instruction, and
answers one JSON object with three integer ratings 0..10:

    instruction   the requested change was made (semantic consistency)
    preservation  what the instruction did not ask to change is unchanged (consistency)
    quality       the edited image looks natural, without artifacts (perceptual quality)

score = sqrt(min(instruction, preservation) * quality) / 10, in 0..1 (higher is better);
the three ratings are the components. Requests use temperature 0. An answer that is not
such a JSON object (or has a rating outside 0..10) gives score None and the flag
`vlm_unparseable` (or `vlm_out_of_range`): never a made-up number.

Errors: an unreachable endpoint, or HTTP 401/403/404 (wrong key, URL or model name), stops
the run with a `FatalMetricError` naming the URL, since every item would fail the same way;
other HTTP errors and timeouts (after `max_retries` retries with backoff for 429/5xx) are
the item's error and the run goes on.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import re
import threading
import time
import urllib.error
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PIL import Image

from bpm_edit.chat_endpoint import (
    HTTPStatusError,
    answer_text,
    chat_completions_url,
    post_chat,
)
from bpm_edit.errors import ConfigError, EndpointError
from evaluation.items import EditItem
from evaluation.metrics.base import FatalMetricError, MetricOutput, load_pair

PROMPT_VERSION = "bpm-edit-vlm-judge-v1"
SYSTEM_PROMPT = (
    "You are a meticulous judge of instruction-based image editing. You compare an "
    "original image with an edited image and rate how well the edit follows the "
    "instruction, how well everything else was kept, and how natural the result looks."
)
USER_PROMPT = """The first image is the ORIGINAL. The second image is the EDITED result of
applying this instruction to the original:

"{instruction}"

Rate the edit on three criteria, each an integer from 0 to 10:
- "instruction": the requested change is present and correct (0 = not done at all or
  wrong, 10 = exactly as asked);
- "preservation": everything the instruction did not ask to change is unchanged (0 = the
  whole image was replaced, 10 = identical outside the requested change);
- "quality": the edited image looks natural and free of artifacts (0 = broken or
  garbled, 10 = seamless).

Answer with one JSON object and nothing else:
{{"reason": "<one short sentence>", "instruction": <0-10>, "preservation": <0-10>,
"quality": <0-10>}}"""

RATINGS = ("instruction", "preservation", "quality")
_FATAL_STATUS = (401, 403, 404)
_RETRY_STATUS = (408, 409, 429, 500, 502, 503, 504)


class VLMRequestError(EndpointError):
    """One request to the VLM endpoint failed (the item's error)."""


def parse_ratings(text: str) -> tuple[dict[str, float] | None, str | None]:
    """Ratings from an answer: (ratings, None) or (None, flag) when unusable.

    Accepts the JSON object alone, inside a ```json fence, or amid other text (the first
    balanced {...} that parses). Ratings must be numbers in 0..10.
    """
    for candidate in _json_objects(text):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if not isinstance(data, dict) or not all(k in data for k in RATINGS):
            continue
        ratings = {}
        for name in RATINGS:
            value = data[name]
            if isinstance(value, str):
                try:
                    value = float(value.strip())
                except ValueError:
                    return None, "vlm_unparseable"
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None, "vlm_unparseable"
            if not math.isfinite(value) or not 0 <= value <= 10:
                return None, "vlm_out_of_range"
            ratings[name] = float(value)
        return ratings, None
    return None, "vlm_unparseable"


def _json_objects(text: str):
    """Balanced {...} substrings of `text`, outermost first, left to right."""
    for start in [m.start() for m in re.finditer(r"\{", text)]:
        depth = 0
        in_string = escaped = False
        for end in range(start, len(text)):
            char = text[end]
            if in_string:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    yield text[start:end + 1]
                    break


def overall_score(ratings: dict[str, float]) -> float:
    """sqrt(min(instruction, preservation) * quality) / 10 (VIEScore-style), 0..1."""
    consistency = min(ratings["instruction"], ratings["preservation"])
    return math.sqrt(consistency * ratings["quality"]) / 10.0


def image_data_url(image: Image.Image, max_side: int) -> str:
    """PNG data URL of `image`, downscaled (bicubic) so its longest side is <= max_side."""
    if max(image.size) > max_side:
        scale = max_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class VLMJudge:
    """VLM judge over an OpenAI-compatible `/chat/completions` endpoint.

    `base_url` is the API root, with or without "/v1" (e.g. "http://localhost:8000/v1";
    a URL ending in "/chat/completions" is used as is). The API key is `api_key` or the environment
    variable `api_key_env` (none sent when both are empty). Up to `concurrency` requests
    run at once within a batch. The result key covers the model name, the prompt and the
    image size, not the URL or the key: the same model served elsewhere reuses results.
    """

    name = "vlm"
    higher_is_better = True

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        max_side: int = 512,
        max_tokens: int = 300,
        timeout_s: float = 120.0,
        max_retries: int = 2,
        retry_backoff_s: float = 2.0,
        concurrency: int = 4,
    ) -> None:
        if max_side < 16:
            raise ConfigError(f"max_side must be >= 16, got {max_side}")
        if concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {concurrency}")
        self.url = chat_completions_url(base_url)
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get(api_key_env) or None
        self.max_side = max_side
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        self.concurrency = concurrency
        # Answers that arrived in a batch that failed, until the retry collects them.
        self._kept: dict[tuple[str, str, str], MetricOutput] = {}
        self._lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        prompt = hashlib.sha256((SYSTEM_PROMPT + USER_PROMPT).encode()).hexdigest()[:16]
        return {
            "model": self.model, "prompt": PROMPT_VERSION, "prompt_sha": prompt,
            "temperature": 0, "max_side": self.max_side, "max_tokens": self.max_tokens,
        }

    def messages(
        self, instruction: str, original: Image.Image, edited: Image.Image
    ) -> list[dict[str, Any]]:
        """The chat messages for one edit (system prompt, text, original, edited)."""
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": [
                {"type": "text", "text": USER_PROMPT.format(instruction=instruction)},
                {"type": "image_url",
                 "image_url": {"url": image_data_url(original, self.max_side)}},
                {"type": "image_url",
                 "image_url": {"url": image_data_url(edited, self.max_side)}},
            ]},
        ]

    def score_batch(self, items: Sequence[EditItem]) -> list[MetricOutput]:
        """Outputs per item. If a request fails, its error is raised once all requests
        have finished, and the answers that did arrive are kept: the runner's item-by-item
        retry then sends a request only for the failed items (no paid request repeats)."""
        if len(items) <= 1 or self.concurrency == 1:
            return [self.score_one(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            futures = [pool.submit(self.score_one, item) for item in items]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if not errors:
            return [f.result() for f in futures]
        with self._lock:
            self._kept = {_request_id(item): f.result()
                          for item, f in zip(items, futures, strict=True)
                          if f.exception() is None}
        fatal = [e for e in errors if isinstance(e, FatalMetricError)]
        raise (fatal or errors)[0]

    def score_one(self, item: EditItem) -> MetricOutput:
        """One item's output (an answer kept from a failed batch, else a new request)."""
        with self._lock:
            kept = self._kept.pop(_request_id(item), None)
        if kept is not None:
            return kept
        original, edited, align_flags = load_pair(item)
        answer = self.ask(self.messages(item.instruction, original, edited))
        ratings, flag = parse_ratings(answer)
        if ratings is None:
            return MetricOutput(None, {}, (*align_flags, flag))
        return MetricOutput(overall_score(ratings), ratings, align_flags)

    def ask(self, messages: list[dict[str, Any]]) -> str:
        """The answer text of one chat request (retrying 429/5xx and timeouts)."""
        body = {"model": self.model, "messages": messages, "temperature": 0,
                "max_tokens": self.max_tokens}
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                payload = post_chat(self.url, body, self.api_key, self.timeout_s)
                break
            except HTTPStatusError as err:
                detail = err.body[:300].strip()
                message = f"VLM endpoint {self.url} answered HTTP {err.status}: {detail}"
                if err.status in _FATAL_STATUS:
                    raise FatalMetricError(
                        message + " (check the URL, the model name and the API key)"
                    ) from err
                if err.status not in _RETRY_STATUS or last:
                    raise VLMRequestError(message) from err
            except urllib.error.URLError as err:
                if isinstance(err.reason, TimeoutError):
                    if last:
                        raise VLMRequestError(
                            f"VLM endpoint {self.url} did not answer within {self.timeout_s} s"
                        ) from err
                elif last:
                    raise FatalMetricError(
                        f"VLM endpoint {self.url} is unreachable: {err.reason}"
                    ) from err
            except TimeoutError as err:
                if last:
                    raise VLMRequestError(
                        f"VLM endpoint {self.url} did not answer within {self.timeout_s} s"
                    ) from err
            time.sleep(self.retry_backoff_s * (2**attempt))
        return _answer_text(payload, self.url)


def _request_id(item: EditItem) -> tuple[str, str, str]:
    return (item.original, item.edited, item.instruction)


def _answer_text(payload: bytes, url: str) -> str:
    try:
        text = answer_text(json.loads(payload))
    except ValueError:
        text = None
    if text is None:
        raise VLMRequestError(
            f"VLM endpoint {url} sent a response that is not an OpenAI chat completion: "
            f"{payload[:200]!r}"
        )
    return text
