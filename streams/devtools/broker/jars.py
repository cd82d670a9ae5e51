"""Fetch the Apache Kafka broker's jars from Maven Central once, into a cache outside the repo.

``mvn dependency:copy-dependencies`` writes into a fresh temporary directory; only a complete
download, with a manifest of every jar and its size, is renamed into place. So an interrupted
fetch leaves no ``libs`` directory (the leftover is removed and the fetch redone), a cache
that lost a jar fails its manifest check and is fetched again, and a complete cache is
used with no network and without invoking Maven.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from streams.devtools.broker.config import pom_xml
from streams.devtools.broker.errors import BrokerError
from streams.settings import Settings
from streams.warehouse.file_lock import file_lock

MANIFEST = ".complete"
FETCH_TIMEOUT_S = 900.0


def ensure_jars(settings: Settings) -> Path:
    """The directory of the broker's jars for ``settings.kafka_version``, fetched if needed."""
    version = settings.kafka_version
    root = settings.kafka_cache_dir / version
    libs = root / "libs"
    with file_lock(root / ".lock"):
        if is_complete(libs):
            return libs
        if libs.exists():
            shutil.rmtree(libs)
        for leftover in root.glob("fetch-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix="fetch-", dir=root))
        try:
            _fetch(version, work)
            (work / "libs").rename(libs)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return libs


def is_complete(libs: Path) -> bool:
    """Whether every jar the manifest lists is present with its recorded size."""
    try:
        entries = (libs / MANIFEST).read_text().splitlines()
    except OSError:
        return False
    if not entries:
        return False
    for entry in entries:
        name, _, size = entry.rpartition(" ")
        path = libs / name
        if not path.is_file() or str(path.stat().st_size) != size:
            return False
    return True


def _fetch(version: str, work: Path) -> None:
    """Run Maven in ``work``; on success ``work/libs`` holds the jars and the manifest."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            f"Maven (mvn) is not on PATH: install Maven to fetch Apache Kafka {version} once "
            "(later starts need no network), or set CALLSTREAM_KAFKA_BOOTSTRAP to use a cluster"
        )
    (work / "pom.xml").write_text(pom_xml(version))
    out = work / "libs"
    command = [
        mvn, "-q", "-B", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
        f"-DoutputDirectory={out}", "-DincludeScope=runtime",
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S, cwd=work
        )
    except subprocess.TimeoutExpired as exc:
        raise BrokerError(
            f"fetching Apache Kafka {version} from Maven Central took over "
            f"{FETCH_TIMEOUT_S:.0f} s; check the network and run the command again"
        ) from exc
    if done.returncode != 0:
        raise BrokerError(
            f"could not fetch Apache Kafka {version} from Maven Central "
            f"(mvn exit {done.returncode}): {_maven_reason(done.stdout + done.stderr)}"
        )
    kafka_jar = out / f"kafka_2.13-{version}.jar"
    if not kafka_jar.is_file():
        raise BrokerError(f"Maven finished but {kafka_jar.name} is missing; run the command again")
    jars = sorted(p for p in out.iterdir() if p.suffix == ".jar")
    (out / MANIFEST).write_text("".join(f"{p.name} {p.stat().st_size}\n" for p in jars))


def _maven_reason(output: str) -> str:
    """The first ``[ERROR]`` line of Maven's output (it states the cause), shortened."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("[ERROR]")]
    reason = (errors or lines or ["no output"])[0].removeprefix("[ERROR]").strip()
    return reason[:300]
