"""Dashboard pages as self-contained HTML: plotly charts beside tables, NHS-like styling.

Pure rendering (no warehouse): frames in, HTML text out. NHS networks are often closed, so
nothing is fetched from another host: the CSS is inline, fonts are the system's, and the
plotly JavaScript comes from the Python package, written once next to the pages
(``assets/plotly.min.js``) and referenced relatively.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

# plotly imports its HTML and JSON writers on the first chart it draws (0.15-0.4 s here):
# imported with this module instead, so no request to `dashboards serve` waits for them.
import plotly.io.json  # noqa: F401
import polars as pl
from plotly.io import to_html
from plotly.offline import get_plotlyjs

from streams.core.nhs_time import to_london
from streams.outputs.dashboards.spec import Dashboard, Panel

PLOTLY_ASSET = "assets/plotly.min.js"
#: Where the serve command puts its banner (a failed refresh) in every page it sends.
BANNER_MARK = "<!--callstream:status-banner-->"
#: NHS identity colours, in trace order: blue, aqua green, red, grey, warm yellow, purple,
#: dark blue (panels list answered first and missed third, so red means missed).
COLOURS = ("#005EB8", "#00A499", "#DA291C", "#768692", "#FFB81C", "#330072", "#003087")

LEVEL_NAMES = {"practice": "Practice", "pcn": "PCN", "icb": "ICB"}

CSS = """
*{box-sizing:border-box}
body{margin:0;font-family:Arial,Helvetica,sans-serif;color:#212b32;background:#f0f4f5;
line-height:1.4}
a{color:#005eb8}a:visited{color:#330072}a:hover{color:#7c2855}
a:focus{outline:3px solid #ffeb3b;background:#ffeb3b;color:#212b32}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;z-index:9}
header{background:#005eb8;color:#fff;padding:12px 24px}
header a,header a:visited{color:#fff;text-decoration:none;font-weight:bold}
header .crumbs{font-size:14px;margin-top:4px}header .crumbs a{font-weight:normal;
text-decoration:underline}
main{max-width:1280px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:28px;margin:8px 0}h2{font-size:21px;margin:0 0 4px}
.meta{background:#fff;border-left:6px solid #005eb8;padding:10px 16px;margin:12px 0;
font-size:15px}
.meta dt{font-weight:bold;display:inline}.meta dd{display:inline;margin:0 16px 0 4px}
nav.tabs ul{list-style:none;margin:16px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:4px}
nav.tabs a{display:block;padding:8px 14px;background:#e8edee;border-radius:4px 4px 0 0;
text-decoration:none}
nav.tabs a[aria-current=page]{background:#fff;color:#212b32;font-weight:bold;
border-bottom:4px solid #005eb8}
.intro{background:#fff;padding:12px 16px;margin:0 0 16px}
section.panel{background:#fff;padding:16px;margin:0 0 16px;border-top:4px solid #005eb8}
.panel .desc{margin:0 0 4px;color:#4c6272}.panel .filters{margin:0 0 12px;font-size:14px;
color:#4c6272}
.grid{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:16px;
align-items:start}
@media (max-width:900px){.grid{grid-template-columns:1fr}}
.chart{min-height:320px}
.tablewrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:14px}
caption{text-align:left;font-weight:bold;padding:0 0 6px}
th,td{padding:6px 8px;border-bottom:1px solid #d8dde0;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}
tbody th{min-width:6.5em}
thead th{background:#e8edee;border-bottom:2px solid #aeb7bd}
.tiles{display:flex;flex-wrap:wrap;gap:12px;margin:0;padding:0;list-style:none}
.tile{flex:1 1 170px;background:#f0f4f5;border-left:6px solid #005eb8;padding:10px 14px}
.tile .label{font-size:14px;color:#4c6272}.tile .value{font-size:32px;font-weight:bold}
.tile .usual{font-size:14px;color:#4c6272}
.empty{background:#fff9e6;border-left:6px solid #ffb81c;padding:10px 14px}
.banner{background:#da291c;color:#fff;padding:12px 24px;font-weight:bold}
.orgs ul{columns:2;column-gap:32px}@media (max-width:700px){.orgs ul{columns:1}}
.orgs li{margin:0 0 6px;break-inside:avoid}
footer{color:#4c6272;font-size:13px;margin-top:24px}
"""


@dataclass(frozen=True)
class PageContext:
    """Who a page is for and what it shows: the filters in use and "data as of"."""

    level: str
    code: str
    name: str
    practices: tuple[str, ...]
    today: date
    snapshot_id: int
    snapshot_time: datetime
    parents: tuple[tuple[str, str, str], ...] = ()  # (level, code, name) of PCN and ICB
    depth: int = 2  # directories between the page and the site root

    @property
    def root(self) -> str:
        return "../" * self.depth


@dataclass(frozen=True)
class PanelData:
    """A panel with its rows, already filtered; ``dates_text`` says which days they cover."""

    panel: Panel
    frame: pl.DataFrame
    dates_text: str


@dataclass
class OrgLink:
    """An entry of the index page; ``href`` (from ``org_url``) is None for an organisation
    that has no pages (listed as text so its practices still show under it)."""

    level: str
    code: str
    name: str
    href: str | None
    children: list[OrgLink] = field(default_factory=list)


def page_path(level: str, code: str, slug: str) -> str:
    """Where a dashboard page for an organisation lives, relative to the site root (a file
    path: links to it go through ``org_url``)."""
    return f"{level}/{code}/{slug}.html"


def org_url(level: str, code: str, page: str) -> str:
    """The URL of an organisation's page relative to the site root. Codes come from reference
    data: each segment is percent-quoted so a code can neither leave the attribute nor add a
    path step (``/``, ``..``)."""
    return "/".join(quote(part, safe="") for part in (level, code, page))


def render_dashboard(
    context: PageContext, dashboard: Dashboard, tabs: list[Dashboard], panels: list[PanelData]
) -> str:
    """The page of one dashboard for one practice, PCN or ICB."""
    nav = "".join(
        f"<li><a {_href(context.root + org_url(context.level, context.code, d.slug + '.html'))}"
        f"{' aria-current=page' if d.slug == dashboard.slug else ''}>{_e(d.title)}</a></li>"
        for d in tabs
    )
    body = [
        f'<nav class="tabs" aria-label="Dashboards"><ul>{nav}</ul></nav>',
        f'<div class="intro"><p>{_e(dashboard.description)}</p></div>'
        if dashboard.description
        else "",
    ]
    body.extend(_panel(dashboard, data, n, context.today) for n, data in enumerate(panels, start=1))
    heading = f"{LEVEL_NAMES[context.level]} {context.code}"
    if context.name and context.name != context.code:
        heading += f" · {context.name}"
    title = f"{dashboard.title} · {heading}"
    return _page(title, heading, context, _meta(context, dashboard.title), "".join(body))


def render_index(
    icbs: list[OrgLink], snapshot_id: int, snapshot_time: datetime, today: date
) -> str:
    """The site's front page: every ICB, its PCNs and their practices, linked."""
    context = PageContext("index", "", "", (), today, snapshot_id, snapshot_time, depth=0)
    parts = []
    for icb in icbs:
        pcns = []
        for pcn in icb.children:
            practices = "".join(f"<li>{_link(p.href, _code_name(p))}</li>" for p in pcn.children)
            pcns.append(f"<h3>{_link(pcn.href, f'PCN {_code_name(pcn)}')}</h3><ul>{practices}</ul>")
        parts.append(
            f'<section class="panel orgs"><h2>{_link(icb.href, f"ICB {_code_name(icb)}")}'
            f"</h2>{''.join(pcns)}</section>"
        )
    if not parts:
        parts.append('<p class="empty">The warehouse has no inbound calls yet.</p>')
    meta = (
        '<dl class="meta">'
        f"<dt>Data as of</dt><dd>{_as_of(snapshot_id, snapshot_time)}</dd>"
        f"<dt>Today</dt><dd>{_e(_long_date(today))}</dd></dl>"
    )
    return _page(
        "GP practice telephony dashboards",
        "Practice telephony dashboards",
        context,
        meta,
        "".join(parts),
    )


def _code_name(org: OrgLink) -> str:
    """``A81001 The Densham Surgery``; the code once when there is no name but the code."""
    return org.code if org.name in ("", org.code) else f"{org.code} {org.name}"


def plotly_js() -> str:
    """plotly.js from the installed Python package (no CDN)."""
    return get_plotlyjs()


def _page(title: str, heading: str, context: PageContext, meta: str, body: str) -> str:
    crumbs = [_link(f"{context.root}index.html", "All organisations")]
    for level, code, name in context.parents:
        href = context.root + org_url(level, code, "index.html")
        crumbs.append(_link(href, f"{LEVEL_NAMES[level]} {code} {name}"))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style>"
        f'<script src="{_e(context.root + PLOTLY_ASSET)}"></script></head><body>'
        f'<a class="skip" {_href("#main")}>Skip to content</a>'
        f"<header>{_link(f'{context.root}index.html', 'callstream · GP practice telephony')}"
        f'<div class="crumbs">{" › ".join(crumbs)}</div></header>{BANNER_MARK}'
        f'<main id="main"><h1>{_e(heading)}</h1>{meta}{body}'
        "<footer>Figures follow NHS England's cloud-based telephony (CBT) definitions; "
        "times are UK local time. Built by callstream from the warehouse snapshot shown "
        "above.</footer></main></body></html>"
    )


def _meta(context: PageContext, dashboard_title: str) -> str:
    practices = len(context.practices)
    scope = {
        "practice": f"Practice {context.code}",
        "pcn": f"PCN {context.code} ({practices} practice{'s' if practices != 1 else ''})",
        "icb": f"ICB {context.code} ({practices} practice{'s' if practices != 1 else ''})",
    }[context.level]
    return (
        '<dl class="meta">'
        f"<dt>Data as of</dt><dd>{_as_of(context.snapshot_id, context.snapshot_time)}</dd>"
        f"<dt>Today</dt><dd>{_e(_long_date(context.today))}</dd>"
        f"<dt>Filters</dt><dd>{_e(scope)}; dates per panel below</dd></dl>"
    )


def _panel(dashboard: Dashboard, data: PanelData, number: int, today: date) -> str:
    panel = data.panel
    frame = _sorted(data.frame, panel)
    anchor = f"panel-{number}"
    head = (
        f'<section class="panel" aria-labelledby="{anchor}"><h2 id="{anchor}">'
        f"{_e(panel.title)}</h2>"
        + (f'<p class="desc">{_e(panel.description)}</p>' if panel.description else "")
        + f'<p class="filters">Dates: {_e(data.dates_text)}</p>'
    )
    if frame.is_empty() or _all_null(frame, panel.y):
        return head + f'<p class="empty">{_e(panel.empty)}</p></section>'
    if panel.chart == "kpi":
        tiles = _tiles(dashboard, panel, frame, today)
        return head + tiles + _table(dashboard, panel, frame) + "</section>"
    table = _table(dashboard, panel, frame)
    if panel.chart == "table":
        return head + table + "</section>"
    chart = _chart(dashboard, panel, frame, f"chart-{dashboard.slug}-{number}")
    return head + f'<div class="grid"><div class="chart">{chart}</div>{table}</div></section>'


def _chart(dashboard: Dashboard, panel: Panel, frame: pl.DataFrame, div_id: str) -> str:
    """A plotly chart as a div and its newPlot call (plain dicts: graph_objects validation
    took most of a build's time)."""
    traces: list[dict[str, Any]] = []
    if panel.series:
        for n, key in enumerate(frame[panel.series].unique(maintain_order=True).to_list()):
            rows = frame.filter(pl.col(panel.series) == key)
            xs = [_chart_text(_text(v)) for v in rows[panel.x].to_list()]
            traces.append(_trace(panel, xs, rows[panel.y[0]].to_list(), _text(key), n))
    else:
        xs = [_chart_text(_text(v)) for v in frame[panel.x].to_list()]
        for n, column in enumerate(panel.y):
            traces.append(_trace(panel, xs, frame[column].to_list(), dashboard.label(column), n))
    yaxis: dict[str, Any] = {
        "tickformat": ".0%" if panel.percent else ",d",
        "rangemode": "tozero",
        "gridcolor": "#e8edee",
        "showgrid": True,
        "zeroline": True,
        "linecolor": "#aeb7bd",
    }
    xaxis: dict[str, Any] = {
        "title": {"text": dashboard.label(panel.x)},
        "type": "category",
        "linecolor": "#aeb7bd",
    }
    height = 340
    if panel.chart == "hbar":  # ranked: labels down the side, largest at the top
        xaxis, yaxis = yaxis, {**xaxis, "autorange": "reversed", "automargin": True}
        yaxis["title"] = {"text": ""}
        height = max(200, 90 + 34 * frame.height)
    layout = {
        "barmode": "stack" if panel.chart == "stacked_bar" else "group",
        "height": height,
        "margin": {"l": 56, "r": 16, "t": 16, "b": 56},
        "font": {"family": "Arial, Helvetica, sans-serif", "size": 13, "color": "#212b32"},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        "xaxis": xaxis,
        "yaxis": yaxis,
        "hovermode": "y unified" if panel.chart == "hbar" else "x unified",
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
    }
    return to_html(
        {"data": traces, "layout": layout},
        validate=False,
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True, "displayModeBar": False},
    )


def _trace(panel: Panel, xs: list[str], ys: list[Any], name: str, n: int) -> dict[str, Any]:
    colour = COLOURS[n % len(COLOURS)]
    axis = "x" if panel.chart == "hbar" else "y"
    hover = f"%{{{axis}:.1%}}" if panel.percent else f"%{{{axis}:,}}"
    name = _chart_text(name)
    hover += f"<extra>{name}</extra>"
    if panel.chart == "hbar":
        return {
            "type": "bar",
            "orientation": "h",
            "x": ys,
            "y": xs,
            "name": name,
            "marker": {"color": colour},
            "hovertemplate": hover,
        }
    if panel.chart == "line":
        return {
            "type": "scatter",
            "mode": "lines+markers",
            "x": xs,
            "y": ys,
            "name": name,
            "line": {"color": colour, "width": 3},
            "hovertemplate": hover,
        }
    return {
        "type": "bar",
        "x": xs,
        "y": ys,
        "name": name,
        "marker": {"color": colour},
        "hovertemplate": hover,
    }


def _tiles(dashboard: Dashboard, panel: Panel, frame: pl.DataFrame, today: date) -> str:
    """Today's figure per column (the last row), with the mean of earlier rows as "usual".

    A frame with ``local_date`` whose last row is not today means no calls today: 0 then.
    """
    latest = frame.row(frame.height - 1, named=True)
    earlier = frame.head(frame.height - 1)
    if "local_date" in frame.columns and latest["local_date"] != today:
        latest = {column: None if "share" in column else 0 for column in frame.columns}
        earlier = frame
    tiles = []
    for column in panel.y:
        value = _format(latest[column], _is_percent(panel, column))
        usual = ""
        if earlier.height:
            mean = earlier[column].drop_nulls().mean()
            if mean is not None:
                usual = (
                    f'<div class="usual">usual: {_format(mean, _is_percent(panel, column))}'
                    f" (average of {earlier.height} earlier)</div>"
                )
        tiles.append(
            f'<li class="tile" data-column="{_e(column)}">'
            f'<div class="label">{_e(dashboard.label(column))}</div>'
            f'<div class="value">{value}</div>{usual}</li>'
        )
    return f'<ul class="tiles">{"".join(tiles)}</ul>'


def _table(dashboard: Dashboard, panel: Panel, frame: pl.DataFrame) -> str:
    columns = panel.table_columns
    head = "".join(f'<th scope="col">{_e(dashboard.label(c))}</th>' for c in columns)
    rows = []
    for row in frame.select(columns).iter_rows(named=True):
        cells = []
        for n, column in enumerate(columns):
            text = _format(row[column], _is_percent(panel, column))
            attr = f'data-column="{_e(column)}"'
            cells.append(
                f'<th scope="row" {attr}>{text}</th>' if n == 0 else f"<td {attr}>{text}</td>"
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="tablewrap"><table><caption>{_e(panel.title)}: exact figures</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _is_percent(panel: Panel, column: str) -> bool:
    return "share" in column or (panel.percent and column in panel.y)


def _sorted(frame: pl.DataFrame, panel: Panel) -> pl.DataFrame:
    if panel.sort and not frame.is_empty():
        return frame.sort(panel.sort, descending=True, nulls_last=True)
    return frame


def _all_null(frame: pl.DataFrame, columns: list[str]) -> bool:
    return all(frame[c].null_count() == frame.height for c in columns)


def _format(value: Any, percent: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if percent and isinstance(value, int | float):
        return f"{value * 100:.1f}%"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
    return _e(_text(value))


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return f"{value:%a %d %b %Y}"
    return str(value)


def _as_of(snapshot_id: int, when: datetime) -> str:
    """The snapshot's time as a clock in England shows it: the footer says times are UK
    local time (DuckLake records UTC; a naive time is taken as UTC)."""
    local = to_london(when if when.tzinfo else when.replace(tzinfo=UTC))
    return f"{_long_date(local)}, {local:%H:%M:%S} (warehouse snapshot {snapshot_id})"


def _long_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


def _chart_text(text: str) -> str:
    """Text for plotly: it reads a few tags in labels and names (``<a href>``, ``<br>``,
    ``<span style>``), so a practice or team name could be a link inside a chart; escaped,
    it shows as written (plotly turns &amp; &lt; &gt; back into characters, not &quot;)."""
    return html.escape(text, quote=False)


def _href(url: str) -> str:
    """The one way a link's address enters the page: HTML-escaped inside quotes (the URL
    itself built by ``org_url`` where it holds a code)."""
    return f'href="{_e(url)}"'


def _link(url: str | None, text: str) -> str:
    """A link to ``url`` reading ``text``; the text alone when there is nowhere to go."""
    return f"<a {_href(url)}>{_e(text)}</a>" if url is not None else _e(text)
