"""The wallboard on the worker's web server: a practice's live figures, pushed as they change.

Routes:

- ``GET /live/practices/{ods}``: the page (self-contained: inline CSS and script, no other
  host). It holds no figures, so it needs no token; it reads the wallboard token from the
  URL's fragment (``#token=...``, never sent to a server, so never in an access log).
- ``GET /live/practices/{ods}/stream``: server-sent events, one ``Snapshot`` (JSON) per
  change of the practice's state and at least every ``HEARTBEAT_S``.
- ``GET /live/practices/{ods}/state``: the current ``Snapshot`` as JSON.

Both data routes need ``Authorization: Bearer <token>`` with a wallboard token of that
practice (``callstream tokens create --practice ODS --scope wallboard``); an ingest token is
refused, as a wallboard token is refused by the ingest. A practice's state lives on the
worker that owns its partition of the live table: another worker asks that one for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any

import faust
from aiohttp import web as aioweb
from faust.web import Request, Response, View
from yarl import URL

from models.events import ODS_PATTERN
from streams.ingest.tokens import TokenError, TokenStore
from streams.settings import Settings
from streams.worker.changelog import partition_of
from streams.worker.live import TABLE_NAME, Live

log = logging.getLogger(__name__)

PAGE_PATH = "/live/practices/{ods}"
STATE_PATH = "/live/practices/{ods}/state"
STREAM_PATH = "/live/practices/{ods}/stream"
PAGE_FILE = Path(__file__).with_name("wallboard.html")
#: A snapshot goes out at least this often (the page shows how old its figures are).
HEARTBEAT_S = 5.0
#: How often a worker that does not own the practice asks the owner.
REMOTE_POLL_S = 0.5
#: Set on a request one worker makes of another: answer from your own table, do not forward.
ROUTED_HEADER = "X-Callstream-Routed"


class Denied(Exception):
    """A request for live data that may not have it; carries the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def authorise(tokens: TokenStore, header: str, ods: str) -> None:
    """Raise ``Denied`` unless ``header`` carries an active wallboard token of ``ods``."""
    if not re.fullmatch(ODS_PATTERN, ods):
        raise Denied(404, "no such practice: the address ends in an ODS code like A81001")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Denied(
            401,
            "missing wallboard token: open the page as /live/practices/<ODS>#token=<token>, "
            "with a token from `callstream tokens create --practice <ODS> --scope wallboard`",
        )
    try:
        record = tokens.verify(token.strip())
    except TokenError as exc:
        log.error("wallboard: token store unreadable: %s", exc)
        raise Denied(503, "the token store cannot be read; tell the callstream operator") from exc
    if record is None:
        raise Denied(401, "token is unknown or revoked: ask the practice for a current one")
    if record.practice != ods:
        raise Denied(403, f"this token is for practice {record.practice}, not {ods}")
    if record.scope != "wallboard":
        raise Denied(
            403,
            f"this is an {record.scope} token; the wallboard needs a wallboard token: "
            f"`callstream tokens create --practice {ods} --scope wallboard`",
        )


class Board:
    """Where a practice's snapshot comes from: this worker's table, or the owner's."""

    def __init__(self, app: faust.App, live: Live, partitions: int) -> None:
        self.app = app
        self.live = live
        self.partitions = partitions

    def owner(self, ods: str, request: Request) -> URL | None:
        """The web server of the worker owning ``ods``'s state; None: this one (or none yet,
        when this one answers from its own table: empty until it has the practice)."""
        if request.headers.get(ROUTED_HEADER):
            return None
        changelog = self.live.table.changelog_topic.get_topic_name()
        partition = partition_of(ods.encode(), self.partitions)
        mine = URL(str(self.app.conf.canonical_url))
        for url, topics in self.app.router.table_metadata(TABLE_NAME).items():
            if partition in topics.get(changelog, ()):
                owner = URL(url)
                return None if (owner.host, owner.port) == (mine.host, mine.port) else owner
        return None

    async def snapshot(self, ods: str, request: Request) -> dict[str, Any]:
        owner = self.owner(ods, request)
        if owner is None:
            return self.live.snapshot(ods).model_dump()
        url = owner.with_path(STATE_PATH.format(ods=ods))
        headers = {"Authorization": request.headers.get("Authorization", ""), ROUTED_HEADER: "1"}
        async with self.app.http_client.get(url, headers=headers) as answer:
            body = await answer.json()
            if answer.status != 200:
                raise Denied(answer.status, body.get("error", "the owning worker refused"))
            return body


def register(app: faust.App, live: Live, settings: Settings) -> None:
    """Add the wallboard's page and data routes to the worker's web server."""
    tokens = TokenStore.for_data_dir(settings.data_dir)
    board = Board(app, live, settings.topic_partitions)
    page = PAGE_FILE.read_text()

    def refuse(view: View, denied: Denied) -> Response:
        return view.json({"error": str(denied)}, status=denied.status)

    @app.page(PAGE_PATH, name="wallboard_page")
    class PageView(View):
        async def get(self, request: Request, ods: str) -> Response:
            if not re.fullmatch(ODS_PATTERN, ods):
                return refuse(self, Denied(404, "no such practice"))
            return self.html(page.replace("{{ODS}}", ods))

    @app.page(STATE_PATH, name="wallboard_state")
    class StateView(View):
        async def get(self, request: Request, ods: str) -> Response:
            try:
                authorise(tokens, request.headers.get("Authorization", ""), ods)
                return self.json(await board.snapshot(ods, request))
            except Denied as denied:
                return refuse(self, denied)

    @app.page(STREAM_PATH, name="wallboard_stream")
    class StreamView(View):
        async def get(self, request: Request, ods: str) -> Any:
            try:
                authorise(tokens, request.headers.get("Authorization", ""), ods)
            except Denied as denied:
                return refuse(self, denied)
            response = aioweb.StreamResponse(
                headers={
                    "Content-Type": "text/event-stream",
                    "Cache-Control": "no-store",
                    "X-Accel-Buffering": "no",  # a reverse proxy must not hold events back
                }
            )
            await response.prepare(request)  # type: ignore[arg-type]
            try:
                await _stream(board, ods, request, response)
            except (ConnectionError, asyncio.CancelledError):
                pass  # the page went away
            return response


async def _stream(
    board: Board, ods: str, request: Request, response: aioweb.StreamResponse
) -> None:
    """Write a snapshot whenever the figures change, and at least every HEARTBEAT_S, until
    the worker stops (the page reconnects, maybe to another worker)."""
    loop = asyncio.get_running_loop()
    sent: dict[str, Any] | None = None
    sent_at = 0.0
    while not board.app.should_stop:
        try:
            snapshot = await board.snapshot(ods, request)
            event = "snapshot"
        except Denied as denied:
            snapshot, event = {"error": str(denied)}, "problem"
        except Exception as exc:  # the owning worker is away (a rebalance): say so, go on
            why = f"live figures unavailable for now ({type(exc).__name__})"
            snapshot, event = {"error": why}, "problem"
        figures = {k: v for k, v in snapshot.items() if k != "as_of"}
        if figures != sent or loop.time() - sent_at >= HEARTBEAT_S:
            await response.write(f"event: {event}\ndata: {json.dumps(snapshot)}\n\n".encode())
            sent, sent_at = figures, loop.time()
        if board.owner(ods, request) is None:
            await board.live.changed(HEARTBEAT_S)
        else:
            await asyncio.sleep(REMOTE_POLL_S)
