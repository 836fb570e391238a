"""Indexer figures -> bench/results/indexer.json, printed beside the issue's targets.

- ``backfill_events_per_second_sqlite`` / ``_postgres``: a fresh chain with the real contracts
  carries >= 100,000 events (credit issuance in bulk, resting orders and the trades that sweep
  them, then the seeded mixed workload: transfers, retirements, cancels, emission batches);
  ``carbonix indexer`` backfills them from the deployment block into a fresh SQLite file and a
  fresh database on the running PostgreSQL. Events per second of wall time, RPC included; the
  baseline is the same run's bare ``eth_getLogs`` + decode of the same range (no database).
- ``tip_lag_blocks``: an L2 with 1 s blocks carrying 10 transactions a second for 30 s while the
  indexer follows it (poll 0.2 s); the largest and the 95th-percentile distance between the head
  and the cursor, sampled every 0.1 s.

Timings depend on the machine. Transactions are signed here and sent raw with explicit nonces
and gas, so generating 100,000 events takes about a minute, not an hour.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import RESULTS, write_figures  # noqa: E402
from carbonix import local_servers  # noqa: E402

TARGET_EVENTS = 100_000

# key: (reference, target, comparison)
TARGETS: dict[str, tuple[str, float | None, str]] = {
    "backfill_events_per_second_sqlite": ("web3.py getLogs+decode ~1,000-2,700/s; Ponder 48-115/s", 3_000, ">="),
    "backfill_events_per_second_postgres": ("same", 2_000, ">="),
    "tip_lag_blocks": ("-", 1, "<="),
    "api_book_p99_ms": ("-", 50, "<="),
    "certificate_unindexed_ms": ("-", None, "report"),
}


def _use_chains(l1_port: int, l2_port: int, block_time: int = 0) -> Any:
    from bench.gas import _use_bench_chains
    from carbonix.config import get_settings

    _use_bench_chains(l1_port, l2_port, block_time)
    return get_settings()


class RawSender:
    """Signs transactions locally with explicit nonce, gas and fees, sends them without waiting."""

    def __init__(self, w3: Any) -> None:
        self.w3 = w3
        self.chain_id = w3.eth.chain_id
        self.nonces: dict[str, int] = {}
        self.last: Any = None

    def send(self, account: Any, fn: Any, gas: int) -> None:
        address = account.address
        if address not in self.nonces:
            self.nonces[address] = self.w3.eth.get_transaction_count(address, "pending")
        tx = fn.build_transaction(
            {"from": address, "nonce": self.nonces[address], "gas": gas, "chainId": self.chain_id,
             "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
        )  # fmt: skip
        self.nonces[address] += 1
        self.last = self.w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)

    def mine(self) -> None:
        """Mines the pending transactions (automine off) and checks that the last one succeeded."""
        while int(self.w3.provider.make_request("txpool_status", [])["result"]["pending"], 16):
            self.w3.provider.make_request("evm_mine", [])
        self.wait()

    def wait(self) -> None:
        if self.last is not None:
            receipt = self.w3.eth.wait_for_transaction_receipt(self.last, timeout=600)
            assert receipt["status"] == 1, "the last bench transaction reverted"


def generate(settings: Any, state: Path) -> dict[str, Any]:
    """Puts >= TARGET_EVENTS events of the real contracts on the chain; returns what it sent."""
    from carbonix import enums
    from carbonix.context import account
    from carbonix.ids import project_key
    from indexer.workload import Workload

    w = Workload.setup(settings, state / "tgo", tag="BENCH")
    ex, ledger = w.ex, w.ex.ledger
    sender = RawSender(ledger.w3)
    tgo = account("tgo", settings=settings)
    key = project_key("TH-TVER-BENCH-FOREST")
    credit_type = enums.index("CreditType", "removal")
    sent = {"issue_txs": 0, "batches": 0, "resting_orders": 0, "sweeps": 0, "mixed_steps": 0}
    w3 = ledger.w3
    # many transactions per block: with automine a block per transaction, and each block's state
    # root over a large state costs more than the transaction
    w3.provider.make_request("evm_setAutomine", [False])
    w3.provider.make_request("anvil_setBlockGasLimit", [hex(1_000_000_000)])
    try:
        market = w.markets[0]
        ask, bid = enums.index("Side", "ask"), enums.index("Side", "bid")
        deadline = int(time.time()) + 86400
        per_round = 200
        for r in range(30):  # resting bids, then one ask that sweeps them all: OrderPlaced + Traded each
            buyer, seller = (w.traders[0], w.traders[1]) if r % 2 == 0 else (w.traders[1], w.traders[0])
            for i in range(per_round):
                fn = ex.contract.functions.placeOrder(market, bid, 100 + i % 50, 10, 0, deadline)
                sender.send(buyer, fn, 400_000)
            sender.mine()
            fn = ex.contract.functions.placeOrder(market, ask, 100, 10 * per_round, per_round, deadline)
            sender.send(seller, fn, 60_000_000)
            sender.mine()
            sent["resting_orders"] += per_round
            sent["sweeps"] += 1
        chunk = 1_000
        for c in range(45):  # 45,000 batches: BatchIssued + the mint's Transfer each
            params = [(key, 2025, credit_type, 0, f"BENCH-{c}-{i}", 1, 10, 0) for i in range(chunk)]
            sender.send(tgo, ledger.credits.functions.issueBatches(params), 400_000_000)
            sender.mine()
            sent["issue_txs"] += 1
            sent["batches"] += chunk
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    for _ in range(300):
        w.step()
        sent["mixed_steps"] += 1
    return sent


def count_events(deployment: Any) -> tuple[int, float, float]:
    """Logs of the deployment decoded without a database (the baseline), and the seconds it took."""
    from indexer.decode import Decoder
    from indexer.source import ChainSource

    decoder = Decoder({name: (deployment.address(name), deployment.abi(name)) for name in deployment.names})
    source = ChainSource(deployment.w3)
    head = source.head()
    fetch = decode = 0.0
    events = 0
    for first in range(deployment.from_block, head + 1, 5_000):
        started = time.perf_counter()
        logs = source.logs(decoder.addresses, first, min(head, first + 4_999))
        fetched = time.perf_counter()
        events += len(decoder.decode(logs)[0])
        fetch += fetched - started
        decode += time.perf_counter() - fetched
    return events, fetch, decode


def backfill(url: str, deployment: Any) -> dict[str, Any]:
    from indexer import db
    from indexer.core import IndexerConfig
    from indexer.service import chain_indexer, run

    engine = db.open_engine(url)
    ix = chain_indexer(engine, deployment, IndexerConfig(initial_range=2_000, max_range=20_000))
    events = 0

    def count(_ix: Any, result: Any) -> None:
        nonlocal events
        events += result.events

    started = time.perf_counter()
    run([ix], lambda: False, until_head=True, on_step=count)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"value": round(events / seconds), "events": events, "seconds": round(seconds, 2)}


def measure_backfill() -> dict[str, Any]:
    settings = _use_chains(18747, 19747)
    from carbonix import chain
    from carbonix.deployments import run_deploy

    chain.up(settings)
    try:
        deployment = run_deploy(settings=settings, capture=True)
        started = time.perf_counter()
        sent = generate(settings, settings.state_dir)
        generated_in = time.perf_counter() - started
        events, fetch_seconds, decode_seconds = count_events(deployment)
        baseline = {"per_second": round(events / (fetch_seconds + decode_seconds))}
        sqlite = backfill(f"sqlite:///{settings.state_dir}/bench-indexer.db", deployment)
        # PostgreSQL: TEST_POSTGRES_URL, else the machine's at the default address, else one of our own.
        with (
            local_servers.postgres(os.environ.get("TEST_POSTGRES_URL")) as server,
            local_servers.scratch_database(server.url, "carbonix_bench") as url,
        ):
            postgres = backfill(url, deployment)
        for figure in (sqlite, postgres):
            figure["baseline_getlogs_decode_per_second"] = baseline["per_second"]
            figure["ratio_to_baseline"] = round(figure["value"] / baseline["per_second"], 3)
            figure["baseline_getlogs_seconds"] = round(fetch_seconds, 2)
            figure["baseline_decode_seconds"] = round(decode_seconds, 2)
            figure["chain_events"] = events
            figure["generated"] = sent
            figure["generation_seconds"] = round(generated_in, 1)
        return {"backfill_events_per_second_sqlite": sqlite, "backfill_events_per_second_postgres": postgres}
    finally:
        chain.down(settings)


def measure_tip_lag() -> dict[str, Any]:
    settings = _use_chains(18748, 19748, block_time=1)
    from carbonix import chain
    from carbonix.deployments import run_deploy
    from carbonix.enums import index
    from indexer import db
    from indexer.core import IndexerConfig
    from indexer.service import chain_indexer, run
    from indexer.workload import Workload

    chain.up(settings)
    try:
        deployment = run_deploy(settings=settings, capture=True)
        w = Workload.setup(settings, settings.state_dir / "tgo", tag="LAG")
        engine = db.open_engine(f"sqlite:///{settings.state_dir}/lag.db")
        ix = chain_indexer(engine, deployment, IndexerConfig(poll_seconds=0.2))
        run([ix], lambda: False, until_head=True)
        stop = threading.Event()
        follower = threading.Thread(target=run, args=([ix], stop.is_set), daemon=True)
        follower.start()
        sender = RawSender(deployment.w3)
        bid = index("Side", "bid")
        deadline = int(time.time()) + 86400
        samples: list[int] = []
        started = time.monotonic()
        sent = 0
        next_sample = started
        while time.monotonic() - started < 30:
            now = time.monotonic()
            while sent < (now - started) * 10:  # 10 tx/s
                trader = w.traders[sent % len(w.traders)]
                fn = w.ex.contract.functions.placeOrder(w.markets[0], bid, 100 + sent % 50, 10, 0, deadline)
                sender.send(trader, fn, 400_000)
                sent += 1
            if now >= next_sample:
                head = deployment.w3.eth.block_number
                cursor = ix.cursor()
                samples.append(head - (cursor.number if cursor else 0))
                next_sample = now + 0.1
            time.sleep(0.01)
        stop.set()
        follower.join(10)
        sender.wait()
        run([ix], lambda: False, until_head=True)
        engine.dispose()
        api = measure_api(settings, w, f"sqlite:///{settings.state_dir}/lag.db", w.markets[0])
        samples.sort()
        return {
            **api,
            "tip_lag_blocks": {
                "value": max(samples),
                "p95": samples[int(0.95 * (len(samples) - 1))],
                "median": statistics.median(samples),
                "samples": len(samples),
                "transactions": sent,
                "block_time_seconds": 1,
                "poll_seconds": 0.2,
            },
        }
    finally:
        chain.down(settings)


def measure_api(settings: Any, w: Any, url: str, market: int) -> dict[str, Any]:
    """The book under 50 concurrent clients, and certificates of retirements the indexer has not seen."""
    import asyncio
    import subprocess

    import httpx

    from carbonix.chain import free_port

    port = free_port()
    carbonix = Path(sys.executable).parent / "carbonix"
    log = settings.state_dir / "api.log"
    server = subprocess.Popen(
        [str(carbonix), "api", "serve", "--port", str(port), "--database", url, "--log-level", "warning"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, env={**os.environ, "API_RATE_LIMIT_PER_MINUTE": "100000000"},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health/live", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        levels = len(httpx.get(f"{base}/markets/{market}/book").json().get("bids", []))

        async def load(path: str, seconds: float = 10.0, clients: int = 50) -> list[float]:
            """``clients`` keep-alive connections sending GETs back to back; a raw HTTP/1.1 client,
            so the load generator costs far less CPU than the server it measures."""
            latencies: list[float] = []
            request = f"GET /v1{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
            end = time.monotonic() + seconds

            async def one() -> None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                while time.monotonic() < end:
                    started = time.perf_counter()
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = next(
                        int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")
                    )
                    await reader.readexactly(length)
                    latencies.append(time.perf_counter() - started)
                    assert head.split(b" ", 2)[1] == b"200", head
                writer.close()

            await asyncio.gather(*(one() for _ in range(clients)))
            return latencies

        def p(values: list[float], q: float) -> float:
            ordered = sorted(values)
            return round(1000 * ordered[int(q * (len(ordered) - 1))], 2)

        baseline = asyncio.run(load("/health/live"))
        book = asyncio.run(load(f"/markets/{market}/book"))
        # certificates for retirements mined a block ago, which no indexer has seen
        timings = []
        for i in range(5):
            cert = w.ex.ledger.retire(
                w.traders[i % len(w.traders)], w.batches[0], 5, f"Bench beneficiary {i}", "voluntary_offset",
                1_735_689_600, 1_767_139_200,
            )  # fmt: skip
            started = time.perf_counter()
            response = httpx.get(f"{base}/retirements/{cert.tx_hash}/certificate.pdf", timeout=30)
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200 and response.content.startswith(b"%PDF"), response.text[:300]
        return {
            "api_book_p99_ms": {
                "value": p(book, 0.99),
                "p50_ms": p(book, 0.5),
                "requests": len(book),
                "requests_per_second": round(len(book) / 10),
                "price_levels": levels,
                "clients": 50,
                "baseline_health_p99_ms": p(baseline, 0.99),
                "baseline_health_requests_per_second": round(len(baseline) / 10),
                "ratio_to_baseline": round(p(book, 0.99) / max(p(baseline, 0.99), 0.01), 2),
            },
            "certificate_unindexed_ms": {
                "value": round(1000 * statistics.median(timings)),
                "max_ms": round(1000 * max(timings)),
                "certificates": len(timings),
                "measures": "GET certificate.pdf for a retirement the indexer has not seen (built from the receipt)",
            },
        }
    finally:
        server.terminate()
        server.wait(15)


def main() -> None:
    path = RESULTS / "indexer.json"
    previous = json.loads(path.read_text())["figures"] if path.exists() else {}
    results: dict[str, Any] = dict(previous)  # figures measured elsewhere (API, certificate) are kept
    results.update(measure_backfill())
    results.update(measure_tip_lag())
    write_figures("indexer", results, TARGETS, width=56)


if __name__ == "__main__":
    main()
