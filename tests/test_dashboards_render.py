"""Page rendering from hand-made frames (no warehouse): self-contained, figures exact."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

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
    assert "Data as of</dt><dd>Wednesday 12 August 2026, 10:30:05 UTC (warehouse snapshot 42)" in (
        html
    )
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


def test_index_groups_icb_pcn_practice() -> None:
    practice = render.OrgLink("practice", "A81001", "Densham", "practice/A81001/today.html")
    pcn = render.OrgLink("pcn", "U00351", "Stockton", "pcn/U00351/today.html", [practice])
    icb = render.OrgLink("icb", "QHM", "North East", "icb/QHM/today.html", [pcn])
    html = render.render_index([icb], 42, CONTEXT.snapshot_time, TODAY)
    assert html.index("ICB QHM") < html.index("PCN U00351") < html.index("A81001 Densham")
    assert "warehouse snapshot 42" in html
    assert "no inbound calls" in render.render_index([], 1, CONTEXT.snapshot_time, TODAY)


def test_plotly_js_is_the_packaged_library() -> None:
    js = render.plotly_js()
    assert len(js) > 1_000_000 and "newPlot" in js
