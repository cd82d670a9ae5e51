"""The warehouse writer agent: classified calls -> DuckLake, the calls of this worker's partitions.

Batches are bounded by ``writer_batch_size`` and ``writer_batch_seconds``
(``streams.worker.batches``: at most one batch per window, the next taken as soon as the
window has passed, so a slow commit is not followed by a whole window's wait) and written
with one MERGE each, on a dedicated thread so the event loop keeps consuming. Offsets:
``take_batches`` acks a batch's events only when the agent asks
for the next batch, i.e. after every call of the batch is committed or set aside, and Faust
commits acked offsets only (every ``broker_commit_interval``, after flushing the producer).
If the worker dies between the two, Kafka replays the batch and the MERGE makes the replay
harmless.

Facts under load: a commit recomputes the facts (AGGREGATES) of the practice-days its calls
touched, seven tables written, which at the national peak is most of its time. When more
calls are already waiting behind a batch (``Batch.waiting``), the commit writes the calls
and defers those keys to table fact_backlog, and the next commit with facts recomputes them
all: the first with nothing waiting, or the first ``facts_every_s`` after the last, or the
timer below once the load stops. So the facts lag the calls by about ``facts_every_s`` (and
the recount itself), only under sustained load; a crash leaves the keys in the table.

One call cannot stop the writer: when the warehouse refuses a batch's data
(``RefusedCalls``) and still answers, the batch is split in halves until the calls it
refuses are found; they go to the dead-letter topic and the rest is committed. Only when
the warehouse itself fails (any other error, after retries, or it no longer answers) does
the process exit, before the batch is acked, so no offset past it is ever committed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from faust.types import EventT, StreamT

from models.classified import ClassifiedCall
from streams.core.batch import latest_per_call
from streams.core.normalise import Rejected
from streams.settings import Settings
from streams.warehouse import maintenance
from streams.warehouse.connect import is_invalidated
from streams.warehouse.store import RefusedCalls, Warehouse
from streams.worker.batches import take_batches
from streams.worker.topology import Pipeline, WarehouseNotOpen

log = logging.getLogger(__name__)

MERGE_ATTEMPTS = 5
EXIT_WAREHOUSE_FAILED = 75  # EX_TEMPFAIL: restart the worker; Kafka replays the batch
T = TypeVar("T")
Waiting = Callable[[], int]  # events read behind the batch being written, now


def register(p: Pipeline) -> None:
    """Add the writer agent and the warehouse maintenance timer to the app."""
    settings = p.settings
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse")
    opened: dict[str, Warehouse] = {}
    dead_letters = p.dead_letters()
    status = p.status

    async def in_db(fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    async def reopen() -> None:
        """A new DuckDB instance for the writer, after an internal error invalidated the old
        one (it refuses every statement from then on; the catalog and files are intact)."""
        old = opened["warehouse"]
        try:
            await in_db(old.close)
        except Exception as exc:  # an invalidated instance may fail to close: it goes anyway
            log.info("closing the invalidated warehouse connection: %s", exc)
        opened["warehouse"] = await in_db(open_writer, settings)
        log.warning("warehouse connection reopened after DuckDB invalidated the old one")

    cadence = FactsCadence(settings.facts_every_s)

    async def merge(calls: Sequence[ClassifiedCall], waiting: Waiting) -> RefusedCalls | None:
        """Commit ``calls`` (their facts too, or deferred: ``FactsCadence``): None when
        done, the refusal when their data is at fault."""
        for attempt in range(1, MERGE_ATTEMPTS + 1):
            warehouse = opened["warehouse"]
            future = asyncio.get_running_loop().run_in_executor(
                executor, warehouse.merge_calls, calls, lambda: cadence.decide(waiting())
            )
            started = time.monotonic()
            try:
                await asyncio.shield(future)
                p.metrics.committed(
                    time.monotonic() - started,
                    (c.started_at.timestamp() for c in calls),
                    cadence.decided,
                )
                cadence.committed(cadence.decided)
                status.warehouse_error = None
                return None
            except asyncio.CancelledError:
                # Stopping: the thread cannot be interrupted; let it finish. Acking (on the
                # way out of take_batches) is right only if the MERGE committed.
                await asyncio.wait([future])
                if future.exception() is not None:
                    _fail(future.exception())
                raise
            except RefusedCalls as refused:
                if await in_db(warehouse.answers):
                    return refused
                log.error("warehouse refused a batch and no longer answers: %s", refused)
                status.warehouse_error = "the warehouse no longer answers"
            except Exception as exc:  # the warehouse failed: retry, then stop hard
                log.error("warehouse commit failed (attempt %d): %s", attempt, exc)
                status.warehouse_error = f"warehouse commit failed: {type(exc).__name__}"
                if attempt < MERGE_ATTEMPTS and is_invalidated(exc):
                    try:
                        await reopen()
                    except Exception as reopen_failed:  # next attempt, or stop hard
                        log.error("cannot reopen the warehouse: %s", reopen_failed)
            if attempt == MERGE_ATTEMPTS:
                _fail(future.exception())
            await asyncio.sleep(min(2**attempt, 30))
        return None  # pragma: no cover - the loop returns or exits

    async def write_calls(
        calls: list[ClassifiedCall], events: list[EventT], waiting: Waiting
    ) -> None:
        """Commit the calls; halve a refused batch until the refused calls are found."""
        refused = await merge(calls, waiting)
        if refused is None:
            log.info("warehouse: %d calls merged", len(calls))
            return
        if len(calls) == 1:
            message = events[0].message
            await dead_letters.send(
                message.value,
                Rejected(f"the warehouse refused this call: {refused}", None),
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key,
                events=calls[0].events,
            )
            return
        half = len(calls) // 2
        await write_calls(calls[:half], events[:half], waiting)
        await write_calls(calls[half:], events[half:], waiting)

    async def reject(events: Sequence[EventT], rejected: list[tuple[int, Rejected]]) -> None:
        for index, why in rejected:
            message = events[index].message
            await dead_letters.send(
                message.value,
                why,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key,
            )

    @p.app.agent(p.classified, name="warehouse-writer")
    async def write(stream: StreamT) -> None:
        opened["warehouse"] = await in_db(open_writer, settings)
        status.warehouse_open = True
        try:
            async for events in take_batches(
                stream, settings.writer_batch_size, settings.writer_batch_seconds
            ):
                parsed = latest_per_call([event.message.value for event in events])
                if parsed.rejected:
                    await reject(events, parsed.rejected)
                if parsed.calls:
                    sources = [events[index] for index in parsed.sources]
                    await write_calls(parsed.calls, sources, events.waiting)
        finally:
            warehouse = opened.pop("warehouse", None)
            status.warehouse_open = False
            if warehouse is not None:
                await in_db(warehouse.close)

    async def in_warehouse(fn: Callable[[Warehouse], T]) -> T:
        warehouse = opened.get("warehouse")
        if warehouse is None:
            raise WarehouseNotOpen("the warehouse is not open yet")
        return await in_db(fn, warehouse)

    async def record_alerts(rows: list[tuple[Any, ...]]) -> None:
        await in_warehouse(lambda warehouse: warehouse.record_alerts(rows))

    p.record_alerts = record_alerts
    p.in_warehouse = in_warehouse

    @p.app.timer(interval=settings.facts_every_s)
    async def refresh_deferred_facts() -> None:
        """Facts deferred under a load that has stopped: no commit with facts came since."""
        if not cadence.stale() or "warehouse" not in opened:
            return
        try:
            keys = await in_warehouse(lambda warehouse: warehouse.refresh_facts())
        except Exception as exc:  # the keys stay in fact_backlog for the next commit
            log.error("recomputing the deferred facts failed: %s", exc)
            return
        cadence.committed(True)
        if keys:
            log.info("warehouse: facts of %d deferred practice-days recomputed", keys)

    # Maintenance on its own DuckDB instance, by the lease holder only, and on the writer's
    # thread: so between two of its commits, never against one (Maintainer says why).
    maintainer = maintenance.Maintainer(settings)

    async def maintenance_round(kind: str, run: Callable[[], bool]) -> None:
        if "warehouse" not in opened:
            return
        started = time.monotonic()
        try:
            done = await in_db(run)
        except Exception as exc:  # maintenance can wait for the next round
            log.error("warehouse maintenance (%s round) failed: %s", kind, exc)
            p.metrics.maintenance_failed(kind)
        else:
            if done:
                p.metrics.maintained(kind, time.monotonic() - started)
                log.log(
                    logging.INFO if kind == "full" else logging.DEBUG,
                    "warehouse maintenance (%s round) done by %s",
                    kind,
                    maintainer.holder,
                )

    @p.app.timer(interval=settings.compact_every_s)
    async def maintain() -> None:
        await maintenance_round("full", maintainer.round)

    @p.app.timer(interval=settings.compact_small_every_s)
    async def maintain_small_files() -> None:
        await maintenance_round("small", maintainer.small_round)


def open_writer(settings: Settings) -> Warehouse:
    """The warehouse as the writer uses it: DuckDB limited to ``writer_threads`` threads
    (at 700 events/s on 2 cores, two threads made the wallboards' p99 1.6-1.7 s, one 0.7-1.0 s,
    with commits as fast: docs/operations.md)."""
    warehouse = Warehouse.open(settings)
    warehouse.conn.execute(f"SET threads = {int(settings.writer_threads)}")
    return warehouse


class FactsCadence:
    """When the writer's commits recompute facts: always, unless more calls already wait
    behind the batch when its MERGE is done (sustained load); then at least every
    ``every_s``. ``decide`` is asked on the warehouse thread, the rest on the event loop,
    one after the other."""

    def __init__(self, every_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self.clock = clock
        self.at = clock()  # facts last recomputed
        self.deferred = True  # since then (at start too: a crash may have left some)
        self.decided = True  # the last decision

    def decide(self, waiting: int) -> bool:
        self.decided = waiting == 0 or self.clock() - self.at >= self.every_s
        return self.decided

    def committed(self, facts: bool) -> None:
        if facts:
            self.at, self.deferred = self.clock(), False
        else:
            self.deferred = True

    def stale(self) -> bool:
        """Facts deferred and none recomputed for ``every_s``: the load stopped meanwhile."""
        return self.deferred and self.clock() - self.at >= self.every_s


def _fail(exc: BaseException | None) -> None:
    log.critical(
        "cannot write to the warehouse (%s): stopping now, before the batch is acknowledged, "
        "so Kafka replays it when the worker restarts",
        exc,
    )
    logging.shutdown()
    os._exit(EXIT_WAREHOUSE_FAILED)
