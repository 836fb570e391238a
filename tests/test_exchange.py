"""The exchange against real anvil, through the Python client the CLI uses: markets, balances,
limit orders, takers, buy by preference, periods, fees, and every refusal with its custom error."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from carbonix.config import Settings
from carbonix.context import account, open_exchange
from carbonix.deployments import Deployment
from carbonix.exceptions import CarbonixLookupError, CarbonixValueError, ContractRevertError
from carbonix.exchange import Exchange, Leg, satang
from carbonix.ledger import IssueRequest
from carbonix.orderbook import ASK, BID, OrderId
from carbonix.tgo import CertificationStore, OrgCertification, ProjectCertification, publish

CARBONIX = Path(sys.executable).parent / "carbonix"
TRADERS = {  # dev account index -> (org id, sector)
    4: ("EX-ORG-004", "industry"),
    5: ("EX-ORG-005", "forestry"),
    6: ("EX-ORG-006", "agriculture"),
    7: ("EX-ORG-007", "energy"),
}
OUTSIDER = 8  # registered, never certified
FORESTRY = "TH-TVER-EXCH-FOREST"
RICE = "TH-TVER-EXCH-RICE"


@dataclass
class World:
    ex: Exchange
    acct: dict[int, LocalAccount]
    regulator: LocalAccount
    markets: dict[str, int]  # "forest-2024", "forest-2025", "rice-2025"
    batches: dict[str, int]


def revert_name(excinfo: pytest.ExceptionInfo[ContractRevertError]) -> str:
    return excinfo.value.name


def _issue(ex: Exchange, tgo: LocalAccount, project: str, vintage: int, prefix: str, tonnes: int) -> int:
    (batch,) = ex.ledger.issue_batches(tgo, [IssueRequest(project, vintage, "removal", prefix, 1, tonnes, 0)])
    return batch.batch_id


@pytest.fixture(scope="module")
def world(deployment: Deployment, chains: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    snapshot = deployment.w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        ex = open_exchange(chains)
        ledger = ex.ledger
        store = CertificationStore(tmp_path_factory.mktemp("tgo-exchange"))
        oracle, tgo = account("oracle", settings=chains), account("tgo", settings=chains)
        acct = {i: account(str(i), settings=chains) for i in (*TRADERS, OUTSIDER)}
        now = int(ledger.w3.eth.get_block("latest")["timestamp"])
        orgs = [OrgCertification(org, acct[i].address, now + 2 * 365 * 86400) for i, (org, _) in TRADERS.items()]
        projects = [
            ProjectCertification(FORESTRY, acct[5].address, True),
            ProjectCertification(RICE, acct[6].address, True),
        ]
        publish(ledger, oracle, store, orgs=orgs, projects=projects)
        for i, (org, sector) in TRADERS.items():
            ledger.register_participant(acct[i], org, "corporation", "both", sector)
            entry = store.participant_proof(acct[i].address)
            ledger.verify_participant(acct[i], acct[i].address, org, entry["certified_until"], entry["proof"])
        ledger.register_participant(acct[OUTSIDER], "EX-ORG-008", "corporation", "buyer", "industry")
        for project, owner, kind in ((FORESTRY, 5, "forestry"), (RICE, 6, "agriculture")):
            proof = store.project_proof(project)["proof"]
            ledger.register_project(acct[owner], project, "t_ver", kind, "T-VER-S-METH-13-01", 18.8, 99.0, True, proof)
        batches = {
            "forest-2024": _issue(ex, tgo, FORESTRY, 2024, "EX-FOREST-2024", 50_000),
            "forest-2025": _issue(ex, tgo, FORESTRY, 2025, "EX-FOREST-2025", 50_000),
            "rice-2025": _issue(ex, tgo, RICE, 2025, "EX-RICE-2025", 50_000),
        }
        regulator = account("regulator", settings=chains)
        markets = {name: ex.list_market(regulator, b, "1", "100", "2000", 10) for name, b in batches.items()}
        for i in TRADERS:
            ex.faucet(acct[i], satang("1000000"))
            ex.deposit_baht(acct[i], satang("500000"))
        ex.deposit_credits(acct[5], markets["forest-2024"], 20_000)
        ex.deposit_credits(acct[5], markets["forest-2025"], 20_000)
        ex.deposit_credits(acct[6], markets["rice-2025"], 20_000)
        yield World(ex, acct, regulator, markets, batches)
    finally:
        deployment.w3.provider.make_request("evm_revert", [snapshot])


@pytest.fixture
def w(world: World, deployment: Deployment) -> Iterator[World]:
    """The market world, reverted after each test."""
    snapshot = deployment.w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield world
    finally:
        deployment.w3.provider.make_request("evm_revert", [snapshot])


def baht_of(w: World, i: int) -> int:
    return int(w.ex.contract.functions.bahtBalance(w.acct[i].address).call())


def tonnes_of(w: World, i: int, market: str) -> int:
    return int(w.ex.contract.functions.creditBalance(w.acct[i].address, w.markets[market]).call())


# --- markets ---------------------------------------------------------------------------------------


def test_markets_describe_their_batches(w: World) -> None:
    listed = {m.market: m for m in w.ex.markets()}
    forest = listed[w.markets["forest-2024"]]
    assert (forest.project_id, forest.vintage, forest.credit_type, forest.project_type) == (
        FORESTRY,
        2024,
        "removal",
        "forestry",
    )
    assert (forest.price(forest.floor_tick), forest.price(forest.ceiling_tick)) == (Decimal(100), Decimal(2000))
    assert (forest.fee_bps, forest.min_quantity) == (45, 10)
    assert w.ex.market_of(w.batches["rice-2025"]) == w.markets["rice-2025"]


def test_listing_is_for_the_regulator_only_and_once(w: World) -> None:
    with pytest.raises(ContractRevertError) as exc:
        w.ex.list_market(w.acct[4], w.batches["forest-2024"], "1", "100", "2000", 10)
    assert revert_name(exc) == "AccessControlUnauthorizedAccount"
    with pytest.raises(ContractRevertError) as exc:
        w.ex.list_market(w.regulator, w.batches["forest-2024"], "1", "100", "2000", 10)
    assert revert_name(exc) == "ExchangeMarketExists"
    with pytest.raises(ContractRevertError) as exc:
        w.ex.list_market(w.regulator, 12345, "1", "100", "2000", 10)
    assert revert_name(exc) == "ExchangeUnknownBatch"
    with pytest.raises(CarbonixValueError, match="more than 65,535 ticks"):
        w.ex.list_market(w.regulator, w.batches["forest-2024"], "0.01", "100", "2000", 10)


# --- orders and fills ----------------------------------------------------------------------------


def test_ask_rests_and_a_bid_fills_it_with_the_fee_from_the_seller(w: World) -> None:
    m = w.markets["forest-2024"]
    seller_baht, buyer_baht = baht_of(w, 5), baht_of(w, 4)
    placed = w.ex.place(w.acct[5], m, "ask", "350", 1_000)
    assert placed.filled == 0 and placed.order_id is not None
    where = OrderId.decode(placed.order_id)
    assert (where.market, where.side, where.tick, where.period) == (m, ASK, 350, w.ex.current_period())
    assert tonnes_of(w, 5, "forest-2024") == 20_000 - 1_000  # escrowed

    bought = w.ex.place(w.acct[4], m, "bid", "400", 600)  # crosses: pays the ask's 350, not 400
    assert bought.order_id is None and bought.filled == 600
    (trade,) = bought.trades
    value = 600 * 35_000
    fee = value * 45 // 10_000
    assert (trade.price_satang, trade.quantity, trade.fee_satang, trade.maker) == (35_000, 600, fee, w.acct[5].address)
    assert trade.trade_id == placed.order_id << 32 | 400
    assert baht_of(w, 4) == buyer_baht - value
    assert baht_of(w, 5) == seller_baht + value - fee
    assert tonnes_of(w, 4, "forest-2024") == 600
    assert w.ex.market(m).fees_accrued == fee
    book = w.ex.book_view(m)
    assert book["asks"] == [{"price_thb": "350", "tonnes": 400, "orders": 1}] and book["bids"] == []

    treasury = w.ex.contract.functions.treasury().call()
    before = w.ex.baht.functions.balanceOf(treasury).call()
    w.ex.sweep_fees(w.acct[7], [m])
    assert w.ex.baht.functions.balanceOf(treasury).call() == before + fee
    assert w.ex.market(m).fees_accrued == 0


def test_price_time_priority_and_partial_fills(w: World) -> None:
    m = w.markets["forest-2025"]
    first = w.ex.place(w.acct[5], m, "ask", "300", 100).order_id
    second = w.ex.place(w.acct[5], m, "ask", "300", 100).order_id
    cheaper = w.ex.place(w.acct[5], m, "ask", "290", 50).order_id
    result = w.ex.buy(w.acct[4], [Leg(m, 180, 300, 10)], satang("60000"))
    assert [(t.maker_order, t.quantity, t.price_satang) for t in result.trades] == [
        (cheaper, 50, 29_000),
        (first, 100, 30_000),
        (second, 30, 30_000),
    ]
    assert w.ex.contract.functions.order(second).call()[1] == 70  # partly filled, keeps its place
    assert w.ex.contract.functions.order(first).call()[0] == "0x" + "00" * 20


def test_a_bid_rests_with_baht_escrow_and_cancel_returns_it(w: World) -> None:
    m = w.markets["rice-2025"]
    before = baht_of(w, 7)
    placed = w.ex.place(w.acct[7], m, "bid", "250.00", 400)
    assert placed.filled == 0
    assert baht_of(w, 7) == before - 400 * 25_000
    assert OrderId.decode(placed.order_id).side == BID
    with pytest.raises(ContractRevertError) as exc:  # not the owner
        w.ex.cancel(w.acct[4], placed.order_id)
    assert revert_name(exc) == "ExchangeNotOrderOwner"
    w.ex.cancel(w.acct[7], placed.order_id)
    assert baht_of(w, 7) == before
    assert w.ex.book_view(m)["bids"] == []
    with pytest.raises(ContractRevertError) as exc:
        w.ex.cancel(w.acct[7], placed.order_id)
    assert revert_name(exc) == "ExchangeUnknownOrder"


def test_a_remainder_below_the_minimum_does_not_rest(w: World) -> None:
    m = w.markets["forest-2024"]
    w.ex.place(w.acct[5], m, "ask", "500", 100)
    result = w.ex.place(w.acct[4], m, "bid", "500", 105)  # 100 fill, 5 < minimum of 10
    assert (result.filled, result.order_id) == (100, None)


def test_buy_by_preference_takes_the_cheapest_matching_asks_across_markets(w: World) -> None:
    w.ex.place(w.acct[5], w.markets["forest-2024"], "ask", "180", 300)
    w.ex.place(w.acct[5], w.markets["forest-2025"], "ask", "170", 200)
    w.ex.place(w.acct[5], w.markets["forest-2025"], "ask", "190", 500)
    w.ex.place(w.acct[6], w.markets["rice-2025"], "ask", "100", 1_000)  # cheapest, but not forestry

    plan = w.ex.plan_preference_buy(None, "forestry", 2024, 600, satang("200000"))
    assert plan.cost_satang == 200 * 17_000 + 300 * 18_000 + 100 * 19_000
    with pytest.raises(CarbonixValueError, match="above the limit"):
        w.ex.plan_preference_buy(None, "forestry", 2024, 600, satang("100000"))
    with pytest.raises(CarbonixValueError, match="fewer than"):
        w.ex.plan_preference_buy(None, "forestry", 2025, 800, satang("900000"))
    with pytest.raises(CarbonixLookupError, match="no market matches"):
        w.ex.plan_preference_buy(None, "forestry", 2030, 1, satang("900000"))

    before = baht_of(w, 4)
    result = w.ex.buy(w.acct[4], plan.legs, satang("200000"))
    assert result.filled == 600
    assert baht_of(w, 4) == before - plan.cost_satang
    assert tonnes_of(w, 4, "forest-2024") == 300 and tonnes_of(w, 4, "forest-2025") == 300
    assert tonnes_of(w, 4, "rice-2025") == 0


def test_buy_reverts_above_the_total_cost_limit(w: World) -> None:
    m = w.markets["forest-2024"]
    w.ex.place(w.acct[5], m, "ask", "200", 100)
    before = baht_of(w, 4)
    with pytest.raises(ContractRevertError) as exc:
        w.ex.buy(w.acct[4], [Leg(m, 100, 2000, 5)], satang("19999.99"))
    assert revert_name(exc) == "ExchangeCostAboveLimit"
    assert baht_of(w, 4) == before and tonnes_of(w, 4, "forest-2024") == 0


def test_sell_into_bids_with_a_proceeds_floor(w: World) -> None:
    m = w.markets["rice-2025"]
    w.ex.place(w.acct[7], m, "bid", "260", 100)
    w.ex.place(w.acct[4], m, "bid", "270", 100)
    with pytest.raises(ContractRevertError) as exc:
        w.ex.sell(w.acct[6], [Leg(m, 150, 250, 5)], satang("50000"))
    assert revert_name(exc) == "ExchangeProceedsBelowLimit"
    result = w.ex.sell(w.acct[6], [Leg(m, 150, 250, 5)], satang("30000"))
    assert [(t.maker, t.price_satang, t.quantity) for t in result.trades] == [
        (w.acct[4].address, 27_000, 100),
        (w.acct[7].address, 26_000, 50),
    ]
    assert tonnes_of(w, 7, "rice-2025") == 50 and tonnes_of(w, 4, "rice-2025") == 100


# --- periods (R7) ----------------------------------------------------------------------------------


def test_orders_of_a_closed_quarter_cannot_fill_and_anyone_reclaims_their_escrow(
    w: World, deployment: Deployment
) -> None:
    m = w.markets["forest-2024"]
    period = w.ex.current_period()
    ask = w.ex.place(w.acct[5], m, "ask", "300", 500).order_id
    bid = w.ex.place(w.acct[4], m, "bid", "200", 500).order_id
    with pytest.raises(ContractRevertError) as exc:
        w.ex.reclaim(w.acct[7], [ask])
    assert revert_name(exc) == "ExchangePeriodOpen"

    # Jump past the end of the quarter.
    while w.ex.current_period() == period:
        deployment.w3.provider.make_request("evm_increaseTime", [30 * 86400])
        deployment.w3.provider.make_request("evm_mine", [])
    result = w.ex.buy(w.acct[7], [Leg(m, 100, 2000, 5)], satang("100000"))
    assert result.filled == 0  # the old ask is out of the new period's book
    stale = [o.order_id for o in w.ex.book().stale(w.ex.current_period())]
    assert sorted(stale) == sorted([ask, bid])
    seller, buyer = tonnes_of(w, 5, "forest-2024"), baht_of(w, 4)
    w.ex.reclaim(w.acct[7], stale)
    assert tonnes_of(w, 5, "forest-2024") == seller + 500
    assert baht_of(w, 4) == buyer + 500 * 20_000
    w.ex.reclaim(w.acct[7], stale)  # a second pass finds nothing left
    assert w.ex.book().stale(w.ex.current_period()) == []


# --- refusals ------------------------------------------------------------------------------------


def test_every_bad_order_is_refused_with_its_reason(w: World) -> None:
    m = w.markets["forest-2024"]
    c = w.ex.contract.functions
    cases = [
        (w.acct[5], c.placeOrder(m, ASK, 99, 100, 5, 2**40 - 1), "ExchangePriceOutsideBand"),
        (w.acct[5], c.placeOrder(m, ASK, 2001, 100, 5, 2**40 - 1), "ExchangePriceOutsideBand"),
        (w.acct[5], c.placeOrder(m, ASK, 300, 0, 5, 2**40 - 1), "ExchangeZeroAmount"),
        (w.acct[5], c.placeOrder(m, ASK, 300, 100, 5, 1), "ExchangeDeadlinePassed"),
        (w.acct[5], c.placeOrder(m, ASK, 300, 100, 1000, 2**40 - 1), "ExchangeTooManyFills"),
        (w.acct[5], c.placeOrder(m, ASK, 300, 10**9, 5, 2**40 - 1), "ExchangeInsufficientBalance"),
        (w.acct[4], c.placeOrder(m, BID, 300, 10**6, 5, 2**40 - 1), "ExchangeInsufficientBalance"),
        (w.acct[OUTSIDER], c.placeOrder(m, BID, 300, 10, 5, 2**40 - 1), "ExchangeNotVerified"),
        (w.acct[4], c.placeOrder(99, BID, 300, 10, 5, 2**40 - 1), "ExchangeUnknownMarket"),
        (w.acct[4], c.withdrawBaht(10**12), "ExchangeInsufficientBalance"),
        (w.acct[OUTSIDER], c.depositBaht(100), "ExchangeNotVerified"),
    ]
    for sender, fn, name in cases:
        with pytest.raises(ContractRevertError) as exc:
            w.ex.tx.transact(sender, fn)
        assert revert_name(exc) == name, fn
    # The client refuses before sending: prices off the tick or outside the band, bad amounts.
    with pytest.raises(CarbonixValueError, match="outside market"):
        w.ex.place(w.acct[5], m, "ask", "99", 100)
    with pytest.raises(CarbonixValueError, match="not a multiple"):
        w.ex.place(w.acct[5], m, "ask", "300.5", 100)
    with pytest.raises(CarbonixValueError, match="at most 2 decimals"):
        satang("1.001")
    with pytest.raises(CarbonixValueError, match="positive"):
        w.ex.place(w.acct[5], m, "ask", "300", 0)


def test_withdrawals_return_balances_to_the_wallet(w: World) -> None:
    m = w.markets["forest-2024"]
    wallet = w.ex.ledger.balance(w.acct[5].address, w.batches["forest-2024"])
    w.ex.withdraw_credits(w.acct[5], m, 1_000)
    assert w.ex.ledger.balance(w.acct[5].address, w.batches["forest-2024"]) == wallet + 1_000
    held = w.ex.baht.functions.balanceOf(w.acct[5].address).call()
    w.ex.withdraw_baht(w.acct[5], satang("100"))
    assert w.ex.baht.functions.balanceOf(w.acct[5].address).call() == held + 10_000


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CARBONIX), *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120)


def test_cli_market_buy_by_preference(w: World) -> None:
    w.ex.place(w.acct[5], w.markets["forest-2025"], "ask", "150", 600)
    result = run_cli(
        "market", "buy", "--type", "forestry", "--min-vintage", "2024", "--tonnes", "500", "--max-thb", "90000",
        "--as", "7", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert '"filled": 500' in result.stdout
    assert tonnes_of(w, 7, "forest-2025") == 500
    refused = run_cli(
        "market", "buy", "--type", "forestry", "--tonnes", "50", "--max-thb", "10", "--as", "7"
    )  # fmt: skip
    assert refused.returncode == 1 and "above the limit" in refused.stderr
    assert "Traceback" not in refused.stderr
