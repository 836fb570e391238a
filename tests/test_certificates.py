"""Retirement certificates (indexer/certificates.py) on the real test chain: JSON, PDF and QR code.

TGO lists two participants and a project, the project's credits are issued and part of them
transferred to a buyer, who retires them: once per transaction, twice in one transaction (an
EIP-7702 batch: the contracts let any holder retire as often as it likes in one transaction, and
anvil's default hardfork lets an account delegate to a batch executor), and for a Thai
beneficiary. The module runs inside one EVM snapshot, reverted at the end, so the other test
modules see the chain as deployed.
"""

from __future__ import annotations

import io
import json
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from pypdf import PdfReader
from reportlab.pdfbase import pdfmetrics

from carbonix import enums
from carbonix.config import PROJECT_ROOT, Settings
from carbonix.context import account, open_ledger
from carbonix.deployments import Deployment
from carbonix.exceptions import CarbonixLookupError, CarbonixValueError
from carbonix.ledger import Certificate, IssuedBatch, IssueRequest, Ledger
from carbonix.tgo import CertificationStore, OrgCertification, ProjectCertification, publish
from indexer.certificates import (
    EXPLORER_URL_ENV,
    FONT_ENV,
    RetirementCertificate,
    _wrap,
    certificate_font,
    certificate_json,
    certificates_from_receipt,
    qr_code,
    render_pdf,
    transaction_url,
)

PROJECT_ID = "TH-TVER-CERT-0001"
METHODOLOGY = "T-VER-S-METH-13-04"
PREFIX = "TVER-CERT-2025"
THAI = "สหกรณ์การเกษตรบ้านหนองข้าว"
Q1_2026 = (1_767_225_600, 1_774_915_200)  # 2026-01-01 and 2026-03-31, 00:00 UTC
ORGS = {  # dev account index -> (org id, account type, trade role, sector)
    4: ("CT-ORG-004", "corporation", "buyer", "industry"),
    5: ("CT-ORG-005", "ngo", "seller", "agriculture"),
}
# A batch executor for EIP-7702: the account that delegates to it runs several calls in one
# transaction, as itself. Only the account itself may call it.
EXECUTOR_SOURCE = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

contract BatchExecutor {
    struct Call { address target; bytes data; }
    error BatchExecutorNotSelf();

    function execute(Call[] calldata calls) external {
        if (msg.sender != address(this)) revert BatchExecutorNotSelf();
        for (uint256 i; i < calls.length; ++i) {
            (bool ok, bytes memory ret) = calls[i].target.call(calls[i].data);
            if (!ok) assembly { revert(add(ret, 32), mload(ret)) }
        }
    }
}
"""


@dataclass
class World:
    ledger: Ledger
    holder: LocalAccount
    batch: IssuedBatch
    transfer_tx: str


@pytest.fixture(scope="module")
def world(deployment: Deployment, chains: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    snapshot = deployment.w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        ledger = open_ledger(chains)
        store = CertificationStore(tmp_path_factory.mktemp("tgo-certificates"))
        acct = {i: account(str(i), settings=chains) for i in ORGS}
        now = int(ledger.w3.eth.get_block("latest")["timestamp"])
        oracle = account("oracle", settings=chains)
        orgs = [OrgCertification(o[0], acct[i].address, now + 365 * 86400) for i, o in ORGS.items()]
        publish(ledger, oracle, store, orgs=orgs, projects=[ProjectCertification(PROJECT_ID, acct[5].address, True)])
        for index, (org_id, kind, role, sector) in ORGS.items():
            wallet = acct[index]
            ledger.register_participant(wallet, org_id, kind, role, sector)
            entry = store.participant_proof(wallet.address)
            ledger.verify_participant(wallet, wallet.address, org_id, entry["certified_until"], entry["proof"])
        proof = store.project_proof(PROJECT_ID)["proof"]
        ledger.register_project(
            acct[5], PROJECT_ID, "t_ver", "agriculture", METHODOLOGY, 17.1545, 104.1348, True, proof
        )
        (batch,) = ledger.issue_batches(
            account("tgo", settings=chains), [IssueRequest(PROJECT_ID, 2025, "reduction", PREFIX, 1, 1_000)]
        )
        receipt = ledger.transfer(acct[5], acct[4].address, batch.batch_id, 800)
        yield World(ledger, acct[4], batch, receipt["transactionHash"].to_0x_hex())
    finally:
        deployment.w3.provider.make_request("evm_revert", [snapshot])


def retire(w: World, tonnes: int, beneficiary: str, purpose: str = "cbam") -> str:
    """Retires from the buyer's holding; returns the transaction hash."""
    cert = w.ledger.retire(w.holder, w.batch.batch_id, tonnes, beneficiary, purpose, *Q1_2026)
    return cert.tx_hash


def pdf_pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def pdf_links(pdf: bytes) -> list[str]:
    """The URIs of every link annotation of every page."""
    uris = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for annot in page.get("/Annots") or []:
            action = annot.get_object().get("/A")
            if action is not None and "/URI" in action:
                uris.append(str(action["/URI"]))
    return uris


def utc_day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).date().isoformat()


def base_fields(cert: Certificate) -> dict[str, Any]:
    """The fields a plain ``Certificate`` has, from any certificate."""
    return {name: getattr(cert, name) for name in Certificate.__dataclass_fields__}


# --- one retirement ----------------------------------------------------------------------------


def test_single_retirement_certificate_from_chain(world: World) -> None:
    w = world
    tx = retire(w, 150, "Bangkok Brewing Co., Ltd.")
    (cert,) = certificates_from_receipt(w.ledger, tx)
    receipt = w.ledger.w3.eth.get_transaction_receipt(tx)
    block = w.ledger.w3.eth.get_block(receipt["blockNumber"])
    assert isinstance(cert, RetirementCertificate)
    assert (cert.tx_hash, cert.block_number, cert.timestamp) == (tx, receipt["blockNumber"], block["timestamp"])
    assert (cert.project_id, cert.vintage, cert.credit_type, cert.serial_prefix) == (
        PROJECT_ID,
        2025,
        "reduction",
        PREFIX,
    )
    assert (cert.serial_first, cert.serial_last, cert.tonnes) == (1, 150, 150)
    assert (cert.holder, cert.beneficiary, cert.purpose) == (w.holder.address, "Bangkok Brewing Co., Ltd.", "cbam")
    assert (cert.claim_start, cert.claim_end) == Q1_2026
    assert (cert.standard, cert.project_type, cert.methodology) == ("t_ver", "agriculture", METHODOLOGY)
    assert (cert.chain_id, cert.credits_contract) == (w.ledger.w3.eth.chain_id, w.ledger.credits.address)
    assert (cert.index, cert.count) == (0, 1)
    assert base_fields(cert) == base_fields(w.ledger.certificate(tx))  # one code path with the CLI's


def test_certificate_json(world: World) -> None:
    w = world
    tx = retire(w, 25, "Chiang Mai Coffee Roasters")
    (cert,) = certificates_from_receipt(w.ledger, tx)
    url = transaction_url(tx, base="https://explorer.example")
    data = json.loads(json.dumps(certificate_json(cert, url)))  # JSON-ready: survives a round trip
    assert data["serial_range"] == f"{PREFIX} {cert.serial_first}-{cert.serial_last}"
    assert data["tonnes"] == 25
    assert (data["beneficiary"], data["project_id"], data["tx_hash"], data["tx_url"]) == (
        "Chiang Mai Coffee Roasters",
        PROJECT_ID,
        tx,
        f"https://explorer.example/tx/{tx}",
    )
    assert data["batch_id"] == hex(w.batch.batch_id)
    assert (data["standard"], data["methodology"], data["chain_id"]) == ("t_ver", METHODOLOGY, cert.chain_id)
    utc = datetime.fromisoformat(data["block_time_utc"].replace("Z", "+00:00"))
    thai = datetime.fromisoformat(data["block_time_thai"])
    assert data["block_time_utc"].endswith("Z") and data["block_time_thai"].endswith("+07:00")
    assert utc == thai == datetime.fromtimestamp(cert.timestamp, UTC)
    assert (data["claim_start_utc"], data["claim_end_utc"]) == ("2026-01-01T00:00:00Z", "2026-03-31T00:00:00Z")
    assert url in data["verify"] and f"carbonix credits certificate {tx}" in data["verify"]
    plain = certificate_json(w.ledger.certificate(tx), url)  # a plain Certificate (the CLI's) works too
    assert {k: v for k, v in data.items() if k in plain and k != "verify"} == {
        k: v for k, v in plain.items() if k != "verify"
    }


def test_pdf_shows_the_retirement_and_links_the_transaction(world: World) -> None:
    w = world
    tx = retire(w, 40, "Bangkok Brewing Co., Ltd.", "voluntary_offset")
    certs = certificates_from_receipt(w.ledger, tx)
    url = transaction_url(tx, base="")
    pdf = render_pdf(certs, url)
    assert pdf.startswith(b"%PDF-")
    (text,) = pdf_pages(pdf)
    cert = certs[0]
    for expected in (
        "Retirement certificate",
        "Bangkok Brewing Co., Ltd.",
        "40 tCO2e",
        f"{PREFIX} {cert.serial_first}-{cert.serial_last}",
        PROJECT_ID,
        METHODOLOGY,
        "Voluntary offset",
        "2026-01-01 to 2026-03-31",
        cert.holder,
        tx,
        utc_day(cert.timestamp),
        datetime.fromtimestamp(cert.timestamp, UTC).strftime("%H:%M:%S UTC"),
        f"{cert.block_number:,}",
    ):
        assert expected in text, expected
    assert pdf_links(pdf) == [url]  # the QR code is also a link to the transaction
    assert render_pdf(certs, url) == pdf  # deterministic


def test_qr_code_encodes_the_transaction_url(world: World) -> None:
    tx = retire(world, 5, "QR Co")
    url = transaction_url(tx, base="https://explorer.example")
    drawing = qr_code(url)
    (widget,) = drawing.contents
    assert widget.value == url
    assert (drawing.width, drawing.height) == pytest.approx((107.7, 107.7), abs=0.1)  # 38 mm


# --- two retirements in one transaction --------------------------------------------------------


def compile_executor() -> tuple[list[dict[str, Any]], str]:
    """ABI and bytecode of the batch executor, compiled by the project's solc (npm, no download)."""
    request = {
        "language": "Solidity",
        "sources": {"BatchExecutor.sol": {"content": EXECUTOR_SOURCE}},
        "settings": {"outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}},
    }
    shim = PROJECT_ROOT / "toolchain" / "solc-shim.js"
    result = subprocess.run(
        ["node", str(shim), "--standard-json"], input=json.dumps(request), capture_output=True, text=True, timeout=120
    )
    output = json.loads(result.stdout)
    assert not [e for e in output.get("errors", []) if e["severity"] == "error"], output["errors"]
    contract = output["contracts"]["BatchExecutor.sol"]["BatchExecutor"]
    return contract["abi"], "0x" + contract["evm"]["bytecode"]["object"]


def retire_twice_in_one_transaction(w: World, retirements: list[tuple[int, str, str]]) -> str:
    """The holder delegates to a batch executor (EIP-7702) and retires several times in one transaction."""
    w3, holder = w.ledger.w3, w.holder
    abi, bytecode = compile_executor()
    deployed = w.ledger.tx.transact(holder, w3.eth.contract(abi=abi, bytecode=bytecode).constructor())
    chain_id = w3.eth.chain_id
    nonce = w3.eth.get_transaction_count(holder.address)
    # The sender's own nonce goes up before the authorization is applied: it signs for nonce + 1.
    auth = holder.sign_authorization({"chainId": chain_id, "address": deployed["contractAddress"], "nonce": nonce + 1})
    calls = [
        (
            w.ledger.credits.address,
            w.ledger.credits.encode_abi(
                "retire",
                [w.batch.batch_id, tonnes, beneficiary, enums.index("RetirementPurpose", purpose), *Q1_2026],
            ),
        )
        for tonnes, beneficiary, purpose in retirements
    ]
    data = w3.eth.contract(address=holder.address, abi=abi).encode_abi("execute", [calls])
    fee = w3.eth.gas_price * 2
    tx = {
        "type": 4,
        "chainId": chain_id,
        "nonce": nonce,
        "to": holder.address,
        "value": 0,
        "data": data,
        "gas": 1_000_000,
        "maxFeePerGas": fee,
        "maxPriorityFeePerGas": fee // 2,
        "authorizationList": [auth],
    }
    tx_hash = w3.eth.send_raw_transaction(holder.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    assert receipt["status"] == 1
    return receipt["transactionHash"].to_0x_hex()


def test_two_retirements_in_one_transaction(world: World) -> None:
    w = world
    before = w.ledger.batch(w.batch.batch_id)["retired"]
    tx = retire_twice_in_one_transaction(w, [(30, "Phuket Resort Group", "corsia"), (12, THAI, "voluntary_offset")])
    first, second = certificates_from_receipt(w.ledger, tx)
    assert (first.tx_hash, second.tx_hash) == (tx, tx)
    assert first.block_number == second.block_number and first.timestamp == second.timestamp
    assert (first.index, first.count, second.index, second.count) == (0, 2, 1, 2)
    assert (first.beneficiary, first.purpose, first.tonnes) == ("Phuket Resort Group", "corsia", 30)
    assert (second.beneficiary, second.purpose, second.tonnes) == (THAI, "voluntary_offset", 12)
    assert (first.serial_first, first.serial_last) == (before + 1, before + 30)
    assert (second.serial_first, second.serial_last) == (before + 31, before + 42)
    assert first.holder == second.holder == w.holder.address
    assert w.ledger.batch(w.batch.batch_id)["retired"] == before + 42
    assert base_fields(w.ledger.certificate(tx)) == base_fields(first)  # the CLI's view: the first only

    url = transaction_url(tx)
    pages = pdf_pages(render_pdf([first, second], url))
    assert len(pages) == 2
    assert "Retirement 1 of 2 in this transaction" in pages[0]
    assert "Retirement 2 of 2 in this transaction" in pages[1]
    assert f"{PREFIX} {first.serial_first}-{first.serial_last}" in pages[0]
    assert f"{PREFIX} {second.serial_first}-{second.serial_last}" in pages[1]
    assert "30 tCO2e" in pages[0] and "12 tCO2e" in pages[1]
    assert all(tx in page for page in pages)
    hints = [certificate_json(c, url)["verify"] for c in (first, second)]
    assert "CreditsRetired event 1 of 2" in hints[0] and "CreditsRetired event 2 of 2" in hints[1]


# --- a Thai beneficiary ------------------------------------------------------------------------


def test_thai_beneficiary_round_trips_exactly(world: World) -> None:
    w = world
    tx = retire(w, 7, THAI)
    (cert,) = certificates_from_receipt(w.ledger, tx)
    assert cert.beneficiary == THAI
    assert THAI in json.dumps(certificate_json(cert, transaction_url(tx)), ensure_ascii=False)
    pdf = render_pdf([cert], transaction_url(tx))
    assert THAI in PdfReader(io.BytesIO(pdf)).metadata.subject  # whatever the fonts, the exact name is in the PDF
    (text,) = pdf_pages(pdf)
    if certificate_font().thai:
        assert THAI in text
    else:  # the page says it cannot draw the name instead of silently showing boxes
        assert "no glyph" in text


@pytest.mark.skipif(not certificate_font().thai, reason=f"no font with Thai glyphs on this machine (set {FONT_ENV})")
def test_thai_beneficiary_is_drawn_on_the_page(world: World) -> None:
    tx = retire(world, 3, THAI)
    (text,) = pdf_pages(render_pdf(certificates_from_receipt(world.ledger, tx), transaction_url(tx)))
    assert THAI in text
    assert "no glyph" not in text


def test_long_names_without_spaces_wrap_between_characters() -> None:
    """Thai writes no spaces between words: a long name breaks between characters, never before a
    combining mark (tone marks, above and below vowels) or after a leading vowel."""
    name = "สหกรณ์การเกษตรบ้านหนองข้าวเพื่อการพัฒนาแม่น้ำโขงจำกัด" * 3
    face = certificate_font().bold
    lines = _wrap(name, face, 18, 200)
    assert len(lines) > 1 and "".join(lines) == name
    assert all(pdfmetrics.stringWidth(line, face, 18) <= 200 for line in lines)
    assert not any(unicodedata.category(line[0]).startswith("M") for line in lines)
    assert not any(line[-1] in "เแโใไ" for line in lines)
    url = "https://blockscout.example/tx/0x" + "ab" * 32
    assert "".join(_wrap(url, "Courier", 7.5, 150)) == url


def test_configured_font_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv(FONT_ENV, str(tmp_path / "missing.ttf"))
    with pytest.raises(CarbonixValueError, match="is not a readable TrueType"):
        certificate_font()


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["0x1234", "not a hash", "0x" + "g" * 64, "0x" + "a" * 65, "a" * 66, "", b"\x01" * 31, 42],
)
def test_malformed_hash_is_a_value_error(world: World, bad: Any) -> None:
    with pytest.raises(CarbonixValueError, match="is not a transaction hash"):
        certificates_from_receipt(world.ledger, bad)
    with pytest.raises(CarbonixValueError, match="is not a transaction hash"):
        transaction_url(bad)


def test_unknown_transaction_is_a_lookup_error(world: World) -> None:
    unknown = "0x" + "ab" * 32
    with pytest.raises(CarbonixLookupError, match=f"no mined transaction {unknown}"):
        certificates_from_receipt(world.ledger, unknown)


def test_transaction_without_retirement_is_a_lookup_error(world: World) -> None:
    with pytest.raises(CarbonixLookupError, match="retired no credits"):
        certificates_from_receipt(world.ledger, world.transfer_tx)
    with pytest.raises(CarbonixLookupError, match="retired no credits"):  # upper-case hex is the same hash
        certificates_from_receipt(world.ledger, "0x" + world.transfer_tx[2:].upper())


def test_render_nothing_is_refused() -> None:
    with pytest.raises(CarbonixValueError, match="no certificates"):
        render_pdf([], transaction_url("0x" + "00" * 32))


# --- the URL -----------------------------------------------------------------------------------


def test_transaction_url(monkeypatch: pytest.MonkeyPatch) -> None:
    tx = "0x" + "AB" * 32
    monkeypatch.delenv(EXPLORER_URL_ENV, raising=False)
    assert transaction_url(tx) == f"http://127.0.0.1:8000/v1/transactions/0x{'ab' * 32}"
    assert transaction_url(bytes.fromhex("ab" * 32)) == transaction_url(tx)
    monkeypatch.setenv(EXPLORER_URL_ENV, "https://blockscout.example/ ")
    assert transaction_url(tx) == f"https://blockscout.example/tx/0x{'ab' * 32}"
    assert transaction_url(tx, base="http://other.example:4000") == f"http://other.example:4000/tx/0x{'ab' * 32}"
    monkeypatch.setenv(EXPLORER_URL_ENV, "blockscout.example")
    with pytest.raises(CarbonixValueError, match="is not an http"):
        transaction_url(tx)


def test_cli_prints_the_certificate_and_writes_the_pdf(world: World, tmp_path: Any) -> None:
    import json
    import sys
    from pathlib import Path

    tx = retire(world, 12, "CLI Cement Co")
    carbonix = str(Path(sys.executable).parent / "carbonix")
    out = tmp_path / "cert.pdf"
    done = subprocess.run([carbonix, "credits", "certificate", tx, "--pdf", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["tx_hash"], data["tonnes"], data["beneficiary"]) == (tx, 12, "CLI Cement Co")
    assert "CLI Cement Co" in "".join(pdf_pages(out.read_bytes()))
    bad = subprocess.run([carbonix, "credits", "certificate", "0x1234"], capture_output=True, text=True)
    assert bad.returncode == 1 and "not a transaction hash" in bad.stderr and "Traceback" not in bad.stderr
