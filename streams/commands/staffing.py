"""`callstream staffing --practice ODS --weekday monday`: people needed per quarter hour.

Averages the weekday's calls over the last CALLSTREAM_STAFFING_WEEKS weeks in the
warehouse (bank holidays left out), runs the Erlang C model (docs/staffing.md) and prints
one row per quarter hour: calls, talk time, people needed and observed, and the share of
calls expected answered in time with each. ``--target``/``--within`` and ``--shift-demand``
are what-ifs. Reads the warehouse read-only, so it runs beside the worker.
"""

from __future__ import annotations

import re

import click

from models.events import ODS_PATTERN
from streams.commands.output import FORMATS, print_frame
from streams.commands.params import Share
from streams.core.rules import LONGEST_WITHIN_S
from streams.outputs.staffing import WEEKDAYS
from streams.settings import get_settings

#: The plan's columns, in print order, and their names here (short, for a terminal); with
#: --shift-demand the figures as they are now follow, named ``<name>_now``.
COLUMNS = {
    "slot": "slot",
    "offered": "offered",
    "offered_first": "first",
    "offered_repeat": "repeat",
    "talk_s": "talk_s",
    "patience_s": "patience_s",
    "needed": "needed",
    "rostered": "rostered",
    "observed": "observed",
    "share_in_time_observed": "in_time_observed",
    "share_in_time_needed": "in_time_needed",
}
NOW_COLUMNS = ("offered", "needed", "share_in_time_observed")


@click.command(
    help="How many people each quarter hour of a weekday needs on the phones to answer the "
    "target share of calls in time (Erlang C), against how many answered, from the same "
    "weekday of the last CALLSTREAM_STAFFING_WEEKS weeks (bank holidays left out). "
    "Calls, people and shares are per average day. See docs/staffing.md."
)
@click.option("--practice", required=True, help="ODS code of the practice, e.g. A81001.")
@click.option(
    "--weekday",
    required=True,
    type=click.Choice(WEEKDAYS, case_sensitive=False),
    help="The weekday to plan.",
)
@click.option(
    "--target",
    type=Share(min_open=True, max_open=True),
    default=None,
    help="Share of calls to answer in time, e.g. 0.8 [default: the practice's in the rules "
    "file, else CALLSTREAM_STAFFING_TARGET].",
)
@click.option(
    "--within",
    type=click.IntRange(1, LONGEST_WITHIN_S),
    default=None,
    help="Seconds within which to answer them, at most an hour [default: the rules file's, else "
    "CALLSTREAM_STAFFING_WITHIN_S].",
)
@click.option(
    "--shift-demand",
    type=Share(max_open=True),
    default=0.0,
    show_default=True,
    help="What if this share of the 08:00-08:30 calls went elsewhere (e.g. 0.1 to online "
    "requests)? Adds the figures as they are now (offered_now, needed_now, "
    "in_time_observed_now).",
)
@click.option(
    "--weeks",
    type=click.IntRange(1, 104),
    default=None,
    help="Weeks to average over [default: CALLSTREAM_STAFFING_WEEKS].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table: aligned, for reading; csv and json (an array of objects): for other tools.",
)
def command(
    practice: str,
    weekday: str,
    target: float | None,
    within: int | None,
    shift_demand: float,
    weeks: int | None,
    fmt: str,
) -> None:
    """Read the demand, plan, print."""
    import duckdb
    import polars as pl

    from streams.core.rules import load_rules
    from streams.outputs import staffing
    from streams.warehouse import sqlfiles
    from streams.warehouse.connect import WarehouseError
    from streams.warehouse.store import Warehouse

    practice = practice.strip().upper()
    if not re.match(ODS_PATTERN, practice):
        raise click.BadParameter(
            f"{practice!r} is not an ODS practice code (a letter and 5 digits, e.g. A81001)",
            param_hint="--practice",
        )
    settings = get_settings()
    weeks = weeks or settings.staffing_weeks
    try:
        rules = load_rules(settings.rules_file)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        warehouse = Warehouse.open(settings, read_only=True)
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        latest = warehouse.query(sqlfiles.read("dashboards/latest_date.sql"))["latest"][0]
        if latest is None:
            raise click.ClickException("the warehouse has no inbound calls yet: nothing to plan")
        dates = staffing.weekday_dates(weekday, latest, weeks)
        rows = staffing.demand_rows(warehouse, [practice], dates)
        as_of = warehouse.snapshot()
    except duckdb.Error as exc:
        raise click.ClickException(
            f"the warehouse cannot answer ({' '.join(str(exc).split())}); is it up to date? "
            "open it once writable (start the worker) to apply migrations"
        ) from exc
    finally:
        warehouse.close()
    span = f"{weekday.capitalize()}s from {dates[0]} to {dates[-1]}" if dates else "no days"
    if not rows:
        raise click.ClickException(
            f"no calls to a person at {practice} on {span} (the last {weeks} weeks to "
            f"{latest}, bank holidays left out): nothing to plan"
        )
    chosen = staffing.targets(settings, rules, [practice], target, within)
    planned = staffing.plan_rows(rows, chosen, shift_demand)
    frame = pl.DataFrame([_printable(row.model_dump()) for row in planned])
    if shift_demand:
        now = staffing.plan_rows(rows, chosen)
        frame = frame.with_columns(
            pl.Series(f"{COLUMNS[name]}_now", [_printable(row.model_dump())[name] for row in now])
            for name in NOW_COLUMNS
        )
    now_columns = [f"{COLUMNS[name]}_now" for name in NOW_COLUMNS] if shift_demand else []
    frame = frame.rename(COLUMNS).select([*COLUMNS.values(), *now_columns])
    goal = chosen[practice]
    caption = (
        f"{practice}, average of {rows[0]['days']} {weekday.capitalize()}(s) with calls "
        f"({span}); target {goal.level:.0%} within {goal.within_s} s, shrinkage "
        f"{goal.shrinkage:.0%}"
        + (f"; {shift_demand:.0%} of 08:00-08:30 calls moved elsewhere" if shift_demand else "")
        + f"; data as of snapshot {as_of.id}"
    )
    print_frame(frame, fmt, caption)


def _printable(row: dict[str, object]) -> dict[str, object]:
    """Figures rounded as far as they mean anything: calls and people to 2 decimals, seconds
    to whole seconds, shares to 3 decimals."""
    rounded: dict[str, object] = {}
    for name, value in row.items():
        if isinstance(value, float):
            if name.endswith("_s"):
                value = round(value)
            else:
                value = round(value, 3 if name.startswith("share") else 2)
        rounded[name] = value
    return rounded
