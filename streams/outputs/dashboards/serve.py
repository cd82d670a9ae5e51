"""`dashboards serve`: render each page when it is asked for, from the latest snapshot.

The server answers from its first second (``/health`` at once). A refresh, on a schedule,
pins the warehouse's latest snapshot (read-only, so the worker keeps writing) and the
dashboard files; a page is rendered the first time someone asks for it at that snapshot,
written under ``root/snapshot-N/`` and served from there until a newer snapshot is pinned:
at most one render per page per snapshot, and a practice's page never waits on the other
23,000. A failed refresh keeps serving the last good snapshot, logs why, shows a banner on
every page and reports it on ``/health``.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from streams.outputs.dashboards.build import Site, write_asset
from streams.outputs.dashboards.render import BANNER_MARK
from streams.outputs.dashboards.spec import DASHBOARDS_DIR, load_dashboards
from streams.settings import Settings
from streams.warehouse.store import Warehouse

log = logging.getLogger("callstream.dashboards")

HOST = "127.0.0.1"
#: Longer request paths are no page of ours (the OS refuses file names over 255 bytes).
MAX_PATH = 512
_BUSY_TEXT = b"The dashboards are busy: try again in a few seconds.\n"
#: The whole answer to a connection over ``dashboards_max_clients``.
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Retry-After: 5\r\nConnection: close\r\nContent-Length: "
    + str(len(_BUSY_TEXT)).encode()
    + b"\r\n\r\n"
    + _BUSY_TEXT
)


@dataclass
class Status:
    """What ``/health`` reports: the last refresh, the last good one, and why one failed."""

    state: str = "starting"  # starting | ok | stale
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    snapshot_id: int | None = None
    snapshot_time: datetime | None = None
    today: date | None = None
    pages: int = 0
    rendered: int = 0
    refresh_seconds: float | None = None

    def as_json(self) -> dict[str, object]:
        def when(value: datetime | date | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "status": self.state,
            "last_attempt": when(self.last_attempt),
            "last_success": when(self.last_success),
            "last_error": self.last_error,
            "snapshot_id": self.snapshot_id,
            "data_as_of": when(self.snapshot_time),
            "today": when(self.today),
            "pages": self.pages,
            "rendered": self.rendered,
            "refresh_seconds": self.refresh_seconds,
        }


class Pinned:
    """One pinned snapshot: its Site (attached warehouse) and the folder its pages go to."""

    def __init__(self, site: Site, folder: Path, key: tuple[int, date | None, str]) -> None:
        self.site = site
        self.folder = folder
        self.key = key
        self.lock = threading.Lock()  # one DuckDB query at a time on the site's connection
        self.closed = False

    def page(self, relative: str) -> Path | None:
        """The page's file, rendered now if this snapshot has not rendered it yet."""
        if not self.has(relative):
            return None
        target = self.folder / relative
        if target.is_file():
            return target
        with self.lock:
            if self.closed:
                raise Unpinned
            if target.is_file():  # another request rendered it while this one waited
                return target
            text = self.site.page_html(relative)
            if text is None:
                return None
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            partial.write_text(text, encoding="utf-8")
            partial.replace(target)  # readers never see half a page
        return target

    def has(self, relative: str) -> bool:
        """Whether the site has this page: asked before any file name is made of what a
        client sent (a path too long for the OS, a NUL byte, ``..``)."""
        return relative == "index.html" or relative in self.site.pages

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.site.close()


class Unpinned(Exception):
    """The snapshot a request started on was let go while it waited: render on the new one."""


class DashboardSite:
    """The served site: the pinned snapshot, its rendered pages under ``root``, the status."""

    def __init__(
        self,
        settings: Settings,
        root: Path,
        day: date | None = None,
        dashboards_dir: Path = DASHBOARDS_DIR,
    ) -> None:
        self.settings = settings
        self.root = root
        self.day = day
        self.dashboards_dir = dashboards_dir
        self.status = Status()
        self.current: Pinned | None = None
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Pin the latest snapshot if the data or the dashboards changed (pages are rendered
        on demand); keep the last good one on failure."""
        with self._lock:
            started = time.monotonic()
            self.status.last_attempt = datetime.now(UTC)
            probe = None
            try:
                probe = Warehouse.open(self.settings, read_only=True)
                snapshot = probe.snapshot()
                key = (snapshot.id, self.day, _specs_hash(self.dashboards_dir))
                if self.current is not None and key == self.current.key:
                    probe.close()
                    self._succeeded()
                    return True
                dashboards = load_dashboards(self.dashboards_dir)
                probe.pin(snapshot.id)  # the probe's connection becomes the pinned one
                site, probe = Site(self.settings, self.day, dashboards, probe), None
            except Exception as exc:  # any failure: keep serving the last good pages
                if probe is not None:
                    probe.close()
                reason = _one_line(exc)
                self.status.state = "stale" if self.current else "starting"
                self.status.last_error = reason
                log.warning("dashboard refresh failed, keeping the last good pages: %s", reason)
                return False
            folder = self.root / f"snapshot-{site.snapshot.id}-{key[2][:12]}"
            shutil.rmtree(folder, ignore_errors=True)
            write_asset(folder)
            previous, self.current = self.current, Pinned(site, folder, key)
            self.status.snapshot_id = site.snapshot.id
            self.status.snapshot_time = site.snapshot.time
            self.status.today = site.today
            self.status.pages = len(site.pages) + 1
            self.status.rendered = 0
            self.status.refresh_seconds = round(time.monotonic() - started, 3)
            self._succeeded()
            log.info(
                "dashboards at snapshot %d: %d pages, rendered when asked for",
                site.snapshot.id,
                self.status.pages,
            )
            if previous is not None:
                previous.close()
            self._remove_old(keep={folder, previous.folder if previous else None})
            return True

    def page(self, relative: str) -> Path | None:
        """The current snapshot's file for a page (rendered on first request), or None."""
        while (pinned := self.current) is not None:
            if not pinned.has(relative):
                return None
            before = (pinned.folder / relative).is_file()
            try:
                path = pinned.page(relative)
            except Unpinned:
                continue  # a refresh pinned a newer snapshot meanwhile: that one answers
            if path is not None and not before:
                self.status.rendered += 1
            return path
        return None

    def folder_page(self, relative: str) -> bool:
        """Whether ``relative`` is an organisation's folder (``practice/A81001``) with pages."""
        pinned = self.current
        return pinned is not None and pinned.has(f"{relative.rstrip('/')}/index.html")

    def banner(self) -> str:
        """The red line shown on every page while the last refresh has failed; else ''."""
        if self.status.state != "stale":
            return ""
        when = self.status.last_attempt
        as_of = self.status.snapshot_time
        return (
            '<div class="banner" role="alert">These dashboards could not be refreshed at '
            f"{when:%H:%M:%S} UTC: {html.escape(self.status.last_error or '')}. "
            f"Showing the last good figures (data as of {as_of:%Y-%m-%d %H:%M:%S} UTC).</div>"
        )

    def _succeeded(self) -> None:
        self.status.state = "ok"
        self.status.last_error = None
        self.status.last_success = self.status.last_attempt

    def _remove_old(self, keep: set[Path | None]) -> None:
        """Delete older snapshots' pages; the previous one stays for requests still reading it."""
        for path in self.root.glob("snapshot-*"):
            if path not in keep:
                shutil.rmtree(path, ignore_errors=True)


class Refresher(threading.Thread):
    """Calls ``site.refresh()`` at once, then every ``every`` seconds until stopped."""

    def __init__(self, site: DashboardSite, every: float) -> None:
        super().__init__(name="dashboards-refresh", daemon=True)
        self.site = site
        self.every = every
        self.stopped = threading.Event()

    def run(self) -> None:
        self.site.refresh()
        while not self.stopped.wait(self.every):
            self.site.refresh()

    def stop(self) -> None:
        self.stopped.set()


class DashboardServer(ThreadingHTTPServer):
    """An HTTP server for one DashboardSite."""

    daemon_threads = True
    #: Connections the kernel queues while every thread is busy (the library's 5 made a
    #: burst of 20 browsers wait on TCP retries).
    request_queue_size = 128

    def __init__(self, site: DashboardSite, port: int, host: str = HOST) -> None:
        self.site = site
        #: A client silent this long (headers not sent, or idle between requests) is let go,
        #: as the worker's web server does: a thread is not held for ever.
        self.client_timeout = site.settings.web_header_timeout_s
        #: A thread per connection, at most this many (settings ``dashboards_max_clients``).
        self._slots = threading.BoundedSemaphore(site.settings.dashboards_max_clients)
        super().__init__((host, port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread for the connection while one is free; else a 503 at once, so clients
        that trickle their requests a byte at a time cannot take every thread there is."""
        if not self._slots.acquire(blocking=False):
            log.info("busy: %s answered 503 (dashboards_max_clients)", client_address[0])
            try:
                request.settimeout(1.0)
                request.sendall(BUSY)
            except OSError:
                pass  # gone already
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """One line, not the library's traceback on stderr: a browser that closes a tab
        mid-answer (a broken pipe) is routine; anything else is a warning to look at."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            log.debug("client %s went away: %s", client_address[0], type(exc).__name__)
            return
        if exc is None:
            return
        log.warning(
            "a request from %s failed: %s: %s",
            client_address[0],
            type(exc).__name__,
            _one_line(exc),
        )
        log.debug("the failed request's traceback", exc_info=exc)


#: A plain NHS-blue square: the tab icon, served so browsers' favicon request is not a 404.
FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    b'<rect width="16" height="16" rx="3" fill="#005eb8"/></svg>'
)


class _Handler(SimpleHTTPRequestHandler):
    server: DashboardServer
    head_only = False

    def setup(self) -> None:
        self.timeout = self.server.client_timeout
        super().setup()

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
        """What GET would answer, without the body (monitoring probes ``/health`` so)."""
        self.head_only = True
        try:
            self.do_GET()
        finally:
            self.head_only = False

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        site = self.server.site
        path = unquote(urlsplit(self.path).path)
        if "\x00" in path or len(path) > MAX_PATH:
            return self.send_error(HTTPStatus.NOT_FOUND, "No such dashboard page")
        if path == "/health":
            body = json.dumps(site.status.as_json(), indent=2).encode()
            code = HTTPStatus.OK if site.status.state == "ok" else HTTPStatus.SERVICE_UNAVAILABLE
            return self._send(code, "application/json", body)
        if path == "/favicon.ico":  # browsers ask for it; a 404 would be a console error
            return self._send(HTTPStatus.OK, "image/svg+xml", FAVICON)
        if site.current is None:
            reason = html.escape(site.status.last_error or "the warehouse is being opened")
            body = (
                '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
                "<title>Dashboards not ready</title></head><body><h1>Dashboards not ready"
                f"</h1><p>{reason}</p><p>This page will work once a refresh succeeds.</p>"
                "</body></html>"
            ).encode()
            return self._send(HTTPStatus.SERVICE_UNAVAILABLE, "text/html; charset=utf-8", body)
        if not path.endswith("/") and site.folder_page(path.lstrip("/")):
            # a bookmark without its slash; one leading slash ("//x" is another host)
            return self._redirect("/" + path.lstrip("/") + "/")
        if path.endswith("/"):
            path += "index.html"
        if not path.endswith(".html"):
            return super().do_HEAD() if self.head_only else super().do_GET()
        relative = path.lstrip("/")
        try:
            file = site.page(relative)
        except Exception as exc:  # a query that fails: one line, the server keeps going
            log.warning("rendering %s failed: %s", relative, _one_line(exc))
            return self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR, "This page could not be made")
        if file is None:
            return self.send_error(HTTPStatus.NOT_FOUND, "No such dashboard page")
        page = file.read_bytes().replace(BANNER_MARK.encode(), site.banner().encode())
        return self._send(HTTPStatus.OK, "text/html; charset=utf-8", page)

    def translate_path(self, path: str) -> str:
        current = self.server.site.current
        self.directory = str(current.folder if current else self.server.site.root)
        return super().translate_path(path)

    def send_head(self):  # type: ignore[no-untyped-def] (http.server's signature)
        """Static files (the chart library): a name the OS refuses is a 404, not a 500."""
        try:
            return super().send_head()
        except (OSError, ValueError):
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None

    def end_headers(self) -> None:
        # Pages change with every snapshot; the chart library only with callstream itself.
        # No path when the request line itself was refused (400, 505): not a static file.
        static = urlsplit(getattr(self, "path", "")).path.startswith("/assets/")
        self.send_header("Cache-Control", "public, max-age=86400" if static else "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (base signature)
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not self.head_only:
            self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", quote(location))
        self.send_header("Content-Length", "0")
        self.end_headers()


def _specs_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
