"""The FastAPI application: routers under /v1, error handling, the guard middleware, state.

``create_app`` builds an app on the indexer's database. Its connections are read-only at the
database (SQLite ``PRAGMA query_only``, PostgreSQL ``default_transaction_read_only``): writes go
on-chain, and nothing the API does can change the index. Chain access is opened on first use.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine, event
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from carbonix.config import Settings
from carbonix.sql import open_sql_engine
from indexer import db
from indexer.api.chain import ChainAccess
from indexer.api.exceptions import ChainUnavailableError
from indexer.api.metrics import ApiMetrics
from indexer.api.middleware import Guard, request_id_of
from indexer.api.ratelimit import RateLimiter
from indexer.api.routes import credits, data, market, registry, settlement, system
from indexer.api.schemas import ErrorPublic, ValidationErrorPublic
from indexer.api.settings import ApiSettings
from indexer.api.state import ApiState, BookFastPath, IndexView, OracleStore, RenderCache
from oracle import store

log = logging.getLogger("carbonix.api")

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "Unknown id."},
    422: {"model": ValidationErrorPublic, "description": "A malformed, out-of-range or unknown parameter."},
    429: {"model": ErrorPublic, "description": "Rate limit exceeded; see Retry-After."},
    500: {"model": ErrorPublic, "description": "Internal error (logged with the request id)."},
    503: {"model": ErrorPublic, "description": "Database unavailable."},
}
DESCRIPTION = """Read-only REST API over the CarboniX chain-event index (writes go on-chain).

Money is `{satang, thb}` (integer satang and a 2-decimal baht string), times are `{unix, iso}`,
tonnes and kg are integers, addresses EIP-55 checksums, 256-bit ids `0x` + 64 hex digits, quarters
`2026Q4` (Thai time). Lists are `{data, count}` with `limit` (1-500, default 50) and `offset`.
Unknown query parameters are refused (422). Each client IP is rate limited (429 with Retry-After).
"""


def _version() -> str:
    try:
        return version("carbonix")
    except PackageNotFoundError:
        return "0"


def read_only_engine(url: str | None = None) -> Engine:
    """An engine on the indexer database whose every connection refuses writes."""
    return read_only(db.open_engine(url, migrate=False))


def read_only(engine: Engine) -> Engine:
    """``engine`` with every connection refusing writes."""
    sqlite = engine.dialect.name == "sqlite"

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        if sqlite:
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("SET SESSION default_transaction_read_only = on")
        cursor.close()
        if not sqlite:
            dbapi_connection.commit()

    return engine


def create_app(
    database_url: str | None = None,
    settings: ApiSettings | None = None,
    chain_settings: Settings | None = None,
    engine: Engine | None = None,
    migrate: bool = False,
    oracle_database_url: str | None = None,
) -> FastAPI:
    """The API on the indexer database at ``database_url`` (default INDEXER_DATABASE_URL, else the
    SQLite file in the state folder); ``migrate`` first brings its schema to head (a write). The
    oracle's store (``oracle_database_url``, else ORACLE_DATABASE_URL, else its SQLite file in the
    state folder if there is one) is read for the accuracy of sensors against reference stations."""
    settings = settings or ApiSettings()
    if engine is None:
        url = db.database_url(database_url)
        if migrate:
            db.open_engine(url).dispose()
        engine = read_only_engine(url)
    oracle_url = store.existing_database_url(oracle_database_url)
    metrics = ApiMetrics()
    limiter = RateLimiter(settings.rate_limit_per_minute, settings.burst, settings.rate_limit_clients)
    state = ApiState(
        engine=engine,
        settings=settings,
        chain=ChainAccess(chain_settings, settings.rpc_timeout_seconds, settings.head_cache_seconds),
        limiter=limiter,
        metrics=metrics,
        index=IndexView(engine, settings.cursor_ttl_seconds),
        books=RenderCache(settings.book_cache_size),
        oracle=None if oracle_url is None else OracleStore(read_only(open_sql_engine(oracle_url))),
    )
    metrics.watch_cursors(state.index.read)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()
        if state.oracle is not None:
            state.oracle.engine.dispose()

    # The docs page loads Swagger UI from the API itself (assets shipped in the fastapi-offline
    # wheel), never from a CDN: an auditor offline still gets a working page.
    app = FastAPIOffline(
        title="CarboniX API",
        version=_version(),
        description=DESCRIPTION,
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
        static_url="/v1/docs/assets",
        swagger_ui_oauth2_redirect_url="/v1/docs/oauth2-redirect",
        lifespan=lifespan,
    )
    app.state.api = state
    for module in (registry, credits, market, data, settlement, system):
        app.include_router(module.router, prefix="/v1", responses=ERRORS)

    def error(request: Request, status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
        body = {"detail": detail, "request_id": request_id_of(request.scope)}
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(request, exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(sa_exc.OperationalError)
    @app.exception_handler(sa_exc.InterfaceError)
    @app.exception_handler(sa_exc.TimeoutError)
    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable (request_id=%s): %s", request_id_of(request.scope), exc)
        return error(request, 503, "database unavailable", {"retry-after": "5"})

    @app.exception_handler(ChainUnavailableError)
    async def chain_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("chain unavailable (request_id=%s): %s", request_id_of(request.scope), exc)
        return error(request, 503, "chain unavailable", {"retry-after": "5"})

    # outermost first: Guard (request id, rate limit, metrics, errors), CORS, the book fast path
    app.add_middleware(BookFastPath, state=state)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET"], allow_headers=["*"])
    app.add_middleware(Guard, limiter=limiter, metrics=metrics)
    return app
