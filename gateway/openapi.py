"""One OpenAPI document for the whole public API, assembled from the services' own ``/openapi.json``.

Each service documents its routes (they already carry the full ``/api/v1/<service>/…`` paths); the
gateway merges them, renames clashing component schemas per service, and states each operation's
security from the gateway policy. The merged document is cached; a service that cannot be reached is
left out (listed under ``x-zuofeng-unavailable``) and the result is cached only briefly.
"""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

import httpx

from .policy import rule_for

_REF = "#/components/schemas/"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

SECURITY_SCHEMES = {
    "staffBearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Staff: an asymmetric JWT from the city's identity provider (roles, unit).",
    },
    "hotlineKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Zuofeng-Key",
        "description": (
            "Hotline systems: the key id, plus X-Zuofeng-Timestamp (Unix seconds), X-Zuofeng-Nonce and "
            "X-Zuofeng-Signature = v1=hex(HMAC-SHA256(secret, 'v1\\nMETHOD\\npath?query\\ntimestamp\\n"
            "nonce\\nhex(SHA-256(body))'))). Requests older than 5 minutes or reusing a nonce are refused."
        ),
    },
}

PROBLEM_SCHEMA = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status"],
}


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF):
                name = value.removeprefix(_REF)
                out[key] = _REF + renames.get(name, name)
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, renames) for v in node]
    return node


def _problem(description: str, headers: dict | None = None) -> dict:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": _REF + "Problem"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def _secure(path: str, method: str, operation: dict) -> None:
    rule = rule_for(method.upper(), path)
    audience = rule.audience if rule else "staff"
    responses = operation.setdefault("responses", {})
    if audience == "public":
        operation["security"] = [{}, {"staffBearer": []}]
        if rule and rule.limit:
            responses.setdefault("429", _problem(
                "Too many requests from this client.",
                {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}))
    elif audience == "feed":
        operation["security"] = [{"hotlineKey": []}, {"staffBearer": []}]
        responses.setdefault("401", _problem("Missing, stale, replayed or invalid credentials."))
        responses.setdefault("403", _problem("Not allowed for this caller."))
    else:
        operation["security"] = [{"staffBearer": []}]
        responses.setdefault("401", _problem("Missing or invalid bearer token."))
        responses.setdefault("403", _problem("The token's roles or unit do not allow this."))
    responses.setdefault("502", _problem("The service could not be reached."))
    responses.setdefault("504", _problem("The service did not answer in time."))


def merge(documents: dict[str, dict], *, title: str = "zuofeng API", version: str = "1.0.0") -> dict:
    """Merge the services' OpenAPI documents into one, in the given (service) order."""
    paths: dict[str, dict] = {}
    schemas: dict[str, dict] = {"Problem": PROBLEM_SCHEMA}
    tags: list[dict] = []
    for service, document in documents.items():
        document = copy.deepcopy(document)
        own = document.get("components", {}).get("schemas", {})
        renames = {
            name: f"{service.capitalize()}{name}"
            for name, schema in own.items()
            if name in schemas and schemas[name] != schema
        }
        document = _rewrite_refs(document, renames)
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            schemas[renames.get(name, name)] = schema
        for path, item in document.get("paths", {}).items():
            merged = paths.setdefault(path, {})
            for method, operation in item.items():
                if method in _METHODS:
                    operation.setdefault("tags", [service])
                    _secure(path, method, operation)
                merged[method] = operation
        tags.append({"name": service, "description": f"The {service} service."})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "The public API of zuofeng, served through its gateway. Errors are RFC 9457 "
                           "problem+json; lists are cursor-paginated.",
        },
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }


class OpenApiAggregator:
    def __init__(self, upstreams: dict[str, str], cache_seconds: float) -> None:
        self.upstreams = upstreams
        self.cache_seconds = cache_seconds
        self._cached: tuple[float, dict] | None = None
        self._lock = asyncio.Lock()

    async def document(self, client: httpx.AsyncClient) -> dict:
        async with self._lock:
            if self._cached and self._cached[0] > time.monotonic():
                return self._cached[1]

            async def fetch(name: str, base: str) -> dict | None:
                try:
                    response = await client.get(f"{base}/openapi.json", timeout=5.0)
                    response.raise_for_status()
                    return response.json()
                except (httpx.HTTPError, ValueError):
                    return None

            fetched = await asyncio.gather(*(fetch(n, b) for n, b in self.upstreams.items()))
            documents = {n: d for n, d in zip(self.upstreams, fetched, strict=True) if d is not None}
            merged = merge(documents)
            missing = [n for n in self.upstreams if n not in documents]
            if missing:
                merged["x-zuofeng-unavailable"] = missing
            ttl = self.cache_seconds if not missing else min(self.cache_seconds, 5.0)
            self._cached = (time.monotonic() + ttl, merged)
            return merged
