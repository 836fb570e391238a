"""Sensors on real anvil through the client the CLI uses: registration by a verified owner,
verifier approval with an expiring certification, status changes, and refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from carbonix.config import Settings
from carbonix.context import account, open_sensors
from carbonix.deployments import Deployment
from carbonix.exceptions import CarbonixValueError, ContractRevertError
from carbonix.sensors import Sensors
from carbonix.tgo import CertificationStore, OrgCertification, ProjectCertification, publish
from oracle.devices import ChainDirectory

CARBONIX = Path(sys.executable).parent / "carbonix"
PROJECT = "TH-TVER-SENSOR-0001"


@pytest.fixture(scope="module")
def sensors(deployment: Deployment, chains: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sensors]:
    snapshot = deployment.w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        s = open_sensors(chains)
        ledger = s.ledger
        store = CertificationStore(tmp_path_factory.mktemp("tgo-sensors"))
        owner, other = account("4", settings=chains), account("5", settings=chains)
        now = int(ledger.w3.eth.get_block("latest")["timestamp"])
        orgs = [OrgCertification(f"SN-ORG-{i}", a.address, now + 365 * 86400) for i, a in enumerate((owner, other))]
        publish(ledger, account("oracle", settings=chains), store, orgs=orgs,
                projects=[ProjectCertification(PROJECT, owner.address, True)])  # fmt: skip
        for org, a in zip(orgs, (owner, other), strict=True):
            ledger.register_participant(a, org.org_id, "corporation", "both", "industry")
            entry = store.participant_proof(a.address)
            ledger.verify_participant(a, a.address, org.org_id, entry["certified_until"], entry["proof"])
        proof = store.project_proof(PROJECT)["proof"]
        details = ("t_ver", "energy_efficiency", "T-VER-S-METH-02", 13.7, 100.5)
        ledger.register_project(owner, PROJECT, *details, True, proof)
        yield s
    finally:
        deployment.w3.provider.make_request("evm_revert", [snapshot])


def test_a_sensor_counts_once_approved_and_active(sensors: Sensors, chains: Settings) -> None:
    owner, other = account("4", settings=chains), account("5", settings=chains)
    verifier = account("verifier", settings=chains)
    device = Account.create().address
    sensors.register(owner, device, "fuel_meter", PROJECT, 13.7563, 100.5018, "kiln 1 fuel meter")
    info = sensors.show(device)
    assert (info["owner"], info["sensor_type"], info["status"], info["active"]) == (
        owner.address,
        "fuel_meter",
        "active",
        False,
    )
    now = int(sensors.ledger.w3.eth.get_block("latest")["timestamp"])
    with pytest.raises(ContractRevertError) as exc:  # owners cannot approve their own sensors
        sensors.approve(owner, device, "TIS-17025-2026-0042", now + 86400)
    assert exc.value.name == "AccessControlUnauthorizedAccount"
    with pytest.raises(ContractRevertError) as exc:
        sensors.approve(verifier, device, "TIS-17025-2026-0042", now - 1)
    assert exc.value.name == "SensorCertificationExpired"
    sensors.approve(verifier, device, "TIS-17025-2026-0042", now + 365 * 86400)
    assert sensors.show(device)["active"] is True
    sensors.set_status(owner, device, "maintenance")
    assert sensors.show(device)["active"] is False
    with pytest.raises(ContractRevertError) as exc:
        sensors.set_status(other, device, "active")
    assert exc.value.name == "SensorNotOwnerOrVerifier"
    sensors.set_status(verifier, device, "active")
    sensors.revoke(verifier, device, "failed field audit")
    assert sensors.show(device)["active"] is False


def test_registration_refusals(sensors: Sensors, chains: Settings) -> None:
    owner, other = account("4", settings=chains), account("5", settings=chains)
    device = Account.create().address
    with pytest.raises(CarbonixValueError, match="not owned by"):
        sensors.register(other, device, "co2", PROJECT, 13.7, 100.5, "")
    with pytest.raises(CarbonixValueError, match="not one of|unknown|SensorType"):
        sensors.register(owner, device, "laser", PROJECT, 13.7, 100.5, "")
    with pytest.raises(ContractRevertError) as exc:
        sensors.register(account("8", settings=chains), device, "co2", None, 13.7, 100.5, "")
    assert exc.value.name == "SensorOwnerNotVerified"
    sensors.register(owner, device, "co2", None, 13.7, 100.5, "")
    with pytest.raises(ContractRevertError) as exc:
        sensors.register(other, device, "co2", None, 13.7, 100.5, "")
    assert exc.value.name == "SensorAlreadyRegistered"


def test_cli_unknown_sensor_is_a_clear_error(sensors: Sensors) -> None:
    result = subprocess.run(
        [str(CARBONIX), "sensors", "show", Account.create().address],
        capture_output=True, text=True, env=os.environ.copy(), timeout=120,
    )  # fmt: skip
    assert result.returncode == 1 and "no sensor" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_verifier_designates_a_reference_station(sensors: Sensors, chains: Settings) -> None:
    owner, verifier = account("4", settings=chains), account("verifier", settings=chains)
    device = Account.create().address
    sensors.register(owner, device, "pm25", None, 13.729852, 100.536501, "PCD 50t Chulalongkorn Hospital")
    now = int(sensors.ledger.w3.eth.get_block("latest")["timestamp"])
    sensors.approve(verifier, device, "PCD analyser certificate 50t", now + 365 * 86400)
    assert sensors.show(device)["reference_method"] is False
    with pytest.raises(ContractRevertError) as exc:  # an owner cannot make its sensor the yardstick
        sensors.set_reference(owner, device, True, "PCD station list")
    assert exc.value.name == "AccessControlUnauthorizedAccount"
    with pytest.raises(CarbonixValueError, match="evidence"):
        sensors.set_reference(verifier, device, True, "  ")
    with pytest.raises(ContractRevertError) as exc:
        sensors.set_reference(verifier, Account.create().address, True, "PCD station list")
    assert exc.value.name == "SensorUnknown"
    receipt = sensors.set_reference(verifier, device, True, "PCD station list 2026: 50t")
    (event,) = sensors.contract.events.SensorReferenceMethodSet().process_receipt(receipt)
    assert event["args"]["referenceMethod"] is True
    assert bytes(event["args"]["evidenceHash"]) == bytes(Web3.keccak(text="PCD station list 2026: 50t"))
    info = sensors.show(device)
    assert info["reference_method"] is True and info["active"] is True
    assert info["project_key"] == "0x" + "00" * 32  # the new field did not shift the project

    # The oracle's view of the device follows the chain (read afresh with refresh 0).
    directory = ChainDirectory(sensors, refresh_seconds=0)
    record = directory.lookup(device)
    assert record is not None and record.reference_method is True
    assert (record.latitude, record.longitude) == (13.729852, 100.536501)
    sensors.revoke(verifier, device, "analyser replaced")  # a revocation clears the designation
    assert sensors.show(device)["reference_method"] is False
    assert directory.lookup(device).reference_method is False  # type: ignore[union-attr]


def test_cli_reference_by_a_non_verifier_is_a_clear_error(sensors: Sensors) -> None:
    device = Account.create().address
    owner = account("4")
    sensors.register(owner, device, "pm25", None, 13.7, 100.5, "")
    result = subprocess.run(
        [str(CARBONIX), "sensors", "reference", device, "--evidence", "mine", "--as", "4"],
        capture_output=True, text=True, env=os.environ.copy(), timeout=120,
    )  # fmt: skip
    assert result.returncode == 1 and "AccessControlUnauthorizedAccount" in result.stderr
    assert "Traceback" not in result.stderr
    assert sensors.show(device)["reference_method"] is False
    ok = subprocess.run(
        [str(CARBONIX), "sensors", "reference", device, "--evidence", "PCD list"],
        capture_output=True, text=True, env=os.environ.copy(), timeout=120,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert sensors.show(device)["reference_method"] is True
