"""Build the dashboard site: query the warehouse read-only, write one page per org and dashboard.

Every page of one build reads the same DuckLake snapshot (the latest when the build starts),
so the "data as of" line is true of every number on the site even while the worker writes.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from streams.core.alerts import figure_text
from streams.core.rules import Rules, load_rules
from streams.core.staffing import COMBINED_COLUMNS, combine
from streams.outputs import staffing
from streams.outputs.dashboards import render
from streams.outputs.dashboards.spec import (
    Dashboard,
    Panel,
    dates_for,
    describe_dates,
    load_dashboards,
)
from streams.settings import Settings
from streams.warehouse import sqlfiles
from streams.warehouse.store import Snapshot, Warehouse

UNMAPPED = "UNMAPPED"
UNMAPPED_NAMES = {
    "pcn": "Practices with no PCN in the reference data",
    "icb": "Practices with no ICB in the reference data",
}
_PARAM = re.compile(r"\$([a-z_]+)")
_WHOLE = {"practices", "needed", "rostered"}
_COMBINED_SCHEMA = {
    name: {"slot_start": pl.Time, "slot": pl.String}.get(
        name, pl.Int64 if name in _WHOLE else pl.Float64
    )
    for name in COMBINED_COLUMNS
}
_ACRONYMS = re.compile(r"\b(Pcn|Icb|Nhs|Gp|Ccg)\b")
#: A word of a name: letters and digits, joined by apostrophes ("JOHN'S" is one word).
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_APOSTROPHE = re.compile(r"(['’])")
_A_LEVEL = {"practice": "a practice", "pcn": "a PCN", "icb": "an ICB"}

Progress = Callable[[int, int], None]
log = logging.getLogger("callstream.dashboards")


class BuildError(Exception):
    """The site could not be built; the message names the dashboard file and panel."""


@dataclass(frozen=True)
class Org:
    """A practice, PCN or ICB that gets pages, with the practices its figures add up."""

    level: str
    code: str
    name: str
    practices: tuple[str, ...]
    parents: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class BuildResult:
    """What one build wrote and from which snapshot."""

    out: Path
    pages: tuple[str, ...]
    snapshot: Snapshot
    today: date
    seconds: float
    #: Organisations left out because their code cannot be a folder name ("PCN ../x").
    skipped: tuple[str, ...] = ()
    #: The page to open: the front page of a whole site, else the first organisation's.
    entry: Path | None = None
    organisations: int = 0


def organisations(frame: pl.DataFrame) -> list[Org]:
    """Practices, PCNs and ICBs from ``dashboards/organisations.sql`` rows (practice order).

    Practices with no reference data are grouped under the code UNMAPPED at each level.
    """
    rows = list(frame.iter_rows(named=True))
    orgs: list[Org] = []
    for level in ("icb", "pcn"):
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(row[f"{level}_code"], []).append(row)
        for code in sorted(groups):
            members = groups[code]
            name = UNMAPPED_NAMES[level] if code == UNMAPPED else _tidy(members[0][f"{level}_name"])
            parents: tuple[tuple[str, str, str], ...] = ()
            icbs = {m["icb_code"] for m in members}
            if level == "pcn" and len(icbs) == 1:
                icb = members[0]
                parents = (("icb", icb["icb_code"], _org_name("icb", icb)),)
            practices = tuple(m["practice"] for m in members)
            orgs.append(Org(level, code, name or code, practices, parents))
    for row in rows:
        parents = (
            ("icb", row["icb_code"], _org_name("icb", row)),
            ("pcn", row["pcn_code"], _org_name("pcn", row)),
        )
        name = _tidy(row["practice_name"]) or row["practice"]
        orgs.append(Org("practice", row["practice"], name, (row["practice"],), parents))
    return orgs


def panel_sql(panel: Panel) -> str:
    """The panel's SQL: a view filtered by practice and date, or its dashboards/ query file."""
    if panel.is_view:
        view = panel.query.removeprefix("views/")
        return (
            f"SELECT * FROM {view} "
            "WHERE practice IN (SELECT unnest($practices)) "
            "AND local_date IN (SELECT unnest($dates))"
        )
    return sqlfiles.read(f"{panel.query}.sql")


class SiteBuilder:
    """One build: a pinned warehouse snapshot, dashboards, and a cache of panel queries."""

    def __init__(
        self,
        warehouse: Warehouse,
        dashboards: list[Dashboard],
        today: date,
        settings: Settings | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.dashboards = dashboards
        self.today = today
        self.settings = settings or warehouse.settings
        self.snapshot = warehouse.snapshot()
        self._cache: dict[tuple[str, str, str | None, tuple[str, ...]], pl.DataFrame] = {}
        self._rules: Rules | None = None

    def panel_data(self, dashboard: Dashboard, panel: Panel, org: Org) -> render.PanelData:
        """The panel's rows for the org's practices and the panel's dates (checked columns)."""
        weeks = self.settings.staffing_weeks
        key = (panel.query, panel.dates, panel.compute, org.practices)
        if key not in self._cache:
            sql = panel_sql(panel)
            values = {
                "practices": list(org.practices),
                "dates": dates_for(panel.dates, self.today, weeks),
                "today": self.today,
            }
            params = {name: values[name] for name in set(_PARAM.findall(sql)) if name in values}
            try:
                frame = self.warehouse.query(sql, params)
            except duckdb.Error as exc:
                raise BuildError(
                    f"dashboards/{dashboard.slug}.yaml, panel {panel.title!r}: query "
                    f"{panel.query} failed: {str(exc).splitlines()[0]}"
                ) from None
            if panel.compute == "staffing":
                frame = self._staffing(dashboard, panel, frame)
            elif panel.compute == "alerts":
                frame = _alert_figures(frame)
            self._cache[key] = _tidy_labels(frame)
        frame = self._cache[key]
        if panel.between and panel.x in frame.columns:
            low, high = panel.between
            text = frame[panel.x].cast(pl.String)
            frame = frame.filter((text >= low) & (text <= high))
        missing = sorted(panel.needed_columns - set(frame.columns))
        if missing:
            raise BuildError(
                f"dashboards/{dashboard.slug}.yaml, panel {panel.title!r}: query {panel.query} "
                f"has no column {', '.join(missing)} (it has {', '.join(frame.columns)})"
            )
        return render.PanelData(panel, frame, describe_dates(panel.dates, self.today, weeks))

    def _staffing(self, dashboard: Dashboard, panel: Panel, frame: pl.DataFrame) -> pl.DataFrame:
        """The staffing plan of each practice's rows, added up per quarter hour."""
        if self._rules is None:
            try:
                self._rules = load_rules(self.settings.rules_file)
            except ValueError as exc:
                raise BuildError(f"dashboards/{dashboard.slug}.yaml: {exc}") from None
        rows = list(frame.iter_rows(named=True))
        try:
            targets = staffing.targets(self.settings, self._rules, {r["practice"] for r in rows})
            combined = combine(staffing.plan_rows(rows, targets))
        except ValueError as exc:  # the query does not give the model's columns
            raise BuildError(
                f"dashboards/{dashboard.slug}.yaml, panel {panel.title!r}: the staffing model "
                f"cannot read query {panel.query}: {str(exc).splitlines()[0]}"
            ) from None
        return pl.DataFrame(combined, schema=_COMBINED_SCHEMA, orient="row")

    def page(self, org: Org, dashboard: Dashboard) -> str:
        """The HTML of one dashboard for one org."""
        tabs = [d for d in self.dashboards if org.level in d.levels]
        context = render.PageContext(
            level=org.level,
            code=org.code,
            name=org.name,
            practices=org.practices,
            today=self.today,
            snapshot_id=self.snapshot.id,
            snapshot_time=self.snapshot.time,
            parents=tuple(p for p in org.parents if folder_safe(p[1])),  # skipped: no page
        )
        try:
            panels = [self.panel_data(dashboard, panel, org) for panel in dashboard.panels]
        finally:
            self._cache.clear()  # shared by the panels of one page only: memory stays small
        return render.render_dashboard(context, dashboard, tabs, panels)


class Site:
    """What a site is made of at one pinned snapshot: today, the organisations, the pages.

    ``dashboards build`` writes every page of it; ``dashboards serve`` renders a page when
    someone asks for it. The warehouse stays attached at the snapshot until ``close``.
    """

    def __init__(
        self,
        settings: Settings,
        day: date | None,
        dashboards: list[Dashboard] | None = None,
        warehouse: Warehouse | None = None,
    ) -> None:
        """Read ``warehouse`` (one the caller opened read-only and pinned at a snapshot; the
        site closes it), or the warehouse pinned at its latest snapshot."""
        self.dashboards = dashboards if dashboards is not None else load_dashboards()
        if warehouse is None:
            warehouse = Warehouse.open(settings, read_only=True)
            try:
                warehouse.pin(warehouse.snapshot().id)
            except BaseException:
                warehouse.close()
                raise
        self.warehouse = warehouse
        try:
            self.snapshot = warehouse.snapshot()
            # The small tables most pages join, once per pinned snapshot (not per page).
            self.warehouse.conn.execute(sqlfiles.read("dashboards/pin_snapshot.sql"))
            latest = self.warehouse.query(sqlfiles.read("dashboards/latest_date.sql"))["latest"][0]
            self.today: date = day or latest or date.today()
            everyone = organisations(
                self.warehouse.query(sqlfiles.read("dashboards/organisations.sql"))
            )
        except BaseException:
            self.warehouse.close()
            raise
        # Reference data loaded before codes were checked may hold "../x": such an
        # organisation gets no pages (they would land outside the site), not a failed build.
        self.orgs = [o for o in everyone if folder_safe(o.code)]
        self.skipped = tuple(o for o in everyone if not folder_safe(o.code))
        for org in self.skipped:
            log.warning(
                "no dashboard pages for %s %r: its code cannot be a folder name (/ or ..)",
                render.LEVEL_NAMES[org.level],
                org.code,
            )
        self._listed = everyone
        self.builder = SiteBuilder(self.warehouse, self.dashboards, self.today)
        by_path: dict[str, tuple[Org, Dashboard]] = {}
        for org in self.orgs:
            for dashboard in self.dashboards:
                if org.level in dashboard.levels:
                    path = render.page_path(org.level, org.code, dashboard.slug)
                    by_path[path] = (org, dashboard)
            first = _first_tab(self.dashboards, org.level)
            if first is not None:
                by_path[f"{org.level}/{org.code}/index.html"] = by_path[
                    render.page_path(org.level, org.code, first)
                ]
        self.pages = by_path

    def page_html(self, relative: str) -> str | None:
        """The HTML of one page of the site (``index.html`` included); None if no such page."""
        if relative == "index.html":
            return self.index_html()
        job = self.pages.get(relative)
        return self.builder.page(*job) if job else None

    def index_html(self) -> str:
        links = _index_links(self._listed)
        return render.render_index(links, self.snapshot.id, self.snapshot.time, self.today)

    def close(self) -> None:
        self.warehouse.close()


def write_asset(out: Path) -> None:
    """The chart library every page loads, next to the pages (nothing from another host)."""
    asset = out / render.PLOTLY_ASSET
    asset.parent.mkdir(parents=True, exist_ok=True)
    asset.write_text(render.plotly_js(), encoding="utf-8")


def build_site(
    settings: Settings,
    out: Path,
    day: date | None = None,
    dashboards: list[Dashboard] | None = None,
    progress: Progress | None = None,
    orgs: set[str] | None = None,
    levels: set[str] | None = None,
) -> BuildResult:
    """Render pages into ``out`` from the warehouse's latest snapshot, read-only.

    ``day`` is "today"; by default the latest local date with an inbound call. ``orgs``
    (codes) and ``levels`` (practice, pcn, icb) limit the pages to those organisations;
    the front page is written only for a whole site (its links would otherwise be broken).
    """
    started = time.monotonic()
    site = Site(settings, day, dashboards)
    try:
        chosen = _chosen(site, orgs, levels, out)
        jobs = []
        for org in chosen:
            first = _first_tab(site.dashboards, org.level)
            for dashboard in (d for d in site.dashboards if org.level in d.levels):
                relatives = [render.page_path(org.level, org.code, dashboard.slug)]
                if dashboard.slug == first:
                    relatives.append(f"{org.level}/{org.code}/index.html")
                jobs.append((org, dashboard, relatives))
        whole = not orgs and not levels
        for org, _, relatives in jobs:  # refuse before writing anything, not half-way
            for relative in relatives:
                _inside(out, relative, _describe(org))
        out.mkdir(parents=True, exist_ok=True)
        write_asset(out)
        pages: list[str] = []
        for done, (org, dashboard, relatives) in enumerate(jobs, start=1):
            html = site.builder.page(org, dashboard)
            for relative in relatives:
                _write(out, relative, html, _describe(org))
            pages.append(relatives[0])
            if progress:
                progress(done, len(jobs))
        entry = None
        if whole:
            entry = _write(out, "index.html", site.index_html(), "the front page")
            pages.append("index.html")
        elif jobs:
            org = jobs[0][0]
            entry = out / org.level / org.code / "index.html"
    finally:
        site.close()
    return BuildResult(
        out,
        tuple(pages),
        site.snapshot,
        site.today,
        time.monotonic() - started,
        skipped=tuple(_describe(o) for o in site.skipped),
        entry=entry,
        organisations=len(chosen),
    )


def folder_safe(code: str) -> bool:
    """Whether a code can be one folder name of the site: no path separator, no ``..``."""
    return bool(code) and code != "." and not any(s in code for s in ("/", "\\", "..", "\0"))


def _chosen(site: Site, orgs: set[str] | None, levels: set[str] | None, out: Path) -> list[Org]:
    """The organisations to build; every code asked for must name one, else a BuildError
    (one line) before anything is written: a typo must not pass for a finished build."""
    wanted = [o for o in site.orgs if not levels or o.level in levels]
    if not orgs:
        return wanted
    chosen = [o for o in wanted if o.code in orgs]
    missing = sorted(orgs - {o.code for o in chosen})
    for org in site.skipped:
        if org.code in missing and (not levels or org.level in levels):
            raise BuildError(
                f"refusing to build {_describe(org)}: its code is not a folder name (it has / "
                f"or ..), so its pages would be written outside {out}"
            )
    unknown = [code for code in missing if not any(o.code == code for o in site.orgs)]
    problems = []
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        problems.append(f"no organisation with calls has the code{plural} {', '.join(unknown)}")
    for code in (c for c in missing if c not in unknown):
        found = _in_order({o.level for o in site.orgs if o.code == code})
        problems.append(
            f"{code} is {_or(found)}, not {_or(_in_order(levels or set()))} "
            f"(use --level {found[0]})"
        )
    if problems:
        raise BuildError("; ".join(problems))
    return chosen


def _index_links(orgs: list[Org]) -> list[render.OrgLink]:
    def href(org: Org) -> str | None:  # the organisation's own address, the page to bookmark
        if not folder_safe(org.code):
            return None  # listed (its practices too) but it has no page to link to
        return render.org_url(org.level, org.code, "index.html")

    by_level = {(o.level, o.code): o for o in orgs}
    icbs = []
    for icb in (o for o in orgs if o.level == "icb"):
        icb_link = render.OrgLink("icb", icb.code, icb.name, href(icb))
        pcn_links: dict[str, render.OrgLink] = {}
        for practice in icb.practices:
            member = by_level[("practice", practice)]
            pcn_code = dict((level, code) for level, code, _ in member.parents)["pcn"]
            pcn = by_level[("pcn", pcn_code)]
            link = pcn_links.setdefault(
                pcn_code, render.OrgLink("pcn", pcn.code, pcn.name, href(pcn))
            )
            link.children.append(render.OrgLink("practice", member.code, member.name, href(member)))
        icb_link.children = [pcn_links[code] for code in sorted(pcn_links)]
        icbs.append(icb_link)
    return icbs


def _first_tab(dashboards: list[Dashboard], level: str) -> str | None:
    return next((d.slug for d in dashboards if level in d.levels), None)


def _org_name(level: str, row: dict[str, Any]) -> str:
    if row[f"{level}_code"] == UNMAPPED:
        return UNMAPPED_NAMES[level]
    return _tidy(row[f"{level}_name"]) or row[f"{level}_code"]


def _tidy(name: str | None) -> str:
    """NHS reference names are upper case; title case reads better, acronyms kept.

    Word by word, not ``str.title`` (which gives "John'S" and "1St"): a word goes on past an
    apostrophe, capitalised again only after a single letter ("O'Brien").
    """
    if not name:
        return ""
    return _ACRONYMS.sub(lambda m: m.group(1).upper(), _WORD.sub(_capitalise, name))


def _capitalise(word: re.Match[str]) -> str:
    parts = _APOSTROPHE.split(word.group(0))  # text, apostrophe, text, ...
    cased = [parts[0].capitalize()]
    for n in range(2, len(parts), 2):
        after = parts[n].capitalize() if len(parts[n - 2]) == 1 else parts[n].lower()
        cased.extend((parts[n - 1], after))
    return "".join(cased)


def _alert_figures(frame: pl.DataFrame) -> pl.DataFrame:
    """dashboards/alerts rows with ``value`` as the alert's message gave it: a share of 0.25
    showed as 0.2 (a number under 100 gets one decimal), a silence of 1,500 s as 1,500."""
    if "value" not in frame.columns or "condition" not in frame.columns:
        return frame
    figures = [
        figure_text(when, value)
        for when, value in zip(frame["condition"], frame["value"], strict=True)
    ]
    return frame.with_columns(pl.Series("value", figures, dtype=pl.String))


def _tidy_labels(frame: pl.DataFrame) -> pl.DataFrame:
    """``practice_label`` (code and reference name, from SQL) with the name tidied as on every
    other page."""
    if "practice_label" not in frame.columns or "practice" not in frame.columns:
        return frame
    labels = [
        f"{code} {_tidy(label[len(code) + 1 :])}"
        if code and label and label.startswith(f"{code} ")
        else label
        for code, label in zip(frame["practice"], frame["practice_label"], strict=True)
    ]
    return frame.with_columns(pl.Series("practice_label", labels, dtype=pl.String))


def _describe(org: Org) -> str:
    return f"{render.LEVEL_NAMES[org.level]} {org.code}"


def _in_order(levels: set[str]) -> list[str]:
    return [level for level in _A_LEVEL if level in levels]


def _or(levels: list[str]) -> str:
    return " or ".join(_A_LEVEL[level] for level in levels)


def _inside(out: Path, relative: str, owner: str) -> Path:
    """Where a page of ``owner`` goes; a BuildError if that resolves outside ``out`` (a code
    with ``..`` or a symlink in the folder), so nothing is ever written elsewhere."""
    root = out.resolve()
    path = (root / relative).resolve()
    if path == root or not path.is_relative_to(root):
        raise BuildError(f"refusing to write the pages of {owner}: {relative} is outside {out}")
    return path


def _write(out: Path, relative: str, text: str, owner: str) -> Path:
    """The one place pages are written, each checked to stay inside ``out``."""
    path = _inside(out, relative, owner)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return out / relative
