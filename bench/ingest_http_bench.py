"""HTTP ingest throughput: events per second answered 202 by one `callstream worker`.

Starts a worker (subprocess, its own data dir, app id and topics) on the broker of
CALLSTREAM_KAFKA_BOOTSTRAP (or the local one), creates a token, then POSTs bodies of
``--events`` events from ``--clients`` concurrent connections. Each 202 means the body's
events were acknowledged by Kafka (acks=all). Also reports /health latency under load,
which shows whether parsing stalls the worker's event loop. Usage:

    python bench/ingest_http_bench.py [--bodies 40] [--events 2000] [--clients 4]
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
from bench_support import launch_worker, post, worker_env
from rich.console import Console

from streams.devtools.broker.control import resolve_bootstrap
from streams.ingest.tokens import TokenStore
from streams.settings import get_settings

console = Console()
PRACTICE = "B00001"


def body(index: int, events: int) -> bytes:
    rows = []
    for i in range(events // 2):
        call = f"b{index}-{i}"
        base = {"practice": PRACTICE, "call_id": call}
        rows.append(
            {
                **base,
                "event_id": f"{call}-1",
                "type": "call_started",
                "at": "2026-08-03T08:00:00Z",
                "caller": f"07700 9{i % 100000:05d}",
            }
        )
        rows.append({**base, "event_id": f"{call}-2", "type": "call_ended",
                     "at": "2026-08-03T08:03:00Z"})  # fmt: skip
    return json.dumps(rows).encode()


def health_ms(port: int) -> float:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/health")
        conn.getresponse().read()
    finally:
        conn.close()
    return (time.perf_counter() - start) * 1000


def wait_up(port: int, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException("the worker exited; see its log")
        try:
            health_ms(port)
            return
        except OSError:
            time.sleep(0.3)
    raise click.ClickException("the worker's web server did not come up")


@click.command(help="Measure HTTP ingest throughput of one worker.")
@click.option("--bodies", default=40, show_default=True, help="Requests to send.")
@click.option("--events", default=2000, show_default=True, help="Events per request.")
@click.option("--clients", default=4, show_default=True, help="Concurrent connections.")
def main(bodies: int, events: int, clients: int) -> None:
    bootstrap = resolve_bootstrap(get_settings())
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        env = worker_env(bootstrap, data_dir, "bench", CALLSTREAM_RATE_LIMIT_PER_MINUTE="100000")
        port = int(env["CALLSTREAM_WEB_PORT"])
        token, _ = TokenStore.for_data_dir(data_dir).create(PRACTICE)
        worker = launch_worker(env, Path(tmp) / "worker.log")
        try:
            wait_up(port, worker)
            payloads = [body(i, events) for i in range(bodies)]
            latencies: list[float] = []
            done = threading.Event()

            def probe() -> None:
                while not done.is_set():
                    latencies.append(health_ms(port))
                    time.sleep(0.2)

            prober = threading.Thread(target=probe)
            prober.start()
            start = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                statuses = list(pool.map(lambda b: post(port, token, PRACTICE, b), payloads))
            elapsed = time.perf_counter() - start
            done.set()
            prober.join()
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
    accepted = statuses.count(202) * events
    mb = sum(map(len, payloads)) / 1e6
    console.print(
        f"{bodies} bodies x {events} events ({mb:.1f} MB), {clients} clients: "
        f"{elapsed:.1f} s, {accepted / elapsed:,.0f} events/s acknowledged; "
        f"statuses {sorted(set(statuses))}; /health under load: median "
        f"{sorted(latencies)[len(latencies) // 2]:.0f} ms, max {max(latencies):.0f} ms"
    )


if __name__ == "__main__":
    main()
