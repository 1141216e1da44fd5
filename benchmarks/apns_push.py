"""APNs pushes per second over one HTTP/2 connection to the local stand-in.

The stand-in (tests/standins/apns_server.py) runs in its own process (on its own core with
``--pin``); the client pushes ``--count`` device tokens per run with provider-token auth,
and the table reports the median of the runs for Relais' HTTP/2 transport and, as the
baseline, httpx's own HTTP/2 transport (``httpx.AsyncHTTPTransport(http2=True)``), with
the CPU time each side spent per push (a figure that other load on the machine does not
move, unlike the rate).

    .venv/bin/python -m benchmarks.apns_push [--runs 5] [--count 5000] [--concurrency 100]
        [--baseline-count 2000] [--pin]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from tests.standins.apns_server import write_server_certificate, write_token_key
from wallet.apns import ApnsClient, PushResult, TokenAuth, httpx_http2_transport

ROOT = Path(__file__).resolve().parent.parent
TOPIC = "pass.com.relais.order"
TEAM = "RELAISDEV1"
KEY_ID = "BENCH12345"
TARGET = 2000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin(core: int | None) -> None:
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})


def measure(
    url: str,
    tls: Path,
    auth: TokenAuth,
    server_pid: int,
    transport: Callable[..., Any] | None,
    runs: int,
    count: int,
    concurrency: int,
) -> tuple[list[float], float, float]:
    """(pushes/s per run, client CPU µs/push, server CPU µs/push)."""
    rates, client_cpu, server_cpu = [], 0.0, 0.0
    with ApnsClient(
        auth, host=url, verify=str(tls), concurrency=concurrency, transport=transport
    ) as client:
        client.push_many([f"{i:064x}" for i in range(200)], TOPIC)  # connect and warm up
        for run in range(runs):
            devices = [f"{run:08x}{i:056x}" for i in range(count)]
            cpu, server = time.process_time(), cpu_seconds(server_pid)
            started = time.perf_counter()
            outcomes = client.push_many(devices, TOPIC)
            rates.append(count / (time.perf_counter() - started))
            client_cpu += time.process_time() - cpu
            server_cpu += cpu_seconds(server_pid) - server
            failed = [o for o in outcomes if o.result is not PushResult.OK]
            if failed:
                raise SystemExit(f"{len(failed)} pushes failed, first: {failed[0]}")
    pushes = runs * count
    return rates, client_cpu / pushes * 1e6, server_cpu / pushes * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--baseline-count", type=int, default=2000)
    parser.add_argument(
        "--pin", action="store_true", help="pin client and stand-in to one core each"
    )
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0)) if args.pin else []
    client_core = cores[0] if len(cores) > 1 else None
    server_core = cores[1] if len(cores) > 1 else None

    with tempfile.TemporaryDirectory(prefix="relais-apns-bench-") as scratch:
        folder = Path(scratch)
        tls, tls_key = write_server_certificate(folder)
        p8, public = write_token_key(folder, KEY_ID)
        public_pem = folder / "public.pem"
        public_pem.write_bytes(
            public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.standins.apns_server", "--certificate", str(tls),
             "--key", str(tls_key), "--topic", TOPIC, "--token-key", KEY_ID, TEAM,
             str(public_pem)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
            preexec_fn=(lambda: pin(server_core)) if server_core is not None else None,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            pin(client_core)
            auth = TokenAuth.from_p8(p8, team_id=TEAM, key_id=KEY_ID)
            ours = measure(url, tls, auth, server.pid, None, args.runs, args.count,
                           args.concurrency)  # fmt: skip
            theirs = measure(url, tls, auth, server.pid, httpx_http2_transport, args.runs,
                             args.baseline_count, args.concurrency)  # fmt: skip
        finally:
            if server.stdin is not None:
                server.stdin.close()
            server.wait(10)

    print(
        f"APNs pushes per second over one HTTP/2 connection to the local stand-in, "
        f"median of {args.runs} runs, {args.concurrency} streams in flight"
    )
    print(f"{'client transport':<30}{'median/s':>10}{'client µs':>11}{'server µs':>11}   runs")
    for name, (rates, client_us, server_us), count in (
        ("relais Http2Transport", ours, args.count),
        ("httpx AsyncHTTPTransport", theirs, args.baseline_count),
    ):
        runs = " ".join(f"{r:.0f}" for r in rates)
        print(
            f"{name:<30}{statistics.median(rates):>10.0f}{client_us:>11.0f}{server_us:>11.0f}"
            f"   {runs} ({count}/run)"
        )
    ratio = statistics.median(ours[0]) / statistics.median(theirs[0])
    print(f"{'ratio':<30}{ratio:>9.1f}x")
    mine = statistics.median(ours[0])
    print(f"target: {TARGET}/s -> {'met' if mine >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
