"""Dashboard build and serve against a real warehouse (simulated week, no Kafka)."""

from __future__ import annotations

import json
import re
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from analyst_support import build, call
from click.testing import CliRunner
from dashboards_support import TODAY, build_week

from streams.cli import cli
from streams.outputs.dashboards.build import BuildError, build_site, organisations
from streams.outputs.dashboards.serve import DashboardServer, DashboardSite
from streams.outputs.dashboards.spec import DASHBOARDS_DIR, Dashboard, dates_for, load_dashboards
from streams.settings import Settings, get_settings
from streams.warehouse.store import Warehouse

MAPPED = ("A81001", "A81002", "A81004", "A81005")


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(data_dir=tmp_path_factory.mktemp("dash-data"))
    build_week(settings)
    return settings


@pytest.fixture(scope="module")
def site(week: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = build_site(week, out)
    assert result.today == TODAY
    return out


def tile(html: str, column: str) -> str:
    block = re.search(rf'<li class="tile" data-column="{column}">(.*?)</li>', html, re.S)
    assert block, column
    return re.search(r'<div class="value">([^<]*)</div>', block.group(1)).group(1)


def cell(html: str, row: str, column: str) -> str | None:
    """The table cell of ``column`` in the first table row headed ``row``."""
    for line in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        if re.search(rf'<th scope="row" data-column="[^"]+">{re.escape(row)}</th>', line):
            return re.search(rf'<td data-column="{column}">([^<]*)</td>', line).group(1)
    return None


def test_a_page_per_practice_pcn_and_icb(site: Path) -> None:
    pages = {str(p.relative_to(site)) for p in site.rglob("*.html")}
    for practice in (*MAPPED, "A81006"):
        for slug in ("practice_today", "scramble_8am", "staffing_morning", "routing", "index"):
            assert f"practice/{practice}/{slug}.html" in pages
        assert f"practice/{practice}/comparison.html" not in pages
    for org in ("pcn/U00351", "pcn/U00520", "pcn/UNMAPPED", "icb/QHM", "icb/UNMAPPED"):
        for slug in ("practice_today", "scramble_8am", "routing", "comparison", "index"):
            assert f"{org}/{slug}.html" in pages
    for pcn in ("pcn/U00351", "pcn/U00520", "pcn/UNMAPPED"):
        assert f"{pcn}/staffing_morning.html" in pages
    assert "icb/QHM/staffing_morning.html" not in pages
    assert "index.html" in pages
    assert [p.name for p in site.rglob("*.js")] == ["plotly.min.js"]
    index = (site / "index.html").read_text()
    assert "Practices with no ICB in the reference data" in index
    assert 'href="practice/A81006/index.html"' in index
    unmapped = (site / "practice/A81006/routing.html").read_text()
    assert "Practices with no PCN in the reference data" in unmapped


def test_a_pcn_adds_up_its_practices(week: Settings, site: Path) -> None:
    with Warehouse.open(week, read_only=True) as warehouse:
        inbound = warehouse.query(
            "SELECT practice, inbound FROM outcome_shares WHERE local_date = ? ORDER BY 1",
            [TODAY],
        )
    by_practice = dict(inbound.iter_rows())
    pcn = (site / "pcn/U00351/practice_today.html").read_text()
    assert tile(pcn, "inbound") == f"{by_practice['A81001'] + by_practice['A81002']:,}"
    practice = (site / "practice/A81002/practice_today.html").read_text()
    assert tile(practice, "inbound") == f"{by_practice['A81002']:,}"
    assert cell(practice, "Wed 12 Aug", "inbound") == f"{by_practice['A81002']:,}"
    assert "PCN U00351 (2 practices)" in pcn


def test_staffing_page_observes_the_warehouse_and_a_pcn_adds_up(week: Settings, site: Path) -> None:
    dates = dates_for("staffing_weeks", TODAY, week.staffing_weeks)
    with Warehouse.open(week, read_only=True) as warehouse:
        seen = warehouse.query(
            "SELECT q.practice, sum(q.people) / any_value(d.days) AS observed "
            "FROM staffing_quarter_hours AS q JOIN (SELECT practice, "
            "count(DISTINCT local_date) AS days FROM calls WHERE inbound "
            "AND list_contains($dates, local_date) GROUP BY practice) AS d USING (practice) "
            "WHERE q.slot_start = TIME '08:00' AND list_contains($dates, q.local_date) "
            "GROUP BY q.practice",
            {"dates": dates},
        )
    observed = dict(seen.iter_rows())
    needed = {}
    for practice in ("A81001", "A81002"):
        html = (site / f"practice/{practice}/staffing_morning.html").read_text()
        assert cell(html, "08:00", "observed") == f"{observed[practice]:.1f}"
        needed[practice] = int(cell(html, "08:00", "needed"))
        assert needed[practice] >= 1
        assert "Wednesdays of the 8 weeks to Wednesday 12 August 2026" in html
    pcn = (site / "pcn/U00351/staffing_morning.html").read_text()
    assert int(cell(pcn, "08:00", "needed")) == needed["A81001"] + needed["A81002"]
    both = observed["A81001"] + observed["A81002"]
    assert cell(pcn, "08:00", "observed") == f"{both:.1f}"
    assert cell(pcn, "07:45", "needed") is None  # the page shows 08:00 to 11:45


def test_every_page_shows_data_as_of_and_nothing_external(week: Settings, site: Path) -> None:
    with Warehouse.open(week, read_only=True) as warehouse:
        snapshot = warehouse.snapshot()
    for page in site.rglob("*.html"):
        html = page.read_text()
        assert f"(warehouse snapshot {snapshot.id})" in html, page
        for link in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert not re.match(r"^[a-z]+:|^//", link), (page, link)
            if link.startswith("#"):
                continue
            target = (page.parent / link).resolve()
            assert target.is_file(), (page, link)


def test_a_panel_naming_a_missing_column_says_which(week: Settings, tmp_path: Path) -> None:
    bad = Dashboard.model_validate(
        {
            "slug": "bad",
            "title": "Bad",
            "levels": ["practice"],
            "panels": [
                {
                    "title": "Oops",
                    "query": "views/outcome_shares",
                    "chart": "bar",
                    "x": "local_date",
                    "y": ["answerd"],
                }
            ],
        }
    )
    with pytest.raises(
        BuildError, match=r"dashboards/bad.yaml, panel 'Oops': .* no column answerd"
    ):
        build_site(week, tmp_path, dashboards=[bad])


def test_cli_build_and_errors(
    week: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLSTREAM_DATA_DIR", str(week.data_dir))
    get_settings.cache_clear()
    runner = CliRunner()
    result = runner.invoke(
        cli, ["dashboards", "build", "--out", str(tmp_path / "o"), "--date", "2026-08-10"]
    )
    assert result.exit_code == 0, result.output
    assert "(today = 2026-08-10" in result.output
    assert "Monday 10 August 2026" in (tmp_path / "o/practice/A81001/routing.html").read_text()
    for args in (
        ["dashboards", "--help"],
        ["dashboards", "build", "--help"],
        ["dashboards", "serve", "--help"],
    ):
        assert runner.invoke(cli, args).exit_code == 0
    monkeypatch.setenv("CALLSTREAM_DATA_DIR", str(tmp_path / "empty"))
    get_settings.cache_clear()
    result = runner.invoke(cli, ["dashboards", "build", "--out", str(tmp_path / "o2")])
    get_settings.cache_clear()
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert "Traceback" not in result.output


@pytest.fixture
def served(data_dir: Path, tmp_path: Path) -> Iterator[tuple[DashboardSite, str, Path]]:
    """A small warehouse, a copy of the dashboards to break, and a server on a free port."""
    build(
        Settings(data_dir=data_dir),
        [call("c1", "2026-08-12 08:05"), call("c2", "2026-08-12 08:20", "missed", wait=200)],
    )
    specs = tmp_path / "specs"
    shutil.copytree(DASHBOARDS_DIR, specs)
    site = DashboardSite(Settings(data_dir=data_dir), tmp_path / "served", dashboards_dir=specs)
    server = DashboardServer(site, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site, f"http://127.0.0.1:{server.server_address[1]}", specs
    server.shutdown()
    server.server_close()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_serve_keeps_the_last_good_pages_and_says_why(
    served: tuple[DashboardSite, str, Path], data_dir: Path
) -> None:
    site, url, specs = served
    status, body = get(f"{url}/health")
    assert status == 503 and json.loads(body)["status"] == "starting"
    assert get(f"{url}/")[0] == 503
    assert site.refresh()
    assert json.loads(get(f"{url}/health")[1])["rendered"] == 0  # nothing rendered ahead
    page = f"{url}/practice/A81001/practice_today.html"
    status, html = get(page)
    assert status == 200 and tile(html, "inbound") == "2"
    assert 'role="alert"' not in html
    good = site.current

    (specs / "routing.yaml").write_text("title: Routing\nlevels: [practice]\npanels: nope\n")
    assert not site.refresh()
    assert site.current is good
    status, html = get(page)
    assert status == 200 and tile(html, "inbound") == "2"
    assert 'role="alert"' in html and "routing.yaml: panels: Input should be a valid list" in html
    status, body = get(f"{url}/health")
    health = json.loads(body)
    assert status == 503 and health["status"] == "stale"
    assert "routing.yaml" in health["last_error"] and health["pages"] > 0

    shutil.copy(DASHBOARDS_DIR / "routing.yaml", specs / "routing.yaml")
    with Warehouse.open(Settings(data_dir=data_dir)) as warehouse:
        warehouse.merge_calls([call("c3", "2026-08-12 09:00")])
    assert site.refresh()
    status, html = get(page)
    assert tile(html, "inbound") == "3" and 'role="alert"' not in html
    assert get(f"{url}/health")[0] == 200
    assert len(list((site.root).glob("snapshot-*"))) <= 2
    assert get(f"{url}/../../etc/passwd")[0] == 404
    assert get(f"{url}/practice/Z99999/practice_today.html")[0] == 404


def test_a_page_renders_once_per_snapshot(served: tuple[DashboardSite, str, Path]) -> None:
    site, url, _ = served
    assert site.refresh()
    page = f"{url}/practice/A81001/scramble_8am.html"
    first = get(page)
    assert first[0] == 200 and json.loads(get(f"{url}/health")[1])["rendered"] == 1
    assert get(page) == first
    assert json.loads(get(f"{url}/health")[1])["rendered"] == 1  # the second came from cache
    pinned = site.current
    assert site.refresh() and site.current is pinned  # no new snapshot: nothing re-rendered


def test_loaded_dashboards_match_the_site_tabs(site: Path) -> None:
    html = (site / "icb/QHM/comparison.html").read_text()
    tabs = re.findall(r'<nav class="tabs".*?</nav>', html, re.S)[0]
    icb_level = [d.title for d in load_dashboards() if "icb" in d.levels]
    assert icb_level == re.findall(r">([^<>]+)</a></li>", tabs)
    assert "Staffing the morning" not in icb_level  # practices and PCNs only
    assert date(2026, 8, 12) == TODAY


def test_names_are_title_cased_keeping_apostrophes_ordinals_and_acronyms() -> None:
    frame = pl.DataFrame(
        {
            "practice": ["A81001"],
            "practice_name": ["ST JOHN'S MEDICAL CENTRE"],
            "pcn_code": ["U00351"],
            "pcn_name": ["1ST AVENUE O'BRIEN PCN"],
            "icb_code": ["QHM"],
            "icb_name": ["NHS STOCKTON-ON-TEES ICB"],
        }
    )
    names = {(o.level, o.code): o.name for o in organisations(frame)}
    assert names[("practice", "A81001")] == "St John's Medical Centre"
    assert names[("pcn", "U00351")] == "1st Avenue O'Brien PCN"
    assert names[("icb", "QHM")] == "NHS Stockton-On-Tees ICB"


def test_comparison_pages_use_the_tidied_practice_names(site: Path) -> None:
    html = (site / "icb/QHM/comparison.html").read_text()
    assert "A81001 The Densham Surgery" in html
    assert "THE DENSHAM SURGERY" not in html and "DENSHAM SURGERY" not in html.replace(
        "\\u003c", ""
    )


def test_cli_names_codes_not_found_and_the_level_of_a_code(
    week: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLSTREAM_DATA_DIR", str(week.data_dir))
    get_settings.cache_clear()
    runner = CliRunner()
    out = tmp_path / "o"
    try:
        missing = runner.invoke(
            cli, ["dashboards", "build", "--out", str(out), "--org", "A81001", "--org", "NOPE"]
        )
        wrong_level = runner.invoke(
            cli, ["dashboards", "build", "--out", str(out), "--org", "A81001", "--level", "icb"]
        )
        assert not out.exists()
        one = runner.invoke(cli, ["dashboards", "build", "--out", str(out), "--org", "A81002"])
    finally:
        get_settings.cache_clear()
    assert missing.exit_code == 1 and missing.output.count("\n") == 1, missing.output
    assert "NOPE" in missing.output and "A81001" not in missing.output
    assert wrong_level.exit_code == 1 and wrong_level.output.count("\n") == 1
    assert "A81001 is a practice" in wrong_level.output
    assert "--level practice" in wrong_level.output
    assert one.exit_code == 0, one.output
    opened = re.search(r"Open (\S+)", one.output).group(1)
    assert Path(opened) == out / "practice/A81002/index.html" and Path(opened).is_file()
    assert not (out / "index.html").exists()


ESCAPING = "../../../escaped"


@pytest.fixture
def escaping(data_dir: Path) -> Settings:
    """A warehouse loaded before codes were checked: A81002's PCN code climbs out of a folder."""
    settings = Settings(data_dir=data_dir)
    build(
        settings,
        [call("c1", "2026-08-12 08:05"), call("c2", "2026-08-12 08:10", practice="A81002")],
    )
    with Warehouse.open(settings) as warehouse:
        warehouse.write_transaction(
            lambda conn: conn.execute(
                "UPDATE practice_mappings SET pcn_code = ? WHERE practice = 'A81002'", [ESCAPING]
            )
        )
    return settings


def test_an_organisation_whose_code_leaves_the_folder_is_skipped(
    escaping: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "a" / "b" / "out"
    with caplog.at_level("WARNING"):
        result = build_site(escaping, out)
    written = list(tmp_path.rglob("*.html"))
    assert written and all(p.is_relative_to(out) for p in written)
    assert result.skipped == (f"PCN {ESCAPING}",)
    assert ESCAPING in caplog.text
    assert (out / "practice/A81002/practice_today.html").is_file()
    for page in out.rglob("*.html"):
        for link in re.findall(r'(?:src|href)="([^"]+)"', page.read_text()):
            if not link.startswith("#"):
                assert (page.parent / link).resolve().is_file(), (page, link)


def test_cli_refuses_an_organisation_whose_code_leaves_the_folder(
    escaping: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "a" / "b" / "out"
    args = ["dashboards", "build", "--out", str(out), "--org", ESCAPING, "--level", "pcn"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert f"PCN {ESCAPING}" in result.output
    assert not list(tmp_path.rglob("*.html")) and not out.exists()


def test_build_refuses_a_page_path_resolving_outside_out(
    escaping: Settings, tmp_path: Path
) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "practice").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(BuildError, match=r"Practice A81001.*outside") as raised:
        build_site(escaping, out, orgs={"A81001"})
    assert "\n" not in str(raised.value)
    assert not list(elsewhere.iterdir()) and not (out / "assets").exists()


def test_an_alerts_value_reads_as_its_message_says_it(tmp_path: Path) -> None:
    """A missed share of 0.25 showed as 0.2 beside 'missed_share_30m > 0.2' (numbers under
    100 get one decimal), a silence of 1,500 s as '1,500' beside 'no_events_for >= 20m'."""
    from datetime import UTC, datetime

    settings = Settings(data_dir=tmp_path / "data")
    build(settings, [call("a1", f"{TODAY} 08:05")])
    at = datetime.combine(TODAY, datetime.min.time(), UTC).replace(hour=9)
    with Warehouse.open(settings) as warehouse:
        warehouse.record_alerts(
            [
                ("n1", "A81001", "missed", "firing", "missed_share_30m > 0.2", 0.25, at, True, "w"),
                ("n2", "A81001", "silent", "firing", "no_events_for >= 20m", 1500.0, at, True, "w"),
            ]
        )
    today = [d for d in load_dashboards() if d.slug == "practice_today"]
    build_site(settings, tmp_path / "site", dashboards=today)
    page = (tmp_path / "site" / "practice" / "A81001" / "practice_today.html").read_text()
    alerts = page[page.index(">Alerts</h2>") :]
    values = re.findall(r'<td data-column="value">([^<]*)</td>', alerts)
    assert sorted(values) == ["0.25", "25m"]
