"""Registered sensors from Python: register a device key, approve it (verifier), set its status,
designate a reference method (verifier)."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from carbonix import enums
from carbonix.exceptions import CarbonixLookupError, CarbonixValueError
from carbonix.ids import project_key, wallet_address
from carbonix.ledger import Ledger, coordinate_e6

ZERO = "0x" + "00" * 20


class Sensors:
    """The deployed SensorRegistry."""

    def __init__(self, ledger: Ledger, contracts: dict[str, Contract]) -> None:
        if "SensorRegistry" not in contracts:
            raise CarbonixLookupError("this deployment has no SensorRegistry: run `carbonix deploy` again")
        self.ledger = ledger
        self.contract = contracts["SensorRegistry"]
        self.tx = ledger.tx

    def register(
        self,
        owner: LocalAccount,
        device: str,
        sensor_type: str,
        project_id: str | None,
        latitude: float,
        longitude: float,
        label: str,
    ) -> TxReceipt:
        if project_id and self.ledger.project(project_id)["owner"].lower() != owner.address.lower():
            raise CarbonixValueError(f"project {project_id} is not owned by {owner.address}")
        fn = self.contract.functions.registerSensor(
            wallet_address(device),
            enums.index("SensorType", sensor_type),
            project_key(project_id) if project_id else b"\0" * 32,
            coordinate_e6(latitude),
            coordinate_e6(longitude),
            label,
        )
        return self.tx.transact(owner, fn)

    def approve(self, verifier: LocalAccount, device: str, certificate: str, certified_until: int) -> TxReceipt:
        """Approves ``device``; ``certificate`` (e.g. a calibration document id) is kept as its hash."""
        if not certificate.strip():
            raise CarbonixValueError("an approval names the certificate it rests on")
        digest = Web3.keccak(text=certificate)
        fn = self.contract.functions.approveSensor(wallet_address(device), digest, certified_until)
        return self.tx.transact(verifier, fn)

    def revoke(self, verifier: LocalAccount, device: str, reason: str) -> TxReceipt:
        return self.tx.transact(verifier, self.contract.functions.revokeSensor(wallet_address(device), reason))

    def set_reference(self, verifier: LocalAccount, device: str, reference: bool, evidence: str) -> TxReceipt:
        """Designates ``device`` a reference method (or withdraws it); ``evidence`` (the regulator's
        station listing, an equivalence test report) is kept as its hash."""
        if reference and not evidence.strip():
            raise CarbonixValueError("a reference designation names the evidence it rests on")
        digest = Web3.keccak(text=evidence) if evidence.strip() else b"\0" * 32
        fn = self.contract.functions.setReferenceMethod(wallet_address(device), reference, digest)
        return self.tx.transact(verifier, fn)

    def set_status(self, sender: LocalAccount, device: str, status: str) -> TxReceipt:
        fn = self.contract.functions.setStatus(wallet_address(device), enums.index("SensorStatus", status))
        return self.tx.transact(sender, fn)

    def show(self, device: str) -> dict[str, Any]:
        device = wallet_address(device)
        s = self.contract.functions.sensor(device).call()
        if s[0] == ZERO:
            raise CarbonixLookupError(f"no sensor {device}")
        return {
            "device": device,
            "owner": s[0],
            "sensor_type": enums.name("SensorType", s[1]),
            "status": enums.name("SensorStatus", s[2]),
            "approved": s[3],
            "certified_until": s[4],
            "reference_method": s[5],
            "project_key": "0x" + s[6].hex(),
            "active": self.contract.functions.isActive(device).call(),
        }
