"""Gas of the exchange and of quarterly settlement: real transactions on the benchmark's anvil.

Called by ``bench/gas.py`` after the core figures, on the same chain: four verified users
(``users``), a 1,024-leaf TGO tree whose other 1,020 wallets (``extra``) this module funds and
registers (one as a fifth trader, 100 for the settlement batch), and the certified project
``PROJECT`` owned by ``users[0]``. Scenarios and budgets: ``bench/gas-budgets.json``; forge test
replays the same steps in tests/forge/MarketGas.t.sol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.contract.contract import ContractFunction

from carbonix import tgo
from carbonix.context import open_exchange, open_settlement
from carbonix.exchange import Leg, satang
from carbonix.ledger import IssueRequest
from carbonix.readings import Reading, build_batch
from carbonix.settlement import Terms

PROJECT = "TH-TVER-2025-0001"
DEPTH_LEVELS = 1_000
DEPTH_PER_LEVEL = 10
SETTLE_BATCH = 100

# key -> the paper's Table 1c figure beside ours ("-": none). Budgets and scenarios: bench/gas-budgets.json.
REFERENCE = {
    "place_ask": "202,732",
    "place_ask_new_level": "202,732",
    "place_bid": "-",
    "buy_fill_1": "225,862",
    "buy_fill_1_depth_10000": "grows with depth",
    "buy_fill_1_depth_10000_crossing": "grows with depth",
    "buy_fill_10_marginal": "-",
    "cancel": "-",
    "settle_participant": "-",
}


def send_many(w3: Any, account: LocalAccount, fns: list[ContractFunction], gas: int, chunk: int = 50) -> int:
    """Signs and sends ``fns`` with consecutive nonces, ``chunk`` at a time (anvil mines each as it
    arrives); waits for every receipt and returns how many were sent."""
    nonce = w3.eth.get_transaction_count(account.address)
    chain_id = w3.eth.chain_id
    fees = {"maxFeePerGas": w3.eth.gas_price * 2, "maxPriorityFeePerGas": 0}
    for start in range(0, len(fns), chunk):
        hashes = []
        for i, fn in enumerate(fns[start : start + chunk]):
            tx = fn.build_transaction(
                {"from": account.address, "nonce": nonce + start + i, "chainId": chain_id, "gas": gas, **fees}
            )
            hashes.append(w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction))
        for h in hashes:
            if w3.eth.wait_for_transaction_receipt(h, timeout=120, poll_latency=0.01)["status"] != 1:
                raise RuntimeError(f"transaction {h.hex()} reverted")
    return len(fns)


def measure(
    users: list[LocalAccount],
    extra: list[LocalAccount],
    store: tgo.CertificationStore,
    orgs: list[tgo.OrgCertification],
    role: Callable[[str], LocalAccount],
    say: Callable[[str], None],
) -> dict[str, int]:
    gas: dict[str, int] = {}
    ex = open_exchange()
    st = open_settlement()
    ledger, w3 = ex.ledger, ex.w3
    regulator, tgo_key, oracle = role("regulator"), role("tgo"), role("oracle")
    maker, bidder, taker, taker2 = users[0], users[2], users[3], users[1]

    prefix = "TVER-TH-TVER-2025-0001-2025-MKT"
    (batch,) = ledger.issue_batches(tgo_key, [IssueRequest(PROJECT, 2025, "removal", prefix, 1, 100_000, 0)])
    market = ex.list_market(regulator, batch.batch_id, "1", "100", "5000", 1)
    ex.deposit_credits(maker, market, 60_000)
    for u in (bidder, taker, taker2):
        ex.faucet(u, satang("1000000"))
        ex.deposit_baht(u, satang("1000000"))

    say("exchange: place, cancel, take")
    gas["place_ask_new_level"] = ex.place(maker, market, "ask", "1000", 50).receipt["gasUsed"]
    gas["place_ask"] = ex.place(maker, market, "ask", "1000", 50).receipt["gasUsed"]
    ex.place(maker, market, "ask", "1000", 50)
    ex.place(bidder, market, "bid", "900", 10)
    gas["place_bid"] = ex.place(bidder, market, "bid", "900", 10).receipt["gasUsed"]
    last_bid = ex.place(bidder, market, "bid", "900", 10).order_id
    assert last_bid is not None
    gas["cancel"] = ex.cancel(bidder, last_bid)["gasUsed"]
    # The maker has sold before (its baht balance exists); a first-time taker fills exactly one
    # ask and the level keeps two more.
    ex.place(maker, market, "ask", "999", 1)
    ex.buy(bidder, [Leg(market, 1, 999, 1)], satang("1000"))
    gas["buy_fill_1"] = ex.buy(taker, [Leg(market, 50, 1000, 1)], satang("50000")).receipt["gasUsed"]

    crosser = _trader(ex, extra[SETTLE_BATCH], store, orgs)

    say(f"exchange: filling the book with {DEPTH_LEVELS * DEPTH_PER_LEVEL:,} asks at {DEPTH_LEVELS:,} price levels")
    deadline = 2**40 - 1
    fns = [
        ex.contract.functions.placeOrder(market, 0, 1001 + level, 1, 1, deadline)
        for level in range(DEPTH_LEVELS)
        for _ in range(DEPTH_PER_LEVEL)
    ]
    send_many(w3, maker, fns, gas=300_000)
    # The same trade, a first-time taker filling one ask of a level that keeps one more: its limit
    # (1,000 THB) is below all 10,000 new asks.
    gas["buy_fill_1_depth_10000"] = ex.buy(taker2, [Leg(market, 50, 1000, 1)], satang("50000")).receipt["gasUsed"]
    # Clear the 1,000 THB level: the book is the 10,000 asks. A first-time taker whose limit covers
    # all of them fills one at the best level (1,001 THB), which keeps nine.
    ex.buy(taker, [Leg(market, 50, 1000, 5)], satang("60000"))
    gas["buy_fill_1_depth_10000_crossing"] = ex.buy(crosser, [Leg(market, 1, 2000, 1)], satang("5000")).receipt[
        "gasUsed"
    ]

    # Marginal gas per fill: the same taker (position held) fills 1 ask of 1 t, then 10 (8 at
    # 1,001 THB and 2 at 1,002).
    one = ex.buy(taker, [Leg(market, 1, 1001, 1)], satang("5000")).receipt["gasUsed"]
    ten = ex.buy(taker, [Leg(market, 10, 1002, 10)], satang("50000")).receipt["gasUsed"]
    gas["buy_fill_1_position_held"] = one
    gas["buy_fill_10"] = ten
    gas["buy_fill_10_marginal"] = (ten - one) // 9

    say(f"settlement: {SETTLE_BATCH} participants")
    gas["settle_participant"] = _settle(st, extra[:SETTLE_BATCH], store, orgs, regulator, oracle)
    return gas


def _trader(
    ex: Any, wallet: LocalAccount, store: tgo.CertificationStore, orgs: list[tgo.OrgCertification]
) -> LocalAccount:
    """``wallet`` (in the TGO tree) funded, registered, verified, with 1,000,000 THB deposited."""
    ledger, w3 = ex.ledger, ex.w3
    org = next(o for o in orgs if o.wallet == wallet.address)
    w3.provider.make_request("anvil_setBalance", [wallet.address, hex(10**18)])
    ledger.register_participant(wallet, org.org_id, "corporation", "both", "industry")
    ledger.verify_participant(
        wallet, wallet.address, org.org_id, org.certified_until, store.participant_proof(wallet.address)["proof"]
    )
    ex.faucet(wallet, satang("1000000"))
    ex.deposit_baht(wallet, satang("1000000"))
    return wallet


def _settle(
    st: Any,
    wallets: list[LocalAccount],
    store: tgo.CertificationStore,
    orgs: list[tgo.OrgCertification],
    regulator: LocalAccount,
    oracle: LocalAccount,
) -> int:
    ledger, w3 = st.ledger, st.ledger.w3
    by_wallet = {o.wallet: o for o in orgs}
    for a in wallets:
        w3.provider.make_request("anvil_setBalance", [a.address, hex(10**18)])
    for a in wallets:
        org = by_wallet[a.address]
        ledger.register_participant(a, org.org_id, "corporation", "both", "industry")
        proof = store.participant_proof(a.address)["proof"]
        ledger.verify_participant(a, a.address, org.org_id, org.certified_until, proof)
    now = int(w3.eth.get_block("latest")["timestamp"])
    period = ledger.datalog.functions.quarterOf(now).call()
    period_number = period[0] * 4 + period[1] - 1
    for i, a in enumerate(wallets):
        readings = [Reading(f"bench-stack-{i}", j, now - 30 + j, 1_000_000 * (500 + 10 * i), "A") for j in range(2)]
        ledger.commit_emission_batch(oracle, build_batch(a.address, readings)[0])
    st.set_terms(regulator, period_number, "industry", Terms(1_500_000, satang(300), 0, satang(150), 1000))
    opens = st.contract.functions.opensAt(period_number).call()
    w3.provider.make_request("evm_increaseTime", [max(0, opens - now) + 1])
    w3.provider.make_request("evm_mine", [])
    (receipt,) = st.settle(regulator, period_number, [a.address for a in wallets], batch=len(wallets))
    return int(receipt["gasUsed"]) // len(wallets)
