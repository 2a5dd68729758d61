"""One OpenAI call per order for the items no deterministic reader could resolve.

Uses the official SDK with a strict JSON-schema response format generated from the pydantic models.
The SDK's own retries are off (``max_retries=0``) so that every attempt, wait and ``retry-after`` is
ours to bound and to report; the result carries the raw reply so ``ai_calls`` can keep it.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import openai
from openai.lib._pydantic import to_strict_json_schema
from pydantic import ValidationError

from y3d_pipeline.print_queue.models import AiOrderInput, AiOrderResult
from y3d_pipeline.print_queue.prompt import build_messages

RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "order_personalizations",
        "strict": True,
        "schema": to_strict_json_schema(AiOrderResult),
    },
}


@dataclass(slots=True)
class AiCallResult:
    success: bool
    result: AiOrderResult | None
    raw_response: str | None
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: int
    attempts: int
    error: str | None


def retry_after_seconds(exc: Exception) -> float | None:
    """The server's requested wait (``retry-after-ms`` or ``retry-after`` seconds / HTTP date)."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    if not headers.get("retry-after-ms") and not headers.get("retry-after"):
        # OpenAI's 429 body also says "Please try again in 1s" / "in 250ms".
        found = re.search(r"try again in (\d+(?:\.\d+)?)\s*(ms|s)\b", str(exc))
        if found:
            return float(found.group(1)) / (1000 if found.group(2) == "ms" else 1)
        return None
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        value = headers.get("retry-after")
        if not value:
            return None
        if re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
            return float(value)
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def parse_reply(content: str | None) -> AiOrderResult:
    if content is None:
        raise ValueError("empty reply")
    text = content.strip()
    fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```$", text, re.S)
    if fenced:
        text = fenced.group(1)
    return AiOrderResult.model_validate_json(text)


def _describe(exc: Exception) -> str:
    # Status and message only: never request headers (they carry the key).
    status = getattr(exc, "status_code", None)
    message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}{f' {status}' if status else ''}: {message}"


class PersonalizationExtractor:
    """Calls the model for one order at a time; safe to share between threads (the client is)."""

    def __init__(self, client: openai.OpenAI, model: str, *, max_attempts: int = 4, max_wait_seconds: float = 30,
                 sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.model = model
        self.max_attempts = max_attempts
        self.max_wait_seconds = max_wait_seconds
        self._sleep = sleep

    def _wait(self, exc: Exception, attempt: int) -> None:
        requested = retry_after_seconds(exc)
        backoff = requested if requested is not None else min(8.0, 0.5 * 2 ** (attempt - 1)) * (
            0.5 + random.random())  # noqa: S311 - jitter, not crypto
        self._sleep(min(backoff, self.max_wait_seconds))

    def extract(self, order_input: AiOrderInput, palette: tuple[str, ...]) -> AiCallResult:
        messages = build_messages(order_input, palette)
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                completion = self.client.chat.completions.create(
                    model=self.model, messages=messages, temperature=0, response_format=RESPONSE_FORMAT,
                )
                break
            except RETRYABLE as exc:
                if attempt >= self.max_attempts:
                    return AiCallResult(False, None, None, None, None, _ms(started), attempt,
                                        f"gave up after {attempt} attempts: {_describe(exc)}")
                self._wait(exc, attempt)
            except openai.OpenAIError as exc:
                return AiCallResult(False, None, None, None, None, _ms(started), attempt, _describe(exc))

        usage = completion.usage
        tokens_in = usage.prompt_tokens if usage else None
        tokens_out = usage.completion_tokens if usage else None
        choice = completion.choices[0] if completion.choices else None
        content = choice.message.content if choice else None
        if choice is not None and choice.finish_reason == "length":
            return AiCallResult(False, None, content, tokens_in, tokens_out, _ms(started), attempt,
                                "reply cut off at the token limit")
        if choice is not None and getattr(choice.message, "refusal", None):
            return AiCallResult(False, None, content, tokens_in, tokens_out, _ms(started), attempt,
                                f"model refused: {choice.message.refusal[:300]}")
        try:
            result = parse_reply(content)
        except (ValidationError, ValueError) as exc:
            reason = str(exc).splitlines()[0][:300]
            return AiCallResult(False, None, content, tokens_in, tokens_out, _ms(started), attempt,
                                f"malformed reply: {reason}")
        return AiCallResult(True, result, content, tokens_in, tokens_out, _ms(started), attempt, None)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
