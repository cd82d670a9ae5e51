"""What the worker tells whoever runs it, in Prometheus' format (docs/operations.md).

One ``Metrics`` per app, on its own registry (two apps in one process, as in tests, do not
collide). The agents count as they go (events in, dead letters, warehouse commits); what is
a matter of state (consumer lag, calls held, freshness) is read when ``/metrics`` is asked,
so a scrape always shows now. Consumer lag is the group's: the broker's end offset of each
partition of the raw and classified topics less the offset the group committed, for every
partition, whichever worker owns it; so a worker that stops consuming shows on the others.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client import Counter as PromCounter
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

#: Dead letters are also kept for this long, for the alert rule "dead letters in 10 minutes".
DEAD_LETTER_MEMORY_S = 3600.0


@dataclass
class Status:
    """What ``/ready`` reports of the writer: its warehouse open, and its last commit's error."""

    warehouse_open: bool = False
    warehouse_error: str | None = None


class Metrics:
    """The worker's metrics and the counts the alert rules read."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = PromCounter(
            "callstream_events",
            "Raw events accepted by the pipeline, by practice and event type.",
            ["practice", "type"],
            registry=r,
        )
        self.events_not_kept = PromCounter(
            "callstream_events_not_kept",
            "Valid events the pipeline did not keep because they could not change their "
            "call: a repeat of an event_id the call holds, or (once a call holds half of "
            "call_max_events) a later ringing, queue join or answer than its first.",
            ["practice"],
            registry=r,
        )
        self.dead_letters = PromCounter(
            "callstream_dead_letters",
            "Messages set aside on the dead-letter topic, by the field at fault ('none': "
            "not one field, e.g. unreadable JSON or a call that could not be classified).",
            ["field"],
            registry=r,
        )
        self.commit_seconds = Histogram(
            "callstream_warehouse_commit_seconds",
            "Time to commit one batch of classified calls to the warehouse (MERGE).",
            registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
        )
        self.batch_calls = Histogram(
            "callstream_warehouse_batch_calls",
            "Classified calls per warehouse commit.",
            registry=r,
            buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000),
        )
        self.facts_deferred = PromCounter(
            "callstream_warehouse_facts_deferred_commits",
            "Warehouse commits that left their practice-days' facts to a later commit "
            "(table fact_backlog) because more calls were already waiting: sustained load.",
            registry=r,
        )
        self.maintenance_seconds = Histogram(
            "callstream_warehouse_maintenance_seconds",
            "Time of the warehouse maintenance rounds this worker did (it holds the lease): "
            "'small' merges the last commits' small files, between two commits, so the "
            "writer waits for it; 'full' compacts everything and expires snapshots.",
            ["round"],
            registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900),
        )
        self.maintenance_failures = PromCounter(
            "callstream_warehouse_maintenance_failures",
            "Warehouse maintenance rounds that failed (retried at the next round).",
            ["round"],
            registry=r,
        )
        self.newest_committed = Gauge(
            "callstream_newest_committed_call_start_timestamp_seconds",
            "Start time (event time) of the newest call committed to the warehouse.",
            registry=r,
        )
        self.freshness = Gauge(
            "callstream_freshness_seconds",
            "Now less the start time (event time) of the newest call committed to the "
            "warehouse; NaN before the first commit.",
            registry=r,
        )
        self.freshness.set_function(self._freshness)
        self.registry.register(GcPauses.of_process())
        self._dead_at: deque[float] = deque()
        self._newest: float | None = None

    def count_events(self, tally: Counter[tuple[str, str]]) -> None:
        for (practice, kind), n in tally.items():
            self.events.labels(practice, kind).inc(n)

    def not_kept(self, tally: Counter[str]) -> None:
        for practice, n in tally.items():
            self.events_not_kept.labels(practice).inc(n)

    def dead_letter(self, field: str | None) -> None:
        self.dead_letters.labels(field or "none").inc()
        now = self.clock()
        self._dead_at.append(now)
        while self._dead_at and self._dead_at[0] < now - DEAD_LETTER_MEMORY_S:
            self._dead_at.popleft()

    def dead_letters_within(self, seconds: float) -> int:
        """Dead letters this worker sent in the last ``seconds`` (at most an hour)."""
        since = self.clock() - seconds
        return sum(1 for at in self._dead_at if at >= since)

    def committed(self, seconds: float, starts: Iterable[float], facts: bool = True) -> None:
        """A warehouse commit of calls starting at ``starts`` (epoch) took ``seconds``;
        ``facts``: it recomputed their facts too (not deferred)."""
        starts = list(starts)
        self.commit_seconds.observe(seconds)
        if not facts:
            self.facts_deferred.inc()
        self.batch_calls.observe(len(starts))
        if starts:
            newest = max(starts)
            if self._newest is None or newest > self._newest:
                self._newest = newest
                self.newest_committed.set(newest)

    def maintained(self, kind: str, seconds: float) -> None:
        self.maintenance_seconds.labels(kind).observe(seconds)

    def maintenance_failed(self, kind: str) -> None:
        self.maintenance_failures.labels(kind).inc()

    def _freshness(self) -> float:
        return float("nan") if self._newest is None else self.clock() - self._newest

    def gauge(self, name: str, doc: str, read: Callable[[], float]) -> None:
        """A gauge read when scraped."""
        Gauge(name, doc, registry=self.registry).set_function(read)

    def collect_with(self, collector: Collector) -> None:
        self.registry.register(collector)


class GcPauses(Collector):
    """``callstream_gc_pause_seconds{generation}``: Python's garbage-collector pauses in
    this process. Every thread stops for one, the event loop (wallboards, consuming) too,
    and a full (generation 2) collection takes time in proportion to the objects the worker
    holds: its tables of today's calls. One per process (the collector is); ``of_process``.
    Counted by hand, not with a prometheus ``Histogram``: its observe takes a lock, and a
    collection can start in a thread that holds it (a callback runs in that thread)."""

    BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
    _process: GcPauses | None = None
    _made = threading.Lock()

    def __init__(self) -> None:
        self.buckets = [[0] * len(self.BUCKETS) for _ in range(3)]
        self.count = [0, 0, 0]
        self.total = [0.0, 0.0, 0.0]
        self._started: float | None = None
        gc.callbacks.append(self._observe)

    @classmethod
    def of_process(cls) -> GcPauses:
        with cls._made:
            if cls._process is None:
                cls._process = cls()
            return cls._process

    def _observe(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        if self._started is None:
            return
        seconds = time.perf_counter() - self._started
        self._started = None
        generation = min(info["generation"], 2)
        self.count[generation] += 1
        self.total[generation] += seconds
        for i, bound in enumerate(self.BUCKETS):
            if seconds <= bound:
                self.buckets[generation][i] += 1

    def collect(self) -> Iterable[HistogramMetricFamily]:
        family = HistogramMetricFamily(
            "callstream_gc_pause_seconds",
            "Pauses of Python's garbage collector in the worker, by generation (2: a full "
            "collection); every thread, the event loop too, waits for one.",
            labels=["generation"],
        )
        for generation in range(3):
            counts = zip(self.BUCKETS, self.buckets[generation], strict=True)
            family.add_metric(
                [str(generation)],
                [*((str(bound), n) for bound, n in counts), ("+Inf", self.count[generation])],
                self.total[generation],
            )
        yield family


class LagCollector(Collector):
    """``callstream_consumer_lag{topic,partition}``: the offsets read for this scrape."""

    def __init__(self, offsets: GroupOffsets) -> None:
        self.offsets = offsets

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "callstream_consumer_lag",
            "Messages of a partition not yet committed by the worker group (end offset less "
            "committed offset), for every partition of the raw and classified topics.",
            labels=["topic", "partition"],
        )
        for (topic, partition), lag in sorted(self.offsets.last.items()):
            family.add_metric([topic, str(partition)], lag)
        yield family


class GroupOffsets:
    """End and committed offsets of the worker group's topics, read from the broker.

    Blocking (kafka-python): call ``read`` in a thread. Clients are made on first use and
    made again after a failure; a failed read gives no figures rather than old ones.
    """

    def __init__(self, bootstrap: str, group: str, topics: list[str], partitions: int) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self.topics = topics
        self.partitions = partitions
        self._admin = None
        self._consumer = None
        self.last: dict[tuple[str, int], int] = {}

    def read(self) -> dict[tuple[str, int], int]:
        from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

        tps = [TopicPartition(t, p) for t in self.topics for p in range(self.partitions)]
        try:
            if self._admin is None:
                self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
                self._consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
            ends = self._consumer.end_offsets(tps)
            committed = self._admin.list_group_offsets(self.group).get(self.group, {})
        except Exception as exc:
            log.warning("metrics: cannot read consumer offsets (%s)", type(exc).__name__)
            self.close()
            self.last = {}
            return self.last
        self.last = {
            (tp.topic, tp.partition): max(
                0, ends[tp] - (committed[tp].offset if tp in committed else 0)
            )
            for tp in tps
        }
        return self.last

    def close(self) -> None:
        for client in (self._admin, self._consumer):
            if client is not None:
                try:
                    client.close()
                except Exception:  # closing a broken client: nothing more to do
                    pass
        self._admin = self._consumer = None
