"""Where the oracle learns who a device is: the SensorRegistry on-chain (or a fixed table for replay).

A lookup returns the device's owner, project (and the project's type, for open-burning flags),
sensor type, location, status, certification and whether a verifier designated it a reference
method (a regulator's station that co-located low-cost sensors are measured against). The chain is
read once per device and then again after ``refresh_seconds``, so a revocation or a maintenance
period takes effect within that time without a registry call per message. Unknown devices are
remembered as unknown for the same time, so a flood of messages from made-up keys cannot turn
into a flood of RPC calls.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from carbonix import enums
from carbonix.sensors import ZERO, Sensors


@dataclass(frozen=True)
class DeviceRecord:
    device: str
    owner: str
    project_key: str  # 0x-hex bytes32; all zeros when the sensor serves no single project
    project_type: str  # the registry's ProjectType name, "" without a project
    sensor_type: str
    latitude: float | None
    longitude: float | None
    status: str  # active | maintenance | offline
    approved: bool
    certified_until: int
    reference_method: bool = False


class DeviceDirectory(Protocol):
    def lookup(self, device: str) -> DeviceRecord | None: ...


class StaticDirectory:
    """A fixed set of devices (replay of a dataset file, tests)."""

    def __init__(self, records: dict[str, DeviceRecord] | None = None) -> None:
        self.records = dict(records or {})

    def lookup(self, device: str) -> DeviceRecord | None:
        return self.records.get(device)


class ChainDirectory:
    """Devices as the SensorRegistry (and the CarbonRegistry, for project types) describe them."""

    def __init__(self, sensors: Sensors, refresh_seconds: float = 30.0) -> None:
        self.sensors = sensors
        self.refresh_seconds = refresh_seconds
        self._cache: dict[str, tuple[float, DeviceRecord | None]] = {}
        self._locations: dict[str, tuple[float | None, float | None]] = {}
        self._project_types: dict[str, str] = {}

    def lookup(self, device: str) -> DeviceRecord | None:
        now = time.monotonic()
        hit = self._cache.get(device)
        if hit is not None and now - hit[0] < self.refresh_seconds:
            return hit[1]
        record = self._read(device)
        self._cache[device] = (now, record)
        return record

    def _read(self, device: str) -> DeviceRecord | None:
        s = self.sensors.contract.functions.sensor(device).call()
        if s[0] == ZERO:
            return None
        project_key = bytes(s[6])
        return DeviceRecord(
            device=device,
            owner=s[0],
            project_key="0x" + project_key.hex(),
            project_type=self._project_type(project_key),
            sensor_type=enums.name("SensorType", s[1]),
            latitude=self._location(device)[0],
            longitude=self._location(device)[1],
            status=enums.name("SensorStatus", s[2]),
            approved=bool(s[3]),
            certified_until=int(s[4]),
            reference_method=bool(s[5]),
        )

    def _location(self, device: str) -> tuple[float | None, float | None]:
        if device not in self._locations:
            logs = self.sensors.contract.events.SensorRegistered.get_logs(
                from_block=self.sensors.ledger.from_block, argument_filters={"device": device}
            )
            if logs:
                args = logs[-1]["args"]
                self._locations[device] = (args["latitudeE6"] / 1e6, args["longitudeE6"] / 1e6)
            else:
                self._locations[device] = (None, None)
        return self._locations[device]

    def _project_type(self, key: bytes) -> str:
        if not any(key):
            return ""
        hexkey = key.hex()
        if hexkey not in self._project_types:
            p = self.sensors.ledger.registry.functions.project(key).call()
            self._project_types[hexkey] = enums.name("ProjectType", p[2]) if int(p[0], 16) else ""
        return self._project_types[hexkey]
