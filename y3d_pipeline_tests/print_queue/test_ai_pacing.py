"""AI extraction paced by OpenAI's rate-limit headers (issue 15): against the sandbox configured with a low
per-minute limit, many calls run at once while the limits allow, then at the limit's pace, and none gets a 429.
No wall-clock asserts: what is checked is what the sandbox answered and what the pacer did. The sandbox is this
module's own, so that no other test's leftover traffic (a run still going in another process) spends from the
same limits: the pacer can only promise no 429 when it is the key's only user."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import httpx
import openai
import pytest

from y3d_pipeline.print_queue.ai import (
    PersonalizationExtractor,
    RateLimitPacer,
    parse_duration,
    retry_after_seconds,
)
from y3d_pipeline.print_queue.models import AiInputItem, AiOption, AiOrderInput
from y3d_pipeline.sandbox.options import SandboxOptions
from y3d_pipeline.sandbox.server import SandboxServer

PALETTE = ("Black", "Red", "Dark Blue")


@pytest.fixture(scope="module")
def own_sandbox():
    with SandboxServer(SandboxOptions(seed=7, days=2, orders_per_day=10, end_date=date(2026, 3, 20))) as server:
        yield server


@pytest.fixture
def fresh_sandbox(own_sandbox):
    own_sandbox.reset()
    yield own_sandbox
    own_sandbox.reset()


def _input(n: int) -> AiOrderInput:
    return AiOrderInput(order_number=f"31000{n:05d}", marketplace="etsy", customer_notes=None, items=[
        AiInputItem(item_id=f"40000{n:05d}", sku="KEY-1", product_name="Name Keyring", quantity=1,
                    options=[AiOption(name="Personalization", value=f"Name {n}"), AiOption(name="Color", value="Red")])])


def _run(sandbox, calls: int, workers: int = 32) -> tuple[PersonalizationExtractor, list]:
    env = sandbox.env()
    client = openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=0)
    extractor = PersonalizationExtractor(client, "gpt-4.1-mini", pacer=RateLimitPacer(max_in_flight=workers))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda n: extractor.extract(_input(n), PALETTE), range(calls)))
    return extractor, results


def test_the_sandbox_sends_openai_rate_limit_headers_and_a_429_beyond_the_limit(fresh_sandbox):
    fresh_sandbox.config(openai_rpm=3)
    env = fresh_sandbox.env()
    url, auth = f"{env['OPENAI_BASE_URL']}/chat/completions", {"Authorization": f"Bearer {env['OPENAI_API_KEY']}"}
    body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "{}"}]}
    answers = [httpx.post(url, json=body, headers=auth) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    first, refused = answers[0], answers[3]
    assert first.headers["x-ratelimit-limit-requests"] == "3"
    assert first.headers["x-ratelimit-remaining-requests"] == "2"
    assert parse_duration(first.headers["x-ratelimit-reset-requests"]) == pytest.approx(20, abs=1)
    assert int(first.headers["x-ratelimit-remaining-tokens"]) < int(first.headers["x-ratelimit-limit-tokens"])
    error = refused.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests"
    assert "requests per min (RPM): Limit 3" in error["message"] and "Please try again in" in error["message"]
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    wait = retry_after_seconds(openai.RateLimitError(error["message"], response=refused, body=error))
    assert wait is not None and 0 < wait <= 20


def test_calls_run_concurrently_within_the_request_limit_without_a_429(fresh_sandbox):
    fresh_sandbox.config(openai_rpm=600)  # a burst of 600, then 10 a second
    fresh_sandbox.set_openai(latency_ms=20)
    extractor, results = _run(fresh_sandbox, 640)
    assert all(r.success for r in results), {r.error for r in results if not r.success}
    assert "429" not in fresh_sandbox.stats()["statuses"]["openai"]
    stats = extractor.pacer.stats
    assert stats.rate_limited == 0 and stats.calls == 640
    assert stats.max_in_flight > 1  # concurrency while the limits allowed
    assert stats.waits > 0  # and waits once the remaining requests ran out


def test_calls_wait_for_the_token_limit_without_a_429(fresh_sandbox):
    fresh_sandbox.config(openai_tpm=120_000)  # tokens bind first: ~100 calls' worth, then ~2 calls a second
    fresh_sandbox.set_openai(latency_ms=20)
    extractor, results = _run(fresh_sandbox, 110)
    assert all(r.success for r in results), {r.error for r in results if not r.success}
    assert "429" not in fresh_sandbox.stats()["statuses"]["openai"]
    stats = extractor.pacer.stats
    assert stats.rate_limited == 0 and stats.max_in_flight > 1 and stats.waits > 0


def test_a_429_anyway_is_waited_out_with_the_reset_the_server_names(fresh_sandbox):
    fresh_sandbox.set_faults("openai", "429", count=1, match="/chat/completions")
    waits: list[float] = []
    env = fresh_sandbox.env()
    client = openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=0)
    extractor = PersonalizationExtractor(client, "gpt-4.1-mini", sleep=waits.append)
    result = extractor.extract(_input(1), PALETTE)
    assert result.success and result.attempts == 2
    assert waits == [1.0]  # "Please try again in 1s"
    assert extractor.pacer.stats.rate_limited == 1


@pytest.mark.parametrize(("text", "seconds"), [("120ms", 0.12), ("1s", 1), ("8.64s", 8.64), ("6m0s", 360),
                                                ("1h2m3s", 3723), ("", None), ("soon", None)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)
