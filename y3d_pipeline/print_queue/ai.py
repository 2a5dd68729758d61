"""One OpenAI call per order for the items no deterministic reader could resolve.

Uses the official SDK with a strict JSON-schema response format generated from the pydantic models.
The SDK's own retries are off (``max_retries=0``) so that every attempt, wait and ``retry-after`` is
ours to bound and to report; the result carries the raw reply so ``ai_calls`` can keep it.

Calls run concurrently (the print-task run's thread pool) and are paced by :class:`RateLimitPacer`, a
client-side mirror of the account's per-minute limits fed by OpenAI's ``x-ratelimit-*`` headers (read with
``with_raw_response``): a call starts when a request and its estimated tokens fit, so the pool runs as many
calls at once as the limits allow without a 429. A 429 anyway (another user of the key) empties the mirror
and is waited out (``retry-after-ms``/``retry-after``, else the reset headers, else the "try again in" text).
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
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


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | None) -> float | None:
    """OpenAI's Go-style durations ("120ms", "1s", "8.64s", "6m0s", "1h2m3s") in seconds; None if unreadable."""
    if not text:
        return None
    value = text.strip()
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def retry_after_seconds(exc: Exception) -> float | None:
    """The server's requested wait: ``retry-after-ms`` / ``retry-after`` (seconds or HTTP date), else the
    reset header of the limit the 429 names (``x-ratelimit-reset-requests``/``-tokens``), else the wait the
    error text gives ("Please try again in 1.5s")."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        value = headers.get("retry-after")
        if value:
            if re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
                return float(value)
            parsed = email.utils.parsedate_to_datetime(value)
            return max(0.0, parsed.timestamp() - time.time())
    except (TypeError, ValueError):
        pass
    found = re.search(r"try again in ((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)", str(exc))
    if found:
        return parse_duration(found.group(1))
    kind = getattr(exc, "body", None)
    kind = kind.get("type") if isinstance(kind, dict) else None
    resets = [parse_duration(headers.get(f"x-ratelimit-reset-{name}"))
              for name in (("tokens",) if kind == "tokens" else ("requests",) if kind == "requests" else
                           ("requests", "tokens"))]
    known = [r for r in resets if r is not None]
    return max(known) if known else None


@dataclass(slots=True)
class _Limit:
    """One of OpenAI's per-minute limits as the client last understood it."""

    limit: float
    level: float  # what is left now (below 0 when more was started than the server had left)
    rate: float  # refill per second

    def refill(self, seconds: float) -> None:
        self.level = min(self.limit, self.level + seconds * self.rate)

    def wait_for(self, amount: float) -> float:
        return 0.0 if self.level >= amount else (amount - self.level) / self.rate if self.rate > 0 else 1.0


@dataclass(slots=True)
class Ticket:
    """One admitted call: what the client had taken, itself included, when it started."""

    tokens: float
    taken_requests: int
    taken_tokens: float


@dataclass
class PacerStats:
    calls: int = 0
    waits: int = 0  # calls that waited for the limits before starting
    wait_seconds: float = 0.0
    max_in_flight: int = 0
    rate_limited: int = 0  # 429s received anyway


class RateLimitPacer:
    """Client-side mirror of OpenAI's request and token limits, shared by every thread of a run.

    ``acquire(tokens)`` blocks until one request and ``tokens`` fit in what is left (the client's count of the
    limit: set by the first reply's headers, refilled at limit/60 a second, less every call it started) and
    fewer than
    ``max_in_flight`` calls run; until the first reply arrives, one call at a time (a server that sends no such
    headers is then paced by the pool and its 429s alone). ``release(ticket, headers)`` checks the count
    against the server's figures (see ``_rebase``). ``throttled(wait)`` (a 429 anyway) empties it and holds
    every call back for ``wait``."""

    def __init__(self, max_in_flight: int = 32, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_in_flight = max(1, max_in_flight)
        self._clock = clock
        self._cond = threading.Condition()
        self._requests: _Limit | None = None
        self._tokens: _Limit | None = None
        self._refilled_at = clock()
        self._hold_until = 0.0
        self._answered = False  # a first reply arrived (with its headers, if the server sends them)
        self._in_flight = 0
        self._taken_requests = 0
        self._taken_tokens = 0.0
        self.stats = PacerStats()

    def _refill(self, now: float) -> None:
        for limit in (self._requests, self._tokens):
            if limit is not None:
                limit.refill(now - self._refilled_at)
        self._refilled_at = now

    def _wait(self, tokens: float, now: float) -> float | None:
        """Seconds until this call may start; None: wait for a running call to finish."""
        if self._in_flight >= (self.max_in_flight if self._answered else 1):
            return None
        self._refill(now)
        wait = max(0.0, self._hold_until - now)
        if self._requests is not None:
            wait = max(wait, self._requests.wait_for(1))
        if self._tokens is not None:
            wait = max(wait, self._tokens.wait_for(min(tokens, self._tokens.limit)))
        return wait

    def acquire(self, tokens: float) -> Ticket:
        waited = 0.0
        with self._cond:
            while True:
                now = self._clock()
                wait = self._wait(tokens, now)
                if wait == 0:
                    break
                started = self._clock()
                self._cond.wait(timeout=wait)  # woken early when a reply re-bases the mirror
                waited += self._clock() - started
            if self._requests is not None:
                self._requests.level -= 1
            if self._tokens is not None:
                self._tokens.level -= tokens
            self._in_flight += 1
            self._taken_requests += 1
            self._taken_tokens += tokens
            self.stats.calls += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self._in_flight)
            if waited:
                self.stats.waits += 1
                self.stats.wait_seconds += waited
            return Ticket(tokens, self._taken_requests, self._taken_tokens)

    def release(self, ticket: Ticket, headers: Mapping[str, str] | None) -> None:
        """The call is over; ``headers`` are its response's, if it had one."""
        with self._cond:
            self._in_flight -= 1
            if headers is not None:
                self._answered = True
                self._refill(self._clock())
                self._requests = self._rebase(self._requests, headers, "requests",
                                              self._taken_requests - ticket.taken_requests)
                self._tokens = self._rebase(self._tokens, headers, "tokens",
                                            self._taken_tokens - ticket.taken_tokens)
            self._cond.notify_all()

    @staticmethod
    def _rebase(current: _Limit | None, headers: Mapping[str, str], kind: str,
                started_after: float) -> _Limit | None:
        """The client's count of one limit, checked against a reply's headers (what was left when the server
        admitted that call). The count already follows every call the client started and the refill since;
        the headers only ever lower it, to what they say was left (another user of the key spends from the
        same limits). Neither the refill between the admission and the reply (the client does not know when the
        server admitted the call) nor the calls the client started after it (concurrent calls reach the server
        in any order) are counted in that bound: both would make it too high. The first reply sets the count,
        less every call started since, as if they had all been admitted after it."""
        try:
            limit = float(headers[f"x-ratelimit-limit-{kind}"])
            remaining = float(headers[f"x-ratelimit-remaining-{kind}"])
        except (KeyError, TypeError, ValueError):
            return current
        # Per-minute limits refill at limit/60 a second. The reset header (time until the limit is whole again)
        # implies a rate too, slower if the limit is not per minute; it is read from a remaining figure rounded
        # down, so it can only come out faster than the truth: the slower of the two is taken.
        rate = limit / 60
        reset = parse_duration(headers.get(f"x-ratelimit-reset-{kind}"))
        if reset and limit > remaining:
            rate = min(rate, (limit - remaining) / reset)
        at_most = min(limit, remaining)
        if current is None or current.limit != limit:
            return _Limit(limit, at_most - started_after, rate)
        return _Limit(limit, min(current.level, at_most), rate)

    def throttled(self, wait: float) -> None:
        """A 429 despite the mirror: nothing is left, and no call starts for ``wait`` seconds."""
        with self._cond:
            self.stats.rate_limited += 1
            for limit in (self._requests, self._tokens):
                if limit is not None:
                    limit.level = min(limit.level, 0.0)
            self._hold_until = max(self._hold_until, self._clock() + wait)


def estimate_tokens(request: dict) -> float:
    """What OpenAI counts against TPM when it admits a call: its estimate from the request's characters (~4 a
    token: messages and response format) or the completion it allows (``max_completion_tokens``), whichever is
    more; with a margin, as ours cannot be OpenAI's exact count."""
    allowed = request.get("max_completion_tokens") or request.get("max_tokens") or 0
    return max(len(json.dumps(request, ensure_ascii=False)) / 4, allowed) * 1.1 + 16


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
    """Calls the model for one order at a time; safe to share between threads (the client and pacer are)."""

    def __init__(self, client: openai.OpenAI, model: str, *, max_attempts: int = 4, max_wait_seconds: float = 30,
                 sleep: Callable[[float], None] = time.sleep, pacer: RateLimitPacer | None = None):
        self.client = client
        self.model = model
        self.max_attempts = max_attempts
        self.max_wait_seconds = max_wait_seconds
        self._sleep = sleep
        self.pacer = pacer or RateLimitPacer()

    def _backoff(self, exc: Exception, attempt: int) -> float:
        requested = retry_after_seconds(exc)
        backoff = requested if requested is not None else min(8.0, 0.5 * 2 ** (attempt - 1)) * (
            0.5 + random.random())  # noqa: S311 - jitter, not crypto
        return min(backoff, self.max_wait_seconds)

    def _create(self, messages: list[dict]):
        """One call, started when the pacer says the limits allow it; its headers re-base the pacer."""
        request = {"model": self.model, "messages": messages, "temperature": 0, "response_format": RESPONSE_FORMAT}
        ticket = self.pacer.acquire(estimate_tokens(request))
        headers = None
        try:
            raw = self.client.chat.completions.with_raw_response.create(**request)
            headers = raw.headers
            return raw.parse()
        except openai.APIStatusError as exc:
            headers = exc.response.headers
            raise
        finally:
            self.pacer.release(ticket, headers)

    def extract(self, order_input: AiOrderInput, palette: tuple[str, ...]) -> AiCallResult:
        messages = build_messages(order_input, palette)
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                completion = self._create(messages)
                break
            except RETRYABLE as exc:
                if attempt >= self.max_attempts:
                    return AiCallResult(False, None, None, None, None, _ms(started), attempt,
                                        f"gave up after {attempt} attempts: {_describe(exc)}")
                wait = self._backoff(exc, attempt)
                if isinstance(exc, openai.RateLimitError):
                    self.pacer.throttled(wait)
                self._sleep(wait)
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
