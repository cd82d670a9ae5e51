"""Alerts in the worker: the rules checked on a timer, messages sent with apprise, every
notice recorded in the warehouse (``alert_events``, view ``alerts``).

Each worker checks the practices whose live state it owns (so each practice is checked by
one worker) and its own dead letters. What to say and when is ``streams.core.alerts``; this
module only sends (apprise: Teams, Slack, email, webhooks, from ``CALLSTREAM_ALERT_URLS``, on
a thread as apprise blocks) and records. A notice the warehouse could not take yet is kept
and recorded with the next ones: none is dropped.

The open incidents outlive the process: before its first check, and after every rebalance
(practices may have come from another worker), the worker reads them back from the
warehouse (``open_alerts``), with its own notices not recorded yet on top, and checks
nothing until it could. The worker's own rules are taken back at start only, from notices
of a worker on the same host (its previous run).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import apprise

from streams.core.alerts import Alerting, Notice, load_alert_rules, practice_values
from streams.core.redact import hide_in_logs
from streams.core.rules import load_rules
from streams.worker.topology import Pipeline

log = logging.getLogger(__name__)

#: The dead-letter window of the worker rule ``dead_letters_10m``.
DEAD_LETTER_WINDOW_S = 600.0
#: Practices whose rules are checked before the timer lets the event loop run others.
ALERT_CHECKS_PER_STEP = 200


def notifier(urls: str | None) -> apprise.Apprise:
    """An apprise sender for the URLs of ``CALLSTREAM_ALERT_URLS``; ``ValueError`` naming the
    position of one apprise does not understand (never the URL: it may hold a secret)."""
    sender = apprise.Apprise()
    for n, url in enumerate(u for u in re.split(r"[\s,]+", urls or "") if u):
        hide_in_logs(url)
        if not sender.add(url):
            scheme = url.split("://", 1)[0] if "://" in url else "(none)"
            raise ValueError(
                f"CALLSTREAM_ALERT_URLS: URL {n + 1} (scheme {scheme}) is not one apprise "
                "can send to; see apprise's list of services"
            )
    return sender


def row(notice: Notice, sent: bool, worker: str) -> tuple[Any, ...]:
    """The notice as a row of alert_events (migration 023)."""
    return (
        uuid.uuid4().hex,
        notice.practice,
        notice.rule.name,
        notice.kind,
        notice.rule.when,
        notice.value,
        datetime.fromtimestamp(notice.at, UTC),
        sent,
        worker,
    )


def register(p: Pipeline) -> None:
    """Add the alert timer to the app."""
    settings = p.settings
    alerting = Alerting(
        load_alert_rules(settings.alert_rules_file), load_rules(settings.rules_file)
    )
    secret = settings.alert_urls.get_secret_value() if settings.alert_urls else None
    sender = notifier(secret)
    host = socket.gethostname()
    worker = f"{host}:{os.getpid()}"
    unrecorded: list[tuple[Any, ...]] = []
    restored: list[bool] = []  # [True] once the open incidents were read back since a rebalance
    started: list[bool] = []  # [True] once the worker's own incidents were read back

    def rebalanced(sender: object, **kwargs: Any) -> None:
        restored.clear()

    p.app.on_rebalance_complete.connect(rebalanced)

    async def restore() -> bool:
        """Read the open incidents back; False (and nothing checked) while it cannot."""
        if p.in_warehouse is None:  # no warehouse: nothing recorded to read back
            restored[:] = [True]
            return True
        try:
            recorded = await p.in_warehouse(lambda warehouse: warehouse.open_alerts())
        except Exception as exc:  # checking without them could repeat an alert: wait
            log.warning("alerts: open incidents not readable yet, not checking: %s", exc)
            return False
        firing = {
            (practice, rule)
            for practice, rule, by in recorded
            if practice is not None or by.split(":", 1)[0] == host
        }
        for notice in unrecorded:  # this worker's latest word, not in the warehouse yet
            subject = (notice[1], notice[2])
            (firing.add if notice[3] == "firing" else firing.discard)(subject)
        alerting.restore(firing, worker_too=not started)
        log.info("alerts: %d open incidents taken back from the warehouse", len(firing))
        restored[:] = started[:] = [True]
        return True

    def send(notice: Notice) -> bool:
        if not len(sender):
            return False
        title = "callstream: recovered" if notice.kind == "recovered" else "callstream alert"
        return bool(sender.notify(title=title, body=notice.text))

    @p.app.timer(interval=settings.alert_every_s)
    async def check_alerts() -> None:
        if not restored and not await restore():
            return
        now = time.time()
        notices: list[Notice] = []
        for checked, key in enumerate(list(p.live.table.data.keys()), start=1):
            live = p.live.state(key)
            if live is not None:
                values = practice_values(live.snapshot(now, p.live.open_max_s))
                notices += alerting.evaluate(live.practice, values, now)
            if checked % ALERT_CHECKS_PER_STEP == 0:
                # Thousands of practices take a second: let the events and the wallboard
                # through meanwhile instead of stalling the worker for all of it.
                await asyncio.sleep(0)
        dead = p.metrics.dead_letters_within(DEAD_LETTER_WINDOW_S)
        notices += alerting.evaluate(None, {"dead_letters_10m": dead}, now)
        for notice in notices:
            sent = await asyncio.to_thread(send, notice)
            log.warning("alert %s%s", notice.text, "" if sent else " (not sent)")
            unrecorded.append(row(notice, sent, worker))
        if unrecorded and p.record_alerts is not None:
            try:
                await p.record_alerts(list(unrecorded))
            except Exception as exc:  # kept, recorded with the next ones
                log.error("alerts: %d not recorded yet: %s", len(unrecorded), exc)
            else:
                unrecorded.clear()
