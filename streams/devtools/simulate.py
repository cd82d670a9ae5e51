"""Realistic simulated call events for N practices, with the ground truth the simulator meant.

Pure: no Kafka, no DuckDB. Volumes, the intraday and weekday profile, the outcome mix and
talk durations follow NHS England's August 2026 publication (``simulate_profile``); each
practice differs like the published spread. The simulator plans every call (outcome, waits,
talk, route) and writes that plan twice: as canonical events, and as the ``ClassifiedCall``
the plan means under docs/classification.md, worked out from the plan itself and not by
the classifier, so simulate -> classify can be compared exactly.

API: ``simulate(config, rules)`` yields one ``SimulatedCall`` (clean events + truth) per call
in start order; ``simulate_days`` yields the same calls a day at a time with the staffing the
simulator put on the phones (``StaffedQuarter``, its staffing truth); ``event_stream(calls,
config)`` turns calls into the stream a phone system would send (time order across calls,
with duplicates and out-of-order events).
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field

from models.classified import DURATION_BUCKETS, OUTCOMES, TIME_BANDS, ClassifiedCall
from models.events import WITHHELD_SYNONYMS
from streams.core.pseudonymise import caller_key
from streams.core.rules import Rules
from streams.devtools.simulate_profile import BANK_HOLIDAY, DAY_LABELS, Profile, load_profile

LONDON = ZoneInfo("Europe/London")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = 1000
MINUTE = 60 * MS
QUARTER = 15 * MINUTE
#: Extension of a practice's first answering person (the ``agent`` of answered events).
FIRST_EXTENSION = 201

#: ODS codes of active GP practices (epraccur sample, role RO76) used first, in this order.
SAMPLE_ODS = (
    "A81001", "A81002", "A81004", "A81005", "A81006", "A81007", "A81009", "A81011", "A81012",
    "A81013", "A81014", "A81017", "A81018", "A81019", "A81020",
)  # fmt: skip
#: What the phone system writes when the number is hidden (all mean "withheld").
WITHHELD_SPELLINGS = ("withheld", "withheld", "anonymous", "Anonymous", "private", "unavailable")
#: Ofcom's drama ranges: numbers that belong to nobody (national form, 11 digits).
NUMBER_RANGES = (
    "07700900", "07700900", "07700900", "01134960", "01144960", "01154960", "01164960",
    "01174960", "01184960", "01214960", "01314960", "01414960", "01514960", "01614960",
    "02079460", "02890180", "02920180",
)  # fmt: skip
REQUEST_MIX = {
    "appointments": 0.45,
    "prescriptions": 0.18,
    "results": 0.12,
    "admin": 0.10,
    "urgent": 0.09,
    "other": 0.06,
}
DIVERT_FOR = {
    "prescriptions": "pharmacy",
    "urgent": "nhs111",
    "appointments": "online_consultation",
    "admin": "online_consultation",
    "results": "online_consultation",
    "other": "other",
}
QUEUE_FOR = {
    "appointments": "Appointments",
    "prescriptions": "Prescriptions",
    "results": "Test results",
    "admin": "General enquiries",
    "urgent": "Urgent",
    "other": "General enquiries",
}
BAND_START = {band: int(band[:2]) * 3600 + int(band[3:5]) * 60 for band in TIME_BANDS}
BAND_LENGTH = {
    band: (int(band[6:8]) * 3600 + int(band[9:11]) * 60 + 60) - BAND_START[band]
    for band in TIME_BANDS
}
MORNING_BANDS = ("08:00-09:59", "10:00-11:59")
#: Talk time (seconds) of each NHS duration label: uniform within the range; over 5 minutes
#: is 301 s plus an exponential tail of this mean, at most an hour.
TALK_RANGES = {
    DURATION_BUCKETS[0]: (5, 60),
    DURATION_BUCKETS[1]: (61, 120),
    DURATION_BUCKETS[2]: (121, 300),
}
LONG_TALK_TAIL = 240
#: Days of calls a simulated practice plans its rota on (see ``_PracticeDay._roster``).
ROTA_DRAWS = 8
CORE_BANDS = ("10:00-11:59", "12:00-13:59", "14:00-15:59", "16:00-17:59")


class SimulationConfig(BaseModel):
    """What to simulate. Rates are shares of calls (incomplete, outbound, withheld) or of
    events (duplicate, shuffle)."""

    model_config = ConfigDict(frozen=True)

    practices: int = Field(ge=1, le=10_000)
    start: date
    days: int = Field(ge=1, le=400)
    seed: int = 0
    duplicate_rate: float = Field(0.01, ge=0, le=1)
    shuffle_rate: float = Field(0.01, ge=0, le=1)
    incomplete_rate: float = Field(0.0, ge=0, le=1)
    outbound_rate: float = Field(0.03, ge=0, le=1)
    withheld_rate: float = Field(0.07, ge=0, le=1)
    key: bytes = Field(description="pseudonymisation key, for the truth's caller_key")


@dataclass(frozen=True)
class Practice:
    """One simulated practice: its size and how it differs from the national average."""

    ods: str
    list_size: int
    volume: float  # calls relative to the national rate per 1,000 patients
    answered: float  # factor on the national answered share
    ivr: float  # factor on the national ended-in-IVR share
    missed: float  # factor on the national missed share
    whole_seconds: bool  # the phone system reports whole seconds
    local_offsets: bool  # it writes local times with an offset, not UTC 'Z'


@dataclass
class SimulatedCall:
    """One call: its canonical events (wire form, time order, no noise) and its truth."""

    events: list[dict[str, Any]]
    truth: ClassifiedCall
    times_ms: list[int] = field(repr=False, default_factory=list)  # epoch ms of each event


class StaffedQuarter(BaseModel):
    """How many people the simulator put on the phones in one quarter hour (local clock)."""

    model_config = ConfigDict(frozen=True)

    practice: str
    local_date: date
    slot_start: time
    staff: int


@dataclass
class SimulatedDay:
    """One day of the run: every practice's calls in start order, and their staffing."""

    day: date
    calls: list[SimulatedCall]
    staffing: list[StaffedQuarter]


def make_practices(config: SimulationConfig, profile: Profile) -> list[Practice]:
    """The practices of a run: deterministic by seed; ODS codes from the sample, then Z….."""
    rng = random.Random(f"{config.seed}:practices")
    spread = profile.practice_spread
    practices = []
    for index in range(config.practices):
        ods = SAMPLE_ODS[index] if index < len(SAMPLE_ODS) else f"Z{index:05d}"
        size = int(min(20_000, max(3_000, rng.lognormvariate(math.log(8_500), 0.45))))
        factors = {}
        for name in ("answered", "ivr", "missed"):
            s = spread[f"{name}_share"]
            share = min(max(rng.gauss(s.mean, s.std), s.p10 * 0.6), min(0.98, s.p90 * 1.2))
            factors[name] = share / s.mean
        practices.append(
            Practice(
                ods=ods,
                list_size=size,
                volume=rng.lognormvariate(0.0, 0.15),
                whole_seconds=rng.random() < 0.5,
                local_offsets=rng.random() < 0.3,
                **factors,
            )
        )
    return practices


def list_sizes_csv(practices: Iterable[Practice], extract: date) -> str:
    """The practices' list sizes as NHS England's gp-reg-pat-prac-all.csv, so that
    ``callstream reference load`` gives the warehouse their patients per 1,000."""
    stamp = extract.strftime("%d%b%Y").upper()
    lines = ["PUBLICATION,EXTRACT_DATE,TYPE,CODE,SEX,AGE,NUMBER_OF_PATIENTS"]
    for practice in practices:
        lines.append(f"GP_PRAC_PAT_LIST,{stamp},GP,{practice.ods},ALL,ALL,{practice.list_size}")
    return "\n".join(lines) + "\n"


def simulate(
    config: SimulationConfig, rules: Rules, profile: Profile | None = None
) -> Iterator[SimulatedCall]:
    """Every call of the run, day by day, in start order across practices."""
    for day in simulate_days(config, rules, profile):
        yield from day.calls


def simulate_days(
    config: SimulationConfig, rules: Rules, profile: Profile | None = None
) -> Iterator[SimulatedDay]:
    """The run a day at a time: the calls (as ``simulate``) and who was on the phones."""
    profile = profile or load_profile()
    practices = make_practices(config, profile)
    for offset in range(config.days):
        day = config.start + timedelta(days=offset)
        calls: list[SimulatedCall] = []
        staffing: list[StaffedQuarter] = []
        for practice in practices:
            practice_day = _PracticeDay(practice, day, config, rules, profile)
            calls.extend(practice_day.calls())
            staffing.extend(practice_day.staff.quarters(practice.ods, day))
        calls.sort(key=lambda call: (call.times_ms[0], call.truth.practice, call.truth.call_id))
        yield SimulatedDay(day, calls, staffing)


def event_stream(calls: Iterable[SimulatedCall], config: SimulationConfig) -> Iterator[dict]:
    """The events as a phone system sends them: time order across calls, then noise.

    ``shuffle_rate`` of events arrive late (after up to 40 later events) and
    ``duplicate_rate`` arrive twice (the same event_id), as at-least-once delivery does.
    """
    rng = random.Random(f"{config.seed}:noise")
    pending: list[tuple[int, int, dict]] = []  # (epoch ms, sequence, event)
    delayed: list[tuple[int, int, dict]] = []  # (release at output index, sequence, event)
    sequence = 0
    emitted = 0

    def release(event: dict) -> Iterator[dict]:
        nonlocal emitted, sequence
        if rng.random() < config.shuffle_rate:
            sequence += 1
            heapq.heappush(delayed, (emitted + rng.randint(1, 40), sequence, event))
        else:
            yield event
            emitted += 1
        if rng.random() < config.duplicate_rate:
            sequence += 1
            heapq.heappush(delayed, (emitted + rng.randint(0, 30), sequence, event))
        while delayed and delayed[0][0] <= emitted:
            yield heapq.heappop(delayed)[2]
            emitted += 1

    for call in calls:
        watermark = call.times_ms[0]  # later calls start later: earlier events are final
        while pending and pending[0][0] < watermark:
            yield from release(heapq.heappop(pending)[2])
        for at_ms, event in zip(call.times_ms, call.events, strict=True):
            sequence += 1
            heapq.heappush(pending, (at_ms, sequence, event))
    while pending:
        yield from release(heapq.heappop(pending)[2])
    while delayed:
        yield heapq.heappop(delayed)[2]


# --- one practice, one day ---------------------------------------------------------------


class _PracticeDay:
    """Plans the calls of one practice on one day (its own seeded random stream)."""

    def __init__(
        self,
        practice: Practice,
        day: date,
        config: SimulationConfig,
        rules: Rules,
        profile: Profile,
    ) -> None:
        self.practice, self.day, self.config, self.rules = practice, day, config, rules
        self.profile = profile
        self.rng = random.Random(f"{config.seed}:{practice.ods}:{day.isoformat()}")
        self.holiday = is_bank_holiday(day)
        weekday = DAY_LABELS[day.weekday()]
        self.volume_label = BANK_HOLIDAY if self.holiday else weekday
        # Practices are closed on bank holidays: their mix is a Saturday's.
        if self.holiday:
            self.outcome_label = "Saturday"
        elif weekday in ("Monday", "Saturday", "Sunday"):
            self.outcome_label = weekday
        else:
            self.outcome_label = "Tuesday-Friday"
        self.open = day.weekday() < 5 and not self.holiday
        self.durations = profile.duration_shares(day.strftime("%Y-%m"))
        self.menu = _Menu(rules)
        month = profile.volume_factor(day.strftime("%Y-%m"))
        self.scale = practice.list_size / 1000 * practice.volume * month
        # How generously the practice staffs its phones: its own stream, so adding it
        # changed no other draw of the run.
        slack = random.Random(f"{config.seed}:{practice.ods}:staffing").uniform(0.0, 0.8)
        self.staff = _Staff(self._roster(slack))

    def calls(self) -> list[SimulatedCall]:
        rng, scale = self.rng, self.scale
        plans: list[_Call] = []
        for band in TIME_BANDS:
            mix = self._mix(band)
            expected = scale * self.profile.calls_per_1000[self.volume_label][band]
            for _ in range(_poisson(rng, expected)):
                outcome = rng.choices(OUTCOMES, weights=mix)[0]
                plans.append(self._inbound(band, outcome))
        if self.open:
            for _ in range(_poisson(rng, len(plans) * self.config.outbound_rate)):
                plans.append(self._outbound())
        plans.sort(key=lambda plan: plan.start_ms)
        self.staff.answer([plan for plan in plans if plan.pickup is not None])
        self._assign_callers(plans)
        stamp = self.day.strftime("%Y%m%d")
        return [plan.finish(f"{stamp}-{n:05d}", self) for n, plan in enumerate(plans, 1)]

    def _mix(self, band: str) -> list[float]:
        base = self.profile.outcomes[self.outcome_label][band]
        p = self.practice
        factor = {"answered": p.answered, "ended_in_ivr": p.ivr, "missed": p.missed}
        return [base[name] * factor.get(name, 1.0) for name in OUTCOMES]

    def _start_ms(self, band: str) -> int:
        """A start in the band, local time: the 8am scramble peaks just after 08:00."""
        rng, length = self.rng, BAND_LENGTH[band]
        if band == "08:00-09:59" and rng.random() < 0.35:
            offset = min(rng.expovariate(1 / 240), length - 1)
        elif band == "08:00-09:59":
            offset = rng.triangular(0, length, 0)
        elif band == "06:00-07:59":
            offset = rng.triangular(0, length, length)
        elif band == "18:30-23:59":
            offset = min(rng.expovariate(1 / 3600), length - 1)
        else:
            offset = rng.uniform(0, length)
        local = datetime.combine(self.day, time()) + timedelta(
            seconds=BAND_START[band], milliseconds=int(offset * MS)
        )
        return _to_ms(local.replace(tzinfo=LONDON))

    def _inbound(self, band: str, outcome: str) -> _Call:
        call = _Call(self, self._start_ms(band), band=band, outcome=outcome)
        if self.rng.random() < self.config.incomplete_rate:
            call.incomplete = True
        build = {
            "answered": self._answered,
            "ended_in_ivr": self._ended_in_ivr,
            "missed": self._missed,
            "callback_requested": self._callback,
        }[outcome]
        build(call)
        return call

    def _outbound(self) -> _Call:
        """The practice rings a patient back (never CBT001)."""
        band = self.rng.choice(CORE_BANDS)
        call = _Call(self, self._start_ms(band), band=band, outcome=None)
        call.incomplete = self.rng.random() < self.config.incomplete_rate
        call.end(self.rng.uniform(20, 400))
        return call

    # --- per-outcome plans (seconds after the start) ---

    def _ivr(self, call: _Call, t: float) -> float:
        """The caller goes through the menu: returns the time they leave it."""
        rng = self.rng
        t += rng.uniform(8, 30)  # the greeting
        if rng.random() < 0.08:  # asks to hear the menu again
            call.add("ivr_option", t, option="*")
            t += rng.uniform(8, 20)
        kind = _choose(rng, REQUEST_MIX)
        call.add("ivr_option", t, **self.menu.press(rng, kind))
        call.request_type = kind
        if rng.random() < 0.07:  # changes their mind in a sub-menu
            t += rng.uniform(3, 12)
            kind = _choose(rng, {k: v for k, v in REQUEST_MIX.items() if k != kind})
            call.add("ivr_option", t, **self.menu.press(rng, kind))
            call.request_type = kind
        return t + rng.uniform(1, 4)

    def _answered(self, call: _Call) -> None:
        """The caller's way to a person; when they are answered is the staff's (``_Staff``)."""
        rng = self.rng
        ring: float | None = None
        if rng.random() < 0.08:  # dialled an extension: rings at once
            team = self.menu.team_for(rng, None)
            call.wait_from = call.add("ringing", rng.uniform(0.5, 2), **team)
        else:
            t = self._ivr(call, 0.0)
            queued = call.add("queue_joined", t, queue=QUEUE_FOR[call.request_type or "other"])
            call.wait_from = queued
            team = self.menu.first_team(rng, call.request_type)
            if rng.random() < 0.7:  # a phone rings up to 15 s before it is picked up
                ring = rng.uniform(1, 15)
        call.first_team = team["team"]
        talk = self._talk()
        moves: list[dict[str, str]] = []
        if rng.random() < 0.13:  # passed on to another team (or a colleague in the same one)
            same = rng.random() < 0.2
            for _ in range(2 if rng.random() < 0.15 else 1):
                moves.append(team if same else self.menu.other_team(rng, call.first_team))
        call.pickup = _Pickup(team, ring, talk, moves)

    def _ended_in_ivr(self, call: _Call) -> None:
        rng = self.rng
        kind = rng.choices(("message", "hangup", "divert"), weights=self._ivr_kinds(call))[0]
        if kind == "message":  # closed message, or the caller hangs up on the greeting
            call.end(rng.uniform(6, 60))
        elif kind == "hangup":
            t = self._ivr(call, 0.0) if rng.random() < 0.7 else rng.uniform(3, 25)
            call.end(t + rng.uniform(1, 20))
        else:
            t = self._ivr(call, 0.0)
            target = DIVERT_FOR[call.request_type or "other"]
            if rng.random() < 0.1:  # signposted first elsewhere, then to the pharmacy
                call.add("ivr_divert", t, target="online_consultation")
                t += rng.uniform(5, 15)
            call.add("ivr_divert", t, target=target)
            call.divert_target = target
            call.end(t + rng.uniform(10, 45))

    def _ivr_kinds(self, call: _Call) -> tuple[float, float, float]:
        if self.open and call.band not in ("00:00-05:59", "06:00-07:59", "18:30-23:59"):
            return (0.15, 0.45, 0.40)
        return (0.7, 0.1, 0.2)

    def _missed(self, call: _Call) -> None:
        rng = self.rng
        wait = self._wait(call.band, median=100, sigma=0.95, zero=0.02)
        kind = rng.choices(("abandoned", "voicemail", "direct"), weights=(0.5, 0.35, 0.15))[0]
        if kind == "direct":  # dialled an extension, nobody picked up
            call.wait_from = call.add(
                "ringing", rng.uniform(0.5, 2), **self.menu.team_for(rng, None)
            )
        else:
            t = self._ivr(call, 0.0) if rng.random() < 0.9 else rng.uniform(3, 10)
            call.wait_from = call.add(
                "queue_joined", t, queue=QUEUE_FOR[call.request_type or "other"]
            )
        left_at = call.t(call.wait_from) + wait
        if kind == "voicemail":
            if wait > 3:
                team = self.menu.first_team(rng, call.request_type)
                call.add("ringing", left_at - rng.uniform(1, min(wait, 20)), **team)
            call.wait_to = call.add("voicemail", left_at)
            call.end(left_at + rng.uniform(10, 60))
        else:
            call.end(left_at)
            call.wait_to = call.ended

    def _callback(self, call: _Call) -> None:
        rng = self.rng
        wait = self._wait(call.band, median=90, sigma=0.8, zero=0.0) + 5
        t = self._ivr(call, 0.0)
        call.wait_from = call.add("queue_joined", t, queue=QUEUE_FOR[call.request_type or "other"])
        call.wait_to = call.add("callback_requested", t + wait)
        call.end(t + wait + rng.uniform(5, 25))
        if rng.random() < 0.85:  # the practice rings back, sometimes twice
            back = t + wait + rng.uniform(5 * 60, 3 * 3600)
            answered = rng.random() < 0.8
            call.callbacks.append(call.add("callback_made", back, outcome=_callback(answered)))
            call.callback_outcomes.append(answered)
            if not answered and rng.random() < 0.6:
                back += rng.uniform(10 * 60, 60 * 60)
                answered = rng.random() < 0.75
                call.add("callback_made", back, outcome=_callback(answered))
                call.callback_outcomes.append(answered)

    def _wait(self, band: str, median: float, sigma: float, zero: float) -> float:
        """Seconds in the queue: the 8am scramble waits longest; some are answered at once."""
        rng = self.rng
        if rng.random() < zero:
            return 0.0
        scramble = 1.5 if band == "08:00-09:59" else 1.0
        return min(rng.lognormvariate(math.log(median * scramble), sigma), 2400.0)

    def _talk(self) -> float:
        """Talk time per NHS England's duration shares of the month."""
        rng = self.rng
        label = _choose(rng, self.durations)
        if label not in TALK_RANGES:
            return min(301 + rng.expovariate(1 / LONG_TALK_TAIL), 3600.0)
        return rng.uniform(*TALK_RANGES[label])

    def _roster(self, slack: float) -> list[int]:
        """People on the phones in each local quarter hour, planned from the day's expected
        work as a practice plans its rota from its usual days: the talk time of the answered
        calls of ``ROTA_DRAWS`` other draws of this day (own random stream), averaged, is
        the quarter hour's load in Erlangs; the rota is load + slack x sqrt(load), rounded up
        (square-root staffing), and at least one person, also at night (the NHS figures
        have calls answered at every hour)."""
        seed = f"{self.config.seed}:{self.practice.ods}:{self.day.isoformat()}:rota"
        saved, self.rng = self.rng, random.Random(seed)
        load = [0.0] * 96
        try:
            for band in TIME_BANDS:
                mix = self._mix(band)
                expected = self.scale * self.profile.calls_per_1000[self.volume_label][band]
                for _ in range(_poisson(self.rng, expected * ROTA_DRAWS)):
                    if self.rng.choices(OUTCOMES, weights=mix)[0] == "answered":
                        slot = _slot(self._start_ms(band))
                        load[slot] += self._talk() / (QUARTER / MS) / ROTA_DRAWS
        finally:
            self.rng = saved
        return [max(1, math.ceil(x + slack * math.sqrt(x))) for x in load]

    # --- callers and the 8am redial ---

    def _assign_callers(self, plans: list[_Call]) -> None:
        """Numbers for the calls; unanswered 8am callers ring again until they get through."""
        rng = self.rng
        redial: list[tuple[int, int, str]] = []  # (ready at ms, attempts, national number)
        used: set[str] = set()
        for plan in plans:
            number = None
            if plan.outcome is not None and plan.band in MORNING_BANDS and redial:
                if redial[0][0] <= plan.start_ms and rng.random() < 0.75:
                    _, attempts, number = heapq.heappop(redial)
            if number is None:
                attempts = 0
                if rng.random() < self.config.withheld_rate:
                    plan.caller = rng.choice(WITHHELD_SPELLINGS)
                    continue
                number = self._new_number(used)
            plan.caller = _spell(rng, number)
            gave_up = plan.outcome == "answered" or plan.outcome is None
            if not gave_up and plan.band == "08:00-09:59" and attempts < 6 and rng.random() < 0.7:
                ready = plan.left_ms() + int(rng.uniform(30, 600) * MS)
                heapq.heappush(redial, (ready, attempts + 1, number))

    def _new_number(self, used: set[str]) -> str:
        """A number not yet seen at the practice today (a redial is a deliberate repeat)."""
        while True:
            number = self.rng.choice(NUMBER_RANGES) + f"{self.rng.randrange(1000):03d}"
            if number not in used or len(used) > 10_000:
                used.add(number)
                return number


class _Menu:
    """The phone menu and teams of the practice rules (keys, team names and roles)."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.keys: dict[str, str] = {}
        for option, kind in rules.ivr_options.items():
            self.keys.setdefault(kind, option)
        self.teams = list(rules.teams) or ["reception"]
        self.handling = {
            kind: [name for name, team in rules.teams.items() if kind in team.handles]
            for kind in REQUEST_MIX
        }

    def press(self, rng: random.Random, kind: str) -> dict[str, str]:
        """An ivr_option for a request type: the rules' key, carrying the type or not."""
        option = self.keys.get(kind)
        if option is None:  # the rules have no key for it: the system names the type
            return {"option": "#", "request_type": kind}
        if rng.random() < 0.4:  # the phone system leaves it to the rules
            return {"option": option}
        return {"option": option, "request_type": kind}

    def team_for(self, rng: random.Random, kind: str | None) -> dict[str, str]:
        name = rng.choice(self.handling.get(kind or "", []) or self.teams)
        return {"team": name, "role": self.rules.role_for_team(name)}

    def first_team(self, rng: random.Random, kind: str | None) -> dict[str, str]:
        """Mostly a team meant for the request; one in ten lands with another team."""
        if rng.random() < 0.1:
            return self.team_for(rng, None)
        return self.team_for(rng, kind)

    def other_team(self, rng: random.Random, team: str) -> dict[str, str]:
        others = [name for name in self.teams if name.casefold() != team.casefold()]
        name = rng.choice(others or ["other team"])
        return {"team": name, "role": self.rules.role_for_team(name)}


class _Staff:
    """A practice's answering staff for one day: how many are on the phones in each quarter
    hour (local clock, the roster), and one first-come-first-served queue they answer.

    A waiting call goes to a free person on duty, the one who has answered fewest calls this
    quarter hour first, then the one idle longest; that person is busy until the call ends
    (a transfer included), so the staffing model's talk time is the work of one person. Nobody
    leaves mid-call: someone still on a call all through a quarter hour after their shift is
    one more person on the phones in it.
    """

    def __init__(self, roster: list[int]) -> None:
        self.roster = roster  # people on duty per local quarter hour (00:00, 00:15, ...)
        self.staying: list[set[int]] = [set() for _ in roster]  # on a call past their shift

    def answer(self, calls: list[_Call]) -> None:
        """Answer the calls in queue order."""
        free_at = [0] * max(self.roster)
        answered: Counter[tuple[int, int]] = Counter()
        last = 0
        for call in sorted(calls, key=lambda c: (c.wait_from, c.start_ms)):
            at = max(call.wait_from, last)  # first come, first served
            while True:
                on_duty = self.roster[_slot(at)]
                free = [k for k in range(on_duty) if free_at[k] <= at]
                if free:
                    break
                at = min(min(free_at[:on_duty]), (at // QUARTER + 1) * QUARTER)
            slot = _slot(at)
            person = min(free, key=lambda k: (answered[slot, k], free_at[k], k))
            free_at[person] = call.pick_up(at, str(FIRST_EXTENSION + person))
            answered[slot, person] += 1
            last = at
            self._stay(person, at, free_at[person])

    def _stay(self, person: int, start: int, end: int) -> None:
        """Note the later quarter hours of the day a call fills wholly while its person is
        off duty."""
        day = _from_ms(start).astimezone(LONDON).date()
        begin = (start // QUARTER + 1) * QUARTER
        while begin + QUARTER <= end and _from_ms(begin).astimezone(LONDON).date() == day:
            slot = _slot(begin)
            if person >= self.roster[slot]:
                self.staying[slot].add(person)
            begin += QUARTER

    def quarters(self, practice: str, day: date) -> list[StaffedQuarter]:
        return [
            StaffedQuarter(
                practice=practice,
                local_date=day,
                slot_start=time(slot // 4, slot % 4 * 15),
                staff=staff + len(staying),
            )
            for slot, (staff, staying) in enumerate(zip(self.roster, self.staying, strict=True))
        ]


@dataclass(frozen=True)
class _Pickup:
    """What happens once an answered call is picked up (drawn when the call is planned)."""

    team: dict[str, str]
    ring: float | None  # seconds the phone rings before the answer, when the wait allows
    talk: float
    moves: list[dict[str, str]]  # transfers, spread evenly over the talk


class _Call:
    """The plan of one call: its events (epoch ms) and what it is meant to be."""

    def __init__(self, day: _PracticeDay, start_ms: int, band: str, outcome: str | None) -> None:
        self.day = day
        self.start_ms = start_ms - start_ms % MS if day.practice.whole_seconds else start_ms
        self.band = band
        self.outcome = outcome
        self.incomplete = False
        self.caller = "withheld"
        self.planned: list[tuple[int, str, dict[str, str]]] = []  # (ms, type, fields)
        self.request_type: str | None = None
        self.divert_target: str | None = None
        self.first_team: str | None = None
        self.transfers: list[str] = []
        self.wait_from: int | None = None
        self.wait_to: int | None = None
        self.answered: int | None = None
        self.ended: int | None = None
        self.callbacks: list[int] = []
        self.callback_outcomes: list[bool] = []
        self.pickup: _Pickup | None = None  # set for calls a person will answer
        self.agent: str | None = None
        self.add("call_started", 0.0)

    def t(self, at_ms: int) -> float:
        """Seconds after the start of an event time."""
        return (at_ms - self.start_ms) / MS

    def add(self, kind: str, seconds: float, **fields: str) -> int:
        """Plan an event ``seconds`` after the start; returns its time as the system writes it."""
        at = self.start_ms + round(seconds * MS)
        if self.day.practice.whole_seconds:
            at -= at % MS
        if kind == "call_ended" and self.incomplete:
            return at
        self.planned.append((at, kind, fields))
        return at

    def end(self, seconds: float) -> int:
        """The call ends; returns when (also for an incomplete call, which sends no end)."""
        at = self.add("call_ended", seconds)
        self.ended = None if self.incomplete else at
        return at

    def pick_up(self, at_ms: int, agent: str) -> int:
        """A person answers at ``at_ms``; returns when the call ends (they are free again)."""
        pickup = self.pickup
        answered_at = self.t(at_ms)
        wait = answered_at - self.t(self.wait_from)
        if pickup.ring is not None and wait > 3:
            self.add("ringing", answered_at - min(pickup.ring, wait), **pickup.team)
        self.wait_to = self.answered = self.add("answered", answered_at, **pickup.team, agent=agent)
        self.agent = agent
        for n, where in enumerate(pickup.moves):
            self.transfers.append(where["team"])
            at = answered_at + pickup.talk * (n + 1) / (len(pickup.moves) + 1)
            self.add("transferred", at, **where)
        return self.end(answered_at + pickup.talk)

    def left_ms(self) -> int:
        """When the caller was gone (for a redial), ended or not."""
        return max(at for at, kind, _ in self.planned if kind != "callback_made")

    def finish(self, call_id: str, day: _PracticeDay) -> SimulatedCall:
        """The events in wire form and the truth of the plan."""
        practice = day.practice
        rng = day.rng
        events, times = [], []
        for n, (at, kind, fields) in enumerate(sorted(self.planned, key=lambda p: p[0]), 1):
            event: dict[str, Any] = {
                "practice": practice.ods,
                "call_id": call_id,
                "event_id": f"{call_id}-{n:02d}",
                "type": kind,
                "at": _format_at(at, practice),
                **fields,
            }
            if kind == "call_started":
                event["caller"] = self.caller
                if self.outcome is None:
                    event["direction"] = "outbound"
                elif rng.random() < 0.5:
                    event["direction"] = "inbound"
            events.append(event)
            times.append(at)
        return SimulatedCall(events=events, truth=self._truth(call_id, day), times_ms=times)

    def _truth(self, call_id: str, day: _PracticeDay) -> ClassifiedCall:
        started = _from_ms(self.start_ms)
        local = started.astimezone(LONDON)
        inbound = self.outcome is not None
        wait_s = talk_s = None
        # A missed call with neither voicemail nor call_ended has no wait_to: no wait.
        if inbound and self.outcome != "ended_in_ivr" and self.wait_to is not None:
            wait_s = (self.wait_to - self.wait_from) // MS
        if self.answered is not None and self.ended is not None:
            talk_s = (self.ended - self.answered) // MS
        answered = self.outcome == "answered"
        if answered and any(t.casefold() != self.first_team.casefold() for t in self.transfers):
            routing = "transferred"
        elif answered:
            routing = "right_first_time"
        elif self.divert_target is not None:
            routing = "signposted"
        else:
            routing = "unrouted"
        made = bool(self.callback_outcomes)
        withheld = self.caller.strip().lower() in WITHHELD_SYNONYMS
        return ClassifiedCall(
            practice=day.practice.ods,
            call_id=call_id,
            started_at=started,
            local_date=local.date(),
            time_band=band_of(local.time()),
            core_category=core_category_of(local),
            inbound=inbound,
            outcome=self.outcome,
            wait_s=wait_s,
            wait_bucket=None if wait_s is None else wait_bucket_of(wait_s),
            talk_s=talk_s,
            duration_bucket=None if talk_s is None else duration_bucket_of(talk_s),
            callback_made=made,
            request_type=self.request_type if inbound else None,
            first_team=self.first_team,
            transfers=len(self.transfers),
            routing=routing,
            caller_key=None
            if withheld
            else caller_key(day.config.key, day.practice.ods, self.caller),
            complete=not self.incomplete,
            rules_version=day.rules.version,
            ended_at=None if self.ended is None else _from_ms(self.ended),
            callback_answered=any(self.callback_outcomes) if made else None,
            callback_wait_s=(self.callbacks[0] - self.wait_to) // MS if made else None,
            divert_target=self.divert_target,
            events=len(self.planned),
            first_agent=self.agent,
            answered_at=None if self.answered is None else _from_ms(self.answered),
        )


# --- NHS time and buckets, as the simulator means them (docs/classification.md) ---------


def band_of(local: time) -> str:
    """The NHS time band of a local time of day."""
    seconds = local.hour * 3600 + local.minute * 60
    return next(band for band in reversed(TIME_BANDS) if BAND_START[band] <= seconds)


@lru_cache(maxsize=64)
def _england_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv="ENG", years=year)


def is_bank_holiday(day: date) -> bool:
    """An England bank holiday (substitute days included)."""
    return day in _england_holidays(day.year)


def core_category_of(local: datetime) -> str:
    """Core_8_10, Core_10_1830 or Non-Core for a local start."""
    if local.weekday() >= 5 or is_bank_holiday(local.date()):
        return "Non-Core"
    minutes = local.hour * 60 + local.minute
    if 8 * 60 <= minutes < 10 * 60:
        return "Core_8_10"
    if 10 * 60 <= minutes < 18 * 60 + 30:
        return "Core_10_1830"
    return "Non-Core"


def wait_bucket_of(wait_s: int) -> str:
    """NHS wait bucket; upper bounds inclusive (30 s is 1_30, 301 s is >300)."""
    if wait_s <= 0:
        return "0"
    if wait_s > 300:
        return ">300"
    if wait_s > 240:
        return "241_300"
    low = (wait_s - 1) // 30 * 30
    return f"{low + 1}_{low + 30}"


def duration_bucket_of(talk_s: int) -> str:
    """NHS talk duration label."""
    if talk_s <= 60:
        return DURATION_BUCKETS[0]
    if talk_s <= 120:
        return DURATION_BUCKETS[1]
    if talk_s <= 300:
        return DURATION_BUCKETS[2]
    return DURATION_BUCKETS[3]


# --- small helpers ---------------------------------------------------------------------


def _poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (normal approximation for large means)."""
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, product = math.exp(-lam), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _choose(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _callback(answered: bool) -> str:
    return "answered" if answered else "unanswered"


def _spell(rng: random.Random, national: str) -> str:
    """One of the ways phone systems write a UK number (all one number in E.164)."""
    rest = national[1:]
    mobile = national.startswith("07")
    split = 5 if mobile or national.startswith("01") and national[3] != "1" else 4
    if national.startswith("02"):
        split = 3
    return rng.choice(
        (
            national,
            f"{national[:split]} {national[split:]}",
            f"+44{rest}",
            f"+44 {rest[: split - 1]} {rest[split - 1 :]}",
        )
    )


def _slot(at_ms: int) -> int:
    """The local quarter hour of a time: 0 for 00:00-00:14 ... 95 for 23:45-23:59."""
    local = _from_ms(at_ms).astimezone(LONDON)
    return local.hour * 4 + local.minute // 15


def _to_ms(at: datetime) -> int:
    return (at - EPOCH) // timedelta(milliseconds=1)


def _from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def _format_at(ms: int, practice: Practice) -> str:
    at = _from_ms(ms)
    spec = "seconds" if practice.whole_seconds else "milliseconds"
    if practice.local_offsets:
        return at.astimezone(LONDON).isoformat(timespec=spec)
    return at.isoformat(timespec=spec).replace("+00:00", "Z")
