"""Per-client limits on the public endpoints (QR reports, receipt lookups, ballots, bulletins, Open311).

Moving windows from the ``limits`` library. With ``REDIS_URL`` the counters live in Redis and every gateway
replica counts against the same window; without it each replica counts in memory on its own (N replicas
let a client through N times the limit). ``GATEWAY_RATE_LIMIT_STORAGE`` names another storage outright.
"""

from __future__ import annotations

import logging
import math
import time

from prometheus_client import Counter

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from services.common.errors import Problem

log = logging.getLogger(__name__)
STORE_ERRORS = Counter("zuofeng_gateway_rate_limit_store_errors_total",
                       "Rate-limit checks skipped because the shared store did not answer")


class RateLimits:
    def __init__(self, limits: dict[str, str], storage_uri: str) -> None:
        self.items = {group: parse(spec) for group, spec in limits.items()}
        # redis-py (the ``redis`` package), not limits' default coredis: one Redis client library for the
        # suite, the same the nonce cache uses.
        options = {"implementation": "redispy"} if storage_uri.startswith("async+redis") else {}
        self.storage = storage_from_string(storage_uri, **options)
        self.limiter = MovingWindowRateLimiter(self.storage)

    async def hit(self, group: str, client: str) -> None:
        item = self.items.get(group)
        if item is None:
            return
        try:
            if await self.limiter.hit(item, group, client):
                return
        except Exception as exc:  # noqa: BLE001 — the shared store is down: serve, and say so
            # Failing open: a Redis outage must not shut the city's reporting and voting; evaluation still
            # limits codes per phone in its database, and signed requests fail closed on the nonce check.
            STORE_ERRORS.inc()
            log.warning("rate-limit store unavailable, request let through", extra={"error": repr(exc)})
            return
        stats = await self.limiter.get_window_stats(item, group, client)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise Problem(429, f"请求过于频繁：每个客户端至多 {item}。", slug="rate-limited",
                      headers={"Retry-After": str(retry_after)}, retry_after=retry_after)
