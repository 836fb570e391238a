"""Detached services of a state folder: the demo's indexer and REST API, each a ``carbonix``
process in a session of its own that outlives the command that started it.

A service keeps ``<state>/services/<name>.log`` and ``<name>.pid`` (the pid alone).
``carbonix chain down`` stops the services of its state folder before the chains
(:func:`stop_services`): SIGTERM, a wait, then SIGKILL. A pid is signalled only while its process
is alive, belongs to this user and runs ``carbonix``; a pid file left behind by a crash, whose pid
the system may since have given to another process, is removed without a signal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from carbonix.chain import alive

CARBONIX = Path(sys.executable).parent / "carbonix"
# Seconds a service has to exit after SIGTERM (the indexer finishes its range, uvicorn its requests).
TERM_TIMEOUT = 15.0
KILL_TIMEOUT = 5.0

Outcome = Literal["stopped", "killed", "not_running", "not_ours"]


@dataclass(frozen=True)
class StoppedService:
    name: str
    pid: int | None  # None when the pid file held no pid
    outcome: Outcome  # stopped by SIGTERM, killed after TERM_TIMEOUT, or a stale pid file removed


def services_dir(state: Path) -> Path:
    return state / "services"


def start_service(state: Path, name: str, args: list[str]) -> subprocess.Popen[bytes]:
    """Starts ``carbonix <args>`` detached, logging to ``<state>/services/<name>.log``, with a pid
    file; a service of that name still running from an earlier start is stopped first."""
    folder = services_dir(state)
    folder.mkdir(parents=True, exist_ok=True)
    pid_file = folder / f"{name}.pid"
    stop_service(pid_file)  # one left by an earlier demo on these ports
    with (folder / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(
            [str(CARBONIX), *args], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=os.environ.copy(), start_new_session=True,
        )  # fmt: skip
    pid_file.write_text(str(process.pid))
    return process


def stop_service(pid_file: Path, timeout: float = TERM_TIMEOUT) -> StoppedService:
    """Stops the service of ``pid_file`` if it runs (SIGTERM, then SIGKILL after ``timeout``) and
    removes the pid file, also a stale one (its process gone, or the pid now another program's)."""
    try:
        pid: int | None = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        pid = None
    outcome: Outcome
    if pid is None or pid <= 0 or not alive(pid):  # 0 and -1 would signal whole process groups
        outcome = "not_running"
    elif not is_carbonix(pid):
        outcome = "not_ours"
    else:
        outcome = _terminate(pid, timeout)
    pid_file.unlink(missing_ok=True)
    return StoppedService(pid_file.stem, pid, outcome)


def stop_services(state: Path, timeout: float = TERM_TIMEOUT) -> list[StoppedService]:
    """Stops every service with a pid file in ``<state>/services/``, in name order."""
    return [stop_service(p, timeout) for p in sorted(services_dir(state).glob("*.pid"))]


def is_carbonix(pid: int) -> bool:
    """True if ``pid`` is a process of this user whose program is ``carbonix`` (run directly or by
    its Python interpreter), so that a reused pid is never signalled."""
    proc = Path(f"/proc/{pid}")
    try:
        if proc.stat().st_uid != os.getuid():
            return False
        argv = proc.joinpath("cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(Path(os.fsdecode(arg)).name == "carbonix" for arg in argv[:2])


def _terminate(pid: int, timeout: float) -> Outcome:
    outcome: Outcome = "stopped"
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, KILL_TIMEOUT)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return outcome
        deadline = time.monotonic() + wait
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not alive(pid):
            return outcome
        outcome = "killed"
    return outcome
