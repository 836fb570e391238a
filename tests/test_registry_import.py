"""carbonix.registry_import on the real registry exports in ../shared/data and on broken files."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonix.exceptions import CarbonixLookupError, CarbonixValueError
from carbonix.registry_import import ImportedBatch, ImportPlan, RefusedRow, parse_registry_file

DATA = Path(__file__).parents[1].parent / "shared" / "data"
VERRA_TRANSACTIONS = DATA / "offsetsdb-registry-samples" / "verra" / "transactions.csv"
MOSS = DATA / "moss-mco2-verra-holdings" / "mco2_verra_data.csv"
GS_ISSUANCES = DATA / "offsetsdb-registry-samples" / "gold-standard" / "issuances.csv"
GS_RETIREMENTS = DATA / "offsetsdb-registry-samples" / "gold-standard" / "retirements.csv"
REFARM_LEDGER = DATA / "climate-refarm-thai-ledger" / "ledger_main.csv"

VERRA_HEADER = [
    "Issuance Date", "Vintage Start", "Vintage End", "ID", "Name", "Project Type",
    "Methodology", "Quantity Issued", "Serial Number", "Additional Certifications",
    "Retirement/Cancellation Date", "Retirement Details",
]  # fmt: skip
TVER_HEADER = [
    "project_id", "project_name", "vintage", "credit_type", "serial_number", "quantity", "status",
]  # fmt: skip


def reasons(plan: ImportPlan) -> Counter[str]:
    return Counter(r.reason for r in plan.refused)


def physical_lines(path: Path) -> list[str]:
    return re.split(r"\r\n|\r|\n", path.read_text(encoding="utf-8-sig"))


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, bom: bool = False, crlf: bool = False) -> Path:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if crlf else "\n").writerows([header, *rows])
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode())
    return path


def verra_row(
    start: int,
    end: int,
    *,
    quantity: str | None = None,
    serial: str | None = None,
    project: str = "1999",
    vintage: tuple[str, str] = ("2023-01-01", "2023-05-31"),
    retired: str = "",
    details: str = "",
) -> list[str]:
    first, last = ("".join(reversed(d.split("-"))) for d in vintage)
    serial = serial or f"19323-{start}-{end}-VCS-VCU-1491-VER-TH-1-{project}-{first}-{last}-0"
    quantity = f"{end - start + 1:,}" if quantity is None else quantity
    return [
        "2026-03-25", *vintage, project, "KRISSANA WIND POWER IN THAILAND",
        "Energy industries (renewable/non-renewable sources)", "ACM0002", quantity, serial, "",
        retired, details,
    ]  # fmt: skip


def tver_row(
    start: int,
    end: int,
    *,
    project: str = "TH-CCEP-2025-0001",
    vintage: str = "2024",
    status: str = "issued",
    credit_type: str = "removal",
    quantity: str | None = None,
    serial: str | None = None,
) -> list[str]:
    serial = serial or f"TVER-{project}-{vintage}-{start}-{end}"
    quantity = str(end - start + 1) if quantity is None else quantity
    name = "ป่าชุมชนบ้านแม่ทา"  # a community forest, in Thai
    return [project, name, vintage, credit_type, serial, quantity, status]


# --- real files --------------------------------------------------------------------------------


def test_verra_transactions_keep_live_ranges_and_refuse_retired() -> None:
    plan = parse_registry_file(VERRA_TRANSACTIONS, "verra")
    assert (plan.rows, len(plan.batches), plan.credits) == (200, 100, 3_891_681)
    assert reasons(plan) == {"retired_at_source": 100}
    # Independent check: exactly the records with a retirement/cancellation date are refused.
    with VERRA_TRANSACTIONS.open(encoding="utf-8-sig", newline="") as f:
        retired = [i + 2 for i, r in enumerate(csv.DictReader(f)) if r["Retirement/Cancellation Date"]]
    assert [r.row for r in plan.refused] == retired
    krissana = next(b for b in plan.batches if b.project_id == "VCS-1999")
    assert krissana == ImportedBatch(
        row=189,
        standard="verra",
        project_id="VCS-1999",
        project_name="KRISSANA WIND POWER IN THAILAND",
        vintage=2023,
        credit_type="reduction",
        serial_prefix="VCS",
        serial_start=938_916_127,
        serial_end=938_961_065,
        source_serial="19323-938916127-938961065-VCS-VCU-1491-VER-TH-1-1999-01012023-31052023-0",
    )
    assert krissana.quantity == 44_939
    assert "KRISSANA" in physical_lines(VERRA_TRANSACTIONS)[189 - 1]
    assert Counter(b.credit_type for b in plan.batches) == {
        "reduction": 79,
        "removal": 16,
        "avoidance": 5,
    }
    family_forest = next(b for b in plan.batches if b.row == 177)  # label Carbon Dioxide Removals
    assert (family_forest.project_id, family_forest.credit_type) == ("VCS-4268", "removal")


def test_moss_holdings_are_161_ranges_of_3_041_044_credits() -> None:
    plan = parse_registry_file(MOSS, "verra")  # BOM, CRLF, "3,571", DD/MM/YYYY-DD/MM/YYYY
    assert (plan.rows, len(plan.batches), plan.credits, plan.refused) == (161, 161, 3_041_044, [])
    assert [b.row for b in plan.batches] == list(range(2, 163))
    assert {b.serial_prefix for b in plan.batches} == {"VCS"}
    first = plan.batches[0]
    assert (first.project_id, first.vintage, first.serial_start, first.serial_end) == (
        "VCS-1686",
        2014,
        367_676_034,
        367_676_083,
    )
    ituxi = next(b for b in plan.batches if b.row == 42)  # vintage 15/12/2013-14/12/2015
    assert (ituxi.vintage, ituxi.quantity, ituxi.credit_type) == (2015, 9_428, "avoidance")
    assert Counter(b.credit_type for b in plan.batches) == {"avoidance": 158, "reduction": 3}


def test_gold_standard_issuances_including_cdm_ranges() -> None:
    plan = parse_registry_file(GS_ISSUANCES, "gold-standard")
    assert (plan.rows, len(plan.batches), plan.credits, plan.refused) == (100, 100, 5_380_873, [])
    first = plan.batches[0]
    assert first.serial_prefix == "GS1-1-UG-GS11236-16-2024-30307"
    assert (first.project_id, first.vintage, first.serial_start, first.serial_end) == (
        "GS-11236",
        2024,
        1,
        19_149,
    )
    cdm = [b for b in plan.batches if b.serial_prefix == "CDM-RW"]
    assert [(b.row, b.vintage, b.serial_start, b.serial_end) for b in cdm] == [
        (82, 2019, 1_463_953, 1_467_609),
        (83, 2018, 1_460_108, 1_463_952),
        (84, 2017, 1_459_975, 1_460_107),
    ]


def test_gold_standard_retirements_are_all_refused_at_their_lines() -> None:
    plan = parse_registry_file(GS_RETIREMENTS, "gold-standard")
    assert (plan.rows, plan.batches) == (100, [])
    assert reasons(plan) == {"retired_at_source": 100}
    assert sum("Canceled" in r.detail for r in plan.refused) == 6
    # Notes span lines, so rows are not line numbers minus one; each row must be the line where
    # its record (and its serial number, which comes before the note) starts.
    lines = physical_lines(GS_RETIREMENTS)
    with GS_RETIREMENTS.open(encoding="utf-8-sig", newline="") as f:
        serials = [r["Serial Number"] for r in csv.DictReader(f)]
    assert plan.refused[-1].row > plan.rows + 1
    assert [r.row for r in plan.refused][:5] == [2, 4, 6, 8, 10]
    for refused, serial in zip(plan.refused, serials, strict=True):
        assert serial in lines[refused.row - 1]
        assert re.match(r"20\d\d,(Retired|Canceled),", lines[refused.row - 1])


def test_refarm_ledger_consolidates_per_credit_serials(tmp_path: Path) -> None:
    plan = parse_registry_file(REFARM_LEDGER, "tver")
    assert (plan.rows, plan.batches) == (110, [])
    assert [(r.row, r.reason) for r in plan.refused] == [
        (2, "retired_at_source"),
        (92, "retired_at_source"),
    ]
    assert "90 credits CR0000000001..CR0000000090" in plan.refused[0].detail
    assert "pre_retired" in plan.refused[1].detail

    # The same ledger with live credits (issued, no retirement date): one range per project.
    live = tmp_path / "ledger.csv"
    text = REFARM_LEDGER.read_text()
    live.write_text(re.sub(r"pre_retired,(A,M1,[\d-]+),[\d-]+", r"issued,\1,", text))
    plan = parse_registry_file(live, "tver")
    assert plan.refused == []
    assert plan.batches == [
        ImportedBatch(
            2, "tver", "PR00001", "", 2023, "avoidance", "CLIMATE_REFARM_PBC-CR", 1, 90,
            "CR0000000001..CR0000000090",
        ),
        ImportedBatch(
            92, "tver", "PR00002", "", 2023, "avoidance", "CLIMATE_REFARM_PBC-CR", 91, 110,
            "CR0000000091..CR0000000110",
        ),
    ]  # fmt: skip


# --- refusals, one per reason ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "reason", "named"),
    [
        (verra_row(1, 10, serial="19323-1-1O-VCS-VCU-1491"), "malformed_serial", "19323-1-1O"),
        (verra_row(1, 10, project="2000", serial=verra_row(1, 10)[8]), "malformed_serial", "2000"),
        (verra_row(1, 10, quantity="11"), "quantity_mismatch", "11"),
        (verra_row(1, 10, quantity="12a"), "bad_quantity", "12a"),
        (verra_row(1, 10, quantity="0"), "bad_quantity", "'0'"),
        (verra_row(1, 10, quantity="1,00"), "bad_quantity", "1,00"),
        (verra_row(1, 10, retired="2026-04-10"), "retired_at_source", "2026-04-10"),
        (verra_row(1, 10, vintage=("2023-01-01", "2023-13-45")), "bad_vintage", "2023-13-45"),
        (verra_row(1, 10, vintage=("1899-01-01", "1899-12-31")), "bad_vintage", "1899"),
        (verra_row(1, 10, vintage=("2024-01-01", "2023-12-31")), "bad_vintage", "2023-12-31"),
        (verra_row(1, 10, project=""), "missing_field", "'ID'"),
        (verra_row(10, 1, quantity="10"), "malformed_serial", "before it starts"),
    ],
)
def test_verra_refusals(tmp_path: Path, row: list[str], reason: str, named: str) -> None:
    good = verra_row(100, 199)
    path = write_csv(tmp_path / "verra.csv", VERRA_HEADER, [good, row, good[:8] + ["", *good[9:]]])
    plan = parse_registry_file(path, "verra")
    assert plan.rows == 3
    assert [b.row for b in plan.batches] == [2]
    assert plan.refused[0].row == 3
    assert plan.refused[0].reason == reason
    assert named in plan.refused[0].detail
    assert plan.refused[1:] == [RefusedRow(4, "missing_field", "the 'Serial Number' value is empty")]


def test_overlap_in_file_names_the_earlier_row(tmp_path: Path) -> None:
    rows = [
        verra_row(1_000, 1_999),
        verra_row(5_000, 5_099, retired="2026-01-05"),
        verra_row(1_000, 1_999),  # duplicate of line 2
        verra_row(1_500, 2_500),  # partial overlap with line 2
        verra_row(2_000, 2_999),  # touches line 2's end, no overlap
        verra_row(5_050, 5_060),  # inside a range already retired at source (line 3)
        verra_row(2_999, 2_999),  # last credit of line 6
    ]
    plan = parse_registry_file(write_csv(tmp_path / "v.csv", VERRA_HEADER, rows), "verra")
    assert [b.row for b in plan.batches] == [2, 6]
    assert [(r.row, r.reason) for r in plan.refused] == [
        (3, "retired_at_source"),
        (4, "overlap_in_file"),
        (5, "overlap_in_file"),
        (7, "overlap_in_file"),
        (8, "overlap_in_file"),
    ]
    assert "of row 2" in plan.refused[1].detail and "1500-2500" in plan.refused[2].detail
    assert "of row 3" in plan.refused[3].detail
    assert "of row 6" in plan.refused[4].detail


def test_later_retirement_takes_down_the_earlier_live_range(tmp_path: Path) -> None:
    # As in the real Gold Standard exports: issuances.csv lists GS11603's block 30256 as Issued
    # 1-5485, retirements.csv has 110-5463 of it Retired. In one file, neither may be tokenized.
    header = ["Vintage", "Credit Status", "Quantity", "GSID", "Serial Number", "Retirement Date"]
    block = "GS1-1-KE-GS11603-16-2025-30256"
    rows = [
        ["2025", "Issued", "5485", "11603", f"{block}-1-5485", ""],
        ["2025", "Issued", "10", "11603", f"{block}-5486-5495", ""],
        ["2025", "Retired", "5354", "11603", f"{block}-110-5463", "2026-04-10"],
    ]
    plan = parse_registry_file(write_csv(tmp_path / "gs.csv", header, rows), "gold-standard")
    assert [b.row for b in plan.batches] == [3]
    assert [(r.row, r.reason) for r in plan.refused] == [(2, "retired_at_source"), (4, "retired_at_source")]
    assert "row 4" in plan.refused[0].detail


def test_overlaps_only_count_inside_one_namespace(tmp_path: Path) -> None:
    rows = [
        tver_row(1, 100),
        tver_row(1, 100, vintage="2023"),  # other vintage: other namespace
        tver_row(1, 100, project="TH-CCEP-2025-0002"),  # other project: other namespace
        tver_row(50, 60),  # same namespace as line 2
    ]
    plan = parse_registry_file(write_csv(tmp_path / "t.csv", TVER_HEADER, rows), "tver")
    assert [b.serial_prefix for b in plan.batches] == [
        "TVER-TH-CCEP-2025-0001-2024",
        "TVER-TH-CCEP-2025-0001-2023",
        "TVER-TH-CCEP-2025-0002-2024",
    ]
    assert [(r.row, r.reason) for r in plan.refused] == [(5, "overlap_in_file")]


def test_tver_format(tmp_path: Path) -> None:
    rows = [
        tver_row(1, 1_000),
        tver_row(1_001, 1_500, status="retired"),
        tver_row(1_501, 1_600, status="pre_retired"),
        tver_row(1_601, 1_700, status="pending"),
        tver_row(1_701, 1_800, credit_type="offset"),
        tver_row(1_801, 1_900, serial="TVER-TH-CCEP-2025-0009-2024-1801-1900"),
        tver_row(1_901, 2_000, serial="TVER-TH-CCEP-2025-0001-2023-1901-2000"),
        tver_row(2_001, 2_100, serial="TH-CCEP-2025-0001-2024-2001-2100"),
        tver_row(2_101, 2_200, quantity="1,000"),
        tver_row(2_201, 2_300, vintage="20x4"),
        tver_row(2_301, 2_400, credit_type=" Reduction "),
    ]
    plan = parse_registry_file(write_csv(tmp_path / "t.csv", TVER_HEADER, rows), "tver")
    assert [(b.row, b.credit_type, b.quantity) for b in plan.batches] == [
        (2, "removal", 1_000),
        (12, "reduction", 100),
    ]
    assert plan.batches[0].project_name == "ป่าชุมชนบ้านแม่ทา"
    assert [(r.row, r.reason) for r in plan.refused] == [
        (3, "retired_at_source"),
        (4, "retired_at_source"),
        (5, "bad_status"),
        (6, "bad_credit_type"),
        (7, "malformed_serial"),
        (8, "bad_vintage"),
        (9, "malformed_serial"),
        (10, "quantity_mismatch"),
        (11, "bad_vintage"),
    ]


def test_gold_standard_refusals(tmp_path: Path) -> None:
    header = ["Vintage", "Credit Status", "Quantity", "GSID", "Project Name", "Serial Number"]
    rows = [
        ["2024", "Issued", "100", "11236", "Cookstoves", "GS1-1-UG-GS11236-16-2024-30307-1-100"],
        ["2024", "Retired", "5", "11236", "Cookstoves", "GS1-1-UG-GS11236-16-2024-30307-101-105"],
        ["2024", "Canceled", "5", "11236", "Cookstoves", "GS1-1-UG-GS11236-16-2024-30307-106-110"],
        ["2023", "Issued", "5", "11236", "Cookstoves", "GS1-1-UG-GS11236-16-2024-30307-111-115"],
        ["2024", "Issued", "5", "11237", "Cookstoves", "GS1-1-UG-GS11236-16-2024-30307-116-120"],
        ["2024", "Pending", "5", "11236", "Cookstoves", "GS1-1-UG-GS11236-16-2024-30307-121-125"],
        ["2024", "Issued", "5", "11236", "Cookstoves", "GS1-1-UG-GS11236-16-2024-30308-1-5"],
        ["2024", "Issued", "5", "11236", "Cookstoves", "GS1-1-UG-GS11236-16-2024-30307-50-54"],
    ]
    plan = parse_registry_file(write_csv(tmp_path / "gs.csv", header, rows), "gold-standard")
    assert [(b.row, b.serial_prefix) for b in plan.batches] == [
        (2, "GS1-1-UG-GS11236-16-2024-30307"),
        (8, "GS1-1-UG-GS11236-16-2024-30308"),  # another block restarts at 1
    ]
    assert [(r.row, r.reason) for r in plan.refused] == [
        (3, "retired_at_source"),
        (4, "retired_at_source"),
        (5, "bad_vintage"),
        (6, "malformed_serial"),
        (7, "bad_status"),
        (9, "overlap_in_file"),
    ]


def test_unquoted_thousands_separator_is_refused_not_misread(tmp_path: Path) -> None:
    good = ",".join(f'"{v}"' for v in verra_row(1, 3_571))
    shifted = ",".join(verra_row(5_001, 8_571))  # "3,571" unquoted: one value too many
    path = tmp_path / "v.csv"
    path.write_text(",".join(VERRA_HEADER) + "\n" + good + "\n" + shifted + "\n")
    plan = parse_registry_file(path, "verra")
    assert [b.quantity for b in plan.batches] == [3_571]
    assert [(r.row, r.reason) for r in plan.refused] == [(3, "bad_field_count")]


# --- file-level handling -----------------------------------------------------------------------


def test_bom_crlf_blank_lines_whitespace_and_multiline_fields(tmp_path: Path) -> None:
    header = [f"  {h} " for h in VERRA_HEADER]  # stray whitespace in header names
    padded = [f" {v} " for v in verra_row(1, 3_571)]  # and around values
    note = verra_row(10_001, 10_010, retired="2026-01-01", details="line one\r\nline two\r\n")
    path = write_csv(tmp_path / "v.csv", header, [padded, note, verra_row(20_001, 20_002)], bom=True, crlf=True)
    raw = path.read_bytes()
    # Blank and whitespace-only lines between records.
    path.write_bytes(raw.replace(b"\r\n2026", b"\r\n\r\n   \r\n2026", 1))
    plan = parse_registry_file(path, "verra")
    assert plan.rows == 3
    assert [(b.row, b.quantity) for b in plan.batches] == [(2, 3_571), (8, 2)]
    assert [(r.row, r.reason) for r in plan.refused] == [(5, "retired_at_source")]
    lines = physical_lines(path)  # 3-4 blank, 5-7 the record with a two-line note
    assert lines[2 - 1].startswith(" 2026") and lines[8 - 1].startswith("2026")
    assert lines[5 - 1].startswith("2026") and lines[6 - 1] == "line two"


def test_missing_column_raises_clearly(tmp_path: Path) -> None:
    header = [h for h in VERRA_HEADER if h != "Serial Number"]
    path = write_csv(tmp_path / "v.csv", header, [verra_row(1, 2)[:8] + verra_row(1, 2)[9:]])
    with pytest.raises(CarbonixValueError, match="not a verra export: it has no 'Serial Number'"):
        parse_registry_file(path, "verra")
    path = write_csv(tmp_path / "t.csv", TVER_HEADER[:-1], [tver_row(1, 2)[:-1]])
    with pytest.raises(CarbonixValueError, match="'status'"):
        parse_registry_file(path, "tver")


def test_short_row_is_missing_field(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", TVER_HEADER, [tver_row(1, 2)[:4]])
    plan = parse_registry_file(path, "tver")
    assert [(r.row, r.reason) for r in plan.refused] == [(2, "missing_field")]
    assert "serial_number" in plan.refused[0].detail


def test_missing_file_unknown_format_bad_encoding_empty_file(tmp_path: Path) -> None:
    with pytest.raises(CarbonixLookupError, match="does not exist"):
        parse_registry_file(tmp_path / "nope.csv", "verra")
    with pytest.raises(CarbonixValueError, match="unknown registry format 'apx'"):
        parse_registry_file(MOSS, "apx")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(",".join(TVER_HEADER).encode() + b"\nTH-1,Caf\xe9\n")
    with pytest.raises(CarbonixValueError, match="line 2 is not UTF-8"):
        parse_registry_file(latin1, "tver")
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n")
    with pytest.raises(CarbonixValueError, match="no header row"):
        parse_registry_file(empty, "tver")


def test_ledger_refusals_break_runs(tmp_path: Path) -> None:
    header = ["serial_number", "issued_by", "project_id", "status", "type", "methodology",
              "date_issued", "date_retired"]  # fmt: skip

    def credit(n: int, status: str = "issued", kind: str = "A", issued: str = "2024-02-01") -> list[str]:
        return [f"CR{n:010d}", "CLIMATE_REFARM_PBC", "PR00003", status, kind, "M1", issued, ""]

    rows = [credit(1), credit(2), credit(3, kind="M"), credit(4), credit(5), credit(5),
            credit(6, status="pre_issued"), credit(7, issued="someday"), credit(9, kind="R"),
            ["CR-10", "CLIMATE_REFARM_PBC", "PR00003", "issued", "A", "M1", "2024-02-01", ""]]  # fmt: skip
    plan = parse_registry_file(write_csv(tmp_path / "l.csv", header, rows), "tver")
    assert [(b.row, b.serial_start, b.serial_end, b.credit_type) for b in plan.batches] == [
        (2, 1, 2, "avoidance"),
        (5, 4, 5, "avoidance"),
        (10, 9, 9, "removal"),
    ]
    assert [(r.row, r.reason) for r in plan.refused] == [
        (4, "bad_credit_type"),
        (7, "overlap_in_file"),
        (8, "bad_status"),
        (9, "bad_vintage"),
        (11, "malformed_serial"),
    ]


cells = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fmt=st.sampled_from(["verra", "tver"]),
    rows=st.lists(st.lists(cells | st.sampled_from(["1", "2024", "1,000", "issued"]), max_size=13), max_size=8),
)
def test_fuzz_garbage_rows_never_crash(tmp_path: Path, fmt: str, rows: list[list[str]]) -> None:
    header = VERRA_HEADER if fmt == "verra" else TVER_HEADER
    plan = parse_registry_file(write_csv(tmp_path / "fuzz.csv", header, [*rows, []]), fmt)
    assert len(plan.batches) + len(plan.refused) == plan.rows  # one outcome per record
    assert all(r.detail and r.reason for r in plan.refused)


def test_10k_rows_with_one_overlap(tmp_path: Path) -> None:
    """Its speed is a figure of `make bench` (bench/offchain_figures.py)."""
    rows = [verra_row(1 + 100 * i, 100 * (i + 1)) for i in range(10_000)]
    rows[5_000] = verra_row(1, 100)  # one duplicate
    path = write_csv(tmp_path / "big.csv", VERRA_HEADER, rows, bom=True, crlf=True)
    plan = parse_registry_file(path, "verra")
    assert (len(plan.batches), reasons(plan)) == (9_999, {"overlap_in_file": 1})
    assert plan.refused[0].row == 5_002  # the later of the two; the header is line 1
