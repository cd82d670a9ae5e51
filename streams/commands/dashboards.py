"""`callstream dashboards build|serve`: the practice managers' dashboards as web pages.

Build renders the site (or the organisations asked for) once into a folder (open
``index.html`` in a browser, or publish the folder anywhere: the pages load nothing from
another host). Serve answers at once (on 127.0.0.1 unless
CALLSTREAM_DASHBOARDS_HOST says otherwise) and renders each page when it is asked
for, once per warehouse snapshot, while the worker keeps writing the warehouse.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from streams.settings import get_settings

if TYPE_CHECKING:
    from streams.outputs.dashboards.build import BuildResult

DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.group(help="Build or serve the practice dashboards (defined in dashboards/*.yaml).")
def command() -> None:
    """The dashboards group."""


@command.command(
    help="Render the dashboard pages once into DIR (an index.html and a page "
    "per practice, PCN and ICB; --org/--level for some of them)."
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the pages into (created if missing).",
)
@click.option(
    "--date",
    "day",
    type=DATE,
    default=None,
    help="The day the dashboards call today, YYYY-MM-DD (default: the latest day "
    "with calls in the warehouse).",
)
@click.option(
    "--org",
    "orgs",
    multiple=True,
    help="Only this practice, PCN or ICB code (repeatable; default: every organisation).",
)
@click.option(
    "--level",
    "levels",
    type=click.Choice(["practice", "pcn", "icb"]),
    multiple=True,
    help="Only organisations of this level (repeatable; default: all levels).",
)
def build(out: Path, day: datetime | None, orgs: tuple[str, ...], levels: tuple[str, ...]) -> None:
    """Render the site once, with a progress bar."""
    from rich.console import Console
    from rich.progress import Progress

    from streams.outputs.dashboards.build import BuildError, build_site
    from streams.outputs.dashboards.spec import SpecError
    from streams.warehouse.connect import WarehouseError

    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("Rendering dashboards", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = build_site(
                get_settings(),
                out,
                _day(day),
                progress=advance,
                orgs=set(orgs) or None,
                levels=set(levels) or None,
            )
        except (BuildError, SpecError, WarehouseError) as exc:
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:
            raise click.ClickException(f"cannot write the pages to {out}: {exc}") from exc
    click.echo(
        f"Wrote {len(result.pages)} pages to {out} (today = {result.today}, data as of "
        f"snapshot {result.snapshot.id}, {result.snapshot.time:%Y-%m-%d %H:%M:%S} UTC) "
        f"in {result.seconds:.1f} s.{_open(result)}"
    )
    if result.skipped:
        click.echo(
            f"Skipped {len(result.skipped)} organisation(s) whose code cannot be a folder "
            f"name: {', '.join(result.skipped)}",
            err=True,
        )


@command.command(
    help="Serve the dashboards on http://CALLSTREAM_DASHBOARDS_HOST:PORT/ (127.0.0.1 unless set) "
    "from the warehouse (read-only): "
    "each page is rendered when asked for, once per warehouse snapshot; the latest snapshot "
    "is picked up on a schedule. /health reports the last refresh."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on (default: CALLSTREAM_WEB_PORT + 1).",
)
@click.option(
    "--every",
    "every",
    type=click.FloatRange(min=0.5),
    default=None,
    help="Seconds between looks for a new warehouse snapshot (default: "
    "CALLSTREAM_DASHBOARDS_REFRESH_S, 300).",
)
@click.option(
    "--date",
    "day",
    type=DATE,
    default=None,
    help="The day the dashboards call today, YYYY-MM-DD (default: the latest day with calls).",
)
@click.option(
    "--dir",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the rendered pages are kept (default: DATA_DIR/dashboards).",
)
def serve(port: int | None, every: float | None, day: datetime | None, root: Path | None) -> None:
    """Serve at once; a thread pins the latest snapshot now and then on schedule."""
    from streams.outputs.dashboards.serve import DashboardServer, DashboardSite, Refresher

    settings = get_settings()
    host = settings.dashboards_host
    port = settings.web_port + 1 if port is None else port
    every = settings.dashboards_refresh_s if every is None else every
    root = root or settings.data_dir / "dashboards"
    site = DashboardSite(settings, root, _day(day))
    try:
        server = DashboardServer(site, port, host)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port, or "
            "check the address (CALLSTREAM_DASHBOARDS_HOST)"
        ) from exc
    refresher = Refresher(site, every)
    refresher.start()
    host, bound = server.server_address[:2]
    click.echo(
        f"Serving dashboards at http://{host}:{bound}/ (refresh every {every:g} s, "
        f"health at /health). Ctrl-C to stop.",
        err=False,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        refresher.stop()
        server.server_close()


def _open(result: BuildResult) -> str:
    """What to open: a partial build writes no front page, so name the page it did write."""
    if result.entry is None:
        return ""
    if result.organisations > 1 and "index.html" not in result.pages:
        return f" Open {result.entry} (the first of {result.organisations} organisations)"
    return f" Open {result.entry}"


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None
