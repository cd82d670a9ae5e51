"""Shared fixtures. Tests that need Kafka use ``kafka_bootstrap``: a real Apache Kafka
broker started once per test session through the same code as ``callstream broker start``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.settings import Settings, get_settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh CALLSTREAM_DATA_DIR for one test, with a fixed pseudonymisation key."""
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("CALLSTREAM_DATA_DIR", str(path))
    monkeypatch.setenv("CALLSTREAM_PSEUDONYMISATION_KEY", "test-key-not-secret")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a real broker: CALLSTREAM_KAFKA_BOOTSTRAP if set, else a local
    broker started (and stopped at the end) under a session temp dir."""
    external = os.environ.get("CALLSTREAM_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    from streams.devtools.broker import control as broker

    settings = Settings(data_dir=tmp_path_factory.mktemp("kafka-data"))
    address = broker.start(settings)
    # The broker is detached; should this session be killed, the watchdog still stops it.
    watchdog = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(broker.status(settings).pid)],
        start_new_session=True,
    )
    try:
        yield address
    finally:
        watchdog.kill()
        watchdog.wait()
        broker.stop(settings)


#: Waits for the test session (argv[1]) to end, then SIGTERMs the broker (argv[2]).
_WATCHDOG = """
import os, signal, sys, time
session, broker = int(sys.argv[1]), int(sys.argv[2])
while True:
    try:
        os.kill(session, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
try:
    os.kill(broker, signal.SIGTERM)
except ProcessLookupError:
    pass
"""
