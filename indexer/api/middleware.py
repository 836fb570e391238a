"""The outermost layer of the API (pure ASGI): request id, rate limit, metrics, and the last word
on errors.

Every response carries ``X-Request-ID``. A client over its rate gets 429 with ``Retry-After``
before any routing or database work (``/v1/health`` and ``/v1/metrics`` are exempt). An exception
that no handler turned into a response is logged here with its traceback and request id, and the
client gets ``{"detail": "internal error", "request_id": ...}`` with 500: never a trace.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexer.api.metrics import ApiMetrics
from indexer.api.ratelimit import RateLimiter, client_key

log = logging.getLogger("carbonix.api")

EXEMPT_PREFIXES = ("/v1/health", "/v1/metrics")
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]


def request_id_of(scope: Scope) -> str | None:
    state = scope.get("state") or {}
    value = state.get("request_id")
    return value if isinstance(value, str) else None


class Guard:
    def __init__(self, app: ASGIApp, limiter: RateLimiter, metrics: ApiMetrics) -> None:
        self.app = app
        self.limiter = limiter
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode())
        started = time.perf_counter()
        path: str = scope.get("path", "")

        if self.limiter.enabled and not path.startswith(EXEMPT_PREFIXES):
            client = scope.get("client")
            allowed, wait, left = self.limiter.take(client_key(client[0] if client else None), time.monotonic())
            if not allowed:
                self.metrics.rate_limited.inc()
                self._count(scope, 429, started, route="(rate limited)")
                detail = f"rate limit exceeded: {self.limiter.per_minute} requests per minute per client"
                await _json(
                    send,
                    429,
                    {"detail": detail, "request_id": request_id},
                    [id_header, (b"retry-after", self.limiter.retry_after(wait).encode())],
                )
                return

        status = 500
        started_response = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                message["headers"] = [*message.get("headers", []), id_header, *SECURITY_HEADERS]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("request %s %s failed (request_id=%s)", scope.get("method"), path, request_id)
            status = 500
            if not started_response:
                await _json(send, 500, {"detail": "internal error", "request_id": request_id}, [id_header])
        finally:
            self.metrics.in_flight.dec()
            self._count(scope, status, started)

    def _count(self, scope: Scope, status: int, started: float, route: str | None = None) -> None:
        if route is None:
            matched = scope.get("route")
            route = getattr(matched, "path", None) or "(unmatched)"
        self.metrics.requests.labels(scope.get("method", ""), route, str(status)).inc()
        self.metrics.latency.labels(route).observe(time.perf_counter() - started)


async def _json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
