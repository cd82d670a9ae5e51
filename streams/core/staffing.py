"""How many people each quarter hour needs on the phones, and what a rota would achieve.

The queueing maths is pyworkforce's Erlang C (a maintained implementation, not ours):
calls arrive at random (Poisson) within a quarter hour, every caller waits until answered,
and a person is busy for the call's talk time. pyworkforce 0.5 has no Erlang A, so callers
who hang up are not in the model: the people needed are what it takes if everyone waited,
which errs on the safe side (docs/staffing.md says what that means for a practice).

Pure: rows of ``sql/reports/staffing_demand.sql`` in, one plan per quarter hour out; the
commands and the dashboards read the warehouse, this module only does the sums.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import time

from pydantic import BaseModel, ConfigDict, Field
from pyworkforce.queuing import ErlangC

from streams.core.rules import LONGEST_WITHIN_S, StaffingTarget

QUARTER_MINUTES = 15
#: The quarter hours a demand shift takes calls from (the 8am scramble: 08:00 to 08:30).
SHIFT_WINDOW = (time(8, 0), time(8, 30))
#: The columns of ``combine``'s rows.
COMBINED_COLUMNS = (
    "slot_start",
    "slot",
    "practices",
    "offered",
    "offered_first",
    "offered_repeat",
    "needed",
    "rostered",
    "observed",
    "share_in_time_observed",
    "share_in_time_needed",
)


class Target(BaseModel):
    """A service target: ``level`` of calls answered within ``within_s`` seconds, with
    ``shrinkage`` the share of rota time people are off the phones."""

    model_config = ConfigDict(frozen=True)

    level: float = Field(gt=0, lt=1)
    within_s: int = Field(gt=0, le=LONGEST_WITHIN_S)
    shrinkage: float = Field(0.0, ge=0, lt=1)

    def overridden(self, own: StaffingTarget | None) -> Target:
        """This target with a practice's own values (the rules' ``staffing``) where it has any."""
        if own is None:
            return self
        return Target(
            level=own.target if own.target is not None else self.level,
            within_s=own.within_s if own.within_s is not None else self.within_s,
            shrinkage=own.shrinkage if own.shrinkage is not None else self.shrinkage,
        )


class QuarterDemand(BaseModel):
    """One row of ``reports/staffing_demand``: a practice's average quarter hour."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    practice: str
    slot_start: time
    slot: str
    days: int
    offered: float
    offered_first: float
    offered_repeat: float
    talk_s: float | None
    band_talk_s: float | None
    day_talk_s: float | None
    patience_s: float | None
    observed: float | None


class QuarterPlan(BaseModel):
    """What one quarter hour needs and what its people achieve (per average day).

    ``needed`` are people on the phones for the target, ``rostered`` the people to put on
    the rota for that once shrinkage is allowed for; ``share_in_time_*`` are the shares of
    calls Erlang C expects answered within the target time with the people observed and
    with the people needed. Null where there is nothing to work it out from.
    """

    model_config = ConfigDict(frozen=True)

    practice: str
    slot_start: time
    slot: str
    offered: float
    offered_first: float
    offered_repeat: float
    talk_s: float | None
    patience_s: float | None
    needed: int | None
    rostered: int | None
    observed: float | None
    share_in_time_observed: float | None
    share_in_time_needed: float | None


def plan(
    demand: Iterable[QuarterDemand], targets: Mapping[str, Target], shift_demand: float = 0.0
) -> list[QuarterPlan]:
    """The plan of every quarter hour; ``targets`` by practice. ``shift_demand`` moves that
    share of the calls of 08:00-08:30 elsewhere (e.g. to online requests) before planning."""
    if not 0 <= shift_demand < 1:
        raise ValueError("shift_demand must be at least 0 and below 1")
    return [plan_quarter(row, targets[row.practice], shift_demand) for row in demand]


def plan_quarter(row: QuarterDemand, target: Target, shift_demand: float = 0.0) -> QuarterPlan:
    """One quarter hour: Erlang C on its calls per day and the mean talk time of its NHS time
    band (a quarter hour alone has too few calls for a steady mean), else of the day."""
    keep = 1 - shift_demand if SHIFT_WINDOW[0] <= row.slot_start < SHIFT_WINDOW[1] else 1.0
    offered = row.offered * keep
    # A band whose answered calls all lasted 0 s has no talk time to plan with: the day's.
    talk_s = row.band_talk_s or row.day_talk_s
    needed = rostered = None
    at_observed = at_needed = None
    if offered > 0 and talk_s:
        erlang = ErlangC(
            transactions=offered,
            aht=talk_s / 60,
            asa=target.within_s / 60,
            interval=QUARTER_MINUTES,
            shrinkage=target.shrinkage,
        )
        needed = _fewest(erlang, target.level)
        # Rounded before the ceiling: 21 / (1 - 0.3) is 30.000000000000004 in floats.
        rostered = math.ceil(round(needed / (1 - target.shrinkage), 9))
        at_needed = _in_time(erlang, needed)
        if row.observed is not None:
            people = math.floor(row.observed + 0.5)
            at_observed = _in_time(erlang, people) if people > 0 else 0.0
    elif offered == 0:
        needed = rostered = 0
    return QuarterPlan(
        practice=row.practice,
        slot_start=row.slot_start,
        slot=row.slot,
        offered=offered,
        offered_first=row.offered_first * keep,
        offered_repeat=row.offered_repeat * keep,
        talk_s=talk_s,
        patience_s=row.patience_s,
        needed=needed,
        rostered=rostered,
        observed=row.observed,
        share_in_time_observed=at_observed,
        share_in_time_needed=at_needed,
    )


def combine(plans: Iterable[QuarterPlan]) -> list[dict[str, object]]:
    """Practices' plans added up per quarter hour (a PCN: each practice answers its own
    calls, so the people needed add up; the expected shares are weighted by calls)."""
    slots: dict[time, list[QuarterPlan]] = {}
    for row in plans:
        slots.setdefault(row.slot_start, []).append(row)
    combined = []
    for slot_start in sorted(slots):
        rows = slots[slot_start]
        combined.append(
            {
                "slot_start": slot_start,
                "slot": rows[0].slot,
                "practices": len(rows),
                "offered": sum(r.offered for r in rows),
                "offered_first": sum(r.offered_first for r in rows),
                "offered_repeat": sum(r.offered_repeat for r in rows),
                "needed": _total(r.needed for r in rows),
                "rostered": _total(r.rostered for r in rows),
                "observed": _total(r.observed for r in rows),
                "share_in_time_observed": _weighted(rows, "share_in_time_observed"),
                "share_in_time_needed": _weighted(rows, "share_in_time_needed"),
            }
        )
    return combined


def _fewest(erlang: ErlangC, level: float) -> int:
    """The fewest people who answer ``level`` of calls in time. pyworkforce's own search
    (``required_positions``) starts at ``round(load + 1)``, one above the fewest who keep
    up when the load's fraction is .5 or more (a load of 0.5 erlang: it says 2, 1 does)."""
    people = math.floor(erlang.intensity) + 1
    while _in_time(erlang, people) < level:
        people += 1
    return people


def _in_time(erlang: ErlangC, people: int) -> float:
    """pyworkforce's service level with ``people`` as a share 0-1. It is 0 when they cannot
    keep up with the calls (fewer people than the load), and so is the overflow its formula
    meets there with a long target time (``exp`` of a large positive number)."""
    try:
        value = erlang.service_level(people)
    except OverflowError:
        return 0.0
    return min(1.0, max(0.0, float(value)))


def _total(values: Iterable[float | None]) -> float | None:
    """The practices' figures added up; unknown when one of them is: a PCN of two practices
    of which one does not say who answered would show the other's people against both
    practices' calls (a staffing gap that is not there)."""
    figures = list(values)
    if not figures or any(v is None for v in figures):
        return None
    return sum(v for v in figures if v is not None)


def _weighted(rows: list[QuarterPlan], column: str) -> float | None:
    """The share over the practices' calls, weighted by calls; unknown when a practice with
    calls in the quarter hour has none (as ``_total``)."""
    pairs = [(r.offered, getattr(r, column)) for r in rows if r.offered > 0]
    calls = sum(offered for offered, _ in pairs)
    if not calls or any(share is None for _, share in pairs):
        return None
    return sum(offered * share for offered, share in pairs if share is not None) / calls
