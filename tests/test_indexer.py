"""The indexer on the real test chain, SQLite and the running PostgreSQL: what it writes agrees
with the contracts, reorgs of depth 1 and 5 in the middle of activity leave exactly what a fresh
re-index gives, a reorg below the kept window stops it loudly, and 20 kill -9 during a backfill
lose nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from carbonix.config import Settings
from carbonix.deployments import Deployment
from indexer import db
from indexer import models as m
from indexer.core import DeepReorgError, IndexerConfig
from indexer.service import chain_indexer, run
from indexer.workload import Workload

BOOKKEEPING = {"indexer_journal", "indexer_blocks", "indexer_cursor", "alembic_version"}


@pytest.fixture(scope="module")
def workload(deployment: Deployment, chains: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workload]:
    snapshot = deployment.w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        w = Workload.setup(chains, tmp_path_factory.mktemp("tgo-indexer"), tag="IX")
        for _ in range(60):
            w.step()
        yield w
    finally:
        deployment.w3.provider.make_request("evm_revert", [snapshot])


def index(engine: Engine, deployment: Deployment, config: IndexerConfig | None = None) -> None:
    ix = chain_indexer(engine, deployment, config or IndexerConfig(initial_range=50))
    run([ix], lambda: False, until_head=True)


def dump(engine: Engine) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            if table.name in BOOKKEEPING:
                continue
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(r) for r in rows]
    return out


def fresh(tmp_path: Path, deployment: Deployment) -> dict[str, list[tuple]]:
    engine = db.open_engine(f"sqlite:///{tmp_path}/fresh-{time.monotonic_ns()}.db")
    try:
        index(engine, deployment)
        return dump(engine)
    finally:
        engine.dispose()


def test_the_index_agrees_with_the_contracts(workload: Workload, deployment: Deployment, database_url: str) -> None:
    engine = db.open_engine(database_url)
    index(engine, deployment)
    ex, ledger = workload.ex, workload.ex.ledger
    with engine.connect() as conn:
        trades = conn.execute(select(func.count()).select_from(m.Trade)).scalar_one()
        orders = conn.execute(select(m.Order.__table__)).all()
        batches = conn.execute(select(m.CreditBatch.__table__)).all()
        participants = conn.execute(select(m.Participant.wallet)).scalars().all()
        cursor = conn.execute(select(m.Cursor.__table__)).one()
    on_chain = ex.contract.events.Traded.get_logs(from_block=deployment.from_block)
    assert trades == len(on_chain) > 0
    assert {o.status for o in orders} >= {"open", "filled"}
    for order in orders:  # every order's remaining quantity is the contract's
        assert ex.contract.functions.order(int(order.order_id, 16)).call()[1] == order.remaining, order.order_id
    for batch in batches:
        assert ledger.credits.functions.batch(int(batch.credit_batch_id, 16)).call()[7] == batch.retired
    assert {t.address for t in workload.traders} <= set(participants)
    head = deployment.w3.eth.get_block("latest")
    assert (cursor.block_number, cursor.block_hash) == (head["number"], head["hash"].to_0x_hex())
    engine.dispose()


@pytest.mark.parametrize("depth", [1, 5])
def test_a_reorg_in_the_middle_of_activity_leaves_what_a_fresh_index_gives(
    workload: Workload, deployment: Deployment, database_url: str, tmp_path: Path, depth: int
) -> None:
    w3 = deployment.w3
    engine = db.open_engine(database_url)
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        index(engine, deployment)
        for _ in range(depth + 3):
            workload.step()
        index(engine, deployment)
        before = w3.eth.get_block("latest")
        replaced = w3.eth.get_block(before["number"] - depth + 1)
        # the last `depth` blocks are replaced by blocks without those transactions
        response = w3.provider.make_request("anvil_reorg", [depth, []])
        assert "error" not in response, response
        assert w3.eth.get_block(replaced["number"])["hash"] != replaced["hash"]
        for _ in range(4):  # and activity goes on on the new branch
            workload.step()
        ix = chain_indexer(engine, deployment, IndexerConfig(initial_range=50))
        rolled = []
        run([ix], lambda: False, until_head=True, on_step=lambda _ix, r: rolled.append(r.rolled_back_to))
        assert [r for r in rolled if r is not None] == [replaced["number"] - 1]
        assert dump(engine) == fresh(tmp_path, deployment)
    finally:
        w3.provider.make_request("evm_revert", [snapshot])
        engine.dispose()


def test_a_reorg_below_the_kept_window_stops_the_indexer(
    workload: Workload, deployment: Deployment, tmp_path: Path
) -> None:
    w3 = deployment.w3
    engine = db.open_engine(f"sqlite:///{tmp_path}/deep.db")
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        for _ in range(8):  # the reorg must stay above the snapshot, or evm_revert loses the head block
            workload.step()
        config = IndexerConfig(window=3, initial_range=50)
        index(engine, deployment, config)
        rows = dump(engine)
        w3.provider.make_request("anvil_reorg", [6, []])
        with pytest.raises(DeepReorgError, match="re-index"):
            index(engine, deployment, config)
        assert dump(engine) == rows, "nothing was changed"
    finally:
        w3.provider.make_request("evm_revert", [snapshot])
        engine.dispose()


def test_kill_9_during_backfill_loses_nothing(
    workload: Workload, deployment: Deployment, postgres_url: str, tmp_path: Path
) -> None:
    for _ in range(120):  # a longer chain to backfill
        workload.step()
    carbonix = Path(sys.executable).parent / "carbonix"
    command = [str(carbonix), "indexer", "run", "--database", postgres_url, "--max-range", "1", "--quiet"]
    rng = random.Random(5888)
    kills = 0
    log = tmp_path / "indexer.log"
    engine = db.open_engine(postgres_url)  # migrated before the first start
    head = deployment.w3.eth.block_number

    def cursor() -> int:
        with engine.connect() as conn:
            return conn.execute(select(m.Cursor.block_number)).scalar() or 0

    for _ in range(60):
        if kills == 20:
            break
        while head - cursor() < 25:  # however fast the indexer, each kill lands mid-backfill
            for _ in range(30):
                workload.step()
            head = deployment.w3.eth.block_number
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log.open("a"), env=dict(os.environ))
        started = cursor()
        deadline = time.monotonic() + 60
        while cursor() == started and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # let it index something first
        time.sleep(rng.uniform(0.0, 0.15))
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += cursor() < head  # a kill after the backfill reached the head does not count
    assert kills == 20, f"only {kills} kills landed mid-backfill"
    process = subprocess.Popen([*command, "--once"], stdout=subprocess.DEVNULL, stderr=log.open("a"))
    assert process.wait(300) == 0, log.read_text()
    assert dump(engine) == fresh(tmp_path, deployment)
    engine.dispose()


def test_the_fast_decoder_agrees_with_web3(workload: Workload, deployment: Deployment) -> None:
    """Every log of the deployment decoded by the indexer's hand decoder equals web3.py's decoding."""
    from web3._utils.events import get_event_data

    from indexer.decode import Decoder, checksum
    from indexer.source import ChainSource

    contracts = {name: (deployment.address(name), deployment.abi(name)) for name in deployment.names}
    decoder = Decoder(contracts)
    source = ChainSource(deployment.w3)
    logs = source.logs(decoder.addresses, deployment.from_block, source.head())
    events, _ = decoder.decode(logs)
    assert len(events) > 150
    names = {e.name for e in events}
    assert {"BatchIssued", "Transfer", "CreditsRetired", "OrderPlaced", "Traded", "EmissionBatchCommitted"} <= names
    raw = {(lg["blockNumber"], lg["logIndex"]): lg for lg in deployment.w3.eth.get_logs(
        {"address": decoder.addresses, "fromBlock": deployment.from_block, "toBlock": "latest"})}  # fmt: skip
    for event in events:
        abi = next(i for i in contracts[event.contract][1] if i.get("type") == "event" and i["name"] == event.name
                   and len(i["inputs"]) == len(event.args))  # fmt: skip
        reference = get_event_data(deployment.w3.codec, abi, raw[(event.log.block_number, event.log.log_index)])
        for key, value in reference["args"].items():
            if isinstance(value, bytes):
                value = "0x" + value.hex()
            elif isinstance(value, str) and value.startswith("0x") and len(value) == 42:
                value = checksum(value)
            assert event.args[key] == value, (event.name, key)


def test_the_migrations_build_exactly_the_models(database_url: str) -> None:
    """Alembic's head (0001..0003) and the typed models describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = db.open_engine(database_url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), m.Base.metadata) == []
    finally:
        engine.dispose()
