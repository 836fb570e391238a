"""Settings of the REST API, from the environment (prefix ``API_``).

The database is the indexer's (``--database``, else ``INDEXER_DATABASE_URL``, else the SQLite file
in the state folder); the chains are the CarboniX deployment's (``CARBONIX_*``, see
``carbonix.config``).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="API_", extra="ignore")

    # Requests per minute each client IP may make (IPv6: each /64); 0 turns rate limiting off.
    rate_limit_per_minute: int = Field(default=6000, ge=0)
    # Requests a client may send at once before the per-minute rate applies (default: a tenth of it).
    rate_limit_burst: int | None = Field(default=None, ge=1)
    # Most clients whose buckets are remembered; the least recently seen are forgotten first.
    rate_limit_clients: int = Field(default=100_000, ge=1)
    # Seconds the API trusts its last read of the indexer cursors (the book cache's version).
    cursor_ttl_seconds: float = Field(default=0.1, ge=0)
    # Timeout of every RPC call the API makes (certificates of unindexed transactions, health).
    rpc_timeout_seconds: float = Field(default=5.0, gt=0)
    # Seconds a chain head read for /v1/health is reused, so health checks cannot flood the RPC.
    head_cache_seconds: float = Field(default=2.0, ge=0)
    # Health reports "degraded" when the indexer is more blocks than this behind a chain head.
    max_lag_blocks: int = Field(default=20, ge=0)
    # Public base URL of this API (https://api.example): certificates link to
    # <public_url>/v1/transactions/<hash> unless CARBONIX_EXPLORER_URL names an explorer.
    public_url: str | None = None
    # Order books kept rendered in memory (per market, period and depth).
    book_cache_size: int = Field(default=1024, ge=1)
    # Origins allowed to call the API from a browser (comma-separated); none by default.
    cors_origins: str = ""

    @property
    def burst(self) -> int:
        return self.rate_limit_burst or max(1, self.rate_limit_per_minute // 10)
