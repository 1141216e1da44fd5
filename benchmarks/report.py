# The tables print ratios with a multiplication sign, on purpose.
# ruff: noqa: RUF001
"""Write benchmarks/README.md (one table of every figure) and benchmarks/proof.png from the
JSON files under benchmarks/results/, which the measuring scripts write:

    python -m ops.faults --json benchmarks/results/faults.json
    python benchmarks/scaleout.py scaleout --json benchmarks/results/scaleout.json
    python benchmarks/scaleout.py fairness --json benchmarks/results/fairness.json
    (other scripts' printed figures are copied into benchmarks/results/collected.json)
    python benchmarks/report.py
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
FAULTS_COMMAND = "python -m ops.faults {key}"


def _load(name: str) -> dict[str, Any]:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else {}


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )
    cores = Path("/proc/cpuinfo").read_text().count("processor\t:")
    return f"{cpu}, {cores} cores, {platform.system()} {platform.release()}"


def fault_rows(faults: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key, f in faults.items():
        notes = f.get("notes", {})
        extra = []
        if "killed_mid_job" in notes:
            extra.append(f"{len(notes['killed_mid_job'])} kills, each mid-job")
        if notes.get("worker_restarts"):
            extra.append(f"{notes['worker_restarts']} worker restarts by the supervisor")
        if "scheduled_max_late_seconds" in notes:
            ran, probes = notes["scheduled_probes_run"], notes["scheduled_probes"]
            extra.append(
                f"{ran}/{probes} jobs scheduled 3 s ahead ran at most "
                f"{notes['scheduled_max_late_seconds']} s late"
                if ran == probes
                else f"**{ran}/{probes} jobs scheduled 3 s ahead ran within "
                f"{notes['fault_seconds']:.0f} s of the kill** (RQ's scheduler lock not taken "
                "over; Relais' sweeps do not depend on it)"
            )
        figure = (
            f"accepted {f['accepted']}/{f['webhooks']}, processed {f['processed']}, "
            f"**lost {f['lost']}**, **duplicated {f['duplicated']}**; "
            f"answers: {f['answered_200']}×200, {f['answered_5xx']}×503, "
            f"{f['answered_other']} other; drained {f['drain_seconds']} s after the burst"
            + ("; " + "; ".join(extra) if extra else "")
        )
        rows.append([f"Fault: {f['scenario']}", "no fault: lost 0, duplicated 0",
                     f"lost {f['lost']}/{f['accepted']}", FAULTS_COMMAND.format(key=key), figure])
    return rows


def scaleout_rows(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    for row in data.get("scaleout", []):
        rows.append([
            f"Notification throughput, {row['workers']} worker(s)",
            "1 worker",
            f"{row['ratio_vs_1']}×",
            "python benchmarks/scaleout.py scaleout",
            f"{row['messages_per_s']} messages/s, {row['webhooks_per_s']} webhooks/s "
            f"({row['messages_sent']} messages from {row['webhooks']} webhooks; "
            f"provider answers in {data['provider_delay_s'] * 1000:.0f} ms)",
        ])
    return rows


def fairness_rows(data: dict[str, Any]) -> list[list[str]]:
    fair = data.get("fairness")
    if not fair:
        return []
    alone, lanes, fifo = fair["alone"], fair["lanes"], fair["fifo"]

    def describe(r: dict[str, Any]) -> str:
        if r["still_waiting"]:
            return (f"{r['still_waiting']}/{r['small_webhooks']} still waiting after "
                    f"{r['wait_s']:.0f} s")
        return f"p50 {r['p50_s']} s, max {r['max_s']} s"

    ratio = (
        f"{lanes['max_s'] / max(alone['max_s'], 0.01):.1f}× (max)"
        if lanes.get("max_s") is not None and alone.get("max_s") is not None else "n/a"
    )
    command = f"python benchmarks/scaleout.py fairness --big {lanes['big_orders']}"
    return [
        ["Fairness: small shop's webhook 200 → applied, during a big shop's burst of "
         f"{lanes['big_orders']:,} orders", "small shop alone: " + describe(alone), ratio,
         command, "with per-shop lanes: " + describe(lanes)],
        ["Fairness, same burst, lanes switched off (FIFO, as before)",
         "small shop alone: " + describe(alone), "—", command + " (lanes off)",
         describe(fifo)],
    ]


def collected_rows(collected: dict[str, Any]) -> list[list[str]]:
    return [[r["what"], r["baseline"], r["ratio"], r["command"], r["figure"]]
            for r in collected.get("rows", [])]


def plot(scale: dict[str, Any], fair: dict[str, Any], faults: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    rows = scale.get("scaleout", [])
    if rows:
        workers = [r["workers"] for r in rows]
        rates = [r["messages_per_s"] for r in rows]
        axes[0].plot(workers, rates, "o-", label="measured")
        axes[0].plot(workers, [rates[0] * w for w in workers], "--", color="grey",
                     label="linear from 1 worker")
        axes[0].set_xticks(workers)
        axes[0].set_xlabel("RQ workers (2 shared cores)")
        axes[0].set_ylabel("messages sent per second")
        axes[0].set_title("Scale-out: notification throughput")
        axes[0].legend()
    f = fair.get("fairness")
    if f:
        labels, values, colors = [], [], []
        for name, key, color in (("alone", "alone", "tab:green"),
                                 ("burst, lanes", "lanes", "tab:blue"),
                                 ("burst, FIFO", "fifo", "tab:red")):
            r = f[key]
            labels.append(name)
            values.append(r["wait_s"] if r["still_waiting"] else (r["max_s"] or 0))
            colors.append(color)
        bars = axes[1].bar(labels, values, color=colors)
        for bar, key in zip(bars, ("alone", "lanes", "fifo"), strict=True):
            text = ">" if f[key]["still_waiting"] else ""
            axes[1].annotate(f"{text}{bar.get_height():.1f} s",
                             (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                             ha="center", va="bottom")
        axes[1].set_yscale("log")
        axes[1].set_ylabel("small shop: 200 → applied, max (s)")
        axes[1].set_title(f"Fairness: {f['lanes']['big_orders']:,}-order burst")
    if faults:
        names = [k for k in faults]
        drains = [faults[k]["drain_seconds"] for k in names]
        lost = [faults[k]["lost"] for k in names]
        bars = axes[2].barh(names, drains, color="tab:purple")
        for bar, n in zip(bars, lost, strict=True):
            axes[2].annotate(f" lost {n}", (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                             va="center")
        axes[2].set_xlabel("seconds from the burst's end to all applied")
        axes[2].set_title("Faults: recovery (lost deliveries)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


HEADER = """# Benchmarks and proofs

Every figure Relais claims, how it was measured, against what, and the command that
measures it again. Written by `python benchmarks/report.py` from `benchmarks/results/`.

**Machine:** {machine}. The machine was **shared with other work** while these ran (load
average around 4 on 2 cores): absolute numbers are low and noisy; ratios and counts
(lost, duplicated) are the figures to read. Loopback only; PostgreSQL 15 and redis-server 7
from Debian's packages, fsync on, Redis append-only (`everysec`).

![scale-out, fairness and fault recovery](proof.png)

| what is measured | baseline | ratio | command | figure |
| --- | --- | --- | --- | --- |
"""

NOT_COVERED = """
## What these figures do not cover yet

{items}
"""


def main() -> int:
    faults = _load("faults.json")
    scale = _load("scaleout.json")
    fair = _load("fairness.json")
    collected = _load("collected.json")
    rows = (collected_rows(collected) + fault_rows(faults) + scaleout_rows(scale)
            + fairness_rows(fair))
    text = HEADER.format(machine=collected.get("machine") or machine())
    for row in rows:
        text += "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |\n"
    if collected.get("not_covered"):
        text += NOT_COVERED.format(items="\n".join(f"* {i}" for i in collected["not_covered"]))
    (HERE / "README.md").write_text(text)
    plot(scale, fair, faults, HERE / "proof.png")
    print(f"{len(rows)} rows written to benchmarks/README.md; plot in benchmarks/proof.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
