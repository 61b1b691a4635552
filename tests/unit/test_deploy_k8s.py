"""The Kubernetes manifests: every overlay renders, validates offline, and agrees with the code.

Rendering uses ``kubectl kustomize`` (kustomize v5 built into kubectl); built-in kinds are validated with
the schemas bundled in the ``kubernetes-validate`` package, and the operators' custom resources (Strimzi,
CloudNativePG) with the hand-written checks of their required fields below.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from services.common.cli import APPS
from services.common.contracts import REGISTRY
from services.common.suite import SERVICES

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ["dev", "prod"]
# The oldest Kubernetes minor we support and the newest the package knows.
K8S_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
CUSTOM_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Cluster", "ScheduledBackup", "ObjectStore",
                "PodMonitor", "PrometheusRule"}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _generator():
    spec = importlib.util.spec_from_file_location("zuofeng_k8s_generate", K8S / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kubectl() -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        # Debian 12's kubernetes-client is 1.20, whose kustomize predates components: not installed by
        # install-deps.sh. https://kubernetes.io/docs/tasks/tools/ has the packages (or a static binary).
        pytest.skip("kubectl ≥ 1.27 (with built-in kustomize v5) is not installed; the manifests are not rendered")
    return kubectl


@cache
def render(target: str) -> tuple[dict, ...]:
    kubectl = _kubectl()
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / target)], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def of_kind(docs, kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def named(docs, kind: str, name: str) -> dict:
    (match,) = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    return match


def pod_specs(docs):
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            yield doc, doc["spec"]["template"]["spec"]


# --- the generated files and the registries ------------------------------------------------------------


def test_generated_base_is_up_to_date_with_the_registries():
    generator = _generator()
    for name, content in generator.render().items():
        committed = (K8S / name).read_text(encoding="utf-8")
        assert committed == content, f"{name} is stale: run python -m deploy.k8s.generate"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_contract_topic_and_its_dlq_is_a_kafka_topic(overlay):
    docs = render(f"overlays/{overlay}")
    declared = {t["spec"]["topicName"]: t for t in of_kind(docs, "KafkaTopic")}
    expected = {c.topic() for c in REGISTRY.values()}
    expected |= {f"{t}.dlq" for t in expected}
    assert set(declared) == expected
    for name, topic in declared.items():
        assert re.fullmatch(r"zuofeng\.[a-z]+\.[a-z0-9-]+\.v1(\.dlq)?", name)
        compacted = name in ("zuofeng.triage.units.v1", "zuofeng.audit.checkpoints.v1")
        assert (topic["spec"]["config"]["cleanup.policy"] == "compact") is compacted, name
        if not compacted:
            assert topic["spec"]["config"]["retention.ms"] > 0
        assert topic["spec"]["partitions"] >= 1
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == named(docs, "Kafka", "zuofeng")["metadata"]["name"]


def test_registry_marks_only_the_unit_directory_and_the_audit_checkpoints_as_compacted():
    assert {c.topic() for c in REGISTRY.values() if c.compacted} == {"zuofeng.triage.units.v1",
                                                                      "zuofeng.audit.checkpoints.v1"}


# --- schema validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_built_in_kinds_validate_against_the_kubernetes_schema(overlay, version):
    for doc in render(f"overlays/{overlay}"):
        if doc["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(doc, version, strict=True)


def test_schema_validation_rejects_a_misspelt_field():
    deployment = copy.deepcopy(named(render("overlays/prod"), "Deployment", "zuofeng-intake"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


def _require(doc: dict, *paths: str) -> None:
    for path in paths:
        node = doc
        for part in path.split("."):
            assert isinstance(node, dict) and part in node, f"{doc['kind']} {doc['metadata']['name']}: {path}"
            node = node[part]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_have_their_required_fields(overlay):
    docs = render(f"overlays/{overlay}")
    kafka = named(docs, "Kafka", "zuofeng")
    _require(kafka, "spec.kafka.listeners", "spec.entityOperator.topicOperator")
    # KRaft with node pools (Strimzi 1.x knows nothing else): no ZooKeeper section, a pool of controllers.
    assert "zookeeper" not in kafka["spec"]
    # The version the local broker and the suite run (deploy/local/kafka.sh), and its metadata version.
    local = re.search(r'KAFKA_VERSION="\$\{KAFKA_VERSION:-([0-9.]+)\}"',
                      (ROOT / "deploy" / "local" / "kafka.sh").read_text())
    if local:
        assert kafka["spec"]["kafka"]["version"] == local.group(1)
    major, minor = kafka["spec"]["kafka"]["version"].split(".")[:2]
    assert kafka["spec"]["kafka"]["metadataVersion"].startswith(f"{major}.{minor}-IV")
    for listener in kafka["spec"]["kafka"]["listeners"]:
        assert {"name", "port", "type", "tls"} <= set(listener)
    pools = of_kind(docs, "KafkaNodePool")
    assert pools
    for pool in pools:
        _require(pool, "spec.replicas", "spec.roles", "spec.storage.type")
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == "zuofeng"
    assert any("controller" in p["spec"]["roles"] for p in pools)
    assert any("broker" in p["spec"]["roles"] for p in pools)
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    min_isr = int(kafka["spec"]["kafka"]["config"]["min.insync.replicas"])
    for topic in of_kind(docs, "KafkaTopic"):
        _require(topic, "spec.partitions", "spec.replicas", "spec.topicName")
        assert DNS_SUBDOMAIN.match(topic["metadata"]["name"])
        assert topic["spec"]["replicas"] <= brokers
        # With fewer in-sync replicas possible than required, acks=all producers could never write.
        assert int(topic["spec"]["config"]["min.insync.replicas"]) <= topic["spec"]["replicas"]
    assert min_isr <= brokers

    cluster = named(docs, "Cluster", "zuofeng-pg")
    _require(cluster, "spec.instances", "spec.storage.size", "spec.bootstrap.initdb.database")
    assert cluster["spec"]["instances"] >= 1
    for backup in of_kind(docs, "ScheduledBackup"):
        _require(backup, "spec.schedule", "spec.cluster.name")
        assert backup["spec"]["cluster"]["name"] == "zuofeng-pg"
        assert len(backup["spec"]["schedule"].split()) == 6  # CloudNativePG cron has a seconds field
        # CloudNativePG 1.31 removed the in-tree barmanObjectStore: backups go through the Barman Cloud plugin.
        assert backup["spec"]["method"] == "plugin"
        plugin = backup["spec"]["pluginConfiguration"]["name"]
        (wal_archiver,) = [p for p in cluster["spec"]["plugins"] if p.get("isWALArchiver")]
        assert wal_archiver["name"] == plugin
        store = named(docs, "ObjectStore", wal_archiver["parameters"]["barmanObjectName"])
        _require(store, "spec.configuration.destinationPath", "spec.retentionPolicy")
    assert "backup" not in cluster["spec"] and "enablePodMonitor" not in cluster["spec"].get("monitoring", {})


# --- the workloads -------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_deployment_service_hpa_and_pdb_per_service_and_the_gateway(overlay):
    docs = render(f"overlays/{overlay}")
    for app in [*SERVICES, "gateway"]:
        name = f"zuofeng-{app}"
        deployment = named(docs, "Deployment", name)
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items()
        assert named(docs, "Service", name)["spec"]["selector"].items() <= pod_labels.items()
        assert named(docs, "PodDisruptionBudget", name)["spec"]["selector"]["matchLabels"] == selector
        hpa = named(docs, "HorizontalPodAutoscaler", name)
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["serve", app]
        assert app in APPS  # the CLI accepts what the manifest runs
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_pod_migrates_its_schema_before_it_starts(overlay):
    """No Jobs (immutable, unordered against the Deployments): an init container per pod, so a pod of a
    new release starts only on a schema migrated for it, and readiness checks the version on top."""
    docs = render(f"overlays/{overlay}")
    assert not of_kind(docs, "Job")
    for app in [*SERVICES, "gateway"]:
        pod = named(docs, "Deployment", f"zuofeng-{app}")["spec"]["template"]["spec"]
        inits = pod.get("initContainers", [])
        if app == "gateway":
            assert not inits  # no database
            continue
        (init,) = inits
        (container,) = pod["containers"]
        assert init["args"] == ["migrate", app] and init["image"] == container["image"]
        env = {e["name"]: e for e in init["env"]}
        main_env = {e["name"]: e for e in container["env"]}
        assert env["DATABASE_URL"] == main_env["DATABASE_URL"] and env["DB_PASSWORD"] == main_env["DB_PASSWORD"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_non_root_read_only_without_capabilities(overlay):
    for doc, pod in pod_specs(render(f"overlays/{overlay}")):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's USER
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert pod["enableServiceLinks"] is False
        mounted = set()
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, doc["metadata"]["name"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert "add" not in context["capabilities"]
            mounted |= {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert not container["image"].endswith(":latest")
        assert "/tmp" in mounted  # read-only root: Python's tempfile needs a writable /tmp


def placeholder_secrets() -> list[dict]:
    """The Secrets the workloads expect (names and keys), as the dev component ships them."""
    path = K8S / "components" / "dev-secrets" / "secrets.yaml"
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _secrets(docs) -> dict[str, set[str]]:
    return {
        s["metadata"]["name"]: set(s.get("stringData", {})) | set(s.get("data", {})) for s in of_kind(docs, "Secret")
    }


def operator_secrets(docs) -> dict[str, dict[str, str]]:
    """Secrets Strimzi's User Operator writes, one per KafkaUser (the SCRAM password under ``password``)."""
    return {u["metadata"]["name"]: {"password": "made-by-the-user-operator"} for u in of_kind(docs, "KafkaUser")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_referenced_secret_and_config_map_exists(overlay):
    docs = render(f"overlays/{overlay}")
    # prod's Secrets are created out of band; the dev ones document their names and keys.
    secrets = _secrets(placeholder_secrets()) | {k: set(v) for k, v in operator_secrets(docs).items()}
    config_maps = {c["metadata"]["name"] for c in of_kind(docs, "ConfigMap")}
    for doc, pod in pod_specs(docs):
        for container in pod["containers"]:
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets.get(ref["name"], set()), (doc["metadata"]["name"], ref)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_connects_as_its_own_managed_role(overlay):
    docs = render(f"overlays/{overlay}")
    cluster = named(docs, "Cluster", "zuofeng-pg")
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    secrets = {s["metadata"]["name"]: s for s in placeholder_secrets()}
    sql = "\n".join(cluster["spec"]["bootstrap"]["initdb"]["postInitApplicationSQL"])
    users = set()
    for service in SERVICES:
        (container,) = named(docs, "Deployment", f"zuofeng-{service}")["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        url = urlsplit(env["DATABASE_URL"]["value"])
        assert url.password == "$(DB_PASSWORD)" and url.hostname == "zuofeng-pg-rw"
        secret_name = env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"]
        assert secrets[secret_name]["stringData"]["username"] == url.username
        assert roles[url.username]["passwordSecret"]["name"] == secret_name
        assert roles[url.username]["login"] is True
        assert f"CREATE SCHEMA {service} AUTHORIZATION {url.username}" in sql
        # The DB_PASSWORD entry must come first, or Kubernetes leaves $(DB_PASSWORD) unexpanded.
        names = list(env)
        assert names.index("DB_PASSWORD") < names.index("DATABASE_URL")
        users.add(url.username)
    assert len(users) == len(SERVICES)


def test_only_the_gateway_holds_the_signing_and_staff_keys():
    docs = render("overlays/prod")
    for doc, pod in pod_specs(docs):
        if doc["metadata"]["name"] == "zuofeng-redis":
            assert not any(c.get("env") for c in pod["containers"])  # holds no key at all
            continue
        env = {e["name"] for c in pod["containers"] for e in c.get("env", [])}
        is_gateway = doc["metadata"]["name"] == "zuofeng-gateway"
        assert ("INTERNAL_TOKEN_PRIVATE_KEY" in env) is is_gateway
        assert ("STAFF_JWT_PUBLIC_KEY" in env) is is_gateway
        assert ("DB_PASSWORD" in env) is (not is_gateway)


# --- network -------------------------------------------------------------------------------------------


def _selects(selector: dict, labels: dict) -> bool:
    if not selector:
        return True
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        value = labels.get(expr["key"])
        if expr["operator"] == "In" and value not in expr["values"]:
            return False
        if expr["operator"] == "NotIn" and value in expr["values"]:
            return False
    return True


def _policies_for(docs, labels: dict, direction: str) -> list[dict]:
    return [
        p
        for p in of_kind(docs, "NetworkPolicy")
        if direction in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], labels)
    ]


def _peers(docs, labels: dict) -> list[dict]:
    """Every peer any ingress rule admits to pods with these labels."""
    return [
        peer
        for policy in _policies_for(docs, labels, "Ingress")
        for rule in policy["spec"].get("ingress", [])
        for peer in rule["from"]
    ]


def _pod_labels(docs, name: str) -> dict:
    return named(docs, "Deployment", name)["spec"]["template"]["metadata"]["labels"]


def test_network_policies_confine_every_workload():
    docs = render("overlays/prod")
    gateway, intake = _pod_labels(docs, "zuofeng-gateway"), _pod_labels(docs, "zuofeng-intake")
    # Everything of ours is under a default deny in both directions.
    for name in [f"zuofeng-{a}" for a in [*SERVICES, "gateway"]]:
        labels = _pod_labels(docs, name)
        for direction in ("Ingress", "Egress"):
            policies = _policies_for(docs, labels, direction)
            assert any("ingress" not in p["spec"] and "egress" not in p["spec"] for p in policies), (name, direction)
    # Services admit the gateway (and the metrics scraper), never the ingress controller.
    intake_from = _peers(docs, intake)
    gateway_selector = {k: gateway[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/part-of")}
    assert {"podSelector": {"matchLabels": gateway_selector}} in intake_from
    assert not any("ingress-nginx" in str(peer) for peer in intake_from)
    gateway_from = _peers(docs, gateway)
    assert any("ingress-nginx" in str(peer) for peer in gateway_from)
    # Services reach PostgreSQL, Kafka and DNS (plus the trace collector); the gateway reaches services.
    intake_to = [str(r) for p in _policies_for(docs, intake, "Egress") for r in p["spec"].get("egress", [])]
    assert any("cnpg.io/cluster" in r and "5432" in r for r in intake_to)
    assert any("strimzi.io/cluster" in r and "9093" in r for r in intake_to)
    assert any("kube-dns" in r for r in intake_to)
    assert all("to" in rule for p in _policies_for(docs, intake, "Egress") for rule in p["spec"].get("egress", []))
    gateway_to = [str(r) for p in _policies_for(docs, gateway, "Egress") for r in p["spec"].get("egress", [])]
    assert not any("cnpg.io" in r or "strimzi.io" in r for r in gateway_to)


def test_default_deny_leaves_the_operators_pods_alone():
    """Strimzi copies the Kafka resource's labels onto broker pods; a deny on them would cut replication."""
    docs = render("overlays/prod")
    broker_labels = {
        "app.kubernetes.io/part-of": "zuofeng",
        "strimzi.io/cluster": "zuofeng",
        "app.kubernetes.io/name": "kafka",
    }
    assert not _policies_for(docs, broker_labels, "Ingress")
    assert not _policies_for(docs, broker_labels, "Egress")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_exposes_only_the_gateways_public_paths(overlay):
    from gateway.policy import RULES

    docs = render(f"overlays/{overlay}")
    (ingress,) = of_kind(docs, "Ingress")
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert {p["backend"]["service"]["name"] for p in paths} == {"zuofeng-gateway"}
    assert ingress["spec"]["tls"]
    prefixes = {p["path"] for p in paths}
    assert all(p["pathType"] == "Prefix" for p in paths)

    def exposed(path: str) -> bool:  # Kubernetes Prefix matching: whole path elements
        return any(path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in prefixes)

    for internal in ("/metrics", "/readyz", "/healthz", "/docs", "/openapi.json", "/"):
        assert not exposed(internal), internal
    # Every route the policy makes public is reachable (its literal start, regex anchors stripped).
    for rule in RULES:
        if rule.audience == "public":
            literal = re.match(r"\^([^\\(\[?*+$]*)", rule.pattern.pattern).group(1)
            assert exposed(literal), rule.pattern.pattern
    assert exposed("/api/v1/triage/clues")  # staff use the API with their own tokens


def _bytes(nginx_size: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", nginx_size.lower()).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_body_limit_matches_the_gateways(overlay):
    """Below the gateway's, nginx would refuse a QR report the gateway and intake accept (with an HTML
    page, not a problem); far above, it would buffer what the gateway refuses anyway."""
    from gateway.settings import GatewaySettings
    from services.intake.settings import IntakeSettings

    (ingress,) = of_kind(render(f"overlays/{overlay}"), "Ingress")
    limit = _bytes(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"])
    gateway = GatewaySettings(_env_file=None)
    intake = IntakeSettings(_env_file=None)
    # The gateway's per-route limits where it has them; else a QR report's attachments and its form (1 MiB).
    qr_report = getattr(gateway, "body_limits", {}).get(
        "qr-report", intake.attachment_max_bytes * intake.attachment_max_count + 1024 * 1024)
    largest = max([*getattr(gateway, "body_limits", {}).values(), gateway.hotline_max_body_bytes, qr_report])
    assert largest <= limit < largest + 1024 * 1024


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_connection_pools_fit_the_role_and_server_limits(overlay):
    docs = render(f"overlays/{overlay}")
    (config,) = [c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"].startswith("zuofeng-config")]
    per_pod = 2 * int(config["data"]["DB_POOL_SIZE"]) + 1  # pool + overflow + the relay's LISTEN connection
    cluster = named(docs, "Cluster", "zuofeng-pg")
    limits = {r["name"]: r["connectionLimit"] for r in cluster["spec"]["managed"]["roles"]}
    total = 0
    for service in SERVICES:
        pods = named(docs, "HorizontalPodAutoscaler", f"zuofeng-{service}")["spec"]["maxReplicas"]
        need = pods * per_pod + 2  # + a migration Job or a DLQ replay
        assert need <= limits[f"zuofeng_{service}"], service
        total += limits[f"zuofeng_{service}"]
    assert total + 10 <= int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])


def test_prod_never_applies_placeholder_secrets_and_dev_has_all_of_them():
    placeholders = {s["metadata"]["name"] for s in placeholder_secrets()}
    assert placeholders and not of_kind(render("overlays/prod"), "Secret")
    assert {s["metadata"]["name"] for s in of_kind(render("overlays/dev"), "Secret")} == placeholders


# Read by the process itself rather than by a settings class (cli.py, uvicorn, OpenTelemetry, Kubernetes).
PROCESS_ENV = {"ZUOFENG_HOST", "PORT", "WEB_CONCURRENCY", "POD_NAME", "DB_PASSWORD",
               "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"}  # the last three: boto3
# Settings other issues are adding (the local env file, tests/conftest.py and suite.sh already pass them);
# once a settings class declares one, it is checked like the rest.
PENDING_SETTINGS = {"IDENTITY_KEYRING", "CONTACT_KEYRING", "HOTLINE_KEYS", "ZUOFENG_DATA_DIR", "AUDIT_KEYRING"}


def declared_settings() -> set[str]:
    from importlib import import_module

    names = set()
    for module in [f"services.{s}.settings" for s in SERVICES] + ["gateway.settings"]:
        for obj in vars(import_module(module)).values():
            if isinstance(obj, type) and hasattr(obj, "model_fields"):
                names |= {f.validation_alias for f in obj.model_fields.values() if isinstance(f.validation_alias, str)}
    return names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_the_manifests_set_is_read_by_someone(overlay):
    """A misspelt variable is silently ignored by pydantic-settings; this is where it would show."""
    docs = render(f"overlays/{overlay}")
    known = declared_settings() | PROCESS_ENV | PENDING_SETTINGS
    names = set()
    for config in of_kind(docs, "ConfigMap"):
        names |= set(config["data"])
    for _, pod in pod_specs(docs):
        names |= {e["name"] for c in pod["containers"] for e in c.get("env", [])}
    unknown = {n for n in names if n not in known and not n.startswith("OTEL_")}
    assert not unknown


def test_prod_scrapes_every_workload_and_alerts_on_exported_metrics():
    from .test_deploy_dashboard import exported

    docs = render("overlays/prod")
    (monitor,) = of_kind(docs, "PodMonitor")
    _require(monitor, "spec.selector", "spec.podMetricsEndpoints")
    for app in [*SERVICES, "gateway"]:
        pod = named(docs, "Deployment", f"zuofeng-{app}")["spec"]["template"]
        assert _selects(monitor["spec"]["selector"], pod["metadata"]["labels"]), app
        ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        assert {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]} <= ports
    series = exported()
    (rules,) = of_kind(docs, "PrometheusRule")
    alerts = [r for g in rules["spec"]["groups"] for r in g["rules"]]
    for alert in alerts:
        assert {"alert", "expr", "labels"} <= set(alert) and alert["labels"]["severity"]
        names = re.findall(r"\b(zuofeng_[a-z_]+)", alert["expr"])
        assert names and all(n in series for n in names), alert["alert"]
    watched = {n for a in alerts for n in re.findall(r"\b(zuofeng_[a-z_]+)", a["expr"])}
    assert {"zuofeng_outbox_backlog", "zuofeng_dlq_events_total", "zuofeng_consumer_lag",
            "zuofeng_sla_breaches_total"} <= watched


# --- every workload starts ----------------------------------------------------------------------------


def _decoded(secret: dict) -> dict[str, str]:
    values = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    return values | dict(secret.get("stringData") or {})


@cache
def runbook_secrets() -> dict[str, dict[str, str]]:
    """The Secrets docs/operations.md tells an operator to create, made by running its very shell block
    (``kubectl apply`` captured instead of sent to a cluster)."""
    kubectl = _kubectl()
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (deploy/local/install-deps.sh installs it)")
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"<!-- create-secrets -->\s*```sh\n(.*?)```\s*<!-- /create-secrets -->", text, re.S)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    work = Path(tempfile.mkdtemp(prefix="zuofeng-runbook-"))
    try:
        shim = work / "bin"
        shim.mkdir()
        (shim / "kubectl").write_text(
            f'#!/bin/sh\nif [ "$1" = apply ]; then cat >> "$APPLIED"; echo --- >> "$APPLIED"; exit 0; fi\n'
            f'exec {kubectl} "$@"\n'
        )
        (shim / "kubectl").chmod(0o755)
        # The city IdP's signing key: any asymmetric public key the gateway accepts.
        idp = Ed25519PrivateKey.generate().public_key()
        (work / "idp-public.pem").write_bytes(
            idp.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        applied = work / "applied.yaml"
        env = {"PATH": f"{shim}:/usr/bin:/bin", "APPLIED": str(applied), "HOME": str(work),
               "KUBECONFIG": str(work / "no-cluster")}
        subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=work, env=env, check=True,
                       capture_output=True, text=True, timeout=120)
        docs = [d for d in yaml.safe_load_all(applied.read_text()) if d]
        assert not (work / "private.pem").exists(), "the runbook leaves the signing key on the operator's disk"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {d["metadata"]["name"]: _decoded(d) for d in docs if d["kind"] == "Secret"}


def overlay_secrets(overlay: str) -> dict[str, dict[str, str]]:
    docs = render(f"overlays/{overlay}")
    shipped = {s["metadata"]["name"]: _decoded(s) for s in of_kind(docs, "Secret")}
    return (shipped or runbook_secrets()) | operator_secrets(docs)


def container_env(docs, container: dict, secrets: dict[str, dict[str, str]]) -> dict[str, str]:
    """The environment Kubernetes gives this container: envFrom ConfigMaps, then env in order."""
    config_maps = {c["metadata"]["name"]: c.get("data", {}) for c in of_kind(docs, "ConfigMap")}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    for entry in container.get("env", []):
        if "value" in entry:
            value = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), entry["value"])
        elif ref := entry["valueFrom"].get("secretKeyRef"):
            assert ref["name"] in secrets, f"Secret {ref['name']} is not made as the docs say"
            assert ref["key"] in secrets[ref["name"]], f"Secret {ref['name']} has no key {ref['key']}"
            value = secrets[ref["name"]][ref["key"]]
        else:
            value = "zuofeng-pod-0"  # fieldRef metadata.name
        env[entry["name"]] = value
    return env


def settings_class(args: list[str]):
    from importlib import import_module

    from services.common.settings import ServiceSettings

    command, app = args[0], args[1]
    if command == "migrate":
        return ServiceSettings  # cli.cmd_migrate
    module = import_module("gateway.settings" if app == "gateway" else f"services.{app}.settings")
    (cls,) = [
        obj for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, ServiceSettings) and obj.__module__ == module.__name__
    ]
    return cls


# What a service computes from its settings while it starts (key rings, the audit keys).
STARTUP_PROPERTIES = ("identity_ring", "contact_ring", "audit_keys", "receipt_key")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_starts_with_the_overlays_config_and_secrets(overlay):
    docs = render(f"overlays/{overlay}")
    secrets = overlay_secrets(overlay)
    (ingress,) = of_kind(docs, "Ingress")
    public = f"https://{ingress['spec']['rules'][0]['host']}"
    started = []
    for doc, pod in pod_specs(docs):
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            if container.get("args", [""])[0] not in ("serve", "migrate"):
                continue  # not zuofeng's image (Redis)
            env = container_env(docs, container, secrets)
            cls = settings_class(container["args"])
            with mock.patch.dict(os.environ, env, clear=True):
                settings = cls(_env_file=None)
                # What a service computes as it starts (app.py); migrations and the gateway never ask.
                if container["args"][0] == "serve" and container["args"][1] != "gateway":
                    for prop in STARTUP_PROPERTIES:
                        if hasattr(type(settings), prop):
                            getattr(settings, prop)
                if cls.__name__ == "IntakeSettings" and container["args"][0] == "serve":
                    from services.intake.attachments import blob_store

                    store = blob_store(settings)  # the S3 client needs boto3 in the image (the lock)
                    assert type(store).__name__ == ("S3BlobStore" if overlay == "prod" else "FilesystemBlobStore")
            assert settings.environment == ("development" if overlay == "dev" else "production")
            assert "$(" not in settings.database_url
            # Links citizens get (QR posters, receipts, rating links) point at the public host.
            for field in ("public_base_url",):
                if hasattr(settings, field):
                    assert getattr(settings, field) == public, (doc["metadata"]["name"], field)
            if cls.__name__ == "NotificationSettings":
                assert settings.smtp_host not in ("127.0.0.1", "localhost") and settings.smtp_port != 1025
            if cls.__name__ == "GatewaySettings":
                assert settings.trusted_proxies and settings.hotline_keys and settings.staff_jwt_public_key
            started.append((doc["kind"], doc["metadata"]["name"], container["name"]))
    deployments = {n for k, n, _ in started if k == "Deployment"}
    assert deployments == {f"zuofeng-{a}" for a in [*SERVICES, "gateway"]}
    assert {n for k, n, _ in started if k == "Job"} or any(
        c == "migrate" for _, _, c in started
    ), "no migrations run"


def test_dev_secrets_are_refused_in_production():
    """The dev overlay's keys are public: a production pod given them must refuse to start."""
    from services.common import settings as common

    if not hasattr(common, "DEV_KEY_MARKER"):
        pytest.skip("production does not yet refuse development keys (the security hardening adds it)")
    assert common.DEV_KEY_MARKER == _generator().DEV_KEY_MARKER
    docs = render("overlays/dev")
    secrets = overlay_secrets("dev")
    deployment = named(docs, "Deployment", "zuofeng-intake")
    env = container_env(docs, deployment["spec"]["template"]["spec"]["containers"][0], secrets)
    env["ZUOFENG_ENV"] = "production"
    cls = settings_class(["serve", "intake"])
    with mock.patch.dict(os.environ, env, clear=True), pytest.raises(ValueError):
        settings = cls(_env_file=None)
        for prop in STARTUP_PROPERTIES:
            if hasattr(type(settings), prop):
                getattr(settings, prop)


def test_the_docs_list_every_secret_key_in_one_table():
    generator = _generator()
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    (table,) = re.findall(r"<!-- secrets-table -->(.*?)<!-- /secrets-table -->", text, re.S)
    cells = [line.split("|")[1:3] for line in table.splitlines() if line.startswith("| `")]
    rows = {(re.findall(r"`([^`]+)`", a)[0], re.findall(r"`([^`]+)`", b)[0]) for a, b in cells}
    expected = {(name, key) for name, keys in generator.SECRETS.items() for key in keys}
    expected |= {("zuofeng-db-<service>", "username"), ("zuofeng-db-<service>", "password"),
                 ("zuofeng-<service>", "password")}
    assert rows == expected
    # And what the workloads read is exactly what the table lists (no key read that nobody creates).
    referenced = set()
    for overlay in OVERLAYS:
        for _, pod in pod_specs(render(f"overlays/{overlay}")):
            for container in [*pod.get("initContainers", []), *pod["containers"]]:
                for entry in container.get("env", []):
                    if ref := entry.get("valueFrom", {}).get("secretKeyRef"):
                        name = "zuofeng-db-<service>" if ref["name"].startswith("zuofeng-db-") else ref["name"]
                        if ref["name"] in {f"zuofeng-{s}" for s in SERVICES}:
                            name = "zuofeng-<service>"  # the service's KafkaUser
                        referenced.add((name, ref["key"]))
    assert referenced == expected - {("zuofeng-db-<service>", "username")}


# --- custom resources against the operators' current CRD schemas --------------------------------------

SCHEMAS = ROOT.parent / "shared" / "k8s-schemas"
# The operator releases the manifests target; their CRDs' OpenAPI schemas, converted to JSON Schema.
SCHEMA_SETS = ("strimzi-1.2.0", "cnpg-1.30.0", "promop")


def crd_schema(doc: dict) -> dict | None:
    group, _, version = doc["apiVersion"].rpartition("/")
    for schema_set in SCHEMA_SETS:
        path = SCHEMAS / schema_set / group / f"{doc['kind'].lower()}_{version}.json"
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
    return None


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_validate_against_the_operators_crd_schemas(overlay):
    import jsonschema

    if not SCHEMAS.is_dir():
        pytest.skip(f"no CRD schemas at {SCHEMAS} (JSON Schemas of Strimzi 1.2.0, CloudNativePG 1.30.0, "
                    "prometheus-operator); custom resources not validated")
    unvalidated = []
    for doc in render(f"overlays/{overlay}"):
        if "." not in doc["apiVersion"].partition("/")[0] or doc["apiVersion"].endswith("k8s.io/v1"):
            continue  # built-in kinds: kubernetes-validate above
        schema = crd_schema(doc)
        if schema is None:
            unvalidated.append(f"{doc['kind']} ({doc['apiVersion']})")
            continue
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=str)
        assert not errors, f"{doc['kind']} {doc['metadata']['name']}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
        )
    # Only kinds without a published schema in the set may go unchecked (the Barman Cloud plugin's).
    assert set(unvalidated) <= {"ObjectStore (barmancloud.cnpg.io/v1)"}, unvalidated


def test_the_crd_schemas_catch_an_old_api():
    if not SCHEMAS.is_dir():
        pytest.skip(f"no CRD schemas at {SCHEMAS}")
    kafka = copy.deepcopy(named(render("overlays/prod"), "Kafka", "zuofeng"))
    assert crd_schema(kafka) is not None
    kafka["apiVersion"] = "kafka.strimzi.io/v1beta2"
    assert crd_schema(kafka) is None  # Strimzi ≥ 1.0 serves v1 only


# --- Kafka: TLS + SCRAM, one user per service ----------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_admits_only_authenticated_users_within_their_acls(overlay):
    docs = render(f"overlays/{overlay}")
    kafka = named(docs, "Kafka", "zuofeng")
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert listeners and all(x["tls"] and x["authentication"]["type"] == "scram-sha-512" for x in listeners)
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    assert "userOperator" in kafka["spec"]["entityOperator"]
    generator = _generator()
    topics = {t["spec"]["topicName"] for t in of_kind(docs, "KafkaTopic")}
    for service in SERVICES:
        user = named(docs, "KafkaUser", f"zuofeng-{service}")
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        produces, consumes = generator.kafka_usage(service)

        def allowed(operation: str, topic: str, user=user) -> bool:
            return any(
                operation in acl["operations"] and acl["resource"]["type"] == "topic" and (
                    topic == acl["resource"]["name"] if acl["resource"]["patternType"] == "literal"
                    else topic.startswith(acl["resource"]["name"]))
                for acl in user["spec"]["authorization"]["acls"])

        for topic in topics:
            own = topic.startswith(f"zuofeng.{service}.")
            base = topic.removesuffix(".dlq")
            # Writes: its own events, and dead letters of what it consumes. Never another service's events.
            assert allowed("Write", topic) == (own or (topic.endswith(".dlq") and base in consumes)), (service, topic)
            # Reads: only what it consumes (reporter data stays with the services that handle it).
            assert allowed("Read", topic) == (topic in consumes), (service, topic)
        assert set(produces) | set(consumes) <= topics
        groups = [a["resource"]["name"] for a in user["spec"]["authorization"]["acls"] if a["resource"]["type"] == "group"]
        assert groups == [f"zuofeng-{service}"]  # EventConsumer's group id (no topic prefix in a cluster)
        (container,) = named(docs, "Deployment", f"zuofeng-{service}")["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["KAFKA_SASL_USERNAME"]["value"] == user["metadata"]["name"]
        assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": user["metadata"]["name"], "key": "password"}


def test_egress_allows_what_leaves_the_cluster_and_only_that():
    """SMS/WeChat webhooks and SMTP (notification), JWKS (gateway), object storage and hotline callbacks
    (intake) are outside the cluster; no other workload may leave it."""
    docs = render("overlays/prod")

    def outside_ports(name: str) -> set[int]:
        return {
            port["port"]
            for policy in _policies_for(docs, _pod_labels(docs, name), "Egress")
            for rule in policy["spec"].get("egress", [])
            if any("ipBlock" in peer for peer in rule.get("to", []))
            for port in rule.get("ports", [])
        }

    assert {443, 587} <= outside_ports("zuofeng-notification")
    assert outside_ports("zuofeng-gateway") == {443}
    assert outside_ports("zuofeng-intake") == {443}
    for service in ("triage", "accountability", "evaluation"):
        assert not outside_ports(f"zuofeng-{service}"), service
