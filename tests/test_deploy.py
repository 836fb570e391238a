"""carbonix deploy: the real ape deployment to the test chains, its manifests and payloads."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from eth_account import Account
from web3 import Web3

from carbonix import chain, deployments
from carbonix.config import PROJECT_ROOT, Settings
from carbonix.deployments import Deployment
from carbonix.exceptions import CarbonixError, CarbonixLookupError

L2_CONTRACTS = [
    "CarbonRegistry",
    "CarbonCredits",
    "EmissionDataLog",
    "SensorRegistry",
    "TestBaht",
    "Exchange",
    "Settlement",
]
DEFAULT_ADMIN_ROLE = b"\x00" * 32
ROLES = list(deployments.ROLE_INDEX)


def test_manifest_has_code_receipts_and_settings(deployment: Deployment) -> None:
    m = deployment.manifest
    assert (m["network"], m["layer"], m["chain_id"]) == ("l2-local", "l2", 555888)
    assert deployment.w3.eth.chain_id == 555888
    assert m["rpc_url"] == deployment.rpc_url
    assert m["deployer"] == deployments.role_account("admin").address
    assert m["roles"] == {r: deployments.role_account(r).address for r in deployments.ROLE_INDEX}
    assert m["compiler"] == {
        "version": "0.8.28+commit.7893614a",
        "optimizer": True,
        "runs": 10000,
        "evm_version": "cancun",
        "via_ir": False,
        "bytecode_hash": "none",
        "cbor_metadata": False,
    }
    assert set(L2_CONTRACTS) <= set(deployment.names)
    for name in L2_CONTRACTS:
        entry = m["contracts"][name]
        assert len(deployment.w3.eth.get_code(entry["address"])) > 0
        receipt = deployment.w3.eth.get_transaction_receipt(entry["tx_hash"])
        assert receipt["contractAddress"] == entry["address"]
        assert receipt["blockNumber"] == entry["block_number"]
        assert receipt["gasUsed"] == entry["gas_used"]
        if name != "TestBaht":  # the only contract without constructor arguments
            assert any(item["type"] == "constructor" for item in entry["abi"])
    registry = m["contracts"]["CarbonRegistry"]["address"]
    assert m["contracts"]["CarbonCredits"]["constructor_args"] == [m["deployer"], registry]
    assert deployment.from_block == m["contracts"]["CarbonRegistry"]["block_number"]
    c = m["contracts"]
    assert c["Exchange"]["constructor_args"] == [
        m["deployer"],
        registry,
        c["CarbonCredits"]["address"],
        c["TestBaht"]["address"],
        m["roles"]["treasury"],
        45,
    ]


def test_l1_manifest_is_written(l1_deployment: Deployment) -> None:
    m = l1_deployment.manifest
    assert (m["network"], m["layer"], m["chain_id"]) == ("l1-local", "l1", 8899)
    assert l1_deployment.w3.eth.chain_id == 8899
    assert m["roles"]["tgo"] == deployments.role_account("tgo").address
    assert isinstance(m["contracts"], dict)


def test_roles_are_granted(deployment: Deployment) -> None:
    roles = deployment.roles
    registry = deployment.contract("CarbonRegistry")
    credits = deployment.contract("CarbonCredits")
    datalog = deployment.contract("EmissionDataLog")
    exchange = deployment.contract("Exchange")
    settlement = deployment.contract("Settlement")
    sensors = deployment.contract("SensorRegistry")
    granted = [
        (registry, registry.functions.ORACLE_ROLE().call(), roles["oracle"]),
        (credits, credits.functions.ISSUER_ROLE().call(), roles["tgo"]),
        (datalog, datalog.functions.REPORTER_ROLE().call(), roles["oracle"]),
        (exchange, exchange.functions.REGULATOR_ROLE().call(), roles["regulator"]),
        (settlement, settlement.functions.REGULATOR_ROLE().call(), roles["regulator"]),
        (credits, credits.functions.ALLOWANCE_ISSUER_ROLE().call(), settlement.address),
        (sensors, sensors.functions.VERIFIER_ROLE().call(), roles["verifier"]),
    ]
    for contract, role, holder in granted:
        assert contract.functions.hasRole(role, holder).call()
        if holder != roles["verifier"]:  # least privilege: the verifier holds only its own role
            assert not contract.functions.hasRole(role, roles["verifier"]).call()
        assert contract.functions.hasRole(DEFAULT_ADMIN_ROLE, roles["admin"]).call()
    assert len(deployment.manifest["grants"]) == 6
    assert all(g["gas_used"] > 0 for g in deployment.manifest["grants"])
    # The exchange may hold credits (escrow); nobody else who is not a verified participant can.
    assert credits.functions.isSystemHolder(exchange.address).call()
    holder, allowance, quorum = deployment.manifest["calls"]
    assert (holder["contract"], holder["function"], holder["args"]) == (
        "CarbonCredits",
        "setSystemHolder",
        [exchange.address, True],
    )
    # Settlement mints allowance credits: the only holder of that role.
    assert (allowance["function"], allowance["args"][1]) == ("grantRole", settlement.address)
    # The data log's operators: the oracle alone by default, quorum 1 (CARBONIX_ORACLE_QUORUM).
    assert (quorum["contract"], quorum["function"], quorum["args"]) == ("EmissionDataLog", "setQuorum", [1])
    (operator,) = [g for g in deployment.manifest["grants"] if g["contract"] == "EmissionDataLog"]
    assert (operator["holder"], operator["account"]) == ("oracle_operators", roles["oracle"])
    assert datalog.functions.quorum().call() == 1
    assert datalog.functions.operators().call() == [roles["oracle"]]
    assert exchange.functions.treasury().call() == roles["treasury"]


def test_signer_web3_sends_as_a_role(l2_snapshot: Deployment) -> None:
    oracle = deployments.role_account("oracle")
    w3 = l2_snapshot.signer_web3(oracle)
    registry = l2_snapshot.contract("CarbonRegistry", web3=w3)
    root = Web3.keccak(text="test root")
    tx_hash = registry.functions.publishParticipantRoot(root).transact()
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    assert receipt["from"] == oracle.address


@cache
def recompile(standard_json: str) -> dict[str, Any]:
    """Compile a payload's standard JSON with the npm solc, asking for immutable positions."""
    data = json.loads(standard_json)
    data["settings"]["outputSelection"] = {
        "*": {"*": ["evm.deployedBytecode.object", "evm.deployedBytecode.immutableReferences"]}
    }
    shim = PROJECT_ROOT / "toolchain" / "solc-shim.js"
    result = subprocess.run(
        ["node", str(shim), "--standard-json"],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        check=True,
    )
    output: dict[str, Any] = json.loads(result.stdout)
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    assert not errors, errors
    return output


def masked(code: bytes, immutables: dict[str, list[dict[str, int]]]) -> bytes:
    out = bytearray(code)
    for refs in immutables.values():
        for ref in refs:
            out[ref["start"] : ref["start"] + ref["length"]] = bytes(ref["length"])
    return bytes(out)


@pytest.mark.parametrize("name", L2_CONTRACTS)
def test_verification_payload_recompiles_to_deployed_code(deployment: Deployment, chains: Settings, name: str) -> None:
    entry = deployment.manifest["contracts"][name]
    path = deployments.verify_dir("l2-local", chains) / f"{name}.json"
    payload = json.loads(path.read_text())
    assert payload["contract_name"] == f"contracts/{name}.sol:{name}"
    assert payload["compiler_version"] == "v0.8.28+commit.7893614a"
    assert payload["address"] == entry["address"]
    ctor = next((item for item in entry["abi"] if item["type"] == "constructor"), {"inputs": []})
    types = [i["type"] for i in ctor["inputs"]]
    assert payload["constructor_arguments"] == encode(types, entry["constructor_args"]).hex()
    sources = payload["standard_json_input"]["sources"]
    assert all("content" in source for source in sources.values())

    output = recompile(json.dumps(payload["standard_json_input"], sort_keys=True))
    compiled = output["contracts"][f"contracts/{name}.sol"][name]["evm"]["deployedBytecode"]
    immutables = compiled["immutableReferences"]
    onchain = bytes(deployment.w3.eth.get_code(entry["address"]))
    assert masked(onchain, immutables) == masked(bytes.fromhex(compiled["object"]), immutables)


def test_missing_manifest_says_run_deploy(chains: Settings) -> None:
    with pytest.raises(CarbonixLookupError, match="run `carbonix deploy`"):
        deployments.load_deployment(chains, "dustboy")


def test_unknown_contract_is_a_lookup_error(deployment: Deployment) -> None:
    with pytest.raises(CarbonixLookupError, match="no contract 'Nope'"):
        deployment.contract("Nope")


def test_real_network_deploy_hands_admin_over(
    own_chains: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The `dustboy` path: RPC URLs and roles from the environment, an ape keystore deployer,
    and DEFAULT_ADMIN_ROLE moved from the deployer to CARBONIX_ADMIN. Local anvils stand in."""
    l1, l2 = chain.up(own_chains, detach=False)
    # An ape keystore account, as `ape accounts import` writes it, in an ape folder of our own.
    deployer = deployments.local_account(5)
    keystore = tmp_path / "ape" / "accounts" / "cx-deployer.json"
    keystore.parent.mkdir(parents=True)
    keystore.write_text(json.dumps(Account.encrypt(deployer.key, "a passphrase")))
    monkeypatch.setenv("APE_DATA_FOLDER", str(tmp_path / "ape"))
    roles = {role: deployments.local_account(6 + i).address for i, role in enumerate(ROLES)}
    env = {f"CARBONIX_{role.upper()}": address for role, address in roles.items()}
    env |= {"JIBCHAIN_RPC_URL": l1.url, "DUSTBOY_L2_RPC_URL": l2.url}
    env |= {"CARBONIX_DEPLOYER_ALIAS": "cx-deployer", "CARBONIX_DEPLOYER_AUTOSIGN": "1"}
    env |= {"APE_ACCOUNTS_cx-deployer_PASSPHRASE": "a passphrase"}
    env |= {"CARBONIX_BAHT_TOKEN": deployments.local_account(19).address}  # a real network's baht
    # Three oracle operators, two of which must sign each data-log commit.
    operators = [deployments.local_account(16 + i).address for i in range(3)]
    env |= {"CARBONIX_ORACLE_OPERATORS": ", ".join(operators), "CARBONIX_ORACLE_QUORUM": "2"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    live = deployments.run_deploy("dustboy", own_chains, capture=True)

    assert (live.rpc_url, live.chain_id) == (l2.url, 555888)
    assert live.manifest["deployer"] == deployer.address
    assert live.roles == roles
    assert deployments.load_deployment(own_chains, "jibchain").rpc_url == l1.url
    for contract in live.contracts.values():
        assert contract.functions.hasRole(DEFAULT_ADMIN_ROLE, roles["admin"]).call()
        assert not contract.functions.hasRole(DEFAULT_ADMIN_ROLE, deployer.address).call()
    registry = live.contract("CarbonRegistry")
    assert registry.functions.hasRole(registry.functions.ORACLE_ROLE().call(), roles["oracle"]).call()
    assert "TestBaht" not in live.names  # test tokens stay on local chains
    assert live.contract("Exchange").functions.treasury().call() == roles["treasury"]
    datalog = live.contract("EmissionDataLog")
    assert datalog.functions.operators().call() == operators
    assert datalog.functions.quorum().call() == 2
    assert not datalog.functions.hasRole(datalog.functions.REPORTER_ROLE().call(), roles["oracle"]).call()
    assert [g["account"] for g in live.manifest["grants"] if g["contract"] == "EmissionDataLog"] == operators
    assert live.manifest["calls"][-1]["args"] == [2]


def test_deploy_refuses_a_quorum_above_its_operators(own_chains: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """CARBONIX_ORACLE_QUORUM is checked before anything is sent."""
    chain.up(own_chains, detach=False)
    monkeypatch.setenv("CARBONIX_ORACLE_QUORUM", "2")  # with the oracle as the only operator
    with pytest.raises(CarbonixError, match="CARBONIX_ORACLE_QUORUM must be a whole number from 1 to 1"):
        deployments.run_deploy("l2-local", own_chains, capture=True)
    assert not deployments.manifest_path("l2-local", own_chains).exists()
