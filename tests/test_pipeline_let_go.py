"""What the worker does with a call it lets go (real broker, real worker, short retention).

A call is forgotten ``call_retention_s`` after its last event. What it could not place is
dead-lettered then, never dropped: the events it held back because no ``call_started``
came to say whether they belong, and a "call" of nothing but ``callback_made`` events.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pipeline_support import Worker, pipeline_env, start_worker, wait_for_dead_letters
from test_poison import answered_call, calls_of, event, of_practice, raw

pytestmark = pytest.mark.kafka

PRACTICE = "P20001"


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    base = tmp_path_factory.mktemp("let-go")
    env = pipeline_env(
        kafka_bootstrap,
        base / "data",
        CALLSTREAM_CALL_RETENTION_S="4",
        CALLSTREAM_CALLBACK_RETENTION_S="4",
    )
    running = start_worker(env, base / "worker.log")
    yield running
    code = running.stop()
    assert code == 0, f"worker did not stop cleanly on SIGTERM:\n{running.tail()}"


def test_what_a_call_let_go_could_not_place_is_dead_lettered(worker: Worker) -> None:
    # An ivr_option stamped 9 h late comes first in both calls. "placed" gets its
    # call_started last: the start takes the three events held back and sets the stray
    # aside. "lost" never gets one: the stray stays the call, and the three are held back
    # until the call is let go.
    started, *rest = answered_call(PRACTICE, "placed")
    placed = [event(PRACTICE, "placed", 9, "ivr_option", "16:31:00", option="1"), *rest, started]
    lost = [event(PRACTICE, "lost", 9, "ivr_option", "16:31:00", option="1")]
    lost += answered_call(PRACTICE, "lost")[1:]
    orphan = [event(PRACTICE, "orphan", 1, "callback_made", "09:00:00", outcome="answered")]
    raw(worker, [*placed, *lost, *orphan])

    worker.wait_for_calls(2, f"practice = '{PRACTICE}'")
    calls = calls_of(worker, PRACTICE)
    assert (calls["placed"]["outcome"], calls["placed"]["events"]) == ("answered", 4)
    assert (calls["lost"]["complete"], calls["lost"]["events"]) == (False, 1)
    assert "orphan" not in calls

    letters = wait_for_dead_letters(worker, of_practice(PRACTICE), 3)  # one letter per call
    by_call = {letter["source_key"]: letter for letter in letters}
    assert sorted((k, v["field"], v["events"]) for k, v in by_call.items()) == [
        (f"{PRACTICE}:lost", "at", 3),
        (f"{PRACTICE}:orphan", "type", 1),
        (f"{PRACTICE}:placed", "at", 1),
    ], letters
    assert "no call_started came" in by_call[f"{PRACTICE}:lost"]["reason"]
    assert "lost-2" in by_call[f"{PRACTICE}:lost"]["original"]
    assert "more than call_max_span_s (14400 s)" in by_call[f"{PRACTICE}:placed"]["reason"]
    worker.assert_alive()
