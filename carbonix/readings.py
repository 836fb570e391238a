"""Graded readings and the emission batches committed from them.

A reading's Merkle leaf is (string sensor_id, uint64 sequence, uint64 timestamp, uint64 grams_co2e,
uint8 grade) with grade 0 = A ... 5 = F, encoded as an OpenZeppelin StandardMerkleTree leaf. A batch
commits the root of its readings' tree, their count, total kg CO2e (rounded down), a 0-100 quality
score and the A-F histogram; any single reading can later be proven against the committed root.

Readings CSV columns: sensor_id, sequence, timestamp (ISO or unix), kg_co2e, grade (A-F).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from eth_utils import keccak

from carbonix.emission_batch import EmissionBatchInput
from carbonix.exceptions import CarbonixLookupError, CarbonixValueError
from carbonix.merkle import StandardMerkleTree
from carbonix.tgo import parse_timestamp

READING_LEAF_TYPES = ("string", "uint64", "uint64", "uint64", "uint8")
GRADES = "ABCDEF"
GRADE_SCORE = {"A": 100, "B": 80, "C": 60, "D": 40, "E": 20, "F": 0}


@dataclass(frozen=True)
class Reading:
    sensor_id: str
    sequence: int
    timestamp: int
    grams_co2e: int
    grade: str

    def leaf(self) -> tuple[str, int, int, int, int]:
        return (
            self.sensor_id,
            self.sequence,
            self.timestamp,
            self.grams_co2e,
            GRADES.index(self.grade),
        )


def load_readings(path: str | Path) -> list[Reading]:
    path = Path(path)
    if not path.is_file():
        raise CarbonixLookupError(f"{path}: no such file")
    reader = csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines())
    readings = []
    for row in reader:
        where = f"{path.name} row {reader.line_num}"
        try:
            kg = Decimal(row["kg_co2e"].strip())
            grade = row["grade"].strip().upper()
            reading = Reading(
                sensor_id=row["sensor_id"].strip(),
                sequence=int(row["sequence"]),
                timestamp=parse_timestamp(row["timestamp"], where),
                grams_co2e=int(kg * 1000),
                grade=grade,
            )
        except (KeyError, AttributeError, ValueError, InvalidOperation) as exc:
            raise CarbonixValueError(f"{where}: malformed reading ({exc})") from exc
        if kg < 0 or grade not in GRADES or not reading.sensor_id or reading.sequence < 0:
            raise CarbonixValueError(f"{where}: kg_co2e must be >= 0, grade A-F, sensor_id set")
        readings.append(reading)
    if not readings:
        raise CarbonixValueError(f"{path}: no readings")
    return readings


def readings_tree(readings: list[Reading]) -> StandardMerkleTree:
    return StandardMerkleTree.of([r.leaf() for r in readings], list(READING_LEAF_TYPES))


def build_batch(
    participant: str, readings: list[Reading], project_id: str | None = None, flow: str = "emission"
) -> tuple[EmissionBatchInput, StandardMerkleTree]:
    """The data-log batch for a set of readings and the tree that proves each of them."""
    tree = readings_tree(readings)
    counts = [0] * 6
    for r in readings:
        counts[GRADES.index(r.grade)] += 1
    score = round(sum(GRADE_SCORE[r.grade] for r in readings) / len(readings))
    start = min(r.timestamp for r in readings)
    end = max(r.timestamp for r in readings)
    root = bytes.fromhex(tree.root[2:])
    batch = EmissionBatchInput(
        batch_id=keccak(root + bytes.fromhex(participant[2:].lower().rjust(40, "0"))),
        participant=participant,
        project_id=project_id,
        period_start=start,
        period_end=end,
        reading_count=len(readings),
        readings_root=root,
        kg_co2e=sum(r.grams_co2e for r in readings) // 1000,
        quality_score=score,
        grade_counts=tuple(counts),  # type: ignore[arg-type]
        flow=flow,
    )
    return batch, tree
