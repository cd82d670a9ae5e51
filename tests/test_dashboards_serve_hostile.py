"""`dashboards serve` against awkward and hostile requests, and a refresh mid-request."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from analyst_support import build, call

from streams.outputs.dashboards.serve import DashboardServer, DashboardSite, Unpinned
from streams.settings import Settings
from streams.warehouse.store import Warehouse

PAGE = "/practice/A81001/practice_today.html"


@pytest.fixture
def served(data_dir: Path, tmp_path: Path) -> Iterator[tuple[DashboardSite, int]]:
    """Two calls of practice A81001, a refreshed site, a server on a free port that lets a
    silent client go after half a second."""
    settings = Settings(data_dir=data_dir, web_header_timeout_s=0.5)
    build(settings, [call("c1", "2026-08-12 08:05"), call("c2", "2026-08-12 08:20")])
    site = DashboardSite(settings, tmp_path / "served")
    assert site.refresh()
    server = DashboardServer(site, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site, server.server_address[1]
    server.shutdown()
    server.server_close()


def request(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "path",
    ["/%00", "/index.html%00", "/assets/plotly.min.js%00", "/" + "a" * 300 + ".html",
     "/" + "a" * 300, "/practice/A81001/" + "b" * 600, "/practice/../../etc/passwd.html"],
)  # fmt: skip
def test_paths_no_page_has_are_a_plain_404(served: tuple[DashboardSite, int], path: str) -> None:
    site, port = served
    status, _, body = request(port, path)
    assert status == 404, body
    assert str(site.root) not in body.decode() and "Traceback" not in body.decode()
    assert request(port, "/health")[0] == 200  # and the server goes on


def test_head_answers_as_get_would_without_a_body(served: tuple[DashboardSite, int]) -> None:
    _, port = served
    status, headers, body = request(port, "/health", "HEAD")
    assert (status, body) == (200, b"") and headers["Content-Type"] == "application/json"
    status, headers, body = request(port, PAGE, "HEAD")  # not rendered yet: rendered now
    assert (status, body) == (200, b"")
    get_status, get_headers, page = request(port, PAGE)
    assert get_status == 200 and int(headers["Content-Length"]) == len(page)
    assert headers["Content-Type"] == get_headers["Content-Type"] == "text/html; charset=utf-8"


def test_a_bookmark_without_its_slash_is_redirected(served: tuple[DashboardSite, int]) -> None:
    _, port = served
    status, headers, _ = request(port, "/practice/A81001")
    assert status == 301 and headers["Location"] == "/practice/A81001/"
    assert request(port, "/practice/A81001/")[0] == 200
    assert request(port, "/practice/Z99999")[0] == 404


def test_a_broken_request_line_is_answered_and_a_doubled_slash_stays_on_the_site(
    served: tuple[DashboardSite, int],
) -> None:
    """A request line the server refuses got no answer and a traceback; '//practice/…' in a
    redirect's Location is the host 'practice' to a browser."""
    _, port = served
    for line, status in [
        (b"GET / HTTP/9.9", b"505"),  # answered as HTTP/0.9: the bare page
        (b"GARBAGE", b"400"),
        (b"GET / HTTP/1.1 extra", b"400"),
    ]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(line + b"\r\n\r\n")
            answer = conn.recv(4096)
        assert status in answer, (line, answer)
    status_code, headers, _ = request(port, "/%2fpractice/A81001")
    assert status_code == 301 and headers["Location"] == "/practice/A81001/"
    assert request(port, "/health")[0] == 200


def test_a_client_gone_mid_answer_is_not_a_traceback(
    served: tuple[DashboardSite, int], capsys: pytest.CaptureFixture[str], caplog
) -> None:
    site, _ = served
    server = DashboardServer(site, 0)
    try:
        for gone in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
            try:
                raise gone
            except ConnectionError:
                server.handle_error(None, ("127.0.0.1", 5555))
        try:
            raise ValueError("unexpected\nsecond line")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 5555))
    finally:
        server.server_close()
    assert capsys.readouterr().err == ""  # the library printed a traceback per client
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["a request from 127.0.0.1 failed: ValueError: unexpected"]


def test_the_chart_library_is_cached_and_pages_are_not(served: tuple[DashboardSite, int]) -> None:
    _, port = served
    status, headers, _ = request(port, "/assets/plotly.min.js")
    assert status == 200 and headers["Cache-Control"] == "public, max-age=86400"
    assert request(port, PAGE)[1]["Cache-Control"] == "no-store"


def test_a_silent_client_is_let_go(served: tuple[DashboardSite, int]) -> None:
    _, port = served
    with socket.create_connection(("127.0.0.1", port), timeout=10) as silent:
        started = time.monotonic()
        assert silent.recv(1) == b""  # closed by the server, not by our timeout
        assert time.monotonic() - started < 5


def test_a_request_on_a_snapshot_let_go_is_answered_from_the_new_one(
    served: tuple[DashboardSite, int], data_dir: Path
) -> None:
    """A refresh closes the old snapshot's connection while requests may still hold it:
    they render on the new one instead of failing (seen: 19 of 264 requests got a 500)."""
    site, port = served
    old = site.current
    with Warehouse.open(site.settings) as warehouse:
        warehouse.merge_calls([call("c3", "2026-08-12 09:00")])
    assert site.refresh() and site.current is not old
    with pytest.raises(Unpinned):
        old.page(PAGE.lstrip("/"))
    statuses: list[int] = []

    def ask(index: int) -> int:
        name = ("practice_today", "scramble_8am", "routing")[index % 3]
        return request(port, f"/practice/A81001/{name}.html")[0]

    with ThreadPoolExecutor(8) as pool:
        pending = [pool.submit(ask, i) for i in range(24)]
        for n in range(3):  # new snapshots while the requests run
            with Warehouse.open(site.settings) as warehouse:
                warehouse.merge_calls([call(f"d{n}", "2026-08-12 10:00")])
            assert site.refresh()
        statuses = [future.result() for future in pending]
    assert statuses == [200] * 24


def test_clients_that_trickle_bytes_hold_at_most_max_clients_threads(
    data_dir: Path, tmp_path: Path
) -> None:
    """800 clients sending a byte at a time held 800 threads (each byte restarts the
    timeout). Past dashboards_max_clients a connection is answered 503 at once; once the
    tricklers go, pages are served again."""
    # a trickler sends a byte every 0.1 s: 2 s of silence would let it go, a wide margin
    settings = Settings(data_dir=data_dir, web_header_timeout_s=2, dashboards_max_clients=3)
    build(settings, [call("c1", "2026-08-12 08:05")])
    site = DashboardSite(settings, tmp_path / "served")
    assert site.refresh()
    server = DashboardServer(site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    stop = threading.Event()

    def trickle(conn: socket.socket) -> None:
        for byte in b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 10_000:
            if stop.wait(0.1):
                return
            conn.sendall(bytes([byte]))

    tricklers = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
    threads = [threading.Thread(target=trickle, args=(c,), daemon=True) for c in tricklers]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        seen = None
        while time.monotonic() < deadline:  # the three are accepted before the fourth
            seen = request(port, "/health")
            if seen[0] == 503:
                break
        assert seen is not None and seen[0] == 503, f"expected a 503, saw {seen}"
        assert seen[1]["Retry-After"] == "5" and b"busy" in seen[2]
    finally:
        stop.set()
        for conn in tricklers:
            conn.close()
    deadline = time.monotonic() + 10
    while (status := request(port, "/health")[0]) != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status == 200, f"still {status} 10 s after the tricklers went"
    server.shutdown()
    server.server_close()
