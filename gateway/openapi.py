"""One OpenAPI document for the whole public API, assembled from the services' own ``/openapi.json``.

Each service documents its routes (they already carry the full ``/api/v1/<service>/…`` paths); the
gateway merges them, renames clashing component schemas per service, and states each operation's
security from the gateway policy. The merged document is cached; a service that cannot be reached is
left out (listed under ``x-zuofeng-unavailable``) and the result is cached only briefly.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
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


def _problems(path: str, method: str, operation: dict) -> None:
    """Errors as the server really answers them: problem+json, never FastAPI's HTTPValidationError."""
    responses = operation.setdefault("responses", {})
    if "422" in responses or operation.get("parameters") or operation.get("requestBody"):
        responses["422"] = _problem("The request does not pass validation (problem+json; `detail` says why).")
    if "{" in path:
        responses.setdefault("404", _problem("No such resource (or not visible to this caller)."))
        if method in ("post", "put", "patch", "delete"):
            responses.setdefault("409", _problem("Conflicts with the resource's current state."))


def _operation_id(service: str, path: str, method: str, operation: dict) -> str:
    """FastAPI's generated id is the function name plus the path and method; keep the function name,
    camelCased (``get_cases_api_v1_accountability_cases_get`` → ``getCases``)."""
    generated = operation.get("operationId") or f"{method}_{path}"
    suffix = re.sub(r"\W", "_", path) + f"_{method}"
    name = generated.removesuffix(suffix) or generated
    head, *rest = [part for part in re.split(r"[^A-Za-z0-9]+", name) if part]
    return head[:1].lower() + head[1:] + "".join(part[:1].upper() + part[1:] for part in rest)


def _unique_operation_ids(paths: dict[str, dict], services: dict[tuple[str, str], str]) -> None:
    counts: dict[str, int] = {}
    for item in paths.values():
        for method, operation in item.items():
            if method in _METHODS:
                counts[operation["operationId"]] = counts.get(operation["operationId"], 0) + 1
    for path, item in paths.items():
        for method, operation in item.items():
            if method in _METHODS and counts[operation["operationId"]] > 1:
                service = services[(path, method)]
                oid = operation["operationId"]
                operation["operationId"] = service + oid[:1].upper() + oid[1:]
    seen: set[str] = set()
    for item in paths.values():  # one service's two routes of one function name: tell them by method, then number
        for method, operation in item.items():
            if method in _METHODS:
                oid = operation["operationId"]
                if oid in seen:
                    oid = f"{oid}{method.capitalize()}"
                base, n = oid, 2
                while oid in seen:
                    oid, n = f"{base}{n}", n + 1
                operation["operationId"] = oid
                seen.add(oid)


def _readable_inline_titles(paths: dict[str, dict]) -> None:
    """FastAPI titles an inline response schema after the route ("Response Get Enumerations Api V1
    Evaluation Enumerations Get"), which generators turn into class names after the operation's: keep those."""
    for item in paths.values():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    schema = media.get("schema", {})
                    if "$ref" not in schema and str(schema.get("title", "")).startswith("Response "):
                        schema["title"] = "Response"  # generators prefix the operation: getXResponse


def _unreferenced(schemas: dict[str, dict], document: dict, names: tuple[str, ...]) -> list[str]:
    text = json.dumps(document)
    return [n for n in names if n in schemas and f'"{_REF}{n}"' not in text]


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
    responses.setdefault("502", _problem("The service gave no valid answer."))
    responses.setdefault("503", _problem("The service is down or saturated for now; retry after Retry-After."))
    responses.setdefault("504", _problem("The service did not answer in time."))


def merge(documents: dict[str, dict], *, title: str = "zuofeng API", version: str = "1.0.0") -> dict:
    """Merge the services' OpenAPI documents into one, in the given (service) order."""
    paths: dict[str, dict] = {}
    schemas: dict[str, dict] = {"Problem": PROBLEM_SCHEMA}
    tags: list[dict] = []
    owners: dict[tuple[str, str], str] = {}
    for service, document in documents.items():
        document = copy.deepcopy(document)
        own = document.get("components", {}).get("schemas", {})
        # A schema clashes if it differs from the one already merged under its name, judged after its
        # references are renamed: a ClueList pointing at a renamed ClueRead is itself a different ClueList
        # (else it would silently replace the first service's). Rename until nothing new clashes.
        renames: dict[str, str] = {}
        while True:
            rewritten = _rewrite_refs(own, renames)
            clashing = {n for n, schema in rewritten.items() if n in schemas and schemas[n] != schema}
            if clashing <= set(renames):
                break
            renames |= {n: f"{service.capitalize()}{n}" for n in clashing}
        document = _rewrite_refs(document, renames)
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            if name in renames and schema.get("title") == name:
                # Generators name classes by title: two "ClueRead" titles are one class, the other lost.
                schema["title"] = renames[name]
            schemas[renames.get(name, name)] = schema
        for path, item in document.get("paths", {}).items():
            merged = paths.setdefault(path, {})
            for method, operation in item.items():
                if method in _METHODS:
                    operation.setdefault("tags", [service])
                    operation["operationId"] = _operation_id(service, path, method, operation)
                    owners[(path, method)] = service
                    _problems(path, method, operation)
                    _secure(path, method, operation)
                merged[method] = operation
        tags.append({"name": service, "description": f"The {service} service."})
    _unique_operation_ids(paths, owners)
    _readable_inline_titles(paths)
    for name in _unreferenced(schemas, {"paths": paths, "schemas": schemas}, ("HTTPValidationError",)):
        del schemas[name]
    for name in _unreferenced(schemas, {"paths": paths, "schemas": schemas}, ("ValidationError",)):
        del schemas[name]
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
