"""Read registry exports into serial-number ranges that CarboniX may tokenize.

``parse_registry_file(path, fmt)`` returns an :class:`ImportPlan`: the ranges to tokenize
(:class:`ImportedBatch`) and every record it refused (:class:`RefusedRow`, with the line the
record starts on and why). It never stops on a bad record; it raises only when the file as a whole
cannot be read: missing (``CarbonixLookupError``), unknown format, not UTF-8, or without the
columns the format needs (``CarbonixValueError``). Issuing the tokens and checking the ranges
against what is already on chain happen elsewhere.

Files are UTF-8 CSV with a header row; a byte-order mark, CRLF line ends, blank lines, stray
whitespace around values and header names (matched case-insensitively), thousands separators in
quantities (``"3,571"``) and quoted fields spanning several lines are all accepted. Row numbers
are physical line numbers (the header is line 1 if the file starts with it).

Formats
-------
``verra``: Verra VCU exports, both the registry's transaction/issuance search export (``ID``,
``Name``, ``Vintage Start``, ``Vintage End``, ``Quantity Issued``, ``Serial Number``, ``Project
Type``, ``Methodology``, ``Additional Certifications``, ``Retirement/Cancellation Date``) and the
sub-account holdings report (``Project ID``, ``Project Name``, ``Vintage`` as
``01/07/2014-31/12/2014``, ``Quantity of Credits``, ``Serial Number``). Serial
``BLOCK-START-END-VCS-VCU-...-PROJECT-DDMMYYYY-DDMMYYYY-N`` (or the older ``BLOCK-START-END-VCU-
005-APX-...``): START and END are the 2nd and 3rd fields, PROJECT must be the row's project ID and
the second date the row's vintage end. Verra numbers all VCUs in one sequence, so every Verra
range is in namespace ``VCS``; project id ``VCS-<ID>``.

``gold-standard``: Gold Standard issuance and retirement exports (``GSID``, ``Project Name``,
``Vintage``, ``Quantity``, ``Serial Number``, ``Credit Status``, ``Project Type``, ``Label``,
``Retirement Date``). Serial ``GS1-1-UG-GS11236-16-2024-30307-1-19149``: START and END are the
last two fields and everything before them is the namespace (each block restarts at 1); the
``GS<id>`` field must be the row's GSID and the year field its vintage. CDM CERs listed by Gold
Standard carry a Kyoto range ``RW-5-1459975-2-2-0-7014 - RW-5-1460107-2-2-0-7014`` (party, unit
type, serial, ...): START and END are the serial fields, namespace ``CDM-<party>``. Project id
``GS-<GSID>``.

``tver``: Thai T-VER credits (TGO), a CarboniX-defined CSV with the columns
``project_id, project_name, vintage, credit_type, serial_number, quantity, status``:

- ``vintage``: four-digit year; ``credit_type``: ``reduction``, ``removal`` or ``avoidance``;
- ``serial_number``: ``TVER-<project_id>-<vintage>-<start>-<end>`` (inclusive), namespace
  ``TVER-<project_id>-<vintage>``: each project numbers each vintage from 1;
- ``status``: ``issued`` (or ``active``) to tokenize; ``retired``, ``cancelled`` / ``canceled``
  and ``pre_retired`` are retired at source; anything else is refused (``bad_status``).

The ``tver`` format also reads a one-serial-per-credit ledger, as kept by Climate Refarm for its
Thai projects (``serial_number, issued_by, project_id, status, type, methodology, date_issued,
date_retired``; serial ``CR0000000001``): consecutive serials of the same project, status, type,
methodology and issue year, on consecutive rows, become one range whose ``row`` is its first
line and whose ``source_serial`` is ``FIRST..LAST``. Namespace ``<issued_by>-<serial letters>``;
vintage is the year of ``date_issued`` (the ledger has no vintage); type ``A``/``OFFSET.A`` is
avoidance, ``R`` removal, ``M`` (mixed) is refused; ``retired`` and ``pre_retired`` (sold forward
and retired) are retired at source, ``pre_issued`` is refused (not issued yet).

Rules
-----
Vintage: a year between 1990 and the current year. Verra: the year of the vintage end date (a
vintage 15/12/2013-14/12/2015 is 2015). Gold Standard and T-VER: the ``Vintage`` column, which
Gold Standard already assigns per calendar year.

Credit type: ``removal`` when the credits take CO2 out of the air (Verra label "Carbon Dioxide
Removals"; every Verra methodology one of A/R ``AR-*``, VM0042 agricultural land, VM0044 biochar,
VM0047 ARR, VM0017/VM0026/VM0032 grassland and soil, VM0024/VM0033 wetland restoration; Gold
Standard label "Emission Removal" or project type A/R); ``avoidance`` when they keep carbon that
is already stored out of the air (any other Verra "Agriculture Forestry and Other Land Use"
project: REDD+, avoided conversion, forest management, peat); ``reduction`` for everything else
(energy, cookstoves, waste, methane, transport, industry).

Refusals (``RefusedRow.reason``): ``missing_field`` (an empty required value), ``bad_field_count``
(more values than header columns: an unquoted comma), ``malformed_row`` (unreadable CSV),
``malformed_serial``, ``bad_quantity`` (not a positive whole number), ``quantity_mismatch``
(quantity is not END-START+1), ``bad_vintage``, ``bad_project_id``, ``bad_credit_type``,
``bad_status``, ``retired_at_source`` (retired or cancelled at the registry: never tokenized) and
``overlap_in_file`` (shares a serial with an earlier row of the same namespace; the detail names
that row). Ranges retired at source still count for overlaps, so a live duplicate of a retired
range is refused too.
"""

from __future__ import annotations

import csv
import io
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from carbonix.exceptions import CarbonixLookupError, CarbonixValueError

FORMATS = ("verra", "gold-standard", "tver")
CREDIT_TYPES = ("reduction", "removal", "avoidance")
VERRA_NAMESPACE = "VCS"
FIRST_VINTAGE = 1990


@dataclass(frozen=True)
class ImportedBatch:
    """A range of credits, live at the source registry, to tokenize."""

    row: int  # line where the record starts (header is line 1); records may span lines
    standard: str  # "verra" | "gold-standard" | "tver"
    project_id: str  # "VCS-<ID>", "GS-<GSID>" or the T-VER id as given
    project_name: str
    vintage: int
    credit_type: str  # "reduction" | "removal" | "avoidance"
    serial_prefix: str  # namespace: ranges can only overlap inside one
    serial_start: int
    serial_end: int  # inclusive
    source_serial: str  # as in the file

    @property
    def quantity(self) -> int:
        return self.serial_end - self.serial_start + 1


@dataclass(frozen=True)
class RefusedRow:
    """A record that will not be tokenized, and why."""

    row: int
    reason: str  # short machine code, see the module docstring
    detail: str  # a sentence naming the offending value


@dataclass
class ImportPlan:
    """What a registry file would give: ranges to tokenize and refused records."""

    path: str
    format: str
    rows: int  # data records in the file (header and blank lines not counted)
    batches: list[ImportedBatch]
    refused: list[RefusedRow]

    @property
    def credits(self) -> int:
        """Credits in all batches."""
        return sum(b.quantity for b in self.batches)


class _Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class _Candidate:
    """A well-formed range; ``retired`` says why it is retired at source ("" if live)."""

    batch: ImportedBatch
    retired: str = ""


class _Row:
    """One CSV record, read through the logical column names of a format."""

    def __init__(self, line: int, cells: list[str], columns: dict[str, tuple[int, str]]) -> None:
        self.line = line
        self._cells = cells
        self._columns = columns

    def get(self, name: str) -> str:
        index, _ = self._columns.get(name, (-1, ""))
        return self._cells[index].strip() if 0 <= index < len(self._cells) else ""

    def has(self, name: str) -> bool:
        return name in self._columns

    def need(self, name: str) -> str:
        value = self.get(name)
        if not value:
            label = self._columns[name][1] if name in self._columns else name
            raise _Refused("missing_field", f"the {label!r} value is empty")
        return value


_Parser = Callable[[list[_Row]], Iterator[_Candidate | RefusedRow]]


def parse_registry_file(path: str | Path, fmt: str) -> ImportPlan:
    """Read a registry export of format ``fmt`` (see the module docstring) into an import plan."""
    if fmt not in _FORMATS:
        raise CarbonixValueError(f"unknown registry format {fmt!r}; expected one of: {', '.join(FORMATS)}")
    path = Path(path)
    if not path.is_file():
        raise CarbonixLookupError(f"registry file {path} does not exist")
    header, records, refused = _read_csv(path)
    count = len(records) + len(refused)
    columns_spec, required, parse = _FORMATS[fmt](header)
    columns = _match_columns(path, fmt, header, columns_spec, required)
    items = parse([_Row(line, cells, columns) for line, cells in records])
    batches = _settle(items, refused)
    refused.sort(key=lambda r: r.row)
    return ImportPlan(str(path), fmt, count, batches, refused)


def _settle(items: Iterator[_Candidate | RefusedRow], refused: list[RefusedRow]) -> list[ImportedBatch]:
    """Keep the live ranges that overlap no earlier range; refuse (into ``refused``) the rest.

    A range retired at source still blocks later ones, and also takes down any earlier live range
    it overlaps: the file itself says some of those credits are retired.
    """
    seen = _RangeIndex()
    live: dict[int, ImportedBatch] = {}  # by row, in file order
    for item in items:
        if isinstance(item, RefusedRow):
            refused.append(item)
            continue
        batch = item.batch
        earlier = seen.overlapping(batch)
        if not earlier:
            seen.add(batch)
        if item.retired:
            refused.append(RefusedRow(batch.row, "retired_at_source", item.retired))
            for other in earlier:
                if live.pop(other.row, None):
                    detail = f"serials {_span(other)} include serials that row {batch.row} reports: {item.retired}"
                    refused.append(RefusedRow(other.row, "retired_at_source", detail))
        elif earlier:
            first = min(earlier, key=lambda b: b.row)
            detail = f"serials {_span(batch)} overlap serials {_span(first)} of row {first.row}"
            refused.append(RefusedRow(batch.row, "overlap_in_file", detail))
        else:
            live[batch.row] = batch
    return list(live.values())


def _span(batch: ImportedBatch) -> str:
    return f"{batch.serial_start}-{batch.serial_end} ({batch.source_serial}, namespace {batch.serial_prefix})"


# --- reading -----------------------------------------------------------------------------------


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]], list[RefusedRow]]:
    """Header cells, data records with the line each starts on, and unreadable records."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CarbonixValueError(
            f"{path}: line {line} is not UTF-8 (byte 0x{data[exc.start]:02x}); export the file as UTF-8 CSV"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    records: list[tuple[int, list[str]]] = []
    refused: list[RefusedRow] = []
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            end = reader.line_num
            refused.append(RefusedRow(start, "malformed_row", f"the record is not valid CSV: {exc}"))
            continue
        end = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = cells
        elif len(cells) > len(header):
            refused.append(
                RefusedRow(
                    start,
                    "bad_field_count",
                    f"the record has {len(cells)} values but the header has {len(header)} "
                    "columns (an unquoted comma, e.g. in a quantity like 3,571?)",
                )
            )
        else:
            records.append((start, cells))
    if header is None:
        raise CarbonixValueError(f"{path} is empty: no header row")
    return header, records, refused


def _norm(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split()).lower()


def _match_columns(
    path: Path,
    fmt: str,
    header: list[str],
    spec: dict[str, tuple[str, ...]],
    required: Sequence[str | tuple[str, ...]],
) -> dict[str, tuple[int, str]]:
    """Logical column name -> (index, header text); raise if a required column is absent."""
    index = {_norm(h): i for i, h in reversed(list(enumerate(header)))}
    columns: dict[str, tuple[int, str]] = {}
    for name, aliases in spec.items():
        for alias in aliases:
            if _norm(alias) in index:
                i = index[_norm(alias)]
                columns[name] = (i, header[i].strip())
                break
    for need in required:
        options = (need,) if isinstance(need, str) else need
        if not any(o in columns for o in options):
            wanted = " or ".join(repr(spec[o][0]) for o in options)
            raise CarbonixValueError(
                f"{path} is not a {fmt} export: it has no {wanted} column "
                f"(columns: {', '.join(h.strip() for h in header)})"
            )
    return columns


# --- shared field rules ------------------------------------------------------------------------

_QUANTITY = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.0+)?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?")
_DMY_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def _quantity(text: str) -> int:
    match = _QUANTITY.fullmatch(text)
    if not match or int(match.group(1).replace(",", "")) == 0:
        raise _Refused("bad_quantity", f"quantity {text!r} is not a positive whole number")
    return int(match.group(1).replace(",", ""))


def _check_range(start: int, end: int, quantity: int, serial: str) -> None:
    if start > end:
        raise _Refused("malformed_serial", f"serial {serial!r} ends ({end}) before it starts")
    if end - start + 1 != quantity:
        raise _Refused(
            "quantity_mismatch",
            f"quantity {quantity} does not match serial {serial!r}, "
            f"which covers {end - start + 1} credits ({start}-{end})",
        )


def _vintage_year(text: str) -> int:
    if not re.fullmatch(r"\d{4}", text):
        raise _Refused("bad_vintage", f"vintage {text!r} is not a year")
    return _check_year(int(text), text)


def _check_year(year: int, text: str) -> int:
    if not FIRST_VINTAGE <= year <= date.today().year:
        raise _Refused(
            "bad_vintage",
            f"vintage {text!r} is outside {FIRST_VINTAGE}-{date.today().year}",
        )
    return year


def _date(text: str) -> date:
    iso, dmy = _ISO_DATE.fullmatch(text), _DMY_DATE.fullmatch(text)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if dmy:
            return date(int(dmy[3]), int(dmy[2]), int(dmy[1]))
    except ValueError:
        pass
    raise _Refused("bad_vintage", f"vintage date {text!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)")


def _refuse(line: int, exc: _Refused) -> RefusedRow:
    return RefusedRow(line, exc.reason, exc.detail)


def _per_row(parse_row: Callable[[_Row], _Candidate]) -> _Parser:
    """A parser for formats where each record is one range."""

    def parse(rows: list[_Row]) -> Iterator[_Candidate | RefusedRow]:
        for row in rows:
            try:
                yield parse_row(row)
            except _Refused as exc:
                yield _refuse(row.line, exc)

    return parse


# --- Verra -------------------------------------------------------------------------------------

_VERRA_COLUMNS: dict[str, tuple[str, ...]] = {
    "project": ("ID", "Project ID"),
    "name": ("Name", "Project Name"),
    "quantity": ("Quantity Issued", "Quantity of Credits", "Quantity"),
    "serial": ("Serial Number",),
    "vintage_end": ("Vintage End",),
    "vintage_start": ("Vintage Start",),
    "vintage": ("Vintage",),
    "project_type": ("Project Type",),
    "methodology": ("Methodology",),
    "certifications": ("Additional Certifications",),
    "retired": ("Retirement/Cancellation Date", "Retirement Date", "Cancellation Date"),
}
_VERRA_REQUIRED: tuple[str | tuple[str, ...], ...] = ("project", "quantity", "serial", ("vintage_end", "vintage"))
_VERRA_SERIAL = re.compile(r"(\d+)-(\d+)-(\d+)-(?:VCS-)?VCU-(?:[^-]+-)+?(\d+)-(\d{8})-(\d{8})-\d+")
_AFOLU = "agriculture forestry and other land use"
_REMOVAL_METHODOLOGIES = re.compile(r"AR-.*|VM00(?:17|24|26|32|33|42|44|47)(?:\b.*)?", re.IGNORECASE)


def _verra_row(row: _Row) -> _Candidate:
    project = row.need("project")
    serial = row.need("serial")
    quantity_text = row.need("quantity")
    vintage_text = row.need("vintage_end" if row.has("vintage_end") else "vintage")
    if not project.isdigit():
        raise _Refused("bad_project_id", f"Verra project ID {project!r} is not a number")
    match = _VERRA_SERIAL.fullmatch(serial) if len(serial) <= 200 else None
    if not match:
        raise _Refused(
            "malformed_serial",
            f"serial {serial!r} is not a Verra VCU serial (BLOCK-START-END-VCS-VCU-...)",
        )
    if match[4] != project:
        raise _Refused("malformed_serial", f"serial {serial!r} names project {match[4]}, the row {project}")
    start, end = int(match[2]), int(match[3])
    quantity = _quantity(quantity_text)
    vintage_end = _verra_vintage_end(vintage_text)
    if row.get("vintage_start") and _date(row.get("vintage_start")) > vintage_end:
        detail = f"vintage start {row.get('vintage_start')!r} is after its end {vintage_text!r}"
        raise _Refused("bad_vintage", detail)
    serial_end = _date(f"{match[6][:2]}/{match[6][2:4]}/{match[6][4:]}")
    if serial_end != vintage_end:
        raise _Refused(
            "bad_vintage",
            f"vintage {vintage_text!r} does not end on {serial_end}, as serial {serial!r} says",
        )
    _check_range(start, end, quantity, serial)
    retired_on = row.get("retired")
    batch = ImportedBatch(
        row=row.line,
        standard="verra",
        project_id=f"VCS-{project}",
        project_name=row.get("name"),
        vintage=_check_year(vintage_end.year, vintage_text),
        credit_type=_verra_credit_type(row.get("project_type"), row.get("methodology"), row.get("certifications")),
        serial_prefix=VERRA_NAMESPACE,
        serial_start=start,
        serial_end=end,
        source_serial=serial,
    )
    retired = f"VCUs {serial} were retired or cancelled at Verra on {retired_on}"
    return _Candidate(batch, retired if retired_on else "")


def _verra_vintage_end(text: str) -> date:
    """The end of a vintage given as one date or as a ``start-end`` range of DD/MM/YYYY dates."""
    if "/" in text and "-" in text:
        first, _, last = text.partition("-")
        if _date(first.strip()) > _date(last.strip()):
            raise _Refused("bad_vintage", f"vintage {text!r} ends before it starts")
        return _date(last.strip())
    return _date(text)


def _verra_credit_type(project_type: str, methodology: str, certifications: str) -> str:
    if "carbon dioxide removal" in certifications.lower():
        return "removal"
    methods = [m.strip() for m in methodology.split(";") if m.strip()]
    if methods and all(_REMOVAL_METHODOLOGIES.fullmatch(m) for m in methods):
        return "removal"
    if _AFOLU in project_type.lower():
        return "avoidance"
    return "reduction"


# --- Gold Standard -----------------------------------------------------------------------------

_GS_COLUMNS: dict[str, tuple[str, ...]] = {
    "project": ("GSID",),
    "name": ("Project Name",),
    "quantity": ("Quantity",),
    "serial": ("Serial Number",),
    "vintage": ("Vintage",),
    "status": ("Credit Status", "Status"),
    "project_type": ("Project Type",),
    "label": ("Label",),
    "retired": ("Retirement Date",),
}
_GS_REQUIRED: tuple[str | tuple[str, ...], ...] = ("project", "quantity", "serial", "vintage")
_GS_SERIAL = re.compile(r"(GS\d+-\d+-[A-Z]{2}-GS(\d+)-\d+-(\d{4})-\d+)-(\d+)-(\d+)")
_CDM_SERIAL = re.compile(r"([A-Z]{2})-(\d+)-(\d+)-(\d+-\d+-\d+-\d+)\s+-\s+\1-\2-(\d+)-\4")
_GS_LIVE = {"issued"}
_GS_RETIRED = {"retired", "canceled", "cancelled"}


def _gold_standard_row(row: _Row) -> _Candidate:
    project = row.need("project")
    serial = row.need("serial")
    quantity_text = row.need("quantity")
    vintage_text = row.need("vintage")
    if not project.isdigit():
        raise _Refused("bad_project_id", f"GSID {project!r} is not a number")
    vintage = _vintage_year(vintage_text)
    if gs := _GS_SERIAL.fullmatch(serial):
        if gs[2] != project:
            detail = f"serial {serial!r} names GS{gs[2]}, the row GSID {project}"
            raise _Refused("malformed_serial", detail)
        if gs[3] != vintage_text:
            raise _Refused("bad_vintage", f"vintage {vintage_text} differs from serial {serial!r}")
        namespace, start, end = gs[1], int(gs[4]), int(gs[5])
    elif cdm := _CDM_SERIAL.fullmatch(serial):
        namespace, start, end = f"CDM-{cdm[1]}", int(cdm[3]), int(cdm[5])
    else:
        raise _Refused(
            "malformed_serial",
            f"serial {serial!r} is neither a Gold Standard serial (GS1-1-..-START-END) "
            "nor a CDM range (XX-5-START-... - XX-5-END-...)",
        )
    _check_range(start, end, _quantity(quantity_text), serial)
    status = row.get("status")
    if status and status.lower() not in _GS_LIVE | _GS_RETIRED:
        raise _Refused("bad_status", f"credit status {status!r} is neither Issued nor Retired")
    batch = ImportedBatch(
        row=row.line,
        standard="gold-standard",
        project_id=f"GS-{project}",
        project_name=row.get("name"),
        vintage=vintage,
        credit_type=_gs_credit_type(row.get("label"), row.get("project_type")),
        serial_prefix=namespace,
        serial_start=start,
        serial_end=end,
        source_serial=serial,
    )
    retired_on = row.get("retired")
    if status.lower() in _GS_RETIRED or retired_on:
        when = f" on {retired_on}" if retired_on else ""
        detail = f"credits {serial} are {status or 'retired'} at Gold Standard{when}"
        return _Candidate(batch, detail)
    return _Candidate(batch)


def _gs_credit_type(label: str, project_type: str) -> str:
    if "removal" in label.lower() or project_type.strip().upper() == "A/R":
        return "removal"
    return "reduction"


# --- T-VER -------------------------------------------------------------------------------------

_TVER_COLUMNS: dict[str, tuple[str, ...]] = {
    "project": ("project_id",),
    "name": ("project_name",),
    "vintage": ("vintage",),
    "credit_type": ("credit_type",),
    "serial": ("serial_number",),
    "quantity": ("quantity",),
    "status": ("status",),
}
_TVER_REQUIRED: tuple[str | tuple[str, ...], ...] = (
    "project",
    "vintage",
    "credit_type",
    "serial",
    "quantity",
    "status",
)
_TVER_SERIAL = re.compile(r"TVER-(.+)-(\d{4})-(\d+)-(\d+)")
_LIVE = {"issued", "active"}
_RETIRED = {"retired", "cancelled", "canceled", "pre_retired"}


def _tver_row(row: _Row) -> _Candidate:
    project = row.need("project")
    serial = row.need("serial")
    vintage_text = row.need("vintage")
    quantity_text = row.need("quantity")
    status = row.need("status").lower()
    credit_type = row.need("credit_type").lower()
    vintage = _vintage_year(vintage_text)
    match = _TVER_SERIAL.fullmatch(serial)
    if not match:
        raise _Refused(
            "malformed_serial",
            f"serial {serial!r} is not TVER-<project_id>-<vintage>-<start>-<end>",
        )
    if match[1] != project:
        detail = f"serial {serial!r} names project {match[1]!r}, the row {project!r}"
        raise _Refused("malformed_serial", detail)
    if match[2] != vintage_text:
        raise _Refused("bad_vintage", f"vintage {vintage_text} differs from serial {serial!r}")
    start, end = int(match[3]), int(match[4])
    _check_range(start, end, _quantity(quantity_text), serial)
    if credit_type not in CREDIT_TYPES:
        detail = f"credit type {credit_type!r} is not one of {', '.join(CREDIT_TYPES)}"
        raise _Refused("bad_credit_type", detail)
    if status not in _LIVE | _RETIRED:
        raise _Refused("bad_status", f"status {status!r} is neither issued nor retired")
    batch = ImportedBatch(
        row=row.line,
        standard="tver",
        project_id=project,
        project_name=row.get("name"),
        vintage=vintage,
        credit_type=credit_type,
        serial_prefix=f"TVER-{project}-{vintage}",
        serial_start=start,
        serial_end=end,
        source_serial=serial,
    )
    return _Candidate(batch, f"credits {serial} are {status} at TGO" if status in _RETIRED else "")


# --- one-serial-per-credit ledger (Climate Refarm), read under "tver" ---------------------------

_LEDGER_COLUMNS: dict[str, tuple[str, ...]] = {
    "serial": ("serial_number",),
    "issuer": ("issued_by",),
    "project": ("project_id",),
    "status": ("status",),
    "type": ("type",),
    "methodology": ("methodology",),
    "issued": ("date_issued",),
    "retired": ("date_retired",),
}
_LEDGER_REQUIRED: tuple[str | tuple[str, ...], ...] = ("serial", "issuer", "project", "status", "type", "issued")
_LEDGER_SERIAL = re.compile(r"([A-Za-z]+)(\d+)")
_LEDGER_TYPES = {"a": "avoidance", "offset.a": "avoidance", "r": "removal", "offset.r": "removal"}


@dataclass(frozen=True)
class _Credit:
    line: int
    key: tuple[str, ...]  # what must be equal along a run
    number: int
    serial: str
    batch: ImportedBatch
    retired: str  # status word if retired at source, else ""


def _parse_ledger(rows: list[_Row]) -> Iterator[_Candidate | RefusedRow]:
    run: list[_Credit] = []
    for row in rows:
        try:
            credit = _ledger_credit(row)
        except _Refused as exc:
            yield from _close_run(run)
            run = []
            yield _refuse(row.line, exc)
            continue
        if run and (run[-1].key != credit.key or run[-1].number + 1 != credit.number):
            yield from _close_run(run)
            run = []
        run.append(credit)
    yield from _close_run(run)


def _ledger_credit(row: _Row) -> _Credit:
    serial = row.need("serial")
    issuer = row.need("issuer")
    project = row.need("project")
    status = row.need("status").lower()
    type_code = row.need("type").lower()
    issued = row.need("issued")
    match = _LEDGER_SERIAL.fullmatch(serial)
    if not match:
        raise _Refused("malformed_serial", f"serial {serial!r} is not letters then digits")
    if type_code not in _LEDGER_TYPES:
        raise _Refused(
            "bad_credit_type",
            f"credit type {type_code!r} is not A (avoided) or R (removal); mixed credits "
            "have no single CarboniX credit type",
        )
    if status == "pre_issued":
        raise _Refused("bad_status", f"credit {serial} is pre_issued: sold forward, not issued yet")
    if status not in _LIVE | _RETIRED:
        raise _Refused("bad_status", f"status {status!r} is neither issued nor retired")
    vintage = _check_year(_date(issued).year, issued)
    number = int(match[2])
    prefix = match[1].upper()
    batch = ImportedBatch(
        row=row.line,
        standard="tver",
        project_id=project,
        project_name="",
        vintage=vintage,
        credit_type=_LEDGER_TYPES[type_code],
        serial_prefix=f"{issuer}-{prefix}",
        serial_start=number,
        serial_end=number,
        source_serial=serial,
    )
    retired = status if status in _RETIRED else ("retired" if row.get("retired") else "")
    key = (issuer, prefix, project, status, retired, type_code, row.get("methodology"), str(vintage))
    return _Credit(row.line, key, number, serial, batch, retired)


def _close_run(run: list[_Credit]) -> Iterator[_Candidate]:
    if not run:
        return
    first, last = run[0], run[-1]
    serials = first.serial if len(run) == 1 else f"{first.serial}..{last.serial}"
    batch = replace(first.batch, serial_end=last.number, source_serial=serials)
    if first.retired:
        lines = f"line {first.line}" if len(run) == 1 else f"lines {first.line}-{last.line}"
        detail = f"{len(run)} credits {serials} ({lines}) are {first.retired} at source"
        yield _Candidate(batch, detail)
    else:
        yield _Candidate(batch)


# --- format table and overlap index ------------------------------------------------------------

_Spec = tuple[dict[str, tuple[str, ...]], Sequence[str | tuple[str, ...]], _Parser]


def _tver_layout(header: list[str]) -> _Spec:
    names = {_norm(h) for h in header}
    if "issued_by" in names and "quantity" not in names:
        return _LEDGER_COLUMNS, _LEDGER_REQUIRED, _parse_ledger
    return _TVER_COLUMNS, _TVER_REQUIRED, _per_row(_tver_row)


_FORMATS: dict[str, Callable[[list[str]], _Spec]] = {
    "verra": lambda _: (_VERRA_COLUMNS, _VERRA_REQUIRED, _per_row(_verra_row)),
    "gold-standard": lambda _: (_GS_COLUMNS, _GS_REQUIRED, _per_row(_gold_standard_row)),
    "tver": _tver_layout,
}


class _RangeIndex:
    """Disjoint ranges per namespace, sorted by start, to find the one a new range overlaps."""

    def __init__(self) -> None:
        self._starts: dict[str, list[int]] = {}
        self._batches: dict[str, list[ImportedBatch]] = {}

    def overlapping(self, batch: ImportedBatch) -> list[ImportedBatch]:
        starts = self._starts.get(batch.serial_prefix, [])
        found = []
        i = bisect_right(starts, batch.serial_end) - 1
        while i >= 0 and self._batches[batch.serial_prefix][i].serial_end >= batch.serial_start:
            found.append(self._batches[batch.serial_prefix][i])
            i -= 1
        return found

    def add(self, batch: ImportedBatch) -> None:
        starts = self._starts.setdefault(batch.serial_prefix, [])
        i = bisect_right(starts, batch.serial_start)
        starts.insert(i, batch.serial_start)
        self._batches.setdefault(batch.serial_prefix, []).insert(i, batch)
