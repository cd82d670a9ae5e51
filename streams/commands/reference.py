"""`callstream reference load FILE...`: NHS reference data into the practice dimension.

The kind of each file (ODS epraccur, practice mapping, list sizes) is read from its first
line; each extract is kept under its extract date, and the views use the latest. Lines
that cannot be read are written, with the reason, to a rejects CSV under the data dir.
"""

from __future__ import annotations

import codecs
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from streams.settings import get_settings

if TYPE_CHECKING:
    from streams.core.reference import Extract

#: Bytes read to tell a file's kind (``reference.detect_kind``) before reading the rest: its
#: first lines are a few hundred bytes each.
KIND_BYTES = 1024 * 1024


@click.group(help="Load NHS reference data (ODS practices, PCN mapping, list sizes).")
def command() -> None:
    """Reference data commands."""


@command.command(
    "load",
    help="Load NHS reference files into the practice dimension. FILE may be ODS epraccur.csv "
    "(no header), the 'Patients registered at a GP practice' mapping "
    "(gp-reg-pat-prac-map.csv) or list sizes (gp-reg-pat-prac-all.csv); the kind is detected.",
)
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--extract-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Extract date (YYYY-MM-DD) for files that do not carry one: epraccur, unless the "
    "file name holds a date such as epraccur_20260801.csv. Overrides EXTRACT_DATE.",
)
def load(files: tuple[Path, ...], extract_date: datetime | None) -> None:
    """Parse every file first (so a bad file loads nothing), then load them one by one."""
    import duckdb
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from streams.core import reference
    from streams.core.nhs_time import LONDON
    from streams.warehouse import reference_store
    from streams.warehouse.connect import WarehouseError
    from streams.warehouse.store import Warehouse

    settings = get_settings()
    today = datetime.now(LONDON).date()
    given = extract_date.date() if extract_date else None
    most = settings.reference_max_mb * 1024 * 1024
    parsed = [(path, _parse(path, given, today, most)) for path in files]
    _refuse_same_extract(parsed)
    try:
        warehouse = Warehouse.open(settings)
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc
    rejected_files: list[Path] = []
    try:
        with Progress(
            TextColumn("loading {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as progress:
            task = progress.add_task("reference files", total=len(parsed))
            for path, extract in parsed:
                try:
                    written = reference_store.load(warehouse, extract, path.name)
                except reference.ReferenceError as exc:
                    raise click.ClickException(f"{path.name}: {exc}") from exc
                except duckdb.Error as exc:
                    raise click.ClickException(
                        f"{path.name}: cannot write the practice dimension "
                        f"({' '.join(str(exc).split())}); earlier files are loaded, retry this one"
                    ) from exc
                rejects = _rejects_path(settings.data_dir, path, extract)
                if extract.rejects:
                    reference_store.write_rejects(extract, rejects)
                    rejected_files.append(rejects)
                click.echo(_summary(path, extract, written))
                progress.advance(task)
    finally:
        warehouse.close()
    if rejected_files:
        listed = ", ".join(str(p) for p in rejected_files)
        raise click.ClickException(f"some lines were rejected (valid ones loaded): see {listed}")


def _parse(path: Path, extract_date: date | None, today: date, max_bytes: int) -> Extract:
    from streams.core import reference

    try:
        text = _read_text(path, max_bytes)
        return reference.parse(text, extract_date or reference.date_from_name(path.name), today)
    except reference.ReferenceError as exc:
        raise click.ClickException(f"{path.name}: {exc}") from exc
    except OSError as exc:
        raise click.ClickException(f"{path.name}: cannot read it ({exc.strerror})") from exc


def _refuse_same_extract(parsed: list[tuple[Path, Extract]]) -> None:
    """Two files of one command that are the same kind and extract date would replace each
    other (the last one wins unseen): refuse before loading either."""
    seen: dict[tuple[str, date], Path] = {}
    for path, extract in parsed:
        key = (extract.kind.value, extract.extract_date)
        if key in seen:
            raise click.ClickException(
                f"{seen[key].name} and {path.name} are both the {key[0]} extract of "
                f"{key[1].isoformat()}: load the one you mean (a later load of the same extract "
                "replaces it)"
            )
        seen[key] = path


def _read_text(path: Path, max_bytes: int) -> str:
    """The file's text, read in bounded memory: its first lines must say it is a reference
    file before the rest is read (a wrong file, or ``/dev/zero``, is refused at once), and
    more than ``max_bytes`` (CALLSTREAM_REFERENCE_MAX_MB) is refused."""
    from streams.core import reference

    with path.open("rb") as raw:
        head = raw.read(min(KIND_BYTES, max_bytes + 1))
        if head.lstrip(codecs.BOM_UTF8).strip():  # blank lines only: the kind comes later
            reference.detect_kind(_decode(head, whole=False))
        data = head + raw.read(max_bytes + 1 - len(head))
    if len(data) > max_bytes:
        raise reference.ReferenceError(
            f"larger than a reference file can be (CALLSTREAM_REFERENCE_MAX_MB="
            f"{max_bytes // 1024 // 1024:,}; an epraccur extract is about 4 MB)"
        )
    return _decode(data)


def _decode(data: bytes, whole: bool = True) -> str:
    """NHS files are UTF-8 (perhaps with a byte-order mark) or, in older extracts,
    Windows-1252. Not ``whole`` (a file's first bytes), a character the cut splits is left
    out: decoded as it stands, a UTF-8 file with a byte-order mark would read as cp1252."""
    try:
        return codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=whole)
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _rejects_path(data_dir: Path, path: Path, extract: Extract) -> Path:
    name = f"{path.stem}.{extract.kind.value}.{extract.extract_date.isoformat()}.rejects.csv"
    return data_dir / "rejects" / "reference" / name


def _summary(path: Path, extract: Extract, written: int) -> str:
    parts = [
        f"{path.name}: {extract.kind.value} extract {extract.extract_date.isoformat()}",
        f"{written} practices loaded",
        f"{len(extract.rejects)} rejected",
    ]
    if extract.skipped:
        parts.append(f"{extract.skipped} breakdown rows skipped (not practice totals)")
    if extract.duplicates:
        parts.append(f"{extract.duplicates} repeated practices (last row kept)")
    return ", ".join(parts)
