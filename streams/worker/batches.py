"""Batches of a stream's events, at most one every ``every`` seconds, taken as soon as allowed.

Faust's ``take_events(max_, within)`` stops reading the stream while the agent works on a
batch, then waits a whole ``within`` for the next one: a batch that takes as long as the
window to write (a warehouse commit under load) makes each cycle twice the window, and an
event that arrives during the write waits for the write, a whole window, and its own write.
Here the stream is read on while a batch is worked on, and the next batch is taken
``every`` seconds after the previous one was taken, or at once if that time has passed: a
cycle is the longer of the window and the work, never their sum, and there are still no more
batches than one per window. The first event after a quiet spell is taken at once.

Acks are as ``take_events`` does them: a batch's events are acked once the agent asks for
the next batch (or leaves the loop), so no offset past an event is committed before the
agent is done with it; events read meanwhile wait, unacked, in the next batch. A batch
tells how many such events wait behind it (``Batch.waiting``): the load the agent is under.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from faust.types import EventT, StreamT


class Batch(list[EventT]):
    """A batch's events, and a look at the events read since it was taken."""

    def __init__(self, events: list[EventT], buffer: list[EventT]) -> None:
        super().__init__(events)
        self._buffer = buffer

    def waiting(self) -> int:
        """Events already read for the next batch, now."""
        return len(self._buffer)


async def take_batches(stream: StreamT, max_: int, every: float) -> AsyncGenerator[Batch, None]:
    """Lists of at most ``max_`` events of ``stream``, one at most every ``every`` seconds."""
    buffer: list[EventT] = []
    arrived = asyncio.Event()  # the buffer has an event
    full = asyncio.Event()  # the buffer has max_ events
    room = asyncio.Event()  # the buffer was emptied (a full buffer waits on this)
    loop = asyncio.get_running_loop()

    async def add(value: Any) -> Any:
        while len(buffer) >= max_:
            room.clear()
            await stream.wait(room)  # type: ignore[attr-defined]
        event = stream.current_event
        if event is None:
            raise RuntimeError("the batch buffer found no current event")
        buffer.append(event)
        arrived.set()
        if len(buffer) >= max_:
            full.set()
        return value

    enable_acks = stream.enable_acks
    stream.enable_acks = False
    stream.add_processor(add)
    stream._enable_passive(aiter(stream.channel))  # type: ignore[attr-defined]
    taken_at = -float("inf")
    try:
        while not stream.should_stop:
            if not buffer:
                arrived.clear()
                # Woken at least every window even when idle, to see a stop.
                await stream.wait_for_stopped(arrived, timeout=every)  # type: ignore[attr-defined]
                if not buffer:
                    continue
            wait = taken_at + every - loop.time()
            if wait > 0 and len(buffer) < max_:
                await stream.wait_for_stopped(full, timeout=wait)  # type: ignore[attr-defined]
            batch = Batch(buffer[:], buffer)
            buffer.clear()
            full.clear()
            room.set()
            taken_at = loop.time()
            try:
                yield batch
            finally:
                for event in batch:
                    await stream.ack(event)
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(add)  # type: ignore[attr-defined]
