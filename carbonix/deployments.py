"""Deployment manifests: where the contracts are, and how to reach them from Python.

``carbonix deploy`` (``ape run deploy``, scripts/deploy.py) writes one manifest per network to
``<deployments_dir>/<network>.json``; every Python service reads it through :func:`load`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.middleware import SignAndSendRawMiddlewareBuilder

from carbonix import chain
from carbonix.config import PROJECT_ROOT, Settings, get_settings
from carbonix.exceptions import CarbonixError, CarbonixLookupError

# py-solc-x finds the npm solc here (`make setup` links toolchain/solc-shim.js as solc-v0.8.28).
SOLCX_DIR = PROJECT_ROOT / ".tools" / "solcx"
# Local role keys: index in the dev mnemonic. Indexes 4 and up are participants.
# Dev accounts of the local chains, by role; participants use 4-9 and 12 on (chain up funds 20).
ROLE_INDEX = {"admin": 0, "tgo": 1, "oracle": 2, "verifier": 3, "regulator": 10, "treasury": 11}
FIRST_PARTICIPANT_INDEX = 4

Account.enable_unaudited_hdwallet_features()


@dataclass(frozen=True)
class Network:
    """A network CarboniX deploys to, by the name of its manifest."""

    name: str
    layer: str  # "l1" or "l2"
    ape_choice: str  # ecosystem:network:provider in ape-config.yaml
    local: bool  # a chain from `carbonix chain up`, keys from the dev mnemonic
    rpc_env: str | None = None  # environment variable with the RPC URL (real networks)
    l1: str | None = None  # the L1 network deployed together with this L2


NETWORKS = {
    n.name: n
    for n in (
        Network("l1-local", "l1", "jibchain:anvil:node", local=True),
        Network("l2-local", "l2", "dustboy:anvil:node", local=True, l1="l1-local"),
        Network("jibchain", "l1", "jibchain:mainnet:node", False, "JIBCHAIN_RPC_URL"),
        Network("dustboy", "l2", "dustboy:mainnet:node", False, "DUSTBOY_L2_RPC_URL", "jibchain"),
    )
}


def get_network(name: str) -> Network:
    try:
        return NETWORKS[name]
    except KeyError:
        raise CarbonixLookupError(f"unknown network {name!r}: expected one of {', '.join(NETWORKS)}") from None


def manifest_path(network: str, settings: Settings | None = None) -> Path:
    return (settings or get_settings()).manifests_dir / f"{network}.json"


def verify_dir(network: str, settings: Settings | None = None) -> Path:
    """Folder of the Blockscout verification payloads (standard JSON input) of ``network``."""
    return (settings or get_settings()).manifests_dir / network / "verify"


def local_account(index: int, settings: Settings | None = None) -> LocalAccount:
    """Key ``index`` of the dev mnemonic (m/44'/60'/0'/0/index), as anvil funds it."""
    mnemonic = (settings or get_settings()).dev_mnemonic
    return Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")


def role_account(role: str, settings: Settings | None = None) -> LocalAccount:
    """Local key of a role: admin, tgo, oracle or verifier."""
    if role not in ROLE_INDEX:
        raise CarbonixLookupError(f"unknown role {role!r}: expected one of {', '.join(ROLE_INDEX)}")
    return local_account(ROLE_INDEX[role], settings)


@dataclass
class Deployment:
    """A loaded manifest: addresses, ABIs and a web3 connection to its chain (``w3``)."""

    manifest: dict[str, Any]
    rpc_url: str
    _contracts: dict[str, Contract] = field(default_factory=dict, repr=False)

    @property
    def network(self) -> str:
        return str(self.manifest["network"])

    @property
    def chain_id(self) -> int:
        return int(self.manifest["chain_id"])

    @property
    def roles(self) -> dict[str, str]:
        return dict(self.manifest["roles"])

    @property
    def names(self) -> list[str]:
        return list(self.manifest["contracts"])

    @property
    def from_block(self) -> int:
        """First block of the deployment: where log queries and indexers start."""
        return min((int(c["block_number"]) for c in self.manifest["contracts"].values()), default=0)

    @cached_property
    def w3(self) -> Web3:
        return Web3(Web3.HTTPProvider(self.rpc_url))

    @property
    def contracts(self) -> dict[str, Contract]:
        return {name: self.contract(name) for name in self.names}

    def address(self, name: str) -> str:
        return str(self._entry(name)["address"])

    def abi(self, name: str) -> list[dict[str, Any]]:
        return list(self._entry(name)["abi"])

    def contract(self, name: str, web3: Web3 | None = None) -> Contract:
        """The deployed contract ``name`` (e.g. "CarbonRegistry") as a web3.py Contract."""
        if web3 is not None:
            address = Web3.to_checksum_address(self.address(name))
            return web3.eth.contract(address=address, abi=self.abi(name))
        if name not in self._contracts:
            self._contracts[name] = self.contract(name, self.w3)
        return self._contracts[name]

    def signer_web3(self, account: LocalAccount) -> Web3:
        """A Web3 on this chain that signs and sends transactions from ``account``."""
        w3 = Web3(Web3.HTTPProvider(self.rpc_url))
        w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(account), layer=0)
        w3.eth.default_account = account.address
        return w3

    def _entry(self, name: str) -> dict[str, Any]:
        try:
            return dict(self.manifest["contracts"][name])
        except KeyError:
            raise CarbonixLookupError(
                f"no contract {name!r} in the {self.network} deployment"
                f" (has: {', '.join(self.names) or 'none'}); run `carbonix deploy`"
            ) from None


def load_deployment(settings: Settings | None = None, network: str | None = None) -> Deployment:
    """Load ``<deployments_dir>/<network>.json`` (network defaults to CARBONIX_NETWORK)."""
    settings = settings or get_settings()
    name = network or settings.network
    path = manifest_path(name, settings)
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise CarbonixLookupError(
            f"no deployment manifest for network {name!r} at {path}: run `carbonix deploy`"
        ) from None
    spec = NETWORKS.get(name)
    # A local chain is reached where it runs now; a real one where the manifest says.
    rpc_url = chain.rpc_url(settings, spec.layer) if spec and spec.local else str(manifest["rpc_url"])
    return Deployment(manifest=manifest, rpc_url=rpc_url)


def ape_env(settings: Settings, network: Network) -> dict[str, str]:
    """Environment for an ape process that must see the same settings as this process."""
    env = {f"CARBONIX_{key.upper()}": str(value) for key, value in settings.model_dump().items() if value is not None}
    env["SOLCX_BINARY_PATH"] = str(SOLCX_DIR)
    # Keep ape's data folder out of ~ for local work; real networks use the ape keystore.
    if network.local and "APE_DATA_FOLDER" not in os.environ:
        env["APE_DATA_FOLDER"] = str(settings.state_dir / "ape")
    return env


def run_deploy(network: str | None = None, settings: Settings | None = None, capture: bool = False) -> Deployment:
    """Run ``ape run deploy --network <network>`` and load the manifest it wrote."""
    settings = settings or get_settings()
    spec = get_network(network or settings.network)
    for name in filter(None, (spec.name, spec.l1)):
        net = NETWORKS[name]
        if net.local and not chain.status(chain.get_chain(settings, net.layer)).running:
            raise CarbonixError(f"the local {net.layer.upper()} is not running: carbonix chain up")
    ape = Path(sys.executable).parent / "ape"
    result = subprocess.run(
        [str(ape), "run", "deploy", "--network", spec.name],
        cwd=PROJECT_ROOT,
        env={**os.environ, **ape_env(settings, spec)},
        capture_output=capture,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = f":\n{result.stdout}\n{result.stderr}" if capture else ""
        raise CarbonixError(f"deployment to {spec.name} failed{detail}")
    return load_deployment(settings, spec.name)
