"""`callstream export cbt --month YYYY-MM --out DIR [--snapshot N] [--flat] [--compare]`.

NHS England's CBT publication files for a month. Reads the warehouse read-only (so it runs
while the worker writes), at the latest snapshot or at ``--snapshot N`` to reproduce an
earlier export; the manifest names the snapshot. ``--compare`` prints where the month's
figures differ from the NHS England files loaded with ``callstream nhs load``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from streams.settings import get_settings

if TYPE_CHECKING:
    from streams.warehouse.store import Warehouse


@click.group(help="Export the NHS CBT publication files from the warehouse.")
def command() -> None:
    """Export commands."""


@command.command(
    "cbt",
    help="Write the month's NHS CBT files as NHS England packages them (three zips: by day "
    "and time, durations, calls answered; one CSV per region inside) and a manifest naming "
    "the warehouse snapshot read. Exits non-zero, writing nothing, when the figures do not "
    "reconcile: CBT001 = CBT002+CBT003+CBT004+CBT005 per practice and day; CBT006 <= CBT005; "
    "CBT003's and CBT004's wait buckets and CBT007's talk buckets each total their indicator "
    "(an answered call whose call_ended never came has no talk time: the error names such "
    "calls; --allow-unended writes them anyway). With --compare, also print the practices "
    "whose figures differ from the published files loaded with `callstream nhs load`.",
)
@click.option("--month", required=True, help="The month to export, YYYY-MM (local dates).")
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the files and the manifest (created if missing); optional with --compare.",
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
@click.option(
    "--allow-unended",
    is_flag=True,
    help="Write the files although calls of the month have not ended (their call_ended never "
    "reached callstream): they count in CBT001, CBT003 and CBT004, but an answered one has "
    "no talk time (not in CBT007 by duration) and a missed one no wait (not in CBT004 by "
    "wait). The manifest counts them (unended_calls). Other differences still stop it.",
)
@click.option(
    "--compare",
    is_flag=True,
    help="Print the practices whose figures for the month differ from NHS England's "
    "published files (view cbt_reconciliation).",
)
@click.option(
    "--threshold",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="With --compare: list only figures that differ by more than this many calls.",
)
def cbt(
    month: str,
    out_dir: Path | None,
    snapshot: int | None,
    flat: bool,
    allow_unended: bool,
    compare: bool,
    threshold: int,
) -> None:
    """Read, reconcile, write (and compare); one clear line on any failure."""
    import duckdb
    from rich.console import Console

    from streams.outputs.export_cbt import ExportError, export_month, month_range
    from streams.warehouse.connect import WarehouseError
    from streams.warehouse.store import Warehouse

    if out_dir is None and not compare:
        raise click.UsageError("give --out DIR (or --compare to compare only)")
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
        if out_dir is not None:
            with console.status(f"exporting CBT {month}"):
                result = export_month(
                    warehouse, month, out_dir, flat=flat, allow_unended=allow_unended
                )
            for path in result.files:
                click.echo(str(path))
            click.echo(f"{result.manifest} (warehouse snapshot {result.snapshot_id})")
            if result.inbound_calls == 0:
                click.echo(f"Warning: the warehouse has no inbound calls in {month}.", err=True)
        if compare:
            _compare(warehouse, month, threshold)
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


def _compare(warehouse: Warehouse, month: str, threshold: int) -> None:
    """Print the figures that differ from the published files, practice by practice."""
    from rich.console import Console
    from rich.table import Table

    from streams.outputs.reconciliation import ReconciliationReport, differences

    report: ReconciliationReport = differences(warehouse, month, threshold)
    if not report.published_files:
        raise click.ClickException(
            f"no NHS England CBT files for {month} are loaded: `callstream nhs load FILE...` first"
        )
    loaded = ", ".join(report.published_files)
    if report.rows.is_empty():
        click.echo(
            f"{month}: no figure of the {report.practices} practices differs by more than "
            f"{threshold} from the published files ({loaded})."
        )
        return
    table = Table(
        title=f"CBT {month}: callstream (stream) against NHS England's published files",
        caption=f"published: {loaded}; difference = callstream - published",
    )
    for name in report.rows.columns:
        table.add_column(name, justify="right" if name in report.NUMERIC else "left")
    for row in report.rows.iter_rows():
        table.add_row(*("" if value is None else str(value) for value in row))
    Console(width=200).print(table)
    differing = report.rows["practice"].n_unique()
    click.echo(
        f"{differing} of {report.practices} practices differ by more than {threshold} "
        f"({report.rows.height} figures)."
    )
