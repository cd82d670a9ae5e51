"""The local broker's life cycle through `callstream broker` (real JVM, own data dirs) and
the jar cache with a stand-in Maven (no network): atomic fetch, cache hit, repair."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from streams.devtools.broker import control as broker
from streams.devtools.broker.config import new_cluster_id, server_properties
from streams.devtools.broker.jars import ensure_jars
from streams.settings import Settings

VERSION = Settings().kafka_version


def _fake_mvn(bin_dir: Path, calls: Path, *, fail: bool = False) -> None:
    """A stand-in `mvn` that records each call and "downloads" two jars (or fails halfway)."""
    script = textwrap.dedent(
        f"""\
        #!{sys.executable}
        import sys
        from pathlib import Path
        with open({str(calls)!r}, "a") as log:
            log.write(" ".join(sys.argv[1:]) + "\\n")
        out = Path(next(a for a in sys.argv if a.startswith("-DoutputDirectory="))
                   .split("=", 1)[1])
        out.mkdir(parents=True)
        (out / "kafka-clients-{VERSION}.jar").write_bytes(b"clients")
        if {fail!r}:
            print("[ERROR] Failed to execute goal: Could not transfer artifact kafka_2.13")
            sys.exit(1)
        (out / "kafka_2.13-{VERSION}.jar").write_bytes(b"broker")
        """
    )
    mvn = bin_dir / "mvn"
    mvn.write_text(script)
    mvn.chmod(0o755)


def _bin_dir(tmp_path: Path, *, java: bool) -> Path:
    """A PATH directory with (optionally) java and nothing else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    real_java = shutil.which("java")
    if java and real_java:
        (bin_dir / "java").symlink_to(Path(real_java).resolve())
    return bin_dir


def _calls(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


# --- pure configuration ------------------------------------------------------------------


def test_server_properties_single_node_on_loopback(tmp_path: Path) -> None:
    text = server_properties(port=1234, controller_port=5678, log_dirs=tmp_path / "kraft")
    props = dict(line.split("=", 1) for line in text.splitlines())
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:1234,CONTROLLER://127.0.0.1:5678"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:1234"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:5678"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["log.dirs"] == str(tmp_path / "kraft")


def test_cluster_ids_look_like_kafkas() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


# --- jar cache (stand-in Maven, no network) -------------------------------------------------


def test_missing_maven_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(_bin_dir(tmp_path, java=False)))
    settings = Settings(data_dir=tmp_path / "data", kafka_cache_dir=tmp_path / "cache")
    with pytest.raises(broker.BrokerError, match=r"Maven \(mvn\) is not on PATH"):
        ensure_jars(settings)


def test_half_download_is_redone_and_a_complete_cache_skips_maven(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir, calls = _bin_dir(tmp_path, java=False), tmp_path / "mvn-calls"
    _fake_mvn(bin_dir, calls)
    monkeypatch.setenv("PATH", str(bin_dir))
    settings = Settings(data_dir=tmp_path / "data", kafka_cache_dir=tmp_path / "cache")
    root = tmp_path / "cache" / VERSION
    (root / "fetch-interrupted" / "libs").mkdir(parents=True)  # a killed earlier fetch
    (root / "libs").mkdir()  # a libs dir without manifest: not trusted
    (root / "libs" / "stray.jar").write_bytes(b"half")

    libs = ensure_jars(settings)
    assert libs == root / "libs"
    assert sorted(p.name for p in libs.glob("*.jar")) == [
        f"kafka-clients-{VERSION}.jar",
        f"kafka_2.13-{VERSION}.jar",
    ]
    assert not list(root.glob("fetch-*"))
    assert _calls(calls) == 1

    assert ensure_jars(settings) == libs
    assert _calls(calls) == 1  # cache hit: Maven not run

    (libs / f"kafka-clients-{VERSION}.jar").unlink()  # a damaged cache is fetched again
    ensure_jars(settings)
    assert _calls(calls) == 2
    assert (libs / f"kafka-clients-{VERSION}.jar").is_file()


def test_failed_fetch_leaves_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir, calls = _bin_dir(tmp_path, java=False), tmp_path / "mvn-calls"
    _fake_mvn(bin_dir, calls, fail=True)
    monkeypatch.setenv("PATH", str(bin_dir))
    settings = Settings(data_dir=tmp_path / "data", kafka_cache_dir=tmp_path / "cache")
    with pytest.raises(broker.BrokerError) as caught:
        ensure_jars(settings)
    message = str(caught.value)
    assert "\n" not in message
    assert "mvn exit 1" in message and "Could not transfer artifact" in message
    root = tmp_path / "cache" / VERSION
    assert not (root / "libs").exists()
    assert not list(root.glob("fetch-*"))


# --- resolve_bootstrap ---------------------------------------------------------------------


def test_resolve_bootstrap_prefers_the_configured_cluster(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, kafka_bootstrap="kafka.example:9092")
    assert broker.resolve_bootstrap(settings) == "kafka.example:9092"


def test_resolve_bootstrap_without_broker_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(broker.BrokerError, match="callstream broker start"):
        broker.resolve_bootstrap(Settings(data_dir=tmp_path, kafka_bootstrap=None))


# --- the CLI on a real broker ----------------------------------------------------------------


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "broker", *args],
        env=env,
        cwd=env["PWD"],
        capture_output=True,
        text=True,
        timeout=180,
    )


def _assert_one_line_error(done: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and fragment in lines[0], lines


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _process_running(pid: int) -> bool:
    """Whether pid runs (a zombie waiting for a reaper that is not ours counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for `callstream broker`: own data dir, the shared jar cache (fetched here
    if this machine never did), PATH with java and a recording stand-in mvn only. The data
    dir is the default a user has, ``./data`` relative to where the command runs."""
    ensure_jars(Settings())
    bin_dir = _bin_dir(tmp_path, java=True)
    _fake_mvn(bin_dir, tmp_path / "mvn-calls")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CALLSTREAM_") or key == "CALLSTREAM_KAFKA_CACHE_DIR"
    }
    env.update(PATH=str(bin_dir), PWD=str(tmp_path))
    yield env
    _cli(env, "stop")  # never leave a JVM behind, whatever the test did


@pytest.mark.kafka
def test_start_round_trip_stop_restart(cli_env: dict[str, str], tmp_path: Path) -> None:
    broker_dir = tmp_path / "data" / "broker"
    broker_dir.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (broker_dir / "state.json").write_text(
        json.dumps(
            {
                "pid": dead.pid,
                "port": 1,
                "controller_port": 2,
                "bootstrap": "127.0.0.1:1",
                "kafka_version": VERSION,
                "started_at": "2026-01-01T00:00:00Z",
            }
        )
    )
    stale = _cli(cli_env, "status")
    assert stale.returncode == 3 and stale.stdout.startswith("not running"), stale

    started = _cli(cli_env, "start")
    assert started.returncode == 0, started.stderr
    address = started.stdout.strip()
    host, port = address.split(":")
    assert started.stdout == f"127.0.0.1:{port}\n" and host == "127.0.0.1"
    assert _calls(tmp_path / "mvn-calls") == 0  # cache hit: no Maven, no network

    producer = KafkaProducer(bootstrap_servers=address, acks="all")
    for number in range(100):
        producer.send("round-trip", value=b"%d" % number)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(
        "round-trip",
        bootstrap_servers=address,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    values = [record.value for record in consumer]
    consumer.close()
    assert values == [b"%d" % number for number in range(100)]
    # The broker's files hold call events: its folder and everything it writes are private.
    assert stat.S_IMODE(broker_dir.stat().st_mode) == 0o700
    written = [p for p in (broker_dir / "kraft").rglob("*") if p.is_file()]
    assert written and not [p for p in written if p.stat().st_mode & 0o077]

    again = _cli(cli_env, "start")
    assert again.returncode == 0 and again.stdout == started.stdout  # idempotent
    status = _cli(cli_env, "status", "--json")
    state = json.loads(status.stdout)
    assert status.returncode == 0 and state["running"] and state["bootstrap"] == address
    assert Path(state["log_path"]).read_text().strip()  # the broker logs to its file

    stopped = _cli(cli_env, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not _listening(int(port))
    assert not _process_running(state["pid"])
    assert not (broker_dir / "state.json").exists()
    _assert_one_line_error(_cli(cli_env, "stop"), "no broker running")

    restarted = _cli(cli_env, "start")  # storage kept, the same port reused when free
    assert restarted.returncode == 0 and restarted.stdout == started.stdout, restarted.stderr
    assert _cli(cli_env, "stop").returncode == 0
    assert not _listening(int(port))


def test_stop_without_start_is_one_line(cli_env: dict[str, str]) -> None:
    _assert_one_line_error(_cli(cli_env, "stop"), "no broker running")


def test_port_taken_is_one_line(cli_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _cli({**cli_env, "CALLSTREAM_BROKER_PORT": str(port)}, "start")
    _assert_one_line_error(done, f"port 127.0.0.1:{port} is already in use")


def test_missing_java_is_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "bin" / "java").unlink()
    _assert_one_line_error(_cli(cli_env, "start"), "Java is not on PATH")


@pytest.mark.kafka
def test_broker_that_exits_during_start_says_why(cli_env: dict[str, str], tmp_path: Path) -> None:
    done = _cli({**cli_env, "CALLSTREAM_BROKER_HEAP": "1k"}, "start")
    _assert_one_line_error(done, "the broker exited during start")
    assert "heap" in done.stderr.lower()
    status = _cli(cli_env, "status")
    assert status.returncode == 3


@pytest.mark.kafka
def test_start_timeout_is_one_line_and_leaves_no_broker(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    done = _cli({**cli_env, "CALLSTREAM_BROKER_START_TIMEOUT_S": "0.5"}, "start")
    _assert_one_line_error(done, "did not answer on 127.0.0.1:")
    assert "within 0.5 s" in done.stderr
    properties = str(tmp_path / "data" / "broker" / "server.properties")
    brokers = [
        path
        for path in Path("/proc").glob("[0-9]*/cmdline")
        if properties.encode() in _read_or_empty(path)
    ]
    assert not [path for path in brokers if _process_running(int(path.parent.name))]
    assert _cli(cli_env, "status").returncode == 3


def _read_or_empty(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def test_unusable_data_dir_is_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    env = {**cli_env, "CALLSTREAM_DATA_DIR": str(tmp_path / "a-file" / "data")}
    _assert_one_line_error(_cli(env, "start"), "Not a directory")
