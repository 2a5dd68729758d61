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


# ------------------------------------------------------------------------------ the UI is never exposed bare


def _render_dagster_ingress(values: dict) -> dict:
    """The Ingress the dagster chart renders from ``values`` (templates/ingress.yaml, webserver host only)."""
    ingress, web = values["ingress"], values["ingress"]["dagsterWebserver"]
    service = values["dagsterWebserver"]["service"]
    paths = [{"path": p["path"], "pathType": p["pathType"], "service": p["serviceName"]}
             for p in web.get("precedingPaths") or []]
    paths.append({"path": web.get("path") or "/*", "pathType": web["pathType"],
                  "service": f"{values['fullnameOverride']}-dagster-webserver", "port": service.get("port", 80)})
    paths += [{"path": p["path"], "pathType": p.get("pathType"), "service": p["serviceName"]}
              for p in web.get("succeedingPaths") or []]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "annotations": dict(ingress["annotations"]),
            "ingressClassName": ingress.get("ingressClassName"),
            "tls": [{"hosts": [web["host"]], "secretName": web["tls"]["secretName"]}] if web["tls"]["enabled"] else [],
            "rules": [{"host": web["host"], "paths": paths}]}


def _oauth2_config(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)


def test_the_webserver_is_reachable_only_through_the_authenticating_proxy():
    values = _load(DEPLOY / "helm-values.yaml")
    proxy = _load(DEPLOY / "oauth2-proxy-values.yaml")
    namespace = values["runLauncher"]["config"]["k8sRunLauncher"]["jobNamespace"]
    web = values["dagsterWebserver"]
    assert web["service"]["type"] == "ClusterIP", "a LoadBalancer/NodePort service bypasses the login"
    assert web["enableReadOnly"] is False
    assert values["ingress"]["enabled"] is True

    rendered = _render_dagster_ingress(values)
    host = rendered["rules"][0]["host"]
    annotations = rendered["annotations"]
    proxy_service = f"http://{proxy['fullnameOverride']}.{namespace}.svc.cluster.local"
    assert annotations["nginx.ingress.kubernetes.io/auth-url"] == f"{proxy_service}/oauth2/auth"
    assert annotations["nginx.ingress.kubernetes.io/auth-signin"].startswith("https://$host/oauth2/start")
    assert rendered["ingressClassName"] == proxy["ingress"]["className"] == "nginx"
    assert rendered["tls"] and rendered["tls"][0]["hosts"] == [host]
    # Every path of the UI host on this (authenticated) ingress leads to the webserver; nothing else is routed
    # around the login.
    assert [p["service"] for p in rendered["rules"][0]["paths"]] == ["dagster-dagster-webserver"]

    # oauth2-proxy serves only its own /oauth2 paths on the same host, without auth annotations, over TLS.
    ingress = proxy["ingress"]
    assert ingress["enabled"] is True and ingress["hosts"] == [host] and ingress["path"] == "/oauth2"
    assert not any("auth-url" in k for k in (ingress.get("annotations") or {}))
    assert ingress["tls"][0]["hosts"] == [host]
    assert proxy["service"]["type"] == "ClusterIP" and proxy["service"]["portNumber"] == 80

    config = proxy["config"]
    assert config["existingSecret"] and not {"clientID", "clientSecret", "cookieSecret"} & set(config)
    settings = _oauth2_config(config["configFile"])
    assert settings["upstreams"] == ["static://202"] and settings["set_xauthrequest"] is True
    assert settings["email_domains"] and "*" not in settings["email_domains"], "anyone could sign in"
    assert settings["cookie_secure"] is True and settings["cookie_httponly"] is True
    assert host in settings["whitelist_domains"]

    policy = _load(DEPLOY / "webserver-networkpolicy.yaml")
    assert policy["kind"] == "NetworkPolicy" and policy["metadata"]["namespace"] == namespace
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= web["labels"].items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": web["service"]["port"]}]
    assert [source.keys() for source in rule["from"]] == [{"namespaceSelector": None}.keys()]


def test_single_machine_instructions_bind_the_webserver_to_loopback_behind_the_proxy():
    import re

    readme = (REPO / "README.md").read_text()
    commands = re.findall(r"^\s*(dagster-webserver\s[^\n]*)$", readme, flags=re.MULTILINE)
    assert commands, "the README shows how to start the webserver"
    for command in commands:
        host = re.search(r"-h\s+(\S+)", command)
        assert host and host.group(1) == "127.0.0.1", f"webserver not bound to loopback: {command}"
    assert "oauth2-proxy --config deploy/oauth2-proxy.cfg" in readme
    settings = _oauth2_config((DEPLOY / "oauth2-proxy.cfg").read_text())
    port = re.search(r"-p\s+(\d+)", commands[0]).group(1)
    assert settings["upstreams"] == [f"http://127.0.0.1:{port}/"]
    assert settings["cookie_secure"] is True and "*" not in settings["email_domains"]
    assert settings["https_address"] and settings["http_address"].startswith("127.0.0.1:")
    assert not {"client_secret", "cookie_secret"} & set(settings), "secrets belong in the environment"
    for text in (readme, (DEPLOY / "README.md").read_text()):
        assert not re.search(r"dagster-webserver[^\n]*-h\s+0\.0\.0\.0", text)
