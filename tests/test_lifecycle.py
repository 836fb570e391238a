"""The whole CarboniX lifecycle through the Ledger on the real test chains, and its refusals.

TGO publishes its lists, participants register and prove certification, a project is registered
and certified, credits are issued (with a buffer), transferred and retired with certificates, and
an emission batch is committed and one reading proven on-chain. Every bad input must revert with
its named custom error. The module runs inside one EVM snapshot, reverted at the end, so the other
test modules see the chain as deployed.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from carbonix.config import Settings
from carbonix.context import account, open_ledger
from carbonix.deployments import Deployment
from carbonix.exceptions import CarbonixValueError, ContractRevertError
from carbonix.ledger import IssuedBatch, IssueRequest, Ledger
from carbonix.merkle import process_proof
from carbonix.readings import Reading, build_batch
from carbonix.tgo import CertificationStore, OrgCertification, ProjectCertification, publish

CARBONIX = Path(sys.executable).parent / "carbonix"
PROJECT_ID = "TH-TVER-LIFECYCLE-0001"
ORGS = {  # dev account index -> (org id, account type, trade role, sector)
    4: ("LC-ORG-004", "corporation", "buyer", "industry"),
    5: ("LC-ORG-005", "ngo", "seller", "agriculture"),
    6: ("LC-ORG-006", "ngo", "seller", "forestry"),
    7: ("LC-ORG-007", "corporation", "buyer", "industry"),
    8: ("LC-ORG-008", "corporation", "buyer", "industry"),
}


@dataclass
class World:
    ledger: Ledger
    store: CertificationStore
    oracle: LocalAccount
    tgo: LocalAccount
    acct: dict[int, LocalAccount]
    orgs: list[OrgCertification]
    projects: list[ProjectCertification]


def revert_name(excinfo: pytest.ExceptionInfo[ContractRevertError]) -> str:
    return excinfo.value.name


@pytest.fixture(scope="module")
def world(deployment: Deployment, chains: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    snapshot = deployment.w3.provider.make_request("evm_snapshot", [])["result"]
    ledger = open_ledger(chains)
    store = CertificationStore(tmp_path_factory.mktemp("tgo-lifecycle"))
    acct = {i: account(str(i), settings=chains) for i in (*ORGS, 9)}
    now = int(ledger.w3.eth.get_block("latest")["timestamp"])
    orgs = [OrgCertification(o[0], acct[i].address, now + 365 * 86400) for i, o in ORGS.items()]
    projects = [ProjectCertification(PROJECT_ID, acct[5].address, True)]
    oracle = account("oracle", settings=chains)
    try:
        yield World(ledger, store, oracle, account("tgo", settings=chains), acct, orgs, projects)
    finally:
        deployment.w3.provider.make_request("evm_revert", [snapshot])


def issue(w: World, prefix: str, first: int, last: int, buffer_bps: int = 0) -> IssuedBatch:
    (batch,) = w.ledger.issue_batches(
        w.tgo, [IssueRequest(PROJECT_ID, 2025, "reduction", prefix, first, last, buffer_bps)]
    )
    return batch


# --- the happy path, in order ------------------------------------------------------------------


def test_tgo_publishes_and_participants_register_and_verify(world: World) -> None:
    w = world
    result = publish(w.ledger, w.oracle, w.store, orgs=w.orgs)
    root, epoch = w.ledger.registry.functions.participantRoot().call()
    assert (result.participant_root, result.participant_epoch) == ("0x" + root.hex(), epoch)
    assert result.recertified_participants == []  # nobody registered yet
    for index, (org_id, kind, role, sector) in ORGS.items():
        wallet = w.acct[index]
        w.ledger.register_participant(wallet, org_id, kind, role, sector)
        assert w.ledger.participant(wallet.address)["verified"] is False
        entry = w.store.participant_proof(wallet.address)
        assert entry["org_id"] == org_id
        w.ledger.verify_participant(wallet, wallet.address, org_id, entry["certified_until"], entry["proof"])
        info = w.ledger.participant(wallet.address)
        assert (info["verified"], info["account_type"], info["trade_role"], info["sector"]) == (
            True,
            kind,
            role,
            sector,
        )
        assert info["certified_epoch"] == result.participant_epoch


def test_project_registered_and_certified(world: World) -> None:
    w = world
    result = publish(w.ledger, w.oracle, w.store, projects=w.projects)
    assert result.recertified_projects == []  # listed by TGO, not registered yet
    entry = w.store.project_proof(PROJECT_ID)
    assert (entry["owner"], entry["additional"]) == (w.acct[5].address, True)
    details = ("t_ver", "agriculture", "T-VER-S-METH-13-04", 17.1545, 104.1348)

    # Nobody else can take the id TGO listed for the cooperative, not even with its proof.
    with pytest.raises(ContractRevertError) as exc:
        w.ledger.register_project(w.acct[4], PROJECT_ID, *details, True, entry["proof"])
    assert revert_name(exc) == "RegistryInvalidProof"
    assert w.ledger.project(PROJECT_ID)["registered"] is False

    w.ledger.register_project(w.acct[5], PROJECT_ID, *details, True, entry["proof"])
    info = w.ledger.project(PROJECT_ID)
    assert (info["registered"], info["certified"], info["additional"], info["owner"]) == (
        True,
        True,
        True,
        w.acct[5].address,
    )
    assert (info["latitude"], info["longitude"]) == (17.1545, 104.1348)

    # A new project root lapses every certification until re-proved; publish re-proves listed ones.
    result = publish(w.ledger, w.oracle, w.store, projects=w.projects)
    assert result.recertified_projects == [PROJECT_ID]
    assert w.ledger.project(PROJECT_ID)["certified"] is True


def test_issue_with_buffer_transfer_and_two_consecutive_retirements(world: World) -> None:
    w = world
    quantity, buffer_bps = 1_005, 1000  # 10 % of 1,005 = 100.5 -> 101 to the buffer
    batch = issue(w, "LC-MAIN", 1, quantity, buffer_bps)
    buffer = math.ceil(quantity * buffer_bps / 10_000)
    assert batch.buffer == buffer == 101
    assert batch.minted == quantity - buffer == 904
    assert batch.owner == w.acct[5].address
    assert w.ledger.balance(w.acct[5].address, batch.batch_id) == 904
    assert w.ledger.batch(batch.batch_id)["buffer"] == 101

    w.ledger.transfer(w.acct[5], w.acct[4].address, batch.batch_id, 400)
    assert w.ledger.balance(w.acct[5].address, batch.batch_id) == 504
    assert w.ledger.balance(w.acct[4].address, batch.batch_id) == 400

    first = w.ledger.retire(
        w.acct[4], batch.batch_id, 150, "Lifecycle Co, CBAM 2026 Q1", "cbam", 1_767_225_600, 1_774_915_200
    )
    second = w.ledger.retire(
        w.acct[4], batch.batch_id, 50, "Lifecycle Co", "voluntary_offset", 1_735_689_600, 1_767_139_200
    )
    assert (first.serial_first, first.serial_last, first.tonnes) == (1, 150, 150)
    assert (second.serial_first, second.serial_last) == (first.serial_last + 1, 200)
    assert (first.project_id, first.vintage, first.credit_type, first.serial_prefix) == (
        PROJECT_ID,
        2025,
        "reduction",
        "LC-MAIN",
    )
    assert (first.holder, first.beneficiary, first.purpose) == (
        w.acct[4].address,
        "Lifecycle Co, CBAM 2026 Q1",
        "cbam",
    )
    assert w.ledger.certificate(first.tx_hash) == first
    assert w.ledger.certificate(second.tx_hash) == second
    assert w.ledger.balance(w.acct[4].address, batch.batch_id) == 200
    assert w.ledger.batch(batch.batch_id)["retired"] == 200


def test_emission_batch_totals_and_reading_proof_on_chain(world: World) -> None:
    w = world
    participant = w.acct[4].address
    now = int(w.ledger.w3.eth.get_block("latest")["timestamp"])
    end = now - 60
    while w.ledger.datalog.functions.quarterOf(end).call() != (
        w.ledger.datalog.functions.quarterOf(end - 23 * 3600).call()
    ):
        end -= 3600
    grams = [1_098_800 + 1_000 * i + 337 for i in range(24)]
    grades = ["A"] * 20 + ["B", "C", "C", "F"]
    readings = [Reading("lc-meter-01", 500 + i, end - (23 - i) * 3600, grams[i], grades[i]) for i in range(24)]
    batch, tree = build_batch(participant, readings)
    year, quarter = w.ledger.datalog.functions.quarterOf(end).call()
    before = w.ledger.emission_total(participant, year, quarter)
    w.ledger.commit_emission_batch(w.oracle, batch)
    assert batch.kg_co2e == sum(grams) // 1000
    assert w.ledger.emission_total(participant, year, quarter) == before + sum(grams) // 1000
    assert w.ledger.datalog.functions.readingsRoot(batch.batch_id).call() == batch.readings_root
    verify = w.ledger.datalog.functions.verifyReading
    for r in (readings[0], readings[21], readings[-1]):
        assert verify(batch.batch_id, tree.value_hash(r.leaf()), tree.get_proof(r.leaf())).call() is True
    forged = Reading("lc-meter-01", 500, readings[0].timestamp, grams[0] - 1, "A")
    assert verify(batch.batch_id, tree.value_hash(forged.leaf()), tree.get_proof(0)).call() is False
    # An internal node, with the proof shortened to match, is in the tree but is not a reading.
    proof = tree.get_proof(0)
    node = process_proof(bytes.fromhex(tree.leaf_hash(readings[0].leaf())[2:]), [bytes.fromhex(proof[0][2:])])
    assert verify(batch.batch_id, node, proof[1:]).call() is False
    assert verify(batch.batch_id, tree.leaf_hash(readings[0].leaf()), proof).call() is False

    with pytest.raises(ContractRevertError) as exc:  # replayed batch id
        w.ledger.commit_emission_batch(w.oracle, batch)
    assert revert_name(exc) == "DataLogBatchAlreadyCommitted"
    assert w.ledger.emission_total(participant, year, quarter) == before + sum(grams) // 1000


def test_emission_batch_for_unregistered_participant_or_project_is_refused(world: World) -> None:
    """The contract leaves the registration check to the reporter: the client refuses first."""
    w = world
    now = int(w.ledger.w3.eth.get_block("latest")["timestamp"])
    stranger = w.acct[9].address
    readings = [Reading("lc-meter-02", 1, now - 120, 1_000_000, "A")]
    batch, _ = build_batch(stranger, readings)
    with pytest.raises(CarbonixValueError, match="is not registered"):
        w.ledger.commit_emission_batch(w.oracle, batch)
    assert w.ledger.datalog.functions.readingsRoot(batch.batch_id).call() == b"\0" * 32
    with pytest.raises(CarbonixValueError, match="is not registered"):
        w.ledger.log_emission(w.oracle, stranger, None, 13.75, 100.5, 5, 90, now - 120)
    with pytest.raises(CarbonixValueError, match="project TH-NOPE is not registered"):
        w.ledger.log_emission(w.oracle, w.acct[4].address, "TH-NOPE", 13.75, 100.5, 5, 90, now - 120)


# --- refusals ----------------------------------------------------------------------------------


def test_invalid_proof_is_refused(world: World) -> None:
    w = world
    entry = w.store.participant_proof(w.acct[6].address)
    with pytest.raises(ContractRevertError) as exc:  # a later expiry than TGO certified
        w.ledger.verify_participant(
            w.acct[6], w.acct[6].address, ORGS[6][0], entry["certified_until"] + 1, entry["proof"]
        )
    assert revert_name(exc) == "RegistryInvalidProof"
    other = w.store.participant_proof(w.acct[7].address)
    with pytest.raises(ContractRevertError) as exc:  # someone else's proof
        w.ledger.verify_participant(w.acct[6], w.acct[6].address, ORGS[6][0], entry["certified_until"], other["proof"])
    assert revert_name(exc) == "RegistryInvalidProof"


def test_duplicate_registration_is_refused(world: World) -> None:
    w = world
    with pytest.raises(ContractRevertError) as exc:
        w.ledger.register_participant(w.acct[7], "LC-ORG-OTHER", "corporation", "buyer", "industry")
    assert revert_name(exc) == "RegistryAlreadyRegistered"
    assert w.ledger.participant(w.acct[7].address)["verified"] is True


def test_zero_amount_transfer_is_refused(world: World) -> None:
    w = world
    batch = issue(w, "LC-ZERO", 1, 10)
    with pytest.raises(ContractRevertError) as exc:
        w.ledger.transfer(w.acct[5], w.acct[4].address, batch.batch_id, 0)
    assert revert_name(exc) == "CreditsZeroAmount"
    assert w.ledger.balance(w.acct[5].address, batch.batch_id) == 10


def test_overlapping_serials_are_refused(world: World) -> None:
    w = world
    issue(w, "LC-OVERLAP", 100, 199)
    for first, last in ((150, 250), (50, 100), (199, 199), (120, 130), (1, 1000)):
        with pytest.raises(ContractRevertError) as exc:
            issue(w, "LC-OVERLAP", first, last)
        assert revert_name(exc) == "CreditsSerialRangeOverlaps", (first, last)
    neighbour = issue(w, "LC-OVERLAP", 200, 299)  # adjacent is fine
    assert neighbour.minted == 100
    other_prefix = issue(w, "LC-OVERLAP-B", 100, 199)  # same serials, other namespace
    assert other_prefix.minted == 100


def test_retiring_more_than_held_is_refused(world: World) -> None:
    w = world
    batch = issue(w, "LC-RETIRE", 1, 20)
    with pytest.raises(ContractRevertError) as exc:
        w.ledger.retire(w.acct[5], batch.batch_id, 21, "x", "voluntary_offset", 1_735_689_600, 1_767_139_200)
    assert revert_name(exc) == "InsufficientBalance"
    assert w.ledger.batch(batch.batch_id)["retired"] == 0
    assert w.ledger.balance(w.acct[5].address, batch.batch_id) == 20


def test_non_issuer_minting_is_refused(world: World) -> None:
    w = world
    request = IssueRequest(PROJECT_ID, 2025, "reduction", "LC-ROGUE", 1, 10)
    for rogue in (w.acct[5], w.oracle):
        with pytest.raises(ContractRevertError) as exc:
            w.ledger.issue_batches(rogue, [request])
        assert revert_name(exc) == "AccessControlUnauthorizedAccount"
    assert "LC-ROGUE" not in w.ledger.serial_ranges()


def test_stale_proof_after_new_root_omitting_a_participant(world: World) -> None:
    w = world
    batch = issue(w, "LC-STALE", 1, 30)
    dropped = w.acct[8]
    old = w.store.participant_proof(dropped.address)
    kept = [o for o in w.orgs if o.wallet != dropped.address]
    result = publish(w.ledger, w.oracle, w.store, orgs=kept)
    assert sorted(result.recertified_participants) == sorted(o.wallet for o in kept)
    assert w.ledger.participant(dropped.address)["verified"] is False
    assert w.ledger.participant(w.acct[4].address)["verified"] is True

    with pytest.raises(ContractRevertError) as exc:  # the proof of the previous root
        w.ledger.verify_participant(dropped, dropped.address, ORGS[8][0], old["certified_until"], old["proof"])
    assert revert_name(exc) == "RegistryInvalidProof"
    with pytest.raises(ContractRevertError) as exc:
        w.ledger.transfer(w.acct[5], dropped.address, batch.batch_id, 1)
    assert revert_name(exc) == "CreditsReceiverNotVerified"
    with pytest.raises(ContractRevertError) as exc:  # never certified at all
        w.ledger.transfer(w.acct[5], w.acct[9].address, batch.batch_id, 1)
    assert revert_name(exc) == "CreditsReceiverNotVerified"
    assert w.ledger.balance(dropped.address, batch.batch_id) == 0
    w.ledger.transfer(w.acct[5], w.acct[7].address, batch.batch_id, 1)  # still verified
    assert w.ledger.balance(w.acct[7].address, batch.batch_id) == 1


# --- the CLI -----------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CARBONIX), *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120)


def test_cli_unknown_batch_fails_cleanly(world: World) -> None:
    result = run_cli("credits", "batch", "0x1234")
    assert result.returncode == 1
    assert "error:" in result.stderr
    assert "no batch 0x1234" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_unknown_account_fails_cleanly(world: World) -> None:
    result = run_cli("credits", "transfer", "0x1", "--to", world.acct[4].address, "--tonnes", "1", "--as", "nobody")
    assert result.returncode == 1
    assert "unknown account 'nobody'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_bad_wallet_is_a_clear_error(world: World) -> None:
    """A malformed wallet argument ends in one clear line, not a traceback."""
    result = run_cli("credits", "balance", "0xnotanaddress", "1")
    assert result.returncode == 1
    assert "is not a wallet address" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_project_register_needs_a_tgo_listing(world: World) -> None:
    """A project TGO has not listed cannot be registered: one clear line, nothing sent."""
    count = world.ledger.registry.functions.projectCount().call()
    result = run_cli(
        "projects",
        "register",
        "--as",
        "4",
        "--id",
        "TH-NOT-LISTED-0001",
        "--type",
        "forestry",
        "--methodology",
        "T-VER-S-METH-13-01",
        "--lat",
        "18.0",
        "--lon",
        "99.0",
    )
    assert result.returncode == 1
    assert "error:" in result.stderr and "TGO" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert world.ledger.registry.functions.projectCount().call() == count
