"""`callstream nhs load FILE_OR_ZIP...`: NHS England's published CBT files into the warehouse.

Reads the monthly Cloud Based Telephony files as downloaded (the zips) or their CSVs, any
month, and our own `callstream export cbt` output alike, so a month can be reconciled
(`callstream export cbt --compare`, view cbt_reconciliation) and benchmarked (dashboards).
Every file is read before anything is written: a line that does not parse stops the
command, naming the file, the line and the field, and nothing is loaded.

Files come from the internet, so a CSV is read in bounded memory and time: a line longer
than ``MAX_LINE_CHARS`` or a CSV larger than ``CALLSTREAM_NHS_MAX_CSV_MB`` (as a zip
declares it or as read) is refused, as are encrypted and damaged zips.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from streams.settings import get_settings

if TYPE_CHECKING:
    from streams.warehouse.published_store import LoadUnit

#: Longest line a CBT CSV may have: a row is under 100 characters.
MAX_LINE_CHARS = 4096
#: Staging folders of loads that died (killed, power cut) are removed after this long.
STALE_STAGING_S = 24 * 3600


@click.group(help="NHS England's published CBT files: load them to reconcile and benchmark.")
def command() -> None:
    """NHS publication commands."""


@command.command(
    "load",
    help="Load NHS England's monthly Cloud Based Telephony files (the zips as downloaded, or "
    "their CSVs; also `callstream export cbt` output) into the warehouse. Loading a file "
    "again replaces it: a zip replaces its month and file kind, a CSV the regions it has "
    "rows for (by REGION_CODE). Nothing is loaded if any line does not parse or a figure "
    "appears twice.",
)
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def load(files: tuple[Path, ...]) -> None:
    """Parse and stage every file, then load them one by one."""
    import duckdb

    from streams.core.cbt_publication import PublishedFileError, month_title
    from streams.core.nhs_time import LONDON
    from streams.warehouse import published_store
    from streams.warehouse.connect import WarehouseError, absolute
    from streams.warehouse.store import Warehouse

    settings = get_settings()
    staging_root = absolute(settings.warehouse_dir) / "staging"
    staging_root.mkdir(parents=True, exist_ok=True)
    _remove_stale(staging_root)
    staging = Path(tempfile.mkdtemp(prefix="nhs-load-", dir=staging_root))
    reading = Reading(datetime.now(LONDON).date(), settings.nhs_max_csv_mb * 1024 * 1024)
    try:
        try:
            units = [reading.read(path, staging / f"{n:03d}") for n, path in enumerate(files)]
        except PublishedFileError as exc:
            raise click.ClickException(str(exc)) from exc
        try:
            warehouse = Warehouse.open(settings)
        except WarehouseError as exc:
            raise click.ClickException(str(exc)) from exc
        try:
            for unit in units:
                try:
                    rows = published_store.load(warehouse, unit)
                except duckdb.Error as exc:
                    raise click.ClickException(
                        f"{unit.source}: cannot write it ({' '.join(str(exc).split())}); "
                        "earlier files are loaded, retry this one"
                    ) from exc
                total = sum(part.value_total for part in unit.parts)
                click.echo(
                    f"{unit.source}: {unit.kind.value} file of {month_title(unit.month)}, "
                    f"{len(unit.parts)} CSV(s), {rows} rows, values totalling {total}"
                )
        finally:
            warehouse.close()
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove_stale(staging_root: Path) -> None:
    """Remove the staging folders of loads that died without cleaning up (a day old)."""
    cutoff = time.time() - STALE_STAGING_S
    for folder in staging_root.glob("nhs-load-*"):
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def _is_zip(path: Path) -> bool:
    """A zip is a regular file: ``zipfile.is_zipfile`` on a device or pipe (``/dev/zero``)
    would read it to its end, which may never come; those are read as CSV text (bounded)."""
    return path.is_file() and zipfile.is_zipfile(path)


class Reading:
    """Reads the files of one `nhs load`: ``latest`` is today (no later Date is accepted),
    ``max_bytes`` the largest CSV read."""

    def __init__(self, latest: date, max_bytes: int) -> None:
        self.latest = latest
        self.max_bytes = max_bytes

    def read(self, path: Path, staging: Path) -> LoadUnit:
        """Parse a zip's CSVs (or one CSV) and stage their rows; errors name file and line."""
        from streams.core.cbt_publication import PublishedFileError, read_csv
        from streams.warehouse.published_store import stage, unit

        parts, staged = [], []
        try:
            for source, lines in self._csv_texts(path):
                parsed, batches = read_csv(source, lines, self.latest)
                staged += stage(parsed, batches, staging)
                parts.append(parsed)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise PublishedFileError(f"{path.name}: a damaged zip file ({exc})") from None
        except OSError as exc:
            raise PublishedFileError(f"{path.name}: cannot read it ({exc.strerror})") from None
        return unit(path.name, _is_zip(path), parts, staged)

    def _csv_texts(self, path: Path) -> Iterator[tuple[str, Iterator[str]]]:
        """(name, lines) of each CSV: the file itself, or every CSV member of a zip in name
        order (macOS's resource-fork copies, ``__MACOSX/`` and ``._*``, left out)."""
        from streams.core.cbt_publication import PublishedFileError

        if not _is_zip(path):
            self._check_size(path.name, path.stat().st_size)
            with path.open("rb") as raw:
                yield path.name, self._lines(path.name, raw)
            return
        with zipfile.ZipFile(path) as archive:
            for info in sorted(archive.infolist(), key=lambda info: info.filename):
                name = info.filename
                base = name.rsplit("/", 1)[-1]
                if info.is_dir() or not base.lower().endswith(".csv"):
                    continue
                if name.startswith("__MACOSX/") or base.startswith("._"):
                    continue
                source = f"{path.name}/{name}"
                if info.flag_bits & 0x1:
                    raise PublishedFileError(
                        f"{source}: is encrypted: unzip it with its password and load the CSVs"
                    )
                self._check_size(source, info.file_size)
                try:
                    raw = archive.open(info)
                except NotImplementedError as exc:
                    raise PublishedFileError(f"{source}: cannot be unzipped ({exc})") from None
                with raw:
                    yield source, self._lines(source, raw)

    def _check_size(self, source: str, size: int) -> None:
        from streams.core.cbt_publication import PublishedFileError

        if size > self.max_bytes:
            raise PublishedFileError(
                f"{source}: {size / 1024 / 1024:,.0f} MB is larger than a CBT CSV can be "
                f"(CALLSTREAM_NHS_MAX_CSV_MB={self.max_bytes // 1024 // 1024:,})"
            )

    def _lines(self, source: str, raw: IO[bytes]) -> Iterator[str]:
        """The CSV's lines as text, each at most ``MAX_LINE_CHARS``, at most ``max_bytes`` in
        all; a line that is too long or not UTF-8 is an error naming it."""
        from streams.core.cbt_publication import PublishedFileError

        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        number, read = 0, 0
        while True:
            number += 1
            try:
                line = text.readline(MAX_LINE_CHARS + 1)
            except UnicodeDecodeError as exc:
                raise PublishedFileError(
                    f"{source}, line {number}: not UTF-8 text ({exc.reason}): save it as UTF-8 CSV"
                ) from None
            if not line:
                return
            if len(line) > MAX_LINE_CHARS:
                raise PublishedFileError(
                    f"{source}, line {number}: longer than {MAX_LINE_CHARS:,} characters: "
                    "not a CBT publication file"
                )
            read += len(line)
            self._check_size(source, read)
            yield line
