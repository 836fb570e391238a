"""Sealing graded readings into batches, committing them to the data log, proving a reading.

Crash safety rests on two rules:
- Sealing is one database transaction: the batch row (status ``pending``) and every reading's
  ``batch_id`` and ``leaf_index`` are written together or not at all. A batch's content is fixed
  when it is sealed; its id is derived from that content.
- Before sending a pending batch the committer asks the chain whether its id is already
  committed (``readingsRoot(batchId) != 0``): a kill after the transaction was sent but before the
  outbox row was updated ends with the row marked committed on restart, never with a second
  commit (the data log also refuses a batch id twice).

A batch is one participant's (the sensor owner's) readings of one project, flow and period
(a Thai-time day by default). Readings that arrive after their period was sealed go into a
further part of the same period (part 1, 2, ...), so nothing is left behind.

The reading's Merkle leaf (an OpenZeppelin StandardMerkleTree leaf) is::

    (address device, uint64 sequence, uint64 timestamp, bytes32 contentHash,
     uint64 gramsCO2e, uint8 score, uint8 grade)      grade: 0 = A ... 5 = F

where ``contentHash`` is the EIP-712 ``hashStruct(Reading)`` the device signed, so a proven
reading leads back to the device's signature over its measurements.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, select, update

from carbonix.emission_batch import EmissionBatchInput
from carbonix.exceptions import CarbonixLookupError, CarbonixValueError, ContractRevertError
from carbonix.ledger import Ledger
from carbonix.merkle import StandardMerkleTree
from carbonix.readings import GRADES
from oracle import store

LEAF_TYPES = ("address", "uint64", "uint64", "bytes32", "uint64", "uint8", "uint8")
THAI_OFFSET = 7 * 3600
PERIODS = {"hour": 3600, "day": 86400}
ZERO_KEY = "0x" + "00" * 32


def period_start(timestamp: int, length: int) -> int:
    """Start of the Thai-time period (hour or day) holding ``timestamp``."""
    return (timestamp + THAI_OFFSET) // length * length - THAI_OFFSET


def reading_leaf(row: Any) -> tuple[str, int, int, bytes, int, int, int]:
    return (
        row.device,
        row.sequence,
        row.timestamp,
        bytes.fromhex(row.content_hash[2:]),
        abs(row.grams_co2e),
        row.score,
        GRADES.index(row.grade),
    )


def grade_accepted(grade: str, min_grade: str) -> bool:
    return GRADES.index(grade) <= GRADES.index(min_grade)


@dataclass(frozen=True)
class SealedBatch:
    batch_id: str
    participant: str
    project_key: str
    flow: str
    period_start: int
    period_end: int
    part: int
    reading_count: int


def seal_batches(
    engine: Engine,
    period_seconds: int = PERIODS["day"],
    min_grade: str = "C",
    closed_before: int | None = None,
) -> list[SealedBatch]:
    """Seals every unbatched, finally graded reading whose period ended before ``closed_before``.

    ``kg_co2e`` counts only readings graded ``min_grade`` or better; every reading is in the tree.
    """
    closed_before = int(time.time()) if closed_before is None else closed_before
    r, d = store.readings.c, store.devices.c
    sealed: list[SealedBatch] = []
    with engine.begin() as conn:
        # a device with provisional readings in a period holds that period back
        rows = conn.execute(
            select(
                r.id,
                r.device,
                r.sequence,
                r.timestamp,
                r.content_hash,
                r.grams_co2e,
                r.score,
                r.grade,
                r.provisional,
                d.owner,
                d.project_key,
            )
            .join(store.devices, d.device == r.device)
            # a reading at or after closed_before lies in a period that has not closed
            .where(and_(r.batch_id.is_(None), r.timestamp < closed_before))
            .order_by(r.device, r.sequence)
        ).all()
        groups: dict[tuple[str, str, str, int], list[Any]] = defaultdict(list)
        held: set[tuple[str, str, int]] = set()
        for row in rows:
            start = period_start(row.timestamp, period_seconds)
            if start + period_seconds > closed_before:
                continue
            if row.provisional:
                held.add((row.owner, row.project_key, start))
                continue
            flow = "removal" if row.grams_co2e < 0 else "emission"
            groups[(row.owner, row.project_key, flow, start)].append(row)
        for (owner, key, flow, start), members in sorted(groups.items()):
            if (owner, key, start) in held:
                continue
            sealed.append(_seal(conn, owner, key, flow, start, start + period_seconds - 1, members, min_grade))
    return sealed


def _seal(
    conn: Connection, owner: str, key: str, flow: str, start: int, end: int, members: list[Any], min_grade: str
) -> SealedBatch:
    b = store.batches.c
    part = conn.execute(
        select(func.count()).where(
            and_(b.participant == owner, b.project_key == key, b.flow == flow, b.period_start == start)
        )
    ).scalar_one()
    tree = StandardMerkleTree.of([reading_leaf(m) for m in members], LEAF_TYPES)
    root = bytes.fromhex(tree.root[2:])
    batch_id = keccak(
        encode(
            ["bytes32", "address", "bytes32", "uint8", "uint40", "uint16"],
            [root, owner, bytes.fromhex(key[2:]), 0 if flow == "emission" else 1, start, part],
        )
    )
    counts = [0] * 6
    for m in members:
        counts[GRADES.index(m.grade)] += 1
    grams = sum(abs(m.grams_co2e) for m in members if grade_accepted(m.grade, min_grade))
    batch_hex = "0x" + batch_id.hex()
    conn.execute(
        insert(store.batches),
        {
            "batch_id": batch_hex,
            "participant": owner,
            "project_key": key,
            "flow": flow,
            "period_start": start,
            "period_end": end,
            "part": part,
            "reading_count": len(members),
            "readings_root": tree.root,
            "kg_co2e": grams // 1000,
            "quality_score": round(sum(m.score for m in members) / len(members)),
            "grade_counts": json.dumps(counts),
            "status": "pending",
            "attempts": 0,
            "sealed_at": int(time.time()),
        },
    )
    conn.execute(
        update(store.readings)
        .where(store.readings.c.id == bindparam("rid"))
        .values(batch_id=batch_hex, leaf_index=bindparam("leaf")),
        [{"rid": m.id, "leaf": i} for i, m in enumerate(members)],
    )
    return SealedBatch(batch_hex, owner, key, flow, start, end, part, len(members))


def batch_input(row: Any, project_id: str | None) -> EmissionBatchInput:
    return EmissionBatchInput(
        batch_id=bytes.fromhex(row.batch_id[2:]),
        participant=row.participant,
        project_id=project_id,
        period_start=row.period_start,
        period_end=row.period_end,
        reading_count=row.reading_count,
        readings_root=bytes.fromhex(row.readings_root[2:]),
        kg_co2e=row.kg_co2e,
        quality_score=row.quality_score,
        grade_counts=tuple(json.loads(row.grade_counts)),  # type: ignore[arg-type]
        flow=row.flow,
    )


@dataclass(frozen=True)
class CommitOutcome:
    batch_id: str
    status: str  # committed | failed | already
    tx_hash: str | None
    gas_used: int | None
    error: str | None = None


class ProjectIds:
    """Project ids by project key (the registry maps keys back to ids), asked once per key."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._ids: dict[str, str | None] = {}

    def of(self, key: str) -> str | None:
        if key not in self._ids:
            self._ids[key] = None if key == ZERO_KEY else self.ledger.project_id_of(bytes.fromhex(key[2:]))
        return self._ids[key]


class Cosigning(Protocol):
    """What committing needs from the operator quorum (``oracle.cosign.Cosigner`` is one): the
    project ids it already looked up, and the m signatures a pending batch can be sent with now.
    Declared here, below ``oracle.cosign``, so that the outbox never imports it."""

    project_ids: ProjectIds

    def signatures_for(self, row: Any, quorum: int) -> list[bytes] | None: ...


def commit_pending(
    engine: Engine,
    ledger: Ledger,
    reporter: LocalAccount,
    limit: int = 50,
    before_send: Callable[[str], None] | None = None,
    cosigner: Cosigning | None = None,
) -> list[CommitOutcome]:
    """Commits pending batches, oldest first; a batch already on-chain is only marked committed.

    Under a quorum m of 2 or more a batch is sent only with m operator signatures from
    ``cosigner`` (oracle.cosign); without one it waits, and once any operator commits it the
    on-chain check marks it committed here too.
    """
    b = store.batches.c
    with engine.connect() as conn:
        pending = conn.execute(
            select(store.batches).where(b.status == "pending").order_by(b.sealed_at, b.batch_id).limit(limit)
        ).all()
    outcomes = []
    project_ids = cosigner.project_ids if cosigner is not None else ProjectIds(ledger)
    m = ledger.quorum() if pending else 1
    for row in pending:
        batch_id = bytes.fromhex(row.batch_id[2:])
        if _on_chain(ledger, batch_id):
            outcome = CommitOutcome(row.batch_id, "already", _commit_tx(ledger, batch_id), None)
        else:
            signatures: list[bytes] = []
            if m > 1:
                found = cosigner.signatures_for(row, m) if cosigner is not None else None
                if found is None:
                    continue
                signatures = found
            if before_send:
                before_send(row.batch_id)
            try:
                receipt = ledger.commit_emission_batch(
                    reporter, batch_input(row, project_ids.of(row.project_key)), signatures
                )
            except (ContractRevertError, CarbonixValueError) as exc:
                if _on_chain(ledger, batch_id):  # another operator's commit landed first
                    outcome = CommitOutcome(row.batch_id, "already", _commit_tx(ledger, batch_id), None)
                else:
                    outcome = CommitOutcome(row.batch_id, "failed", None, None, str(exc))
            else:
                outcome = CommitOutcome(
                    row.batch_id, "committed", receipt["transactionHash"].to_0x_hex(), receipt["gasUsed"]
                )
        _record(engine, row.batch_id, outcome)
        outcomes.append(outcome)
    return outcomes


def _on_chain(ledger: Ledger, batch_id: bytes) -> bool:
    return bool(ledger.datalog.functions.readingsRoot(batch_id).call() != b"\0" * 32)


def _commit_tx(ledger: Ledger, batch_id: bytes) -> str | None:
    logs = ledger.datalog.events.EmissionBatchCommitted.get_logs(
        from_block=ledger.from_block, argument_filters={"batchId": batch_id}
    )
    return logs[0]["transactionHash"].to_0x_hex() if logs else None


def _record(engine: Engine, batch_id: str, outcome: CommitOutcome) -> None:
    b = store.batches.c
    with engine.begin() as conn:
        conn.execute(
            update(store.batches)
            .where(b.batch_id == batch_id)
            .values(
                status="failed" if outcome.status == "failed" else "committed",
                tx_hash=outcome.tx_hash,
                error=outcome.error,
                attempts=b.attempts + 1,
                committed_at=int(time.time()),
            )
        )


def outbox_depth(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(store.batches).where(store.batches.c.status == "pending")
        ).scalar_one()


def prove(engine: Engine, reading_id: int) -> dict[str, Any]:
    """A reading, its batch and its Merkle proof; checking it needs only the chain."""
    r = store.readings.c
    with engine.connect() as conn:
        reading = conn.execute(select(store.readings).where(r.id == reading_id)).first()
        if reading is None:
            raise CarbonixLookupError(f"no reading {reading_id}")
        if reading.batch_id is None:
            raise CarbonixLookupError(f"reading {reading_id} is not in a batch yet (its period is still open)")
        batch = conn.execute(select(store.batches).where(store.batches.c.batch_id == reading.batch_id)).one()
        members = conn.execute(
            select(store.readings).where(r.batch_id == reading.batch_id).order_by(r.leaf_index)
        ).all()
    tree = StandardMerkleTree.of([reading_leaf(m) for m in members], LEAF_TYPES)
    if tree.root != batch.readings_root:
        raise CarbonixValueError(f"batch {batch.batch_id}: the stored readings no longer give the committed root")
    leaf = reading_leaf(reading)
    proof = tree.get_proof(reading.leaf_index)
    return {
        "reading_id": reading.id,
        "device": to_checksum_address(reading.device),
        "sequence": reading.sequence,
        "timestamp": reading.timestamp,
        "grade": reading.grade,
        "score": reading.score,
        "reasons": json.loads(reading.reasons),
        "leaf_types": list(LEAF_TYPES),
        "leaf": [leaf[0], leaf[1], leaf[2], "0x" + leaf[3].hex(), leaf[4], leaf[5], leaf[6]],
        "reading_hash": tree.value_hash(leaf),
        "batch_id": batch.batch_id,
        "readings_root": batch.readings_root,
        "batch_status": batch.status,
        "commit_tx": batch.tx_hash,
        "proof": proof,
    }
