"""The Helm chart (deploy/helm/zuofeng): rendered by a real helm, equal to the kustomize base with its
defaults, valid against the Kubernetes and the operators' schemas, and every workload starts from it.

helm comes from PATH or is built once from the Go module proxy by deploy/local/helm.sh (cached in
~/.cache/zuofeng); without either the tests are skipped with a message. The chart itself is written by
``python -m deploy.k8s.generate`` from the same manifests as the base (test_deploy_k8s.py checks it is
up to date).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from unittest import mock

import kubernetes_validate
import pytest
import yaml

from services.common.suite import SERVICES

from .test_deploy_k8s import (
    K8S_VERSIONS,
    SCHEMAS,
    STARTUP_PROPERTIES,
    container_env,
    crd_schema,
    named,
    of_kind,
    operator_secrets,
    pod_specs,
    render,
    runbook_secrets,
    settings_class,
)

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "zuofeng"
VALUES = {
    "default": [],
    "dev": ["-f", str(ROOT / "deploy" / "helm" / "values-dev.yaml")],
    "prod": ["-f", str(ROOT / "deploy" / "helm" / "values-prod.example.yaml")],
    # Kafka and PostgreSQL of the city's own, not made by operators in the release.
    "external": ["-f", str(ROOT / "deploy" / "helm" / "values-prod.example.yaml"),
                 "--set", "kafka.create=false", "--set", "kafka.bootstrapServers=kafka-1.example.gov.cn:9093",
                 "--set", "kafka.caSecret=city-kafka-ca", "--set", "postgres.create=false",
                 "--set", "postgres.host=pg.example.gov.cn", "--set", "postgres.port=6432"],
}
KUBE_VERSION = "1.33.0"
HELM_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")


@cache
def _helm() -> str:
    cached = any((Path.home() / ".cache" / "zuofeng").glob("go-helm-*/bin/helm"))
    if shutil.which("helm") is None and shutil.which("go") is None and not cached:
        pytest.skip("no helm and no go toolchain to build it (deploy/local/helm.sh); the Helm chart is not rendered")
    out = subprocess.run(["bash", str(ROOT / "deploy/local/helm.sh"), "bin"], check=True, capture_output=True,
                         text=True, timeout=1800)
    return out.stdout.strip()


@cache
def helm_render(values: str, *extra: str) -> tuple[dict, ...]:
    out = subprocess.run(
        [_helm(), "template", "zuofeng", str(CHART), "--kube-version", KUBE_VERSION, *VALUES[values], *extra],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


@pytest.mark.parametrize("values", list(VALUES))
def test_the_chart_lints(values):
    result = subprocess.run([_helm(), "lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION, *VALUES[values]],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _comparable(docs, kustomize: bool) -> dict[tuple[str, str], dict]:
    """Documents by (kind, name), without what only tells the two tools apart: kustomize's hash suffix on
    the ConfigMap (the chart rolls pods by a checksum annotation instead) and Helm's bookkeeping labels."""
    result = {}
    for doc in docs:
        text = json.dumps(doc)
        if kustomize:
            text = re.sub(r'"zuofeng-config-[a-z0-9]{10}"', '"zuofeng-config"', text)
        doc = json.loads(text)
        for key in HELM_LABELS:
            doc["metadata"].get("labels", {}).pop(key, None)
        annotations = doc.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {})
        annotations.pop("checksum/config", None)
        result[(doc["kind"], doc["metadata"]["name"])] = doc
    return result


def test_default_values_render_exactly_the_kustomize_base():
    # The base's image tag is `latest` (overlays pin theirs); the chart's default is its appVersion.
    chart = _comparable(helm_render("default", "--set", "image.tag=latest"), kustomize=False)
    base = _comparable(render("base"), kustomize=True)
    assert set(chart) == set(base)
    for key, doc in base.items():
        assert chart[key] == doc, f"{key}: the chart renders it differently from the kustomize base"
    # And every object carries Helm's labels, and the pods roll when the shared settings change.
    for doc in helm_render("default"):
        assert doc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    changed = helm_render("default", "--set", "config.LOG_LEVEL=WARNING")

    def checksum(docs, name: str) -> str:
        return named(docs, "Deployment", name)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    for name in (f"zuofeng-{a}" for a in [*SERVICES, "gateway"]):
        assert checksum(changed, name) != checksum(helm_render("default"), name), name


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("values", list(VALUES))
def test_built_in_kinds_validate_against_the_kubernetes_schema(values, version):
    for doc in helm_render(values):
        if "." in doc["apiVersion"].partition("/")[0] and not doc["apiVersion"].endswith("k8s.io/v1"):
            continue  # custom resources: below
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("values", list(VALUES))
def test_custom_resources_validate_against_the_operators_crd_schemas(values):
    import jsonschema

    if not SCHEMAS.is_dir():
        pytest.skip(f"no CRD schemas at {SCHEMAS}; custom resources not validated")
    checked = 0
    for doc in helm_render(values):
        if "." not in doc["apiVersion"].partition("/")[0] or doc["apiVersion"].endswith("k8s.io/v1"):
            continue
        schema = crd_schema(doc)
        if schema is None and doc["apiVersion"] == "barmancloud.cnpg.io/v1":
            continue  # the Barman Cloud plugin's ObjectStore: no published schema in the set (as for the overlays)
        assert schema is not None, f"{doc['kind']} ({doc['apiVersion']}) has no current CRD schema"
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=str)
        assert not errors, f"{doc['kind']} {doc['metadata']['name']}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])
        checked += 1
    assert checked or values == "external"


def _secrets(values: str, docs) -> dict[str, dict[str, str]]:
    shipped = {s["metadata"]["name"]: dict(s["stringData"]) for s in of_kind(docs, "Secret")}
    return (shipped or runbook_secrets()) | operator_secrets(render("base"))


@pytest.mark.parametrize("values", ["dev", "prod", "external"])
def test_every_workload_starts_with_the_charts_config_and_secrets(values):
    """As for the overlays: each container's environment, built from the rendered ConfigMap, env and the
    Secrets (the chart's own in dev, the runbook's in prod), constructs its settings class."""
    docs = helm_render(values)
    secrets = _secrets(values, docs)
    (ingress,) = of_kind(docs, "Ingress")
    public = f"https://{ingress['spec']['rules'][0]['host']}"
    started = set()
    for doc, pod in pod_specs(docs):
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            if container.get("args", [""])[0] not in ("serve", "migrate"):
                continue  # Redis
            env = container_env(docs, container, secrets)
            with mock.patch.dict(os.environ, env, clear=True):
                settings = settings_class(container["args"])(_env_file=None)
                if container["args"][0] == "serve" and container["args"][1] != "gateway":
                    for prop in STARTUP_PROPERTIES:
                        if hasattr(type(settings), prop):
                            getattr(settings, prop)
            assert settings.environment == ("development" if values == "dev" else "production")
            if hasattr(settings, "public_base_url"):
                assert settings.public_base_url == public
            if container["args"][1] != "gateway":
                host = {"external": "pg.example.gov.cn:6432"}.get(values, "zuofeng-pg-rw:5432")
                assert f"@{host}/zuofeng" in settings.database_url and "$(" not in settings.database_url
            started.add(doc["metadata"]["name"])
    assert started == {f"zuofeng-{a}" for a in [*SERVICES, "gateway"]}


def test_values_reach_the_manifests():
    prod = helm_render("prod")
    for _, pod in pod_specs(prod):
        for container in pod["containers"]:
            if container["name"] != "redis":
                assert container["image"] == "registry.example.invalid/zuofeng/zuofeng:1.0.0"
    intake = named(prod, "HorizontalPodAutoscaler", "zuofeng-intake")["spec"]
    assert (intake["minReplicas"], intake["maxReplicas"]) == (3, 12)
    assert named(prod, "HorizontalPodAutoscaler", "zuofeng-triage")["spec"]["maxReplicas"] == 6  # default kept

    def resources(docs, name: str) -> dict:
        return named(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["resources"]

    overlay = render("overlays/prod")
    for app in [*SERVICES, "gateway"]:  # intake's more capacity, everyone else's defaults: as the prod overlay
        assert resources(prod, f"zuofeng-{app}") == resources(overlay, f"zuofeng-{app}"), app
    (ingress,) = of_kind(prod, "Ingress")
    assert ingress["spec"]["rules"][0]["host"] == ingress["spec"]["tls"][0]["hosts"][0] == "zuofeng.example.gov.cn"
    assert not of_kind(prod, "Secret")  # production Secrets are made out of band
    # Intake's role admits its 12 pods' pools, and all roles fit the server.
    (config,) = of_kind(prod, "ConfigMap")
    per_pod = 2 * int(config["data"]["DB_POOL_SIZE"]) + 1
    cluster = named(prod, "Cluster", "zuofeng-pg")
    limits = {r["name"]: r["connectionLimit"] for r in cluster["spec"]["managed"]["roles"]}
    for service in SERVICES:
        pods = named(prod, "HorizontalPodAutoscaler", f"zuofeng-{service}")["spec"]["maxReplicas"]
        assert pods * per_pod + 2 <= limits[f"zuofeng_{service}"], service
    assert sum(limits.values()) + 10 <= int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])

    external = helm_render("external")
    assert not [d for d in external if d["apiVersion"].split("/")[0] in ("kafka.strimzi.io", "postgresql.cnpg.io")]
    (config,) = of_kind(external, "ConfigMap")
    assert config["data"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka-1.example.gov.cn:9093"
    # The default deny lets the services (and their migrations) reach exactly the city's brokers and database.
    policy = named(external, "NetworkPolicy", "zuofeng-services-to-external-data")
    assert {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]} == {9093, 6432}
    assert "zuofeng-services-to-external-data" not in {p["metadata"]["name"] for p in of_kind(prod, "NetworkPolicy")}
    volumes = named(external, "Deployment", "zuofeng-intake")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "kafka-ca", "secret": {"secretName": "city-kafka-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}} in volumes

    dev = helm_render("dev")
    assert all(named(dev, "HorizontalPodAutoscaler", f"zuofeng-{a}")["spec"]["maxReplicas"] == 2
               for a in [*SERVICES, "gateway"])
    assert named(dev, "KafkaNodePool", "dual-role")["spec"]["replicas"] == 1
    assert {t["spec"]["replicas"] for t in of_kind(dev, "KafkaTopic")} == {1}
    db = named(dev, "Secret", "zuofeng-db-intake")
    assert db["type"] == "kubernetes.io/basic-auth" and db["metadata"]["labels"]["cnpg.io/reload"] == "true"


def test_monitoring_is_the_prod_overlays_when_enabled():
    """The PodMonitor and alert rules (Prometheus' own {{ $labels }} templates intact) are the prod overlay's."""
    assert not [d for d in helm_render("default") if d["apiVersion"].startswith("monitoring.coreos.com")]
    chart = {(d["kind"], d["metadata"]["name"]): d for d in helm_render("prod")
             if d["apiVersion"].startswith("monitoring.coreos.com")}
    overlay = {(d["kind"], d["metadata"]["name"]): d for d in render("overlays/prod")
               if d["apiVersion"].startswith("monitoring.coreos.com")}
    assert set(chart) == set(overlay) == {("PodMonitor", "zuofeng"), ("PrometheusRule", "zuofeng")}
    for key, doc in overlay.items():
        assert chart[key]["spec"] == doc["spec"], key
    assert "{{ $labels.service }}" in json.dumps(chart[("PrometheusRule", "zuofeng")])


def test_backups_are_the_prod_overlays_when_enabled():
    """WAL archiving and nightly base backups through the Barman Cloud plugin, off by default as in the base."""
    assert "plugins" not in named(helm_render("default"), "Cluster", "zuofeng-pg")["spec"]
    assert not of_kind(helm_render("default"), "ScheduledBackup") and not of_kind(helm_render("default"), "ObjectStore")
    chart, overlay = helm_render("prod"), render("overlays/prod")
    assert (named(chart, "Cluster", "zuofeng-pg")["spec"]["plugins"]
            == named(overlay, "Cluster", "zuofeng-pg")["spec"]["plugins"])
    assert (named(chart, "ScheduledBackup", "zuofeng-pg-nightly")["spec"]
            == named(overlay, "ScheduledBackup", "zuofeng-pg-nightly")["spec"])
    store = named(chart, "ObjectStore", "zuofeng-pg-backups")["spec"]
    expected = named(overlay, "ObjectStore", "zuofeng-pg-backups")["spec"]
    assert store["configuration"].pop("endpointURL") == "https://s3.example.gov.cn"  # the example's own
    expected["configuration"].pop("endpointURL")
    assert store == expected
    assert not of_kind(helm_render("external"), "ObjectStore")  # no CloudNativePG Cluster, no plugin backups
