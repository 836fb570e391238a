"""High-level operations on the CarboniX contracts, shared by the CLI, demo, tests and benchmarks.

A ``Ledger`` wraps one deployment (a Web3 connection and the deployed contracts) and speaks in the
product's terms: participants, projects, batches of credits, retirements and emission batches.
Every write returns the transaction receipt; every revert raises ``ContractRevertError`` carrying
the contract's custom error name.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from carbonix import enums, quorum
from carbonix.emission_batch import EmissionBatchInput
from carbonix.exceptions import CarbonixLookupError, CarbonixValueError
from carbonix.ids import project_key, wallet_address
from carbonix.txs import ErrorDecoder, TxSender

MAX_UINT48 = 2**48 - 1


def coordinate_e6(degrees: float) -> int:
    """Degrees as the contracts store them: an int32 of degrees times 1e6."""
    return round(degrees * 1_000_000)


@dataclass(frozen=True)
class IssueRequest:
    """One batch to issue: a serial range of one project and vintage."""

    project_id: str
    vintage: int
    credit_type: str
    serial_prefix: str
    serial_start: int
    serial_end: int
    buffer_bps: int = 0

    @property
    def quantity(self) -> int:
        return self.serial_end - self.serial_start + 1


@dataclass(frozen=True)
class IssuedBatch:
    batch_id: int
    project_id: str
    owner: str
    vintage: int
    credit_type: str
    serial_prefix: str
    serial_start: int
    serial_end: int
    buffer: int
    tx_hash: str

    @property
    def minted(self) -> int:
        return self.serial_end - self.serial_start + 1 - self.buffer


@dataclass(frozen=True)
class Certificate:
    """A retirement certificate, rebuilt from one transaction's receipt and immutable batch data."""

    tx_hash: str
    block_number: int
    timestamp: int
    batch_id: int
    holder: str
    beneficiary: str
    purpose: str
    claim_start: int
    claim_end: int
    serial_prefix: str
    serial_first: int
    serial_last: int
    project_id: str
    vintage: int
    credit_type: str

    @property
    def tonnes(self) -> int:
        return self.serial_last - self.serial_first + 1

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "batch_id": hex(self.batch_id), "tonnes": self.tonnes}


class Ledger:
    """The deployed CarboniX contracts on one chain."""

    def __init__(self, w3: Web3, contracts: dict[str, Contract], from_block: int = 0) -> None:
        self.w3 = w3
        self.registry = contracts["CarbonRegistry"]
        self.credits = contracts["CarbonCredits"]
        self.datalog = contracts["EmissionDataLog"]
        self.from_block = from_block
        self.tx = TxSender(w3, ErrorDecoder.from_abis(c.abi for c in contracts.values()))

    # participants -------------------------------------------------------------------------
    def register_participant(
        self, account: LocalAccount, org_id: str, account_type: str, trade_role: str, sector: str
    ) -> TxReceipt:
        fn = self.registry.functions.registerParticipant(
            org_id,
            enums.index("AccountType", account_type),
            enums.index("TradeRole", trade_role),
            enums.index("Sector", sector),
        )
        return self.tx.transact(account, fn)

    def verify_participant(
        self, sender: LocalAccount, wallet: str, org_id: str, certified_until: int, proof: list[str]
    ) -> TxReceipt:
        fn = self.registry.functions.verifyParticipant(wallet_address(wallet), org_id, certified_until, proof)
        return self.tx.transact(sender, fn)

    def participant(self, wallet: str) -> dict[str, Any]:
        wallet = wallet_address(wallet)
        p = self.registry.functions.participant(wallet).call()
        return {
            "wallet": wallet,
            "registered": p[0] != b"\0" * 20,
            "org_key": "0x" + p[0].hex(),
            "account_type": enums.name("AccountType", p[1]),
            "trade_role": enums.name("TradeRole", p[2]),
            "sector": enums.name("Sector", p[3]),
            "certified_epoch": p[4],
            "certified_until": p[5],
            "verified": self.registry.functions.isVerified(wallet).call(),
        }

    def publish_participant_root(self, oracle: LocalAccount, root: str | bytes) -> TxReceipt:
        return self.tx.transact(oracle, self.registry.functions.publishParticipantRoot(root))

    def publish_project_root(self, oracle: LocalAccount, root: str | bytes) -> TxReceipt:
        return self.tx.transact(oracle, self.registry.functions.publishProjectRoot(root))

    # projects -------------------------------------------------------------------------------
    def register_project(
        self,
        owner: LocalAccount,
        project_id: str,
        standard: str,
        project_type: str,
        methodology: str,
        latitude: float,
        longitude: float,
        additional: bool,
        proof: list[str],
    ) -> TxReceipt:
        """Register and certify a project the sender owns: ``additional`` and ``proof`` come from
        the current TGO project list, which must name the sender as the owner."""
        registration = (
            project_id,
            enums.index("Standard", standard),
            enums.index("ProjectType", project_type),
            methodology,
            coordinate_e6(latitude),
            coordinate_e6(longitude),
        )
        fn = self.registry.functions.registerProject(registration, additional, proof)
        return self.tx.transact(owner, fn)

    def certify_project(self, sender: LocalAccount, project_id: str, additional: bool, proof: list[str]) -> TxReceipt:
        fn = self.registry.functions.certifyProject(project_id, additional, proof)
        return self.tx.transact(sender, fn)

    def project(self, project_id: str) -> dict[str, Any]:
        key = project_key(project_id)
        p = self.registry.functions.project(key).call()
        index, _, _ = self.registry.functions.certifiedProject(key).call()
        return {
            "project_id": project_id,
            "key": "0x" + key.hex(),
            "registered": int(p[0], 16) != 0,
            "owner": p[0],
            "standard": enums.name("Standard", p[1]),
            "project_type": enums.name("ProjectType", p[2]),
            "additional": p[3],
            "certified_epoch": p[4],
            "index": p[5],
            "certified": index != 0,
            "latitude": p[7] / 1_000_000,
            "longitude": p[8] / 1_000_000,
        }

    # credits --------------------------------------------------------------------------------
    def serial_ranges(self) -> dict[str, list[tuple[int, int]]]:
        """Every tokenized range per serial prefix, sorted, from the BatchIssued events."""
        ranges: dict[str, list[tuple[int, int]]] = {}
        for log in self.credits.events.BatchIssued.get_logs(from_block=self.from_block):
            a = log["args"]
            ranges.setdefault(a["serialPrefix"], []).append((a["serialStart"], a["serialEnd"]))
        for values in ranges.values():
            values.sort()
        return ranges

    def issue_batches(self, issuer: LocalAccount, requests: list[IssueRequest]) -> list[IssuedBatch]:
        """Issues all requests in one transaction (all or none), with hints computed here."""
        if not requests:
            raise CarbonixValueError("nothing to issue")
        known = self.serial_ranges()
        params = []
        for r in requests:
            if not (1 <= r.serial_start <= r.serial_end <= MAX_UINT48):
                raise CarbonixValueError(f"invalid serial range {r.serial_start}-{r.serial_end}")
            starts = known.setdefault(r.serial_prefix, [])
            at = bisect.bisect_left(starts, (r.serial_start, r.serial_end))
            prev = starts[at - 1][0] if at > 0 else 0
            starts.insert(at, (r.serial_start, r.serial_end))
            params.append(
                (
                    project_key(r.project_id),
                    r.vintage,
                    enums.index("CreditType", r.credit_type),
                    r.buffer_bps,
                    r.serial_prefix,
                    r.serial_start,
                    r.serial_end,
                    prev,
                )
            )
        if len(params) == 1:
            fn = self.credits.functions.issueBatch(params[0])
        else:
            fn = self.credits.functions.issueBatches(params)
        receipt = self.tx.transact(issuer, fn)
        by_key = {project_key(r.project_id): r.project_id for r in requests}
        issued = []
        for event in self.credits.events.BatchIssued().process_receipt(receipt, errors=DISCARD):
            a = event["args"]
            issued.append(
                IssuedBatch(
                    batch_id=a["batchId"],
                    project_id=by_key[a["projectKey"]],
                    owner=a["owner"],
                    vintage=a["vintage"],
                    credit_type=enums.name("CreditType", a["creditType"]),
                    serial_prefix=a["serialPrefix"],
                    serial_start=a["serialStart"],
                    serial_end=a["serialEnd"],
                    buffer=a["bufferCredits"],
                    tx_hash=receipt["transactionHash"].to_0x_hex(),
                )
            )
        return issued

    def batch(self, batch_id: int) -> dict[str, Any]:
        b = self.credits.functions.batch(batch_id).call()
        if b[4] == 0:
            raise CarbonixLookupError(f"no batch {hex(batch_id)}")
        return {
            "batch_id": hex(batch_id),
            "project_index": b[0],
            "vintage": b[1],
            "credit_type": enums.name("CreditType", b[2]),
            "buffer_bps": b[3],
            "serial_start": b[4],
            "serial_end": b[5],
            "retired": b[7],
            "buffer": self.credits.functions.bufferOf(batch_id).call(),
        }

    def balance(self, wallet: str, batch_id: int) -> int:
        return int(self.credits.functions.balanceOf(wallet_address(wallet), batch_id).call())

    def transfer(self, sender: LocalAccount, to: str, batch_id: int, amount: int) -> TxReceipt:
        fn = self.credits.functions.transfer(wallet_address(to), batch_id, amount)
        return self.tx.transact(sender, fn)

    def retire(
        self,
        holder: LocalAccount,
        batch_id: int,
        amount: int,
        beneficiary: str,
        purpose: str,
        claim_start: int,
        claim_end: int,
    ) -> Certificate:
        fn = self.credits.functions.retire(
            batch_id,
            amount,
            beneficiary,
            enums.index("RetirementPurpose", purpose),
            claim_start,
            claim_end,
        )
        receipt = self.tx.transact(holder, fn)
        return self.certificate(receipt["transactionHash"])

    def certificate(self, tx_hash: str | bytes) -> Certificate:
        """The certificate of a transaction's first retirement (see ``certificates``)."""
        return self.certificates(tx_hash)[0]

    def certificates(self, tx_hash: str | bytes) -> list[Certificate]:
        """Rebuilds the retirement certificates of a transaction, one per CreditsRetired event in log
        order, from its receipt alone (plus each batch's immutable issuance data), without any indexer."""
        receipt = self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        events = self.credits.events.CreditsRetired().process_receipt(receipt, errors=DISCARD)
        if not events:
            raise CarbonixLookupError(f"transaction {Web3.to_hex(receipt['transactionHash'])} retired no credits")
        block = self.w3.eth.get_block(receipt["blockNumber"])
        certificates = []
        for event in events:
            a = event["args"]
            issued = self._issuance(a["batchId"])
            certificates.append(
                Certificate(
                    tx_hash=Web3.to_hex(receipt["transactionHash"]),
                    block_number=receipt["blockNumber"],
                    timestamp=int(block["timestamp"]),
                    batch_id=a["batchId"],
                    holder=a["holder"],
                    beneficiary=a["beneficiary"],
                    purpose=enums.name("RetirementPurpose", a["purpose"]),
                    claim_start=a["claimStart"],
                    claim_end=a["claimEnd"],
                    serial_prefix=issued["serialPrefix"],
                    serial_first=a["serialFirst"],
                    serial_last=a["serialLast"],
                    project_id=self.project_id_of(issued["projectKey"]),
                    vintage=issued["vintage"],
                    credit_type=enums.name("CreditType", issued["creditType"]),
                )
            )
        return certificates

    def _issuance(self, batch_id: int) -> Any:
        logs = self.credits.events.BatchIssued.get_logs(
            from_block=self.from_block, argument_filters={"batchId": batch_id}
        )
        if not logs:
            raise CarbonixLookupError(f"no issuance found for batch {hex(batch_id)}")
        return logs[0]["args"]

    def project_id_of(self, key: bytes) -> str:
        """The project id string of a project key (from its ProjectRegistered event)."""
        logs = self.registry.events.ProjectRegistered.get_logs(
            from_block=self.from_block, argument_filters={"projectKey": key}
        )
        return str(logs[0]["args"]["projectId"]) if logs else "0x" + key.hex()

    # data log -------------------------------------------------------------------------------
    def commit_emission_batch(
        self, reporter: LocalAccount, batch: EmissionBatchInput, signatures: Iterable[bytes] = ()
    ) -> TxReceipt:
        """Commits a batch. Without signatures ``reporter`` commits alone (``commitBatch``: an
        operator, quorum 1); with operator signatures (``quorum.sign_batch``, any order) it sends
        ``commitBatchSigned`` and may be anyone: the signatures authorize the commit."""
        args = batch.as_tuple()
        self._check_emitter(batch.participant, batch.project_id)
        signatures = list(signatures)
        if not signatures:
            return self.tx.transact(reporter, self.datalog.functions.commitBatch(args))
        packed = quorum.pack_signatures(self.batch_digest(batch), signatures)
        return self.tx.transact(reporter, self.datalog.functions.commitBatchSigned(args, packed))

    def batch_digest(self, batch: EmissionBatchInput) -> bytes:
        """The EIP-712 digest operators sign for ``batch`` on this chain and data log."""
        return quorum.batch_digest(batch, self.w3.eth.chain_id, self.datalog.address)

    def quorum(self) -> int:
        """The operator quorum m: how many operator signatures a commit needs (1: one operator alone)."""
        return int(self.datalog.functions.quorum().call())

    def operators(self) -> list[str]:
        """The addresses holding the data log's operator (reporter) role."""
        return [str(a) for a in self.datalog.functions.operators().call()]

    def set_quorum(self, admin: LocalAccount, m: int) -> TxReceipt:
        """Sets the quorum m (1-16; the data log's admin only)."""
        return self.tx.transact(admin, self.datalog.functions.setQuorum(m))

    def _check_emitter(self, participant: str, project_id: str | None) -> None:
        """The data log does not call the registry (a gas trade-off, see IEmissionDataLog): the
        reporter checks here that the participant and project are registered before it commits."""
        wallet = wallet_address(participant)
        if not self.registry.functions.isRegistered(wallet).call():
            raise CarbonixValueError(
                f"participant {wallet} is not registered: the data log records registered participants only"
            )
        if project_id and int(self.registry.functions.project(project_key(project_id)).call()[0], 16) == 0:
            raise CarbonixValueError(f"project {project_id} is not registered")

    def log_emission(
        self,
        reporter: LocalAccount,
        participant: str,
        project_id: str | None,
        latitude: float,
        longitude: float,
        kg_co2e: int,
        quality_score: int,
        timestamp: int,
    ) -> TxReceipt:
        self._check_emitter(participant, project_id)
        fn = self.datalog.functions.logEmission(
            wallet_address(participant),
            project_key(project_id) if project_id else b"\0" * 32,
            coordinate_e6(latitude),
            coordinate_e6(longitude),
            kg_co2e,
            quality_score,
            timestamp,
        )
        return self.tx.transact(reporter, fn)

    def emission_total(self, participant: str, year: int, quarter: int, flow: str = "emission") -> int:
        fn = self.datalog.functions.totalOf(wallet_address(participant), enums.index("Flow", flow), year, quarter)
        return int(fn.call())
