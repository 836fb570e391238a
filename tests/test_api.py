"""The REST API (indexer/api) over a real index of real transactions, served by uvicorn on a free
port and called over HTTP: every endpoint with good and bad input, and values checked against the
chain (resting orders, trades, balances, settlement records, retirement certificates of a
transaction the indexer has not seen yet).

The world: the seeded workload (tag API) with 80 random actions, emission batches of mixed grades
in the current quarter, a compliance retirement, the quarter's terms for four sectors, a jump past
the quarter's end, settlement of all four traders, an allowance claimed and a debt partly paid,
then 20 more actions in the new quarter. It runs inside one EVM snapshot, reverted at the end. The
index is built into SQLite and the running PostgreSQL (each served in turn).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI

from carbonix.chain import free_port
from carbonix.config import Settings
from carbonix.context import account, open_settlement
from carbonix.deployments import Deployment
from carbonix.exchange import satang
from carbonix.local_servers import scratch_database
from carbonix.orderbook import period_label
from carbonix.readings import Reading, build_batch
from carbonix.settlement import Settlement, Terms
from indexer import db
from indexer.api import create_app
from indexer.api.settings import ApiSettings
from indexer.core import IndexerConfig
from indexer.service import chain_indexer, run
from indexer.workload import Workload

THAI = timezone(timedelta(hours=7))

SECTORS = ("industry", "forestry", "agriculture", "energy")  # of the workload's traders, in order
CAPS_KG = {"industry": 1_000, "forestry": 5_000, "agriculture": 1_000, "energy": 2_000}
EMITTED_KG = (3_000, 500, 1_500, 0)
GRADE_MIX = "AABCDF"
FORMULA = '=HYPERLINK("http://example.invalid","x")'


# --- the world ---------------------------------------------------------------------------------------
@dataclass
class World:
    deployment: Deployment
    chains: Settings
    w: Workload
    st: Settlement
    quarter: int  # the workload's first quarter, settled
    next_quarter: int
    compliance_tx: str
    projects: list[str]
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def traders(self) -> list[LocalAccount]:
        return self.w.traders


def _emissions(w: Workload, trader: LocalAccount, kg: int, project: str | None, now: int, tag: str) -> None:
    readings = [
        Reading(f"api-{tag}", i, now - 3_600 + 60 * i, kg * 1000 // len(GRADE_MIX), grade)
        for i, grade in enumerate(GRADE_MIX)
    ]
    batch, _ = build_batch(trader.address, readings, project_id=project)
    w.ex.ledger.commit_emission_batch(w.oracle, batch)


@contextlib.contextmanager
def built_world(deployment: Deployment, chains: Settings, state: Path) -> Iterator[World]:
    """The world of this module inside an EVM snapshot, reverted on exit (also for test_api_schema)."""
    w3 = deployment.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        w = Workload.setup(chains, state, tag="API", seed=2026)
        for _ in range(80):
            w.step()
        st = open_settlement(chains)
        ledger = w.ex.ledger
        quarter = w.ex.current_period()
        now = int(w3.eth.get_block("latest")["timestamp"])
        projects = ["TH-TVER-API-FOREST", "TH-TVER-API-RICE"]
        for i, (trader, kg) in enumerate(zip(w.traders, EMITTED_KG, strict=True)):
            if kg:
                _emissions(w, trader, kg, projects[i % 2], now, f"q-{i}")
        # trader 0 surrenders 1 t for compliance against this quarter (CB)
        start = int(w3.eth.get_block("latest")["timestamp"]) - 600
        compliance = ledger.retire(w.traders[0], w.batches[0], 1, "API compliance", "compliance", start, start + 60)
        # a beneficiary a spreadsheet would run as a formula, for the CSV export
        formula = ledger.retire(
            w.traders[0], w.batches[2], 1, FORMULA, "voluntary_offset", 1_735_689_600, 1_767_139_200
        )
        regulator = account("regulator", settings=chains)
        for sector, cap in CAPS_KG.items():
            st.set_terms(regulator, quarter, sector, Terms(cap, satang(300), satang(10), satang(150), 1_000))
        opens = st.contract.functions.opensAt(quarter).call()
        w3.provider.make_request("evm_increaseTime", [max(0, opens - int(w3.eth.get_block("latest")["timestamp"])) + 1])
        w3.provider.make_request("evm_mine", [])
        st.settle(regulator, quarter, [t.address for t in w.traders])
        w.ex.faucet(w.traders[0], satang("1000"))
        st.pay_debt(w.traders[0], quarter, w.traders[0].address, satang("100"), w.ex.baht)
        for _ in range(20):
            w.step()
        yield World(
            deployment,
            chains,
            w,
            st,
            quarter,
            w.ex.current_period(),
            compliance.tx_hash,
            projects,
            {"formula_tx": formula.tx_hash},
        )
    finally:
        w3.provider.make_request("evm_revert", [snapshot])


@pytest.fixture(scope="module")
def world(deployment: Deployment, chains: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with built_world(deployment, chains, tmp_path_factory.mktemp("tgo-api")) as built:
        yield built


# --- serving -------------------------------------------------------------------------------------------
class Served:
    """A FastAPI app under a real uvicorn server on a free loopback port, in a thread."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.url, timeout=30)
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)


def index(url: str, deployment: Deployment) -> None:
    engine = db.open_engine(url)
    try:
        run([chain_indexer(engine, deployment, IndexerConfig(initial_range=100))], lambda: False, until_head=True)
    finally:
        engine.dispose()


@contextlib.contextmanager
def database(kind: str, tmp: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A SQLite file, or a database of its own on the session's PostgreSQL (conftest.postgres_server)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp}/api-{uuid.uuid4().hex[:8]}.db"
    else:
        with scratch_database(request.getfixturevalue("postgres_server"), "carbonix_api") as url:
            yield url


@dataclass
class Api:
    kind: str  # sqlite | postgresql
    url: str  # the database
    served: Served
    world: World

    @property
    def http(self) -> httpx.Client:
        return self.served.client

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with database(request.param, tmp_path_factory.mktemp("api-db"), request) as url:
        index(url, world.deployment)
        app = create_app(url, settings=ApiSettings(), chain_settings=world.chains)
        with Served(app) as served:
            yield Api(request.param, url, served, world)


# --- the chain, as the tests read it ---------------------------------------------------------------
def chain_logs(world: World, contract: Any, event: str) -> list[Any]:
    return list(getattr(contract.events, event).get_logs(from_block=world.deployment.from_block))


def block_time(world: World, number: int, cache: dict[int, int] = {}) -> int:  # noqa: B006 (a cache)
    if number not in cache:
        cache[number] = int(world.deployment.w3.eth.get_block(number)["timestamp"])
    return cache[number]


def head_time(world: World) -> int:
    return int(world.deployment.w3.eth.get_block("latest")["timestamp"])


def all_pages(api: Api, path: str, limit: int = 7, **params: Any) -> list[dict[str, Any]]:
    """Every row of a list endpoint, fetched in small pages; the count agrees with the rows."""
    rows: list[dict[str, Any]] = []
    while True:
        body = api.get(path, limit=limit, offset=len(rows), **params)
        rows += body["data"]
        if len(body["data"]) < limit:
            assert body["count"] == len(rows), path
            return rows


def assert_error(response: httpx.Response, status: int, *phrases: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    text = str(body["detail"]).lower()
    for phrase in phrases:
        assert phrase.lower() in text, (phrase, body)
    assert "traceback" not in response.text.lower()
    return body


# --- documents ------------------------------------------------------------------------------------------
def test_openapi_and_docs_are_served(api: Api) -> None:
    spec = api.get("/v1/openapi.json")
    paths = set(spec["paths"])
    for path in ("/v1/markets/{market}/book", "/v1/serials/{serial_prefix}/{serial}",
                 "/v1/exports/cbam/{participant}/{year}.csv", "/v1/retirements/{tx_hash}/certificate.pdf",
                 "/v1/transactions/{tx_hash}", "/v1/health", "/v1/metrics"):  # fmt: skip
        assert path in paths
    for path, item in spec["paths"].items():
        for operation in item.values():
            assert {"404", "422", "429", "500", "503"} <= set(operation["responses"]), path
    limit = next(p for p in spec["paths"]["/v1/trades"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"], limit["schema"]["default"]) == (1, 500, 50)
    docs = api.http.get("/v1/docs")
    assert docs.status_code == 200 and "/v1/openapi.json" in docs.text
    # Offline: every script, style and icon of the page comes from the API itself, not a CDN.
    assets = re.findall(r'(?:src|href)=["\']([^"\']+)["\']', docs.text) + re.findall(r'url: *["\']([^"\']+)', docs.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert asset.startswith("/v1/"), f"the docs page loads {asset} from elsewhere"
        loaded = api.http.get(asset)
        assert loaded.status_code == 200 and len(loaded.content) > 1_000, asset
    assert "swagger" in api.http.get(next(a for a in assets if a.endswith(".js"))).text.lower()


# --- registry -------------------------------------------------------------------------------------------
def test_projects(api: Api) -> None:
    w = api.world
    ledger = w.w.ex.ledger
    projects = api.get("/v1/projects", owner=w.traders[1].address)
    assert [p["project_id"] for p in projects["data"]] == ["TH-TVER-API-FOREST"] and projects["count"] == 1
    every = all_pages(api, "/v1/projects", limit=1)
    assert {p["project_id"] for p in every} >= set(w.projects)
    forest = api.get("/v1/projects/TH-TVER-API-FOREST")
    assert api.get(f"/v1/projects/{forest['project_key']}") == forest
    on_chain = ledger.project("TH-TVER-API-FOREST")
    assert forest["owner"] == w.traders[1].address and forest["certified"] is True
    assert (forest["standard"], forest["project_type"], forest["methodology"]) == (
        "t_ver",
        "forestry",
        "T-VER-S-METH-13-01",
    )
    assert forest["project_index"] == on_chain["index"]
    forest_batches = w.w.batches[:2]
    assert forest["credit_batches"] == 2
    assert forest["retired_tonnes"] == sum(ledger.batch(b)["retired"] for b in forest_batches)
    assert forest["issued_tonnes"] == 2_000_000
    assert_error(api.http.get("/v1/projects/TH-TVER-NOPE"), 404, "no registered project", "TH-TVER-NOPE")
    assert_error(api.http.get("/v1/projects", params={"standard": "iso"}), 422)
    assert api.http.get("/v1/projects/" + "x" * 129).status_code == 422
    assert api.http.get("/v1/projects/bad%01id").status_code == 422


def test_participants(api: Api) -> None:
    w = api.world
    traders = all_pages(api, "/v1/participants", limit=3)
    ours = {p["wallet"]: p for p in traders if p["account_id"].startswith("API-ORG-")}
    assert set(ours) == {t.address for t in w.traders}
    for i, (trader, sector) in enumerate(zip(w.traders, SECTORS, strict=True)):
        p = ours[trader.address]
        assert (p["account_id"], p["sector"], p["verified"]) == (f"API-ORG-{i}", sector, True)
        on_chain = w.w.ex.ledger.participant(trader.address)
        assert p["certified_until"]["unix"] == on_chain["certified_until"]
    assert api.get("/v1/participants", sector="energy")["data"][0]["wallet"] == w.traders[3].address
    wallet = w.traders[0].address
    assert api.get(f"/v1/participants/{wallet.lower()}") == ours[wallet]
    assert api.get(f"/v1/participants/{wallet}") == ours[wallet]
    assert_error(api.http.get(f"/v1/participants/0x{'1' * 40}"), 404, "no registered participant")
    assert_error(api.http.get("/v1/participants/0x1234"), 422)
    wrong_case = wallet[:2] + wallet[2:].swapcase()
    body = assert_error(api.http.get(f"/v1/participants/{wrong_case}"), 422)
    assert "checksum" in str(body["detail"])


def test_portfolio_agrees_with_the_chain(api: Api) -> None:
    w = api.world
    ex, ledger = w.w.ex, w.w.ex.ledger
    batches = w.w.batches
    for trader in w.traders:
        body = api.get(f"/v1/participants/{trader.address}/portfolio")
        by_batch = {h["credit_batch_id"]: h for h in body["holdings"]}
        for batch in batches:
            h = by_batch.get(f"0x{batch:064x}")
            assert (h["wallet_tonnes"] if h else 0) == ledger.balance(trader.address, batch), (trader.address, batch)
        for market, batch in zip(w.w.markets, w.w.batches, strict=True):
            h = by_batch[f"0x{batch:064x}"]
            assert h["market"] == market
            available = ex.contract.functions.creditBalance(trader.address, market).call()
            assert h["exchange_available_tonnes"] == available
        assert body["baht"]["exchange_available"]["satang"] == ex.contract.functions.bahtBalance(trader.address).call()
        assert body["open_orders_count"] == len(body["open_orders"]) > 0
        for order in body["open_orders"]:
            owner, remaining, _, _ = ex.contract.functions.order(int(order["order_id"], 16)).call()
            assert (owner, remaining) == (trader.address, order["remaining"])
    assert_error(api.http.get(f"/v1/participants/0x{'2' * 40}/portfolio"), 404)


def test_history(api: Api) -> None:
    w = api.world
    wallet = w.traders[2].address
    trades = [t for t in w.w.ex.trades() if wallet in (t.maker, t.taker)]
    retired = [r for r in chain_logs(w, w.w.ex.ledger.credits, "CreditsRetired") if r["args"]["holder"] == wallet]
    history = all_pages(api, f"/v1/participants/{wallet}/history", limit=9)
    assert len(history) == len(trades) + len(retired) > 0
    keys = [(h["block_number"], h["log_index"]) for h in history]
    assert keys == sorted(keys, reverse=True)
    only_trades = all_pages(api, f"/v1/participants/{wallet}/history", kind="trade", limit=50)
    assert {h["tx_hash"] for h in only_trades} == {t.tx_hash for t in trades}
    for h in only_trades:
        assert h["value"]["satang"] == h["price"]["satang"] * h["tonnes"] and h["counterparty"] != wallet
    only_retired = api.get(f"/v1/participants/{wallet}/history", kind="retirement", limit=500)
    assert sum(h["tonnes"] for h in only_retired["data"]) == sum(
        r["args"]["serialLast"] - r["args"]["serialFirst"] + 1 for r in retired
    )
    assert_error(api.http.get(f"/v1/participants/{wallet}/history", params={"kind": "transfer"}), 422)


# --- credits -------------------------------------------------------------------------------------------------
def test_credit_batches_and_provenance(api: Api) -> None:
    w = api.world
    ledger = w.w.ex.ledger
    issued = chain_logs(w, ledger.credits, "BatchIssued")
    batches = all_pages(api, "/v1/credit-batches", limit=2)
    assert {b["credit_batch_id"] for b in batches} >= {f"0x{b:064x}" for b in w.w.batches}
    assert len(batches) == len(issued)
    batch_id = w.w.batches[0]
    one = api.get(f"/v1/credit-batches/{hex(batch_id)}")  # the CLI's short hex is accepted
    assert one == api.get(f"/v1/credit-batches/0x{batch_id:064x}")
    assert (one["retired_tonnes"], one["market"]) == (ledger.batch(batch_id)["retired"], w.w.markets[0])
    assert api.get("/v1/credit-batches", project="TH-TVER-API-RICE")["count"] == 1

    provenance = all_pages(api, f"/v1/credit-batches/0x{batch_id:064x}/provenance", limit=10)
    transfers = [t for t in chain_logs(w, ledger.credits, "Transfer") if t["args"]["id"] == batch_id]
    retirements = [r for r in chain_logs(w, ledger.credits, "CreditsRetired") if r["args"]["batchId"] == batch_id]
    moves = [t for t in transfers if int(t["args"]["to"], 16) != 0]
    assert len(provenance) == len(moves) + len(retirements)
    assert provenance[0]["kind"] == "issuance" and provenance[0]["tonnes"] == 1_000_000
    assert provenance[0]["receiver"] == w.traders[1].address and provenance[0]["sender"] is None
    keys = [(p["block_number"], p["log_index"]) for p in provenance]
    assert keys == sorted(keys)
    retired_rows = [p for p in provenance if p["kind"] == "retirement"]
    assert [(p["tx_hash"], p["serial_first"], p["serial_last"]) for p in retired_rows] == [
        (r["transactionHash"].to_0x_hex(), r["args"]["serialFirst"], r["args"]["serialLast"]) for r in retirements
    ]
    for p in provenance[:5]:
        assert p["block_time"]["unix"] == block_time(w, p["block_number"])
    assert_error(api.http.get(f"/v1/credit-batches/0x{'ab' * 32}"), 404, "no credit batch")
    assert_error(api.http.get("/v1/credit-batches/12345"), 422, "not an id")
    assert_error(api.http.get(f"/v1/credit-batches/0x{'1' * 65}/provenance"), 422)


def test_serial_lookup(api: Api) -> None:
    w = api.world
    ledger = w.w.ex.ledger
    retirement = chain_logs(w, ledger.credits, "CreditsRetired")[0]["args"]
    batch = api.get(f"/v1/credit-batches/0x{retirement['batchId']:064x}")
    prefix = batch["serial_prefix"]
    retired = api.get(f"/v1/serials/{prefix}/{retirement['serialLast']}")
    assert retired["status"] == "retired" and retired["credit_batch"]["credit_batch_id"] == batch["credit_batch_id"]
    r = retired["retirement"]
    assert (r["holder"], r["beneficiary"], r["serial_first"]) == (
        retirement["holder"],
        retirement["beneficiary"],
        retirement["serialFirst"],
    )
    active = api.get(f"/v1/serials/{prefix}/{batch['serial_end']}")
    assert active["status"] == "active" and active["retirement"] is None
    assert_error(api.http.get(f"/v1/serials/{prefix}/{batch['serial_end'] + 1}"), 404, "no credit batch holds")
    assert_error(api.http.get("/v1/serials/NO-SUCH-PREFIX/1"), 404)
    assert api.http.get(f"/v1/serials/{prefix}/-1").status_code == 422
    assert api.http.get(f"/v1/serials/{prefix}/{2**48}").status_code == 422


def test_retirements(api: Api) -> None:
    w = api.world
    logs = chain_logs(w, w.w.ex.ledger.credits, "CreditsRetired")
    every = all_pages(api, "/v1/retirements", limit=8)
    assert len(every) == len(logs)
    assert {r["tx_hash"] for r in every} == {lg["transactionHash"].to_0x_hex() for lg in logs}
    (compliance,) = api.get("/v1/retirements", purpose="compliance")["data"]
    assert (compliance["tx_hash"], compliance["tonnes"]) == (w.compliance_tx, 1)
    assert compliance["certificate_pdf"] == f"/v1/retirements/{w.compliance_tx}/certificate.pdf"
    holder = w.traders[3].address
    assert api.get("/v1/retirements", holder=holder, limit=500)["count"] == sum(
        1 for lg in logs if lg["args"]["holder"] == holder
    )
    named = api.get("/v1/retirements", beneficiary="API compliance")
    assert named["count"] == 1 and named["data"][0]["beneficiary"] == "API compliance"
    start = head_time(w) - 3600
    recent = api.get("/v1/retirements", **{"from": start, "limit": 500})
    assert all(r["block_time"]["unix"] >= start for r in recent["data"])
    assert recent["count"] == sum(1 for lg in logs if block_time(w, lg["blockNumber"]) >= start)
    assert api.http.get("/v1/retirements", params={"beneficiary": "a\x00b"}).status_code == 422
    assert api.http.get("/v1/retirements", params={"from": -1}).status_code == 422


def test_certificates_from_the_index_equal_the_chain(api: Api) -> None:
    from indexer.certificates import certificate_json, certificates_from_receipt, render_pdf, transaction_url

    w = api.world
    txs = [w.compliance_tx, w.notes["formula_tx"]]
    txs += [lg["transactionHash"].to_0x_hex() for lg in chain_logs(w, w.w.ex.ledger.credits, "CreditsRetired")[:2]]
    for tx in txs:
        body = api.get(f"/v1/retirements/{tx}/certificate.json")
        assert body["source"] == "index" and body["count"] == 1
        from_chain = certificates_from_receipt(w.w.ex.ledger, tx)
        url = transaction_url(tx)
        assert body["data"] == [certificate_json(c, url) for c in from_chain]
        pdf = api.http.get(f"/v1/retirements/{tx}/certificate.pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.headers["x-certificate-source"] == "index"
        assert pdf.content == render_pdf(from_chain, url)  # the same bytes as from the receipt
    trade_tx = w.w.ex.trades()[0].tx_hash
    assert_error(api.http.get(f"/v1/retirements/{trade_tx}/certificate.json"), 404, "no retirement")
    assert_error(api.http.get(f"/v1/retirements/0x{'cd' * 32}/certificate.pdf"), 404, "no retirement")
    assert_error(api.http.get("/v1/retirements/0xabc/certificate.json"), 422, "not a transaction hash")


def test_certificate_of_a_retirement_the_indexer_has_not_seen(api: Api) -> None:
    from pypdf import PdfReader

    w = api.world
    w3 = w.deployment.w3
    holder = w.traders[3]
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        cert = w.w.ex.ledger.retire(
            holder, w.w.batches[1], 17, "Nong Khao Cooperative (API)", "cbam", 1_767_225_600, 1_774_915_200
        )
        w3.provider.make_request("evm_mine", [])  # retired one block ago
        body = api.get(f"/v1/retirements/{cert.tx_hash}/certificate.json")
        assert body["source"] == "chain" and body["count"] == 1
        (c,) = body["data"]
        assert (c["beneficiary"], c["tonnes"], c["holder"], c["purpose"]) == (
            "Nong Khao Cooperative (API)",
            17,
            holder.address,
            "cbam",
        )
        assert (c["serial_first"], c["serial_last"]) == (cert.serial_first, cert.serial_last)
        assert c["serial_range"] == f"API-FOREST-2025 {cert.serial_first}-{cert.serial_last}"
        pdf = api.http.get(f"/v1/retirements/{cert.tx_hash}/certificate.pdf")
        assert pdf.status_code == 200 and pdf.headers["x-certificate-source"] == "chain"
        reader = PdfReader(io.BytesIO(pdf.content))
        text = " ".join((page.extract_text() or "") for page in reader.pages)
        assert "Nong Khao Cooperative (API)" in text and "17 tCO2e" in text
        assert f"API-FOREST-2025 {cert.serial_first}-{cert.serial_last}" in text
        tx = api.get(f"/v1/transactions/{cert.tx_hash}")
        assert (tx["source"], tx["status"], tx["retirements"]) == ("chain", "success", 1)
        assert [e["event"] for e in tx["events"]] == ["Transfer", "CreditsRetired"]
        assert tx["events"][1]["args"]["beneficiary"] == "Nong Khao Cooperative (API)"
    finally:
        w3.provider.make_request("evm_revert", [snapshot])


# --- exchange ------------------------------------------------------------------------------------------------
def test_markets(api: Api) -> None:
    w = api.world
    ex = w.w.ex
    markets = api.get("/v1/markets")
    assert markets["count"] == ex.contract.functions.marketCount().call() >= 3
    for market, batch in zip(w.w.markets, w.w.batches, strict=True):
        body = api.get(f"/v1/markets/{market}")
        info = ex.market(market)
        assert body["credit_batch_id"] == f"0x{batch:064x}"
        assert (body["tick_size"]["satang"], body["floor_tick"], body["ceiling_tick"]) == (
            info.tick_size,
            info.floor_tick,
            info.ceiling_tick,
        )
        assert body["floor_price"] == {"satang": 10_000, "thb": "100.00"}
        assert (body["min_quantity"], body["fee_bps"], body["vintage"]) == (
            info.min_quantity,
            info.fee_bps,
            info.vintage,
        )
    assert_error(api.http.get("/v1/markets/9999"), 404, "no market 9999")
    assert api.http.get("/v1/markets/0").status_code == 422
    assert api.http.get("/v1/markets/abc").status_code == 422


def contract_levels(world: World, market: int, period: int, side: int, ticks: range) -> dict[int, tuple[int, int]]:
    """tick -> (tonnes, orders) by walking the contract's FIFO queue of each tick."""
    ex = world.w.ex.contract
    out = {}
    for tick in ticks:
        head, tail, _ = ex.functions.level(market, period, side, tick).call()
        seq, tonnes, count = head, 0, 0
        while seq:
            order_id = ex.functions.orderIdOf(market, period, side, tick, seq).call()
            _, remaining, _, stored_next = ex.functions.order(order_id).call()
            if remaining:  # an order cancelled after its quarter stays linked, with nothing left
                tonnes, count = tonnes + remaining, count + 1
            seq = 0 if seq == tail else (stored_next or seq + 1)
        if count:
            out[tick] = (tonnes, count)
    return out


def test_book_equals_the_contracts_resting_orders(api: Api) -> None:
    w = api.world
    ex = w.w.ex.contract
    ticks = range(295, 425)  # the workload prices at 300-419 THB, tick 1 THB
    checked = 0
    for market in w.w.markets:
        for quarter, period in (("", w.next_quarter), (f"{w.quarter // 4}Q{w.quarter % 4 + 1}", w.quarter)):
            params = {"depth": 500, **({"period": quarter} if quarter else {})}
            book = api.get(f"/v1/markets/{market}/book", **params)
            assert book["period"] == period and book["as_of_block"] == w.deployment.w3.eth.block_number
            for side, levels in ((0, book["asks"]), (1, book["bids"])):
                ours = {lv["tick"]: (lv["tonnes"], lv["orders"]) for lv in levels}
                assert all(tick in ticks for tick in ours)
                assert ours == contract_levels(w, market, period, side, ticks), (market, period, side)
                prices = [lv["price"]["satang"] for lv in levels]
                assert prices == sorted(prices, reverse=side == 1)
                checked += len(levels)
            if period == w.next_quarter:
                for side, best in ((0, book["best_ask"]), (1, book["best_bid"])):
                    found, tick = ex.functions.bestTick(market, side).call()
                    assert (best["satang"] // 100 if best else None) == (tick if found else None)
    assert checked > 10
    top = api.get(f"/v1/markets/{w.w.markets[0]}/book", depth=1, period=f"{w.quarter // 4}Q{w.quarter % 4 + 1}")
    assert len(top["asks"]) <= 1 and len(top["bids"]) <= 1
    assert_error(api.http.get("/v1/markets/9999/book"), 404, "no market")
    assert api.http.get(f"/v1/markets/{w.w.markets[0]}/book", params={"period": "2026Q5"}).status_code == 422
    assert api.http.get(f"/v1/markets/{w.w.markets[0]}/book", params={"depth": 501}).status_code == 422
    metrics = api.http.get("/v1/metrics").text
    assert 'carbonix_api_book_cache_total{outcome="hit"}' in metrics or 'outcome="miss"' in metrics


def test_trades_equal_the_traded_logs(api: Api) -> None:
    w = api.world
    logs = chain_logs(w, w.w.ex.contract, "Traded")
    every = all_pages(api, "/v1/trades", limit=25)
    assert len(every) == len(logs) > 10
    assert [t["trade_id"] for t in every] == [f"0x{lg['args']['tradeId']:064x}" for lg in reversed(logs)]
    for t, lg in zip(every, reversed(logs), strict=True):
        a = lg["args"]
        assert (t["price"]["satang"], t["quantity"], t["fee"]["satang"], t["maker"], t["taker"]) == (
            a["price"],
            a["quantity"],
            a["fee"],
            a["maker"],
            a["taker"],
        )
        assert t["value"]["satang"] == a["price"] * a["quantity"]
        assert t["period"] == (a["tradeId"] >> 88) & 0xFFFF
    for market in w.w.markets:
        ours = all_pages(api, f"/v1/markets/{market}/trades", limit=10)
        assert len(ours) == sum(1 for lg in logs if lg["args"]["market"] == market)
    wallet = w.traders[0].address
    assert api.get("/v1/trades", participant=wallet, limit=500)["count"] == sum(
        1 for lg in logs if wallet in (lg["args"]["maker"], lg["args"]["taker"])
    )
    new = api.get("/v1/trades", period=f"{w.next_quarter // 4}Q{w.next_quarter % 4 + 1}", limit=500)
    assert new["count"] == sum(1 for t in every if t["period"] == w.next_quarter)
    assert_error(api.http.get("/v1/markets/9999/trades"), 404)


def test_candles(api: Api) -> None:
    w = api.world
    logs = chain_logs(w, w.w.ex.contract, "Traded")
    for market in w.w.markets:
        trades = [lg for lg in logs if lg["args"]["market"] == market]
        for interval, seconds in (("1m", 60), ("1h", 3600), ("1d", 86_400)):
            body = api.get(f"/v1/markets/{market}/candles", interval=interval, limit=500)
            candles = body["data"]
            assert sum(c["volume_tonnes"] for c in candles) == sum(lg["args"]["quantity"] for lg in trades)
            assert sum(c["trades"] for c in candles) == len(trades)
            starts = [c["start"]["unix"] for c in candles]
            assert starts == sorted(starts) and all((s + 7 * 3600) % seconds == 0 for s in starts)
            if candles:
                first, last = trades[0]["args"], trades[-1]["args"]
                assert candles[0]["open"]["satang"] == first["price"]
                assert candles[-1]["close"]["satang"] == last["price"]
                for c in candles:
                    assert c["low"]["satang"] <= c["vwap"]["satang"] <= c["high"]["satang"]
        latest = api.get(f"/v1/markets/{market}/candles", interval="1m", limit=1)["data"]
        if trades:
            assert latest and latest[0]["close"]["satang"] == trades[-1]["args"]["price"]
    market = w.w.markets[0]
    assert api.http.get(f"/v1/markets/{market}/candles", params={"interval": "5m"}).status_code == 422
    assert api.http.get(f"/v1/markets/{market}/candles", params={"limit": 0}).status_code == 422


def test_market_stats(api: Api) -> None:
    w = api.world
    logs = chain_logs(w, w.w.ex.contract, "Traded")
    now = head_time(w)
    for market in w.w.markets:
        trades = [(block_time(w, lg["blockNumber"]), lg["args"]) for lg in logs if lg["args"]["market"] == market]
        stats = api.get(f"/v1/markets/{market}/stats")
        assert stats["as_of"]["unix"] == now and stats["period"] == w.next_quarter
        book = api.get(f"/v1/markets/{market}/book")
        assert (stats["best_ask"], stats["best_bid"]) == (book["best_ask"], book["best_bid"])
        if not trades:
            continue
        assert stats["last_price"]["satang"] == trades[-1][1]["price"]
        day = [a for t, a in trades if now - 86_400 < t <= now]
        assert stats["volume_24h_tonnes"] == sum(a["quantity"] for a in day)
        assert stats["trades_24h"] == len(day)
        month = [a for t, a in trades if now - 30 * 86_400 < t <= now]
        value, volume = sum(a["price"] * a["quantity"] for a in month), sum(a["quantity"] for a in month)
        if volume:  # the world's time jump to the quarter's settlement can leave no trade in the window
            assert stats["average_price_30d"]["satang"] == (2 * value + volume) // (2 * volume)
        else:
            assert stats["average_price_30d"] is None
        before = [a for t, a in trades if t <= now - 86_400]
        if before:
            change = stats["change_24h"]
            assert change["reference"]["satang"] == before[-1]["price"]
            assert change["absolute"]["satang"] == trades[-1][1]["price"] - before[-1]["price"]
    assert_error(api.http.get("/v1/markets/9999/stats"), 404)


# --- data log ------------------------------------------------------------------------------------------------
def _histogram(packed: int) -> list[int]:
    return [(packed >> (32 * i)) & 0xFFFFFFFF for i in range(6)]


def test_emissions_series_and_data_quality(api: Api) -> None:
    w = api.world
    logs = chain_logs(w, w.w.ex.ledger.datalog, "EmissionBatchCommitted")
    every = all_pages(api, "/v1/emissions", limit=10)
    assert len(every) == len(logs) > 0
    assert {e["batch_id"] for e in every} == {"0x" + lg["args"]["batchId"].hex() for lg in logs}
    series = api.get("/v1/emissions/series", limit=500)
    assert series["total_kg_co2e"] == sum(lg["args"]["kgCO2e"] for lg in logs if lg["args"]["flow"] == 0)
    for interval in ("month", "quarter"):
        rolled = api.get("/v1/emissions/series", interval=interval, limit=500)
        assert rolled["total_kg_co2e"] == series["total_kg_co2e"]
        assert sum(p["readings"] for p in rolled["data"]) == sum(p["readings"] for p in series["data"])
    quality = api.get("/v1/data-quality", limit=500)
    totals = [sum(_histogram(lg["args"]["gradeCounts"])[i] for lg in logs) for i in range(6)]
    assert list(quality["total"]["grades"].values()) == totals
    assert abs(sum(quality["total"]["shares"].values()) - 1) < 1e-5
    assert quality["count"] == len({(lg["args"]["participant"], lg["args"]["projectKey"]) for lg in logs})
    mixed = api.get("/v1/data-quality", participant=w.traders[0].address, project="TH-TVER-API-FOREST")
    (row,) = mixed["data"]
    assert (row["project_id"], row["readings"], row["grades"]) == (
        "TH-TVER-API-FOREST",
        6,
        {"a": 2, "b": 1, "c": 1, "d": 1, "e": 0, "f": 1},
    )
    assert row["shares"]["a"] == round(2 / 6, 6)
    one = api.get("/v1/emissions/series", participant=w.traders[0].address, project="TH-TVER-API-FOREST")
    assert one["total_kg_co2e"] == 3_000 and one["data"][0]["grades"]["f"] == 1
    assert api.get("/v1/emissions", flow="removal")["count"] == 0
    assert api.http.get("/v1/emissions/series", params={"interval": "week"}).status_code == 422


# --- settlement ----------------------------------------------------------------------------------------------
def test_settlements_agree_with_the_contract(api: Api) -> None:
    w = api.world
    label = f"{w.quarter // 4}Q{w.quarter % 4 + 1}"
    settled = api.get("/v1/settlements", period=label)
    assert settled["count"] == 4
    trades = [t for t in w.w.ex.trades() if t.period == w.quarter]
    for trader, sector in zip(w.traders, SECTORS, strict=True):
        s = api.get(f"/v1/settlements/{label}/{trader.address}")
        record = w.st.contract.functions.record(w.quarter, trader.address).call()
        settled_flag, classification, claimed, allowance, debt = record
        assert settled_flag and s["sector"] == sector and s["cap_kg"] == CAPS_KG[sector]
        assert (s["allowance_tonnes"], s["allowance_claimed"], s["debt_outstanding"]["satang"]) == (
            allowance,
            claimed,
            debt,
        )
        assert s["emissions_kg"] == w.w.ex.ledger.emission_total(trader.address, w.quarter // 4, w.quarter % 4 + 1)
        bought = sum(
            t.price_satang * t.quantity
            for t in trades
            if (t.taker if t.taker_side == "bid" else t.maker) == trader.address
        )
        sold = sum(
            t.price_satang * t.quantity - t.fee_satang
            for t in trades
            if (t.maker if t.taker_side == "bid" else t.taker) == trader.address
        )
        assert (s["trading"]["bought"]["satang"], s["trading"]["sold"]["satang"]) == (bought, sold)
        tc = s["base_charge"]["satang"] + s["surcharge"]["satang"] - sold + bought
        assert s["total_cost"]["satang"] == tc
        assert s["terms"]["surcharge_rate"]["satang"] == satang(300)
    industry = api.get(f"/v1/settlements/{label}/{w.traders[0].address}")
    # E = 3,000 kg over a 1,000 kg cap, 1 t surrendered: 1,000 kg uncovered at 300 THB/t
    assert (industry["uncovered_kg"], industry["compliance_retired_kg"]) == (1_000, 1_000)
    assert industry["surcharge"] == {"satang": 30_000, "thb": "300.00"}
    assert industry["debt_paid"]["satang"] == satang("100")
    forestry = api.get(f"/v1/settlements/{label}/{w.traders[1].address}")
    assert (forestry["allowance_tonnes"], forestry["allowance_claimed"], forestry["allowance_batch_id"]) == (
        4,
        False,
        None,
    )
    assert api.get("/v1/settlements", classification="net_emitter")["count"] >= 1
    assert_error(
        api.http.get(f"/v1/settlements/{period_label(w.quarter - 4)}/{w.traders[0].address}"),
        404,
        "has not been settled",
    )
    assert api.http.get(f"/v1/settlements/2026Q5/{w.traders[0].address}").status_code == 422
    assert api.http.get("/v1/settlements", params={"period": "Q4"}).status_code == 422


def test_cbam_export(api: Api) -> None:
    import csv

    w = api.world
    trader = w.traders[0]
    year = w.quarter // 4  # the settled quarter's year, whatever the clock the chains were started at
    report = api.get(f"/v1/exports/cbam/{trader.address}/{year}.json")
    year_start, year_end = (int(datetime(y, 1, 1, tzinfo=THAI).timestamp()) for y in (year, year + 1))
    retired = [
        lg
        for lg in chain_logs(w, w.w.ex.ledger.credits, "CreditsRetired")
        if lg["args"]["holder"] == trader.address and year_start <= block_time(w, lg["blockNumber"]) < year_end
    ]
    assert [r["tx_hash"] for r in report["retirements"]] == [lg["transactionHash"].to_0x_hex() for lg in retired]
    assert report["retired_tonnes"] == sum(lg["args"]["serialLast"] - lg["args"]["serialFirst"] + 1 for lg in retired)
    for q in range(1, 5):
        kg = sum(e["kg_co2e"] for e in report["emissions"] if e["quarter"] == f"{year}Q{q}" and e["flow"] == "emission")
        assert kg == w.w.ex.ledger.emission_total(trader.address, year, q)
    assert report["emissions_kg"] == sum(w.w.ex.ledger.emission_total(trader.address, year, q) for q in range(1, 5))
    assert [s["quarter"] for s in report["settlements"]] == [period_label(w.quarter)]
    response = api.http.get(f"/v1/exports/cbam/{trader.address}/{year}.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["record"] for r in rows].count("retirement") == len(retired)
    assert [r["record"] for r in rows].count("settlement") == 1
    formula = next(r for r in rows if r["tx_hash"] == w.notes["formula_tx"])
    assert formula["beneficiary"] == "'" + FORMULA  # shown as text, never run as a formula
    assert all(not v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    # a year before anything of the world: its chain-time data, and the workload's readings fixed in 2026
    empty = api.get(f"/v1/exports/cbam/{trader.address}/{min(year, 2026) - 2}.json")
    assert (empty["emissions"], empty["retirements"], empty["settlements"]) == ([], [], [])
    assert_error(api.http.get(f"/v1/exports/cbam/0x{'3' * 40}/{year}.json"), 404, "no registered participant")
    assert api.http.get(f"/v1/exports/cbam/{trader.address}/1999.csv").status_code == 422
    assert api.http.get(f"/v1/exports/cbam/{trader.address}/{year}.xml").status_code == 404


# --- system ------------------------------------------------------------------------------------------------
def test_transactions(api: Api) -> None:
    w = api.world
    trade = w.w.ex.trades()[-1]
    body = api.get(f"/v1/transactions/{trade.tx_hash}")
    receipt = w.deployment.w3.eth.get_transaction_receipt(trade.tx_hash)
    assert (body["source"], body["block_number"], body["retirements"]) == ("index", receipt["blockNumber"], 0)
    assert [e["log_index"] for e in body["events"]] == [lg["logIndex"] for lg in receipt["logs"]]
    assert "Traded" in [e["event"] for e in body["events"]] and body["certificate_pdf"] is None
    retirement = api.get(f"/v1/transactions/{w.compliance_tx.upper().replace('0X', '0x')}")
    assert retirement["retirements"] == 1 and retirement["certificate_json"].endswith("/certificate.json")
    assert_error(api.http.get(f"/v1/transactions/0x{'ee' * 32}"), 404, "no chain this api follows")
    assert_error(api.http.get("/v1/transactions/0xzz"), 422, "not a transaction hash")


def test_health_and_metrics(api: Api) -> None:
    w = api.world
    health = api.get("/v1/health")
    head = w.deployment.w3.eth.block_number
    assert health["status"] == "ok" and health["database"] == {"reachable": True, "detail": None}
    (chain,) = [c for c in health["chains"] if c["chain_id"] == w.deployment.chain_id]
    assert (chain["cursor_block"], chain["head"], chain["lag_blocks"], chain["rpc"]) == (head, head, 0, "reachable")
    assert api.get("/v1/health/live") == {"status": "ok"}
    api.get("/v1/markets")
    response = api.http.get("/v1/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'carbonix_api_requests_total{method="GET",route="/v1/markets",status="200"}' in text
    assert f'carbonix_indexer_cursor_block{{chain_id="{w.deployment.chain_id}"}} {float(head)}' in text
    assert "carbonix_api_request_duration_seconds_bucket" in text
    assert response.headers["x-request-id"]


# --- bad input, everywhere ---------------------------------------------------------------------------------
LISTS = [
    "/v1/projects", "/v1/participants", "/v1/credit-batches", "/v1/retirements", "/v1/markets", "/v1/trades",
    "/v1/emissions", "/v1/emissions/series", "/v1/data-quality", "/v1/settlements",
]  # fmt: skip


def test_pagination_bounds_and_unknown_fields_are_refused(api: Api) -> None:
    wallet = api.world.traders[0].address
    paged = [
        *LISTS,
        f"/v1/participants/{wallet}/history",
        f"/v1/credit-batches/0x{api.world.w.batches[0]:064x}/provenance",
    ]
    for path in paged:
        for params, field_name in (({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"offset": -1}, "offset"),
                                   ({"limit": "ten"}, "limit")):  # fmt: skip
            body = assert_error(api.http.get(path, params=params), 422)
            assert any(err["loc"] == ["query", field_name] for err in body["detail"]), (path, body)
        body = assert_error(api.http.get(path, params={"limti": 5}), 422)
        assert body["detail"][0]["type"] == "extra_forbidden" and body["detail"][0]["loc"] == ["query", "limti"]
        assert api.get(path, limit=500)["count"] >= 0
    for path in ("/v1/markets/1", "/v1/markets/1/book", "/v1/health", f"/v1/exports/cbam/{wallet}/2026.csv"):
        assert api.http.get(path, params={"verbose": 1}).status_code == 422
    malformed = {
        "participant": "0xnot-an-address",
        "owner": "0x" + "a" * 39,
        "holder": "abcdef",
        "credit_batch_id": "0x" + "g" * 64,
    }
    for path, name in (("/v1/trades", "participant"), ("/v1/projects", "owner"), ("/v1/retirements", "holder"),
                       ("/v1/retirements", "credit_batch_id")):  # fmt: skip
        body = assert_error(api.http.get(path, params={name: malformed[name]}), 422)
        assert "not an" in body["detail"][0]["msg"], body


def test_errors_never_show_a_trace(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(api.url, chain_settings=api.world.chains)

    @app.get("/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret detail of /etc/carbonix")

    with Served(app) as served, caplog.at_level("ERROR", logger="carbonix.api"):
        response = served.client.get("/v1/boom")
        body = response.json()
        assert response.status_code == 500 and body == {"detail": "internal error", "request_id": body["request_id"]}
        assert response.headers["x-request-id"] == body["request_id"]
        assert "secret" not in response.text and "Traceback" not in response.text
        assert any(body["request_id"] in r.getMessage() and r.exc_info for r in caplog.records)
        unknown = served.client.get("/v1/nowhere")
        assert unknown.status_code == 404 and unknown.json()["request_id"] == unknown.headers["x-request-id"]


def test_rate_limit_per_client(api: Api) -> None:
    settings = ApiSettings(rate_limit_per_minute=60, rate_limit_burst=5)
    app = create_app(api.url, settings=settings, chain_settings=api.world.chains)
    with Served(app) as served:
        codes = [served.client.get("/v1/markets").status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3
        refused = served.client.get("/v1/projects")
        assert_error(refused, 429, "rate limit exceeded", "60 requests per minute")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert all(served.client.get("/v1/health").status_code == 200 for _ in range(10))  # exempt
        assert "carbonix_api_rate_limited_total 4.0" in served.client.get("/v1/metrics").text


def test_the_api_serves_the_index_when_the_rpc_is_down(api: Api) -> None:
    w = api.world
    dead = w.chains.model_copy(update={"l2_rpc_url": f"http://127.0.0.1:{free_port()}", "l1_rpc_url": None})
    app = create_app(api.url, settings=ApiSettings(rpc_timeout_seconds=2), chain_settings=dead)
    with Served(app) as served:
        assert served.client.get("/v1/projects").json()["count"] >= 2
        indexed = served.client.get(f"/v1/retirements/{w.compliance_tx}/certificate.json")
        assert indexed.status_code == 200 and indexed.json()["source"] == "index"
        assert_error(served.client.get(f"/v1/retirements/0x{'ab' * 32}/certificate.pdf"), 503, "chain is unreachable")
        assert_error(served.client.get(f"/v1/transactions/0x{'ab' * 32}"), 503, "unreachable")
        health = served.client.get("/v1/health").json()
        assert health["status"] == "degraded"
        assert [c["rpc"] for c in health["chains"] if c["chain_id"] == w.deployment.chain_id] == ["unreachable"]


def test_the_api_says_when_the_database_is_down(api: Api, postgres_server: str) -> None:
    missing = postgres_server.rsplit("/", 1)[0] + f"/carbonix_missing_{uuid.uuid4().hex[:8]}"
    app = create_app(missing, chain_settings=api.world.chains)
    with Served(app) as served:
        assert_error(served.client.get("/v1/projects"), 503, "database unavailable")
        down = served.client.get("/v1/health")
        assert down.status_code == 503 and down.json()["status"] == "down"


def test_the_api_cannot_write_the_index(api: Api) -> None:
    from sqlalchemy import text

    engine = api.served.app.state.api.engine
    refused = r"(?i)read-only|readonly|query_only|attempt to write"
    with pytest.raises(Exception, match=refused), engine.begin() as conn:
        conn.execute(text("DELETE FROM trades"))
    assert api.get("/v1/trades")["count"] > 0


def test_an_allowance_claim_shows_in_settlement_portfolio_and_batches(
    api: Api, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    w = api.world
    w3 = w.deployment.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        allowance_batch, _ = w.st.claim_allowance(w.traders[1], w.quarter)
        with database(api.kind, tmp_path, request) as url:
            index(url, w.deployment)
            with Served(create_app(url, chain_settings=w.chains)) as served:
                label = f"{w.quarter // 4}Q{w.quarter % 4 + 1}"
                settled = served.client.get(f"/v1/settlements/{label}/{w.traders[1].address}").json()
                assert (settled["allowance_claimed"], settled["allowance_batch_id"]) == (
                    True,
                    f"0x{allowance_batch:064x}",
                )
                batch = served.client.get(f"/v1/credit-batches/0x{allowance_batch:064x}").json()
                assert (batch["credit_type"], batch["owner"], batch["issued_tonnes"]) == (
                    "allowance",
                    w.traders[1].address,
                    4,
                )
                holdings = served.client.get(f"/v1/participants/{w.traders[1].address}/portfolio").json()["holdings"]
                held = {h["credit_batch_id"]: h["wallet_tonnes"] for h in holdings}
                assert (
                    held[f"0x{allowance_batch:064x}"]
                    == w.w.ex.ledger.balance(w.traders[1].address, allowance_batch)
                    == 4
                )
    finally:
        w3.provider.make_request("evm_revert", [snapshot])


def test_book_cache_answers_with_the_routes_own_bytes(api: Api) -> None:
    w = api.world
    market = w.w.markets[1]
    label = f"{w.quarter // 4}Q{w.quarter % 4 + 1}"
    app = create_app(api.url, chain_settings=w.chains)
    with Served(app) as served:
        for params in ({}, {"depth": 3}, {"period": label, "depth": 500}):
            first = served.client.get(f"/v1/markets/{market}/book", params=params)  # rendered by the route
            again = served.client.get(f"/v1/markets/{market}/book", params=params)  # from the cache
            assert first.status_code == again.status_code == 200
            assert first.content == again.content and again.headers["content-type"] == "application/json"
        text = served.client.get("/v1/metrics").text
        assert 'carbonix_api_book_cache_total{outcome="hit"} 3.0' in text
        assert 'carbonix_api_book_cache_total{outcome="miss"} 3.0' in text
        assert 'route="/v1/markets/{market}/book",status="200"} 6.0' in text
        # anything unusual goes to the route: repeated, unknown or malformed parameters
        assert served.client.get(f"/v1/markets/{market}/book?depth=3&depth=4").status_code == 200
        assert served.client.get(f"/v1/markets/{market}/book?depth=3&x=1").status_code == 422
        assert served.client.get(f"/v1/markets/{market}/book?depth=0").status_code == 422
        assert served.client.get("/v1/markets/4294967296/book").status_code == 422


async def _load(port: int, path: str, clients: int, requests: int) -> tuple[list[float], set[int], set[bytes]]:
    """``clients`` keep-alive connections, each sending ``requests`` GETs back to back."""
    import asyncio

    latencies: list[float] = []
    statuses: set[int] = set()
    bodies: set[bytes] = set()

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        for _ in range(requests):
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses.add(int(head.split(b" ", 2)[1]))
            bodies.add(body)
        writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, statuses, bodies


def test_50_concurrent_clients_all_get_the_same_book(api: Api, tmp_path: Path) -> None:
    """`carbonix api serve` in its own process; 50 keep-alive clients poll one market's book back to
    back (closed loop), and every answer is a 200 with the same book. One client IP, so the rate
    limit is off. Its p99 latency is a figure of `make bench` (api_book_p99_ms), not asserted here."""
    import asyncio
    import subprocess
    import sys

    port = free_port()
    carbonix = Path(sys.executable).parent / "carbonix"
    log = tmp_path / "serve.log"
    env = {**os.environ, "API_RATE_LIMIT_PER_MINUTE": "0"}
    command = [str(carbonix), "api", "serve", "--port", str(port), "--database", api.url, "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    path = f"/v1/markets/{api.world.w.markets[0]}/book"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}{path}").status_code == 200:
                    break
            time.sleep(0.2)
        expected = httpx.get(f"http://127.0.0.1:{port}{path}").content
        latencies, statuses, bodies = asyncio.run(_load(port, path, 50, 40))
        assert len(latencies) == 2_000 and statuses == {200} and bodies == {expected}
    finally:
        process.terminate()
        process.wait(10)
