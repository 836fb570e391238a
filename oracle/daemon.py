"""``carbonix oracle run``: the MQTT subscriber that feeds the pipeline and drives the outbox.

Delivery is at-least-once end to end. The daemon subscribes with QoS 1 on a persistent session
(fixed client id, clean_session off) and acknowledges a message only after the database
transaction that stored it (or its rejection) has committed; a message received but not yet
stored when the process dies is delivered again by the broker, and a message stored but not yet
acknowledged comes back as a ``duplicate`` of itself, which changes nothing.

Work loop (one thread; the MQTT network loop runs in paho's own thread):
1. drain up to ``max_batch`` received messages and ingest them in one transaction, then ack them;
2. finalize every closed hour (its end plus ``lateness_seconds`` is past) once no reading of it
   has arrived for ``settle_seconds`` and either the whole stream is quiet for that long or the
   hour's last reading came ``max_hold_seconds`` ago (so a backfill of old data, where every hour
   is long closed, is graded against all its neighbours, and live data is graded once its hour
   closes even under constant traffic); then seal the closed periods and commit pending batches.
   Under constant traffic this housekeeping still runs every ``HOUSEKEEPING_SECONDS``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine

from carbonix.ledger import Ledger
from oracle import cosign
from oracle.broker import BrokerAddress
from oracle.metrics import OracleMetrics
from oracle.outbox import PERIODS, commit_pending, outbox_depth, seal_batches
from oracle.pipeline import TOPIC_FILTER, Incoming, Pipeline

log = logging.getLogger("carbonix.oracle")
HOUSEKEEPING_SECONDS = 5.0


@dataclass(frozen=True)
class DaemonConfig:
    client_id: str
    period_seconds: int = PERIODS["day"]
    min_grade: str = "C"
    settle_seconds: float = 2.0
    lateness_seconds: int = 900
    max_hold_seconds: int = 600
    max_batch: int = 200
    commit: bool = True
    takeover_seconds: float = 60.0  # under a quorum: when a non-first signer sends a batch itself


@dataclass(frozen=True)
class Committer:
    ledger: Ledger
    reporter: LocalAccount


class OracleDaemon:
    def __init__(
        self,
        pipeline: Pipeline,
        broker: BrokerAddress,
        config: DaemonConfig,
        committer: Committer | None = None,
        metrics: OracleMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pipeline = pipeline
        self.engine: Engine = pipeline.engine
        self.broker = broker
        self.config = config
        self.committer = committer
        self.metrics = metrics or OracleMetrics()
        self.clock = clock
        self.cosigner = (
            cosign.Cosigner(self.engine, committer.ledger, committer.reporter, config.takeover_seconds)
            if committer is not None
            else None
        )
        self._inbox: queue.Queue[tuple[int, int, Incoming]] = queue.Queue()
        self._connected = threading.Event()
        self._last_arrival = time.monotonic()
        self._started = self._last_arrival
        self._last_tick = self._started - HOUSEKEEPING_SECONDS  # the first housekeeping seals and commits
        self._hour_arrival: dict[int, float] = {}  # hour -> when a reading of it last arrived
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            clean_session=False,
            manual_ack=True,
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect

    # MQTT callbacks (paho's thread) ----------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _userdata, _flags, reason_code, _properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            log.error("MQTT connect refused: %s", reason_code)
            return
        filters = [TOPIC_FILTER] + ([cosign.TOPIC_FILTER] if self.cosigner is not None else [])
        client.subscribe([(f, 1) for f in filters])
        self._connected.set()
        log.info("subscribed to %s on %s (persistent session %s)", filters, self.broker.url, self.config.client_id)

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:  # type: ignore[no-untyped-def]
        self._connected.clear()
        log.warning("MQTT disconnected (%s); reconnecting", reason_code)

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:  # type: ignore[no-untyped-def]
        item = Incoming(message.topic, bytes(message.payload), int(self.clock() * 1000))
        self._inbox.put((message.mid, message.qos, item))

    # work loop --------------------------------------------------------------------------------
    def run(self, stop: threading.Event, exit_when_idle: float | None = None) -> None:
        """Runs until ``stop`` is set (or, with ``exit_when_idle``, until idle with nothing left to do)."""
        self._connected.clear()
        self.client.connect(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        try:
            if not self._connected.wait(30):
                raise ConnectionError(f"no MQTT connection to {self.broker.url}")
            last_housekeeping = time.monotonic()
            while not stop.is_set():
                # under constant traffic, housekeeping still runs every HOUSEKEEPING_SECONDS
                if self._drain() and time.monotonic() - last_housekeeping < HOUSEKEEPING_SECONDS:
                    continue
                quiet = time.monotonic() - self._last_arrival
                busy = self._housekeeping(quiet >= self.config.settle_seconds)
                last_housekeeping = time.monotonic()
                if exit_when_idle is not None and not busy and quiet >= exit_when_idle and self._inbox.empty():
                    return
                stop.wait(0.1)
        finally:
            self.client.loop_stop()
            self.client.disconnect()

    def _drain(self) -> bool:
        try:
            first = self._inbox.get(timeout=0.05)
        except queue.Empty:
            return False
        taken = [first]
        while len(taken) < self.config.max_batch:
            try:
                taken.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        readings = [item for _, _, item in taken if not cosign.is_signature_topic(item.topic)]
        signatures = [item for _, _, item in taken if cosign.is_signature_topic(item.topic)]
        if signatures and self.cosigner is not None:
            self.metrics.cosigned(self.cosigner.receive(signatures))
        if readings:
            result = self.pipeline.ingest(readings)
        for mid, qos, _ in taken:
            if qos > 0:
                self.client.ack(mid, qos)
        if readings:
            self._last_arrival = time.monotonic()
            for hour in result.hours:
                self._hour_arrival[hour] = self._last_arrival
            self.metrics.ingested(result)
            self.metrics.lag.set(self.clock() - readings[0].received_at_ms / 1000)
        return True

    def _housekeeping(self, quiet: bool) -> bool:
        """Finalizes, seals and commits what is due; True if it did anything."""
        now = int(self.clock())
        mono = time.monotonic()
        due = []
        for hour in self.pipeline.provisional_hours():
            if now < hour + 3600 + self.config.lateness_seconds:
                continue  # still open for late readings
            since = mono - self._hour_arrival.get(hour, self._started)
            if since >= self.config.settle_seconds and (quiet or since >= self.config.max_hold_seconds):
                due.append(hour)
                self._hour_arrival.pop(hour, None)
        did = False
        if due:
            grades = self.pipeline.finalize_hours(due)
            self.metrics.finalized(grades)
            did = True
        # Sealing scans the unbatched readings and committing asks the chain about every pending
        # batch: both run right after a finalization, else once per tick (a period can close on
        # the clock alone; a batch can wait for operator signatures), not on every idle loop.
        tick = mono - self._last_tick >= HOUSEKEEPING_SECONDS
        if not (due or tick):
            return False
        self._last_tick = mono
        closed_before = now - self.config.lateness_seconds
        if seal_batches(self.engine, self.config.period_seconds, self.config.min_grade, closed_before):
            did = True
        if self.committer is not None and self.cosigner is not None and self.config.commit:
            quorum = self.cosigner.refresh()
            if quorum > 1 and self._publish_signatures():
                did = True
            on_chain = []
            for outcome in commit_pending(
                self.engine, self.committer.ledger, self.committer.reporter, cosigner=self.cosigner
            ):
                did = True
                if outcome.status == "failed":
                    self.metrics.batch_failures.inc()
                    log.error("batch %s refused: %s", outcome.batch_id, outcome.error)
                else:
                    self.metrics.batches.inc()
                    on_chain.append(outcome.batch_id)
                    log.info("batch %s committed in %s", outcome.batch_id, outcome.tx_hash)
            if quorum > 1:
                for topic in self.cosigner.committed(on_chain):
                    self.client.publish(topic, b"", qos=1, retain=True)  # clears the retained signature
        self.metrics.outbox.set(outbox_depth(self.engine))
        return did

    def _publish_signatures(self) -> bool:
        """Signs the batches this operator sealed and publishes its signatures (retained, QoS 1);
        a signature counts as published once the broker acknowledged it."""
        assert self.cosigner is not None
        unpublished = self.cosigner.sign_pending()
        sent = [(sig, self.client.publish(sig.topic, sig.payload(), qos=1, retain=True)) for sig in unpublished]
        confirmed = []
        for sig, info in sent:
            try:
                info.wait_for_publish(5)
            except (RuntimeError, ValueError) as exc:
                log.warning("signature of batch %s not published yet: %s", sig.batch_id, exc)
                continue
            if info.is_published():
                confirmed.append(sig)
        self.cosigner.mark_published(confirmed)
        return bool(confirmed)
