"""Operator co-signing: how oracle operators reach the data log's m-of-n quorum over MQTT.

When the data log's quorum m is 2 or more, no operator commits alone. Each operator runs its own
``carbonix oracle run`` (its own key, database and MQTT session), receives the same signed sensor
messages, grades and seals them on its own, and then:

1. signs the EIP-712 digest of every batch it sealed (``carbonix.quorum``: the data log's
   ``batchDigest``) and publishes the signature, retained with QoS 1, on::

       carbonix/oracle/batches/<batchId>/signatures/<operator address>
       {"batchId": "0x<32 bytes>", "operator": "0x<address>",
        "digest": "0x<32 bytes>", "signature": "0x<65 bytes r || s || v>"}

   (retained, so an operator that starts or reconnects later still receives every signature);
2. keeps every other operator's signature that recovers to the operator named in the topic and
   the payload and whose address holds the data log's operator role, and refuses anything else
   with a recorded reason (``COSIGN_REASONS``);
3. commits ``commitBatchSigned(batch, signatures)`` once m distinct operators signed the digest of
   its own sealing. The operator with the lowest address among them sends the transaction; any
   other takes over if the batch is still uncommitted ``takeover_seconds`` after it saw the
   quorum, so one operator going down after signing delays a commit but does not stop it.

A signature over another digest of the same batch (another kg CO2e, grade histogram, score or
period for the same readings root) is kept as evidence, logged, and never counted: a commit needs
m operators that agree on every field. Operators agree when they received the same readings and
seal with the same period, lateness and minimum grade. Once a batch is on-chain the operator
clears its retained signature (an empty retained message), which receivers ignore.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import is_hex_address, to_checksum_address
from sqlalchemy import Engine, and_, insert, select, update

from carbonix import eip712
from carbonix.exceptions import CarbonixValueError
from carbonix.ledger import Ledger
from oracle import store
from oracle.outbox import ProjectIds, batch_input
from oracle.pipeline import Incoming, rejection_row

log = logging.getLogger("carbonix.oracle.cosign")

TOPIC_PREFIX = "carbonix/oracle/batches/"
TOPIC_FILTER = "carbonix/oracle/batches/+/signatures/+"
MAX_SIGNATURE_MESSAGE_BYTES = 1024
FIELDS = ("batchId", "operator", "digest", "signature")
# Why a signature message was refused, in the order checked.
COSIGN_REASONS = ("oversized", "not_json", "missing_field", "bad_field", "wrong_topic", "bad_signature", "not_operator")


def signature_topic(batch_id: str, operator: str) -> str:
    return f"{TOPIC_PREFIX}{batch_id.lower()}/signatures/{to_checksum_address(operator)}"


def is_signature_topic(topic: str) -> bool:
    return topic.startswith(TOPIC_PREFIX)


@dataclass(frozen=True)
class BatchSignature:
    batch_id: str  # 0x + 64 lowercase hex
    operator: str  # checksum address
    digest: str  # 0x + 64 lowercase hex
    signature: str  # 0x + 130 lowercase hex

    @property
    def topic(self) -> str:
        return signature_topic(self.batch_id, self.operator)

    def payload(self) -> bytes:
        return json.dumps(
            {"batchId": self.batch_id, "operator": self.operator, "digest": self.digest, "signature": self.signature}
        ).encode()


class SignatureRefused(CarbonixValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _hex(payload: dict[str, Any], key: str, length: int) -> str:
    value = payload[key]
    if not isinstance(value, str) or len(value) != 2 + 2 * length or not value.startswith("0x"):
        raise SignatureRefused("bad_field", f"{key} must be 0x and {length} bytes in hex")
    try:
        bytes.fromhex(value[2:])
    except ValueError:
        raise SignatureRefused("bad_field", f"{key} is not hex") from None
    return value.lower()


def parse_signature(topic: str, payload: bytes) -> BatchSignature:
    """The signature a message carries, checked against its topic and its own signer; raises
    ``SignatureRefused`` with one of ``COSIGN_REASONS`` (``not_operator`` is the caller's check)."""
    if len(payload) > MAX_SIGNATURE_MESSAGE_BYTES:
        raise SignatureRefused("oversized", f"{len(payload)} bytes, at most {MAX_SIGNATURE_MESSAGE_BYTES}")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise SignatureRefused("not_json", "the payload is not JSON") from None
    if not isinstance(data, dict):
        raise SignatureRefused("not_json", "the payload is not a JSON object")
    missing = [key for key in FIELDS if key not in data]
    if missing:
        raise SignatureRefused("missing_field", f"missing {', '.join(missing)}")
    batch_id, digest = _hex(data, "batchId", 32), _hex(data, "digest", 32)
    signature = _hex(data, "signature", eip712.SIGNATURE_LENGTH)
    operator = data["operator"]
    if not isinstance(operator, str) or not is_hex_address(operator):
        raise SignatureRefused("bad_field", "operator is not an address")
    operator = str(to_checksum_address(operator))
    parts = topic.split("/")
    if len(parts) != 6 or topic != signature_topic(batch_id, operator):
        raise SignatureRefused("wrong_topic", f"expected {signature_topic(batch_id, operator)}")
    try:
        signer = to_checksum_address(eip712.recover_address(bytes.fromhex(digest[2:]), bytes.fromhex(signature[2:])))
    except CarbonixValueError as exc:
        raise SignatureRefused("bad_signature", str(exc)) from None
    if signer != operator:
        raise SignatureRefused("bad_signature", f"the signature is by {signer}, not {operator}")
    return BatchSignature(batch_id, operator, digest, signature)


@dataclass(frozen=True)
class Received:
    signature: BatchSignature | None
    reason: str | None = None  # a COSIGN_REASONS entry when refused


class Cosigner:
    """One operator's side of the quorum: signs its own batches, keeps the others' signatures, and
    says which signatures a pending batch can be committed with."""

    def __init__(self, engine: Engine, ledger: Ledger, operator: LocalAccount, takeover_seconds: float = 60.0) -> None:
        self.engine = engine
        self.ledger = ledger
        self.operator = operator
        self.address = str(to_checksum_address(operator.address))
        self.takeover_seconds = takeover_seconds
        self.project_ids = ProjectIds(ledger)
        self._operators: frozenset[str] = frozenset()
        self._quorum_seen: dict[str, float] = {}  # batch id -> when its quorum was first seen here
        self._mismatch_logged: set[tuple[str, str]] = set()

    def refresh(self) -> int:
        """Reads the quorum m and the operator set from the data log; returns m."""
        self._operators = frozenset(str(to_checksum_address(a)) for a in self.ledger.operators())
        return self.ledger.quorum()

    # receiving ---------------------------------------------------------------------------------
    def receive(self, items: Iterable[Incoming]) -> list[Received]:
        """Stores the signatures that verify and the refusals, in one transaction."""
        results, rows, refusals = [], [], []
        for item in items:
            if not item.payload:
                results.append(Received(None))  # a cleared retained signature
                continue
            try:
                sig = parse_signature(item.topic, item.payload)
                if sig.operator not in self._operators:
                    if not self._operators:
                        self.refresh()
                    if sig.operator not in self._operators:
                        raise SignatureRefused("not_operator", f"{sig.operator} is not a data log operator")
            except SignatureRefused as exc:
                refusals.append(rejection_row(item, exc.reason, exc.detail, None))
                results.append(Received(None, exc.reason))
                continue
            rows.append(_row(sig, own=sig.operator == self.address, received_at=item.received_at_ms))
            results.append(Received(sig))
        with self.engine.begin() as conn:
            for row in rows:
                _insert_ignore(conn, row)
            if refusals:
                conn.execute(insert(store.rejections), refusals)
        return results

    # signing ------------------------------------------------------------------------------------
    def sign_pending(self) -> list[BatchSignature]:
        """Signs every pending batch this operator has not signed, stores the signatures, and
        returns every own signature the broker has not confirmed yet (to publish)."""
        b, s = store.batches.c, store.batch_signatures.c
        with self.engine.connect() as conn:
            unsigned = conn.execute(
                select(store.batches)
                .where(b.status == "pending")
                .where(
                    ~select(s.batch_id)
                    .where(and_(s.batch_id == b.batch_id, s.operator == self.address, s.own.is_(True)))
                    .exists()
                )
            ).all()
        if unsigned:
            now = int(time.time() * 1000)
            with self.engine.begin() as conn:
                for row in unsigned:
                    digest = self.ledger.batch_digest(batch_input(row, self.project_ids.of(row.project_key)))
                    signature = eip712.sign_digest(self.operator.key, digest)
                    sig = BatchSignature(row.batch_id, self.address, "0x" + digest.hex(), "0x" + signature.hex())
                    _insert_ignore(conn, _row(sig, own=True, received_at=now, published=False))
        with self.engine.connect() as conn:
            return [
                BatchSignature(r.batch_id, r.operator, r.digest, r.signature)
                for r in conn.execute(
                    select(store.batch_signatures).where(and_(s.own.is_(True), s.published.is_(False)))
                ).all()
            ]

    def mark_published(self, signatures: Iterable[BatchSignature]) -> None:
        s = store.batch_signatures.c
        with self.engine.begin() as conn:
            for sig in signatures:
                conn.execute(
                    update(store.batch_signatures)
                    .where(and_(s.batch_id == sig.batch_id, s.operator == sig.operator, s.digest == sig.digest))
                    .values(published=True)
                )

    # committing ---------------------------------------------------------------------------------
    def signatures_for(self, row: Any, quorum: int, now: float | None = None) -> list[bytes] | None:
        """The m signatures to commit pending batch ``row`` with, when this operator should send it
        now; None while the quorum is not reached or another operator has the first turn."""
        now = time.monotonic() if now is None else now
        s = store.batch_signatures.c
        with self.engine.connect() as conn:
            sigs = conn.execute(select(store.batch_signatures).where(s.batch_id == row.batch_id)).all()
        own = next((x for x in sigs if x.own and x.operator == self.address), None)
        if own is None:
            return None
        agreeing = sorted(
            (x for x in sigs if x.digest == own.digest and x.operator in self._operators),
            key=lambda x: int(x.operator, 16),
        )
        for x in sigs:
            if x.digest != own.digest and (row.batch_id, x.operator) not in self._mismatch_logged:
                self._mismatch_logged.add((row.batch_id, x.operator))
                log.warning(
                    "operator %s signed batch %s with digest %s, this operator sealed %s: not counted",
                    x.operator, row.batch_id, x.digest, own.digest,
                )  # fmt: skip
        if len(agreeing) < quorum:
            return None
        chosen = agreeing[:quorum]  # commitBatchSigned takes them from any sender
        first_seen = self._quorum_seen.setdefault(row.batch_id, now)
        if agreeing[0].operator != self.address and now - first_seen < self.takeover_seconds:
            return None  # the lowest-address signer sends it; take over only if it does not
        return [bytes.fromhex(x.signature[2:]) for x in chosen]

    def committed(self, batch_ids: Iterable[str]) -> list[str]:
        """Forgets batches now on-chain; returns the topics of own retained signatures to clear."""
        topics = []
        for batch_id in batch_ids:
            self._quorum_seen.pop(batch_id, None)
            topics.append(signature_topic(batch_id, self.address))
        return topics


def _row(sig: BatchSignature, own: bool, received_at: int, published: bool = True) -> dict[str, Any]:
    return {
        "batch_id": sig.batch_id,
        "operator": sig.operator,
        "digest": sig.digest,
        "signature": sig.signature,
        "own": own,
        "published": published,
        "received_at": received_at,
    }


def _insert_ignore(conn: Any, row: dict[str, Any]) -> None:
    s = store.batch_signatures.c
    exists = conn.execute(
        select(s.batch_id).where(
            and_(s.batch_id == row["batch_id"], s.operator == row["operator"], s.digest == row["digest"])
        )
    ).first()
    if exists is None:
        conn.execute(insert(store.batch_signatures), row)
