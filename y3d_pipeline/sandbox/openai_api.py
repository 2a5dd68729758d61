"""OpenAI chat completions (and a minimal Responses API) under /openai/v1, answered by a
deterministic rule-based "model" that extracts personalisations from the agreed order JSON.

Input (the last user message, possibly inside a ```json fence):
  {"order_number", "marketplace", "customer_notes", "items": [{"item_id", "sku", "product_name",
   "quantity", "options": [{"name", "value"}]}]}
Output:
  {"items": [{"item_id", "personalizations": [{"custom_text", "color_1", "color_2", "quantity",
   "needs_review", "review_reason", "annotation"}]}]}
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from y3d_pipeline.sandbox.core import SandboxState, json_response, with_faults
from y3d_pipeline.sandbox.data import COLOUR_VARIANTS, PALETTE
from y3d_pipeline.sandbox.faults import WRONG_ANSWERS
from y3d_pipeline.sandbox.openai_strict import request_refusal
from y3d_pipeline.sandbox.ratelimit import go_duration

PREFIX = "/openai/v1"

TEXT_OPTION_NAMES = ("personalization", "personalisation", "name or text", "custom text", "personalised text",
                     "text", "name", "engraving", "personalized details")
COLOUR_1_NAMES = ("colour 1", "color 1", "color", "colour", "primary colour", "primary color", "text colour")
COLOUR_2_NAMES = ("colour 2", "color 2", "secondary color", "secondary colour", "second colour")
_CANONICAL = {c.lower(): c for c in PALETTE}
_VARIANTS = {k.lower(): v for k, v in COLOUR_VARIANTS.items()}
_EXTRA_VARIANTS = {"navy blue": "Dark Blue", "grey/gray": "Grey", "sky blue": "Light Blue", "baby blue": "Light Blue",
                   "baby pink": "Pink", "rose": "Rose Gold", "violet": "Purple", "maroon": "Red", "lime": "Green"}
_EBAY_BLOCK = re.compile(r"Item ID:\s*(\d+)\s*Variation:\s*([^\n]*)\n\s*Text:\s*(.*?)(?=\n\s*\n|\n\s*Personali[sz]ation:|"
                         r"\n\s*Item ID:|\Z)", re.S | re.I)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def canonical_colour(value: str | None) -> tuple[str | None, str | None]:
    """(palette colour or None, review reason or None)."""
    if value is None or not value.strip():
        return None, None
    text = value.strip()
    lowered = text.lower()
    if lowered in _CANONICAL:
        return _CANONICAL[lowered], None
    if lowered in _VARIANTS:
        mapped = _VARIANTS[lowered]
        return (mapped, None) if mapped else (None, f"Colour '{text}' needs a choice")
    if lowered in _EXTRA_VARIANTS:
        return _EXTRA_VARIANTS[lowered], None
    return None, f"Unknown colour '{text}'"


def title_case(text: str) -> str:
    """Title Case for names typed in lower case; anything with capitals is left as the buyer wrote it."""
    if text != text.lower():
        return text
    return " ".join(word[:1].upper() + word[1:] for word in text.split(" "))


def split_names(text: str, quantity: int) -> list[str]:
    if quantity <= 1:
        return [text]
    for pattern in (r"\n+", r"\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*"):
        parts = [p.strip() for p in re.split(pattern, text) if p.strip()]
        if len(parts) > 1:
            return parts
    return [text]


_PLACEHOLDERS = {"n/a", "na", "none", "no", "-", "tbc", "tba", "not required", "not needed", "blank", "nothing"}
_LABEL = re.compile(r"^\s*(?:name|text|personali[sz]ation|custom text|front|name on keyring)\s*[:=-]\s*", re.I)
_COUNT = re.compile(r"^\s*\d+\s*[x×]\s+|\s*(?:[x×]\s?\d+|\d+\s?[x×]|\(\s*[x×]?\s?\d+\s*\))\s*$", re.I)
_TRAILING_COLOUR = re.compile(r"\s*(?:\(([^)]*)\)|[-–]\s+([A-Za-z ]+)|\bin\s+([A-Za-z ]+))\s*$")


def tidy_text(text: str) -> tuple[str | None, str | None]:
    """What a careful model does with a buyer's free text: (text to print or None, colour named in it)."""
    value = _LABEL.sub("", text.strip())
    value = _COUNT.sub("", value).strip()
    colour = None
    found = _TRAILING_COLOUR.search(value)
    if found:
        named = next(g for g in found.groups() if g is not None).strip()
        if canonical_colour(named)[0]:
            colour, value = named, value[:found.start()].strip()
    value = value.strip(" \"'“”‘’").strip()
    if not value or value.lower().strip(".! ") in _PLACEHOLDERS:
        return None, colour
    return value, colour


def make_wrong(reply: dict, kind: str, order_json: str) -> None:
    """Turn a correct reply into the kind of wrong answer a careless model gives (see faults.py)."""
    people = [p for item in reply["items"] for p in item["personalizations"]]
    if not people:
        return
    first = people[0]
    if kind == "wrong_quantity":
        first["quantity"] += 1
    elif kind == "absurd_quantity":
        first["quantity"] = 3_000_000_000
    elif kind == "invented_name":
        first["custom_text"] = next(n for n in ("Bartholomew", "Gwendolyn", "Maximilian")
                                    if n.lower() not in order_json.lower())
    elif kind == "wrong_colour":
        first["color_1"] = next(c for c in PALETTE if c.lower() not in order_json.lower())
    elif kind == "dropped_name":
        for item in reply["items"]:
            if len(item["personalizations"]) > 1:
                dropped = item["personalizations"].pop()
                item["personalizations"][0]["quantity"] += dropped["quantity"]
                return


def extract_json(content: str) -> Any:
    fenced = _FENCE.search(content)
    candidate = fenced.group(1) if fenced else content
    start, end = candidate.find("{"), candidate.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object found")
    return json.loads(candidate[start:end + 1])


def _personalisation(text: str | None, colour_1: str | None, colour_2: str | None, quantity: int,
                     reasons: list[str], annotation: str | None = None) -> dict:
    return {"custom_text": text, "color_1": colour_1, "color_2": colour_2, "quantity": quantity,
            "needs_review": bool(reasons), "review_reason": "; ".join(reasons) if reasons else None,
            "annotation": annotation}


def extract_item(item: dict, ebay_blocks: list[tuple[str, str, str]], position: int) -> dict:
    options = {str(o.get("name", "")).strip().lower().removeprefix("amazon custom "): o.get("value")
               for o in item.get("options") or [] if isinstance(o, dict)}
    quantity = int(item.get("quantity") or 1)
    item_id = str(item.get("item_id"))
    text = next((options[n] for n in TEXT_OPTION_NAMES if options.get(n)), None)
    colour_1_raw = next((options[n] for n in COLOUR_1_NAMES if options.get(n)), None)
    colour_2_raw = next((options[n] for n in COLOUR_2_NAMES if options.get(n)), None)
    if text is None and ebay_blocks:
        block = next((b for b in ebay_blocks if item_id.startswith(b[0])), None)
        if block is None and position < len(ebay_blocks):
            block = ebay_blocks[position]
        if block is not None:
            text = block[2].strip()
            variation = dict(part.split("=", 1) for part in re.split(r"[;,]\s*", block[1]) if "=" in part)
            colour_1_raw = colour_1_raw or variation.get("Color") or variation.get("Colour")
    reasons: list[str] = []
    if text:
        text, named_colour = tidy_text(str(text))
        colour_1_raw = colour_1_raw or named_colour
    colour_1, reason_1 = canonical_colour(colour_1_raw)
    colour_2, reason_2 = canonical_colour(colour_2_raw)
    reasons += [r for r in (reason_1, reason_2) if r]
    if not text:
        reason = "Amazon CustomizedURL needs manual check" if "customizedurl" in options else \
            "No personalization details found"
        return {"item_id": item_id, "personalizations": [
            _personalisation(None, colour_1, colour_2, quantity, [reason, *reasons])]}
    names = [title_case(n) for n in split_names(str(text), quantity)]
    if len(names) == 1:
        people = [_personalisation(names[0], colour_1, colour_2, quantity, reasons)]
    elif len(names) == quantity:
        people = [_personalisation(n, colour_1, colour_2, 1, reasons) for n in names]
    elif len(names) < quantity:
        extra = quantity - len(names)
        people = [_personalisation(n, colour_1, colour_2, 1 + (extra if i == 0 else 0), reasons,
                                   "Quantity distributed across fewer names" if i == 0 else None)
                  for i, n in enumerate(names)]
    else:
        reason = f"QUANTITY_MISMATCH: OrderQty={quantity}, ParsedTotalQty={len(names)}"
        people = [_personalisation(n, colour_1, colour_2, 1, [reason, *reasons]) for n in names]
    return {"item_id": item_id, "personalizations": people}


def run_model(order: dict) -> dict:
    notes = order.get("customer_notes") or ""
    ebay_blocks = [(m.group(1), m.group(2), m.group(3)) for m in _EBAY_BLOCK.finditer(notes)]
    return {"items": [extract_item(item, ebay_blocks, n) for n, item in enumerate(order.get("items") or [])
                      if isinstance(item, dict)]}


def _message_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class OpenAIApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [Route(PREFIX + "/chat/completions", self._guard(self.chat_completions), methods=["POST"]),
                Route(PREFIX + "/responses", self._guard(self.responses), methods=["POST"]),
                Route(PREFIX + "/models", self._guard(self.models), methods=["GET"])]

    @staticmethod
    def _error(status: int, message: str, kind: str, code: str | None, param: str | None = None) -> Response:
        return json_response({"error": {"message": message, "type": kind, "param": param, "code": code}},
                             status=status)

    def _refusal(self, body: dict) -> Response | None:
        """OpenAI's own refusal of this request (unknown model, schema outside strict mode...), if any."""
        refusal = request_refusal(body)
        if refusal is None:
            return None
        return self._error(refusal.status, refusal.message, refusal.kind, refusal.code, refusal.param)

    def _guard(self, handler):
        async def endpoint(request: Request) -> Response:
            header = request.headers.get("authorization", "")
            if header != f"Bearer {self.state.options.openai_api_key}":
                return self._error(401, "Incorrect API key provided. You can find your API key at "
                                        "https://platform.openai.com/account/api-keys.",
                                   "invalid_request_error", "invalid_api_key")

            def fault_response(status: int) -> Response:
                if status == 429:
                    return self._error(429, "Rate limit reached for requests. Please try again in 1s.",
                                       "requests", "rate_limit_exceeded")
                return self._error(status, "The server had an error while processing your request. Sorry "
                                           "about that!", "server_error", None)

            path = request.url.path[len(PREFIX):]
            if path == "/models":
                return await with_faults(self.state, "openai", path, request, handler, fault_response)
            decision = self.state.openai_limiter.take(await self._estimate(request))
            if not decision.allowed:
                return self._rate_limited(decision, await self._estimate(request))
            response = await with_faults(self.state, "openai", path, request, handler, fault_response)
            response.headers.update(decision.headers)
            return response

        return endpoint

    @staticmethod
    async def _estimate(request: Request) -> int:
        """Tokens a request counts against TPM (at admission, as OpenAI does): the estimate from its characters
        or the completion it allows, whichever is more."""
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        allowed = body.get("max_completion_tokens") or body.get("max_tokens") or body.get("max_output_tokens") \
            if isinstance(body, dict) else None
        return max(_tokens(raw.decode("utf-8", "replace")), allowed if isinstance(allowed, int) else 0)

    def _rate_limited(self, decision, requested: int) -> Response:
        """OpenAI's 429 when a per-minute limit is exceeded: its error body and x-ratelimit-* headers."""
        per = "requests per min (RPM)" if decision.kind == "requests" else "tokens per min (TPM)"
        message = (f"Rate limit reached for gpt-4.1-mini in organization org-sandbox on {per}: Limit "
                   f"{decision.limit}, Used {decision.used}, Requested {1 if decision.kind == 'requests' else requested}. "
                   f"Please try again in {go_duration(decision.wait_seconds)}. Visit "
                   "https://platform.openai.com/account/rate-limits to learn more.")
        response = self._error(429, message, decision.kind, "rate_limit_exceeded")
        response.headers.update(decision.headers)
        return response

    async def models(self, request: Request) -> Response:
        return json_response({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1715367049, "owned_by": "system"}
            for m in ("gpt-4.1-mini", "gpt-4.1", "gpt-4o-mini")]})

    def _answer(self, messages: list[dict], raw_body: bytes, path: str) -> tuple[str, int, int]:
        """(assistant content, prompt tokens, completion tokens)."""
        users = [m for m in messages if m.get("role") == "user"]
        last = _message_text(users[-1]) if users else ""
        try:
            order = extract_json(last)
            reply = run_model(order if isinstance(order, dict) else {})
        except ValueError:
            reply = {"items": []}
        self.state.openai_calls += 1
        roll = random.Random(hashlib.sha256(raw_body + str(self.state.openai_calls).encode()).digest())
        fault = self.state.faults.take("openai", path, set(WRONG_ANSWERS))
        wrong = fault.kind if fault is not None else \
            "wrong_quantity" if roll.random() < self.state.openai_wrong_quantity_rate else None
        malformed = self.state.faults.take("openai", path, {"malformed"}) is not None or \
            roll.random() < self.state.openai_malformed_rate
        if wrong:
            make_wrong(reply, wrong, last)
        content = json.dumps(reply, ensure_ascii=False)
        if malformed:
            if self.state.openai_calls % 2:
                content = content[: max(1, len(content) // 2)]  # invalid JSON
            else:
                content = json.dumps({"itemPersonalizations": {i["item_id"]: i for i in reply["items"]}},
                                     ensure_ascii=False)  # valid JSON, wrong schema
        prompt = sum(_tokens(_message_text(m)) + 4 for m in messages) + 3
        return content, prompt, _tokens(content)

    async def _latency(self) -> None:
        if self.state.openai_latency_ms > 0:
            await asyncio.sleep(self.state.openai_latency_ms / 1000)

    async def chat_completions(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return self._error(400, "We could not parse the JSON body of your request.", "invalid_request_error",
                               None)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._error(400, "Missing required parameter: 'messages'.", "invalid_request_error",
                               "missing_required_parameter")
        if body.get("stream"):
            return self._error(400, "Streaming is not supported by the sandbox.", "invalid_request_error", None)
        refused = self._refusal(body)
        if refused is not None:
            return refused
        await self._latency()
        content, prompt_tokens, completion_tokens = self._answer(messages, raw, "/chat/completions")
        finish_reason = "stop"
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and completion_tokens > limit:
            content, completion_tokens, finish_reason = content[: limit * 4], limit, "length"
        digest = hashlib.sha256(raw).hexdigest()[:24]
        return json_response({
            "id": f"chatcmpl-sbx{digest}", "object": "chat.completion",
            "created": int(self.state.clock.now().timestamp()), "model": body.get("model") or "gpt-4.1-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None,
                                                 "annotations": []},
                         "logprobs": None, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens,
                      "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                    "accepted_prediction_tokens": 0,
                                                    "rejected_prediction_tokens": 0}},
            "service_tier": "default", "system_fingerprint": "fp_y3dsandbox",
        }, headers={"x-request-id": f"req_{digest}", "openai-processing-ms": str(self.state.openai_latency_ms)})

    async def responses(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return self._error(400, "We could not parse the JSON body of your request.", "invalid_request_error",
                               None)
        refused = self._refusal(body)
        if refused is not None:
            return refused
        given = body.get("input")
        if isinstance(given, str):
            messages = [{"role": "user", "content": given}]
        else:
            messages = [{"role": m.get("role", "user"),
                         "content": m.get("content") if isinstance(m.get("content"), str) else
                         "\n".join(str(p.get("text", "")) for p in m.get("content") or [] if isinstance(p, dict))}
                        for m in given or [] if isinstance(m, dict)]
        if body.get("instructions"):
            messages.insert(0, {"role": "system", "content": body["instructions"]})
        await self._latency()
        content, prompt_tokens, completion_tokens = self._answer(messages, raw, "/responses")
        digest = hashlib.sha256(raw).hexdigest()[:24]
        return json_response({
            "id": f"resp_sbx{digest}", "object": "response", "created_at": int(self.state.clock.now().timestamp()),
            "status": "completed", "error": None, "incomplete_details": None, "instructions": body.get("instructions"),
            "model": body.get("model") or "gpt-4.1-mini",
            "output": [{"type": "message", "id": f"msg_sbx{digest}", "status": "completed", "role": "assistant",
                        "content": [{"type": "output_text", "text": content, "annotations": []}]}],
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "text": body.get("text") or
            {"format": {"type": "text"}},
            "usage": {"input_tokens": prompt_tokens, "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": completion_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": prompt_tokens + completion_tokens},
        })
