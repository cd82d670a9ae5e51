"""`callstream nhs load FILE_OR_ZIP...`: NHS England's published CBT files into the warehouse.

Reads the monthly Cloud Based Telephony files as downloaded (the zips) or their CSVs, any
month, and our own `callstream export cbt` output alike, so a month can be reconciled
(`callstream export cbt --compare`, view cbt_reconciliation) and benchmarked (dashboards).
Every file is read before anything is written: a line that does not parse stops the
command, naming the file, the line and the field, and nothing is loaded.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from streams.settings import get_settings

if TYPE_CHECKING:
    from streams.warehouse.published_store import LoadUnit


@click.group(help="NHS England's published CBT files: load them to reconcile and benchmark.")
def command() -> None:
    """NHS publication commands."""


@command.command(
    "load",
    help="Load NHS England's monthly Cloud Based Telephony files (the zips as downloaded, or "
    "their CSVs; also `callstream export cbt` output) into the warehouse. Loading a file "
    "again replaces it: a zip or a whole-month CSV replaces its month and file kind, a "
    "region's CSV that region. Nothing is loaded if any line does not parse.",
)
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def load(files: tuple[Path, ...]) -> None:
    """Parse and stage every file, then load them one by one."""
    import duckdb

    from streams.core.cbt_publication import PublishedFileError, month_title
    from streams.warehouse import published_store
    from streams.warehouse.connect import WarehouseError, absolute
    from streams.warehouse.store import Warehouse

    settings = get_settings()
    staging_root = absolute(settings.warehouse_dir) / "staging"
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="nhs-load-", dir=staging_root))
    try:
        try:
            units = [_read(path, staging / f"{n:03d}") for n, path in enumerate(files)]
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


def _read(path: Path, staging: Path) -> LoadUnit:
    """Parse a zip's CSVs (or one CSV) and stage their rows; errors name file and line."""
    from streams.core.cbt_publication import PublishedFileError, read_csv
    from streams.warehouse.published_store import stage, unit

    parts, staged = [], []
    try:
        for source, lines in _csv_texts(path):
            parsed, batches = read_csv(source, lines)
            staged += stage(parsed, batches, staging)
            parts.append(parsed)
    except zipfile.BadZipFile:
        raise PublishedFileError(f"{path.name}: not a readable zip file") from None
    except UnicodeDecodeError as exc:
        raise PublishedFileError(f"{path.name}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise PublishedFileError(f"{path.name}: cannot read it ({exc.strerror})") from None
    return unit(path.name, zipfile.is_zipfile(path), parts, staged)


def _csv_texts(path: Path) -> Iterator[tuple[str, Iterator[str]]]:
    """(name, lines) of each CSV: the file itself, or every CSV member of a zip in name order."""
    if not zipfile.is_zipfile(path):
        with path.open(encoding="utf-8-sig", newline="") as text:
            yield path.name, iter(text)
        return
    with zipfile.ZipFile(path) as archive:
        for name in sorted(archive.namelist()):
            if name.endswith("/") or not name.lower().endswith(".csv"):
                continue
            with archive.open(name) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                yield f"{path.name}/{name}", iter(text)
