"""Run config cannot redirect credentials or widen safety rules (issue 12, item 1).

Anyone who can open the Launchpad (or run ``dg launch --config-json``) writes run config. These tests launch
real runs of the deployed wiring (resources built from the environment, pointed at the sandbox) with run config
that tries to send the credentials elsewhere or to loosen the Amazon Custom download rules, and check that the
run is refused before it starts, naming the field, and that neither a capturing server nor the sandbox saw a
single request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from y3d_pipeline.defs.print_queue.assets import print_tasks
from y3d_pipeline.defs.print_queue.resources import openai_resource_from_env
from y3d_pipeline.defs.resources import ShopResource, ShopSettings
from y3d_pipeline.defs.sources.amazon.assets import raw_amazon_customizations, raw_amazon_orders
from y3d_pipeline.defs.sources.amazon.resources import amazon_resource_from_env
from y3d_pipeline.defs.sources.shipstation.assets import raw_shipstation_orders
from y3d_pipeline.defs.sources.shipstation.resources import shipstation_resource_from_env
from y3d_pipeline.defs.sources.shopify.assets import raw_shopify_orders
from y3d_pipeline.defs.sources.shopify.resources import shopify_resource_from_env
from y3d_pipeline_tests.local_http import LocalHttpServer, reply

REPO_ROOT = Path(__file__).resolve().parents[2]
DAY = "2026-03-12"
EVIL = "{capture}"  # replaced by the capturing server's URL

HOSTILE = {
    "shipstation: base_url and the key from the environment": (
        raw_shipstation_orders, "shipstation",
        {"base_url": EVIL, "api_key": {"env": "SHIPSTATION_API_KEY"}, "api_secret": {"env": "SHIPSTATION_API_SECRET"}}),
    "shipstation: base_url alone": (raw_shipstation_orders, "shipstation", {"base_url": EVIL}),
    "shipstation: the nested connection": (raw_shipstation_orders, "shipstation", {"connection": {"base_url": EVIL}}),
    "shopify: base_url and the token": (
        raw_shopify_orders, "shopify", {"base_url": EVIL, "access_token": {"env": "SHOPIFY_ACCESS_TOKEN"}}),
    "shopify: another store": (raw_shopify_orders, "shopify", {"store": "evil.example"}),
    "amazon: the LWA token URL": (raw_amazon_orders, "amazon", {"token_url": EVIL + "/auth/o2/token"}),
    "amazon: the SP-API host": (raw_amazon_orders, "amazon", {"sp_api_base_url": EVIL}),
    "amazon: Custom downloads from any host over http": (
        raw_amazon_customizations, "amazon",
        {"customization_allowed_hosts": ["169.254.169.254", "127.0.0.1"], "customization_allow_http": True}),
    "amazon: a larger download cap": (
        raw_amazon_customizations, "amazon", {"customization_max_download_bytes": 10**12}),
    "openai: base_url and the key": (
        print_tasks, "openai", {"base_url": EVIL, "api_key": {"env": "OPENAI_API_KEY"}}),
    "openai: a costlier model": (print_tasks, "openai", {"model": "gpt-4.5-preview"}),
    "shop: writing to ShipStation switched on": (print_tasks, "shop", {"writeback_enabled": True}),
    "shop: the nested settings": (print_tasks, "shop", {"settings": {"writeback_enabled": True}}),
    "database: another server": (raw_shipstation_orders, "database", {"database_url": "postgresql://x@evil.example/y3d"}),
}


@pytest.fixture
def capture():
    """Answers every request with an empty ShipStation-like page, and remembers it."""
    with LocalHttpServer(lambda request, conn: reply(
            conn, 200, b'{"orders": [], "total": 0, "page": 1, "pages": 0}',
            {"Content-Type": "application/json"})) as server:
        yield server


def _deployed_resources(database_resource) -> dict:
    """The resources exactly as definitions build them, from the (sandbox) environment."""
    return {"shipstation": shipstation_resource_from_env(), "shopify": shopify_resource_from_env(),
            "amazon": amazon_resource_from_env(), "openai": openai_resource_from_env(),
            "database": database_resource, "shop": ShopResource(settings=ShopSettings.from_env())}


def _requests_seen(sandbox) -> int:
    return sum(sandbox.stats()["requests"].values())


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_run_config_cannot_change_endpoints_credentials_or_download_rules(
        case, sandbox_env, fresh_sandbox, capture, database_resource, dagster_instance):
    asset, key, config = HOSTILE[case]
    config = json.loads(json.dumps(config).replace(EVIL, capture.url))
    with pytest.raises(dg.DagsterInvalidConfigError) as refused:
        dg.materialize([asset], resources=_deployed_resources(database_resource), partition_key=DAY,
                       instance=dagster_instance, run_config={"resources": {key: {"config": config}}})
    message = str(refused.value)
    assert "unexpected config entr" in message and any(name in message for name in config), message
    assert capture.requests == [], "credentials were sent to the run config's server"
    assert _requests_seen(fresh_sandbox) == 0, "the refused run still called an API"


def test_tunables_stay_configurable_within_bounds(sandbox_env, fresh_sandbox, database_resource,
                                                  dagster_instance):
    resources = _deployed_resources(database_resource)
    result = dg.materialize([raw_shipstation_orders], resources=resources, partition_key=DAY,
                            instance=dagster_instance,
                            run_config={"resources": {"shipstation": {"config": {"page_size": 50}}}})
    assert result.success
    assert fresh_sandbox.stats()["requests"].get("shipstation", 0) > 0
    before = _requests_seen(fresh_sandbox)
    # Out of bounds: the resource refuses to start, before any request.
    result = dg.materialize([raw_shipstation_orders], resources=resources, partition_key=DAY,
                            instance=dagster_instance, raise_on_error=False,
                            run_config={"resources": {"shipstation": {"config": {"page_size": 100_000}}}})
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE")
    assert "page_size" in str(failure.event_specific_data.error)
    assert _requests_seen(fresh_sandbox) == before


def test_dg_launch_config_json_is_refused_before_any_request(sandbox_env, fresh_sandbox, capture, tmp_path):
    """The CLI path: ``dg launch --config-json`` with the deployed definitions."""
    config = {"resources": {"shipstation": {"config": {
        "base_url": capture.url, "api_key": {"env": "SHIPSTATION_API_KEY"},
        "api_secret": {"env": "SHIPSTATION_API_SECRET"}}}}}
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/unused"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dg"), "launch", "--assets", "key:raw/shipstation_orders",
         "--partition", DAY, "--config-json", json.dumps(config)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "unexpected config entries" in done.stderr and "base_url" in done.stderr, done.stderr[-2000:]
    assert capture.requests == []
    assert _requests_seen(fresh_sandbox) == 0
