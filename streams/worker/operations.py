"""``/metrics`` and ``/ready`` on the worker's web server, for whoever runs it.

``/health`` (the process answers and reaches Kafka) is the ingest's (streams.ingest.http);
``/ready`` says whether this worker is doing its job: it has partitions and consumes them
(not rebalancing, its tables recovered) and its warehouse is open with no failed commit since
the last good one. Neither shows a practice's data, so neither needs a token; put them
behind the same reverse proxy as the rest (docs/operations.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.worker.metrics import GroupOffsets, LagCollector
from streams.worker.topology import Pipeline

#: Longest a scrape waits for the broker's offsets before answering without the lag.
OFFSETS_TIMEOUT_S = 5.0


def readiness(p: Pipeline) -> dict[str, Any]:
    """Each condition of ``/ready`` and whether it holds (``ready``: all of them)."""
    app = p.app
    raw = p.settings.topic_raw_events
    assigned = [tp for tp in app.assignor.assigned_actives() if tp.topic == raw]
    recovery = app.tables.recovery
    checks = {
        "partitions": bool(assigned),
        "not_rebalancing": not app.rebalancing,
        "tables_recovered": recovery.completed.is_set(),
        "warehouse_open": p.status.warehouse_open,
        "warehouse_commits": p.status.warehouse_error is None,
    }
    answer: dict[str, Any] = {"ready": all(checks.values()), "checks": checks}
    if p.status.warehouse_error:
        answer["warehouse_error"] = p.status.warehouse_error
    return answer


def register(p: Pipeline, bootstrap: str) -> None:
    """Add ``/metrics`` and ``/ready`` to the app, and the gauges read at scrape time."""
    settings = p.settings
    metrics = p.metrics
    offsets = GroupOffsets(
        bootstrap,
        settings.app_id,
        [settings.topic_raw_events, settings.topic_classified],
        settings.topic_partitions,
    )
    metrics.collect_with(LagCollector(offsets))
    metrics.gauge(
        "callstream_calls_in_state",
        "Calls this worker holds in its call-state table (open, or ended and kept for late "
        "callbacks until call_retention_s, or callback_retention_s for calls that requested one).",
        lambda: len(p.calls.data),
    )
    metrics.gauge(
        "callstream_live_practices",
        "Practices whose live state (the wallboards') this worker holds.",
        lambda: len(p.live.table.data),
    )
    metrics.gauge(
        "callstream_ready",
        "1 when /ready answers 200 (see its checks), else 0.",
        lambda: float(readiness(p)["ready"]),
    )
    lock = asyncio.Lock()

    @p.app.page("/metrics", name="metrics")
    class MetricsView(View):
        async def get(self, request: Request) -> Response:
            async with lock:  # one offsets read at a time, however many scrapers
                try:
                    await asyncio.wait_for(asyncio.to_thread(offsets.read), OFFSETS_TIMEOUT_S)
                except TimeoutError:
                    offsets.last = {}
            body = generate_latest(metrics.registry)
            return self.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @p.app.page("/ready", name="ready")
    class ReadyView(View):
        async def get(self, request: Request) -> Response:
            answer = readiness(p)
            return self.json(answer, status=200 if answer["ready"] else 503)
