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

from carbonix import chain, deployments
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
        chain.up(settings, detach=False)
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


# Databases ------------------------------------------------------------------------------------
# PostgreSQL is the running server at TEST_POSTGRES_URL (default: the machine's trust-auth server,
# database `test`); each test that asks for it gets a database of its own, dropped afterwards.
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(POSTGRES_URL)
    name = f"carbonix_test_{uuid.uuid4().hex[:12]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield admin.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that asks for it runs twice: on a SQLite file and on a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/oracle.db"
    return request.getfixturevalue("postgres_url")
