"""Helpers for the live-state tests: a practice's call events at the current time, pushed
through the worker's HTTP ingest, and the wallboard's JSON state read back."""

from __future__ import annotations

import http.client
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline_support import Worker

from streams.ingest.tokens import TokenStore


def tokens(worker: Worker, practice: str) -> tuple[str, str]:
    """(ingest token, wallboard token) of ``practice``, created as the operator would."""
    store = TokenStore.for_data_dir(Path(worker.env["CALLSTREAM_DATA_DIR"]))
    return store.create(practice)[0], store.create(practice, scope="wallboard")[0]


def events(practice: str, call_id: str, *steps: tuple[str, float]) -> list[dict]:
    """Events of one call, each ``(type, seconds before now)``, with the fields each type needs."""
    needs = {
        "call_started": {"caller": "07700 900123"},
        "queue_joined": {"queue": "main"},
        "answered": {"team": "reception"},
    }
    now = datetime.now(UTC)
    return [
        {
            "practice": practice,
            "call_id": call_id,
            "event_id": f"{call_id}-{kind}",
            "type": kind,
            "at": (now - timedelta(seconds=ago)).isoformat(),
            **needs.get(kind, {}),
        }
        for kind, ago in steps
    ]


def request(
    worker: Worker, method: str, path: str, token: str | None, body: bytes | None = None
) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", int(worker.env["CALLSTREAM_WEB_PORT"]), 30)
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"{}")
    finally:
        conn.close()


def push(worker: Worker, practice: str, token: str, body: list[dict]) -> None:
    path = f"/v1/practices/{practice}/events"
    status, answer = request(worker, "POST", path, token, json.dumps(body).encode())
    assert status == 202, answer


def state(worker: Worker, practice: str, token: str, board: str = "practices") -> dict:
    """The board's state: a practice's, or (``board`` "pcns" or "icbs") an organisation's."""
    status, answer = request(worker, "GET", f"/live/{board}/{practice}/state", token)
    assert status == 200, answer
    return answer


def figures(worker: Worker, practice: str, token: str, board: str = "practices") -> dict:
    """The wallboard's figures without the time they were taken."""
    return {k: v for k, v in state(worker, practice, token, board).items() if k != "as_of"}


def wait_for_figures(
    worker: Worker,
    practice: str,
    token: str,
    expected: dict,
    timeout: float = 60,
    board: str = "practices",
) -> dict:
    """Until the practice's figures include ``expected`` (a dict of top-level fields and
    ``today.<outcome>``); returns them, or fails showing the last ones seen."""
    deadline = time.monotonic() + timeout
    while True:
        seen = figures(worker, practice, token, board)
        flat = {**seen, **{f"today.{k}": v for k, v in seen["today"].items()}}
        if all(flat.get(k) == v for k, v in expected.items()):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout:.0f} s the figures were {seen}, not {expected}")
        worker.assert_alive()
        time.sleep(0.3)
