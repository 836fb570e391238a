"""The MQTT broker the oracle talks to: the one at ``MQTT_URL`` when it answers, else an embedded one.

Production and the tests use a real broker (Mosquitto at ``MQTT_URL``, default
``mqtt://127.0.0.1:1883``). ``make demo`` must also run on a machine without one: then
``ensure_broker`` starts an in-process amqtt broker on a free loopback port, in a thread of its
own, and returns its URL.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlparse

from carbonix.chain import free_port
from carbonix.exceptions import CarbonixValueError

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def mqtt_url() -> str:
    return os.environ.get("MQTT_URL", DEFAULT_MQTT_URL)


def parse_url(url: str) -> BrokerAddress:
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "tcp") or not parsed.hostname:
        raise CarbonixValueError(f"MQTT URL {url!r}: expected mqtt://host:port")
    return BrokerAddress(parsed.hostname, parsed.port or 1883)


def reachable(address: BrokerAddress, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout):
            return True
    except OSError:
        return False


class EmbeddedBroker:
    """An amqtt broker on a free loopback port, running in a daemon thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="embedded-mqtt-broker", daemon=True)

    @property
    def address(self) -> BrokerAddress:
        return BrokerAddress("127.0.0.1", self.port)

    def start(self) -> EmbeddedBroker:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise CarbonixValueError(f"the embedded MQTT broker did not start: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def _run(self) -> None:
        from amqtt.broker import Broker

        async def main() -> None:
            config = {
                "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
            }
            broker = Broker(config)
            self._stop = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            await broker.start()
            self._ready.set()
            await self._stop.wait()
            await broker.shutdown()

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()


def ensure_broker(url: str | None = None) -> tuple[BrokerAddress, EmbeddedBroker | None]:
    """The configured broker if it answers, else a new embedded one (which the caller stops)."""
    address = parse_url(url or mqtt_url())
    if reachable(address):
        return address, None
    embedded = EmbeddedBroker().start()
    return embedded.address, embedded
