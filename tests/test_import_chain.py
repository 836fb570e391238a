"""Importing real registry exports onto the test chain: all-or-nothing, never twice, and only for
projects certified on CarboniX. The module runs inside one EVM snapshot, reverted at the end."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from carbonix.config import PROJECT_ROOT, Settings
from carbonix.context import account, open_ledger
from carbonix.deployments import Deployment
from carbonix.importer import import_file
from carbonix.ledger import Ledger
from carbonix.registry_import import parse_registry_file
from carbonix.tgo import CertificationStore, OrgCertification, ProjectCertification, publish

DATA = PROJECT_ROOT / ".." / "shared" / "data"
MOSS = DATA / "moss-mco2-verra-holdings" / "mco2_verra_data.csv"
VERRA_TRANSACTIONS = DATA / "offsetsdb-registry-samples" / "verra" / "transactions.csv"
VERRA_HEADER = [
    "Issuance Date", "Vintage Start", "Vintage End", "ID", "Name", "Project Type",
    "Methodology", "Quantity Issued", "Serial Number", "Additional Certifications",
    "Retirement/Cancellation Date", "Retirement Details",
]  # fmt: skip
OWNER, OWNER_ORG = 4, "IMP-ORG-004"
UNCERTIFIED = "VCS-7777"
BASE = 200_000_000_000  # serials far above any in the real exports


@dataclass
class World:
    ledger: Ledger
    tgo: LocalAccount
    owner: LocalAccount
    moss_projects: list[str]


@pytest.fixture(scope="module")
def world(deployment: Deployment, chains: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    snapshot = deployment.w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        ledger = open_ledger(chains)
        store = CertificationStore(tmp_path_factory.mktemp("tgo-import"))
        oracle = account("oracle", settings=chains)
        owner = account(str(OWNER), settings=chains)
        now = int(ledger.w3.eth.get_block("latest")["timestamp"])
        publish(ledger, oracle, store, orgs=[OrgCertification(OWNER_ORG, owner.address, now + 365 * 86400)])
        ledger.register_participant(owner, OWNER_ORG, "corporation", "seller", "forestry")
        entry = store.participant_proof(owner.address)
        ledger.verify_participant(owner, owner.address, OWNER_ORG, entry["certified_until"], entry["proof"])
        assert ledger.participant(owner.address)["verified"]
        project_ids = sorted({b.project_id for b in parse_registry_file(MOSS, "verra").batches})
        listed = [ProjectCertification(pid, owner.address, True) for pid in [*project_ids, UNCERTIFIED]]
        publish(ledger, oracle, store, projects=listed)
        for pid in [*project_ids, UNCERTIFIED]:
            entry = store.project_proof(pid)
            ledger.register_project(owner, pid, "verra", "forestry", "VM0015", -9.5, -67.5, True, entry["proof"])
        # TGO's next list leaves one project out: its certification lapses.
        result = publish(ledger, oracle, store, projects=listed[:-1])
        assert sorted(result.recertified_projects) == project_ids
        assert ledger.project(UNCERTIFIED)["certified"] is False
        yield World(ledger, account("tgo", settings=chains), owner, project_ids)
    finally:
        deployment.w3.provider.make_request("evm_revert", [snapshot])


def vcs_ranges(ledger: Ledger) -> list[tuple[int, int]]:
    return ledger.serial_ranges().get("VCS", [])


def test_moss_holdings_import_once_and_only_once(world: World) -> None:
    w = world
    assert len(w.moss_projects) == 7
    summary = import_file(w.ledger, w.tgo, MOSS, "verra")
    assert summary.status == "imported", summary.refused[:3]
    assert (summary.rows, summary.batches_issued, summary.credits_issued) == (161, 161, 3_041_044)
    assert (summary.buffer_withheld, summary.refused, summary.skipped) == (0, [], [])
    assert len(summary.tx_hashes) == 4  # chunks of 50
    plan = parse_registry_file(MOSS, "verra")
    assert vcs_ranges(w.ledger) == sorted((b.serial_start, b.serial_end) for b in plan.batches)
    issued = w.ledger.credits.events.BatchIssued.get_logs(from_block=w.ledger.from_block)
    total = sum(w.ledger.balance(w.owner.address, log["args"]["batchId"]) for log in issued)
    assert total == 3_041_044
    first_id = issued[0]["args"]["batchId"]
    first_balance = w.ledger.balance(w.owner.address, first_id)
    assert first_balance == plan.batches[0].quantity == 50

    again = import_file(w.ledger, w.tgo, MOSS, "verra")
    assert again.status == "refused"
    assert (again.batches_issued, again.credits_issued, again.tx_hashes) == (0, 0, [])
    assert [r["row"] for r in again.refused] == list(range(2, 163))
    assert {r["reason"] for r in again.refused} == {"overlap_on_chain"}
    assert w.ledger.balance(w.owner.address, first_id) == first_balance
    assert len(w.ledger.credits.events.BatchIssued.get_logs(from_block=w.ledger.from_block)) == 161


def test_uncertified_project_refuses_the_whole_file(world: World, tmp_path: Path) -> None:
    w = world

    def row(project: str, first: int, last: int) -> list[str]:
        serial = f"19323-{first}-{last}-VCS-VCU-1491-VER-BR-1-{project}-01012023-31052023-0"
        return [
            "2026-03-25", "2023-01-01", "2023-05-31", project, "Test project", "Forestry",
            "VM0015", f"{last - first + 1:,}", serial, "", "", "",
        ]  # fmt: skip

    out = io.StringIO()
    csv.writer(out).writerows([VERRA_HEADER, row("1686", BASE + 10, BASE + 19), row("7777", BASE + 30, BASE + 39)])
    path = tmp_path / "mixed.csv"
    path.write_text(out.getvalue())
    plan = parse_registry_file(path, "verra")
    assert [b.project_id for b in plan.batches] == ["VCS-1686", UNCERTIFIED]
    before = vcs_ranges(w.ledger)
    events_before = len(w.ledger.credits.events.BatchIssued.get_logs(from_block=w.ledger.from_block))

    summary = import_file(w.ledger, w.tgo, path, "verra")
    assert summary.status == "refused"
    assert [(r["row"], r["reason"]) for r in summary.refused] == [(3, "project_not_certified")]
    assert UNCERTIFIED in summary.refused[0]["detail"]
    assert (summary.batches_issued, summary.credits_issued, summary.tx_hashes) == (0, 0, [])
    assert (BASE + 10, BASE + 19) not in vcs_ranges(w.ledger)  # the certified row was not minted either
    assert vcs_ranges(w.ledger) == before
    assert len(w.ledger.credits.events.BatchIssued.get_logs(from_block=w.ledger.from_block)) == events_before


def test_verra_transactions_retired_rows_are_skipped_not_refused(world: World) -> None:
    w = world
    with VERRA_TRANSACTIONS.open(encoding="utf-8-sig", newline="") as f:
        retired = [i + 2 for i, r in enumerate(csv.DictReader(f)) if r["Retirement/Cancellation Date"]]
    before = vcs_ranges(w.ledger)
    summary = import_file(w.ledger, w.tgo, VERRA_TRANSACTIONS, "verra")
    assert len(retired) == 100
    assert [s["row"] for s in summary.skipped] == retired
    assert Counter(s["reason"] for s in summary.skipped) == {"retired_at_source": 100}
    skipped_rows = set(retired)
    assert not any(r["row"] in skipped_rows for r in summary.refused)
    # Its live ranges belong to projects not certified here, so the file is refused as a whole.
    assert summary.status == "refused"
    assert {r["reason"] for r in summary.refused} == {"project_not_certified"}
    assert len(summary.refused) == 100
    assert summary.credits_issued == 0
    assert vcs_ranges(w.ledger) == before
