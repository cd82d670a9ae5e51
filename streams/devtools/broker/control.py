"""The local Apache Kafka broker: start, stop, status, and where every command finds Kafka.

``resolve_bootstrap`` is what the rest of callstream calls; it imports nothing heavy.
The broker runs detached (its own session, so it outlives the CLI that started it); what
we know about it (pid, ports, bootstrap) is recorded in ``state.json`` under
``settings.broker_dir``. A recorded pid is trusted only while that process is still a
Kafka broker started with our ``server.properties``, so a stale record (a crash, a reboot,
a reused pid) never makes us report, use or signal the wrong process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ValidationError

from streams.devtools.broker.config import log4j_properties, new_cluster_id, server_properties
from streams.devtools.broker.errors import BrokerError
from streams.devtools.broker.jars import ensure_jars
from streams.settings import Settings
from streams.warehouse.file_lock import file_lock

__all__ = [
    "BrokerError",
    "BrokerStatus",
    "ensure_jars",
    "resolve_bootstrap",
    "start",
    "status",
    "stop",
]

STOP_TIMEOUT_S = 30.0
KILL_TIMEOUT_S = 10.0
PORT_RELEASE_TIMEOUT_S = 5.0
FORMAT_TIMEOUT_S = 120.0

#: Brokers this process started, so their exit can be reaped (no zombies in a test session).
_children: dict[int, subprocess.Popen[bytes]] = {}
#: The JVM's files (segments, checkpoints, logs) are readable by their owner only.
PRIVATE_UMASK = 0o077


class BrokerState(BaseModel):
    """What ``start`` records about the broker it launched."""

    pid: int
    port: int
    controller_port: int
    bootstrap: str
    kafka_version: str
    started_at: datetime


class BrokerStatus(BaseModel):
    """The local broker as ``callstream broker status`` reports it."""

    running: bool
    pid: int | None = None
    bootstrap: str | None = None
    log_path: Path
    data_dir: Path


class _Paths:
    """Where the broker of one data dir keeps its files."""

    def __init__(self, settings: Settings) -> None:
        root = settings.broker_dir.expanduser().resolve()  # the JVM runs with another cwd
        self.root = root
        self.state = root / "state.json"
        self.ports = root / "ports.json"
        self.lock = root / ".lock"
        self.server_properties = root / "server.properties"
        self.log4j = root / "log4j.properties"
        self.logs = root / "logs"
        self.log = self.logs / "server.log"
        self.console = self.logs / "console.log"
        self.kraft = root / "kraft"


def resolve_bootstrap(settings: Settings) -> str:
    """The Kafka every command uses: ``CALLSTREAM_KAFKA_BOOTSTRAP`` if set, else the running
    local broker recorded under the data dir."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    state = _running_state(_Paths(settings))
    if state is None:
        raise BrokerError(
            f"the local Kafka broker is not running (data dir {settings.data_dir}); start it "
            "with `callstream broker start` or set CALLSTREAM_KAFKA_BOOTSTRAP"
        )
    return state.bootstrap


def status(settings: Settings) -> BrokerStatus:
    """Whether the local broker of this data dir runs, and where (no Kafka request made)."""
    paths = _Paths(settings)
    state = _running_state(paths)
    if state is None:
        return BrokerStatus(running=False, log_path=paths.log, data_dir=paths.root)
    return BrokerStatus(
        running=True,
        pid=state.pid,
        bootstrap=state.bootstrap,
        log_path=paths.log,
        data_dir=paths.root,
    )


def start(settings: Settings, progress: Callable[[str], None] | None = None) -> str:
    """Start the local broker (idempotent) and return its bootstrap ``127.0.0.1:PORT`` once
    it answers metadata requests. ``progress`` hears what is happening (for a spinner)."""
    say = progress or (lambda _message: None)
    paths = _Paths(settings)
    paths.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths.root.chmod(0o700)  # the broker's data is call events: not for other users
    with file_lock(paths.lock):
        state = _running_state(paths)
        if state is not None:
            _wait_until_ready(paths, state, settings.broker_start_timeout_s, None)
            return state.bootstrap
        paths.state.unlink(missing_ok=True)
        java = shutil.which("java")
        if java is None:
            raise BrokerError(
                "Java is not on PATH: install Java 17 or later to run the local Kafka broker, "
                "or set CALLSTREAM_KAFKA_BOOTSTRAP to use a cluster"
            )
        say(f"fetching Apache Kafka {settings.kafka_version} (first use only)")
        libs = ensure_jars(settings)
        port, controller_port = _choose_ports(settings, paths)
        _write_config(paths, port, controller_port)
        classpath = f"{libs}{os.sep}*"
        if not (paths.kraft / "meta.properties").exists():
            say("formatting KRaft storage")
            _format_storage(java, classpath, paths)
        say(f"starting Apache Kafka {settings.kafka_version} on 127.0.0.1:{port}")
        proc = _launch(java, classpath, settings.broker_heap, paths)
        state = BrokerState(
            pid=proc.pid,
            port=port,
            controller_port=controller_port,
            bootstrap=f"127.0.0.1:{port}",
            kafka_version=settings.kafka_version,
            started_at=datetime.now(UTC),
        )
        _write_json(paths.state, state.model_dump(mode="json"))
        _write_json(paths.ports, {"port": port, "controller_port": controller_port})
        say("waiting for the broker to answer")
        try:
            _wait_until_ready(paths, state, settings.broker_start_timeout_s, proc)
        except BrokerError:
            _terminate(state.pid)
            paths.state.unlink(missing_ok=True)
            raise
        return state.bootstrap


def stop(settings: Settings) -> None:
    """Stop the local broker cleanly (SIGTERM, then SIGKILL after a timeout) and check that
    nothing listens on its port any more."""
    paths = _Paths(settings)
    with file_lock(paths.lock):
        recorded = _read_state(paths)
        if recorded is None:
            raise BrokerError(f"no broker running (none recorded under {paths.root})")
        if not _is_our_broker(recorded.pid, paths):
            paths.state.unlink(missing_ok=True)
            raise BrokerError(
                f"no broker running (the recorded process {recorded.pid} has already ended)"
            )
        _terminate(recorded.pid)
        paths.state.unlink(missing_ok=True)
        for port in (recorded.port, recorded.controller_port):
            if not _wait_port_closed(port, PORT_RELEASE_TIMEOUT_S):
                raise BrokerError(
                    f"the broker stopped but something still listens on 127.0.0.1:{port}"
                )


# --- state -----------------------------------------------------------------------------


def _read_state(paths: _Paths) -> BrokerState | None:
    """The recorded state, or None when there is none or it is unreadable (treated as stale)."""
    try:
        return BrokerState.model_validate_json(paths.state.read_text())
    except (OSError, ValidationError):
        return None


def _running_state(paths: _Paths) -> BrokerState | None:
    """The recorded state if its process is still our broker, else None."""
    state = _read_state(paths)
    if state is None or not _is_our_broker(state.pid, paths):
        return None
    return state


def _write_json(path: Path, data: dict[str, object]) -> None:
    """Write atomically, so a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


# --- processes -------------------------------------------------------------------------


def _command_line(pid: int) -> str | None:
    """The command line of a live (not zombie) process, or None."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]
        return None
    if not Path("/proc/self").exists():  # no /proc (macOS): ask ps
        done = subprocess.run(
            ["ps", "-p", str(pid), "-o", "stat=,command="], capture_output=True, text=True
        )
        stat, _, command = done.stdout.strip().partition(" ")
        return None if not command or stat.startswith("Z") else command.strip()
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or None


def _is_our_broker(pid: int, paths: _Paths) -> bool:
    """Whether ``pid`` is a Kafka broker running with this data dir's server.properties."""
    command = _command_line(pid)
    return (
        command is not None and "kafka.Kafka" in command and str(paths.server_properties) in command
    )


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    return _command_line(pid) is not None


def _terminate(pid: int) -> None:
    """SIGTERM and wait; SIGKILL the whole session if the broker does not exit in time."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if _wait_dead(pid, STOP_TIMEOUT_S):
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if not _wait_dead(pid, KILL_TIMEOUT_S):
        raise BrokerError(f"the broker (pid {pid}) did not exit even after SIGKILL")


def _wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    _children.pop(pid, None)
    return True


def _launch(java: str, classpath: str, heap: str, paths: _Paths) -> subprocess.Popen[bytes]:
    """Start the JVM detached: own session, no terminal, output to the console log."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    with open(paths.console, "ab") as console:
        proc = subprocess.Popen(
            [
                java,
                f"-Xmx{heap}",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-XX:+ExitOnOutOfMemoryError",
                "-Djava.awt.headless=true",
                f"-Dkafka.logs.dir={paths.logs}",
                f"-Dlog4j.configuration={paths.log4j.as_uri()}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(paths.server_properties),
            ],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            umask=PRIVATE_UMASK,
        )
    _children[proc.pid] = proc
    return proc


# --- configuration and storage ---------------------------------------------------------


def _port_free(port: int) -> bool:
    """Whether nothing listens on (or holds) 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(avoid: set[int]) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port


def _choose_ports(settings: Settings, paths: _Paths) -> tuple[int, int]:
    """The configured port, else the last ports if still free (clients keep working),
    else free ones."""
    try:
        last = json.loads(paths.ports.read_text())
        last_port, last_controller = int(last["port"]), int(last["controller_port"])
    except (OSError, ValueError, KeyError, TypeError):
        last_port = last_controller = 0
    if settings.broker_port:
        if not _port_free(settings.broker_port):
            raise BrokerError(
                f"port 127.0.0.1:{settings.broker_port} is already in use; stop what uses it "
                "or choose another CALLSTREAM_BROKER_PORT (0 = any free port)"
            )
        port = settings.broker_port
    elif last_port and _port_free(last_port):
        port = last_port
    else:
        port = _free_port(set())
    if last_controller and last_controller != port and _port_free(last_controller):
        return port, last_controller
    return port, _free_port({port})


def _write_config(paths: _Paths, port: int, controller_port: int) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    paths.server_properties.write_text(
        server_properties(port=port, controller_port=controller_port, log_dirs=paths.kraft)
    )
    paths.log4j.write_text(log4j_properties(paths.log))


def _format_storage(java: str, classpath: str, paths: _Paths) -> None:
    """Format the KRaft log dir once (a new cluster id); later starts reuse it."""
    command = [
        java, f"-Dlog4j.configuration={paths.log4j.as_uri()}", "-cp", classpath,
        "kafka.tools.StorageTool", "format", "-t", new_cluster_id(),
        "-c", str(paths.server_properties),
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=FORMAT_TIMEOUT_S,
            umask=PRIVATE_UMASK,
        )
    except subprocess.TimeoutExpired as exc:
        raise BrokerError(f"formatting Kafka storage took over {FORMAT_TIMEOUT_S:.0f} s") from exc
    if done.returncode != 0:
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        reason = lines[-1].strip()[:300] if lines else f"exit code {done.returncode}"
        raise BrokerError(f"could not format Kafka storage in {paths.kraft}: {reason}")


# --- readiness -------------------------------------------------------------------------


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_port_closed(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _port_open(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _answers_metadata(bootstrap: str) -> bool:
    """Whether the broker answers a metadata request and lists itself (it is unfenced)."""
    from kafka.admin import KafkaAdminClient  # heavy: only when starting

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            bootstrap_timeout_ms=2000,
            request_timeout_ms=3000,
            client_id="callstream-broker-probe",
        )
    except Exception:  # any failure only means "not ready yet"
        return False
    try:
        return bool(admin.describe_cluster().get("brokers"))
    except Exception:
        return False
    finally:
        admin.close()


def _wait_until_ready(
    paths: _Paths,
    state: BrokerState,
    timeout: float,
    proc: subprocess.Popen[bytes] | None,
) -> None:
    """Wait until the broker answers metadata requests, or say in one line why not."""
    deadline = time.monotonic() + timeout
    while True:
        if not _alive(state.pid):
            code = proc.returncode if proc is not None else None
            raise BrokerError(_exit_reason(paths, state, code))
        if _port_open(state.port) and _answers_metadata(state.bootstrap):
            return
        if time.monotonic() > deadline:
            raise BrokerError(
                f"the broker did not answer on {state.bootstrap} within {timeout:g} s "
                f"(CALLSTREAM_BROKER_START_TIMEOUT_S); its log: {paths.log}"
            )
        time.sleep(0.25)


def _tail(path: Path, lines: int = 200) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line.strip() for line in text.splitlines()[-lines:] if line.strip()]


def _exit_reason(paths: _Paths, state: BrokerState, code: int | None) -> str:
    """One line on why the broker exited during start: a taken port, else its last errors."""
    log = _tail(paths.log)
    console = _tail(paths.console)
    everything = log + console
    if any("Address already in use" in line or "BindException" in line for line in everything):
        return (
            f"the broker could not listen on 127.0.0.1:{state.port} or "
            f"127.0.0.1:{state.controller_port}: port already in use; free it or set "
            f"CALLSTREAM_BROKER_PORT (log: {paths.log})"
        )
    errors = [line for line in log if " ERROR " in line or " FATAL " in line]
    last = (errors or console or log or ["no log output"])[-3:]
    exit_code = f"exit code {code}" if code is not None else "exited"
    return (
        f"the broker exited during start ({exit_code}): "
        + " | ".join(line[:240] for line in last)
        + f" (log: {paths.log})"
    )
