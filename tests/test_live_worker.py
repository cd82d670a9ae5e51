"""The live state in a real worker: fed by the pipeline, read with a wallboard token only,
and the same after the worker restarts (recovered from the live tables' changelogs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from live_support import events, push, request, tokens, wait_for_figures
from pipeline_support import Worker, callstream, pipeline_env, start_worker

from streams.ingest.tokens import TokenStore

pytestmark = pytest.mark.kafka
PRACTICE, OTHER = "L10001", "L10002"
QUEUEING = ("call_started", 90), ("queue_joined", 60)
ANSWERED = ("call_started", 300), ("queue_joined", 290), ("answered", 200), ("call_ended", 100)
MISSED = ("call_started", 200), ("queue_joined", 190), ("call_ended", 30)


@pytest.fixture
def worker(kafka_bootstrap: str, tmp_path) -> Iterator[Worker]:
    # Calls stay open (in the queue) until their call_ended, as in production.
    env = pipeline_env(kafka_bootstrap, tmp_path / "data", CALLSTREAM_CALL_TIMEOUT_S="3600")
    running = start_worker(env, tmp_path / "worker.log")
    running.wait_for_web()
    yield running
    running.stop()


def test_live_state_follows_calls_needs_a_wallboard_token_and_survives_a_restart(
    worker: Worker, tmp_path
) -> None:
    ingest, wallboard = tokens(worker, PRACTICE)
    _, other_wallboard = tokens(worker, OTHER)
    path = f"/live/practices/{PRACTICE}/state"
    assert request(worker, "GET", path, None)[0] == 401
    assert request(worker, "GET", path, ingest)[0] == 403
    status, answer = request(worker, "GET", path, other_wallboard)
    assert status == 403 and OTHER in answer["error"]

    push(worker, PRACTICE, ingest, events(PRACTICE, "q1", *QUEUEING))
    push(worker, PRACTICE, ingest, events(PRACTICE, "a1", *ANSWERED))
    push(worker, PRACTICE, ingest, events(PRACTICE, "m1", *MISSED))
    expected = {
        "in_queue": 1,
        "today.answered": 1,
        "today.missed": 1,
        "today.answered_within_2m": 1,
        "abandoned_15m": 1,
    }
    seen = wait_for_figures(worker, PRACTICE, wallboard, expected)
    assert 55 <= seen["longest_wait_s"] <= 120, seen

    worker.stop()
    again = start_worker(worker.env, tmp_path / "again.log")
    try:
        again.wait_for_web()
        recovered = wait_for_figures(again, PRACTICE, wallboard, expected)
        assert recovered["last_received_at"] == seen["last_received_at"]
        # A late answer turns the missed call answered: it replaces what the call counted
        # before the restart (recovered per call), so nothing counts twice.
        push(again, PRACTICE, ingest, events(PRACTICE, "m1", ("answered", 100)))
        changed = {"today.inbound": 2, "today.answered": 2, "today.missed": 0}
        wait_for_figures(again, PRACTICE, wallboard, {**changed, "abandoned_15m": 0})
    finally:
        again.stop()


MAPPING = Path(__file__).parent / "fixtures" / "reference" / "gp-reg-pat-prac-map.csv"
PCN, IN_PCN, ELSEWHERE = "U00351", "A81001", "A81004"  # A81004: PCN U00520, same ICB QHM


def test_a_pcn_board_sums_its_practices_and_needs_the_pcn_token(worker: Worker, tmp_path) -> None:
    mapping = tmp_path / MAPPING.name  # the fixture's good rows: A81001, A81002, A81004
    mapping.write_text("".join(MAPPING.read_text().splitlines(keepends=True)[:5]))
    loaded = callstream(worker.env, "reference", "load", str(mapping))
    assert loaded.returncode == 0, loaded.stderr
    ingest, practice_board = tokens(worker, IN_PCN)
    elsewhere, _ = tokens(worker, ELSEWHERE)
    store = TokenStore.for_data_dir(Path(worker.env["CALLSTREAM_DATA_DIR"]))
    pcn_board = store.create(PCN, scope="wallboard", level="pcn")[0]
    status, answer = request(worker, "GET", f"/live/pcns/{PCN}/state", practice_board)
    assert status == 403 and f"practice {IN_PCN}, not PCN {PCN}" in answer["error"]
    assert request(worker, "GET", f"/live/practices/{IN_PCN}/state", pcn_board)[0] == 403
    assert request(worker, "GET", "/live/pcns/U99999/state", pcn_board)[0] == 403
    assert wait_for_figures(worker, PCN, pcn_board, {"in_queue": 0}, board="pcns")["practices"] == 2

    push(worker, ELSEWHERE, elsewhere, events(ELSEWHERE, "e1", *QUEUEING))  # not the PCN's
    push(worker, IN_PCN, ingest, events(IN_PCN, "p1", *QUEUEING))
    seen = wait_for_figures(worker, PCN, pcn_board, {"in_queue": 1, "practice": PCN}, board="pcns")
    assert 55 <= seen["longest_wait_s"] <= 120, seen
    # What another worker would ask this one: only the PCN's practices, from its own table.
    parts_path = f"/live/pcns/{PCN}/parts?practices={IN_PCN},{ELSEWHERE}"
    status, parts = request(worker, "GET", parts_path, pcn_board)
    assert status == 200 and [p["practice"] for p in parts["parts"]] == [IN_PCN], parts
