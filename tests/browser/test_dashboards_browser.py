"""The dashboards in a real browser: Debian's headless Chromium driven by Playwright.

A simulated week goes into a warehouse (no Kafka), `callstream dashboards serve` runs as its
own process, and every page it serves is loaded: no console error, no request to a host
other than 127.0.0.1, no chart without data points. One number per dashboard is checked
against `callstream sql`, and the server must pick up new calls without a restart.
Screenshots are kept under test-artifacts/dashboards/.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from analyst_support import call
from dashboards_support import TODAY, build_week

from streams.settings import Settings
from streams.warehouse.store import Warehouse

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboards"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WEEK = "local_date BETWEEN DATE '2026-08-06' AND DATE '2026-08-12'"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]

#: Every plotly chart on the page: its id, traces and non-null data points.
CHARTS_JS = """() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => ({
  id: d.id,
  drawn: d.classList.contains('js-plotly-plot') && !!d.querySelector('svg.main-svg'),
  traces: (d.data || []).length,
  points: (d.data || []).reduce((n, t) => n + ((t.orientation === 'h' ? t.x : t.y) || [])
    .filter(v => v !== null && v !== undefined).length, 0),
}))"""
#: The text of cell ``column`` in the first table row whose heading starts with ``row``.
CELL_JS = """([row, column]) => {
  for (const tr of document.querySelectorAll('tbody tr')) {
    const th = tr.querySelector('th');
    const td = tr.querySelector(`td[data-column="${column}"]`);
    if (th && td && th.textContent.trim().startsWith(row)) return td.textContent.trim();
  }
  return null;
}"""
TILE_JS = """(column) => {
  const tile = document.querySelector(`li.tile[data-column="${column}"] .value`);
  return tile ? tile.textContent.trim() : null;
}"""


@dataclass
class Served:
    url: str
    settings: Settings
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Visit:
    problems: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def health(url: str) -> dict:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        return json.load(exc)
    except OSError:
        return {"status": "down"}


def wait_for(url: str, ready: callable, timeout: float = 240.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = health(url)
        if ready(status):
            return status
        time.sleep(0.3)
    raise AssertionError(f"the dashboard server did not get ready: {health(url)}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data = tmp_path_factory.mktemp("browser-data")
    settings = Settings(data_dir=data)
    build_week(settings)
    port = free_port()
    env = {**os.environ, "CALLSTREAM_DATA_DIR": str(data)}
    env.pop("CALLSTREAM_DEBUG", None)
    log = data / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streams.cli",
                "-v",
                "dashboards",
                "serve",
                "--port",
                str(port),
                "--every",
                "1",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url, lambda s: s.get("status") == "ok")
        yield Served(url, settings, env, process, log)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=ARGS,
            headless=True,
            viewport={"width": 1300, "height": 900},
        )
        yield context
        context.close()


def sql(served: Served, query: str) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "sql", "--format", "json", query],
        env=served.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def open_page(browser: object, url: str, visit: Visit) -> object:
    """Load ``url`` in a new tab, recording console errors and requests to other hosts."""
    page = browser.new_page()
    page.on(
        "console",
        lambda m: visit.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else 0,
    )
    page.on("pageerror", lambda e: visit.problems.append(f"page error: {e}"))

    def request(r: object) -> None:
        if urlsplit(r.url).hostname != "127.0.0.1":
            visit.problems.append(f"request to another host: {r.url}")

    page.on("request", request)
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, url
    return page


def check_page(page: object, url: str, visit: Visit) -> int:
    """Charts drawn with data, "data as of" shown; returns the number of charts."""
    charts = page.evaluate(CHARTS_JS)
    for chart in charts:
        if not (chart["drawn"] and chart["traces"] and chart["points"]):
            visit.problems.append(f"empty chart {chart}")
    body = page.inner_text("body")
    if "Data as of" not in body:
        visit.problems.append("no 'Data as of'")
    if url.endswith(".html") and "/index.html" not in url and "Filters" not in body:
        visit.problems.append("no filters shown")
    return len(charts)


def test_every_page_renders_with_data_and_nothing_external(served: Served, browser: object) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    queue, seen, problems = [f"{served.url}/index.html"], set(), {}
    shot: set[str] = set()
    charts = 0
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        visit = Visit()
        page = open_page(browser, url, visit)
        charts += check_page(page, url, visit)
        slug = url.rsplit("/", 1)[-1].removesuffix(".html")
        if slug not in shot:
            shot.add(slug)
            page.screenshot(path=str(ARTIFACTS / f"{slug}.png"), full_page=True)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            link = urljoin(url, href).split("#")[0]
            if link.startswith(served.url) and link.endswith(".html") and link not in seen:
                queue.append(link)
        page.close()
        if visit.problems:
            problems[url] = visit.problems
    assert not problems, problems
    # 5 practices x 4 dashboards, 3 PCNs x 5, 2 ICBs x 4, an index.html per org, the site index
    assert len(seen) == 5 * 4 + 3 * 5 + 2 * 4 + 10 + 1
    assert charts > 100
    slugs = {"index", "practice_today", "scramble_8am", "staffing_morning", "routing", "comparison"}
    assert slugs <= shot


def test_one_number_per_dashboard_matches_callstream_sql(served: Served, browser: object) -> None:
    day = f"local_date = DATE '{TODAY}'"
    checks = [
        (
            "practice/A81001/practice_today.html",
            (TILE_JS, "inbound"),
            f"SELECT inbound AS n FROM outcome_shares WHERE practice = 'A81001' AND {day}",
        ),
        (
            "practice/A81001/scramble_8am.html",
            (CELL_JS, ["08:00", "inbound_calls"]),
            "SELECT inbound_calls AS n FROM peak_demand_8am_slots WHERE practice = 'A81001' "
            f"AND {day} AND slot_start = TIME '08:00'",
        ),
        (
            "pcn/U00351/staffing_morning.html",
            (CELL_JS, ["08:00", "offered"]),
            # calls to a person at 08:00-08:15 per day, over the Wednesdays with calls
            # (both practices had calls on each of those days: the same divisor)
            "SELECT round(sum(offered) / (SELECT count(DISTINCT local_date) FROM calls "
            "WHERE inbound AND practice = 'A81001' AND isodow(local_date) = 3), 1) AS n "
            "FROM staffing_quarter_hours WHERE practice IN ('A81001', 'A81002') "
            "AND slot_start = TIME '08:00' AND isodow(local_date) = 3",
        ),
        (
            "pcn/U00351/routing.html",
            (CELL_JS, ["appointments", "calls"]),
            "SELECT sum(calls) AS n FROM routing_effectiveness WHERE practice IN "
            f"('A81001', 'A81002') AND request_type = 'appointments' AND {WEEK}",
        ),
        (
            "icb/QHM/comparison.html",
            (CELL_JS, ["A81002", "inbound"]),
            f"SELECT sum(inbound) AS n FROM outcome_shares WHERE practice = 'A81002' AND {WEEK}",
        ),
    ]
    for path, (script, argument), query in checks:
        visit = Visit()
        page = open_page(browser, f"{served.url}/{path}", visit)
        shown = page.evaluate(script, argument)
        page.close()
        [row] = sql(served, query)
        assert shown is not None, path
        assert float(shown.replace(",", "")) == row["n"] > 0, (path, shown, row)
        assert not visit.problems, visit.problems


def test_serve_picks_up_new_data_without_a_restart(served: Served, browser: object) -> None:
    url = f"{served.url}/practice/A81001/practice_today.html"
    visit = Visit()
    page = open_page(browser, url, visit)
    before = int(page.evaluate(TILE_JS, "inbound").replace(",", ""))
    late = [call(f"late-{n}", "2026-08-12 17:50", caller_key=f"late-{n}") for n in range(3)]
    with Warehouse.open(served.settings) as warehouse:
        warehouse.merge_calls(late)
        merged = warehouse.snapshot().id
    # The snapshot of the merge itself: a writable open commits its views first, and a refresh
    # that lands between the two builds a newer snapshot that does not have the late calls yet.
    wait_for(served.url, lambda s: s.get("snapshot_id", 0) >= merged and s["status"] == "ok")
    page.reload(wait_until="load")
    after = int(page.evaluate(TILE_JS, "inbound").replace(",", ""))
    page.close()
    assert after == before + 3
    [row] = sql(
        served,
        "SELECT inbound AS n FROM outcome_shares WHERE practice = 'A81001' "
        f"AND local_date = DATE '{TODAY}'",
    )
    assert row["n"] == after
    assert served.process.poll() is None, served.log.read_text()
    assert not visit.problems, visit.problems
