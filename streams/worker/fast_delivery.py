"""Faust's consumer, minus four asyncio tasks per message when nothing has to wait.

Faust's fetch loop hands every message to its streams with
``await self.wait_first(callback(message), self.suspend_flow.wait())``: the delivery is
raced against a rebalance suspending the flow (and the consumer stopping or crashing),
which costs four tasks and an ``asyncio.wait`` per message, about half of what a worker
spends per event (a do-nothing agent on this project's bench machine: 13,000 events per
CPU second with it, 28,000 without). Almost always the delivery does not wait for
anything (the stream's buffer has room), so here it is run one step at once; when it
finishes in that step there was nothing to race. When it has to wait (buffer full,
producer backlog, flow suspended) the rest of it is raced exactly as Faust does, from
where it stopped, so a rebalance still abandons a blocked delivery.

It also closes the windows of a rebalance or a restart where events were lost: stream
partitions are resumed only once they have been sought to their committed offsets and the
flow has resumed (``resume_partitions``, ``resume_flow``); a stream partition never
committed is sought to its beginning (``seek_to_committed``); and a fetch keeps the records
of exactly the partitions it asked for (``_getmany``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Mapping
from typing import Any

from faust.transport.consumer import ensure_TPset
from faust.transport.drivers.aiokafka import Consumer
from mode.services import WaitResults

log = logging.getLogger(__name__)


class _Rest:
    """Awaitable: the rest of a coroutine that ran one step and yielded ``pending``.

    Passes every value and exception between the running task and the coroutine, as
    ``await`` would have done had the task run the first step itself.
    """

    __slots__ = ("_coro", "_pending")

    def __init__(self, coro: Coroutine[Any, Any, Any], pending: Any) -> None:
        self._coro = coro
        self._pending = pending

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, pending = self._coro, self._pending
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # e.g. the task is cancelled: the coroutine decides
                try:
                    pending = coro.throw(exc)
                except StopIteration as done:
                    return done.value
                continue
            try:
                pending = coro.send(sent)
            except StopIteration as done:
                return done.value


async def _rest(coro: Coroutine[Any, Any, Any], pending: Any) -> Any:
    return await _Rest(coro, pending)


async def deliver(
    delivery: Coroutine[Any, Any, Any],
    flow_wait: Coroutine[Any, Any, Any],
    race: Callable[..., Awaitable[WaitResults]],
) -> WaitResults:
    """Run ``delivery`` one step; if it is not done, ``race`` its rest against ``flow_wait``.

    The result is what ``race(delivery, flow_wait)`` would have returned when the
    delivery wins; an exception from the delivery propagates as it would from ``race``.
    """
    try:
        pending = delivery.send(None)
    except StopIteration as done:
        flow_wait.close()
        return WaitResults([delivery], [done.value], False)
    except BaseException:
        flow_wait.close()
        raise
    return await race(_rest(delivery, pending), flow_wait)


def never_committed(committed: Mapping[Any, int | None]) -> list[Any]:
    """The partitions with no committed offset (None, or 0: nothing read yet)."""
    return [tp for tp, offset in committed.items() if not offset or offset < 0]


class FastDeliveryConsumer(Consumer):
    """The aiokafka consumer of Faust with the per-message race taken only when needed, and
    stream partitions held paused after a rebalance until their seek is done."""

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:
        # Faust's fetch loop is the only caller with exactly these two coroutines
        # (faust.transport.consumer.Consumer._drain_messages); anything else, or a flow
        # already suspended or a consumer stopping, takes Faust's path unchanged.
        if (
            len(coros) == 2
            and timeout is None
            and isinstance(coros[0], Coroutine)
            and isinstance(coros[1], Coroutine)
            and not self.suspend_flow.is_set()
            and not self._stopped.is_set()
            and not self._crashed.is_set()
        ):
            return await deliver(coros[0], coros[1], super().wait_first)
        return await super().wait_first(*coros, timeout=timeout)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held_until_seek: set[Any] = set()
        self._sought: set[Any] = set()  # sought, resumed with the flow
        self._fetched_for: frozenset[Any] | None = None  # what the last fetch asked for
        self._revoked_unassigned = False  # between a revocation and the next assignment

    def resume_partitions(self, tps: Iterable[Any]) -> None:
        """Resume changelog partitions now, stream partitions only once they are sought.

        After a rebalance Faust resumes the stream partitions and then seeks them to their
        committed offsets (``Recovery.on_recovery_completed``); while the seek waits on the
        consumer thread, the fetcher reads on from where it was before the rebalance. Those
        records were delivered, and the first one after the seek made the read offset jump,
        which Faust takes for a gap: everything between the committed offset and it was
        counted as acknowledged and its refetched records dropped as already read. Events
        were lost that way (a call's first events, then its late callback arrived alone) on
        every rebalance that kept a partition on a busy worker.
        """
        tpset = ensure_TPset(tps)
        changelogs = self.app.tables.changelog_topics
        held = {tp for tp in tpset if tp.topic not in changelogs}
        self._held_until_seek |= held
        super().resume_partitions(tpset - held)

    async def seek_to_committed(self) -> Mapping[Any, int]:
        """Seek to the committed offsets, and partitions never committed to the beginning.

        aiokafka seeks only where an offset above 0 was committed and leaves any other
        partition where its fetcher got to. During a rebalance Faust reads and drops
        records while the flow is stopped, so a partition nobody had committed yet (a new
        worker group's first minutes) resumed after them: those events were never processed
        (three workers starting together skipped offsets 0-374 of a partition).
        """
        committed = await super().seek_to_committed()
        changelogs = self.app.tables.changelog_topics  # recovery seeks those itself
        rewind = [tp for tp in never_committed(committed) if tp.topic not in changelogs]
        if rewind and self.app.conf.consumer_auto_offset_reset == "earliest":
            log.info("never committed, read from the beginning: %s", sorted(rewind))
            await self._thread.seek_to_beginning(*rewind)
        return committed

    async def perform_seek(self) -> None:
        await super().perform_seek()
        self._sought |= self._held_until_seek
        self._held_until_seek = set()

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        self._revoked_unassigned = True
        self._sought.clear()
        self._held_until_seek.clear()
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[Any], generation_id: int = 0) -> None:
        self._revoked_unassigned = False
        await super().on_partitions_assigned(assigned, generation_id)

    def resume_flow(self) -> None:
        """Resume the flow, and with it the stream partitions sought since it stopped.

        Not at the seek itself: until the flow resumes, a record fetched for a resumed
        partition was delivered into a stopped flow, abandoned there, and its offset still
        counted as read (a late event pushed while a restarted worker finished its seek
        was lost that way). And never between a revocation and the next assignment: a
        recovery of the generation before, finishing late, resumed the flow after its
        partitions were revoked, and the worker went on processing partitions that another
        worker was recovering (a call's state went back a step, one event lost).
        """
        if self._revoked_unassigned:
            log.info("a recovery finished after its partitions were revoked: flow stays stopped")
            return
        super().resume_flow()
        sought, self._sought = self._sought, set()
        if sought:
            super().resume_partitions(sought & set(self.assignment()))

    async def _getmany(self, active_partitions: set[Any] | None, timeout: float) -> Any:
        """Fetch for the partitions active now, and keep records only of those.

        Faust hands the consumer thread its live set of active partitions and later keeps
        only the records of partitions still in it. The set changes while the thread waits
        (up to a second): emptied for a moment (changelogs paused after recovery, stream
        partitions not yet resumed), aiokafka took it for "every partition" and returned a
        stream partition's record, which Faust then dropped as inactive with its offset
        consumed. A late event pushed while a restarted worker finished recovery was lost
        that way. The thread now gets a copy, and the same copy filters the records.
        """
        fetched_for = None if active_partitions is None else frozenset(active_partitions)
        self._fetched_for = fetched_for
        return await super()._getmany(fetched_for, timeout)  # type: ignore[arg-type]

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        self._fetched_for = None
        records, active = await super()._wait_next_records(timeout)
        if records is not None and self._fetched_for is not None:
            return records, self._fetched_for
        return records, active

    async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
        if tp.topic not in self.app.tables.changelog_topics:  # compacted: gaps are normal
            log.warning(
                "offsets %d-%d of %s[%d] counted as a gap: the read offset jumped on a topic "
                "that is never compacted (records fetched before a seek?)",
                offset_from,
                offset_to,
                tp.topic,
                tp.partition,
            )
        await super()._add_gap(tp, offset_from, offset_to)
