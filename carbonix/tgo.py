"""TGO certification roots: build them from TGO's lists, publish them, hand out proofs.

TGO certifies organisations (their wallets, with an expiry) and projects (their owner wallet and
whether additionality was established, CCP #5). ``carbonix tgo publish`` turns the two lists into
OpenZeppelin StandardMerkleTree roots, posts them to the registry with the oracle key, keeps the
trees (OZ "standard-v1" JSON) under ``<state>/tgo/`` and re-certifies every registered participant
and project that is still listed, so that a new root revokes exactly those no longer in it.

List formats (CSV with a header row, or a JSON array of objects with the same keys):
  organisations: org_id, wallet, certified_until   (ISO date/datetime in UTC, or unix seconds)
  projects:      project_id, owner, additional     (true/false, yes/no, 1/0)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address

from carbonix.exceptions import CarbonixLookupError, CarbonixValueError, ContractRevertError
from carbonix.ledger import Ledger
from carbonix.merkle import StandardMerkleTree

PARTICIPANT_LEAF_TYPES = ("string", "address", "uint64")
PROJECT_LEAF_TYPES = ("string", "address", "bool")
MAX_UINT40 = 2**40 - 1


@dataclass(frozen=True)
class OrgCertification:
    org_id: str
    wallet: str
    certified_until: int

    def leaf(self) -> tuple[str, str, int]:
        return (self.org_id, self.wallet, self.certified_until)


@dataclass(frozen=True)
class ProjectCertification:
    project_id: str
    owner: str
    additional: bool

    def leaf(self) -> tuple[str, str, bool]:
        return (self.project_id, self.owner, self.additional)


def _read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise CarbonixLookupError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CarbonixValueError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise CarbonixValueError(f"{path}: expected a JSON array of objects")
        return [(i + 1, {k: str(v) for k, v in r.items()}) for i, r in enumerate(data)]
    reader = csv.DictReader(text.splitlines())
    rows = []
    for row in reader:
        if not any((v or "").strip() for v in row.values()):
            continue
        rows.append((reader.line_num, {k.strip(): (v or "").strip() for k, v in row.items() if k}))
    return rows


def _field(row: dict[str, str], name: str, where: str) -> str:
    value = (row.get(name) or "").strip()
    if not value:
        raise CarbonixValueError(f"{where}: missing {name}")
    return value


def _wallet(value: str, where: str) -> str:
    if not is_address(value):
        raise CarbonixValueError(f"{where}: {value!r} is not a wallet address")
    return to_checksum_address(value)


def parse_timestamp(value: str, where: str = "value") -> int:
    """Unix seconds from an integer string or an ISO date/datetime (UTC when no zone is given)."""
    text = value.strip()
    try:
        if text.isdigit():
            ts = int(text)
        elif len(text) == 10:
            ts = int(datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC).timestamp())
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            ts = int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())
    except ValueError as exc:
        raise CarbonixValueError(f"{where}: {value!r} is not a date or unix time") from exc
    if not 0 < ts <= MAX_UINT40:
        raise CarbonixValueError(f"{where}: {value!r} is out of range")
    return ts


def _flag(value: str, where: str) -> bool:
    text = value.strip().lower()
    if text in {"true", "yes", "1", "y"}:
        return True
    if text in {"false", "no", "0", "n"}:
        return False
    raise CarbonixValueError(f"{where}: {value!r} is not true/false")


def load_organisations(path: str | Path) -> list[OrgCertification]:
    """Reads TGO's certified-organisation list; any bad row rejects the whole file."""
    path = Path(path)
    orgs: list[OrgCertification] = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in _read_rows(path):
        where = f"{path.name} row {line}"
        org = OrgCertification(
            org_id=_field(row, "org_id", where),
            wallet=_wallet(_field(row, "wallet", where), where),
            certified_until=parse_timestamp(_field(row, "certified_until", where), where),
        )
        key = (org.org_id, org.wallet)
        if key in seen:
            raise CarbonixValueError(f"{where}: {org.org_id} {org.wallet} repeats row {seen[key]}")
        seen[key] = line
        orgs.append(org)
    if not orgs:
        raise CarbonixValueError(f"{path}: no organisations listed")
    return orgs


def load_projects(path: str | Path) -> list[ProjectCertification]:
    """Reads TGO's certified-project list; any bad row rejects the whole file."""
    path = Path(path)
    projects: list[ProjectCertification] = []
    seen: dict[str, int] = {}
    for line, row in _read_rows(path):
        where = f"{path.name} row {line}"
        project = ProjectCertification(
            project_id=_field(row, "project_id", where),
            owner=_wallet(_field(row, "owner", where), where),
            additional=_flag(_field(row, "additional", where), where),
        )
        if project.project_id in seen:
            raise CarbonixValueError(f"{where}: {project.project_id} repeats row {seen[project.project_id]}")
        seen[project.project_id] = line
        projects.append(project)
    if not projects:
        raise CarbonixValueError(f"{path}: no projects listed")
    return projects


def participant_tree(orgs: Iterable[OrgCertification]) -> StandardMerkleTree:
    return StandardMerkleTree.of([o.leaf() for o in orgs], list(PARTICIPANT_LEAF_TYPES))


def project_tree(projects: Iterable[ProjectCertification]) -> StandardMerkleTree:
    return StandardMerkleTree.of([p.leaf() for p in projects], list(PROJECT_LEAF_TYPES))


class CertificationStore:
    """The published trees, kept as OZ standard-v1 JSON under ``<state>/tgo/``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, kind: str) -> Path:
        return self.folder / f"{kind}.json"

    def save(self, kind: str, tree: StandardMerkleTree, epoch: int) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {"epoch": epoch, "tree": tree.dump()}
        path = self._path(kind)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)
        (self.folder / f"{kind}-epoch-{epoch}.json").write_text(json.dumps(data, indent=1))
        return path

    def load(self, kind: str) -> tuple[StandardMerkleTree, int]:
        path = self._path(kind)
        if not path.is_file():
            raise CarbonixLookupError(f"no TGO {kind} root published from here yet ({path}): run carbonix tgo publish")
        data = json.loads(path.read_text())
        return StandardMerkleTree.load(data["tree"]), int(data["epoch"])

    def participant_proofs(self, org_id: str) -> list[dict[str, Any]]:
        """Every (wallet, expiry, proof) certified for ``org_id`` in the latest participant tree."""
        tree, epoch = self.load("participants")
        found = [
            {
                "org_id": v[0],
                "wallet": v[1],
                "certified_until": int(v[2]),
                "epoch": epoch,
                "proof": tree.get_proof(i),
            }
            for i, v in enumerate(tree.values)
            if v[0] == org_id
        ]
        if not found:
            raise CarbonixLookupError(f"organisation {org_id} is not in the current TGO list")
        return found

    def participant_proof(self, wallet: str) -> dict[str, Any]:
        tree, epoch = self.load("participants")
        wallet = to_checksum_address(wallet)
        for i, v in enumerate(tree.values):
            if to_checksum_address(v[1]) == wallet:
                return {
                    "org_id": v[0],
                    "wallet": wallet,
                    "certified_until": int(v[2]),
                    "epoch": epoch,
                    "proof": tree.get_proof(i),
                }
        raise CarbonixLookupError(f"wallet {wallet} is not in the current TGO list")

    def project_proof(self, project_id: str) -> dict[str, Any]:
        tree, epoch = self.load("projects")
        for i, v in enumerate(tree.values):
            if v[0] == project_id:
                return {
                    "project_id": v[0],
                    "owner": v[1],
                    "additional": bool(v[2]),
                    "epoch": epoch,
                    "proof": tree.get_proof(i),
                }
        raise CarbonixLookupError(f"project {project_id} is not in the current TGO list")


@dataclass
class PublishResult:
    participant_root: str | None = None
    participant_epoch: int | None = None
    project_root: str | None = None
    project_epoch: int | None = None
    recertified_participants: list[str] = field(default_factory=list)
    recertified_projects: list[str] = field(default_factory=list)
    tx_hashes: list[str] = field(default_factory=list)


def publish(
    ledger: Ledger,
    oracle: LocalAccount,
    store: CertificationStore,
    orgs: list[OrgCertification] | None = None,
    projects: list[ProjectCertification] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> PublishResult:
    """Publishes new roots and re-certifies every registered participant/project still listed."""
    result = PublishResult()
    if orgs:
        tree = participant_tree(orgs)
        receipt = ledger.publish_participant_root(oracle, tree.root)
        result.tx_hashes.append(receipt["transactionHash"].to_0x_hex())
        _, epoch = ledger.registry.functions.participantRoot().call()
        store.save("participants", tree, epoch)
        result.participant_root, result.participant_epoch = tree.root, epoch
        now = ledger.w3.eth.get_block("latest")["timestamp"]
        for i, org in enumerate(orgs):
            progress(f"re-certifying participants {i + 1}/{len(orgs)}")
            if org.certified_until <= now or not ledger.registry.functions.isRegistered(org.wallet).call():
                continue
            try:
                ledger.verify_participant(
                    oracle, org.wallet, org.org_id, org.certified_until, tree.get_proof(org.leaf())
                )
            except ContractRevertError as exc:  # registered under another organisation id
                if exc.name != "RegistryOrgIdMismatch":
                    raise
                continue
            result.recertified_participants.append(org.wallet)
    if projects:
        tree = project_tree(projects)
        receipt = ledger.publish_project_root(oracle, tree.root)
        result.tx_hashes.append(receipt["transactionHash"].to_0x_hex())
        _, epoch = ledger.registry.functions.projectRoot().call()
        store.save("projects", tree, epoch)
        result.project_root, result.project_epoch = tree.root, epoch
        for i, project in enumerate(projects):
            progress(f"re-certifying projects {i + 1}/{len(projects)}")
            info = ledger.project(project.project_id)
            if not info["registered"] or to_checksum_address(info["owner"]) != project.owner:
                continue
            ledger.certify_project(oracle, project.project_id, project.additional, tree.get_proof(project.leaf()))
            result.recertified_projects.append(project.project_id)
    return result
