"""Dashboard YAML: the shipped dashboards load, mistakes name the file and field, date filters."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from streams.outputs.dashboards.spec import (
    DASHBOARDS_DIR,
    SpecError,
    dates_for,
    describe_dates,
    load_dashboard,
    load_dashboards,
)

PANEL = """
title: T
levels: [practice]
panels:
  - title: P
    query: {query}
    chart: {chart}
    x: day
    y: [inbound]
"""


def write(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_five_dashboards_load_in_tab_order() -> None:
    dashboards = load_dashboards()
    assert [d.slug for d in dashboards] == [
        "practice_today",
        "scramble_8am",
        "staffing_morning",
        "routing",
        "comparison",
    ]
    assert [d.levels for d in dashboards][-1] == ["pcn", "icb"]
    for dashboard in dashboards:
        for panel in dashboard.panels:
            assert panel.sql_path.is_file()
            text = panel.sql_path.read_text()
            assert text.startswith(f"-- Query {panel.query}:"), panel.sql_path


def test_a_panel_is_yaml_only(tmp_path: Path) -> None:
    path = write(tmp_path, PANEL.format(query="views/outcome_shares", chart="bar"))
    dashboard = load_dashboard(path)
    assert dashboard.slug == "mine"
    assert dashboard.panels[0].is_view
    assert dashboard.panels[0].table_columns == ["day", "inbound"]
    assert dashboard.label("callers_2plus") == "Callers 2plus"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (PANEL.format(query="views/outcome_shares", chart="pie"), "panels.0.chart: Input should"),
        (PANEL.format(query="views/no_such_view", chart="bar"), "no file"),
        (PANEL.format(query="../etc/passwd", chart="bar"), "must look like views/<name>"),
        ("title: T\nlevels: [practice]\npanels: []\n", "panels: List should have at least 1"),
        ("title: T\nlevels: [region]\npanels: []\n", "levels.0: Input should be"),
        ("title: T\ncolour: red\nlevels: [icb]\npanels: []\n", "colour: Extra inputs"),
        ("- just\n- a list\n", "expected a mapping"),
        ("title: [unclosed\n", "cannot read it as YAML"),
    ],
)
def test_mistakes_name_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        load_dashboard(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_empty_dashboards_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no dashboard files"):
        load_dashboards(tmp_path)
    assert DASHBOARDS_DIR.name == "dashboards"


def test_date_filters() -> None:
    wednesday = date(2026, 8, 12)
    assert dates_for("today", wednesday) == [wednesday]
    assert dates_for("same_weekday", wednesday) == [
        date(2026, 7, 15),
        date(2026, 7, 22),
        date(2026, 7, 29),
        date(2026, 8, 5),
        wednesday,
    ]
    assert dates_for("last_7_days", wednesday)[0] == date(2026, 8, 6)
    assert len(dates_for("last_28_days", wednesday)) == 28
    assert describe_dates("same_weekday", wednesday) == (
        "Wednesday 12 August 2026 and the same weekday of the 4 weeks before"
    )
    month = dates_for("this_month", wednesday)
    assert (month[0], month[-1], len(month)) == (date(2026, 8, 1), wednesday, 12)
    assert describe_dates("this_month", wednesday) == "August 2026 up to Wednesday 12 August 2026"
    tuesday = date(2026, 9, 1)  # the Monday before, 31 August, is a bank holiday
    assert dates_for("staffing_weeks", tuesday, weeks=3) == [
        date(2026, 8, 18),
        date(2026, 8, 25),
        tuesday,
    ]
    assert date(2026, 8, 31) not in dates_for("staffing_weeks", date(2026, 9, 7), weeks=3)
    assert describe_dates("staffing_weeks", tuesday, weeks=3) == (
        "Tuesdays of the 3 weeks to Tuesday 1 September 2026, bank holidays left out "
        "(figures per average day)"
    )
    # On the morning of that Tuesday its calls so far are no whole day: the week before's.
    morning = datetime(2026, 9, 1, 7, 3, tzinfo=UTC)  # 08:03 in England
    assert dates_for("staffing_weeks", tuesday, weeks=3, now=morning) == [
        date(2026, 8, 11),
        date(2026, 8, 18),
        date(2026, 8, 25),
    ]
    assert describe_dates("staffing_weeks", tuesday, weeks=3, now=morning).startswith(
        "Tuesdays of the 3 weeks to Tuesday 25 August 2026"
    )


def test_a_computed_panel_names_its_model_and_may_keep_a_range_of_rows(tmp_path: Path) -> None:
    text = PANEL.format(query="reports/staffing_demand", chart="bar") + (
        "    compute: staffing\n    between: ['08:00', '09:45']\n"
    )
    panel = load_dashboard(write(tmp_path, text)).panels[0]
    assert (panel.compute, panel.between) == ("staffing", ("08:00", "09:45"))
    with pytest.raises(SpecError, match="panels.0.compute: Input should be 'staffing'"):
        load_dashboard(write(tmp_path, text.replace("compute: staffing", "compute: erlang_z")))
