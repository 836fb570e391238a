"""carbonix chain: real anvil processes, started, stopped and restarted with their state."""

from __future__ import annotations

import os
import signal
import socket
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from carbonix import chain, deployments
from carbonix.config import Settings, get_settings
from carbonix.exceptions import ChainError
from cli.commands.chain import app

DEAD = "0x000000000000000000000000000000000000dEaD"


def send_value(url: str, wei: int) -> dict[str, Any]:
    """A plain transfer from anvil's unlocked account 0, mined; returns the receipt."""
    sender = deployments.role_account("admin").address
    tx_hash = chain.rpc(url, "eth_sendTransaction", [{"from": sender, "to": DEAD, "value": hex(wei)}])
    for _ in range(100):
        if receipt := chain.rpc(url, "eth_getTransactionReceipt", [tx_hash]):
            return dict(receipt)
        time.sleep(0.05)
    raise AssertionError(f"{tx_hash} not mined")


def balance(url: str) -> int:
    return int(chain.rpc(url, "eth_getBalance", [DEAD, "latest"]), 16)


def run_cli(settings: Settings, *args: str) -> tuple[int, str]:
    env = deployments.ape_env(settings, deployments.NETWORKS["l2-local"])
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args), env=env)
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


def test_up_down_restart_keeps_state(own_chains: Settings) -> None:
    l1, l2 = chain.up(own_chains)
    assert (l1.chain_id, l2.chain_id) == (8899, 555888)
    sent = send_value(l2.url, 10**18)
    block = int(chain.rpc(l2.url, "eth_blockNumber"), 16)
    assert block == int(sent["blockNumber"], 16)

    assert chain.down(own_chains) == [True, True]
    assert not chain.status(l2.chain).running
    assert l2.chain.state_file.is_file()

    l1, l2 = chain.up(own_chains)
    assert balance(l2.url) == 10**18
    assert int(chain.rpc(l2.url, "eth_blockNumber"), 16) == block
    assert chain.rpc(l2.url, "eth_getTransactionReceipt", [sent["transactionHash"]]) == sent
    assert balance(l1.url) == 0  # the two chains are separate


def test_restart_keeps_the_clock_after_a_time_jump(own_chains: Settings) -> None:
    """A quarter's settlement jumps the clock ahead; a restart must not take the chain back to the
    machine's time (escrow of the later quarter would become unreclaimable)."""
    l2 = chain.start(chain.get_chain(own_chains, "l2"), own_chains)
    chain.rpc(l2.url, "evm_increaseTime", [200 * 86_400])
    send_value(l2.url, 1)
    head = int(chain.rpc(l2.url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    assert head > time.time() + 199 * 86_400
    chain.down(own_chains)
    assert chain.resume_time(l2.chain) == head + 1
    l2 = chain.start(l2.chain, own_chains)
    after = send_value(l2.url, 1)
    assert head < int(chain.rpc(l2.url, "eth_getBlockByNumber", [after["blockNumber"], False])["timestamp"], 16)
    # A chain behind the machine's clock simply follows the clock.
    assert chain.resume_time(l2.chain, now=head + 10_000) is None


def test_a_fresh_chain_starts_at_its_genesis_time(own_chains: Settings) -> None:
    """CARBONIX_GENESIS_TIME (make test-clocks, demos at another date): the first block's time, the
    clock running on from there; a chain with saved state ignores it."""
    genesis = datetime(2031, 12, 31, 16, 59, 0, tzinfo=UTC)  # Thai New Year's Eve, 23:59
    settings = own_chains.model_copy(update={"genesis_time": genesis})
    l2 = chain.start(chain.get_chain(settings, "l2"), settings)
    assert int(chain.rpc(l2.url, "eth_getBlockByNumber", ["0x0", False])["timestamp"], 16) == genesis.timestamp()
    mined = send_value(l2.url, 1)
    stamped = int(chain.rpc(l2.url, "eth_getBlockByNumber", [mined["blockNumber"], False])["timestamp"], 16)
    assert genesis.timestamp() <= stamped < genesis.timestamp() + 600


def test_kill_9_loses_at_most_the_last_seconds(own_chains: Settings) -> None:
    l2 = chain.start(chain.get_chain(own_chains, "l2"), own_chains)
    send_value(l2.url, 5)
    time.sleep(chain.STATE_INTERVAL + 1)  # one periodic dump
    assert l2.pid is not None
    os.kill(l2.pid, signal.SIGKILL)
    while chain.status(l2.chain).running:
        time.sleep(0.05)
    l2 = chain.start(l2.chain, own_chains)
    assert balance(l2.url) == 5


def test_up_is_idempotent(own_chains: Settings) -> None:
    first = chain.up(own_chains)
    second = chain.up(own_chains)
    assert [s.pid for s in first] == [s.pid for s in second]
    code, output = run_cli(own_chains, "up")
    assert code == 0
    assert output.count("already running") == 2


def test_status_output(own_chains: Settings) -> None:
    code, output = run_cli(own_chains, "status")
    assert code == 0
    assert output.count("stopped") == 2

    code, output = run_cli(own_chains, "up")
    assert code == 0, output
    assert output.count("started") == 2
    code, output = run_cli(own_chains, "status")
    assert code == 0
    for st in (chain.status(c) for c in chain.chains(own_chains)):
        assert st.running
        row = next(line for line in output.splitlines() if st.url in line)
        assert str(st.chain_id) in row
        assert str(st.pid) in row
        assert "running" in row
        assert str(st.block) in row

    code, output = run_cli(own_chains, "down")
    assert code == 0
    assert output.count("stopped") == 2
    assert all(not chain.status(c).running for c in chain.chains(own_chains))


def test_port_in_use_is_a_clear_error(own_chains: Settings) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", own_chains.l1_port))
        squatter.listen()
        with pytest.raises(ChainError, match=f"port {own_chains.l1_port} .* already in use"):
            chain.start(chain.get_chain(own_chains, "l1"), own_chains)
        code, output = run_cli(own_chains, "up")
    assert code == 1
    assert "already in use" in output
    assert not chain.status(chain.get_chain(own_chains, "l1")).running


def test_missing_anvil_says_run_make_setup(own_chains: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chain, "ANVIL", own_chains.state_dir / "no-anvil")
    with pytest.raises(ChainError, match="make setup"):
        chain.start(chain.get_chain(own_chains, "l1"), own_chains)
