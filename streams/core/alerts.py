"""Alert rules (YAML) and their evaluation: when a practice's phones, or the worker, go wrong.

Pure logic (no Kafka, no HTTP): the worker reads each practice's live figures on a timer,
``Alerting.evaluate`` says which rules start or stop holding, and the worker sends and
records what it says. A rule file::

    default:                      # every practice (and, for worker metrics, the worker)
      - name: long queue
        when: queue_length >= 10
        for: 2m                   # must hold this long before it fires
      - name: feed stopped
        when: no_events_for >= 20m
        during: opening_hours     # the rules' opening hours; else Mon-Fri 08:00-18:30
    practices:
      A81001:                     # replaces the default rule of the same name, adds others
        - name: long queue
          when: queue_length >= 6

One incident sends one message: a rule fires once when its condition has held ``for``;
then nothing more is sent until it has *not* held for ``recover_after`` (default 5 minutes,
the cool-down), when one recovery message goes. A condition that flickers meanwhile is the
same incident. Outside its ``during`` hours a rule neither fires nor recovers. Which
incidents are open is recorded with the notices (the worker's ``alerts`` table): ``restore``
takes them back, so a restart neither repeats an alert nor forgets its recovery.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from models.events import ODS_PATTERN
from streams.core import errors
from streams.core.live import Snapshot
from streams.core.nhs_time import CORE_START, core_category, to_london
from streams.core.rules import Rules

#: What a rule can test: the practice's live figures (streams.core.live) ...
PRACTICE_METRICS = {
    "queue_length": "calls in the queue now",
    "longest_wait_s": "seconds the longest-waiting caller has waited",
    "abandoned_15m": "calls that ended missed in the last 15 minutes",
    "missed_share_30m": "missed share (0-1) of the inbound calls that ended in the last 30 minutes",
    "no_events_for": "seconds since the worker last received an event of the practice",
}
#: ... and the worker's own.
WORKER_METRICS = {"dead_letters_10m": "dead letters this worker sent in the last 10 minutes"}
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_WHEN = re.compile(rf"^\s*([a-z_0-9]+)\s*(>=|<=|==|>|<)\s*({_NUMBER})\s*([smh]?)\s*$")
#: The metrics that are times in seconds: only these take a unit (``20m``).
TIME_METRICS = frozenset({"longest_wait_s", "no_events_for"})
#: Where a wallboard turns the queue red when no alert rule watches the queue.
WALLBOARD_QUEUE_ALERT = 10
#: Silences: under ``during`` hours they count from when the hours began, so a feed quiet
#: since last night is not "stopped" the moment the practice opens.
SILENCES = frozenset({"no_events_for"})
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}
DEFAULT_RULES = Path(__file__).with_name("rules") / "alerts.yaml"


def seconds(value: Any) -> float:
    """``90``, ``"90s"``, ``"2m"`` or ``"1h"`` in seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"'{value}' is not a duration like 90s, 2m or 1h")
        return float(value)
    match = re.fullmatch(rf"\s*({_NUMBER})\s*([smh]?)\s*", str(value))
    if not match or not math.isfinite(float(match[1])):
        raise ValueError(f"'{value}' is not a duration like 90s, 2m or 1h")
    return float(match[1]) * _UNITS[match[2]]


def duration_text(seconds: float) -> str:
    """``3h 2m``, ``20m 5s``, ``45s``: a time as a person reads it in a message."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


class AlertRule(BaseModel):
    """One rule: ``when`` is ``<metric> <op> <number>[s|m|h]``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1)
    when: str
    hold_s: float = Field(0.0, alias="for", ge=0)
    during: Literal["always", "core_hours", "opening_hours"] = "always"
    recover_after_s: float = Field(300.0, alias="recover_after", ge=0)

    @field_validator("hold_s", "recover_after_s", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return seconds(value)

    @field_validator("when")
    @classmethod
    def _condition(cls, value: str) -> str:
        match = _WHEN.match(value)
        if not match:
            raise ValueError(
                f"'{value}' is not a condition like 'queue_length >= 10' (metric, one of "
                f"{', '.join(_OPS)}, a number or a duration)"
            )
        if match[1] not in PRACTICE_METRICS | WORKER_METRICS:
            known = ", ".join(sorted(PRACTICE_METRICS | WORKER_METRICS))
            raise ValueError(f"unknown metric '{match[1]}': use one of {known}")
        if match[4] and match[1] not in TIME_METRICS:
            raise ValueError(
                f"'{match[1]}' is a count, not a time: write its number without '{match[4]}'"
            )
        if not math.isfinite(float(match[3])):
            raise ValueError(f"'{match[3]}' is too large a number for a rule")
        return value.strip()

    @property
    def metric(self) -> str:
        return _WHEN.match(self.when)[1]  # type: ignore[index]

    @property
    def threshold(self) -> float:
        match = _WHEN.match(self.when)
        return float(match[3]) * _UNITS[match[4]]  # type: ignore[index]

    def holds(self, value: float | None) -> bool:
        op = _WHEN.match(self.when)[2]  # type: ignore[index]
        return value is not None and _OPS[op](value, self.threshold)


class AlertRules(BaseModel):
    """The rule file: default rules and per-practice ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: list[AlertRule] = []
    practices: dict[Annotated[str, StringConstraints(pattern=ODS_PATTERN)], list[AlertRule]] = {}

    @field_validator("default")
    @classmethod
    def _default_names(cls, rules: list[AlertRule]) -> list[AlertRule]:
        _one_of_each_name(rules)
        return rules

    @field_validator("practices")
    @classmethod
    def _practice_rules(cls, practices: dict[str, list[AlertRule]]) -> dict[str, list[AlertRule]]:
        for rules in practices.values():
            _one_of_each_name(rules)
            for rule in rules:
                if rule.metric in WORKER_METRICS:
                    raise ValueError(
                        f"rule '{rule.name}': {rule.metric} is the worker's, not a practice's: "
                        "put the rule under default"
                    )
        return practices

    def for_practice(self, practice: str) -> list[AlertRule]:
        """The practice's rules on its own figures (its own replace defaults of that name)."""
        own = self.practices.get(practice, [])
        names = {rule.name for rule in own}
        rules = [r for r in self.default if r.name not in names] + own
        return [r for r in rules if r.metric in PRACTICE_METRICS]

    def queue_alert_at(self, practice: str | None) -> int:
        """The queue length from which a ``queue_length`` rule of the practice (the default
        rules for None: a PCN's or ICB's board) holds: where its wallboard turns the queue
        red. ``WALLBOARD_QUEUE_ALERT`` when no rule watches the queue."""
        rules = self.for_practice(practice) if practice else self.default
        starts = []
        for rule in rules:
            if rule.metric != "queue_length":
                continue
            op, threshold = _WHEN.match(rule.when)[2], rule.threshold  # type: ignore[index]
            if op in (">=", "=="):
                starts.append(math.ceil(threshold))
            elif op == ">":
                starts.append(math.floor(threshold) + 1)
        return min(starts, default=WALLBOARD_QUEUE_ALERT)

    def for_worker(self) -> list[AlertRule]:
        return [r for r in self.default if r.metric in WORKER_METRICS]


def _one_of_each_name(rules: list[AlertRule]) -> None:
    """Rules are told apart by name (an incident is per rule name): two of one name would
    share an incident, and one would never fire while the other held."""
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise ValueError(f"two rules are named '{rule.name}': give each its own name")
        seen.add(rule.name)


def practice_values(snapshot: Snapshot) -> dict[str, float | None]:
    """A practice's live figures under the names rules use."""
    silent = (
        None
        if snapshot.last_received_at is None
        else max(0.0, snapshot.as_of - snapshot.last_received_at)
    )
    ended = snapshot.ended_30m
    return {
        "queue_length": snapshot.in_queue,
        "longest_wait_s": snapshot.longest_wait_s,
        "abandoned_15m": snapshot.abandoned_15m,
        "missed_share_30m": snapshot.missed_30m / ended if ended else None,
        "no_events_for": silent,
    }


def load_alert_rules(path: Path | None = None) -> AlertRules:
    """The rules of ``path`` (None: the packaged defaults); ``ValueError`` naming the field."""
    source = path or DEFAULT_RULES
    try:
        raw = yaml.safe_load(source.read_text("utf-8")) or {}
        return AlertRules.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"alert rules {source}: {errors.one_line(exc)}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(
            f"alert rules {source} cannot be read: {errors.unreadable_text(exc)}"
        ) from None


@dataclass(frozen=True)
class Notice:
    """A rule started (``firing``) or stopped (``recovered``) holding for a subject."""

    kind: Literal["firing", "recovered"]
    rule: AlertRule
    practice: str | None  # None: the worker
    value: float | None
    at: float

    @property
    def text(self) -> str:
        who = self.practice or "callstream worker"
        now = figure_text(self.rule.when, self.value)
        if self.kind == "firing":
            held = f" for {duration_text(self.rule.hold_s)}" if self.rule.hold_s else ""
            return f"{who}: {self.rule.name}: {self.rule.when}{held} (now {now})"
        return f"{who}: recovered: {self.rule.name}: {self.rule.when} no longer holds (now {now})"


def figure_text(when: str, value: float | None) -> str:
    """A rule's figure as its messages say it: a time as a duration (``25m``), a count or
    share as written (``0.25``), ``no figure`` when there was none. ``when``: the rule's
    condition, whose metric says which."""
    if value is None:
        return "no figure"
    match = _WHEN.match(when)
    if match and match[1] in TIME_METRICS:
        return duration_text(value)
    return f"{value:g}"


#: Whose rule: (practice, or None for the worker's own; the rule's name).
Subject = tuple[str | None, str]


@dataclass
class _Incident:
    firing: bool = False
    since: float | None = None  # since when the condition has disagreed with ``firing``


@dataclass
class Alerting:
    """The state of every rule for every subject, and the step from one evaluation to the next."""

    rules: AlertRules
    calendar: Rules
    incidents: dict[Subject, _Incident] = field(default_factory=dict)

    def evaluate(
        self, practice: str | None, values: Mapping[str, float | None], now: float
    ) -> list[Notice]:
        """The notices of one subject's rules at ``now`` (``practice`` None: the worker's)."""
        rules = self.rules.for_worker() if practice is None else self.rules.for_practice(practice)
        notices = []
        for rule in rules:
            opened = self._opened(rule, now)
            if opened is None:
                continue
            value = values.get(rule.metric)
            incident = self.incidents.setdefault((practice, rule.name), _Incident())
            if rule.metric in SILENCES and value is not None and not incident.firing:
                # A closed night or weekend is no silence; a silence already alerted stays
                # one until events come again (no false recovery at opening).
                value = min(value, now - opened)
            kind = _step(rule, incident, rule.holds(value), now)
            if kind is not None:
                notices.append(Notice(kind, rule, practice, value, now))
        return notices

    def restore(self, firing: Iterable[Subject], worker_too: bool = False) -> None:
        """Take the incidents recorded as open (fired, no recovery since) as this worker's:
        after a restart, so an incident is not announced again and still recovers once, or
        after a rebalance, for the practices another worker evaluated meanwhile. Practices'
        incidents not in ``firing`` are closed; the worker's own rules (practice None) are
        taken only with ``worker_too`` (they are this worker's: at its start). An incident
        already so keeps its count towards changing."""
        open_now = set(firing)
        for key, incident in self.incidents.items():
            if key[0] is not None and incident.firing and key not in open_now:
                self.incidents[key] = _Incident()
        for key in open_now:
            if key[0] is None and not worker_too:
                continue
            incident = self.incidents.setdefault(key, _Incident())
            if not incident.firing:
                incident.firing, incident.since = True, None

    def _opened(self, rule: AlertRule, now: float) -> float | None:
        """When the rule's hours began that are under way at ``now`` (Unix seconds; minus
        infinity for ``always``), or None outside them."""
        if rule.during == "always":
            return -math.inf
        local = to_london(datetime.fromtimestamp(now, UTC))
        hours = None
        if rule.during == "opening_hours":
            hours = self.calendar.opening_hours.get(local.strftime("%A").lower())  # type: ignore[call-overload]
        if hours is not None:
            if not hours.open <= local.time() < hours.close:
                return None
            start = hours.open
        elif core_category(local) == "Non-Core":
            return None
        else:
            start = CORE_START
        began = local.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
        return began.timestamp()


def _step(rule: AlertRule, incident: _Incident, holds: bool, now: float) -> str | None:
    """Fire after the condition has held ``for``; recover after it has not for
    ``recover_after``; anything shorter changes nothing."""
    if holds == incident.firing:  # as the incident already says: restart the count
        incident.since = None
        return None
    if incident.since is None:
        incident.since = now
    needed = rule.recover_after_s if incident.firing else rule.hold_s
    if now - incident.since < needed:
        return None
    incident.firing, incident.since = not incident.firing, None
    return "firing" if incident.firing else "recovered"
