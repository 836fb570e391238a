"""The servers the tests use: a set URL must answer (one-line stop otherwise), and on a machine with
none running the session starts its own PostgreSQL and Mosquitto and removes them afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import psycopg
import pytest

from carbonix import local_servers
from carbonix.chain import free_port
from carbonix.config import PROJECT_ROOT


def dead_port() -> int:
    return free_port()


def test_a_configured_url_that_does_not_answer_is_one_line() -> None:
    pg = f"postgresql+psycopg://postgres@127.0.0.1:{dead_port()}/test"
    with pytest.raises(local_servers.ServerUnavailable) as err, local_servers.postgres(pg):
        pass
    assert str(err.value).startswith(f"TEST_POSTGRES_URL={pg} does not answer: ") and "\n" not in str(err.value)
    broker = f"mqtt://127.0.0.1:{dead_port()}"
    with pytest.raises(local_servers.ServerUnavailable) as err, local_servers.mqtt(broker):
        pass
    assert str(err.value) == f"MQTT_URL={broker} does not answer: Connection refused"
    with (
        pytest.raises(local_servers.ServerUnavailable, match="expected mqtt://host:port"),
        local_servers.mqtt("http://x"),
    ):
        pass


def test_no_server_at_the_default_starts_one_of_our_own_and_removes_it() -> None:
    nobody = f"postgresql+psycopg://postgres@127.0.0.1:{dead_port()}/test"
    with local_servers.postgres(None, default=nobody) as server:
        assert server.own and server.url != nobody
        with (
            local_servers.scratch_database(server.url, "carbonix_probe") as url,
            psycopg.connect(local_servers.libpq_dsn(url)) as conn,
        ):
            conn.execute("CREATE TABLE t (x int)")
            conn.execute("INSERT INTO t VALUES (42)")
            assert conn.execute("SELECT x FROM t").fetchone() == (42,)
        with psycopg.connect(local_servers.libpq_dsn(server.url)) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        assert row is not None and (data := Path(row[0])).is_dir()
    assert local_servers.postgres_problem(server.url, timeout=1.0) is not None  # stopped
    assert not data.exists()  # and its folder removed


def test_our_own_mosquitto_carries_messages_and_stops() -> None:
    with local_servers.mqtt(None, default=f"mqtt://127.0.0.1:{dead_port()}") as server:
        assert server.own
        address = urlparse(server.url)
        got = threading.Event()
        client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
        client.on_message = lambda _c, _u, message: got.set() if message.payload == b"reading" else None
        client.connect(str(address.hostname), int(address.port or 1883))
        client.subscribe("carbonix/probe", qos=1)
        client.loop_start()
        try:
            client.publish("carbonix/probe", b"reading", qos=1).wait_for_publish(10)
            assert got.wait(10)
        finally:
            client.loop_stop()
            client.disconnect()
    assert local_servers.mqtt_problem(server.url) is not None


def test_the_session_uses_the_machine_s_server_when_it_answers(postgres_server: str) -> None:
    with local_servers.postgres(None, default=postgres_server) as server:
        assert (server.url, server.own) == (postgres_server, False)


def test_needs_postgres(postgres_url: str) -> None:
    """Used below: a test that asks for a database (it passes wherever the session has one)."""
    with psycopg.connect(local_servers.libpq_dsn(postgres_url)) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (postgres_url.rsplit("/", 1)[1],)


def test_a_session_with_a_dead_test_postgres_url_stops_with_one_line() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{dead_port()}/test"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{__file__}::test_needs_postgres"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "TEST_POSTGRES_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if "does not answer" in line]
    assert len(lines) == 1 and f"TEST_POSTGRES_URL={url} does not answer: " in lines[0], done.stdout
