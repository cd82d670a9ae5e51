"""The real parts of a warehouse past one machine, started by the test session: PostgreSQL from
Debian's package (initdb + postgres in a temp dir, on a free port of 127.0.0.1) for the
DuckLake catalog, and moto's server mode standing in for S3/MinIO for the Parquet files.

Each test gets its own database and bucket (``Lake.new_warehouse``), so tests never see each
other's data. The servers are stopped at the end of the session, and by a watchdog should
the session be killed (tests/conftest.py).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from pipeline_support import free_port

START_TIMEOUT_S = 60
PG_USER = "callstream"
_DIGITS_AS_LETTERS = str.maketrans("0123456789", "ghijklmnop")
S3_KEY_ID = "callstream-test"
S3_REGION = "us-east-1"


class Server(Protocol):
    def ready(self) -> bool: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=Server)


class Missing(Exception):
    """A part the tests need is not installed; the message says how to install it."""


def postgres_bin() -> Path:
    """The bin directory of the newest Debian PostgreSQL installed."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        raise Missing(
            "PostgreSQL is not installed (sudo apt-get install postgresql; `make test` "
            "installs it when run as root)"
        )
    return Path(found[-1]).parent


def wait_for(check, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")
        time.sleep(0.2)


def answering(server: S, what: str, log: Path) -> S:
    """``server`` once it answers; stopped (and the wait's failure raised) if it does not."""
    try:
        wait_for(server.ready, START_TIMEOUT_S, what, log)
    except BaseException:
        server.stop()
        raise
    return server


@dataclass
class Postgres:
    """A PostgreSQL server in a temp dir; password authentication over TCP."""

    bin: Path
    root: Path
    port: int
    password: str
    process: subprocess.Popen
    run_as: str | None

    @classmethod
    def start(cls) -> Postgres:
        bin_dir = postgres_bin()
        # postgres refuses to run as root: as root, run it as Debian's `postgres` user, in a
        # directory of its own outside pytest's root-only temp tree.
        run_as = "postgres" if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="callstream-pg-"))
        if run_as:
            uid = pwd.getpwnam(run_as).pw_uid
            os.chown(root, uid, -1)
        password = secrets.token_urlsafe(16)
        pwfile = root / "pw"
        pwfile.write_text(password + "\n")
        if run_as:
            os.chown(pwfile, uid, -1)
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(root / "db"),
                "-U",
                PG_USER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            user=run_as,
            cwd=root,
            check=True,
            capture_output=True,
        )
        pwfile.unlink()
        port = free_port()
        log = root / "postgres.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(root / "db"),
                    "-p",
                    str(port),
                    "-k",
                    str(root),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                ],
                user=run_as,
                cwd=root,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = cls(bin_dir, root, port, password, process, run_as)
        return answering(server, "PostgreSQL to accept connections", log)

    def _env(self) -> dict[str, str]:
        return {**os.environ, "PGPASSWORD": self.password}

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"postgres exited {self.process.returncode}")
        done = subprocess.run(
            [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
            check=False,
        )
        return done.returncode == 0

    def create_database(self, name: str) -> None:
        subprocess.run(
            [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER]
            + [name],
            env=self._env(),
            check=True,
            capture_output=True,
        )

    def catalog(self, database: str, password: str | None = None) -> str:
        """A CALLSTREAM_CATALOG for ``database`` (the password goes in its own setting)."""
        text = f"postgres:dbname={database} host=127.0.0.1 port={self.port} user={PG_USER}"
        return text + (f" password={password}" if password else "")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: fast shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class ObjectStore:
    """moto's S3 server: it stands in for S3 / MinIO in the tests."""

    port: int
    secret: str
    process: subprocess.Popen
    log: Path

    @classmethod
    def start(cls, directory: Path) -> ObjectStore:
        port = free_port()
        log = directory / "moto.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        store = cls(port, secrets.token_urlsafe(16), process, log)
        return answering(store, "moto's S3 server to answer", log)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"moto exited {self.process.returncode}")
        try:
            with urllib.request.urlopen(f"http://{self.endpoint}/", timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            return False

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=f"http://{self.endpoint}",
            aws_access_key_id=S3_KEY_ID,
            aws_secret_access_key=self.secret,
            region_name=S3_REGION,
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def keys(self, bucket: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Lake:
    """The session's PostgreSQL and object store; ``new_warehouse`` gives a test its own."""

    postgres: Postgres
    store: ObjectStore

    def new_warehouse(self) -> dict[str, str]:
        """CALLSTREAM_* settings of a fresh warehouse: its own database and bucket."""
        # Letters only: a run of nine digits in a random hex name ("lake_e210317539") is
        # masked as a phone number in the errors the tests read, which then fail.
        name = "lake_" + uuid.uuid4().hex[:10].translate(_DIGITS_AS_LETTERS)
        self.postgres.create_database(name)
        bucket = name.replace("_", "-")
        self.store.create_bucket(bucket)
        return {
            "CALLSTREAM_CATALOG": self.postgres.catalog(name),
            "CALLSTREAM_CATALOG_PASSWORD": self.postgres.password,
            "CALLSTREAM_DATA_PATH": f"s3://{bucket}/lake/",
            "CALLSTREAM_S3_ENDPOINT": self.store.endpoint,
            "CALLSTREAM_S3_REGION": S3_REGION,
            "CALLSTREAM_S3_KEY_ID": S3_KEY_ID,
            "CALLSTREAM_S3_SECRET": self.store.secret,
            "CALLSTREAM_S3_USE_SSL": "false",
            "CALLSTREAM_S3_URL_STYLE": "path",
        }

    def secrets(self) -> list[str]:
        """Values that must never appear in a log, a message or a file we did not ask for."""
        return [self.postgres.password, self.store.secret]
