"""What the benchmarks that run a `callstream worker` share: its environment (its own data
dir, app id, topics and web port, so a run never sees another's data)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_env(bootstrap: str, data_dir: Path, prefix: str, **overrides: str) -> dict[str, str]:
    """Environment of a benchmark's worker: topics and app id ``<prefix><random>``."""
    tag = f"{prefix}{uuid.uuid4().hex[:8]}"
    return {
        **os.environ,
        "CALLSTREAM_KAFKA_BOOTSTRAP": bootstrap,
        "CALLSTREAM_DATA_DIR": str(data_dir),
        "CALLSTREAM_PSEUDONYMISATION_KEY": "bench-key",
        "CALLSTREAM_APP_ID": tag,
        "CALLSTREAM_TOPIC_RAW_EVENTS": f"{tag}.raw",
        "CALLSTREAM_TOPIC_CLASSIFIED": f"{tag}.classified",
        "CALLSTREAM_TOPIC_DEAD_LETTER": f"{tag}.dead",
        "CALLSTREAM_TOPIC_LIVE": f"{tag}.live",
        "CALLSTREAM_WEB_PORT": str(free_port()),
        **overrides,
    }


def post(port: int, token: str, practice: str, body: bytes, timeout: float = 120) -> int:
    """POST a body of events to the worker's HTTP ingest; the answer's status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST",
            f"/v1/practices/{practice}/events",
            body=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


def launch_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """`callstream worker` with ``env``, its output to ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "warning"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
