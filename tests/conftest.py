"""Shared fixtures: real anvil chains on free ports in a temporary state folder, and a real deploy.

    def test_something(deployment):          # L2 Deployment (manifest, w3, contracts)
        registry = deployment.contract("CarbonRegistry")

- ``chains`` (session): L1 + L2 anvil for the whole session; yields their Settings.
- ``deployment`` / ``l1_deployment`` (session): `ape run deploy` to those chains, loaded manifests.
- ``l2_snapshot``: the L2 deployment, reverted (evm_snapshot/evm_revert) after the test.
- ``own_chains``: Settings for chains a test starts and stops itself (tmp state, free ports).

``chains`` yields the Settings of the test chains. While the session runs, the same values are
also in the environment (CARBONIX_STATE_DIR, CARBONIX_L1_PORT, ...) and ``get_settings()`` returns
them, so CLI commands and subprocesses under test talk to the test chains, never to `.state/`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from carbonix import chain, deployments, local_servers
from carbonix.config import Settings, get_settings
from carbonix.deployments import Deployment

free_port = chain.free_port


def make_settings(state_dir: Path) -> Settings:
    """Settings for chains of our own: no RPC override, free ports, automine."""
    return Settings(
        state_dir=state_dir,
        host="127.0.0.1",
        l1_port=free_port(),
        l2_port=free_port(),
        block_time=0,
        l1_rpc_url=None,
        l2_rpc_url=None,
        network="l2-local",
        deployments_dir=None,
    )


def check_genesis_time(settings: Settings, url: str) -> None:
    """Under `make test-clocks` the chains start at another date (CARBONIX_GENESIS_TIME): stop at
    once if they did not."""
    if settings.genesis_time is None:
        return
    head = int(chain.rpc(url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    if abs(head - settings.genesis_time.timestamp()) > 3600:
        pytest.exit(f"the test chain's clock is {head}, not {settings.genesis_time.isoformat()}", returncode=3)


@pytest.fixture(scope="session")
def chains(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """L1 and L2 anvil running for the whole session; yields their Settings."""
    settings = make_settings(tmp_path_factory.mktemp("carbonix-state"))
    env = deployments.ape_env(settings, deployments.NETWORKS["l2-local"])
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    for key in ("CARBONIX_L1_RPC_URL", "CARBONIX_L2_RPC_URL", "CARBONIX_DEPLOYMENTS_DIR"):
        saved.setdefault(key, os.environ.pop(key, None))
    get_settings.cache_clear()
    try:
        statuses = chain.up(settings, detach=False)
        check_genesis_time(settings, statuses[-1].url)
        yield settings
    finally:
        chain.down(settings)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


@pytest.fixture(scope="session")
def deployment(chains: Settings) -> Deployment:
    """The contracts deployed by the real `ape run deploy` to the test L2 (and L1)."""
    return deployments.run_deploy("l2-local", chains, capture=True)


@pytest.fixture(scope="session")
def l1_deployment(deployment: Deployment, chains: Settings) -> Deployment:
    return deployments.load_deployment(chains, "l1-local")


@pytest.fixture
def l2_snapshot(deployment: Deployment) -> Iterator[Deployment]:
    """The L2 deployment, with every change a test makes undone afterwards (evm_revert)."""
    snapshot = deployment.w3.provider.make_request("evm_snapshot", [])["result"]
    yield deployment
    deployment.w3.provider.make_request("evm_revert", [snapshot])


@pytest.fixture
def own_chains(tmp_path: Path) -> Iterator[Settings]:
    """Settings for chains a test starts and stops itself (own state folder, free ports)."""
    settings = make_settings(tmp_path / "state")
    yield settings
    chain.down(settings)


# Servers -----------------------------------------------------------------------------------------
# PostgreSQL and MQTT: the server at TEST_POSTGRES_URL / MQTT_URL when set (it must answer, or the
# session stops with one line), else the machine's own at the default address, else a throw-away
# one this session starts on a free port and stops at its end (carbonix.local_servers).
@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The session's PostgreSQL: a URL whose database tests may create other databases from."""
    try:
        with local_servers.postgres(os.environ.get("TEST_POSTGRES_URL")) as server:
            yield server.url
    except local_servers.ServerUnavailable as err:
        pytest.exit(str(err), returncode=3)


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[str]:
    """The session's MQTT broker; MQTT_URL names it while the session runs (for daemons under test)."""
    saved = os.environ.get("MQTT_URL")
    try:
        with local_servers.mqtt(saved) as server:
            os.environ["MQTT_URL"] = server.url
            yield server.url
    except local_servers.ServerUnavailable as err:
        pytest.exit(str(err), returncode=3)
    finally:
        if saved is None:
            os.environ.pop("MQTT_URL", None)
        else:
            os.environ["MQTT_URL"] = saved


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A database of its own on the session's PostgreSQL, dropped after the test."""
    with local_servers.scratch_database(postgres_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that asks for it runs twice: on a SQLite file and on a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/oracle.db"
    return request.getfixturevalue("postgres_url")
