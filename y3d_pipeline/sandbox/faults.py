"""Faults injected on demand, per API.

Kinds (any API unless noted):
* "403" (shipstation_v2) - refused: the account lacks the Inventory API add-on
* "429" - rate-limit storm (the API's own 429 shape; Shopify: THROTTLED body with HTTP 429)
* "500" / "502" / "503" - server errors
* "slow" - answer correctly after `delay_ms` (default 1500)
* "timeout" - sleep `delay_ms` (default 30000, longer than any sane client timeout), then answer
* "drop" - send the headers and part of the body, then abort the connection
* "truncate" - honest Content-Length but the JSON body is cut short
* "page_shift" (shipstation, shopify) - after serving a page of orders, update the orders on it at
  the clock: ShipStation's page-number paging then skips orders; Shopify's UPDATED_AT cursor
  meets them again later in the same scan
* "duplicate_page" (amazon) - a NextToken page repeats the last orders of the previous page
* "wrong_quantity" / "malformed" (openai) - the model answers with a wrong quantity / broken output
* wrong answers (openai), each a valid reply that a careless model could give: "invented_name" (a name
  the order never mentions), "wrong_colour" (a palette colour nobody asked for), "absurd_quantity"
  (3,000,000,000), "dropped_name" (one of several names left out, its quantity given to another)
"""

from __future__ import annotations

import random
import threading

from y3d_pipeline.sandbox.options import APIS, FaultSpec

WRONG_ANSWERS = ("wrong_quantity", "invented_name", "wrong_colour", "absurd_quantity", "dropped_name")
KINDS = {"403", "429", "500", "502", "503", "slow", "timeout", "drop", "truncate", "page_shift", "duplicate_page",
         "malformed", *WRONG_ANSWERS}
RESPONSE_KINDS = ("403", "429", "500", "502", "503", "slow", "timeout", "drop", "truncate")


class FaultRegistry:
    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._rules: list[FaultSpec] = []
            self._random = random.Random(self._seed)

    def add(self, spec: FaultSpec) -> None:
        if spec.api not in APIS:
            raise ValueError(f"unknown api {spec.api!r}; expected one of {', '.join(APIS)}")
        if spec.kind not in KINDS:
            raise ValueError(f"unknown fault kind {spec.kind!r}; expected one of {', '.join(sorted(KINDS))}")
        if spec.rate is not None and not 0 <= spec.rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        with self._lock:
            self._rules.append(spec)

    def rules(self) -> list[dict]:
        return [r.model_dump() for r in self._rules]

    def take(self, api: str, path: str, kinds: tuple[str, ...] | set[str]) -> FaultSpec | None:
        """The first matching rule whose kind is in `kinds`, consuming one of its count."""
        with self._lock:
            for rule in self._rules:
                if rule.api != api or rule.kind not in kinds:
                    continue
                if rule.match and not (path == rule.match[:-1] if rule.match.endswith("$")
                                       else path.startswith(rule.match)):
                    continue
                if rule.rate is not None:
                    if self._random.random() < rule.rate:
                        return rule
                    continue
                if rule.count is None:
                    return rule
                if rule.count > 0:
                    rule.count -= 1
                    if rule.count == 0:
                        self._rules.remove(rule)
                    return rule
            return None


def parse_cli_fault(text: str) -> FaultSpec:
    """API:KIND[:COUNT] with COUNT an integer, "inf", or a rate like 0.2."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"expected API:KIND[:COUNT], got {text!r}")
    api, kind = parts[0], parts[1]
    if len(parts) == 2:
        return FaultSpec(api=api, kind=kind, count=1)
    amount = parts[2]
    if amount in ("inf", "always"):
        return FaultSpec(api=api, kind=kind, count=None)
    if "." in amount:
        return FaultSpec(api=api, kind=kind, count=None, rate=float(amount))
    return FaultSpec(api=api, kind=kind, count=int(amount))
