"""What the API keeps between requests: the engine, chain access, limiter, metrics, and the order
books rendered per indexer cursor.

The book is the one endpoint traders poll. Its rendered JSON is kept per (market, period, depth)
together with the cursors it was computed at; the cursors are re-read in the background every
``API_CURSOR_TTL_SECONDS`` (one small query), so while the indexer has not moved, a book request
touches neither the database nor a worker thread (``BookFastPath`` answers it before routing).
Concurrent misses of one book share one query.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from anyio import to_thread
from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from carbonix.orderbook import parse_period
from indexer import queries as q
from indexer.api.chain import ChainAccess
from indexer.api.metrics import ApiMetrics
from indexer.api.ratelimit import RateLimiter
from indexer.api.settings import ApiSettings

Version = tuple[tuple[int, int, str], ...]


class IndexView:
    """The indexer cursors as last read. A read older than ``ttl`` seconds is refreshed in the
    background while requests go on with the last one (only the very first read is waited for),
    so no request ever waits for the refresh."""

    def __init__(self, engine: Engine, ttl: float) -> None:
        self.engine = engine
        self.ttl = ttl
        self._views: list[q.CursorView] | None = None
        self._read_at = -float("inf")
        self._refreshing: asyncio.Task[None] | None = None

    def read(self) -> list[q.CursorView]:
        with Session(self.engine) as db:
            return q.cursors(db)

    async def _refresh(self) -> None:
        try:
            self._views = await to_thread.run_sync(self.read)
            self._read_at = time.monotonic()
        finally:
            self._refreshing = None

    async def current(self) -> tuple[Version, list[q.CursorView]]:
        if self._views is None:
            if self._refreshing is None:
                self._refreshing = asyncio.ensure_future(self._refresh())
            await asyncio.shield(self._refreshing)
        elif self._refreshing is None and time.monotonic() - self._read_at > self.ttl:
            self._refreshing = asyncio.ensure_future(self._refresh())
        views = self._views or []
        return tuple((v.chain_id, v.block_number, v.block_hash) for v in views), views


class OracleStore:
    """The oracle's own database, read-only, for what the chain does not carry (the accuracy of
    sensors against reference stations). Its tables may appear after the API started (the oracle
    creates them): until they exist, ``ready()`` is False, asked again at most every 10 s."""

    RECHECK_SECONDS = 10.0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ready = False
        self._checked = -float("inf")

    def ready(self) -> bool:
        if not self._ready and time.monotonic() - self._checked > self.RECHECK_SECONDS:
            self._checked = time.monotonic()
            tables = inspect(self.engine)
            self._ready = tables.has_table("oracle_accuracy") and tables.has_table("oracle_devices")
        return self._ready


@dataclass
class RenderCache:
    """Rendered responses by key, each valid for one index version; least recently used evicted."""

    size: int
    _entries: OrderedDict[Hashable, tuple[Version, bytes | None]] = field(default_factory=OrderedDict)
    _pending: dict[tuple[Hashable, Version], asyncio.Future[bytes | None]] = field(default_factory=dict)

    def peek(self, key: Hashable, version: Version) -> bytes | None:
        """The rendered bytes of ``key`` at ``version`` if they are here (None for a miss or a 404)."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != version:
            return None
        return entry[1]

    async def get(
        self, key: Hashable, version: Version, render: Callable[[], bytes | None]
    ) -> tuple[bytes | None, bool]:
        """(rendered bytes or None, whether it was a cache hit)."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] == version:
            self._entries.move_to_end(key)
            return entry[1], True
        pending = self._pending.get((key, version))
        if pending is not None:
            return await asyncio.shield(pending), True
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._pending[(key, version)] = future
        try:
            body = await to_thread.run_sync(render)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs "never retrieved"
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            self._pending.pop((key, version), None)
        future.set_result(body)
        self._entries[key] = (version, body)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return body, False


@dataclass
class ApiState:
    engine: Engine
    settings: ApiSettings
    chain: ChainAccess
    limiter: RateLimiter
    metrics: ApiMetrics
    index: IndexView
    books: RenderCache
    oracle: OracleStore | None = None


BOOK_PATH = re.compile(r"/v1/markets/([1-9][0-9]{0,9})/book")
QUARTER = re.compile(rb"[0-9]{4}Q[1-4]")


def book_request(scope: Scope) -> tuple[int, int | None, int] | None:
    """(market, period or None for the current one, depth) of a plain book request, or None for
    anything the route itself should look at (other paths, unknown, repeated or odd parameters)."""
    found = BOOK_PATH.fullmatch(scope.get("path", ""))
    if found is None or scope.get("method") != "GET":
        return None
    market = int(found[1])
    if market > 2**32 - 1:
        return None
    period, depth, seen = None, 50, set()
    query: bytes = scope.get("query_string", b"")
    for part in query.split(b"&") if query else ():
        name, _, value = part.partition(b"=")
        if name in seen:
            return None
        seen.add(name)
        if name == b"depth" and value.isdigit() and len(value) <= 3 and 1 <= int(value) <= 500:
            depth = int(value)
        elif name == b"period" and QUARTER.fullmatch(value):
            period = parse_period(value.decode())
        else:
            return None
    return market, period, depth


class BookRoute:
    path = "/v1/markets/{market}/book"  # the metrics label of the route it stands in for


class BookFastPath:
    """Answers a book request from the render cache before routing, when the book of the current
    index version is there; everything else (a miss, a 404, any odd parameter) goes to the route,
    which validates, renders and fills the cache. The bytes are the route's own."""

    def __init__(self, app: ASGIApp, state: ApiState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        wanted = book_request(scope) if scope["type"] == "http" else None
        if wanted is not None:
            market, period, depth = wanted
            version, views = await self.state.index.current()
            if period is None:
                period = q.period_of(q.chain_now(views))
            body = self.state.books.peek(("book", market, period, depth), version)
            if body is not None:
                self.state.metrics.book_cache.labels("hit").inc()
                scope["route"] = BookRoute
                headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
