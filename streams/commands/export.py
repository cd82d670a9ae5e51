"""`callstream export cbt --month YYYY-MM --out DIR [--snapshot N] [--flat]`.

NHS England's CBT publication files for a month. Reads the warehouse read-only (so it runs
while the worker writes), at the latest snapshot or at ``--snapshot N`` to reproduce an
earlier export; the manifest names the snapshot.
"""

from __future__ import annotations

from pathlib import Path

import click

from streams.settings import get_settings


@click.group(help="Export the NHS CBT publication files from the warehouse.")
def command() -> None:
    """Export commands."""


@command.command(
    "cbt",
    help="Write the month's NHS CBT files as NHS England packages them (three zips: by day "
    "and time, durations, calls answered; one CSV per region inside) and a manifest naming "
    "the warehouse snapshot read. Exits non-zero, writing nothing, when the figures do not "
    "reconcile (CBT001 = CBT002+CBT003+CBT004+CBT005 per practice and day; CBT007 total = "
    "CBT003 total).",
)
@click.option("--month", required=True, help="The month to export, YYYY-MM (local dates).")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the files and the manifest (created if missing).",
)
@click.option(
    "--snapshot",
    type=click.IntRange(min=0),
    default=None,
    help="Read the warehouse as of this snapshot id (from an earlier manifest) to reproduce it.",
)
@click.option(
    "--flat",
    is_flag=True,
    help="Write the three files as plain CSVs (every region in one file) instead of zips.",
)
def cbt(month: str, out_dir: Path, snapshot: int | None, flat: bool) -> None:
    """Read, reconcile, write; one clear line on any failure."""
    import duckdb
    from rich.console import Console

    from streams.outputs.export_cbt import ExportError, export_month, month_range
    from streams.warehouse.connect import WarehouseError
    from streams.warehouse.store import Warehouse

    try:
        month_range(month)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    console = Console(stderr=True)
    try:
        warehouse = Warehouse.open(get_settings(), read_only=True, snapshot=snapshot)
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        with console.status(f"exporting CBT {month}"):
            result = export_month(warehouse, month, out_dir, flat=flat)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    except duckdb.Error as exc:
        raise click.ClickException(
            f"the warehouse cannot answer the export ({' '.join(str(exc).split())}); "
            "is it up to date? open it once writable (start the worker) to apply migrations"
        ) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot write to {out_dir}: {exc.strerror}") from exc
    finally:
        warehouse.close()
    for path in result.files:
        click.echo(str(path))
    click.echo(f"{result.manifest} (warehouse snapshot {result.snapshot_id})")
    if result.inbound_calls == 0:
        click.echo(f"Warning: the warehouse has no inbound calls in {month}.", err=True)
