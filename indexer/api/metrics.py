"""Prometheus metrics of the API, in a registry of its own (one per app), served at /v1/metrics.

Counters and a latency histogram per route template (never per raw path, so made-up URLs cannot
create series), requests refused by the rate limit, book cache hits, and, read from the database
at scrape time, the indexer cursor of each chain and its age.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class CursorCollector(Collector):
    def __init__(self, read: Callable[[], list[Any]]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        block = GaugeMetricFamily(
            "carbonix_indexer_cursor_block", "Last block the indexer has written, per chain.", labels=["chain_id"]
        )
        age = GaugeMetricFamily(
            "carbonix_indexer_cursor_age_seconds",
            "Seconds since the indexer last moved its cursor, per chain.",
            labels=["chain_id"],
        )
        try:
            views = self.read()
        except Exception:  # the database is down: no cursor series, the request counters still serve
            views = []
        now = time.time()
        for view in views:
            block.add_metric([str(view.chain_id)], view.block_number)
            age.add_metric([str(view.chain_id)], max(0.0, now - view.updated_at))
        yield block
        yield age


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "carbonix_api_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "carbonix_api_request_duration_seconds",
            "Time to the end of the response, by route template.",
            ["route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge("carbonix_api_requests_in_flight", "Requests being served.", registry=self.registry)
        self.rate_limited = Counter(
            "carbonix_api_rate_limited_total", "Requests refused with 429.", registry=self.registry
        )
        self.book_cache = Counter(
            "carbonix_api_book_cache_total",
            "Order book requests by cache outcome.",
            ["outcome"],
            registry=self.registry,
        )

    def watch_cursors(self, read: Callable[[], list[Any]]) -> None:
        self.registry.register(CursorCollector(read))
