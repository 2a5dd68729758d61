"""Secrets never reach logs, errors, stored rows or alerts, even when an upstream echoes the request
(issue 12, item 5).

Each test points a real client at a local server that answers with an error body quoting the request it got
(its Authorization / token headers, its form body), the way a misconfigured proxy or a chatty API does, and
checks every text that leaves the client: the exception, the retry warnings in the log and, for one real
Dagster run, every event the run stored.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re

import dagster as dg
import pytest

from y3d_pipeline.defs.sources.shipstation.assets import raw_shipstation_orders
from y3d_pipeline.redaction import scrub
from y3d_pipeline.sources.amazon.client import AmazonClient
from y3d_pipeline.sources.http import ApiError, RetryPolicy
from y3d_pipeline.sources.shipstation.client import ShipStationClient
from y3d_pipeline.sources.shopify.client import ShopifyClient
from y3d_pipeline_tests.local_http import LocalHttpServer, reply
from y3d_pipeline_tests.resources import openai_resource, shipstation_resource

KEY, SECRET = "ss-live-key-4f1c2e9a7b", "ss-live-secret-88d0c1f2e3"
BASIC = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
SHOPIFY_TOKEN = "shpat_0123456789abcdef0123456789abcdef"
LWA_SECRET, LWA_REFRESH = "amzn1.oa2-cs.v1.live-secret-77aa", "Atzr|IwEBIlive-refresh-token-0099"
OPENAI_KEY = "sk-live-0123456789abcdefghijklmnop"
FAST = RetryPolicy(max_attempts=2, max_total_seconds=5, initial_backoff=0.01, max_backoff=0.01)


def _echo(status: int):
    """An upstream that quotes the request back: the credentials it did not like first, then the rest."""
    def respond(request, connection):
        credentials = {k: v for k, v in request.headers.items()
                       if k in ("authorization", "x-shopify-access-token", "x-amz-access-token")}
        others = "; ".join(f"{k}: {v}" for k, v in request.headers.items() if k not in credentials)
        text = f"Bad request: {'; '.join(f'{k}: {v}' for k, v in credentials.items())} " \
               f"body {request.body.decode('latin-1')[:600]} (you sent {request.method} {request.path}; {others})"
        reply(connection, status, json.dumps({"error": {"message": text}}).encode(),
              {"Content-Type": "application/json"})
    return respond


SECRETS = [KEY, SECRET, BASIC, SHOPIFY_TOKEN, LWA_SECRET, LWA_REFRESH, OPENAI_KEY]


def assert_clean(text: str, where: str) -> None:
    from urllib.parse import quote, quote_plus
    for secret in SECRETS:
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            assert form not in text, f"{where} contains a secret: ...{text[max(0, text.find(form) - 80):][:200]}"


@pytest.fixture
def echo_400():
    with LocalHttpServer(_echo(400)) as server:
        yield server


@pytest.fixture
def echo_403():
    with LocalHttpServer(_echo(403)) as server:
        yield server


def test_shipstation_echoed_basic_auth_is_scrubbed(echo_400, caplog):
    caplog.set_level(logging.DEBUG)
    client = ShipStationClient(KEY, SECRET, base_url=echo_400.url, retry_policy=FAST, sleep=lambda _: None)
    with client, pytest.raises(ApiError) as failed:
        client.list_orders(dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    assert echo_400.requests and echo_400.requests[0].headers["authorization"] == f"Basic {BASIC}"
    assert "HTTP 400" in str(failed.value) and "Bad request" in str(failed.value)
    assert_clean(str(failed.value), "the error")
    assert_clean(caplog.text, "the log")


def test_shopify_echoed_token_header_is_scrubbed(echo_400, caplog):
    caplog.set_level(logging.DEBUG)
    client = ShopifyClient(base_url=echo_400.url, access_token=SHOPIFY_TOKEN, retry_policy=FAST, sleep=lambda _: None)
    with client, pytest.raises(ApiError) as failed:
        client.fetch_orders(dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    assert echo_400.requests[0].headers["x-shopify-access-token"] == SHOPIFY_TOKEN
    assert_clean(str(failed.value), "the error")
    assert_clean(caplog.text, "the log")


def test_amazon_lwa_echoed_form_body_is_scrubbed(echo_403, caplog):
    """The token exchange posts the refresh token and client secret as a form: an echo carries both."""
    caplog.set_level(logging.DEBUG)
    client = AmazonClient(client_id="amzn1.application-oa2-client.live", client_secret=LWA_SECRET,
                          refresh_token=LWA_REFRESH, token_url=f"{echo_403.url}/auth/o2/token",
                          base_url=echo_403.url, marketplace_ids=["A1F83G8C2ARO7P"], retry_policy=FAST,
                          sleep=lambda _: None)
    with client, pytest.raises(ApiError) as failed:
        client.access_token()
    assert b"client_secret=" in echo_403.requests[0].body
    assert_clean(str(failed.value), "the error")
    assert_clean(caplog.text, "the log")


def test_openai_echoed_bearer_key_is_scrubbed(echo_400):
    """The openai SDK builds its exception text from the body; the resource's client scrubs the body first."""
    import openai

    resource = openai_resource({"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": f"{echo_400.url}/v1"})
    with pytest.raises(openai.BadRequestError) as failed:
        resource.extractor().client.chat.completions.create(
            model=resource.model, messages=[{"role": "user", "content": "hi"}])
    assert echo_400.requests[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert "Bad request" in str(failed.value)
    assert_clean(str(failed.value), "the SDK's error")
    assert_clean(str(failed.value.body), "the SDK's error body")


def test_a_real_run_stores_no_secret_in_its_events(echo_400, database_resource, dagster_instance, caplog):
    """The step failure Dagster records (message, cause chain) and the run's logs hold no credential."""
    caplog.set_level(logging.DEBUG)
    resource = shipstation_resource({"SHIPSTATION_API_KEY": KEY, "SHIPSTATION_API_SECRET": SECRET,
                                     "SHIPSTATION_BASE_URL": echo_400.url}, max_attempts=1)
    result = dg.materialize([raw_shipstation_orders], resources={"shipstation": resource,
                                                                 "database": database_resource},
                            partition_key="2026-03-12", instance=dagster_instance, raise_on_error=False)
    assert not result.success
    stored = "\n".join(dg.serialize_value(entry) for entry in dagster_instance.all_logs(result.run_id))
    assert "HTTP 400" in stored
    assert_clean(stored, "the run's event log")
    assert_clean(caplog.text, "the Python log")


@pytest.mark.parametrize("text", [
    f"Authorization: Basic {base64.b64encode(b'someone:else').decode()}",
    "{'authorization': 'Bearer sk-abcdefghijklmnopqrstu'}",
    "grant_type=refresh_token&refresh_token=Atzr%7CIwEB-unknown&client_secret=zzz-unknown-secret",
    '{"x-amz-access-token": "Atza|IwEBIA-unknown"}',
    "X-Shopify-Access-Token: shpat_00000000000000000000000000000000",
    "postgresql://y3d:hunter2hunter2@db.internal/y3d",
])
def test_credential_shapes_are_scrubbed_even_when_unknown(text):
    cleaned = scrub(text)
    assert "[redacted]" in cleaned
    assert not re.search(r"IwEB|hunter2|sk-abc|shpat_0|c29tZW9uZTplbHNl|zzz-unknown", cleaned), cleaned
