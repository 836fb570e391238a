"""Off-chain figures of the Python parts -> bench/results/offchain.json: the two file readers, each
beside the same run's bare ``csv`` reading of the same file (the floor any reader of it pays), and
TGO's Merkle tree beside the same run's hashing of its leaves alone.

- ``dataset_read_rows_per_second``: ``oracle.datasets.read_dataset`` over the real Air4Thai east
  series (29,520 hourly rows), against ``csv.reader`` over the same file.
- ``registry_import_rows_per_second``: ``carbonix.registry_import.parse_registry_file`` over a
  Verra export of 10,000 records, made by tiling the real Verra transactions sample with each copy's
  serial ranges moved past the last (so every range is new and each is checked against all the
  others), against ``csv.reader`` over the same file. Like the sample, half the records were
  retired at the source and are refused as such.
- ``merkle_tree_10k_seconds``: ``carbonix.merkle.StandardMerkleTree.of`` over 10,000 participant
  leaves (org id, wallet, expiry), against ``standard_leaf_hash`` of the same 10,000 leaves.

Each figure is the best of ``REPEATS`` runs; timings depend on the machine, the ratios much less.
"""

from __future__ import annotations

import csv
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import write_figures  # noqa: E402
from carbonix.merkle import PARTICIPANT_LEAF, StandardMerkleTree, standard_leaf_hash  # noqa: E402
from carbonix.registry_import import parse_registry_file  # noqa: E402
from oracle.datasets import read_dataset  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
EAST = DATA / "air4thai-east-raw-hourly" / "air4thai_raw_hourly_15stations_2023-12_2024-02.csv"
VERRA = DATA / "offsetsdb-registry-samples" / "verra" / "transactions.csv"
EAST_ROWS = 29_520
RECORDS = 10_000
LEAVES = 10_000
REPEATS = 3

TARGETS: dict[str, tuple[str, float | None, str]] = {
    "dataset_read_rows_per_second": ("-", None, "report"),
    "registry_import_rows_per_second": ("-", None, "report"),
    "merkle_tree_10k_seconds": ("-", None, "report"),
}


def best_seconds(work: Callable[[], int]) -> tuple[float, int]:
    """The shortest of ``REPEATS`` runs of ``work`` and the count it returned."""
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        count = work()
        runs.append((time.perf_counter() - start, count))
    return min(runs)


def bare_csv_rows(path: Path) -> int:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def figure(path: Path, read: Callable[[], int], rows: int) -> dict[str, Any]:
    seconds, count = best_seconds(read)
    assert count == rows, f"{path.name}: read {count} rows, expected {rows}"
    baseline, bare = best_seconds(lambda: bare_csv_rows(path))
    assert bare == rows
    return {
        "value": round(rows / seconds),
        "rows": rows,
        "seconds": round(seconds, 4),
        "baseline_csv_reader_rows_per_second": round(rows / baseline),
        "ratio_to_baseline": round(baseline / seconds, 3),
        "file": path.name,
    }


def tiled_verra_export(path: Path) -> Path:
    """``RECORDS`` records: the sample's rows again and again, each copy's serials moved past the last."""
    with VERRA.open(encoding="utf-8-sig", newline="") as f:
        header, *sample = list(csv.reader(f))
    serial, issued = header.index("Serial Number"), header.index("Quantity Issued")
    shift = 1 + max(int(row[serial].split("-")[2]) for row in sample)
    records = []
    for i in range(RECORDS):
        row = list(sample[i % len(sample)])
        parts = row[serial].split("-")
        copy = i // len(sample)
        start, end = int(parts[1]) + copy * shift, int(parts[2]) + copy * shift
        parts[1:3] = [str(start), str(end)]
        row[serial], row[issued] = "-".join(parts), f"{end - start + 1:,}"
        records.append(row)
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header, *records])
    return path


def merkle_figure() -> dict[str, Any]:
    rng = random.Random(8899)
    values = [
        (f"TGO-ORG-{i:05d}", "0x" + rng.randbytes(20).hex(), 1_767_225_600 + rng.randrange(10**8))
        for i in range(LEAVES)
    ]
    seconds, leaves = best_seconds(lambda: len(StandardMerkleTree.of(values, PARTICIPANT_LEAF)))
    assert leaves == LEAVES
    baseline, hashed = best_seconds(lambda: len([standard_leaf_hash(PARTICIPANT_LEAF, v) for v in values]))
    assert hashed == LEAVES
    return {
        "value": round(seconds, 4),
        "leaves": LEAVES,
        "baseline_leaf_hashes_seconds": round(baseline, 4),
        "ratio_to_baseline": round(seconds / baseline, 3),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        export = tiled_verra_export(Path(tmp) / "verra-10000.csv")
        plan = parse_registry_file(export, "verra")
        assert plan.rows == RECORDS, plan.rows
        results = {
            "dataset_read_rows_per_second": figure(
                EAST, lambda: sum(1 for _ in read_dataset(EAST, "air4thai")), EAST_ROWS
            ),
            "registry_import_rows_per_second": {
                **figure(export, lambda: parse_registry_file(export, "verra").rows, RECORDS),
                "file": f"{RECORDS:,} records tiled from {VERRA.name}",
                "batches": len(plan.batches),
                "refused": len(plan.refused),
            },
            "merkle_tree_10k_seconds": merkle_figure(),
        }
    write_figures("offchain", results, TARGETS, width=10)


if __name__ == "__main__":
    main()
