"""The pipeline agent: raw events -> normalised -> assembled per call -> classified calls.

Validation, pseudonymisation, assembly and classification happen in one agent so an event
costs one read of the raw topic and one write of the table's changelog; the classified
topic only sees a call when it completes or changes. A timer closes calls that never ended
and evicts old ones (the rules are in ``streams.core.call_state``).

No single event stops the agent or takes another call with it: an event that cannot be
read, validated or added to its call goes to the dead-letter topic on its own (redacted,
with the reason, topic, partition and offset), and a call that cannot be classified or
reported goes there whole (its events) and leaves the state. Every accepted event is in
exactly one place: a call in the warehouse, an open call in the state, or a dead letter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable

from faust.types import Message, StreamT

from models.classified import ClassifiedCall
from models.events import PseudonymisedEvent
from streams.core.assemble import OutsideCall, held_back_reason, set_aside_reason
from streams.core.call_state import CallState, Sweep, receive, sweep
from streams.core.classify import classify_call
from streams.core.normalise import Rejected, normalise
from streams.core.rules import load_rules
from streams.worker.batches import take_batches
from streams.worker.changelog import TableWriter, partition_of
from streams.worker.topology import Pipeline

log = logging.getLogger(__name__)

ORPHAN_REASON = (
    "only callback_made event(s) and nothing else for this call within call_timeout_s: the "
    "late callback of a call evicted after call_retention_s (callback_retention_s for a "
    "call that requested one), or the call's other events "
    "were lost; not reported as a call"
)


def register(p: Pipeline, clock: Callable[[], float] = time.time) -> None:
    """Add the pipeline agent and its sweep timer to the app."""
    settings = p.settings
    pseudonym_key = p.pseudonym_key
    rules = load_rules(settings.rules_file)
    span = settings.call_span
    table = p.calls
    raw_name = settings.topic_raw_events
    classified_name = settings.topic_classified
    out = TableWriter(p.app, table)
    dead_letters = p.dead_letters()

    def partition_for(key: bytes, state: CallState) -> int:
        if state.partition is not None:
            return state.partition
        return partition_of(key, settings.topic_partitions)  # a state from before "p"

    async def set_aside(key: bytes, state: CallState, why: Rejected, offset: int) -> None:
        """The whole call to the dead-letter topic, and out of the state."""
        partition = partition_for(key, state)
        await out.forget(key, partition)
        events = [*state.assembly.events, *state.assembly.held_back]
        await dead_letters.send_call(
            events, why, topic=raw_name, partition=partition, offset=offset, key=key
        )

    async def report(key: bytes, state: CallState, offset: int = -1) -> ClassifiedCall | None:
        try:
            call = classify_call(state.assembly, rules)
            value = call.model_dump_json().encode()
        except Exception as exc:  # this call only: set it aside, the others go on
            why = Rejected(f"call could not be classified: {type(exc).__name__}: {exc}", None)
            await set_aside(key, state, why, offset)
            return None
        await out.send(classified_name, key, value, None)
        return call

    def take(
        message: Message,
        now: float,
        touched: dict[bytes, tuple[CallState, int]],
        tally: Counter[tuple[str, str]],
        not_kept: Counter[str],
    ) -> tuple[bytes, CallState, bool, bool, list[PseudonymisedEvent]]:
        """Validate one message and add it to its call (not saved yet); raises to reject.
        Also the events of the call that this one set aside (``CallAssembly.add``)."""
        result = normalise(message.value, message.key, pseudonym_key)
        if isinstance(result, Rejected):
            raise _Rejection(result)
        tally[result.practice, result.type.value] += 1
        key = result.key.encode()  # the masked call id: the raw key may hold a number
        current = touched[key][0] if key in touched else table.data.get(key)
        state, changed, report_now = receive(current, result, now, span)
        if not changed:
            not_kept[result.practice] += 1
        state.partition = message.partition
        return key, state, changed, report_now, state.assembly.take_set_aside()

    @p.app.agent(p.raw, name="pipeline")
    async def process(stream: StreamT) -> None:
        # Events are taken in batches (acked after the batch, so still at-least-once): a
        # call's state is written to the changelog and classified once per batch, not once
        # per event, which is what makes a replay of a day's file fast.
        async for events in take_batches(
            stream, settings.pipeline_batch_size, settings.pipeline_batch_seconds
        ):
            now = clock()
            touched: dict[bytes, tuple[CallState, int]] = {}
            to_report: dict[bytes, tuple[CallState, int]] = {}
            tally: Counter[tuple[str, str]] = Counter()
            not_kept: Counter[str] = Counter()  # repeats and events that change nothing
            for event in events:
                message = event.message
                try:
                    key, state, changed, report_now, set_aside = take(
                        message, now, touched, tally, not_kept
                    )
                except Exception as exc:  # this event only: set it aside, the others go on
                    await dead_letters.send(
                        message.value,
                        _why(exc),
                        topic=message.topic,
                        partition=message.partition,
                        offset=message.offset,
                        key=message.key,
                    )
                    continue
                if set_aside:  # earlier events of the call that do not fit its call_started
                    await dead_letters.send_call(
                        set_aside,
                        Rejected(set_aside_reason(len(set_aside), span), "at"),
                        topic=message.topic,
                        partition=message.partition,
                        offset=message.offset,
                        key=key,
                    )
                if changed:
                    touched[key] = (state, message.partition)
                if report_now:
                    to_report[key] = (state, message.offset)
            for key, (state, partition) in touched.items():
                await out.save(key, state, state.to_bytes(), partition)
            reported = {}
            for key, (state, offset) in to_report.items():
                if (call := await report(key, state, offset)) is not None:
                    reported[key] = call
                else:  # set aside whole, out of the state: nothing of it is live either
                    touched.pop(key, None)
            await p.batch_done(touched, reported, tally, not_kept, now)  # live and metrics

    @p.app.timer(interval=settings.sweep_interval_s)
    async def sweep_calls() -> None:
        dead_letters.log_unlogged()
        now = clock()
        owned = {tp.partition for tp in p.app.assignor.assigned_actives() if tp.topic == raw_name}
        store = table.data  # the table's own mapping: no sensor call or KeyError per look-up
        for seen, key in enumerate(list(store.keys())):
            if seen % 1000 == 999:
                await asyncio.sleep(0)  # let events through during a long sweep
            state = store.get(key)
            if state is None:
                continue
            action = sweep(
                state,
                now,
                settings.call_timeout_s,
                settings.call_retention_s,
                settings.callback_retention_s,
            )
            if action is Sweep.keep:  # most calls: decided without hashing the key
                continue
            partition = partition_for(key, state)
            if partition not in owned:
                continue
            if action is Sweep.close:
                state.timed_out = True
                await out.save(key, state, state.to_bytes(), partition)
                await report(key, state)
            elif action is Sweep.evict:
                if held_back := state.assembly.held_back:  # no start came to place them
                    await dead_letters.send_call(
                        held_back,
                        Rejected(held_back_reason(len(held_back), span), "at"),
                        topic=raw_name,
                        partition=partition,
                        offset=-1,
                        key=key,
                    )
                await out.forget(key, partition)
            elif action is Sweep.orphan:
                await set_aside(key, state, Rejected(ORPHAN_REASON, "type"), -1)


class _Rejection(Exception):
    """An event the first hop rejects (carries the reason to the dead-letter topic)."""

    def __init__(self, rejected: Rejected) -> None:
        super().__init__(rejected.reason)
        self.rejected = rejected


def _why(exc: Exception) -> Rejected:
    """The dead-letter reason for an event ``take`` refused or failed on."""
    if isinstance(exc, _Rejection):
        return exc.rejected
    if isinstance(exc, OutsideCall):
        return Rejected(str(exc), exc.field)
    return Rejected(f"event could not be processed: {type(exc).__name__}: {exc}", None)
