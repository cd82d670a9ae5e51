"""Live state per practice in the worker: the pipeline's one hook, the live topic and table.

The calls of one practice are spread over every partition of the raw topic (it is keyed by
call), so the pipeline cannot keep a practice's figures itself. Once per batch it sends, for
each practice the batch touched, the views of the calls that changed (``observe``) to the
live topic, keyed by practice; the ``live`` agent applies them to that practice's
``PracticeLive`` (``streams.core.live``) in a table keyed by practice. So each practice's
state is in one partition, owned by one worker, changelogged by Faust: it survives a restart
and moves with its partition on a rebalance. Wallboards wait on ``changed``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import faust
from faust.types import StreamT, TopicT

from models.classified import ClassifiedCall
from streams.core.call_state import CallState
from streams.core.live import CallView, PracticeLive, Snapshot, call_view
from streams.settings import Settings

TABLE_NAME = "live-practice"


def live_topic(app: faust.App, settings: Settings) -> TopicT:
    return app.topic(
        settings.topic_live,
        partitions=settings.topic_partitions,
        key_serializer="raw",
        value_serializer="raw",
    )


def live_table(app: faust.App, settings: Settings) -> faust.Table:
    return app.Table(
        TABLE_NAME,
        default=None,
        partitions=settings.topic_partitions,
        key_type=bytes,  # the practice's ODS code, as the live topic's key
    )


class Live:
    """The live state of the practices this worker owns, and how it is fed and read."""

    def __init__(
        self,
        topic: TopicT,
        table: faust.Table,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.topic = topic
        self.table = table
        self.open_max_s = settings.call_timeout_s
        self.clock = clock
        self._decoded: dict[bytes, tuple[Any, PracticeLive]] = {}
        self._changed = asyncio.Event()

    async def observe(
        self,
        touched: Mapping[bytes, tuple[CallState, int]],
        classified: Mapping[bytes, ClassifiedCall],
        received_at: float,
    ) -> None:
        """The pipeline's hook, once per batch: the changed calls' views to the live topic."""
        by_practice: dict[str, list[list[Any]]] = defaultdict(list)
        for key, (state, _) in touched.items():
            if not state.assembly.events:
                continue
            view = call_view(state.assembly, classified.get(key))
            by_practice[state.assembly.events[0].practice].append(view.to_json())
        for practice, views in by_practice.items():
            message = {"practice": practice, "received_at": received_at, "views": views}
            await self.topic.send(key=practice.encode(), value=json.dumps(message).encode())

    def register(self, app: faust.App) -> None:
        """Add the agent that applies the views to the table."""

        @app.agent(self.topic, name="live")
        async def keep(stream: StreamT) -> None:
            async for value in stream:
                message = json.loads(value)
                key = message["practice"].encode()
                live = self.state(key) or PracticeLive(message["practice"])
                views = [CallView.from_json(row) for row in message["views"]]
                live.apply(views, message["received_at"], self.clock(), self.open_max_s)
                stored = live.to_json()
                self.table[key] = stored
                self._decoded[key] = (stored, live)
                self._changed.set()
                self._changed = asyncio.Event()

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
        live = PracticeLive.from_json(stored)
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
