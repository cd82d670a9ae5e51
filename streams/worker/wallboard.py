"""The wallboard on the worker's web server: live figures of a practice, or of a PCN or an ICB
(the sum over its practices), pushed as they change.

Routes, for ``practices/{ODS}``, ``pcns/{CODE}`` and ``icbs/{CODE}`` under ``/live/``:

- ``GET /live/practices/{ods}``: the page (self-contained: inline CSS and script, no other
  host). It holds no figures, so it needs no token; it reads the wallboard token from the
  URL's fragment (``#token=...``, never sent to a server, so never in an access log).
- ``GET /live/practices/{ods}/stream``: server-sent events, one ``Snapshot`` (JSON) per
  change of the figures and at least every ``HEARTBEAT_S``.
- ``GET /live/practices/{ods}/state``: the current ``Snapshot`` as JSON.
- ``GET /live/pcns/{code}/parts?practices=A,B``: (PCN and ICB only) the snapshots of those of
  the organisation's practices whose state this worker holds; what one worker asks another.

The data routes need ``Authorization: Bearer <token>`` with a wallboard token of that very
practice, PCN or ICB (``callstream tokens create --practice ODS --scope wallboard``, or
``--pcn CODE`` / ``--icb CODE``): an ingest token is refused, as a wallboard token is refused
by the ingest, and a practice's token does not open its PCN's board (nor the reverse).

A practice's state lives on the worker that owns its partition of the live table: another
worker asks that one for it. A PCN's or ICB's practices come from the reference data in the
warehouse (NHS England's practice mapping, view ``practice_hierarchy``, read again every
``MEMBERS_TTL_S``); the worker answering a roll-up groups them by the worker holding each,
asks each other worker once for all of its share (``parts``), and sums (``roll_up``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import faust
from aiohttp import web as aioweb
from faust.web import Request, Response, View
from yarl import URL

from streams.core.alerts import AlertRules, load_alert_rules
from streams.core.live import Snapshot, roll_up
from streams.ingest.tokens import CODE_PATTERNS, Level, TokenError, TokenStore, describe
from streams.settings import Settings
from streams.worker.changelog import partition_of
from streams.worker.live import TABLE_NAME, Live
from streams.worker.topology import WarehouseNotOpen

log = logging.getLogger(__name__)

#: Where each level's boards are, under /live/.
LEVEL_PATHS: dict[Level, str] = {"practice": "practices", "pcn": "pcns", "icb": "icbs"}
PAGE_PATH = "/live/{kind}/{{code}}"
STATE_PATH = PAGE_PATH + "/state"
STREAM_PATH = PAGE_PATH + "/stream"
PARTS_PATH = PAGE_PATH + "/parts"
PAGE_FILE = Path(__file__).with_name("wallboard.html")
#: A snapshot goes out at least this often (the page shows how old its figures are).
HEARTBEAT_S = 5.0
#: How often a worker that does not own all the practices of a board asks their owners.
REMOTE_POLL_S = 0.5
#: How long a PCN's or ICB's list of practices is used before it is read again.
MEMBERS_TTL_S = 60.0
#: Set on a request one worker makes of another: answer from your own table, do not forward.
ROUTED_HEADER = "X-Callstream-Routed"

#: The practices of an organisation: (level, code) -> ODS codes.
ReadMembers = Callable[[Level, str], Awaitable[list[str]]]


class Denied(Exception):
    """A request for live data that may not have it; carries the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def path(template: str, level: Level, code: str) -> str:
    return template.format(kind=LEVEL_PATHS[level]).format(code=code)


def authorise(tokens: TokenStore, header: str, code: str, level: Level = "practice") -> None:
    """Raise ``Denied`` unless ``header`` carries an active wallboard token of that practice
    (or PCN, ICB: ``level``)."""
    whom = describe(level, code)
    if not re.fullmatch(CODE_PATTERNS[level], code):
        example = "an ODS code like A81001" if level == "practice" else "its code"
        raise Denied(404, f"no such {whom.split()[0]}: the address ends in {example}")
    scheme, _, token = header.partition(" ")
    command = f"`callstream tokens create --{level} {code} --scope wallboard`"
    if scheme.lower() != "bearer" or not token.strip():
        raise Denied(
            401,
            f"missing wallboard token: open the page as {path(PAGE_PATH, level, code)}"
            f"#token=<token>, with a token from {command}",
        )
    try:
        record = tokens.verify(token.strip())
    except TokenError as exc:
        log.error("wallboard: token store unreadable: %s", exc)
        raise Denied(503, "the token store cannot be read; tell the callstream operator") from exc
    if record is None:
        raise Denied(401, f"token is unknown or revoked: ask {whom} for a current one")
    if (record.level, record.code) != (level, code):
        raise Denied(403, f"this token is for {record.owner}, not {whom}")
    if record.scope != "wallboard":
        raise Denied(
            403,
            f"this is an {record.scope} token; the wallboard needs a wallboard token: {command}",
        )


def by_owner(
    practices: Iterable[str], partitions: int, owners: Mapping[int, URL]
) -> dict[URL | None, list[str]]:
    """The practices grouped by the worker holding their state: ``owners`` maps a partition to
    another worker's web server; a practice of any other partition is this worker's (None)."""
    groups: dict[URL | None, list[str]] = defaultdict(list)
    for practice in practices:
        groups[owners.get(partition_of(practice.encode(), partitions))].append(practice)
    return dict(groups)


class Members:
    """The practices of each PCN and ICB, from the warehouse, kept for ``MEMBERS_TTL_S``."""

    def __init__(self, read: ReadMembers, clock: Callable[[], float]) -> None:
        self.read = read
        self.clock = clock
        self._known: dict[tuple[Level, str], tuple[float, list[str]]] = {}

    async def of(self, level: Level, code: str) -> list[str]:
        """The organisation's practices; ``Denied`` when none are known or none readable."""
        known = self._known.get((level, code))
        if known is None or self.clock() - known[0] > MEMBERS_TTL_S:
            try:
                practices = await self.read(level, code)
            except WarehouseNotOpen as exc:
                raise Denied(503, "the worker is starting; try again in a few seconds") from exc
            except Exception as exc:  # the warehouse is away: say so, the board retries
                log.error("wallboard: practices of %s unreadable: %s", describe(level, code), exc)
                raise Denied(503, "the reference data cannot be read now; try again soon") from exc
            known = (self.clock(), practices)
            self._known[(level, code)] = known
        if not known[1]:
            raise Denied(
                404,
                f"no practices of {describe(level, code)} in the reference data: load NHS "
                "England's practice mapping with `callstream reference load`",
            )
        return known[1]


class Board:
    """Where the figures of a board come from: this worker's table, or the owners'."""

    def __init__(self, app: faust.App, live: Live, partitions: int, members: Members) -> None:
        self.app = app
        self.live = live
        self.partitions = partitions
        self.members = members

    def owners(self, request: Request) -> dict[int, URL]:
        """The partitions of the live table that another worker owns, with its web server
        (none for a request another worker routed here: it wants this worker's table)."""
        if request.headers.get(ROUTED_HEADER):
            return {}
        changelog = self.live.table.changelog_topic.get_topic_name()
        mine = URL(str(self.app.conf.canonical_url))
        owners: dict[int, URL] = {}
        for url, topics in self.app.router.table_metadata(TABLE_NAME).items():
            owner = URL(url)
            if (owner.host, owner.port) != (mine.host, mine.port):
                owners.update(dict.fromkeys(topics.get(changelog, ()), owner))
        return owners

    async def figures(self, level: Level, code: str, request: Request) -> tuple[dict, bool]:
        """The board's snapshot, and whether this worker holds all of it (it then need not
        poll: it waits on its own table's changes)."""
        practices = [code] if level == "practice" else await self.members.of(level, code)
        groups = by_owner(practices, self.partitions, self.owners(request))
        parts = [self.live.snapshot(practice) for practice in groups.pop(None, [])]
        asked = [self._ask(url, level, code, share, request) for url, share in groups.items()]
        for answer in await asyncio.gather(*asked):
            parts += answer
        if level == "practice":
            return parts[0].model_dump(), not groups
        total = roll_up(code, parts, self.live.clock())
        return {**total.model_dump(), "practices": len(practices)}, not groups

    async def parts(self, level: Level, code: str, asked: str) -> list[dict[str, Any]]:
        """Snapshots from this worker's table of the organisation's practices in ``asked``."""
        practices = set(await self.members.of(level, code))
        wanted = [p for p in asked.split(",") if p in practices]
        return [self.live.snapshot(practice).model_dump() for practice in wanted]

    async def _ask(
        self, owner: URL, level: Level, code: str, practices: list[str], request: Request
    ) -> list[Snapshot]:
        headers = {"Authorization": request.headers.get("Authorization", ""), ROUTED_HEADER: "1"}
        if level == "practice":
            url = owner.with_path(path(STATE_PATH, level, code))
        else:
            url = owner.with_path(path(PARTS_PATH, level, code))
            url = url.with_query(practices=",".join(practices))
        async with self.app.http_client.get(url, headers=headers) as answer:
            body = await answer.json()
            if answer.status != 200:
                raise Denied(answer.status, body.get("error", "the owning worker refused"))
        rows = [body] if level == "practice" else body["parts"]
        return [Snapshot.model_validate(row) for row in rows]


def register(app: faust.App, live: Live, settings: Settings, read_members: ReadMembers) -> None:
    """Add the wallboards' pages and data routes to the worker's web server."""
    tokens = TokenStore.for_data_dir(settings.data_dir)
    members = Members(read_members, live.clock)
    board = Board(app, live, settings.topic_partitions, members)
    page = PAGE_FILE.read_text()
    alerts = load_alert_rules(settings.alert_rules_file)
    for level in LEVEL_PATHS:
        _routes(app, board, tokens, page, level, alerts)


def _routes(
    app: faust.App,
    board: Board,
    tokens: TokenStore,
    page: str,
    level: Level,
    alerts: AlertRules,
) -> None:
    kind = LEVEL_PATHS[level]

    def refuse(view: View, denied: Denied) -> Response:
        return view.json({"error": str(denied)}, status=denied.status)

    @app.page(PAGE_PATH.format(kind=kind), name=f"wallboard_{level}_page")
    class PageView(View):
        async def get(self, request: Request, code: str) -> Response:
            if not re.fullmatch(CODE_PATTERNS[level], code):
                return refuse(self, Denied(404, f"no such {describe(level, code).split()[0]}"))
            who = "" if level == "practice" else f"{level.upper()} "
            key = code if level == "practice" else f"{level}:{code}"
            red = alerts.queue_alert_at(code if level == "practice" else None)
            filled = page.replace("{{WHO}}", who).replace("{{KEY}}", key)
            filled = filled.replace("{{QUEUE_ALERT}}", str(red))
            return self.html(filled.replace("{{ODS}}", code))

    @app.page(STATE_PATH.format(kind=kind), name=f"wallboard_{level}_state")
    class StateView(View):
        async def get(self, request: Request, code: str) -> Response:
            try:
                authorise(tokens, request.headers.get("Authorization", ""), code, level)
                return self.json((await board.figures(level, code, request))[0])
            except Denied as denied:
                return refuse(self, denied)

    @app.page(STREAM_PATH.format(kind=kind), name=f"wallboard_{level}_stream")
    class StreamView(View):
        async def get(self, request: Request, code: str) -> Any:
            try:
                authorise(tokens, request.headers.get("Authorization", ""), code, level)
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
                await _stream(board, level, code, request, response)
            except (ConnectionError, asyncio.CancelledError):
                pass  # the page went away
            return response

    if level == "practice":
        return

    @app.page(PARTS_PATH.format(kind=kind), name=f"wallboard_{level}_parts")
    class PartsView(View):
        async def get(self, request: Request, code: str) -> Response:
            try:
                authorise(tokens, request.headers.get("Authorization", ""), code, level)
                asked = request.query.get("practices", "")  # type: ignore[attr-defined]
                return self.json({"parts": await board.parts(level, code, asked)})
            except Denied as denied:
                return refuse(self, denied)


async def _stream(
    board: Board, level: Level, code: str, request: Request, response: aioweb.StreamResponse
) -> None:
    """Write a snapshot whenever the figures change, and at least every HEARTBEAT_S, until
    the worker stops (the page reconnects, maybe to another worker)."""
    loop = asyncio.get_running_loop()
    sent: dict[str, Any] | None = None
    sent_at = 0.0
    while not board.app.should_stop:
        local = False
        try:
            snapshot, local = await board.figures(level, code, request)
            event = "snapshot"
        except Denied as denied:
            snapshot, event = {"error": str(denied)}, "problem"
        except Exception as exc:  # an owning worker is away (a rebalance): say so, go on
            why = f"live figures unavailable for now ({type(exc).__name__})"
            snapshot, event = {"error": why}, "problem"
        figures = {k: v for k, v in snapshot.items() if k != "as_of"}
        if figures != sent or loop.time() - sent_at >= HEARTBEAT_S:
            await response.write(f"event: {event}\ndata: {json.dumps(snapshot)}\n\n".encode())
            sent, sent_at = figures, loop.time()
        if local:
            await board.live.changed(HEARTBEAT_S)
        else:
            await asyncio.sleep(REMOTE_POLL_S)
