"""Detached services (cli/services.py): started as the demo starts its indexer and API, stopped
by `carbonix chain down` for the same state folder; stale pid files are removed without a signal to
whatever process has the pid now.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from carbonix.chain import alive, free_port
from carbonix.config import get_settings
from cli import services
from cli.commands.chain import app


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def fake_carbonix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``services.CARBONIX`` replaced by a small Python program named carbonix: ``carbonix READY
    [--ignore-sigterm]`` writes the file READY once its signal handling is set, then sleeps."""
    program = tmp_path / "bin" / "carbonix"
    program.parent.mkdir()
    program.write_text(
        f"#!{sys.executable}\n"
        "import pathlib, signal, sys, time\n"
        "if '--ignore-sigterm' in sys.argv:\n"
        "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "pathlib.Path(sys.argv[1]).write_text('ready')\n"
        "time.sleep(120)\n"
    )
    program.chmod(0o755)
    monkeypatch.setattr(services, "CARBONIX", program)
    return program


def start_fake(state: Path, name: str, ready: Path, *flags: str) -> subprocess.Popen[bytes]:
    process = services.start_service(state, name, [str(ready), *flags])
    wait_for(ready.exists, what=f"the {name} service")
    return process


def test_a_started_api_is_stopped_and_its_pid_file_removed(tmp_path: Path) -> None:
    state = tmp_path / "state"
    port = free_port()
    process = services.start_service(
        state, "api", ["api", "serve", "--port", str(port), "--database", f"sqlite:///{tmp_path}/index.db"]
    )
    pid_file = state / "services" / "api.pid"
    assert pid_file.read_text() == str(process.pid)
    wait_for(lambda: answers(f"http://127.0.0.1:{port}/v1/health/live"), what="the API")
    assert services.is_carbonix(process.pid)
    assert os.getpgid(process.pid) == process.pid  # detached: a session and process group of its own

    (stopped,) = services.stop_services(state)
    assert (stopped.name, stopped.pid, stopped.outcome) == ("api", process.pid, "stopped")
    assert not alive(process.pid) and not pid_file.exists()
    assert not answers(f"http://127.0.0.1:{port}/v1/health/live")
    assert "api: http://127.0.0.1" in (state / "services" / "api.log").read_text()
    assert services.stop_services(state) == []


def test_a_service_that_ignores_sigterm_is_killed(tmp_path: Path, fake_carbonix: Path) -> None:
    state = tmp_path / "state"
    process = start_fake(state, "indexer", tmp_path / "ready", "--ignore-sigterm")
    started = time.monotonic()
    stopped = services.stop_service(state / "services" / "indexer.pid", timeout=0.5)
    assert (stopped.pid, stopped.outcome) == (process.pid, "killed") and time.monotonic() - started < 5
    assert not alive(process.pid) and not (state / "services" / "indexer.pid").exists()


def test_starting_again_stops_the_earlier_one(tmp_path: Path, fake_carbonix: Path) -> None:
    state = tmp_path / "state"
    first = start_fake(state, "indexer", tmp_path / "ready-1")
    second = start_fake(state, "indexer", tmp_path / "ready-2")
    try:
        assert not alive(first.pid) and alive(second.pid)
        assert (state / "services" / "indexer.pid").read_text() == str(second.pid)
    finally:
        services.stop_services(state)
    assert not alive(second.pid)


def test_stale_pid_files_are_removed_without_a_signal(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "services"
    folder.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()  # exited and reaped: its pid names no process
    other = subprocess.Popen(["sleep", "60"])  # alive, ours, but not carbonix: a reused pid
    try:
        (folder / "api.pid").write_text(str(gone.pid))
        (folder / "indexer.pid").write_text(f"{other.pid}\n")
        (folder / "broken.pid").write_text("not a pid")
        (folder / "group.pid").write_text("0")  # os.kill(0, ...) would signal our own process group
        stopped = {s.name: (s.pid, s.outcome) for s in services.stop_services(tmp_path / "state")}
        assert stopped == {
            "api": (gone.pid, "not_running"),
            "broken": (None, "not_running"),
            "group": (0, "not_running"),
            "indexer": (other.pid, "not_ours"),
        }
        assert other.poll() is None  # never signalled
        assert list(folder.glob("*.pid")) == []
    finally:
        other.kill()
        other.wait()


def test_chain_down_stops_the_services_of_its_state_folder(tmp_path: Path, fake_carbonix: Path) -> None:
    state = tmp_path / "state"
    process = start_fake(state, "api", tmp_path / "ready")
    (state / "services" / "indexer.pid").write_text("999999999")  # beyond pid_max: no such process
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["down"], env={"CARBONIX_STATE_DIR": str(state)})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"api: stopped (pid {process.pid})" in result.output
    assert "indexer: was not running (stale pid file removed)" in result.output
    assert "L1 (JibChain): was not running" in result.output and "L2 (DustBoy): was not running" in result.output
    assert not alive(process.pid) and list((state / "services").glob("*.pid")) == []
