"""The dashboards as declared in ``dashboards/*.yaml``: pydantic models of those files.

A dashboard is data, not code: adding a panel means adding a few YAML lines naming a query
under ``sql/`` and the columns to draw, so a YAML mistake must be reported as one line naming
the file and the field, before anything touches the warehouse.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from streams.core.nhs_time import last_whole, same_weekdays
from streams.warehouse.sqlfiles import SQL_DIR

#: The repository's ``dashboards/`` directory.
DASHBOARDS_DIR = Path(__file__).resolve().parents[3] / "dashboards"

Level = Literal["practice", "pcn", "icb"]
ChartType = Literal["bar", "stacked_bar", "hbar", "line", "kpi", "table"]
DateFilter = Literal[
    "today", "same_weekday", "last_7_days", "last_28_days", "this_month", "staffing_weeks"
]
#: Models a panel's rows can go through before they are drawn (build.py runs them).
Compute = Literal["staffing", "alerts"]

_QUERY = re.compile(r"^(views|dashboards|reports)/[a-z0-9_]+$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

DATE_FILTER_TEXT: dict[str, str] = {
    "today": "{today}",
    "same_weekday": "{today} and the same weekday of the 4 weeks before",
    "last_7_days": "the 7 days to {today}",
    "last_28_days": "the 28 days to {today}",
    "this_month": "{month} up to {today}",
    "staffing_weeks": "{weekday}s of the {weeks} weeks to {today}, bank holidays left out "
    "(figures per average day)",
}


class SpecError(Exception):
    """A dashboard file is wrong; the message names the file and the field."""


def dates_for(
    choice: DateFilter, today: date, weeks: int = 8, now: datetime | None = None
) -> list[date]:
    """The local dates a panel's date filter covers, oldest first (``weeks``: of
    ``staffing_weeks``, the CALLSTREAM_STAFFING_WEEKS setting; whole days only: while
    ``today`` is still running at ``now``, its weekday of the weeks before)."""
    if choice == "today":
        return [today]
    if choice == "same_weekday":
        return [today - timedelta(weeks=n) for n in range(4, -1, -1)]
    if choice == "this_month":
        return [today.replace(day=day) for day in range(1, today.day + 1)]
    if choice == "staffing_weeks":
        return same_weekdays(last_whole(today, now or datetime.now(UTC)), weeks)
    days = 7 if choice == "last_7_days" else 28
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]


def describe_dates(
    choice: DateFilter, today: date, weeks: int = 8, now: datetime | None = None
) -> str:
    """The date filter in words, for the "filters in use" line of a panel."""
    if choice == "staffing_weeks":
        today = last_whole(today, now or datetime.now(UTC))
    return DATE_FILTER_TEXT[choice].format(
        today=f"{today:%A} {today.day} {today:%B %Y}",
        month=f"{today:%B %Y}",
        weekday=f"{today:%A}",
        weeks=weeks,
    )


class Panel(BaseModel):
    """One chart (or table) on a dashboard, and the query that feeds it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    description: str = ""
    query: str = Field(
        description="a file under sql/ without .sql: views/<name> (an analyst view, filtered "
        "by practice and local_date) or dashboards/<name> (takes $practices and $dates)"
    )
    chart: ChartType
    x: str = Field(description="column along the x axis (the row label of tables and tiles)")
    y: list[str] = Field(min_length=1, description="columns drawn, one trace or tile each")
    series: str | None = Field(
        None, description="column whose values become one trace each (for y's first column)"
    )
    dates: DateFilter = "today"
    percent: bool = Field(False, description="y columns are shares 0-1, shown as percentages")
    table: list[str] | None = Field(None, description="table columns; default x, series and y")
    sort: str | None = Field(None, description="sort rows by this column, largest first")
    empty: str = Field(
        "No calls in this period.", description="what the panel says when it has no rows"
    )
    compute: Compute | None = Field(
        None,
        description="run the query's rows through a model first: staffing = the Erlang C "
        "staffing plan of reports/staffing_demand, added up over the page's practices; alerts "
        "= each alert's value as its message says it (a time as 25m, a share as 0.25)",
    )
    between: tuple[str, str] | None = Field(
        None, description="keep only rows whose x (as text) is between these two, inclusive"
    )

    @model_validator(mode="after")
    def _known_query(self) -> Panel:
        if not _QUERY.match(self.query):
            raise ValueError(
                f"query {self.query!r} must look like views/<name> or dashboards/<name>"
            )
        if not self.sql_path.is_file():
            raise ValueError(f"query {self.query!r}: no file {self.sql_path}")
        return self

    @property
    def sql_path(self) -> Path:
        return SQL_DIR / f"{self.query}.sql"

    @property
    def is_view(self) -> bool:
        return self.query.startswith("views/")

    @property
    def table_columns(self) -> list[str]:
        if self.table is not None:
            return self.table
        return [self.x, *([self.series] if self.series else []), *self.y]

    @property
    def needed_columns(self) -> set[str]:
        return {self.x, *self.y, *self.table_columns} | {c for c in (self.series, self.sort) if c}


class Dashboard(BaseModel):
    """One dashboard file: a title, where it is shown, and its panels in page order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str = Field(description="the page's file name (from the YAML file name)")
    title: str = Field(min_length=1)
    description: str = ""
    order: int = Field(100, description="position among the dashboards of a page's tabs")
    levels: list[Level] = Field(min_length=1, description="practice, pcn and/or icb pages")
    labels: dict[str, str] = Field(default_factory=dict, description="column -> heading")
    panels: list[Panel] = Field(min_length=1)

    @model_validator(mode="after")
    def _slug(self) -> Dashboard:
        if not _SLUG.match(self.slug):
            raise ValueError(f"file name {self.slug!r} must be lowercase letters, digits, - or _")
        return self

    def label(self, column: str) -> str:
        """The heading people read for a column: the YAML's label, else the name in words."""
        return self.labels.get(column) or column.replace("_", " ").capitalize()


#: yaml.safe_load's loader, in C when PyYAML has libyaml: a new snapshot in ``dashboards serve``
#: parses every dashboard file, a tenth of a second in pure Python.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_dashboard(path: Path) -> Dashboard:
    """One ``dashboards/<slug>.yaml`` file; a SpecError naming the file and field if wrong."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: cannot read it as YAML ({_first_line(exc)})") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a mapping with title, levels and panels")
    try:
        return Dashboard.model_validate({**raw, "slug": path.stem})
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or '(top level)'}: {error['msg']}"
            for error in exc.errors()
        ]
        raise SpecError(f"{path}: {'; '.join(problems)}") from None


def load_dashboards(directory: Path = DASHBOARDS_DIR) -> list[Dashboard]:
    """Every dashboard in ``directory``, in tab order; a SpecError when there are none."""
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise SpecError(f"no dashboard files (*.yaml) in {directory}")
    dashboards = [load_dashboard(path) for path in paths]
    return sorted(dashboards, key=lambda d: (d.order, d.slug))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
