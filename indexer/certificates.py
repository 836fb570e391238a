"""Retirement certificates from the chain: every retirement of a transaction, as JSON and as a PDF.

A transaction may retire several times (one ``CreditsRetired`` event each). ``Ledger.certificates``
rebuilds them from the receipt alone; this module adds what a certificate shows besides the event
(chain id, contract, the project's standard, type and methodology from its ``ProjectRegistered``
event), the URL of the transaction, a JSON form and an A4 PDF with one page per retirement and a
QR code of that URL. Nothing here reads the indexer's database: a certificate is only ever what the
chain says, so it cannot name a wrong beneficiary or date, and its URL names the transaction.

Serials read ``<prefix> <first>-<last>`` as everywhere in the CLI. Times are the block's, in UTC
and in Thai time (UTC+7); claim periods are shown in UTC, as ``carbonix credits retire`` reads them.

The PDF draws text with the first TrueType font found that has Thai glyphs: ``CARBONIX_CERTIFICATE_FONT``
(a ``.ttf`` path), else a Thai font under the usual font folders (Noto Sans Thai, Sarabun, the TLWG
fonts Garuda, Loma, ...). Without one it falls back to DejaVu Sans, then Helvetica, and a page whose
text the font cannot draw says so on the page (the exact text stays in the PDF's metadata and the
JSON). No font is downloaded or shipped.
"""

from __future__ import annotations

import io
import logging
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.renderPDF import draw as draw_drawing
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas
from web3.exceptions import TransactionNotFound

from carbonix import enums
from carbonix.exceptions import CarbonixLookupError, CarbonixValueError
from carbonix.ids import project_key
from carbonix.ledger import Certificate, Ledger

log = logging.getLogger(__name__)

# Where a certificate's QR code and link point: ``<CARBONIX_EXPLORER_URL>/tx/<hash>`` (a Blockscout
# base, for instance), else the transaction resource of the CarboniX API.
EXPLORER_URL_ENV = "CARBONIX_EXPLORER_URL"
DEFAULT_TX_URL = "http://127.0.0.1:8000/v1/transactions/{tx_hash}"
# A TrueType font file to draw certificates with (one that has Thai glyphs).
FONT_ENV = "CARBONIX_CERTIFICATE_FONT"
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".local/share/fonts")
# Thai-capable fonts by file name, best first; any other ``*thai*.ttf`` is tried after these.
THAI_FONTS = (
    "NotoSansThai-Regular.ttf",
    "NotoSansThaiLooped-Regular.ttf",
    "NotoSerifThai-Regular.ttf",
    "Sarabun-Regular.ttf",
    "THSarabunNew.ttf",
    "Garuda.ttf",
    "Loma.ttf",
    "Kinnari.ttf",
    "Norasi.ttf",
    "Waree.ttf",
    "TlwgTypist.ttf",
)
FALLBACK_FONT = "DejaVuSans.ttf"
THAI_SAMPLE = "กขคงจฉชซญดตถทนบปผพฟมยรลวศษสหอฮะาิีึืุูเแโใไ่้๊๋์ั็ำ"

THAI_TIME = timezone(timedelta(hours=7))
_TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_LABELS = {
    "t_ver": "T-VER",
    "gold_standard": "Gold Standard",
    "cbam": "CBAM",
    "corsia": "CORSIA",
    "article6": "Article 6",
}


@dataclass(frozen=True)
class RetirementCertificate(Certificate):
    """A ``Certificate`` with where it lives on-chain and the project's registration.

    ``index`` is the retirement's position among the ``count`` retirements of its transaction
    (0-based, log order). ``standard``, ``project_type`` and ``methodology`` are None for a batch
    without a registered project (settlement allowances)."""

    chain_id: int
    credits_contract: str
    index: int
    count: int
    standard: str | None
    project_type: str | None
    methodology: str | None


def tx_hash_hex(tx_hash: str | bytes) -> str:
    """The canonical ``0x``-prefixed lowercase hex of a transaction hash, or a clear error."""
    if isinstance(tx_hash, bytes) and len(tx_hash) == 32:
        return "0x" + tx_hash.hex()
    if isinstance(tx_hash, str) and _TX_HASH.fullmatch(tx_hash):
        return tx_hash.lower()
    raise CarbonixValueError(f"{tx_hash!r} is not a transaction hash: expected 0x and 64 hex digits")


def transaction_url(tx_hash: str | bytes, base: str | None = None) -> str:
    """The public URL of a transaction: ``<base>/tx/<hash>`` for an explorer base (``base``, else
    env ``CARBONIX_EXPLORER_URL``), else the CarboniX API's ``/v1/transactions/<hash>``."""
    tx = tx_hash_hex(tx_hash)
    base = (os.environ.get(EXPLORER_URL_ENV, "") if base is None else base).strip().rstrip("/")
    if not base:
        return DEFAULT_TX_URL.format(tx_hash=tx)
    url = urlparse(base)
    if url.scheme not in {"http", "https"} or not url.netloc:
        raise CarbonixValueError(f"explorer URL {base!r} is not an http(s) URL (set {EXPLORER_URL_ENV})")
    return f"{base}/tx/{tx}"


def certificates_from_receipt(ledger: Ledger, tx_hash: str | bytes) -> list[RetirementCertificate]:
    """Every retirement of a transaction, in log order, rebuilt from the chain alone.

    Raises ``CarbonixValueError`` for a malformed hash and ``CarbonixLookupError`` for a transaction
    the chain does not have (or has not mined) or one that retired nothing."""
    tx = tx_hash_hex(tx_hash)
    chain_id = ledger.w3.eth.chain_id
    try:
        certificates = ledger.certificates(tx)
    except TransactionNotFound:
        raise CarbonixLookupError(f"no mined transaction {tx} on chain {chain_id}") from None
    projects = {c.project_id: project_registration(ledger, c.project_id) for c in certificates}
    certified = []
    for i, c in enumerate(certificates):
        standard, project_type, methodology = projects[c.project_id]
        certified.append(
            RetirementCertificate(
                **c.__dict__,
                chain_id=chain_id,
                credits_contract=ledger.credits.address,
                index=i,
                count=len(certificates),
                standard=standard,
                project_type=project_type,
                methodology=methodology,
            )
        )
    return certified


def project_registration(ledger: Ledger, project_id: str) -> tuple[str | None, str | None, str | None]:
    """Standard, type and methodology of a project from its ``ProjectRegistered`` event (the registry
    keeps only the methodology's hash in storage); all None for an unregistered project id."""
    logs = ledger.registry.events.ProjectRegistered.get_logs(
        from_block=ledger.from_block, argument_filters={"projectKey": project_key(project_id)}
    )
    if not logs:
        return None, None, None
    a = logs[0]["args"]
    return enums.name("Standard", a["standard"]), enums.name("ProjectType", a["projectType"]), str(a["methodology"])


def serial_range(cert: Certificate) -> str:
    """The retired serials as the CLI prints them: ``<prefix> <first>-<last>``."""
    return f"{cert.serial_prefix} {cert.serial_first}-{cert.serial_last}"


def iso_utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def iso_thai(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, THAI_TIME).isoformat()


def certificate_json(cert: Certificate, tx_url: str) -> dict[str, Any]:
    """A JSON-ready certificate: every field, the serial range as text, times in ISO 8601 (block time
    in UTC and Thai time), the transaction's URL and how to check it against the chain."""
    return {
        **cert.as_dict(),
        "serial_range": serial_range(cert),
        "block_time_utc": iso_utc(cert.timestamp),
        "block_time_thai": iso_thai(cert.timestamp),
        "claim_start_utc": iso_utc(cert.claim_start),
        "claim_end_utc": iso_utc(cert.claim_end),
        "tx_url": tx_url,
        "verify": verify_hint(cert, tx_url),
    }


def verify_hint(cert: Certificate, tx_url: str) -> str:
    where = f"transaction {cert.tx_hash}"
    if isinstance(cert, RetirementCertificate):
        where = (
            f"CreditsRetired event {cert.index + 1} of {cert.count} in {where} on chain {cert.chain_id} "
            f"(CarbonCredits {cert.credits_contract})"
        )
    hint = f"Open {tx_url} or read the chain: {where} carries holder, beneficiary, purpose, claim period and serials"
    if not isinstance(cert, RetirementCertificate) or cert.index == 0:
        hint += f"; `carbonix credits certificate {cert.tx_hash}` rebuilds it without any indexer"
    return hint + "."


# --- PDF ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateFont:
    """The fonts a certificate is drawn with; ``thai`` is whether they have Thai glyphs."""

    regular: str
    bold: str
    path: Path | None
    thai: bool

    def covers(self, text: str) -> bool:
        """Whether every character of ``text`` has a glyph in the font."""
        if self.path is None:  # a standard PDF font: WinAnsi only
            try:
                text.encode("cp1252")
            except UnicodeEncodeError:
                return False
            return True
        face = pdfmetrics.getFont(self.regular).face  # type: ignore[attr-defined]
        return all(ord(ch) in face.charToGlyph for ch in text if not ch.isspace())


def certificate_font() -> CertificateFont:
    """The font certificates are drawn with (see the module docstring for the search order)."""
    return _find_font(os.environ.get(FONT_ENV, "").strip())


@cache
def _find_font(configured: str) -> CertificateFont:
    if configured:
        font = _load_font(Path(configured))
        if font is None:
            raise CarbonixValueError(f"{FONT_ENV}={configured!r} is not a readable TrueType (.ttf) font")
        return font
    files = [p for d in FONT_DIRS if d.is_dir() for p in sorted(d.rglob("*.ttf"))]
    rank = {name.lower(): i for i, name in enumerate(THAI_FONTS)}
    thai = [p for p in files if p.name.lower() in rank or "thai" in p.name.lower()]
    for path in sorted(thai, key=lambda p: rank.get(p.name.lower(), len(rank))):
        font = _load_font(path)
        if font is not None and font.thai:
            return font
    log.warning("no font with Thai glyphs found (set %s): Thai names cannot be drawn", FONT_ENV)
    for path in files:
        if path.name == FALLBACK_FONT and (font := _load_font(path)) is not None:
            return font
    return CertificateFont("Helvetica", "Helvetica-Bold", None, thai=False)


def _load_font(path: Path) -> CertificateFont | None:
    """Registers a TrueType font (and its bold sibling if there is one); None if it does not load."""
    try:
        regular = TTFont(f"cert-{path.stem}", str(path))
    except (OSError, TTFError):
        return None
    pdfmetrics.registerFont(regular)
    bold_name = regular.fontName
    for sibling in (path.with_name(path.name.replace("Regular", "Bold")), path.with_stem(path.stem + "-Bold")):
        if sibling != path and sibling.is_file():
            try:
                pdfmetrics.registerFont(TTFont(f"cert-{sibling.stem}", str(sibling)))
            except (OSError, TTFError):
                continue
            bold_name = f"cert-{sibling.stem}"
            break
    thai = all(ord(ch) in regular.face.charToGlyph for ch in THAI_SAMPLE)
    return CertificateFont(regular.fontName, bold_name, path, thai)


def qr_code(tx_url: str, size: float = 38 * mm) -> Drawing:
    """A ``size`` x ``size`` drawing of a QR code (error correction M) that encodes ``tx_url``."""
    widget = QrCodeWidget(tx_url, barLevel="M")
    x1, y1, x2, y2 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
    drawing.add(widget)
    return drawing


def render_pdf(certs: Sequence[Certificate], tx_url: str, issuer: str = "CarboniX") -> bytes:
    """An A4 PDF, one page per retirement, each with a QR code (and link) of ``tx_url``.

    The same input gives the same bytes (no creation date, fixed document id)."""
    if not certs:
        raise CarbonixValueError("no certificates to render")
    font = certificate_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    first = certs[0]
    canvas.setTitle(f"Retirement certificate {first.tx_hash}")
    canvas.setAuthor(issuer)
    canvas.setCreator(issuer)
    canvas.setSubject("; ".join(f"{c.tonnes:,} tCO2e retired for {c.beneficiary} ({serial_range(c)})" for c in certs))
    for page, cert in enumerate(certs, 1):
        _draw_page(canvas, font, cert, tx_url, issuer, page, len(certs))
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


_INK = HexColor("#1B2A22")
_MUTED = HexColor("#5B6B62")
_ACCENT = HexColor("#1F7A4D")
_MONO = "Courier"
_THAI_LEADING = "เแโใไ"  # vowels written before the consonant they follow


def _label(value: str | None) -> str:
    if value is None:
        return "-"
    return _LABELS.get(value, value.replace("_", " ").capitalize())


def _claim_day(timestamp: int) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    if moment.time() == datetime.min.time():
        return moment.date().isoformat()
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _rows(cert: Certificate) -> list[tuple[str, str, bool]]:
    """(label, value, monospaced) of the details table."""
    block = datetime.fromtimestamp(cert.timestamp, UTC)
    rows = [
        ("Purpose", _label(cert.purpose), False),
        ("Quantity", f"{cert.tonnes:,} tCO2e", False),
        ("Serial range", serial_range(cert), False),
        ("Project", cert.project_id, False),
    ]
    if isinstance(cert, RetirementCertificate) and cert.standard is not None:
        rows.append(("Standard / type", f"{_label(cert.standard)}, {_label(cert.project_type)}", False))
        rows.append(("Methodology", cert.methodology or "-", False))
    rows += [
        ("Vintage", str(cert.vintage), False),
        ("Credit type", _label(cert.credit_type), False),
        ("Claim period", f"{_claim_day(cert.claim_start)} to {_claim_day(cert.claim_end)}", False),
        ("Holder", cert.holder, True),
        ("Block", f"{cert.block_number:,}", False),
        ("Block time (UTC)", block.strftime("%Y-%m-%d %H:%M:%S UTC"), False),
        ("Block time (Thai)", block.astimezone(THAI_TIME).strftime("%Y-%m-%d %H:%M:%S (UTC+7)"), False),
    ]
    if isinstance(cert, RetirementCertificate):
        rows.append(("Chain id", str(cert.chain_id), False))
        rows.append(("CarbonCredits", cert.credits_contract, True))
    rows.append(("Transaction", cert.tx_hash, True))
    return rows


def _draw_page(
    canvas: Canvas, font: CertificateFont, cert: Certificate, tx_url: str, issuer: str, page: int, pages: int
) -> None:
    width, height = A4
    left, right = 20 * mm, width - 20 * mm
    canvas.setFillColor(_ACCENT)
    canvas.rect(0, height - 9 * mm, width, 9 * mm, stroke=0, fill=1)

    y = height - 24 * mm
    canvas.setFillColor(_MUTED)
    canvas.setFont(font.regular, 10)
    canvas.drawString(left, y, issuer)
    if pages > 1:
        canvas.drawRightString(right, y, f"Retirement {page} of {pages} in this transaction")
    y -= 13 * mm
    canvas.setFillColor(_INK)
    canvas.setFont(font.bold, 26)
    canvas.drawString(left, y, "Retirement certificate")

    y -= 14 * mm
    canvas.setFont(font.regular, 11)
    canvas.drawString(left, y, f"{cert.tonnes:,} tCO2e of carbon credits were retired for good on behalf of")
    canvas.setFillColor(_ACCENT)
    size, lines = _fit(cert.beneficiary, font.bold, right - left)
    for line in lines:
        y -= size * 1.3
        canvas.setFont(font.bold, size)
        canvas.drawString(left, y, line)
    if not font.covers(cert.beneficiary):
        y -= 6 * mm
        canvas.setFillColor(_MUTED)
        canvas.setFont(font.regular, 8)
        canvas.drawString(
            left, y, "(Some characters of this name have no glyph in this PDF's font; see the transaction.)"
        )
        log.warning(
            "certificate %s: no glyph for some characters of %r (set %s)", cert.tx_hash, cert.beneficiary, FONT_ENV
        )

    y -= 12 * mm
    value_x = left + 42 * mm
    for label, value, mono in _rows(cert):
        canvas.setFillColor(_MUTED)
        canvas.setFont(font.regular, 9)
        canvas.drawString(left, y, label)
        canvas.setFillColor(_INK)
        face, size = (_MONO, 8.5) if mono else (font.regular, 10)
        lines = _wrap(value, face, size, right - value_x)
        for line in lines:
            canvas.setFont(face, size)
            canvas.drawString(value_x, y, line)
            y -= 5 * mm
        y -= 2 * mm

    qr_size = 40 * mm
    qr_x, qr_y = left, 22 * mm
    draw_drawing(qr_code(tx_url, qr_size), canvas, qr_x, qr_y)
    canvas.linkURL(tx_url, (qr_x, qr_y, qr_x + qr_size, qr_y + qr_size), relative=0)
    text_x = qr_x + qr_size + 6 * mm
    ty = qr_y + qr_size - 5 * mm
    canvas.setFillColor(_INK)
    canvas.setFont(font.bold, 10)
    canvas.drawString(text_x, ty, "Verify this retirement")
    ty -= 5 * mm
    canvas.setFont(font.regular, 8.5)
    canvas.setFillColor(_MUTED)
    for line in _wrap("Scan the code or open the transaction:", font.regular, 8.5, right - text_x):
        canvas.drawString(text_x, ty, line)
        ty -= 4.2 * mm
    canvas.setFillColor(_INK)
    canvas.setFont(_MONO, 7.5)
    for line in _wrap(tx_url, _MONO, 7.5, right - text_x):
        canvas.drawString(text_x, ty, line)
        ty -= 3.8 * mm
    ty -= 1.5 * mm
    canvas.setFillColor(_MUTED)
    canvas.setFont(font.regular, 8)
    note = (
        "Credits retired for good are burnt on-chain; the transaction's CreditsRetired event carries the "
        "beneficiary, purpose, claim period and serials shown here."
    )
    for line in _wrap(note, font.regular, 8, right - text_x):
        canvas.drawString(text_x, ty, line)
        ty -= 3.8 * mm
    canvas.setFont(font.regular, 7.5)
    canvas.drawRightString(right, 12 * mm, f"{issuer} · block {cert.block_number:,} · page {page} of {pages}")


def _fit(text: str, face: str, width: float, height: float = 42 * mm) -> tuple[float, list[str]]:
    """The largest size (18 pt down to 8 pt) at which ``text`` fits ``width`` x ``height``, and its
    lines; a name longer than that is cut, and says so."""
    for size in (18, 14, 11, 9, 8):
        lines = _wrap(text, face, size, width)
        if len(lines) * size * 1.3 <= height:
            return size, lines
    keep = int(height // (8 * 1.3))
    return 8, [*lines[: keep - 1], "... (cut here: the transaction has the full name)"]


def _wrap(text: str, face: str, size: float, width: float) -> list[str]:
    """``text`` in lines that fit ``width``: broken at spaces, and a word wider than a line (a URL, a
    Thai name, which has no spaces between words) between characters, never before a combining mark
    or after a Thai leading vowel."""
    lines: list[str] = []
    for line in simpleSplit(text, face, size, width) or [""]:
        while len(line) > 1 and pdfmetrics.stringWidth(line, face, size) > width:
            cut = len(line) - 1
            while cut > 1 and pdfmetrics.stringWidth(line[:cut], face, size) > width:
                cut -= 1
            while cut > 1 and (unicodedata.category(line[cut]).startswith("M") or line[cut - 1] in _THAI_LEADING):
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
        lines.append(line)
    return lines
