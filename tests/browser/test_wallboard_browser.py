"""The wallboard in a real browser (Debian's headless Chromium, as the dashboards' tests):
events pushed through the HTTP ingest move "in queue now" within 2 s, with no reload.

A real `callstream worker` on the session's broker serves both the ingest and the page; the
page asks no host but the worker. The screenshot is kept under test-artifacts/wallboard/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_support import events, push, tokens, wait_for_figures
from pipeline_support import Worker, pipeline_env, start_worker
from test_dashboards_browser import ARGS, CHROMIUM

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "wallboard"
PRACTICE = "W10001"
WITHIN_S = 2.0

pytestmark = [
    pytest.mark.browser,
    pytest.mark.kafka,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


@pytest.fixture
def worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Worker]:
    env = pipeline_env(kafka_bootstrap, tmp_path / "data", CALLSTREAM_CALL_TIMEOUT_S="3600")
    running = start_worker(env, tmp_path / "worker.log")
    running.wait_for_web()
    yield running
    running.stop()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            args=ARGS,
            headless=True,
            viewport={"width": 1600, "height": 900},
        )
        yield context.new_page()
        context.close()


def text(page, element_id: str) -> str:
    return page.evaluate("(id) => document.getElementById(id).textContent", element_id)


def wait_for_text(page, element_id: str, expected: str, timeout: float) -> float:
    """Seconds until the element shows ``expected``; fails saying what it showed instead."""
    started = time.monotonic()
    try:
        page.wait_for_function(
            "([id, want]) => document.getElementById(id).textContent.trim() === want",
            arg=[element_id, expected],
            timeout=timeout * 1000,
            polling=50,
        )
    except Exception:
        raise AssertionError(
            f"#{element_id} showed {text(page, element_id)!r}, not {expected!r}, after "
            f"{timeout:.1f} s; status {text(page, 'status')!r}, banner {text(page, 'problem')!r}"
        ) from None
    return time.monotonic() - started


def test_in_queue_rises_and_falls_on_the_wall_within_2_s_without_reload(worker, page) -> None:
    ingest, wallboard = tokens(worker, PRACTICE)
    base = f"http://127.0.0.1:{worker.env['CALLSTREAM_WEB_PORT']}"
    elsewhere: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else elsewhere.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/live/practices/{PRACTICE}#token={wallboard}")
    assert "token" not in page.url  # taken out of the address bar once read
    wait_for_text(page, "in_queue", "0", 60)
    # Warm up: one call through every stage, so the timings below are of a running worker.
    warm = ("call_started", 30), ("queue_joined", 25), ("call_ended", 20)
    push(worker, PRACTICE, ingest, events(PRACTICE, "warm", *warm))
    wait_for_figures(worker, PRACTICE, wallboard, {"today.missed": 1})
    wait_for_text(page, "today.missed", "1", 10)
    page.evaluate("() => { window.notReloaded = true; }")

    push(worker, PRACTICE, ingest, events(PRACTICE, "c1", ("call_started", 5), ("queue_joined", 1)))
    rose = wait_for_text(page, "in_queue", "1", WITHIN_S)
    push(worker, PRACTICE, ingest, events(PRACTICE, "c1", ("answered", 0)))
    fell = wait_for_text(page, "in_queue", "0", WITHIN_S)
    wait_for_text(page, "in_progress", "1", WITHIN_S)

    assert page.evaluate("() => window.notReloaded === true"), "the page reloaded"
    assert text(page, "status").startswith("Live")
    red_from = page.evaluate("() => document.getElementById('practice').dataset.queueAlert")
    assert red_from == "10", red_from  # the default long-queue rule: queue_length >= 10
    received = text(page, "last_received_at")  # today's, so the time alone, in UK time
    assert re.fullmatch(r"\d\d:\d\d:\d\d", received), received
    assert elsewhere == [] and errors == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "wallboard.png"), full_page=True)
    print(f"in queue rose after {rose:.2f} s, fell after {fell:.2f} s")


def test_the_page_says_why_when_the_token_is_wrong(worker, page) -> None:
    ingest, _ = tokens(worker, PRACTICE)
    base = f"http://127.0.0.1:{worker.env['CALLSTREAM_WEB_PORT']}"
    page.goto(f"{base}/live/practices/{PRACTICE}#token={ingest}")
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'refused'")
    assert "wallboard token" in text(page, "problem")
