"""Shared fixtures. Tests that need Kafka use ``kafka_bootstrap``: a real Apache Kafka
broker started once per test session through the same code as ``callstream broker start``.
Tests of a warehouse past one machine use ``lake``: PostgreSQL and moto's S3 server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lake_services import Lake, Missing, ObjectStore, Postgres

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
    watchdog = _watchdog(broker.status(settings).pid, signal.SIGTERM)
    try:
        yield address
    finally:
        watchdog.kill()
        watchdog.wait()
        broker.stop(settings)


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    """PostgreSQL (Debian's package) and moto's S3 server for this session, on 127.0.0.1;
    skips, saying why, when PostgreSQL is not installed."""
    try:
        postgres = Postgres.start()
    except Missing as exc:
        pytest.skip(str(exc))
    watchdogs = [_watchdog(postgres.process.pid, signal.SIGINT)]
    try:
        store = ObjectStore.start(tmp_path_factory.mktemp("moto"))
        watchdogs.append(_watchdog(store.process.pid, signal.SIGTERM))
        try:
            yield Lake(postgres, store)
        finally:
            store.stop()
    finally:
        postgres.stop()
        for watchdog in watchdogs:
            watchdog.kill()
            watchdog.wait()


def _watchdog(pid: int, signum: int) -> subprocess.Popen:
    """A detached process that sends ``signum`` to ``pid`` once this test session is gone."""
    return subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(pid), str(int(signum))],
        start_new_session=True,
    )


#: Waits for the test session (argv[1]) to end, then signals (argv[3]) the server (argv[2]).
_WATCHDOG = """
import os, sys, time
session, server, signum = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
while True:
    try:
        os.kill(session, 0)
    except ProcessLookupError:
        break
    time.sleep(1)
try:
    os.kill(server, signum)
except ProcessLookupError:
    pass
"""
