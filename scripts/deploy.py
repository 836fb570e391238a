"""Deploy CarboniX: ``ape run deploy --network l2-local`` (what ``carbonix deploy`` runs).

For an L2 network this deploys its L1 first, then the L2; each network gets a manifest
(``<deployments_dir>/<network>.json``) and Blockscout verification payloads
(``<deployments_dir>/<network>/verify/<Contract>.json``). Contracts are compiled once, from one
standard JSON input built by ape-solidity with the compiler settings of foundry.toml.

Later contracts are one more ``Step`` (and ``Grant``) in the lists below. Constructor arguments
are functions of the deployment so far: ``d.deployer``, ``d.roles["tgo"]``, ``d["CarbonRegistry"]``
(any contract deployed earlier, on either layer).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import click
from ape import accounts, compilers, networks, project
from ape.api import AccountAPI
from ape.contracts import ContractContainer, ContractInstance
from eth_abi import encode
from eth_utils import get_abi_input_types, keccak, to_checksum_address
from ethpm_types import ContractType
from solcx import compile_standard
from solcx.install import get_executable

from carbonix import chain
from carbonix.config import Settings, get_settings
from carbonix.deployments import NETWORKS, ROLE_INDEX, Network, local_account, verify_dir

DEFAULT_ADMIN_ROLE = b"\x00" * 32
# The two foundry.toml settings ape-solidity has no config key for (bytecode_hash, cbor_metadata).
METADATA = {"bytecodeHash": "none", "appendCBOR": False}
LICENSE = "mit"

# NamedTuples and plain classes, not dataclasses: ape loads scripts without registering them in
# sys.modules, which @dataclass needs for string annotations.


class Deployed:
    """What the deployment knows so far, across both layers."""

    def __init__(self, deployer: str, roles: dict[str, str]) -> None:
        self.deployer = deployer
        self.roles = roles
        self.instances: dict[str, ContractInstance] = {}

    def __getitem__(self, name: str) -> str:
        return str(self.instances[name].address)

    @property
    def oracle_operators(self) -> list[str]:
        """The data log's operators: CARBONIX_ORACLE_OPERATORS (comma-separated addresses), else
        the oracle role's account alone (on local chains the dev "oracle" account)."""
        raw = os.environ.get("CARBONIX_ORACLE_OPERATORS", "").strip()
        if not raw:
            return [self.roles["oracle"]]
        try:
            operators = [str(to_checksum_address(a.strip())) for a in raw.split(",") if a.strip()]
        except ValueError as err:
            raise click.ClickException(f"CARBONIX_ORACLE_OPERATORS: {err}") from err
        if len(set(operators)) != len(operators):
            raise click.ClickException("CARBONIX_ORACLE_OPERATORS names an operator twice")
        if not 1 <= len(operators) <= MAX_OPERATORS:
            raise click.ClickException(f"CARBONIX_ORACLE_OPERATORS: give 1 to {MAX_OPERATORS} operator addresses")
        return operators

    @property
    def oracle_quorum(self) -> int:
        """CARBONIX_ORACLE_QUORUM (default 1): how many operator signatures a data-log commit needs."""
        raw = os.environ.get("CARBONIX_ORACLE_QUORUM", "1").strip()
        n = len(self.oracle_operators)
        if not raw.isdigit() or not 1 <= int(raw) <= min(n, MAX_QUORUM):
            raise click.ClickException(
                f"CARBONIX_ORACLE_QUORUM must be a whole number from 1 to {min(n, MAX_QUORUM)} "
                f"(the {n} operator(s) in CARBONIX_ORACLE_OPERATORS), not {raw!r}"
            )
        return int(raw)

    def holders(self, holder: str) -> list[str]:
        """The accounts a Grant's holder names: a role's account, or every data-log operator."""
        return self.oracle_operators if holder == "oracle_operators" else [self.roles[holder]]

    @property
    def baht(self) -> str:
        """The THB token: the local TestBaht, or CARBONIX_BAHT_TOKEN on a real network."""
        if "TestBaht" in self.instances:
            return self["TestBaht"]
        address = os.environ.get("CARBONIX_BAHT_TOKEN")
        if not address:
            raise click.ClickException("set CARBONIX_BAHT_TOKEN to the baht ERC-20 the exchange settles in")
        try:
            return str(to_checksum_address(address))
        except ValueError as err:
            raise click.ClickException(f"CARBONIX_BAHT_TOKEN: {err}") from err


class Step(NamedTuple):
    """Deploy ``contracts/<name>.sol:<name>`` with ``args(deployment)``; ``local_only`` steps
    (test tokens) are skipped on real networks."""

    name: str
    args: Callable[[Deployed], list[Any]]
    local_only: bool = False


class Call(NamedTuple):
    """``<contract>.<function>(*args(deployment))`` sent by the deployer while it is still admin."""

    contract: str
    function: str
    args: Callable[[Deployed], list[Any]]


class Grant(NamedTuple):
    """``<contract>.grantRole(<contract>.<role>(), account)`` for each account of ``holder``: a role
    name (``roles[holder]``) or ``oracle_operators`` (see ``Deployed.oracle_operators``)."""

    contract: str
    role: str
    holder: str


# Admin arguments are the deployer: it wires the roles, then hands admin over (see handover).
L1_STEPS: list[Step] = []
L1_GRANTS: list[Grant] = []

# The exchange's fee on trade value, in basis points (0.45 %, the business plan's figure).
EXCHANGE_FEE_BPS = 45
# EmissionDataLog's bounds on the operator quorum and the number of operators.
MAX_QUORUM = 16
MAX_OPERATORS = 32

L2_STEPS = [
    Step("CarbonRegistry", lambda d: [d.deployer]),
    Step("CarbonCredits", lambda d: [d.deployer, d["CarbonRegistry"]]),
    Step("EmissionDataLog", lambda d: [d.deployer, d["CarbonRegistry"]]),
    Step("SensorRegistry", lambda d: [d.deployer, d["CarbonRegistry"]]),
    Step("TestBaht", lambda d: [], local_only=True),
    Step(
        "Exchange",
        lambda d: [d.deployer, d["CarbonRegistry"], d["CarbonCredits"], d.baht, d.roles["treasury"], EXCHANGE_FEE_BPS],
    ),
    Step(
        "Settlement",
        lambda d: [
            d.deployer,
            d["CarbonRegistry"],
            d["CarbonCredits"],
            d["EmissionDataLog"],
            d.baht,
            d.roles["treasury"],
        ],
    ),
]
L2_CALLS = [
    # The exchange holds escrowed credits: the only holder besides verified participants (R1).
    Call("CarbonCredits", "setSystemHolder", lambda d: [d["Exchange"], True]),
    # Settlement mints the allowance credits participants earn under their cap, nothing else.
    Call("CarbonCredits", "grantRole", lambda d: [keccak(text="ALLOWANCE_ISSUER_ROLE"), d["Settlement"]]),
    # m of the n oracle operators sign each data-log commit (CARBONIX_ORACLE_QUORUM, default 1).
    Call("EmissionDataLog", "setQuorum", lambda d: [d.oracle_quorum]),
]
L2_GRANTS = [
    Grant("CarbonRegistry", "ORACLE_ROLE", "oracle"),
    Grant("CarbonCredits", "ISSUER_ROLE", "tgo"),
    Grant("EmissionDataLog", "REPORTER_ROLE", "oracle_operators"),
    Grant("Exchange", "REGULATOR_ROLE", "regulator"),
    Grant("Settlement", "REGULATOR_ROLE", "regulator"),
    Grant("SensorRegistry", "VERIFIER_ROLE", "verifier"),
]

PLAN = {"l1": (L1_STEPS, L1_GRANTS, []), "l2": (L2_STEPS, L2_GRANTS, L2_CALLS)}


class Build(NamedTuple):
    """One compilation: the standard JSON input, the compiler version, the contract types."""

    version: str
    standard_json: dict[str, Any]
    types: dict[str, ContractType]


def compile_contracts(names: list[str]) -> Build:
    paths = [project.path / "contracts" / f"{name}.sol" for name in names]
    inputs = compilers.solidity.get_standard_input_json(paths, project=project, metadata=METADATA)
    ((version, standard_json),) = inputs.items()
    output = compile_standard(
        standard_json,
        solc_binary=get_executable(version=version.base_version),
        base_path=project.path,
    )
    types = {}
    for name in names:
        out = output["contracts"][f"contracts/{name}.sol"][name]
        types[name] = ContractType.model_validate(
            {
                "contractName": name,
                "sourceId": f"contracts/{name}.sol",
                "abi": out["abi"],
                "deploymentBytecode": {"bytecode": "0x" + out["evm"]["bytecode"]["object"]},
                "runtimeBytecode": {"bytecode": "0x" + out["evm"]["deployedBytecode"]["object"]},
            }
        )
    return Build(str(version), standard_json, types)


def load_roles(net: Network, settings: Settings) -> tuple[AccountAPI, dict[str, str]]:
    """The deployer account and the role addresses (admin, tgo, oracle, verifier)."""
    if net.local:
        keys = {role: local_account(i, settings) for role, i in ROLE_INDEX.items()}
        admin = keys["admin"]
        deployer = accounts.init_test_account(0, admin.address, "0x" + bytes(admin.key).hex())
        return deployer, {role: key.address for role, key in keys.items()}
    names = {role: f"CARBONIX_{role.upper()}" for role in ROLE_INDEX}
    missing = [env for env in [*names.values(), "CARBONIX_DEPLOYER_ALIAS"] if env not in os.environ]
    if missing:
        raise click.ClickException(f"set {', '.join(missing)} to deploy to {net.name}")
    try:
        roles = {role: str(to_checksum_address(os.environ[env])) for role, env in names.items()}
    except ValueError as err:
        raise click.ClickException(f"a role address in {', '.join(names.values())}: {err}") from err
    # An ape keystore account; APE_ACCOUNTS_<alias>_PASSPHRASE unlocks it without a prompt.
    deployer = accounts.load(os.environ["CARBONIX_DEPLOYER_ALIAS"])
    if os.environ.get("CARBONIX_DEPLOYER_AUTOSIGN") == "1":  # else ape asks before each transaction
        deployer.set_autosign(True)
    return deployer, roles


def connect_uri(net: Network, settings: Settings) -> str:
    if net.local:
        return chain.rpc_url(settings, net.layer)
    if not os.environ.get(str(net.rpc_env)):
        raise click.ClickException(f"set {net.rpc_env} to the RPC URL of {net.name}")
    return os.environ[str(net.rpc_env)]


def deploy_network(net: Network, build: Build, deployed: Deployed, sender: AccountAPI, uri: str) -> dict[str, Any]:
    """Deploy and wire one network's contracts; return its manifest."""
    plan, grants, calls = PLAN[net.layer]
    steps = [step for step in plan if net.local or not step.local_only]
    provider = networks.provider
    entries: dict[str, Any] = {}
    for step in steps:
        contract_type = build.types[step.name]
        args = step.args(deployed)
        instance = sender.deploy(ContractContainer(contract_type), *args)
        receipt = provider.get_receipt(instance.txn_hash)
        deployed.instances[step.name] = instance
        abi = [item.model_dump(mode="json", by_alias=True) for item in contract_type.abi]
        ctor = next((item for item in abi if item["type"] == "constructor"), None)
        entries[step.name] = {
            "address": str(instance.address),
            "source": f"contracts/{step.name}.sol",
            "block_number": receipt.block_number,
            "tx_hash": _hex(receipt.txn_hash),
            "gas_used": receipt.gas_used,
            "constructor_args": [_jsonable(a) for a in args],
            "constructor_args_encoded": _hex(encode(get_abi_input_types(ctor) if ctor else [], args)),
            "abi": abi,
        }
    granted = []
    for grant in grants:
        contract = deployed.instances[grant.contract]
        role_id = getattr(contract, grant.role)()
        for holder in deployed.holders(grant.holder):
            receipt = contract.grantRole(role_id, holder, sender=sender)
            granted.append(
                {
                    **grant._asdict(),
                    "role_id": _hex(role_id),
                    "account": holder,
                    "tx_hash": _hex(receipt.txn_hash),
                    "gas_used": receipt.gas_used,
                }
            )
    wired = []
    for call in calls:
        args = call.args(deployed)
        receipt = getattr(deployed.instances[call.contract], call.function)(*args, sender=sender)
        wired.append(
            {
                "contract": call.contract,
                "function": call.function,
                "args": [_jsonable(a) for a in args],
                "tx_hash": _hex(receipt.txn_hash),
                "gas_used": receipt.gas_used,
            }
        )
    handover(net, deployed, sender, [deployed.instances[s.name] for s in steps if not s.local_only])
    settings = build.standard_json["settings"]
    return {
        "network": net.name,
        "layer": net.layer,
        "ape_network": net.ape_choice,
        "chain_id": provider.chain_id,
        "rpc_url": uri,
        "deployed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "deployer": deployed.deployer,
        "roles": deployed.roles,
        "compiler": {
            "version": build.version,
            "optimizer": settings["optimizer"]["enabled"],
            "runs": settings["optimizer"]["runs"],
            "evm_version": settings.get("evmVersion"),
            "via_ir": settings.get("viaIR", False),
            "bytecode_hash": settings["metadata"]["bytecodeHash"],
            "cbor_metadata": settings["metadata"]["appendCBOR"],
        },
        "contracts": entries,
        "grants": granted,
        "calls": wired,
    }


def handover(net: Network, deployed: Deployed, sender: AccountAPI, instances: list[ContractInstance]) -> None:
    """Give DEFAULT_ADMIN_ROLE to the configured admin and renounce the deployer's."""
    admin = deployed.roles["admin"]
    if admin.lower() == deployed.deployer.lower():
        return
    for instance in instances:
        instance.grantRole(DEFAULT_ADMIN_ROLE, admin, sender=sender)
        instance.renounceRole(DEFAULT_ADMIN_ROLE, deployed.deployer, sender=sender)
    click.echo(f"{net.name}: DEFAULT_ADMIN_ROLE handed over to {admin}")


def write_outputs(net: Network, manifest: dict[str, Any], build: Build, settings: Settings) -> Path:
    """Write the manifest and one Blockscout verification payload per contract."""
    folder = verify_dir(net.name, settings)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.json"):
        stale.unlink()
    for name, entry in manifest["contracts"].items():
        payload = {
            "address": entry["address"],
            "chain_id": manifest["chain_id"],
            "compiler_version": f"v{build.version}",
            "contract_name": f"{entry['source']}:{name}",
            "constructor_arguments": entry["constructor_args_encoded"].removeprefix("0x"),
            "license_type": LICENSE,
            "standard_json_input": build.standard_json,
        }
        (folder / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    out = settings.manifests_dir / f"{net.name}.json"
    out.write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def _hex(value: Any) -> str:
    return value if isinstance(value, str) else "0x" + bytes(value).hex()


def _jsonable(value: Any) -> Any:
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, bytes):
        return _hex(value)
    return str(value)


@click.command()
@click.option(
    "--network",
    "network_name",
    type=click.Choice(list(NETWORKS)),
    default=lambda: get_settings().network,
    show_default="CARBONIX_NETWORK or l2-local",
    help="CarboniX network to deploy to; an L2 network deploys its L1 too.",
)
def cli(network_name: str) -> None:
    """Deploy the CarboniX contracts and write the deployment manifests."""
    settings = get_settings()
    target = NETWORKS[network_name]
    nets = [NETWORKS[target.l1], target] if target.l1 else [target]
    names = [step.name for net in nets for step in PLAN[net.layer][0] if net.local or not step.local_only]
    sender, roles = load_roles(target, settings)
    deployed = Deployed(str(sender.address), roles)
    # Checked before anything is compiled or sent: a bad CARBONIX_ORACLE_QUORUM / _OPERATORS stops here.
    click.echo(f"data log: quorum {deployed.oracle_quorum} of {len(deployed.oracle_operators)} operator(s)")
    click.echo(f"compiling {', '.join(names)} ...")
    build = compile_contracts(names)
    for net in nets:
        uri = connect_uri(net, settings)
        with networks.parse_network_choice(net.ape_choice, provider_settings={"uri": uri}):
            manifest = deploy_network(net, build, deployed, sender, uri)
            path = write_outputs(net, manifest, build, settings)
        click.echo(f"{net.name} (chain {manifest['chain_id']}): {path}")
        for name, entry in manifest["contracts"].items():
            click.echo(f"  {name:<18} {entry['address']}")
