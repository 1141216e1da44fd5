"""Relais on one machine in its production shape: PostgreSQL, Redis (append-only), two
gunicorn web processes behind one port, N RQ workers, all on 127.0.0.1.

A small supervisor restarts a worker that dies, as systemd or a container orchestrator
would in production. Every process logs to its own file under ``root/logs``.

    python -m ops.cluster --workers 2 --shops 40 --orders 10   # what ``make cluster`` runs
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from ops.services import PostgresServer, RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SECRET = "cluster-webhook-secret"  # noqa: S105 - the loopback cluster's own, not a real one


@dataclass(frozen=True)
class ClusterSettings:
    """What a run changes; everything else is Relais' production default."""

    workers: int = 2
    web_processes: int = 2
    # Short in scenarios so that the sweep's recovery fits a test (production: 120 s).
    stuck_delivery_seconds: int = 120
    log_level: str = "INFO"
    extra_env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Process:
    """One supervised process and the file it logs to."""

    name: str
    command: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    wanted: bool = True
    _log_file: IO[bytes] | None = None

    def start(self, env: Mapping[str, str]) -> None:
        self._log_file = self.log.open("ab")
        # Our own command lines (python -m plugin ...), never input from elsewhere.
        self.popen = subprocess.Popen(  # noqa: S603
            self.command, env=dict(env), cwd=ROOT, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: signal.Signals, *, wait: float = 15.0) -> None:
        if not self.alive():
            return
        assert self.popen is not None
        self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def close(self) -> None:
        if self._log_file is not None:
            self._log_file.close()


class Cluster:
    """Start with :meth:`start` (or use as a context manager); stop with :meth:`stop`."""

    def __init__(self, root: Path, settings: ClusterSettings | None = None) -> None:
        self.root = root
        self.settings = settings or ClusterSettings()
        self.logs = root / "logs"
        self.postgres = PostgresServer()
        self.redis = RedisServer(root / "redis")
        self.port = free_port()
        self.database_url = ""
        self.web: Process | None = None
        self.workers: list[Process] = []
        self.tables_outside_migrations: list[str] = []
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment every Relais process of this cluster starts with."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_", "REDIS_", "TEST_", "SHOPIFY_"))
        }
        env.update(
            SHOPIFY_API_KEY="cluster-api-key",
            SHOPIFY_API_SECRET=SECRET,
            APP_URL=self.base_url,
            SECRET_KEY="cluster-secret-key",  # noqa: S106 - loopback cluster only
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis.url,
            RELAIS_INSTANCE_DIR=str(self.root / "instance"),
            RELAIS_STUCK_DELIVERY_SECONDS=str(self.settings.stuck_delivery_seconds),
            LOG_LEVEL=self.settings.log_level,
            PORT=str(self.port),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.settings.extra_env)
        return env

    def start(self) -> Cluster:
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self.postgres.init()
        self.postgres.start()
        self.database_url = self.postgres.create_database("relais")
        self.tables_outside_migrations = prepare_schema(self.database_url)
        self.redis.start()
        self.web = Process(
            "web",
            [PYTHON, "-m", "plugin", "serve", "--host", "127.0.0.1",
             "--workers", str(self.settings.web_processes)],
            self.logs / "web.log",
        )
        self.web.start(self.env())
        for _ in range(self.settings.workers):
            self.add_worker()
        self.wait_healthy()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._supervisor.start()
        return self

    def add_worker(self) -> Process:
        number = len(self.workers) + 1
        name = f"worker-{number}"
        worker = Process(name, [PYTHON, "-m", "plugin", "worker"], self.logs / f"{name}.log")
        worker.start(self.env())
        with self._lock:
            self.workers.append(worker)
        return worker

    def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.web is not None and not self.web.alive():
                break
            try:
                answer = httpx.get(f"{self.base_url}/healthz", timeout=2)
                if answer.status_code == 200:
                    return
                last = answer.text
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.2)
        tail = (self.logs / "web.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"Relais did not become healthy: {last}\n{tail}")

    def _supervise(self) -> None:
        # A worker that exits on its own (crash, SIGKILL) is started again after a second,
        # which is what Restart=always does in production.
        while not self._stopping.wait(0.5):
            with self._lock:
                dead = [w for w in self.workers if w.wanted and not w.alive()]
            for worker in dead:
                time.sleep(1.0)
                if self._stopping.is_set():
                    return
                worker.close()
                worker.restarts += 1
                worker.start(self.env())

    def stop_worker(self, worker: Process, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop a worker for good (the supervisor leaves it down)."""
        worker.wanted = False
        worker.signal(sig)

    def stop(self) -> None:
        self._stopping.set()
        for worker in self.workers:
            worker.wanted = False
            worker.signal(signal.SIGTERM)
            worker.close()
        if self.web is not None:
            self.web.signal(signal.SIGTERM)
            self.web.close()
        self.redis.stop()
        if self.postgres.is_running():
            self.postgres.stop()

    def read_metrics(self) -> str:
        return httpx.get(f"{self.base_url}/metrics", timeout=10).text


@contextmanager
def running_cluster(
    settings: ClusterSettings | None = None, *, root: Path | None = None, keep: bool = False
) -> Iterator[Cluster]:
    """A started cluster in a temporary folder, stopped and removed afterwards."""
    folder = root or Path(tempfile.mkdtemp(prefix="relais-cluster-"))
    cluster = Cluster(folder, settings)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        cluster.postgres.destroy()
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def prepare_schema(database_url: str) -> list[str]:
    """``relais db upgrade``, then any table the migrations do not create yet.

    Returns the names of the tables created outside the migrations, so that a run says
    when the models and the migrations disagree.
    """
    from sqlalchemy import create_engine, inspect

    import plugin.model_registry  # noqa: F401  (every table in the metadata)
    from plugin.db import Base
    from plugin.migrate import upgrade

    upgrade(database_url)
    engine = create_engine(database_url)
    try:
        existing = set(inspect(engine).get_table_names())
        missing = [t for t in Base.metadata.sorted_tables if t.name not in existing]
        Base.metadata.create_all(engine, tables=missing)
    finally:
        engine.dispose()
    return [t.name for t in missing]


def main(argv: list[str] | None = None) -> int:
    from ops.load import LoadPlan, run_load
    from ops.report import print_run

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="RQ worker processes")
    parser.add_argument("--shops", type=int, default=40)
    parser.add_argument("--orders", type=int, default=10, help="orders per shop")
    parser.add_argument("--concurrency", type=int, default=16, help="load driver connections")
    parser.add_argument("--hold", type=float, default=0, help="seconds to stay up afterwards")
    parser.add_argument("--keep", action="store_true", help="keep the folder (logs) afterwards")
    args = parser.parse_args(argv)
    with running_cluster(ClusterSettings(workers=args.workers), keep=args.keep) as cluster:
        print(f"cluster up: {cluster.base_url} (logs in {cluster.logs})", flush=True)
        if cluster.tables_outside_migrations:
            print("tables not in migrations yet: " + ", ".join(cluster.tables_outside_migrations))
        plan = LoadPlan(shops=args.shops, orders_per_shop=args.orders)
        report = run_load(cluster, plan, concurrency=args.concurrency)
        print_run(cluster, report)
        if args.hold:
            print(f"holding for {args.hold:.0f} s: try {cluster.base_url}/metrics", flush=True)
            time.sleep(args.hold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
