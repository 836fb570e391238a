"""What a command needs to act: the Ledger of the current deployment and the signing accounts.

Accounts are named on the command line as a role (``admin``, ``tgo``, ``oracle``, ``verifier``,
``regulator``, ``treasury``),
a participant number (``4``, ``5``, ... : index in the local development mnemonic), or
``env:VAR`` (a private key read from environment variable VAR). Role names resolve to
``CARBONIX_<ROLE>_KEY`` when that variable is set. Development keys are refused unless the chain is
on this machine (loopback RPC), so a public mnemonic can never sign on a real network.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.contract import Contract

from carbonix.config import Settings, get_settings
from carbonix.deployments import ROLE_INDEX, load_deployment, local_account
from carbonix.exceptions import CarbonixValueError
from carbonix.exchange import Exchange
from carbonix.ledger import Ledger
from carbonix.sensors import Sensors
from carbonix.settlement import Settlement


def _open(settings: Settings | None) -> tuple[Ledger, dict[str, Contract]]:
    deployment = load_deployment(settings or get_settings())
    contracts = deployment.contracts
    return Ledger(deployment.w3, contracts, deployment.from_block), contracts


def open_ledger(settings: Settings | None = None) -> Ledger:
    """The Ledger for the deployment named by ``settings.network``."""
    return _open(settings)[0]


def open_exchange(settings: Settings | None = None) -> Exchange:
    """The Exchange (with its Ledger) for the deployment named by ``settings.network``."""
    return Exchange(*_open(settings))


def open_settlement(settings: Settings | None = None) -> Settlement:
    """The Settlement contract (with its Ledger) for the deployment named by ``settings.network``."""
    return Settlement(*_open(settings))


def open_sensors(settings: Settings | None = None) -> Sensors:
    """The SensorRegistry (with its Ledger) for the deployment named by ``settings.network``."""
    return Sensors(*_open(settings))


def _is_local(rpc_url: str) -> bool:
    host = urlparse(rpc_url).hostname or ""
    return host in {"localhost", "::1"} or host.startswith("127.")


def account(spec: str, rpc_url: str | None = None, settings: Settings | None = None) -> LocalAccount:
    """Resolves an account name (see module docstring) to a signing account."""
    settings = settings or get_settings()
    spec = spec.strip()
    if spec.startswith("env:"):
        var = spec[4:]
        key = os.environ.get(var)
        if not key:
            raise CarbonixValueError(f"environment variable {var} holds no private key")
        return Account.from_key(key)
    role = spec.lower()
    if role in ROLE_INDEX and os.environ.get(f"CARBONIX_{role.upper()}_KEY"):
        return Account.from_key(os.environ[f"CARBONIX_{role.upper()}_KEY"])
    if role in ROLE_INDEX:
        index = ROLE_INDEX[role]
    elif role.isdigit():
        index = int(role)
    else:
        raise CarbonixValueError(
            f"unknown account {spec!r}: use admin|tgo|oracle|verifier, a participant number, or env:VAR"
        )
    url = rpc_url or settings.l2_url
    if not _is_local(url):
        raise CarbonixValueError(
            f"refusing development key {spec!r} for {url}: set CARBONIX_{role.upper()}_KEY or use env:VAR"
        )
    return local_account(index, settings)
