"""Prometheus metrics of the oracle daemon (``carbonix oracle run --metrics-port``)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from oracle.cosign import Received
from oracle.pipeline import IngestResult


class OracleMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("carbonix_oracle_messages_received", "MQTT messages received", registry=r)
        self.accepted = Counter("carbonix_oracle_messages_accepted", "Messages stored after every check", registry=r)
        self.readings = Counter("carbonix_oracle_readings_accepted", "Readings stored and graded", registry=r)
        self.rejected = Counter(
            "carbonix_oracle_messages_rejected", "Messages refused, by reason", ["reason"], registry=r
        )
        self.graded = Counter("carbonix_oracle_readings_graded", "Readings by final grade", ["grade"], registry=r)
        self.flags = Counter("carbonix_oracle_open_burning_flags", "Open-burning flags raised", registry=r)
        self.batches = Counter("carbonix_oracle_batches_committed", "Batches committed to the data log", registry=r)
        self.batch_failures = Counter("carbonix_oracle_batches_failed", "Batch commits the chain refused", registry=r)
        self.signatures = Counter(
            "carbonix_oracle_operator_signatures", "Other operators' batch signatures kept", registry=r
        )
        self.outbox = Gauge("carbonix_oracle_outbox_depth", "Sealed batches not yet committed", registry=r)
        self.lag = Gauge(
            "carbonix_oracle_ingest_lag_seconds", "Receipt to stored, oldest message of the last ingest", registry=r
        )

    def ingested(self, result: IngestResult) -> None:
        self.received.inc(result.messages)
        self.accepted.inc(result.accepted_messages)
        self.readings.inc(result.accepted_readings)
        self.flags.inc(result.flags)
        for reason, n in result.rejected.items():
            self.rejected.labels(reason).inc(n)

    def cosigned(self, received: Iterable[Received]) -> None:
        for item in received:
            if item.signature is not None:
                self.signatures.inc()
            elif item.reason is not None:
                self.rejected.labels(item.reason).inc()

    def finalized(self, grades: dict[str, int]) -> None:
        for grade, n in grades.items():
            self.graded.labels(grade).inc(n)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        start_http_server(port, addr=host, registry=self.registry)
