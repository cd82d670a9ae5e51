"""Staffing on simulated practices whose staffing is known (issue 17's "done when").

Two practices, every Monday of August 2026 (the 31st a bank holiday), through classify and
the real warehouse (no Kafka: the pipeline's own tests carry first_agent and answered_at
through the broker). The profile is the published one with two changes that put the
simulated phones where Erlang C's assumptions hold, so the model can be held to the
simulator: from 10:00 to 18:00 calls arrive at a steady rate (four times a Monday's 10:00
rate: people enough that one is a small step), and every caller waits until answered (no
missed calls, no callbacks). The morning keeps its 8am scramble, for the what-if.

Then: the people the warehouse sees on the phones are the simulator's people; the people
the model says are needed for the simulator's own service level are the people the
simulator had; and `callstream staffing` prints that plan.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path

import pytest
from staffing_support import on_the_phones, quarter_of

from models.classified import ClassifiedCall
from models.events import CallEvent
from streams.core.classify import classify_call
from streams.core.pseudonymise import pseudonymise
from streams.core.rules import load_rules
from streams.devtools.simulate import SimulationConfig, simulate_days
from streams.devtools.simulate_profile import Profile, load_profile
from streams.outputs import staffing
from streams.settings import Settings
from streams.warehouse.store import Warehouse

STEADY_BANDS = ("10:00-11:59", "12:00-13:59", "14:00-15:59", "16:00-17:59")
MONDAYS = [date(2026, 8, d) for d in (3, 10, 17, 24)]
HOLIDAY = date(2026, 8, 31)
CONFIG = SimulationConfig(practices=2, start=MONDAYS[0], days=29, seed=4, key=b"staffing")


@dataclass
class Simulated:
    settings: Settings
    truths: list[ClassifiedCall]
    staff: dict[tuple[str, date, time], int]


def steady_profile() -> Profile:
    """Mondays only: steady 10:00-18:00, the morning as published; everyone is answered."""
    base = load_profile()
    steady = base.calls_per_1000["Monday"]["10:00-11:59"] * 4
    volumes = {
        day: {
            band: (steady if band in STEADY_BANDS else rate)
            if day in ("Monday", "Monday (bank holiday)")
            else 0.0
            for band, rate in bands.items()
        }
        for day, bands in base.calls_per_1000.items()
    }
    outcomes = {
        label: {
            band: {
                "answered": 1 - mix["ended_in_ivr"],
                "ended_in_ivr": mix["ended_in_ivr"],
                "callback_requested": 0.0,
                "missed": 0.0,
            }
            for band, mix in bands.items()
        }
        for label, bands in base.outcomes.items()
    }
    return base.model_copy(update={"calls_per_1000": volumes, "outcomes": outcomes})


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    rules = load_rules()
    settings = Settings(data_dir=tmp_path_factory.mktemp("staffing-simulated"))
    truths, classified, staff = [], [], {}
    for day in simulate_days(CONFIG, rules, steady_profile()):
        staff.update({(q.practice, q.local_date, q.slot_start): q.staff for q in day.staffing})
        for call in day.calls:
            events = [pseudonymise(CallEvent.model_validate(e), CONFIG.key) for e in call.events]
            classified.append(classify_call(events, rules))
            truths.append(call.truth)
    assert classified == truths  # what the warehouse gets is what the simulator meant
    with Warehouse.open(settings) as warehouse:
        warehouse.merge_calls(classified)
    return Simulated(settings, truths, staff)


def test_the_warehouse_sees_the_simulators_people(simulated: Simulated) -> None:
    with Warehouse.open(simulated.settings, read_only=True) as warehouse:
        frame = warehouse.query(
            "SELECT practice, local_date, slot_start, people FROM staffing_quarter_hours"
        )
    people = {(p, d, s): n for p, d, s, n in frame.iter_rows() if n}  # rows of calls only: 0
    truth = on_the_phones(simulated.truths)
    # Exactly who picked up a call in each quarter hour or was on one all through it ...
    assert people == {key: len(agents) for key, agents in truth.items()}
    assert len(people) > 400  # 2 practices x 5 Mondays, 06:00 to 20:00 and more
    # ... never more than the simulator had on the phones, and all of them in its steady hours
    # (where there is work for everyone), Mondays only: the simulator's staffing.
    assert all(n <= simulated.staff[key] for key, n in people.items())
    steady = [key for key in simulated.staff if key[1] in MONDAYS and 10 <= key[2].hour < 18]
    unequal = [key for key in steady if people.get(key, 0) != simulated.staff[key]]
    assert len(steady) == 2 * 4 * 32 and len(unequal) <= 0.02 * len(steady), unequal


def test_needed_at_the_simulators_own_service_level_is_the_simulators_staffing(
    simulated: Simulated,
) -> None:
    """The simulator's own service level is the share of its calls answered within 2
    minutes over its steady hours. With that target, the people the model needs per
    quarter hour (from 4 weeks of warehouse data, the bank holiday left out) are on average
    within one person of the people the simulator had, most quarter hours are, and none is
    more than two away: one quarter hour of 4 days holds too few calls to pin a queue's
    people closer than that. (Measured over seeds 1 to 6: the model asked on average for 0.4
    to 0.95 people more than the simulator had, Erlang C erring on the safe side; the widest
    quarter hour was 2.5 away.)"""
    rules = load_rules()
    dates = staffing.weekday_dates("monday", HOLIDAY, 5)
    assert dates == MONDAYS
    offered: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for t in simulated.truths:
        practice, day, slot = quarter_of(t.practice, t.started_at)
        if day in MONDAYS and 10 <= slot.hour < 18 and t.wait_s is not None:  # to a person
            offered[practice][0] += t.outcome == "answered" and t.wait_s <= 120
            offered[practice][1] += 1
    own = {practice: within / calls for practice, (within, calls) in offered.items()}
    assert all(0.5 < level < 1 for level in own.values()), own
    with Warehouse.open(simulated.settings, read_only=True) as warehouse:
        rows = staffing.demand_rows(warehouse, sorted(own), dates)
    assert {row["days"] for row in rows} == {4}  # 31 August left out
    for practice, level in own.items():
        targets = staffing.targets(simulated.settings, rules, [practice], level=level)
        gaps = []
        for plan in staffing.plan_rows([r for r in rows if r["practice"] == practice], targets):
            if 10 <= plan.slot_start.hour < 18:
                had = statistics.mean(
                    simulated.staff[(practice, d, plan.slot_start)] for d in dates
                )
                gaps.append(plan.needed - had)
        assert len(gaps) == 32
        assert abs(statistics.mean(gaps)) <= 1, (practice, level, gaps)
        assert sum(abs(gap) <= 1 for gap in gaps) > len(gaps) / 2, (practice, level, gaps)
        assert max(abs(gap) for gap in gaps) <= 2, (practice, level, gaps)


def test_cli_prints_the_plan_and_the_what_if(simulated: Simulated) -> None:
    env = {**os.environ, "CALLSTREAM_DATA_DIR": str(simulated.settings.data_dir)}
    env.pop("CALLSTREAM_DEBUG", None)
    args = ["staffing", "--practice", "A81001", "--weekday", "monday", "--weeks", "5"]
    shown = _callstream(env, *args, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)
    with Warehouse.open(simulated.settings, read_only=True) as warehouse:
        demand = staffing.demand_rows(warehouse, ["A81001"], MONDAYS)
    plans = staffing.plan_rows(
        demand, staffing.targets(simulated.settings, load_rules(), ["A81001"])
    )
    assert [r["slot"] for r in rows] == [p.slot for p in plans]
    assert [r["needed"] for r in rows] == [p.needed for p in plans]
    assert [r["observed"] for r in rows] == [_round(p.observed, 2) for p in plans]
    assert [r["in_time_needed"] for r in rows] == [_round(p.share_in_time_needed, 3) for p in plans]
    assert all(r["in_time_needed"] >= 0.8 for r in rows if r["needed"])

    moved = _callstream(env, *args, "--format", "json", "--shift-demand", "0.2")
    assert moved.returncode == 0, moved.stderr
    by_slot = {r["slot"]: r for r in json.loads(moved.stdout)}
    for slot in ("08:00", "08:15"):
        row = by_slot[slot]
        assert row["offered"] == pytest.approx(0.8 * row["offered_now"], abs=0.01)
        assert row["needed"] <= row["needed_now"]
        assert row["in_time_observed"] >= row["in_time_observed_now"]
    assert by_slot["10:00"]["offered"] == by_slot["10:00"]["offered_now"]

    table = _callstream(env, *args, "--target", "0.9", "--within", "60")
    assert table.returncode == 0, table.stderr
    assert "average of 4 Monday(s)" in table.stdout
    assert "target 90% within 60 s" in table.stdout
    csv = _callstream(env, *args, "--format", "csv")
    assert csv.stdout.splitlines()[0] == (
        "slot,offered,first,repeat,talk_s,patience_s,needed,rostered,observed,"
        "in_time_observed,in_time_needed"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--practice", "81001", "--weekday", "monday"], "is not an ODS practice code"),
        (["--practice", "B12345", "--weekday", "monday"], "no calls to a person at B12345"),
        (["--practice", "A81001", "--weekday", "funday"], "'funday' is not one of"),
        (["--practice", "A81001", "--weekday", "monday", "--target", "1"], "--target"),
    ],
)
def test_cli_errors_are_one_line(simulated: Simulated, args: list[str], message: str) -> None:
    env = {**os.environ, "CALLSTREAM_DATA_DIR": str(simulated.settings.data_dir)}
    env.pop("CALLSTREAM_DEBUG", None)
    done = _callstream(env, "staffing", *args)
    assert done.returncode in (1, 2) and "Traceback" not in done.stderr
    assert message in done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("Error")] == [
        next(line for line in done.stderr.splitlines() if message in line)
    ]


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _callstream(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )
