"""/v1/transactions/{tx_hash}: the decoded events of a transaction as the chain says them, with
every enum argument by its name (from the ABI of the deployment manifest) and every integer exact.

The world and the served API are those of tests/test_api.py (its ``world`` and ``api`` fixtures:
the seeded workload with settlement, indexed into SQLite and PostgreSQL, served over real HTTP).
Each event with an enum argument that the world emitted is fetched from the API and compared,
argument by argument, with the log as web3 decodes it from the chain.
"""

from __future__ import annotations

from typing import Any

import test_api
from test_api import SECTORS, Api, assert_error, chain_logs

from carbonix import enums
from indexer.api import convert
from indexer.handlers import MAX_SAFE_JSON_INT

# the module fixtures of tests/test_api.py, reused: its world, indexed and served (SQLite, PostgreSQL)
world = test_api.world
api = test_api.api

# (contract, event, argument) with an enum type that the world's transactions emit
EXPECTED_ENUMS = {
    ("CarbonRegistry", "ParticipantRegistered", "accountType"),
    ("CarbonRegistry", "ParticipantRegistered", "tradeRole"),
    ("CarbonRegistry", "ParticipantRegistered", "sector"),
    ("CarbonRegistry", "ProjectRegistered", "standard"),
    ("CarbonRegistry", "ProjectRegistered", "projectType"),
    ("CarbonCredits", "BatchIssued", "creditType"),
    ("CarbonCredits", "CreditsRetired", "purpose"),
    ("EmissionDataLog", "EmissionBatchCommitted", "flow"),
    ("Exchange", "Traded", "takerSide"),
    ("Settlement", "TermsSet", "sector"),
    ("Settlement", "Settled", "sector"),
    ("Settlement", "Settled", "classification"),
}
PER_EVENT = 8  # transactions fetched per event type


def enum_of(param: dict[str, Any]) -> str | None:
    internal = str(param.get("internalType", ""))
    return internal.removeprefix("enum ").rsplit(".", 1)[-1] if internal.startswith("enum ") else None


def as_api_shows(param: dict[str, Any], value: Any) -> Any:
    """A web3-decoded event argument as the API documents it: enums by name, integers of 2^53 or
    more as decimal strings, bytes as 0x hex."""
    enum = enum_of(param)
    if enum is not None:
        return enums.name(enum, value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= MAX_SAFE_JSON_INT:
        return str(value)
    return value


def enum_events(api: Api) -> list[tuple[str, dict[str, Any]]]:
    """(contract, ABI event) of every event of the L2 manifest with an enum argument."""
    d = api.world.deployment
    return [
        (name, item)
        for name in d.names
        for item in d.abi(name)
        if item.get("type") == "event" and any(enum_of(i) for i in item["inputs"])
    ]


def event_of(body: dict[str, Any], log: Any) -> dict[str, Any]:
    (found,) = [e for e in body["events"] if e["log_index"] == log["logIndex"]]
    return found


def test_every_enum_type_of_the_manifests_is_declared_in_the_interfaces(api: Api) -> None:
    """The API names an enum through carbonix.enums; an enum it could not name would stay a number."""
    for name in api.world.deployment.names:
        for item in api.world.deployment.abi(name):
            for param in item.get("inputs", []) if item.get("type") == "event" else []:
                if (enum := enum_of(param)) is not None:
                    assert enums.members(enum), (name, item["name"], param["name"])
    found = {(c, e["name"], i["name"]) for c, e in enum_events(api) for i in e["inputs"] if enum_of(i)}
    assert found >= EXPECTED_ENUMS


def test_enum_arguments_come_back_by_name_and_match_the_chain(api: Api) -> None:
    """Every event with an enum argument (up to PER_EVENT of each kind), from the index: all its
    arguments equal the chain's log, enums by name, large integers as exact strings."""
    w = api.world
    head = max(c["cursor_block"] for c in api.get("/v1/health")["chains"] if c["chain_id"] == w.deployment.chain_id)
    checked: set[tuple[str, str, str]] = set()
    large = 0
    for contract, item in enum_events(api):
        logs = [lg for lg in chain_logs(w, w.deployment.contract(contract), item["name"]) if lg["blockNumber"] <= head]
        for log in logs[:PER_EVENT]:
            body = api.get(f"/v1/transactions/{log['transactionHash'].to_0x_hex()}")
            assert (body["source"], body["chain_id"], body["block_number"]) == (
                "index",
                w.deployment.chain_id,
                log["blockNumber"],
            )
            event = event_of(body, log)
            assert (event["contract"], event["event"]) == (contract, item["name"])
            expected = {i["name"]: as_api_shows(i, log["args"][i["name"]]) for i in item["inputs"]}
            assert event["args"] == expected, (contract, item["name"])
            for param in item["inputs"]:
                value = event["args"][param["name"]]
                if (enum := enum_of(param)) is not None:
                    assert value in enums.members(enum) and value == enums.name(enum, log["args"][param["name"]])
                    checked.add((contract, item["name"], param["name"]))
                elif isinstance(value, str) and param["type"].startswith(("uint", "int")):
                    assert int(value) == log["args"][param["name"]] >= MAX_SAFE_JSON_INT
                    large += 1
    assert checked >= EXPECTED_ENUMS, EXPECTED_ENUMS - checked
    assert large > 0  # ids and grade counts of 2^53 and more came back as exact strings


def test_known_registrations_trades_and_settlements_by_name(api: Api) -> None:
    """Values the world chose, by name: project types and standards, sectors, trade sides, purposes."""
    w = api.world
    ledger = w.w.ex.ledger
    kinds = {"TH-TVER-API-FOREST": "forestry", "TH-TVER-API-RICE": "agriculture"}
    for log in chain_logs(w, ledger.registry, "ProjectRegistered"):
        if log["args"]["projectId"] in kinds:
            body = api.get(f"/v1/transactions/{log['transactionHash'].to_0x_hex()}")
            args = event_of(body, log)["args"]
            assert (args["projectId"], args["standard"], args["projectType"]) == (
                log["args"]["projectId"],
                "t_ver",
                kinds.pop(log["args"]["projectId"]),
            )
    assert kinds == {}
    sectors = dict(zip((t.address for t in w.traders), SECTORS, strict=True))
    for log in chain_logs(w, ledger.registry, "ParticipantRegistered"):
        if log["args"]["wallet"] in sectors:
            args = event_of(api.get(f"/v1/transactions/{log['transactionHash'].to_0x_hex()}"), log)["args"]
            assert (args["accountType"], args["tradeRole"], args["sector"]) == (
                "corporation",
                "both",
                sectors.pop(log["args"]["wallet"]),
            )
    assert sectors == {}
    trades = w.w.ex.trades()
    assert {t.taker_side for t in trades} == {"ask", "bid"}
    for trade in trades[-10:]:
        body = api.get(f"/v1/transactions/{trade.tx_hash}")
        traded = [e for e in body["events"] if e["event"] == "Traded" and int(e["args"]["tradeId"]) == trade.trade_id]
        assert [e["args"]["takerSide"] for e in traded] == [trade.taker_side]
    body = api.get(f"/v1/transactions/{w.compliance_tx}")
    (retired,) = [e for e in body["events"] if e["event"] == "CreditsRetired"]
    assert retired["args"]["purpose"] == "compliance"
    settled = chain_logs(w, w.st.contract, "Settled")
    body = api.get(f"/v1/transactions/{settled[0]['transactionHash'].to_0x_hex()}")
    by_wallet = {e["args"]["participant"]: e["args"] for e in body["events"] if e["event"] == "Settled"}
    for trader, sector in zip(w.traders, SECTORS, strict=True):
        assert by_wallet[trader.address]["sector"] == sector
        assert by_wallet[trader.address]["classification"] in enums.members("Classification")


def test_a_transaction_the_indexer_has_not_seen_names_its_enums_too(api: Api) -> None:
    w = api.world
    w3 = w.deployment.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        cert = w.w.ex.ledger.retire(
            w.traders[2], w.w.batches[2], 3, "Enum Co-op", "corsia", 1_767_225_600, 1_774_915_200
        )
        body = api.get(f"/v1/transactions/{cert.tx_hash}")
        assert (body["source"], body["status"]) == ("chain", "success")
        (log,) = chain_logs(w, w.w.ex.ledger.credits, "CreditsRetired")[-1:]
        assert log["transactionHash"].to_0x_hex() == cert.tx_hash
        args = event_of(body, log)["args"]
        assert (args["purpose"], args["beneficiary"], args["holder"]) == ("corsia", "Enum Co-op", w.traders[2].address)
        assert args["purpose"] == enums.name("RetirementPurpose", log["args"]["purpose"])
        assert int(args["batchId"]) == w.w.batches[2]
    finally:
        w3.provider.make_request("evm_revert", [snapshot])
    assert_error(api.http.get(f"/v1/transactions/{cert.tx_hash}"), 404, "no chain this api follows")


def test_the_schema_documents_names_and_exact_integers(api: Api) -> None:
    spec = api.get("/v1/openapi.json")
    args = spec["components"]["schemas"]["TransactionEventPublic"]["properties"]["args"]
    assert "snake_case member names" in args["description"]
    assert "decimal string from 2^53" in args["description"]


def test_event_args_without_a_manifest_and_inside_arrays_and_tuples() -> None:
    side = {"name": "side", "type": "uint8", "internalType": "enum IExchange.Side"}
    sides = {"name": "sides", "type": "uint8[2]", "internalType": "enum IExchange.Side[2]"}
    pair = {
        "name": "pair",
        "type": "tuple[]",
        "internalType": "struct X.Pair[]",
        "components": [
            {"name": "sector", "type": "uint8", "internalType": "enum ICarbonRegistry.Sector"},
            {"name": "amount", "type": "uint256", "internalType": "uint256"},
        ],
    }
    unknown = {"name": "mystery", "type": "uint8", "internalType": "enum X.NotDeclared"}
    inputs = {p["name"]: p for p in (side, sides, pair, unknown)}
    args = {
        "side": 1,
        "sides": [0, 1],
        "pair": [[5, 2**53], [0, 7]],
        "mystery": 3,
        "id": 2**256 - 1,
        "small": -(2**53) + 1,
        "ok": True,
        "big": "9007199254740993",
    }
    assert convert.event_args(inputs, args) == {
        "side": "bid",
        "sides": ["ask", "bid"],
        "pair": [["forestry", str(2**53)], ["energy", 7]],
        "mystery": 3,
        "id": str(2**256 - 1),
        "small": -(2**53) + 1,
        "ok": True,
        "big": "9007199254740993",
    }
    assert convert.event_args(None, {"side": 1, "id": 2**60}) == {"side": 1, "id": str(2**60)}
