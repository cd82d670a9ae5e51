"""The pipeline agent: raw events -> normalised -> assembled per call -> classified calls.

Validation, pseudonymisation, assembly and classification happen in one agent so an event
costs one read of the raw topic and one write of the table's changelog; the classified
topic only sees a call when it completes or changes. Invalid input goes to the dead-letter
topic, redacted, with the reason. A timer closes calls that never ended and evicts old
ones (the rules are in ``streams.core.call_state``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from faust import App, Table
from faust.types import ProducerT, StreamT
from kafka.partitioner.default import murmur2

from streams.core.call_state import CallState, Sweep, receive, sweep
from streams.core.classify import classify_call
from streams.core.normalise import Rejected, normalise
from streams.core.rules import load_rules
from streams.worker.reject import DeadLetters
from streams.worker.topology import Pipeline

log = logging.getLogger(__name__)


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (kafka-python and aiokafka alike) picks."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def register(p: Pipeline, clock: Callable[[], float] = time.time) -> None:
    """Add the pipeline agent and its sweep timer to the app."""
    settings = p.settings
    pseudonym_key = p.pseudonym_key
    rules = load_rules(settings.rules_file)
    table = p.calls
    raw_name = settings.topic_raw_events
    classified_name = settings.topic_classified
    out = _Output(p.app, table)
    dead_letters = DeadLetters(p.dead_letter, pseudonym_key)

    async def report(key: bytes, state: CallState) -> None:
        try:
            call = classify_call(state.assembly, rules)
        except ValueError as exc:  # a call the rules cannot classify: keep it, do not crash
            events = [e.model_dump(mode="json") for e in state.assembly.events]
            why = Rejected(f"call could not be classified: {exc}", None)
            partition = partition_of(key, settings.topic_partitions)
            await dead_letters.send(
                json.dumps(events).encode(),
                why,
                topic=raw_name,
                partition=partition,
                offset=-1,
                key=key,
            )
            return
        await out.send(classified_name, key, call.model_dump_json().encode(), None)

    @p.app.agent(p.raw, name="pipeline")
    async def process(stream: StreamT) -> None:
        # Events are taken in batches (acked after the batch, so still at-least-once): a
        # call's state is written to the changelog and classified once per batch, not once
        # per event, which is what makes a replay of a day's file fast.
        async for events in stream.take_events(
            settings.pipeline_batch_size, within=settings.pipeline_batch_seconds
        ):
            now = clock()
            touched: dict[bytes, tuple[CallState, int]] = {}
            to_report: dict[bytes, CallState] = {}
            for event in events:
                message = event.message
                result = normalise(message.value, message.key, pseudonym_key)
                if isinstance(result, Rejected):
                    await dead_letters.send(
                        message.value,
                        result,
                        topic=message.topic,
                        partition=message.partition,
                        offset=message.offset,
                        key=message.key,
                    )
                    continue
                key = message.key
                current = touched[key][0] if key in touched else table.data.get(key)
                state, changed, report_now = receive(current, result, now)
                if changed:
                    touched[key] = (state, message.partition)
                if report_now:
                    to_report[key] = state
            for key, (state, partition) in touched.items():
                await out.save(key, state, partition)
            for key, state in to_report.items():
                await report(key, state)

    @p.app.timer(interval=settings.sweep_interval_s)
    async def sweep_calls() -> None:
        now = clock()
        owned = {tp.partition for tp in p.app.assignor.assigned_actives() if tp.topic == raw_name}
        store = table.data  # the table's own mapping: no sensor call or KeyError per look-up
        for seen, key in enumerate(list(store.keys())):
            if seen % 1000 == 999:
                await asyncio.sleep(0)  # let events through during a long sweep
            state = store.get(key)
            if state is None:
                continue
            action = sweep(state, now, settings.call_timeout_s, settings.call_retention_s)
            if action is Sweep.keep:  # most calls: decided without hashing the key
                continue
            partition = partition_of(key, settings.topic_partitions)
            if partition not in owned:
                continue
            if action is Sweep.close:
                state.timed_out = True
                await out.save(key, state, partition)
                await report(key, state)
            elif action is Sweep.evict:
                await out.forget(key, partition)
            elif action is Sweep.orphan:
                await out.forget(key, partition)
                events = [e.model_dump(mode="json") for e in state.assembly.events]
                await dead_letters.send(
                    json.dumps(events).encode(),
                    Rejected(
                        "only callback_made event(s) and nothing else for this call within "
                        "call_timeout_s: the late callback of a call evicted after "
                        "call_retention_s, or the call's other events were lost; "
                        "not reported as a call",
                        "type",
                    ),
                    topic=raw_name,
                    partition=partition,
                    offset=-1,
                    key=key,
                )


class _Output:
    """Call-state changes and classified calls, as bytes, straight to the app's producer.

    Faust lets a table change only while processing one event (to know the changelog
    partition). Batches and the timer know it: a call's changelog partition is its raw one.
    These messages skip Faust's per-message channel layer (a future, two serialiser look-ups
    and a debug log per message: the larger part of what sending cost the worker) but not
    its producer, which Faust flushes before it commits offsets, so a change is durable
    before the events that caused it are committed. The bytes are what the table's codec
    and the raw classified topic would have written.
    """

    def __init__(self, app: App, table: Table) -> None:
        self._app = app
        self._table = table
        self._producer: ProducerT | None = None
        self._changelog: str | None = None

    async def send(
        self, topic: str, key: bytes, value: bytes | None, partition: int | None
    ) -> None:
        if self._producer is None:
            self._producer = await self._app.maybe_start_producer()
        await self._producer.send(topic, key, value, partition, None, None)

    async def save(self, key: bytes, state: CallState, partition: int) -> None:
        self._table.data[key] = state
        await self.send(self._changelog_name(), key, state.to_bytes(), partition)

    async def forget(self, key: bytes, partition: int) -> None:
        self._table.data.pop(key, None)
        await self.send(self._changelog_name(), key, None, partition)  # tombstone

    def _changelog_name(self) -> str:
        if self._changelog is None:
            self._changelog = self._table.changelog_topic.get_topic_name()
        return self._changelog
