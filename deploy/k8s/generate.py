"""Write the repetitive parts of the kustomize base from the code's own registries.

    .venv/bin/python -m deploy.k8s.generate          # rewrite base/generated/*.yaml and the placeholder Secrets
    .venv/bin/python -m deploy.k8s.generate --check  # exit 1 if the committed files are stale

The services come from ``services.common.suite.SERVICES`` and the topics from the event contracts'
``REGISTRY`` (``zuofeng.<service>.<event>.v1`` and its ``.dlq``), so adding a service or an event is a
re-run of this script, and ``tests/unit/test_deploy_k8s.py`` fails while the manifests lag behind.
Everything that is the same for all services is written once here rather than six times by hand.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from services.common.contracts import REGISTRY
from services.common.events import dlq_name
from services.common.suite import SERVICES

HERE = Path(__file__).parent

PART_OF = "zuofeng"
IMAGE = "zuofeng"  # rewritten by the overlays' ``images:``
UID = 10001  # the Dockerfile's USER
PORT = 8000
KAFKA_CLUSTER = "zuofeng"  # Strimzi Kafka name: bootstrap Service is zuofeng-kafka-bootstrap
KAFKA_PORT = 9093  # the TLS + SCRAM-SHA-512 listener (base/kafka.yaml); there is no plaintext one
PG_CLUSTER = "zuofeng-pg"  # CloudNativePG Cluster name: read-write Service is zuofeng-pg-rw
DATABASE = "zuofeng"
APPS = [*SERVICES, "gateway"]

# Every Secret a workload reads: name → key → (who reads it, how to produce it). One table, rendered into
# docs/operations.md's "Secrets" section (the test checks they agree) and into the dev Secrets below.
SECRETS: dict[str, dict[str, tuple[str, str]]] = {
    "zuofeng-internal-token": {
        "public.pem": ("every service (verifies)", "Ed25519 public key, PEM: `openssl pkey -in private.pem -pubout`"),
        "private.pem": ("gateway (signs)", "Ed25519 private key, PEM: `openssl genpkey -algorithm ed25519`"),
    },
    "zuofeng-gateway-keys": {
        "STAFF_JWT_PUBLIC_KEY": ("gateway", "the city identity provider's token signing public key (PEM)"),
        "HOTLINE_KEYS": (
            "gateway",
            'JSON `{"<key-id>": {"secret": "<≥32 chars>", "line": "12345"}}`; `"kind": "service"` and no line '
            "for an SMS/WeChat ballot gateway",
        ),
    },
    "zuofeng-reporter-keys": {
        "IDENTITY_KEYRING": ("intake, accountability", "`<kid>:<base64 of 32 random bytes>`, newest first"),
        "CONTACT_KEYRING": ("intake, notification", "`<kid>:<base64 of 32 random bytes>`, newest first"),
    },
    "zuofeng-audit-keys": {
        "AUDIT_KEYRING": ("every service", "`<kid>:<base64 of 32 random bytes>`, newest first"),
    },
    "zuofeng-intake-keys": {
        "INTAKE_RECEIPT_LOOKUP_KEY": ("intake", "`openssl rand -hex 32`"),
        "INTAKE_OPEN311_API_KEYS": ("intake", 'JSON list of the Open311 clients\' keys: `["<openssl rand -hex 24>"]`'),
    },
    "zuofeng-evaluation-keys": {
        "EVALUATION_VOTER_HASH_KEY": ("evaluation", "`openssl rand -hex 32` (≥ 32 characters)"),
    },
    "zuofeng-attachment-store": {
        "AWS_ACCESS_KEY_ID": ("intake", "the object store's access key for bucket `INTAKE_S3_BUCKET`"),
        "AWS_SECRET_ACCESS_KEY": ("intake", "its secret key"),
    },
    "zuofeng-notification-keys": {
        "NOTIFICATION_SMTP_USERNAME": ("notification", "the mail relay's login (empty if it needs none)"),
        "NOTIFICATION_SMTP_PASSWORD": ("notification", "the mail relay's password (empty if it needs none)"),
        "NOTIFICATION_WEBHOOK_TOKEN": ("notification", "bearer token of the SMS/WeChat webhooks (empty if none)"),
    },
}

# Which Secret keys each workload sees (least privilege): variable → (Secret, key). The gateway signs the
# internal identity token and verifies staff JWTs and hotline clients; services only verify the internal
# token. The reporter identity/contact key rings go only where reporter data is sealed or opened.
SHARED_KEYS = {"INTERNAL_TOKEN_PUBLIC_KEY": ("zuofeng-internal-token", "public.pem")}
SERVICE_KEYS = {"AUDIT_KEYRING": ("zuofeng-audit-keys", "AUDIT_KEYRING")}


def _own(secret: str, *keys: str) -> dict[str, tuple[str, str]]:
    return {key: (secret, key) for key in keys}


EXTRA_KEYS: dict[str, dict[str, tuple[str, str]]] = {
    "gateway": {
        "INTERNAL_TOKEN_PRIVATE_KEY": ("zuofeng-internal-token", "private.pem"),
        **_own("zuofeng-gateway-keys", "STAFF_JWT_PUBLIC_KEY", "HOTLINE_KEYS"),
    },
    "intake": {
        **_own("zuofeng-reporter-keys", "IDENTITY_KEYRING", "CONTACT_KEYRING"),
        **_own("zuofeng-intake-keys", "INTAKE_RECEIPT_LOOKUP_KEY", "INTAKE_OPEN311_API_KEYS"),
        **_own("zuofeng-attachment-store", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    },
    "accountability": _own("zuofeng-reporter-keys", "IDENTITY_KEYRING"),
    "evaluation": _own("zuofeng-evaluation-keys", "EVALUATION_VOTER_HASH_KEY"),
    "notification": {
        **_own("zuofeng-reporter-keys", "CONTACT_KEYRING"),
        **_own("zuofeng-notification-keys", *SECRETS["zuofeng-notification-keys"]),
    },
}


def secret_keys(app: str) -> dict[str, tuple[str, str]]:
    return {**SHARED_KEYS, **(SERVICE_KEYS if app in SERVICES else {}), **EXTRA_KEYS.get(app, {})}


# Connection budget: a pod holds at most 2 × DB_POOL_SIZE (pool + overflow) plus the relay's LISTEN
# connection; a role's limit covers its HPA maximum of pods, and the server's covers every role
# (tests/unit/test_deploy_k8s.py checks the arithmetic for each overlay).
CONNECTIONS_PER_ROLE = 80
MAX_CONNECTIONS = 500

# Topic sizing. Retention is long enough for a service deployed later to catch up, DLQs keep a quarter.
DAY_MS = 24 * 3600 * 1000
TOPIC_PARTITIONS = {"zuofeng.intake.clue-received.v1": 6}
DEFAULT_PARTITIONS = 3
EVENT_RETENTION_MS = 30 * DAY_MS
DLQ_RETENTION_MS = 90 * DAY_MS
DLQ_PARTITIONS = 1


def labels(app: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
    }


def selector(app: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": PART_OF}


def db_secret(service: str) -> str:
    return f"zuofeng-db-{service}"


def db_role(service: str) -> str:
    return f"zuofeng_{service}"


def _env(app: str) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "OTEL_SERVICE_NAME", "value": f"zuofeng-{app}"},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    if app in SERVICES:
        # Its own KafkaUser: Strimzi's User Operator writes the password into a Secret of the user's name.
        env += [
            {"name": "KAFKA_SASL_USERNAME", "value": kafka_user(app)},
            {
                "name": "KAFKA_SASL_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": kafka_user(app), "key": "password"}},
            },
        ]
        # Kubernetes expands $(DB_PASSWORD) from the entry above it: one Secret (the role's basic-auth
        # Secret, shared with CloudNativePG's managed role) yields the service's DATABASE_URL.
        env += [
            {
                "name": "DB_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": db_secret(app), "key": "password"}},
            },
            {
                "name": "DATABASE_URL",
                "value": f"postgresql+asyncpg://{db_role(app)}:$(DB_PASSWORD)@{PG_CLUSTER}-rw:5432/{DATABASE}",
            },
        ]
    else:
        upstreams = {name: f"http://zuofeng-{name}:{PORT}" for name in SERVICES}
        env.append({"name": "GATEWAY_UPSTREAMS", "value": json.dumps(upstreams, separators=(",", ":"))})
        # The gateway has no database and no Kafka; its settings still parse DATABASE_URL, and production
        # refuses the development default, so it gets an address that grants nothing.
        env += [
            {"name": "DATABASE_URL", "value": "postgresql+asyncpg://gateway-has-no-database@localhost:1/none"},
            {"name": "KAFKA_ENABLED", "value": "false"},
        ]
    for name, (secret, key) in secret_keys(app).items():
        env.append({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
    return env


def _container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


KAFKA_CA_DIR = "/etc/zuofeng/kafka-ca"


def _volumes(app: str) -> list[dict[str, Any]]:
    volumes = [
        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
    ]
    if app in SERVICES:
        # The brokers' certificates are signed by the cluster CA Strimzi keeps in <cluster>-cluster-ca-cert.
        volumes.append(
            {
                "name": "kafka-ca",
                "secret": {"secretName": f"{KAFKA_CLUSTER}-cluster-ca-cert",
                           "items": [{"key": "ca.crt", "path": "ca.crt"}]},
            }
        )
    return volumes


def _mounts(app: str) -> list[dict[str, Any]]:
    mounts = [{"name": "tmp", "mountPath": "/tmp"}, {"name": "data", "mountPath": "/var/lib/zuofeng"}]
    if app in SERVICES:
        mounts.append({"name": "kafka-ca", "mountPath": KAFKA_CA_DIR, "readOnly": True})
    return mounts


def _probe(path: str, **timing: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "timeoutSeconds": 3, **timing}


def app_manifests(app: str) -> list[dict[str, Any]]:
    name = f"zuofeng-{app}"
    component = "gateway" if app == "gateway" else "service"
    meta = {"name": name, "labels": labels(app, component)}
    service_account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta,
        "automountServiceAccountToken": False,
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            # No replicas: the HorizontalPodAutoscaler owns the count.
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(app)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {
                    "labels": labels(app, component),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    # No docker-link style *_PORT/*_SERVICE_HOST variables next to the settings' own.
                    "enableServiceLinks": False,
                    "securityContext": _pod_security(),
                    # uvicorn's graceful shutdown is 20 s (cli.py); give it room, after endpoints drain.
                    "terminationGracePeriodSeconds": 30,
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": selector(app)},
                        }
                    ],
                    "initContainers": [migrate_container(app)] if app in SERVICES else [],
                    "containers": [
                        {
                            "name": app,
                            "image": IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["serve", app],
                            "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
                            "envFrom": [{"configMapRef": {"name": "zuofeng-config"}}],
                            "env": _env(app),
                            "startupProbe": _probe("/healthz", periodSeconds=2, failureThreshold=30),
                            "livenessProbe": _probe("/healthz", periodSeconds=10, failureThreshold=3),
                            "readinessProbe": _probe("/readyz", periodSeconds=5, failureThreshold=2),
                            "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "256Mi"},
                                "limits": {"cpu": "1", "memory": "512Mi"},
                            },
                            "securityContext": _container_security(),
                            "volumeMounts": _mounts(app),
                        }
                    ],
                    "volumes": _volumes(app),
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": "ClusterIP",
            "selector": selector(app),
            "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 2,
            "maxReplicas": 6,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta,
        # maxUnavailable (not minAvailable) so a one-replica dev overlay can still drain its nodes.
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(app)}},
    }
    return [service_account, deployment, service, hpa, pdb]


def migrate_container(service: str) -> dict[str, Any]:
    """Runs before the service in every pod: a pod starts only on its schema at the code's head.

    An init container rather than a Job: it needs no ordering against the Deployment and nothing
    immutable survives an upgrade. Pods starting together serialise on an advisory lock (migrate.py); at
    head it is a no-op of about a second."""
    return {
        "name": "migrate",
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": ["migrate", service],
        "envFrom": [{"configMapRef": {"name": "zuofeng-config"}}],
        "env": [
            {"name": "KAFKA_ENABLED", "value": "false"},
            *[e for e in _env(service) if e["name"] in ("DB_PASSWORD", "DATABASE_URL")],
            # Settings refuse production without the token key; migrations never use it.
            *[e for e in _env(service) if e["name"] in SHARED_KEYS],
        ],
        "resources": {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "securityContext": _container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


# The text ``zuofeng dev-keys`` writes above its PEMs (services.common.settings.DEV_KEY_MARKER): production
# refuses any key carrying it, so the dev overlay's keys can never be pasted into prod unnoticed.
DEV_KEY_MARKER = "zuofeng development key: refused when ZUOFENG_ENV=production"


def _dev_bytes(label: str, size: int = 32) -> bytes:
    # Deterministic, so the committed file is reproducible; public, so development only (and marked as such).
    return hashlib.sha256(f"zuofeng-development:{label}".encode()).digest()[:size]


def _dev_ring(label: str) -> str:
    # Key id "dev…": production refuses development key rings by their key ids.
    return f"dev1:{base64.b64encode(_dev_bytes(label)).decode()}"


def _dev_pem_pair(label: str) -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(_dev_bytes(label))
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return f"{DEV_KEY_MARKER}\n{private}", f"{DEV_KEY_MARKER}\n{public}"


def dev_secret_values() -> dict[str, dict[str, str]]:
    """Valid development values for every key of ``SECRETS`` (the dev overlay runs ZUOFENG_ENV=development)."""
    internal_private, internal_public = _dev_pem_pair("internal-token")
    _, staff_public = _dev_pem_pair("staff-idp")
    hotline = {"dev-12345": {"secret": _dev_bytes("hotline-12345").hex(), "line": "12345"}}
    values = {
        "zuofeng-internal-token": {"public.pem": internal_public, "private.pem": internal_private},
        "zuofeng-gateway-keys": {
            "STAFF_JWT_PUBLIC_KEY": staff_public,
            "HOTLINE_KEYS": json.dumps(hotline, separators=(",", ":")),
        },
        "zuofeng-reporter-keys": {
            "IDENTITY_KEYRING": _dev_ring("identity"),
            "CONTACT_KEYRING": _dev_ring("contact"),
        },
        "zuofeng-audit-keys": {"AUDIT_KEYRING": _dev_ring("audit")},
        "zuofeng-intake-keys": {
            "INTAKE_RECEIPT_LOOKUP_KEY": _dev_bytes("receipt-lookup").hex(),
            "INTAKE_OPEN311_API_KEYS": json.dumps([f"dev-{_dev_bytes('open311', 12).hex()}"]),
        },
        "zuofeng-evaluation-keys": {"EVALUATION_VOTER_HASH_KEY": _dev_bytes("voter-hash").hex()},
        # Dev keeps attachments on the pod's filesystem (INTAKE_ATTACHMENT_STORE in the dev overlay).
        "zuofeng-attachment-store": {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
        "zuofeng-notification-keys": {
            "NOTIFICATION_SMTP_USERNAME": "",
            "NOTIFICATION_SMTP_PASSWORD": "",
            "NOTIFICATION_WEBHOOK_TOKEN": "",
        },
    }
    assert {k: set(v) for k, v in values.items()} == {k: set(v) for k, v in SECRETS.items()}
    return values


def dev_secrets() -> list[dict[str, Any]]:
    """The dev overlay's Secrets: every name and key the workloads read, with public development values."""
    dev = {"zuofeng.dev/development-only": "true"}
    docs: list[dict[str, Any]] = []
    for service in SERVICES:
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/basic-auth",
                "metadata": {
                    "name": db_secret(service),
                    "labels": {**labels(service, "database-credentials"), "cnpg.io/reload": "true"},
                    "annotations": dev,
                },
                # URL-safe passwords only (hex): the password is spliced into DATABASE_URL.
                "stringData": {"username": db_role(service), "password": _dev_bytes(f"db-{service}", 12).hex()},
            }
        )
    for name, values in dev_secret_values().items():
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": name, "annotations": dev},
                "stringData": values,
            }
        )
    return docs


def _policy(name: str, pod_selector: dict, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": PART_OF}},
        "spec": {"podSelector": pod_selector, **spec},
    }


def network_policies() -> list[dict[str, Any]]:
    """Default deny for zuofeng's own pods, then exactly the paths the suite needs.

    The ingress controller's and the monitoring stack's namespaces are matched by the standard
    ``kubernetes.io/metadata.name`` label; overlays patch the names if theirs differ."""
    # Selected by component too: operators copy the part-of label from the Kafka/Cluster resources onto
    # their own pods, and those must not fall under this default deny.
    ours = {
        "matchExpressions": [
            {"key": "app.kubernetes.io/part-of", "operator": "In", "values": [PART_OF]},
            {"key": "app.kubernetes.io/component", "operator": "In", "values": ["service", "gateway", "migration"]},
        ]
    }
    services = {
        "matchExpressions": [
            {"key": "app.kubernetes.io/part-of", "operator": "In", "values": [PART_OF]},
            {"key": "app.kubernetes.io/component", "operator": "In", "values": ["service", "migration"]},
        ]
    }
    gateway = {"matchLabels": selector("gateway")}
    app_port = [{"protocol": "TCP", "port": PORT}]
    dns = {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    monitoring_ns = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    # Outside the cluster: any address but the private ranges the cluster's pods and services live in
    # (in-cluster peers are named by selectors above; overlays narrow this to the providers' ranges).
    outside = {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}
    return [
        _policy("zuofeng-default-deny", ours, {"policyTypes": ["Ingress", "Egress"]}),
        _policy(
            "zuofeng-gateway-from-ingress",
            gateway,
            {
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                                }
                            }
                        ],
                        "ports": app_port,
                    }
                ],
            },
        ),
        _policy(
            "zuofeng-services-from-gateway",
            {"matchLabels": {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/component": "service"}},
            {"policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": gateway}], "ports": app_port}]},
        ),
        _policy(
            "zuofeng-metrics-from-monitoring",
            ours,
            {"policyTypes": ["Ingress"], "ingress": [{"from": [monitoring_ns], "ports": app_port}]},
        ),
        _policy(
            "zuofeng-services-to-data",
            services,
            {
                "policyTypes": ["Egress"],
                "egress": [
                    dns,
                    {
                        "to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": PG_CLUSTER}}}],
                        "ports": [{"protocol": "TCP", "port": 5432}],
                    },
                    {
                        "to": [{"podSelector": {"matchLabels": {"strimzi.io/cluster": KAFKA_CLUSTER}}}],
                        "ports": [{"protocol": "TCP", "port": KAFKA_PORT}],
                    },
                ],
            },
        ),
        _policy(
            "zuofeng-gateway-to-services",
            gateway,
            {
                "policyTypes": ["Egress"],
                "egress": [
                    dns,
                    {
                        "to": [
                            {
                                "podSelector": {
                                    "matchLabels": {
                                        "app.kubernetes.io/part-of": PART_OF,
                                        "app.kubernetes.io/component": "service",
                                    }
                                }
                            }
                        ],
                        "ports": app_port,
                    },
                ],
            },
        ),
        # Traces leave only when OTEL_EXPORTER_OTLP_ENDPOINT is set; the collector lives in monitoring.
        _policy(
            "zuofeng-otlp-to-monitoring",
            ours,
            {
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [monitoring_ns],
                        "ports": [{"protocol": "TCP", "port": 4317}, {"protocol": "TCP", "port": 4318}],
                    }
                ],
            },
        ),
        # Notification delivers mail (SMTP submission) and SMS/WeChat through the providers' HTTPS webhooks.
        _policy(
            "zuofeng-notification-to-providers",
            {"matchLabels": selector("notification")},
            {
                "policyTypes": ["Egress"],
                "egress": [{"to": [outside], "ports": [{"protocol": "TCP", "port": p} for p in (25, 465, 587, 443)]}],
            },
        ),
        # The gateway fetches the identity provider's JWKS (STAFF_JWKS_URL) over HTTPS.
        _policy(
            "zuofeng-gateway-to-idp",
            gateway,
            {"policyTypes": ["Egress"], "egress": [{"to": [outside], "ports": [{"protocol": "TCP", "port": 443}]}]},
        ),
        # Intake stores evidence in S3-compatible object storage and calls the hotlines back, both over HTTPS.
        _policy(
            "zuofeng-intake-to-storage-and-hotlines",
            {"matchLabels": selector("intake")},
            {"policyTypes": ["Egress"], "egress": [{"to": [outside], "ports": [{"protocol": "TCP", "port": 443}]}]},
        ),
    ]


def public_prefixes() -> list[str]:
    """The first path segment of every public route in the gateway's policy, plus /api for staff (who
    sign in with their own tokens). /docs, /openapi.json, /metrics, /healthz and /readyz stay inside."""
    from gateway.policy import RULES

    prefixes = {"/api"}
    for rule in RULES:
        if rule.audience == "public":
            match = re.match(r"\^(/[A-Za-z0-9_-]+)/", rule.pattern.pattern)
            assert match, f"a public route without a literal first segment: {rule.pattern.pattern}"
            prefixes.add(match.group(1))
    return sorted(prefixes)


MIB = 1024 * 1024


def gateway_body_limit() -> int:
    """The largest request body the gateway itself accepts on any route: the Ingress must not refuse less."""
    from gateway.settings import GatewaySettings
    from services.intake.settings import IntakeSettings

    fields = GatewaySettings.model_fields
    if "body_limits" in fields:
        return max(fields["body_limits"].default_factory().values())
    # Before per-route limits: a QR report with intake's maximum of attachments, plus the form around them.
    intake = IntakeSettings.model_fields
    return max(intake["attachment_max_bytes"].default * intake["attachment_max_count"].default + MIB,
               fields["hotline_max_body_bytes"].default)


def ingress() -> dict[str, Any]:
    host = "zuofeng.example.invalid"  # overlays set theirs
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "zuofeng-gateway",
            "annotations": {
                # nginx's "m" is MiB: rounded up, so the gateway's own per-route limits (413) decide.
                "nginx.ingress.kubernetes.io/proxy-body-size": f"{-(-gateway_body_limit() // MIB)}m",
                # Uploads stream to the gateway, which checks them as they arrive, rather than to nginx's disk.
                "nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
            },
        },
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [host], "secretName": "zuofeng-tls"}],
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": prefix,
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "zuofeng-gateway", "port": {"name": "http"}}},
                            }
                            for prefix in public_prefixes()
                        ]
                    },
                }
            ],
        },
    }


def topics() -> list[tuple[str, bool]]:
    """(topic, compacted) for every registered contract, each followed by its dead-letter topic."""
    result = []
    for contract in sorted(REGISTRY.values(), key=lambda c: c.topic()):
        result.append((contract.topic(), contract.compacted))
        result.append((dlq_name(contract.topic()), False))
    return result


def kafka_topics() -> list[dict[str, Any]]:
    docs = []
    for topic, compacted in topics():
        dlq = topic.endswith(".dlq")
        if compacted:
            config: dict[str, Any] = {
                "cleanup.policy": "compact",
                "min.compaction.lag.ms": 3600000,
                "min.insync.replicas": 2,
            }
        else:
            config = {
                "cleanup.policy": "delete",
                "retention.ms": DLQ_RETENTION_MS if dlq else EVENT_RETENTION_MS,
                "min.insync.replicas": 2,
            }
        docs.append(
            {
                "apiVersion": "kafka.strimzi.io/v1",
                "kind": "KafkaTopic",
                # Topic names are valid DNS subdomains already; spec.topicName keeps them exact regardless.
                "metadata": {"name": topic, "labels": {"strimzi.io/cluster": KAFKA_CLUSTER}},
                "spec": {
                    "topicName": topic,
                    "partitions": DLQ_PARTITIONS if dlq else TOPIC_PARTITIONS.get(topic, DEFAULT_PARTITIONS),
                    "replicas": 3,
                    "config": config,
                },
            }
        )
    return docs


def kafka_user(service: str) -> str:
    """The KafkaUser (SCRAM user name) of a service; Strimzi writes its password to a Secret of that name."""
    return f"zuofeng-{service}"


KAFKA_OPS_USER = "zuofeng-ops"


def kafka_usage(service: str) -> tuple[list[str], list[str]]:
    """(topics the service produces, topics it consumes), from the service's own spec."""
    from importlib import import_module

    app = import_module(f"services.{service}.app").create_app()
    spec = app.state.spec
    return sorted(c.topic() for c in spec.produces), sorted(c.topic() for c in spec.handlers)


def _acl(kind: str, name: str, *operations: str, pattern: str = "literal") -> dict[str, Any]:
    return {"resource": {"type": kind, "name": name, "patternType": pattern}, "operations": list(operations)}


def kafka_users() -> list[dict[str, Any]]:
    """One SCRAM-SHA-512 KafkaUser per service, allowed only its own topics and its consumer group:
    write what it produces, read what it consumes, write dead letters of what it consumes. Nobody else can
    forge its events or read the clues. Replaying dead letters (which writes other services' topics) is
    the operators' user's job."""
    users = []
    for service in SERVICES:
        produces, consumes = kafka_usage(service)
        own_prefix = f"zuofeng.{service}."
        assert all(t.startswith(own_prefix) for t in produces), f"{service} produces outside {own_prefix}"
        acls = [_acl("topic", own_prefix, "Write", "Describe", pattern="prefix")]  # its topics and their DLQs
        for topic in consumes:
            acls += [_acl("topic", topic, "Read", "Describe"), _acl("topic", dlq_name(topic), "Write", "Describe")]
        acls.append(_acl("group", f"zuofeng-{service}", "Read"))
        users.append(_kafka_user(kafka_user(service), service, acls))
    ops = [
        _acl("topic", "zuofeng.", "Read", "Write", "Describe", pattern="prefix"),
        _acl("group", "zuofeng-dlq-replay", "Read"),
    ]
    users.append(_kafka_user(KAFKA_OPS_USER, "ops", ops))
    return users


def _kafka_user(name: str, app: str, acls: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaUser",
        "metadata": {"name": name, "labels": {"strimzi.io/cluster": KAFKA_CLUSTER, **labels(app, "kafka-user")}},
        "spec": {
            "authentication": {"type": "scram-sha-512"},
            "authorization": {"type": "simple", "acls": acls},
        },
    }


def postgres() -> list[dict[str, Any]]:
    """One database, one schema per service, each owned by that service's own login role.

    CloudNativePG's managed roles own the logins and passwords (from the basic-auth Secrets). The schemas
    and grants are created once at bootstrap: the roles are created there NOLOGIN first, and the managed
    role reconciliation then gives them LOGIN and their password. A role needs no CREATE on the database:
    migrations create a schema only when it is missing, and here it never is."""
    sql = []
    for service in SERVICES:
        role = db_role(service)
        sql += [
            f"CREATE ROLE {role} NOLOGIN",
            f"CREATE SCHEMA {service} AUTHORIZATION {role}",
            f"GRANT CONNECT ON DATABASE {DATABASE} TO {role}",
        ]
    sql += ["REVOKE ALL ON SCHEMA public FROM PUBLIC"]
    return [
        {
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Cluster",
            "metadata": {"name": PG_CLUSTER, "labels": {"app.kubernetes.io/part-of": PART_OF}},
            "spec": {
                "instances": 3,
                "imageName": "ghcr.io/cloudnative-pg/postgresql:17.6",
                "primaryUpdateStrategy": "unsupervised",
                "storage": {"size": "50Gi"},
                "walStorage": {"size": "10Gi"},
                "postgresql": {
                    "parameters": {
                        "max_connections": str(MAX_CONNECTIONS),
                        "timezone": "UTC",
                        "log_min_duration_statement": "1000",
                    }
                },
                "enableSuperuserAccess": False,
                "bootstrap": {
                    "initdb": {
                        "database": DATABASE,
                        "owner": DATABASE,
                        "dataChecksums": True,
                        "encoding": "UTF8",
                        "localeCollate": "C.UTF-8",
                        "localeCType": "C.UTF-8",
                        "postInitApplicationSQL": sql,
                    }
                },
                "managed": {
                    "roles": [
                        {
                            "name": db_role(service),
                            "ensure": "present",
                            "comment": f"zuofeng {service} service: owns schema {service}",
                            "login": True,
                            "inherit": True,
                            "connectionLimit": CONNECTIONS_PER_ROLE,
                            "passwordSecret": {"name": db_secret(service)},
                        }
                        for service in SERVICES
                    ]
                },
                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
            },
        }
    ]


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(str, _str_presenter)


def dump(docs: list[dict[str, Any]], title: str) -> str:
    header = f"# GENERATED by deploy/k8s/generate.py — {title}. Do not edit; re-run the script.\n"
    body = yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)
    return header + body


def render() -> dict[str, str]:
    """Path (relative to deploy/k8s/) → content."""
    apps = [doc for app in APPS for doc in app_manifests(app)]
    g = "base/generated/"
    return {
        g + "apps.yaml": dump(apps, "Deployment, Service, HPA, PDB, ServiceAccount per service and the gateway"),
        g + "ingress.yaml": dump([ingress()], "the public entry: the gateway's public paths only"),
        g + "network-policies.yaml": dump(network_policies(), "NetworkPolicies"),
        g + "kafka-topics.yaml": dump(kafka_topics(), "KafkaTopic per contract and its DLQ"),
        g + "kafka-users.yaml": dump(kafka_users(), "KafkaUser per service (SCRAM-SHA-512, ACLs on its own topics)"),
        g + "postgres.yaml": dump(postgres(), "CloudNativePG Cluster with per-service roles and schemas"),
        # A kustomize Component, not part of the base: dev includes it; prod creates its Secrets out of
        # band (docs/operations.md), and a later `kubectl apply` of prod must never overwrite them.
        "components/dev-secrets/secrets.yaml": dump(
            dev_secrets(), "DEVELOPMENT Secrets (public values; production refuses them); see docs/operations.md"
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ")
    args = parser.parse_args(argv)
    stale = []
    for name, content in render().items():
        path = HERE / name
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        stale.append(name)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
    if args.check and stale:
        print(f"stale: {', '.join(stale)} — run: python -m deploy.k8s.generate", file=sys.stderr)
        return 1
    for name in stale:
        print(f"wrote deploy/k8s/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
