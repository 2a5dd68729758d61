"""deploy/: the production instance (deploy/dagster-k8s.yaml), the Helm values and the Dockerfile.

* Always: the instance file passes Dagster's instance schema, and its concurrency, pools, run monitoring,
  retries, retention and daemon settings equal the repository's dagster.yaml (and the Helm values say
  the same in the chart's spelling).
* With the optional extra `k8s` (dagster-k8s) installed: every configurable class in the file is loaded
  and its config validated against the class's own schema, the K8sRunLauncher is constructed from it,
  and a DagsterInstance is built from the file on a real PostgreSQL database (DAGSTER_PG_URL).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S_YAML = DEPLOY / "dagster-k8s.yaml"

SHARED_KEYS = ("concurrency", "run_monitoring", "run_retries", "retention", "sensors", "schedules",
               "backfills", "scheduler", "code_servers", "telemetry")


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _validated(monkeypatch, path: Path) -> dict:
    from dagster._core.instance.config import dagster_instance_config

    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://dagster:secret@db.invalid:5432/dagster")
    value, custom_class = dagster_instance_config(str(path.parent), path.name)
    assert custom_class is None
    return dict(value)


def test_k8s_instance_passes_dagster_instance_schema(monkeypatch):
    config = _validated(monkeypatch, K8S_YAML)
    assert config["run_launcher"]["module"] == "dagster_k8s"
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    assert config["storage"] == {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}


def test_k8s_instance_keeps_the_repository_settings():
    local, prod = _load(REPO / "dagster.yaml"), _load(K8S_YAML)
    for key in SHARED_KEYS:
        assert prod[key] == local[key], key
    # run_queue (one machine) and run_coordinator (the chart) are the same queue settings.
    assert prod["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert prod["run_coordinator"]["config"] == local["run_queue"]


def test_helm_values_say_the_same_as_the_instance_file():
    values, prod = _load(DEPLOY / "helm-values.yaml"), _load(K8S_YAML)
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlHost"] and values["postgresql"]["postgresqlDatabase"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    prod_launcher = prod["run_launcher"]["config"]
    assert [s["name"] for s in launcher["envSecrets"]] == prod_launcher["env_secrets"]
    assert launcher["jobNamespace"] == prod_launcher["job_namespace"]
    assert f"{values['fullnameOverride']}-instance" == prod_launcher["instance_config_map"]

    runs, pools = values["concurrency"]["runs"], values["concurrency"]["pools"]
    assert runs["maxConcurrentRuns"] == prod["concurrency"]["runs"]["max_concurrent_runs"]
    assert runs["tagConcurrencyLimits"] == prod["concurrency"]["runs"]["tag_concurrency_limits"]
    assert pools == {"defaultLimit": prod["concurrency"]["pools"]["default_limit"],
                     "granularity": prod["concurrency"]["pools"]["granularity"]}

    daemon = values["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    rc = prod["run_coordinator"]["config"]
    assert (queued["dequeueIntervalSeconds"], queued["dequeueUseThreads"], queued["dequeueNumWorkers"]) == (
        rc["dequeue_interval_seconds"], rc["dequeue_use_threads"], rc["dequeue_num_workers"])
    monitoring = prod["run_monitoring"]
    assert daemon["runMonitoring"] == {
        "enabled": monitoring["enabled"], "startTimeoutSeconds": monitoring["start_timeout_seconds"],
        "cancelTimeoutSeconds": monitoring["cancel_timeout_seconds"],
        "maxRuntimeSeconds": monitoring["max_runtime_seconds"],
        "pollIntervalSeconds": monitoring["poll_interval_seconds"],
        "freeSlotsAfterRunEndSeconds": monitoring["free_slots_after_run_end_seconds"]}
    retries = prod["run_retries"]
    assert daemon["runRetries"] == {"enabled": retries["enabled"], "maxRetries": retries["max_retries"],
                                    "retryOnAssetOrOpFailure": retries["retry_on_asset_or_op_failure"]}
    assert values["retention"]["schedule"]["purgeAfterDays"] == prod["retention"]["schedule"]["purge_after_days"]
    assert values["retention"]["sensor"]["purgeAfterDays"] == prod["retention"]["sensor"]["purge_after_days"]
    assert values["additionalInstanceConfig"]["backfills"] == prod["backfills"]

    deployment, = values["dagster-user-deployments"]["deployments"]
    assert deployment["codeServerArgs"] == ["-m", "y3d_pipeline.definitions"]
    assert [s["name"] for s in deployment["envSecrets"]] == prod_launcher["env_secrets"]
    for component in ("dagsterWebserver", "dagsterDaemon"):
        assert [s["name"] for s in values[component]["envSecrets"]] == prod_launcher["env_secrets"]


def test_dockerfile_builds_the_code_location_from_the_lockfile():
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.splitlines()[[i for i, line in enumerate(text.splitlines()) if line.startswith("FROM")][0]] == (
        "FROM python:3.11-slim")
    assert "uv sync --frozen --no-dev --extra k8s" in text
    assert '"dagster", "code-server", "start"' in text and '"-m", "y3d_pipeline.definitions"' in text
    for needed in ("pyproject.toml", "uv.lock", "y3d_pipeline", "migrations"):
        assert needed in text
    # The Makefile pins uv; the image uses the same version.
    makefile = (REPO / "Makefile").read_text()
    uv_version = next(line.split(":=")[1].strip() for line in makefile.splitlines()
                      if line.startswith("UV_VERSION"))
    assert f"ghcr.io/astral-sh/uv:{uv_version}" in text


DUMMY_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: test, user: {token: not-a-real-token}}]
contexts: [{name: test, context: {cluster: test, user: test}}]
current-context: test
"""


def test_k8s_instance_loads_with_dagster_k8s(monkeypatch, tmp_path, database_factory):
    pytest.importorskip("dagster_k8s")
    from dagster import DagsterInstance
    from dagster._config import process_config
    from dagster._core.instance.ref import InstanceRef
    from dagster._serdes import ConfigurableClassData, class_from_code_pointer

    from y3d_pipeline.settings import normalize_postgres_url

    config = _validated(monkeypatch, K8S_YAML)
    # Every configurable class in the file imports and accepts its config.
    for key in ("run_launcher", "run_coordinator", "scheduler"):
        klass = class_from_code_pointer(config[key]["module"], config[key]["class"])
        result = process_config(klass.config_type(), config[key]["config"])
        assert result.success, (key, [e.message for e in result.errors])

    # The launcher as a run worker's instance builds it (a dummy kubeconfig instead of in-cluster).
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(DUMMY_KUBECONFIG)
    launcher_config = {**config["run_launcher"]["config"], "load_incluster_config": False,
                       "kubeconfig_file": str(kubeconfig)}
    launcher = ConfigurableClassData(config["run_launcher"]["module"], config["run_launcher"]["class"],
                                     yaml.safe_dump(launcher_config)).rehydrate(as_type=object)
    assert launcher.env_secrets == ["y3d-pipeline-secrets"]
    assert launcher.job_namespace == "dagster"

    # A real instance on PostgreSQL from DAGSTER_PG_URL (the run launcher itself is loaded lazily).
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(K8S_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", normalize_postgres_url(database_factory.create("y3d_dagster"),
                                                                variable="DAGSTER_PG_URL"))
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        assert instance.get_runs() == []
        assert type(instance.run_storage).__module__.startswith("dagster_postgres")
