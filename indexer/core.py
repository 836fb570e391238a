"""The indexing loop of one chain: adaptive log ranges, reorg detection and rollback, the cursor.

Each step reads the logs of a range of blocks, decodes them, and writes the rows, the hashes of
the recent blocks and the cursor (block number and hash) in one database transaction, so a kill
at any moment leaves the database at the end of some range, never in between.

Reorgs. The indexer keeps the hashes of the last ``window`` blocks below the chain head (and the
cursor's). Before each step it asks the chain for the hash of the cursor block; if it changed,
it walks its kept blocks down to the newest one the chain still has (the common ancestor),
restores every state row changed above it from the journal, deletes every event row above it,
and indexes forward again. A reorg that reaches below the kept window stops the indexer with
``DeepReorgError`` instead of serving data from a chain that no longer exists. Blocks fetched
near the head are checked link by link (each parent hash is the previous hash, each log's block
hash is its header's), so a reorg that happens during a step is caught before anything is
written.

Ranges. A step asks for at most ``range`` blocks; the range doubles after a quick step up to
``max_range`` and halves when the node refuses a query as too large, down to one block.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine, and_, delete, insert, select

from carbonix.exceptions import CarbonixError
from indexer import models as m
from indexer.decode import Decoder, RawLog
from indexer.handlers import Writer, apply
from indexer.source import ChainSource, Header, RangeTooLarge

log = logging.getLogger("carbonix.indexer")


class DeepReorgError(CarbonixError):
    """The chain replaced blocks below the kept window: the database cannot be rolled back."""


@dataclass
class IndexerConfig:
    confirmations: int = 0  # index only blocks this far below the head
    window: int = 64  # recent blocks whose hashes are kept (the deepest reorg handled)
    initial_range: int = 500
    max_range: int = 5_000
    poll_seconds: float = 0.5


@dataclass
class StepResult:
    from_block: int = 0
    to_block: int = -1
    events: int = 0
    skipped_logs: int = 0
    rolled_back_to: int | None = None

    @property
    def blocks(self) -> int:
        return max(0, self.to_block - self.from_block + 1)


@dataclass
class Cursor:
    number: int
    hash: str


@dataclass
class ChainIndexer:
    engine: Engine
    source: ChainSource
    decoder: Decoder
    chain_id: int
    start_block: int
    config: IndexerConfig = field(default_factory=IndexerConfig)

    def __post_init__(self) -> None:
        self.range = min(self.config.initial_range, self.config.max_range)

    # state ------------------------------------------------------------------------------------
    def cursor(self) -> Cursor | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(m.table_of(m.Cursor)).where(m.Cursor.chain_id == self.chain_id)).first()
            return None if row is None else Cursor(row.block_number, row.block_hash)

    # the loop ---------------------------------------------------------------------------------
    def run(self, stop: Callable[[], bool], on_step: Callable[[StepResult], None] | None = None) -> None:
        """Indexes until ``stop()``; sleeps ``poll_seconds`` whenever it has caught up."""
        while not stop():
            result = self.step()
            if on_step is not None:
                on_step(result)
            if result.blocks == 0 and result.rolled_back_to is None:
                time.sleep(self.config.poll_seconds)

    def step(self) -> StepResult:
        tip = self.source.head()
        head = tip - self.config.confirmations
        cursor = self.cursor()
        if cursor is not None:
            now = self.source.header(cursor.number)
            if now is None or now.hash != cursor.hash:
                return StepResult(rolled_back_to=self.rollback(cursor))
        first = cursor.number + 1 if cursor is not None else self.start_block
        if first > head:
            return StepResult()
        last = min(head, first + self.range - 1)
        keep_from = max(first, tip - self.config.window + 1)  # blocks whose hashes are kept
        headers = self.source.headers(list(range(keep_from, last + 1)))
        if keep_from > last:
            tail = self.source.header(last)
            if tail is None:
                return StepResult()  # the chain got shorter meanwhile; the next step sees it
            headers = [tail]
        if not self._linked(headers, cursor if keep_from == first else None):
            return StepResult()  # a reorg under way: the next step's cursor check finds it
        started = time.monotonic()
        try:
            logs = self.source.logs(self.decoder.addresses, first, last)
        except RangeTooLarge as exc:
            if self.range == 1:
                raise
            self.range = max(1, self.range // 2)
            log.info("log range halved to %d blocks: %s", self.range, exc)
            return StepResult()
        by_number = {h.number: h for h in headers}
        if any(lg.block_number in by_number and lg.block_hash != by_number[lg.block_number].hash for lg in logs):
            return StepResult()  # logs from another fork than the headers: try again
        logs = self._with_times(logs)
        events, skipped = self.decoder.decode(logs)
        with self.engine.begin() as conn:
            writer = Writer(conn, self.chain_id, journal_from=tip - self.config.window + 1)
            for event in events:
                apply(writer, event)
            writer.flush()
            kept = [h for h in headers if h.number >= keep_from] or [headers[-1]]
            conn.execute(
                insert(m.table_of(m.RecentBlock)),
                [
                    {"chain_id": self.chain_id, "block_number": h.number, "block_hash": h.hash,
                     "parent_hash": h.parent_hash, "block_time": h.timestamp}
                    for h in kept
                ],
            )  # fmt: skip
            floor = min(tip - self.config.window + 1, last)
            conn.execute(
                delete(m.table_of(m.RecentBlock)).where(
                    and_(m.RecentBlock.chain_id == self.chain_id, m.RecentBlock.block_number < floor)
                )
            )
            conn.execute(
                delete(m.table_of(m.Journal)).where(
                    and_(m.Journal.chain_id == self.chain_id, m.Journal.block_number < floor)
                )
            )
            conn.execute(delete(m.table_of(m.Cursor)).where(m.Cursor.chain_id == self.chain_id))
            conn.execute(
                insert(m.table_of(m.Cursor)),
                {"chain_id": self.chain_id, "block_number": last, "block_hash": headers[-1].hash,
                 "updated_at": int(time.time())},
            )  # fmt: skip
        if time.monotonic() - started < 2.0 and len(logs) < 10_000:
            self.range = min(self.config.max_range, self.range * 2)
        return StepResult(first, last, len(events), skipped)

    def _linked(self, headers: list[Header], cursor: Cursor | None) -> bool:
        previous = cursor.hash if cursor is not None else None
        for h in headers:
            if previous is not None and h.parent_hash != previous:
                return False
            previous = h.hash
        return True

    def _with_times(self, logs: list[RawLog]) -> list[RawLog]:
        """Fills in block times the node left out of the logs (older nodes), from the headers."""
        missing = sorted({lg.block_number for lg in logs if lg.block_time is None})
        if not missing:
            return logs
        times = {h.number: h.timestamp for h in self.source.headers(missing)}
        return [lg if lg.block_time is not None else _timed(lg, times[lg.block_number]) for lg in logs]

    # reorgs -------------------------------------------------------------------------------------
    def rollback(self, cursor: Cursor) -> int:
        """Rolls the database back to the newest kept block the chain still has; returns its number."""
        with self.engine.connect() as conn:
            kept = conn.execute(
                select(m.RecentBlock.block_number, m.RecentBlock.block_hash)
                .where(m.RecentBlock.chain_id == self.chain_id)
                .order_by(m.RecentBlock.block_number.desc())
            ).all()
        ancestor: Cursor | None = None
        for number, block_hash in kept:
            now = self.source.header(number)
            if now is not None and now.hash == block_hash:
                ancestor = Cursor(number, block_hash)
                break
        if ancestor is None:
            raise DeepReorgError(
                f"chain {self.chain_id}: block {cursor.number} ({cursor.hash}) was replaced and no kept block "
                f"(the last {self.config.window}) is still on the chain; re-index from scratch"
            )
        self._undo_above(ancestor)
        log.warning("chain %d reorg: rolled back from block %d to %d", self.chain_id, cursor.number, ancestor.number)
        return ancestor.number

    def _undo_above(self, ancestor: Cursor) -> None:
        with self.engine.begin() as conn:
            entries = conn.execute(
                select(m.table_of(m.Journal))
                .where(and_(m.Journal.chain_id == self.chain_id, m.Journal.block_number > ancestor.number))
                .order_by(m.Journal.id.desc())
            ).all()
            for entry in entries:
                table = m.STATE_TABLES[entry.table_name]
                key = json.loads(entry.key)
                conn.execute(delete(table).where(and_(*(table.c[k] == v for k, v in key.items()))))
                if entry.before is not None:
                    conn.execute(insert(table), json.loads(entry.before))
            for table in (*m.EVENT_TABLES, m.table_of(m.Journal), m.table_of(m.RecentBlock)):
                conn.execute(
                    delete(table).where(and_(table.c.chain_id == self.chain_id, table.c.block_number > ancestor.number))
                )
            conn.execute(delete(m.table_of(m.Cursor)).where(m.Cursor.chain_id == self.chain_id))
            conn.execute(
                insert(m.table_of(m.Cursor)),
                {"chain_id": self.chain_id, "block_number": ancestor.number, "block_hash": ancestor.hash,
                 "updated_at": int(time.time())},
            )  # fmt: skip


def _timed(lg: RawLog, timestamp: int) -> RawLog:
    from dataclasses import replace

    return replace(lg, block_time=timestamp)


def count_rows(engine: Engine, tables: Iterable[str] | None = None) -> dict[str, int]:
    from sqlalchemy import func

    names = list(tables) if tables is not None else [t.name for t in m.Base.metadata.sorted_tables]
    out = {}
    with engine.connect() as conn:
        for name in names:
            out[name] = conn.execute(select(func.count()).select_from(m.Base.metadata.tables[name])).scalar_one()
    return out
