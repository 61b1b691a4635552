"""Per-client limits on the public endpoints (QR reports, receipt lookups, ballots, bulletins, Open311).

Moving windows from the ``limits`` library. With ``REDIS_URL`` the counters live in Redis and every gateway
replica counts against the same window; without it each replica counts in memory on its own (N replicas
let a client through N times the limit). ``GATEWAY_RATE_LIMIT_STORAGE`` names another storage outright.
"""

from __future__ import annotations

import math
import time

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from services.common.errors import Problem


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
        if await self.limiter.hit(item, group, client):
            return
        stats = await self.limiter.get_window_stats(item, group, client)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise Problem(429, f"Too many requests; at most {item} per client.", slug="rate-limited",
                      headers={"Retry-After": str(retry_after)}, retry_after=retry_after)
