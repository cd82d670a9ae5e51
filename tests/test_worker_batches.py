"""take_batches (streams/worker/batches.py) on a real Faust stream over an in-memory channel.

No broker: a Faust channel is a queue in the process, and the stream, its passive reading,
its processors and the acks are Faust's own. The windows are seconds wide so that the
difference from Faust's ``take_events`` (a whole window after the work) is far larger than
any scheduling delay of a loaded machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from streams.worker.batches import take_batches


def _run(body: Callable[[Any], Awaitable[None]]) -> None:
    async def main() -> None:
        app = faust.App("batches-test", broker="kafka://127.0.0.1:1", autodiscover=False)
        app.flow_control.resume()  # suspended until a worker's first assignment
        channel = app.channel(maxsize=1000)
        async with channel.stream() as stream:
            await body(stream)

    asyncio.run(asyncio.wait_for(main(), 60))


def test_events_read_during_slow_work_are_taken_as_soon_as_it_ends() -> None:
    """Work longer than the window: the next batch is taken when the work ends, holding
    everything that arrived meanwhile (take_events would wait one more window)."""
    window, work = 3.0, 3.5
    seen: list[tuple[float, list[int]]] = []
    waiting: list[int] = []

    async def body(stream: Any) -> None:
        loop = asyncio.get_running_loop()
        await stream.channel.send(value=0)
        worked_until = 0.0
        async for batch in take_batches(stream, 100, window):
            seen.append((loop.time() - worked_until, [e.value for e in batch]))
            if len(seen) == 2:
                break
            for n in range(1, 6):  # arrive while the first batch is being written
                await stream.channel.send(value=n)
            await asyncio.sleep(work)
            waiting.append(batch.waiting())  # the load behind the batch, for the writer
            worked_until = loop.time()
        waiting.append(batch.waiting())

    _run(body)
    assert [values for _, values in seen] == [[0], [1, 2, 3, 4, 5]], seen
    assert waiting == [5, 0]
    late = seen[1][0]
    assert late < window / 2, f"the second batch came {late:.2f} s after the work ended"


def test_full_batches_go_at_once_and_the_rest_waits_out_the_window() -> None:
    window = 1.0
    taken: list[tuple[float, int]] = []

    async def body(stream: Any) -> None:
        loop = asyncio.get_running_loop()
        for n in range(25):
            await stream.channel.send(value=n)
        values: list[int] = []
        async for batch in take_batches(stream, 10, window):
            taken.append((loop.time(), len(batch)))
            values += [e.value for e in batch]
            if len(values) == 25:
                break
        assert values == list(range(25))

    _run(body)
    # The first is taken at once (with what had been read by then); a full buffer is taken
    # without waiting out the window, as take_events does; a buffer not full waits a window
    # from the batch before it: no more than one of those a window.
    sizes = [size for _, size in taken]
    assert max(sizes) == 10 and sizes[-1] < 10, taken
    for (before, _), (at, size) in zip(taken, taken[1:], strict=False):
        if size == 10:
            assert at - before < window / 2, taken
        else:
            assert at - before >= window - 0.01, taken


def test_a_batch_is_acked_only_when_the_next_is_asked_for() -> None:
    acked_during: list[list[bool]] = []
    acked_after: list[list[bool]] = []
    batches: list[list[Any]] = []

    async def body(stream: Any) -> None:
        await stream.channel.send(value="a")
        async for batch in take_batches(stream, 100, 0.2):
            if batches:
                acked_after.append([e.message.acked for e in batches[-1]])
            batches.append(batch)
            acked_during.append([e.message.acked for e in batch])
            if len(batches) == 2:
                break
            await stream.channel.send(value="b")  # read while "a" is worked on
            await asyncio.sleep(0.5)
            acked_during.append([e.message.acked for e in batch])

    _run(body)
    assert [[e.value for e in b] for b in batches] == [["a"], ["b"]]
    assert acked_during == [[False], [False], [False]]  # a, a after the work, b
    assert acked_after == [[True]]  # a, once b was asked for
