"""End to end, the way users run the pipeline: the real dagster-webserver + dagster-daemon (workspace.yaml,
PostgreSQL run/event storage), the local API sandbox and a fresh application database.

Through GraphQL (DagsterGraphQLClient, raw GraphQL where it has no method) it materializes one day of the
whole asset graph, launches a 7-day partition backfill (launchPartitionBackfill), waits for both, and checks
run statuses, materializations per partition, the rows in PostgreSQL and the lineage GraphQL reports; then
it loads the asset-graph page in headless Chromium, saves a screenshot and fails if the page shows an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from y3d_pipeline.settings import normalize_postgres_url
from y3d_pipeline_tests.e2e.dagster_servers import REPO_ROOT, DagsterServers, prepare_dagster_home, wait_until

pytestmark = pytest.mark.e2e

ONE_DAY = "2026-03-08"  # the US DST change, inside the sandbox's data
# Late days of the sandbox data, so some orders are still awaiting shipment (print tasks are made for those).
# Not the last day: the sandbox clock stands at 2026-03-21T00:00Z while the pipeline's "now" is the real time,
# and the SP-API rejects windows ending within 2 minutes of its own clock.
BACKFILL_DAYS = [f"2026-03-{d:02d}" for d in range(13, 20)]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOT_COPY_DIR = REPO_ROOT / "benchmarks" / ".work"

# Contract tables and the asset that fills each. A table is checked once its asset exists and everything
# upstream of it is materializable (not a placeholder key for an asset still being written).
TABLES_BY_ASSET = {
    "raw/shipstation_orders": ["raw_shipstation_orders"],
    "raw/shipstation_shipments": ["raw_shipstation_shipments"],
    "raw/shipstation_tags": ["tags"],
    "raw/shipstation_stores": ["stores"],
    "raw/shopify_orders": ["raw_shopify_orders"],
    "raw/amazon_orders": ["raw_amazon_orders"],
    "raw/amazon_customizations": ["amazon_customizations"],
    "normalized/customers": ["customers"],
    "normalized/products": ["products"],
    "normalized/orders": ["orders"],
    "normalized/order_items": ["order_items"],
    "print_queue/print_tasks": ["print_tasks"],
}
# Sandbox env vars the pipeline would otherwise inherit from the developer's shell.
SOURCE_ENV_PREFIXES = ("SHIPSTATION_", "SHOPIFY_", "AMAZON_", "OPENAI_")

ERROR_TEXTS = ("Unexpected GraphQL error", "An unexpected error", "Something went wrong",
               "PythonError", "DagsterInvalid", "Traceback", "Error loading", "Failed to load")

RUN_STATUS = "query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status tags { key value } } } }"
LAUNCH_BACKFILL = """
mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
  __typename ... on LaunchBackfillSuccess { backfillId }
  ... on PythonError { message stack } ... on InvalidSubsetError { message }
  ... on PartitionSetNotFoundError { message } ... on UnauthorizedError { message } } }
"""
BACKFILL_STATUS = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill { status numPartitions runs(limit: 1000) { id status tags { key value } } }
  ... on PythonError { message } } }
"""
RUN_FAILURES = """
query($id: ID!) { logsForRun(runId: $id, limit: 10000) { __typename
  ... on EventConnection { events { __typename
    ... on MessageEvent { message level stepKey }
    ... on ErrorEvent { error { message } } } } } }
"""
ASSET_NODES = """
{ assetNodes { assetKey { path } dependencyKeys { path } isPartitioned
  partitionStats { numMaterialized numFailed } } }
"""


@pytest.fixture
def e2e_env(tmp_path, database_factory, request):
    """Environment for the servers: PostgreSQL storage, fresh app DB, sandbox (when it exists)."""
    from y3d_pipeline.db.migrate import upgrade

    env = {k: v for k, v in os.environ.items() if not k.startswith(SOURCE_ENV_PREFIXES)}
    dagster_pg = normalize_postgres_url(database_factory.create("y3d_e2e_dagster"), variable="DAGSTER_PG_URL")
    app_db = database_factory.create("y3d_e2e_app")
    upgrade(app_db)
    home = prepare_dagster_home(tmp_path / "dagster_home")
    env.update({"DAGSTER_HOME": str(home), "DAGSTER_PG_URL": dagster_pg, "DATABASE_URL": app_db,
                "PYTHONUNBUFFERED": "1", "DAGSTER_DISABLE_TELEMETRY": "1"})
    env.pop("DAGSTER_WEBSERVER_PORT", None)
    try:
        sandbox = request.getfixturevalue("fresh_sandbox")
    except pytest.FixtureLookupError:
        sandbox = None
    if sandbox is not None:
        env.update(sandbox.env())
    return env


def _asset_graph():
    from y3d_pipeline.definitions import defs

    return defs().resolve_asset_graph()


def _run_status(servers: DagsterServers, run_id: str) -> str:
    return servers.graphql(RUN_STATUS, {"id": run_id})["runOrError"]["status"]


def _failures(servers: DagsterServers, run_id: str) -> str:
    """The error/warning messages of a run (step failures, retries with their causes), for assertion messages."""
    logs = servers.graphql(RUN_FAILURES, {"id": run_id})["logsForRun"]
    lines = []
    for event in logs.get("events", []):
        error = (event.get("error") or {}).get("message")
        if event.get("level") in ("ERROR", "CRITICAL", "WARNING") or error:
            lines.append(f"[{event['__typename']}] {event.get('stepKey') or ''}: {event.get('message')}"
                         + (f"\n    {error.strip()[:1500]}" if error else ""))
    return "\n".join(lines) or "(no failure events)"


def _wait_run(servers: DagsterServers, run_id: str, timeout: float) -> str:
    terminal = {"SUCCESS", "FAILURE", "CANCELED"}
    return wait_until(lambda: (s := _run_status(servers, run_id)) in terminal and s, timeout=timeout,
                      interval=1, what=f"run {run_id}\n{servers.logs()}")


def _chromium_check(servers: DagsterServers, tmp_path: Path) -> tuple[Path, str]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    url = f"{servers.url}/asset-groups"
    # The first visit from 127.0.0.1 opens a "Join the Dagster community" dialog over the graph; mark it seen.
    servers.graphql("mutation { setNuxSeen }")
    screenshot = tmp_path / "asset-graph.png"
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1600,1000",
              "--virtual-time-budget=15000"]
    subprocess.run([*common, f"--user-data-dir={tmp_path / 'chrome-shot'}", f"--screenshot={screenshot}", url],
                   check=True, capture_output=True, timeout=120)
    dom = subprocess.run([*common, f"--user-data-dir={tmp_path / 'chrome-dom'}", "--dump-dom", url],
                         check=True, capture_output=True, timeout=120, text=True).stdout
    SCREENSHOT_COPY_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copy(screenshot, SCREENSHOT_COPY_DIR / "e2e-asset-graph.png")
    (SCREENSHOT_COPY_DIR / "e2e-asset-graph.html").write_text(dom)
    return screenshot, dom


def test_ui_server_materializes_backfills_and_shows_the_graph(e2e_env, tmp_path):
    from dagster import AssetKey, DagsterInstance
    from dagster_graphql import DagsterGraphQLClient

    graph = _asset_graph()
    nodes = {n.key.to_user_string(): n for n in graph.asset_nodes if n.is_materializable}
    assert nodes, "no materializable assets in the definitions"
    partitioned = sorted(k for k, n in nodes.items() if n.partitions_def is not None)

    started = time.monotonic()

    def mark(step: str) -> None:
        print(f"e2e +{time.monotonic() - started:5.1f} s  {step}")

    servers = DagsterServers(Path(e2e_env["DAGSTER_HOME"]), e2e_env)
    try:
        servers.start()
        mark("webserver ready")
        client = DagsterGraphQLClient("127.0.0.1", port_number=servers.port, timeout=120)

        # 1. One day of the whole graph: the implicit asset job, one partition. Unpartitioned assets in the
        # same run are materialized once (Dagster runs them without a partition).
        day_run = client.submit_job_execution("__ASSET_JOB", repository_location_name="y3d_pipeline",
                                              tags={"dagster/partition": ONE_DAY})
        status = _wait_run(servers, day_run, timeout=240)
        if status != "SUCCESS":
            pytest.fail(f"one-day run {status}:\n{_failures(servers, day_run)}")
        mark("one-day run succeeded")

        # 2. Then (not concurrently: both would share the per-API pools and rate limits) a 7-day backfill of the
        # partitioned assets, an asset backfill through the daemon.
        backfill_id = None
        if partitioned:
            launched = servers.graphql(LAUNCH_BACKFILL, {"p": {
                "partitionNames": BACKFILL_DAYS,
                "assetSelection": [{"path": k.split("/")} for k in partitioned],
                "title": "e2e 7-day backfill"}})["launchPartitionBackfill"]
            assert launched["__typename"] == "LaunchBackfillSuccess", launched
            backfill_id = launched["backfillId"]

        backfill = None
        if backfill_id:
            def backfill_done():
                b = servers.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
                return b if b["status"] not in ("REQUESTED",) else None

            backfill = wait_until(backfill_done, timeout=300, interval=2, what=f"backfill {backfill_id}")
            failed = [r for r in backfill["runs"] if r["status"] != "SUCCESS"]
            if backfill["status"] != "COMPLETED_SUCCESS" or failed or not backfill["runs"]:
                pytest.fail(f"backfill {backfill['status']}, runs {[r['status'] for r in backfill['runs']]}:\n"
                            + "\n".join(_failures(servers, r["id"]) for r in failed))
            assert backfill["numPartitions"] == len(BACKFILL_DAYS)
            mark(f"backfill completed ({len(backfill['runs'])} run(s))")

        # 3. Materializations per partition, from the same instance the servers use.
        os.environ["DAGSTER_PG_URL"] = e2e_env["DAGSTER_PG_URL"]
        with DagsterInstance.from_config(e2e_env["DAGSTER_HOME"]) as instance:
            for key in partitioned:
                done = instance.get_materialized_partitions(AssetKey.from_user_string(key))
                missing = {ONE_DAY, *BACKFILL_DAYS} - set(done)
                assert not missing, f"{key}: partitions not materialized: {sorted(missing)}"
            for key in set(nodes) - set(partitioned):
                asset_key = AssetKey.from_user_string(key)
                # Assets declared skippable (output_required=False, e.g. a write-back with nothing to write)
                # may legitimately not materialize; the run's SUCCESS already says their step succeeded.
                if not graph.get(asset_key).assets_def.get_asset_spec(asset_key).skippable:
                    assert instance.get_latest_materialization_event(asset_key), f"{key} not materialized"

        # 4. Lineage and partition stats as GraphQL reports them == the loaded definitions.
        reported = {"/".join(n["assetKey"]["path"]): n for n in servers.graphql(ASSET_NODES)["assetNodes"]}
        for key, node in nodes.items():
            assert key in reported, f"{key} missing from GraphQL assetNodes"
            deps = {"/".join(d["path"]) for d in reported[key]["dependencyKeys"]}
            assert deps == {p.to_user_string() for p in node.parent_keys}, key
            if key in partitioned:
                stats = reported[key]["partitionStats"]
                assert stats["numMaterialized"] >= 1 + len(BACKFILL_DAYS) and stats["numFailed"] == 0, (key, stats)

        # 5. Rows in the application database, for every contract table whose asset exists.
        engine = sa.create_engine(normalize_postgres_url(e2e_env["DATABASE_URL"], variable="DATABASE_URL"),
                                  poolclass=sa.pool.NullPool)
        counts = {}
        with engine.connect() as conn:
            for key, tables in TABLES_BY_ASSET.items():
                upstream = graph.get_ancestor_asset_keys(AssetKey.from_user_string(key)) if key in nodes else set()
                if key in nodes and all(graph.get(k).is_materializable for k in upstream):
                    for table in tables:
                        counts[table] = conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()  # noqa: S608
        print(f"e2e row counts: {counts}")
        if "SHIPSTATION_BASE_URL" in e2e_env:
            with engine.connect() as conn:
                printable = conn.execute(sa.text(
                    "SELECT count(*) FROM orders WHERE status IN ('awaiting_shipment', 'on_hold')")).scalar_one()
            if not printable:  # print tasks are made only for orders still to be shipped
                counts.pop("print_tasks", None)
            empty = sorted(t for t, n in counts.items() if n == 0)
            assert not empty, f"tables left empty after a day + 7-day backfill on sandbox data: {empty} ({counts})"
        engine.dispose()

        # 6. The asset graph page in headless Chromium.
        screenshot, dom = _chromium_check(servers, tmp_path)
        mark("asset graph page rendered")
        assert screenshot.stat().st_size > 10_000, "empty screenshot"
        shown = [text for text in ERROR_TEXTS if text in dom]
        assert not shown, f"the asset graph page shows an error: {shown}"
        # The lineage page opens with the groups collapsed: every group of the graph is on it.
        groups = {node.group_name for node in nodes.values()}
        missing_groups = sorted(g for g in groups if f">{g}<" not in dom)
        assert not missing_groups, f"asset groups not shown on the page: {missing_groups}"
    finally:
        servers.stop()
