"""Tokenizing credits that already exist in another registry (Verra, Gold Standard, T-VER).

``import_file`` parses an export (``carbonix.registry_import``), checks every batch against the
chain (its project must be certified and additional on CarboniX, its serials not yet tokenized) and
only then issues. Rows retired at the source registry are skipped and reported: they can never
be tokenized. Any other refusal fails the whole file and nothing is minted. Issuance goes in
``chunk`` batches per transaction; each transaction is all-or-none on-chain, and the checks above
run for the whole file before the first one, so a file either imports entirely or not at all.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from carbonix.ledger import IssueRequest, Ledger
from carbonix.registry_import import ImportedBatch, RefusedRow, parse_registry_file

SKIPPED_REASONS = frozenset({"retired_at_source"})


@dataclass
class ImportSummary:
    file: str
    format: str
    rows: int
    status: str = "refused"
    batches_issued: int = 0
    credits_issued: int = 0
    buffer_withheld: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    tx_hashes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _chain_refusals(ledger: Ledger, batches: list[ImportedBatch]) -> list[RefusedRow]:
    refused: list[RefusedRow] = []
    projects: dict[str, dict[str, Any]] = {}
    on_chain = ledger.serial_ranges()
    for b in batches:
        project = projects.get(b.project_id) or projects.setdefault(b.project_id, ledger.project(b.project_id))
        if not project["certified"]:
            refused.append(
                RefusedRow(
                    b.row,
                    "project_not_certified",
                    f"project {b.project_id} is not certified on CarboniX",
                )
            )
            continue
        if not project["additional"]:
            refused.append(
                RefusedRow(
                    b.row,
                    "project_not_additional",
                    f"project {b.project_id} lacks additionality (CCP #5)",
                )
            )
            continue
        ranges = on_chain.get(b.serial_prefix, [])
        at = bisect.bisect_right(ranges, (b.serial_end, 2**63))
        if at > 0 and ranges[at - 1][1] >= b.serial_start:
            start, end = ranges[at - 1]
            refused.append(
                RefusedRow(
                    b.row,
                    "overlap_on_chain",
                    f"serials {b.serial_prefix} {b.serial_start}-{b.serial_end} overlap tokenized {start}-{end}",
                )
            )
    return refused


def import_file(
    ledger: Ledger,
    issuer: LocalAccount,
    path: str | Path,
    fmt: str,
    buffer_bps: int = 0,
    chunk: int = 50,
    progress: Callable[[str], None] = lambda _: None,
) -> ImportSummary:
    plan = parse_registry_file(path, fmt)
    summary = ImportSummary(file=str(path), format=fmt, rows=plan.rows)
    summary.skipped = [asdict(r) for r in plan.refused if r.reason in SKIPPED_REASONS]
    errors = [r for r in plan.refused if r.reason not in SKIPPED_REASONS]
    progress("checking the chain")
    errors += _chain_refusals(ledger, plan.batches)
    summary.refused = [asdict(r) for r in sorted(errors, key=lambda r: r.row)]
    if summary.refused or not plan.batches:
        summary.status = "refused" if summary.refused else "nothing_to_import"
        return summary
    requests = [
        IssueRequest(
            project_id=b.project_id,
            vintage=b.vintage,
            credit_type=b.credit_type,
            serial_prefix=b.serial_prefix,
            serial_start=b.serial_start,
            serial_end=b.serial_end,
            buffer_bps=buffer_bps,
        )
        for b in plan.batches
    ]
    for i in range(0, len(requests), chunk):
        progress(f"issuing batches {i + 1}-{min(i + chunk, len(requests))} of {len(requests)}")
        issued = ledger.issue_batches(issuer, requests[i : i + chunk])
        summary.tx_hashes.append(issued[0].tx_hash)
        summary.batches_issued += len(issued)
        summary.credits_issued += sum(b.minted for b in issued)
        summary.buffer_withheld += sum(b.buffer for b in issued)
    summary.status = "imported"
    return summary
