"""Delivering a fetched message: one step at once, Faust's race only when it has to wait.

The race is mode's real ``Service.wait_first`` (what Faust's consumer uses); the delivery
is a real ``asyncio.Queue.put``, as a stream's buffer is. No broker needed.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest
from mode import Service

from streams.settings import Settings
from streams.worker.app import create_app
from streams.worker.fast_delivery import FastDeliveryConsumer, deliver


async def _put(queue: asyncio.Queue, item: str, log: list[str]) -> str:
    try:
        await queue.put(item)
    except asyncio.CancelledError:
        log.append("cancelled")
        raise
    log.append("delivered")
    return item


def test_delivery_that_need_not_wait_is_done_without_a_race() -> None:
    async def run() -> None:
        queue: asyncio.Queue = asyncio.Queue(maxsize=2)
        flow = asyncio.Event()
        log: list[str] = []
        raced: list[object] = []

        async def race(*coros: object) -> object:
            raced.append(coros)
            return await Service().wait_first(*coros)

        delivery, flow_wait = _put(queue, "m1", log), flow.wait()
        result = await deliver(delivery, flow_wait, race)
        assert result.done == [delivery] and result.results == ["m1"] and not result.stopped
        assert raced == [] and log == ["delivered"] and queue.get_nowait() == "m1"
        assert inspect.getcoroutinestate(flow_wait) == inspect.CORO_CLOSED  # no warning

    asyncio.run(run())


def test_delivery_that_waits_is_raced_and_finishes_when_there_is_room() -> None:
    async def run() -> None:
        queue: asyncio.Queue = asyncio.Queue(maxsize=1)
        queue.put_nowait("m0")
        flow = asyncio.Event()
        log: list[str] = []
        task = asyncio.ensure_future(
            deliver(_put(queue, "m1", log), flow.wait(), Service().wait_first)
        )
        await asyncio.sleep(0.01)
        assert not task.done() and log == []  # blocked on the full buffer
        assert queue.get_nowait() == "m0"  # the stream takes one: room for the message
        result = await asyncio.wait_for(task, 2)
        assert result.results[-1] == "m1" and not result.stopped
        assert log == ["delivered"] and queue.get_nowait() == "m1"

    asyncio.run(run())


def test_suspended_flow_abandons_a_waiting_delivery_as_faust_does() -> None:
    async def run() -> None:
        queue: asyncio.Queue = asyncio.Queue(maxsize=1)
        queue.put_nowait("m0")
        flow = asyncio.Event()
        log: list[str] = []
        flow_wait = flow.wait()
        task = asyncio.ensure_future(
            deliver(_put(queue, "m1", log), flow_wait, Service().wait_first)
        )
        await asyncio.sleep(0.01)
        flow.set()  # a rebalance suspends the flow while the delivery waits
        result = await asyncio.wait_for(task, 2)
        assert result.done == [flow_wait]
        await asyncio.sleep(0.01)  # let the cancelled delivery run its handler
        assert log == ["cancelled"]
        assert queue.qsize() == 1 and queue.get_nowait() == "m0"  # m1 never delivered

    asyncio.run(run())


def test_errors_of_a_delivery_propagate_before_and_after_waiting() -> None:
    async def fails_at_once() -> None:
        raise ValueError("bad message")

    async def fails_after_waiting(queue: asyncio.Queue) -> None:
        await queue.put("m1")
        raise KeyError("no stream")

    async def run() -> None:
        flow = asyncio.Event()
        flow_wait = flow.wait()
        with pytest.raises(ValueError, match="bad message"):
            await deliver(fails_at_once(), flow_wait, Service().wait_first)
        assert inspect.getcoroutinestate(flow_wait) == inspect.CORO_CLOSED
        queue: asyncio.Queue = asyncio.Queue(maxsize=1)
        queue.put_nowait("m0")
        task = asyncio.ensure_future(
            deliver(fails_after_waiting(queue), flow.wait(), Service().wait_first)
        )
        await asyncio.sleep(0.01)
        queue.get_nowait()
        with pytest.raises(KeyError, match="no stream"):
            await asyncio.wait_for(task, 2)

    asyncio.run(run())


def test_the_worker_app_uses_the_fast_consumer(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, pseudonymisation_key="test")
    built = create_app(settings, "127.0.0.1:9", with_ingest=False)
    consumer = built.app.consumer
    assert isinstance(consumer, FastDeliveryConsumer)
    for name in ("suspend_flow", "_stopped", "_crashed"):  # what the fast path looks at
        assert not getattr(consumer, name).is_set()


def test_faust_still_delivers_with_the_race_this_consumer_shortens() -> None:
    """The fast path assumes the fetch loop's call shape; a Faust upgrade that changes it
    must be looked at (the consumer would silently fall back, or race differently)."""
    from faust.transport.consumer import Consumer

    source = inspect.getsource(Consumer._drain_messages)
    assert "callback(message), self.suspend_flow.wait()" in source


def test_stream_partitions_resume_only_after_the_seek_to_committed_offsets(
    tmp_path: Path,
) -> None:
    """After a rebalance Faust resumes a stream partition, then seeks it to its committed
    offset. Fetched in between, records from the old position made the read offset jump:
    Faust counted the skipped offsets as acknowledged (a "gap") and dropped their refetched
    records, so events were lost. Changelog partitions resume at once (recovery reads them);
    stream partitions wait for the seek, and then for the flow to resume (a record delivered
    into a stopped flow is abandoned, its offset counted as read). The seek itself needs a
    broker: here it is the Faust method with the broker call answered as Kafka would for
    uncommitted partitions."""
    consumer, raw, state = _consumer_of_one_raw_and_one_state_partition(tmp_path, 3)

    async def nothing_committed() -> dict:
        return {}

    consumer.seek_to_committed = nothing_committed
    consumer.pause_partitions({raw, state})
    consumer.resume_partitions({raw, state})
    active = consumer._get_active_partitions()
    assert state in active and raw not in active
    consumer.stop_flow()
    asyncio.run(consumer.perform_seek())
    assert raw not in consumer._get_active_partitions()  # a record now would meet a stopped flow
    consumer.resume_flow()
    assert {raw, state} <= consumer._get_active_partitions()
    assert raw not in consumer._paused_partitions


def test_partitions_never_committed_are_sought_to_their_beginning(tmp_path: Path) -> None:
    """aiokafka's seek_to_committed leaves a partition with no committed offset where its
    fetcher got to; records Faust read and dropped while a rebalance stopped the flow were
    then skipped for good. The consumer seeks such partitions to the beginning (the
    worker's offset reset is "earliest"). The consumer thread is a stand-in that answers as
    aiokafka does and records the seeks: the decision is what is tested here."""
    from faust.types import TP

    from streams.worker.fast_delivery import never_committed

    assert never_committed({"a": None, "b": 0, "c": 12}) == ["a", "b"]
    settings = Settings(data_dir=tmp_path, pseudonymisation_key="test")
    built = create_app(settings, "127.0.0.1:9", with_ingest=False)
    consumer = built.app.consumer
    fresh, going = TP(settings.topic_raw_events, 0), TP(settings.topic_raw_events, 1)
    changelog = TP(next(iter(built.app.tables.changelog_topics)), 0)  # recovery's business
    rewound: list[tuple] = []

    class Thread:
        async def seek_to_committed(self) -> dict:
            return {fresh: None, going: 41, changelog: None}

        async def seek_to_beginning(self, *tps: object) -> None:
            rewound.append(tps)

    consumer._thread = Thread()
    assert asyncio.run(consumer.seek_to_committed()) == {fresh: None, going: 41, changelog: None}
    assert rewound == [(fresh,)]


def test_a_fetch_keeps_the_records_of_the_partitions_it_asked_for(tmp_path: Path) -> None:
    """Faust gave the consumer thread its live set of active partitions and then kept only
    the records of partitions still in it. Emptied while the thread waited, the set meant
    "every partition" to aiokafka, and a stream partition's record came back only to be
    dropped as inactive, its offset consumed: a late event was lost on a restart. The
    thread gets a copy, and the same copy filters the records. The consumer thread is a
    stand-in that, like aiokafka, reads an empty set as every partition."""
    consumer, raw, state = _consumer_of_one_raw_and_one_state_partition(tmp_path, 0)
    consumer.pause_partitions({raw, state})
    consumer.resume_partitions({state})  # recovering: the changelog is read, raw waits
    consumer.resume_flow()

    class Thread:
        async def getmany(self, active: set, timeout: float) -> dict:
            consumer.pause_partitions({state})  # recovery ends while the fetch waits
            buffered = {raw: ["late event"], state: ["changelog record"]}
            return {tp: r for tp, r in buffered.items() if not active or tp in active}

    consumer._thread = Thread()
    records, keep = asyncio.run(consumer._wait_next_records(1.0))
    assert records == {state: ["changelog record"]}
    assert state in keep and raw not in keep


def _consumer_of_one_raw_and_one_state_partition(tmp_path: Path, partition: int) -> tuple:
    """The worker's consumer (no broker), assigned one raw and one changelog partition."""
    from faust.types import TP

    settings = Settings(data_dir=tmp_path, pseudonymisation_key="test")
    built = create_app(settings, "127.0.0.1:9", with_ingest=False)
    consumer = built.app.consumer
    changelog = next(iter(built.app.tables.changelog_topics))
    raw, state = TP(settings.topic_raw_events, partition), TP(changelog, partition)
    consumer.assignment = lambda: {raw, state}
    return consumer, raw, state


def test_a_late_recovery_does_not_resume_the_flow_after_a_revocation(tmp_path: Path) -> None:
    """Three workers starting together rebalance twice in a second; the first generation's
    recovery finished after the second rebalance had revoked its partitions and resumed the
    flow, so the worker processed partitions another worker was already recovering. Between
    a revocation and the next assignment the flow stays stopped."""
    consumer, raw, state = _consumer_of_one_raw_and_one_state_partition(tmp_path, 0)
    consumer.stop_flow()
    consumer._revoked_unassigned = True  # what on_partitions_revoked sets, before Faust's own
    consumer.resume_flow()
    assert not consumer.flow_active
    consumer._revoked_unassigned = False  # what on_partitions_assigned sets
    consumer.resume_flow()
    assert consumer.flow_active
