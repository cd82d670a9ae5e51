"""The worker's garbage-collector pause metric, read the way Prometheus reads it."""

from __future__ import annotations

import gc

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.worker.metrics import Metrics


def gc_samples(metrics: Metrics) -> dict[tuple[str, str, str], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, s.labels["generation"], s.labels.get("le", "")): s.value
        for family in text_string_to_metric_families(text)
        if family.name == "callstream_gc_pause_seconds"
        for s in family.samples
    }


def test_full_collections_are_counted_and_timed_once_per_process() -> None:
    """Two apps' metrics in one process see the same pauses (there is one collector), a full
    collection counts in generation 2 only, and the buckets are cumulative."""
    first, second = Metrics(), Metrics()
    gc.disable()  # only the collection below, none the scrapes' allocations would start
    try:
        before = gc_samples(first)
        gc.collect()
        after = gc_samples(first)
    finally:
        gc.enable()
    count, total = "callstream_gc_pause_seconds_count", "callstream_gc_pause_seconds_sum"
    assert after[(count, "2", "")] == before[(count, "2", "")] + 1
    assert after[(total, "2", "")] > before[(total, "2", "")]
    assert after[(count, "0", "")] == before[(count, "0", "")]
    assert after == gc_samples(second)
    buckets = [v for (name, g, le), v in after.items() if g == "2" and le]
    assert buckets == sorted(buckets)
    assert buckets[-1] == after[(count, "2", "")]
