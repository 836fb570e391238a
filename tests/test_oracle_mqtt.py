"""The oracle daemon end to end: the running Mosquitto, real anvil with the SensorRegistry, the
running PostgreSQL. Every kind of bad message is refused with its recorded reason while the daemon
keeps running; good readings are graded, sealed, committed to the data log, and proven on-chain."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from eth_account import Account
from eth_utils import keccak
from sqlalchemy import and_, func, select

from carbonix.config import Settings
from carbonix.context import account, open_sensors
from carbonix.deployments import Deployment
from carbonix.sensors import Sensors
from carbonix.tgo import CertificationStore, OrgCertification, ProjectCertification, publish
from oracle import store
from oracle.broker import mqtt_url, parse_url, reachable
from oracle.daemon import Committer, DaemonConfig, OracleDaemon
from oracle.devices import ChainDirectory
from oracle.messages import MAX_MESSAGE_BYTES, Domain, sign_message
from oracle.metrics import OracleMetrics
from oracle.outbox import prove, seal_batches
from oracle.pipeline import Incoming, Pipeline, sensor_topic

PROJECT = "TH-TVER-RICE-0001"
T0 = 1_767_200_400  # 2026-01-01 00:00 Thai time


@pytest.fixture(scope="module")
def sensors(
    deployment: Deployment, chains: Settings, tmp_path_factory: pytest.TempPathFactory, mqtt_broker: str
) -> Iterator[Sensors]:
    assert reachable(parse_url(mqtt_url())), mqtt_broker
    snapshot = deployment.w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        s = open_sensors(chains)
        ledger = s.ledger
        certs = CertificationStore(tmp_path_factory.mktemp("tgo-oracle"))
        owner = account("6", settings=chains)
        now = int(ledger.w3.eth.get_block("latest")["timestamp"])
        org = OrgCertification("RICE-COOP-1", owner.address, now + 365 * 86400)
        publish(ledger, account("oracle", settings=chains), certs, orgs=[org],
                projects=[ProjectCertification(PROJECT, owner.address, True)])  # fmt: skip
        ledger.register_participant(owner, org.org_id, "ngo", "seller", "agriculture")
        entry = certs.participant_proof(owner.address)
        ledger.verify_participant(owner, owner.address, org.org_id, entry["certified_until"], entry["proof"])
        details = ("t_ver", "agriculture", "T-VER-S-METH-13", 17.16, 104.15)
        ledger.register_project(owner, PROJECT, *details, True, certs.project_proof(PROJECT)["proof"])
        yield s
    finally:
        deployment.w3.provider.make_request("evm_revert", [snapshot])


def pm(seq: int, hour: int, pm25: int = 250) -> dict:
    return {
        "sequence": seq,
        "timestamp": T0 + 3600 * hour,
        "values": [{"quantity": "pm25", "unit": "ug/m3", "value": pm25, "decimals": 1}],
    }


class Publisher:
    def __init__(self) -> None:
        address = parse_url(mqtt_url())
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, clean_session=True)
        self.client.connect(address.host, address.port)
        self.client.loop_start()

    def send(self, topic: str, payload: bytes | dict) -> None:
        data = json.dumps(payload).encode() if isinstance(payload, dict) else payload
        self.client.publish(topic, data, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def wait_for(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the oracle")
        time.sleep(0.1)


def test_the_daemon_refuses_every_bad_message_keeps_running_and_commits_provable_batches(
    sensors: Sensors, chains: Settings, postgres_url: str
) -> None:
    ledger = sensors.ledger
    owner, verifier = account("6", settings=chains), account("verifier", settings=chains)
    good_key, unapproved_key, stranger_key = (Account.create().key for _ in range(3))
    good, unapproved = Account.from_key(good_key).address, Account.from_key(unapproved_key).address
    sensors.register(owner, good, "pm25", PROJECT, 17.1670, 104.1570, "field edge PM2.5")
    sensors.register(owner, unapproved, "pm25", PROJECT, 17.1675, 104.1575, "not yet certified")
    sensors.approve(verifier, good, "PCD calibration 2026/118", int(time.time()) + 86400 * 30)

    engine = store.open_engine(postgres_url)
    domain = Domain(ledger.w3.eth.chain_id, ledger.datalog.address)
    metrics = OracleMetrics()
    config = DaemonConfig(
        client_id=f"carbonix-test-{uuid.uuid4().hex[:8]}", settle_seconds=0.5, lateness_seconds=0, max_hold_seconds=0
    )
    daemon = OracleDaemon(
        Pipeline(engine, ChainDirectory(sensors), domain),
        parse_url(mqtt_url()),
        config,
        Committer(ledger, account("oracle", settings=chains)),
        metrics,
    )
    stop = threading.Event()
    runner = threading.Thread(target=daemon.run, args=(stop,), daemon=True)
    runner.start()
    publisher = Publisher()
    try:
        wait_for(daemon._connected.is_set)
        topic = sensor_topic(good)
        valid = sign_message(good_key, [pm(1, 0), pm(2, 1), pm(3, 2)], domain)
        tampered = sign_message(good_key, [pm(4, 3)], domain)
        tampered["readings"][0]["values"][0]["value"] = 1
        nan = json.dumps(sign_message(good_key, [pm(4, 3)], domain)).replace('"value": 250', '"value": NaN')
        missing = sign_message(good_key, [pm(4, 3)], domain)
        del missing["readings"][0]["timestamp"]
        cases = [
            (topic, valid, None),
            (topic, tampered, "bad_signature"),
            (topic, sign_message(good_key, [pm(4, 3)], Domain(1, ledger.datalog.address)), "wrong_domain"),
            (topic, sign_message(good_key, [pm(2, 5)], domain), "replay"),
            (topic, valid, "duplicate"),
            (
                sensor_topic(Account.from_key(stranger_key).address),
                sign_message(stranger_key, [pm(1, 0)], domain),
                "unknown_sensor",
            ),  # fmt: skip
            (sensor_topic(unapproved), sign_message(unapproved_key, [pm(1, 0)], domain), "unapproved_sensor"),
            (topic, b"this is not json", "not_json"),
            (topic, b"[" + b"1," * MAX_MESSAGE_BYTES + b"1]", "oversized"),
            (topic, nan.encode(), "bad_value"),
            (topic, missing, "missing_field"),
            (topic, sign_message(good_key, [pm(5, 3, pm25=-20)], domain), None),  # negative: kept, graded
            (topic, sign_message(good_key, [pm(6, 4, pm25=1800)], domain), None),  # open burning
        ]
        for t, payload, _ in cases:
            publisher.send(t, payload)
        expected = {reason: 1 for _, _, reason in cases if reason}
        j = store.rejections.c

        def settled() -> bool:
            with engine.connect() as conn:
                rejected = dict(
                    conn.execute(
                        select(j.reason, func.count()).where(j.topic.like("carbonix/sensors/%")).group_by(j.reason)
                    ).all()
                )
                stored = conn.execute(select(func.count()).select_from(store.readings)).scalar_one()
            return rejected == expected and stored == 5

        wait_for(settled)
        assert runner.is_alive(), "the daemon stopped"

        b = store.batches.c
        wait_for(lambda: _count(engine, store.batches, b.status == "committed") >= 1)
        with engine.connect() as conn:
            rows = conn.execute(select(store.readings).order_by(store.readings.c.sequence)).all()
            batch = conn.execute(select(store.batches)).one()
            flags = conn.execute(select(store.flags)).all()
        assert [r.sequence for r in rows] == [1, 2, 3, 5, 6]
        negative = rows[3]
        assert negative.grade not in "AB" and "plausibility" in negative.reasons
        assert [(f.kind, f.project_key) for f in flags] == [("open_burning", "0x" + _project_key().hex())]
        assert (batch.reading_count, batch.status, batch.participant) == (5, "committed", owner.address)
        assert (
            ledger.datalog.functions.readingsRoot(bytes.fromhex(batch.batch_id[2:])).call().hex()
            == (batch.readings_root[2:])
        )
        for r in rows:
            proof = prove(engine, r.id)
            assert ledger.datalog.functions.verifyReading(
                bytes.fromhex(proof["batch_id"][2:]),
                bytes.fromhex(proof["reading_hash"][2:]),
                [bytes.fromhex(p[2:]) for p in proof["proof"]],
            ).call()
        # the metrics saw the same
        assert metrics.registry.get_sample_value("carbonix_oracle_messages_received_total") == len(cases)
        assert metrics.registry.get_sample_value("carbonix_oracle_readings_accepted_total") == 5
        assert metrics.registry.get_sample_value("carbonix_oracle_batches_committed_total") == 1
        for reason in expected:
            assert metrics.registry.get_sample_value("carbonix_oracle_messages_rejected_total", {"reason": reason}) == 1
    finally:
        stop.set()
        runner.join(15)
        publisher.close()
        engine.dispose()


def _project_key() -> bytes:
    from carbonix.ids import project_key

    return project_key(PROJECT)


def _count(engine, table, where) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()


def test_kill_9_at_random_moments_loses_no_reading_and_commits_no_batch_twice(
    sensors: Sensors, chains: Settings, postgres_url: str, tmp_path
) -> None:
    """20 kill -9 of `carbonix oracle run` while it ingests, grades, seals and commits; the final
    database equals an uninterrupted run of the same messages, and each batch is on-chain once."""
    import os
    import random
    import signal
    import subprocess
    import sys
    from pathlib import Path

    ledger = sensors.ledger
    owner, verifier = account("6", settings=chains), account("verifier", settings=chains)
    keys = [Account.create().key for _ in range(3)]
    domain = Domain(ledger.w3.eth.chain_id, ledger.datalog.address)
    for i, key in enumerate(keys):
        device = Account.from_key(key).address
        sensors.register(owner, device, "pm25", PROJECT, 17.16 + 0.01 * i, 104.15, f"crash test {i}")
        sensors.approve(verifier, device, "crash test certificate", int(time.time()) + 86400 * 30)
    rng = random.Random(4473)
    messages = []
    for i, key in enumerate(keys):
        for m in range(40):  # 40 messages x 3 readings x 3 devices = 360 readings over 120 hours
            hours = range(3 * m, 3 * m + 3)
            readings = [pm(1 + h, h, pm25=200 + 40 * i + rng.randrange(0, 120)) for h in hours]
            messages.append((Account.from_key(key).address, sign_message(key, readings, domain)))
    client_id = f"carbonix-crash-{uuid.uuid4().hex[:8]}"
    carbonix = Path(sys.executable).parent / "carbonix"
    command = [
        str(carbonix), "oracle", "run", "--database", postgres_url, "--period", "hour", "--lateness", "0",
        "--settle", "2", "--metrics-port", "0", "--client-id", client_id,
    ]  # fmt: skip
    env = dict(os.environ)

    def start(*extra: str) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"oracle-{uuid.uuid4().hex[:6]}.log"
        process = subprocess.Popen([*command, *extra], stdout=subprocess.DEVNULL, stderr=log.open("w"), env=env)
        deadline = time.monotonic() + 60
        while "subscribed to" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the oracle did not subscribe"
            time.sleep(0.05)
        return process, log

    # the first start creates the persistent session; the broker keeps what arrives meanwhile
    process, _ = start()
    publisher = Publisher()
    try:
        for device, message in messages:
            publisher.send(sensor_topic(device), message)
    finally:
        publisher.close()
    kills = 0
    engine = store.open_engine(postgres_url)
    b = store.batches.c
    try:
        while kills < 20:
            time.sleep(rng.uniform(0.0, 2.5))
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            process, _ = start()
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        process, log = start("--exit-when-idle", "4")
        assert process.wait(300) == 0, log.read_text()
        # the reference: the same messages through an uninterrupted pipeline
        reference = store.open_engine(f"sqlite:///{tmp_path}/reference.db")
        pipeline = Pipeline(reference, ChainDirectory(sensors), domain)
        for device, message in messages:
            pipeline.ingest([Incoming(sensor_topic(device), json.dumps(message).encode(), 0)])
        pipeline.finalize_hours(pipeline.provisional_hours())
        seal_batches(reference, period_seconds=3600)
        assert _readings(engine) == _readings(reference)
        assert len(_readings(engine)) == 360
        assert _batches(engine) == _batches(reference)
        reference.dispose()
        committed = ledger.datalog.events.EmissionBatchCommitted.get_logs(from_block=ledger.from_block)
        mine = {row[0] for row in _batches(engine)}
        on_chain = [i for i in ("0x" + e["args"]["batchId"].hex() for e in committed) if i in mine]
        assert sorted(on_chain) == sorted(mine), "every batch committed exactly once"
        assert _count(engine, store.batches, b.status != "committed") == 0
        with engine.connect() as conn:
            reasons = set(conn.execute(select(store.rejections.c.reason).distinct()).scalars())
        assert reasons <= {"duplicate"}, reasons  # redeliveries of stored messages, nothing else
    finally:
        if process.poll() is None:
            process.kill()
        engine.dispose()


def _readings(engine) -> list[tuple]:  # type: ignore[no-untyped-def]
    r = store.readings.c
    columns = (r.device, r.sequence, r.timestamp, r.content_hash, r.grams_co2e, r.score, r.grade, r.factors,
               r.reasons, r.provisional, r.batch_id, r.leaf_index)  # fmt: skip
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(*columns).order_by(r.device, r.sequence)).all()]


def _batches(engine) -> list[tuple]:  # type: ignore[no-untyped-def]
    b = store.batches.c
    columns = (b.batch_id, b.participant, b.project_key, b.flow, b.period_start, b.period_end, b.part,
               b.reading_count, b.readings_root, b.kg_co2e, b.quality_score, b.grade_counts)  # fmt: skip
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(*columns).order_by(b.batch_id)).all()]


def test_two_of_three_operators_commit_with_one_down_and_one_signing_another_digest(
    sensors: Sensors, chains: Settings, postgres_url: str, tmp_path
) -> None:
    """Quorum 2 of operators A, B, C. A runs; B is down; C signs another digest of the batch (a
    kg CO2e it made up): nothing is committed. Bad signature messages are refused by reason. B comes
    back, catches up from its persistent session, seals the same batch, and A and B commit it with
    their two signatures; C's signature is kept as evidence and never counted."""
    from dataclasses import replace

    from carbonix import quorum
    from oracle import cosign
    from oracle.daemon import HOUSEKEEPING_SECONDS
    from oracle.outbox import batch_input

    ledger = sensors.ledger
    w3 = ledger.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    admin, owner, verifier = (account(n, settings=chains) for n in ("admin", "6", "verifier"))
    op_a, op_b = account("oracle", settings=chains), account("14", settings=chains)
    op_c, stranger = Account.from_key(keccak(text="cosign operator C")), Account.create()
    role = ledger.datalog.functions.REPORTER_ROLE().call()
    for op in (op_b, op_c):
        ledger.tx.transact(admin, ledger.datalog.functions.grantRole(role, op.address))
    ledger.set_quorum(admin, 2)
    device_key = Account.create().key
    device = Account.from_key(device_key).address
    sensors.register(owner, device, "pm25", PROJECT, 17.1650, 104.1550, "quorum test PM2.5")
    sensors.approve(verifier, device, "PCD calibration 2026/131", int(time.time()) + 86400 * 30)
    domain = Domain(w3.eth.chain_id, ledger.datalog.address)
    tag = uuid.uuid4().hex[:8]

    def daemon_for(op, engine) -> OracleDaemon:  # type: ignore[no-untyped-def]
        config = DaemonConfig(
            client_id=f"carbonix-quorum-{tag}-{op.address[2:8]}",
            settle_seconds=0.5, lateness_seconds=0, max_hold_seconds=0, takeover_seconds=3,
        )  # fmt: skip
        return OracleDaemon(Pipeline(engine, ChainDirectory(sensors), domain), parse_url(mqtt_url()), config,
                            Committer(ledger, op))  # fmt: skip

    running: list[tuple[threading.Event, threading.Thread]] = []

    def start(daemon: OracleDaemon) -> threading.Event:
        stop = threading.Event()
        thread = threading.Thread(target=daemon.run, args=(stop,), daemon=True)
        thread.start()
        running.append((stop, thread))
        wait_for(daemon._connected.is_set)
        return stop

    engine_a = store.open_engine(postgres_url)
    engine_b = store.open_engine(f"sqlite:///{tmp_path}/operator-b.db")
    daemon_a, daemon_b = daemon_for(op_a, engine_a), daemon_for(op_b, engine_b)
    publisher = Publisher()
    topics: list[str] = []
    try:
        # B's first start creates its persistent session; then B goes down
        start(daemon_b).set()
        running[-1][1].join(15)
        start(daemon_a)
        publisher.send(sensor_topic(device), sign_message(device_key, [pm(1, 0), pm(2, 1), pm(3, 2)], domain))
        s = store.batch_signatures.c
        wait_for(lambda: _count(engine_a, store.batch_signatures, and_(s.own.is_(True), s.published.is_(True))) == 1)
        with engine_a.connect() as conn:
            row = conn.execute(select(store.batches)).one()
        batch_id = bytes.fromhex(row.batch_id[2:])
        batch = batch_input(row, PROJECT)
        topics = [cosign.signature_topic(row.batch_id, op.address) for op in (op_a, op_b, op_c)]

        # C signs the same batch with a made-up kg CO2e
        forged = replace(batch, kg_co2e=batch.kg_co2e + 1_000)
        forged_sig = quorum.sign_batch(op_c.key, forged, domain.chain_id, domain.verifying_contract)
        forged_digest = ledger.batch_digest(forged)
        c_message = cosign.BatchSignature(
            row.batch_id, op_c.address, "0x" + forged_digest.hex(), "0x" + forged_sig.hex()
        )
        good_b = quorum.sign_batch(op_b.key, batch, domain.chain_id, domain.verifying_contract)
        digest = "0x" + ledger.batch_digest(batch).hex()

        def message(op: str, sig: bytes, dig: str = digest, batch_hex: str = row.batch_id) -> dict:
            return {"batchId": batch_hex, "operator": op, "digest": dig, "signature": "0x" + sig.hex()}

        other_batch = "0x" + "ab" * 32
        stranger_sig = quorum.sign_batch(stranger.key, batch, domain.chain_id, domain.verifying_contract)
        bad = [  # (topic, payload, reason): none of them is retained
            (cosign.signature_topic(other_batch, op_b.address), b"{not json", "not_json"),
            (cosign.signature_topic(other_batch, op_b.address), {"batchId": other_batch}, "missing_field"),
            (
                cosign.signature_topic(other_batch, op_b.address),
                message(op_b.address, good_b[:64], batch_hex=other_batch),
                "bad_field",
            ),  # fmt: skip
            (cosign.signature_topic(other_batch, op_b.address), message(op_b.address, good_b), "wrong_topic"),
            (topics[1], message(op_b.address, forged_sig), "bad_signature"),  # C's signature claimed as B's
            (
                cosign.signature_topic(row.batch_id, stranger.address),
                message(stranger.address, stranger_sig),
                "not_operator",
            ),  # fmt: skip
            (topics[1], b"{" + b" " * cosign.MAX_SIGNATURE_MESSAGE_BYTES + b"}", "oversized"),
        ]
        for topic, payload, _ in bad:
            publisher.send(topic, payload)
        publisher.client.publish(c_message.topic, c_message.payload(), qos=1, retain=True).wait_for_publish(10)
        j = store.rejections.c
        expected = {reason: 1 for _, _, reason in bad}

        def refused() -> dict[str, int]:
            with engine_a.connect() as conn:
                return dict(
                    conn.execute(
                        select(j.reason, func.count()).where(j.topic.like("carbonix/oracle/%")).group_by(j.reason)
                    ).all()
                )

        wait_for(
            lambda: refused() == expected and _count(engine_a, store.batch_signatures, s.operator == op_c.address) == 1
        )
        # A's own signature and C's other digest make no quorum: nothing is committed
        time.sleep(HOUSEKEEPING_SECONDS + 1)
        assert daemon_a.cosigner is not None and daemon_a.cosigner.signatures_for(row, 2) is None
        assert ledger.datalog.functions.readingsRoot(batch_id).call() == b"\0" * 32
        assert _count(engine_a, store.batches, store.batches.c.status == "pending") == 1

        # B comes back: it catches up, seals the same batch, signs, and the two commit it
        start(daemon_b)
        b = store.batches.c
        for engine in (engine_a, engine_b):
            wait_for(lambda e=engine: _count(e, store.batches, b.status == "committed") == 1, timeout=90)
        assert _batches(engine_b) == _batches(engine_a)
        events = ledger.datalog.events.EmissionBatchCommitted.get_logs(
            from_block=ledger.from_block, argument_filters={"batchId": batch_id}
        )
        assert len(events) == 1, "committed once"
        assert ledger.datalog.functions.readingsRoot(batch_id).call().hex() == row.readings_root[2:]
        tx = w3.eth.get_transaction(events[0]["transactionHash"])
        fn, args = ledger.datalog.decode_function_input(tx["input"])
        assert fn.fn_name == "commitBatchSigned"
        packed = args["signatures"]
        signers = [
            quorum.recover_signer(bytes.fromhex(digest[2:]), packed[i : i + 65]) for i in range(0, len(packed), 65)
        ]
        assert signers == sorted([op_a.address, op_b.address], key=lambda a: int(a, 16))
        with engine_a.connect() as conn:
            kept = conn.execute(select(store.batch_signatures).where(s.operator == op_c.address)).one()
        assert (kept.digest, kept.own) == ("0x" + forged_digest.hex(), False)
        for engine in (engine_a, engine_b):
            with engine.connect() as conn:
                status = conn.execute(select(b.status, b.tx_hash)).one()
            assert status == ("committed", events[0]["transactionHash"].to_0x_hex())
    finally:
        for stop, thread in running:
            stop.set()
            thread.join(15)
        for topic in topics:  # clear the retained signatures
            publisher.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)
        publisher.close()
        engine_a.dispose()
        engine_b.dispose()
        w3.provider.make_request("evm_revert", [snapshot])
