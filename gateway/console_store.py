"""Where the console's sessions and sign-in states live: the gateway's Redis (shared by every replica, each
key with its own TTL), or one process's memory for development without Redis."""

from __future__ import annotations

import time

from services.common.errors import Problem


class MemoryStore:
    """One replica's sessions, for development without Redis (the settings refuse that in production)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[bytes, float]] = {}

    def _live(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None or item[1] <= time.monotonic():
            self._items.pop(key, None)
            return None
        return item[0]

    async def put(self, key: str, value: bytes, ttl: int) -> None:
        if len(self._items) > 50_000:
            for stale in [k for k, (_, exp) in self._items.items() if exp <= time.monotonic()]:
                del self._items[stale]
        self._items[key] = (value, time.monotonic() + ttl)

    async def take(self, key: str) -> bytes | None:
        value = self._live(key)
        self._items.pop(key, None)
        return value

    async def touch(self, key: str, ttl: int) -> bytes | None:
        value = self._live(key)
        if value is not None:
            self._items[key] = (value, time.monotonic() + ttl)
        return value

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)

    async def aclose(self) -> None:
        return None


class RedisStore:
    """Sessions in the gateway's Redis, shared by every replica; each key lives as long as it may."""

    def __init__(self, client) -> None:
        self.client = client

    async def _call(self, method: str, *args, **kwargs):
        try:
            return await getattr(self.client, method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 — no session store, no cookie sign-in: fail closed
            raise Problem(503, "会话存储暂时不可用，请稍后重试。", slug="session-store-down",
                          headers={"Retry-After": "5"}) from exc

    async def put(self, key: str, value: bytes, ttl: int) -> None:
        await self._call("set", key, value, ex=max(1, ttl))

    async def take(self, key: str) -> bytes | None:
        return await self._call("getdel", key)

    async def touch(self, key: str, ttl: int) -> bytes | None:
        # GETEX: read and push the idle expiry in one round trip.
        return await self._call("getex", key, ex=max(1, ttl))

    async def delete(self, key: str) -> None:
        await self._call("delete", key)

    async def aclose(self) -> None:
        return None  # the connection belongs to the hotline nonce cache, which closes it
