"""Real `kepu serve` processes for tests that need true concurrency (several processes, one database).

Use the `kepu_servers` fixture (activate this module with ``pytest_plugins = ("tests.servers",)``)
or the `running_servers` context manager. Each server is started as

    kepu serve --host 127.0.0.1 --port P

on a free port, with the environment of the test process plus DATABASE_URL (the test's database)
and KEPU_SECRET_KEY, and is ready once GET /readyz answers 200. On the way out every server gets
SIGTERM and must exit with status 0 within 20 s (api.md, "server"); a server the test already
stopped is only checked.

SQLite gets one process (one file, one writer); PostgreSQL gets two sharing the database.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IS_PG

READY_TIMEOUT_S = 20.0
EXIT_TIMEOUT_S = 20.0
SECRET_KEY = "test-secret-key-for-the-servers"


def kepu_executable() -> Path:
    """The `kepu` script of the venv running the tests."""
    return Path(sys.executable).parent / "kepu"


def server_count() -> int:
    return 2 if IS_PG else 1


def server_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url
    env.setdefault("KEPU_SECRET_KEY", SECRET_KEY)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One `kepu serve` process; its stderr and stdout go to `log`."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def running(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        """Send SIGTERM (the graceful stop of the contract) if the process still runs."""
        if self.running():
            self.process.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout: float = EXIT_TIMEOUT_S) -> int | None:
        """The exit status, or None when the process is still running after `timeout` seconds."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.running():
            self.process.kill()
            self.process.wait(timeout=10)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _spawn(database_url: str, log_dir: Path, index: int) -> Server:
    port = free_port()
    log = log_dir / f"kepu-serve-{index}-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(kepu_executable()), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=server_env(database_url),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(url=f"http://127.0.0.1:{port}", port=port, process=process, log=log)


def _listens(pid: int, port: int) -> bool:
    """Whether process `pid` holds the listening TCP socket on `port` (Linux's /proc; elsewhere, assumed).

    Between free_port() and the server's bind another process (a server of another test, of another
    pytest-xdist worker or of anyone else on the machine) may take the port: /readyz would then answer
    from that server, and the test would talk to someone else's database."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return True
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    sockets = set()
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed in the meantime
            continue
        if link.startswith("socket:["):
            sockets.add(link[len("socket:[") : -1])
    for table in tables:
        try:
            rows = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()  # sl local_address rem_address st ... inode
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port and inode in sockets:
                return True
    return False


def _wait_ready(server: Server, deadline: float) -> str | None:
    """None once the server answers /readyz 200 on its own socket; otherwise why it did not."""
    while time.monotonic() < deadline:
        if not server.running():
            return f"exited with status {server.process.returncode} before it was ready"
        if _listens(server.pid, server.port) and _ready(server.url):
            return None
        time.sleep(0.1)
    return f"not ready within {READY_TIMEOUT_S:.0f} s"


def start_servers(database_url: str, count: int, log_dir: Path) -> list[Server]:
    """Start `count` servers at once and wait until each is ready; fail with a server's output if not."""
    log_dir.mkdir(parents=True, exist_ok=True)
    servers = [_spawn(database_url, log_dir, i) for i in range(count)]
    deadline = time.monotonic() + READY_TIMEOUT_S
    for i, server in enumerate(servers):
        problem = _wait_ready(server, deadline)
        if problem is not None and "address already in use" in server.output().lower():
            # Another process took the free port between our probe and the server's bind: once more.
            server.kill()
            server = servers[i] = _spawn(database_url, log_dir, i)
            problem = _wait_ready(server, time.monotonic() + READY_TIMEOUT_S)
        if problem is not None:
            for other in servers:
                other.kill()
            pytest.fail(
                f"kepu serve on {server.url} {problem}; its output:\n{server.output()}", pytrace=False
            )
    return servers


def stop_servers(servers: list[Server]) -> None:
    """SIGTERM every server still running, then require each to have exited 0 within the contract's 20 s."""
    for server in servers:
        server.terminate()
    problems = []
    for server in servers:
        status = server.wait_exit(EXIT_TIMEOUT_S)
        if status is None:
            server.kill()
            problems.append(f"kepu serve on {server.url} still ran {EXIT_TIMEOUT_S:.0f} s after SIGTERM")
        elif status != 0:
            problems.append(f"kepu serve on {server.url} exited with status {status} after SIGTERM")
        if status != 0:
            problems[-1] += f"; its output:\n{server.output()}"
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@contextlib.contextmanager
def running_servers(database_url: str, count: int, log_dir: Path) -> Iterator[list[Server]]:
    servers = start_servers(database_url, count, log_dir)
    try:
        yield servers
    except BaseException:
        # The test failed already: stop the servers without adding a second failure on top.
        for server in servers:
            server.terminate()
        for server in servers:
            if server.wait_exit(EXIT_TIMEOUT_S) is None:
                server.kill()
        raise
    stop_servers(servers)


@pytest.fixture
def kepu_servers(database_url: str, tmp_path: Path) -> Iterator[list[Server]]:
    """Ready `kepu serve` processes on the test's database (1 on SQLite, 2 on PostgreSQL).

    Teardown sends SIGTERM and fails the test unless each exits 0 within 20 s.
    """
    with running_servers(database_url, server_count(), tmp_path / "servers") as servers:
        yield servers


def run_kepu(database_url: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a `kepu` CLI command (e.g. ``user add``) against the test's database."""
    return subprocess.run(
        [str(kepu_executable()), *args],
        env=server_env(database_url),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
