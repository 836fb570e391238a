"""The local chains: two real anvil processes, L1 (JibChain-style) and L2 (DustBoy-style).

Each chain keeps its files in ``<state_dir>/chains/<l1|l2>/``: ``state.json`` (anvil ``--state``:
loaded at start, dumped every few seconds and on exit, so a restart keeps the chain),
``anvil.log``, ``anvil.pid`` and ``anvil.json`` (pid and URL of the running process).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carbonix.config import PROJECT_ROOT, Settings
from carbonix.exceptions import ChainError

ANVIL = PROJECT_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
# Seconds between periodic state dumps, so that even a `kill -9` loses little.
STATE_INTERVAL = 2
# Block gas limit of the real DustBoy L2 (rollup.json); the L1 keeps anvil's default.
L2_GAS_LIMIT = 800_000_000
# Funded dev accounts: roles at 0-3, 10 and 11, participants at 4-9 and 12-19 (see deployments).
DEV_ACCOUNTS = 20
LAYERS = ("l1", "l2")
PR_SET_PDEATHSIG = 1
LABELS = {"l1": "L1 (JibChain)", "l2": "L2 (DustBoy)"}


@dataclass(frozen=True)
class Chain:
    """Where and how one local chain runs."""

    name: str  # "l1" or "l2"
    chain_id: int
    host: str
    port: int
    dir: Path

    @property
    def label(self) -> str:
        return LABELS[self.name]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    @property
    def log_file(self) -> Path:
        return self.dir / "anvil.log"

    @property
    def pid_file(self) -> Path:
        return self.dir / "anvil.pid"

    @property
    def run_file(self) -> Path:
        return self.dir / "anvil.json"


@dataclass(frozen=True)
class ChainStatus:
    chain: Chain
    running: bool
    url: str
    pid: int | None = None
    chain_id: int | None = None
    block: int | None = None


def get_chain(settings: Settings, name: str, port: int | None = None) -> Chain:
    if name not in LAYERS:
        raise ChainError(f"unknown chain {name!r}: expected one of {', '.join(LAYERS)}")
    return Chain(
        name=name,
        chain_id=settings.l1_chain_id if name == "l1" else settings.l2_chain_id,
        host=settings.host,
        port=port or (settings.l1_port if name == "l1" else settings.l2_port),
        dir=settings.state_dir / "chains" / name,
    )


def chains(settings: Settings, l1_port: int | None = None, l2_port: int | None = None) -> list[Chain]:
    return [get_chain(settings, "l1", l1_port), get_chain(settings, "l2", l2_port)]


def rpc(url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    """One JSON-RPC call over HTTP; raises ChainError on any failure."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = json.load(response)
    except (OSError, ValueError) as err:
        raise ChainError(f"{url} did not answer {method}: {err}") from err
    if "error" in reply:
        raise ChainError(f"{url} {method} failed: {reply['error']}")
    return reply["result"]


def status(chain: Chain) -> ChainStatus:
    """Whether the chain runs (by its pid file), and its URL, chain id and block number."""
    pid, url = _recorded(chain)
    if pid is None or not _is_anvil(pid):
        return ChainStatus(chain, running=False, url=chain.url)
    try:
        chain_id, block = int(rpc(url, "eth_chainId"), 16), int(rpc(url, "eth_blockNumber"), 16)
    except ChainError:  # running, not answering (yet)
        return ChainStatus(chain, running=True, url=url, pid=pid)
    return ChainStatus(chain, running=True, url=url, pid=pid, chain_id=chain_id, block=block)


def start(chain: Chain, settings: Settings, timeout: float = 30.0, detach: bool = True) -> ChainStatus:
    """Start anvil for ``chain`` and wait until it answers with the right chain id.

    Returns the status of the already running process if there is one (idempotent). With
    ``detach=False`` (test sessions) anvil gets SIGTERM when this process dies, even by kill -9.
    """
    current = status(chain)
    if current.running:
        return current
    if not ANVIL.is_file():
        raise ChainError(f"anvil not found at {ANVIL}: run `make setup`")
    _check_port_free(chain)
    chain.dir.mkdir(parents=True, exist_ok=True)
    # The mnemonic shows in the process list; it is anvil's public one (keys for local use only).
    cmd = [str(ANVIL), "--host", chain.host, "--port", str(chain.port)]
    cmd += ["--chain-id", str(chain.chain_id), "--mnemonic", settings.dev_mnemonic, "--accounts", str(DEV_ACCOUNTS)]
    cmd += ["--state", str(chain.state_file), "--state-interval", str(STATE_INTERVAL)]
    if (resume := resume_time(chain)) is not None:
        cmd += ["--timestamp", str(resume)]
    elif settings.genesis_time is not None and not chain.state_file.exists():
        cmd += ["--timestamp", str(int(settings.genesis_time.timestamp()))]
    if settings.block_time > 0:
        cmd += ["--block-time", str(settings.block_time)]
    if chain.name == "l2":
        cmd += ["--gas-limit", str(L2_GAS_LIMIT)]
    with chain.log_file.open("ab") as log:
        log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {chain.url}\n".encode())
        log.flush()
        # A session of its own: the chain outlives the CLI and ignores its Ctrl-C.
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=chain.dir,
            start_new_session=True,
            preexec_fn=None if detach else _die_with_parent,
        )
    chain.pid_file.write_text(f"{process.pid}\n")
    chain.run_file.write_text(json.dumps({"pid": process.pid, "url": chain.url, "chain_id": chain.chain_id}) + "\n")
    _wait_ready(chain, process, timeout)
    return status(chain)


def resume_time(chain: Chain, now: float | None = None) -> int | None:
    """The clock a restarted chain must start from so that time never goes backwards, or None.

    anvil keeps blocks across a restart but not the offset that ``evm_increaseTime`` (the demo's
    jump to a quarter's settlement) put on its clock: the next block would be stamped at the
    machine's time, before the last one. When the saved head is ahead of the machine's clock, the
    chain resumes one second after its head (time stood still while it was stopped)."""
    try:
        with chain.state_file.open("rb") as file:
            head = int(json.load(file)["block"]["timestamp"], 16)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no saved state yet (or one anvil will refuse with its own message)
    return head + 1 if head + 1 > (time.time() if now is None else now) else None


def stop(chain: Chain, timeout: float = 30.0) -> bool:
    """Stop the chain with SIGTERM (anvil then dumps its state) and wait; False if not running."""
    pid, _ = _recorded(chain)
    was_running = pid is not None and _is_anvil(pid)
    if pid is not None and was_running:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
    chain.pid_file.unlink(missing_ok=True)
    chain.run_file.unlink(missing_ok=True)
    return was_running


def up(
    settings: Settings, l1_port: int | None = None, l2_port: int | None = None, detach: bool = True
) -> list[ChainStatus]:
    return [start(chain, settings, detach=detach) for chain in chains(settings, l1_port, l2_port)]


def down(settings: Settings) -> list[bool]:
    return [stop(chain) for chain in chains(settings)]


def rpc_url(settings: Settings, name: str) -> str:
    """URL of chain ``name``: the configured override, else the running local chain's."""
    override = settings.l1_rpc_url if name == "l1" else settings.l2_rpc_url
    if override:
        return override
    return status(get_chain(settings, name)).url


def _recorded(chain: Chain) -> tuple[int | None, str]:
    try:
        run = json.loads(chain.run_file.read_text())
        return int(run["pid"]), str(run["url"])
    except (OSError, ValueError, KeyError):
        pass
    try:
        return int(chain.pid_file.read_text().strip()), chain.url
    except (OSError, ValueError):
        return None, chain.url


def _check_port_free(chain: Chain) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((chain.host, chain.port)) != 0:
            return
    try:
        what = f"a node with chain id {int(rpc(chain.url, 'eth_chainId'), 16)}"
    except ChainError:
        what = "a process that is not a JSON-RPC node"
    option = f"--{chain.name}-port"
    raise ChainError(
        f"port {chain.port} on {chain.host} is already in use by {what}, not started by carbonix"
        f" for {chain.label}; stop it or pick another port ({option} or"
        f" CARBONIX_{chain.name.upper()}_PORT)"
    )


def _wait_ready(chain: Chain, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stop(chain)
            raise ChainError(
                f"anvil for {chain.label} exited with code {process.returncode}:\n" f"{_tail(chain.log_file)}"
            )
        try:
            chain_id = int(rpc(chain.url, "eth_chainId", timeout=0.5), 16)
        except ChainError:
            time.sleep(0.1)
            continue
        if chain_id != chain.chain_id:
            stop(chain)
            raise ChainError(f"{chain.url} answered chain id {chain_id}, not {chain.chain_id}")
        return
    stop(chain)
    raise ChainError(f"anvil for {chain.label} did not answer on {chain.url} in {timeout:.0f} s")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _die_with_parent() -> None:
    """Runs in the anvil child before exec: SIGTERM it when its parent dies (Linux prctl)."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def alive(pid: int) -> bool:
    """True while process ``pid`` runs (an exited child of ours is reaped; a zombie is dead)."""
    try:  # Reap it if it is our own child, so that it does not linger as a zombie.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is dead once all its threads are: a
    # thread-group leader turns Z before its other threads exit and close the listening socket.
    proc = Path(f"/proc/{pid}")
    try:
        if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            return True
        return len(list((proc / "task").iterdir())) > 1
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        return True


def _is_anvil(pid: int) -> bool:
    """True if ``pid`` is a live anvil process (not a recycled pid of something else)."""
    if not alive(pid):
        return False
    try:  # comm, unlike cmdline, stays readable while the process exits and holds its port.
        return Path(f"/proc/{pid}/comm").read_text().strip() == "anvil"
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (for chains, brokers and servers of tests and demos)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
