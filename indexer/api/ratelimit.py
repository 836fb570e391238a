"""Per-client token buckets, in process: ``rate`` tokens a second up to ``capacity``.

A client is its IP address; IPv6 clients count per /64, the block one host usually gets. The
least recently seen clients are forgotten beyond ``max_clients``, so a flood of addresses cannot
grow memory without bound (a forgotten client starts again with a full bucket).
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict


def client_key(host: str | None) -> str:
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class RateLimiter:
    def __init__(self, per_minute: int, burst: int, max_clients: int = 100_000) -> None:
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.capacity = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def take(self, key: str, now: float) -> tuple[bool, float, int]:
        """Takes a token for ``key``: (allowed, seconds until the next token if refused, tokens left)."""
        tokens, updated = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - updated) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        wait = 0.0 if allowed else (1.0 - tokens) / self.rate
        return allowed, wait, int(tokens)

    @staticmethod
    def retry_after(wait: float) -> str:
        return str(max(1, math.ceil(wait)))
