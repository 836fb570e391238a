"""One batch of graded readings as the data log takes it (IEmissionDataLog.EmissionBatch).

Built by ``carbonix.readings`` and the oracle's outbox, digested for the operator quorum by
``carbonix.quorum`` and committed by ``Ledger.commit_emission_batch``; it sits below both so that
neither imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from carbonix import enums
from carbonix.exceptions import CarbonixValueError
from carbonix.ids import project_key, wallet_address


@dataclass(frozen=True)
class EmissionBatchInput:
    """One batch of graded readings for the data log (see IEmissionDataLog.EmissionBatch)."""

    batch_id: bytes
    participant: str
    project_id: str | None
    period_start: int
    period_end: int
    reading_count: int
    readings_root: bytes
    kg_co2e: int
    quality_score: int
    grade_counts: tuple[int, int, int, int, int, int] = (0, 0, 0, 0, 0, 0)
    flow: str = "emission"

    def as_tuple(self) -> tuple[Any, ...]:
        packed = 0
        for i, count in enumerate(self.grade_counts):
            if not 0 <= count < 2**32:
                raise CarbonixValueError(f"grade count {count} does not fit in uint32")
            packed |= count << (32 * i)
        return (
            self.batch_id,
            wallet_address(self.participant),
            project_key(self.project_id) if self.project_id else b"\0" * 32,
            self.period_start,
            self.period_end,
            self.reading_count,
            self.readings_root,
            self.kg_co2e,
            self.quality_score,
            packed,
            enums.index("Flow", self.flow),
        )
