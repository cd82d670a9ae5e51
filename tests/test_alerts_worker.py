"""Alerts from a real worker into a local webhook receiver (apprise json://): a rule fires
exactly once while its condition holds and sends one recovery, even when the worker restarts
in between; a practice whose events stop is reported as silent; every notice is in the
warehouse's `alerts` view and on the practice's dashboard page."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from live_support import events, push, tokens, wait_for_figures
from pipeline_support import Worker, callstream, pipeline_env, start_worker, wait_until

pytestmark = pytest.mark.kafka
QUEUE, SILENT = "Q10001", "S10001"
RULES = f"""
practices:
  {QUEUE}:
    - name: long queue
      when: queue_length >= 2
      for: 1s
      recover_after: 3s
  {SILENT}:
    - name: feed stopped
      when: no_events_for >= 6s
"""


class Receiver(ThreadingHTTPServer):
    """A webhook on 127.0.0.1 that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def about(self, practice: str) -> list[str]:
        return [b["message"] for b in list(self.bodies) if practice in b["message"]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def worker(kafka_bootstrap: str, tmp_path: Path, receiver: Receiver) -> Iterator[Worker]:
    rules = tmp_path / "alerts.yaml"
    rules.write_text(RULES)
    env = pipeline_env(
        kafka_bootstrap,
        tmp_path / "data",
        CALLSTREAM_CALL_TIMEOUT_S="3600",
        CALLSTREAM_ALERT_RULES_FILE=str(rules),
        CALLSTREAM_ALERT_URLS=f"json://127.0.0.1:{receiver.server_address[1]}/hook",
        CALLSTREAM_ALERT_EVERY_S="0.5",
    )
    running = start_worker(env, tmp_path / "worker.log")
    running.wait_for_web()
    yield running
    running.stop()


def test_one_alert_one_recovery_across_a_restart_a_silent_feed_all_in_the_alerts_view(
    worker, receiver, tmp_path
):
    ingest, wallboard = tokens(worker, QUEUE)
    silent_ingest, _ = tokens(worker, SILENT)
    push(
        worker,
        SILENT,
        silent_ingest,
        events(SILENT, "s1", ("call_started", 20), ("call_ended", 10)),
    )
    for call in ("q1", "q2"):
        push(worker, QUEUE, ingest, events(QUEUE, call, ("call_started", 20), ("queue_joined", 15)))
    wait_for_figures(worker, QUEUE, wallboard, {"in_queue": 2})

    wait_until(lambda: receiver.about(QUEUE), 30, "the long-queue alert")
    time.sleep(3)  # six more evaluations with the queue still long: no second message
    assert len(receiver.about(QUEUE)) == 1, receiver.about(QUEUE)
    assert "long queue" in receiver.about(QUEUE)[0] and "recovered" not in receiver.about(QUEUE)[0]

    # Restart during the incident, once the warehouse has its notice: the new process takes
    # it back, so the queue, still long, is not announced again, and the recovery still goes.
    fired = {"practice": QUEUE, "rule": "long queue", "kind": "firing", "sent": True}
    wait_until(lambda: fired in recorded(worker), 30, "the alert in the warehouse")
    worker.stop()
    again = start_worker(worker.env, tmp_path / "again.log")
    try:
        _after_the_restart(again, receiver, tmp_path, ingest, wallboard)
    finally:
        again.stop()


def recorded(worker: Worker) -> list[dict]:
    try:
        return worker.query("SELECT practice, rule, kind, sent FROM alerts").to_dicts()
    except Exception:  # the view appears with the first commit of an alert
        return []


def _after_the_restart(
    worker: Worker, receiver: Receiver, tmp_path: Path, ingest: str, wallboard: str
) -> None:
    log = tmp_path / "again.log"
    wait_until(lambda: "open incidents taken back" in log.read_text(), 60, "the restore")
    wait_for_figures(worker, QUEUE, wallboard, {"in_queue": 2})
    time.sleep(3)  # six evaluations with the queue still long after the restart
    assert len(receiver.about(QUEUE)) == 1, receiver.about(QUEUE)

    for call in ("q1", "q2"):
        push(worker, QUEUE, ingest, events(QUEUE, call, ("answered", 0)))
    wait_until(lambda: len(receiver.about(QUEUE)) >= 2, 30, "the recovery message")
    wait_until(lambda: receiver.about(SILENT), 30, "the silent-feed alert")
    assert "recovered" in receiver.about(QUEUE)[1]
    assert "feed stopped" in receiver.about(SILENT)[0]

    wanted = [
        {"practice": QUEUE, "rule": "long queue", "kind": "firing", "sent": True},
        {"practice": QUEUE, "rule": "long queue", "kind": "recovered", "sent": True},
        {"practice": SILENT, "rule": "feed stopped", "kind": "firing", "sent": True},
    ]
    key = lambda r: (r["practice"], r["kind"])  # noqa: E731
    wait_until(lambda: sorted(recorded(worker), key=key) == wanted, 30, f"{wanted} in alerts")
    assert len(receiver.about(QUEUE)) == 2  # still one alert and one recovery

    for call in ("q1", "q2"):  # ended: the practice has calls, so a dashboard page
        push(worker, QUEUE, ingest, events(QUEUE, call, ("call_ended", 0)))
    worker.wait_for_calls(2, f"practice = '{QUEUE}'")
    site = tmp_path / "site"
    built = callstream(worker.env, "dashboards", "build", "--out", str(site), timeout=300)
    assert built.returncode == 0, built.stderr
    page = (site / "practice" / QUEUE / "practice_today.html").read_text()
    alerts = page[page.index(">Alerts</h2>") :]
    assert "long queue" in alerts and "recovered" in alerts and "firing" in alerts
