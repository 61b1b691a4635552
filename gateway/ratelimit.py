"""Per-client limits on the public endpoints (QR reports, receipt lookups, ballots, bulletins, Open311).

Moving windows from the ``limits`` library. The default storage is in memory, so each gateway replica
counts on its own (N replicas let a client through N times the limit); point
``GATEWAY_RATE_LIMIT_STORAGE`` at a shared store (e.g. ``async+redis://…``) to count across replicas.
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
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

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
