"""Page rendering from hand-made frames (no warehouse): self-contained, figures exact."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import polars as pl

from streams.outputs.dashboards import render
from streams.outputs.dashboards.spec import Dashboard

TODAY = date(2026, 8, 12)
CONTEXT = render.PageContext(
    level="pcn",
    code="U00351",
    name="Stockton Central PCN",
    practices=("A81001", "A81002"),
    today=TODAY,
    snapshot_id=42,
    snapshot_time=datetime(2026, 8, 12, 10, 30, 5, tzinfo=UTC),
    parents=(("icb", "QHM", "North East"),),
)
DASHBOARD = Dashboard.model_validate(
    {
        "slug": "today",
        "title": "Today",
        "levels": ["practice", "pcn"],
        "labels": {"inbound": "Inbound calls", "answered_share": "Answered %"},
        "panels": [
            {
                "title": "Glance",
                "query": "dashboards/daily_outcomes",
                "chart": "kpi",
                "x": "day",
                "y": ["inbound", "answered_share"],
                "dates": "same_weekday",
            },
            {
                "title": "Outcomes",
                "query": "dashboards/daily_outcomes",
                "chart": "stacked_bar",
                "x": "day",
                "y": ["inbound", "answered_share"],
            },
        ],
    }
)
FRAME = pl.DataFrame(
    {
        "local_date": [date(2026, 8, 5), TODAY],
        "day": ["Wed 05 Aug", "Wed 12 Aug"],
        "inbound": [1200, 1001],
        "answered_share": [0.5, 0.625],
    }
)


def page(frame: pl.DataFrame) -> str:
    panels = [render.PanelData(p, frame, "some dates") for p in DASHBOARD.panels]
    return render.render_dashboard(CONTEXT, DASHBOARD, [DASHBOARD], panels)


def plotly_data(html: str) -> list[list[dict]]:
    """The data argument of every Plotly.newPlot call on the page."""
    calls = re.findall(r'Plotly\.newPlot\(\s*"[^"]+",\s*(\[.*?\]),\s*\{', html, re.S)
    return [json.loads(c) for c in calls]


def test_page_says_data_as_of_filters_and_exact_numbers() -> None:
    html = page(FRAME)
    assert "Data as of</dt><dd>Wednesday 12 August 2026, 11:30:05 (warehouse snapshot 42)" in html
    assert "PCN U00351 (2 practices)" in html
    assert "Dates: some dates" in html
    assert '<td data-column="inbound">1,001</td>' in html
    assert '<td data-column="answered_share">62.5%</td>' in html
    tile = re.search(r'<li class="tile" data-column="inbound">(.*?)</li>', html).group(1)
    assert (
        '<div class="value">1,001</div>' in tile and "usual: 1,200 (average of 1 earlier)" in tile
    )
    assert 'href="../../icb/QHM/index.html"' in html


def test_chart_traces_carry_the_rows() -> None:
    [traces] = plotly_data(page(FRAME))
    assert [t["name"] for t in traces] == ["Inbound calls", "Answered %"]
    assert traces[0]["x"] == ["Wed 05 Aug", "Wed 12 Aug"] and traces[0]["y"] == [1200, 1001]


def test_nothing_comes_from_another_host() -> None:
    html = page(FRAME)
    assert re.findall(r'(?:src|href)="([^"]+)"', html)
    for link in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not re.match(r"^[a-z]+:|^//", link), link
    assert "@import" not in html and "url(" not in html
    assert '<script src="../../assets/plotly.min.js">' in html
    assert "cdn" not in html.lower()


def test_no_rows_means_a_notice_not_an_empty_chart() -> None:
    html = page(FRAME.clear())
    assert html.count("No calls in this period.") == 2
    assert "Plotly.newPlot" not in html


def test_tiles_show_zero_when_today_had_no_calls() -> None:
    html = page(FRAME.head(1))
    tile = re.search(r'<li class="tile" data-column="inbound">(.*?)</li>', html).group(1)
    assert '<div class="value">0</div>' in tile and "usual: 1,200" in tile


def test_names_in_charts_are_text_not_plotly_markup() -> None:
    """Plotly reads <a href>, <br> and <span style> in category labels and trace names: a
    practice called so in a reference file would be a link inside the chart."""
    named = FRAME.with_columns(
        pl.Series("day", ['<a href="https://x.example">Click</a>', "Fish & Chips <br>"])
    )
    [traces] = plotly_data(page(named))
    assert traces[0]["x"] == [
        '&lt;a href="https://x.example"&gt;Click&lt;/a&gt;',
        "Fish &amp; Chips &lt;br&gt;",
    ]
    series = DASHBOARD.panels[1].model_copy(update={"series": "who", "y": ["inbound"]})
    rows = FRAME.with_columns(pl.Series("who", ["<b>A</b>", "B"]))
    html = render.render_dashboard(
        CONTEXT, DASHBOARD, [DASHBOARD], [render.PanelData(series, rows, "some dates")]
    )
    [traces] = plotly_data(html)
    assert [t["name"] for t in traces] == ["&lt;b&gt;A&lt;/b&gt;", "B"]
    assert "<extra>&lt;b&gt;A&lt;/b&gt;</extra>" in traces[0]["hovertemplate"]


def test_index_groups_icb_pcn_practice() -> None:
    practice = render.OrgLink("practice", "A81001", "Densham", "practice/A81001/today.html")
    pcn = render.OrgLink("pcn", "U00351", "Stockton", "pcn/U00351/today.html", [practice])
    icb = render.OrgLink("icb", "QHM", "North East", "icb/QHM/today.html", [pcn])
    html = render.render_index([icb], 42, CONTEXT.snapshot_time, TODAY)
    assert html.index("ICB QHM") < html.index("PCN U00351") < html.index("A81001 Densham")
    assert "warehouse snapshot 42" in html
    assert "no inbound calls" in render.render_index([], 1, CONTEXT.snapshot_time, TODAY)
    # A practice in no reference extract is named by its code alone, once.
    nameless = render.OrgLink("practice", "A81006", "A81006", "practice/A81006/today.html")
    pcn = render.OrgLink("pcn", "UNMAPPED", "UNMAPPED", None, [nameless])
    icb = render.OrgLink("icb", "UNMAPPED", "", None, [pcn])
    html = render.render_index([icb], 42, CONTEXT.snapshot_time, TODAY)
    assert ">A81006</a>" in html and "A81006 A81006" not in html
    assert "PCN UNMAPPED</h3>" in html and "ICB UNMAPPED</h2>" in html


def test_plotly_js_is_the_packaged_library() -> None:
    js = render.plotly_js()
    assert len(js) > 1_000_000 and "newPlot" in js


class _Attributes(HTMLParser):
    """Every attribute of every start tag, as a browser's parser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.extend((tag, name, value) for name, value in attrs)


def attributes(html: str) -> list[tuple[str, str, str | None]]:
    parser = _Attributes()
    parser.feed(html)
    return parser.found


HOSTILE = 'U1" onmouseover="alert(1)'


def test_codes_in_links_cannot_add_attributes_or_path_steps() -> None:
    context = dataclasses.replace(
        CONTEXT, code=HOSTILE, parents=(("icb", "../Q'><script>x()</script>", "North East"),)
    )
    panels = [render.PanelData(p, FRAME, "some dates") for p in DASHBOARD.panels]
    html = render.render_dashboard(context, DASHBOARD, [DASHBOARD], panels)
    found = attributes(html)
    assert not [name for _, name, _ in found if name.startswith("on")]
    assert "<script>x()" not in html
    hrefs = [value for _, name, value in found if name == "href"]
    assert "../../pcn/U1%22%20onmouseover%3D%22alert%281%29/today.html" in hrefs
    assert "../../icb/..%2FQ%27%3E%3Cscript%3Ex%28%29%3C%2Fscript%3E/index.html" in hrefs
    assert render.org_url("pcn", "a/../b", "index.html") == "pcn/a%2F..%2Fb/index.html"


def test_index_links_escaped_and_unlinkable_orgs_listed_as_text() -> None:
    practice = render.OrgLink(
        "practice", "A81001", "Densham", render.org_url("practice", "A81001", "index.html")
    )
    pcn = render.OrgLink("pcn", "../x", 'Bad" onclick="y', None, [practice])
    icb = render.OrgLink("icb", "QHM", "North East", "icb/QHM/index.html", [pcn])
    html = render.render_index([icb], 42, CONTEXT.snapshot_time, TODAY)
    assert not [name for _, name, _ in attributes(html) if name.startswith("on")]
    hrefs = [value for _, name, value in attributes(html) if name == "href"]
    assert "practice/A81001/index.html" in hrefs and not [h for h in hrefs if "x/" in h]
    assert "PCN ../x Bad&quot; onclick=&quot;y" in html


def test_data_as_of_is_uk_local_time_like_today() -> None:
    winter = dataclasses.replace(
        CONTEXT, snapshot_time=datetime(2026, 12, 2, 21, 44, 58, tzinfo=UTC)
    )
    panels = [render.PanelData(p, FRAME, "some dates") for p in DASHBOARD.panels]
    html = render.render_dashboard(winter, DASHBOARD, [DASHBOARD], panels)
    assert "<dd>Wednesday 2 December 2026, 21:44:58 (warehouse snapshot 42)</dd>" in html
    summer = page(FRAME)  # 10:30:05 UTC is 11:30:05 in London (BST)
    assert "<dd>Wednesday 12 August 2026, 11:30:05 (warehouse snapshot 42)</dd>" in summer
    assert "UTC" not in summer
    index = render.render_index([], 7, winter.snapshot_time, TODAY)
    assert "Wednesday 2 December 2026, 21:44:58 (warehouse snapshot 7)" in index
