"""The Helm chart (deploy/helm/zuofeng) written from the very manifests the kustomize base is made of.

``generate.py`` builds every Deployment, Service, HPA, KafkaTopic … as Python data; this module takes
those documents (and the base's hand-written kafka.yaml and redis.yaml), applies what the base's
kustomization does to them (the part-of label, the image), and replaces the few values an operator sets
with Helm expressions. So the chart cannot drift from kustomize: with its default values it renders the
same objects as ``kubectl kustomize deploy/k8s/base`` (tests/unit/test_deploy_helm.py compares them),
and a new service or event reaches both from one re-run of ``python -m deploy.k8s.generate``.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

CHART = "../helm/zuofeng"  # relative to deploy/k8s, like the rest of generate.render()
VERSION = "1.0.0"
APP_VERSION = "1.0.0"
# Keys of config.env the chart sets from its own, more readable values.
DERIVED_CONFIG = {
    "INTAKE_PUBLIC_BASE_URL": ".Values.publicBaseUrl",
    "PUBLIC_BASE_URL": ".Values.publicBaseUrl",
    "KAFKA_BOOTSTRAP_SERVERS": ".Values.kafka.bootstrapServers",
    "REDIS_URL": ".Values.redis.url",
}


class _Tokens:
    """Expressions travel through yaml.dump as plain alphanumeric tokens, then are put back."""

    def __init__(self) -> None:
        self.exprs: list[str] = []

    def __call__(self, expr: str, quote: bool = False) -> str:
        self.exprs.append(f"{{{{ {expr}{' | quote' if quote else ''} }}}}")
        return f"HELMEXPR{len(self.exprs) - 1}X"

    def block(self, expr: str) -> str:
        """A mapping from values (toYaml), indented under its key wherever the dump put it."""
        self.exprs.append(expr)
        return f"HELMBLOCK{len(self.exprs) - 1}X"

    def restore(self, text: str) -> str:
        text = re.sub(r"(?m)^( *)([\w-]+): HELMBLOCK(\d+)X$", lambda m: (
            f"{m.group(1)}{m.group(2)}:\n{m.group(1)}  {{{{- {self.exprs[int(m.group(3))]} | toYaml "
            f"| nindent {len(m.group(1)) + 2} }}}}"), text)
        return re.sub(r"HELMEXPR(\d+)X", lambda m: self.exprs[int(m.group(1))], text)


def _config_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def _kustomize_like(doc: dict[str, Any], g: Any) -> None:
    """What base/kustomization.yaml does to every document: the part-of label on objects and pod templates."""
    doc["metadata"].setdefault("labels", {})["app.kubernetes.io/part-of"] = g.PART_OF
    template = doc.get("spec", {}).get("template")
    if isinstance(template, dict) and "spec" in template:
        template.setdefault("metadata", {}).setdefault("labels", {})["app.kubernetes.io/part-of"] = g.PART_OF


def _parametrise(doc: dict[str, Any], g: Any, t: _Tokens) -> None:
    kind, name = doc["kind"], doc["metadata"]["name"]
    doc["metadata"]["labels"].update({
        "helm.sh/chart": t('printf "%s-%s" .Chart.Name .Chart.Version', quote=True),
        "app.kubernetes.io/managed-by": t(".Release.Service", quote=True),
    })
    if kind == "Deployment" and name != "zuofeng-redis":
        app = name.removeprefix("zuofeng-")
        pod = doc["spec"]["template"]
        # kustomize renames the ConfigMap by a hash of its content; here a checksum rolls the pods instead.
        pod["metadata"]["annotations"]["checksum/config"] = t(
            'include (print $.Template.BasePath "/config.yaml") . | sha256sum', quote=True)
        for container in [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]:
            container["image"] = t('printf "%s:%s" .Values.image.repository '
                                   "(.Values.image.tag | default .Chart.AppVersion)", quote=True)
            container["imagePullPolicy"] = t(".Values.image.pullPolicy", quote=True)
            for entry in container.get("env", []):
                if entry["name"] == "DATABASE_URL" and app != "gateway":
                    entry["value"] = entry["value"].replace(
                        f"@{g.PG_CLUSTER}-rw:5432/{g.DATABASE}",
                        f"@{t('.Values.postgres.host')}:{t('.Values.postgres.port')}/{t('.Values.postgres.database')}")
        (main,) = pod["spec"]["containers"]
        main["resources"] = t.block(f'index .Values.resources "{app}"')
        for volume in pod["spec"]["volumes"]:
            if volume["name"] == "kafka-ca":
                volume["secret"]["secretName"] = t(".Values.kafka.caSecret", quote=True)
    elif kind == "HorizontalPodAutoscaler":
        app = name.removeprefix("zuofeng-")
        doc["spec"]["minReplicas"] = t(f'index .Values.replicas "{app}" "min"')
        doc["spec"]["maxReplicas"] = t(f'index .Values.replicas "{app}" "max"')
    elif kind == "Ingress":
        rule = doc["spec"]["rules"][0]
        rule["host"] = t(".Values.ingress.host", quote=True)
        doc["spec"]["tls"] = [{"hosts": [t(".Values.ingress.host", quote=True)],
                               "secretName": t(".Values.ingress.tlsSecret", quote=True)}]
        doc["spec"]["ingressClassName"] = t(".Values.ingress.className", quote=True)
    elif kind == "KafkaTopic":
        doc["spec"]["replicas"] = t(".Values.kafka.replicas")
        doc["spec"]["config"]["min.insync.replicas"] = t(".Values.kafka.minInsyncReplicas")
    elif kind == "Kafka":
        config = doc["spec"]["kafka"]["config"]
        for key in ("default.replication.factor", "offsets.topic.replication.factor",
                    "transaction.state.log.replication.factor"):
            config[key] = t(".Values.kafka.replicas")
        for key in ("min.insync.replicas", "transaction.state.log.min.isr"):
            config[key] = t(".Values.kafka.minInsyncReplicas")
    elif kind == "KafkaNodePool":
        doc["spec"]["replicas"] = t(".Values.kafka.replicas")
        (volume,) = doc["spec"]["storage"]["volumes"]
        volume["size"] = t(".Values.kafka.storage", quote=True)
    elif kind == "ObjectStore":
        doc["spec"]["retentionPolicy"] = t(".Values.postgres.backup.retention", quote=True)
        doc["spec"]["configuration"]["destinationPath"] = t(".Values.postgres.backup.destinationPath", quote=True)
        doc["spec"]["configuration"]["endpointURL"] = t(".Values.postgres.backup.endpointURL", quote=True)
    elif kind == "ScheduledBackup":
        doc["spec"]["schedule"] = t(".Values.postgres.backup.schedule", quote=True)
    elif kind == "Cluster":
        doc["spec"]["instances"] = t(".Values.postgres.instances")
        doc["spec"]["storage"]["size"] = t(".Values.postgres.storage", quote=True)
        doc["spec"]["walStorage"]["size"] = t(".Values.postgres.walStorage", quote=True)
        doc["spec"]["postgresql"]["parameters"]["max_connections"] = t(".Values.postgres.maxConnections", quote=True)
        # A role's limit covers its service's most pods (pool + overflow + the relay's LISTEN, + 2 spare), as
        # the prod overlay's patch does by hand; never below the base's.
        per_pod = "(add 1 (mul 2 (atoi .Values.config.DB_POOL_SIZE)))"
        for role in doc["spec"]["managed"]["roles"]:
            service = role["name"].removeprefix("zuofeng_")
            role["connectionLimit"] = t(
                f'max {g.CONNECTIONS_PER_ROLE} (add 2 (mul (index .Values.replicas "{service}" "max") {per_pod}))')


def _conditions(doc: dict[str, Any]) -> list[str]:
    """The values a document is rendered under (all must hold)."""
    kind, group = doc["kind"], doc["apiVersion"].partition("/")[0]
    if kind in ("ObjectStore", "ScheduledBackup"):
        return [".Values.postgres.create", ".Values.postgres.backup.enabled"]
    if group == "kafka.strimzi.io":
        return [".Values.kafka.create"]
    if group == "postgresql.cnpg.io":
        return [".Values.postgres.create"]
    if "redis" in doc["metadata"]["name"]:
        return [".Values.redis.create"]
    if group == "monitoring.coreos.com":
        return [".Values.monitoring.enabled"]
    if kind == "Ingress":
        return [".Values.ingress.enabled"]
    if kind == "NetworkPolicy":
        return [".Values.networkPolicies.enabled"]
    return []


def _template(docs: list[dict[str, Any]], g: Any, title: str) -> str:
    t = _Tokens()
    parts = [f"# GENERATED by deploy/k8s/generate.py — {title}. Do not edit; re-run the script.\n"]
    for doc in docs:
        doc = copy.deepcopy(doc)
        _kustomize_like(doc, g)
        _parametrise(doc, g, t)
        body = yaml.dump(doc, Dumper=g._Dumper, sort_keys=False, default_flow_style=False, width=10_000)
        # Braces that are data (Prometheus' alert templates) must reach the output as they are.
        body = re.sub(r"\{\{|\}\}", lambda m: f'{{{{ "{m.group(0)}" }}}}', body)
        if doc["kind"] == "Cluster":
            # WAL archiving through the Barman Cloud plugin, as the prod overlay's cluster-backup.yaml.
            body = re.sub(r"(?m)^  plugins:\n(?:  [ -].*\n)*",
                          lambda m: f"{{{{- if .Values.postgres.backup.enabled }}}}\n{m.group(0)}{{{{- end }}}}\n",
                          body)
        conditions = _conditions(doc)
        body = "".join(f"{{{{- if {c} }}}}\n" for c in conditions) + body + "{{- end }}\n" * len(conditions)
        parts.append("---\n" + body)
    return t.restore("".join(parts))


CONFIG_TEMPLATE = """\
# GENERATED by deploy/k8s/generate.py — the shared settings (base/config.env). Do not edit; re-run the script.
apiVersion: v1
kind: ConfigMap
metadata:
  name: zuofeng-config
  labels:
    app.kubernetes.io/part-of: zuofeng
    helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
    app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
data:
{{- range $key, $value := .Values.config }}
  {{ $key }}: {{ $value | toString | quote }}
{{- end }}
""" + "".join(f"  {key}: {{{{ {expr} | quote }}}}\n" for key, expr in DERIVED_CONFIG.items())

SECRETS_TEMPLATE = """\
# GENERATED by deploy/k8s/generate.py — Secrets from values, only with secrets.create (development: production
# creates them out of band, docs/operations.md "Secrets"). Do not edit; re-run the script.
{{- if .Values.secrets.create }}
{{- range $name, $keys := .Values.secrets.values }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ $name }}
  labels:
    app.kubernetes.io/part-of: zuofeng
    helm.sh/chart: {{ printf "%s-%s" $.Chart.Name $.Chart.Version | quote }}
    app.kubernetes.io/managed-by: {{ $.Release.Service | quote }}
    {{- if hasPrefix "zuofeng-db-" $name }}
    cnpg.io/reload: "true"
    {{- end }}
type: {{ if hasPrefix "zuofeng-db-" $name }}kubernetes.io/basic-auth{{ else }}Opaque{{ end }}
stringData:
  {{- range $key, $value := $keys }}
  {{ $key }}: {{ $value | toString | quote }}
  {{- end }}
{{- end }}
{{- end }}
"""

EXTERNAL_DATA_POLICY = """\
# GENERATED by deploy/k8s/generate.py — with Kafka or PostgreSQL of your own (kafka.create / postgres.create
# false) the default deny would cut the services off from them: allow exactly their ports. Do not edit.
{{- if and .Values.networkPolicies.enabled (or (not .Values.kafka.create) (not .Values.postgres.create)) }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: zuofeng-services-to-external-data
  labels:
    app.kubernetes.io/part-of: zuofeng
    helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
    app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
spec:
  podSelector:
    matchExpressions:
      - {key: app.kubernetes.io/part-of, operator: In, values: [zuofeng]}
      - {key: app.kubernetes.io/component, operator: In, values: [service, migration]}
  policyTypes: [Egress]
  egress:
    - to:
        - ipBlock:
            cidr: {{ .Values.networkPolicies.externalDataCidr | quote }}
      ports:
      {{- if not .Values.postgres.create }}
        - {protocol: TCP, port: {{ .Values.postgres.port }}}
      {{- end }}
      {{- if not .Values.kafka.create }}
      {{- $ports := dict }}
      {{- range splitList "," .Values.kafka.bootstrapServers }}
      {{- $_ := set $ports (last (splitList ":" (trim .))) true }}
      {{- end }}
      {{- range $port, $_ := $ports }}
        - {protocol: TCP, port: {{ $port | atoi }}}
      {{- end }}
      {{- end }}
{{- end }}
"""

NOTES = """\
zuofeng {{ .Chart.AppVersion }} in namespace {{ .Release.Namespace }}: the public entry is {{ .Values.publicBaseUrl }}.
{{- if not .Values.secrets.create }}
The workloads read Secrets this chart does not create: make them first (docs/operations.md, "Secrets").
{{- end }}
"""


def values(g: Any) -> dict[str, Any]:
    """The chart's defaults: exactly what the kustomize base renders."""
    config = _config_env(g.HERE / "base" / "config.env")
    derived = {key: config.pop(key) for key in DERIVED_CONFIG}
    if derived["INTAKE_PUBLIC_BASE_URL"] != derived["PUBLIC_BASE_URL"]:
        raise ValueError("base/config.env: INTAKE_PUBLIC_BASE_URL must equal PUBLIC_BASE_URL")
    ingress = g.ingress()
    backups = _prod_backups(g)
    store = backups["store"]["spec"]["configuration"]
    return {
        "image": {"repository": "ghcr.io/zuofeng/zuofeng", "tag": "", "pullPolicy": "IfNotPresent"},
        "publicBaseUrl": derived["PUBLIC_BASE_URL"],
        "replicas": {app: {"min": 2, "max": 6} for app in g.APPS},
        # Each workload's container requests and limits (the migrate init container keeps its own small ones).
        "resources": {app: g.app_manifests(app)[1]["spec"]["template"]["spec"]["containers"][0]["resources"]
                      for app in g.APPS},
        "ingress": {
            "enabled": True,
            "host": ingress["spec"]["rules"][0]["host"],
            "className": ingress["spec"]["ingressClassName"],
            "tlsSecret": ingress["spec"]["tls"][0]["secretName"],
        },
        "kafka": {
            "create": True,
            "bootstrapServers": derived["KAFKA_BOOTSTRAP_SERVERS"],
            "caSecret": f"{g.KAFKA_CLUSTER}-cluster-ca-cert",
            "replicas": 3,  # brokers (one dual-role node pool), and every topic's and internal log's replicas
            "minInsyncReplicas": 2,
            "storage": "50Gi",
        },
        "postgres": {"create": True, "host": f"{g.PG_CLUSTER}-rw", "port": 5432, "database": g.DATABASE,
                     "instances": 3, "storage": "50Gi", "walStorage": "10Gi", "maxConnections": g.MAX_CONNECTIONS,
                     # Off as in the base; the prod overlay's: WAL and nightly base backups (Barman Cloud plugin)
                     # to S3-compatible storage, credentials in Secret zuofeng-pg-backup.
                     "backup": {"enabled": False, "destinationPath": store["destinationPath"],
                                "endpointURL": store["endpointURL"],
                                "retention": backups["store"]["spec"]["retentionPolicy"],
                                "schedule": backups["schedule"]["spec"]["schedule"]}},
        "redis": {"create": True, "url": derived["REDIS_URL"]},
        # externalDataCidr: where your own Kafka and PostgreSQL are, when the chart does not create them.
        "networkPolicies": {"enabled": True, "externalDataCidr": "0.0.0.0/0"},
        # Off as in the base (the prod overlay adds components/monitoring): needs the Prometheus Operator.
        "monitoring": {"enabled": False},
        "secrets": {"create": False, "values": {}},
        "config": config,
    }


VALUES_HEADER = """\
# GENERATED by deploy/k8s/generate.py — the chart's defaults, equal to the kustomize base. Do not edit here:
# override them in your own values file (helm install zuofeng deploy/helm/zuofeng -f my-values.yaml).
#
# image.tag           empty = the chart's appVersion; pin a digest-addressed tag in production
# publicBaseUrl       where QR posters, receipts and rating links point (INTAKE_PUBLIC_BASE_URL, PUBLIC_BASE_URL)
# replicas.<app>      the HorizontalPodAutoscaler's min and max pods per service and the gateway
# resources.<app>     its container's requests and limits
# ingress             the public entry (only the gateway's public paths); host, class, TLS Secret
# kafka               create: a Strimzi Kafka, topics and KafkaUsers here; false = bring your own cluster at
#                     bootstrapServers (TLS + SCRAM-SHA-512; Secret zuofeng-<service> with key password per
#                     service, and the CA in caSecret, key ca.crt)
# postgres            create: a CloudNativePG Cluster with one role per service; false = your server at host:port
#                     (roles zuofeng_<service> owning schema <service>, passwords in Secrets zuofeng-db-<service>);
#                     backup.enabled: WAL + nightly base backups through the Barman Cloud plugin, as overlays/prod
# secrets             create: Secrets from secrets.values (<name>: {<key>: <value>}), for development only;
#                     production makes them out of band (docs/operations.md, "Secrets")
# monitoring.enabled  PodMonitor and alert rules (Prometheus Operator), as the prod overlay's components/monitoring
# config              the shared settings (ConfigMap zuofeng-config); any key set here is merged over these
"""


def dev_values(g: Any) -> dict[str, Any]:
    """values-dev.yaml: what the dev overlay sets, with its development Secrets (public; production refuses them)."""
    secrets = {d["metadata"]["name"]: d["stringData"] for d in g.dev_secrets()}
    return {
        "image": {"tag": "dev"},
        "publicBaseUrl": "https://zuofeng.dev.example.invalid",
        "replicas": {app: {"min": 1, "max": 2} for app in g.APPS},
        "ingress": {"host": "zuofeng.dev.example.invalid"},
        "kafka": {"replicas": 1, "minInsyncReplicas": 1, "storage": "5Gi"},
        "postgres": {"instances": 1, "storage": "5Gi", "walStorage": "2Gi"},
        "secrets": {"create": True, "values": secrets},
        "config": {
            "ZUOFENG_ENV": "development",  # the dev issuer and the development keys are refused in production
            "LOG_LEVEL": "DEBUG",
            "KAFKA_TOPIC_REPLICATION": "1",
            "STAFF_JWT_ISSUER": "zuofeng-dev-idp",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=dev",
            # No object store in dev: attachments stay on the pod (lost on restart; one intake pod sees its own).
            "INTAKE_ATTACHMENT_STORE": "filesystem",
        },
    }


DEV_HEADER = """\
# GENERATED by deploy/k8s/generate.py — a development install, like overlays/dev, with PUBLIC development
# Secrets (ZUOFENG_ENV=development; production refuses every key here):
#   helm install zuofeng deploy/helm/zuofeng -n zuofeng-dev --create-namespace -f deploy/helm/values-dev.yaml
"""


def _prod_backups(g: Any) -> dict[str, Any]:
    """The prod overlay's backup pieces: the Cluster's plugins, the ObjectStore, the ScheduledBackup."""
    prod = g.HERE / "overlays" / "prod"

    def load(name: str) -> dict[str, Any]:
        (doc,) = [d for d in yaml.safe_load_all((prod / name).read_text(encoding="utf-8")) if d]
        return doc

    return {"plugins": load("cluster-backup.yaml")["spec"]["plugins"], "store": load("object-store.yaml"),
            "schedule": load("backup.yaml")}


def _with_backups(g: Any) -> list[dict[str, Any]]:
    backups = _prod_backups(g)
    (cluster,) = copy.deepcopy(g.postgres())
    cluster["spec"]["plugins"] = backups["plugins"]  # kept only with postgres.backup.enabled (_template)
    return [cluster, backups["store"], backups["schedule"]]


def render(g: Any) -> dict[str, str]:
    """Path (relative to deploy/k8s) → content of every chart file."""
    base = g.HERE / "base"
    hand_written = [d for name in ("kafka.yaml", "redis.yaml")
                    for d in yaml.safe_load_all((base / name).read_text(encoding="utf-8")) if d]
    kafka = [d for d in hand_written if d["apiVersion"].startswith("kafka.strimzi.io")]
    redis = [d for d in hand_written if d not in kafka]
    monitoring_file = g.HERE / "components" / "monitoring" / "monitoring.yaml"
    monitoring = [d for d in yaml.safe_load_all(monitoring_file.read_text(encoding="utf-8")) if d]
    groups = {
        "apps.yaml": ([d for app in g.APPS for d in g.app_manifests(app)], "the services and the gateway"),
        "ingress.yaml": ([g.ingress()], "the public entry: the gateway's public paths only"),
        "network-policies.yaml": (g.network_policies(), "NetworkPolicies"),
        "kafka.yaml": (kafka + g.kafka_topics() + g.kafka_users(), "Strimzi Kafka, its topics and users"),
        "postgres.yaml": (_with_backups(g), "CloudNativePG Cluster with per-service roles and schemas, and backups"),
        "redis.yaml": (redis, "the gateway replicas' shared Redis"),
        "monitoring.yaml": (monitoring, "PodMonitor and alerts for the Prometheus Operator (components/monitoring)"),
    }
    chart_yaml = {
        "apiVersion": "v2",
        "name": "zuofeng",
        "description": "作风建设监督平台: five services and the gateway, with Strimzi Kafka, CloudNativePG and Redis",
        "type": "application",
        "version": VERSION,
        "appVersion": APP_VERSION,
        "kubeVersion": ">=1.30.0-0",
    }
    files = {
        "Chart.yaml": yaml.dump(chart_yaml, allow_unicode=True, sort_keys=False),
        "values.yaml": VALUES_HEADER + yaml.dump(values(g), Dumper=g._Dumper, allow_unicode=True,
                                                 sort_keys=False, width=10_000),
        "templates/config.yaml": CONFIG_TEMPLATE,
        "templates/secrets.yaml": SECRETS_TEMPLATE,
        "templates/NOTES.txt": NOTES,
        "templates/network-policy-external-data.yaml": EXTERNAL_DATA_POLICY,
        **{f"templates/{name}": _template(docs, g, title) for name, (docs, title) in groups.items()},
    }
    chart = {f"{CHART}/{name}": content for name, content in files.items()}
    dev = DEV_HEADER + yaml.dump(dev_values(g), Dumper=g._Dumper, allow_unicode=True, sort_keys=False, width=10_000)
    return {**chart, "../helm/values-dev.yaml": dev}
