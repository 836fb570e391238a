"""The embedded MQTT broker `make demo` falls back on when no broker answers at MQTT_URL: the daemon
takes signed messages through it end to end. (amqtt 0.11 does not queue QoS 1 messages for a
persistent session while its client is away, which Mosquitto does: the embedded broker is for the
demo, where the daemon subscribes before anything is published; production uses a real broker.)"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from eth_account import Account
from sqlalchemy import func, select

from oracle import store
from oracle.broker import ensure_broker, reachable
from oracle.daemon import DaemonConfig, OracleDaemon
from oracle.devices import DeviceRecord, StaticDirectory
from oracle.messages import Domain, sign_message
from oracle.pipeline import Pipeline, sensor_topic

DOMAIN = Domain(555888, "0x" + "ef" * 20)


def reading(seq: int) -> dict:
    return {"sequence": seq, "timestamp": 1_767_200_400 + 3600 * seq,
            "values": [{"quantity": "pm25", "unit": "ug/m3", "value": 180 + seq, "decimals": 1}]}  # fmt: skip


def test_with_no_broker_at_mqtt_url_an_embedded_one_carries_the_readings(tmp_path: Path) -> None:
    address, embedded = ensure_broker("mqtt://127.0.0.1:1")  # nothing listens on port 1
    assert embedded is not None and reachable(address)
    key = Account.create().key
    device = Account.from_key(key).address
    directory = StaticDirectory({device: DeviceRecord(device, "0x" + "11" * 20, "0x" + "00" * 32, "", "pm25",
                                                      13.7, 100.5, "active", True, 2**40 - 1)})  # fmt: skip
    engine = store.open_engine(f"sqlite:///{tmp_path}/oracle.db")
    config = DaemonConfig(client_id=f"carbonix-embedded-{uuid.uuid4().hex[:8]}", settle_seconds=0.3)
    publisher = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
    publisher.connect(address.host, address.port)
    publisher.loop_start()

    def run_daemon_until(count: int) -> None:
        stop = threading.Event()
        daemon = OracleDaemon(Pipeline(engine, directory, DOMAIN), address, config)
        runner = threading.Thread(target=daemon.run, args=(stop,), daemon=True)
        runner.start()
        try:
            assert daemon._connected.wait(30)
            deadline = time.monotonic() + 30
            while stored() < count:
                assert time.monotonic() < deadline, f"{stored()} of {count} readings arrived"
                time.sleep(0.05)
        finally:
            stop.set()
            runner.join(15)

    def stored() -> int:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(store.readings)).scalar_one()

    try:
        first = threading.Thread(target=run_daemon_until, args=(2,))
        first.start()
        time.sleep(1.5)  # the daemon subscribes; then the messages
        for seq in (1, 2):
            publisher.publish(sensor_topic(device), json.dumps(sign_message(key, [reading(seq)], DOMAIN)), qos=1)
        first.join(60)
        assert stored() == 2
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        embedded.stop()
        engine.dispose()
