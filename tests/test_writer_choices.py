"""The warehouse writer's choices (streams/worker/writer.py): when it recomputes facts
(FactsCadence), and the DuckDB it writes with."""

from __future__ import annotations

from pathlib import Path

from streams.settings import Settings
from streams.worker.writer import FactsCadence, open_writer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_facts_in_every_commit_unless_calls_wait_and_then_every_so_often() -> None:
    clock = Clock()
    cadence = FactsCadence(10.0, clock)
    assert cadence.decide(0)  # nothing waiting: facts now
    cadence.committed(True)
    clock.now += 2
    assert not cadence.decide(25)  # calls waiting: deferred
    cadence.committed(False)
    clock.now += 7.9
    assert not cadence.decide(40)
    cadence.committed(False)
    clock.now += 0.1  # 10 s since the last facts: due, waiting or not
    assert cadence.decide(40)
    cadence.committed(True)
    clock.now += 1
    assert not cadence.decide(3)


def test_deferred_facts_go_stale_only_once_the_commits_with_facts_stop() -> None:
    clock = Clock()
    cadence = FactsCadence(10.0, clock)
    clock.now += 10
    assert cadence.stale()  # at start: a crash may have left keys deferred
    cadence.committed(True)
    clock.now += 30
    assert not cadence.stale()  # nothing deferred since
    assert cadence.decide(0)
    cadence.committed(True)
    clock.now += 5
    assert not cadence.decide(12)
    cadence.committed(False)
    clock.now += 4
    assert not cadence.stale()  # deferred, but facts were recomputed 9 s ago
    clock.now += 1
    assert cadence.stale()  # no commit with facts for 10 s: the timer recomputes them


def test_the_writer_opens_the_warehouse_with_its_own_thread_count(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, writer_threads=1)
    with open_writer(settings) as warehouse:
        assert warehouse.conn.execute("SELECT current_setting('threads')").fetchone() == (1,)
