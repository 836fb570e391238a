"""Quarterly cap-and-trade settlement against real anvil: a percentile cap from the data log,
settlement after the quarter, surcharge debts paid in baht, allowances claimed, and refusals."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from carbonix.config import Settings
from carbonix.context import account, open_exchange, open_settlement
from carbonix.deployments import Deployment
from carbonix.exceptions import CarbonixValueError, ContractRevertError
from carbonix.exchange import Exchange, satang
from carbonix.ledger import IssueRequest
from carbonix.readings import Reading, build_batch
from carbonix.settlement import Settlement, Terms, nearest_rank
from carbonix.tgo import CertificationStore, OrgCertification, ProjectCertification, publish

# dev account -> (org id, sector, tonnes emitted this quarter)
FIRMS = {
    4: ("ST-ORG-004", "industry", 900),
    7: ("ST-ORG-007", "industry", 1_200),
    8: ("ST-ORG-008", "industry", 1_500),
    9: ("ST-ORG-009", "industry", 2_000),
    5: ("ST-ORG-005", "forestry", 0),
}
PROJECT = "TH-TVER-SETTLE-0001"


@dataclass
class World:
    st: Settlement
    ex: Exchange
    acct: dict[int, LocalAccount]
    regulator: LocalAccount
    period: int
    batch_id: int


def revert_name(excinfo: pytest.ExceptionInfo[ContractRevertError]) -> str:
    return excinfo.value.name


def _commit(st: Settlement, oracle: LocalAccount, wallet: str, tonnes: int, now: int, flow: str = "emission") -> None:
    readings = [Reading(f"stack-{wallet[2:8]}-{flow}", i, now - 60 + i, tonnes * 1_000_000 // 4, "A") for i in range(4)]
    batch, _ = build_batch(wallet, readings, flow=flow)
    st.ledger.commit_emission_batch(oracle, batch)


@pytest.fixture(scope="module")
def world(deployment: Deployment, chains: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    snapshot = deployment.w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        st, ex = open_settlement(chains), open_exchange(chains)
        ledger = st.ledger
        store = CertificationStore(tmp_path_factory.mktemp("tgo-settlement"))
        oracle, tgo = account("oracle", settings=chains), account("tgo", settings=chains)
        acct = {i: account(str(i), settings=chains) for i in FIRMS}
        now = int(ledger.w3.eth.get_block("latest")["timestamp"])
        # Keep the quarter's data away from its start so the readings lie inside it.
        period = ex.current_period()
        orgs = [OrgCertification(org, acct[i].address, now + 2 * 365 * 86400) for i, (org, _, _) in FIRMS.items()]
        publish(ledger, oracle, store, orgs=orgs, projects=[ProjectCertification(PROJECT, acct[5].address, True)])
        for i, (org, sector, tonnes) in FIRMS.items():
            ledger.register_participant(acct[i], org, "corporation", "both", sector)
            entry = store.participant_proof(acct[i].address)
            ledger.verify_participant(acct[i], acct[i].address, org, entry["certified_until"], entry["proof"])
            if tonnes:
                _commit(st, oracle, acct[i].address, tonnes, now)
        _commit(st, oracle, acct[5].address, 300, now, flow="removal")  # the forest absorbs
        proof = store.project_proof(PROJECT)["proof"]
        ledger.register_project(acct[5], PROJECT, "t_ver", "forestry", "T-VER-S-METH-13-01", 18.8, 99.0, True, proof)
        (batch,) = ledger.issue_batches(tgo, [IssueRequest(PROJECT, 2025, "removal", "ST-FOREST-2025", 1, 5_000, 0)])
        ledger.transfer(acct[5], acct[8].address, batch.batch_id, 200)
        yield World(st, ex, acct, account("regulator", settings=chains), period, batch.batch_id)
    finally:
        deployment.w3.provider.make_request("evm_revert", [snapshot])


def _next_quarter(w: World, deployment: Deployment) -> None:
    opens = w.st.contract.functions.opensAt(w.period).call()
    now = int(deployment.w3.eth.get_block("latest")["timestamp"])
    deployment.w3.provider.make_request("evm_increaseTime", [max(0, opens - now) + 1])
    deployment.w3.provider.make_request("evm_mine", [])


def test_percentile_cap_from_the_data_log(world: World) -> None:
    w = world
    proposal = w.st.propose_cap(w.period, "industry", "moderate")
    emitted = sorted(t * 1000 for _, sector, t in FIRMS.values() if sector == "industry")
    assert [kg for _, kg in proposal.evidence] == emitted
    assert proposal.percentile == 30
    assert proposal.terms.cap_kg == nearest_rank(emitted, 30) == 1_200_000  # rank ceil(0.3 * 4) = 2
    assert (proposal.terms.surcharge_satang, proposal.terms.floor_satang) == (satang(300), satang(150))
    with pytest.raises(CarbonixValueError, match="no transport participant"):
        w.st.propose_cap(w.period, "transport", "soft")
    with pytest.raises(CarbonixValueError, match="strategy must be"):
        w.st.propose_cap(w.period, "industry", "lenient")


def test_settlement_bills_the_quarter(world: World, deployment: Deployment) -> None:
    w = world
    proposal = w.st.propose_cap(w.period, "industry", "moderate")
    w.st.set_terms(w.regulator, w.period, "industry", proposal.terms)
    w.st.set_terms(w.regulator, w.period, "forestry", Terms(100_000, satang(150), 0, satang(100), 1_000))
    with pytest.raises(ContractRevertError) as exc:  # only the regulator
        w.st.set_terms(w.acct[4], w.period, "industry", proposal.terms)
    assert revert_name(exc) == "AccessControlUnauthorizedAccount"
    # Firm 8 retires 200 t for compliance against this quarter (CB).
    now = int(deployment.w3.eth.get_block("latest")["timestamp"])
    start = now - 3600
    w.st.ledger.retire(w.acct[8], w.batch_id, 200, "ST-ORG-008", "compliance", start, now)

    with pytest.raises(ContractRevertError) as exc:
        w.st.settle(w.regulator, w.period, [w.acct[4].address])
    assert revert_name(exc) == "SettlementPeriodNotClosed"
    _next_quarter(w, deployment)
    with pytest.raises(ContractRevertError) as exc:  # terms are frozen once settlement opens
        w.st.set_terms(w.regulator, w.period, "industry", proposal.terms)
    assert revert_name(exc) == "SettlementTermsFrozen"

    wallets = w.st.unsettled(w.period)
    assert set(wallets) == {a.address for a in w.acct.values()}
    w.st.settle(w.acct[4], w.period, wallets)
    by_wallet = {s["participant"]: s for s in w.st.statements(w.period)}
    surcharge = 300 * 100  # satang per tonne
    firm9 = by_wallet[w.acct[9].address]  # 2,000 t against a 1,200 t cap: 800 t uncovered
    assert (firm9["uncovered_t"], firm9["surcharge_thb"], firm9["classification"]) == ("800", "240000", "net_emitter")
    firm8 = by_wallet[w.acct[8].address]  # 1,500 t, 200 t retired for compliance: 100 t uncovered
    assert (firm8["compliance_retired_t"], firm8["uncovered_t"]) == ("200", "100")
    assert firm8["surcharge_thb"] == str(100 * surcharge // 100)
    firm4 = by_wallet[w.acct[4].address]  # 900 t under 1,200 t: earns 300 allowance credits
    assert (firm4["allowance_t"], firm4["surcharge_thb"]) == (300, "0")
    forest = by_wallet[w.acct[5].address]
    assert (forest["removals_t"], forest["classification"], forest["allowance_t"]) == ("300", "net_absorber", 100)

    with pytest.raises(ContractRevertError) as exc:  # each participant once per quarter
        w.st.settle(w.acct[7], w.period, [w.acct[9].address])
    assert revert_name(exc) == "SettlementAlreadySettled"
    assert w.st.unsettled(w.period) == []

    # Debts are paid in baht, to the treasury; anyone may pay.
    treasury = w.st.contract.functions.treasury().call()
    w.ex.faucet(w.acct[4], satang("300000"))
    before = w.ex.baht.functions.balanceOf(treasury).call()
    w.st.pay_debt(w.acct[4], w.period, w.acct[9].address, satang("100000"), w.ex.baht)
    assert w.st.record(w.period, w.acct[9].address)["debt_thb"] == "140000"
    with pytest.raises(ContractRevertError) as exc:
        w.st.pay_debt(w.acct[4], w.period, w.acct[9].address, satang("140000.01"), w.ex.baht)
    assert revert_name(exc) == "SettlementOverpaid"
    assert w.ex.baht.functions.balanceOf(treasury).call() == before + satang("100000")

    # Allowance credits: an Allowance batch of the quarter, claimed once.
    batch_id, _ = w.st.claim_allowance(w.acct[4], w.period)
    batch = w.st.ledger.batch(batch_id)
    assert (batch["credit_type"], batch["serial_start"], batch["serial_end"]) == ("allowance", 1, 300)
    assert w.st.ledger.balance(w.acct[4].address, batch_id) == 300
    second, _ = w.st.claim_allowance(w.acct[5], w.period)
    assert (w.st.ledger.batch(second)["serial_start"], w.st.ledger.batch(second)["serial_end"]) == (301, 400)
    with pytest.raises(ContractRevertError) as exc:
        w.st.claim_allowance(w.acct[4], w.period)
    assert revert_name(exc) == "SettlementNothingToClaim"
    with pytest.raises(ContractRevertError) as exc:  # over the cap: nothing earned
        w.st.claim_allowance(w.acct[9], w.period)
    assert revert_name(exc) == "SettlementNothingToClaim"
