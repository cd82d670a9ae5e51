"""A call's events -> the call as NHS England counts it (docs/classification.md).

Pure Python (no Kafka, no DuckDB): the streaming worker, ``callstream classify`` and the
tests all call ``classify_call``, so there is one definition of every CBT measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from models.classified import ClassifiedCall, Outcome, Routing
from models.events import EventType, PseudonymisedEvent, event_sort_key
from streams.core.assemble import CallAssembly
from streams.core.buckets import duration_bucket, wait_bucket, whole_seconds
from streams.core.nhs_time import core_category, time_band, to_london, to_utc
from streams.core.rules import Rules, team_key

_EXPECTS_PERSON = (EventType.queue_joined, EventType.ringing, EventType.voicemail)


def classify_call(
    events: Sequence[PseudonymisedEvent] | CallAssembly, rules: Rules
) -> ClassifiedCall:
    """Classify one call from its events (any order, duplicates allowed).

    Raises ``ValueError`` for no events or events of more than one call.
    """
    assembly = events if isinstance(events, CallAssembly) else CallAssembly(events)
    return classify_assembly(assembly, rules)


def classify_assembly(assembly: CallAssembly, rules: Rules) -> ClassifiedCall:
    """Classify an assembled call (its events already distinct and in order)."""
    ordered = assembly.events
    if not ordered:
        raise ValueError("a call needs at least one event to be classified")
    first: dict[EventType, PseudonymisedEvent] = {}
    last_divert: PseudonymisedEvent | None = None
    request_type: str | None = None
    transfers: list[PseudonymisedEvent] = []
    callbacks: list[PseudonymisedEvent] = []
    ended: PseudonymisedEvent | None = None  # the last: a leg's end is not the call's
    caller_key: str | None = None
    for event in ordered:
        kind = event.type
        first.setdefault(kind, event)
        if kind is EventType.ivr_option:
            request_type = (
                event.request_type or rules.request_type_for(event.option) or request_type
            )
        elif kind is EventType.ivr_divert:
            last_divert = event
        elif kind is EventType.transferred:
            transfers.append(event)
        elif kind is EventType.callback_made:
            callbacks.append(event)
        elif kind is EventType.call_ended:
            ended = event
        if caller_key is None and event.caller_key is not None:
            caller_key = event.caller_key

    started = first.get(EventType.call_started)
    if started is not None:
        start = started.at
        caller_key = started.caller_key
    else:
        start = ordered[0].at
    inbound = assembly.inbound
    local = to_london(start)

    answered = first.get(EventType.answered)
    requested = first.get(EventType.callback_requested)

    outcome: Outcome | None = None
    wait_s = talk_s = None
    if inbound:
        outcome = _outcome(first)
        # An answer the phone system recorded without its time measures neither wait nor talk.
        timed = answered is None or answered.time_known is not False
        wait_s = _wait(outcome, first, ended, start) if timed else None
        if outcome == "answered" and answered is not None and ended is not None and timed:
            talk_s = whole_seconds(answered.at, ended.at)

    first_team = answered.team if answered is not None else None
    return ClassifiedCall(
        practice=ordered[0].practice,
        call_id=ordered[0].call_id,
        started_at=to_utc(start),
        local_date=local.date(),
        time_band=time_band(local.time()),
        core_category=core_category(local),
        inbound=inbound,
        outcome=outcome,
        wait_s=wait_s,
        wait_bucket=wait_bucket(wait_s) if wait_s is not None else None,
        talk_s=talk_s,
        duration_bucket=duration_bucket(talk_s) if talk_s is not None else None,
        callback_made=bool(callbacks),
        request_type=request_type,
        first_team=first_team,
        transfers=len(transfers),
        routing=_routing(answered, transfers, last_divert),
        caller_key=caller_key,
        complete=ended is not None,
        rules_version=rules.version,
        ended_at=to_utc(ended.at) if ended is not None else None,
        callback_answered=(any(c.outcome == "answered" for c in callbacks) if callbacks else None),
        callback_wait_s=(
            whole_seconds(requested.at, callbacks[0].at)
            if requested is not None and callbacks
            else None
        ),
        divert_target=last_divert.target if last_divert is not None else None,
        events=len(ordered),
        first_agent=answered.agent if answered is not None else None,
        answered_at=to_utc(answered.at) if answered is not None else None,
    )


def _outcome(first: dict[EventType, PseudonymisedEvent]) -> Outcome:
    """Exactly one outcome, checked in the rulebook's order."""
    if EventType.answered in first:
        return "answered"
    if EventType.callback_requested in first:
        return "callback_requested"
    if any(kind in first for kind in _EXPECTS_PERSON):
        return "missed"
    return "ended_in_ivr"


def _wait(
    outcome: Outcome,
    first: dict[EventType, PseudonymisedEvent],
    ended: PseudonymisedEvent | None,
    start: datetime,
) -> int | None:
    """Whole seconds from queue join (else ringing, else call start) to the outcome; a queue
    joined or a line rung after the outcome (answered, then transferred into a queue) is not
    part of the wait."""
    if outcome == "ended_in_ivr":
        return None
    if outcome == "answered":
        end = first[EventType.answered]
    elif outcome == "callback_requested":
        end = first[EventType.callback_requested]
    else:
        end = first.get(EventType.voicemail) or ended
        if end is None:
            return None  # missed and still going: the wait is not known yet
    until = event_sort_key(end)
    began = next(
        (
            event
            for kind in (EventType.queue_joined, EventType.ringing)
            if (event := first.get(kind)) is not None and event_sort_key(event) <= until
        ),
        None,
    )
    return whole_seconds(began.at if began is not None else start, end.at)


def _routing(
    answered: PseudonymisedEvent | None,
    transfers: list[PseudonymisedEvent],
    divert: PseudonymisedEvent | None,
) -> Routing:
    """Did the caller reach the right place: first team kept, moved on, or signposted."""
    if answered is not None:
        after = event_sort_key(answered)
        first = team_key(answered.team or "")
        moved = any(team_key(t.team or "") != first for t in transfers if event_sort_key(t) > after)
        return "transferred" if moved else "right_first_time"
    if divert is not None:
        return "signposted"
    return "unrouted"
