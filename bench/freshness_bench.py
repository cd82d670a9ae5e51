"""Freshness: how soon a pushed call is visible (a) on the wallboard stream, (b) in the warehouse.

Starts one `callstream worker` (subprocess, its own data dir, app id and topics) on the broker
of CALLSTREAM_KAFKA_BOOTSTRAP (or the local one). Background load: events at a steady
``--rate`` (default 700 events/s, the national Monday-08:00 peak) for ``--practices``
practices, as whole calls of four events, produced to the raw topic as `callstream push`
does (``--via kafka``) or POSTed through the HTTP ingest (``--via http``). A probe pushes
one tagged call (two events: it ends in the IVR) through the HTTP ingest every
``--probe-every`` seconds to its own practice and times push -> the wallboard's server-sent
events count it, and push -> `calls` in the warehouse (a read-only reader polling). The
same probe runs first without load, for ``--idle`` seconds: the baseline. Prints
p50/p90/p99 of each, and loaded/idle ratios. Usage:

    python bench/freshness_bench.py [--rate 700] [--duration 60] [--idle 15] [--via kafka]
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from bench_support import launch_worker, worker_env
from bench_support import post as post_body
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from streams.devtools.broker.control import resolve_bootstrap
from streams.ingest.tokens import TokenStore
from streams.settings import Settings, get_settings
from streams.warehouse.store import Warehouse

console = Console()
PROBE = "F00001"
EVENTS_PER_CALL = 4


def post(port: int, token: str, practice: str, rows: list[dict]) -> int:
    return post_body(port, token, practice, json.dumps(rows).encode(), timeout=60)


def call(practice: str, call_id: str, kinds: list[str]) -> list[dict]:
    now = datetime.now(UTC).isoformat()
    extra = {"call_started": {"caller": "withheld"}, "queue_joined": {"queue": "main"},
             "answered": {"team": "reception"}}  # fmt: skip
    return [
        {
            "practice": practice,
            "call_id": call_id,
            "event_id": f"{call_id}-{n}",
            "type": kind,
            "at": now,
            **extra.get(kind, {}),
        }  # fmt: skip
        for n, kind in enumerate(kinds)
    ]


class Load(threading.Thread):
    """Whole calls at ``rate`` events/s, one batch per practice in turn every 0.1 s: POSTed
    to the HTTP ingest, or (``producer``) produced to the raw topic as `callstream push`
    does, which leaves the machine's CPU to the worker rather than to HTTP requests."""

    def __init__(
        self, port: int, tokens: dict[str, str], rate: float, producer: Any = None, topic: str = ""
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.tokens, self.rate = port, tokens, rate
        self.producer, self.topic = producer, topic
        self.stop = threading.Event()
        self.sent = 0
        self.refused = 0

    def run(self) -> None:
        tick, calls, practices = 0.1, 0, list(self.tokens)
        per_tick = self.rate * tick / EVENTS_PER_CALL
        owed = 0.0
        next_at = time.monotonic()
        kinds = ["call_started", "queue_joined", "answered", "call_ended"]
        while not self.stop.is_set():
            owed += per_tick
            practice = practices[calls % len(practices)]
            rows = []
            while owed >= 1:
                rows += call(practice, f"l{calls}", kinds)
                calls += 1
                owed -= 1
            if rows and self.producer is not None:
                for row in rows:
                    key = f"{practice}:{row['call_id']}".encode()
                    self.producer.send(self.topic, json.dumps(row).encode(), key)
                self.producer.flush()
                self.sent += len(rows)
            elif rows:
                status = post(self.port, self.tokens[practice], practice, rows)
                self.sent += len(rows) if status == 202 else 0
                self.refused += status != 202
            next_at += tick
            time.sleep(max(0.0, next_at - time.monotonic()))


class Wallboard(threading.Thread):
    """Reads the probe practice's event stream: when each count of ended calls appeared."""

    def __init__(self, port: int, token: str) -> None:
        super().__init__(daemon=True)
        self.port, self.token = port, token
        self.seen: dict[int, float] = {}

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port)
        conn.request(
            "GET",
            f"/live/practices/{PROBE}/stream",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        answer = conn.getresponse()
        for line in answer:
            if line.startswith(b"data: "):
                count = json.loads(line[6:]).get("today", {}).get("ended_in_ivr", 0)
                now = time.monotonic()
                for n in range(1, count + 1):
                    self.seen.setdefault(n, now)


def scrape(port: int) -> str:
    """The worker's warehouse commits so far, from its /metrics: count and mean seconds; and
    its maintenance rounds (light ones run between two commits)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    found = {
        s.name + s.labels.get("le", s.labels.get("round", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("callstream_warehouse_commit_seconds_")
        or (s.name.startswith("callstream_warehouse_maintenance_seconds_") and "le" not in s.labels)
        or s.name == "callstream_warehouse_maintenance_failures_total"
        or (s.name.startswith("callstream_gc_pause_seconds_") and s.labels["generation"] == "2")
    }
    rounds = {
        kind: (
            found.get(f"callstream_warehouse_maintenance_seconds_count{kind}", 0),
            found.get(f"callstream_warehouse_maintenance_seconds_sum{kind}", 0),
            found.get(f"callstream_warehouse_maintenance_failures_total{kind}", 0),
        )
        for kind in ("small", "full")
    }
    count = found.get("callstream_warehouse_commit_seconds_count", 0)
    mean = found.get("callstream_warehouse_commit_seconds_sum", 0) / count if count else 0
    slow = count - found.get("callstream_warehouse_commit_seconds_bucket2.0", count)
    done = ", ".join(
        f"{n:.0f} {kind} maintenance rounds"
        + (f" of {total / n:.2f} s mean" if n else "")
        + f" ({failed:.0f} failed)"
        for kind, (n, total, failed) in rounds.items()
    )
    full_gc = found.get("callstream_gc_pause_seconds_count", 0)
    gc_seconds = found.get("callstream_gc_pause_seconds_sum", 0)
    gc_long = full_gc - found.get("callstream_gc_pause_seconds_bucket0.5", full_gc)
    gc_line = f"{full_gc:.0f} full GC pauses ({gc_seconds:.1f} s, {gc_long:.0f} over 0.5 s)"
    return (
        f"{count:.0f} warehouse commits, mean {mean:.2f} s each, {slow:.0f} over 2 s; {done}; "
        + gc_line
    )


def percentiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    if not ordered:
        return (float("nan"),) * 3  # type: ignore[return-value]
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return pick(0.5), pick(0.9), pick(0.99)


def probe(
    port: int, token: str, settings: Settings, board: Wallboard, start: int, seconds: float,
    every: float, pushed_all: Callable[[], None] = lambda: None,
) -> tuple[list[float], list[float], int, int]:  # fmt: skip
    """Push a probe call every ``every`` s for ``seconds`` (a thread of its own) while this
    one polls the warehouse (``pushed_all`` is called after the last probe); (wallboard
    latencies, warehouse latencies, last probe, probes)."""
    pushed: dict[int, float] = {}
    done = threading.Event()

    def push() -> None:
        n, next_probe = start, time.monotonic()
        while next_probe < started + seconds:
            n += 1
            pushed[n] = time.monotonic()
            rows = call(PROBE, f"p{n}", ["call_started", "call_ended"])
            if post(port, token, PROBE, rows) != 202:
                del pushed[n]
            next_probe += every
            time.sleep(max(0.0, next_probe - time.monotonic()))
        pushed_all()
        done.set()

    started = time.monotonic()
    pusher = threading.Thread(target=push, daemon=True)
    pusher.start()
    in_warehouse: dict[int, float] = {}
    reader = Warehouse.open(settings, read_only=True)
    read_at: int | None = None
    try:
        # Until every probe is in, or a minute after the last: the rest count as not seen.
        while not done.is_set() or (
            len(in_warehouse) < len(pushed) and time.monotonic() < started + seconds + 60
        ):
            # Calls become visible only with a new snapshot: reading the snapshot id every
            # 50 ms and the calls only when it changed keeps the timing's resolution without
            # a scan of the lake 20 times a second (that took ~0.4 of this machine's 2 cores
            # from the worker it measures).
            snapshot = reader.snapshot().id
            if snapshot != read_at:
                read_at = snapshot
                rows = reader.query(
                    f"SELECT call_id FROM calls WHERE practice = '{PROBE}' AND call_id LIKE 'p%'"
                )
                seen = time.monotonic()
                for call_id in rows["call_id"].to_list():
                    k = int(call_id[1:])
                    if k in pushed:
                        in_warehouse.setdefault(k, seen)
            time.sleep(0.05)
    finally:
        reader.close()
    pusher.join()
    wall = [board.seen[k] - t for k, t in pushed.items() if k in board.seen]
    lake = [in_warehouse[k] - t for k, t in pushed.items() if k in in_warehouse]
    return wall, lake, max(pushed, default=start), len(pushed)


@click.command(help="Measure push -> wallboard and push -> warehouse under a steady load.")
@click.option("--rate", default=700, show_default=True, help="Background events per second.")
@click.option("--duration", default=60.0, show_default=True, help="Seconds under load.")
@click.option("--idle", default=15.0, show_default=True, help="Seconds of the idle baseline.")
@click.option("--probe-every", default=0.25, show_default=True, help="Seconds between probes.")
@click.option("--practices", default=50, show_default=True, help="Practices of the load.")
@click.option("--clients", default=4, show_default=True, help="Concurrent senders of the load.")
@click.option(
    "--via",
    type=click.Choice(["kafka", "http"]),
    default="kafka",
    show_default=True,
    help="The load's way in (the probe always uses the HTTP ingest).",
)
def main(
    rate: int,
    duration: float,
    idle: float,
    probe_every: float,
    practices: int,
    clients: int,
    via: str,
) -> None:
    bootstrap = resolve_bootstrap(get_settings())
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        env = worker_env(
            bootstrap,
            data_dir,
            "fresh",
            CALLSTREAM_RATE_LIMIT_PER_MINUTE="1000000",
            CALLSTREAM_WRITER_BATCH_SECONDS="0.5",
            CALLSTREAM_PIPELINE_BATCH_SECONDS="0.1",
        )
        port = int(env["CALLSTREAM_WEB_PORT"])
        settings = Settings(data_dir=data_dir)
        store = TokenStore.for_data_dir(data_dir)
        # Tokens only for the HTTP load: the token file is rewritten on each create, so
        # thousands of practices would spend minutes here for a Kafka load that needs none.
        load_tokens = {f"F{n + 10000:05d}": store.create(f"F{n + 10000:05d}")[0]
                       if via == "http" else "" for n in range(practices)}  # fmt: skip
        probe_token = store.create(PROBE)[0]
        board_token = store.create(PROBE, scope="wallboard")[0]
        worker = launch_worker(env, Path(tmp) / "worker.log")
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if post(port, probe_token, PROBE, call(PROBE, "warm", ["call_started"])):
                        break
                except OSError:
                    if worker.poll() is not None or time.monotonic() > deadline:
                        raise click.ClickException("the worker did not start") from None
                    time.sleep(0.5)
            board = Wallboard(port, board_token)
            board.start()
            time.sleep(5)  # the first assignment and the warehouse's first commit
            idle_wall, idle_lake, n, _ = probe(port, probe_token, settings, board, 0, idle,
                                               probe_every)  # fmt: skip
            # Several senders: a body is answered only once Kafka has every event (acks=all).
            names = list(load_tokens)
            producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
            topic = env["CALLSTREAM_TOPIC_RAW_EVENTS"]
            loads = [
                Load(
                    port,
                    {p: load_tokens[p] for p in names[i::clients]},
                    rate / clients,
                    producer if via == "kafka" else None,
                    topic,
                )
                for i in range(clients)
            ]
            loaded: list[float] = [time.monotonic()]

            def stop_load() -> None:  # with the last probe: the stragglers are timed unloaded
                for load in loads:
                    load.stop.set()
                loaded.append(time.monotonic())

            for load in loads:
                load.start()
            wall, lake, _, probes = probe(
                port, probe_token, settings, board, n, duration, probe_every, stop_load
            )
            for load in loads:
                load.join()
            producer.close()
            achieved = sum(load.sent for load in loads) / (loaded[1] - loaded[0])
            refused = sum(load.refused for load in loads)
            metrics = scrape(port)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
                console.print("the worker did not stop within 60 s of SIGTERM: killed")
    console.print(
        f"load: {achieved:,.0f} events/s achieved of {rate:,} asked ({refused} bodies "
        f"refused) over {duration:.0f} s via {via}, {practices} practices, {clients} senders; "
        f"probes "
        f"every {probe_every} s; worker: {metrics}"
    )
    for name, base, loaded in (("wallboard", idle_wall, wall), ("warehouse", idle_lake, lake)):
        p50, p90, p99 = percentiles(loaded)
        b50, _, b99 = percentiles(base)
        console.print(
            f"{name}: push -> visible under load p50 {p50:.2f} s, p90 {p90:.2f} s, p99 "
            f"{p99:.2f} s ({len(loaded)}/{probes} probes seen); idle p50 {b50:.2f} s, p99 "
            f"{b99:.2f} s; ratio loaded/idle p99 {p99 / b99:.1f}x"
        )


if __name__ == "__main__":
    main()
