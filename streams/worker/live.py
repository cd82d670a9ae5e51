"""Live state per practice in the worker: the pipeline's one hook, the live topic and tables.

The calls of one practice are spread over every partition of the raw topic (it is keyed by
call), so the pipeline cannot keep a practice's figures itself. Once per batch it sends the
views of the calls that changed (``observe``) to the live topic: one message per partition
the batch touched, holding the views of each of its practices, at the partition of the
practice's key (``partition_of``: as a message keyed by the practice would go). The ``live``
agent applies them to each practice's ``PracticeLive`` (``streams.core.live``) in a table
keyed by practice, and keeps what each of today's ended calls counted in a second table
keyed by practice and call, so a changed call replaces its old contribution. Both tables
are written at the practice's partition: each practice's state is in one partition, owned
by one worker, changelogged (one small record per practice per message, plus one per ended
call that changed): it survives a restart and moves with its partition on a rebalance.
Wallboards wait on ``changed``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

import faust
from faust.types import StreamT, TopicT

from models.classified import ClassifiedCall
from streams.core.call_state import CallState
from streams.core.live import (
    CallView,
    Counted,
    PracticeLive,
    Snapshot,
    call_view,
    london_day,
)
from streams.settings import Settings
from streams.worker.changelog import TableWriter, partition_of

log = logging.getLogger(__name__)

TABLE_NAME = "live-practice"
CALLS_TABLE_NAME = "live-ended-call"


def live_topic(app: faust.App, settings: Settings) -> TopicT:
    return app.topic(
        settings.topic_live,
        partitions=settings.topic_partitions,
        key_serializer="raw",
        value_serializer="raw",
    )


def live_table(app: faust.App, settings: Settings, name: str = TABLE_NAME) -> faust.Table:
    return app.Table(
        name,
        default=None,
        partitions=settings.topic_partitions,
        key_type=bytes,  # the practice's ODS code (and ":call_id" in the ended calls' table)
    )


class _Counted(MutableMapping[str, Counted]):
    """One practice's entries of the ended calls' table, by call id; changes are noted for
    the changelog (``pending``) as they are made in the table's memory."""

    def __init__(self, table: faust.Table, practice: str, pending: dict[bytes, Any]) -> None:
        self.data = table.data
        self.prefix = f"{practice}:"
        self.pending = pending

    def _key(self, call_id: str) -> bytes:
        return (self.prefix + call_id).encode()

    def __getitem__(self, call_id: str) -> Counted:
        value = self.data.get(self._key(call_id))
        if value is None:
            raise KeyError(call_id)
        return value

    def __setitem__(self, call_id: str, entry: Counted) -> None:
        self.data[self._key(call_id)] = entry
        self.pending[self._key(call_id)] = entry

    def __delitem__(self, call_id: str) -> None:
        del self.data[self._key(call_id)]
        self.pending[self._key(call_id)] = None

    def __iter__(self) -> Iterator[str]:  # not on the hot path: a scan of the table
        prefix = self.prefix.encode()
        return (k[len(prefix) :].decode() for k in list(self.data) if k.startswith(prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def live_messages(
    received_at: float, practices: Mapping[str, list[str]], max_bytes: int
) -> Iterator[bytes]:
    """``{"received_at": ..., "practices": {practice: [view, ...]}}`` for the views (each
    already JSON), as one message, or as several of at most ``max_bytes`` when they do not
    fit: one batch may end 2,000 calls of one practice, and a call id may be 400 characters.
    The live agent applies each message as it comes, so the split changes nothing it keeps.
    """
    head = f'{{"received_at": {json.dumps(received_at)}, "practices": {{'
    message: dict[str, list[str]] = {}
    size = len(head) + 2
    for practice, rows in practices.items():
        name = json.dumps(practice)
        for row in rows:
            more = len(row) + 2 + (0 if practice in message else len(name) + 6)
            if message and size + more > max_bytes:
                yield _live_message(head, message)
                message, size = {}, len(head) + 2
                more = len(row) + 2 + len(name) + 6
            message.setdefault(practice, []).append(row)
            size += more
    if message:
        yield _live_message(head, message)


def _live_message(head: str, message: Mapping[str, list[str]]) -> bytes:
    body = ", ".join(f"{json.dumps(p)}: [{', '.join(rows)}]" for p, rows in message.items())
    return (head + body + "}}").encode()


class Live:
    """The live state of the practices this worker owns, and how it is fed and read."""

    def __init__(
        self,
        topic: TopicT,
        table: faust.Table,
        calls: faust.Table,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.topic = topic
        self.table = table
        self.calls = calls
        self.partitions = settings.topic_partitions
        self.open_max_s = settings.call_timeout_s
        self.max_bytes = settings.kafka_value_max_bytes  # the live messages have no key
        self.clock = clock
        self._decoded: dict[bytes, tuple[Any, PracticeLive]] = {}
        self._pending: dict[bytes, Any] = {}  # ended calls' entries not yet changelogged
        self._changed = asyncio.Event()

    async def observe(
        self,
        touched: Mapping[bytes, tuple[CallState, int]],
        classified: Mapping[bytes, ClassifiedCall],
        received_at: float,
    ) -> None:
        """The pipeline's hook, once per batch: the changed calls' views to the live topic."""
        by_partition: dict[int, dict[str, list[str]]] = defaultdict(dict)
        for key, (state, _) in touched.items():
            if not state.assembly.events:
                continue
            practice = state.assembly.events[0].practice
            try:
                view = call_view(state.assembly, classified.get(key))
            except ValueError as exc:  # not shown live; the call goes on in the pipeline
                log.warning("live: a call of %s not shown: %s", practice, exc)
                continue
            partition = partition_of(practice.encode(), self.partitions)
            row = json.dumps(view.to_json())
            by_partition[partition].setdefault(practice, []).append(row)
        for partition, practices in by_partition.items():
            for message in live_messages(received_at, practices, self.max_bytes):
                await self.topic.send(value=message, partition=partition)

    def register(self, app: faust.App, settings: Settings) -> None:
        """Add the agent that applies the views to the table, and the timer that forgets
        the ended calls' entries of past days."""
        states = TableWriter(app, self.table)
        entries = TableWriter(app, self.calls)

        @app.agent(self.topic, name="live")
        async def keep(stream: StreamT) -> None:
            async for value in stream:
                message = json.loads(value)
                practices = message.get("practices")
                if practices is None:  # a message from before one per partition
                    practices = {message["practice"]: message["views"]}
                now = self.clock()
                for practice, rows in practices.items():
                    key = practice.encode()
                    live = self.state(key) or PracticeLive(practice)
                    views = [CallView.from_json(row) for row in rows]
                    counted = _Counted(self.calls, practice, self._pending)
                    live.apply(views, message["received_at"], now, self.open_max_s, counted)
                    stored, encoded = self._encoded(live)
                    partition = partition_of(key, self.partitions)
                    await states.save(key, stored, encoded, partition)
                    self._decoded[key] = (stored, live)
                await self._flush(entries)
                self._changed.set()
                self._changed = asyncio.Event()

        swept: list[str] = []

        @app.timer(interval=settings.sweep_interval_s)
        async def forget_past_days() -> None:
            today = london_day(self.clock())
            if swept == [today]:
                return
            for key, entry in list(self.calls.data.items()):
                if entry is not None and entry[3] != today:
                    del self.calls.data[key]
                    self._pending[key] = None
            await self._flush(entries)
            swept[:] = [today]

    def _encoded(self, live: PracticeLive) -> tuple[dict[str, Any], bytes]:
        """The practice's state for its changelog, within one Kafka message (``shed``)."""
        stored = live.to_json()
        encoded = json.dumps(stored).encode()
        if len(encoded) > self.max_bytes:
            dropped = live.shed(len(encoded), self.max_bytes)
            log.warning(
                "live: %s holds more open and recent calls than one message can (%d bytes): "
                "the %d least recent are no longer shown on its wallboard (today's counts "
                "are kept); a phone system that starts calls and never ends them?",
                live.practice,
                len(encoded),
                dropped,
            )
            stored = live.to_json()
            encoded = json.dumps(stored).encode()
        return stored, encoded

    async def _flush(self, entries: TableWriter) -> None:
        """The ended calls' entries changed since the last flush, to their changelog."""
        pending, self._pending = self._pending, {}
        for key, entry in pending.items():
            partition = partition_of(key.split(b":", 1)[0], self.partitions)
            if entry is None:
                await entries.forget(key, partition)
            else:
                await entries.save(key, entry, json.dumps(entry).encode(), partition)

    def state(self, key: bytes) -> PracticeLive | None:
        """The practice's state as this worker's table holds it (None: none yet, or not ours).

        Decoded once per change: the table keeps what the changelog holds (after a restart or
        a rebalance, what recovery read), this keeps the object made from it.
        """
        stored = self.table.data.get(key)
        if stored is None:
            return None
        cached = self._decoded.get(key)
        if cached is not None and cached[0] is stored:
            return cached[1]
        counted = _Counted(self.calls, stored["practice"], self._pending)
        live = PracticeLive.from_json(stored, counted)
        self._decoded[key] = (stored, live)
        return live

    def snapshot(self, practice: str) -> Snapshot:
        """The practice's figures now (all zero before its first event)."""
        now = self.clock()
        live = self.state(practice.encode()) or PracticeLive(practice)
        return live.snapshot(now, self.open_max_s)

    async def changed(self, timeout: float) -> None:
        """Until some practice's state changes, or ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            pass
