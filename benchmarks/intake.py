"""Webhook intake under gunicorn (2 workers, 16 connections), next to a bare Flask endpoint.

Runs in one go, on this machine, with wrk (Debian package):
  1. a bare Flask app whose POST returns 200 (the baseline), under three worker classes,
  2. Relais' POST /webhooks with signed, distinct orders/create deliveries (SQLite + Redis),
  3. accepted → timeline-updated latency with a worker running, at a modest steady rate.
Prints medians over several rounds and the ratio. Usage: python benchmarks/intake.py [--rounds 3]

With ``--ceilings`` each round also measures two endpoints that are not Relais, under Relais'
worker class: "check only" verifies the signature with Relais' own check and parses
the body, then answers 200 without keeping anything; "check + push" also appends the body to
a Redis list, the writes of concurrent requests grouped as Relais groups them. The second is
about the least an intake that answers only once a delivery is kept can do here: what Relais
adds on top (header checks, the delivery record and its dedupe, the job) must fit between it
and the bare endpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SECRET = "bench-secret"

BARE_APP = """
from flask import Flask
app = Flask(__name__)
@app.post("/webhooks")
def ok():
    return "", 200
"""

# The ceilings (``--ceilings``): CEILING=check answers after the signature check and the JSON
# parse; CEILING=push also appends each verified body to a Redis list, one RPUSH per group.
CEILING_APP = """
import json
import os

from flask import Flask, request
from redis import Redis
from shopify_app import ShopifyApp

from plugin.group_commit import GroupCommit
from webhooks.intake import check_signature

shopify = ShopifyApp(client_id="bench", client_secret=os.environ["SHOPIFY_API_SECRET"])
redis = Redis.from_url(os.environ["REDIS_URL"])
push = os.environ["CEILING"] == "push"


def append(bodies):
    redis.rpush("bench:ceiling", *bodies)
    return [None] * len(bodies)


grouped = GroupCommit(append)
app = Flask(__name__)


@app.post("/webhooks")
def receive():
    body = request.get_data(cache=False).decode()
    if not check_signature(shopify, body).ok:
        return "", 401
    json.loads(body)
    if push:
        grouped.submit(body)
    return "", 200
"""
CEILINGS = {"check only": "check", "check + push": "push"}

# wrk script: every request a new webhook id and order id, signed with the app secret.
WRK_LUA = r"""
local counter = 0
local body_tpl = io.open(os.getenv("BENCH_BODY")):read("*a")
local sigs = {}
for line in io.lines(os.getenv("BENCH_SIGS")) do table.insert(sigs, line) end
local thread_id = 0
function setup(thread) thread_id = thread_id + 1; thread:set("tid", thread_id) end
request = function()
  counter = counter + 1
  local i = ((tid - 1) * 1000000 + counter) % #sigs + 1
  local body = string.gsub(body_tpl, "ORDERID", tostring(i))
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["X-Shopify-Topic"] = "orders/create"
  headers["X-Shopify-Shop-Domain"] = "bench-shop.myshopify.com"
  headers["X-Shopify-Webhook-Id"] = "wrk-" .. tid .. "-" .. counter .. "-" .. os.time()
  headers["X-Shopify-API-Version"] = "2026-07"
  headers["X-Shopify-Hmac-Sha256"] = sigs[i]
  return wrk.format("POST", "/webhooks", headers, body)
end
"""


def _env(instance: Path, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "SHOPIFY_API_KEY": "bench",
        "SHOPIFY_API_SECRET": SECRET,
        "APP_URL": "http://127.0.0.1",
        "SECRET_KEY": "bench",
        "RELAIS_INSTANCE_DIR": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'relais.sqlite3'}",
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
    }


def _gunicorn(
    cmd_app: str, port: int, env: dict[str, str], cwd: Path, *, worker_class: str | None = None
) -> subprocess.Popen[bytes]:
    """gunicorn with 2 processes: threaded as ``relais serve`` runs it (``worker_class``
    None), or with another worker class: gunicorn's own ``gthread`` (8 threads) or ``sync``
    (one request at a time per process, no keep-alive)."""
    from plugin.server import WEB_THREADS, WORKER_CLASS

    worker_class = worker_class or WORKER_CLASS
    workers = ["-k", worker_class]
    if worker_class != "sync":
        workers += ["--threads", str(WEB_THREADS)]
    return subprocess.Popen(
        [
            PY,
            "-m",
            "gunicorn",
            *workers,
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            cmd_app,
        ],
        env=env,
        cwd=cwd,
    )


def _wait(url: str) -> None:
    for _ in range(100):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def _warm_up(port: int, env: dict[str, str], lua: Path) -> None:
    """Let every gunicorn worker finish loading the app, then run a short discarded load.

    The first answer only proves that one worker is up. wrk opens its connections at once
    and, with keep-alive (threaded workers), each one stays on the worker that accepted
    it: started too early, the whole measurement runs on a single process.
    """
    time.sleep(2)
    _wrk(port, env, lua, 2)


def _wrk(port: int, env: dict[str, str], lua: Path, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c16",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(lua),
            f"http://127.0.0.1:{port}/webhooks",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(
        next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec"))
    )
    p99 = next(line.split()[1] for line in out.splitlines() if line.strip().startswith("99%"))
    non2xx = next((int(line.split()[-1]) for line in out.splitlines() if "Non-2xx" in line), 0)
    return {"rps": rps, "p99_ms": _ms(p99), "non2xx": non2xx}


def _print_round(round_no: int, name: str, result: dict[str, float]) -> None:
    print(
        f"round {round_no + 1} {name:<24} {result['rps']:>7.0f} req/s"
        f"  p99 {result['p99_ms']:.1f} ms",
        flush=True,
    )


def _ms(value: str) -> float:
    for suffix, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--ceilings", action="store_true", help="also measure the two ceiling endpoints"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    import base64
    import hashlib
    import hmac

    from plugin.migrate import upgrade
    from plugin.redis_conn import start_embedded_redis
    from plugin.shopify_payloads import Item, Shopper, order_payload

    work = Path(tempfile.mkdtemp(prefix="relais-bench-"))
    redis_url = start_embedded_redis(work / "redis")
    payload = order_payload(
        order_id=0,
        number=1001,
        shopper=Shopper(
            "Camille", "Martin", "camille@example.fr", "+33612345678", "Lyon", "69003", "FR", "fr"
        ),
        items=[Item("Bougie", "32.00")],
        created_at=__import__("datetime").datetime(2026, 11, 2, tzinfo=__import__("datetime").UTC),
    )
    template = json.dumps(payload).replace('"id": 0,', '"id": ORDERID,', 1)
    (work / "body.json").write_text(template)
    with (work / "sigs.txt").open("w") as sigs:
        for i in range(1, 20001):
            body = template.replace("ORDERID", str(i)).encode()
            sigs.write(
                base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
                + "\n"
            )
    (work / "bench.lua").write_text(WRK_LUA)
    (work / "bare_app.py").write_text(BARE_APP)
    (work / "ceiling_app.py").write_text(CEILING_APP)
    wrk_env = {
        **os.environ,
        "BENCH_BODY": str(work / "body.json"),
        "BENCH_SIGS": str(work / "sigs.txt"),
    }

    # The bare endpoint runs under Relais' worker class and under gunicorn's own threaded and
    # sync workers; the fastest of the three is the baseline.
    results: dict[str, list[dict[str, float]]] = {
        "bare (sync)": [],
        "bare (gthread)": [],
        "bare (threaded)": [],
        "relais (threaded)": [],
    }
    if args.ceilings:
        results.update({f"{name} (threaded)": [] for name in CEILINGS})

    def measure(
        round_no: int, name: str, served: subprocess.Popen[bytes], port: int, ready_path: str
    ) -> None:
        """Wait for a started server, warm it up, measure it into ``results``, stop it."""
        _wait(f"http://127.0.0.1:{port}{ready_path}")
        _warm_up(port, wrk_env, work / "bench.lua")
        results[name].append(_wrk(port, wrk_env, work / "bench.lua", args.seconds))
        _print_round(round_no, name, results[name][-1])
        served.terminate()
        served.wait()

    for round_no in range(args.rounds):
        for name, worker_class in (
            ("bare (sync)", "sync"),
            ("bare (gthread)", "gthread"),
            ("bare (threaded)", None),
        ):
            served = _gunicorn(
                "bare_app:app", 18080, os.environ.copy(), work, worker_class=worker_class
            )
            measure(round_no, name, served, 18080, "/")

        instance = work / f"instance-{round_no}"
        instance.mkdir()
        env = _env(instance, redis_url)
        upgrade(env["DATABASE_URL"])
        served = _gunicorn("plugin:create_app()", 18081, env, ROOT)
        measure(round_no, "relais (threaded)", served, 18081, "/healthz")
        if args.ceilings:
            for name, kind in CEILINGS.items():
                ceiling_env = {
                    **os.environ,
                    "CEILING": kind,
                    "REDIS_URL": redis_url,
                    "SHOPIFY_API_SECRET": SECRET,
                    "PYTHONPATH": str(ROOT),
                }
                served = _gunicorn("ceiling_app:app", 18083, ceiling_env, work)
                measure(round_no, f"{name} (threaded)", served, 18083, "/")
        import redis as redis_lib

        redis_lib.Redis.from_url(redis_url).flushdb()

    bare_rps = max(
        statistics.median(r["rps"] for r in results[name])
        for name in ("bare (sync)", "bare (gthread)", "bare (threaded)")
    )
    relais_rps = statistics.median(r["rps"] for r in results["relais (threaded)"])
    print("\nIntake throughput, gunicorn -w 2, wrk -t2 -c16, medians of", args.rounds, "rounds")
    print(f"{'endpoint':<26}{'req/s':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for name, rows in results.items():
        print(
            f"{name:<26}{statistics.median(r['rps'] for r in rows):>10.0f}"
            f"{statistics.median(r['p99_ms'] for r in rows):>10.2f}"
            f"{sum(r['non2xx'] for r in rows):>10.0f}"
        )
    if args.ceilings:
        for name in CEILINGS:
            rps = statistics.median(r["rps"] for r in results[f"{name} (threaded)"])
            print(f"ratio {name} / fastest bare: {rps / bare_rps:.2f}")
    print(
        f"ratio relais / fastest bare: {relais_rps / bare_rps:.2f} (target >= 0.50); "
        f"relais p99 {statistics.median(r['p99_ms'] for r in results['relais (threaded)']):.2f} ms"
        " (target < 20)"
    )

    latency = _end_to_end_latency(work, redis_url)
    print(
        f"accepted → timeline updated: p50 {latency[0]:.0f} ms, p95 {latency[1]:.0f} ms "
        f"over {latency[2]} deliveries (target p95 < 500 ms)"
    )
    shutil.rmtree(work, ignore_errors=True)
    return 0


def _end_to_end_latency(work: Path, redis_url: str) -> tuple[float, float, int]:
    """Send deliveries at ~20/s with one worker running; time 200 → event on the timeline."""
    import base64
    import hashlib
    import hmac
    import uuid
    from datetime import UTC, datetime

    from sqlalchemy import create_engine

    from plugin.migrate import upgrade
    from plugin.shopify_payloads import fulfillment_event_payload

    instance = work / "instance-latency"
    instance.mkdir()
    env = _env(instance, redis_url)
    upgrade(env["DATABASE_URL"])
    web = _gunicorn("plugin:create_app()", 18082, env, ROOT)
    worker = subprocess.Popen(
        [PY, "-m", "plugin", "worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait("http://127.0.0.1:18082/healthz")
    engine = create_engine(env["DATABASE_URL"])
    client = httpx.Client(base_url="http://127.0.0.1:18082", timeout=5)
    accepted: dict[int, float] = {}
    samples: list[float] = []
    try:
        for n in range(1, 201):
            payload = fulfillment_event_payload(
                event_id=n,
                fulfillment_id=77,
                order_id=99,
                status="in_transit",
                happened_at=datetime.now(UTC),
            )
            body = json.dumps(payload).encode()
            headers = {
                "X-Shopify-Topic": "fulfillment_events/create",
                "X-Shopify-Shop-Domain": "bench-shop.myshopify.com",
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                "X-Shopify-Hmac-Sha256": base64.b64encode(
                    hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
                ).decode(),
            }
            if client.post("/webhooks", content=body, headers=headers).status_code == 200:
                accepted[n] = time.perf_counter()
            time.sleep(0.05)
            _collect(engine, accepted, samples)
        deadline = time.monotonic() + 20
        while accepted and time.monotonic() < deadline:
            _collect(engine, accepted, samples)
            time.sleep(0.01)
    finally:
        web.terminate()
        worker.terminate()
        web.wait()
        worker.wait()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], len(samples)


def _collect(engine, accepted: dict[int, float], samples: list[float]) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from plugin.models import TrackingEvent

    if not accepted:
        return
    with engine.connect() as conn:
        seen = set(
            conn.scalars(
                select(TrackingEvent.shopify_event_id).where(
                    TrackingEvent.shopify_event_id.in_(list(accepted))
                )
            )
        )
    now = time.perf_counter()
    for event_id in seen:
        samples.append((now - accepted.pop(event_id)) * 1000)


if __name__ == "__main__":
    sys.exit(main())
