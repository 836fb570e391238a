"""Throw-away PostgreSQL and Mosquitto servers for the tests and benchmarks of a machine that has none.

The tests and ``make bench`` talk to a real PostgreSQL and a real MQTT broker. Where they come from:

- the URL in the environment (``TEST_POSTGRES_URL``, ``MQTT_URL``) when it is set: it must answer,
  or the run stops with one line saying which URL and why (a configured server that is down is a
  mistake to report, never something to paper over);
- else the machine's own server at the default address, when one answers there;
- else a server of our own: a fresh PostgreSQL cluster (``initdb`` + ``postgres`` from
  ``/usr/lib/postgresql/<version>/bin``, trust auth, fsync off) or ``mosquitto`` with a config of
  its own, on a free loopback port in a temporary folder. It is a child of this process that gets
  SIGTERM when this process dies (even by ``kill -9``), and it is stopped and its folder removed
  when the ``with`` block ends.

``make setup`` installs the Debian server packages (``postgresql``, ``mosquitto``) for the last case.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from carbonix.chain import free_port
from carbonix.exceptions import CarbonixError

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
POSTGRES_BIN = Path("/usr/lib/postgresql")
PR_SET_PDEATHSIG = 1


class ServerUnavailable(CarbonixError):
    """A configured server does not answer, or none can be started here."""


@dataclass(frozen=True)
class Server:
    """Where a server answers, and whether this process started it (``own``)."""

    url: str
    own: bool


# --- probes ------------------------------------------------------------------------------------------
def postgres_problem(url: str, timeout: float = 3.0) -> str | None:
    """None when a PostgreSQL answers at ``url`` (a SQLAlchemy or libpq URL), else why not, in one line."""
    import psycopg

    try:
        with psycopg.connect(libpq_dsn(url), connect_timeout=max(1, int(timeout)), autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as err:
        return " ".join(str(err).split()) or type(err).__name__
    return None


def mqtt_problem(url: str, timeout: float = 2.0) -> str | None:
    """None when something accepts TCP connections at the broker URL, else why not, in one line."""
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "tcp") or not parsed.hostname:
        return "expected mqtt://host:port"
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 1883), timeout=timeout):
            return None
    except OSError as err:
        return err.strerror or str(err)


def libpq_dsn(url: str) -> str:
    """``postgresql+psycopg://...`` (SQLAlchemy) as the plain URL psycopg takes."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# --- the servers -----------------------------------------------------------------------------------------
@contextlib.contextmanager
def postgres(configured: str | None, default: str = DEFAULT_POSTGRES_URL) -> Iterator[Server]:
    """A PostgreSQL to use: ``configured`` (must answer), else ``default`` if it answers, else our own."""
    with _resolve("TEST_POSTGRES_URL", configured, default, postgres_problem, own_postgres) as server:
        yield server


@contextlib.contextmanager
def mqtt(configured: str | None, default: str = DEFAULT_MQTT_URL) -> Iterator[Server]:
    """An MQTT broker to use: ``configured`` (must answer), else ``default`` if it answers, else our own."""
    with _resolve("MQTT_URL", configured, default, mqtt_problem, own_mosquitto) as server:
        yield server


@contextlib.contextmanager
def _resolve(
    variable: str,
    configured: str | None,
    default: str,
    problem: Callable[..., str | None],
    start: Callable[[], contextlib.AbstractContextManager[str]],
) -> Iterator[Server]:
    if configured:
        if (why := problem(configured)) is not None:
            raise ServerUnavailable(f"{variable}={configured} does not answer: {why}")
        yield Server(configured, own=False)
    elif problem(default, timeout=1.0) is None:
        yield Server(default, own=False)
    else:
        with start() as url:
            yield Server(url, own=True)


@contextlib.contextmanager
def own_postgres() -> Iterator[str]:
    """A fresh cluster with a database ``test`` on a free loopback port; yields its SQLAlchemy URL."""
    bin_dir = postgres_bin()
    runas = _unprivileged("postgres")  # initdb and postgres refuse to run as root
    folder = Path(tempfile.mkdtemp(prefix="carbonix-pg-"))
    data = folder / "data"
    data.mkdir()
    if runas is not None:
        for path in (folder, data):
            os.chown(path, runas.pw_uid, runas.pw_gid)
    log = folder / "postgres.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        _run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
            runas,
            folder,
            "initdb",
        )
        port = free_port()
        cmd = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(folder)]
        cmd += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        cmd += ["-c", "max_connections=200"]
        with log.open("ab") as out:
            process = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_child_of_us(runas)
            )
        admin = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        _wait(lambda: postgres_problem(admin, timeout=1.0), process, log, "PostgreSQL")
        import psycopg

        with psycopg.connect(libpq_dsn(admin), autocommit=True) as conn:
            conn.execute("CREATE DATABASE test")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"
    finally:
        if process is not None:
            _stop(process, signal.SIGINT)  # PostgreSQL's fast shutdown
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def own_mosquitto() -> Iterator[str]:
    """``mosquitto`` on a free loopback port, anonymous, nothing kept on disk; yields its URL."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).is_file():
        raise ServerUnavailable("no MQTT broker answers and mosquitto is not installed: run `make setup`")
    folder = Path(tempfile.mkdtemp(prefix="carbonix-mqtt-"))
    port = free_port()
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false", "log_dest stderr"]
    if os.geteuid() == 0:
        lines.append("user root")  # stay who we are: a change of user would drop the parent-death signal
    config = folder / "mosquitto.conf"
    config.write_text("\n".join(lines) + "\n")
    log = folder / "mosquitto.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        with log.open("ab") as out:
            process = subprocess.Popen(
                [binary, "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_child_of_us(None),
            )
        url = f"mqtt://127.0.0.1:{port}"
        _wait(lambda: mqtt_problem(url, timeout=0.5), process, log, "Mosquitto")
        yield url
    finally:
        if process is not None:
            _stop(process, signal.SIGTERM)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def scratch_database(admin_url: str, prefix: str = "carbonix_test") -> Iterator[str]:
    """A database of its own on the server of ``admin_url``, dropped afterwards; yields its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq_dsn(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq_dsn(admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_bin() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has initdb (Debian's layout)."""
    found = sorted(
        (p for p in POSTGRES_BIN.glob("*/bin") if (p / "initdb").is_file() and p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
    )
    if not found:
        raise ServerUnavailable("no PostgreSQL answers and its server is not installed: run `make setup`")
    return found[-1]


# --- process plumbing ---------------------------------------------------------------------------------------
def _unprivileged(name: str) -> pwd.struct_passwd | None:
    """The account to run as when we are root (None when we are not)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError as err:
        raise ServerUnavailable(f"running as root and there is no {name!r} user to run the server as") from err


def _child_of_us(runas: pwd.struct_passwd | None) -> Callable[[], None]:
    """Runs in the child before exec: become ``runas`` (if any), then get SIGTERM when we die.
    The order matters: a change of user clears the parent-death signal."""

    def setup() -> None:
        import ctypes

        if runas is not None:
            os.setgid(runas.pw_gid)
            os.setuid(runas.pw_uid)
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return setup


def _run(cmd: list[str], runas: pwd.struct_passwd | None, cwd: Path, what: str) -> None:
    done = subprocess.run(
        cmd, cwd=cwd, capture_output=True, preexec_fn=_child_of_us(runas), check=False, env=_server_env()
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()[-3:]
        raise ServerUnavailable(f"{what} failed ({done.returncode}): {' | '.join(tail)}")


def _server_env() -> dict[str, str]:
    # initdb reads the locale; a machine without one configured falls back to C.
    return {**os.environ, "LC_ALL": os.environ.get("LC_ALL", "C.UTF-8")}


def _wait(problem: Callable[[], str | None], process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    last: str | None = "not started"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerUnavailable(f"{what} exited with {process.returncode}: {_tail(log)}")
        if (last := problem()) is None:
            return
        time.sleep(0.1)
    raise ServerUnavailable(f"{what} did not answer in 60 s: {last}")


def _stop(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _tail(path: Path) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-3:])
    except OSError:
        return "(no log)"
