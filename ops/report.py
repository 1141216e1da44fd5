"""What ``make cluster`` prints after a run: figures, health, metrics, a log audit."""

from __future__ import annotations

from ops.audit import Figures, audit, engine_for, wait_until_drained
from ops.cluster import SECRET, Cluster
from ops.load import LoadReport
from ops.logscan import personal_values, scan
from plugin.redis_conn import connect

METRIC_PREFIXES = (
    "relais_webhooks_total",
    "relais_queue_depth",
    "relais_queue_oldest_age_seconds",
    "relais_job_failures_total",
    "relais_webhook_deliveries",
    "relais_notification",
    "relais_wallet_pushes",
)


def settle(cluster: Cluster, report: LoadReport, scenario: str, *, timeout: float = 180) -> Figures:
    """Wait for the queues to drain, then audit the run."""
    engine = engine_for(cluster.database_url)
    redis = connect(cluster.redis.url)
    try:
        waited = wait_until_drained(engine, redis, len(report.accepted), timeout=timeout)
        return audit(scenario, engine, redis, report, waited)
    finally:
        engine.dispose()
        redis.close()


def print_run(cluster: Cluster, report: LoadReport) -> Figures:
    figures = settle(cluster, report, "cluster run")
    rate = len(report.records) / report.seconds if report.seconds else 0.0
    print(f"load: {len(report.records)} webhooks in {report.seconds:.1f} s ({rate:.0f}/s)")
    print(figures.line())
    metrics = cluster.read_metrics()
    print("--- /metrics (excerpt)")
    for line in metrics.splitlines():
        if line.startswith(METRIC_PREFIXES) and not line.startswith("#"):
            print(line)
    needles = personal_values(r.webhook for r in report.records)
    needles.update({SECRET: "webhook secret", "cluster-secret-key": "secret key"})
    needles.update({r.webhook.signature: "signature" for r in report.records[:200]})
    leaks = scan(cluster.logs, needles)
    print(f"--- logs: {sum(1 for _ in cluster.logs.glob('*.log'))} files scanned for "
          f"{len(needles)} personal values and secrets: {len(leaks)} found")
    for leak in leaks[:10]:
        print(f"  {leak.file}:{leak.line_number}: {leak.kind}")
    return figures
