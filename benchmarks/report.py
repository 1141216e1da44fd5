# The tables print ratios with a multiplication sign, on purpose.
# ruff: noqa: RUF001
"""Write benchmarks/README.md (one table of every figure) and benchmarks/proof.png from
every JSON file under benchmarks/results/, so that running it again loses nothing:

* files with ``rows`` hold figures copied from a script's output, one row each (what is
  measured, baseline, ratio, command, figure, optionally machine): intake.json,
  notifications.json, storefront.json, admin.json, wallet.json, dashboard.json,
  hostile.json... Add or update a row there, not in README.md;
* files written by the measuring scripts themselves are turned into rows here:

    python -m ops.faults --json benchmarks/results/faults.json
    python -m ops.provider_faults --json benchmarks/results/provider-faults.json
    python benchmarks/scaleout.py scaleout --json benchmarks/results/scaleout.json
    python benchmarks/scaleout.py fairness --json benchmarks/results/fairness.json
    python benchmarks/scaleout.py fairness --big 100000 --json benchmarks/results/fairness-100k.json

* not-covered.json lists what the figures do not cover yet.

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
# Sections in this order; any other results file follows, by name.
ORDER = ("intake", "notifications", "storefront", "admin", "wallet", "dashboard", "hostile",
         "scaleout", "fairness", "fairness-100k", "faults", "provider-faults")
DEFAULT_MACHINE = "2-core Xeon VM, shared"

Row = list[str]


def load_results() -> dict[str, dict[str, Any]]:
    """Every results file by name (without .json), in the table's order."""
    found = {path.stem: json.loads(path.read_text()) for path in RESULTS.glob("*.json")}
    rank = {name: n for n, name in enumerate(ORDER)}
    return dict(sorted(found.items(), key=lambda item: (rank.get(item[0], len(ORDER)), item[0])))


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )
    cores = Path("/proc/cpuinfo").read_text().count("processor\t:")
    return f"{cpu}, {cores} cores, {platform.system()} {platform.release()}"


def fault_rows(faults: dict[str, Any]) -> list[Row]:
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
                f"{notes['scheduled_max_late_seconds']} s late (bound: RQ's 61 s lock + 15 s "
                "maintenance, plugin/worker.py)"
                if ran == probes
                else f"**{ran}/{probes} jobs scheduled 3 s ahead ran within "
                f"{notes['fault_seconds']:.0f} s of the kill**"
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


PROVIDER_NAMES = {"sendgrid": ("SendGrid", "emails delivered"),
                  "twilio": ("Twilio", "SMS delivered"),
                  "apns": ("APNs", "devices told of their pass's last change")}
DUPLICATES = {
    "sendgrid": "a send that timed out after SendGrid took it is sent again unless SendGrid's "
    "`processed` event arrives first (at most one extra copy per held request)",
    "twilio": "an attempt in doubt first asks Twilio for the message: never a second SMS",
    "apns": "a push timed out after APNs took it is pushed again: the device fetches the "
    "same pass once more, nothing the shopper sees",
}


def provider_rows(data: dict[str, Any]) -> list[Row]:
    notes = data.get("notes", {})
    window = notes.get("window_seconds", 60)
    rows = []
    for key, provider in data["providers"].items():
        name, items = PROVIDER_NAMES.get(key, (key, "items"))
        timeout = notes.get("apns_timeout" if key == "apns" else "send_timeout", 0)
        what = (f"Fault: {name} answers 500, then 429 (Retry-After), then times out "
                f"(client timeout {timeout:.0f} s), {window / 3:.0f} s each, then recovers")
        figure = (
            f"{provider['requests']} requests ({provider['refused_500']}×500, "
            f"{provider['refused_429']}×429, {provider['held_past_timeout']} held past the "
            f"timeout); {provider['items']} {items}, "
            f"{provider['delivered_after_recovery']} of them after the recovery; "
            f"**lost {provider['lost']}**, **duplicated {provider['duplicated']}** "
            f"({DUPLICATES.get(key, '')})"
        )
        if provider.get("delivered_not_recorded"):
            figure += (f"; {provider['delivered_not_recorded']} taken by the provider during "
                       "a timeout but recorded as skipped (their milestone was overtaken "
                       "before the retry)")
        if key == "sendgrid":
            figure = (
                f"webhooks accepted {data['accepted']}/{data['webhooks']}, processed "
                f"{data['processed']}, lost {data['lost']}; everything settled "
                f"{data['settle_seconds']:.0f} s after the recovery; " + figure
            )
        command = data.get("command", "python -m ops.provider_faults")
        rows.append([what, "no fault: lost 0, duplicated 0",
                     f"lost {provider['lost']}", command, figure])
    return rows


def scaleout_rows(data: dict[str, Any]) -> list[Row]:
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


def _describe_wait(r: dict[str, Any]) -> str:
    if r["still_waiting"]:
        return f"{r['still_waiting']}/{r['small_webhooks']} still waiting after {r['wait_s']:.0f} s"
    text = f"webhook 200 → applied p50 {r['p50_s']} s, max {r['max_s']} s"
    if r.get("message_max_s") is not None:
        text += (f"; 200 → \"shipped\" email sent p50 {r['message_p50_s']} s, max "
                 f"{r['message_max_s']} s ({r['messages_within_wait']}/{r['small_messages']} "
                 "orders")
        skipped = sum(n for state, n in r.get("small_message_states", {}).items()
                      if state.startswith("skipped"))
        text += f"; {skipped} skipped, see below)" if skipped else ")"
    return text


def fairness_rows(data: dict[str, Any]) -> list[Row]:
    fair = data.get("fairness")
    if not fair:
        return []
    alone, lanes, fifo = fair["alone"], fair["lanes"], fair["fifo"]
    ratio = (
        f"{lanes['max_s'] / max(alone['max_s'], 0.01):.1f}× (max)"
        if lanes.get("max_s") is not None and alone.get("max_s") is not None else "n/a"
    )
    command = f"python benchmarks/scaleout.py fairness --big {lanes['big_orders']}"
    return [
        ["Fairness: a small shop's orders during a big shop's burst of "
         f"{lanes['big_orders']:,} orders", "small shop alone: " + _describe_wait(alone), ratio,
         command, "with per-shop lanes: " + _describe_wait(lanes)],
        [f"Fairness, same {lanes['big_orders']:,}-order burst, lanes switched off (FIFO)",
         "small shop alone: " + _describe_wait(alone), "—", command + " (lanes off)",
         _describe_wait(fifo)],
    ]


def generic_rows(data: dict[str, Any]) -> list[Row]:
    return [[r["what"], r["baseline"], r["ratio"], r["command"], r["figure"],
             r.get("machine") or data.get("machine") or DEFAULT_MACHINE]
            for r in data.get("rows", [])]


def rows_of(name: str, data: dict[str, Any]) -> list[Row]:
    """The table rows of one results file, whatever wrote it."""
    if "rows" in data:
        return generic_rows(data)
    if "providers" in data:
        rows = provider_rows(data)
    elif "scaleout" in data:
        rows = scaleout_rows(data)
    elif "fairness" in data:
        rows = fairness_rows(data)
    elif data and all(isinstance(v, dict) and "scenario" in v for v in data.values()):
        rows = fault_rows(data)
    else:
        return []
    return [[*row, data.get("machine", DEFAULT_MACHINE)] for row in rows]


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(20, 4.6))
    rows = results.get("scaleout", {}).get("scaleout", [])
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
    labels, values, colors, waiting = [], [], [], []
    for name in ("fairness", "fairness-100k"):
        f = results.get(name, {}).get("fairness")
        if not f:
            continue
        size = f"{f['lanes']['big_orders'] // 1000}k"
        for label, key, color in (("alone", "alone", "tab:green"),
                                  (f"{size}, lanes", "lanes", "tab:blue"),
                                  (f"{size}, FIFO", "fifo", "tab:red")):
            if key == "alone" and "alone" in labels:
                continue
            r = f[key]
            labels.append(label)
            values.append(r["wait_s"] if r["still_waiting"] else (r["max_s"] or 0))
            colors.append(color)
            waiting.append(bool(r["still_waiting"]))
    if labels:
        bars = axes[1].bar(labels, values, color=colors)
        for bar, still in zip(bars, waiting, strict=True):
            axes[1].annotate(f"{'>' if still else ''}{bar.get_height():.2f} s",
                             (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                             ha="center", va="bottom")
        axes[1].set_yscale("log")
        axes[1].set_ylabel("small shop: webhook 200 → applied, max (s)")
        axes[1].set_title("Fairness: a big shop's burst")
        axes[1].tick_params(axis="x", labelrotation=20)
    faults = results.get("faults", {})
    if faults:
        names = list(faults)
        bars = axes[2].barh(names, [faults[k]["drain_seconds"] for k in names],
                            color="tab:purple")
        for bar, key in zip(bars, names, strict=True):
            axes[2].annotate(f" lost {faults[key]['lost']}",
                             (bar.get_width(), bar.get_y() + bar.get_height() / 2), va="center")
        axes[2].set_xlabel("seconds from the burst's end to all applied")
        axes[2].set_title("Faults: recovery (lost deliveries)")
    providers = results.get("provider-faults", {}).get("providers", {})
    if providers:
        names = list(providers)
        series = (("refused_500", "500"), ("refused_429", "429"),
                  ("held_past_timeout", "held past timeout"),
                  ("delivered_after_recovery", "delivered after recovery"),
                  ("lost", "lost"), ("duplicated", "duplicated"))
        width = 0.8 / len(series)
        for n, (key, label) in enumerate(series):
            axes[3].bar([i + n * width for i in range(len(names))],
                        [providers[p][key] for p in names], width, label=label)
        axes[3].set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names)
        axes[3].set_ylabel("requests / items")
        axes[3].set_title("Providers failing for a minute")
        axes[3].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


HEADER = """# Benchmarks and proofs

Every figure Relais claims, how it was measured, against what, and the command that
measures it again. **Written by `python benchmarks/report.py`** from the JSON files under
`benchmarks/results/`: to add or update a figure, edit (or have the script write) the
results file, then run the report; edits made here are lost at the next run.

**Machine:** {machine} ("{short}" below). The machine was **shared with other work** while
most of these ran (load average around 4 on 2 cores): absolute numbers are low and noisy;
ratios and counts (lost, duplicated) are the figures to read. Benchmarks run one at a time
under `flock /tmp/relais-bench.lock`. Loopback only; PostgreSQL 15 and redis-server 7 from
Debian's packages, fsync on, Redis append-only (`everysec`).

![scale-out, fairness, fault recovery and providers failing](proof.png)

| what is measured | baseline | ratio | command | figure | machine |
| --- | --- | --- | --- | --- | --- |
"""

NOT_COVERED = """
## What these figures do not cover yet

{items}
"""


def main() -> int:
    results = load_results()
    rows = [row for name, data in results.items() for row in rows_of(name, data)]
    text = HEADER.format(machine=machine(), short=DEFAULT_MACHINE)
    for row in rows:
        text += "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |\n"
    gaps = [item for data in results.values() for item in data.get("not_covered", [])]
    if gaps:
        text += NOT_COVERED.format(items="\n".join(f"* {item}" for item in gaps))
    (HERE / "README.md").write_text(text)
    plot(results, HERE / "proof.png")
    print(f"{len(rows)} rows from {len(results)} results files written to "
          "benchmarks/README.md; plot in benchmarks/proof.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
